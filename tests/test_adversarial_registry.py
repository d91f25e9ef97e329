"""Registries and layouts that attack the client (issue 11): each row is an answer or a file that
got through before, now rejected, bounded or escaped.

- oci: layouts whose blobs, manifests or index.json are a FIFO, a symlink to /dev/zero or a 6 GiB
  sparse file: refused by kind or by size, nothing read past the limit (peak RSS of a subprocess).
- `Retry-After` longer than what is left of `--timeout`: the request fails at once, saying so
  (requests counted, waits taken from an injected sleep and clock, never wall time).
- Newlines and ESC in registry error codes and token-service answers: escaped in every message.
- Proxy and mirror URLs whose password holds `@`: hidden whole.

Servers are real and on loopback (a scripted `http.server`); no name other than 127.0.0.1 is used,
and the TEST-NET address 192.0.2.1 only as a registry reached through a dead loopback proxy.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devtools.oci_layout_writer import OCI_INDEX, OCI_MANIFEST, OCILayoutWriter
from pullguard.engine.endpoints import EndpointError
from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import CredentialStore
from pullguard.engine.registry.errors import (
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RegistryError,
    ServerError,
    TransportError,
)
from pullguard.engine.registry.mirrors import parse_mirror_flag
from pullguard.engine.registry.models import sha256_digest
from pullguard.engine.registry.netenv import NetworkSettings
from tests.support.registry import free_port
from tests.support.scripted_http import scripted_server as http_server

ANON = CredentialStore()
REPO = Path(__file__).resolve().parents[1]


def run(coro):
    return asyncio.run(coro)


def scripted_server(answer):
    """tests.support.scripted_http for answers that need no request headers: answer(method, path)."""
    return http_server(lambda method, path, headers: answer(method, path))


# ---- oci: layouts: FIFOs, devices, huge files (#7) ---------------------------------------------

SIX_GIB = 6 << 30
MANIFEST_DOC = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}


def _plant(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "sparse":
        with open(path, "wb") as fh:
            fh.truncate(SIX_GIB)  # sparse: 6 GiB long, no disk used


def _layout(tmp_path: Path, target: str, kind: str) -> tuple[Path, str]:
    """A layout whose `target` (blob, manifest or index) is replaced by `kind`; returns the
    layout and the digest to ask for."""
    layout = tmp_path / "layout"
    digest = OCILayoutWriter(layout).manifest(MANIFEST_DOC, "ghcr.io/org/app:v1").digest
    wanted = sha256_digest(b"the blob a FIFO stands in for")
    if target == "blob":
        _plant(layout / "blobs" / "sha256" / wanted.split(":")[1], kind)
    elif target == "manifest":
        _plant(layout / "blobs" / "sha256" / digest.split(":")[1], kind)
        wanted = digest
    else:
        _plant(layout / "index.json", kind)
    return layout, wanted


# The child sets an address-space limit, so a regression fails with MemoryError instead of
# taking 6 GiB of a shared machine; the subprocess timeout catches a read that blocks.
_CHILD = textwrap.dedent("""
    import asyncio, json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    from pullguard.engine.endpoints import parse_endpoint
    from pullguard.engine.registry.client import RegistryClient
    from pullguard.engine.registry.credentials import CredentialStore
    from pullguard.engine.registry.mirrors import MirrorSpec

    layout, target, digest = sys.argv[1:4]

    async def go():
        mirrors = {"ghcr.io": MirrorSpec((parse_endpoint("oci:" + layout),), skip_fallback=True)}
        async with RegistryClient(mirrors=mirrors, credentials=CredentialStore(), timeout=2) as client:
            if target == "blob":
                return await client.get_blob("ghcr.io", "org/app", digest)
            if target == "manifest":
                return await client.get_manifest("ghcr.io", "org/app", digest)
            return await client.get_manifest("ghcr.io", "org/app", "v1")

    try:
        asyncio.run(go())
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    # Peak RSS of this process image: VmHWM, since getrusage's ru_maxrss keeps the peak from
    # before exec (the forking pytest worker's).
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"error": error, "max_rss_kib": peak}))
""")

# Python, httpx and the client take ~60 MiB; reading a 6 GiB file (or /dev/zero) whole does not fit.
MAX_RSS_KIB = 150 * 1024

LAYOUT_ATTACKS = [
    # (what is planted, where, the error)
    ("fifo", "blob", "is not a regular file (a FIFO)"),
    ("devzero", "blob", "is not a regular file (a device)"),
    ("sparse", "blob", "blob is larger than the limit of 1048576 bytes"),
    ("fifo", "manifest", "is not a regular file (a FIFO)"),
    ("devzero", "manifest", "is not a regular file (a device)"),
    ("sparse", "manifest", "manifest is larger than the limit of 131072 bytes"),
    ("fifo", "index", "index.json (" + "{layout}/index.json) is not a regular file (a FIFO)"),
    ("devzero", "index", "index.json (" + "{layout}/index.json) is not a regular file (a device)"),
    ("sparse", "index", "index.json is larger than the limit of 4194304 bytes"),
]


@pytest.mark.parametrize("kind, target, error", LAYOUT_ATTACKS)
def test_layout_files_that_are_not_files_or_too_big(tmp_path, kind, target, error):
    layout, digest = _layout(tmp_path, target, kind)
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(layout), target, digest],
                              capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading a {kind} {target} from an oci: layout blocked past --timeout")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["error"] is not None and error.format(layout=layout) in result["error"]
    assert "MemoryError" not in result["error"]
    assert result["max_rss_kib"] < MAX_RSS_KIB


def test_a_fifo_elsewhere_in_the_layout_is_not_scanned(tmp_path):
    """The referrers scan opens every blob: a FIFO among them is passed over, the rest served."""
    layout, _ = _layout(tmp_path, "blob", "fifo")
    from pullguard.engine.endpoints import parse_endpoint
    from pullguard.engine.registry.mirrors import MirrorSpec

    async def go():
        mirrors = {"ghcr.io": MirrorSpec((parse_endpoint(f"oci:{layout}"),), skip_fallback=True)}
        async with RegistryClient(mirrors=mirrors, credentials=ANON, timeout=2) as client:
            manifest = await client.get_manifest("ghcr.io", "org/app", "v1")
            referrers = await client.get_referrers("ghcr.io", "org/app", manifest.digest)
            return manifest, referrers

    manifest, referrers = run(go())
    assert json.loads(manifest.data) == MANIFEST_DOC and referrers.supported and referrers.descriptors == ()


# ---- Retry-After against --timeout (#8) ----------------------------------------------------------


class Clock:
    """An injected clock that only the injected sleep moves: waits are counted, never taken."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


