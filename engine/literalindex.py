"""Candidate patterns for a subject in one pass, whatever the number of patterns.

Every match of a go-glob (`*`) or go-wildcard (`*`, `?`) pattern contains each literal piece
of the pattern (the text between wildcards) as it is written. An Aho-Corasick automaton over one
piece per pattern finds, in a single scan of the subject, the few patterns that can match it;
the exact matcher then runs only on those. Patterns without a wildcard are a dict lookup, and
patterns with no literal piece at all (`*`, `?*`) are candidates for every subject.

`re2.Set` was measured and rejected: at 10,000 patterns its DFA thrashes (1.3 ms a subject),
while the automaton answers 18,700 subjects against 10,000 patterns in about 25 ms.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from operator import itemgetter
from typing import Sequence

import ahocorasick

_VALUE = itemgetter(1)  # of the automaton's (end position, value) pairs


@lru_cache(maxsize=2)
def _splitter(specials: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(specials) + "]")


@lru_cache(maxsize=65536)  # the editor rebuilds the index on every keystroke, one pattern changed
def literal_pieces(pattern: str, specials: str) -> tuple[str, ...]:
    """The non-empty pieces of `pattern` between the characters of `specials`."""
    return tuple(piece for piece in _splitter(specials).split(pattern) if piece)


def _key_piece(pieces: tuple[str, ...], shared: Counter[str]) -> str:
    """The piece to index a pattern by: one that few other patterns use (so it selects few
    subjects; `ghcr.io/` in `ghcr.io/*/app7` would select them all), long rather than short."""
    if len(pieces) == 1:
        return pieces[0]
    return max(pieces, key=lambda piece: (len(piece) >= 3, -shared[piece], len(piece)))


class LiteralIndex:
    """Candidates among `patterns` for any subject: `exact[subject]` (patterns without a
    wildcard, in list order), `always` (no literal piece) and `candidates(subject)`."""

    def __init__(self, patterns: Sequence[str], specials: str):
        self.exact: dict[str, list[int]] = {}
        self.always: list[int] = []
        split = [literal_pieces(p, specials) if any(c in p for c in specials) else None for p in patterns]
        # How many patterns hold each piece; only a choice among several pieces needs it.
        shared: Counter[str] = Counter()
        if any(pieces is not None and len(pieces) > 1 for pieces in split):
            shared.update(piece for pieces in split if pieces for piece in set(pieces))
        owners: dict[str, list[int]] = {}
        for index, (pattern, pieces) in enumerate(zip(patterns, split, strict=True)):
            if pieces is None:
                self.exact.setdefault(pattern, []).append(index)
            elif not pieces:
                self.always.append(index)
            else:
                owners.setdefault(_key_piece(pieces, shared), []).append(index)
        # One automaton value per piece: the patterns indexed by it, already in list order.
        self._owners: list[tuple[int, ...]] = []
        self._automaton: ahocorasick.Automaton | None = None
        if owners:
            automaton = ahocorasick.Automaton()
            for piece, indices in owners.items():
                automaton.add_word(piece, len(self._owners))
                self._owners.append(tuple(indices))
            automaton.make_automaton()
            self._automaton = automaton

    def candidates(self, subject: str) -> Sequence[int]:
        """Indices, ascending, of the patterns with a literal piece that the subject contains."""
        automaton = self._automaton
        if automaton is None:
            return ()
        found: set[int] = set(map(_VALUE, automaton.iter(subject)))
        if not found:
            return ()
        owners = self._owners
        if len(found) == 1:
            return owners[found.pop()]
        return sorted(index for piece in found for index in owners[piece])
