"""SARIF 2.1.0 for `pullguard check --format sarif`, as GitHub code scanning accepts it.

One run, tool `pullguard`; one rule per diagnostic code (its id is the code, as in `[code]` of
the text output) and one result per diagnostic, at its region (1-based line and column, the
end column one past the last character, as SARIF counts). GitHub places a result only by its
region's `startLine`, so a diagnostic about the whole file points at line 1. The message is the
diagnostic's, with its fix when it has one; SARIF is JSON, so nothing needs escaping for a
terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from pullguard.engine.diagnostics import Diagnostic

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def artifact_uri(path: str) -> dict[str, str]:
    """A relative path stays relative (to the checkout: `%SRCROOT%`), with `/` separators and
    percent-encoding; an absolute path is a `file:` URI."""
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path.replace(os.sep, "/")), "uriBaseId": "%SRCROOT%"}


def _region(diag: Diagnostic) -> dict[str, int]:
    region = {"startLine": diag.line if diag.line is not None else 1}
    if diag.line is not None and diag.column is not None:
        region["startColumn"] = diag.column
        if diag.end_line is not None and diag.end_column is not None and (diag.end_line, diag.end_column) > (diag.line, diag.column):
            region["endLine"] = diag.end_line
            region["endColumn"] = diag.end_column
    return region


def sarif_log(path: str, diagnostics: Sequence[Diagnostic], version: str) -> dict[str, Any]:
    """The SARIF log of one policy file's diagnostics, in the order given."""
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for diag in diagnostics:
        if diag.code not in rule_index:
            rule_index[diag.code] = len(rules)
            rules.append({"id": diag.code, "shortDescription": {"text": diag.code}})
        text = diag.message if not diag.fix else f"{diag.message} (fix: {diag.fix})"
        result: dict[str, Any] = {
            "ruleId": diag.code,
            "ruleIndex": rule_index[diag.code],
            "level": _LEVEL[diag.severity],
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_uri(path), "region": _region(diag)}}],
        }
        if diag.rule_index is not None:
            result["properties"] = {"rule_index": diag.rule_index}
        results.append(result)
    run = {
        "tool": {"driver": {"name": "pullguard", "version": version, "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
