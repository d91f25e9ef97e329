"""Real verification: what a Talos node decides at pull time, with the evidence (SPEC §2, §3).

`verify_images(loaded, images, options)` simulates every image first; `skip`, `deny` and
`allow` decisions need no network. For `verify` it resolves the image digest (a reference
that already names a digest is used as is, as Talos does: the image manifest is never
fetched then), discovers signatures in Talos's order (`pullguard.engine.discovery`) and checks them
(`pullguard.engine.signatures`).

Mirrors: the policy file's `machine.registries.mirrors` / `RegistryMirrorConfig` and
`--mirror` are merged per host; the command-line endpoints come first, then the file's
(duplicates dropped), then the upstream registry.

Failure messages always start `image verification failed: no valid signature found: ` (the
SPEC §3 wording) followed by Talos's own error chain; where Talos itself stops at a failing
bundle stage it reports `image verification failed: no valid bundle layer: …`, which pullguard
shows as `image verification failed: no valid signature found: no valid bundle layer: …`.
A failure met together with a registry fault (unreachable, 5xx, timeout, 401, bad digest) is
an `error`, since a signature may exist that could not be read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from .vocabulary import ADMITTED, OUTCOMES, Decision, Outcome
from .reference import Reference as ImageRef
from .reference import parse_reference as parse_image


FAILED_PREFIX = "image verification failed: no valid signature found: "


@dataclass
class VerifyOptions:
    trusted_root: str | None = None
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    insecure: list[str] = field(default_factory=list)
    concurrency: int = 8
    timeout: float = 10.0


@dataclass
class VerifyResult:
    decision: Decision
    digest: str | None
    outcome: Outcome
    message: str
    signature: Any = None  # pullguard.engine.signatures SignatureEvidence
    # SPEC §2 "every error that made a signature fail" (pullguard.engine.discovery.Discovery.errors):
    # for a verified image only real failures met before the winning signature (a candidate
    # that did not verify, a registry fault), never a lookup that merely found nothing; for a
    # failed or error result the whole chain of why nothing verified, "not found" included.
    errors: list[str] = field(default_factory=list)
    # True when the result came from the session cache (no request was made).
    cached: bool = False

    @property
    def admitted(self) -> bool:
        return self.outcome in ADMITTED

    def to_json(self) -> dict:
        out = self.decision.to_json()
        out.update(
            {
                "digest": self.digest,
                "outcome": self.outcome,
                "message": self.message,
                "signature": self.signature.to_json() if self.signature is not None else None,
                "errors": list(self.errors),
            }
        )
        return out


def summary(results: list[VerifyResult]) -> dict[str, int]:
    """SPEC §2 top-level `summary`: a count for every outcome, zeros included."""
    counts = {name: 0 for name in OUTCOMES}
    for result in results:
        counts[result.outcome] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# Session cache


@dataclass
class _CachedSuccess:
    message: str
    signature: Any


class VerifyCache:
    """Successful verifications of this session, keyed by (rule content, image digest).

    The rule content is the verifier (or the Kyverno requirements) plus the trusted root, so
    editing a pattern keeps the entry while editing the identity drops it. Failures and errors
    are never cached. Tag→digest resolutions are remembered too, so re-verifying a cached image
    given by tag makes no request at all; `forget_tags()` drops them when tags may have moved.
    """

    def __init__(self) -> None:
        self._results: dict[tuple, _CachedSuccess] = {}
        self._digests: dict[tuple, str] = {}

    def __len__(self) -> int:
        return len(self._results)

    def clear(self) -> None:
        self._results.clear()
        self._digests.clear()

    def forget_tags(self) -> None:
        self._digests.clear()

    def get(self, rule_key: tuple, digest: str) -> _CachedSuccess | None:
        return self._results.get((rule_key, digest))

    def put(self, rule_key: tuple, digest: str, message: str, signature: Any) -> None:
        self._results[(rule_key, digest)] = _CachedSuccess(message, signature)

    def digest_for(self, key: tuple) -> str | None:
        return self._digests.get(key)

    def remember_digest(self, key: tuple, digest: str) -> None:
        self._digests[key] = digest


def _rule_key(decision: Decision, options: VerifyOptions) -> tuple:
    if decision.requirements is not None:
        content: Any = repr(decision.requirements)
    else:
        content = decision.verifier
    return (content, options.trusted_root)


# ---------------------------------------------------------------------------------------------
# Mirrors


def merge_mirrors(from_policy: dict, from_cli: dict[str, list[str]]):
    """Per host: command-line endpoints first, then the policy file's (`MirrorSpec`s, with their
    overridePath), without repeats; the file's skipFallback holds for its host."""
    from .endpoints import parse_endpoint
    from .registry.mirrors import MirrorConfig

    config = MirrorConfig()
    for host in dict.fromkeys([*(from_cli or {}), *from_policy]):
        endpoints = [parse_endpoint(e, where=f"mirror for {host}") for e in (from_cli or {}).get(host, [])]
        spec = from_policy.get(host)
        if spec is not None:
            seen = {e.url for e in endpoints}
            endpoints += [e for e in spec.endpoints if e.url not in seen]
        config.add(host, endpoints, skip_fallback=bool(spec is not None and spec.skip_fallback))
    return config


