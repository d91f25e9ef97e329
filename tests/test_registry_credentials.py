"""Private registries (SPEC §6): credential helpers (`credsStore`/`credHelpers`), identity tokens,
podman's auth.json, `--pull-secret` and Talos `RegistryAuthConfig`, against a real docker-registry
with htpasswd basic auth (and the token registry for identity tokens). Helpers are real scripts in a
directory put first on PATH. Secrets never appear in any output: every output is grepped for them."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import Credential, CredentialsError, CredentialStore
from pullguard.engine.registry.credhelpers import HelperError, run_helper
from pullguard.engine.registry.errors import AuthenticationError
from tests.support.push import push_image
from tests.support.registry import REGISTRY_USER

USER, PASSWORD = REGISTRY_USER
REPO = Path(__file__).resolve().parents[1]
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), "r3fresh-T0ken")

# Helper scripts: each reads the server address on stdin, as docker's helpers do.
HELPERS = {
    # Knows the loopback registries only; says "not found" as docker-credential-helpers do.
    "good": f"""read host; echo "$host" >> "$0.asked"
case "$host" in 127.0.0.1:*) printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{PASSWORD}"}}' "$host";;
*) echo "credentials not found in native keychain"; exit 1;; esac""",
    "token": """read host; printf '{"ServerURL":"%s","Username":"<token>","Secret":"r3fresh-T0ken"}' "$host" """,
    "locked": """echo "gpg: decryption failed: the pass store is locked"; exit 3""",
    "flood": """head -c 200000 /dev/zero""",
    "notjson": """echo 'Username: me'""",
    "hang": """sleep 30""",
    # Fails, but prints what looks like credentials (and the secret on stderr): neither is shown.
    "leaky": f"""echo '{{"Username":"{USER}","Secret":"{PASSWORD}"}}'; echo "{PASSWORD}" >&2; exit 1""",
}


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    """A directory of docker-credential-* scripts, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in HELPERS.items():
        script = bin_dir / f"docker-credential-{name}"
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def config(tmp_path: Path, doc: dict, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("doc,host,username,looked_at", [
    ({"credsStore": "good"}, "127.0.0.1:5000", USER, "docker-credential-good (credsStore in {cfg})"),
    ({"credsStore": "good"}, "ghcr.io", None, "docker-credential-good (credsStore in {cfg}): none"),
    ({"credHelpers": {"127.0.0.1:5000": "good"}, "auths": {"ghcr.io": {"auth": _b64("file:pw")}}},
     "ghcr.io", "file", "{cfg}"),
    # credHelpers wins over credsStore and over the auths entry for its host, as in docker.
    ({"credHelpers": {"127.0.0.1:5000": "good"}, "credsStore": "locked",
      "auths": {"127.0.0.1:5000": {"auth": _b64("file:pw")}}}, "127.0.0.1:5000", USER, "docker-credential-good"),
    ({"credsStore": "token"}, "127.0.0.1:5000", "", "docker-credential-token (credsStore in {cfg})"),
    ({"auths": {"127.0.0.1:5000": {"identitytoken": "r3fresh-T0ken"}}}, "127.0.0.1:5000", "", "{cfg}"),
])
def test_which_source_answers(helpers, tmp_path, doc, host, username, looked_at):
    cfg = config(tmp_path, doc)
    store = CredentialStore.load([cfg])
    cred = store.get(host)
    assert (cred.username if cred else None) == username
    assert looked_at.format(cfg=cfg) in store.looked_at(host)
    assert all(s not in store.looked_at(host) + repr(store) + repr(cred) for s in SECRETS)


def test_a_helper_runs_once_per_host_with_the_host_on_stdin(helpers, tmp_path):
    store = CredentialStore.load([config(tmp_path, {"credsStore": "good"})])
    for _ in range(3):
        assert store.get("127.0.0.1:5000") == Credential(USER, PASSWORD)
    store.get("docker.io")
    asked = (helpers / "docker-credential-good.asked").read_text().splitlines()
    assert asked == ["127.0.0.1:5000", "https://index.docker.io/v1/"]


@pytest.mark.parametrize("helper,message", [
    ("missing", "credential helper docker-credential-missing is not installed (not found on PATH)"),
    ("locked", "credential helper docker-credential-locked failed for 127.0.0.1:5000 (exit status 3): "
               "gpg: decryption failed: the pass store is locked"),
    ("flood", "credential helper docker-credential-flood printed more than 65536 bytes"),
    ("notjson", "credential helper docker-credential-notjson did not answer with JSON for 127.0.0.1:5000"),
    ("leaky", "credential helper docker-credential-leaky failed for 127.0.0.1:5000 (exit status 1)"),
])
def test_a_helper_that_fails_is_named(helpers, tmp_path, helper, message):
    cfg = config(tmp_path, {"credsStore": helper})
    store = CredentialStore.load([cfg])
    with pytest.raises(CredentialsError) as info:
        store.get("127.0.0.1:5000")
    assert str(info.value) == f"{message} (credsStore in {cfg})"
    with pytest.raises(CredentialsError):  # the same answer again, without running it again
        store.get("127.0.0.1:5000")


def test_a_helper_that_hangs_is_stopped_at_the_timeout(helpers):
    with pytest.raises(HelperError, match="docker-credential-hang did not answer within 0.5s"):
        run_helper("hang", "127.0.0.1:5000", timeout=0.5)


@pytest.mark.parametrize("env_name", ["REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"])
def test_podman_and_docker_files(tmp_path, env_name):
    doc = {"auths": {"r.example": {"auth": _b64(f"from-{env_name}:pw")}}}
    env = {"HOME": str(tmp_path / "home")}
    if env_name == "XDG_RUNTIME_DIR":
        (tmp_path / "run" / "containers").mkdir(parents=True)
        config(tmp_path / "run" / "containers", doc, "auth.json")
        env[env_name] = str(tmp_path / "run")
    elif env_name == "REGISTRY_AUTH_FILE":
        env[env_name] = str(config(tmp_path, doc, "auth.json"))
    else:
        config(tmp_path, doc)
        env[env_name] = str(tmp_path)
    store = CredentialStore.load(environ=env)
    assert store.get("r.example").username == f"from-{env_name}"


SECRET_YAML = """\
apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: billing
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {data}
"""


@pytest.mark.parametrize("form", ["secret-yaml", "secret-json-stringdata", "bare-config", "dockercfg"])
def test_pull_secret_forms(tmp_path, form):
    auths = {"127.0.0.1:5000": {"auth": _b64(f"{USER}:{PASSWORD}")}}
    if form == "secret-yaml":
        text = SECRET_YAML.format(data=_b64(json.dumps({"auths": auths})))
    elif form == "secret-json-stringdata":
        text = json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                           "metadata": {"name": "regcred"}, "stringData": {".dockerconfigjson": json.dumps({"auths": auths})}})
    elif form == "bare-config":
        text = json.dumps({"auths": auths})
    else:
        text = json.dumps({"kind": "Secret", "type": "kubernetes.io/dockercfg", "data": {".dockercfg": _b64(json.dumps(auths))}})
    (tmp_path / "s").write_text(text)
    store = CredentialStore.load([], pull_secrets=[str(tmp_path / "s")])
    assert store.get("127.0.0.1:5000") == Credential(USER, PASSWORD)
    assert store.looked_at("127.0.0.1:5000") == f"--pull-secret {tmp_path / 's'}"


