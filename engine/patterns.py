"""Image patterns: go-glob for Talos, go-wildcard for Kyverno, and what can be proved about them.

- `glob_match`: github.com/ryanuber/go-glob. Only `*`, which matches any text including `/`;
  `**` is `*`; no `?`; case-sensitive; a pattern without `*` is an equality test.
- `wildcard_match`: github.com/IGLOU-EU/go-wildcard v1.0.3 `Match` (what Kyverno's ext/wildcard
  calls): `*` any run, `?` exactly one character, `/` included, anchored at both ends.
- `FirstMatch`: the index of the first of many globs that matches, for simulating a whole
  policy over a fleet; `AllMatches` the same for Kyverno, which wants every match;
  `PatternMasks` the subjects each pattern (go-glob or go-wildcard) matches, as bitmasks kept
  across edits. All three find candidates through `literalindex.LiteralIndex`, so their cost
  does not grow with the number of patterns.
- `glob_subsumes`: decides exactly whether one glob matches everything another one matches.
- `glob_never_matches`: why a glob can never match a normalized Talos match subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Literal

from .literalindex import LiteralIndex, literal_pieces
from .reference import DEFAULT_REGISTRY, InvalidReference, parse_reference, registry_problem

# --- matching ------------------------------------------------------------------------------


def glob_match(pattern: str, subject: str) -> bool:
    """go-glob `Glob(pattern, subject)`.

    Pieces between stars must appear in order without overlapping: the first is a prefix, the
    last a suffix, the middle ones are found leftmost (which never loses a match).
    """
    if "*" not in pattern:
        return subject == pattern  # includes the empty pattern, which matches only ""
    parts = pattern.split("*")
    first = parts[0]
    if not subject.startswith(first):
        return False
    pos = len(first)
    for middle in parts[1:-1]:
        found = subject.find(middle, pos)
        if found < 0:
            return False
        pos = found + len(middle)
    last = parts[-1]
    return len(subject) - len(last) >= pos and subject.endswith(last)


def glob_to_regex(pattern: str) -> str:
    """A regular expression (Python and RE2 syntax) that fullmatches what the glob matches."""
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def wildcard_match(pattern: str, s: str) -> bool:
    """go-wildcard v1.0.3 `Match(pattern, s)`: `*` any run, `?` one character, whole string.

    Time O(len(pattern) * len(s)) whatever the pattern (see `_wildcard_regex`).
    """
    if pattern == "":
        return s == ""
    if pattern == "*":
        return True
    if "?" not in pattern:
        return glob_match(pattern, s)  # with `*` alone the two agree
    return _wildcard_regex(pattern).fullmatch(s) is not None


def wildcard_to_regex(pattern: str) -> str:
    """The plain translation (`*` -> `.*`, `?` -> `.`), for reading and for tests.

    Never run it on a subject with Python's `re`: `*a?*a?*a?...*b` backtracks exponentially.
    Matching goes through `_wildcard_regex`, which cannot.
    """
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            if not out or out[-1] != ".*":  # `**` is `*`: one `.*` per run, less to backtrack
                out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _segment_regex(segment: str) -> str:
    return "".join("." if ch == "?" else re.escape(ch) for ch in segment)


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """A fullmatch regex for a go-wildcard pattern that cannot backtrack more than linearly.

    Between stars a pattern is a fixed-length segment (literals and `?`). The first segment is a
    prefix, the last a suffix, and each middle one can be taken at its leftmost place after the
    previous one: a later place only leaves less room for the rest. So each middle segment is
    an atomic group `(?>.*?SEG)` (found leftmost, then never retried), and a failed match costs
    at most one scan per segment: O(len(pattern) * len(subject)). The plain translation
    (`.*a.*a.*...`) retries every split of the subject, exponential for `*a?*a?...*b`. Python's
    `re` rather than RE2: the google-re2 wrapper costs ~20 us a call against ~1 us here.
    """
    parts = pattern.split("*")
    if len(parts) == 1:
        return re.compile(_segment_regex(pattern), re.DOTALL)
    middles = "".join(f"(?>.*?{_segment_regex(part)})" for part in parts[1:-1] if part)
    return re.compile(_segment_regex(parts[0]) + middles + ".*" + _segment_regex(parts[-1]), re.DOTALL)


# --- many patterns at once -----------------------------------------------------------------


def literal_prefix(pattern: str, specials: str = "*?") -> str:
    """The text every match must start with: the pattern up to its first wildcard."""
    cut = len(pattern)
    for ch in specials:
        i = pattern.find(ch)
        if 0 <= i < cut:
            cut = i
    return pattern[:cut]


class FirstMatch:
    """The first of an ordered list of go-glob patterns that matches a subject.

    Candidates come from a `LiteralIndex` (one automaton scan of the subject, whatever the
    number of patterns); the exact check runs on them in rule order and stops at the first
    match, or at the first all-star pattern, which matches everything. Built once per policy
    (see `first_match`) and memoized per subject, since fleets run the same images on many
    nodes and the editor re-simulates the same list on every keystroke.
    """

    def __init__(self, patterns: Iterable[str]):
        self.patterns: tuple[str, ...] = tuple(patterns)
        self._index = LiteralIndex(self.patterns, "*")
        self._exact = {subject: indices[0] for subject, indices in self._index.exact.items()}
        self._catch_all = self._index.always[0] if self._index.always else None
        self._memo: dict[str, int | None] = {}

    def first(self, subject: str) -> int | None:
        memo = self._memo
        if subject in memo:
            return memo[subject]
        best = self._exact.get(subject)
        catch_all = self._catch_all
        if catch_all is not None and (best is None or catch_all < best):
            best = catch_all
        patterns, sure = self.patterns, self._index.sure
        for index in self._index.candidates(subject):
            if best is not None and index > best:
                break
            if sure[index] or glob_match(patterns[index], subject):
                best = index
                break
        if len(memo) < 1_000_000:  # a bound, so a stream of distinct images cannot grow it forever
            memo[subject] = best
        return best

    def __len__(self) -> int:
        return len(self.patterns)


class AllMatches:
    """Every go-wildcard pattern (Kyverno `imageReferences`) that matches, in list order.

    Candidates from a `LiteralIndex` over the pieces between `*` and `?`; patterns with no
    literal piece (`*`, `?*`) are checked for every subject."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns: tuple[str, ...] = tuple(patterns)
        self._index = LiteralIndex(self.patterns, "*?")
        self._memo: dict[str, tuple[int, ...]] = {}

    def all(self, subject: str) -> tuple[int, ...]:
        memo = self._memo
        hit = memo.get(subject)
        if hit is not None:
            return hit
        index = self._index
        patterns = self.patterns
        found = list(index.exact.get(subject, ()))
        found.extend(i for i in index.always if wildcard_match(patterns[i], subject))
        found.extend(i for i in index.candidates(subject) if wildcard_match(patterns[i], subject))
        result = tuple(sorted(found))
        if len(memo) < 1_000_000:
            memo[subject] = result
        return result

    def any(self, subject: str) -> bool:
        return bool(self.all(subject))


