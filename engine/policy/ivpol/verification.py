"""Running a resource's ImageValidatingPolicies once its images' attestors have been checked.

Kyverno evaluates each policy once per admission request (`pkg/image/verification/evaluator/policy.go`
`Evaluate`), with `images.containers`, `images.initContainers` and `images.ephemeralContainers`
holding every image of the resource the policy's matchImageReferences take, in the resource's
order: `images.containers.all(...)` over a Pod with one unsigned image among signed ones is false
for the Pod. The validations run in order; the first that is false fails the policy with its
message (messageExpression first, then message, then `CEL expression validation failed at index
N`), an expression that errors is an error. Then, for every policy that passed, EnforceRequired
(`validationConfigurations.required`, the default): each image it takes must have been verified
by a signature or attestation check of some policy of the request, with Kyverno's words.

pullguard reports per image (SPEC §4b): an image is `verified` when every policy that takes it
passed over its resource; when one failed, the image is `failed` with the policy's message, and
an image that did not make the validation false itself (it is true with that image alone under
`images`, such as an all() over the images) says which of the resource's images did. A bare
image is a Pod of its own.

Signature checks need the registry, CEL does not: verification first checks every attestor the
applying policies declare against each image (`AttestorCheck`, done by engine.verify), then the
expressions run here with `verifyImageSignatures` and `verifyAttestationSignatures` answered
from those checks: the number of listed attestors that verified (the signature, or an in-toto
attestation of the type with their signature), 0 for an image the policy's matchImageReferences
do not take (as Kyverno); `extractPayload` gives the predicate of a verified attestation. What
pullguard cannot answer is an error, never a count: an attestor with a field it does not verify,
a registry fault, a check that was not made (attestations where the verifier has no attestation
search), `referrer` attestations, or an image that is not one of the resource's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .expressions import CelRuntimeError, verifying
from .model import Attestation, ImageValidatingPolicy, MatchError, Validation, pod_for
from .policyset import Applying, IvpolRequirements
from .selection import extract


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


@dataclass(frozen=True)
class Member:
    """One image of the resource, as verification found it: where it is written (its category),
    the policies that take it, its attestors' checks, and whether it names a digest; `error`
    when it could not be checked (its own result says why)."""

    image: str
    category: str
    applying: tuple[Applying, ...]
    checks: Mapping[tuple[Any, ...], AttestorCheck]
    has_digest: bool
    error: str | None = None


class _Record:
    """Kyverno's ImageVerificationResults, shared by every policy of the request: per image, was
    a signature check attempted, and did one verify (validationConfigurations.required)."""

    def __init__(self) -> None:
        self.attempted: set[str] = set()
        self.verified: set[str] = set()
        self.unknown: dict[str, str] = {}  # a check pullguard could not answer (CEL may not need it)

    def note(self, image: str, verified: bool) -> None:
        self.attempted.add(image)
        if verified:
            self.verified.add(image)


class _Answers:
    """The verification functions for one policy, answered from the attestor checks of the
    resource's images."""

    def __init__(self, policy: ImageValidatingPolicy, members: Mapping[str, Member], record: _Record):
        self.policy = policy
        self.members = members
        self.record = record
        self.verified_by: dict[str, list[AttestorCheck]] = {}  # image -> the checks that verified it
        self.notes: dict[str, list[str]] = {}  # image -> why its checks failed
        self.payloads: dict[tuple[str, str], Any] = {}  # (image, attestation) -> the first verified predicate

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
            return self._count("verifyImageSignatures", image, attestors, None)
        except _Unanswerable as error:
            self.record.unknown.setdefault(str(image), str(error))
            raise

    def _member(self, function: str, image: str) -> Member:
        member = self.members.get(image)
        if member is None:
            raise _Unanswerable(f"{function} for {image!r}, which is not an image of the resource being verified")
        if member.error is not None:
            raise _Unanswerable(f"image {image}: {member.error}")
        return member

    def _count(self, function: str, image: str, attestors: Sequence[Any], attestation: Attestation | None) -> int:
        """How many listed attestors verified (their signature, or the attestation with their signature)."""
        names = self._names(attestors)
        member = self._member(function, image)
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
            check = member.checks.get(key)
            if check is None:
                what = f"attestation {attestation.name!r} by attestor {name!r}" if attestation else f"attestor {name!r}"
                raise _Unanswerable(f"not verified by pullguard: {what} ({function})")
            if check.fault:
                raise _Unanswerable(f"attestor {name!r}: {check.message}")
            if check.verified:
                count += 1
                self.verified_by.setdefault(image, []).append(check)
                if attestation is not None:
                    self.payloads.setdefault((image, attestation.name), check.payload)
            else:  # SPEC §2 `errors`: what made a signature fail, never what verified
                self.notes.setdefault(image, []).append(f"{name}: {check.message}")
        if names:  # Kyverno records a check only when attestors were listed
            self.record.note(image, count > 0)
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
            self.record.unknown.setdefault(str(image), str(error))
            raise

    def extract_payload(self, image: str, attestation: str) -> Any:
        self._attestation(attestation)
        self._member("extractPayload", image)
        if (image, attestation) not in self.payloads:  # Kyverno: only a verified statement has a payload
            raise _Unanswerable(f"failed to get payload: attestation {attestation!r} of {image} is not verified "
                                "(call verifyAttestationSignatures first)")
        return self.payloads[(image, attestation)]


