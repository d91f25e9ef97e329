"""Simulation: which rule decides for each image, and what it asks for. No network."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from .gcpause import gc_paused
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
    with gc_paused():  # one Decision per image, no cycles
        return loaded.policy.evaluate_many(list(images))


def simulate_chunks(loaded: LoadedPolicy, images: Iterable[str], size: int = 50_000) -> Iterator[list[Decision]]:
    """`simulate` over a stream of images, `size` at a time, so a fleet's decisions can be
    written out as they come instead of all being held at once (the policy's memo of match
    subjects is shared by every chunk)."""
    if loaded.policy is None:
        raise PolicyNotUsable(f"{loaded.path}: no policy to simulate")
    stream = iter(images)
    while chunk := list(islice(stream, size)):
        with gc_paused():  # not across the yield: the caller's own work collects as usual
            decisions = loaded.policy.evaluate_many(chunk)
        yield decisions


def simulate_json(loaded: LoadedPolicy, decisions: list[Decision]) -> dict[str, Any]:
    """The SPEC §2 `simulate` document."""
    return {
        "policy": loaded.path,
        "dialect": loaded.dialect,
        "results": [d.to_json() for d in decisions],
    }