@pytest.mark.parametrize("text,message", [
    ("apiVersion: v1\nkind: ConfigMap\n", "no kubernetes.io/dockerconfigjson Secret or docker config.json found"),
    (SECRET_YAML.format(data="x%%" + PASSWORD), "Secret regcred: data..dockerconfigjson is not base64 of UTF-8 text"),
    (SECRET_YAML.format(data=_b64('{"auths": ' + PASSWORD)), "Secret regcred: .dockerconfigjson is not JSON"),
    ("kind: Secret\ntype: kubernetes.io/dockerconfigjson\nmetadata: {name: x}\n", "Secret x: has no data..dockerconfigjson"),
    ("a: [" + PASSWORD, "pull secret is not valid YAML"),
])
def test_bad_pull_secrets_name_the_file_never_the_secret(tmp_path, text, message):
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(CredentialsError) as info:
        CredentialStore.load([], pull_secrets=[str(tmp_path / "s.yaml")])
    assert message in str(info.value) and str(tmp_path / "s.yaml") in str(info.value)
    assert PASSWORD not in str(info.value)


# ---- against real registries ------------------------------------------------------------------


def _resolve(host: str, repo: str, store: CredentialStore) -> str:
    async def go() -> str:
        async with RegistryClient(credentials=store, timeout=10) as client:
            return (await client.head_manifest(host, repo, "v1")).digest

    return asyncio.run(go())


