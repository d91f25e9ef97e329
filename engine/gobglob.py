"""`github.com/gobwas/glob` `Compile(pattern)` with no separators, as Kyverno's ImageValidatingPolicy uses it.

Kyverno compiles `matchImageReferences[].glob` with gobwas/glob (v0.2.3, the version Kyverno pins and
Debian packages) and matches the image string as written. gobwas is not a regular-expression engine:
its lexer, its tree optimizer and its matchers have behaviours a translation to a regex would not
keep — `?` alone matches the empty string, an unclosed `{a,b` compiles, `a{,}b` matches nothing, `a{,}`
panics on `a`, a NUL ends a text run, lengths are counted in runes and applied as bytes. So this module
follows gobwas's own steps (lexer → parser → compiler → matcher tree) over UTF-8 bytes, checked
against the Go library by tests/test_gobglob_oracle.py.

Two things differ, on purpose: a compile error carries the column where gobwas stopped (gobwas's
message has none), and matching has a work budget. gobwas's `BTree` search backtracks (its time grows
as a power of the input length with the number of `*`-separated pieces); here every sub-match is
remembered, and a match that would still take more than `STEP_BUDGET` steps raises `GlobTooComplex`
instead of running on. A Go panic raises `GlobPanic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Union

RUNE_ERROR = 0xFFFD
EOF_RUNE = 0  # gobwas's lexer uses rune 0 for end of input, so a NUL in a pattern reads as its end
STEP_BUDGET = 1_000_000


class GlobError(ValueError):
    """The pattern does not compile: gobwas's message, and the 1-based column where it stopped."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


class GlobPanic(RuntimeError):
    """gobwas/glob would panic matching this string (Go would crash the caller)."""


class GlobTooComplex(RuntimeError):
    """Matching would take more than STEP_BUDGET steps."""


# --- runes, the way Go's unicode/utf8 reads a string ---------------------------------------------

_LEAD_WIDTH = {**{b: 2 for b in range(0xC2, 0xE0)}, **{b: 3 for b in range(0xE0, 0xF0)}, **{b: 4 for b in range(0xF0, 0xF5)}}


def _decode(data: bytes, at: int) -> tuple[int, int]:
    """utf8.DecodeRuneInString(data[at:]): (RuneError, 0) at the end, (RuneError, 1) on a bad byte."""
    if at >= len(data):
        return RUNE_ERROR, 0
    lead = data[at]
    if lead < 0x80:
        return lead, 1
    width = _LEAD_WIDTH.get(lead)
    if width is None:
        return RUNE_ERROR, 1
    try:
        return ord(data[at:at + width].decode("utf-8")), width
    except UnicodeDecodeError:
        return RUNE_ERROR, 1


def _runes(data: bytes) -> list[tuple[int, int]]:
    """`for i, r := range s`: (byte index, rune) pairs."""
    out = []
    at = 0
    while at < len(data):
        rune, width = _decode(data, at)
        out.append((at, rune))
        at += width
    return out


def _rune_count(data: bytes) -> int:
    return len(_runes(data))


def _rune_len(rune: int) -> int:
    """utf8.RuneLen; gobwas uses it on RuneError from a bad byte (3, although the byte is one)."""
    if rune < 0:
        return -1
    if rune < 0x80:
        return 1
    if rune < 0x800:
        return 2
    if 0xD800 <= rune <= 0xDFFF:
        return -1
    if rune < 0x10000:
        return 3
    if rune <= 0x10FFFF:
        return 4
    return -1


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# --- lexer (syntax/lexer/lexer.go) ------------------------------------------------------------------

class _T(Enum):
    EOF = auto()
    ERROR = auto()
    TEXT = auto()
    ANY = auto()
    SUPER = auto()
    SINGLE = auto()
    NOT = auto()
    SEPARATOR = auto()
    RANGE_OPEN = auto()
    RANGE_CLOSE = auto()
    RANGE_LO = auto()
    RANGE_HI = auto()
    RANGE_BETWEEN = auto()
    TERMS_OPEN = auto()
    TERMS_CLOSE = auto()


