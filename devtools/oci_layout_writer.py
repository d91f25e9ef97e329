"""Write an OCI image layout the way cosign and `crane`/`oras` lay signatures out on a registry.

The one layout writer: `devtools/make_samples.py` builds the bundled samples with it and the tests
build their `oci:` mirrors with it (tests/support). Every blob is written under `blobs/sha256/<hex>`, and
`index.json` names the tagged manifests with `org.opencontainers.image.ref.name` holding a full
reference (`ghcr.io/acme/api:v1.4.0`, or `ghcr.io/acme/api:sha256-<hex>.sig` for a cosign tag),
which is what `pullguard.engine.registry.ocilayout.OCILayoutTransport` serves. Referrers need no index
entry: the transport finds them by the `subject` of the manifests in the layout.

Output is deterministic for deterministic input: canonical JSON, gzip with no timestamp,
tar entries with fixed owner and mtime, `index.json` sorted by reference name. `index.json` is
rewritten with every tagged manifest, so the directory is a complete layout at every step.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

REF_NAME = "org.opencontainers.image.ref.name"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def tag_of(digest: str) -> str:
    """cosign's tag for an artifact about `digest`: `sha256:<hex>` -> `sha256-<hex>`."""
    return digest.replace(":", "-")


def tar_gz(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(gzip-compressed tar, uncompressed tar) of `files`, byte-identical on every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(files[name]))
    plain = raw.getvalue()
    return gzip.compress(plain, compresslevel=9, mtime=0), plain


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self, **extra) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class OCILayoutWriter:
    """An OCI image layout under `root` (created; existing blobs and tagged manifests are kept)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        self._refs: dict[str, Descriptor] = self._read_refs()
        self.save()

    def _read_refs(self) -> dict[str, Descriptor]:
        path = self.root / "index.json"
        if not path.exists():
            return {}
        entries = json.loads(path.read_text())["manifests"]
        return {e["annotations"][REF_NAME]: Descriptor(e["mediaType"], e["digest"], e["size"]) for e in entries}

    # ---- primitives ---------------------------------------------------------------------

    def blob(self, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        digest = sha256(data)
        (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def manifest(self, doc: dict, ref_name: str | None = None) -> Descriptor:
        desc = self.blob(canonical(doc), doc["mediaType"])
        if ref_name:
            self.tag(ref_name, desc)
        return desc

    def tag(self, ref_name: str, desc: Descriptor) -> None:
        """List a manifest already in the layout in `index.json` under `ref_name`."""
        self._refs[ref_name] = desc
        self.save()

    def save(self) -> Path:
        """Write `oci-layout` and `index.json` (entries sorted by reference name)."""
        (self.root / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
        manifests = [desc.to_json(annotations={REF_NAME: name}) for name, desc in sorted(self._refs.items())]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        path = self.root / "index.json"
        path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        return path

    # ---- images and cosign artifacts ---------------------------------------------------------

    def image(self, reference: str, files: dict[str, bytes]) -> str:
        """A one-layer linux/amd64 image tagged `reference`; returns its manifest digest."""
        compressed, plain = tar_gz(files)
        layer = self.blob(compressed, OCI_LAYER_GZIP)
        config_doc = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/bin/sample"], "Labels": {"org.opencontainers.image.ref.name": reference}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(plain)]},
            "history": [{"created": "2026-01-15T09:00:00Z", "created_by": "pullguard samples"}],
            "created": "2026-01-15T09:00:00Z",
        }
        config = self.blob(canonical(config_doc), OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": [layer.to_json()]}
        return self.manifest(doc, reference).digest

    def legacy_signature(self, repository_ref: str, image_digest: str, signatures: list[tuple[bytes, dict]]) -> str:
        """cosign's legacy `sha256-<hex>.sig` manifest: one simple-signing layer per (payload, annotations).

        `repository_ref` is the image's repository without tag (`ghcr.io/acme/api`).
        """
        layers = [self.blob(payload, SIMPLESIGNING).to_json(annotations=annotations) for payload, annotations in signatures]
        config_doc = {
            "architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        config = self.blob(canonical(config_doc), OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": layers}
        return self.manifest(doc, f"{repository_ref}:{tag_of(image_digest)}.sig").digest

    def legacy_attestation(self, repository_ref: str, image_digest: str, attestations: list[tuple[bytes, dict]]) -> str:
        """cosign's legacy `sha256-<hex>.att` manifest: one DSSE envelope layer per (envelope, annotations)."""
        layers = [self.blob(envelope, DSSE_ENVELOPE).to_json(annotations=annotations) for envelope, annotations in attestations]
        config_doc = {
            "architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        config = self.blob(canonical(config_doc), OCI_CONFIG)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": layers}
        return self.manifest(doc, f"{repository_ref}:{tag_of(image_digest)}.att").digest

    def bundle_manifest(self, image_digest: str | None, image_size: int, bundle: bytes,
                        predicate_type: str = COSIGN_SIGN_PREDICATE) -> Descriptor:
        """cosign v3's bundle manifest; with `image_digest` it is a referrer (`subject` set)."""
        empty = self.blob(b"{}", OCI_EMPTY)
        layer = self.blob(bundle, BUNDLE_V03)
        doc = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03,
            "config": empty.to_json(), "layers": [layer.to_json()],
            "annotations": {
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": predicate_type,
            },
        }
        if image_digest is not None:
            doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": image_size}
        return self.manifest(doc)

    def bundle_referrer(self, image_digest: str, image_size: int, bundle: bytes,
                        predicate_type: str = COSIGN_SIGN_PREDICATE) -> str:
        """A bundle found through the referrers API only (no tag)."""
        return self.bundle_manifest(image_digest, image_size, bundle, predicate_type).digest

    def bundle_tag(self, repository_ref: str, image_digest: str, bundles: list[bytes]) -> str:
        """The referrers fallback tag `sha256-<hex>`: an index of bundle manifests.

        The manifests carry no `subject`, as on a registry that keeps no referrers: the layout
        then lists no referrer and the bundle is found through the tag alone.
        """
        entries = [self.bundle_manifest(None, 0, b).to_json(artifactType=BUNDLE_V03) for b in bundles]
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.manifest(doc, f"{repository_ref}:{tag_of(image_digest)}").digest

    def size_of(self, digest: str) -> int:
        return (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).stat().st_size
