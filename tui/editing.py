"""Editing the policy from the dashboard's keys: quick fixes (ctrl+. / alt+enter / alt+q) and moving a
rule (alt+up / alt+down). The app's actions call these; the text changes through the editor,
so undo, the dirty mark and live validation follow as for typing."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from pullguard.engine.diagnostics import Diagnostic

from .rulemove import move_rule
from .widgets.editor import PolicyEditor


def diagnostic_at(diagnostics: Sequence[Diagnostic], line: int, column: int) -> Diagnostic | None:
    """The diagnostic a quick fix at 1-based (line, column) means: one on that line with
    machine-applicable edits first (the nearest to the column), else any on that line with a fix."""
    here = [d for d in diagnostics if d.line == line]
    for candidates in ([d for d in here if d.edits], [d for d in here if d.fix]):
        if candidates:
            return min(candidates, key=lambda d: abs((d.column or 1) - column))
    return None


def apply_fix(editor: PolicyEditor, diagnostic: Diagnostic | None) -> str:
    """Apply `diagnostic`'s edits in the editor; what to tell the person."""
    if diagnostic is None:
        return "no fix here: move to a line with a diagnostic (f8 jumps to the next)"
    if not diagnostic.edits:
        return f"not applied automatically: {diagnostic.fix}" if diagnostic.fix else "this diagnostic has no fix"
    editor.apply_edits(diagnostic.edits)
    return f"applied: {diagnostic.fix}" if diagnostic.fix else "fix applied"


def move_rule_in_editor(editor: PolicyEditor, line: int, step: int) -> int | None:
    """Move the rule written at 1-based `line` one place (step -1 up, +1 down) by rewriting the
    editor's text (comments move with their rule); the 1-based line it starts at now."""
    moved = move_rule(editor.text, line, step)
    if moved is None:
        return None
    text, new_line = moved
    row, column = editor.cursor_location
    last = editor.document.line_count - 1
    editor.replace(text, (0, 0), (last, len(editor.document.get_line(last))))
    editor.move_cursor((new_line - 1, column if row == line - 1 else 0), center=True)
    return new_line


# What Load understands, detected by content (SPEC §6), in the words of the dialog.
IMAGE_LIST_FORMATS = "a text list, kubectl get pods -o json, manifests (YAML), or talosctl image ls"


def reference_problem(value: str) -> str | None:
    """Why `value` is not an image reference (the Add dialog refuses it), or None."""
    from pullguard.engine.reference import InvalidReference, parse_reference

    try:
        parse_reference(value)
    except InvalidReference as exc:
        return str(exc)
    return None


def problem_counts(text: str, path: str) -> str:
    """"2 errors, 1 warning" for the policy `text` (the analysis cache answers for the text
    on screen); "" when it has neither."""
    from pullguard.engine.analysis import load_cached

    loaded = load_cached(text, path)
    parts = [f"{loaded.errors} error{'s' if loaded.errors != 1 else ''}"] if loaded.errors else []
    if loaded.warnings:
        parts.append(f"{loaded.warnings} warning{'s' if loaded.warnings != 1 else ''}")
    return ", ".join(parts)


# An `oci:` endpoint as a value (`url: oci:…`, or an item of a machine config's `endpoints:`), never
# the words of a comment; the path up to a blank, quote or comment.
_OCI_RELATIVE = re.compile(r"(?m)^(?P<lead>[ \t]*(?:-[ \t]+)?(?:url:[ \t]*)?['\"]?oci:)(?P<path>(?![/~])[^\s'\"#`]+)")


def relative_oci_paths(text: str) -> list[str]:
    """The `oci:` layout paths written relative to the policy's folder."""
    return [m.group("path") for m in _OCI_RELATIVE.finditer(text)]


def relocate_oci_paths(text: str, old_dir: str, new_dir: str) -> str:
    """`text` with each relative `oci:` path rewritten to name the same layout from `new_dir`."""

    def moved(match: re.Match[str]) -> str:
        layout = os.path.normpath(os.path.join(os.path.abspath(old_dir), match.group("path")))
        return match.group("lead") + os.path.relpath(layout, os.path.abspath(new_dir))

    return _OCI_RELATIVE.sub(moved, text)


def trusted_root_problem(path: str) -> str | None:
    """Why `path` cannot be used as the trusted root (SPEC §6: refused before any verification)."""
    from pullguard.engine.signatures.trust import TrustedRootError, load_trusted_root

    try:
        load_trusted_root(path)
    except TrustedRootError as exc:
        return str(exc)
    except (OSError, ValueError) as exc:
        return f"cannot read trusted root {path}: {exc}"
    return None


def replace_text(editor: PolicyEditor, text: str) -> None:
    """Replace the whole text (one undo step), the cursor kept on its line."""
    row, column = editor.cursor_location
    last = editor.document.line_count - 1
    editor.replace(text, (0, 0), (last, len(editor.document.get_line(last))))
    row = min(row, editor.document.line_count - 1)
    editor.move_cursor((row, min(column, len(editor.document.get_line(row)))))