# ---------------------------------------------------------------------------------------------
# Verification


def _no_network(decision: Decision, ref: ImageRef | None) -> VerifyResult | None:
    digest = ref.digest if ref is not None else None
    if decision.action is None:
        return VerifyResult(decision, None, "error", decision.error or decision.message, errors=[decision.error or decision.message])
    if decision.action == "allow":
        return VerifyResult(decision, digest, "allowed", decision.message)
    if decision.action == "skip":
        return VerifyResult(decision, digest, "skipped", decision.message)
    if decision.action == "deny":
        return VerifyResult(decision, digest, "denied", decision.message)
    return None


async def verify_images(
    loaded,
    images: list[str],
    options: VerifyOptions,
    *,
    on_result: Callable[[VerifyResult], None] | None = None,
    cache: VerifyCache | None = None,
    store=None,
) -> list[VerifyResult]:
    """Verify every image against the loaded policy; results in the order of `images`.

    `on_result` is called as each image finishes (in completion order). `store` replaces the
    registry client (an `pullguard.engine.discovery.ArtifactStore` with `resolve`); by default one is
    opened for this call from `options` and the policy's mirrors and closed at the end.
    """
    if loaded.policy is None:
        raise ValueError("the policy has no usable rules")
    decisions: list[Decision] = list(loaded.policy.evaluate_many(list(images)))
    results: list[VerifyResult | None] = [None] * len(decisions)
    pending: list[tuple[int, Decision, ImageRef]] = []

    for i, decision in enumerate(decisions):
        try:
            ref = parse_image(decision.image)
        except Exception:
            ref = None
        result = _no_network(decision, ref)
        if result is None and ref is not None and cache is not None:
            result = _from_cache(decision, ref, options, cache)
        if result is not None:
            results[i] = result
            if on_result:
                on_result(result)
        else:
            pending.append((i, decision, ref))

    if pending:
        checkers = _Checkers(options.trusted_root)
        if any(_needs_root(d) for _, d, _ in pending):
            checkers.root()  # an unreadable --trusted-root stops the run before any request
        own_store = store is None
        if own_store:
            store = _open_store(options, merge_mirrors(loaded.mirror_specs, options.mirrors))
        semaphore = asyncio.Semaphore(max(1, options.concurrency))
        checkers.start_pool(options.concurrency)
        run_store = _RunStore(store)

        async def one(i: int, decision: Decision, ref: ImageRef) -> None:
            async with semaphore:
                result = await _verify_one(decision, ref, options, run_store, checkers, cache)
            results[i] = result
            if on_result:
                on_result(result)

        try:
            await asyncio.gather(*(one(i, d, r) for i, d, r in pending))
        finally:
            checkers.close_pool()
            if own_store:
                await store.aclose()
    return [r for r in results if r is not None]


