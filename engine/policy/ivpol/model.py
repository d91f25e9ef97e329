"""A loaded ImageValidatingPolicy, compiled: what decides which images it takes, and what it checks.

Matching (Kyverno `pkg/cel/matching.MatchImage` over `matchImageReferences`): the image string as
written in the resource, no normalization; an entry is a gobwas glob or a CEL expression over
`ref`; no entry takes every image. matchConstraints and matchConditions select resources
(engine.policy.ivpol.selection): they apply where the image's resource is known (a Kyverno test
file, a manifest); a bare image has none, and only matchImageReferences decide for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ...gobglob import Glob, GlobPanic, GlobTooComplex
from ...vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier
from .expressions import CelRuntimeError, Compiled

if TYPE_CHECKING:
    from .exceptions import PolicyException
    from .selection import Selection

PolicyKind = Literal["ImageValidatingPolicy", "NamespacedImageValidatingPolicy"]


class MatchError(Exception):
    """An entry could not say whether it takes the image (Kyverno returns the error)."""


@dataclass(frozen=True)
class ImageMatch:
    """One matchImageReferences entry."""

    index: int
    text: str  # the glob or the expression, as written
    line: int
    glob: Glob | None = None
    expression: Compiled | None = None

    @property
    def kind(self) -> str:
        return "glob" if self.glob is not None else "expression"

    def matches(self, image: str) -> bool:
        if self.glob is not None:
            try:
                return self.glob.match(image)
            except (GlobPanic, GlobTooComplex) as error:
                raise MatchError(f"glob '{self.text}': {error}") from None
        assert self.expression is not None
        try:
            value = self.expression.evaluate({"ref": image})
        except CelRuntimeError as error:
            raise MatchError(f"expression at line {self.line}: {error}") from None
        if not isinstance(value, bool):
            raise MatchError(f"expression at line {self.line}: not a bool")
        return value


@dataclass(frozen=True)
class NamedExpression:
    """A variable (its name, compiled expression and line)."""

    name: str
    expression: Compiled
    line: int


@dataclass(frozen=True)
class Validation:
    index: int
    expression: Compiled
    message: str
    message_expression: Compiled | None
    line: int


@dataclass(frozen=True)
class Attestor:
    """One spec.attestors entry: a cosign key or keyless identities, or what pullguard cannot verify."""

    name: str
    # A signature verifies when it satisfies any of these (keyless: one per identity).
    verifiers: tuple[Verifier, ...]
    # Fields that change Kyverno's verdict and that pullguard does not verify: each makes the
    # attestor's verification an `error` "not verified by pullguard: …", never a silent pass.
    unsupported: tuple[str, ...]
    line: int
    # `cosign.source.repository` (cosign's WithTargetRepository): where the signatures and
    # attestations are looked up, `registry/repository`; "" for the image's own repository.
    repository: str = ""
    # `cosign.source.tagPrefix` (cosign's WithPrefix): before the `.sig`/`.att` tags.
    tag_prefix: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "verifiers": [_verifier_json(v) for v in self.verifiers],
               "unsupported": list(self.unsupported)}
        if self.repository:
            out["repository"] = self.repository
        if self.tag_prefix:
            out["tag_prefix"] = self.tag_prefix
        return out


def _verifier_json(verifier: Verifier) -> dict[str, Any]:
    out = verifier.to_json()
    if isinstance(verifier, KeylessVerifier):
        out["issuer_regex"] = verifier.issuer_regex
    if isinstance(verifier, PublicKeyVerifier):
        out["ignore_tlog"] = verifier.ignore_tlog
    return out


@dataclass(frozen=True)
class Attestation:
    name: str
    kind: Literal["intoto", "referrer"]
    type: str


@dataclass(frozen=True)
class ImageValidatingPolicy:
    index: int  # in file order, among the file's ImageValidatingPolicies
    name: str
    kind: PolicyKind
    namespace: str | None
    line: int
    end_line: int
    matches: tuple[ImageMatch, ...]
    variables: tuple[NamedExpression, ...]
    validations: tuple[Validation, ...]
    attestors: tuple[Attestor, ...]
    attestations: tuple[Attestation, ...]
    required: bool = True
    mutate_digest: bool = True
    verify_digest: bool = True
    validation_actions: tuple[str, ...] = ("Deny",)
    # matchConstraints and matchConditions: applied when the image's resource is known
    selection: Selection | None = field(default=None, compare=False)
    # spec.failurePolicy: under Ignore a PolicyException condition that errors excepts nothing
    failure_policy: str = "Fail"
    # spec.images: custom image extractors, CEL over `object` giving a list of strings (`images.<name>`)
    extractors: tuple[NamedExpression, ...] = field(default=(), compare=False)
    # The CEL PolicyExceptions whose policyRefs name this policy (engine.policy.ivpol.exceptions)
    exceptions: tuple[PolicyException, ...] = field(default=(), compare=False)
    # Set when a part of the policy could not be compiled: the policy is then never evaluated.
    broken: bool = field(default=False, compare=False)

    @property
    def rule_id(self) -> str:
        return self.name

    @property
    def scope(self) -> str | None:
        """The namespace a NamespacedImageValidatingPolicy applies in (`default` where its
        metadata names none, as kubectl creates it); None for a cluster-wide policy."""
        if self.kind != "NamespacedImageValidatingPolicy":
            return None
        return self.namespace or "default"

    @property
    def attestor_names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attestors)

    def first_match(self, image: str) -> ImageMatch | None | Literal["every"]:
        """The entry that takes `image`, "every" when there are no entries, or None."""
        if not self.matches:
            return "every"
        for entry in self.matches:
            if entry.matches(image):
                return entry
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.name, "kind": self.kind, "index": self.index,
            "validations": [v.expression.text for v in self.validations],
            "attestors": [a.to_json() for a in self.attestors],
            "attestations": [{"name": a.name, "kind": a.kind, "type": a.type} for a in self.attestations],
            "required": self.required, "mutate_digest": self.mutate_digest, "verify_digest": self.verify_digest,
            "validation_actions": list(self.validation_actions),
        }


def pod_for(image: str) -> dict[str, Any]:
    """The Pod a bare image stands for (SPEC §4b: a bare image list is Pod containers)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pullguard", "namespace": "default"},
            "spec": {"containers": [{"name": "image", "image": image}]}}
