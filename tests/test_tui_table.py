"""The image table on its own: names cut in the middle and told apart, 10,000 rows drawn by the line."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from pullguard.tui.textcut import cut_middle, distinct_cuts
from pullguard.tui.widgets.images import ImageTable, Row

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


CUTS = [
    # (names, width): every distinct name must read distinct in `width` characters
    (["quay.io/partner/agent:v5.2.0", "quay.io/partner/exporter:v1.0.3"], 16),
    (["quay.io/partner/app:v1", "quay.io/partner/app:v2"], 12),
    # They differ only in the middle: the cut moves to show it.
    (["registry.example.com/team-a/app:v1", "registry.example.com/team-b/app:v1"], 16),
    # No single cut tells them apart within 10 characters: counters.
    (["a" * 30 + "x" + "b" * 30, "a" * 30 + "y" + "b" * 30], 10),
    (["nginx:1.25", "nginx:1.25"], 6),  # the same name reads the same
    ([f"ghcr.io/acme/service-{n:03d}:v1" for n in range(200)], 14),
]


@pytest.mark.parametrize("names,width", CUTS)
def test_cuts_are_as_wide_as_asked_and_never_read_alike(names, width):
    cuts = distinct_cuts(names, width, keys=[f"{n}:{name}" for n, name in enumerate(names)])
    assert all(len(cut) <= width for cut in cuts.values())
    by_name: dict[str, set[str]] = {}
    for key, cut in cuts.items():
        by_name.setdefault(key.split(":", 1)[1], set()).add(cut)
    assert all(len(shown) == 1 for shown in by_name.values())  # one name, one text
    texts = [shown.pop() for shown in by_name.values()]
    assert len(set(texts)) == len(texts)  # distinct names, distinct texts


def test_cut_middle_keeps_both_ends():
    assert cut_middle("quay.io/partner/exporter:v1.0.3", 16) == "quay.…ter:v1.0.3"
    assert cut_middle("short", 16) == "short"


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ImageTable(id="images")


def _rows(count: int, outcome: str = "unverified") -> list[Row]:
    return [Row(f"registry.example.com/app-{n:05d}:v1", f"registry.example.com/app-{n:05d}", "0000", "verify", outcome, "")
            for n in range(count)]


async def test_ten_thousand_rows_draw_only_what_is_on_screen_and_what_changed():
    app = TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ImageTable)
        rows = _rows(10_000)
        table.sync(rows)
        await pilot.pause()
        visible = table.scrollable_content_region.height
        assert table.drawn < 2 * visible  # about the visible lines, not 10,000
        drawn = table.drawn
        # One row's verdict changes: one line is composed again.
        rows[3] = rows[3]._replace(outcome="verified")
        assert table.sync(rows) == 1
        await pilot.pause()
        assert table.drawn - drawn == 1
        # The end of the list is reached with the keyboard.
        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert table.selected_image() == rows[-1].image
        assert table.scroll_offset.y == 10_000 + 1 - visible
