"""Kyverno matching: go-wildcard v1.0.3, ImageInfo strings, kinds, every-entry semantics."""

from __future__ import annotations

import pytest

from pullguard.engine.patterns import wildcard_match
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.kyverno.match import parse_kind_selector
from tests.support.policies import kyverno_policy

# go-wildcard v1.0.3's own table (Kyverno's ext/wildcard has the same rows) is in tests/test_patterns.py.


@pytest.mark.parametrize(
    "pattern,text,matched",
    [
        ("docker.io/*", "docker.io/library/nginx:latest", True),  # `*` crosses '/'
        ("docker.io/?ginx:*", "docker.io/nginx:1.25", True),
        ("docker.io/?nginx:*", "docker.io/nginx:1.25", False),  # `?` is exactly one rune
        ("ghcr.io/org/*:v1", "ghcr.io/org/app:v1", True),
        ("ghcr.io/org/*:v1", "ghcr.io/org/app:v10", False),  # whole string
        ("ghcr.io/org/app", "ghcr.io/org/app:latest", False),
        ("**", "", True),
        ("a**b", "ab", True),
        ("é?", "éü", True),  # runes, not bytes
    ],
)
def test_wildcard_semantics(pattern, text, matched):
    assert wildcard_match(pattern, text) is matched


def test_wildcard_regex_agrees_with_wildcard_match():
    """The regex translation (used for bitmasks and for patterns with `?`) and the star-only
    walk that wildcard_match takes otherwise give the same answers."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pullguard.engine.patterns import wildcard_match as shared
    from pullguard.engine.patterns import wildcard_to_regex

    def compile_wildcard(pattern):
        return re.compile(wildcard_to_regex(pattern), re.DOTALL)

    alphabet = st.sampled_from(list("ab/*?:."))

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet, max_size=8), st.text(st.sampled_from(list("ab/:.")), max_size=8))
    def check(pattern, text):
        assert (compile_wildcard(pattern).fullmatch(text) is not None) == shared(pattern, text)

    check()


@pytest.mark.parametrize(
    "selector,parsed",
    [
        ("Pod", ("*", "*", "Pod", "")),
        ("v1/Pod", ("*", "v1", "Pod", "")),
        ("apps/v1/Deployment", ("apps", "v1", "Deployment", "")),
        ("Pod/ephemeralcontainers", ("*", "*", "Pod", "ephemeralcontainers")),
        ("*/*", ("*", "*", "*", "*")),
        ("apps/v1/Deployment/scale", ("apps", "v1", "Deployment", "scale")),
    ],
)
def test_kind_selector_parsing(selector, parsed):
    assert parse_kind_selector(selector) == parsed


DIGEST = "sha256:" + "ab" * 32


KEYLESS = """          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: "https://github.com/org/*"
                    rekor: {url: https://rekor.sigstore.dev}
"""


def entry(refs: str, skips: str | None = None, extra: str = "") -> str:
    out = f"        - imageReferences: {refs}\n"
    if skips:
        out += f"          skipImageReferences: {skips}\n"
    return out + extra + KEYLESS


def loaded(text: str):
    lp = load_policy(text, "p.yaml")
    assert lp.dialect == "kyverno"
    assert lp.errors == 0, [d.message for d in lp.diagnostics if d.severity == "error"]
    return lp.policy


@pytest.mark.parametrize(
    "image,pattern,action",
    [
        ("nginx", "docker.io/nginx:*", "verify"),
        ("nginx:1.25", "docker.io/nginx:*", "verify"),
        # the quirk: with a digest the tag is dropped, so `:*` no longer matches
        (f"nginx:1.25@{DIGEST}", "docker.io/nginx:*", "allow"),
        (f"nginx:1.25@{DIGEST}", "docker.io/nginx@*", "verify"),
        (f"nginx:1.25@{DIGEST}", "docker.io/nginx*", "verify"),
        ("nginx", "docker.io/library/nginx:*", "allow"),  # no library/ added
        ("library/nginx", "docker.io/library/nginx:*", "verify"),
        ("index.docker.io/library/nginx", "docker.io/*", "allow"),  # host kept as written
        ("localhost:5000/a/b", "localhost:5000/*", "verify"),
        ("ghcr.io/org/app", "ghcr.io/org/app:latest", "verify"),  # tag defaults to latest
    ],
)
def test_normalization_quirks(image, pattern, action):
    p = loaded(kyverno_policy(entry(f'["{pattern}"]')))
    d = p.evaluate(image)
    assert d.action == action
    if action == "verify":
        assert d.pattern == pattern
        assert d.rule_id == "pol/r1#0"


def test_every_applying_entry_is_reported_in_order():
    text = kyverno_policy(
        entry('["ghcr.io/*"]') + entry('["ghcr.io/org/*"]', '["ghcr.io/org/app:dev"]') + entry('["docker.io/*"]'),
        extra_rules="""    - name: r2
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
""" + entry('["ghcr.io/org/app:*"]'),
    )
    p = loaded(text)
    d = p.evaluate("ghcr.io/org/app:v1")
    assert d.action == "verify"
    assert d.rules == [
        {"policy": "pol", "rule": "r1", "entry": 0, "action": "verify"},
        {"policy": "pol", "rule": "r1", "entry": 1, "action": "verify"},
        {"policy": "pol", "rule": "r2", "entry": 0, "action": "verify"},
    ]
    assert (d.rule_index, d.rule_id) == (0, "pol/r1#0")
    assert "and 2 more" in d.message
    # skipped by entry 1 only: entries 0 and r2#0 still verify
    d = p.evaluate("ghcr.io/org/app:dev")
    assert d.action == "verify"
    assert [r["action"] for r in d.rules] == ["verify", "skip", "verify"]
    assert d.to_json()["rules"][1] == {"policy": "pol", "rule": "r1", "entry": 1, "action": "skip"}


@pytest.mark.parametrize(
    "image,action,rule_id",
    [
        ("ghcr.io/org/app:v1", "verify", "pol/r1#0"),
        ("ghcr.io/org/test-x:v1", "skip", "pol/r1#0"),
        ("quay.io/x/y", "allow", None),
    ],
)
def test_skip_when_every_matching_entry_skips(image, action, rule_id):
    p = loaded(kyverno_policy(entry('["ghcr.io/org/*"]', '["ghcr.io/org/test-*", "quay.io/*"]')))
    d = p.evaluate(image)
    assert (d.action, d.rule_id) == (action, rule_id)
    if action == "skip":
        assert d.verifier is None
        assert d.message.startswith("verification skipped by matched rule (pol/r1#0)")
    if action == "allow":
        assert d.message == "no matched rule" and d.rules == []


@pytest.mark.parametrize(
    "kinds,annotations,source,applies",
    [
        ("[Pod]", "", None, True),
        ("[Pod]", "", "Deployment", True),  # autogen
        ("[Pod]", "", "CronJob", True),
        ("[Pod]", "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: none\n", "Deployment", False),
        ("[Pod]", "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: Deployment\n", "StatefulSet", False),
        ("[Deployment]", "", None, False),  # unknown source = Pod
        ("[Deployment]", "", "Deployment", True),
        ("[apps/v1/Deployment]", "", "Deployment", True),
        ("[batch/v1/Deployment]", "", "Deployment", False),
        ("[Pod, Deployment]", "", "StatefulSet", False),  # mixed kinds: no autogen
        ("[ConfigMap]", "", None, False),
    ],
)
def test_rules_selected_by_kind(kinds, annotations, source, applies):
    p = loaded(kyverno_policy(entry('["ghcr.io/*"]'), kinds=kinds, annotations=annotations))
    d = p.evaluate("ghcr.io/org/app:v1", kind=source)
    assert (d.action == "verify") is applies
    trial = p.explain("ghcr.io/org/app:v1", kind=source)[0]
    assert trial.matched is applies


def test_wildcard_kind_is_refused_and_still_simulated():
    # Kyverno refuses `kinds: ["*"]` on a verifyImages rule (validateWildcard); the editor still
    # shows what the rule would select.
    lp = load_policy(kyverno_policy(entry('["ghcr.io/*"]'), kinds="['*']"), "p.yaml")
    assert [d.code for d in lp.diagnostics if d.severity == "error"] == ["kyverno-wildcard-kinds"]
    assert lp.policy.evaluate("ghcr.io/org/app:v1").action == "verify"


def test_exclude_by_kind_and_unknowable_conditions():
    text = kyverno_policy(entry('["ghcr.io/*"]'), kinds="[Pod, Deployment]").replace(
        "      verifyImages:",
        "      exclude:\n        any:\n          - resources:\n              kinds: [Deployment]\n      verifyImages:"
    )
    p = loaded(text)
    assert p.evaluate("ghcr.io/a/b", kind="Deployment").action == "allow"
    assert p.evaluate("ghcr.io/a/b").action == "verify"
    # an exclude that also depends on namespaces cannot be decided offline: not applied
    text2 = text.replace("kinds: [Deployment]", "kinds: [Deployment]\n              namespaces: [kube-system]")
    assert loaded(text2).evaluate("ghcr.io/a/b", kind="Deployment").action == "verify"


def test_invalid_image_is_an_error_decision():
    p = loaded(kyverno_policy(entry('["*"]')))
    d = p.evaluate("Not A Ref")
    assert d.action is None and d.error and "invalid" in d.error


def test_evaluate_many_and_objects_with_kind():
    class Img:
        reference = "ghcr.io/a/b:v1"
        kind = "Deployment"

    p = loaded(kyverno_policy(entry('["ghcr.io/*"]'), kinds="[Deployment]"))
    out = p.evaluate_many(["ghcr.io/a/b:v1", Img()])
    assert [d.action for d in out] == ["allow", "verify"]


def test_wildcard_masks_agree_with_wildcard_match():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pullguard.engine.patterns import WildcardMasks, mask_bits
    from pullguard.engine.patterns import wildcard_match as shared

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text(st.sampled_from(list("ab/*?:.")), max_size=7), max_size=6),
           st.lists(st.text(st.sampled_from(list("ab/:.")), max_size=7), max_size=10))
    def check(patterns, subjects):
        table = WildcardMasks(subjects)
        for pattern in patterns:
            expected = [i for i, s in enumerate(table.subjects) if shared(pattern, s)]
            assert mask_bits(table.mask(pattern)) == expected, pattern
            assert mask_bits(table.mask(pattern)) == expected  # and from the cache

    check()


def test_evaluate_many_agrees_with_one_image_at_a_time():
    """A list is matched through per-pattern bitmasks kept across policies; one image through the
    pattern index: both give the same decisions, also after an edit changes one pattern."""
    import random

    rng = random.Random(11)
    hosts = ["ghcr.io", "docker.io", "quay.io", "localhost:5000"]
    words = ["org", "org/app", "org/app-dev", "nginx", "a", "team"]

    def pattern():
        p = rng.choice(hosts) + "/" + rng.choice(words)
        return rng.choice([p, p + "*", p + ":*", p[:-1] + "?", p + "@*", "*" + p[-3:], "*", p + ":v?"])

    def image():
        return rng.choice(["nginx", "nginx:1.25", f"nginx@{DIGEST}", "ghcr.io/org/app:v1", "ghcr.io/org/app-dev:v1",
                           f"ghcr.io/org/app:v1@{DIGEST}", "quay.io/team:v2", "localhost:5000/a:v1",
                           "docker.io/org/app", "ghcr.io/a", "BAD REF"])

    for _ in range(30):
        entries = ""
        for _ in range(rng.randint(1, 5)):
            refs = ", ".join(f'"{pattern()}"' for _ in range(rng.randint(1, 3)))
            skips = ", ".join(f'"{pattern()}"' for _ in range(rng.randint(0, 2)))
            entries += entry(f"[{refs}]", f"[{skips}]" if skips else None)
        text = kyverno_policy(entries)
        images = [image() for _ in range(12)]
        by_list = loaded(text)
        many = by_list.evaluate_many(images)
        single = loaded(text)
        assert [d.to_json() for d in many] == [single.evaluate(i).to_json() for i in images], text
        for i in images:
            assert by_list.explain(i) == loaded(text).explain(i)
