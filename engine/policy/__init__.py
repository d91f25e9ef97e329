"""Policies: the two dialects pullguard reads (Talos, Kyverno) and what they share.

`load_policy(text)` is the one entry point: it composes the YAML once, detects the dialect
from `apiVersion`/`kind` and hands the documents to the dialect's loader. Each dialect's
policy object offers the same calls: `evaluate(image) -> Decision`,
`evaluate_many(images) -> list[Decision]` and `explain(image) -> list[RuleTrial]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ..vocabulary import DialectName
from ..diagnostics import Diagnostic, count
from ..yamlsource import Document, compose, duplicate_keys



@dataclass
class LoadedPolicy:
    path: str
    dialect: DialectName | None
    # The dialect's policy object (talos.TalosPolicy or kyverno.KyvernoPolicySet); None when
    # nothing usable was found.
    policy: object | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Registry mirrors declared in the same file (Talos `machine.registries.mirrors`,
    # `RegistryMirrorConfig`): host as written -> `pullguard.engine.registry.mirrors.MirrorSpec`
    # (endpoints in order with their overridePath, skipFallback). A relative `oci:PATH` is
    # resolved against the policy file's directory.
    mirror_specs: dict = field(default_factory=dict)

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


def load_policy(text: str, path: str = "<policy>") -> LoadedPolicy:
    """Parse, validate and lint a policy held in memory. Never touches the disk."""
    from . import talos
    from .detect import is_kyverno

    docs, syntax_error = compose(text)
    diagnostics: list[Diagnostic] = [syntax_error] if syntax_error else []
    if any(is_kyverno(d) for d in docs):
        from . import kyverno  # only when needed: the Kyverno loader costs ~35 ms to import

        policy, diags = kyverno.load(docs, path)
        dialect: DialectName | None = "kyverno"
        detect = is_kyverno
    elif any(talos.detect(d) for d in docs) or (not docs and syntax_error):
        policy, diags = talos.load(docs, path)
        dialect = "talos"
        detect = talos.detect
    else:
        # With a syntax error the policy may lie after it: say only what is certain.
        policy, diags, dialect = None, ([] if syntax_error else [_nothing_found(docs)]), None
        detect = None
    diagnostics.extend(diags)
    if detect is not None:
        # Talos (yaml.v3) and kubectl refuse a policy document with a key written twice. The
        # Kyverno decoder reports those in the mappings it reads (with their entry index).
        reported = {(d.line, d.column) for d in diags if d.code == "duplicate-key"}
        for doc in docs:
            if detect(doc):
                diagnostics.extend(d for d in duplicate_keys(doc.root) if (d.line, d.column) not in reported)
    specs, mirror_diagnostics = talos.registry_mirror_specs(docs)
    diagnostics.extend(mirror_diagnostics)
    specs = {
        host: replace(spec, endpoints=tuple(replace(e, url=_relative_to_policy(e.url, path)) for e in spec.endpoints))
        for host, spec in specs.items()
    }
    return LoadedPolicy(path, dialect, policy, diagnostics, specs)


def _relative_to_policy(url: str, path: str) -> str:
    """`oci:../registry` in `samples/talos/policy.yaml` -> `oci:samples/registry`: a layout path
    in a file means a path next to that file, wherever pullguard runs (no disk access here)."""
    import os.path

    if not url.startswith("oci:") or path.startswith("<"):
        return url
    layout = url[4:]
    if not layout or os.path.isabs(layout) or layout.startswith("~"):
        return url
    return "oci:" + os.path.normpath(os.path.join(os.path.dirname(path), layout))


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
