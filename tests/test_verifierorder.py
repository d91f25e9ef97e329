"""Whether a verifier accepts more signers than another (engine/verifierorder.py), and the
Kyverno attestor sets built on it (engine/policydiff.py): decided exactly, else "changed"."""

import pytest

from pullguard.engine.policy.kyverno.requirements import AttestorReq, AttestorSetReq
from pullguard.engine.policydiff import _set_order
from pullguard.engine.verifierorder import compare, literal_language
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier

ISSUER = "https://token.actions.githubusercontent.com"
RELEASE = r"^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v"
ACME = r"^https://github\.com/acme/"
SUBJECT = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"


def kl(subject=None, regex=None, match="exact", **kw):
    return KeylessVerifier(issuer=kw.pop("issuer", ISSUER), subject=subject, subject_regex=regex, match=match, **kw)


KEY_A = PublicKeyVerifier(pem="A", fingerprint="sha256:aa")
KEY_B = PublicKeyVerifier(pem="B", fingerprint="sha256:bb")

# (name, old, new, order)
CASES = [
    ("identical", kl(regex=ACME), kl(regex=ACME), "same"),
    ("release tags loosened to the organisation", kl(regex=RELEASE), kl(regex=ACME), "weaker"),
    ("organisation narrowed to release tags", kl(regex=ACME), kl(regex=RELEASE), "stronger"),
    ("another organisation", kl(regex=ACME), kl(regex=r"^https://github\.com/other/"), "changed"),
    ("alternative added", kl(regex=r"^https://github\.com/(acme)/"), kl(regex=r"^https://github\.com/(acme|beta)/"), "weaker"),
    ("top-level alternative dropped", kl(regex=r"^https://a\.example/|^https://b\.example/"),
     kl(regex=r"^https://a\.example/"), "stronger"),
    ("anchor dropped", kl(regex=ACME), kl(regex=r"https://github\.com/acme/"), "weaker"),
    ("end anchor added", kl(regex=r"^https://github\.com/acme/app@refs/tags/v1"),
     kl(regex=r"^https://github\.com/acme/app@refs/tags/v1$"), "stronger"),
    ("trailing .* is no constraint", kl(regex=ACME), kl(regex=ACME + ".*"), "same"),
    ("non-capturing group", kl(regex=r"^https://github\.com/(?:acme|beta)/"), kl(regex=r"^https://github\.com/(acme|beta)/"), "same"),
    ("a class is not decided here", kl(regex=ACME), kl(regex=r"^https://github\.com/[a-z]+/"), "changed"),
    ("an escape class after the prefix, loosened to the prefix", kl(regex=r"^https://github\.com/acme/\w"), kl(regex=ACME),
     "weaker"),
    ("the sample's release tags loosened to the organisation (issue 16)",
     kl(regex=r"^https://github\.com/acme/[^/]+/\.github/workflows/release\.yaml@refs/tags/v"), kl(regex=ACME), "weaker"),
    ("the organisation narrowed to the sample's release tags", kl(regex=ACME),
     kl(regex=r"^https://github\.com/acme/[^/]+/\.github/workflows/release\.yaml@refs/tags/v"), "stronger"),
    ("a class to another organisation's prefix", kl(regex=r"^https://github\.com/acme/[^/]+/"),
     kl(regex=r"^https://github\.com/other/"), "changed"),
    ("an optional last literal is not part of the prefix", kl(regex=r"^https://github\.com/acmex?[^/]*/"),
     kl(regex=r"^https://github\.com/acmex"), "changed"),
    ("a top-level alternative is not a prefix", kl(regex=r"^https://github\.com/acme/[^/]+|^https://evil/"),
     kl(regex=ACME), "changed"),
    ("an alternative inside a class is a literal", kl(regex=r"^https://github\.com/acme/[|]"), kl(regex=ACME), "weaker"),
    ("unanchored is not a prefix", kl(regex=r"https://github\.com/acme/[^/]+/"), kl(regex=ACME), "changed"),
    ("exact subject to a regex that admits it", kl(subject=SUBJECT), kl(regex=ACME), "weaker"),
    ("regex to an exact subject it admits", kl(regex=ACME), kl(subject=SUBJECT), "stronger"),
    ("exact subject to a regex that refuses it", kl(subject=SUBJECT), kl(regex=r"^https://github\.com/other/"), "changed"),
    ("exact subject to an equal ^…$ regex", kl(subject="https://a.example/x"), kl(regex=r"^https://a\.example/x$"), "same"),
    ("exact subject changed", kl(subject=SUBJECT), kl(subject=SUBJECT + "4"), "changed"),
    ("subject wildcard vs exact", kl(subject=SUBJECT, match="wildcard"), kl(subject="https://github.com/acme/*", match="wildcard"),
     "weaker"),
    ("wildcard narrowed", kl(subject="https://github.com/*", match="wildcard"), kl(subject="https://github.com/acme/*", match="wildcard"),
     "stronger"),
    ("wildcards that overlap", kl(subject="https://github.com/a*", match="wildcard"), kl(subject="https://github.com/*b", match="wildcard"),
     "changed"),
    ("issuer changed", kl(regex=ACME), kl(regex=ACME, issuer="https://accounts.google.com"), "changed"),
    ("issuer dropped for an issuerRegExp that admits it", kl(regex=ACME),
     kl(regex=ACME, issuer=None, issuer_regex=r"^https://token\.actions\."), "weaker"),
    ("transparency log no longer required", kl(regex=ACME), kl(regex=ACME, ignore_tlog=True), "weaker"),
    ("transparency log required again", kl(regex=ACME, ignore_tlog=True), kl(regex=ACME), "stronger"),
    ("wider identity, log required again", kl(regex=RELEASE, ignore_tlog=True), kl(regex=ACME), "changed"),
    ("SCT no longer required", kl(regex=ACME), kl(regex=ACME, ignore_sct=True), "weaker"),
    ("another Rekor", kl(regex=ACME), kl(regex=ACME, rekor_url="https://rekor.example"), "changed"),
    ("same key", KEY_A, PublicKeyVerifier(pem="A2", fingerprint="sha256:aa"), "same"),
    ("another key", KEY_A, KEY_B, "changed"),
    ("key, log entry no longer required", PublicKeyVerifier(pem="A", fingerprint="sha256:aa", ignore_tlog=False), KEY_A, "weaker"),
    ("key replaced by keyless", KEY_A, kl(regex=ACME), "changed"),
]


