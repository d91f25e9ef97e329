"""The Sigstore trusted root: Fulcio CAs, Rekor keys and CT log keys to verify against.

By default the production root that ships inside the `sigstore` package is read from its files;
it is never fetched (no TUF refresh, no network). `--trusted-root FILE` replaces it.
Parsed roots are cached per file (path and modification time).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pullguard.engine import jsontext
from pullguard.engine.display import escape_control
from pullguard.engine.signatures.errors import TrustedRootError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from cryptography.x509.verification import Store
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier as SigstoreVerifier

_PRODUCTION_DIR = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
# The production root is ~7 KiB; a file far larger (or endless, like /dev/zero) is not a root.
MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024


def production_root_path() -> Path:
    """The production `trusted_root.json` shipped in the sigstore package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("sigstore")
    if spec is None or not spec.submodule_search_locations:
        raise TrustedRootError("the 'sigstore' package is not installed, so there is no production trusted root")
    return Path(list(spec.submodule_search_locations)[0]) / "_store" / _PRODUCTION_DIR / "trusted_root.json"


def _within(when: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Inside a `validFor` window (an open end is unbounded)."""
    return not (start and when < start) and not (end and when > end)


_KINDS: dict[type, str] = {dict: "an object", list: "a list", str: "text"}


def _path(where: str, key: str) -> str:
    """A field's name in a message: `root.json: tlogs[0].publicKey` (`where` ends in ':' at the top)."""
    return f"{where} {key}" if where.endswith(":") else f"{where}.{key}"


def _field(obj: dict[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
    """obj[key] when it has the JSON type the trusted root format gives it; `default` when it is
    missing or null. Anything else is refused naming the field: a root is read before any
    verification, and a mistyped one must say where, never raise a bare TypeError."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise TrustedRootError(f"{_path(where, key)} must be {_KINDS[kind]}")
    return value


def _entries(obj: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, item) for every item of the list obj[key], each an object."""
    out = []
    for i, item in enumerate(_field(obj, key, list, where, [])):
        at = f"{_path(where, key)}[{i}]"
        if not isinstance(item, dict):
            raise TrustedRootError(f"{at} must be an object")
        out.append((at, item))
    return out


def _parse_time(valid: dict[str, Any], key: str, where: str) -> datetime | None:
    text = _field(valid, key, str, where, "")
    if not text:
        return None
    try:  # protobuf JSON timestamps: "2021-01-12T11:53:27Z" or with fractional seconds
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TrustedRootError(f"{_path(where, key)} is not a timestamp: {escape_control(text[:64])!r}") from None


@dataclass(frozen=True)
class LogKey:
    """A Rekor or CT log key. `log_id` is the SHA-256 of the DER public key (RFC 6962 key id)."""

    log_id: bytes
    key: PublicKeyTypes
    key_details: str
    base_url: str
    valid_from: datetime | None
    valid_until: datetime | None

    def valid_at(self, when: datetime) -> bool:
        return _within(when, self.valid_from, self.valid_until)

    def window(self) -> str:
        return validity_text(self.valid_from, self.valid_until)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raises cryptography's InvalidSignature when the signature is wrong."""
        from pullguard.engine.signatures.keyverify import verify_with_log_key

        verify_with_log_key(self.key, self.key_details, signature, data)


def validity_text(start: datetime | None, end: datetime | None) -> str:
    def at(t: datetime | None) -> str:
        return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "…"

    return f"valid for {at(start)} to {at(end)}"


@dataclass(frozen=True)
class CertificateAuthority:
    certificates: tuple[x509.Certificate, ...]  # leaf-most first, root last
    uri: str
    valid_from: datetime | None
    valid_until: datetime | None

    def valid_at(self, when: datetime) -> bool:
        return _within(when, self.valid_from, self.valid_until)


@dataclass
class TrustRoot:
    """A parsed `trusted_root.json` (Sigstore protobuf-JSON, media type ...trustedroot+json;version=0.1)."""

    source: str  # where it came from, for messages
    document: dict[str, Any]
    tlogs: list[LogKey] = field(default_factory=list)
    ctlogs: list[LogKey] = field(default_factory=list)
    authorities: list[CertificateAuthority] = field(default_factory=list)
    _sigstore: TrustedRoot | None = None
    # Derived once per root, not per signature check: override copies and the chain stores.
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def rekor_key(self, log_id: bytes) -> LogKey | None:
        return next((k for k in self.tlogs if k.log_id == log_id), None)

    def ct_key(self, log_id: bytes) -> LogKey | None:
        return next((k for k in self.ctlogs if k.log_id == log_id), None)

    @property
    def fingerprint(self) -> str:
        """The SHA-256 of the root's content: equal for roots that trust the same keys."""
        if "fingerprint" not in self._derived:
            canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":")).encode()
            self._derived["fingerprint"] = hashlib.sha256(canonical).hexdigest()
        found: str = self._derived["fingerprint"]
        return found

    def authorities_at(self, when: datetime) -> tuple[CertificateAuthority, ...]:
        """The Fulcio CAs whose `validFor` window holds `when` (SPEC §6)."""
        return tuple(ca for ca in self.authorities if ca.valid_at(when))

    def all_valid_at(self, when: datetime) -> bool:
        """Every CA of the root may be used at `when` (then no certificate chain needs re-checking)."""
        return len(self.authorities_at(when)) == len(self.authorities)

    def fulcio_store_at(self, when: datetime) -> Store | None:
        """A cryptography `Store` of the Fulcio certificates of the CAs valid at `when` (None when there are none)."""
        valid = self.authorities_at(when)
        key = ("store", tuple(id(ca) for ca in valid))
        if key not in self._derived:
            from cryptography.x509.verification import Store

            anchors = [c for ca in valid for c in ca.certificates]
            self._derived[key] = Store(anchors) if anchors else None
        store: Store | None = self._derived[key]
        return store

    def sigstore_verifier(self) -> SigstoreVerifier:
        """One sigstore `Verifier` per trusted root (it parses the Fulcio chain once)."""
        if "verifier" not in self._derived:
            from sigstore.verify import Verifier

            self._derived["verifier"] = Verifier(trusted_root=self.sigstore_root())
        verifier: SigstoreVerifier = self._derived["verifier"]
        return verifier

    def sigstore_root(self) -> TrustedRoot:
        """The same root as sigstore-python's `TrustedRoot`, for its `Verifier`."""
        if self._sigstore is None:
            from sigstore.models import TrustedRoot
            from sigstore_models.trustroot import v1 as trustroot_v1

            try:
                inner = trustroot_v1.TrustedRoot.from_json(json.dumps(self.document))
                self._sigstore = TrustedRoot(inner)
            except Exception as exc:
                raise TrustedRootError(f"{self.source}: sigstore cannot use this trusted root: {exc}") from None
        return self._sigstore

    def with_overrides(
        self, *, roots_pem: str | None = None, rekor_pem: str | None = None, ctlog_pem: str | None = None
    ) -> TrustRoot:
        """A copy whose Fulcio CAs, Rekor keys or CT log keys are replaced (Kyverno `roots`, `rekor.pubkey`, `ctlog.pubkey`)."""
        if not (roots_pem or rekor_pem or ctlog_pem):
            return self
        # Kyverno rules carry their overrides on every check: parse each combination once.
        key = ("overrides", roots_pem, rekor_pem, ctlog_pem)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = self._with_overrides(roots_pem, rekor_pem, ctlog_pem)
        return derived

    def _with_overrides(self, roots_pem: str | None, rekor_pem: str | None, ctlog_pem: str | None) -> TrustRoot:
        doc = json.loads(json.dumps(self.document))
        if roots_pem:
            doc["certificateAuthorities"] = [_ca_entry_from_pem(roots_pem)]
        if rekor_pem:
            doc["tlogs"] = [_log_entry_from_pem(rekor_pem, "custom-rekor")]
        if ctlog_pem:
            doc["ctlogs"] = [_log_entry_from_pem(ctlog_pem, "custom-ctlog")]
        return parse_trusted_root(json.dumps(doc).encode(), f"{self.source} (with policy overrides)")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _ca_entry_from_pem(pem: str) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise TrustedRootError(f"policy roots: not PEM certificates: {exc}") from None
    return {
        "uri": "policy-roots",
        "certChain": {"certificates": [{"rawBytes": _b64(c.public_bytes(Encoding.DER))} for c in certs]},
        "validFor": {"start": "1970-01-01T00:00:00Z"},
    }


def _log_entry_from_pem(pem: str, url: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    from pullguard.engine.signatures.keyverify import key_details_for

    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except ValueError as exc:
        raise TrustedRootError(f"policy log key: not a PEM public key: {exc}") from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(der),
            "keyDetails": key_details_for(key),
            "validFor": {"start": "1970-01-01T00:00:00Z"},
        },
        "logId": {"keyId": _b64(hashlib.sha256(der).digest())},
    }


