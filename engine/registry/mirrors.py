"""Registry mirrors, the Talos / containerd way.

A registry host maps to mirror endpoints tried in order, then the upstream registry itself unless
`skipFallback` is set (Talos `machine.registries.mirrors.<host>` and `RegistryMirrorConfig`, read
from a policy file as plain data, and `--mirror HOST=ENDPOINT`). `docker.io` and `index.docker.io`
name the same registry; `*` is a mirror for every registry. An endpoint is an
`engine.endpoints.EndpointSpec` (`http://…`, `https://…` with the API under `<url>/v2/`, or under
`<url>/` itself with `overridePath`, or `oci:PATH`, an OCI image layout directory): the one set
of endpoint rules, whose errors never show a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..endpoints import EndpointError, EndpointSpec, parse_endpoint, redact_userinfo
from .hosts import normalize_host

WILDCARD = "*"


@dataclass(frozen=True)
class MirrorSpec:
    endpoints: tuple[EndpointSpec, ...]
    skip_fallback: bool = False


@dataclass
class MirrorConfig:
    """Normalized host (or `*`) -> MirrorSpec."""

    mirrors: dict[str, MirrorSpec] = field(default_factory=dict)

    @classmethod
    def coerce(cls, value: MirrorConfig | Mapping[str, MirrorSpec | Iterable[str | EndpointSpec]] | None) -> MirrorConfig:
        """Accept a MirrorConfig, `{host: [endpoint, ...]}` or `{host: MirrorSpec}`."""
        if value is None:
            return cls()
        if isinstance(value, MirrorConfig):
            return value
        config = cls()
        for host, spec in value.items():
            if isinstance(spec, MirrorSpec):
                config.add(host, spec.endpoints, skip_fallback=spec.skip_fallback)
            else:
                config.add(host, [parse_endpoint(e, where=f"mirror for {host}") if isinstance(e, str) else e for e in spec])
        return config

    def add(self, host: str, endpoints: Iterable[EndpointSpec], *, skip_fallback: bool = False) -> None:
        key = WILDCARD if host.strip() == WILDCARD else normalize_host(host)
        old = self.mirrors.get(key)
        merged = tuple(old.endpoints if old else ()) + tuple(endpoints)
        self.mirrors[key] = MirrorSpec(merged, skip_fallback or bool(old and old.skip_fallback))

    def lookup(self, registry: str) -> MirrorSpec | None:
        return self.mirrors.get(normalize_host(registry)) or self.mirrors.get(WILDCARD)

    def __bool__(self) -> bool:
        return bool(self.mirrors)


def parse_mirror_flag(value: str, *, check_exists: bool = True) -> tuple[str, EndpointSpec]:
    """`--mirror HOST=ENDPOINT` -> (normalized host, EndpointSpec); EndpointError otherwise, whose
    message quotes the value without its userinfo."""
    host, sep, endpoint = value.partition("=")
    host = host.strip()
    shown = redact_userinfo(value)
    if not sep or not host or not endpoint.strip():
        raise EndpointError(
            f"invalid --mirror {shown!r}: expected HOST=ENDPOINT, "
            "e.g. docker.io=https://mirror.example.com or ghcr.io=oci:./layout"
        )
    if host != WILDCARD and ("://" in host or "/" in host or " " in host):
        raise EndpointError(
            f"invalid --mirror {shown!r}: HOST is a registry host[:port] such as docker.io or "
            "localhost:5000, not a URL"
        )
    ep = parse_endpoint(endpoint, where=f"invalid --mirror {shown!r}", check_layout=check_exists)
    return (WILDCARD if host == WILDCARD else normalize_host(host)), ep


def mirrors_from_flags(values: Iterable[str], base: MirrorConfig | None = None, *, check_exists: bool = True) -> MirrorConfig:
    """Repeated `--mirror` flags, in order; flags for one host add endpoints in the order given."""
    config = MirrorConfig(dict(base.mirrors)) if base else MirrorConfig()
    for value in values:
        host, ep = parse_mirror_flag(value, check_exists=check_exists)
        config.add(host, [ep])
    return config
