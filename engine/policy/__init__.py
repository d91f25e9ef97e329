"""Policies: the dialects pullguard reads (Talos, Kyverno verifyImages, Kyverno ImageValidatingPolicy)
behind one seam (`dialect.PolicyModel`).

`load_policy(text)` is the one entry point: it composes the YAML once, detects the dialect
from `apiVersion`/`kind` and hands the documents to the dialect's loader. Whatever the dialect,
the policy object offers `evaluate(image) -> Decision`, `evaluate_many(images)`,
`explain(image) -> list[RuleTrial]` and `outline()`.
"""

from __future__ import annotations

import os.path
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, count
from ..gcpause import gc_paused
from ..vocabulary import DialectName
from ..yamlschema import duplicate_keys, problem_diagnostic
from ..yamlsource import Document, compose
from . import talos
from .detect import is_image_validating_policy, is_kyverno
from .dialect import Dialect, PolicyModel
from .talos import talosctl
from .talos.mirrors import DeclaredMirrors, read_mirrors
from .talos.registryauth import DeclaredAuth, read_registry_auths


def _load_kyverno(docs: list[Document], path: str) -> tuple[PolicyModel, list[Diagnostic]]:
    from .kyverno.loader import load  # only when needed: the Kyverno loader costs ~35 ms to import

    return load(docs, path)


def _load_kyverno_errors(docs: list[Document], path: str) -> tuple[PolicyModel, list[Diagnostic]]:
    from .kyverno.loader import load

    return load(docs, path, errors_only=True)


def _load_ivpol(docs: list[Document], path: str) -> tuple[PolicyModel, list[Diagnostic]]:
    from . import ivpol  # only when needed: it loads the CEL library

    return ivpol.load(docs, path)


def _load_talos_errors(docs: list[Document], path: str) -> tuple[PolicyModel, list[Diagnostic]]:
    return talos.load(docs, path, errors_only=True)


_TALOS = Dialect("talos", talos.detect, talos.load, _load_talos_errors)
# Tried in order: the first dialect that claims a document reads the whole file.
DIALECTS: tuple[Dialect, ...] = (Dialect("kyverno", is_kyverno, _load_kyverno, _load_kyverno_errors),
                                 Dialect("kyverno-ivpol", is_image_validating_policy, _load_ivpol), _TALOS)


