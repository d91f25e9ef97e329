"""Registry credentials declared in a Talos policy file, read as plain data.

Measured from siderolabs/talos `pkg/machinery/config/types/cri/registry_auth.go`
(`RegistryAuthConfig`: `name`, `username`, `password`, `auth`, `identityToken`, and its
`Validate` messages) and v1alpha1 `machine.registries.config.<host>.auth` (the same four fields).
A `RegistryAuthConfig` for a host replaces a machine-config entry for the same host. What sends
them to a registry is the registry's business; nothing here knows of it, and no message or
repr shows a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...diagnostics import Diagnostic
from ...yamlsource import Document, MappingNode, Node, ScalarNode, map_get, mapping_items, position, scalar_str

KIND = "RegistryAuthConfig"


@dataclass(frozen=True)
class DeclaredAuth:
    host: str
    username: str = ""
    password: str = field(default="", repr=False)
    auth: str = field(default="", repr=False)  # base64 of user:password
    identity_token: str = field(default="", repr=False)


def _text(node: Node | None) -> str:
    return (scalar_str(node) or "") if isinstance(node, ScalarNode) else ""


def _fields(host: str, node: Node | None) -> DeclaredAuth:
    return DeclaredAuth(host, _text(map_get(node, "username")), _text(map_get(node, "password")),
                        _text(map_get(node, "auth")), _text(map_get(node, "identityToken")))


def read_registry_auths(docs: list[Document]) -> tuple[list[DeclaredAuth], list[Diagnostic]]:
    """Every host's declared credentials, and Talos's validation errors for them."""
    found: dict[str, DeclaredAuth] = {}
    diags: list[Diagnostic] = []
    for doc in docs:
        root = doc.root
        if not isinstance(root, MappingNode):
            continue
        kind = _text(map_get(root, "kind"))
        if kind == KIND:
            item = _fields(_text(map_get(root, "name")), root)
            line, column = position(root)
            diags.extend(Diagnostic("error", "talos-registry-auth", f"{KIND}: {message}", line, column)
                         for message in _validate(item))
            if item.host:
                found[item.host] = item
        elif not kind:
            table = map_get(map_get(map_get(root, "machine"), "registries"), "config")
            if isinstance(table, MappingNode):
                for host, _key, value in mapping_items(table):
                    auth = map_get(value, "auth")
                    if isinstance(auth, MappingNode):
                        found.setdefault(host, _fields(host, auth))
    return list(found.values()), diags


def _validate(item: DeclaredAuth) -> list[str]:
    """Talos's `RegistryAuthConfigV1Alpha1.Validate`."""
    errors = []
    if not item.host:
        errors.append("name must be specified")
    if item.username and item.identity_token:
        errors.append("only one of username/password or identityToken authentication can be specified")
    if item.auth and (item.username or item.identity_token):
        errors.append("only one of auth, username/password or identityToken authentication can be specified")
    return errors
