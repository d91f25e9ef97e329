"""What the editor asks on every keystroke: parse, validate, lint and simulate a text in memory.

`analyze(text, images)` never touches the disk and caches by text, so re-asking with the same
text (cursor moves, redraws) is a dictionary lookup. What a person wants while typing:

- The policy parses (even with validation errors): decisions come from the current text.
  Talos would refuse such a config, and `Analysis.errors` says so, but seeing which rule each
  image hits while the rule is half written is the point of a live editor.
- The YAML does not parse (a half-typed line): diagnostics come from the current text, but the
  decisions and the outline are those of the last text that parsed for the same path, flagged
  `stale=True`, so the image table does not blank out on every unfinished keystroke. With no
  earlier parse, decisions come from whatever documents came before the error (also stale),
  or are None when there is no policy at all.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from .diagnostics import Diagnostic, count
from .policy import LoadedPolicy, load_policy
from .vocabulary import Decision, OutlineItem


@dataclass
class Analysis:
    text: str
    path: str
    loaded: LoadedPolicy
    # In file order (line, column); errors, warnings and infos together.
    diagnostics: list[Diagnostic]
    # One per image, in the order given; None when there is no policy to simulate.
    decisions: list[Decision] | None
    outline: list[OutlineItem] = field(default_factory=list)
    # True when decisions/outline come from an earlier text (this one does not parse).
    stale: bool = False

    @property
    def errors(self) -> int:
        return count(self.diagnostics, "error")

    @property
    def warnings(self) -> int:
        return count(self.diagnostics, "warning")

    @property
    def syntax_error(self) -> bool:
        return any(d.code == "yaml-syntax" for d in self.diagnostics)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(OrderedDict[K, V]):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_fresh(self, key: K) -> V | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


_LOADED: _LRU[tuple[str, str], LoadedPolicy] = _LRU(32)
_RESULTS: _LRU[tuple[str, str, tuple[str, ...]], Analysis] = _LRU(16)
_LAST_GOOD: dict[str, LoadedPolicy] = {}  # path -> last text that parsed


_gc_lock = threading.Lock()
_gc_pausers = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a policy is read.

    Composing allocates tens of thousands of short-lived YAML nodes, which trigger full
    collections over everything the editor keeps cached: measured 40-60 ms of a Kyverno
    keystroke. Those nodes hold no cycles, so reference counting frees them anyway. Counted,
    because the TUI analyses in worker threads and the collector switch is process-wide.
    """
    global _gc_pausers
    with _gc_lock:
        # Somebody else turned it off on purpose: leave it to them.
        owned = _gc_pausers > 0 or gc.isenabled()
        if owned:
            _gc_pausers += 1
            gc.disable()
    try:
        yield
    finally:
        if owned:
            with _gc_lock:
                _gc_pausers -= 1
                if _gc_pausers == 0:
                    gc.enable()


def load_cached(text: str, path: str = "<policy>") -> LoadedPolicy:
    key = (path, text)
    loaded = _LOADED.get_fresh(key)
    if loaded is None:
        with _gc_paused():
            loaded = load_policy(text, path)
        _LOADED.put(key, loaded)
    return loaded


def _outline(loaded: LoadedPolicy) -> list[OutlineItem]:
    return loaded.policy.outline() if loaded.policy is not None else []


def analyze(text: str, images: list[str], path: str = "<policy>") -> Analysis:
    """Diagnostics, outline and decisions for a policy text and an image list, from memory."""
    images_key = tuple(images)
    key = (path, text, images_key)
    cached = _RESULTS.get_fresh(key)
    if cached is not None:
        return cached

    loaded = load_cached(text, path)
    diagnostics = sorted(
        loaded.diagnostics, key=lambda d: (d.line if d.line is not None else 0, d.column or 0)
    )
    broken = any(d.code == "yaml-syntax" for d in loaded.diagnostics)
    source, stale = loaded, False
    if broken:
        stale = True
        last = _LAST_GOOD.get(path)
        if last is not None:
            source = last
    elif loaded.policy is not None:
        _LAST_GOOD[path] = loaded

    decisions = None
    if source.policy is not None:
        try:
            with _gc_paused():
                decisions = source.policy.evaluate_many(list(images_key))
        except Exception:  # a half-built policy object must never take the editor down
            decisions = None
    try:
        outline = _outline(source)
    except Exception:
        outline = []
    result = Analysis(text, path, loaded, diagnostics, decisions, outline, stale)
    _RESULTS.put(key, result)
    return result


def clear_cache() -> None:
    _LOADED.clear()
    _RESULTS.clear()
    _LAST_GOOD.clear()
