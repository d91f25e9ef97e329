"""A policy's decision, or a verification's outcome, against what a test case expects."""

from __future__ import annotations

from typing import Any

from ..vocabulary import Decision
from .format import TestCase


def rule_matches(expected: int | str, decision: Decision) -> bool:
    """Whether the decision's rule is the expected one.

    An int is the Talos rule index (for Kyverno, the index of the first applying entry). A
    string is a Kyverno `policy/rule` that must be among the applying rules, or a Talos rule id
    such as `0002`.
    """
    if isinstance(expected, int):
        return decision.rule_index == expected
    if decision.rules:
        names = {f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules}
        if expected in names:
            return True
    if decision.rule_id is not None and expected == decision.rule_id:
        return True
    return expected.isdigit() and decision.rule_index is not None and decision.rule_index == int(expected)


def describe_rule(decision: Decision) -> str:
    if decision.rules:
        return ", ".join(f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules)
    if decision.rule_index is None:
        return "no rule"
    return f"rule {decision.rule_index} ({decision.rule_id})"


def actual_of(decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": decision.action,
        "rule_index": decision.rule_index,
        "rule_id": decision.rule_id,
        "pattern": decision.pattern,
    }
    if decision.rules is not None:
        out["rules"] = [f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules]
    return out


def check_decision(case: TestCase, decision: Decision) -> list[str]:
    """What differs between the case's expected action/rule/message and the decision; [] passes."""
    problems: list[str] = []
    if decision.action is None:
        return [f"image reference is invalid: {decision.error or decision.message}"]
    if case.action is not None and decision.action != case.action:
        problems.append(f"expected action {case.action}, got {decision.action} ({describe_rule(decision)})")
    if case.rule is not None and not rule_matches(case.rule, decision):
        problems.append(f"expected rule {case.rule}, got {describe_rule(decision)}")
    if case.message is not None and not case.verify and not decision.message.startswith(case.message):
        problems.append(f"expected message starting {case.message!r}, got {decision.message!r}")
    return problems


def check_verification(case: TestCase, outcome: str | None, message: str | None) -> list[str]:
    problems = []
    if outcome != case.outcome:
        problems.append(f"expected outcome {case.outcome}, got {outcome}: {message}")
    elif case.message is not None and not (message or "").startswith(case.message):
        problems.append(f"expected message starting {case.message!r}, got {message!r}")
    return problems
