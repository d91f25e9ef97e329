"""What a registry serves: media types, digests, descriptors, manifests and blobs.

Each answer records the endpoint that served it (an upstream origin, a mirror URL or
`oci:PATH`): evidence for the UI. The size limits are Talos's (and cosign's underneath it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .. import jsontext
from .errors import LimitExceededError, ProtocolError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

# Limits, as Talos (and cosign underneath it) sets them.
MAX_MANIFEST_SIZE = 128 * 1024
MAX_BLOB_SIZE = 1024 * 1024
MAX_LAYERS = 100
# A referrers answer is an index that may list many artifacts: each page at most this much.
MAX_REFERRERS_SIZE = 1024 * 1024
# The referrers list of one image, all its pages together, within the per-image bounds (SPEC §6):
# 16 MiB read, 64 referrers considered (more than that is the caller's limit to report, so the
# pages stop once it is passed), and as many pages as referrers allowed, since an honest registry
# pages only because it has entries to give.
MAX_REFERRERS_TOTAL = 16 * 1024 * 1024
MAX_REFERRERS = 64
MAX_REFERRER_PAGES = MAX_REFERRERS

DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


def is_digest(value: object) -> bool:
    return isinstance(value, str) and DIGEST.match(value) is not None


def check_digest(digest: str) -> None:
    if not is_digest(digest):
        raise ValueError(f"invalid digest {digest!r}: expected sha256:<64 hex>")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, *, where: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise ProtocolError(f"{where}: not a JSON object")
        media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
        if not isinstance(digest, str) or not is_digest(digest):
            raise ProtocolError(f"{where}: invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError(f"{where}: invalid size {size!r}")
        annotations = obj.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise ProtocolError(f"{where}: annotations must be an object")
        artifact_type = obj.get("artifactType")
        return cls(
            media_type if isinstance(media_type, str) else "",
            digest,
            size,
            artifact_type if isinstance(artifact_type, str) else None,
            {str(k): str(v) for k, v in annotations.items()},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Manifest:
    data: bytes = field(repr=False)
    media_type: str
    digest: str
    # Which endpoint served it: an upstream origin, a mirror URL or `oci:PATH` (evidence for the UI).
    endpoint: str

    def json(self) -> dict[str, Any]:
        try:
            doc = jsontext.loads(self.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"manifest {self.digest} from {self.endpoint} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ProtocolError(f"manifest {self.digest} from {self.endpoint} is not a JSON object")
        return doc

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def descriptors(self, max_count: int = MAX_LAYERS) -> list[Descriptor]:
        """An image manifest's layers or an index's manifests, at most `max_count` (Talos: 100)."""
        key = "manifests" if self.is_index else "layers"
        items = self.json().get(key) or []
        if not isinstance(items, list):
            raise ProtocolError(f"manifest {self.digest}: `{key}` is not a list")
        if len(items) > max_count:
            raise LimitExceededError(
                f"manifest {self.digest} from {self.endpoint} has {len(items)} {key}, more than the limit of {max_count}"
            )
        return [Descriptor.from_json(d, where=f"manifest {self.digest} {key}[{i}]") for i, d in enumerate(items)]

    def config(self) -> Descriptor | None:
        cfg = self.json().get("config")
        return Descriptor.from_json(cfg, where=f"manifest {self.digest} config") if cfg is not None else None

    def subject(self) -> Descriptor | None:
        sub = self.json().get("subject")
        return Descriptor.from_json(sub, where=f"manifest {self.digest} subject") if sub is not None else None

    def annotations(self) -> dict[str, str]:
        ann = self.json().get("annotations") or {}
        return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}

    def artifact_type(self) -> str | None:
        doc = self.json()
        at = doc.get("artifactType")
        if isinstance(at, str):
            return at
        cfg = doc.get("config")
        media_type = cfg.get("mediaType") if isinstance(cfg, dict) else None
        return media_type if isinstance(media_type, str) else None


@dataclass(frozen=True)
class ManifestHead:
    digest: str
    media_type: str
    size: int | None
    endpoint: str


@dataclass(frozen=True)
class Blob:
    data: bytes = field(repr=False)
    digest: str
    endpoint: str


@dataclass(frozen=True)
class Referrers:
    """The referrers API answer. `supported=False`: the registry has no referrers API (404 or
    similar), so the caller falls back to the `sha256-<hex>` tag."""

    supported: bool
    descriptors: tuple[Descriptor, ...]
    endpoint: str
