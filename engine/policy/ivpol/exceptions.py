"""CEL PolicyExceptions (`policies.kyverno.io` v1alpha1, v1beta1, v1, kind `PolicyException`).

Kyverno gives a policy the exceptions whose `spec.policyRefs` name it, kind and name alike
(`pkg/cel/policies/ivpol/engine/provider.go`, `pkg/cel/engine/exception.go`: an expired exception
is left out), compiles their `matchConditions` in the policy's own environment
(`pkg/image/verification/evaluator/compiler.go`), and evaluates them once the policy has selected
the resource, before any image is looked at (`evaluator/policy.go` `Evaluate`): when every
condition of one exception is true the policy is not evaluated and its result is a skip,
"rule is skipped due to policy exception: <namespace/name>". An exception without conditions
excepts every resource. A condition that cannot be evaluated excepts nothing: under the policy's
failurePolicy Fail (the default) the policy's result is an error, under Ignore the exception
does not match and the policy is evaluated.

`images` and `allowedValues` are not read by ImageValidatingPolicies (Kyverno's ivpol
environment has no `exceptions` variable); `reportResult` only changes policy reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...yamlsource import Document, MappingNode, ScalarNode, map_get
from .model import MatchError, NamedExpression
from .selection import first_false

if TYPE_CHECKING:
    from .model import ImageValidatingPolicy

API_GROUP = "policies.kyverno.io"
API_VERSIONS = ("v1alpha1", "v1beta1", "v1")


@dataclass(frozen=True)
class PolicyException:
    name: str
    namespace: str | None
    refs: tuple[tuple[str, str], ...]  # (kind, name) of each policyRefs entry
    conditions: tuple[NamedExpression, ...]
    line: int
    expires_at: datetime | None = None
    # A part could not be compiled (its diagnostic says which): Kyverno then cannot compile the
    # policies it names, and pullguard never lets it except
    broken: bool = False

    @property
    def key(self) -> str:
        """How Kyverno names it in the skip message (client-go's MetaNamespaceKeyFunc)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def refers_to(self, policy: ImageValidatingPolicy) -> bool:
        return (policy.kind, policy.name) in self.refs

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) > self.expires_at

    def excepts(self, resource: Mapping[str, Any]) -> bool:
        """Every condition is true over the resource; MatchError when one could not be evaluated
        and none is false."""
        return first_false(self.conditions, resource) is None


def is_cel_exception(doc: Document) -> bool:
    """A `PolicyException` of `policies.kyverno.io` (Kyverno's CEL exception; `kyverno.io`'s older
    PolicyException is for ClusterPolicies)."""
    if doc.root is None or not isinstance(doc.root, MappingNode):
        return False
    api, kind = map_get(doc.root, "apiVersion"), map_get(doc.root, "kind")
    return (isinstance(api, ScalarNode) and api.value.startswith(f"{API_GROUP}/")
            and isinstance(kind, ScalarNode) and kind.value == "PolicyException")


def excepting(policy: ImageValidatingPolicy, resource: Mapping[str, Any]) -> list[str]:
    """The keys of the policy's exceptions that except the resource (empty: none does). A
    condition that errors is MatchError under failurePolicy Fail and excepts nothing under Ignore."""
    keys = []
    for exception in policy.exceptions:
        if exception.expired():
            continue
        if exception.broken:
            raise MatchError(f"PolicyException {exception.key} could not be compiled")
        try:
            if exception.excepts(resource):
                keys.append(exception.key)
        except MatchError as error:
            if policy.failure_policy == "Ignore":
                continue
            raise MatchError(f"PolicyException {exception.key}: {error}") from None
    return keys


def attach(policies: Sequence[ImageValidatingPolicy], exceptions: Sequence[PolicyException]) -> list[ImageValidatingPolicy]:
    """Each policy with the exceptions that name it added to its own."""
    from dataclasses import replace

    return [replace(p, exceptions=p.exceptions + tuple(e for e in exceptions if e.refers_to(p))) for p in policies]


def parse_expiry(text: str) -> datetime | None:
    """An RFC 3339 date-time (`2026-05-01T00:00:00Z`), None when it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None or "T" not in text.upper():
        return None
    return value
