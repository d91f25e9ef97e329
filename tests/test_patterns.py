"""Pattern matching: go-glob (Talos), go-wildcard (Kyverno), first-match, subsumption, lints."""

from __future__ import annotations

import random
import re

import pytest

from pullguard.engine.patterns import (
    AllMatches,
    FirstMatch,
    NeverMatches,
    PatternMasks,
    all_matches,
    first_match,
    glob_can_match_normalized,
    glob_match,
    glob_never_matches,
    glob_subsumes,
    glob_to_regex,
    mask_bits,
    wildcard_match,
    wildcard_subsumes,
)
from pullguard.engine.reference import talos_match_subject

GO_GLOB_SUBJECT = "this is a ϗѾ test"

# (pattern, subject, matches)
GLOB = [
    # go-glob glob_test.go: TestEmptyPattern, TestEmptySubject, TestPatternWithoutGlobs
    ("", "", True),
    ("", "test", False),
    ("*", "", True),
    ("**", "", True),
    ("***", "", True),
    ("*" * 1000, "", True),
    ("test", "", False),
    ("*test*", "", False),
    ("*x", "", False),
    ("*" * 1000 + "x", "", False),
    ("x*", "", False),
    ("x*x", "", False),
    ("x" + "*" * 1000 + "x", "", False),
    ("test", "test", True),
    # TestGlob matches against "this is a ϗѾ test"
    ("*test", GO_GLOB_SUBJECT, True),
    ("this*", GO_GLOB_SUBJECT, True),
    ("this*test", GO_GLOB_SUBJECT, True),
    ("*is *", GO_GLOB_SUBJECT, True),
    ("*is*a*", GO_GLOB_SUBJECT, True),
    ("**test**", GO_GLOB_SUBJECT, True),
    ("**is**a***test*", GO_GLOB_SUBJECT, True),
    ("* *", GO_GLOB_SUBJECT, True),
    ("*", GO_GLOB_SUBJECT, True),
    ("**********", GO_GLOB_SUBJECT, True),
    ("*Ѿ*", GO_GLOB_SUBJECT, True),
    ("*is a ϗѾ *", GO_GLOB_SUBJECT, True),
    # TestGlob non-matches against "this is a test"
    ("test*", "this is a test", False),
    ("*is", "this is a test", False),
    ("*no*", "this is a test", False),
    (" ", "this is a test", False),
    ("* ", "this is a test", False),
    (" *", "this is a test", False),
    ("*ʤ*", "this is a test", False),
    ("this*this is a test", "this is a test", False),
    # pieces must not overlap
    ("a*a", "a", False),
    ("ab*ba", "aba", False),
    ("ab*ba", "abba", True),
    # SPEC §3 quirks: `*` crosses '/', `**` is `*`, case-sensitive, no `?`
    ("ghcr.io/*", "ghcr.io/org/team/app", True),
    ("ghcr.io/**", "ghcr.io/org/team/app", True),
    ("ghcr.io/*/app", "ghcr.io/org/team/app", True),
    ("ghcr.io/siderolabs/talos*", "ghcr.io/siderolabs/talosctl", True),
    ("ghcr.io/siderolabs/talos*", "ghcr.io/siderolabs/installer", False),
    ("ghcr.io/siderolabs/talos", "ghcr.io/siderolabs/talosctl", False),
    ("GHCR.io/*", "ghcr.io/org/app", False),
    ("ghcr.io/org/ap?", "ghcr.io/org/app", False),
    ("ghcr.io/org/ap?", "ghcr.io/org/ap?", True),
    ("*.example.com/*", "registry.example.com/team/app", True),
    ("*/library/*", "index.docker.io/library/nginx", True),
]


@pytest.mark.parametrize("pattern,subject,expected", GLOB,
                         ids=[f"{p[:20]!r}~{s[:20]!r}" for p, s, _ in GLOB])
def test_glob_match(pattern, subject, expected):
    assert glob_match(pattern, subject) is expected
    # the regex translation used for one-pass matching agrees
    assert (re.fullmatch(glob_to_regex(pattern), subject, re.DOTALL) is not None) is expected


