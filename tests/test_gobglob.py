"""engine.gobglob: gobwas/glob Compile(pattern) without separators, quirks included.

The tables are checked against github.com/gobwas/glob itself, next to thousands of generated
pattern/string pairs: the oracle (tests/oracles/gobwas_glob/main.go) is built in GOPATH mode from
Debian's golang-github-gobwas-glob-dev, without network (.ci/run installs it and golang-go); those
tests are skipped where Go is absent.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pullguard.engine.gobglob import GlobError, GlobPanic, GlobTooComplex, compile_glob

# pattern, subject, gobwas's answer
MATCHES = [
    ("ghcr.io/acme/*", "ghcr.io/acme/app:v1", True),
    ("ghcr.io/acme/*", "ghcr.io/acme", False),
    ("*", "", True),
    ("*", "a/b/c:d@sha256:00", True),  # no separators: `*` crosses `/`
    ("**", "a/b", True),
    ("docker.io/*", "nginx", False),  # the string as written, never normalized
    ("docker.io/*", "docker.io/library/nginx:1.25", True),
    ("nginx", "nginx", True),
    ("nginx", "nginx:latest", False),
    ("ghcr.io/?cme/*", "ghcr.io/acme/x", True),
    ("ghcr.io/?cme/*", "ghcr.io/cme/x", False),
    ("a?c", "a/c", True),
    ("?", "", True),  # gobwas: a lone single-character matcher takes the empty string
    ("?", "ab", False),
    ("[!a]", "", True),
    ("[a-z]", "", False),
    ("[abc]x", "bx", True),
    ("[abc]x", "dx", False),
    ("[!a-c]x", "dx", True),
    ("[!a-c]x", "bx", False),
    ("[^a]", "^", True),  # `^` is not a negation in gobwas: a list of `^` and `a`
    ("[^a]", "b", False),
    ("[ab-c]", "-", True),  # a `-` after two characters is literal
    ("[\\]]", "]", True),
    ("{a,b}", "a", True),
    ("{a,b}", "b", True),
    ("{a,b}", "ab", False),
    ("{a,b", "a", True),  # unclosed braces compile
    ("{a,b", "b", True),
    ("x{a,{b,c}}y", "xcy", True),  # nested
    ("x{a,{b,c}}y", "xay", True),
    ("x{a,{b,c}}y", "xdy", False),
    ("{,a}b", "b", True),
    ("a{,}b", "ab", False),  # gobwas's fixed-length row cannot take an empty alternative
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("a\\", "a", True),  # a trailing backslash escapes nothing and is dropped
    ("a}b", "a}b", True),  # `}` and `,` are text outside braces
    ("a,b", "a,b", True),
    ("a]", "a]", True),
    ("", "", True),
    ("", "a", False),
    ("a\x00b", "ab", True),  # a NUL ends a text run; the lexer goes on after it
    ("registry.example.com:5000/*/app:v[0-9]*", "registry.example.com:5000/team/app:v2.1", True),
    ("*.example.com/*", "eu.example.com/app", True),
    ("*.example.com/*", "example.com/app", False),
    ("*@sha256:*", "ghcr.io/a@sha256:abc", True),
]

# pattern, gobwas's message, column (1-based, in characters)
COMPILE_ERRORS = [
    ("[a", "unexpected end of input", 3),
    ("ghcr.io/[abc", "unexpected end of input", 13),
    ("[", "unexpected end of input", 2),
    ("[]", "could not parse range", 1),
    ("x[!]", "could not parse range", 2),
    ("[b-a]", "hi character 'a' should be greater than lo 'b'", 4),
    ("ab[a-b-c]", "expected close range character", 7),
    ("[a-", "unexpected end of input", 4),
    ("{a,[", "unexpected end of input", 5),
    ("é[", "unexpected end of input", 3),
    ("a\ufffdb", "could not read rune", 2),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), MATCHES)
def test_matches_as_gobwas(pattern: str, subject: str, expected: bool) -> None:
    assert compile_glob(pattern).match(subject) is expected


@pytest.mark.parametrize(("pattern", "message", "column"), COMPILE_ERRORS)
def test_compile_errors_name_the_column(pattern: str, message: str, column: int) -> None:
    with pytest.raises(GlobError) as caught:
        compile_glob(pattern)
    assert (caught.value.message, caught.value.column) == (message, column)


def test_a_go_panic_is_an_exception_not_an_answer() -> None:
    # gobwas: `a{,}` matching "a" slices past the end of the string (runtime error in Go).
    with pytest.raises(GlobPanic):
        compile_glob("a{,}").match("a")


@pytest.mark.parametrize("size", [4000, 40000])
def test_backtracking_patterns_are_bounded(size: int) -> None:
    """gobwas's search is a power of the input length here; ours stops at a step budget."""
    glob = compile_glob("*[ab]?*[ab]?*[ab]?*[ab]?*[ab]?c*")
    with pytest.raises(GlobTooComplex):  # after STEP_BUDGET steps, whatever the length
        glob.match("ab" * (size // 2))


def test_ordinary_long_references_match() -> None:
    glob = compile_glob("ghcr.io/*/*:{v1,v2}*")
    assert glob.match("ghcr.io/acme/app:v1." + "x" * 5000)


# --- against the Go library ---------------------------------------------------------------------

GOPATH = Path("/usr/share/gocode")
ORACLE_SOURCE = Path(__file__).parent / "oracles" / "gobwas_glob" / "main.go"


class Oracle:
    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, pattern: str, subjects: list[str]) -> tuple[str, list[bool | None]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"p": pattern, "s": subjects}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["e"], answer["m"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    if shutil.which("go") is None:
        pytest.skip("go is not installed (apt-get install golang-go golang-github-gobwas-glob-dev)")
    if not (GOPATH / "src/github.com/gobwas/glob").is_dir():
        pytest.skip("gobwas/glob sources are not installed (apt-get install golang-github-gobwas-glob-dev)")
    work = tmp_path_factory.mktemp("gobwas-oracle")
    binary = work / "gobwas"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(work / "cache"),
           "GOFLAGS": "", "GOPROXY": "off"}
    subprocess.run(["go", "build", "-o", str(binary), str(ORACLE_SOURCE)], check=True, env=env, cwd=work)
    started = Oracle(binary)
    yield started
    started.close()


def ours(pattern: str, subjects: list[str]) -> tuple[str, list[bool | None]]:
    try:
        glob = compile_glob(pattern)
    except GlobError as error:
        return error.message, []
    answers: list[bool | None] = []
    for subject in subjects:
        try:
            answers.append(glob.match(subject))
        except GlobPanic:
            answers.append(None)  # the oracle's word for a Go panic
    return "", answers


def test_the_tables_are_gobwas_facts(oracle: Oracle) -> None:
    for pattern, subject, expected in MATCHES:
        assert oracle.ask(pattern, [subject]) == ("", [expected]), (pattern, subject)
    for pattern, message, _column in COMPILE_ERRORS:
        assert oracle.ask(pattern, [])[0] == message, pattern
    assert oracle.ask("a{,}", ["a"]) == ("", [None])


# Syntax-heavy alphabets so that every construct and its edges come up; subjects also drawn from
# the pattern's own characters so that matches are frequent.
PATTERN_ALPHABET = list("ab*?[]{},!-\\^") + ["c", "/", ":", ".", "é", "\x00"]
SUBJECT_ALPHABET = list("ab/:c-.") + ["é", "]", "*", "?", "{", "^"]
REFERENCE_PIECES = ["ghcr.io", "docker.io", "localhost:5000", "/", "acme", "app", ":", "v1", "@sha256:", "*", "?",
                    "{", "}", ",", "[", "]", "!", "a-z", "0-9", "library", "nginx"]


def _patterns(rng: random.Random) -> Iterator[str]:
    for _ in range(3000):
        yield "".join(rng.choice(PATTERN_ALPHABET) for _ in range(rng.randint(0, 10)))
    for _ in range(1500):
        yield "".join(rng.choice(REFERENCE_PIECES) for _ in range(rng.randint(1, 8)))


def _subjects(rng: random.Random, pattern: str) -> list[str]:
    literal = "".join(ch for ch in pattern if ch not in "*?[]{}\\!,")
    subjects = ["".join(rng.choice(SUBJECT_ALPHABET) for _ in range(rng.randint(0, 8))) for _ in range(10)]
    subjects += [literal, literal + "a", "a" + literal, literal[: len(literal) // 2]]
    subjects += ["".join(rng.choice(REFERENCE_PIECES) for _ in range(rng.randint(1, 6))) for _ in range(4)]
    return subjects


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_patterns_agree_with_gobwas(oracle: Oracle, seed: int) -> None:
    rng = random.Random(seed)
    pairs = 0
    disagreements = []
    for pattern in _patterns(rng):
        subjects = _subjects(rng, pattern)
        expected, got = oracle.ask(pattern, subjects), ours(pattern, subjects)
        pairs += len(subjects)
        if expected != got:
            disagreements.append((pattern, subjects, expected, got))
    assert pairs > 50_000
    assert disagreements[:5] == []
