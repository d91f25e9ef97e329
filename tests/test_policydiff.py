"""Diff of two decision lists: which images change, and how (engine/policydiff.py)."""

import pytest

from pullguard.engine.policydiff import KINDS, classify, diff_decisions, diff_policies, unique_images
from pullguard.engine.vocabulary import Decision, KeylessVerifier, PublicKeyVerifier

KEY_A = PublicKeyVerifier(pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", fingerprint="sha256:aa")
KEY_A_REFORMATTED = PublicKeyVerifier(pem="-----BEGIN PUBLIC KEY-----\r\nAAAA\r\n-----END PUBLIC KEY-----", fingerprint="sha256:aa")
KEY_B = PublicKeyVerifier(pem="-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n", fingerprint="sha256:bb")
GH = KeylessVerifier(issuer="https://token.actions.githubusercontent.com", subject="https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main")
GH_WILDCARD = KeylessVerifier(issuer=GH.issuer, subject=GH.subject, match="wildcard")
GH_WIDE_REGEX = KeylessVerifier(issuer=GH.issuer, subject_regex=r"^https://github\.com/org/")
GH_OTHER_SUBJECT = KeylessVerifier(issuer=GH.issuer, subject="https://github.com/org/other/.github/workflows/release.yaml@refs/heads/main")


def decision(action, index=None, pattern=None, verifier=None, rules=None, image="ghcr.io/org/app:v1"):
    rule_id = f"{index:04d}" if index is not None else None
    return Decision(image, "ghcr.io/org/app", action, index, rule_id, pattern, verifier, "m", rules=rules)


ALLOW = decision("allow")
# (old, new, expected kind or None for unchanged)
CASES = [
    ("same rule, same place", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("verify", 0, "ghcr.io/org/*", KEY_A), None),
    ("same rule shifted down by an insertion", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("verify", 3, "ghcr.io/org/*", KEY_A),
     None),
    ("same key in other PEM whitespace", decision("verify", 1, "ghcr.io/org/*", KEY_A),
     decision("verify", 1, "ghcr.io/org/*", KEY_A_REFORMATTED), None),
    ("no rule before or after", ALLOW, ALLOW, None),
    ("deny added in front", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("deny", 0, "ghcr.io/org/app"), "newly-denied"),
    ("deny for an allowed image", ALLOW, decision("deny", 2, "*"), "newly-denied"),
    ("deny for a skipped image", decision("skip", 0, "ghcr.io/*"), decision("deny", 0, "ghcr.io/*"), "newly-denied"),
    ("skip added in front of verify", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("skip", 0, "ghcr.io/org/app"),
     "newly-unverified"),
    ("verify rule removed", decision("verify", 0, "ghcr.io/org/*", KEY_A), ALLOW, "newly-unverified"),
    ("deny lifted to allow", decision("deny", 0, "ghcr.io/*"), ALLOW, "newly-unverified"),
    ("verify added for allowed image", ALLOW, decision("verify", 0, "ghcr.io/org/*", GH), "newly-requires-verification"),
    ("deny replaced by verify", decision("deny", 0, "ghcr.io/*"), decision("verify", 0, "ghcr.io/*", GH), "newly-requires-verification"),
    ("public key changed", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("verify", 0, "ghcr.io/org/*", KEY_B),
     "verifier-changed"),
    ("keyless subject changed", decision("verify", 0, "ghcr.io/org/*", GH), decision("verify", 0, "ghcr.io/org/*", GH_OTHER_SUBJECT),
     "verifier-changed"),
    ("public key replaced by keyless", decision("verify", 0, "ghcr.io/org/*", KEY_A), decision("verify", 0, "ghcr.io/org/*", GH),
     "verifier-changed"),
    ("narrower pattern, same verifier", decision("verify", 0, "ghcr.io/*", KEY_A), decision("verify", 0, "ghcr.io/org/*", KEY_A),
     "other-rule"),
    ("skip becomes allow", decision("skip", 0, "ghcr.io/*"), ALLOW, "other-rule"),
    ("a different deny rule", decision("deny", 0, "ghcr.io/*"), decision("deny", 0, "ghcr.io/org/*"), "other-rule"),
    ("reference unparseable by the new dialect counts as denied", ALLOW, decision(None), "newly-denied"),
]


@pytest.mark.parametrize("name,old,new,kind", CASES, ids=[c[0] for c in CASES])
def test_kind_of_change(name, old, new, kind):
    result = diff_decisions([old], [new])
    if kind is None:
        assert result.changes == [] and result.unchanged == 1
    else:
        assert [c.kind for c in result.changes] == [kind]
        assert result.unchanged == 0
        assert result.counts[kind] == 1


CROSS = [
    # Talos vs its Kyverno rewrite: patterns are spelled differently, match modes differ.
    ("same key, other pattern spelling", decision("verify", 0, "index.docker.io/org/*", KEY_A),
     decision("verify", 0, "docker.io/org/*", KEY_A), None),
    ("exact vs wildcard identity", decision("verify", 0, "ghcr.io/*", GH), decision("verify", 0, "ghcr.io/*", GH_WILDCARD), None),
    ("verifier differs", decision("verify", 0, "ghcr.io/*", KEY_A), decision("verify", 0, "ghcr.io/*", KEY_B), "verifier-changed"),
    ("narrower identity in the rewrite", decision("verify", 0, "ghcr.io/*", GH_WIDE_REGEX),
     decision("verify", 0, "ghcr.io/*", GH_WILDCARD), "verifier-strengthened"),
    ("action differs", decision("verify", 0, "ghcr.io/*", KEY_A), ALLOW, "newly-unverified"),
]


@pytest.mark.parametrize("name,old,new,kind", CROSS, ids=[c[0] for c in CROSS])
def test_cross_dialect_compares_action_and_verifier(name, old, new, kind):
    result = diff_decisions([old], [new], cross_dialect=True)
    assert [c.kind for c in result.changes] == ([kind] if kind else [])


def test_same_dialect_pattern_and_match_mode_count():
    # Without cross_dialect the pattern and the identity match mode are part of the rule: the
    # same rule's verifier is written differently (it accepts the same signers).
    old = decision("verify", 0, "ghcr.io/*", GH)
    assert [c.kind for c in diff_decisions([old], [decision("verify", 0, "ghcr.io/*", GH_WILDCARD)]).changes] == ["verifier-changed"]


@pytest.mark.parametrize(
    "old_action,new_action,kind",
    [
        ("allow", "deny", "newly-denied"),
        ("skip", "deny", "newly-denied"),
        ("verify", "deny", "newly-denied"),
        ("allow", "verify", "newly-requires-verification"),
        ("skip", "verify", "newly-requires-verification"),
        ("deny", "verify", "newly-requires-verification"),
        ("verify", "skip", "newly-unverified"),
        ("verify", "allow", "newly-unverified"),
        ("deny", "skip", "newly-unverified"),
        ("deny", "allow", "newly-unverified"),
        ("skip", "allow", "other-rule"),
        ("allow", "skip", "other-rule"),
        ("verify", "verify", "other-rule"),
        ("deny", "deny", "other-rule"),
    ],
)
def test_classify_every_action_pair(old_action, new_action, kind):
    assert classify(decision(old_action, 0, "a"), decision(new_action, 1, "b")) == kind


def test_json_shape_lists_changes_only_and_counts_every_kind():
    images = ["a:1", "b:1", "c:1"]
    old = [decision("verify", 0, "a*", KEY_A, image=images[0]), decision("allow", image=images[1]),
           decision("skip", 1, "c*", image=images[2])]
    new = [decision("verify", 1, "a*", KEY_A, image=images[0]), decision("deny", 0, "b*", image=images[1]),
           decision("skip", 2, "c*", image=images[2])]
    doc = diff_decisions(old, new).to_json()
    assert set(doc) == {"changes", "counts", "unchanged"}
    assert doc["unchanged"] == 2
    assert doc["counts"] == {"verifier-weakened": 0, "newly-denied": 1, "newly-unverified": 0, "newly-requires-verification": 0,
                             "verifier-changed": 0, "verifier-strengthened": 0, "other-rule": 0}
    assert set(doc["counts"]) == set(KINDS)
    (change,) = doc["changes"]
    assert change["image"] == "b:1" and change["kind"] == "newly-denied"
    assert change["old"]["action"] == "allow" and change["new"]["action"] == "deny"
    assert change["new"]["rule_index"] == 0 and change["new"]["pattern"] == "b*"


class _Recording:
    """A policy object that records what it was asked, answering from a table."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def evaluate_many(self, images):
        self.calls.append(list(images))
        return [self.table[i] if i in self.table else decision("allow", image=i) for i in images]


def test_diff_policies_evaluates_each_distinct_image_once_per_policy():
    images = ["a:1", "b:1", "a:1", "a:1", "b:1"]
    old = _Recording({})
    new = _Recording({"b:1": decision("deny", 0, "b*", image="b:1")})
    result = diff_policies(old, new, images)
    assert old.calls == [["a:1", "b:1"]] and new.calls == [["a:1", "b:1"]]
    assert [c.image for c in result.changes] == ["b:1"] and result.unchanged == 1


def test_unique_images_keeps_first_seen_order():
    assert unique_images(["c", "a", "c", "b", "a"]) == ["c", "a", "b"]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        diff_decisions([ALLOW], [])
