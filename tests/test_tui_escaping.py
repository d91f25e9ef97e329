"""Outside text never reaches the terminal raw (SPEC §6): the CLI's text output and the dashboard.

A registry (a small loopback server: docker-registry cannot be made to answer with a terminal
escape in an error code or a media type), image lists, policy files and file names carry ESC
sequences, newlines and markup; the text output and the dashboard show them escaped and as
written, a newline never starts a row, and JSON stays JSON.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.private_sigstore import generate_key, public_pem

ESC = "\x1b"
# A fake verdict row after a newline, an OSC title change, a colour change.
FAKE_ROW = "127.0.0.1:1/fake:v1  0000  verified  verified via legacy signature (bundle verified true)"
EVIL = f"MANIFEST_UNKNOWN{ESC}]0;owned\x07{ESC}[31m\n{FAKE_ROW}"

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64, "size": 2},
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
SIG_TAG = DIGEST.replace(":", "-") + ".sig"
EVIL_SIG_MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": EVIL, "layers": []}).encode()


class EvilRegistry(BaseHTTPRequestHandler):
    """`code/…` answers its .sig tag with an error whose code is EVIL; `media/…` with a .sig
    manifest whose mediaType is EVIL. Everything else of the image is in order."""

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/v2/":
            return self._send(200, b"{}", {"Content-Type": "application/json"})
        if path.endswith("/manifests/v1"):
            return self._send(
                200, MANIFEST, {"Content-Type": "application/vnd.oci.image.manifest.v1+json", "Docker-Content-Digest": DIGEST}
            )
        if path.endswith(f"/manifests/{SIG_TAG}"):
            if path.startswith("/v2/code/"):
                body = json.dumps({"errors": [{"code": EVIL, "message": EVIL}]}).encode()
                return self._send(400, body, {"Content-Type": "application/json"})
            digest = "sha256:" + hashlib.sha256(EVIL_SIG_MANIFEST).hexdigest()
            return self._send(200, EVIL_SIG_MANIFEST, {"Docker-Content-Digest": digest})
        body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "not here"}]}).encode()
        return self._send(404, body, {"Content-Type": "application/json"})

    do_HEAD = do_GET


@pytest.fixture(scope="module")
def evil_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EvilRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def key_policy(tmp_path_factory) -> Path:
    pem = "\n".join("          " + line for line in public_pem(generate_key("ecdsa-p256")).strip().splitlines())
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
        "  - image: '127.0.0.1:*'\n    publicKey:\n      certificate: |\n" + pem + "\n"
        "  - image: '*'\n    skip: true\n"
    )
    return path


def pullguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pullguard.tui.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=120,
    )


def assert_escaped(out: str) -> None:
    assert ESC not in out and "\x07" not in out
    assert not any(line.startswith("127.0.0.1:1/fake") for line in out.splitlines()), out
    assert "\\x1b" in out


def kubectl_pods(*images: str) -> str:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return json.dumps({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": containers}}
    ]})


@pytest.mark.parametrize(
    "repository, shown",
    [
        ("code", "400 MANIFEST_UNKNOWN\\x1b]0;owned\\x07\\x1b[31m\\n127.0.0.1:1/fake"),  # a registry error code
        ("media", "unexpected media type for .sig manifest: MANIFEST_UNKNOWN\\x1b]0;owned"),  # a .sig mediaType
    ],
)
def test_verify_text_escapes_what_the_registry_says(evil_registry, key_policy, repository, shown):
    done = pullguard("verify", str(key_policy), f"{evil_registry}/{repository}/app:v1")
    assert done.returncode == 1, done.stderr
    assert_escaped(done.stdout)
    assert shown in done.stdout
    assert ESC not in done.stderr


def test_verify_json_keeps_the_registry_text_as_json(evil_registry, key_policy):
    done = pullguard("verify", str(key_policy), f"{evil_registry}/code/app:v1", "--format", "json")
    assert ESC not in done.stdout  # JSON: json.dumps writes \u001b for what it is given
    (result,) = json.loads(done.stdout)["results"]
    assert result["outcome"] == "error"
    assert "MANIFEST_UNKNOWN" in " ".join(result["errors"])


IMAGE_LIST_ENTRY = f"nginx{ESC}[2J:1.25\n{FAKE_ROW}"


@pytest.mark.parametrize("command", ["simulate", "verify"])
def test_image_list_entries_are_escaped_in_the_table(key_policy, command):
    done = pullguard(command, str(key_policy), "--images", "-", stdin=kubectl_pods(IMAGE_LIST_ENTRY))
    assert_escaped(done.stdout)
    assert "nginx\\x1b[2J:1.25\\n127.0.0.1:1/fake" in done.stdout


def test_check_escapes_the_policy_file(tmp_path):
    policy = tmp_path / "policy.yaml"
    # YAML's "\e" is ESC: the file itself is valid YAML (a raw ESC is not).
    policy.write_text('apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: "a\\e[31m"\n    "sign\\e[2J": x\n')
    done = pullguard("check", str(policy))
    assert done.returncode == 1
    assert ESC not in done.stdout and "\\x1b" in done.stdout


def test_refused_policy_diagnostics_on_stderr_are_escaped(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text('apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: x\n    "sign\\e[2J": x\n')
    done = pullguard("simulate", str(policy), "nginx")
    assert done.returncode == 2
    assert ESC not in done.stderr and "\\x1b" in done.stderr


def test_usage_errors_escape_the_argument():
    done = pullguard("check", "p.yaml", "--format", f"j{ESC}]0;owned\x07")
    assert done.returncode == 2
    assert ESC not in done.stderr and "\\x1b" in done.stderr


# -- the dashboard --------------------------------------------------------------------------------

from pullguard.tui.app import PullguardApp  # noqa: E402
from pullguard.tui.imagelist import ImageItem  # noqa: E402

SIZE = (80, 24)


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: PullguardApp) -> str:
    """What the terminal would be sent for the whole screen (the SVG export of every line)."""
    return app.export_screenshot()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_dashboard_shows_registry_and_image_list_text_escaped(evil_registry, key_policy, anyio_backend):
    images = [ImageItem(f"{evil_registry}/code/app:v1"), ImageItem(f"{evil_registry}/media/app:v1"),
              ImageItem(IMAGE_LIST_ENTRY, "verified", f"node{ESC}[2J", f"verified{ESC}]0;owned\x07")]
    app = PullguardApp(str(key_policy), None, images, validate_delay=0.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.table.focus()
        await pilot.press("f5")
        await settle(pilot)
        assert not app.verifying
        assert ESC not in screen_text(app)
        pane = app.query_one("#detail")
        shown = []
        for row in range(3):
            app.table.move_cursor(row=row)
            await settle(pilot)
            assert ESC not in screen_text(app)
            assert ESC not in pane.plain and "\\x1b" in pane.plain, pane.plain
            shown.append(pane.plain)
        # the registry's error code (in the errors), the .sig mediaType, the image list entry
        assert all("\\n127.0.0.1:1/fake" in text for text in shown), shown
        await pilot.press("c")  # the copyable details
        await settle(pilot)
        assert ESC not in screen_text(app)
        assert ESC not in app.screen.text and "\\x1b" in app.screen.text


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    "rule, shown",
    [
        ('"ghcr.io/a\\e[31m/*"\n    "sign\\e[2J": x', "\\x1b[31m"),  # YAML's \e: outline and problems list
        ("'ghcr.io/a\x1b[31m/*'", "\u241b[31m"),  # a raw ESC (not YAML): drawn as its picture in the editor
    ],
)
async def test_dashboard_shows_policy_text_escaped(tmp_path, anyio_backend, rule, shown):
    policy = tmp_path / "policy.yaml"
    policy.write_text(f'apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: {rule}\n  - image: "*"\n    skip: true\n')
    app = PullguardApp(str(policy), None, [ImageItem("nginx:1.25")], validate_delay=0.0)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.session.analysis.errors
        screen = screen_text(app)
        assert ESC not in screen and shown in screen
        assert app.editor.text == policy.read_text()  # the document keeps what the file holds


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("name", ["[/nope].yaml", "[bold]x[/bold].yaml", "[link=x]y.yaml"])
async def test_file_names_are_text_not_markup(tmp_path, monkeypatch, name, anyio_backend):
    """`pullguard edit '[/nope].yaml'` crashed the status bar with a MarkupError."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    text = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    skip: true\n"
    app = PullguardApp(name, text, [ImageItem("nginx:1.25")], validate_delay=0.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.editor.insert("# edited\n", (0, 0))
        await settle(pilot)
        await pilot.press("ctrl+s")  # title, status bar and the "saved …" notification name it
        await settle(pilot)
        assert (tmp_path / name).read_text().startswith("# edited")
        assert name in str(app.query_one("#status-text").render())
        app.load_images(f"missing-{name}")  # an error modal names it too
        await settle(pilot)
        assert f"missing-{name}" in app.screen.text
    assert app.return_code in (None, 0)
