"""Image references, parsed the way the two admission controllers parse them.

Talos matches rules against go-containerregistry's `name.ParseReference(ref).Context().String()`
(default options: weak validation, registry `index.docker.io`, tag `latest`). This module follows
go-containerregistry v0.21.6, the version Talos v1.13 builds with; later versions treat
`localhost/x` as a registry, and a commit after v0.21.9 (in no tagged release yet) accepts
one-character repositories (noted where it matters).

Kyverno matches against the string `pkg/utils/image.GetImageInfo` builds with
`github.com/distribution/reference`: Docker Hub images get `docker.io/` but no `library/`, the tag
defaults to `latest`, and a digest replaces the tag.

`parse_reference` runs for every image on every keystroke of the editor, so it is cached.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_REGISTRY = "index.docker.io"
_REGISTRY_ALIAS = "docker.io"
DEFAULT_TAG = "latest"
_DEFAULT_NAMESPACE = "library"

_REPOSITORY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
_TAG_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# go-containerregistry v0.21.6 requires two characters, and so does v0.21.9 (only a later, untagged
# commit allows one).
_REPOSITORY_MIN = 2
_REPOSITORY_MAX = 255
_TAG_MAX = 128
_SHA256_HEX = re.compile(r"[a-f0-9]{64}")
_REPOSITORY_SET = frozenset(_REPOSITORY_CHARS)
_TAG_SET = frozenset(_TAG_CHARS)
# ASCII characters Go's url.Parse keeps unescaped in a host (net/url shouldEscape, encodeHost).
_HOST_ASCII = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "-_.~!$&'()*+,;=:[]<>\""
)


_PLAIN_HOST = re.compile(r"[A-Za-z0-9._-]+(?::[0-9]*)?")


class InvalidReference(ValueError):
    """An image reference the admission controller would refuse.

    `reason` says what is wrong; `offset` is the 0-based index in `reference` where it is
    (None when the whole string is at fault).
    """

    def __init__(self, reference: str, reason: str, offset: int | None = None):
        self.reference = reference
        self.reason = reason
        self.offset = offset
        where = f" (at character {offset + 1})" if offset is not None else ""
        super().__init__(f"invalid image reference {reference!r}: {reason}{where}")


class _Bad(Exception):
    """Internal: a parse failure with its position, turned into InvalidReference at the top."""

    def __init__(self, reason: str, offset: int | None):
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True)
class Reference:
    registry: str  # `index.docker.io` for Docker Hub, port kept
    repository: str  # `library/` added to one-part Docker Hub names
    tag: str | None  # `latest` when a tag reference names none; None for a digest-only one
    digest: str | None
    original: str

    @property
    def context(self) -> str:
        """`registry/repository`: what Talos matches its rule patterns against."""
        return f"{self.registry}/{self.repository}"

    @property
    def name(self) -> str:
        """The fully qualified reference (go-containerregistry `Name()`): a digest wins over a tag."""
        if self.digest is not None:
            return f"{self.context}@{self.digest}"
        return f"{self.context}:{self.tag or DEFAULT_TAG}"


_ALLOWED_RE = {
    _REPOSITORY_SET: re.compile(r"[a-z0-9_./-]*"),
    _TAG_SET: re.compile(r"[A-Za-z0-9_.-]*"),
}


def _check_element(what: str, element: str, allowed: frozenset[str], charset: str,
                   minimum: int, maximum: int, offset: int) -> None:
    if not minimum <= len(element) <= maximum:
        raise _Bad(f"{what} must be between {minimum} and {maximum} characters in length: {element}",
                   offset if element else None)
    if _ALLOWED_RE[allowed].fullmatch(element):  # the common case, in C
        return
    for i, ch in enumerate(element):
        if ch not in allowed:
            raise _Bad(f"{what} can only contain the characters `{charset}`: {element} "
                       f"({ch!r} is not allowed)", offset + i)


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _check_registry(name: str, offset: int) -> None:
    """go-containerregistry's rule: `url.Parse("//" + name).Host == name` (Go 1.26 net/url,
    which Talos v1.13 is built with: bracketed hosts must be IPv6 addresses)."""
    if not name:
        return
    bad = f"registries must be valid RFC 3986 URI authorities: {name}"
    if _PLAIN_HOST.fullmatch(name):  # the common case: letters, digits, '.', '-', one port
        return
    for i, ch in enumerate(name):
        if ch < " " or ch == "\x7f":
            raise _Bad(bad + " (control character)", offset + i)
        if ch in "#?@%/":  # fragment, query, user info, escapes: Host would differ from name
            raise _Bad(bad + f" ({ch!r} is not allowed)", offset + i)
        if ch < "\x80" and ch not in _HOST_ASCII:
            raise _Bad(bad + f" ({ch!r} is not allowed)", offset + i)
    if name.startswith("["):
        end = name.rfind("]")
        if end < 0:
            raise _Bad(bad + " (missing ']')", offset)
        if not _valid_optional_port(name[end + 1:]):
            raise _Bad(bad + " (invalid port)", offset + end + 1)
        try:
            ipaddress.IPv6Address(name[1:end])
        except ValueError:
            raise _Bad(bad + " (not an IPv6 address in brackets)", offset + 1) from None
        return
    bracket = name.find("[")
    if bracket >= 0:  # Go 1.26: a '[' anywhere but first is an invalid IP-literal
        raise _Bad(bad + " ('[' only opens an IPv6 address at the start)", offset + bracket)
    # Several colons are allowed without a scheme (Go keeps them strict for http/https only);
    # the port is what follows the last one.
    colon = name.rfind(":")
    if colon >= 0:
        if not _valid_optional_port(name[colon:]):
            raise _Bad(bad + " (the port must be digits)", offset + colon + 1)


def registry_problem(name: str) -> str | None:
    """Why go-containerregistry refuses `name` as a registry host[:port], or None when it takes it."""
    try:
        _check_registry(name, 0)
    except _Bad as bad:
        return bad.reason
    return None


def _new_repository(name: str, offset: int) -> tuple[str, str]:
    """(registry, normalized repository) of `name`, as NewRepository with default options."""
    if not name:
        raise _Bad("a repository name must be specified", offset if offset else None)
    registry = ""
    repo = name
    repo_offset = offset
    slash = name.find("/")
    if slash >= 0:
        first = name[:slash]
        # The first part is a registry only if it has a '.' or ':' (v0.21.7+ also for "localhost").
        if "." in first or ":" in first:
            registry = first
            repo = name[slash + 1:]
            repo_offset = offset + slash + 1
    _check_element("repository", repo, _REPOSITORY_SET, _REPOSITORY_CHARS,
                   _REPOSITORY_MIN, _REPOSITORY_MAX, repo_offset)
    _check_registry(registry, offset)
    if not registry or registry == _REGISTRY_ALIAS:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repo:
        repo = f"{_DEFAULT_NAMESPACE}/{repo}"
    return registry, repo


def parse_repository(s: str) -> str:
    """go-containerregistry `name.NewRepository(s)`: the `registry/repository` context of a
    repository name (no tag, no digest), as cosign's `WithTargetRepository` takes it. Raises
    InvalidReference saying what is wrong and where."""
    try:
        registry, repo = _new_repository(s, 0)
    except _Bad as bad:
        raise InvalidReference(s, bad.reason, bad.offset) from None
    return f"{registry}/{repo}"


def _new_tag(name: str) -> tuple[str, str, str | None]:
    """(registry, repository, tag or None) as NewTag: the text after the last ':' is a tag
    unless it holds a '/' (then the ':' belonged to a registry port)."""
    base = name
    tag = None
    colon = name.rfind(":")
    if colon >= 0 and "/" not in name[colon + 1:]:
        base = name[:colon]
        tag = name[colon + 1:]
        if tag == "":
            raise _Bad(f"{name} must specify a tag name after the colon", colon)
        _check_element("tag", tag, _TAG_SET, _TAG_CHARS, 1, _TAG_MAX, colon + 1)
    registry, repo = _new_repository(base, 0)
    return registry, repo, tag


def _new_digest(name: str) -> tuple[str, str, str | None, str]:
    parts = name.split("@")
    if len(parts) != 2:
        second = name.find("@", name.find("@") + 1)
        raise _Bad("a digest must contain exactly one '@' separator "
                   f"(e.g. registry/repository@digest) saw: {name}",
                   second if second >= 0 else None)
    base, digest = parts
    at = len(base) + 1
    if not digest.startswith("sha256:"):
        if not digest:
            raise _Bad("unsupported digest algorithm: nothing follows the '@' "
                       "(expected sha256:<64 hex digits>)", at - 1)
        raise _Bad(f"unsupported digest algorithm: {digest}", at)
    hex_part = digest[7:]
    if len(hex_part) != 64:
        raise _Bad(f"invalid checksum digest length: {digest} (sha256 needs 64 hex digits)", at + 7)
    if not _SHA256_HEX.fullmatch(hex_part):
        bad = next(i for i, c in enumerate(hex_part) if c not in "0123456789abcdef")
        raise _Bad(f"invalid checksum digest format: {digest} (lowercase hex only)", at + 7 + bad)
    try:
        registry, repo, tag = _new_tag(base)
    except _Bad as tag_error:
        try:  # NewDigest falls back to the base as a plain repository name
            registry, repo = _new_repository(base, 0)
            tag = None
        except _Bad:
            raise tag_error from None
    else:
        # NewDigest parses the tag's normalized name (`tag.Repository.Name()`) again, so the
        # 255-character limit applies to `library/<name>` on Docker Hub: `a{248}@sha256:…` is
        # refused although the tag reference `a{248}` is not.
        normalized = f"{registry}/{repo}"
        try:
            _new_repository(normalized, 0)
        except _Bad as err:
            raise _Bad(f"{err.reason} (go-containerregistry checks a digest reference's normalized "
                       f"name, where Docker Hub adds '{_DEFAULT_NAMESPACE}/')", None) from None
    return registry, repo, tag, digest


@lru_cache(maxsize=65536)
def parse_reference(s: str) -> Reference:
    """go-containerregistry `name.ParseReference(s)` with default options.

    Raises InvalidReference saying what is wrong and where.
    """
    if not isinstance(s, str):
        raise InvalidReference(repr(s), "an image reference must be a string")
    try:
        registry, repo, tag = _new_tag(s)
        return Reference(registry, repo, tag or DEFAULT_TAG, None, s)
    except _Bad as tag_error:
        try:
            registry, repo, tag, digest = _new_digest(s)
            return Reference(registry, repo, tag, digest, s)
        except _Bad as digest_error:
            # Both readings failed; explain the one the author meant.
            at = s.rfind("@")
            err = digest_error if at >= 0 and (":" in s[at:] or at == len(s) - 1) else tag_error
            raise InvalidReference(s, err.reason, err.offset) from None


def talos_match_subject(s: str) -> str:
    """What Talos matches rule patterns against: `registry/repository`, tag and digest dropped."""
    return parse_reference(s).context


# --- Kyverno -------------------------------------------------------------------------------

# github.com/distribution/reference grammar (regexp.go), Go's leftmost-first = Python's re.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_NAME_TOTAL_LENGTH_MAX = 255
# go-digest algorithms a Kyverno binary has registered, with their hex lengths.
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_ANCHORED = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")

KYVERNO_DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class KyvernoImageInfo:
    """Kyverno's `ImageInfo`: the parts a policy can match on, and the string it matches."""

    registry: str  # "" only with enableDefaultRegistryMutation false
    name: str  # last path element, e.g. `nginx`
    path: str  # repository path, e.g. `library/nginx` only if written so
    tag: str  # "" when the reference has a digest and no tag
    digest: str  # "" when none
    reference: str  # what imageReferences are matched against
    reference_with_tag: str  # `registry/path:tag` (Kyverno leaves `path:` when only a digest)