def _data(policy: ImageValidatingPolicy, resource: Mapping[str, Any], taken: Sequence[Member]) -> dict[str, Any]:
    """What the expressions see: the resource and, under `images`, the images of it the policy
    takes, by category (a default one or a `spec.images` extractor's name), in the order they
    were found (Kyverno's filteredImages: every default category is a list, empty when the
    policy takes none of it)."""
    images: dict[str, list[str]] = {"containers": [], "initContainers": [], "ephemeralContainers": []}
    images.update({extractor.name: [] for extractor in policy.extractors})
    for member in taken:
        images.setdefault(member.category, []).append(member.image)
    pod = dict(resource)
    return {
        "object": pod, "oldObject": None, "request": {"operation": "CREATE", "object": pod}, "namespaceObject": None,
        "images": images,
        "attestors": {a.name: {"name": a.name} for a in policy.attestors},
        "attestations": {a.name: a.name for a in policy.attestations},
    }


def _taken(policy: ImageValidatingPolicy, obj: Mapping[str, Any], members: Sequence[Member],
           by_image: Mapping[str, Member]) -> list[Member]:
    """The images the policy takes, default categories first, then each `spec.images` extractor's
    in its order. An extracted image is checked as its own entry (engine.images gives it its
    row) or as the same image written in a container; one that was not checked at all is
    MatchError, never left out."""
    names = {extractor.name for extractor in policy.extractors}
    default = [m for m in members if m.category not in names and any(a.policy.index == policy.index for a in m.applying)]
    if not policy.extractors:
        return default
    replaced = sorted(names & {"containers", "initContainers", "ephemeralContainers"})
    if replaced:
        raise MatchError(f"not verified by pullguard: spec.images '{replaced[0]}' replaces Kyverno's own extractor")
    rows = {(m.image, m.category): m for m in members}
    taken = list(default)
    for image, name in extract(policy.extractors, obj):
        try:
            if policy.first_match(image) is None:
                continue
        except MatchError as error:
            raise MatchError(f"spec.images '{name}': {error}") from None
        member = rows.get((image, name)) or by_image.get(image)
        if member is None:
            raise MatchError(f"not verified by pullguard: image {image} of spec.images '{name}' was not checked")
        taken.append(dataclasses.replace(member, category=name))
    return taken


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


@dataclass
class _PolicyResult:
    """One policy evaluated over the resource: pass, fail (with the images that made it false
    when they can be told) or error."""

    outcome: Literal["pass", "fail", "error"]
    message: str = ""
    taken: tuple[str, ...] = ()
    blamed: dict[str, str] = field(default_factory=dict)  # image -> its own words (may be the message)
    trials: list[ValidationTrial] = field(default_factory=list)
    answers: _Answers | None = None


def run(requirements: IvpolRequirements, checks: Mapping[tuple[Any, ...], AttestorCheck], *, has_digest: bool) -> Verdict:
    """One image's outcome, from its attestors' checks: a resource of one image (a bare image is
    a Pod of its own)."""
    member = Member(requirements.image, requirements.category, requirements.applying, checks, has_digest)
    return run_resource(requirements.resource, [member])[0]


def run_resource(resource: Mapping[str, Any] | None, members: Sequence[Member]) -> list[Verdict]:
    """Each image's outcome when the policies are evaluated once over the resource, with every
    image of it each takes (Kyverno's `Evaluate` per admission request), then EnforceRequired
    over each passing policy's images. `members` are the resource's images in its order; a bare
    image (resource None) is a Pod of its own."""
    if not members:
        return []
    obj = dict(resource) if resource is not None else pod_for(members[0].image)
    by_image: dict[str, Member] = {}
    for member in members:
        by_image.setdefault(member.image, member)
    record = _Record()
    policies: dict[int, ImageValidatingPolicy] = {}
    for member in members:
        for applying in member.applying:
            policies.setdefault(applying.policy.index, applying.policy)
    results: dict[int, _PolicyResult] = {}
    for index in sorted(policies):
        policy = policies[index]
        try:
            taken = _taken(policy, obj, members, by_image)
        except MatchError as error:
            results[index] = _PolicyResult("error", str(error))
            continue
        results[index] = _evaluate(policy, obj, taken, by_image, record)
    for index in sorted(policies):  # Kyverno's EnforceRequired, once every policy was evaluated
        result = results[index]
        if result.outcome == "pass" and policies[index].required:
            _enforce_required(result, record)
    return [_verdict(member, results) for member in members]


