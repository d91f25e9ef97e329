"""Registry mirrors, the Talos / containerd way.

A registry host maps to mirror endpoints tried in order, then the upstream registry itself unless
`skipFallback` is set (Talos `machine.registries.mirrors.<host>` and `RegistryMirrorConfig`, read
from a policy file by `pullguard.engine.policy.talos.registry_mirror_specs`, which builds these objects).
`docker.io` and `index.docker.io` name the same registry; `*` is a mirror for every registry.
An endpoint is `http://…`, `https://…` (the API is under `<url>/v2/`, or under `<url>/` itself with
`overridePath`) or `oci:PATH`, an OCI image layout directory on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from .hosts import normalize_host
from .netenv import redact

WILDCARD = "*"


class MirrorConfigError(ValueError):
    """A `--mirror` value or a mirror document is malformed; the message says what to write instead."""


@dataclass(frozen=True)
class Endpoint:
    url: str  # `http(s)://host[:port][/path]` or `oci:PATH`
    override_path: bool = False

    @property
    def is_oci(self) -> bool:
        return self.url.startswith("oci:")

    @property
    def oci_path(self) -> Path:
        return Path(self.url[4:])

    @property
    def host(self) -> str:
        return "" if self.is_oci else urlsplit(self.url).netloc.lower()

    @property
    def api_base(self) -> str:
        """The URL under which `<name>/manifests/<ref>` lives (no trailing slash)."""
        base = self.url.rstrip("/")
        return base if self.override_path else base + "/v2"

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class MirrorSpec:
    endpoints: tuple[Endpoint, ...]
    skip_fallback: bool = False


@dataclass
class MirrorConfig:
    """Normalized host (or `*`) -> MirrorSpec."""

    mirrors: dict[str, MirrorSpec] = field(default_factory=dict)

    @classmethod
    def coerce(cls, value: MirrorConfig | Mapping[str, MirrorSpec | Iterable[str | Endpoint]] | None) -> MirrorConfig:
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

    def add(self, host: str, endpoints: Iterable[Endpoint], *, skip_fallback: bool = False) -> None:
        key = WILDCARD if host.strip() == WILDCARD else normalize_host(host)
        old = self.mirrors.get(key)
        merged = tuple(old.endpoints if old else ()) + tuple(endpoints)
        self.mirrors[key] = MirrorSpec(merged, skip_fallback or bool(old and old.skip_fallback))

    def lookup(self, registry: str) -> MirrorSpec | None:
        return self.mirrors.get(normalize_host(registry)) or self.mirrors.get(WILDCARD)

    def __bool__(self) -> bool:
        return bool(self.mirrors)


def parse_endpoint(value: str, *, where: str = "mirror endpoint", check_exists: bool = False,
                   override_path: bool = False) -> Endpoint:
    value = value.strip()
    if value.startswith("oci:"):
        path = value[4:]
        if not path:
            raise MirrorConfigError(f"{where}: `oci:` needs a path to an OCI image layout directory, e.g. oci:./layout")
        if check_exists and not (Path(path) / "oci-layout").is_file():
            raise MirrorConfigError(
                f"{where}: {path} is not an OCI image layout (no oci-layout file in that directory)"
            )
        return Endpoint(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MirrorConfigError(
            f"{where}: endpoint {value!r} must start with http://, https:// or oci: "
            "(e.g. https://mirror.example.com or oci:./layout)"
        )
    if parts.username or parts.password:
        raise MirrorConfigError(f"{where}: credentials in the endpoint URL are not supported; use docker config.json")
    if parts.query or parts.fragment:
        raise MirrorConfigError(f"{where}: endpoint {parts.scheme}://{parts.netloc}{parts.path} must not have a query")
    return Endpoint(value, override_path)


def parse_mirror_flag(value: str, *, check_exists: bool = True) -> tuple[str, Endpoint]:
    """`--mirror HOST=ENDPOINT` -> (normalized host, Endpoint)."""
    host, sep, endpoint = value.partition("=")
    host = host.strip()
    value = redact(value)
    if not sep or not host or not endpoint.strip():
        raise MirrorConfigError(
            f"invalid --mirror {value!r}: expected HOST=ENDPOINT, "
            "e.g. docker.io=https://mirror.example.com or ghcr.io=oci:./layout"
        )
    if host != WILDCARD and ("://" in host or "/" in host or " " in host):
        raise MirrorConfigError(
            f"invalid --mirror {value!r}: HOST is a registry host[:port] such as docker.io or "
            "localhost:5000, not a URL"
        )
    ep = parse_endpoint(endpoint, where=f"invalid --mirror {value!r}", check_exists=check_exists)
    return (WILDCARD if host == WILDCARD else normalize_host(host)), ep




def mirrors_from_flags(values: Iterable[str], base: MirrorConfig | None = None, *, check_exists: bool = True) -> MirrorConfig:
    """Repeated `--mirror` flags, in order; flags for one host add endpoints in the order given."""
    config = MirrorConfig(dict(base.mirrors)) if base else MirrorConfig()
    for value in values:
        host, ep = parse_mirror_flag(value, check_exists=check_exists)
        config.add(host, [ep])
    return config
