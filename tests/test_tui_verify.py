"""Verification from the dashboard: a real docker-registry, real cosign-style signatures.

The signed image is named under `registry.pullguard.test` and served by the loopback
registry through a mirror, so its name (and the snapshot) does not depend on the port; the
signing key is derived from a fixed number so its fingerprint is stable. Failing images are
named by the registry's own address: through a mirror, a missing signature also meets the
unreachable upstream and is rightly reported as `error`, not `failed`.
"""

from __future__ import annotations

import asyncio

import pytest

from pullguard.tui.app import PullguardApp
from pullguard.tui.imagelist import ImageItem
from pullguard.tui.widgets.detail import DetailPane
from pullguard.tui.widgets.modals import TextModal
from tests.support.policies import SIGNED_HOST as HOST
from tests.support.policies import signed_registry_policy

pytestmark = pytest.mark.anyio

SIZE = (120, 36)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_app(tmp_path, world, images, **kwargs) -> PullguardApp:
    path = tmp_path / "policy.yaml"
    path.write_text(signed_registry_policy(world["key"]))
    options = {"mirrors": {HOST: [world["url"]]}, "timeout": 10.0}
    return PullguardApp(str(path), None, [ImageItem(i) for i in images], options, validate_delay=0.0, **kwargs)


async def settle(app, pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


def outcomes(app) -> dict[str, str]:
    table = app.table
    return {str(row[0]): str(row[3]) for row in (table.get_row_at(i) for i in range(table.row_count))}


def images(world) -> list[str]:
    local = world["host"]
    return [f"{HOST}/app/signed:v1", f"{local}/app/wrongkey:v1", f"{local}/app/unsigned:v1", f"{HOST}/blocked/x:v1", "nginx:1.25"]


async def test_f5_verifies_every_image_against_the_registry(tmp_path, signed_world):
    app = make_app(tmp_path, signed_world, images(signed_world))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert set(outcomes(app).values()) == {"unverified", "denied", "skipped"}
        await pilot.press("f5")
        await settle(app, pilot)
        assert outcomes(app) == {
            f"{HOST}/app/signed:v1": "verified",
            f"{signed_world['host']}/app/wrongkey:v1": "failed",
            f"{signed_world['host']}/app/unsigned:v1": "failed",
            f"{HOST}/blocked/x:v1": "denied",
            "nginx:1.25": "skipped",
        }
        assert not app.query_one("#progress").display  # hidden again when done
        # The detail pane shows the evidence of the selected (first) image.
        detail = app.query_one(DetailPane).plain
        digest = signed_world["digests"]["app/signed"]
        assert "verified via legacy signature (bundle verified false)" in detail
        assert f"signed    {digest}" in detail
        assert "format    legacy" in detail
        assert "key       sha256:" in detail

        # Every error of a failed image is listed, and `c` gives it as copyable text.
        app.table.move_cursor(row=1)
        await pilot.press("f3", "c")
        assert isinstance(app.screen, TextModal)
        text = app.screen.text
        assert "image verification failed: no valid signature found" in text
        assert "errors (" in text
        await pilot.press("escape")

        # Editing something unrelated keeps the session's verdicts; when the image's rule
        # changes (here: it becomes a skip) the old verdict is no longer shown.
        await pilot.press("f2")
        app.editor.move_cursor((0, 0))
        await pilot.press("end", "space", "x")
        await settle(app, pilot)
        assert outcomes(app)[f"{HOST}/app/signed:v1"] == "verified"
        app.editor.move_cursor((3, 0))
        await pilot.press("end")
        for ch in f"\n- image: {HOST}/app/signed\nskip: true":  # enter indents each new line
            await pilot.press({"\n": "enter", " ": "space"}.get(ch, ch))
        await settle(app, pilot)
        assert outcomes(app)[f"{HOST}/app/signed:v1"] == "skipped"
        await pilot.press("ctrl+z")
        for _ in range(60):
            if "app/signed\n" not in app.editor.text:
                break
            await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert outcomes(app)[f"{HOST}/app/signed:v1"] == "verified"  # the session's result again


async def test_enter_verifies_only_the_selected_image(tmp_path, signed_world):
    app = make_app(tmp_path, signed_world, images(signed_world))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        app.table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        got = outcomes(app)
        assert got[f"{HOST}/app/signed:v1"] == "verified"
        assert got[f"{signed_world['host']}/app/wrongkey:v1"] == "unverified"


@pytest.mark.parametrize("key", ["f5", "enter"])
async def test_a_tag_moved_to_an_unsigned_image_is_resolved_again(tmp_path, signed_world, registry, key):
    """Issue 11 #2: re-running a verification resolves tags again; only a digest's result is
    reused. Before, the session kept tag -> digest and showed `verified` with no request."""
    from devtools.private_sigstore import PrivateSigstore
    from tests.support.push import Pusher

    repo = f"moving/{key}"
    push = Pusher(registry.url)
    signed = push.push_image(repo, "v1", content=f"pullguard {repo} signed".encode())
    push.attach_legacy(repo, signed, [PrivateSigstore().sign_legacy(signed, key=signed_world["key"], tlog=False)])
    image = f"{signed_world['host']}/{repo}:v1"
    app = make_app(tmp_path, signed_world, [image, "nginx:1.25"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        app.table.move_cursor(row=0)
        await pilot.press(key)
        await settle(app, pilot)
        assert outcomes(app)[image] == "verified"
        push.push_image(repo, "v1", content=f"pullguard {repo} unsigned".encode())  # the tag moves
        push.close()
        await pilot.press(key)
        await settle(app, pilot)
        assert outcomes(app)[image] == "failed"
        assert "outcome   failed" in app.query_one(DetailPane).plain


async def test_verifying_a_policy_with_errors_is_refused(tmp_path, signed_world):
    app = make_app(tmp_path, signed_world, images(signed_world))
    app.initial_text = app.session.saved_text = app.initial_text.replace("    deny: true\n", "    deny: true\n    skip: true\n")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.session.analysis.errors
        await pilot.press("f5")
        await settle(app, pilot)
        assert app.session.verify_cache is None and not app.session.results
        assert "unverified" in outcomes(app).values()


class Gate:
    """A verifier that reports the images it is given one by one, each after `gate` opens.

    Stands in for the network only to hold a run open so it can be cancelled mid-way; the
    engine's own verify_images is what the tests above drive.
    """

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = False

    async def __call__(self, loaded, images, options, on_result, cache):
        from pullguard.engine.verify import VerifyResult

        try:
            for image in images:
                decision = loaded.policy.evaluate(image)
                self.started += 1
                if decision.action == "verify":
                    await asyncio.sleep(30)
                on_result(VerifyResult(decision, None, "skipped", decision.message))
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_escape_cancels_a_running_verification(tmp_path, signed_world):
    gate = Gate()
    app = make_app(tmp_path, signed_world, ["nginx:1.25", f"{HOST}/app/signed:v1", f"{HOST}/app/unsigned:v1"], verifier=gate)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3", "f5")
        for _ in range(50):
            await pilot.pause(0.02)
            if gate.started >= 2:
                break
        assert app.verifying
        assert app.query_one("#progress").display
        assert outcomes(app)[f"{HOST}/app/signed:v1"] == "verifying"
        await pilot.press("escape")
        await settle(app, pilot)
        assert gate.cancelled
        assert not app.verifying
        assert not app.query_one("#progress").display
        got = outcomes(app)
        assert got["nginx:1.25"] == "skipped"  # finished before the cancel
        assert got[f"{HOST}/app/signed:v1"] == "unverified"  # back to its simulated outcome


async def test_the_editor_still_answers_while_verification_runs(tmp_path, signed_world):
    gate = Gate()
    app = make_app(tmp_path, signed_world, [f"{HOST}/app/signed:v1"], verifier=gate)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await pilot.pause(0.1)
        assert app.verifying
        await pilot.press("f2", "x")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.session.analysis.text.startswith("x"):
                break
        assert app.session.analysis.text.startswith("x")  # validation ran while verification waits
        assert app.verifying  # and typing did not cancel it (separate worker groups)
        await pilot.press("escape")  # the editor has focus: escape still reaches the cancel
        await settle(app, pilot)
        assert gate.cancelled