@pytest.fixture(scope="module")
def private_image(basic_auth_registry):
    return push_image(basic_auth_registry.url, "private/app", "v1", layers=[b"private layer"], auth=REGISTRY_USER)


def test_basic_auth_registry_through_a_credential_helper(helpers, tmp_path, basic_auth_registry, private_image):
    store = CredentialStore.load([config(tmp_path, {"credHelpers": {basic_auth_registry.host: "good"}})])
    assert _resolve(basic_auth_registry.host, "private/app", store) == private_image


def test_basic_auth_registry_through_a_pull_secret(tmp_path, basic_auth_registry, private_image):
    auths = {basic_auth_registry.host: {"auth": _b64(f"{USER}:{PASSWORD}")}}
    (tmp_path / "regcred.yaml").write_text(SECRET_YAML.format(data=_b64(json.dumps({"auths": auths}))))
    store = CredentialStore.load([], pull_secrets=[str(tmp_path / "regcred.yaml")])
    assert _resolve(basic_auth_registry.host, "private/app", store) == private_image


def test_a_refused_pull_lists_the_sources_looked_at(helpers, tmp_path, basic_auth_registry, private_image):
    (tmp_path / "other.yaml").write_text(json.dumps({"auths": {"quay.io": {"auth": _b64("q:pw")}}}))
    cfg = config(tmp_path, {"credsStore": "good", "credHelpers": {basic_auth_registry.host: "token"}})
    store = CredentialStore.load([cfg, tmp_path / "absent.json"], pull_secrets=[str(tmp_path / "other.yaml")])
    with pytest.raises(AuthenticationError) as info:
        _resolve(basic_auth_registry.host, "private/app", store)
    # The token helper's identity token cannot answer a basic challenge: nothing was sent.
    assert str(info.value).endswith(
        f"(credentials for {basic_auth_registry.host} from docker-credential-token (credHelpers in {cfg}))")
    anonymous = CredentialStore.load([tmp_path / "absent.json"], pull_secrets=[str(tmp_path / "other.yaml")])
    with pytest.raises(AuthenticationError) as info:
        _resolve(basic_auth_registry.host, "private/app", anonymous)
    assert str(info.value).endswith(
        f"(no credentials for {basic_auth_registry.host}; looked at: --pull-secret {tmp_path / 'other.yaml'}: none; "
        f"{tmp_path / 'absent.json'} (absent))")


def test_identity_token_is_exchanged_as_a_refresh_token(tmp_path, token_registry):
    tokens = token_registry.token_server
    tokens.refresh_tokens["r3fresh-T0ken"] = USER
    digest = push_image(token_registry.url, "private/idtoken", "v1", layers=[b"idtoken layer"], auth=REGISTRY_USER)
    store = CredentialStore.load([config(tmp_path, {"auths": {token_registry.host: {"identitytoken": "r3fresh-T0ken"}}})])
    before = len(tokens.requests)
    assert _resolve(token_registry.host, "private/idtoken", store) == digest
    posts = [form for path, form, _auth in tokens.requests[before:] if "grant_type" in form]
    assert posts and posts[0]["grant_type"] == ["refresh_token"] and posts[0]["refresh_token"] == ["r3fresh-T0ken"]
    assert posts[0]["scope"] == ["repository:private/idtoken:pull"] and posts[0]["client_id"] == ["pullguard"]
    wrong = CredentialStore.load([config(tmp_path, {"auths": {token_registry.host: {"identitytoken": "stale"}}}, "w.json")])
    with pytest.raises(AuthenticationError, match="refused the identity token"):
        _resolve(token_registry.host, "private/idtoken", wrong)


# ---- pullguard verify, every output grepped for the secrets -------------------------------------

