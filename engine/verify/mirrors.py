"""The mirrors of one run: the policy file's and `--mirror`'s, merged per host."""

from __future__ import annotations

from collections.abc import Mapping

from pullguard.engine.endpoints import EndpointSpec, parse_endpoint
from pullguard.engine.policy.talos.mirrors import DeclaredMirrors
from pullguard.engine.registry.mirrors import MirrorConfig


def merge_mirrors(from_policy: Mapping[str, DeclaredMirrors], from_cli: Mapping[str, list[str]] | None) -> MirrorConfig:
    """Per host: command-line endpoints first, then the policy file's (with their overridePath),
    without repeats; the file's skipFallback holds for its host."""
    cli = from_cli or {}
    config = MirrorConfig()
    for host in dict.fromkeys([*cli, *from_policy]):
        endpoints: list[EndpointSpec] = [parse_endpoint(e, where=f"mirror for {host}") for e in cli.get(host, [])]
        spec = from_policy.get(host)
        if spec is not None:
            seen = {e.url for e in endpoints}
            endpoints += [e for e in spec.endpoints if e.url not in seen]
        config.add(host, endpoints, skip_fallback=bool(spec is not None and spec.skip_fallback))
    return config
