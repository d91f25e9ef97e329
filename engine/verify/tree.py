"""`pullguard tree`: every image resolved through the run's registry store, and what is attached
to it listed (`engine.signatures.inventory`). Nothing is verified; no trusted root is read.

An image given by digest is used as is, as verification does; a tag is resolved (one HEAD).
Images are listed concurrently (`options.concurrency`), each within its own per-image bounds.

A host whose `--mirror` endpoints are all `oci:` layouts is listed from them alone: a layout is a
snapshot, and what it does not hold is not attached there. Falling back to the upstream registry for
each of the five lookups an image takes would turn an offline listing of a layout into a list of
connection errors (verification keeps the fallback: a signature may exist upstream).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pullguard.engine.artifacts import ArtifactNotFound, RegistryFault
from pullguard.engine.reference import parse_reference
from pullguard.engine.registry.mirrors import MirrorConfig, MirrorSpec
from pullguard.engine.signatures.attached import Attached
from pullguard.engine.signatures.inventory import inventory

from .mirrors import merge_mirrors
from .results import VerifyOptions
from .stores import ImageStore, RunStore, open_store


@dataclass
class ImageTree:
    """One image: its digest (None when it could not be resolved) and what is attached to it."""

    image: str
    digest: str | None
    artifacts: list[Attached] = field(default_factory=list)
    # Why the image could not be resolved (then `digest` is None), or lookups that failed.
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    # The registry said the image does not exist (SPEC §1: exit 1).
    not_found: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "digest": self.digest, "artifacts": [a.to_json() for a in self.artifacts]}


async def list_attached(images: list[str], options: VerifyOptions, *, store: ImageStore | None = None) -> list[ImageTree]:
    """One `ImageTree` per image, in order. References must parse (the caller checks them first)."""
    own = (open_store(options, _layouts_alone(merge_mirrors({}, options.mirrors)), all_referrer_pages=True)
           if store is None else None)
    run_store = RunStore(own if own is not None else store)  # type: ignore[arg-type]  # one of them is set
    semaphore = asyncio.Semaphore(max(1, options.concurrency))

    async def one(image: str) -> ImageTree:
        async with semaphore:
            return await _one(run_store, image)

    try:
        return list(await asyncio.gather(*(one(image) for image in images)))
    finally:
        if own is not None:
            await own.aclose()


async def _one(store: RunStore, image: str) -> ImageTree:
    ref = parse_reference(image)
    digest = ref.digest
    if digest is None:
        try:
            digest = await store.resolve(ref.context, ref.tag)
        except ArtifactNotFound as exc:
            return ImageTree(image, None, error=f"image reference not found during resolution: {exc}", not_found=True)
        except RegistryFault as exc:
            return ImageTree(image, None, error=f"failed to resolve image reference: {exc}")
    found = await inventory(store, ref.context, digest)
    return ImageTree(image, digest, found.artifacts, problems=found.problems)


def _layouts_alone(config: MirrorConfig) -> MirrorConfig:
    """The mirrors, with every host served only by `oci:` layouts told not to fall back upstream."""
    for host, spec in config.mirrors.items():
        if spec.endpoints and all(endpoint.is_oci for endpoint in spec.endpoints):
            config.mirrors[host] = MirrorSpec(spec.endpoints, skip_fallback=True)
    return config
