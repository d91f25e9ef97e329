"""Attestation discovery for one image digest: every attestation of a predicate type that verifies.

Where cosign and Sigstore bundles put attestations:
1. OCI referrers with a Sigstore bundle artifact type; the manifest annotation
   `dev.sigstore.bundle.predicateType` names the statement's predicate type (one of another type is
   not fetched);
2. the referrers fallback tag `sha256-<hex>` (bundle layers, or an index of bundle manifests);
3. the legacy tag `sha256-<hex>.att`: an image manifest whose layers are DSSE envelopes
   (`application/vnd.dsse.envelope.v1+json`) with the annotations of `.sig` layers.

As cosign's VerifyImageAttestations, every candidate is checked and every one that verifies is
kept (Kyverno then checks the conditions against each statement of the wanted type); a candidate
that does not verify is reported, never used. The per-image bounds of signature discovery apply
(`ImageBudget`: bytes, entries, requests in flight); an envelope or bundle over the 1 MiB payload
limit is an error naming the limit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pullguard.engine.artifacts import ArtifactNotFound, ArtifactStore, Fetched, RegistryFault
from pullguard.engine.signatures.attestation import DSSE_MEDIA_TYPE
from pullguard.engine.signatures.discovery import (
    BUNDLE_ARTIFACT_TYPE,
    BUNDLE_MEDIA_PREFIX,
    ENTRIES_LIMIT,
    MAX_ENTRIES,
    MAX_MANIFEST,
    MAX_PAYLOAD,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageBudget,
    _bundle_from_manifest,
    _capture,
    _descriptors,
    _distinct,
    _get_blob,
    _get_manifest,
    _json,
    _quiet,
    _Stage,
    _tag_of,
)
from pullguard.engine.signatures.evidence import Format, SignatureEvidence

Json = dict[str, Any]
RunCheck = Callable[[Callable[[], SignatureEvidence]], Awaitable[SignatureEvidence]]
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
PAYLOAD_LIMIT = "1 MiB payload limit"


class AttestationChecker(Protocol):
    """Checks one candidate; raises an exception whose text says why it does not verify."""

    def bundle(self, bundle_bytes: bytes, image_digest: str) -> SignatureEvidence: ...

    def attestation(self, layer: Json, envelope: bytes, image_digest: str) -> SignatureEvidence: ...


@dataclass(frozen=True)
class FoundAttestation:
    """An attestation that verified: where it was, the proof, and the statement it signs."""

    format: Format
    reference: str  # the referrer manifest, bundle layer or `.att` layer digest
    evidence: SignatureEvidence
    statement: dict[str, Any]

    @property
    def predicate_type(self) -> str:
        return str(self.statement.get("predicateType", ""))

    def to_json(self) -> dict[str, Any]:
        """The attestation in `verify --format json`: its type, where it was, who signed it, the
        statement's subject and the predicate itself."""
        out: dict[str, Any] = {"predicate_type": self.predicate_type, "format": self.format, "reference": self.reference}
        signed = self.evidence.to_json()
        out.update({k: signed[k] for k in ("identity", "key_fingerprint", "tlog")})
        if "repository" in signed:
            out["repository"] = signed["repository"]
        out["subject"] = self.statement.get("subject")
        out["predicate"] = self.statement.get("predicate")
        return out


@dataclass
class AttestationDiscovery:
    predicate_type: str
    verified: list[FoundAttestation] = field(default_factory=list)  # of the wanted type
    # Predicate types of attestations that verified but are of another type (for the message).
    other_types: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.verified:
            first = self.verified[0]
            more = f" and {len(self.verified) - 1} more" if len(self.verified) > 1 else ""
            return f"verified attestation {self.predicate_type} ({first.format} {first.reference}{more})"
        found = sorted(set(self.other_types))
        text = f"no verified attestation of type {self.predicate_type}"
        if found:
            text += f" (verified attestations have type {', '.join(found)})"
        if self.errors:
            text += ": " + "; ".join(self.errors)
        return text


async def _inline(fn: Callable[[], SignatureEvidence]) -> SignatureEvidence:
    return fn()


