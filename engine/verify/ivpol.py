"""Kyverno ImageValidatingPolicy: every attestor of the applying policies is checked against each
image (one signature search each, in Talos's discovery order, and one attestation search for each
in-toto attestation the policy declares; artifacts fetched once per image and shared between
attestors); once every image of a resource is checked, the policies' validations run once over
the resource from those checks (`engine.policy.ivpol.verification.run_resource`, as Kyverno
evaluates a policy per admission request): `verified` when every policy that takes the image
passed, `failed` with the validation's message, `error` for what pullguard cannot answer. The
images of one resource share its object (engine.images, engine.policy.ivpol.selection); a bare
image is a resource of its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from pullguard.engine.artifacts import ArtifactStore
from pullguard.engine.policy.ivpol import IvpolRequirements
from pullguard.engine.policy.ivpol.model import Attestor
from pullguard.engine.policy.ivpol.verification import (
    AttestorCheck,
    Member,
    attestations_to_check,
    attestors_to_check,
    run_resource,
)
from pullguard.engine.reference import Reference
from pullguard.engine.signatures.attestation_discovery import FoundAttestation, discover_attestations
from pullguard.engine.signatures.discovery import discover
from pullguard.engine.vocabulary import Decision

from .checkers import Checkers
from .results import VerifyResult
from .stores import MemoStore


async def _check(attestor: Attestor, store: ArtifactStore, context: str, digest: str, checkers: Checkers) -> AttestorCheck:
    """The attestor verifies when a signature satisfies any of its verifiers (keyless: any identity)."""
    failures: list[str] = []
    fault = False
    repository = attestor.repository or context
    for verifier in attestor.verifiers:
        found = await discover(store, repository, digest, checkers.checker(verifier), run_check=checkers.run,
                               tag_prefix=attestor.tag_prefix)
        if found.verified:
            evidence = found.evidence
            if evidence is not None and found.format and evidence.format != found.format:
                evidence = dataclasses.replace(evidence, format=found.format)
            if evidence is not None and repository != context:
                return AttestorCheck(True, f"{found.message} in {repository}",
                                     dataclasses.replace(evidence, repository=repository))
            return AttestorCheck(True, found.message, evidence)
        failures.append(found.message.replace("\n", "; "))
        fault = fault or bool(found.faults)
    return AttestorCheck(False, "; ".join(failures) or "no verifier", fault=fault)


async def _attest(attestor: Attestor, predicate_type: str, store: ArtifactStore, context: str, digest: str,
                  checkers: Checkers) -> tuple[AttestorCheck, FoundAttestation | None]:
    """The attestor attests when an in-toto attestation of the type verifies with one of its
    verifiers; the attestation that did, for the evidence."""
    failures: list[str] = []
    fault = False
    repository = attestor.repository or context
    for verifier in attestor.verifiers:
        found = await discover_attestations(store, repository, digest, checkers.checker(verifier), predicate_type,
                                            run_check=checkers.run, tag_prefix=attestor.tag_prefix)
        if found.verified:
            first = found.verified[0]
            evidence = first.evidence if repository == context else dataclasses.replace(first.evidence, repository=repository)
            where = "" if repository == context else f" in {repository}"
            check = AttestorCheck(True, found.message + where, evidence, payload=first.statement.get("predicate"))
            return check, dataclasses.replace(first, evidence=evidence)
        failures.append(found.message.replace("\n", "; "))
        fault = fault or bool(found.faults)
    return AttestorCheck(False, "; ".join(failures) or "no verifier", fault=fault), None


@dataclass
class Checked:
    """An image whose attestors were checked, waiting for the other images of its resource."""

    decision: Decision
    digest: str
    member: Member
    attestations: list[FoundAttestation] = field(default_factory=list)


async def check_ivpol(
    decision: Decision, req: IvpolRequirements, digest: str, ref: Reference, store: ArtifactStore, checkers: Checkers
) -> Checked | VerifyResult:
    if decision.error is not None:  # a matchImageReferences entry could not say (Kyverno's error)
        return VerifyResult(decision, digest, "error", decision.error, errors=[decision.error])
    memo = MemoStore(store)
    checks: dict[tuple[str | int, ...], AttestorCheck] = {}
    attested: dict[str, FoundAttestation] = {}  # by reference: one attestation verified by several attestors
    try:
        for policy, name in attestors_to_check(req):
            attestor = next(a for a in policy.attestors if a.name == name)
            if attestor.unsupported or not attestor.verifiers:
                continue  # answered as an error where an expression needs it
            checks[(policy.index, name)] = await _check(attestor, memo, ref.context, digest, checkers)
        for policy, attestation, name in attestations_to_check(req):
            attestor = next(a for a in policy.attestors if a.name == name)
            if attestor.unsupported or not attestor.verifiers:
                continue
            check, found = await _attest(attestor, attestation.type, memo, ref.context, digest, checkers)
            checks[(policy.index, name, attestation.name)] = check
            if found is not None:
                attested.setdefault(found.reference, found)
    finally:
        memo.settle()
    member = Member(req.image, req.category, req.applying, checks, ref.digest is not None)
    return Checked(decision, digest, member, list(attested.values()))


class ResourceGroups:
    """The ImageValidatingPolicy images of one verification run, by resource: each resource is
    evaluated once all of its images are in (checked, or with a result of their own, such as an
    unresolvable tag), so that `settle` never waits."""

    def __init__(self, decisions: Sequence[Decision]):
        self._key: dict[int, Hashable] = {}
        self._waiting: dict[Hashable, set[int]] = {}
        self._settled: dict[Hashable, dict[int, Checked | VerifyResult]] = {}
        for i, decision in enumerate(decisions):
            req = decision.requirements
            if isinstance(req, IvpolRequirements) and decision.action == "verify":
                key: Hashable = ("resource", id(req.resource)) if req.resource is not None else ("image", i)
                self._key[i] = key
                self._waiting.setdefault(key, set()).add(i)

    def grouped(self, i: int) -> bool:
        return i in self._key

    @staticmethod
    def in_resource(decision: Decision) -> bool:
        """Verified with other images of a resource (its result depends on theirs)."""
        req = decision.requirements
        return isinstance(req, IvpolRequirements) and req.resource is not None

    def settle(self, i: int, outcome: Checked | VerifyResult) -> list[tuple[int, VerifyResult, bool]]:
        """Record image i; when it was the last of its resource, every image's result, and whether
        it was evaluated here (False: the result it came with)."""
        key = self._key[i]
        self._settled.setdefault(key, {})[i] = outcome
        self._waiting[key].discard(i)
        if self._waiting[key]:
            return []
        settled = self._settled.pop(key)
        order = sorted(settled)
        members = []
        for j in order:
            got = settled[j]
            if isinstance(got, Checked):
                members.append(got.member)
            else:  # it could not be checked: the policies that take it cannot be evaluated
                req = got.decision.requirements
                assert isinstance(req, IvpolRequirements)
                members.append(Member(req.image, req.category, req.applying, {}, False, error=got.message))
        first = settled[order[0]].decision.requirements
        assert isinstance(first, IvpolRequirements)
        verdicts = run_resource(first.resource, members)
        out: list[tuple[int, VerifyResult, bool]] = []
        for j, verdict in zip(order, verdicts, strict=True):
            got = settled[j]
            if isinstance(got, VerifyResult):
                out.append((j, got, False))  # its own result stands
                continue
            out.append((j, VerifyResult(got.decision, got.digest, verdict.outcome, verdict.message, verdict.evidence,
                                        verdict.errors, attestations=got.attestations, validations=verdict.trials), True))
        return out
