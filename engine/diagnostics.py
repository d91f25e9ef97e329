"""Diagnostics: what `check` reports and the editor underlines.

Lines and columns are 1-based and point into the policy file, as SPEC §2 says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


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
