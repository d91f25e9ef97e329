"""Registry mirrors declared in a Talos policy file, read as plain data.

Read: v1alpha1 `machine.registries.mirrors.<host>: {endpoints: [url], overridePath,
skipFallback}` and `RegistryMirrorConfig` documents (`name`, `endpoints: [{url, overridePath}]`,
`skipFallback`). A `RegistryMirrorConfig` for a host replaces a machine-config entry for the
same host. Each endpoint goes through `engine.endpoints` (the rules `--mirror` follows too); one
that cannot be used is left out with a `mirror-endpoint-invalid` warning at its position. What
routes requests through them is the registry's business: nothing here knows of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...diagnostics import Diagnostic
from ...endpoints import EndpointError, EndpointSpec, parse_endpoint
from ...yamlsource import Document, MappingNode, Node, SequenceNode, end_position, map_get, mapping_items, position, scalar_bool, scalar_str


@dataclass(frozen=True)
class DeclaredMirrors:
    """The mirrors a file declares for one registry host, in the order they are tried."""

    endpoints: tuple[EndpointSpec, ...]
    skip_fallback: bool = False  # the upstream registry itself is never asked


# (host as written, [(url, overridePath, where the url is written)], skipFallback node, replaces)
_Found = tuple[str, list[tuple[str, bool, Node]], Node | None, bool]


def read_mirrors(docs: list[Document]) -> tuple[dict[str, DeclaredMirrors], list[Diagnostic]]:
    """host (as written) -> DeclaredMirrors, and a warning for each endpoint left out."""
    found: list[_Found] = []
    for doc in docs:
        root = doc.root
        if not isinstance(root, MappingNode):
            continue
        kind = _scalar(map_get(root, "kind"))
        if kind == "RegistryMirrorConfig":
            host = _scalar(map_get(root, "name"))
            if not host:
                continue
            endpoints = []
            eps = map_get(root, "endpoints")
            if isinstance(eps, SequenceNode):
                for ep in eps.value:
                    url_node = map_get(ep, "url")
                    url = _scalar(url_node)
                    if url_node is not None and url:
                        endpoints.append((url, _flag(map_get(ep, "overridePath")), url_node))
            found.append((host, endpoints, map_get(root, "skipFallback"), True))
        elif kind is None:
            table = map_get(map_get(map_get(root, "machine"), "registries"), "mirrors")
            if not isinstance(table, MappingNode):
                continue
            for host, _key, value in mapping_items(table):
                if not isinstance(value, MappingNode):
                    continue
                eps = map_get(value, "endpoints")
                override = _flag(map_get(value, "overridePath"))
                endpoints = []
                if isinstance(eps, SequenceNode):
                    endpoints = [(url, override, e) for e in eps.value if (url := _scalar(e))]
                found.append((host, endpoints, map_get(value, "skipFallback"), False))

    mirrors: dict[str, DeclaredMirrors] = {}
    diags: list[Diagnostic] = []
    for host, endpoints, skip_node, replaces in found:
        if host in mirrors and not replaces:
            continue  # the machine config's entry yields to a RegistryMirrorConfig for the host
        parsed = []
        for url, override, node in endpoints:
            try:
                parsed.append(parse_endpoint(url, where=f"mirror for {host}", override_path=override))
            except EndpointError as exc:
                line, column = position(node)
                diags.append(Diagnostic("warning", "mirror-endpoint-invalid", f"{exc}; this endpoint is not used",
                                        line, column, None, *end_position(node)))
        mirrors[host] = DeclaredMirrors(tuple(parsed), _flag(skip_node))
    return mirrors, diags


def _scalar(node: Node | None) -> str | None:
    return scalar_str(node) if node is not None else None


def _flag(node: Node | None) -> bool:
    return bool(node is not None and scalar_bool(node))
