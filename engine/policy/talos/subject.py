"""The match subject Talos compares rule patterns with: `name.ParseReference(ref).Context().String()`,
i.e. `registry/repository` with Docker Hub as `index.docker.io` and `library/` before one-part names."""

from __future__ import annotations

import re

from ...reference import parse_reference

_SUBJECTS: dict[str, str] = {}
_REPO = re.compile(r"[a-z0-9_./-]{2,255}")
_HOST = re.compile(r"[a-z0-9.-]+(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def fast_subject(image: str) -> str | None:
    """The match subject of a plainly well-formed reference, or None to ask the full parser.

    Accepts only a subset of what `pullguard.engine.reference.parse_reference` accepts (lowercase host,
    at most one '@', a sha256 digest) and gives the same answer there (tests compare the two);
    it exists because simulating a fleet parses tens of thousands of references.
    """
    base, at, digest = image.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    colon = base.rfind(":")
    if colon >= 0 and "/" not in base[colon + 1:]:
        if not _TAG.fullmatch(base, colon + 1):
            return None
        base = base[:colon]
    slash = base.find("/")
    registry = ""
    repo = base
    if slash >= 0:
        first = base[:slash]
        if "." in first or ":" in first:
            registry, repo = first, base[slash + 1:]
            if not _HOST.fullmatch(registry):
                return None
    if not _REPO.fullmatch(repo):
        return None
    if not registry or registry == "docker.io":
        registry = "index.docker.io"
    if registry == "index.docker.io" and "/" not in repo:
        repo = "library/" + repo
    return f"{registry}/{repo}"


def match_subject(image: str) -> str:
    """Match subject of an image reference, memoized across policies (the TUI re-simulates the
    same images on every keystroke); raises pullguard.engine.reference.InvalidReference."""
    subject = _SUBJECTS.get(image)
    if subject is None:
        subject = fast_subject(image)
        if subject is None:
            subject = parse_reference(image).context
        if len(_SUBJECTS) > 200_000:
            _SUBJECTS.clear()
        _SUBJECTS[image] = subject
    return subject
