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


@pytest.mark.parametrize("command,title", [
    ("Open the Kyverno sample", "cluster-policy.yaml"),
    ("Open the ImageValidatingPolicy sample", "image-validating-policy.yaml"),
])
async def test_the_palette_opens_the_kyverno_samples_and_f5_shows_the_attestations(tmp_path, command, title):
    """From `pullguard edit` on a policy of one's own (no trusted root given): the palette opens
    a Kyverno sample with the samples' trusted root, and f5 verifies builder's SLSA provenance
    and ledger's SBOM offline; the detail pane shows the attestation."""
    from pullguard.tui.app import PullguardApp
    from pullguard.tui.palette import PullguardCommands

    own = tmp_path / "own.yaml"
    own.write_text("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    skip: true\n")
    app = PullguardApp(str(own), None, [], {}, validate_delay=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        (hit,) = [h async for h in PullguardCommands(app.screen).search(command) if h.text == command]
        await hit.command()
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.session.policy_path.endswith(title) and app.session.sample
        await pilot.press("f5")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        at = COLUMN_KEYS.index("outcome")
        shown = {str(row[0]): str(row[at]) for row in (app.table.get_row_at(i) for i in range(app.table.row_count))}
        # An ImageValidatingPolicy has no skip: what the ClusterPolicy skips, it does not take (allowed).
        converted = title == "image-validating-policy.yaml"
        assert shown == {row[0]: "allowed" if converted and row[2] == "skipped" else row[2] for row in PROMISED}
        assert app.table.select("ghcr.io/acme/builder:v1.0.0")
        await pilot.pause()
        detail = app.query_one("#detail").plain
        assert "https://slsa.dev/provenance/v0.2" in detail, detail
