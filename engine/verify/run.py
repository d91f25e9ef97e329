"""`verify_images`: what a node decides at pull time, with the evidence (SPEC §2, §3).

Every image is simulated first; `skip`, `deny` and `allow` decisions need no network. For
`verify` the image digest is resolved (a reference that already names a digest is used as is, as
Talos does: the image manifest is never fetched then), signatures are discovered in Talos's order
(`engine.signatures.discovery`) and checked (`engine.signatures`). The strategy is chosen by the
type of the decision's requirements: none (Talos, one verifier), Kyverno's attestor sets, or an
ImageValidatingPolicy's validations.

Failure messages always start `image verification failed: no valid signature found: ` (the
SPEC §3 wording) followed by Talos's own error chain; where Talos itself stops at a failing
bundle stage it reports `image verification failed: no valid bundle layer: …`, which pullguard
shows as `image verification failed: no valid signature found: no valid bundle layer: …`.
A failure met together with a registry fault (unreachable, 5xx, timeout, 401, bad digest, a
per-image limit) is an `error`, since a signature may exist that could not be read.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Hashable

from pullguard.engine.artifacts import ArtifactNotFound, ArtifactStore, RegistryFault
from pullguard.engine.policy import LoadedPolicy
from pullguard.engine.policy.ivpol import IvpolRequirements
from pullguard.engine.policy.kyverno.requirements import Requirements as KyvernoRequirements
from pullguard.engine.reference import Reference, parse_reference
from pullguard.engine.signatures.discovery import ImageBudget, discover
from pullguard.engine.vocabulary import Decision, Outcome

from . import ivpol, kyverno
from .cache import VerifyCache, cache_key
from .checkers import Checkers
from .mirrors import merge_mirrors
from .results import FAILED_PREFIX, VerifyOptions, VerifyResult
from .stores import ImageStore, RunStore, open_store

# A keyless signature that does not chain to the public Sigstore root was often made with a
# private Sigstore (or a staging one): the person most likely forgot its trusted root.
PRODUCTION_ROOT_HINT = ("checked against the public Sigstore trusted root (no --trusted-root given): if the image "
                        "was signed with a private or staging Sigstore, pass its trusted_root.json with --trusted-root "
                        "(ctrl+t in the dashboard)")


def _no_network(decision: Decision, ref: Reference | None) -> VerifyResult | None:
    digest = ref.digest if ref is not None else None
    if decision.action is None:
        why = decision.error or decision.message
        return VerifyResult(decision, None, "error", why, errors=[why])
    if decision.action == "allow":
        return VerifyResult(decision, digest, "allowed", decision.message)
    if decision.action == "skip":
        return VerifyResult(decision, digest, "skipped", decision.message)
    if decision.action == "deny":
        return VerifyResult(decision, digest, "denied", decision.message)
    return None


def _parse(image: str) -> Reference | None:
    try:
        return parse_reference(image)
    except Exception:  # the decision already says why the reference is invalid
        return None


async def verify_images(
    loaded: LoadedPolicy,
    images: list[str],
    options: VerifyOptions,
    *,
    on_result: Callable[[VerifyResult], None] | None = None,
    cache: VerifyCache | None = None,
    store: ImageStore | None = None,
) -> list[VerifyResult]:
    """Verify every image against the loaded policy; results in the order of `images`.

    `on_result` is called as each image finishes (in completion order). `store` replaces the
    registry client (an `ArtifactStore` with `resolve`); by default one is opened for this call
    from `options` and the policy's mirrors and closed at the end. `cache` keeps successes by
    image digest: an image given by tag is resolved again on every call.
    """
    policy = loaded.policy
    if policy is None:
        raise ValueError("the policy has no usable rules")
    decisions = policy.evaluate_many(list(images))
    results: list[VerifyResult | None] = [None] * len(decisions)
    pending: list[tuple[int, Decision, Reference]] = []

    def done(i: int, result: VerifyResult) -> None:
        results[i] = result
        if on_result:
            on_result(result)

    # An ImageValidatingPolicy's images are evaluated together with the other images of their
    # resource: their results come when the resource's last image is checked.
    groups = ivpol.ResourceGroups(decisions)

    def settle(i: int, outcome: VerifyResult | ivpol.Checked) -> None:
        if not groups.grouped(i):
            assert isinstance(outcome, VerifyResult)
            done(i, outcome)
            return
        for j, result, evaluated in groups.settle(i, outcome):
            done(j, _finish(result, options, checkers, cache) if evaluated else result)

    checkers = Checkers(options.trusted_root)
    for i, decision in enumerate(decisions):
        ref = _parse(decision.image)
        result = _no_network(decision, ref)
        if (result is None and ref is not None and ref.digest is not None and cache is not None
                and not groups.in_resource(decision)):
            result = _from_cache(decision, ref.digest, options, checkers, cache)
        if result is None and ref is None:
            result = VerifyResult(decision, None, "error", decision.message, errors=[decision.message])
        if result is not None:
            settle(i, result)
        elif ref is not None:
            pending.append((i, decision, ref))

    if pending:
        checkers.root()  # an unreadable --trusted-root stops the run before any request
        own = (open_store(options, merge_mirrors(loaded.mirror_specs, options.mirrors), loaded.registry_auths)
               if store is None else None)
        run_store = RunStore(own if own is not None else store)  # type: ignore[arg-type]  # one of them is set
        semaphore = asyncio.Semaphore(max(1, options.concurrency))
        checkers.start_pool(options.concurrency)

        async def one(i: int, decision: Decision, ref: Reference) -> None:
            async with semaphore:
                result = await _verify_one(decision, ref, options, run_store, checkers, cache)
            settle(i, result)

        try:
            await asyncio.gather(*(one(i, d, r) for i, d, r in pending))
        finally:
            checkers.close_pool()
            if own is not None:
                await own.aclose()
    return [r for r in results if r is not None]


def _cache_key(decision: Decision, options: VerifyOptions, checkers: Checkers) -> Hashable:
    return cache_key(decision, options.trusted_root, checkers.root())


def _from_cache(
    decision: Decision, digest: str, options: VerifyOptions, checkers: Checkers, cache: VerifyCache
) -> VerifyResult | None:
    hit = cache.get(_cache_key(decision, options, checkers), digest)
    if hit is None:
        return None
    return VerifyResult(decision, digest, "verified", hit.message, hit.signature, [], cached=True,
                        attestations=list(hit.attestations))


async def _resolve(decision: Decision, ref: Reference, store: RunStore) -> str | VerifyResult:
    if ref.digest is not None:
        return ref.digest
    try:
        return await store.resolve(ref.context, ref.tag)
    except ArtifactNotFound as exc:
        msg = f"image reference not found during resolution: {exc}"
    except RegistryFault as exc:
        msg = f"failed to resolve image reference: {exc}"
    return VerifyResult(decision, None, "error", msg, errors=[msg])


async def _verify_one(
    decision: Decision, ref: Reference, options: VerifyOptions, store: RunStore, checkers: Checkers,
    cache: VerifyCache | None,
) -> VerifyResult | ivpol.Checked:
    req = decision.requirements
    if isinstance(req, KyvernoRequirements):
        early = kyverno.without_network(decision, req, ref)
        if early is not None:
            return early

    digest = await _resolve(decision, ref, store)
    if isinstance(digest, VerifyResult):
        return digest
    if cache is not None and not ivpol.ResourceGroups.in_resource(decision):
        cached = _from_cache(decision, digest, options, checkers, cache)
        if cached is not None:
            return cached

    # Every fetch for this image, whichever attestor asks, counts against its limits (SPEC §6).
    image_store: ArtifactStore = ImageBudget(store)
    if isinstance(req, KyvernoRequirements):
        result = await kyverno.verify_kyverno(decision, req, digest, ref, image_store, checkers)
    elif isinstance(req, IvpolRequirements):
        return await ivpol.check_ivpol(decision, req, digest, ref, image_store, checkers)  # finished with its resource
    elif req is None:
        result = await _verify_talos(decision, digest, ref, image_store, checkers)
    else:
        msg = f"not verified by pullguard: requirements of type {type(req).__name__}"
        result = VerifyResult(decision, digest, "error", msg, errors=[msg])
    return _finish(result, options, checkers, cache)


def _finish(result: VerifyResult, options: VerifyOptions, checkers: Checkers, cache: VerifyCache | None) -> VerifyResult:
    """The hint about a missing trusted root, and a success kept in the session cache (not for an
    image verified with its resource: its result depends on the resource's other images)."""
    decision, digest = result.decision, result.digest
    if result.outcome == "failed" and options.trusted_root is None and "trusted root" in result.message:
        result = dataclasses.replace(result, errors=[*result.errors, PRODUCTION_ROOT_HINT])
    if (cache is not None and digest is not None and result.outcome == "verified" and result.signature is not None
            and not ivpol.ResourceGroups.in_resource(decision)):
        cache.put(_cache_key(decision, options, checkers), digest, result.message, result.signature,
                  tuple(result.attestations))
    return result


async def _verify_talos(decision: Decision, digest: str, ref: Reference, store: ArtifactStore, checkers: Checkers) -> VerifyResult:
    if decision.verifier is None:
        msg = "failed to convert verification rule to cosign check options: unsupported verifier type in rule"
        return VerifyResult(decision, digest, "error", msg, errors=[msg])
    found = await discover(store, ref.context, digest, checkers.checker(decision.verifier), run_check=checkers.run)
    if found.verified:
        evidence = found.evidence
        if evidence is not None and found.format and evidence.format != found.format:
            evidence = dataclasses.replace(evidence, format=found.format)
        return VerifyResult(decision, digest, "verified", found.message, evidence, found.errors)
    outcome: Outcome = "error" if found.faults else "failed"
    return VerifyResult(decision, digest, outcome, FAILED_PREFIX + found.message, None, found.errors)