async def discover_attestations(
    store: ArtifactStore,
    repository: str,
    digest: str,
    checker: AttestationChecker,
    predicate_type: str,
    *,
    run_check: RunCheck | None = None,
    tag_prefix: str = "",
) -> AttestationDiscovery:
    """Every attestation of `repository@digest` whose statement has `predicate_type` and verifies
    (`tag_prefix` before the `.att` tag, as for `.sig` in `discover`)."""
    run = run_check or _inline
    if not isinstance(store, ImageBudget):
        store = ImageBudget(store)
    found = AttestationDiscovery(predicate_type)
    tag = _tag_of(digest)
    referrers_task = asyncio.ensure_future(_quiet(store.referrers(repository, digest, BUNDLE_ARTIFACT_TYPE)))
    bundle_tag_task = asyncio.ensure_future(_quiet(store.manifest(repository, tag, MAX_MANIFEST)))
    att_tag = tag_prefix + tag + ".att"
    att_tag_task = asyncio.ensure_future(_quiet(store.manifest(repository, att_tag, MAX_MANIFEST)))
    try:
        referrers, exc = await referrers_task
        if isinstance(exc, RegistryFault):
            found.faults.append(f"referrers: {exc}")
            found.errors.append(f"referrers: {exc}")
        await _referrers(store, repository, digest, referrers or [], checker, run, found)
        fetched, exc = await bundle_tag_task
        if exc is not None and not isinstance(exc, ArtifactNotFound):
            msg = f"failed to resolve bundle tag {tag}: {exc}"
            found.faults.append(msg)
            found.errors.append(msg)
        elif fetched is not None:
            await _bundle_tag(store, repository, digest, fetched, checker, run, found)
        fetched, exc = await att_tag_task
        if exc is not None and not isinstance(exc, ArtifactNotFound):
            msg = f"failed to resolve .att tag {att_tag}: {exc}"
            found.faults.append(msg)
            found.errors.append(msg)
        elif fetched is not None:
            await _att_tag(store, repository, digest, fetched, checker, run, found)
        elif not found.verified and not found.other_types and not found.errors:
            found.errors.append("no attestation found (no bundle referrer, no bundle tag, no .att tag)")
    finally:
        for task in (referrers_task, bundle_tag_task, att_tag_task):
            if not task.done():
                task.cancel()
    return found


def _keep(found: AttestationDiscovery, fmt: Format, reference: str, evidence: SignatureEvidence, what: str) -> None:
    statement = evidence.details.get("statement")
    if not isinstance(statement, dict):
        found.errors.append(f"{what}: not an attestation (no in-toto statement)")
        return
    attestation = FoundAttestation(fmt, reference, evidence, statement)
    if attestation.predicate_type == found.predicate_type:
        found.verified.append(attestation)
    else:
        found.other_types.append(attestation.predicate_type or "(none)")


def _over_entries(found: AttestationDiscovery, count: int, what: str) -> bool:
    """More candidates than the per-image entry limit: an error naming it, nothing fetched."""
    if count <= MAX_ENTRIES:
        return False
    msg = f"{count} {what} exceed the {ENTRIES_LIMIT}"
    found.errors.append(msg)
    found.faults.append(msg)
    return True


def _too_big(descriptor: Json, what: str) -> str | None:
    size = descriptor.get("size")
    if isinstance(size, int) and size > MAX_PAYLOAD:
        return f"{what} is {size} bytes, over the {PAYLOAD_LIMIT}"
    return None


async def _check(run: RunCheck, fn: Callable[[], SignatureEvidence]) -> tuple[SignatureEvidence | None, Exception | None]:
    try:
        return await run(fn), None
    except Exception as exc:  # the checker's text says why it does not verify
        return None, exc