def _parse_log(entry: dict[str, Any], where: str) -> LogKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    pk, pk_at = _field(entry, "publicKey", dict, where, {}), _path(where, "publicKey")
    raw = _field(pk, "rawBytes", str, pk_at, "")
    key_id = _field(_field(entry, "logId", dict, where, {}), "keyId", str, _path(where, "logId"), "")
    try:
        der = base64.b64decode(raw)
        key = load_der_public_key(der)
        log_id = base64.b64decode(key_id) or hashlib.sha256(der).digest()
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise TrustedRootError(f"{where}: unreadable public key: {exc}") from None
    valid = _field(pk, "validFor", dict, pk_at, {})
    return LogKey(
        log_id=log_id,
        key=key,
        key_details=_field(pk, "keyDetails", str, pk_at, ""),
        base_url=_field(entry, "baseUrl", str, where, ""),
        valid_from=_parse_time(valid, "start", _path(pk_at, "validFor")),
        valid_until=_parse_time(valid, "end", _path(pk_at, "validFor")),
    )


def _talosctl_json_data(data: bytes, source: str) -> str | None:
    """The root JSON in `talosctl get tuftrustedroots -o yaml` output: `spec.jsonData` (a node's
    own root; several nodes print several documents, which must hold the same root)."""
    from pullguard.engine.yamlsource import compose, map_get, scalar_str

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    docs, problem = compose(text)
    if problem is not None:
        return None
    roots: dict[str, str] = {}  # root JSON -> the first node that has it
    for doc in docs:
        node = map_get(map_get(doc.root, "spec"), "jsonData")
        found = scalar_str(node) if node is not None else None
        if found:
            name = map_get(doc.root, "node")
            roots.setdefault(found, (scalar_str(name) if name is not None else None) or "?")
    if len(roots) > 1:
        nodes = ", ".join(escape_control(n) for n in roots.values())
        raise TrustedRootError(f"{source}: nodes {nodes} have different trusted roots; pass one node's output")
    return next(iter(roots), None)