@dataclass(frozen=True)
class _Token:
    kind: _T
    raw: str
    at: int  # byte offset where the token starts (where the lexer stopped, for ERROR)


_IN_TEXT_BREAKERS = (ord("?"), ord("*"), ord("["), ord("{"))
_IN_TERMS_BREAKERS = _IN_TEXT_BREAKERS + (ord("}"), ord(","))


class _Lexer:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.err: str | None = None
        self.err_at = 0
        self.tokens: list[_Token] = []
        self.terms_level = 0
        self.last_rune = 0
        self.last_size = 0
        self.has_rune = False

    def next(self) -> _Token:
        while True:
            if self.err is not None:
                return _Token(_T.ERROR, self.err, self.err_at)
            if self.tokens:
                return self.tokens.pop(0)
            self._fetch_item()

    def _errorf(self, message: str) -> None:
        self.err = message
        self.err_at = self.pos

    def _peek(self) -> tuple[int, int]:
        if self.pos == len(self.data):
            return EOF_RUNE, 0
        rune, width = _decode(self.data, self.pos)
        if rune == RUNE_ERROR:  # a literal U+FFFD as well as a bad byte
            self._errorf("could not read rune")
            return EOF_RUNE, 0
        return rune, width

    def _read(self) -> int:
        if self.has_rune:
            self.has_rune = False
            self.pos += self.last_size
            return self.last_rune
        rune, width = self._peek()
        self.pos += width
        self.last_rune, self.last_size = rune, width
        return rune

    def _unread(self) -> None:
        if self.has_rune:
            self._errorf("could not unread rune")
            return
        self.pos -= self.last_size
        self.has_rune = True

    def _push(self, kind: _T, raw: str, at: int) -> None:
        self.tokens.append(_Token(kind, raw, at))

    def _fetch_item(self) -> None:
        at = self.pos
        rune = self._read()
        if rune == EOF_RUNE:
            self._push(_T.EOF, "", at)
        elif rune == ord("{"):
            self.terms_level += 1
            self._push(_T.TERMS_OPEN, "{", at)
        elif rune == ord(",") and self.terms_level > 0:
            self._push(_T.SEPARATOR, ",", at)
        elif rune == ord("}") and self.terms_level > 0:
            self._push(_T.TERMS_CLOSE, "}", at)
            self.terms_level -= 1
        elif rune == ord("["):
            self._push(_T.RANGE_OPEN, "[", at)
            self._fetch_range()
        elif rune == ord("?"):
            self._push(_T.SINGLE, "?", at)
        elif rune == ord("*"):
            if self._read() == ord("*"):
                self._push(_T.SUPER, "**", at)
            else:
                self._unread()
                self._push(_T.ANY, "*", at)
        else:
            self._unread()
            self._fetch_text(_IN_TERMS_BREAKERS if self.terms_level > 0 else _IN_TEXT_BREAKERS)

    def _fetch_range(self) -> None:
        want_hi = want_close = seen_not = False
        while True:
            at = self.pos
            rune = self._read()
            if rune == EOF_RUNE:
                self._errorf("unexpected end of input")
                return
            if want_close:
                if rune != ord("]"):
                    self.pos = at
                    self._errorf("expected close range character")
                else:
                    self._push(_T.RANGE_CLOSE, "]", at)
                return
            if want_hi:
                self._push(_T.RANGE_HI, chr(rune), at)
                want_close = True
                continue
            if not seen_not and rune == ord("!"):
                self._push(_T.NOT, "!", at)
                seen_not = True
                continue
            following, width = self._peek()
            if following == ord("-"):
                self.pos += width
                self._push(_T.RANGE_LO, chr(rune), at)
                self._push(_T.RANGE_BETWEEN, "-", at + 1)
                want_hi = True
                continue
            self._unread()
            self._fetch_text((ord("]"),))
            want_close = True

    def _fetch_text(self, breakers: tuple[int, ...]) -> None:
        at = self.pos
        runes: list[str] = []
        escaped = False
        while True:
            rune = self._read()
            if rune == EOF_RUNE:
                break
            if not escaped:
                if rune == ord("\\"):
                    escaped = True
                    continue
                if rune in breakers:
                    self._unread()
                    break
            escaped = False
            runes.append(chr(rune))
        if runes:
            self._push(_T.TEXT, "".join(runes), at)


