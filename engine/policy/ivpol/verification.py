"""Running an image's ImageValidatingPolicies once its attestors' signatures have been checked.

Kyverno evaluates each applying policy's validations in order over the resource
(`pkg/image/verification/evaluator/policy.go`); the first that is false fails the policy with its
message (messageExpression first, then message, then `CEL expression validation failed at index
N`), an expression that errors is an error. An image is `verified` when every validation of
every applying policy is true (SPEC §4b) and, where a policy has `required` (the default), a
signature check on the image verified (Kyverno's EnforceRequired, with its words).

Signature checks need the registry, CEL does not: verification first checks every attestor the
applying policies declare against the image (`AttestorCheck`, done by engine.verify), then the
expressions run here with `verifyImageSignatures` and `verifyAttestationSignatures` answered
from those checks: the number of listed attestors that verified (the signature, or an in-toto
attestation of the type with their signature), 0 for an image the policy's matchImageReferences
do not take (as Kyverno); `extractPayload` gives the predicate of a verified attestation. What
pullguard cannot answer is an error, never a count: an attestor with a field it does not verify,
a registry fault, a check that was not made (attestations where the verifier has no attestation
search), `referrer` attestations, or an image other than the one being verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .expressions import CelRuntimeError, verifying
from .model import Attestation, ImageValidatingPolicy, MatchError, pod_for
from .policyset import IvpolRequirements


@dataclass(frozen=True)
class AttestorCheck:
    """One attestor's signature check on the image."""

    verified: bool
    message: str  # what verified it, or why not
    evidence: Any = None  # the signature evidence when verified
    fault: bool = False  # the registry could not answer (an error, not a failed check)
    payload: Any = None  # an attestation check: the verified in-toto statement's predicate


@dataclass(frozen=True)
class ValidationTrial:
    """One validation tried: its value (None when it did not run) and where it is written."""

    policy: str
    index: int
    expression: str
    line: int
    value: bool | None
    message: str | None = None


@dataclass
class Verdict:
    outcome: Literal["verified", "failed", "error"]
    message: str
    trials: list[ValidationTrial] = field(default_factory=list)
    evidence: Any = None  # of the first attestor that verified
    errors: list[str] = field(default_factory=list)


class _Unanswerable(Exception):
    """A verification function pullguard cannot answer here: the image's outcome is error."""


def attestors_to_check(requirements: IvpolRequirements) -> list[tuple[ImageValidatingPolicy, str]]:
    """(policy, attestor name) for every attestor of every applying policy, in order: the
    signature checks, keyed (policy index, attestor name)."""
    return [(a.policy, attestor.name) for a in requirements.applying for attestor in a.policy.attestors]


def attestations_to_check(requirements: IvpolRequirements) -> list[tuple[ImageValidatingPolicy, Attestation, str]]:
    """(policy, in-toto attestation, attestor name) for every pair of every applying policy: the
    attestation checks, keyed (policy index, attestor name, attestation name)."""
    return [(a.policy, attestation, attestor.name) for a in requirements.applying
            for attestation in a.policy.attestations if attestation.kind == "intoto" for attestor in a.policy.attestors]


class _Record:
    """Kyverno's ImageVerificationResults for the image, shared by every policy of the request:
    was a signature check attempted, and did one verify (validationConfigurations.required)."""

    def __init__(self) -> None:
        self.attempted = False
        self.verified = False
        self.unknown: str | None = None  # a check pullguard could not answer (CEL may not need it)


