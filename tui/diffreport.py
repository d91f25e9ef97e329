"""How a policy diff reads for people: `pullguard diff`'s text and the dashboard's compare view.

One home for the title of each kind of change and the one-line description of a decision, so
the CLI and the compare screen (ctrl+r) say the same thing in the same words. Every line is
escaped (SPEC §6): image references and patterns come from outside.
"""

from __future__ import annotations

from typing import Any

from pullguard.engine.display import escape_control

# The kinds of change in the order they are listed (see engine/policydiff.py).
CHANGE_TITLES: dict[str, str] = {
    "verifier-weakened": "verifier weakened (accepts every signer it accepted, and more)",
    "newly-denied": "newly denied",
    "newly-unverified": "newly unverified (admitted without verification)",
    "newly-requires-verification": "newly requires verification",
    "verifier-changed": "verifier changed (neither wider nor narrower)",
    "verifier-strengthened": "verifier strengthened (accepts fewer signers)",
    "other-rule": "decided by another rule",
}


def cross_dialect_line(old_dialect: str, new_dialect: str) -> str:
    return f"comparing a {old_dialect} policy with a {new_dialect} policy: rules compared by action and verifier"


def report_lines(result: Any) -> list[str]:
    """Each kind of change with its images (`old -> new`), a blank line after each, then the summary."""
    lines: list[str] = []
    counts = result.counts
    for kind, title in CHANGE_TITLES.items():
        changes = [change for change in result.changes if change.kind == kind]
        if not changes:
            continue
        lines.append(f"{title} ({counts[kind]}):")
        lines.extend(escape_control(f"  {c.image}: {describe(c.old)} -> {describe(c.new)}") for c in changes)
        lines.append("")
    lines.append(summary_line(result))
    return lines


def summary_line(result: Any) -> str:
    """`N changed (K kind, …), M unchanged`."""
    counts = result.counts
    parts = [f"{counts[kind]} {kind}" for kind in CHANGE_TITLES if counts[kind]]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{len(result.changes)} changed{detail}, {result.unchanged} unchanged"


def describe(decision: Any) -> str:
    """One decision: `verify by rule 0 (0000) ghcr.io/* [keyless …]`, or the Kyverno rules."""
    if decision.action is None:
        return f"invalid reference ({decision.error or decision.message})"
    if decision.rule_index is None:
        return str(decision.action)
    where = decision.pattern if decision.pattern is not None else ""
    if decision.rules:
        names = ", ".join(f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules)
        text = f"{decision.action} by {names}"
    else:
        text = f"{decision.action} by rule {decision.rule_index} ({decision.rule_id}) {where}".rstrip()
    if decision.verifier is not None:
        text += f" [{verifier_text(decision.verifier)}]"
    return text


def verifier_text(verifier: Any) -> str:
    data = verifier.to_json()
    if data.get("type") == "public_key":
        return f"public key {data.get('key_fingerprint')}"
    subject = data.get("subject") or (f"/{data.get('subject_regex')}/" if data.get("subject_regex") else None)
    return f"keyless {data.get('issuer')} {subject}"