@dataclass
class LoadedPolicy:
    path: str
    dialect: DialectName | None
    # The dialect's policy object; None when nothing usable was found.
    policy: PolicyModel | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Registry mirrors declared in the same file (Talos `machine.registries.mirrors`,
    # `RegistryMirrorConfig`): host as written -> its endpoints in order (with their
    # overridePath) and skipFallback. A relative `oci:PATH` is resolved against the policy
    # file's directory.
    mirror_specs: dict[str, DeclaredMirrors] = field(default_factory=dict)
    # Registry credentials declared in the same file (Talos `RegistryAuthConfig`,
    # `machine.registries.config.<host>.auth`); their secrets never show in a repr.
    registry_auths: list[DeclaredAuth] = field(default_factory=list)

    @property
    def mirrors(self) -> dict[str, list[str]]:
        """host -> mirror endpoint URLs in the order they are tried."""
        return {host: [e.url for e in spec.endpoints] for host, spec in self.mirror_specs.items()}

    @property
    def mirror_skip_fallback(self) -> frozenset[str]:
        """Hosts whose mirrors say `skipFallback: true` (the upstream registry is never asked)."""
        return frozenset(host for host, spec in self.mirror_specs.items() if spec.skip_fallback)

    @property
    def errors(self) -> int:
        return count(self.diagnostics, "error")

    @property
    def warnings(self) -> int:
        return count(self.diagnostics, "warning")


def load_policy(text: str, path: str = "<policy>", errors_only: bool = False) -> LoadedPolicy:
    """Parse, validate and lint a policy held in memory. Never touches the disk.

    `errors_only`: the caller needs only what refuses the policy (simulate), so the lints that
    can only warn, the costliest part of loading a fleet-sized policy, may be skipped.
    """
    with gc_paused():  # YAML nodes, rules, diagnostics: many objects, no cycles
        return _load_policy(text, path, errors_only)


def _load_policy(text: str, path: str, errors_only: bool) -> LoadedPolicy:
    docs, problem = compose(text)
    syntax_error = problem_diagnostic(problem) if problem is not None else None
    diagnostics: list[Diagnostic] = [syntax_error] if syntax_error else []
    nodes: list[talosctl.NodeView] = []
    if talosctl.is_talosctl_output(docs):  # `talosctl get machineconfig|imageverificationrules -o yaml`
        nodes, found = talosctl.unwrap(docs, text)
        diagnostics.extend(found)
        docs = nodes[0].documents()
    dialect = next((d for d in DIALECTS if any(d.detect(doc) for doc in docs)), None)
    if dialect is None and not docs and syntax_error:
        dialect = _TALOS  # nothing parsed at all: an empty Talos policy, the error says why
    policy: PolicyModel | None = None
    if dialect is not None:
        load = dialect.load_errors if errors_only and dialect.load_errors is not None else dialect.load
        policy, diags = load(docs, path)
        diagnostics.extend(diags)
        # Talos (yaml.v3) and kubectl refuse a policy document with a key written twice. The
        # Kyverno decoder reports those in the mappings it reads (with their entry index).
        reported = {(d.line, d.column) for d in diags if d.code == "duplicate-key"}
        for doc in docs:
            if dialect.detect(doc):
                diagnostics.extend(d for d in duplicate_keys(doc.root, doc.has_anchors) if (d.line, d.column) not in reported)
    elif not syntax_error:
        # With a syntax error the policy may lie after it: say only what is certain.
        diagnostics.append(_nothing_found(docs))
    if len(nodes) > 1:
        diagnostics.extend(_other_nodes(nodes, path))
    mirrors, mirror_diagnostics = read_mirrors(docs)
    diagnostics.extend(mirror_diagnostics)
    auths, auth_diagnostics = read_registry_auths(docs)
    diagnostics.extend(auth_diagnostics)
    if not path.startswith("<"):  # `oci:../registry` in a file means next to that file
        directory = os.path.dirname(path)
        mirrors = {host: DeclaredMirrors(tuple(e.with_layout_under(directory) for e in spec.endpoints), spec.skip_fallback)
                   for host, spec in mirrors.items()}
    return LoadedPolicy(path, dialect.name if dialect is not None else None, policy, diagnostics, mirrors, auths)


def _other_nodes(nodes: list[talosctl.NodeView], path: str) -> list[Diagnostic]:
    """Several nodes in one talosctl output: the first node's rules are the policy; every other
    node's own findings, and each rule where its rule set differs from the first's."""
    first, base_diags = talos.load(nodes[0].documents(), path)
    seen = {(d.code, d.message, d.line, d.column) for d in base_diags}
    out: list[Diagnostic] = []
    for node in nodes[1:]:
        policy, diags = talos.load(node.documents(), path)
        out.extend(d for d in diags if (d.code, d.message, d.line, d.column) not in seen)
        out.extend(talosctl.compare_nodes(nodes[0].name or "?", first.rules, node.name or "?", policy.rules))
    return out


def _nothing_found(docs: list[Document]) -> Diagnostic:
    """An empty or comment-only file is the same error as a machine config without the
    document: Talos would have no ImageVerificationConfig to read in either case."""
    empty = all(d.root is None for d in docs)
    return Diagnostic(
        "error",
        "no-policy",
        "no ImageVerificationConfig (Talos) or ClusterPolicy/Policy with verifyImages (Kyverno) found",
        1,
        1,
        fix=("start with 'apiVersion: v1alpha1', 'kind: ImageVerificationConfig' and 'rules:' "
             "(or open a new file with 'pullguard edit' for a starter policy)") if empty else None,
    )
