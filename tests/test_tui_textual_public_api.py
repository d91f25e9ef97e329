"""tui/ uses Textual through its public API only (issue 15).

A private method or attribute of a Textual class can change in any Textual release, and
overriding one by accident (a helper named `_compose` on a widget) breaks the widget at once.
Scanned from the source: in every class of tui/ that derives from a Textual class,
- a method `def _name` where `_name` is defined by a Textual base (an override),
- `self._name` or `super()._name` where `_name` is a method or attribute of a Textual base
  (a read, a write, a call), and
- an import from a private Textual module (`textual.document._syntax_aware_document`).

ALLOWED lists exceptions; it is empty since the editor moved to `TextArea.get_line` styling and
`notify_style_update` (issue 15), and it may only shrink: an entry that no longer occurs fails.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUI = ROOT / "tui"

# (file relative to the repo, class, private name of a Textual base it uses)
ALLOWED: set[tuple[str, str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def _textual_names(cls: type) -> frozenset[str]:
    """The private names a Textual class defines: in its namespace, or set as `self._x` in its source."""
    names = {name for name in vars(cls) if _private(name)}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return frozenset(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            if _private(node.attr) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return frozenset(names)


def _textual_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "textual"]


def _module_name(path: Path) -> str:
    return "pullguard." + ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _uses(path: Path) -> set[tuple[str, str, str]]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    relative = str(path.relative_to(ROOT))
    found: set[tuple[str, str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "textual":
            if any(_private(part) for part in node.module.split(".")):
                found.add((relative, "<import>", node.module))
    module = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        if module is None:
            module = importlib.import_module(_module_name(path))
        cls = getattr(module, node.name, None)
        if not isinstance(cls, type):
            continue
        bases = _textual_bases(cls)
        if not bases:
            continue
        textual = frozenset().union(*(_textual_names(base) for base in bases))
        for item in ast.walk(node):
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in textual:
                found.add((relative, node.name, item.name))
            if isinstance(item, ast.Attribute) and item.attr in textual:
                owner = item.value
                is_self = isinstance(owner, ast.Name) and owner.id == "self"
                is_super = isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super"
                if is_self or is_super:
                    found.add((relative, node.name, item.attr))
    return found


def _all_uses() -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for path in sorted(TUI.rglob("*.py")):
        found |= _uses(path)
    return found


def test_tui_uses_no_private_textual_name_beyond_the_shrinking_allow_list():
    found = _all_uses()
    assert sorted(found - ALLOWED) == []
    # Removed from the code: remove it here too, so the list only shrinks.
    assert sorted(ALLOWED - found) == []


SAMPLE = '''
from textual.widgets import OptionList
from textual.document._syntax_aware_document import SyntaxAwareDocument


class Outline(OptionList):
    def _replace_option_prompt(self, index, prompt):
        self._clear_caches()
        return super()._get_visual(prompt)

    def _own_helper(self):
        return self._mine
'''


def test_the_scan_finds_overrides_reads_calls_and_private_imports(tmp_path, monkeypatch):
    """The scan itself, on a module written to break every rule (and one helper that breaks none)."""
    package = tmp_path / "scanned"
    package.mkdir()
    (package / "outline.py").write_text(SAMPLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    this = sys.modules[__name__]
    monkeypatch.setattr(this, "ROOT", tmp_path)
    monkeypatch.setattr(this, "_module_name", lambda path: "scanned.outline")
    assert _uses(package / "outline.py") == {
        ("scanned/outline.py", "<import>", "textual.document._syntax_aware_document"),
        ("scanned/outline.py", "Outline", "_replace_option_prompt"),
        ("scanned/outline.py", "Outline", "_clear_caches"),
        ("scanned/outline.py", "Outline", "_get_visual"),
    }
