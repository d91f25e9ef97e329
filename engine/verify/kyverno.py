"""Kyverno `verifyImages`: every applying entry must pass; an attestor set passes when `required`
of its entries verify (count null = all). Each attestor is a signature search with its own
verifier; the artifacts are fetched once per image and shared between attestors (`MemoStore`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pullguard.engine.artifacts import ArtifactStore
from pullguard.engine.policy.kyverno.conditions import evaluate_conditions
from pullguard.engine.policy.kyverno.requirements import AttestationReq, AttestorReq, AttestorSetReq
from pullguard.engine.policy.kyverno.requirements import Requirements as KyvernoRequirements
from pullguard.engine.reference import Reference
from pullguard.engine.signatures.attestation_discovery import FoundAttestation, discover_attestations
from pullguard.engine.signatures.discovery import Discovery, discover
from pullguard.engine.vocabulary import Decision, Outcome

from .checkers import Checkers
from .results import FAILED_PREFIX, VerifyResult
from .stores import MemoStore


def _checkable(aset: AttestorSetReq) -> bool:
    """Whether pullguard can tell if `aset` passes: its verifiable attestors (a key or keyless
    verifier, or a nested set that is checkable) reach the number it requires."""
    able = sum(1 for a in aset.entries if a.verifier is not None or (a.nested is not None and _checkable(a.nested)))
    return able >= aset.required


def _unverifiable(aset: AttestorSetReq) -> list[AttestorReq]:
    """The attestors of `aset` that pullguard does not verify (certificates, KMS, secrets), nested
    sets included."""
    out: list[AttestorReq] = []
    for a in aset.entries:
        if a.nested is not None:
            out += _unverifiable(a.nested)
        elif a.verifier is None:
            out.append(a)
    return out


def unsupported_requirements(req: KyvernoRequirements) -> list[str]:
    """What pullguard cannot check and the image cannot pass without, one line each: a Notary
    entry, an entry's `attestations`, an attestor set that needs more attestors than pullguard
    can verify (e.g. `certificates` with count null). An unverifiable attestor that the count
    can do without is not listed: the others may still satisfy the set."""
    out: list[str] = []
    for entry, _pattern in req.verify:
        if not entry.supported:
            out.append(f"{entry.rule_id}: {entry.describe()}")
            continue
        sets = [(f"attestors[{n}]", aset) for n, aset in enumerate(entry.attestor_sets)]
        sets += [(f"{a.path}.attestors[{n}]", aset) for a in entry.attestations for n, aset in enumerate(a.attestor_sets)]
        for where, aset in sets:
            if not _checkable(aset):
                kinds = sorted({a.kind for a in _unverifiable(aset)})
                out.append(f"{entry.rule_id}: {where} needs {aset.required} of {len(aset.entries)} attestors "
                           f"and {' and '.join(kinds)} attestors are not verified by pullguard")
    return out


def without_network(decision: Decision, req: KyvernoRequirements, ref: Reference) -> VerifyResult | None:
    """Kyverno verdicts that need no registry: a missing digest Kyverno would refuse, and
    requirements pullguard cannot check (reported before any request is made)."""
    if req.missing_digest:
        msg = FAILED_PREFIX + "missing digest: verifyDigest requires the image to be referenced by digest"
        return VerifyResult(decision, ref.digest, "failed", msg, errors=[msg])
    unsupported = unsupported_requirements(req)
    if unsupported:
        return VerifyResult(decision, ref.digest, "error", "cannot verify: " + "; ".join(unsupported), None, unsupported)
    return None


@dataclass
class _Search:
    """What the attestor searches of one image found, across every entry and set."""

    store: ArtifactStore
    context: str
    digest: str
    checkers: Checkers
    errors: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    verified_by: list[tuple[str, Discovery]] = field(default_factory=list)
    attested: list[FoundAttestation] = field(default_factory=list)

    async def attestation(self, att: AttestationReq) -> str | None:
        """None when the attestation passes (each of its sets has `required` attestors whose
        attestations of the type verify and satisfy the conditions), else why not."""
        if not att.type:
            return f"{att.path}: missing type"
        for k, aset in enumerate(att.attestor_sets):
            verified, why = await self._attested_set(aset, att)
            if verified < aset.required:
                return (f"{att.path}.attestors[{k}]: image attestations verification failed, verifiedCount: {verified}, "
                        f"requiredCount: {aset.required}, error: {'; '.join(why)}")
        return None

    async def _attested_set(self, aset: AttestorSetReq, att: AttestationReq) -> tuple[int, list[str]]:
        verified = 0
        why: list[str] = []
        for a in aset.entries:
            if a.nested is not None:
                count, inner = await self._attested_set(a.nested, att)
                ok = count >= a.nested.required
                failure = "; ".join(inner)
            else:
                ok, failure = await self._attested_by(a, att)
            if ok:
                verified += 1
                if verified >= aset.required:
                    break
            else:
                why.append(failure)
        return verified, why

    async def _attested_by(self, a: AttestorReq, att: AttestationReq) -> tuple[bool, str]:
        if a.verifier is None:
            return False, f"{a.path}: {a.describe()} attestors are not verified by pullguard"
        repository = self.repository(a)
        found = await discover_attestations(self.store, repository, self.digest, self.checkers.checker(a.verifier),
                                            att.type, run_check=self.checkers.run)
        self.faults.extend(found.faults)
        if not found.verified:
            self.errors.extend(f"{a.path}: {e}" for e in found.errors)
            return False, f"{a.path}: {found.message}"
        for attestation in found.verified:
            verdict = evaluate_conditions(att.conditions, attestation.statement, att.name)
            if not verdict.passed:
                return False, (f"{a.path}: attestation {att.type} ({attestation.format} {attestation.reference}) "
                               f"fails its conditions: {verdict.message}")
        self.attested.extend(found_in(attestation, repository, self.context) for attestation in found.verified)
        return True, ""

    def repository(self, a: AttestorReq) -> str:
        """Where the attestor's signatures are looked up: its `repository`, else the image's own."""
        return a.repository or self.context

    async def attestor_set(self, aset: AttestorSetReq) -> bool:
        passed = 0
        for att in aset.entries:
            if att.nested is not None:
                ok = await self.attestor_set(att.nested)
            elif att.verifier is None:
                self.errors.append(f"{att.path}: {att.describe()} attestors are not verified by pullguard")
                ok = False
            else:
                repository = self.repository(att)
                found = await discover(self.store, repository, self.digest, self.checkers.checker(att.verifier),
                                       run_check=self.checkers.run)
                ok = found.verified
                if ok:
                    if repository != self.context and found.evidence is not None:
                        found.evidence = dataclasses.replace(found.evidence, repository=repository)
                        found.message += f" in {repository}"
                    self.verified_by.append((att.path, found))
                else:
                    self.errors.append(f"{att.path}: {found.message}".replace("\n", "; "))
                    self.faults.extend(found.faults)
            passed += 1 if ok else 0
            if passed >= aset.required:
                return True
        return passed >= aset.required


async def verify_kyverno(
    decision: Decision, req: KyvernoRequirements, digest: str, ref: Reference, store: ArtifactStore, checkers: Checkers
) -> VerifyResult:
    """The verdict for one resolved image. Missing digests and unsupported requirements were
    answered before resolution (`without_network`); every entry here can be checked. The trusted
    root was read before the run's first request (`verify_images`)."""
    memo = MemoStore(store)
    search = _Search(memo, ref.context, digest, checkers)
    failed_entries: list[str] = []
    try:
        for entry, _pattern in req.verify:
            if entry.required and not entry.attestor_sets and not entry.attestations:
                # Kyverno's `required` admits only images its verification marked verified (the
                # pod's kyverno.io/verify-images annotation); an entry that checks nothing marks
                # nothing, so Kyverno refuses the image (its CLI test secure-images: fail).
                failed_entries.append(f"{entry.rule_id}: required: the image is not verified "
                                      "(the entry has no attestors or attestations)")
                continue
            for n, aset in enumerate(entry.attestor_sets):
                before = len(search.errors)
                if not await search.attestor_set(aset):
                    why = search.errors[before:]
                    failed_entries.append(
                        f"{entry.rule_id}: attestors[{n}]: fewer than {aset.required} of {len(aset.entries)} attestors verified"
                        + (f" ({'; '.join(why)})" if why else "")
                    )
            for att in entry.attestations:
                failure = await search.attestation(att)
                if failure is not None:
                    failed_entries.append(f"{entry.rule_id}: {failure}")
    finally:
        memo.settle()
    if failed_entries:
        outcome: Outcome = "error" if search.faults else "failed"
        return VerifyResult(decision, digest, outcome, FAILED_PREFIX + "; ".join(failed_entries), None, search.errors)
    attested = _distinct_attestations(search.attested)
    if not search.verified_by and not attested:
        # Entries with no attestors and `required: false`: Kyverno checks nothing, the image is admitted.
        return VerifyResult(decision, digest, "verified", "verified: no attestors to check", None, search.errors)
    kinds = sorted({a.predicate_type for a in attested})
    attested_text = f"verified attestation{'s' if len(kinds) > 1 else ''} {', '.join(kinds)}" if kinds else ""
    if not search.verified_by:
        first_att = attested[0]
        where = f" in {first_att.evidence.repository}" if first_att.evidence.repository else ""
        message = f"{attested_text} ({first_att.format} {first_att.reference}{where})"
        return VerifyResult(decision, digest, "verified", message, first_att.evidence, search.errors, attestations=attested)
    _path, first = search.verified_by[0]
    evidence = first.evidence
    if evidence is not None and first.format and evidence.format != first.format:
        evidence = dataclasses.replace(evidence, format=first.format)
    count = len(search.verified_by)
    message = first.message if count == 1 else f"{first.message} ({count} attestors verified)"
    if attested_text:
        message += f"; {attested_text}"
    return VerifyResult(decision, digest, "verified", message, evidence, search.errors, attestations=attested)


def found_in(attestation: FoundAttestation, repository: str, context: str) -> FoundAttestation:
    """The attestation with where it was found, when that is not the image's own repository."""
    if repository == context:
        return attestation
    return dataclasses.replace(attestation, evidence=dataclasses.replace(attestation.evidence, repository=repository))


def _distinct_attestations(found: list[FoundAttestation]) -> list[FoundAttestation]:
    """Each attestation once (several attestors may verify the same one), in the order found."""
    return list({(a.format, a.reference): a for a in reversed(found)}.values())[::-1]
