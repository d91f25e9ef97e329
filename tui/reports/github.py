"""GitHub Actions workflow commands: `::error file=p.yaml,line=7,title=…::message` (`verify --format github`).

The runner reads one command per line of standard output, so what a registry or a policy file
says must never end a line or start a new command: the message escapes `%`, CR and LF as
GitHub's toolkit does (`%25`, `%0D`, `%0A`), a property value also `:` and `,` (`%3A`, `%2C`).
Control characters are escaped first (SPEC §6), so an ESC never reaches the log viewer raw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pullguard.engine.display import escape_control

if TYPE_CHECKING:
    from pullguard.engine.diagnostics import Diagnostic
    from pullguard.engine.verify import VerifyResult

# Where an image was named: (file, line) in the image list, or None for a command-line argument.
Place = tuple[str, int] | None

_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_PROPERTY = {**_DATA, ":": "%3A", ",": "%2C"}


def escape_data(text: str) -> str:
    """A message for after the `::` (GitHub toolkit's escapeData)."""
    return "".join(_DATA.get(char, char) for char in text)


def escape_property(text: str) -> str:
    """A `file=`, `title=` … value (GitHub toolkit's escapeProperty)."""
    return "".join(_PROPERTY.get(char, char) for char in text)


def command(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    title: str | None = None,
) -> str:
    """One `::error`/`::warning`/`::notice` line; the message may hold several lines of its own
    (joined with LF), each escaped for the terminal before the whole is escaped for GitHub."""
    properties = []
    for name, value in (("file", file), ("line", line), ("col", column), ("title", title)):
        if value is not None:
            properties.append(f"{name}={escape_property(escape_control(str(value)))}")
    shown = "\n".join(escape_control(part) for part in message.split("\n"))
    head = f"::{kind} {','.join(properties)}" if properties else f"::{kind}"
    return f"{head}::{escape_data(shown)}"


def verify_annotations(
    policy: str | None,
    results: Sequence[VerifyResult],
    places: Sequence[Place],
    rule_lines: Mapping[int, int],
    diagnostics: Sequence[Diagnostic] = (),
) -> list[str]:
    """`pullguard verify --format github`: a `::warning` per warning of the policy, and an
    `::error` per image that was not admitted (failed, denied, error), at the line of the image
    list that named it when there is one, else at the line of the rule that decided it
    (`rule_lines`: rule index -> its line in the policy)."""
    out = [
        command("warning", d.message, file=policy, line=d.line, column=d.column, title=f"pullguard: {d.code}")
        for d in diagnostics
        if d.severity == "warning"
    ]
    for result, place in zip(results, places, strict=True):
        if result.admitted:
            continue
        decision = result.decision
        rule_line = rule_lines.get(decision.rule_index) if decision.rule_index is not None else None
        file, line = place if place is not None else (policy, rule_line)
        rule = f" (rule {decision.rule_id})" if decision.rule_id else ""
        lines = [f"{decision.image}: {result.outcome}{rule}: {result.message}"]
        if len(result.errors) > 1:
            lines += [f"- {error}" for error in result.errors]
        out.append(command("error", "\n".join(lines), file=file, line=line, title=f"pullguard verify: {result.outcome}"))
    return out