class PatternMasks:
    """Sorted distinct subjects and, per pattern, the bitmask of those it matches.

    `syntax` is "glob" (go-glob, Talos) or "wildcard" (go-wildcard, Kyverno). Masks are kept
    per pattern text across policies: after a one-character edit the editor matches only the
    edited pattern again (see `pattern_masks`). `prepare` computes the masks of a whole policy
    in one pass over the subjects (a `LiteralIndex` over its patterns); `mask` one pattern
    alone, over the subjects that start with its literal prefix and contain its pieces.
    """

    def __init__(self, subjects: Iterable[str], syntax: Literal["glob", "wildcard"] = "wildcard"):
        self.subjects: tuple[str, ...] = tuple(sorted(set(subjects)))
        self.position: dict[str, int] = {s: i for i, s in enumerate(self.subjects)}
        self.masks: dict[str, int] = {}
        self.syntax = syntax
        self._specials = "*" if syntax == "glob" else "*?"

    def _matcher(self, pattern: str) -> Callable[[str], object]:
        if self.syntax == "glob":
            return lambda subject: glob_match(pattern, subject)
        return _wildcard_regex(pattern).fullmatch

    def _keep(self, pattern: str, value: int) -> int:
        if len(self.masks) > 20_000:  # edits leave old patterns behind; start over now and then
            self.masks.clear()
        self.masks[pattern] = value
        return value

    def mask(self, pattern: str) -> int:
        found = self.masks.get(pattern)
        if found is not None:
            return found
        from bisect import bisect_left

        subjects = self.subjects
        prefix = literal_prefix(pattern, self._specials)
        value = 0
        if prefix == pattern:  # no wildcard: an equality test
            i = self.position.get(pattern)
            if i is not None:
                value = 1 << i
        else:
            lo = bisect_left(subjects, prefix)
            hi = bisect_left(subjects, prefix + "\U0010ffff", lo) if prefix else len(subjects)
            if pattern == prefix + "*":  # the commonest shape: everything under a prefix
                value = ((1 << (hi - lo)) - 1) << lo
            else:
                matches = self._matcher(pattern)
                pieces = literal_pieces(pattern[len(prefix):], self._specials)
                needle = max(pieces, key=len) if pieces else ""  # a C-speed `in` before the matcher
                value = _bits(i for i in range(lo, hi) if needle in subjects[i] and matches(subjects[i]))
        return self._keep(pattern, value)

    def prepare(self, patterns: Iterable[str]) -> None:
        """Compute the masks of every pattern not yet known, in one pass over the subjects."""
        missing = list(dict.fromkeys(p for p in patterns if p not in self.masks))
        if len(missing) < 8:  # an edit: one pattern alone is cheaper than an automaton
            for pattern in missing:
                self.mask(pattern)
            return
        index = LiteralIndex(missing, self._specials)
        matchers = [self._matcher(p) for p in missing]
        hits: list[list[int]] = [[] for _ in missing]
        for indices in index.exact.values():
            for j in indices:
                self.mask(missing[j])
        for j in index.always:
            self.mask(missing[j])
        candidates = index.candidates
        for i, subject in enumerate(self.subjects):
            for j in candidates(subject):
                if matchers[j](subject):
                    hits[j].append(i)
        for j, pattern in enumerate(missing):
            if pattern not in self.masks:
                self._keep(pattern, _bits(hits[j]))


