"""Talos `ImageVerificationConfig` (v1alpha1): the dialect's front door for `engine.policy`.

- `rules`: one rule as written; `loader`: reading and merging the documents (`load`, `detect`);
- `validation`: Talos's own `Validate` messages; `lints`: pullguard's lints (SPEC §5);
- `subject` and `evaluate`: the match subject and first-match evaluation (`TalosPolicy`);
- `mirrors`: `machine.registries.mirrors` / `RegistryMirrorConfig` read as plain data.
"""

from __future__ import annotations

from .loader import detect, load

__all__ = ["detect", "load"]
