"""An OCI image layout directory served as a /v2/ registry, as an httpx async transport.

`oci:PATH` mirror endpoints go through the same client code as a network registry: this
transport answers `GET|HEAD /v2/`, `/v2/<name>/manifests/<tag|digest>`, `/v2/<name>/blobs/<digest>`
and `/v2/<name>/referrers/<digest>` from `PATH/index.json` and `PATH/blobs/<alg>/<hex>`.

Tags come from `org.opencontainers.image.ref.name` annotations in index.json: a full reference
(`ghcr.io/org/app:v1`) matches that registry, repository and tag (the client passes the registry
as the `ns` query parameter, as containerd does for mirrors); a bare tag (`v1`) matches any
repository. Content is addressed by digest, so a digest is served for any repository name.
The referrers API is computed from the `subject` field of the manifests in the layout.

A layout is a directory someone else may have written: only regular files are read (checked on
the opened file, after symlinks, opened non-blocking so a FIFO never stalls the event loop),
and never past a bound: blobs are streamed with their size as Content-Length, so the client's
limit refuses an oversize one before a byte is read and cuts off one that grows.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, AsyncIterator

import httpx

from .. import jsontext
from .hosts import normalize_host
from .models import DIGEST, MANIFEST_MEDIA_TYPES, MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST

REF_NAME = "org.opencontainers.image.ref.name"
_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)$")
# Manifests larger than this are not scanned for `subject` (they could not be served anyway);
# index.json is read up to this size too.
_SCAN_LIMIT = 4 * 1024 * 1024
_CHUNK = 64 * 1024

# (registry or None, repository or None, tag, index.json descriptor)
_Tag = tuple[str | None, str | None, str, dict[str, Any]]


class OCILayoutTransport(httpx.AsyncBaseTransport):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._tags: list[_Tag] = []
        self._subjects: dict[str, list[dict[str, Any]]] = {}

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
        try:
            if kind == "blobs":
                return self._blob(ref, method)
            if kind == "manifests":
                digest = ref if DIGEST.match(ref) else self._resolve_tag(ns, name, ref)
                if digest is None:
                    return _error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {name}:{ref}", method)
                return self._manifest(digest, method)
        except _LayoutError as exc:
            return _error(500, "LAYOUT_INVALID", str(exc), method)
        if not DIGEST.match(ref):
            return _error(400, "DIGEST_INVALID", "invalid digest", method)
        return self._referrers(ref, request.url.params.get("artifactType"), method)

    # ---- layout reading -------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        alg, _, hex_ = digest.partition(":")
        return self.root / "blobs" / alg / hex_

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
        opened = _open_regular(index, where="index.json")
        if opened is None:
            raise _LayoutError(f"{self.root} is not an OCI image layout (no index.json)")
        try:
            doc = jsontext.loads(_read_at_most(*opened, _SCAN_LIMIT, what="index.json"))
        except ValueError as exc:
            raise _LayoutError(f"{index}: cannot read index.json: {exc}") from None
        tags: list[_Tag] = []
        for desc in (doc.get("manifests") if isinstance(doc, dict) else None) or []:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                continue
            annotations = desc.get("annotations")
            name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
            if not isinstance(name, str) or not name:
                continue
            registry, repository, tag = _split_ref_name(name)
            if tag:
                tags.append((registry, repository, tag, desc))
        subjects: dict[str, list[dict[str, Any]]] = {}
        if blobs.is_dir():
            for entry in os.scandir(blobs):
                desc = _referrer(Path(entry.path))
                if desc is not None:
                    subject, referrer = desc
                    subjects.setdefault(subject, []).append(referrer)
        for descs in subjects.values():
            descs.sort(key=lambda d: str(d["digest"]))
        self._tags, self._subjects, self._stamp = tags, subjects, stamp

    def _resolve_tag(self, ns: str | None, name: str, tag: str) -> str | None:
        ns_host = normalize_host(ns) if ns else None
        fallback: str | None = None
        for registry, repository, ref_tag, desc in self._tags:
            if ref_tag != tag:
                continue
            digest = str(desc["digest"])
            if repository is None:
                fallback = fallback or digest  # a bare tag names an image in any repository
                continue
            if repository == name and (ns_host is None or registry == ns_host):
                return digest
        return fallback

    # ---- answers ----------------------------------------------------------------------------

    def _blob(self, digest: str, method: str) -> httpx.Response:
        if not DIGEST.match(digest):
            return _error(400, "DIGEST_INVALID", "invalid digest", method)
        opened = _open_regular(self._blob_path(digest), where=f"blob {digest}")
        if opened is None:
            return _error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}", method)
        return _streamed(*opened, "application/octet-stream", method, digest)

    def _manifest(self, digest: str, method: str) -> httpx.Response:
        opened = _open_regular(self._blob_path(digest), where=f"manifest {digest}")
        if opened is None:
            return _error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {digest}", method)
        fd, size = opened
        if size > MAX_MANIFEST_SIZE:
            # Too big to be served as a manifest: the client refuses it by its Content-Length.
            return _streamed(fd, size, OCI_MANIFEST, method, digest)
        data = _read_at_most(fd, size, MAX_MANIFEST_SIZE, what=f"manifest {digest}")
        try:
            doc = jsontext.loads(data)
        except (ValueError, UnicodeDecodeError):
            doc = None
        media_type = doc.get("mediaType") if isinstance(doc, dict) else None
        if media_type not in MANIFEST_MEDIA_TYPES:
            media_type = media_type if isinstance(media_type, str) and media_type else OCI_MANIFEST
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


def _open_regular(path: Path, *, where: str) -> tuple[int, int] | None:
    """(fd, size) of a regular file; None when it does not exist; `_LayoutError` for anything
    else (a FIFO, a device, a directory). Opened non-blocking: opening a FIFO never waits for
    a writer, and the check is on the opened file, so a symlink is judged by what it points to."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _LayoutError(f"{where} ({path}) cannot be read: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _LayoutError(f"{where} ({path}) is not a regular file ({_kind(info.st_mode)})")
    return fd, info.st_size


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _read_at_most(fd: int, size: int, limit: int, *, what: str) -> bytes:
    """The file's bytes, reading at most `limit + 1` of them; closes `fd`."""
    try:
        if size > limit:
            raise _LayoutError(f"{what} is larger than the limit of {limit} bytes")
        data = bytearray()
        while len(data) <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise _LayoutError(f"{what} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew after fstat
        raise _LayoutError(f"{what} is larger than the limit of {limit} bytes")
    return bytes(data)


def _referrer(path: Path) -> tuple[str, dict[str, Any]] | None:
    """(subject digest, descriptor) when the blob at `path` is a manifest with a `subject`."""
    try:
        opened = _open_regular(path, where="blob")
    except _LayoutError:
        return None  # not a file: never served, never scanned
    if opened is None:
        return None
    fd, size = opened
    if size > _SCAN_LIMIT:
        os.close(fd)
        return None
    try:
        data = _read_at_most(fd, size, _SCAN_LIMIT, what="blob")
    except _LayoutError:
        return None
    if not data.startswith(b"{"):
        return None
    try:
        manifest = jsontext.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("subject"), dict):
        return None
    subject = manifest["subject"].get("digest")
    if not isinstance(subject, str):
        return None
    config = manifest.get("config")
    media_type = manifest.get("mediaType") or OCI_MANIFEST
    artifact_type = manifest.get("artifactType") or (config.get("mediaType") if isinstance(config, dict) else None)
    desc: dict[str, Any] = {"mediaType": media_type, "digest": "sha256:" + path.name, "size": len(data)}
    if artifact_type:
        desc["artifactType"] = artifact_type
    if isinstance(manifest.get("annotations"), dict) and manifest["annotations"]:
        desc["annotations"] = manifest["annotations"]
    return subject, desc


class _FileStream(httpx.AsyncByteStream):
    """A file's bytes in chunks; the reader stops when it has enough, and closing closes the file."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self._fd is not None:
            chunk = os.read(self._fd, _CHUNK)
            if not chunk:
                break
            yield chunk

    async def aclose(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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


def _streamed(fd: int, size: int, content_type: str, method: str, digest: str) -> httpx.Response:
    headers = {"Content-Type": content_type, "Content-Length": str(size), "Docker-Content-Digest": digest}
    if method == "HEAD":
        os.close(fd)
        return httpx.Response(200, headers=headers)
    return httpx.Response(200, headers=headers, stream=_FileStream(fd))


def _response(status: int, body: bytes, content_type: str, method: str, digest: str | None = None,
              extra: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    if digest:
        headers["Docker-Content-Digest"] = digest
    headers.update(extra or {})
    return httpx.Response(status, headers=headers, content=b"" if method == "HEAD" else body)


def _error(status: int, code: str, message: str, method: str) -> httpx.Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return _response(status, body, "application/json", method)