def _bits(positions: Iterable[int]) -> int:
    """The mask with the given bit positions set (a bytearray: OR-ing big ints one bit at a
    time is quadratic)."""
    out = bytearray()
    for i in positions:
        byte = i >> 3
        if byte >= len(out):
            out.extend(bytes(byte + 1 - len(out)))
        out[byte] |= 1 << (i & 7)
    return int.from_bytes(out, "little")


class WildcardMasks(PatternMasks):
    """PatternMasks for Kyverno's go-wildcard patterns."""

    def __init__(self, subjects: Iterable[str]):
        super().__init__(subjects, "wildcard")


def mask_bits(mask: int) -> list[int]:
    """The positions of the set bits of a mask, lowest first."""
    out = []
    bits = bin(mask)[:1:-1]
    i = bits.find("1")
    while i >= 0:
        out.append(i)
        i = bits.find("1", i + 1)
    return out


_MASK_TABLES: dict[tuple[str, tuple[str, ...]], PatternMasks] = {}


def pattern_masks(subjects: tuple[str, ...], syntax: Literal["glob", "wildcard"]) -> PatternMasks:
    """The PatternMasks of a subject list (any order, repeats allowed), shared by every policy
    simulated over the same list; a few lists are kept (the editor's, a fleet's)."""
    key = (syntax, subjects)
    table = _MASK_TABLES.get(key)
    if table is None:
        if len(_MASK_TABLES) >= 8:
            # the oldest; `None`: an editor worker thread may have dropped it already
            oldest = next(iter(_MASK_TABLES), None)
            if oldest is not None:
                _MASK_TABLES.pop(oldest, None)
        table = _MASK_TABLES[key] = PatternMasks(subjects, syntax)
    return table


def wildcard_masks(subjects: tuple[str, ...]) -> PatternMasks:
    return pattern_masks(subjects, "wildcard")


@lru_cache(maxsize=64)
def first_match(patterns: tuple[str, ...]) -> FirstMatch:
    """A FirstMatch shared by every caller with the same pattern list (the build cache)."""
    return FirstMatch(patterns)


@lru_cache(maxsize=256)
def all_matches(patterns: tuple[str, ...]) -> AllMatches:
    return AllMatches(patterns)


# --- reasoning about patterns --------------------------------------------------------------


def glob_subsumes(earlier: str, later: str) -> bool:
    """True iff every string `later` matches is also matched by `earlier` (go-glob patterns).

    Exact: write `later` with each star as a fresh letter that no literal of `earlier` can
    equal; `earlier` matches that word iff each star of `later` lies inside a star of
    `earlier`, which is exactly language inclusion for star-only patterns.
    """
    if "*" not in later:
        return glob_match(earlier, later)
    fresh = "\x00"
    while fresh in earlier:
        fresh = chr(ord(fresh) + 1)
    return glob_match(earlier, later.replace("*", fresh))


def wildcard_subsumes(earlier: str, later: str) -> bool:
    """True iff every string `later` matches (go-wildcard) is also matched by `earlier`.

    Exact: walks `later`'s automaton against the determinized automaton of `earlier` over the
    letters either pattern names plus one letter for "anything else", looking for a string
    `later` accepts and `earlier` does not. Patterns are short, so this stays small.
    """
    if earlier == later or earlier == "*":
        return True
    letters: set[str | None] = {c for c in earlier + later if c not in "*?"}
    letters.add(None)  # any other character
    start = (_closure(later, {0}), _closure(earlier, {0}))
    seen = {start}
    todo = [start]
    while todo:
        lstates, estates = todo.pop()
        if len(later) in lstates and len(earlier) not in estates:
            return False
        for letter in letters:
            nl = _step(later, lstates, letter)
            if not nl:
                continue
            pair = (nl, _step(earlier, estates, letter))
            if pair not in seen:
                seen.add(pair)
                todo.append(pair)
    return True


