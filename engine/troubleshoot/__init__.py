"""Troubleshooting a failed pull from the text a person has: `pullguard explain` (SPEC §1, §2).

A pasted `kubectl describe pod` event, a kubelet or containerd (`talosctl logs cri`) line, a
Talos message or a Kyverno admission denial is read (`recognise`), each image it names is
simulated under the policy file when one is given, and `advice` says whether the policy decides
what the node reported, why, and what to change. Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..vocabulary import Decision
from .advice import Advice, PolicyContext, advise
from .paste import MAX_TEXT
from .reasons import Reason
from .recognise import MAX_REPORTS, Reported, recognise

if TYPE_CHECKING:
    from ..policy import LoadedPolicy

__all__ = ["MAX_REPORTS", "MAX_TEXT", "Explanation", "Reason", "Reported", "explain", "explain_json", "recognise"]


@dataclass(frozen=True)
class Explanation:
    reported: Reported
    # The simulated decision for the reported image; None without a policy or an image.
    decision: Decision | None
    advice: Advice

    def to_json(self) -> dict[str, Any]:
        """One SPEC §2 `explain` entry."""
        return {
            "image": self.reported.image,
            "source": self.reported.source,
            "reported": {
                "message": self.reported.message,
                "rule_id": self.reported.rule_id,
                "outcome": self.reported.outcome,
            },
            "decision": self.decision.to_json() if self.decision is not None else None,
            "agrees": self.advice.agrees,
            "cause": self.advice.cause,
            "suggestion": self.advice.suggestion,
        }


def explain(text: str, loaded: LoadedPolicy | None = None) -> list[Explanation]:
    """Every pull error recognised in `text`, explained (under `loaded` when given; a policy
    with errors is the caller's to refuse, as for `simulate`)."""
    reports = recognise(text)
    decisions: dict[str, Decision] = {}
    context = None
    if loaded is not None and loaded.policy is not None:
        from ..simulate import simulate

        images = sorted({r.image for r in reports if r.image is not None})
        decisions = dict(zip(images, simulate(loaded, images), strict=True))
        context = PolicyContext.of(loaded.path, loaded.dialect, loaded.policy)
    out = []
    for report in reports:
        decision = decisions.get(report.image) if report.image is not None else None
        out.append(Explanation(report, decision, advise(report, decision, context)))
    return out


def explain_json(explanations: list[Explanation], policy: str | None) -> dict[str, Any]:
    """The SPEC §2 `explain` document."""
    return {"policy": policy, "explanations": [e.to_json() for e in explanations]}