def _kyverno_add_default_registry(name: str, default_registry: str) -> str:
    i = name.find("/")
    if i == -1:
        return f"{default_registry}/{name}"
    first = name[:i]
    if not any(c in first for c in ".:") and first != "localhost" and first.lower() == first:
        return f"{default_registry}/{name}"
    return name


def _distribution_parse(s: str) -> tuple[str, str, str, str]:
    """(domain, path, tag, digest) as distribution/reference.Parse; raises _Bad."""
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        if s == "":
            raise _Bad("repository name must have at least one component", None)
        if _REFERENCE_RE.fullmatch(s.lower()) is not None:
            upper = next(i for i, c in enumerate(s) if c.isupper())
            raise _Bad("repository name must be lowercase", upper)
        raise _Bad("invalid reference format", None)
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    assert nm is not None  # the reference regexp already matched this name
    # v0.6.0 (Kyverno's pin) limits the path, not domain and path together, before the digest.
    if len(nm.group(2)) > _NAME_TOTAL_LENGTH_MAX:
        raise _Bad(f"repository name must not be more than {_NAME_TOTAL_LENGTH_MAX} characters",
                   None)
    if digest:
        at = m.start(3)
        algorithm, _, encoded = digest.partition(":")
        want = _DIGEST_HEX_LEN.get(algorithm)
        if want is None:
            if not _DIGEST_ANCHORED.fullmatch(digest):
                raise _Bad("invalid checksum digest format", at)
            raise _Bad(f"unsupported digest algorithm: {algorithm}", at)
        if len(encoded) != want:
            raise _Bad("invalid checksum digest length", at + len(algorithm) + 1)
        if not re.fullmatch(r"[a-f0-9]+", encoded):
            raise _Bad("invalid checksum digest format", at + len(algorithm) + 1)
    return nm.group(1) or "", nm.group(2), tag, digest


