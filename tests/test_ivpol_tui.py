"""The dashboard on the converted sample ImageValidatingPolicy: it loads clean, and after `f5`
every image shows the ClusterPolicy's verdict (skipped images are allowed: the conversion does not
take them) and the policy that took it."""

from __future__ import annotations

import pytest

from pullguard.engine.samples import sample_dir, sample_images_path, sample_trusted_root
from pullguard.tui.widgets.images import COLUMN_KEYS
from tests.support.samples import PROMISED

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_f5_on_the_image_validating_policy() -> None:
    from pullguard.tui.app import PullguardApp
    from pullguard.tui.imagelist import parse_images

    images_path = sample_images_path("talosctl")
    images = parse_images(images_path.read_text(), str(images_path))
    policy = sample_dir() / "kyverno" / "image-validating-policy.yaml"
    app = PullguardApp(str(policy), None, images, {"trusted_root": str(sample_trusted_root())}, validate_delay=0.0)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.session.analysis.errors == 0
        await pilot.press("f5")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.table
        outcome, rule = COLUMN_KEYS.index("outcome"), COLUMN_KEYS.index("rule")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        shown = {str(row[0]): str(row[outcome]) for row in rows}
        rules = {str(row[0]): str(row[rule]) for row in rows}
    assert shown == {image: ("allowed" if kyverno == "skipped" else kyverno) for image, _, kyverno in PROMISED}
    assert rules["quay.io/partner/agent:v5.2.0"].startswith("verify-image-signatures-partner")
