"""Everything attached to one image digest (`pullguard tree`): listed and described, never verified.

Where cosign, Talos and Kyverno look: the OCI referrers of every artifact type, the `sha256-<hex>`
bundle tag (a manifest or an index of bundle manifests) and the legacy `sha256-<hex>.sig`, `.att`
and `.sbom` tags, in that order. Through `ArtifactStore` only, within discovery's per-image
bounds (`ImageBudget`: 16 MiB fetched, 4 requests in flight; at most 64 entries of any one list,
the rest said to be left out). What cannot be read (a registry fault, a limit, a manifest that
is not JSON) is a problem of the listing, and the artifacts it could name are still listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pullguard.engine import jsontext
from pullguard.engine.artifacts import ArtifactNotFound, ArtifactStore, Fetched, RegistryFault
from pullguard.engine.signatures.attached import (
    BUNDLE_PREDICATE_ANNOTATION,
    COSIGN_ATTESTATION_ARTIFACTS,
    COSIGN_SIGNATURE_ARTIFACT,
    Attached,
    Kind,
    TreeFormat,
    kind_of_artifact_type,
    kind_of_predicate,
    needs_payload,
    read_bundle,
    read_cosign_layer,
)
from pullguard.engine.signatures.discovery import (
    BUNDLE_MEDIA_PREFIX,
    ENTRIES_LIMIT,
    MAX_BUNDLE,
    MAX_ENTRIES,
    MAX_MANIFEST,
    MAX_PAYLOAD,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageBudget,
)

T = TypeVar("T")
Json = dict[str, Any]
# The legacy tags cosign writes beside an image (`cosign sign`, `cosign attest`, `cosign attach sbom`).
LEGACY_TAGS: tuple[tuple[str, Kind], ...] = ((".sig", "signature"), (".att", "attestation"), (".sbom", "sbom"))


@dataclass
class Inventory:
    """What is attached to one digest, in lookup order, and what could not be read."""

    artifacts: list[Attached] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def extend(self, other: Inventory) -> None:
        self.artifacts += other.artifacts
        self.problems += other.problems


def _tag_of(digest: str) -> str:
    return digest.replace(":", "-")


def _capped(items: list[Json], what: str, found: Inventory) -> list[Json]:
    if len(items) > MAX_ENTRIES:
        found.problems.append(f"{len(items)} {what} exceed the {ENTRIES_LIMIT}; the first {MAX_ENTRIES} are listed")
    return items[:MAX_ENTRIES]


def _predicate_hint(*docs: Json) -> str | None:
    """The predicate type cosign v3 writes on a bundle manifest or its descriptor, for when the
    bundle itself cannot be read."""
    for doc in docs:
        annotations = doc.get("annotations")
        named = annotations.get(BUNDLE_PREDICATE_ANNOTATION) if isinstance(annotations, dict) else None
        if isinstance(named, str):
            return named
    return None


def _dicts(doc: Json, key: str) -> list[Json]:
    items = doc.get(key)
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


async def _attempt(awaitable: Awaitable[T], what: str, found: Inventory, *, missing_ok: bool = False) -> T | None:
    """The answer, or None with the reason in `found.problems` (a missing tag is no problem)."""
    try:
        return await awaitable
    except ArtifactNotFound as exc:
        if not missing_ok:
            found.problems.append(f"{what}: {exc or 'not found'}")
    except RegistryFault as exc:
        found.problems.append(f"{what}: {exc}")
    return None


def _manifest_json(fetched: Fetched, what: str, found: Inventory) -> Json | None:
    try:
        doc = jsontext.loads(fetched.data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        found.problems.append(f"{what}: not a JSON manifest")
        return None
    return doc


async def inventory(store: ArtifactStore, repository: str, digest: str) -> Inventory:
    """Everything attached to `repository@digest`, within the per-image bounds (`store` is wrapped
    in an `ImageBudget` unless it is one)."""
    budget = store if isinstance(store, ImageBudget) else ImageBudget(store)
    parts = await asyncio.gather(
        _referrers(budget, repository, digest),
        _bundle_tag(budget, repository, digest),
        *(_legacy_tag(budget, repository, digest, suffix, kind) for suffix, kind in LEGACY_TAGS),
    )
    found = Inventory()
    for part in parts:
        found.extend(part)
    return found


async def _referrers(store: ImageBudget, repository: str, digest: str) -> Inventory:
    found = Inventory()
    # An empty artifact type asks for every referrer (no `artifactType` filter).
    listed = await _attempt(store.referrers(repository, digest, ""), f"referrers of {digest}", found, missing_ok=True)
    descriptors = _capped([d for d in listed or [] if isinstance(d, dict)], "referrers", found)
    for part in await asyncio.gather(*(_referrer(store, repository, d) for d in descriptors)):
        found.extend(part)
    return found


async def _referrer(store: ImageBudget, repository: str, descriptor: Json) -> Inventory:
    found = Inventory()
    artifact_type = str(descriptor.get("artifactType") or "")
    manifest_digest = str(descriptor.get("digest", ""))
    reference = f"{repository}@{manifest_digest}"
    cosign_kind: Kind | None = (
        "signature" if artifact_type == COSIGN_SIGNATURE_ARTIFACT
        else "attestation" if artifact_type in COSIGN_ATTESTATION_ARTIFACTS else None
    )
    if not artifact_type.startswith(BUNDLE_MEDIA_PREFIX) and cosign_kind is None:
        found.artifacts.append(Attached(kind_of_artifact_type(artifact_type), "referrer", reference, media_type=artifact_type or None))
        return found
    what = f"referrer {manifest_digest}"
    fetched = await _attempt(store.manifest(repository, manifest_digest, MAX_MANIFEST), what, found)
    doc = _manifest_json(fetched, what, found) if fetched is not None else None
    if doc is None:
        hint = _predicate_hint(descriptor) if cosign_kind is None else None
        fmt: TreeFormat = "bundle-referrer" if cosign_kind is None else "legacy"
        found.artifacts.append(Attached(cosign_kind or kind_of_predicate(hint), fmt, reference, hint, media_type=artifact_type))
        return found
    layers = _capped(_dicts(doc, "layers"), f"layers of {what}", found)
    if cosign_kind is None:  # a Sigstore bundle referrer: one bundle layer
        bundles = [la for la in layers if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
        hint = _predicate_hint(doc, descriptor)
        for part in await asyncio.gather(*(_bundle(store, repository, la, "bundle-referrer", reference, hint) for la in bundles)):
            found.extend(part)
        return found
    for part in await asyncio.gather(*(_cosign_layer(store, repository, la, cosign_kind, "legacy", reference) for la in layers)):
        found.extend(part)
    return found


async def _bundle(store: ImageBudget, repository: str, layer: Json, fmt: TreeFormat, reference: str,
                  hint: str | None) -> Inventory:
    found = Inventory()
    layer_digest = str(layer.get("digest", ""))
    media_type = str(layer.get("mediaType", "")) or None
    data = await _attempt(store.blob(repository, layer_digest, MAX_BUNDLE), f"bundle {layer_digest}", found)
    if data is None:
        found.artifacts.append(Attached(kind_of_predicate(hint), fmt, reference, hint, media_type=media_type))
    else:
        found.artifacts.append(read_bundle(data, fmt, reference, media_type, hint))
    return found


async def _bundle_tag(store: ImageBudget, repository: str, digest: str) -> Inventory:
    found = Inventory()
    tag = _tag_of(digest)
    what = f"bundle tag {tag}"
    fetched = await _attempt(store.manifest(repository, tag, MAX_MANIFEST), what, found, missing_ok=True)
    doc = _manifest_json(fetched, what, found) if fetched is not None else None
    if fetched is None or doc is None:
        return found
    media_type = fetched.media_type or str(doc.get("mediaType", ""))
    holders: list[tuple[Json, str, str | None]] = []  # (manifest, the reference that names it, predicate hint)
    if media_type == OCI_MANIFEST:
        holders.append((doc, f"{repository}:{tag}", _predicate_hint(doc)))
    elif media_type == OCI_INDEX:
        entries = _capped([m for m in _dicts(doc, "manifests") if m.get("mediaType") == OCI_MANIFEST], f"entries of {what}", found)
        subs = await asyncio.gather(*(
            _attempt(store.manifest(repository, str(m.get("digest", "")), MAX_MANIFEST), f"{what} entry {m.get('digest')}", found)
            for m in entries))
        for entry, sub in zip(entries, subs, strict=True):
            sub_doc = _manifest_json(sub, f"{what} entry {entry.get('digest')}", found) if sub is not None else None
            if sub_doc is not None:
                holders.append((sub_doc, f"{repository}@{entry.get('digest')}", _predicate_hint(sub_doc, entry)))
    jobs = []
    for manifest, reference, hint in holders:
        layers = [la for la in _dicts(manifest, "layers") if str(la.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)]
        jobs += [_bundle(store, repository, la, "bundle", reference, hint) for la in _capped(layers, f"layers of {reference}", found)]
    for part in await asyncio.gather(*jobs):
        found.extend(part)
    return found


async def _legacy_tag(store: ImageBudget, repository: str, digest: str, suffix: str, kind: Kind) -> Inventory:
    found = Inventory()
    tag = _tag_of(digest) + suffix
    what = f"{suffix} tag {tag}"
    fetched = await _attempt(store.manifest(repository, tag, MAX_MANIFEST), what, found, missing_ok=True)
    doc = _manifest_json(fetched, what, found) if fetched is not None else None
    if doc is None:
        return found
    layers = _capped(_dicts(doc, "layers"), f"layers of {what}", found)
    reference = f"{repository}:{tag}"
    for part in await asyncio.gather(*(_cosign_layer(store, repository, la, kind, "legacy", reference) for la in layers)):
        found.extend(part)
    return found


async def _cosign_layer(store: ImageBudget, repository: str, layer: Json, kind: Kind, fmt: TreeFormat, reference: str) -> Inventory:
    found = Inventory()
    payload = None
    if needs_payload(layer, kind):
        layer_digest = str(layer.get("digest", ""))
        payload = await _attempt(store.blob(repository, layer_digest, MAX_PAYLOAD), f"attestation {layer_digest}", found)
    found.artifacts.append(read_cosign_layer(layer, kind, fmt, reference, payload))
    return found