def parse_trusted_root(data: bytes, source: str) -> TrustRoot:
    """A `trusted_root.json`, or the output of `talosctl get tuftrustedroots -o yaml` holding one."""
    from cryptography import x509

    try:
        doc = jsontext.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        from_talos = _talosctl_json_data(data, source)
        if from_talos is None:
            raise TrustedRootError(f"{source}: not JSON: {exc}") from None
        try:
            doc = jsontext.loads(from_talos)
        except ValueError as inner:
            raise TrustedRootError(f"{source}: spec.jsonData is not JSON: {inner}") from None
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(
        "application/vnd.dev.sigstore.trustedroot"
    ):
        raise TrustedRootError(
            f"{source}: not a Sigstore trusted root (mediaType must be "
            "'application/vnd.dev.sigstore.trustedroot+json;version=0.1')"
        )
    root = TrustRoot(source=source, document=doc)
    for where, entry in _entries(doc, "tlogs", f"{source}:"):
        root.tlogs.append(_parse_log(entry, where))
    for where, entry in _entries(doc, "ctlogs", f"{source}:"):
        root.ctlogs.append(_parse_log(entry, where))
    for where, entry in _entries(doc, "certificateAuthorities", f"{source}:"):
        chain = _field(entry, "certChain", dict, where, None)
        if chain is None:
            raise TrustedRootError(f"{_path(where, 'certChain')} is missing")
        try:
            certs = tuple(
                x509.load_der_x509_certificate(base64.b64decode(_field(c, "rawBytes", str, at, "")))
                for at, c in _entries(chain, "certificates", _path(where, "certChain"))
            )
        except (ValueError, binascii.Error) as exc:
            raise TrustedRootError(f"{where}: unreadable certificate: {exc}") from None
        valid = _field(entry, "validFor", dict, where, {})
        root.authorities.append(
            CertificateAuthority(
                certificates=certs,
                uri=_field(entry, "uri", str, where, ""),
                valid_from=_parse_time(valid, "start", _path(where, "validFor")),
                valid_until=_parse_time(valid, "end", _path(where, "validFor")),
            )
        )
    return root


def read_bounded(path: str, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else (a FIFO, a device, a
    directory, a larger file) is refused with a message naming the file, before reading past it."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then names what it is.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise TrustedRootError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TrustedRootError(f"cannot read {what} {path}: not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TrustedRootError(f"cannot read {what} {path}: larger than the {limit // (1024 * 1024)} MiB limit")
    return data


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int) -> TrustRoot:
    return parse_trusted_root(read_bounded(path, "trusted root", MAX_TRUSTED_ROOT_BYTES), path)


def load_trusted_root(path: str | os.PathLike[str] | None = None) -> TrustRoot:
    """The root at `path`, or the production root shipped in the sigstore package when None."""
    p = Path(path) if path is not None else production_root_path()
    try:
        info = p.stat()
    except OSError as exc:
        raise TrustedRootError(f"cannot read trusted root {p}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise TrustedRootError(f"cannot read trusted root {p}: not a regular file")
    return _load_cached(str(p.resolve()), info.st_mtime_ns)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
