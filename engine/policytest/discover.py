"""Which files `pullguard test` runs: files named on the command line, PolicyTest files in folders."""

from __future__ import annotations

from pathlib import Path

from ..textfile import TextFileError, read_text
from .format import is_policy_test
from .kyvernotest import is_kyverno_test


def discover(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Test files from files and folders, and a message per argument that yields nothing.

    A file named on the command line is always taken (and reported if it is not a PolicyTest);
    a folder contributes every `*.yaml`/`*.yml` below it that holds a PolicyTest document or a
    Kyverno CLI `Test`.
    """
    found: list[Path] = []
    problems: list[str] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            picked = []
            for candidate in candidates:
                try:
                    text = read_text(candidate)
                except (OSError, TextFileError):
                    continue
                if is_policy_test(text) or is_kyverno_test(text):
                    picked.append(candidate)
            if not picked:
                problems.append(f"{arg}: no PolicyTest files found in this folder")
            found.extend(picked)
        elif path.exists():
            found.append(path)
        else:
            problems.append(f"{arg}: no such file or folder")
    return list(dict.fromkeys(found)), problems
