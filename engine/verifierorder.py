"""Whether one verifier accepts every signer another accepts, and more (SPEC §2 diff kinds).

`compare(old, new)` is "same", "weaker" (new accepts a superset of old's signers),
"stronger" (a subset) or "changed" (neither, or not decidable here). It is decided exactly
where it can be, and "changed" otherwise, never guessed:

- an identity is the conjunction of its constraints (issuer, issuerRegExp, subject,
  subjectRegExp); a dropped constraint widens, an added one narrows;
- exact strings compare by equality; Kyverno's go-wildcard by `wildcard_subsumes`; a wildcard
  against an exact string by whether the wildcard matches it;
- RE2 searches compare by language inclusion for the shapes policies use: literals with an
  optional `^`/`$` anchor, a group of literal alternatives (`^https://github\\.com/(a|b)/`), a
  trailing `.*`; anything else with another regex is "changed";
- a dropped transparency-log or SCT requirement widens (and an added one narrows); another
  key, root, Rekor or CT log is "changed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .goregexp import compile_error
from .patterns import wildcard_match, wildcard_subsumes
from .vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier

Order = Literal["same", "weaker", "stronger", "changed"]


def combine(orders: list[Order]) -> Order:
    """The order of a conjunction (or of parts that must all hold) from its parts' orders."""
    kinds = set(orders) - {"same"}
    if not kinds:
        return "same"
    if len(kinds) == 1:
        return kinds.pop()
    return "changed"


def flip(order: Order) -> Order:
    return "stronger" if order == "weaker" else "weaker" if order == "stronger" else order


def compare(old: Verifier | None, new: Verifier | None, *, cross_dialect: bool = False) -> Order:
    """`cross_dialect`: a Talos rule against its Kyverno rewrite, where only what both dialects
    can say is compared (the key; the certificate identity), as `policydiff.verifier_key` does."""
    if old == new:
        return "same"
    if isinstance(old, PublicKeyVerifier) and isinstance(new, PublicKeyVerifier):
        if (old.fingerprint or "".join(old.pem.split())) != (new.fingerprint or "".join(new.pem.split())):
            return "changed"
        if cross_dialect:
            return "same"
        if old.rekor_pubkey != new.rekor_pubkey:
            return "changed"
        return _switch(old.ignore_tlog, new.ignore_tlog)
    if isinstance(old, KeylessVerifier) and isinstance(new, KeylessVerifier):
        identity = [
            _constraint((old.issuer, old.issuer_regex, old.match), (new.issuer, new.issuer_regex, new.match)),
            _constraint((old.subject, old.subject_regex, old.match), (new.subject, new.subject_regex, new.match)),
        ]
        if cross_dialect:
            return combine(identity)
        if (old.roots, old.rekor_url, old.rekor_pubkey, old.ctlog_pubkey) != (
                new.roots, new.rekor_url, new.rekor_pubkey, new.ctlog_pubkey):
            return "changed"
        return combine([*identity, _switch(old.ignore_tlog, new.ignore_tlog), _switch(old.ignore_sct, new.ignore_sct)])
    return "changed"


# (string, regex, match mode) of one certificate field (issuer or subject): both must hold.
_Field = tuple[str | None, str | None, str]


def _constraint(old: _Field, new: _Field) -> Order:
    """One field's string and regex together. Where a side accepts a single value (an exact
    string and no regex, or `^value$`), inclusion is whether the other side accepts it."""
    old_word, new_word = _single(old), _single(new)
    if old_word is None and new_word is None:
        return combine([_string(old[0], old[2], new[0], new[2]), _regex(old[1], new[1])])
    forward = _admits(new, old_word) if old_word is not None else False
    backward = _admits(old, new_word) if new_word is not None else False
    if forward is None or backward is None:
        return "changed"
    if forward and backward:
        return "same"
    return "weaker" if forward else "stronger" if backward else "changed"


def _single(field: _Field) -> str | None:
    value, regex, match = field
    value = value or None
    if value is not None and not _is_wild(value, match) and not regex:
        return value
    if value is None and regex:
        language = literal_language(regex)
        if language is not None and language.start and language.end and len(language.words) == 1:
            return next(iter(language.words))
    return None


def _admits(field: _Field, word: str) -> bool | None:
    """Whether a field's constraints accept `word` (None: its regex does not compile)."""
    value, regex, match = field
    if value and not (wildcard_match(value, word) if _is_wild(value, match) else value == word):
        return False
    if not regex:
        return True
    if compile_error(regex) is not None:
        return None
    import re2

    return re2.search(regex, word) is not None


def _switch(old_ignored: bool, new_ignored: bool) -> Order:
    """A requirement that can be switched off (ignoreTlog, ignoreSCT)."""
    if old_ignored == new_ignored:
        return "same"
    return "weaker" if new_ignored else "stronger"


def _is_wild(value: str, match: str) -> bool:
    return match == "wildcard" and any(c in value for c in "*?")


def _includes(outer: str, outer_match: str, inner: str, inner_match: str) -> bool:
    """True iff every string `inner` accepts, `outer` accepts (exact or go-wildcard)."""
    if not _is_wild(inner, inner_match):  # one string
        return wildcard_match(outer, inner) if _is_wild(outer, outer_match) else outer == inner
    if not _is_wild(outer, outer_match):
        return False  # a pattern with `*` or `?` accepts more than one string
    return wildcard_subsumes(outer, inner)