# --- syntax tree and parser (syntax/ast) -------------------------------------------------------------

class _K(Enum):
    NOTHING = auto()
    PATTERN = auto()
    LIST = auto()
    RANGE = auto()
    TEXT = auto()
    ANY = auto()
    SUPER = auto()
    SINGLE = auto()
    ANY_OF = auto()


@dataclass(eq=False)
class _Node:
    kind: _K
    value: tuple[object, ...] | None = None
    children: list[_Node] = field(default_factory=list)
    parent: _Node | None = None

    def equal(self, other: _Node) -> bool:
        """ast.Node.Equal and reflect.DeepEqual alike: same kind, value and children."""
        return (self.kind == other.kind and self.value == other.value and len(self.children) == len(other.children)
                and all(a.equal(b) for a, b in zip(self.children, other.children, strict=True)))


def _node(kind: _K, value: tuple[object, ...] | None = None, *children: _Node) -> _Node:
    made = _Node(kind, value)
    _insert(made, *children)
    return made


def _insert(parent: _Node, *children: _Node) -> None:
    parent.children.extend(children)
    for child in children:
        child.parent = parent


def _parse(lexer: _Lexer) -> _Node:
    root = _node(_K.PATTERN)
    tree = root
    while True:
        token = lexer.next()
        kind = token.kind
        if kind == _T.EOF:
            return root
        if kind == _T.ERROR:
            raise _error(lexer, token.raw, token.at)
        if kind == _T.TEXT:
            _insert(tree, _node(_K.TEXT, (token.raw,)))
        elif kind == _T.ANY:
            _insert(tree, _node(_K.ANY))
        elif kind == _T.SUPER:
            _insert(tree, _node(_K.SUPER))
        elif kind == _T.SINGLE:
            _insert(tree, _node(_K.SINGLE))
        elif kind == _T.RANGE_OPEN:
            _parse_range(tree, lexer, token.at)
        elif kind == _T.TERMS_OPEN:
            any_of = _node(_K.ANY_OF)
            _insert(tree, any_of)
            tree = _node(_K.PATTERN)
            _insert(any_of, tree)
        elif kind == _T.SEPARATOR:
            assert tree.parent is not None  # the lexer gives separators inside terms only
            pattern = _node(_K.PATTERN)
            _insert(tree.parent, pattern)
            tree = pattern
        elif kind == _T.TERMS_CLOSE:
            assert tree.parent is not None and tree.parent.parent is not None
            tree = tree.parent.parent
        else:  # gobwas's "unexpected token" branch; its lexer gives none of the others here
            raise _error(lexer, f"unexpected token: {kind.name.lower()}<{token.raw!r}>", token.at)


def _parse_range(tree: _Node, lexer: _Lexer, opened_at: int) -> None:
    negated = False
    lo = hi = 0
    chars = ""
    while True:
        token = lexer.next()
        kind = token.kind
        if kind == _T.EOF:
            raise _error(lexer, "unexpected end", token.at)
        if kind == _T.ERROR:
            raise _error(lexer, token.raw, token.at)
        if kind == _T.NOT:
            negated = True
        elif kind == _T.RANGE_LO:
            lo = ord(token.raw)
        elif kind == _T.RANGE_HI:
            hi = ord(token.raw)
            if hi < lo:
                raise _error(lexer, f"hi character '{token.raw}' should be greater than lo '{chr(lo)}'", token.at)
        elif kind == _T.TEXT:
            chars = token.raw
        elif kind == _T.RANGE_CLOSE:
            is_range = lo != 0 and hi != 0
            if (chars != "") == is_range:
                raise _error(lexer, "could not parse range", opened_at)
            if is_range:
                _insert(tree, _node(_K.RANGE, (lo, hi, negated)))
            else:
                _insert(tree, _node(_K.LIST, (chars, negated)))
            return