# Talos matches the normalized reference, so Docker Hub spellings never reach the pattern.
@pytest.mark.parametrize("pattern,image,expected", [
    ("docker.io/*", "nginx", False),
    ("docker.io/*", "docker.io/library/nginx:1.25", False),
    ("docker.io/library/nginx", "docker.io/library/nginx", False),
    ("index.docker.io/*", "nginx", True),
    ("index.docker.io/library/*", "docker.io/nginx:latest", True),
    ("index.docker.io/myuser/*", "myuser/app", True),
    ("index.docker.io/library/nginx", "nginx:1.25@sha256:" + "a" * 64, True),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1", False),  # the tag is dropped before matching
    ("localhost:5000/*", "localhost:5000/a/b:t", True),
])
def test_glob_against_normalized_images(pattern, image, expected):
    assert glob_match(pattern, talos_match_subject(image)) is expected


# IGLOU-EU/go-wildcard v1.0.3 wildcard_test.go TestMatch (Kyverno ext/wildcard has the same table)
WILDCARD = [
    ("*", "s3:GetObject", True),
    ("", "s3:GetObject", False),
    ("", "", True),
    ("s3:*", "s3:ListMultipartUploadParts", True),
    ("s3:ListBucketMultipartUploads", "s3:ListBucket", False),
    ("s3:ListBucket", "s3:ListBucket", True),
    ("s3:ListBucketMultipartUploads", "s3:ListBucketMultipartUploads", True),
    ("my-bucket/oo*", "my-bucket/oo", True),
    ("my-bucket/In*", "my-bucket/India/Karnataka/", True),
    ("my-bucket/In*", "my-bucket/Karnataka/India/", False),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Ban/Ban/Ban/Ban/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Area1/Area2/Area3/Ban", True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/State1/State2/Karnataka/Area1/Area2/Area3/Ban",
     True),
    ("my-bucket/In*/Ka*/Ban", "my-bucket/India/Karnataka/Bangalore", False),
    ("my-bucket/In*/Ka*/Ban*", "my-bucket/India/Karnataka/Bangalore", True),
    ("my-bucket/*", "my-bucket/India", True),
    ("my-bucket/oo*", "my-bucket/odo", False),
    ("my-bucket?/abc*", "mybucket/abc", False),
    ("my-bucket?/abc*", "my-bucket1/abc", True),
    ("my-?-bucket/abc*", "my--bucket/abc", False),
    ("my-?-bucket/abc*", "my-1-bucket/abc", True),
    ("my-?-bucket/abc*", "my-k-bucket/abc", True),
    ("my??bucket/abc*", "mybucket/abc", False),
    ("my??bucket/abc*", "my4abucket/abc", True),
    ("my-bucket?abc*", "my-bucket/abc", True),
    ("my-bucket/abc?efg", "my-bucket/abcdefg", True),
    ("my-bucket/abc?efg", "my-bucket/abc/efg", True),
    ("my-bucket/abc????", "my-bucket/abc", False),
    ("my-bucket/abc????", "my-bucket/abcde", False),
    ("my-bucket/abc????", "my-bucket/abcdefg", True),
    ("my-bucket/abc?", "my-bucket/abc", False),
    ("my-bucket/abc?", "my-bucket/abcd", True),
    ("my-bucket/abc?", "my-bucket/abcde", False),
    ("my-bucket/mnop*?", "my-bucket/mnop", False),
    ("my-bucket/mnop*?", "my-bucket/mnopqrst/mnopqr", True),
    ("my-bucket/mnop*?", "my-bucket/mnopqrst/mnopqrs", True),
    ("my-bucket/mnop*?", "my-bucket/mnopq", True),
    ("my-bucket/mnop*?", "my-bucket/mnopqr", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopqand", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopand", False),
    ("my-bucket/mnop*?", "my-bucket/mn", False),
    ("my-bucket/mnop*??", "my-bucket/mnopqrst", True),
    ("my-bucket/mnop*qrst", "my-bucket/mnopabcdegqrst", True),
    ("my-bucket/mnop*?and?", "my-bucket/mnopqanda", True),
    ("my-bucket/mnop*?and", "my-bucket/mnopqanda", False),
    ("my-?-bucket/abc*", "my-bucket/mnopqanda", False),
    # Kyverno image strings: `?` is one character, `/` included; a digest drops the tag
    ("docker.io/nginx:*", "docker.io/nginx:1.25", True),
    ("docker.io/nginx:*", "docker.io/nginx@sha256:" + "a" * 64, False),
    ("docker.io/nginx*", "docker.io/nginx@sha256:" + "a" * 64, True),
    ("ghcr.io/org?app:*", "ghcr.io/org/app:v1", True),
    ("ghcr.io/?", "ghcr.io/ϗ", True),  # one character, not one byte
]


