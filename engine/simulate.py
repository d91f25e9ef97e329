"""Simulation: which rule decides for each image, and what it asks for. No network."""

from __future__ import annotations

from typing import Any

from .policy import LoadedPolicy
from .vocabulary import Decision


class PolicyNotUsable(ValueError):
    """The policy has no rules object to evaluate (nothing found, or it did not parse)."""


def simulate(loaded: LoadedPolicy, images: list[str]) -> list[Decision]:
    """One Decision per image, in order, from the dialect's own evaluation.

    Refusing a policy that has errors is the caller's choice (the CLI refuses, the editor
    simulates what it can while the author types); this only needs a policy object.
    """
    if loaded.policy is None:
        raise PolicyNotUsable(f"{loaded.path}: no policy to simulate")
    return loaded.policy.evaluate_many(list(images))


def simulate_json(loaded: LoadedPolicy, decisions: list[Decision]) -> dict[str, Any]:
    """The SPEC §2 `simulate` document."""
    return {
        "policy": loaded.path,
        "dialect": loaded.dialect,
        "results": [d.to_json() for d in decisions],
    }
