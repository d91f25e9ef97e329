"""Real registries for tests: Debian's `docker-registry` (distribution v2) on loopback, with
basic (htpasswd) or token auth and the loopback token service docker's token auth needs.

    with start_registry(tmp_path) as reg:            # anonymous, http://127.0.0.1:<port>
        digest = push_image(reg.url, "org/app", "v1", layers=[b"hello"])   # tests.support.push

The conftest fixtures `registry`, `basic_auth_registry` and `token_registry` start one each per run.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"

# The user the authenticating registries know (basic_auth_registry, token_registry).
REGISTRY_USER = ("pullguard", "s3cret-Pa55word")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- the server ---------------------------------------------------------------------------


@dataclass
class RegistryServer:
    host: str  # 127.0.0.1:<port>
    root: Path
    process: subprocess.Popen | None = None
    auth: dict | None = None
    log_path: Path | None = None
    remove_root: bool = False  # a temporary root (start_registry_process() without one) goes on stop

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.remove_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def need_registry_binary() -> None:
    """Skip the calling test when Debian's docker-registry is not installed."""
    import pytest

    if not shutil.which("docker-registry") and not Path(REGISTRY_BINARY).exists():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; .ci/run does)")


def _config(addr: str, storage: Path, auth: dict | None) -> str:
    # docker-registry reads YAML; JSON is YAML, and keeps this free of a YAML writer.
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": addr, "secret": "pullguard-test-secret", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if auth:
        config["auth"] = auth
    return json.dumps(config, indent=2)


def start_registry_process(root: Path | None = None, *, auth: dict | None = None, attempts: int = 3) -> RegistryServer:
    """Start docker-registry on 127.0.0.1:<free port>, storing under `root` (by default a temporary
    directory that `stop` removes); wait until it answers."""
    if root is None:
        temporary = Path(tempfile.mkdtemp(prefix="pullguard-registry-"))
        try:
            server = start_registry_process(temporary, auth=auth, attempts=attempts)
        except Exception:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        server.remove_root = True
        return server
    root.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _ in range(attempts):
        port = free_port()
        host = f"127.0.0.1:{port}"
        config_path = root / "config.yml"
        config_path.write_text(_config(host, root / "storage", auth))
        log_path = root / "registry.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen([REGISTRY_BINARY, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        server = RegistryServer(host, root, proc, auth, log_path)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                r = httpx.get(f"{server.url}/v2/", timeout=1)
                if r.status_code in (200, 401):
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        last_log = server.log()
        server.stop()
    raise RuntimeError(f"docker-registry did not start:\n{last_log}")


@contextlib.contextmanager
def start_registry(root: Path, *, auth: dict | None = None):
    server = start_registry_process(root, auth=auth)
    try:
        yield server
    finally:
        server.stop()


def htpasswd_auth(root: Path, users: dict[str, str], realm: str = "pullguard-test") -> dict:
    """Write a bcrypt htpasswd file (docker-registry accepts only bcrypt) and return the auth config."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt

        lines = [f"{user}:{_crypt.crypt(pw, _crypt.mksalt(_crypt.METHOD_BLOWFISH, rounds=1 << 4))}"
                 for user, pw in users.items()]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "htpasswd"
    path.write_text("\n".join(lines) + "\n")
    return {"htpasswd": {"realm": realm, "path": str(path)}}


# ---- a token service for `auth: token` ----------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """A loopback token service (docker's token auth): ES256 JWTs carrying `x5c`, which
    docker-registry checks against `rootcertbundle`.

    users: username -> password; anonymous callers get `pull` only on repositories under
    `public_prefix`; authenticated users get pull and push everywhere. `requests` records
    (path, query, had_authorization) for assertions.
    """

    root: Path
    users: dict[str, str]
    service: str = "pullguard-test-registry"
    issuer: str = "pullguard-test-issuer"
    public_prefix: str = "public/"
    token_field: str = "token"
    requests: list[tuple[str, dict, bool]] = field(default_factory=list)
    # OAuth2 refresh tokens (docker's identity tokens) -> user, for POST grant_type=refresh_token.
    refresh_tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pullguard test token signer")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.root / "token-root.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def registry_auth(self) -> dict:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert_path)}}

    def _sign(self, subject: str, access: list[dict]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            _, name, actions = parts
            wanted = actions.split(",")
            if user is not None:
                allowed = [a for a in wanted if a in ("pull", "push")]
            elif name.startswith(self.public_prefix):
                allowed = [a for a in wanted if a == "pull"]
            else:
                allowed = []
            if allowed:
                access.append({"type": "repository", "name": name, "actions": allowed})
        return access

    def start(self) -> "TokenServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                header = self.headers.get("Authorization")
                server.requests.append((parts.path, query, header is not None))
                user = None
                if header:
                    try:
                        scheme, _, value = header.partition(" ")
                        name, _, pw = base64.b64decode(value).decode().partition(":")
                    except Exception:
                        scheme, name, pw = "", "", ""
                    if scheme.lower() != "basic" or server.users.get(name) != pw:
                        self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                        return
                    user = name
                access = server._grant(user, query.get("scope", []))
                if not access and query.get("scope") and user is None:
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
                    return
                token = server._sign(user or "", access)
                self._send(200, {server.token_field: token, "expires_in": 300})

            def do_POST(self):
                # docker's registry client with an identity token: an OAuth2 refresh-token grant.
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                server.requests.append((urlsplit(self.path).path, form, False))
                user = server.refresh_tokens.get((form.get("refresh_token") or [""])[0])
                if (form.get("grant_type") or [""])[0] != "refresh_token" or user is None:
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]})
                    return
                scopes = [s for value in form.get("scope", []) for s in value.split(" ")]
                token = server._sign(user, server._grant(user, scopes))
                self._send(200, {"access_token": token, "expires_in": 300})

            def _send(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