@pytest.mark.parametrize("pattern,text,expected", WILDCARD,
                         ids=[f"{p[:24]!r}~{t[:24]!r}" for p, t, _ in WILDCARD])
def test_wildcard_match(pattern, text, expected):
    assert wildcard_match(pattern, text) is expected


def _first_by_loop(patterns, subject):
    for i, p in enumerate(patterns):
        if glob_match(p, subject):
            return i
    return None


def test_first_match_is_rule_order():
    patterns = ["ghcr.io/siderolabs/*", "ghcr.io/*", "*.io/x", "index.docker.io/library/nginx",
                "index.docker.io/library/nginx", "ghcr.io/siderolabs/talos*", "*"]
    fm = FirstMatch(patterns)
    cases = {
        "ghcr.io/siderolabs/talosctl": 0,
        "ghcr.io/other/app": 1,
        "quay.io/x": 2,
        "index.docker.io/library/nginx": 3,  # the duplicate exact rule never wins
        "registry.example.com/a/b": 6,
    }
    for subject, expected in cases.items():
        assert fm.first(subject) == expected
        assert fm.first(subject) == expected  # and again from the memo


def test_first_match_exact_after_glob():
    # an exact pattern listed after a glob that also matches must lose to the glob
    fm = FirstMatch(["ghcr.io/org/*", "ghcr.io/org/app"])
    assert fm.first("ghcr.io/org/app") == 0
    fm = FirstMatch(["ghcr.io/org/app", "ghcr.io/org/*"])
    assert fm.first("ghcr.io/org/app") == 0
    assert fm.first("ghcr.io/org/other") == 1
    assert FirstMatch([]).first("ghcr.io/org/app") is None


def test_first_match_agrees_with_loop_on_random_policies():
    rng = random.Random(7)
    pieces = ["ghcr.io", "quay.io", "index.docker.io", "library", "org", "a", "app", "/", "-", ".",
              ""]

    def word():
        return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))

    for _ in range(50):
        patterns = []
        for _ in range(rng.randint(1, 30)):
            parts = [word() for _ in range(rng.randint(1, 4))]
            patterns.append("*".join(parts) if rng.random() < 0.7 else parts[0])
        fm = FirstMatch(patterns)
        for _ in range(60):
            subject = word() + word()
            assert fm.first(subject) == _first_by_loop(patterns, subject), (patterns, subject)


@pytest.mark.parametrize("subject,first,every", [
    ("ghcr.io/a/b/c", 1, (1, 2, 3, 4)),  # prefixes at two of its '/'s, an automaton piece, '*'
    ("ghcr.io/a/x", 1, (1, 3, 4)),
    ("ghcr.io/ab/c", 3, (3, 4)),  # 'ghcr.io/a/' is no prefix of it
    ("quay.io/a/b/c", 2, (2, 4)),
    ("ghcr.io/a", 3, (3, 4)),  # shorter than the prefix 'ghcr.io/a/'
])
def test_prefix_patterns_and_pieces_keep_rule_order(subject: str, first: int, every: tuple[int, ...]) -> None:
    # Patterns that start with a path up to a '/' are indexed by that prefix, the others by an
    # automaton piece: together, in rule order, whichever structure found them.
    patterns = ["docker.io/library/*", "ghcr.io/a/*", "*/a/b*", "ghcr.io/*", "*"]
    assert FirstMatch(patterns).first(subject) == first == _first_by_loop(patterns, subject)
    assert AllMatches(patterns).all(subject) == every
    assert every == tuple(i for i, p in enumerate(patterns) if glob_match(p, subject))


def test_first_match_build_cache():
    patterns = ("ghcr.io/*", "quay.io/*")
    assert first_match(patterns) is first_match(tuple(patterns))
    assert first_match(patterns) is not first_match(("quay.io/*",))


def test_all_matches_every_entry_in_order():
    am = AllMatches(["docker.io/nginx:*", "*", "docker.io/*", "ghcr.io/?rg/*",
                     "docker.io/nginx:1.25", "docker.io/nginx:1.25"])
    assert am.all("docker.io/nginx:1.25") == (0, 1, 2, 4, 5)
    assert am.all("docker.io/nginx@sha256:" + "a" * 64) == (1, 2)
    assert am.all("ghcr.io/org/app:v1") == (1, 3)
    assert AllMatches(["ghcr.io/*"]).any("quay.io/x:1") is False
    assert all_matches(("a*",)) is all_matches(("a*",))