def _evaluate(policy: ImageValidatingPolicy, obj: Mapping[str, Any], taken: list[Member], by_image: Mapping[str, Member],
              record: _Record) -> _PolicyResult:
    images = tuple(m.image for m in taken)
    unchecked = next((m for m in taken if m.error is not None), None)
    if unchecked is not None:  # Kyverno fetches every image it takes first: the policy cannot be evaluated
        return _PolicyResult("error", f"image {unchecked.image}: {unchecked.error}", images)
    if policy.verify_digest and not policy.mutate_digest:
        for member in taken:
            if not member.has_digest:
                message = f"image {member.image} does not have a digest"  # Kyverno's checkDigests
                return _PolicyResult("fail", message, images, {member.image: message})
    answers = _Answers(policy, by_image, record)
    data = _data(policy, obj, taken)
    trials: list[ValidationTrial] = []
    try:
        with verifying(answers):
            _with_variables(policy, data)
            for validation in policy.validations:
                try:
                    value = validation.expression.evaluate(data)
                except CelRuntimeError as error:
                    message = f"validation {validation.index} (line {validation.line}): {_cause(error)}"
                    trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                                  validation.line, None, f"{policy.name}: {message}"))
                    return _PolicyResult("error", message, images, trials=trials, answers=answers)
                if value is not True:
                    message = _message(policy, validation.index, validation.message, validation.message_expression, data)
                    trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                                  validation.line, False, message))
                    blamed = {image: message for image in _blame(policy, validation, obj, taken, by_image)}
                    return _PolicyResult("fail", message, images, blamed, trials, answers)
                trials.append(ValidationTrial(policy.name, validation.index, validation.expression.text,
                                              validation.line, True))
    except CelRuntimeError as error:  # a variable
        return _PolicyResult("error", _cause(error), images, trials=trials, answers=answers)
    return _PolicyResult("pass", "", images, trials=trials, answers=answers)


def _blame(policy: ImageValidatingPolicy, validation: Validation, obj: Mapping[str, Any], taken: list[Member],
           by_image: Mapping[str, Member]) -> list[str]:
    """The images that made the validation false: those for which it is false with that image
    alone under `images` (a check over all of them, such as all(), names each one that fails
    it). None can be named where only the images together make it false (a count, exists())."""
    if len(taken) < 2:
        return [m.image for m in taken]
    blamed = []
    for member in taken:
        data = _data(policy, obj, [member])
        try:
            with verifying(_Answers(policy, by_image, _Record())):
                _with_variables(policy, data)
                value = validation.expression.evaluate(data)
        except CelRuntimeError:
            continue
        if value is False and member.image not in blamed:
            blamed.append(member.image)
    return blamed


def _enforce_required(result: _PolicyResult, record: _Record) -> None:
    """A passing policy fails when an image it takes was not verified by any policy of the
    request (Kyverno's words name the image); an unanswered check that could have verified it
    makes it an error."""
    for image in dict.fromkeys(result.taken):
        if image in record.verified:
            continue
        if image in record.unknown:
            result.outcome, result.message = "error", f"validationConfigurations.required: {record.unknown[image]}"
            result.blamed = {}
            return
        message = (f"image {image} failed signature or attestation verification" if image in record.attempted
                   else f"image {image} is not verified: no policy performed a signature or attestation check on it")
        if result.outcome == "pass":
            result.outcome, result.message = "fail", message
        result.blamed[image] = message


def _verdict(member: Member, results: Mapping[int, _PolicyResult]) -> Verdict:
    """The image's outcome: the first of its policies (file order) that did not pass decides."""
    trials: list[ValidationTrial] = []
    errors: list[str] = []
    first: AttestorCheck | None = None
    for applying in member.applying:
        policy = applying.policy
        result = results[policy.index]
        trials += result.trials
        notes = result.answers.notes.get(member.image, []) if result.answers is not None else []
        if result.outcome == "error":
            message = f"{policy.name}: {result.message}"
            return Verdict("error", message, trials, None, errors + [message])
        if result.outcome == "fail":
            message = result.blamed.get(member.image) or result.message
            if member.image not in result.blamed and result.blamed:  # rejected with the resource, for another image
                others = [image for image in result.blamed if image != member.image]
                message += f" (because of the resource's image{'s' if len(others) > 1 else ''} {', '.join(others)})"
            return Verdict("failed", f"{policy.name}: {message}", trials, None, errors + notes + [message])
        errors += notes
        verified_by = result.answers.verified_by.get(member.image) if result.answers is not None else None
        if first is None and verified_by:
            first = verified_by[0]
    count = len(trials)
    names = ", ".join(a.policy.name for a in member.applying)
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