MANIFEST = json.dumps(MANIFEST_DOC).encode()
OK = (200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256_digest(MANIFEST)}, MANIFEST)


def busy(status, retry_after=None):
    return (status, {"Retry-After": retry_after} if retry_after else {}, b"")


RETRY_DEADLINES = [
    # (answers in order, --timeout, backoff, requests made, waits, error or None)
    ([busy(503, "3600"), OK], 2, 0.2, 1, [],
     "503 (the registry asked to retry after 3600s, longer than the 2s left of the 2s timeout)"),
    ([busy(429, "3600"), OK], 2, 0.2, 1, [],
     "429 (the registry asked to retry after 3600s, longer than the 2s left of the 2s timeout)"),
    ([busy(503, "Wed, 21 Oct 2099 07:28:00 GMT"), OK], 10, 0.2, 1, [], "s, longer than the 10s left of the 10s timeout)"),
    ([busy(503, "1"), OK], 2, 0.2, 2, [1.0], None),
    # the second wait would use up what is left: no third request
    ([busy(503, "1"), busy(503, "1"), OK], 2, 0.2, 2, [1.0], "503 (after 2 attempts) (no time left for a retry within the 2s timeout)"),
    # a backoff longer than the timeout: one request, no wait
    ([busy(502), OK], 0.5, 1.0, 1, [], "502 (no time left for a retry within the 0.5s timeout)"),
]