async def _referrers(store: ArtifactStore, repository: str, digest: str, referrers: list[Json],
                     checker: AttestationChecker, run: RunCheck, found: AttestationDiscovery) -> None:
    bundles = [r for r in referrers if isinstance(r, dict) and str(r.get("artifactType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
    wanted = []
    for r in bundles:
        annotations = r.get("annotations")
        declared = annotations.get(PREDICATE_ANNOTATION) if isinstance(annotations, dict) else None
        if isinstance(declared, str) and declared and declared != found.predicate_type:
            continue  # another predicate type: not fetched
        wanted.append(r)
    if _over_entries(found, len(wanted), "bundle referrers"):
        return
    fetches = [asyncio.ensure_future(_capture(_bundle_from_manifest(store, repository, str(r.get("digest", "")), found.faults)))
               for r in wanted]
    for ref, fut in zip(wanted, fetches, strict=True):
        ref_digest = str(ref.get("digest", ""))
        bundle, exc = await fut
        if bundle is None:
            found.errors.append(f"bundle referrer {ref_digest}: {_limit_words(exc)}")
            continue
        await _check_bundle(found, run, checker, bundle, digest, "bundle-referrer", ref_digest, f"bundle referrer {ref_digest}")


async def _check_bundle(found: AttestationDiscovery, run: RunCheck, checker: AttestationChecker, bundle: bytes,
                        digest: str, form: Format, reference: str, where: str) -> None:
    """Check one attestation bundle: kept as found when it verifies, else its reason under `where`."""
    evidence, why = await _check(run, functools.partial(checker.bundle, bundle, digest))
    if evidence is None:
        found.errors.append(f"{where}: {why}")
    else:
        _keep(found, form, reference, evidence, where)


def _limit_words(exc: BaseException | None) -> str:
    text = str(exc)
    if "limit" in text and "bundle layer" in text:
        return f"{text} (the {PAYLOAD_LIMIT})"
    return text


async def _bundle_tag(store: ArtifactStore, repository: str, digest: str, fetched: Fetched,
                      checker: AttestationChecker, run: RunCheck, found: AttestationDiscovery) -> None:
    try:
        doc = _json(fetched.data, "manifest")
    except _Stage as exc:
        found.errors.append(f"failed to fetch bundle manifest: {exc}")
        return
    media_type = fetched.media_type or doc.get("mediaType", "")
    layers: list[Json] = []
    if media_type == OCI_MANIFEST:
        layers = [la for la in _descriptors(doc, "layers") if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
    elif media_type == OCI_INDEX:
        entries = [m for m in _descriptors(doc, "manifests") if m.get("mediaType") == OCI_MANIFEST]
        if _over_entries(found, len(entries), "bundle index entries"):
            return
        subs = await asyncio.gather(*(_capture(_get_manifest(store, repository, str(m.get("digest", "")), found.faults))
                                      for m in entries))
        for entry, (manifest, why) in zip(entries, subs, strict=True):
            if manifest is None:
                found.errors.append(f"bundle index entry {entry.get('digest')}: {why}")
                continue
            layers += [la for la in _descriptors(manifest, "layers")
                       if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
    layers = _distinct(layers)
    if _over_entries(found, len(layers), "bundle layers"):
        return
    for layer in layers:
        layer_digest = str(layer.get("digest", ""))
        big = _too_big(layer, f"bundle layer {layer_digest}")
        if big:
            found.errors.append(big)
            continue
        try:
            bundle = await _get_blob(store, repository, layer_digest, MAX_PAYLOAD, "bundle layer", found.faults)
        except _Stage as exc:
            found.errors.append(f"bundle layer {layer_digest}: {exc}")
            continue
        await _check_bundle(found, run, checker, bundle, digest, "bundle", layer_digest, f"bundle layer {layer_digest}")


async def _att_tag(store: ArtifactStore, repository: str, digest: str, fetched: Fetched,
                   checker: AttestationChecker, run: RunCheck, found: AttestationDiscovery) -> None:
    try:
        doc = _json(fetched.data, "manifest")
    except _Stage as exc:
        found.errors.append(f"failed to fetch .att manifest: {exc}")
        return
    media_type = fetched.media_type or doc.get("mediaType", "")
    if media_type != OCI_MANIFEST:
        found.errors.append(f"unexpected media type for .att manifest: {media_type}")
        return
    layers = [la for la in _descriptors(doc, "layers") if la.get("mediaType") == DSSE_MEDIA_TYPE]
    if not layers:
        found.errors.append("no attestation layers under the .att tag")
        return
    layers = _distinct(layers)
    if _over_entries(found, len(layers), "attestation layers"):
        return
    for i, layer in enumerate(layers):
        layer_digest = str(layer.get("digest", ""))
        what = f"attestation layer {i} ({layer_digest})"
        big = _too_big(layer, what)
        if big:
            found.errors.append(big)
            continue
        try:
            envelope = await _get_blob(store, repository, layer_digest, MAX_PAYLOAD, "attestation layer", found.faults)
        except _Stage as exc:
            found.errors.append(f"{what}: {exc}")
            continue
        evidence, why = await _check(run, functools.partial(checker.attestation, layer, envelope, digest))
        if evidence is None:
            found.errors.append(f"{what}: {why}")
        else:
            _keep(found, "legacy", layer_digest, evidence, what)
