"""An OCI image layout directory served as a /v2/ registry, as an httpx async transport.

`oci:PATH` mirror endpoints go through the same client code as a network registry: this
transport answers `GET|HEAD /v2/`, `/v2/<name>/manifests/<tag|digest>`, `/v2/<name>/blobs/<digest>`
and `/v2/<name>/referrers/<digest>` from `PATH/index.json` and `PATH/blobs/<alg>/<hex>`.

Tags come from `org.opencontainers.image.ref.name` annotations in index.json: a full reference
(`ghcr.io/org/app:v1`) matches that registry, repository and tag (the client passes the registry
as the `ns` query parameter, as containerd does for mirrors); a bare tag (`v1`) matches any
repository. Content is addressed by digest, so a digest is served for any repository name.
The referrers API is computed from the `subject` field of the manifests in the layout.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx

from .auth import normalize_host

REF_NAME = "org.opencontainers.image.ref.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)$")
# Manifests larger than this are not scanned for `subject` (they could not be served anyway).
_SCAN_LIMIT = 4 * 1024 * 1024


class OCILayoutTransport(httpx.AsyncBaseTransport):
    def __init__(self, path: str | os.PathLike) -> None:
        self.root = Path(path)
        self._stamp: tuple | None = None
        self._tags: list[tuple[str | None, str | None, str, dict]] = []
        self._subjects: dict[str, list[dict]] = {}

    def __repr__(self) -> str:
        return f"OCILayoutTransport({str(self.root)!r})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        path = request.url.path
        if method not in ("GET", "HEAD"):
            return _error(405, "UNSUPPORTED", f"{method} is not supported by an OCI layout", method)
        try:
            self._refresh()
        except _LayoutError as exc:
            return _error(500, "LAYOUT_INVALID", str(exc), method)
        if path in ("/v2", "/v2/"):
            return _response(200, b"{}", "application/json", method)
        m = _PATH.match(path)
        if not m:
            return _error(404, "NOT_FOUND", "no such route", method)
        name, kind, ref = m.group("name"), m.group("kind"), m.group("ref")
        ns = request.url.params.get("ns")
        if kind == "blobs":
            return self._blob(ref, method)
        if kind == "manifests":
            digest = ref if _DIGEST.match(ref) else self._resolve_tag(ns, name, ref)
            if digest is None:
                return _error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {name}:{ref}", method)
            return self._manifest(digest, method)
        if not _DIGEST.match(ref):
            return _error(400, "DIGEST_INVALID", "invalid digest", method)
        return self._referrers(ref, request.url.params.get("artifactType"), method)

    # ---- layout reading -------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        alg, _, hex_ = digest.partition(":")
        return self.root / "blobs" / alg / hex_

    def _read_blob(self, digest: str) -> bytes | None:
        try:
            return self._blob_path(digest).read_bytes()
        except OSError:
            return None

    def _refresh(self) -> None:
        """Re-read index.json and rescan manifests when the layout changed on disk."""
        index = self.root / "index.json"
        blobs = self.root / "blobs" / "sha256"
        try:
            stamp = (index.stat().st_mtime_ns, blobs.stat().st_mtime_ns if blobs.exists() else 0)
        except OSError:
            raise _LayoutError(f"{self.root} is not an OCI image layout (no index.json)") from None
        if stamp == self._stamp:
            return
        try:
            doc = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _LayoutError(f"{index}: cannot read index.json: {exc}") from None
        tags: list[tuple[str | None, str | None, str, dict]] = []
        for desc in doc.get("manifests") or []:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                continue
            name = (desc.get("annotations") or {}).get(REF_NAME)
            if not isinstance(name, str) or not name:
                continue
            registry, repository, tag = _split_ref_name(name)
            if tag:
                tags.append((registry, repository, tag, desc))
        subjects: dict[str, list[dict]] = {}
        if blobs.is_dir():
            for entry in os.scandir(blobs):
                try:
                    if not entry.is_file() or entry.stat().st_size > _SCAN_LIMIT:
                        continue
                    with open(entry.path, "rb") as fh:
                        head = fh.read(1)
                        if head != b"{":
                            continue
                        data = head + fh.read()
                    manifest = json.loads(data)
                except (OSError, ValueError):
                    continue
                if not isinstance(manifest, dict) or not isinstance(manifest.get("subject"), dict):
                    continue
                subject = manifest["subject"].get("digest")
                if not isinstance(subject, str):
                    continue
                media_type = manifest.get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
                artifact_type = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
                desc = {"mediaType": media_type, "digest": "sha256:" + entry.name, "size": len(data)}
                if artifact_type:
                    desc["artifactType"] = artifact_type
                if isinstance(manifest.get("annotations"), dict) and manifest["annotations"]:
                    desc["annotations"] = manifest["annotations"]
                subjects.setdefault(subject, []).append(desc)
        for descs in subjects.values():
            descs.sort(key=lambda d: d["digest"])
        self._tags, self._subjects, self._stamp = tags, subjects, stamp

    def _resolve_tag(self, ns: str | None, name: str, tag: str) -> str | None:
        ns_host = normalize_host(ns) if ns else None
        fallback = None
        for registry, repository, ref_tag, desc in self._tags:
            if ref_tag != tag:
                continue
            if repository is None:
                fallback = fallback or desc["digest"]  # a bare tag names an image in any repository
                continue
            if repository == name and (ns_host is None or registry == ns_host):
                return desc["digest"]
        return fallback

    # ---- answers ----------------------------------------------------------------------------

    def _blob(self, digest: str, method: str) -> httpx.Response:
        if not _DIGEST.match(digest):
            return _error(400, "DIGEST_INVALID", "invalid digest", method)
        data = self._read_blob(digest)
        if data is None:
            return _error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}", method)
        return _response(200, data, "application/octet-stream", method, digest)

    def _manifest(self, digest: str, method: str) -> httpx.Response:
        data = self._read_blob(digest)
        if data is None:
            return _error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {digest}", method)
        try:
            media_type = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            media_type = None
        if media_type not in _MANIFEST_TYPES:
            media_type = media_type if isinstance(media_type, str) and media_type else "application/vnd.oci.image.manifest.v1+json"
        return _response(200, data, media_type, method, digest)

    def _referrers(self, digest: str, artifact_type: str | None, method: str) -> httpx.Response:
        descs = self._subjects.get(digest, [])
        headers = {}
        if artifact_type:
            descs = [d for d in descs if d.get("artifactType") == artifact_type]
            headers["OCI-Filters-Applied"] = "artifactType"
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
        return _response(200, body, OCI_INDEX, method, extra=headers)


class _LayoutError(Exception):
    pass


def _split_ref_name(name: str) -> tuple[str | None, str | None, str | None]:
    """`ghcr.io/org/app:v1` -> (ghcr.io, org/app, v1); a bare `v1` -> (None, None, v1)."""
    if "/" not in name and ":" not in name and "@" not in name:
        return None, None, name
    try:
        from ..reference import parse_reference

        ref = parse_reference(name)
    except Exception:
        return None, None, None
    return normalize_host(ref.registry), ref.repository, ref.tag


def _response(status: int, body: bytes, content_type: str, method: str, digest: str | None = None,
              extra: dict | None = None) -> httpx.Response:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    if digest:
        headers["Docker-Content-Digest"] = digest
    headers.update(extra or {})
    return httpx.Response(status, headers=headers, content=b"" if method == "HEAD" else body)


def _error(status: int, code: str, message: str, method: str) -> httpx.Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return _response(status, body, "application/json", method)
