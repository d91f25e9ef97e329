"""The dashboard on the bundled samples: after `f5` every image shows the outcome the README
promises (the same table as tests/test_samples.py, through the TUI's own verification worker)."""

from __future__ import annotations

import pytest

from pullguard.engine.samples import sample_images_path, sample_policy_path, sample_trusted_root
from pullguard.tui.widgets.images import COLUMN_KEYS
from tests.support.samples import PROMISED

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.parametrize("dialect,column", [("talos", 1), ("kyverno", 2)])
async def test_f5_shows_every_promised_outcome(dialect, column):
    from pullguard.tui.app import PullguardApp
    from pullguard.tui.imagelist import parse_images

    images_path = sample_images_path("talosctl")
    images = parse_images(images_path.read_text(), str(images_path))
    app = PullguardApp(str(sample_policy_path(dialect)), None, images,
                       {"trusted_root": str(sample_trusted_root())}, validate_delay=0.0)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("f5")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.table
        at = COLUMN_KEYS.index("outcome")
        shown = {str(row[0]): str(row[at]) for row in (table.get_row_at(i) for i in range(table.row_count))}
    assert shown == {row[0]: row[column] for row in PROMISED}