def _from_cache(decision: Decision, ref: ImageRef, options: VerifyOptions, cache: VerifyCache) -> VerifyResult | None:
    digest = ref.digest or cache.digest_for((ref.context, ref.tag))
    if digest is None:
        return None
    hit = cache.get(_rule_key(decision, options), digest)
    if hit is None:
        return None
    return VerifyResult(decision, digest, "verified", hit.message, hit.signature, [], cached=True)


async def _verify_one(decision, ref: ImageRef, options, store, checkers, cache) -> VerifyResult:
    from . import discovery

    if hasattr(decision.requirements, "verify"):
        early = _kyverno_without_network(decision, ref)
        if early is not None:
            return early

    digest = ref.digest
    if digest is None:
        try:
            digest = await store.resolve(ref.context, ref.tag)
        except discovery.ArtifactNotFound as exc:
            msg = f"image reference not found during resolution: {exc}"
            return VerifyResult(decision, None, "error", msg, errors=[msg])
        except discovery.RegistryFault as exc:
            msg = f"failed to resolve image reference: {exc}"
            return VerifyResult(decision, None, "error", msg, errors=[msg])
        if cache is not None:
            cache.remember_digest((ref.context, ref.tag), digest)

    if hasattr(decision.requirements, "verify"):
        return await _verify_kyverno(decision, digest, ref, options, store, checkers, cache)

    try:
        checker = checkers.for_decision(decision)
    except Exception as exc:  # e.g. an unreadable --trusted-root: nothing could verify
        msg = f"failed to convert verification rule to cosign check options: {exc}"
        return VerifyResult(decision, digest, "error", msg, errors=[msg])

    found = await discovery.discover(store, ref.context, digest, checker, run_check=checkers.run)
    if found.verified:
        evidence = found.evidence
        if evidence is not None and found.format and getattr(evidence, "format", found.format) != found.format:
            evidence = dataclasses.replace(evidence, format=found.format)
        if cache is not None:
            cache.put(_rule_key(decision, options), digest, found.message, evidence)
        return VerifyResult(decision, digest, "verified", found.message, evidence, found.errors)
    outcome: Outcome = "error" if found.faults else "failed"
    return VerifyResult(decision, digest, outcome, FAILED_PREFIX + found.message, None, found.errors)


# ---------------------------------------------------------------------------------------------
# Signature checks (pullguard.engine.signatures) behind discovery's SignatureChecker


def _needs_root(decision: Decision) -> bool:
    # Every check takes the root (public-key rules may carry their own Rekor key over it).
    return True