# (earlier, later, earlier subsumes later)
SUBSUMES = [
    ("*", "anything/at:all", True),
    ("*", "ghcr.io/*", True),
    ("*", "", True),
    ("**", "*", True),
    ("ghcr.io/*", "ghcr.io/a/*", True),
    ("ghcr.io/*", "ghcr.io/**", True),
    ("ghcr.io/**", "ghcr.io/*", True),
    ("ghcr.io/a*", "ghcr.io/*", False),
    ("ghcr.io/a/*", "ghcr.io/*", False),
    ("ghcr.io/*", "ghcr.io/*", True),
    ("ghcr.io/org/app", "ghcr.io/org/app", True),
    ("ghcr.io/org/app", "ghcr.io/org/*", False),
    ("ghcr.io/*", "ghcr.io/org/app", True),
    ("ghcr.io/*", "quay.io/*", False),
    ("*/app", "ghcr.io/*/app", True),
    ("*/app", "ghcr.io/app*", False),
    ("*app*", "ghcr.io/*app", True),
    ("ghcr.io/*/*", "ghcr.io/*", False),  # `ghcr.io/x` has no second '/'
    ("ghcr.io/*/*", "ghcr.io/*/app", True),
    ("a*b*c", "a*c", False),
    ("a*c", "a*b*c", True),
    ("*.io/*", "ghcr.io/*", True),
    ("", "", True),
    ("", "*", False),
]


@pytest.mark.parametrize("earlier,later,expected", SUBSUMES)
def test_glob_subsumes(earlier, later, expected):
    assert glob_subsumes(earlier, later) is expected


def test_glob_subsumes_agrees_with_brute_force():
    # Inclusion over every subject built from a small alphabet (long enough to separate them).
    rng = random.Random(11)
    alphabet = "ab/"
    subjects = [""]
    for _ in range(6):
        subjects += [s + c for s in subjects if len(s) == max(map(len, subjects)) for c in alphabet]
    for _ in range(400):
        earlier = "".join(rng.choice("ab/*") for _ in range(rng.randint(0, 4)))
        later = "".join(rng.choice("ab/*") for _ in range(rng.randint(0, 4)))
        brute = all(glob_match(earlier, s) for s in subjects if glob_match(later, s))
        assert glob_subsumes(earlier, later) is brute, (earlier, later)


@pytest.mark.parametrize("earlier,later,expected", [
    ("*", "ghcr.io/?rg/*", True),
    ("ghcr.io/*", "ghcr.io/org/*", True),
    ("ghcr.io/???/*", "ghcr.io/org/*", True),
    ("ghcr.io/???/*", "ghcr.io/*/app", False),
    ("ghcr.io/?*", "ghcr.io/*", False),
    ("ghcr.io/*", "ghcr.io/?", True),
    ("ghcr.io/a", "ghcr.io/?", False),
])
def test_wildcard_subsumes(earlier, later, expected):
    assert wildcard_subsumes(earlier, later) is expected


# (pattern, reason words or None when it can match, suggested fix)
NEVER = [
    ("docker.io/*", "index.docker.io", "index.docker.io/*"),
    ("docker.io/library/*", "index.docker.io", "index.docker.io/library/*"),
    ("docker.io/nginx", "index.docker.io/library/nginx", "index.docker.io/library/nginx"),
    ("nginx", "normalized", "index.docker.io/library/nginx"),
    ("index.docker.io/nginx", "normalized", "index.docker.io/library/nginx"),
    ("myuser/*", "not a registry host", "index.docker.io/myuser/*"),
    ("ghcr.io/org/app:v1", "normalized", "ghcr.io/org/app"),
    ("ghcr.io/org/*:v1", "tag", "ghcr.io/org/*"),
    ("ghcr.io/org/app@sha256:*", "digest", "ghcr.io/org/app"),
    ("ghcr.io/Org/*", "lowercase", "ghcr.io/org/*"),
    ("ghcr.io/org app/*", "cannot occur", None),
    ("my registry.io/*", "not a valid registry host", None),
    ("gcr.io:http/*", "not a valid registry host", None),
    ("", "empty", None),
    ("Nginx", "not a valid image name", None),
    # patterns that can match
    ("*", None, None),
    ("**", None, None),
    ("index.docker.io/*", None, None),
    ("index.docker.io/library/nginx", None, None),
    ("ghcr.io/siderolabs/talos*", None, None),
    ("localhost:5000/*", None, None),
    ("*.example.com/*", None, None),
    ("*docker.io/*", None, None),
    ("ghcr.io:*", None, None),  # the ':' can be a port
    ("*:5000/app", None, None),
    ("ghcr.io/org/app", None, None),
    # the tag reference `a{248}` has this subject, though the name does not parse by itself
    ("index.docker.io/library/" + "a" * 248, None, None),
    ("index.docker.io/library/" + "a" * 255, None, None),
    ("index.docker.io/library/" + "a" * 256, "not a valid image name", None),
]


