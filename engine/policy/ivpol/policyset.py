"""The file's ImageValidatingPolicies as one dialect policy: decisions, explanations, outline.

SPEC §4b: an image's decision is `verify` when a policy's matchImageReferences takes it (the
string as written), `allow` otherwise; `rules` lists every applying policy with its
validations. matchConstraints and matchConditions select resources: given an image with its
resource (selection.ResourceImage: a Kyverno test file, a manifest) they apply first, and the
resource is the validations' `object`; a bare image reference has none, so only
matchImageReferences decide.
A NamespacedImageValidatingPolicy applies only to resources of its own namespace, as Kyverno's
webhook calls it (`pkg/webhooks/resource/ivpol/handler.go`, `NamespacedPolicy`): a bare image has
no namespace and is not checked by it (the decision's message says so). A CEL PolicyException
that excepts the resource makes the policy's part `skip` (engine.policy.ivpol.exceptions); an
image only excepted policies take is `skip`, with Kyverno's words.
Every applying policy is evaluated (no first match); `rule_index`, `rule_id`, `pattern` and
`verifier` describe the first one in file order.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ...vocabulary import AppliedRule, Decision, OutlineItem, RuleTrial, Verifier
from .exceptions import excepting
from .model import ImageMatch, ImageValidatingPolicy, MatchError
from .selection import CATEGORIES, ResourceImage, extract, namespace_of


@dataclass(frozen=True)
class Applying:
    """A policy that takes an image, and the matchImageReferences entry that took it (None: no entries)."""

    policy: ImageValidatingPolicy
    entry: ImageMatch | None


@dataclass(frozen=True)
class IvpolRequirements:
    """What verifying one image asks: every validation of every applying policy must be true."""

    image: str
    applying: tuple[Applying, ...]
    # The resource the image is written in (None: a bare image, a Pod of its own) and its category there
    resource: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    category: str = "containers"

    def cache_key(self) -> Hashable:
        # The image string takes part: validations and verifyImageSignatures see it as written;
        # so does the resource, the validations' `object`.
        # The attestors whole (their JSON leaves out what a verifier holds beyond its identity:
        # roots, log keys, hash algorithm, annotations), so a stricter policy never reuses a pass.
        attestors = tuple(attestor for a in self.applying for attestor in a.policy.attestors)
        return ("kyverno-ivpol", self.image, json.dumps([a.policy.to_json() for a in self.applying], sort_keys=True),
                json.dumps(self.resource, sort_keys=True, default=str), self.category, attestors)

    def to_json(self) -> dict[str, Any]:
        return {"policies": [a.policy.to_json() | {"entry": a.entry.index if a.entry else None} for a in self.applying]}


# Kyverno's words for a resource a PolicyException excepts (pkg/cel/policies/ivpol/engine/engine.go)
SKIPPED_BY_EXCEPTION = "rule is skipped due to policy exception: "


@dataclass
class _Applicable:
    applying: list[Applying] = field(default_factory=list)
    excepted: list[tuple[Applying, list[str]]] = field(default_factory=list)  # with the exceptions' keys
    out_of_scope: list[ImageValidatingPolicy] = field(default_factory=list)  # namespaced, the image has no namespace
    error: str | None = None


def _in_file_order(applying: list[Applying], excepted: list[Applying]) -> list[tuple[Applying, Literal["verify", "skip"]]]:
    both: list[tuple[Applying, Literal["verify", "skip"]]] = [(a, "verify") for a in applying]
    both += [(a, "skip") for a in excepted]
    return sorted(both, key=lambda pair: pair[0].policy.index)


def _out_of_scope(policy: ImageValidatingPolicy) -> str:
    return (f"NamespacedImageValidatingPolicy {policy.scope}/{policy.name} applies only to resources in namespace "
            f"'{policy.scope}' and the image was given without its resource")


class IvpolPolicySet:
    """Every ImageValidatingPolicy of a file, in file order."""

    def __init__(self, policies: Sequence[ImageValidatingPolicy]):
        self.policies = tuple(policies)

    def extracted(self, resource: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(image, extractor name) for the images the policies' `spec.images` extractors find in
        the resource, beside its containers' (each checked as an image of its own); an extractor
        that errors finds none here, and its policy is an error when evaluated."""
        out: dict[tuple[str, str], None] = {}
        for policy in self.policies:
            if not policy.extractors:
                continue
            try:
                if policy.scope is not None and namespace_of(resource) != policy.scope:
                    continue
                if policy.selection is not None and policy.selection.selects(resource):
                    continue
                out.update((pair, None) for pair in extract(policy.extractors, resource))
            except MatchError:
                continue
        return list(out)

    def _applying(self, image: str, resource: Mapping[str, Any] | None, category: str = "containers") -> _Applicable:
        """The policies that take `image` (in `resource`, when known), those a PolicyException
        excepts, and the first matching error (Kyverno stops there). Kyverno's order: the
        policy's scope (a namespaced policy's own namespace), matchConstraints and
        matchConditions, its exceptions, then matchImageReferences."""
        found = _Applicable()
        for policy in self.policies:
            if category not in CATEGORIES and category not in {e.name for e in policy.extractors}:
                continue  # found by another policy's spec.images extractor
            try:
                if policy.scope is not None and (resource is None or namespace_of(resource) != policy.scope):
                    if resource is None and policy.first_match(image) is not None:
                        found.out_of_scope.append(policy)
                    continue
                if resource is not None and policy.selection is not None and policy.selection.selects(resource):
                    continue  # the policy does not select the resource
                keys = excepting(policy, resource) if resource is not None else []
                entry = policy.first_match(image)
            except MatchError as error:
                found.error = f"{policy.name}: {error}"
                return found
            if entry is None:
                continue
            if keys:
                found.excepted.append((Applying(policy, None if entry == "every" else entry), keys))
            else:
                found.applying.append(Applying(policy, None if entry == "every" else entry))
        return found

    def evaluate(self, subject: str) -> Decision:
        image = str(subject)  # a selection.ResourceImage carries its resource
        resource = subject.resource if isinstance(subject, ResourceImage) else None
        found = self._applying(image, resource, subject.category if isinstance(subject, ResourceImage) else "containers")
        applying = found.applying
        rules: list[AppliedRule] = [
            {"policy": a.policy.name, "rule": None, "entry": a.entry.index if a.entry else None, "action": action,
             "validations": [v.expression.text for v in a.policy.validations]}
            for a, action in _in_file_order(applying, [a for a, _ in found.excepted])]
        requirements = IvpolRequirements(image, tuple(applying), resource,
                                         subject.category if isinstance(subject, ResourceImage) else "containers")
        if found.error is not None:
            message = f"cannot tell whether a policy applies: {found.error}"
            return Decision(image, image, "verify", None, None, None, None, message, rules=rules,
                            requirements=requirements, error=message)
        if not applying and found.excepted:
            first_excepted, keys = found.excepted[0]
            message = f"{first_excepted.policy.name}: {SKIPPED_BY_EXCEPTION}{', '.join(keys)}"
            return Decision(image, image, "skip", first_excepted.policy.index, first_excepted.policy.rule_id,
                            first_excepted.entry.text if first_excepted.entry else None, None, message, rules=rules,
                            requirements=requirements)
        if not applying:
            message = "no matched policy" + "".join(f"; {_out_of_scope(p)}" for p in found.out_of_scope)
            return Decision(image, image, "allow", None, None, None, None, message, rules=rules,
                            requirements=requirements)
        first = applying[0]
        more = len(applying) - 1
        count = len(first.policy.validations)
        message = (f"verification required by {first.policy.name}" + (f" and {more} more" if more else "")
                   + f": {count} validation{'s' if count != 1 else ''}")
        # `verifier` is shown (the first attestor's); verification runs the validations, chosen by
        # the requirements' type (engine.verify), never this verifier alone.
        return Decision(image, image, "verify", first.policy.index, first.policy.rule_id,
                        first.entry.text if first.entry else None, _first_verifier(first.policy), message,
                        rules=rules, requirements=requirements)

    def evaluate_many(self, images: Sequence[str]) -> list[Decision]:
        return [self.evaluate(image) for image in images]

    def explain(self, image: str) -> list[RuleTrial]:
        trials = []
        for policy in self.policies:
            pattern = _patterns(policy)
            try:
                entry = policy.first_match(image)
            except MatchError as error:
                trials.append(RuleTrial(policy.index, policy.rule_id, pattern, False, f"error: {error}"))
                continue
            checks = "; ".join(v.expression.text for v in policy.validations) or "no validations"
            resource = image.resource if isinstance(image, ResourceImage) else None
            if entry is not None and policy.scope is not None and (resource is None or namespace_of(resource) != policy.scope):
                why = (_out_of_scope(policy) if resource is None else
                       f"NamespacedImageValidatingPolicy {policy.scope}/{policy.name} applies only to resources in namespace "
                       f"'{policy.scope}'; this one is in '{namespace_of(resource)}'")
                trials.append(RuleTrial(policy.index, policy.rule_id, pattern, False, why))
            elif entry is None:
                trials.append(RuleTrial(policy.index, policy.rule_id, pattern, False,
                                        f"no matchImageReferences entry takes '{image}' (matched as written)"))
            elif entry == "every":
                trials.append(RuleTrial(policy.index, policy.rule_id, pattern, True,
                                        f"no matchImageReferences: every image; verify ({checks})"))
            else:
                trials.append(RuleTrial(policy.index, policy.rule_id, pattern, True,
                                        f"{entry.kind} '{entry.text}' takes '{image}': verify ({checks})"))
        return trials

    def outline(self) -> list[OutlineItem]:
        return [OutlineItem(p.index, p.rule_id, _patterns(p), "verify", p.line, p.end_line) for p in self.policies]


def _patterns(policy: ImageValidatingPolicy) -> str:
    return ", ".join(entry.text for entry in policy.matches) or "*"


def _first_verifier(policy: ImageValidatingPolicy) -> Verifier | None:
    for attestor in policy.attestors:
        if attestor.verifiers:
            return attestor.verifiers[0]
    return None