@lru_cache(maxsize=65536)
def kyverno_image_info(
    s: str,
    default_registry: str = KYVERNO_DEFAULT_REGISTRY,
    enable_default_registry_mutation: bool = True,
) -> KyvernoImageInfo:
    """Kyverno `pkg/utils/image.GetImageInfo` with the given `kyverno` ConfigMap settings."""
    full = _kyverno_add_default_registry(s, default_registry)
    try:
        registry, path, tag, digest = _distribution_parse(full)
    except _Bad as err:
        # Positions refer to `full`; shift them back onto what the author wrote.
        shift = len(full) - len(s)
        offset = err.offset - shift if err.offset is not None and err.offset >= shift else None
        raise InvalidReference(s, f"{err.reason} (Kyverno parses it as {full!r})", offset) from None
    name = path[path.rfind("/") + 1:]
    if not digest and not tag:
        tag = DEFAULT_TAG
    if full != s and not enable_default_registry_mutation:
        registry = ""
    image = f"{registry}/{path}" if registry else path
    reference = f"{image}@{digest}" if digest else f"{image}:{tag}"
    reference_with_tag = f"{image}:{tag}"
    parts = path.split("/")
    if len(parts) > 1 and registry == "" and "_" in parts[0]:
        registry, path = parts[0], "/".join(parts[1:])
    return KyvernoImageInfo(registry, name, path, tag, digest, reference, reference_with_tag)


def kyverno_image_string(s: str) -> str:
    """The string Kyverno matches `imageReferences` against (`docker.io/nginx:latest`,
    `docker.io/nginx@sha256:…` when a digest is present)."""
    return kyverno_image_info(s).reference
