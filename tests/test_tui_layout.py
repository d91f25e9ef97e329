"""The dashboard at 80×24, 120×36 and 200×50, in both dialects, as a person sees it (issue 15).

Each check reads what is drawn (the table's lines, pane regions, the footer's keys), not the
widgets' inner state.
"""

from __future__ import annotations

import json

import pytest

from pullguard.engine.samples import sample_images_path, sample_policy_path
from pullguard.tui.app import PullguardApp
from pullguard.tui.imagelist import ImageItem, parse_images
from pullguard.tui.widgets.images import COLUMN_KEYS
from tests.support.samples import PROMISED

pytestmark = pytest.mark.anyio

SIZES = [(80, 24), (120, 36), (200, 50)]
DIALECTS = ["talos", "kyverno"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def sample_app(dialect: str, images: list[ImageItem] | None = None) -> PullguardApp:
    if images is None:
        path = sample_images_path("talosctl")
        images = parse_images(path.read_text(), str(path))
    policy = sample_policy_path(dialect)
    return PullguardApp(str(policy), policy.read_text(), images, sample=True, validate_delay=0.0)


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def drawn_lines(widget) -> list[str]:
    return ["".join(segment.text for segment in widget.render_line(y)) for y in range(widget.size.height)]


def cells(app, line: str, key: str) -> str:
    span = app.table.column_span(key)
    assert span is not None, key
    x = app.table.scroll_offset.x
    return line[span[0] - x: span[1] - x].strip()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("size", SIZES)
async def test_the_table_shows_image_rule_action_outcome_without_scrolling(dialect, size):
    app = sample_app(dialect)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        table = app.table
        width = table.scrollable_content_region.width
        for key in ("image", "rule", "action", "outcome"):
            span = table.column_span(key)
            assert span is not None and span[1] <= width, (key, span, width)
        lines = drawn_lines(table)[1: 1 + table.row_count]
        assert lines
        images = [cells(app, line, "image") for line in lines]
        assert len(set(images)) == len(images), images  # no two rows read the same
        rules = {}
        for index, line in enumerate(lines):
            row = dict(zip(COLUMN_KEYS, table.get_row_at(index), strict=True))
            rule = cells(app, line, "rule")
            if size[0] >= 200 or "…" not in rule:
                assert rule == row["rule"]  # whole at 200 (Kyverno's read `veri`)
            else:  # cut in the middle: both ends kept, two rules never read alike
                head, tail = rule.split("…")
                assert len(head) >= 4 and row["rule"].startswith(head) and row["rule"].endswith(tail)
            assert rules.setdefault(rule, row["rule"]) == row["rule"]
            assert cells(app, line, "action") == row["action"]
            assert cells(app, line, "outcome") == row["outcome"]
        if size[0] >= 120:
            # Match subject and the node's verdict are on screen too.
            for key in ("subject", "node"):
                span = table.column_span(key)
                assert span is not None and span[1] <= width, (key, span, width)
        if size[0] >= 200:
            nodes = {cells(app, line, "node") for line in lines}
            assert {"verified", "unverified"} <= {node.split(" ")[0] for node in nodes}, nodes


async def test_at_80_columns_kyverno_rules_leave_the_image_names_readable():
    """Kyverno's `policy/rule#entry` is longer than most image names: at 80 columns the two share
    the room (the image more), and a cut rule keeps the end, where rules differ."""
    path = sample_images_path("plain")
    app = sample_app("kyverno", parse_images(path.read_text(), str(path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        lines = drawn_lines(app.table)[1: 1 + app.table.row_count]
        shown = {}
        for index, line in enumerate(lines):
            row = dict(zip(COLUMN_KEYS, app.table.get_row_at(index), strict=True))
            shown[row["image"]] = (cells(app, line, "image"), cells(app, line, "rule"), row["rule"])
        whole = [image for image, (cell, _, _) in shown.items() if cell == image]
        assert len(whole) >= len(shown) - 3, shown  # all but the longest few names
        assert "ghcr.io/acme/billing:v3.0.1" in whole and "quay.io/partner/agent:v5.2.0" in whole
        release = shown["ghcr.io/acme/api:v1.4.0"][1]
        partner = shown["quay.io/partner/agent:v5.2.0"][1]
        assert release.endswith("-builds#0") and partner.endswith("-images#0"), (release, partner)


async def test_a_node_label_that_disagrees_with_the_verdict_is_marked():
    images = [
        ImageItem("ghcr.io/acme/api:v1.4.0", "unverified"),  # the rule demands a signature: ≠
        ImageItem("ttl.sh/3f9c2a1e-demo:1h", "verified"),  # denied here, verified there: ≠
        ImageItem("quay.io/partner/agent:v5.2.0", "verified"),  # both verify: no mark
    ]
    app = sample_app("talos", images)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(app, pilot)
        rows = {app.table.get_row_at(i)[0]: app.table.get_row_at(i)[COLUMN_KEYS.index("node")] for i in range(3)}
        assert rows == {
            "ghcr.io/acme/api:v1.4.0": "unverified ≠",
            "ttl.sh/3f9c2a1e-demo:1h": "verified ≠",
            "quay.io/partner/agent:v5.2.0": "verified",
        }
        assert "verified ≠" in "\n".join(drawn_lines(app.table))


@pytest.mark.parametrize("size", SIZES)
async def test_below_100_columns_the_panes_are_two_pages(size):
    app = sample_app("talos")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        narrow = size[0] < 100
        pages = app.query_one("#pages")
        assert pages.display is narrow
        await pilot.press("f3")
        await pilot.pause()
        assert app.table.region.width >= (size[0] - 2 if narrow else 60)
        if narrow:
            assert app.query_one("#editor").region.height == 0  # the policy page is hidden
            await pilot.press("f2")
            await pilot.pause()
            assert app.table.region.height == 0 and app.editor.region.width >= size[0] - 2
        for selector in ("#editor", "#outline", "#problems"):
            assert app.query_one(selector).region.width >= 20


@pytest.mark.parametrize("size", SIZES)
async def test_z_zooms_the_focused_pane_with_its_whole_border(size):
    app = sample_app("talos")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("f3", "z")
        await pilot.pause()
        table = app.table
        assert app.screen.maximized is table
        assert table.region.x == 0 and table.region.right == size[0]  # left and right border on screen
        right = drawn_lines(table)  # content; the border is drawn around it
        assert right and table.outer_size.width == size[0]
        assert app.query_one("#status-text").region.height == 1  # the status bar stays
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None
        # Every pane outside the editor zooms the same way.
        for keys, pane in ((("tab",), "#detail"), (("f4",), "#problems")):
            await pilot.press(*keys, "z")
            await pilot.pause()
            assert app.screen.maximized is app.query_one(pane), pane
            assert app.query_one(pane).outer_size.width == size[0]
            await pilot.press("z")
            await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_status_bar_keeps_the_problem_count_and_the_footer_f5_and_f1(size):
    app = sample_app("talos")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        status = app.query_one("#status-text")
        text = str(status.render())
        assert text.startswith(f"1 info · talos · 4 rules · {len(PROMISED)} images"), text  # counted by severity
        assert "problems (1 info)" in str(app.query_one("#problems").border_title)
        shown = {key.key: key.region for key in app.query("FooterKey")}
        for key in ("f5", "f1"):
            region = shown[key]
            assert region.width and region.right <= size[0], (key, region)


async def test_f_skips_outcomes_no_image_has_and_slash_filters_by_text():
    app = sample_app("talos")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        seen = []
        for _ in range(5):
            await pilot.press("f")
            await pilot.pause()
            seen.append(app.table.outcome_filter)
            assert app.table.row_count > 0 or app.table.outcome_filter is None
        assert seen == ["denied", "skipped", "allowed", "unverified", None]
        await pilot.press("slash")
        await pilot.press(*"partner")
        await pilot.pause()
        assert [app.table.get_row_at(i)[0] for i in range(app.table.row_count)] == [
            "quay.io/partner/agent:v5.2.0", "quay.io/partner/exporter:v1.0.3",
        ]
        assert "filter: /partner" in str(app.query_one("#status-text").render())
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is app.table and app.table.row_count == 2
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert app.table.row_count == len(PROMISED)
        # A text no image has: the detail pane says so, not "no image selected".
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"nothing-like-this", "enter")
        await pilot.pause()
        assert app.query_one("#detail").plain.startswith("No image matches the filter (/nothing-like-this)")


@pytest.mark.parametrize("theme", ["textual-dark", "solarized-light", "textual-light"])
async def test_pane_titles_and_borders_follow_the_theme_and_stay_legible(theme):
    app = sample_app("talos")
    async with app.run_test(size=(120, 36)) as pilot:
        app.theme = theme
        await settle(app, pilot)
        outline = app.query_one("#outline")  # unfocused
        background = outline.styles.background
        title = outline.styles.border_title_color
        border = outline.styles.border_top[1]
        screen_background = app.screen.styles.background
        for colour, least in ((title, 0.35), (border, 0.2)):
            blended = screen_background + colour  # what the terminal shows
            assert abs(blended.brightness - (screen_background + background).brightness) > least, (theme, colour)
        variables = app.get_css_variables()
        assert background.hex.lower() == variables["surface"].lower()


KUBECTL_PODS = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
    {"kind": "Pod", "metadata": {"namespace": "kube-system", "name": "etcd-0"},
     "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/api:v1.4.0"}]}},
    {"kind": "Pod", "metadata": {"namespace": "web", "name": "api-7d9"},
     "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/api:v1.4.0"}]}},
    {"kind": "Pod", "metadata": {"namespace": "web", "name": "front-1"},
     "spec": {"containers": [{"name": "app", "image": "docker.io/library/nginx:1.27"}]}},
]})