@pytest.mark.parametrize("name, old, new, order", CASES, ids=[c[0] for c in CASES])
def test_compare(name, old, new, order):
    assert compare(old, new) == order
    reverse = {"weaker": "stronger", "stronger": "weaker"}.get(order, order)
    assert compare(new, old) == reverse


@pytest.mark.parametrize("pattern, decidable", [
    (ACME, True), (RELEASE, True), (r"^(a|b)c$", True), ("plain", True), (r"^a\.b|^c", True),
    (r"^a+", False), (r"^(a|(b))", False), (r"(?i)^a", False), (r"^a[0-9]", False), (r"^a\d", False), (r"^a{2}", False),
])
def test_literal_shapes(pattern, decidable):
    assert (literal_language(pattern) is not None) is decidable


def set_of(count, *verifiers):
    return AttestorSetReq(count, [AttestorReq("keys", f"attestors[0].entries[{i}]", v) for i, v in enumerate(verifiers)])


KEY_C = PublicKeyVerifier(pem="C", fingerprint="sha256:cc")

# (name, old attestor set, new attestor set, order)
SETS = [
    ("same", set_of(1, KEY_A, KEY_B), set_of(1, KEY_A, KEY_B), "same"),
    ("smaller count", set_of(2, KEY_A, KEY_B), set_of(1, KEY_A, KEY_B), "weaker"),
    ("count null (all) to one", set_of(None, KEY_A, KEY_B), set_of(1, KEY_A, KEY_B), "weaker"),
    ("added key, one of them still enough", set_of(1, KEY_A, KEY_B), set_of(1, KEY_A, KEY_B, KEY_C), "weaker"),
    ("key removed, one still enough", set_of(1, KEY_A, KEY_B, KEY_C), set_of(1, KEY_A, KEY_B), "stronger"),
    ("added key that all must sign", set_of(None, KEY_A), set_of(None, KEY_A, KEY_B), "changed"),
    ("key replaced", set_of(1, KEY_A, KEY_B), set_of(1, KEY_A, KEY_C), "changed"),
    ("entry identity widened", AttestorSetReq(1, [AttestorReq("keyless", "e", kl(regex=RELEASE))]),
     AttestorSetReq(1, [AttestorReq("keyless", "e", kl(regex=ACME))]), "weaker"),
]


@pytest.mark.parametrize("name, old, new, order", SETS, ids=[c[0] for c in SETS])
def test_attestor_sets(name, old, new, order):
    assert _set_order(old, new) == order