class _Checkers:
    """Per run: one trusted root (loaded once) and the threads signature checks run on.

    Checks are CPU work (X.509, ECDSA) kept off the event loop. cryptography releases the GIL
    while it verifies, but the Python around each check holds it: more threads than cores only
    make the checks and the event loop take turns at the GIL, so the pool has one thread per
    core (at most one per concurrent image)."""

    def __init__(self, trusted_root_path: str | None) -> None:
        self._path = trusted_root_path
        self._root = None
        self._loaded = False
        self._pool = None

    def start_pool(self, concurrency: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, min(max(1, concurrency), os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pullguard-check")

    def close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(self, fn):
        if self._pool is None:
            return await asyncio.to_thread(fn)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def root(self):
        if not self._loaded:
            from .signatures.trust import load_trusted_root

            self._root = load_trusted_root(self._path)
            self._loaded = True
        return self._root

    def for_decision(self, decision: Decision) -> "_Checker":
        if decision.verifier is None:
            raise ValueError("unsupported verifier type in rule")
        return _Checker(decision.verifier, self.root() if _needs_root(decision) else None)


@dataclass
class _Checker:
    verifier: Any
    trusted_root: Any

    def bundle(self, bundle_bytes: bytes, image_digest: str):
        from .signatures import verify_bundle

        return verify_bundle(bundle_bytes, image_digest, self.verifier, self.trusted_root)

    def legacy(self, layer: dict, payload: bytes, image_digest: str):
        from .signatures.legacy import LegacyLayer, verify_legacy

        annotations = layer.get("annotations") if isinstance(layer.get("annotations"), dict) else {}
        return verify_legacy([LegacyLayer(payload, annotations)], image_digest, self.verifier, self.trusted_root)


# ---------------------------------------------------------------------------------------------
# The registry client (pullguard.engine.registry) behind discovery's ArtifactStore


def _open_store(options: VerifyOptions, mirrors):
    from .registry.client import connection_pool_size
    from .registry.store import RegistryStore

    return RegistryStore.open(mirrors=mirrors, insecure=options.insecure, timeout=options.timeout,
                              max_connections=connection_pool_size(options.concurrency))


class _RunStore:
    """The store as one `verify_images` run sees it.

    A registry that answered that it has no referrers API (the store's None) is not asked
    again during the run: OCI distribution 1.1 forbids a registry that implements the API to
    answer 404, so the answer holds for the whole registry, not just one repository. Talos
    asks every time; the verdicts are the same, with one request less per image.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self._no_referrers: set[str] = set()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def manifest(self, repository, reference, max_size):
        return self.inner.manifest(repository, reference, max_size)

    def blob(self, repository, digest, max_size):
        return self.inner.blob(repository, digest, max_size)

    async def referrers(self, repository, digest, artifact_type):
        registry = repository.partition("/")[0]
        if registry in self._no_referrers:
            return None
        answer = await self.inner.referrers(repository, digest, artifact_type)
        if answer is None:
            self._no_referrers.add(registry)
        return answer


# ---------------------------------------------------------------------------------------------
# Kyverno: every applying entry must pass; an attestor set passes when `required` of its
# entries verify (count null = all). Each attestor entry is a signature search with its own
# verifier; the artifacts are fetched once per image and shared between attestors.


class _MemoStore:
    """Per-image memo over a store, so N attestors cost the requests of one."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self._memo: dict[tuple, asyncio.Future] = {}

    def _once(self, key: tuple, make):
        fut = self._memo.get(key)
        if fut is None:
            fut = self._memo[key] = asyncio.ensure_future(make())
        return asyncio.shield(fut)

    def manifest(self, repository, reference, max_size):
        return self._once(("m", repository, reference), lambda: self.inner.manifest(repository, reference, max_size))

    def blob(self, repository, digest, max_size):
        return self._once(("b", repository, digest), lambda: self.inner.blob(repository, digest, max_size))

    def referrers(self, repository, digest, artifact_type):
        return self._once(("r", repository, digest, artifact_type), lambda: self.inner.referrers(repository, digest, artifact_type))

    def settle(self) -> None:
        # Consume exceptions of lookups nobody awaited (Talos order stops early).
        for fut in self._memo.values():
            if fut.done() and not fut.cancelled():
                fut.exception()
            elif not fut.done():
                fut.cancel()


def _checkable(aset) -> bool:
    """Whether pullguard can tell if `aset` passes: its verifiable attestors (a key or keyless
    verifier, or a nested set that is checkable) reach the number it requires."""
    able = sum(1 for a in aset.entries if a.verifier is not None or (a.nested is not None and _checkable(a.nested)))
    return able >= aset.required


def _unverifiable(aset) -> list:
    """The attestors of `aset` that pullguard does not verify (certificates, KMS, secrets), nested
    sets included."""
    out = []
    for a in aset.entries:
        if a.nested is not None:
            out += _unverifiable(a.nested)
        elif a.verifier is None:
            out.append(a)
    return out


def unsupported_requirements(req) -> list[str]:
    """What pullguard cannot check and the image cannot pass without, one line each: a Notary
    entry, an entry's `attestations`, an attestor set that needs more attestors than pullguard
    can verify (e.g. `certificates` with count null). An unverifiable attestor that the count
    can do without is not listed: the others may still satisfy the set."""
    out: list[str] = []
    for entry, _pattern in req.verify:
        if not entry.supported:
            out.append(f"{entry.rule_id}: {entry.describe()}")
            continue
        if entry.attestations:
            out.append(f"{entry.rule_id}: attestations are not verified by pullguard")
        for n, aset in enumerate(entry.attestor_sets):
            if not _checkable(aset):
                kinds = sorted({a.kind for a in _unverifiable(aset)})
                out.append(f"{entry.rule_id}: attestors[{n}] needs {aset.required} of {len(aset.entries)} attestors "
                           f"and {' and '.join(kinds)} attestors are not verified by pullguard")
    return out


def _kyverno_without_network(decision, ref: ImageRef) -> VerifyResult | None:
    """Kyverno verdicts that need no registry: a missing digest Kyverno would refuse, and
    requirements pullguard cannot check (reported before any request is made)."""
    req = decision.requirements
    if req.missing_digest:
        msg = FAILED_PREFIX + "missing digest: verifyDigest requires the image to be referenced by digest"
        return VerifyResult(decision, ref.digest, "failed", msg, errors=[msg])
    unsupported = unsupported_requirements(req)
    if unsupported:
        return VerifyResult(decision, ref.digest, "error", "cannot verify: " + "; ".join(unsupported), None, unsupported)
    return None


async def _verify_attestor_set(aset, store, context, digest, checkers, found_errors, faults, verified_by) -> bool:
    from . import discovery

    passed = 0
    for att in aset.entries:
        if att.nested is not None:
            ok = await _verify_attestor_set(att.nested, store, context, digest, checkers, found_errors, faults, verified_by)
        elif att.verifier is None:
            found_errors.append(f"{att.path}: {att.describe()} attestors are not verified by pullguard")
            ok = False
        else:
            checker = _Checker(att.verifier, checkers.root())
            found = await discovery.discover(store, context, digest, checker, run_check=checkers.run)
            ok = found.verified
            if ok:
                verified_by.append((att.path, found))
            else:
                found_errors.append(f"{att.path}: {found.message}".replace("\n", "; "))
                faults.extend(found.faults)
        passed += 1 if ok else 0
        if passed >= aset.required:
            return True
    return passed >= aset.required


async def _verify_kyverno(decision, digest, ref, options, store, checkers, cache) -> VerifyResult:
    req = decision.requirements
    try:
        checkers.root()
    except Exception as exc:
        msg = f"failed to load the trusted root: {exc}"
        return VerifyResult(decision, digest, "error", msg, errors=[msg])
    # Missing digests and unsupported requirements were answered before resolution
    # (`_kyverno_without_network`); every entry here can be checked.
    memo = _MemoStore(store)
    errors: list[str] = []
    faults: list[str] = []
    verified_by: list[tuple[str, Any]] = []
    failed_entries: list[str] = []
    try:
        for entry, _pattern in req.verify:
            for n, aset in enumerate(entry.attestor_sets):
                before = len(errors)
                ok = await _verify_attestor_set(aset, memo, ref.context, digest, checkers, errors, faults, verified_by)
                if not ok:
                    failed_entries.append(
                        f"{entry.rule_id}: attestors[{n}]: fewer than {aset.required} of {len(aset.entries)} attestors verified"
                        + (f" ({'; '.join(errors[before:])})" if errors[before:] else "")
                    )
    finally:
        memo.settle()
    if failed_entries:
        outcome: Outcome = "error" if faults else "failed"
        return VerifyResult(decision, digest, outcome, FAILED_PREFIX + "; ".join(failed_entries), None, errors)
    if not verified_by:
        # Entries with no attestors: Kyverno checks nothing, the image is admitted.
        return VerifyResult(decision, digest, "verified", "verified: no attestors to check", None, errors)
    path, first = verified_by[0]
    evidence = first.evidence
    if evidence is not None and first.format and evidence.format != first.format:
        evidence = dataclasses.replace(evidence, format=first.format)
    message = first.message if len(verified_by) == 1 else f"{first.message} ({len(verified_by)} attestors verified)"
    if cache is not None:
        cache.put(_rule_key(decision, options), digest, message, evidence)
    return VerifyResult(decision, digest, "verified", message, evidence, errors)