class _Answers:
    """The verification functions for one policy, answered from the attestor checks."""

    def __init__(self, policy: ImageValidatingPolicy, image: str, checks: Mapping[tuple[Any, ...], AttestorCheck],
                 record: _Record):
        self.policy = policy
        self.image = image
        self.checks = checks
        self.record = record
        self.verified_by: list[AttestorCheck] = []
        self.notes: list[str] = []
        self.payloads: dict[str, Any] = {}  # attestation name -> the first verified predicate

    def _names(self, attestors: Sequence[Any]) -> list[str]:
        names = []
        for attestor in attestors:
            name = attestor.get("name") if isinstance(attestor, Mapping) else None
            if not isinstance(name, str):
                raise _Unanswerable("an attestor argument is not one of spec.attestors")
            names.append(name)
        return names

    def verify_image_signatures(self, image: str, attestors: Sequence[Any]) -> int:
        try:
            return self._verify_image_signatures(image, attestors)
        except _Unanswerable as error:
            self.record.unknown = self.record.unknown or str(error)
            raise

    def _verify_image_signatures(self, image: str, attestors: Sequence[Any]) -> int:
        return self._count("verifyImageSignatures", image, attestors, None)

    def _count(self, function: str, image: str, attestors: Sequence[Any], attestation: Attestation | None) -> int:
        """How many listed attestors verified (their signature, or the attestation with their signature)."""
        names = self._names(attestors)
        if image != self.image:
            raise _Unanswerable(f"{function} for {image!r}, which is not the image being verified")
        try:
            if self.policy.first_match(image) is None:
                return 0  # Kyverno: an image the policy does not take counts no attestor
        except MatchError as error:
            raise _Unanswerable(str(error)) from None
        count = 0
        for name in names:
            declared = next((a for a in self.policy.attestors if a.name == name), None)
            if declared is None:
                raise _Unanswerable(f"attestor {name!r} is not declared in spec.attestors")
            if declared.unsupported:
                raise _Unanswerable(f"not verified by pullguard: attestor {name!r}: {', '.join(declared.unsupported)}")
            key: tuple[Any, ...] = (self.policy.index, name) if attestation is None else (self.policy.index, name, attestation.name)
            check = self.checks.get(key)
            if check is None:
                what = f"attestation {attestation.name!r} by attestor {name!r}" if attestation else f"attestor {name!r}"
                raise _Unanswerable(f"not verified by pullguard: {what} ({function})")
            if check.fault:
                raise _Unanswerable(f"attestor {name!r}: {check.message}")
            if check.verified:
                count += 1
                self.verified_by.append(check)
                if attestation is not None:
                    self.payloads.setdefault(attestation.name, check.payload)
            else:  # SPEC §2 `errors`: what made a signature fail, never what verified
                self.notes.append(f"{name}: {check.message}")
        if names:  # Kyverno records a check only when attestors were listed
            self.record.attempted = True
            self.record.verified = self.record.verified or count > 0
        return count

    def _attestation(self, name: str) -> Attestation:
        declared = next((a for a in self.policy.attestations if a.name == name), None)
        if declared is None:
            raise _Unanswerable(f"attestation not found in policy: {name}")  # Kyverno's words
        if declared.kind != "intoto":
            raise _Unanswerable(f"not verified by pullguard: attestation {name!r} (referrer {declared.type})")
        return declared

    def verify_attestation_signatures(self, image: str, attestation: str, attestors: Sequence[Any]) -> int:
        try:
            return self._count("verifyAttestationSignatures", image, attestors, self._attestation(attestation))
        except _Unanswerable as error:
            self.record.unknown = self.record.unknown or str(error)
            raise

    def extract_payload(self, image: str, attestation: str) -> Any:
        self._attestation(attestation)
        if image != self.image:
            raise _Unanswerable(f"extractPayload for {image!r}, which is not the image being verified")
        if attestation not in self.payloads:  # Kyverno: only a verified statement has a payload
            raise _Unanswerable(f"failed to get payload: attestation {attestation!r} of {image} is not verified "
                                "(call verifyAttestationSignatures first)")
        return self.payloads[attestation]


def _data(policy: ImageValidatingPolicy, image: str, resource: Mapping[str, Any] | None, category: str) -> dict[str, Any]:
    """What the expressions see: the resource (a Pod of its own for a bare image) and, under
    `images`, this image in its category; the resource's other images are verified on their own."""
    pod = dict(resource) if resource is not None else pod_for(image)
    images: dict[str, list[str]] = {"containers": [], "initContainers": [], "ephemeralContainers": []}
    images[category] = [image]
    data: dict[str, Any] = {
        "object": pod, "oldObject": None, "request": {"operation": "CREATE", "object": pod}, "namespaceObject": None,
        "images": images,
        "attestors": {a.name: {"name": a.name} for a in policy.attestors},
        "attestations": {a.name: a.name for a in policy.attestations},
    }
    return data


