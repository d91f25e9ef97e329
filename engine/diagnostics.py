"""Diagnostics: what `check` reports and the editor underlines.

Lines and columns are 1-based and point into the policy file, as SPEC §2 says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class TextEdit:
    """A machine-applicable fix: replace [line:column, end_line:end_column) (1-based, the end
    exclusive) of the policy text with `text`. Where start equals end it is an insertion."""

    line: int
    column: int
    end_line: int
    end_column: int
    text: str

    def apply(self, source: str) -> str:
        """`source` with this edit made (positions past a line's end are clamped to it)."""
        lines = source.split("\n")

        def offset(line: int, column: int) -> int:
            row = min(max(line - 1, 0), len(lines) - 1)
            col = min(max(column - 1, 0), len(lines[row]))
            return sum(len(text) + 1 for text in lines[:row]) + col

        start, end = offset(self.line, self.column), offset(self.end_line, self.end_column)
        return source[:start] + self.text + source[max(start, end):]


def reindent(line: int, current: int, wanted: int) -> TextEdit:
    """The edit that moves the text of `line` from column `current` to column `wanted`."""
    return TextEdit(line, 1, line, current, " " * (wanted - 1))


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    line: int | None = None
    column: int | None = None
    rule_index: int | None = None
    # Where the underline ends (1-based, exclusive column); None underlines one token.
    end_line: int | None = None
    end_column: int | None = None
    # A suggested fix a person can act on; None where there is none.
    fix: str | None = None
    # The fix as edits of the text, where the engine knows them (the editor applies them;
    # not part of the JSON shape).
    edits: tuple[TextEdit, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The SPEC §2 `check` diagnostic shape (extra keys only where set)."""
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "rule_index": self.rule_index,
        }
        if self.fix is not None:
            out["fix"] = self.fix
        return out

    def location(self, path: str) -> str:
        if self.line is None:
            return path
        if self.column is None:
            return f"{path}:{self.line}"
        return f"{path}:{self.line}:{self.column}"


def count(diagnostics: Iterable[Diagnostic], severity: Severity) -> int:
    """How many of the diagnostics have this severity (the `errors`/`warnings` of SPEC §2)."""
    return sum(1 for d in diagnostics if d.severity == severity)
