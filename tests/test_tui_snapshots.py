"""SVG snapshots of the dashboard, kept in the top-level `snapshots/` folder.

Stable by construction: fixed relative policy paths, the editor's cursor does not blink, no
clock on screen, and the verified image's name and key do not depend on the test run.
Update with `python -m pytest tests/test_tui_snapshots.py --snapshot-update` when a change
is intended, and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension

from pullguard.tui.app import PullguardApp
from pullguard.tui.imagelist import ImageItem
from tests.support.policies import SIGNED_HOST, signed_registry_policy

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


class TopLevelSVG(SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture
def snapshot(snapshot):
    """snap_compare asks for the SVG extension; hand it one that stores under snapshots/."""
    top = snapshot.use_extension(TopLevelSVG)
    top.use_extension = lambda extension_class=None: top
    return top


POLICY = """\
# Production image policy: keep this comment.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "ghcr.io/siderolabs/*"   # Sidero's CI signs these
    keyless:
      issuer: https://accounts.google.com
      subject: 'ci@example.com'
  - image: "registry.example.com/blocked/*"
    deny: true
  - image: '*'
    skip: true
"""
IMAGES = [
    ImageItem("ghcr.io/siderolabs/kubelet:v1.33.0", "verified", "10.5.0.2", "verified via bundle"),
    ImageItem("registry.example.com/blocked/tool:v3"),
    ImageItem("nginx:1.25", "unverified", "10.5.0.2"),
]


def app(text: str = POLICY) -> PullguardApp:
    return PullguardApp("policy.yaml", text, list(IMAGES), validate_delay=0.0)


async def settle(pilot) -> None:
    for _ in range(2):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 50)])
def test_main_screen(snap_compare, size):
    assert snap_compare(app(), terminal_size=size, run_before=settle)


def _pressing(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


# Each pane state at the smallest and the largest size (issue 15): below 100 columns the
# images are their own page; z zooms; / filters the table by text; f by outcome.
PANE_STATES = {
    "images-page": ("f3",),
    "zoomed-table": ("f3", "z"),
    "zoomed-detail": ("f3", "tab", "z"),
    "find": ("f3", "slash", "k", "u", "b", "e"),
    "outcome-filter": ("f3", "f"),
    "problems-focused": ("f4",),
}


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
@pytest.mark.parametrize("state", list(PANE_STATES))
def test_pane_states(snap_compare, state, size):
    assert snap_compare(app(), terminal_size=size, run_before=_pressing(*PANE_STATES[state]))


def test_error_state_underlines_and_lists(snap_compare):
    """A rule with skip and deny, and an unknown key: both underlined in the editor and listed."""
    broken = POLICY.replace("    deny: true\n", "    deny: true\n    skip: true\n    sign: yes\n")
    assert snap_compare(app(broken), terminal_size=(100, 30), run_before=settle)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(100, 40), run_before=open_help)


def test_compare_with_saved_version(snap_compare, tmp_path, monkeypatch):
    """ctrl+r after turning the catch-all skip into deny: nginx is listed as newly denied."""
    monkeypatch.chdir(tmp_path)  # the saved version is ./policy.yaml: a path that reads the same every run
    Path("policy.yaml").write_text(POLICY)

    async def compare(pilot) -> None:
        await settle(pilot)
        row = POLICY.split("\n").index("    skip: true")
        pilot.app.editor.replace("deny", (row, 4), (row, 8))
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)

    assert snap_compare(app(), terminal_size=(100, 30), run_before=compare)


def test_detail_pane_after_verification(snap_compare, signed_world, tmp_path):
    """A public-key legacy signature verified against the loopback registry (via a mirror)."""
    verified = PullguardApp(
        "policy.yaml",
        signed_registry_policy(signed_world["key"]),
        [ImageItem(f"{SIGNED_HOST}/app/signed:v1"), ImageItem("nginx:1.25")],
        {"mirrors": {SIGNED_HOST: [signed_world["url"]]}},
        validate_delay=0.0,
    )

    async def verify(pilot) -> None:
        await settle(pilot)
        await pilot.press("f3", "f5")
        for _ in range(3):
            await settle(pilot)
        pilot.app.table.move_cursor(row=0)
        pilot.app.clear_notifications()  # the "verification done" toast would time out mid-test
        await pilot.pause()

    assert snap_compare(verified, terminal_size=(150, 44), run_before=verify)
