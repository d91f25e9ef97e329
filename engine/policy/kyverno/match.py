"""How Kyverno decides which verifyImages entries see an image.

Measured from kyverno/kyverno (main, 2026): `pkg/utils/image/infos.go` (the image string:
pullguard.engine.reference.kyverno_image_string), `ext/wildcard` = github.com/IGLOU-EU/go-wildcard v1.0.3
(patterns: pullguard.engine.patterns.wildcard_match, AllMatches, WildcardMasks), `pkg/utils/match/kind.go`
and `pkg/utils/kube/kind.go` (kind selectors), `pkg/autogen/v1` (Pod rules applied to
controllers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from ...patterns import wildcard_match
from .requirements import VerifyEntry

# --- resource kinds ------------------------------------------------------------------------

# The kinds an image list can come from (SPEC §6), with the group/version Kyverno sees.
WORKLOAD_GVK: dict[str, tuple[str, str]] = {
    "Pod": ("", "v1"),
    "Deployment": ("apps", "v1"),
    "StatefulSet": ("apps", "v1"),
    "DaemonSet": ("apps", "v1"),
    "ReplicaSet": ("apps", "v1"),
    "Job": ("batch", "v1"),
    "CronJob": ("batch", "v1"),
    "ReplicationController": ("", "v1"),
}
# pkg/autogen/v1: the controllers a Pod rule is copied to unless the policy says otherwise.
AUTOGEN_CONTROLLERS = frozenset(
    {"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"}
)
AUTOGEN_ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"

_VERSION = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")


def parse_kind_selector(selector: str) -> tuple[str, str, str, str]:
    """(group, version, kind, subresource) as kubeutils.ParseKindSelector reads a `kinds` entry."""
    parts = selector.split("/")
    parts = parts[:-1] + parts[-1].split(".")
    n = len(parts)
    if n == 1:
        return "*", "*", parts[0], ""
    if n == 2:
        if parts[0] == "*" and parts[1] == "*":
            return "*", "*", "*", "*"
        if parts[0] == "*" and parts[1].lower() == parts[1]:
            return "*", "*", parts[0], parts[1]
        if _VERSION.match(parts[0]):
            return "*", parts[0], parts[1], ""
        return "*", "*", parts[0], parts[1]
    if n == 3:
        if _VERSION.match(parts[0]):
            return "*", parts[0], parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    if n == 4:
        return parts[0], parts[1], parts[2], parts[3]
    return "", "", "", ""


def kind_selected(selectors: list[str], kind: str) -> bool:
    """CheckKind for the object itself (no subresource) of one of WORKLOAD_GVK's kinds."""
    return _kind_selected(tuple(selectors), kind)


@lru_cache(maxsize=4096)
def _kind_selected(selectors: tuple[str, ...], kind: str) -> bool:
    group, version = WORKLOAD_GVK.get(kind, ("", "v1"))
    for selector in selectors:
        g, v, k, sub = parse_kind_selector(selector)
        if wildcard_match(g, group) and wildcard_match(v, version) and wildcard_match(k, kind):
            if wildcard_match(sub, ""):
                return True
    return False


def contains_pod(selectors: list[str]) -> bool:
    """kubeutils.ContainsKind(kinds, "Pod"): a selector whose kind part is exactly Pod."""
    return any(parse_kind_selector(s)[2] == "Pod" for s in selectors)


# --- rule selection by resource kind -------------------------------------------------------


@dataclass
class Filter:
    kinds: list[str]
    other: list[str]  # conditions other than kinds, which cannot be known offline


@dataclass
class RuleInfo:
    policy: str
    name: str
    match_any: bool  # `any` (or the legacy single block) vs `all`
    match: list[Filter]
    exclude_any: bool
    exclude: list[Filter]
    autogen: frozenset[str]  # controller kinds this Pod rule is copied to
    has_preconditions: bool
    entries: list[VerifyEntry] = field(default_factory=list)
    _selects: dict[str, tuple[bool, str]] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def mutates_digest(self) -> bool:
        """Does any entry of the rule have mutateDigest (which runs for every image any entry of
        the rule matched, mutate_image.go)? Asked for every outcome: once per rule."""
        return any(e.mutate_digest for e in self.entries)

    def selects(self, kind: str) -> tuple[bool, str]:
        """Does the rule apply to a resource of this kind, and why (for explain)."""
        hit = self._selects.get(kind)
        if hit is None:
            hit = self._selects[kind] = self._selects_uncached(kind)
        return hit

    def _selects_uncached(self, kind: str) -> tuple[bool, str]:
        if not self.match:
            return False, "match selects no kinds"
        pick = any if self.match_any else all
        direct = pick(kind_selected(f.kinds, kind) for f in self.match)
        via = ""
        if not direct and kind in self.autogen:
            direct, via = True, f" (autogen from Pod for {kind})"
        if not direct:
            kinds = sorted({k for f in self.match for k in f.kinds})
            return False, f"match selects {', '.join(kinds) or 'no kinds'}, not {kind}"
        if self.exclude:
            epick = any if self.exclude_any else all
            decided = [f for f in self.exclude if not f.other]
            if decided and epick(kind_selected(f.kinds, kind) for f in self.exclude if not f.other) and len(decided) == len(self.exclude):
                return False, f"exclude removes {kind}"
        notes = sorted({o for f in self.match for o in f.other})
        note = f"; assumed to hold: {', '.join(notes)}" if notes else ""
        if self.has_preconditions:
            note += "; preconditions assumed to hold"
        return True, f"match selects {kind}{via}{note}"