def _with_variables(policy: ImageValidatingPolicy, data: dict[str, Any]) -> None:
    """Kyverno's variables are lazy; those no expression names are not run."""
    used = " ".join(v.expression.text + (v.message_expression.text if v.message_expression else "")
                    for v in policy.validations) + " " + " ".join(v.expression.text for v in policy.variables)
    for variable in policy.variables:
        if f"variables.{variable.name}" in used:
            try:
                data[f"variables.{variable.name}"] = variable.expression.evaluate(data)
            except CelRuntimeError as error:
                raise CelRuntimeError(f"variable '{variable.name}' (line {variable.line}): {error}") from None


def run(requirements: IvpolRequirements, checks: Mapping[tuple[Any, ...], AttestorCheck], *, has_digest: bool) -> Verdict:
    """The image's outcome under every applying policy, from its attestors' checks."""
    image = requirements.image
    trials: list[ValidationTrial] = []
    first: AttestorCheck | None = None
    errors: list[str] = []
    record = _Record()
    for applying in requirements.applying:
        policy = applying.policy
        if policy.verify_digest and not policy.mutate_digest and not has_digest:
            message = f"image {image} does not have a digest"  # Kyverno's checkDigests
            return Verdict("failed", f"{policy.name}: {message}", trials, None, [message])
        answers = _Answers(policy, image, checks, record)
        data = _data(policy, image, requirements.resource, requirements.category)
        try:
            with verifying(answers):
                _with_variables(policy, data)
                for validation in policy.validations:
                    try:
                        value = validation.expression.evaluate(data)
                    except CelRuntimeError as error:
                        message = (f"{policy.name}: validation {validation.index} (line {validation.line}): "
                                   f"{_cause(error)}")
                        trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                                      validation.line, None, message))
                        return Verdict("error", message, trials, None, errors + [message])
                    if value is not True:
                        message = _message(policy, validation.index, validation.message, validation.message_expression, data)
                        trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                                      validation.line, False, message))
                        return Verdict("failed", f"{policy.name}: {message}", trials, None,
                                       errors + answers.notes + [message])
                    trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                                  validation.line, True))
        except CelRuntimeError as error:  # a variable
            message = f"{policy.name}: {_cause(error)}"
            return Verdict("error", message, trials, None, errors + [message])
        errors += answers.notes
        if first is None and answers.verified_by:
            first = answers.verified_by[0]
    for applying in requirements.applying:  # Kyverno's EnforceRequired, once every policy passed
        if applying.policy.required and not record.verified:
            if record.unknown is not None:  # the check that could have verified it is unanswered
                message = f"{applying.policy.name}: validationConfigurations.required: {record.unknown}"
                return Verdict("error", message, trials, None, errors + [message])
            message = (f"image {image} failed signature or attestation verification" if record.attempted
                       else f"image {image} is not verified: no policy performed a signature or attestation check on it")
            return Verdict("failed", f"{applying.policy.name}: {message}", trials, None, errors + [message])
    count = len(trials)
    names = ", ".join(a.policy.name for a in requirements.applying)
    how = f"{first.message}; " if first is not None else "verified: "
    return Verdict("verified", f"{how}{count} validation{'s' if count != 1 else ''} of {names} true",
                   trials, first.evidence if first is not None else None, errors)


def _cause(error: CelRuntimeError) -> str:
    """The words of what stopped the expression (a function's own message when it raised)."""
    return str(error)


def _message(policy: ImageValidatingPolicy, index: int, message: str, message_expression: Any, data: Mapping[str, Any]) -> str:
    if message_expression is not None:
        try:
            value = message_expression.evaluate(data)
        except CelRuntimeError as error:
            return f"failed to evaluate message expression: {error}"
        if not isinstance(value, str):
            return "failed to convert message expression to string"
        message = value
    return message or f"CEL expression validation failed at index {index}"