def _string(old: str | None, old_match: str, new: str | None, new_match: str) -> Order:
    """An exact or go-wildcard constraint; None (or empty) is no constraint."""
    old, new = old or None, new or None
    if old is None or new is None:
        return "same" if old == new else ("weaker" if new is None else "stronger")
    forward, backward = _includes(new, new_match, old, old_match), _includes(old, old_match, new, new_match)
    if forward and backward:
        return "same"
    return "weaker" if forward else "stronger" if backward else "changed"


def _regex(old: str | None, new: str | None) -> Order:
    old, new = old or None, new or None
    if old == new:
        return "same"
    if old is None or new is None:
        return "weaker" if new is None else "stronger"
    a, b = literal_language(old), literal_language(new)
    if a is None and b is not None:
        # Any `^Q…` search accepts only strings starting with Q: a superset of its language.
        # When even that superset is within the new literal search, the new one is wider
        # (release tags `^https://github\.com/acme/[^/]+/…` loosened to `^https://github\.com/acme/`).
        wider = anchored_prefix_language(old)
        return "weaker" if wider is not None and wider.within(b) else "changed"
    if b is None and a is not None:
        narrower = anchored_prefix_language(new)
        return "stronger" if narrower is not None and narrower.within(a) else "changed"
    if a is None or b is None:
        return "changed"
    forward, backward = a.within(b), b.within(a)
    if forward and backward:
        return "same"
    return "weaker" if forward else "stronger" if backward else "changed"


# --- RE2 searches of literal shape ---------------------------------------------------------

_META = set(".^$*+?()[]{}|\\")


@dataclass(frozen=True)
class LiteralLanguage:
    """What an unanchored RE2 search of literal shape accepts: the strings that start with
    (`start`), end with (`end`), equal (both) or contain (neither) one of `words`."""

    words: frozenset[str]
    start: bool
    end: bool

    def _holds(self, word: str, inside: str) -> bool:
        if self.start and self.end:
            return inside == word
        if self.start:
            return inside.startswith(word)
        if self.end:
            return inside.endswith(word)
        return word in inside

    def within(self, other: LiteralLanguage) -> bool:
        """True iff every string this language accepts, `other` accepts."""
        if "" in other.words and not (other.start and other.end):
            return True  # other accepts everything
        if other.start and not self.start or other.end and not self.end:
            return False  # this accepts strings with any prefix (suffix), other does not
        # Each string this accepts extends one of its words only where other may extend too.
        return all(any(other._holds(mine, word) for mine in other.words) for word in self.words)


def _literal(text: str) -> str | None:
    """The text a run of literal characters and escaped punctuation matches, or None."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1].isalnum():
                return None  # \d, \b, \x41...: not a plain literal
            out.append(text[i + 1])
            i += 2
            continue
        if ch in _META:
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def _top_group(body: str) -> tuple[str, str, str] | None:
    """(before, group contents, after) for one unnested `(…)`/`(?:…)` group, else None."""
    match = re.fullmatch(r"((?:[^\\()]|\\.)*)\((?:\?:)?((?:[^\\()]|\\.)*)\)((?:[^\\()]|\\.)*)", body)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _split_alternatives(text: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if text[i] == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def literal_language(pattern: str) -> LiteralLanguage | None:
    """The language of a search for `pattern` when it has a literal shape, else None."""
    parts = _split_alternatives(pattern)
    if len(parts) > 1 and "(" not in pattern:
        alternatives = [literal_language(part) for part in parts]
        if any(a is None for a in alternatives):
            return None
        shapes = {(a.start, a.end) for a in alternatives if a is not None}
        if len(shapes) != 1:
            return None
        start, end = shapes.pop()
        return LiteralLanguage(frozenset(w for a in alternatives if a is not None for w in a.words), start, end)
    body, start, end = pattern, False, False
    if body.startswith("^"):
        body, start = body[1:], True
    if body.endswith("$") and not body.endswith("\\$"):
        body, end = body[:-1], True
    if body.endswith(".*") and not body.endswith("\\.*"):
        body, end = body[:-2], False  # `^abc.*$`: any end
    if body.startswith(".*"):
        body, start = body[2:], False
    group = _top_group(body)
    if group is None:
        word = _literal(body)
        return None if word is None else LiteralLanguage(frozenset({word}), start, end)
    before, inner, after = (_literal(group[0]), group[1], _literal(group[2]))
    if before is None or after is None:
        return None
    words = [_literal(part) for part in _split_alternatives(inner)]
    if any(w is None for w in words):
        return None
    return LiteralLanguage(frozenset(before + (w or "") + after for w in words), start, end)


_QUANTIFIERS = set("*+?{")


def anchored_prefix_language(pattern: str) -> LiteralLanguage | None:
    """For a search anchored at the start (`^Q…`) with no top-level alternative: the strings
    that start with Q, its literal prefix (a superset of what the search accepts). None when the
    pattern is not of that shape. A literal followed by a quantifier is not part of Q."""
    if not pattern.startswith("^") or _has_top_level_alternative(pattern):
        return None
    out: list[str] = []
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1].isalnum():
                break  # \d, \b, \x41, \Q...: not a plain literal
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch in _META:
            if ch in _QUANTIFIERS and out:
                out.pop()  # `ab?`: the b is optional
            break
        out.append(ch)
        i += 1
    else:
        return None  # all literal: literal_language decides it exactly
    return LiteralLanguage(frozenset({"".join(out)}), True, False)


def _has_top_level_alternative(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]" or pattern[i + 1:i + 3] == "^]":
                i += 1 if pattern[i + 1] == "]" else 2  # a leading `]` is a literal in the class
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False
