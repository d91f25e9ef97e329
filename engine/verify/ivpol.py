"""Kyverno ImageValidatingPolicy: every attestor of the applying policies is checked against the
image (one signature search each, in Talos's discovery order, and one attestation search for each
in-toto attestation the policy declares; artifacts fetched once per image and shared between
attestors), then the policies' validations run from those checks
(`engine.policy.ivpol.verification`): `verified` when every validation of every applying policy
is true, `failed` with the validation's message, `error` for what pullguard cannot answer."""

from __future__ import annotations

import dataclasses

from pullguard.engine.artifacts import ArtifactStore
from pullguard.engine.policy.ivpol import IvpolRequirements
from pullguard.engine.policy.ivpol.model import Attestor
from pullguard.engine.policy.ivpol.verification import AttestorCheck, attestations_to_check, attestors_to_check, run
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


async def verify_ivpol(
    decision: Decision, req: IvpolRequirements, digest: str, ref: Reference, store: ArtifactStore, checkers: Checkers
) -> VerifyResult:
    if decision.error is not None:  # a matchImageReferences entry could not say (Kyverno's error)
        return VerifyResult(decision, digest, "error", decision.error, errors=[decision.error])
    try:
        checkers.root()
    except Exception as exc:
        msg = f"failed to load the trusted root: {exc}"
        return VerifyResult(decision, digest, "error", msg, errors=[msg])
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
    verdict = run(req, checks, has_digest=ref.digest is not None)
    return VerifyResult(decision, digest, verdict.outcome, verdict.message, verdict.evidence, verdict.errors,
                        attestations=list(attested.values()), validations=verdict.trials)
