"""Real registries for tests: Debian's `docker-registry` (distribution v2) on loopback, plus
push helpers that speak the distribution API (monolithic blob upload, manifest PUT).

Reusable by any test that needs images in a registry:

    with start_registry(tmp_path) as reg:            # anonymous, http://127.0.0.1:<port>
        digest = push_image(reg.url, "org/app", "v1", layers=[b"hello"])

`auth=` on the push helpers is `(username, password)`; bearer-token registries are handled by
answering the `WWW-Authenticate` challenge as docker does.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, annotations: dict | None = None, **extra) -> dict:
    desc = {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}
    if annotations:
        desc["annotations"] = annotations
    return desc


# ---- the server ---------------------------------------------------------------------------


@dataclass
class RegistryServer:
    host: str  # 127.0.0.1:<port>
    root: Path
    process: subprocess.Popen | None = None
    auth: dict | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


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


def start_registry_process(root: Path, *, auth: dict | None = None, attempts: int = 3) -> RegistryServer:
    """Start docker-registry on 127.0.0.1:<free port>, storing under `root`; wait until it answers."""
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


# ---- pushing over the distribution API ----------------------------------------------------


class _Pusher:
    """A tiny synchronous distribution client for tests (pull+push scope, basic or bearer)."""

    def __init__(self, base_url: str, repo: str, auth: tuple[str, str] | None):
        self.base = base_url.rstrip("/")
        self.repo = repo
        self.auth = auth
        self.client = httpx.Client(timeout=10, follow_redirects=False)
        self.header: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        headers = {**kw.pop("headers", {}), **self.header}
        r = self.client.request(method, url, headers=headers, **kw)
        if r.status_code == 401 and "www-authenticate" in r.headers:
            self._authenticate(r.headers["www-authenticate"])
            r = self.client.request(method, url, headers={**headers, **self.header}, **kw)
        return r

    def _authenticate(self, challenge: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        params = dict(p.split("=", 1) for p in rest.split(",") if "=" in p)
        params = {k.strip(): v.strip().strip('"') for k, v in params.items()}
        basic = None
        if self.auth:
            basic = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        if scheme.lower() == "basic":
            if basic:
                self.header = {"Authorization": basic}
            return
        q = {"service": params.get("service", ""), "scope": f"repository:{self.repo}:pull,push"}
        r = self.client.get(params["realm"], params=q, headers={"Authorization": basic} if basic else {})
        r.raise_for_status()
        doc = r.json()
        self.header = {"Authorization": f"Bearer {doc.get('token') or doc.get('access_token')}"}

    def blob(self, data: bytes) -> str:
        digest = sha256(data)
        head = self.request("HEAD", f"{self.base}/v2/{self.repo}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        r = self.request("POST", f"{self.base}/v2/{self.repo}/blobs/uploads/")
        if r.status_code != 202:
            raise RuntimeError(f"blob upload start failed: {r.status_code} {r.text}")
        location = httpx.URL(self.base).join(r.headers["location"])
        location = location.copy_merge_params({"digest": digest})
        r = self.request("PUT", str(location), content=data,
                         headers={"Content-Type": "application/octet-stream"})
        if r.status_code != 201:
            raise RuntimeError(f"blob upload failed: {r.status_code} {r.text}")
        return digest

    def manifest(self, reference: str, data: bytes, media_type: str) -> str:
        r = self.request("PUT", f"{self.base}/v2/{self.repo}/manifests/{reference}", content=data,
                         headers={"Content-Type": media_type})
        if r.status_code != 201:
            raise RuntimeError(f"manifest PUT failed: {r.status_code} {r.text}")
        return sha256(data)


@contextlib.contextmanager
def _pusher(base_url: str, repo: str, auth):
    p = _Pusher(base_url, repo, auth)
    try:
        yield p
    finally:
        p.close()


def push_blob(base_url: str, repo: str, data: bytes, *, auth: tuple[str, str] | None = None) -> str:
    with _pusher(base_url, repo, auth) as p:
        return p.blob(data)


def push_manifest(base_url: str, repo: str, reference: str, manifest: bytes | dict,
                  media_type: str | None = None, *, auth: tuple[str, str] | None = None) -> str:
    """PUT a manifest (bytes as given, or a dict serialized compactly) under a tag or digest."""
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest, separators=(",", ":")).encode()
    if media_type is None:
        media_type = json.loads(data).get("mediaType") or OCI_MANIFEST
    with _pusher(base_url, repo, auth) as p:
        return p.manifest(reference, data, media_type)


def image_manifest(config: bytes, layers: list[tuple[bytes, str, dict | None]], *,
                   config_media_type: str = OCI_CONFIG, annotations: dict | None = None,
                   subject: dict | None = None, artifact_type: str | None = None) -> dict:
    manifest: dict = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config_media_type, config),
        "layers": [descriptor(mt, data, ann) for data, mt, ann in layers],
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    if subject:
        manifest["subject"] = subject
    if annotations:
        manifest["annotations"] = annotations
    return manifest


def push_image(base_url: str, repo: str, tag: str | None, *, layers: list = (), config: bytes | None = None,
               config_media_type: str = OCI_CONFIG, annotations: dict | None = None,
               subject: dict | None = None, artifact_type: str | None = None,
               auth: tuple[str, str] | None = None) -> str:
    """Push blobs and an OCI image manifest; returns the manifest digest.

    `layers` items are bytes (media type OCI_LAYER) or (bytes, media_type[, annotations]).
    `tag=None` pushes by digest only (untagged, e.g. a referrer artifact).
    """
    norm = []
    for item in layers:
        if isinstance(item, bytes):
            norm.append((item, OCI_LAYER, None))
        else:
            data, mt, *rest = item
            norm.append((data, mt, rest[0] if rest else None))
    if config is None:
        config = b"{}" if config_media_type == OCI_EMPTY else json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = image_manifest(config, norm, config_media_type=config_media_type, annotations=annotations,
                              subject=subject, artifact_type=artifact_type)
    data = json.dumps(manifest, separators=(",", ":")).encode()
    with _pusher(base_url, repo, auth) as p:
        p.blob(config)
        for blob, _, _ in norm:
            p.blob(blob)
        return p.manifest(tag or sha256(data), data, OCI_MANIFEST)


def push_index(base_url: str, repo: str, tag: str | None, manifests: list[dict], *,
               annotations: dict | None = None, auth: tuple[str, str] | None = None) -> str:
    """Push an OCI image index over manifests already in the repository (descriptors)."""
    index: dict = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    if annotations:
        index["annotations"] = annotations
    data = json.dumps(index, separators=(",", ":")).encode()
    with _pusher(base_url, repo, auth) as p:
        return p.manifest(tag or sha256(data), data, OCI_INDEX)


def manifest_descriptor(base_url: str, repo: str, reference: str, *, auth=None) -> dict:
    """The descriptor (mediaType, digest, size) of a manifest already pushed."""
    with _pusher(base_url, repo, auth) as p:
        r = p.request("GET", f"{p.base}/v2/{repo}/manifests/{reference}",
                      headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        r.raise_for_status()
        return {"mediaType": r.headers["content-type"], "digest": sha256(r.content), "size": len(r.content)}


# ---- OCI image layouts --------------------------------------------------------------------

_ALL_MANIFEST_TYPES = ", ".join([OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json",
                                 "application/vnd.docker.distribution.manifest.list.v2+json"])


def init_oci_layout(layout: Path) -> Path:
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    if not (layout / "oci-layout").exists():
        (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    if not (layout / "index.json").exists():
        (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
    return layout


def write_layout_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = init_oci_layout(layout) / "blobs" / "sha256" / digest.split(":", 1)[1]
    if not path.exists():
        path.write_bytes(data)
    return digest


def add_layout_ref(layout: Path, desc: dict, ref_name: str | None) -> None:
    """Append a descriptor to index.json, annotated with `org.opencontainers.image.ref.name`."""
    index_path = init_oci_layout(layout) / "index.json"
    index = json.loads(index_path.read_text())
    entry = dict(desc)
    if ref_name:
        entry["annotations"] = {**entry.get("annotations", {}), "org.opencontainers.image.ref.name": ref_name}
    index["manifests"].append(entry)
    index_path.write_text(json.dumps(index, indent=1))


def copy_to_oci_layout(base_url: str, repo: str, reference: str, layout: Path, *, ref_name: str | None = None,
                       in_index: bool = True, auth: tuple[str, str] | None = None) -> str:
    """Copy a manifest (recursively: index children, config, layers) from a registry into an
    OCI layout; list it in index.json (with `ref_name`) unless `in_index=False`."""
    with _pusher(base_url, repo, auth) as p:
        def get(kind: str, ref: str, accept: str | None = None) -> httpx.Response:
            r = p.request("GET", f"{p.base}/v2/{repo}/{kind}/{ref}", headers={"Accept": accept} if accept else {})
            r.raise_for_status()
            return r

        def copy(ref: str) -> dict:
            r = get("manifests", ref, _ALL_MANIFEST_TYPES)
            data = r.content
            doc = json.loads(data)
            for child in doc.get("manifests") or []:
                copy(child["digest"])
            for blob in ([doc["config"]] if "config" in doc else []) + (doc.get("layers") or []):
                write_layout_blob(layout, get("blobs", blob["digest"]).content)
            write_layout_blob(layout, data)
            return {"mediaType": doc.get("mediaType") or r.headers["content-type"], "digest": sha256(data),
                    "size": len(data)}

        desc = copy(reference)
    if in_index:
        add_layout_ref(layout, desc, ref_name)
    return desc["digest"]
