"""Signed images in a real registry, the way cosign lays them out (used by the verify tests
and bench/verify_throughput.py).

`push_image` pushes a small OCI image; `attach_legacy` the `sha256-<hex>.sig` manifest (simple-signing
layer with cosign's annotations); `attach_bundle_tag` a v3 bundle as cosign does on a registry without
the referrers API (a referrer manifest with `subject`, listed in an index under the `sha256-<hex>` tag).
Everything goes over the distribution API with plain httpx, so what the verifier reads is what a
registry really serves.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import httpx

from tests.registry_server import RegistryServer, sha256, start_registry_process

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


def canonical(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class LocalRegistry:
    """Debian's docker-registry on a loopback port, in a temporary directory that `stop` removes
    (started by tests.registry_server, which the registry tests use too)."""

    def __init__(self, server: RegistryServer, root: str):
        self.server = server
        self.root = root

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return self.server.url

    @classmethod
    def start(cls) -> "LocalRegistry":
        root = tempfile.mkdtemp(prefix="pullguard-registry-")
        try:
            return cls(start_registry_process(Path(root)), root)
        except Exception:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Pusher:
    def __init__(self, registry_url: str) -> None:
        self.base = registry_url.rstrip("/")
        self.http = httpx.Client(timeout=10)

    def blob(self, repo: str, data: bytes) -> dict:
        digest = sha256(data)
        if self.http.head(f"{self.base}/v2/{repo}/blobs/{digest}").status_code == 200:
            return {"digest": digest, "size": len(data)}
        start = self.http.post(f"{self.base}/v2/{repo}/blobs/uploads/")
        start.raise_for_status()
        location = start.headers["location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        done = self.http.put(
            f"{location}{sep}digest={digest}", content=data, headers={"Content-Type": "application/octet-stream"}
        )
        done.raise_for_status()
        return {"digest": digest, "size": len(data)}

    def manifest(self, repo: str, reference: str, doc: dict) -> dict:
        data = canonical(doc)
        r = self.http.put(
            f"{self.base}/v2/{repo}/manifests/{reference}", content=data, headers={"Content-Type": doc["mediaType"]}
        )
        if r.status_code >= 300:
            raise RuntimeError(f"PUT manifest {repo}:{reference}: {r.status_code} {r.text}")
        return {"mediaType": doc["mediaType"], "digest": sha256(data), "size": len(data)}

    def push_image(self, repo: str, tag: str, content: bytes | None = None) -> str:
        """A small OCI image; returns its manifest digest."""
        layer = dict(self.blob(repo, content or f"layer of {repo}:{tag}".encode()), mediaType="application/vnd.oci.image.layer.v1.tar")
        config_doc = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}
        config = dict(self.blob(repo, canonical(config_doc)), mediaType="application/vnd.oci.image.config.v1+json")
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        return self.manifest(repo, tag, doc)["digest"]

    def attach_legacy(self, repo: str, image_digest: str, signatures: list[tuple[bytes, dict]]) -> str:
        """`sha256-<hex>.sig`: one simple-signing layer per (payload, annotations)."""
        layers = [dict(self.blob(repo, p), mediaType=SIMPLESIGNING, annotations=a) for p, a in signatures]
        config_doc = {
            "architecture": "", "created": "0001-01-01T00:00:00Z", "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}, "config": {},
        }
        config = dict(self.blob(repo, canonical(config_doc)), mediaType="application/vnd.oci.image.config.v1+json")
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        return self.manifest(repo, image_digest.replace(":", "-") + ".sig", doc)["digest"]

    def referrer_manifest(self, repo: str, image_digest: str, bundle: bytes) -> dict:
        """A cosign v3 bundle referrer manifest (pushed by digest); returns its descriptor."""
        empty = dict(self.blob(repo, b"{}"), mediaType=OCI_EMPTY)
        layer = dict(self.blob(repo, bundle), mediaType=BUNDLE_V03)
        doc = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03, "config": empty,
            "layers": [layer],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": 0},
            "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
        }
        data = canonical(doc)
        desc = self.manifest(repo, sha256(data), doc)
        return dict(desc, artifactType=BUNDLE_V03)

    def attach_bundle_tag(self, repo: str, image_digest: str, bundles: list[bytes]) -> str:
        """The referrers fallback tag `sha256-<hex>`: an index of bundle referrer manifests."""
        entries = [self.referrer_manifest(repo, image_digest, b) for b in bundles]
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.manifest(repo, image_digest.replace(":", "-"), doc)["digest"]

    def close(self) -> None:
        self.http.close()


class OciLayout:
    """An OCI image layout directory written by hand (served through `oci:PATH` mirrors)."""

    def __init__(self, root) -> None:
        from pathlib import Path

        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.entries: list[dict] = []
        self._write_index()

    def _write_index(self) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}
        (self.root / "index.json").write_bytes(canonical(doc))

    def blob(self, data: bytes) -> dict:
        digest = sha256(data)
        (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def manifest(self, doc: dict, ref_name: str | None = None) -> dict:
        desc = dict(self.blob(canonical(doc)), mediaType=doc["mediaType"])
        if ref_name:
            self.entries.append(dict(desc, annotations={"org.opencontainers.image.ref.name": ref_name}))
            self._write_index()
        return desc

    def push_image(self, ref_name: str) -> str:
        layer = dict(self.blob(f"layer of {ref_name}".encode()), mediaType="application/vnd.oci.image.layer.v1.tar")
        config = dict(self.blob(canonical({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}})),
                      mediaType="application/vnd.oci.image.config.v1+json")
        return self.manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}, ref_name)["digest"]

    def attach_referrer(self, image_digest: str, bundle: bytes) -> str:
        """A cosign v3 bundle found through the referrers API (its `subject` is the image)."""
        doc = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03,
            "config": dict(self.blob(b"{}"), mediaType=OCI_EMPTY),
            "layers": [dict(self.blob(bundle), mediaType=BUNDLE_V03)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": 0},
        }
        return self.manifest(doc)["digest"]

    def attach_legacy(self, repo_ref: str, image_digest: str, payload: bytes, annotations: dict) -> str:
        layer = dict(self.blob(payload), mediaType=SIMPLESIGNING, annotations=annotations)
        config = dict(self.blob(canonical({"rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}})),
                      mediaType="application/vnd.oci.image.config.v1+json")
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        return self.manifest(doc, f"{repo_ref}:{image_digest.replace(':', '-')}.sig")["digest"]