@pytest.mark.parametrize("pattern,words,fix", NEVER, ids=[n[0] or "empty" for n in NEVER])
def test_glob_never_matches(pattern, words, fix):
    problem = glob_never_matches(pattern)
    if words is None:
        assert problem is None
        assert glob_can_match_normalized(pattern)
        return
    assert isinstance(problem, NeverMatches)
    assert words in problem.reason
    assert problem.suggestion == fix
    assert not glob_can_match_normalized(pattern)
    if fix is not None:  # the suggestion itself is fine
        assert glob_never_matches(fix) is None


def test_wildcard_subsumes_agrees_with_brute_force():
    rng = random.Random(13)
    alphabet = "ab"
    subjects = [""]
    frontier = [""]
    for _ in range(7):
        frontier = [s + c for s in frontier for c in alphabet]
        subjects += frontier
    for _ in range(600):
        earlier = "".join(rng.choice("ab*?") for _ in range(rng.randint(0, 4)))
        later = "".join(rng.choice("ab*?") for _ in range(rng.randint(0, 4)))
        brute = all(wildcard_match(earlier, s) for s in subjects if wildcard_match(later, s))
        assert wildcard_subsumes(earlier, later) is brute, (earlier, later)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SMALL = st.text(alphabet="ab/*?", max_size=8)


@settings(max_examples=500, deadline=None)
@given(_SMALL, st.text(alphabet="ab/*?", max_size=10))
def test_glob_match_agrees_with_regex_translation(pattern, subject):
    expected = re.fullmatch(glob_to_regex(pattern), subject, re.DOTALL) is not None
    assert glob_match(pattern, subject) is expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_SMALL, max_size=8), st.lists(st.text(alphabet="ab/", max_size=8), max_size=8))
def test_all_matches_agrees_with_loop(patterns, subjects):
    am = AllMatches(patterns)
    for s in subjects:
        assert am.all(s) == tuple(i for i, p in enumerate(patterns) if wildcard_match(p, s))


# --- user patterns that would make a backtracking matcher run for hours ---------------------
# Each case runs in a subprocess with a 20 s limit, so a regression fails instead of hanging
# the suite (pytest-timeout is not installed). Fixed: about a millisecond each.