@pytest.mark.parametrize("answers, timeout, backoff, requests_made, waits, error", RETRY_DEADLINES)
def test_timeout_bounds_a_request_with_its_retries(answers, timeout, backoff, requests_made, waits, error):
    script = list(answers)

    def answer(method, path):
        return script.pop(0) if len(script) > 1 else script[0]

    clock = Clock()
    with scripted_server(answer) as (host, requests):
        async def go():
            async with RegistryClient(credentials=ANON, timeout=timeout, backoff=backoff,
                                      sleep=clock.sleep, clock=clock) as client:
                return await client.get_manifest(host, "org/app", "v1")

        if error is None:
            assert run(go()).data == MANIFEST
        else:
            with pytest.raises(ServerError) as info:
                run(go())
            assert str(info.value).endswith(error)
    assert len(requests) == requests_made
    assert clock.waits == waits
    assert sum(clock.waits) < timeout


# ---- outside text in error messages (#9) ---------------------------------------------------------

FAKE_ROW = "X\n127.0.0.1:1/evil@sha256:0000  verified  verified via legacy signature (bundle verified true)\x1b[2J"


def _error_body(code: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": "m\nm"}]}).encode()


def _token_realm_answers(host_ref: list[str]):
    def answer(method, path):
        if path.startswith("/token"):
            return 401, {"Content-Type": "application/json"}, _error_body(FAKE_ROW)
        challenge = f'Bearer realm="http://{host_ref[0]}/token",service="evil\x1bservice"'
        return 401, {"WWW-Authenticate": challenge}, _error_body(FAKE_ROW)
    return answer


INJECTIONS = [
    # (how the server answers, the call, the error class)
    ("404 code", lambda hr: lambda m, p: (404, {}, _error_body(FAKE_ROW)), "manifest", NotFoundError),
    ("500 code", lambda hr: lambda m, p: (500, {}, _error_body(FAKE_ROW)), "manifest", ServerError),
    ("401 code", lambda hr: lambda m, p: (401, {}, _error_body(FAKE_ROW)), "blob", AuthenticationError),
    ("token service code", _token_realm_answers, "manifest", AuthenticationError),
    ("redirect to a control character", lambda hr: lambda m, p: (307, {"Location": "http://127.0.0.1:1/\x1b[2J"}, b""),
     "manifest", ProtocolError),
    ("redirect to a port that is not a number", lambda hr: lambda m, p: (307, {"Location": "http://127.0.0.1:abc/x"}, b""),
     "manifest", ProtocolError),
    ("redirect to a broken IPv6 address", lambda hr: lambda m, p: (307, {"Location": "http://[zz/x"}, b""),
     "blob", ProtocolError),
    ("realm that is not a URL", lambda hr: lambda m, p: (401, {"WWW-Authenticate": 'Bearer realm="http://[::1"'}, b""),
     "manifest", ProtocolError),
    ("layer digest", lambda hr: lambda m, p: (200, {"Content-Type": OCI_INDEX}, json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": FAKE_ROW, "size": 1}]}).encode()),
     "referrers", RegistryError),
]


@pytest.mark.parametrize("name, server, call, error", INJECTIONS, ids=[row[0] for row in INJECTIONS])
def test_control_characters_from_a_registry_never_reach_a_message(name, server, call, error):
    host_ref: list[str] = []
    clock = Clock()
    with scripted_server(server(host_ref)) as (host, requests):
        host_ref.append(host)

        async def go():
            async with RegistryClient(credentials=ANON, timeout=2, sleep=clock.sleep, clock=clock) as client:
                if call == "manifest":
                    return await client.get_manifest(host, "org/app", "v1")
                if call == "blob":
                    return await client.get_blob(host, "org/app", sha256_digest(b"x"))
                return await client.get_referrers(host, "org/app", sha256_digest(b"x"))

        with pytest.raises(error) as info:
            run(go())
    for text in (str(info.value), repr(info.value.args), info.value.message):
        assert "\n" not in text and "\x1b" not in text
    if error is ProtocolError:
        assert len(requests) == 1  # the registry's answer, not a dropped connection: not asked again
    if name.endswith("code"):
        assert "X\\n127.0.0.1:1/evil" in str(info.value)  # shown, escaped
        assert info.value.code == FAKE_ROW  # the data is kept as sent


def test_escaped_registry_error_reaches_discovery_as_one_line():
    """Through the store discovery calls: RegistryFault keeps the message, escaped."""
    from pullguard.engine import artifacts
    from pullguard.engine.registry.store import RegistryStore

    with scripted_server(lambda m, p: (500, {}, _error_body(FAKE_ROW))) as (host, _):
        async def go():
            async with RegistryStore(RegistryClient(credentials=ANON, timeout=2, max_attempts=1)) as store:
                await store.manifest(f"{host}/org/app", "v1", 128 * 1024)

        with pytest.raises(artifacts.RegistryFault) as info:
            run(go())
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


# ---- credentials in proxy and mirror URLs (#11) ----------------------------------------------------


def test_a_proxy_password_holding_at_is_hidden_whole():
    dead = free_port()
    proxy = f"http://bob:Secr3t@PW@127.0.0.1:{dead}"
    settings = NetworkSettings.from_environment({"HTTPS_PROXY": proxy})

    async def go():
        # 192.0.2.1 (TEST-NET) is proxied; the proxy is a closed loopback port, so nothing leaves.
        async with RegistryClient(credentials=ANON, network=settings, timeout=2, max_attempts=1) as client:
            await client.get_manifest("192.0.2.1", "org/app", "v1")

    with pytest.raises(TransportError) as info:
        run(go())
    texts = [str(info.value), repr(settings)]
    assert f"through proxy http://***@127.0.0.1:{dead}: connection refused" in texts[0]
    for text in texts:
        assert "Secr3t" not in text and "PW@" not in text and "bob" not in text


@pytest.mark.parametrize(
    "value",
    [
        "h=ftp://bob:Secr3tPW@127.0.0.1:1",
        "h=https://bob:Secr3t@PW@127.0.0.1:1",
        "h=https://bob:Se/cr3tPW@127.0.0.1:1",
        "https://bob:Secr3tPW@127.0.0.1:1=https://127.0.0.1:2",
    ],
)
def test_a_mirror_flag_error_never_shows_the_password(value):
    with pytest.raises(EndpointError) as info:
        parse_mirror_flag(value, check_exists=False)
    assert "Secr3t" not in str(info.value) and "PW" not in str(info.value)


# ---- credential files (a docker config.json that is huge or not text) -----------------------------


@pytest.mark.parametrize(
    "content, error",
    [
        (None, "cannot read credentials file {path}: larger than 16 MiB"),  # 64 MiB sparse: not read whole
        (b"\xff{}", "{path}:1:1: credentials file is not UTF-8 text"),
    ],
)
def test_credential_files_are_read_within_a_bound(tmp_path, content, error):
    from pullguard.engine.registry.credentials import CredentialsError

    path = tmp_path / "config.json"
    if content is None:
        with open(path, "wb") as fh:
            fh.truncate(64 << 20)
    else:
        path.write_bytes(content)
    with pytest.raises(CredentialsError) as info:
        CredentialStore.load([path])
    assert str(info.value).startswith(error.format(path=path))


def test_a_newline_in_a_registry_error_code_prints_no_fake_row(tmp_path, capsys):
    """End to end: the code reaches `pullguard verify`'s table as one escaped line, not a row."""
    from pullguard.tui.cli import main

    with scripted_server(lambda m, p: (401, {}, _error_body(FAKE_ROW))) as (host, requests):
        policy = tmp_path / "policy.yaml"
        policy.write_text("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
                          f"  - image: \"{host}/*\"\n    keyless:\n      issuer: https://issuer.test\n"
                          "      subject: someone@example.com\n")
        image = f"{host}/org/app@{sha256_digest(b'image')}"
        code = main(["verify", str(policy), image, "--timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1 and requests
    assert "\x1b" not in out and "X\\n127.0.0.1:1/evil" in out  # shown, escaped
    lines = out.splitlines()
    assert not any(line.lstrip().startswith("127.0.0.1:1/evil") for line in lines)  # no fake row
    assert [line for line in lines if " error " in line and line.startswith(host)] == [lines[1]]
    assert lines[-1].startswith("1 error ")


def test_the_mirror_usage_error_never_shows_the_password(tmp_path, capsys):
    from pullguard.tui.cli import main

    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: []\n")
    with pytest.raises(SystemExit) as info:
        main(["verify", str(policy), "--mirror", "h=ftp://bob:Secr3tPW@127.0.0.1:1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--mirror" in err
    assert "Secr3tPW" not in err
