"""Kyverno `ImageValidatingPolicy` (policies.kyverno.io v1, v1beta1): the third dialect.

`detect(doc)` and `load(docs, path)` as every dialect has them (engine.policy.dialect); the policy
object is an `IvpolPolicySet`. SPEC §4b.
"""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...yamlsource import Document
from .loader import detect, load_documents
from .policyset import IvpolPolicySet, IvpolRequirements

__all__ = ["IvpolPolicySet", "IvpolRequirements", "detect", "load"]


def load(docs: list[Document], path: str) -> tuple[IvpolPolicySet, list[Diagnostic]]:
    """Every ImageValidatingPolicy document of the file; other documents are ignored."""
    policies, diagnostics = load_documents(docs)
    return IvpolPolicySet(policies), diagnostics
