"""Pausing Python's cyclic garbage collector around work that allocates a great deal and
makes no cycles (a policy's YAML nodes and rules, a fleet's decisions).

Each collection walks every object still alive, so loading a 10,000-rule policy or simulating
200,000 images spent more time collecting than working; reference counting frees what these
build, and anything cyclic is collected after the pause, as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect no cycles inside the block; nested pauses resume only at the outermost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