@pytest.mark.parametrize("size", [(120, 36), (200, 50)])
async def test_images_from_a_cluster_keep_their_pod_and_namespace(tmp_path, size):
    path = tmp_path / "pods.json"
    path.write_text(KUBECTL_PODS)
    app = sample_app("talos", parse_images(path.read_text(), str(path)))
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        rows = {app.table.get_row_at(i)[0]: app.table.get_row_at(i)[COLUMN_KEYS.index("place")] for i in range(2)}
        assert rows == {"ghcr.io/acme/api:v1.4.0": "kube-system/etcd-0 +1", "docker.io/library/nginx:1.27": "web/front-1"}
        if size[0] >= 200:
            lines = drawn_lines(app.table)
            assert "kube-system/etcd-0 +1" in lines[1] and "web/front-1" in lines[2]


async def test_compare_lists_a_weakened_verifier_first_and_marks_it(tmp_path, monkeypatch):
    """Loosening subjectRegex on the same rule was 'decided by another rule'."""
    from pullguard.tui.widgets.compare import CompareScreen

    # The saved rule asks for one workflow's release tags; the edit takes the whole organisation.
    saved = [line if "subjectRegex:" not in line else
             line.split("subjectRegex:")[0] + r"subjectRegex: ^https://github\.com/acme/api/\.github/workflows/release\.yaml@refs/tags/v"
             for line in sample_policy_path("talos").read_text().split("\n")]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text("\n".join(saved))
    images = [ImageItem("ghcr.io/acme/api:v1.4.0"), ImageItem("ttl.sh/3f9c2a1e-demo:1h")]
    app = PullguardApp("policy.yaml", None, images, validate_delay=0.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        lines = app.editor.text.split("\n")
        row = next(n for n, line in enumerate(lines) if "subjectRegex:" in line)
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        app.editor.replace(f"{indent}subjectRegex: ^https://github\\.com/acme/", (row, 0), (row, len(lines[row])))
        ttl = next(n for n, line in enumerate(app.editor.text.split("\n")) if "deny: true" in line)
        app.editor.replace("    skip: true", (ttl, 0), (ttl, len(app.editor.text.split("\n")[ttl])))
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert isinstance(app.screen, CompareScreen)
        headings = [line for line in app.screen.text.split("\n") if line.endswith("):")]
        assert headings[0].startswith("⚠ verifier weakened (accepts every signer it accepted, and more) (1):")
        assert any(heading.startswith("newly unverified") for heading in headings[1:])