def _error(lexer: _Lexer, message: str, at: int) -> GlobError:
    return GlobError(message, _rune_count(lexer.data[:at]) + 1)


# --- matchers (match/*.go), over UTF-8 bytes --------------------------------------------------------

class _Run:
    """One Match call: remembered sub-matches and the work budget."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, bytes], bool] = {}
        self.steps = 0

    def tick(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > STEP_BUDGET:
            raise GlobTooComplex("the pattern needs too many steps to match this string")


Segments = tuple[int, ...]


@dataclass(frozen=True)
class _Super:
    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return True

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        run.tick(len(s))
        return 0, tuple(i for i, _ in _runes(s)) + (len(s),)


@dataclass(frozen=True)
class _Nothing:
    def length(self) -> int:
        return 0

    def match(self, s: bytes, run: _Run) -> bool:
        return len(s) == 0

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        return 0, (0,)


@dataclass(frozen=True)
class _Single:
    def length(self) -> int:
        return 1

    def match(self, s: bytes, run: _Run) -> bool:
        _, width = _decode(s, 0)
        return len(s) <= width  # the empty string too: DecodeRune gives width 0 there

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        for at, rune in _runes(s):
            return at, (_rune_len(rune),)
        return -1, ()


@dataclass(frozen=True)
class _List:
    chars: tuple[int, ...]
    negated: bool

    def length(self) -> int:
        return 1

    def match(self, s: bytes, run: _Run) -> bool:
        rune, width = _decode(s, 0)
        if len(s) > width:
            return False
        return (rune in self.chars) == (not self.negated)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        run.tick(len(s))
        for at, rune in _runes(s):
            if self.negated == (rune not in self.chars):
                return at, (_rune_len(rune),)
        return -1, ()


@dataclass(frozen=True)
class _Range:
    lo: int
    hi: int
    negated: bool

    def length(self) -> int:
        return 1

    def match(self, s: bytes, run: _Run) -> bool:
        rune, width = _decode(s, 0)
        if len(s) > width:
            return False
        return (self.lo <= rune <= self.hi) == (not self.negated)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        run.tick(len(s))
        for at, rune in _runes(s):
            if self.negated != (self.lo <= rune <= self.hi):
                return at, (_rune_len(rune),)
        return -1, ()


@dataclass(frozen=True)
class _Text:
    text: bytes

    def length(self) -> int:
        return _rune_count(self.text)

    def match(self, s: bytes, run: _Run) -> bool:
        return s == self.text

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        at = s.find(self.text)
        return (at, (len(self.text),)) if at >= 0 else (-1, ())


@dataclass(frozen=True)
class _Min:
    limit: int

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return bool(s) and _rune_count(s) >= self.limit  # Go's loop answers false on "" whatever the limit

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        if len(s) - self.limit + 1 <= 0:
            return -1, ()
        run.tick(len(s))
        segments = [at + _rune_len(rune) for count, (at, rune) in enumerate(_runes(s), 1) if count >= self.limit]
        return (0, tuple(segments)) if segments else (-1, ())


@dataclass(frozen=True)
class _Max:
    limit: int

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return _rune_count(s) <= self.limit

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        run.tick(len(s))
        return 0, (0,) + tuple(at + _rune_len(rune) for at, rune in _runes(s)[:self.limit])


@dataclass(frozen=True)
class _Contains:
    needle: bytes
    negated: bool

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return (self.needle in s) != self.negated

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        run.tick(len(s))
        offset = 0
        at = s.find(self.needle)
        if not self.negated:
            if at == -1:
                return -1, ()
            offset = at + len(self.needle)
            if len(s) <= offset:
                return 0, (offset,)
            s = s[offset:]
        elif at != -1:
            s = s[:at]
        return 0, tuple(offset + i for i, _ in _runes(s)) + (offset + len(s),)


@dataclass(frozen=True)
class _Prefix:
    prefix: bytes

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return s.startswith(self.prefix)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        at = s.find(self.prefix)
        if at == -1:
            return -1, ()
        run.tick(len(s))
        size = len(self.prefix)
        rest = s[at + size:]
        return at, (size,) + tuple(size + i + _rune_len(rune) for i, rune in _runes(rest))


@dataclass(frozen=True)
class _Suffix:
    suffix: bytes

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return s.endswith(self.suffix)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        at = s.find(self.suffix)
        return (0, (at + len(self.suffix),)) if at >= 0 else (-1, ())


@dataclass(frozen=True)
class _PrefixSuffix:
    prefix: bytes
    suffix: bytes

    def length(self) -> int:
        return -1

    def match(self, s: bytes, run: _Run) -> bool:
        return s.startswith(self.prefix) and s.endswith(self.suffix)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        at = s.find(self.prefix)
        if at == -1:
            return -1, ()
        if not self.suffix:
            return at, (len(s) - at,)
        if len(s) - at <= 0:
            return -1, ()
        run.tick(len(s))
        segments = []
        sub = s[at:]
        while (last := sub.rfind(self.suffix)) != -1:
            segments.append(last + len(self.suffix))
            sub = sub[:last]
        return (at, tuple(reversed(segments))) if segments else (-1, ())


def _append_merge(target: list[int], sub: Segments) -> list[int]:
    """match.appendMerge: merges two (normally sorted) lists, one copy of equal heads."""
    out: list[int] = []
    x = y = 0
    while x < len(target) or y < len(sub):
        if x >= len(target):
            out.extend(sub[y:])
            break
        if y >= len(sub):
            out.extend(target[x:])
            break
        if target[x] == sub[y]:
            out.append(target[x])
            x += 1
            y += 1
        elif target[x] < sub[y]:
            out.append(target[x])
            x += 1
        else:
            out.append(sub[y])
            y += 1
    return out


@dataclass(frozen=True)
class _AnyOf:
    matchers: tuple[Matcher, ...]

    def length(self) -> int:
        total = -1
        for matcher in self.matchers:  # gobwas's loop: a -1 before a known length is forgotten
            size = matcher.length()
            if total == -1:
                total = size
            elif size == -1 or total != size:
                return -1
        return total

    def match(self, s: bytes, run: _Run) -> bool:
        return any(_match(matcher, s, run) for matcher in self.matchers)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        found = -1
        segments: list[int] = []
        for matcher in self.matchers:
            run.tick()
            at, seg = matcher.index(s, run)
            if at == -1:
                continue
            if found == -1 or at < found:
                found = at
                segments = list(seg)
            elif at == found:
                segments = _append_merge(segments, seg)
        return (found, tuple(segments)) if found != -1 else (-1, ())


@dataclass(frozen=True)
class _EveryOf:
    matchers: tuple[Matcher, ...]

    def length(self) -> int:
        return -1  # gobwas's loop starts from 0 and so never gets past its first matcher

    def match(self, s: bytes, run: _Run) -> bool:
        return all(_match(matcher, s, run) for matcher in self.matchers)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        index = offset = 0
        current: list[int] = []
        sub = s
        for position, matcher in enumerate(self.matchers):
            run.tick()
            at, seg = matcher.index(sub, run)
            if at == -1:
                return -1, ()
            if position == 0:
                current = list(seg)
            else:
                delta = index - (at + offset)
                run.tick(len(current) * len(seg))
                current = [n for ex in current for n in seg if ex + delta == n]
                if not current:
                    return -1, ()
            index = at + offset
            sub = s[index:]
            offset += at
        return index, tuple(current)


@dataclass(frozen=True)
class _Row:
    matchers: tuple[Matcher, ...]
    runes: int

    def length(self) -> int:
        return self.runes

    def _match_all(self, s: bytes, run: _Run) -> bool:
        idx = 0
        for matcher in self.matchers:
            size = matcher.length()
            # Go's `for next = range s[idx:]` stops at the size-th rune, or keeps the last rune's start
            starts = [at for at, _ in _runes(s[idx:])]
            counted = len(starts) if size <= 0 else min(size, len(starts))
            following = starts[counted - 1] if counted else 0
            if counted < size:
                return False
            if idx + following + 1 > len(s):  # Go: slice bounds out of range
                raise GlobPanic("gobwas/glob panics on this string (slice bounds out of range)")
            if not _match(matcher, s[idx:idx + following + 1], run):
                return False
            idx += following + 1
        return True

    def match(self, s: bytes, run: _Run) -> bool:
        return _rune_count(s) == self.runes and self._match_all(s, run)

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        for at, _ in _runes(s):
            run.tick(len(s) - at)
            if len(s) - at < self.runes:
                break
            if self._match_all(s[at:], run):
                return at, (self.runes,)
        return -1, ()


@dataclass(frozen=True)
class _BTree:
    value: Matcher
    left: Matcher | None
    right: Matcher | None
    value_runes: int
    left_runes: int
    right_runes: int
    runes: int

    def length(self) -> int:
        return self.runes

    def index(self, s: bytes, run: _Run) -> tuple[int, Segments]:
        return -1, ()  # gobwas's BTree.Index is not implemented either

    def match(self, s: bytes, run: _Run) -> bool:
        size = len(s)
        if self.runes != -1 and self.runes > size:
            return False
        offset = self.left_runes if self.left_runes >= 0 else 0
        limit = size - self.right_runes if self.right_runes >= 0 else size
        while offset < limit:
            run.tick(limit - offset)
            at, segments = self.value.index(s[offset:limit], run)
            if at == -1:
                return False
            head = s[:offset + at]
            if self.left is not None and _match(self.left, head, run) or self.left is None and head == b"":
                for length in reversed(segments):
                    run.tick()
                    tail = b"" if size <= offset + at + length else s[offset + at + length:]
                    if self.right is not None and _match(self.right, tail, run) or self.right is None and tail == b"":
                        return True
            _, step = _decode(s, offset + at)
            if step == 0:  # Go would loop for ever here
                raise GlobTooComplex("gobwas/glob would not finish matching this string")
            offset += at + step
        return False


Matcher = Union[_Super, _Nothing, _Single, _List, _Range, _Text, _Min, _Max, _Contains, _Prefix, _Suffix,
                _PrefixSuffix, _AnyOf, _EveryOf, _Row, _BTree]


def _match(matcher: Matcher, s: bytes, run: _Run) -> bool:
    if isinstance(matcher, (_Super, _Nothing, _Single, _List, _Range, _Text)):
        return matcher.match(s, run)
    key = (id(matcher), s)
    known = run.memo.get(key)
    if known is None:
        run.tick(1 + len(s))
        known = run.memo[key] = matcher.match(s, run)
    return known


def _new_btree(value: Matcher, left: Matcher | None, right: Matcher | None) -> _BTree:
    value_runes = value.length()
    left_runes = left.length() if left is not None else 0
    right_runes = right.length() if right is not None else 0
    known = value_runes != -1 and left_runes != -1 and right_runes != -1
    return _BTree(value, left, right, value_runes, left_runes, right_runes,
                  left_runes + value_runes + right_runes if known else -1)


# --- compiler (compiler/compiler.go) ----------------------------------------------------------------

def _optimize(matcher: Matcher | None) -> Matcher | None:
    if isinstance(matcher, _AnyOf):
        return matcher.matchers[0] if len(matcher.matchers) == 1 else matcher
    if isinstance(matcher, _List):
        return _Text(_encode(chr(matcher.chars[0]))) if not matcher.negated and len(matcher.chars) == 1 else matcher
    if not isinstance(matcher, _BTree):
        return matcher
    left, right = _optimize(matcher.left), _optimize(matcher.right)
    tree = replace(matcher, left=left, right=right)  # gobwas keeps the lengths measured before
    if not isinstance(tree.value, _Text):
        return tree
    text = tree.value.text
    if left is None and right is None:
        return _Text(text)
    if isinstance(left, _Super) and isinstance(right, _Super):
        return _Contains(text, False)
    if isinstance(left, _Super) and right is None:
        return _Suffix(text)
    if isinstance(right, _Super) and left is None:
        return _Prefix(text)
    if left is None and isinstance(right, _Suffix):
        return _PrefixSuffix(text, right.suffix)
    if right is None and isinstance(left, _Prefix):
        return _PrefixSuffix(left.prefix, text)
    return tree


def _compile_matchers(matchers: list[Matcher]) -> Matcher:
    if not matchers:
        raise GlobError("compile error: need at least one matcher", 1)
    if len(matchers) == 1:
        return matchers[0]
    glued = _glue(matchers)
    if glued is not None:
        return glued
    pivot = -1
    longest = -1
    for position, matcher in enumerate(matchers):
        size = matcher.length()
        if size != -1 and size >= longest:
            longest, pivot = size, position
    if pivot == -1:
        return _new_btree(matchers[0], None, _compile_matchers(matchers[1:]))
    left = _compile_matchers(matchers[:pivot]) if pivot > 0 else None
    right = _compile_matchers(matchers[pivot + 1:]) if pivot + 1 < len(matchers) else None
    return _new_btree(matchers[pivot], left, right)


def _glue(matchers: list[Matcher]) -> Matcher | None:
    return _glue_as_every(matchers) or _glue_as_row(matchers)


def _glue_as_row(matchers: list[Matcher]) -> Matcher | None:
    if len(matchers) <= 1:
        return None
    sizes = [matcher.length() for matcher in matchers]
    if -1 in sizes:
        return None
    return _Row(tuple(matchers), sum(sizes))


def _glue_as_every(matchers: list[Matcher]) -> Matcher | None:
    if len(matchers) <= 1:
        return None
    has_super = has_single = False
    minimum = 0
    separator: tuple[int, ...] | None = None
    for matcher in matchers:
        if isinstance(matcher, _Super):
            sep: tuple[int, ...] = ()
            has_super = True
        elif isinstance(matcher, _Single):
            sep = ()
            has_single = True
            minimum += 1
        elif isinstance(matcher, _List) and matcher.negated:
            sep = matcher.chars
            has_single = True
            minimum += 1
        else:
            return None
        if separator is None:
            separator = sep
        if sep != separator:
            return None
    assert separator is not None
    if has_super and not has_single:
        return _Super()
    if has_super and minimum > 0 and not separator:
        return _Min(minimum)
    every: list[Matcher] = []
    if minimum > 0:
        every.append(_Min(minimum))
        if not has_super:
            every.append(_Max(minimum))
    if separator:
        every.append(_Contains(_encode("".join(map(chr, separator))), True))
    return _EveryOf(tuple(every))


def _minimize_matchers(matchers: list[Matcher]) -> list[Matcher]:
    while True:
        done: Matcher | None = None
        left = right = count = 0
        for lo in range(len(matchers)):
            for hi in range(len(matchers), lo, -1):
                glued = _glue(matchers[lo:hi])
                if glued is None:
                    continue
                if done is None:
                    swap = True
                else:
                    done_len, glued_len = done.length(), glued.length()
                    swap = done_len > -1 and glued_len > -1 and glued_len > done_len
                    swap = swap or count < hi - lo
                if swap:
                    done, left, right, count = glued, lo, hi, hi - lo
        if done is None:
            return matchers
        following = matchers[:left] + [done] + matchers[right:]
        if len(following) == len(matchers):
            return following
        matchers = following


def _common_children(nodes: list[_Node]) -> tuple[list[_Node], list[_Node]]:
    common_left: list[_Node] = []
    if len(nodes) <= 1:
        return [], []
    shortest = min(range(len(nodes)), key=lambda position: len(nodes[position].children))
    tree = nodes[shortest]
    tree_length = len(tree.children)
    common_right: list[_Node | None] = [None] * tree_length
    last_right = tree_length
    break_left = break_right = False
    total = 0
    i, j = 0, tree_length - 1
    while total < tree_length and j >= 0 and not (break_left and break_right):
        tree_left, tree_right = tree.children[i], tree.children[j]
        for k, other in enumerate(nodes):
            if break_left and break_right:
                break
            if k == shortest:
                continue
            rest_left = other.children[i]
            rest_right = other.children[j + len(other.children) - tree_length]
            break_left = break_left or not tree_left.equal(rest_left)
            break_right = break_right or (not break_left and j <= i)
            break_right = break_right or not tree_right.equal(rest_right)
        if not break_left:
            total += 1
            common_left.append(tree_left)
        if not break_right:
            total += 1
            last_right = j
            common_right[j] = tree_right
        i, j = i + 1, j - 1
    right = [node for node in common_right[last_right:] if node is not None]
    return common_left, right


def _minimize_any_of(tree: _Node) -> _Node | None:
    if any(child.kind != _K.PATTERN for child in tree.children):
        return None
    common_left, common_right = _common_children(tree.children)
    if not common_left and not common_right:
        return None
    result: list[_Node] = []
    if common_left:
        result.append(_node(_K.PATTERN, None, *common_left))
    alternatives: list[_Node] = []
    for child in tree.children:
        reuse = child.children[len(common_left):len(child.children) - len(common_right)]
        alternative = _node(_K.PATTERN, None, *reuse) if reuse else _node(_K.NOTHING)
        if not any(known.equal(alternative) for known in alternatives):
            alternatives.append(alternative)
    if len(alternatives) == 1 and alternatives[0].kind != _K.NOTHING:
        result.append(alternatives[0])
    elif len(alternatives) > 1:
        result.append(_node(_K.ANY_OF, None, *alternatives))
    if common_right:
        result.append(_node(_K.PATTERN, None, *common_right))
    return _node(_K.PATTERN, None, *result)


def _compile_children(tree: _Node) -> list[Matcher]:
    out = []
    for child in tree.children:
        optimized = _optimize(_compile(child))
        assert optimized is not None
        out.append(optimized)
    return out


def _compile(tree: _Node) -> Matcher:
    kind = tree.kind
    if kind == _K.ANY_OF:
        minimized = _minimize_any_of(tree)
        if minimized is not None:
            return _compile(minimized)
        return _AnyOf(tuple(_compile_children(tree)))
    matcher: Matcher
    if kind == _K.PATTERN:
        if not tree.children:
            return _Nothing()
        matcher = _compile_matchers(_minimize_matchers(_compile_children(tree)))
    elif kind in (_K.ANY, _K.SUPER):
        matcher = _Super()  # with no separators gobwas's Any is optimized to Super
    elif kind == _K.SINGLE:
        matcher = _Single()
    elif kind == _K.NOTHING:
        matcher = _Nothing()
    elif kind == _K.LIST:
        assert tree.value is not None
        chars, negated = tree.value
        assert isinstance(chars, str) and isinstance(negated, bool)
        matcher = _List(tuple(map(ord, chars)), negated)
    elif kind == _K.RANGE:
        assert tree.value is not None
        lo, hi, negated = tree.value
        assert isinstance(lo, int) and isinstance(hi, int) and isinstance(negated, bool)
        matcher = _Range(lo, hi, negated)
    else:
        assert tree.value is not None
        (text,) = tree.value
        assert isinstance(text, str)
        matcher = _Text(_encode(text))
    optimized = _optimize(matcher)
    assert optimized is not None
    return optimized


# --- the public face ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Glob:
    """A compiled pattern; `match` answers as gobwas's `Glob.Match` would."""

    pattern: str
    _matcher: Matcher = field(repr=False, compare=False)

    def match(self, subject: str) -> bool:
        return _match(self._matcher, _encode(subject), _Run())


def compile_glob(pattern: str) -> Glob:
    """glob.Compile(pattern) with no separators; GlobError when gobwas refuses it."""
    return Glob(pattern, _compile(_parse(_Lexer(_encode(pattern)))))
