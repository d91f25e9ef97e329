"""Which dialect a YAML document is written in, read from `apiVersion`/`kind` alone.

Kept apart from the dialect loaders so that reading a Talos policy (the TUI's first frame)
never pays for importing the Kyverno loader.
"""

from __future__ import annotations

from ..yamlsource import Document, ScalarNode, map_get

KYVERNO_KINDS = ("ClusterPolicy", "Policy")
IVPOL_KINDS = ("ImageValidatingPolicy", "NamespacedImageValidatingPolicy")


def is_kyverno(doc: Document) -> bool:
    """A `ClusterPolicy`/`Policy` of `kyverno.io` (with or without verifyImages rules)."""
    if doc.root is None:
        return False
    api, kind = map_get(doc.root, "apiVersion"), map_get(doc.root, "kind")
    return (isinstance(api, ScalarNode) and api.value.startswith("kyverno.io/")
            and isinstance(kind, ScalarNode) and kind.value in KYVERNO_KINDS)


def is_image_validating_policy(doc: Document) -> bool:
    """An `ImageValidatingPolicy`/`NamespacedImageValidatingPolicy` of `policies.kyverno.io`."""
    if doc.root is None:
        return False
    api, kind = map_get(doc.root, "apiVersion"), map_get(doc.root, "kind")
    return (isinstance(api, ScalarNode) and api.value.startswith("policies.kyverno.io/")
            and isinstance(kind, ScalarNode) and kind.value in IVPOL_KINDS)
