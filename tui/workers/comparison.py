"""Compare with the saved version (ctrl+r): the policy on disk against the editor's, over the images.

Runs in a thread (`load_policy` rather than the analysis cache, which belongs to the event
loop) and reports `ComparisonReady` with the diff, or `ComparisonRefused` saying why not.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from pullguard.engine.userfile import read_user_file


class ComparisonReady(Message):
    def __init__(self, path: str, result: Any, cross: bool, old_dialect: str, new_dialect: str) -> None:
        super().__init__()
        self.path = path
        self.result = result  # pullguard.engine.policydiff's PolicyDiff
        self.cross = cross
        self.old_dialect = old_dialect
        self.new_dialect = new_dialect


class ComparisonRefused(Message):
    """No comparison: `unreadable` is why the saved file could not be read (a dialog), else
    `message` says which side has errors (a notification)."""

    def __init__(self, message: str, *, unreadable: bool = False) -> None:
        super().__init__()
        self.message = message
        self.unreadable = unreadable


def compare_with_saved(path: str, text: str, images: list[str]) -> Message:
    from pullguard.engine.policy import load_policy
    from pullguard.engine.policydiff import diff_policies

    saved, problem = read_user_file(path)
    if saved is None:
        return ComparisonRefused(problem or f"{path}: cannot be read", unreadable=True)
    old = load_policy(saved, path)
    new = load_policy(text, path)
    if new.errors or new.policy is None:
        return ComparisonRefused("the edited policy has errors: fix them before comparing")
    if old.errors or old.policy is None:
        return ComparisonRefused(f"the saved policy {path} has errors: comparing needs two valid policies")
    cross = old.dialect != new.dialect
    result = diff_policies(old.policy, new.policy, images, cross_dialect=cross)
    return ComparisonReady(path, result, cross, old.dialect or "", new.dialect or "")