_NASTY_WILDCARD = "*a?" * 12 + "*b"  # backtracking regex: 0.9 s at 20 a's, hours at 60
_NASTY_GLOB = "*a" * 30 + "*b"
_NASTY_SUBJECT = "ghcr.io/" + "a" * 60 + "/x:1"
_KYVERNO_NASTY = f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: pol}}
spec:
  rules:
    - name: r1
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      verifyImages:
        - imageReferences: ["{_NASTY_WILDCARD}"]
          attestors: [{{entries: [{{keyless: {{issuer: https://i.example, subject: "{_NASTY_WILDCARD}"}}}}]}}]
"""
_TALOS_NASTY = f"""apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "{_NASTY_GLOB}"
    deny: true
"""

# (what, Python code printing a result, expected output)
PATHOLOGICAL = [
    ("wildcard_match miss", f"print(wildcard_match({_NASTY_WILDCARD!r}, {_NASTY_SUBJECT!r}))", "False"),
    ("wildcard_match hit", f"print(wildcard_match({_NASTY_WILDCARD!r}, {'ghcr.io/' + 'a' * 60 + 'b'!r}))", "True"),
    ("WildcardMasks", f"print(WildcardMasks([{_NASTY_SUBJECT!r}, {'a' * 80 + 'b'!r}]).mask({_NASTY_WILDCARD!r}))",
     "1"),  # sorted: 'aaa...b' first
    ("AllMatches", f"print(AllMatches([{_NASTY_WILDCARD!r}, 'ghcr.io/*']).all({_NASTY_SUBJECT!r}))", "(1,)"),
    ("check_identity subject",
     "from pullguard.engine.vocabulary import KeylessVerifier\n"
     "from pullguard.engine.signatures.evidence import Identity\n"
     "from pullguard.engine.signatures.identity import check_identity\n"
     "from pullguard.engine.signatures import SignatureError\n"
     "try:\n"
     f"    check_identity(Identity('https://i.example', {_NASTY_SUBJECT!r}),\n"
     f"                   KeylessVerifier(issuer='https://i.example', subject={_NASTY_WILDCARD!r}, match='wildcard'))\n"
     "except SignatureError:\n"
     "    print('rejected')", "rejected"),
    ("Kyverno simulate",
     "from pullguard.engine.policy import load_policy\n"
     f"p = load_policy({_KYVERNO_NASTY!r}, 'p.yaml').policy\n"
     f"print([d.action for d in p.evaluate_many([{_NASTY_SUBJECT!r}, 'ghcr.io/' + 'a' * 60 + '@sha256:' + 'ab' * 32])],"
     f" p.evaluate({_NASTY_SUBJECT!r}).action)", "['allow', 'verify'] allow"),
    ("glob_match", f"print(glob_match({_NASTY_GLOB!r}, {'a' * 200!r}))", "False"),
    ("FirstMatch", f"print(FirstMatch([{_NASTY_GLOB!r}, '*']).first({'a' * 200!r}))", "1"),
    ("Talos simulate",
     "from pullguard.engine.policy import load_policy\n"
     f"p = load_policy({_TALOS_NASTY!r}, 'p.yaml').policy\n"
     "subjects = ['ghcr.io/' + 'a' * 200 + str(i) for i in range(50)] + ['ghcr.io/' + 'a' * 200 + 'b']\n"
     "print(sorted({d.action for d in p.evaluate_many(subjects)}), p.evaluate(subjects[0]).action)",
     "['allow', 'deny'] allow"),
]


@pytest.mark.parametrize("what, code, expected", PATHOLOGICAL, ids=[c[0] for c in PATHOLOGICAL])
def test_pathological_patterns_finish(what, code, expected):
    import subprocess
    import sys
    from pathlib import Path

    prelude = "from pullguard.engine.patterns import AllMatches, FirstMatch, WildcardMasks, glob_match, wildcard_match\n"
    try:
        done = subprocess.run([sys.executable, "-c", prelude + code], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: still matching after 20 s (backtracking on a user pattern)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


# --- the candidate index (engine/literalindex.py) against the single-pattern matchers -------
# Alphabets with the characters that matter: the wildcards, '/', '.', and pieces that occur in
# several patterns, so that candidates overlap, nest and repeat.

_HOSTISH = st.text(alphabet="ab.-/*", min_size=0, max_size=10)
_HOSTISH_WILD = st.text(alphabet="ab.-/*?", min_size=0, max_size=10)
_SUBJECTS = st.lists(st.text(alphabet="ab.-/", max_size=12), max_size=12)


def _mirror_patterns(rng: random.Random, n: int) -> list[str]:
    """Policies of the shapes fleets use, leading `*` host patterns among them."""
    shapes = ["*.mirror-{i}.internal/*/base", "reg-{i}.example.com/team/*", "ghcr.io/org-{i}/*",
              "*/vendor-{i}/app-*", "reg-{i}.example.com/team/svc", "*", "*-{i}*", "ghcr.io/*/app{i}"]
    return [rng.choice(shapes).format(i=rng.randrange(12)) for _ in range(n)]


def _mirror_subjects(rng: random.Random, n: int) -> list[str]:
    shapes = ["eu.mirror-{i}.internal/p{j}/base", "eu.mirror-{i}.internal/base", "reg-{i}.example.com/team/svc",
              "reg-{i}.example.com/team/x{j}", "ghcr.io/org-{i}/x", "quay.io/vendor-{i}/app-{j}",
              "ghcr.io/o{j}/app{i}", "index.docker.io/library/a-{i}"]
    return [rng.choice(shapes).format(i=rng.randrange(12), j=rng.randrange(3)) for _ in range(n)]


@settings(max_examples=400, deadline=None)
@given(st.lists(_HOSTISH, max_size=10), _SUBJECTS)
def test_first_match_agrees_with_glob_match(patterns, subjects):
    fm = FirstMatch(patterns)
    for s in subjects:
        assert fm.first(s) == _first_by_loop(patterns, s), (patterns, s)


@settings(max_examples=400, deadline=None)
@given(st.lists(_HOSTISH_WILD, max_size=10), _SUBJECTS)
def test_all_matches_agrees_with_wildcard_match(patterns, subjects):
    am = AllMatches(patterns)
    for s in subjects:
        assert am.all(s) == tuple(i for i, p in enumerate(patterns) if wildcard_match(p, s)), (patterns, s)


@settings(max_examples=200, deadline=None)
@given(st.lists(_HOSTISH_WILD, max_size=12), _SUBJECTS, st.sampled_from(["glob", "wildcard"]))
def test_pattern_masks_prepare_agrees_with_one_pattern_at_a_time(patterns, subjects, syntax):
    match = glob_match if syntax == "glob" else wildcard_match
    if syntax == "glob":
        patterns = [p.replace("?", "a") for p in patterns]
    batch = PatternMasks(subjects, syntax)
    batch.prepare(patterns * 2)  # enough patterns for the automaton, repeats included
    alone = PatternMasks(subjects, syntax)
    for p in patterns:
        expected = sum(1 << i for i, s in enumerate(batch.subjects) if match(p, s))
        assert batch.mask(p) == expected, (p, batch.subjects)
        assert alone.mask(p) == expected, (p, alone.subjects)


@pytest.mark.parametrize("seed", range(8))
def test_leading_star_host_policies_agree_with_the_loop(seed):
    rng = random.Random(seed)
    patterns = _mirror_patterns(rng, rng.randint(1, 60))
    subjects = _mirror_subjects(rng, 200)
    fm, am = FirstMatch(patterns), AllMatches(patterns)
    masks = PatternMasks(subjects, "glob")
    masks.prepare(patterns)
    for s in subjects:
        assert fm.first(s) == _first_by_loop(patterns, s), (patterns, s)
        assert am.all(s) == tuple(i for i, p in enumerate(patterns) if wildcard_match(p, s))
    for p in patterns:
        assert mask_bits(masks.mask(p)) == [i for i, s in enumerate(masks.subjects) if glob_match(p, s)]


# (patterns, subject, FirstMatch, AllMatches): a piece shared by many patterns, a piece that
# occurs twice in the subject, the catch-all before or after a better candidate, `?`-only.
CANDIDATE_CASES = [
    (["ghcr.io/*/app1", "ghcr.io/*/app2", "ghcr.io/*"], "ghcr.io/o/app2", 1, (1, 2)),
    (["*.mirror-1.internal/*/base", "*.mirror-12.internal/*/base"], "eu.mirror-12.internal/p/base", 1, (1,)),
    (["*a*a*", "*aa*"], "xaxa", 0, (0,)),
    (["*", "ghcr.io/*"], "ghcr.io/x", 0, (0, 1)),
    (["ghcr.io/*", "*"], "quay.io/x", 1, (1,)),
    (["???", "?*", "**"], "abc", 0, (0, 1, 2)),
    (["", "*"], "", 0, (0, 1)),
    (["a/b", "a/b", "a/*"], "a/b", 0, (0, 1, 2)),
    # A pattern matched without reading it again must not take a piece found elsewhere for a
    # prefix or a suffix: `ab*` and `*/app` hold their piece, yet do not match.
    (["ab*", "*"], "xab", 1, (1,)),
    (["ab/*", "*"], "x/ab/c", 1, (1,)),
    (["*/app", "*"], "a/app/x", 1, (1,)),
    (["*/app*", "ab/*", "*"], "ab/app", 0, (0, 1, 2)),
    (["a?/*", "*"], "ab/c", 0, (0, 1)),
]


@pytest.mark.parametrize("patterns, subject, first, every", CANDIDATE_CASES,
                         ids=[f"{c[0]}~{c[1]}" for c in CANDIDATE_CASES])
def test_candidate_index_cases(patterns, subject, first, every):
    glob_patterns = [p for p in patterns if "?" not in p]
    expected_first = _first_by_loop(glob_patterns, subject)
    assert FirstMatch(glob_patterns).first(subject) == expected_first
    if glob_patterns == patterns:
        assert expected_first == first
    assert AllMatches(patterns).all(subject) == every
