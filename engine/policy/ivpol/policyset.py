"""The file's ImageValidatingPolicies as one dialect policy: decisions, explanations, outline.

SPEC §4b: an image's decision is `verify` when a policy's matchImageReferences takes it (the
string as written), `allow` otherwise; `rules` lists every applying policy with its
validations. matchConstraints and matchConditions select resources: given an image with its
resource (selection.ResourceImage: a Kyverno test file, a manifest) they apply first, and the
resource is the validations' `object`; a bare image reference has none, so only
matchImageReferences decide.
Every applying policy is evaluated (no first match); `rule_index`, `rule_id`, `pattern` and
`verifier` describe the first one in file order.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...vocabulary import AppliedRule, Decision, OutlineItem, RuleTrial, Verifier
from .model import ImageMatch, ImageValidatingPolicy, MatchError
from .selection import ResourceImage


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
        return ("kyverno-ivpol", self.image, json.dumps([a.policy.to_json() for a in self.applying], sort_keys=True),
                json.dumps(self.resource, sort_keys=True, default=str), self.category)

    def to_json(self) -> dict[str, Any]:
        return {"policies": [a.policy.to_json() | {"entry": a.entry.index if a.entry else None} for a in self.applying]}


class IvpolPolicySet:
    """Every ImageValidatingPolicy of a file, in file order."""

    def __init__(self, policies: Sequence[ImageValidatingPolicy]):
        self.policies = tuple(policies)

    def _applying(self, image: str, resource: Mapping[str, Any] | None) -> tuple[list[Applying], str | None]:
        """The policies that take `image` (in `resource`, when known), and the first matching
        error (Kyverno stops there)."""
        out: list[Applying] = []
        for policy in self.policies:
            try:
                if resource is not None and policy.selection is not None and policy.selection.selects(resource):
                    continue  # the policy does not select the resource
                entry = policy.first_match(image)
            except MatchError as error:
                return out, f"{policy.name}: {error}"
            if entry is not None:
                out.append(Applying(policy, None if entry == "every" else entry))
        return out, None

    def evaluate(self, subject: str) -> Decision:
        image = str(subject)  # a selection.ResourceImage carries its resource
        resource = subject.resource if isinstance(subject, ResourceImage) else None
        applying, error = self._applying(image, resource)
        rules: list[AppliedRule] = [
            {"policy": a.policy.name, "rule": None, "entry": a.entry.index if a.entry else None, "action": "verify",
             "validations": [v.expression.text for v in a.policy.validations]} for a in applying]
        requirements = IvpolRequirements(image, tuple(applying), resource,
                                         subject.category if isinstance(subject, ResourceImage) else "containers")
        if error is not None:
            message = f"cannot tell whether a policy applies: {error}"
            return Decision(image, image, "verify", None, None, None, None, message, rules=rules,
                            requirements=requirements, error=message)
        if not applying:
            return Decision(image, image, "allow", None, None, None, None, "no matched policy", rules=rules,
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
            if entry is None:
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
