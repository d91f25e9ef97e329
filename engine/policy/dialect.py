"""The seam between the policy dialects and everything that uses a policy.

Every dialect is a package under `engine.policy` with a module-level `detect(doc) -> bool` and
`load(docs, path) -> (policy, diagnostics)`; the policy object it returns is a `PolicyModel`.
Simulation, verification, diffs, tests and the faces call only what `PolicyModel` declares, so a
third dialect is a new package and one `Dialect` entry in `engine.policy.DIALECTS`: no
`hasattr`, no `object`-typed field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..diagnostics import Diagnostic
from ..vocabulary import Decision, DialectName, OutlineItem, RuleTrial
from ..yamlsource import Document


class PolicyModel(Protocol):
    """A loaded policy of any dialect: what it decides for an image, and why."""

    def evaluate(self, image: str) -> Decision:
        """The decision for one image reference (an invalid reference is a decision with `error`)."""
        ...

    def evaluate_many(self, images: Sequence[str]) -> list[Decision]:
        """One decision per image, in order (as `evaluate` gives them, faster for many)."""
        ...

    def explain(self, image: str) -> list[RuleTrial]:
        """Every rule in order and why it did or did not apply to this image."""
        ...

    def outline(self) -> list[OutlineItem]:
        """The rules in file order, for the editor's outline."""
        ...


# A dialect's `load(docs, path)`: the policy and every diagnostic of loading, validation and lints.
Load = Callable[[list[Document], str], tuple[PolicyModel, list[Diagnostic]]]


@dataclass(frozen=True)
class Dialect:
    """One dialect as `load_policy` sees it."""

    name: DialectName
    # Is this document written in the dialect (from apiVersion/kind alone)? Cheap: no loader import.
    detect: Callable[[Document], bool]
    # Imports the dialect's loader only when a file needs it, then loads.
    load: Load
    # The same policy and every error diagnostic, for a caller that only decides whether to
    # refuse the policy (simulate): it may skip lints that can only warn. None: `load`.
    load_errors: Load | None = None