POLICY = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: 127.0.0.1:*
    keyless:
      issuer: https://issuer.example
      subject: someone@example.com
"""


def verify_cli(tmp_path: Path, policy: str, image: str, *extra: str, env: dict[str, str] | None = None) -> list[str]:
    (tmp_path / "policy.yaml").write_text(policy)
    outs = []
    for fmt in ("text", "json"):
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
             "verify", str(tmp_path / "policy.yaml"), image, *extra, "--format", fmt],
            capture_output=True, text=True, cwd=REPO, timeout=120,
            env={**os.environ, "HOME": str(tmp_path / "home"), "NO_COLOR": "1", **(env or {})})
        outs.append(done.stdout + done.stderr)
        for secret in SECRETS:
            assert secret not in done.stdout and secret not in done.stderr
    return outs


def _regcred(tmp_path: Path, host: str, password: str = PASSWORD) -> str:
    auths = {host: {"auth": _b64(f"{USER}:{password}")}}
    (tmp_path / "regcred.yaml").write_text(SECRET_YAML.format(data=_b64(json.dumps({"auths": auths}))))
    return str(tmp_path / "regcred.yaml")


def test_verify_reaches_the_private_registry_by_each_source(helpers, tmp_path, basic_auth_registry, private_image):
    image = f"{basic_auth_registry.host}/private/app:v1"
    # Anonymous: refused, the sources named.
    text, js = verify_cli(tmp_path, POLICY, image)
    assert "looked at:" in text and f"{tmp_path / 'home' / '.docker' / 'config.json'} (absent)" in text
    assert json.loads(js[: js.rindex("}") + 1])["results"][0]["outcome"] == "error"
    # Reached, so the outcome is about signatures (none there): failed, not error.
    reached = [
        ("--pull-secret", _regcred(tmp_path, basic_auth_registry.host)),
    ]
    for flag, value in reached:
        text, _js = verify_cli(tmp_path, POLICY, image, flag, value)
        assert "failed" in text and "401" not in text, text
    config(tmp_path, {"credsStore": "good"}, "docker.json")
    (tmp_path / "dc").mkdir(exist_ok=True)
    (tmp_path / "dc" / "config.json").write_text(json.dumps({"credsStore": "good"}))
    text, _js = verify_cli(tmp_path, POLICY, image, env={"DOCKER_CONFIG": str(tmp_path / "dc")})
    assert "failed" in text and "401" not in text, text
    declared = POLICY + textwrap.dedent(f"""\
        ---
        apiVersion: v1alpha1
        kind: RegistryAuthConfig
        name: {basic_auth_registry.host}
        username: {USER}
        password: {PASSWORD}
        """)
    text, _js = verify_cli(tmp_path, declared, image)
    assert "failed" in text and "401" not in text, text


def test_verify_names_a_failing_helper_and_a_refused_password(helpers, tmp_path, basic_auth_registry, private_image):
    image = f"{basic_auth_registry.host}/private/app:v1"
    (tmp_path / "dc").mkdir()
    (tmp_path / "dc" / "config.json").write_text(json.dumps({"credsStore": "locked"}))
    text, _js = verify_cli(tmp_path, POLICY, image, env={"DOCKER_CONFIG": str(tmp_path / "dc")})
    assert "credential helper docker-credential-locked failed" in text
    text, _js = verify_cli(tmp_path, POLICY, image, "--pull-secret", _regcred(tmp_path, basic_auth_registry.host, "wrong-pw"))
    assert f"(credentials for {basic_auth_registry.host} from --pull-secret {tmp_path / 'regcred.yaml'})" in text


def test_an_unreadable_pull_secret_is_a_usage_error(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
         "verify", str(tmp_path / "policy.yaml"), "127.0.0.1:9/a/b:v1", "--pull-secret", str(tmp_path / "nope.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2 and f"cannot read pull secret {tmp_path / 'nope.yaml'}" in done.stderr


@pytest.mark.parametrize("doc,auths,errors", [
    ("apiVersion: v1alpha1\nkind: RegistryAuthConfig\nname: r.example\nusername: u\npassword: " + PASSWORD + "\n",
     [("r.example", "u")], []),
    ("apiVersion: v1alpha1\nkind: RegistryAuthConfig\nusername: u\npassword: " + PASSWORD + "\n",
     [], ["RegistryAuthConfig: name must be specified"]),
    ("apiVersion: v1alpha1\nkind: RegistryAuthConfig\nname: r.example\nusername: u\nidentityToken: t\n", [("r.example", "u")],
     ["RegistryAuthConfig: only one of username/password or identityToken authentication can be specified"]),
    ("apiVersion: v1alpha1\nkind: RegistryAuthConfig\nname: r.example\nauth: " + _b64("u:p") + "\nusername: u\n",
     [("r.example", "u")],
     ["RegistryAuthConfig: only one of auth, username/password or identityToken authentication can be specified"]),
    # v1alpha1 machine.registries.config, yielding to a RegistryAuthConfig for the same host.
    ("machine:\n  registries:\n    config:\n      r.example: {auth: {username: old, password: x}}\n"
     "      q.example: {auth: {identityToken: t}}\n---\n"
     "apiVersion: v1alpha1\nkind: RegistryAuthConfig\nname: r.example\nusername: new\npassword: y\n",
     [("r.example", "new"), ("q.example", "")], []),
])
def test_talos_registry_auth_documents(doc, auths, errors):
    from pullguard.engine.policy import load_policy

    loaded = load_policy(POLICY + "---\n" + doc, "p.yaml")
    assert [(a.host, a.username) for a in loaded.registry_auths] == auths
    assert [d.message for d in loaded.diagnostics if d.code == "talos-registry-auth"] == errors
    assert PASSWORD not in repr(loaded)


def test_the_refresh_token_never_follows_a_redirect_to_another_origin(tmp_path):
    """A token realm that redirects the POST elsewhere: the other origin gets neither the form
    (it holds the refresh token) nor an Authorization header."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, bytes, str | None]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, body, self.headers.get("Authorization")))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_HEAD(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{self.server.server_address[1]}/token",'
                                                 'service="r"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other.server_address[1]}/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD

    registry = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for server in (other, registry):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{registry.server_address[1]}"
        store = CredentialStore.load([config(tmp_path, {"auths": {host: {"identitytoken": "r3fresh-T0ken"}}})])
        with pytest.raises(AuthenticationError):
            _resolve(host, "private/app", store)
    finally:
        for server in (other, registry):
            server.shutdown()
            server.server_close()
    assert seen and all(b"r3fresh" not in body and auth is None for _path, body, auth in seen)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_dashboard_never_shows_the_secrets(tmp_path, basic_auth_registry, private_image, anyio_backend):
    """f5 in the TUI with a pull secret whose password the registry refuses: the error and the
    source are shown, the password (and its base64) nowhere on screen or in the detail pane."""
    from pullguard.tui.app import PullguardApp
    from pullguard.tui.imagelist import ImageItem
    from pullguard.tui.widgets.detail import DetailPane

    wrong = "wr0ng-" + PASSWORD
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    options = {"pull_secrets": [_regcred(tmp_path, basic_auth_registry.host, wrong)], "timeout": 10.0}
    app = PullguardApp(str(path), None, [ImageItem(f"{basic_auth_registry.host}/private/app:v1")], options,
                       validate_delay=0.0)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f5")
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()
        detail = app.query_one(DetailPane).plain
        screen = app.export_screenshot()
    assert f"--pull-secret {tmp_path / 'regcred.yaml'}" in detail
    for secret in (*SECRETS, wrong, base64.b64encode(f"{USER}:{wrong}".encode()).decode()):
        assert secret not in detail and secret not in screen


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_check_never_shows_a_declared_password(tmp_path, fmt):
    (tmp_path / "p.yaml").write_text(POLICY + "---\napiVersion: v1alpha1\nkind: RegistryAuthConfig\n"
                                     f"username: {USER}\npassword: {PASSWORD}\nidentityToken: r3fresh-T0ken\n")
    done = subprocess.run([sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
                           "check", str(tmp_path / "p.yaml"), "--format", fmt],
                          capture_output=True, text=True, cwd=REPO, timeout=120, env=dict(os.environ, NO_COLOR="1"))
    assert done.returncode == 1 and "name must be specified" in done.stdout + done.stderr
    assert all(s not in done.stdout + done.stderr for s in SECRETS)