def _closure(pattern: str, states: set[int]) -> frozenset[int]:
    """States reachable without reading: a `*` may match nothing."""
    out = set(states)
    todo = list(states)
    while todo:
        i = todo.pop()
        if i < len(pattern) and pattern[i] == "*" and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return frozenset(out)


def _step(pattern: str, states: frozenset[int], letter: str | None) -> frozenset[int]:
    nxt = set()
    for i in states:
        if i >= len(pattern):
            continue
        token = pattern[i]
        if token == "*":
            nxt.add(i)
        elif token == "?" or token == letter:
            nxt.add(i + 1)
    return _closure(pattern, nxt) if nxt else frozenset()


@dataclass(frozen=True)
class NeverMatches:
    """Why a pattern can never match a normalized reference, and what probably was meant."""

    reason: str
    suggestion: str | None = None


# A character that cannot occur in a repository path (nor is a star): one scan in C per pattern.
_NOT_REPO_CHAR = re.compile(r"[^*a-z0-9_./-]")


def _normalized_suggestion(pattern: str) -> str | None:
    """The go-containerregistry context of a star-free pattern, when it parses."""
    try:
        return parse_reference(pattern).context
    except InvalidReference:
        pass
    # `index.docker.io/library/<name>` with a 248-255 character name does not parse itself, yet
    # it is the match subject of the tag reference `<name>`: the limit applies before `library/`.
    head = f"{DEFAULT_REGISTRY}/library/"
    if pattern.startswith(head) and "/" not in pattern[len(head):]:
        try:
            return parse_reference(pattern[len(head):]).context
        except InvalidReference:
            return None
    return None


def glob_never_matches(pattern: str) -> NeverMatches | None:
    """Why a go-glob pattern can never match a Talos match subject (None when it can).

    A subject is always `registry/repository`: Docker Hub is `index.docker.io` (never
    `docker.io`) with `library/` before one-part names, the registry has a '.' or ':', and after
    the first '/' only `a-z 0-9 _ - . /` occur (no tag, no digest, no capitals).
    """
    if pattern == "":
        return NeverMatches("an empty pattern matches only an empty name")
    if pattern == "*" or pattern.strip("*") == "":
        return None
    if "*" not in pattern:
        context = _normalized_suggestion(pattern)
        if context == pattern:
            return None
        if context is None:
            return NeverMatches(f"'{pattern}' is not a valid image name, so no image matches it")
        return NeverMatches(
            f"images are matched as '{context}' (normalized), never as '{pattern}'", context)
    star = pattern.find("*")
    slash = pattern.find("/")
    # After a literal '/', the subject is inside the repository path.
    if slash >= 0:
        bad = _NOT_REPO_CHAR.search(pattern, slash + 1)
        if bad is not None:
            return _repo_char_problem(pattern, bad.group(), bad.start())
    if 0 <= slash < star:
        registry = pattern[:slash]
        rest = pattern[slash + 1:]
        if registry == "docker.io":
            return NeverMatches(
                "Docker Hub images are matched as 'index.docker.io/...', never 'docker.io/...'",
                f"{DEFAULT_REGISTRY}/{rest}")
        bad_host = registry_problem(registry)
        if bad_host is not None:
            return NeverMatches(f"'{registry}' is not a valid registry host: {bad_host}")
        if "." not in registry and ":" not in registry:
            # `myuser/app*`: a first part without '.' or ':' is a Docker Hub namespace.
            return NeverMatches(
                f"'{registry}' is not a registry host (no '.' or ':'), so these images are "
                f"matched as '{DEFAULT_REGISTRY}/{registry}/...'",
                f"{DEFAULT_REGISTRY}/{pattern}")
    return None


def _repo_char_problem(pattern: str, ch: str, index: int) -> NeverMatches:
    head = pattern[:index]
    if ch == ":":
        return NeverMatches(
            "a tag after the registry host is never part of the matched name "
            "(tags and digests are dropped before matching)", head.rstrip(":") or None)
    if ch == "@":
        return NeverMatches(
            "a digest is never part of the matched name (tags and digests are dropped "
            "before matching)", head or None)
    if ch.isupper():
        return NeverMatches(
            "repository names are lowercase, so a capital letter after the host never matches",
            pattern[: pattern.find("/") + 1] + pattern[pattern.find("/") + 1:].lower())
    return NeverMatches(f"{ch!r} cannot occur in a repository name")


def glob_can_match_normalized(pattern: str) -> bool:
    return glob_never_matches(pattern) is None
