"""Images and cosign signatures pushed to a real registry over the distribution API (monolithic
blob upload, manifest PUT), so what the verifier reads is what a registry really serves.

Plain OCI content, for the registry client tests:

    digest = push_image(reg.url, "org/app", "v1", layers=[b"hello"])

Signed images laid out the way cosign does, for the verify tests and bench/verify_throughput.py:
`Pusher.push_image` a small image; `attach_legacy` the `sha256-<hex>.sig` manifest (simple-signing
layers with cosign's annotations); `attach_bundle_tag` v3 bundles as cosign pushes them to a registry
without the referrers API (referrer manifests with `subject`, in an index under `sha256-<hex>`).

`auth=` is `(username, password)`; bearer-token registries are handled by answering the
`WWW-Authenticate` challenge as docker does. Manifests go as compact JSON in the order written,
as docker and cosign send them (the digests in snapshots/ depend on these bytes).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator

import httpx

from devtools.oci_layout_writer import (
    BUNDLE_V03,
    COSIGN_SIGN_PREDICATE,
    DSSE_ENVELOPE,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    SIMPLESIGNING,
    sha256,
    tag_of,
)

Auth = tuple[str, str] | None


def compact_json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def descriptor(media_type: str, data: bytes, annotations: dict | None = None, **extra) -> dict:
    desc = {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}
    if annotations:
        desc["annotations"] = annotations
    return desc


class DistributionClient:
    """A tiny synchronous distribution client for tests (pull+push scope, basic or bearer)."""

    def __init__(self, base_url: str, auth: Auth = None):
        self.base = base_url.rstrip("/")
        self.auth = auth
        self.client = httpx.Client(timeout=10, follow_redirects=False)
        self.header: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def request(self, repo: str, method: str, url: str, **kw) -> httpx.Response:
        headers = {**kw.pop("headers", {}), **self.header}
        r = self.client.request(method, url, headers=headers, **kw)
        if r.status_code == 401 and "www-authenticate" in r.headers:
            self._authenticate(repo, r.headers["www-authenticate"])
            r = self.client.request(method, url, headers={**headers, **self.header}, **kw)
        return r

    def _authenticate(self, repo: str, challenge: str) -> None:
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
        q = {"service": params.get("service", ""), "scope": f"repository:{repo}:pull,push"}
        r = self.client.get(params["realm"], params=q, headers={"Authorization": basic} if basic else {})
        r.raise_for_status()
        doc = r.json()
        self.header = {"Authorization": f"Bearer {doc.get('token') or doc.get('access_token')}"}

    def get(self, repo: str, kind: str, reference: str, accept: str | None = None) -> httpx.Response:
        """GET `/v2/<repo>/<kind>/<reference>` (kind: manifests or blobs); raises on an error status."""
        r = self.request(repo, "GET", f"{self.base}/v2/{repo}/{kind}/{reference}", headers={"Accept": accept} if accept else {})
        r.raise_for_status()
        return r

    def blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        head = self.request(repo, "HEAD", f"{self.base}/v2/{repo}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        r = self.request(repo, "POST", f"{self.base}/v2/{repo}/blobs/uploads/")
        if r.status_code != 202:
            raise RuntimeError(f"blob upload start failed: {r.status_code} {r.text}")
        location = httpx.URL(self.base).join(r.headers["location"])
        location = location.copy_merge_params({"digest": digest})
        r = self.request(repo, "PUT", str(location), content=data,
                         headers={"Content-Type": "application/octet-stream"})
        if r.status_code != 201:
            raise RuntimeError(f"blob upload failed: {r.status_code} {r.text}")
        return digest

    def manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        r = self.request(repo, "PUT", f"{self.base}/v2/{repo}/manifests/{reference}", content=data,
                         headers={"Content-Type": media_type})
        if r.status_code != 201:
            raise RuntimeError(f"manifest PUT {repo}:{reference} failed: {r.status_code} {r.text}")
        return sha256(data)


@contextlib.contextmanager
def distribution_client(base_url: str, auth: Auth = None) -> Iterator[DistributionClient]:
    client = DistributionClient(base_url, auth)
    try:
        yield client
    finally:
        client.close()


# ---- plain OCI content ----------------------------------------------------------------------


def push_blob(base_url: str, repo: str, data: bytes, *, auth: Auth = None) -> str:
    with distribution_client(base_url, auth) as client:
        return client.blob(repo, data)


def push_manifest(base_url: str, repo: str, reference: str, manifest: bytes | dict,
                  media_type: str | None = None, *, auth: Auth = None) -> str:
    """PUT a manifest (bytes as given, or a dict serialized compactly) under a tag or digest."""
    data = manifest if isinstance(manifest, bytes) else compact_json(manifest)
    if media_type is None:
        media_type = json.loads(data).get("mediaType") or OCI_MANIFEST
    with distribution_client(base_url, auth) as client:
        return client.manifest(repo, reference, data, media_type)


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
               auth: Auth = None) -> str:
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
    data = compact_json(manifest)
    with distribution_client(base_url, auth) as client:
        client.blob(repo, config)
        for blob, _, _ in norm:
            client.blob(repo, blob)
        return client.manifest(repo, tag or sha256(data), data, OCI_MANIFEST)


def push_index(base_url: str, repo: str, tag: str | None, manifests: list[dict], *,
               annotations: dict | None = None, auth: Auth = None) -> str:
    """Push an OCI image index over manifests already in the repository (descriptors)."""
    index: dict = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    if annotations:
        index["annotations"] = annotations
    data = compact_json(index)
    with distribution_client(base_url, auth) as client:
        return client.manifest(repo, tag or sha256(data), data, OCI_INDEX)


def manifest_descriptor(base_url: str, repo: str, reference: str, *, auth: Auth = None) -> dict:
    """The descriptor (mediaType, digest, size) of a manifest already pushed."""
    with distribution_client(base_url, auth) as client:
        r = client.get(repo, "manifests", reference, f"{OCI_MANIFEST}, {OCI_INDEX}")
        return {"mediaType": r.headers["content-type"], "digest": sha256(r.content), "size": len(r.content)}


# ---- signed images, laid out as cosign does ------------------------------------------------------


class Pusher:
    """Anonymous pushes of images and their cosign signatures to one registry."""

    def __init__(self, registry_url: str) -> None:
        self.client = DistributionClient(registry_url)

    def blob(self, repo: str, data: bytes) -> dict:
        return {"digest": self.client.blob(repo, data), "size": len(data)}

    def manifest(self, repo: str, reference: str, doc: dict) -> dict:
        data = compact_json(doc)
        return {"mediaType": doc["mediaType"], "digest": self.client.manifest(repo, reference, data, doc["mediaType"]),
                "size": len(data)}

    def push_image(self, repo: str, tag: str, content: bytes | None = None) -> str:
        """A small OCI image; returns its manifest digest."""
        layer = dict(self.blob(repo, content or f"layer of {repo}:{tag}".encode()), mediaType=OCI_LAYER)
        config_doc = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}
        config = dict(self.blob(repo, compact_json(config_doc)), mediaType=OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        return self.manifest(repo, tag, doc)["digest"]

    def attach_legacy(self, repo: str, image_digest: str, signatures: list[tuple[bytes, dict]]) -> str:
        """`sha256-<hex>.sig`: one simple-signing layer per (payload, annotations)."""
        layers = [dict(self.blob(repo, p), mediaType=SIMPLESIGNING, annotations=a) for p, a in signatures]
        config_doc = {
            "architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "", "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}, "config": {},
        }
        config = dict(self.blob(repo, compact_json(config_doc)), mediaType=OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        return self.manifest(repo, tag_of(image_digest) + ".sig", doc)["digest"]

    def attach_att(self, repo: str, image_digest: str, attestations: list[tuple[bytes, dict]]) -> str:
        """`sha256-<hex>.att`: one DSSE envelope layer per (envelope, annotations), as `cosign attest` pushes."""
        layers = [dict(self.blob(repo, e), mediaType=DSSE_ENVELOPE, annotations=a) for e, a in attestations]
        config_doc = {
            "architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "", "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}, "config": {},
        }
        config = dict(self.blob(repo, compact_json(config_doc)), mediaType=OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        return self.manifest(repo, tag_of(image_digest) + ".att", doc)["digest"]

    def referrer_manifest(self, repo: str, image_digest: str, bundle: bytes,
                          predicate_type: str = COSIGN_SIGN_PREDICATE) -> dict:
        """A cosign v3 bundle referrer manifest (pushed by digest); returns its descriptor."""
        empty = dict(self.blob(repo, b"{}"), mediaType=OCI_EMPTY)
        layer = dict(self.blob(repo, bundle), mediaType=BUNDLE_V03)
        doc = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03, "config": empty,
            "layers": [layer],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": 0},
            "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": predicate_type},
        }
        desc = self.manifest(repo, sha256(compact_json(doc)), doc)
        return dict(desc, artifactType=BUNDLE_V03)

    def attach_bundle_tag(self, repo: str, image_digest: str, bundles: list[bytes]) -> str:
        """The referrers fallback tag `sha256-<hex>`: an index of bundle referrer manifests."""
        entries = [self.referrer_manifest(repo, image_digest, b) for b in bundles]
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.manifest(repo, tag_of(image_digest), doc)["digest"]

    def close(self) -> None:
        self.client.close()
