"""pullguard's own Talos lints (SPEC §5): code, severity, where, and the suggested fix."""

from __future__ import annotations

import pytest

from pullguard.engine.policy import load_policy

HEAD = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"


def _public_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _certificate_pem() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def block(pem: str) -> str:
    return "".join("        " + line + "\n" for line in pem.strip().splitlines())


def lint(rules: str, code: str):
    loaded = load_policy(HEAD + rules, "p.yaml")
    return [d for d in loaded.diagnostics if d.code == code], loaded


@pytest.mark.parametrize(
    "regex,fragment",
    [
        ("(?=foo)bar", "lookahead"),
        ("(?<!x)y", "lookahead or lookbehind"),
        (r"(a)\1", "backreferences"),
        ("a(b", None),
        ("[z-a]", None),
        # RE2 in C++ takes \C (any byte); Go's regexp, which Talos compiles with, does not
        (r"^https://github\.com/\C+", "'\\C'"),
        (r"x[\C]", "'\\C'"),
        (r"\\\C", "'\\C'"),  # an escaped backslash, then \C
        (r"\Qa.b\E\C", "'\\C'"),  # after a literal \Q...\E run
    ],
)
def test_re2_invalid_subject_regex(regex, fragment):
    rules = f"  - image: a.io/*\n    keyless:\n      issuer: https://i\n      subjectRegex: '{regex}'\n"
    found, _ = lint(rules, "re2-invalid-regex")
    assert len(found) == 1
    d = found[0]
    assert (d.severity, d.line, d.column, d.rule_index) == ("error", 7, 21, 0)
    assert d.message.startswith("rule 0: subjectRegex is not a valid Go (RE2) regular expression: ")
    assert d.fix and (fragment is None or fragment in d.fix)


@pytest.mark.parametrize("regex", ["^https://github\\.com/myorg/.*$", "(?i)User@Example\\.com", "\\Ahttps://x\\z", "(?P<org>[a-z]+)",
                                   r"a\\C", r"\Qa\C\E"])  # `\\C` and `\Q...\E` hold a literal C, not an escape
def test_re2_valid_go_regexes_pass(regex):
    rules = f"  - image: a.io/*\n    keyless:\n      issuer: https://i\n      subjectRegex: '{regex}'\n"
    found, loaded = lint(rules, "re2-invalid-regex")
    assert found == [] and loaded.errors == 0


def test_public_key_ok_gets_a_fingerprint():
    rules = "  - image: a.io/*\n    publicKey:\n      certificate: |\n" + block(_public_key_pem())
    loaded = load_policy(HEAD + rules)
    assert loaded.errors == 0
    fp = loaded.policy.rules[0].verifier.fingerprint
    assert fp.startswith("sha256:") and len(fp) == 71
    assert loaded.policy.evaluate("a.io/xy").to_json()["verifier"] == {"type": "public_key", "key_fingerprint": fp}


@pytest.mark.parametrize(
    "pem,code,fix_fragment",
    [
        (_certificate_pem(), "certificate-not-public-key", "openssl x509 -pubkey"),
        ("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n", "invalid-public-key", "PUBLIC KEY"),
        ("just some text\n", "invalid-public-key", "PUBLIC KEY"),
        ("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "invalid-public-key", "PUBLIC KEY"),
    ],
    ids=["certificate", "garbage-base64", "no-pem", "private-key"],
)
def test_bad_public_keys(pem, code, fix_fragment):
    rules = "  - image: a.io/*\n    publicKey:\n      certificate: |\n" + block(pem)
    found, _ = lint(rules, code)
    assert [(d.severity, d.line, d.rule_index) for d in found] == [("error", 6, 0)]
    assert fix_fragment in found[0].fix


def _spki(make) -> str:
    from cryptography.hazmat.primitives import serialization

    return make().public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _key_variant(name: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa

    good = _public_key_pem()
    body = "".join(good.strip().splitlines()[1:-1])

    def wrap(text: str) -> str:
        return f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----\n"

    return {
        "truncated": wrap(body[:-8]),
        "cut-base64": wrap(body[:-6]),
        "not-base64": wrap(body[:20] + "!" + body[21:]),
        "two-keys": wrap(body + body),
        "empty": wrap("").replace("\n\n", "\n"),
        "not-der": wrap("bm90IGEga2V5"),
        "zero-bytes": wrap("AAAA"),
        "secp256k1": _spki(lambda: ec.generate_private_key(ec.SECP256K1())),
        "dsa": _spki(lambda: dsa.generate_private_key(1024)),
        "ed448": _spki(ed448.Ed448PrivateKey.generate),
        "pkcs1": rsa.generate_private_key(65537, 2048).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode().replace("RSA PUBLIC KEY", "PUBLIC KEY"),
    }[name]


# invalid-public-key says what a person can act on, never cryptography's ASN.1 internals
# (it used to be "ASN.1 parsing error: unexpected tag (got Tag {...})").
@pytest.mark.parametrize(
    "variant,words",
    [
        ("truncated", "does not decode as a SubjectPublicKeyInfo (DER): it is truncated (87 bytes of the 91 it announces)"),
        ("cut-base64", "base64 is cut short (118 characters, not a multiple of 4): is it truncated?"),
        ("not-base64", "is not base64: '!' cannot occur in it"),
        ("two-keys", "is not base64: '=' before its end"),
        ("empty", "the PUBLIC KEY block is empty"),
        ("not-der", "does not decode as a SubjectPublicKeyInfo (DER): it does not start like one"),
        ("zero-bytes", "does not decode as a SubjectPublicKeyInfo (DER): it does not start like one"),
        ("secp256k1", "unsupported elliptic curve secp256k1: Go (Talos, cosign) reads only the NIST curves"),
        ("dsa", "DSA keys cannot verify signatures here; cosign verifies ECDSA (P-256, P-384, P-521), RSA and Ed25519"),
        ("ed448", "Ed448 keys cannot verify signatures here"),
        ("pkcs1", "holds a PKCS#1 RSA key, not a SubjectPublicKeyInfo"),
    ],
)
def test_invalid_public_key_messages_are_actionable(variant, words):
    rules = "  - image: a.io/*\n    publicKey:\n      certificate: |\n" + block(_key_variant(variant))
    found, _ = lint(rules, "invalid-public-key")
    assert len(found) == 1, found
    message = found[0].message
    assert message.startswith("rule 0: publicKey.certificate: ") and words in message, message
    for internal in ("ASN.1", "Tag {", "InvalidData", "Could not deserialize", "cryptography.io"):
        assert internal not in message


@pytest.mark.parametrize(
    "earlier,later,expect",
    [
        ("ghcr.io/*", "ghcr.io/siderolabs/*", True),
        ("*", "quay.io/x", True),
        ("ghcr.io/siderolabs/talos*", "ghcr.io/siderolabs/talosctl", True),
        ("*/nginx", "index.docker.io/library/nginx", True),
        ("ghcr.io/siderolabs/*", "ghcr.io/*", False),
        ("ghcr.io/a*", "ghcr.io/b*", False),
    ],
)
def test_shadowed_rule_names_the_earlier_rule(earlier, later, expect):
    rules = f"  - image: '{earlier}'\n    deny: true\n  - image: '{later}'\n    deny: true\n"
    found, _ = lint(rules, "shadowed-rule")
    if not expect:
        assert found == []
        return
    assert [(d.severity, d.line, d.column, d.rule_index) for d in found] == [("warning", 6, 12, 1)]
    assert f"rule 0 (0000, '{earlier}')" in found[0].message
    assert "move rule 1 above rule 0" in found[0].fix


def test_duplicate_pattern_within_a_document():
    rules = "  - image: a.io/*\n    deny: true\n  - image: b.io/*\n    deny: true\n  - image: a.io/*\n    skip: true\n"
    found, loaded = lint(rules, "duplicate-pattern")
    assert [(d.line, d.rule_index) for d in found] == [(8, 2)]
    assert "duplicates rule 0 (0000)" in found[0].message
    # reported once, as a duplicate, not also as shadowed
    assert not [d for d in loaded.diagnostics if d.code == "shadowed-rule"]
    # both kept, as Talos keeps them; the first one decides
    assert loaded.policy.evaluate("a.io/xy").rule_id == "0000"


@pytest.mark.parametrize(
    "pattern,suggestion",
    [
        ("docker.io/*", "index.docker.io/*"),
        ("docker.io/library/nginx", "index.docker.io/library/nginx"),
        ("myuser/app*", "index.docker.io/myuser/app*"),
        ("ghcr.io/MyOrg/*", "ghcr.io/myorg/*"),
        ("ghcr.io/org/app:v1*", "ghcr.io/org/app"),
    ],
)
def test_never_matches_suggests_the_normalized_pattern(pattern, suggestion):
    found, _ = lint(f"  - image: '{pattern}'\n    deny: true\n", "never-matches")
    assert [(d.severity, d.line, d.column) for d in found] == [("warning", 4, 12)]
    assert found[0].fix == f"use '{suggestion}'"


@pytest.mark.parametrize("pattern", ["index.docker.io/library/*", "ghcr.io/siderolabs/talos*", "localhost:5000/*", "*"])
def test_patterns_that_can_match_are_quiet(pattern):
    found, _ = lint(f"  - image: '{pattern}'\n    deny: true\n", "never-matches")
    assert found == []


@pytest.mark.parametrize(
    "pattern,fragment",
    [
        ("*.example.com/*", "attacker.io/x.example.com/app"),
        ("*", "every image"),
        ("ghcr.io*", "ghcr.io.attacker.example"),
        ("ghcr.io/myorg*", "ghcr.io/myorg-other"),
        ("quay.io/*", "any account"),
    ],
)
def test_risky_skip(pattern, fragment):
    found, _ = lint(f"  - image: '{pattern}'\n    skip: true\n", "risky-skip")
    assert len(found) == 1 and found[0].severity == "warning"
    assert fragment in found[0].message and found[0].fix


@pytest.mark.parametrize("pattern", ["ghcr.io/myorg/*", "registry.internal.example.com/*", "ghcr.io/siderolabs/talos*"])
def test_skip_of_own_namespace_is_not_risky(pattern):
    found, _ = lint(f"  - image: '{pattern}'\n    skip: true\n", "risky-skip")
    assert found == []


def test_deny_with_leading_star_is_not_a_risky_skip():
    found, _ = lint("  - image: '*.example.com/*'\n    deny: true\n", "risky-skip")
    assert found == []


def test_allow_by_default_gap_until_a_catch_all():
    found, _ = lint("  - image: a.io/*\n    deny: true\n", "allow-by-default")
    assert [(d.severity, d.line) for d in found] == [("info", 4)]
    found, _ = lint("  - image: a.io/*\n    skip: true\n  - image: '**'\n    deny: true\n", "allow-by-default")
    assert found == []


def test_every_lint_has_a_fix_and_a_position():
    rules = (
        "  - image: '*'\n    skip: true\n"
        "  - image: docker.io/*\n    deny: true\n"
        "  - image: '*'\n    deny: true\n"
    )
    loaded = load_policy(HEAD + rules)
    lints = [d for d in loaded.diagnostics if not d.code.startswith("talos-")]
    assert {d.code for d in lints} >= {"risky-skip", "never-matches", "shadowed-rule", "duplicate-pattern"}
    assert all(d.fix and d.line and d.column for d in lints)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("limit", [10**9, 0], ids=["by-prefix", "automaton"])
def test_shadowed_rule_agrees_with_glob_subsumes_either_way(seed, limit, monkeypatch):
    # Few leading-'*' patterns: earlier rules by literal prefix; many: one FirstMatch over words
    # with a fresh letter for each star. Both name the earliest rule glob_subsumes finds.
    import random

    from pullguard.engine.patterns import glob_subsumes
    from pullguard.engine.policy.talos import lints as talos_lints

    monkeypatch.setattr(talos_lints._Covering, "_PAIRWISE_LIMIT", limit)
    rng = random.Random(seed)
    pieces = ["*", "ghcr.io/", "a", "b/", "*.mirror.internal/", "x", "*"]
    patterns = list(dict.fromkeys("".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(40)))
    rules = "".join(f"  - image: '{p}'\n    deny: true\n" for p in patterns)
    found, _ = lint(rules, "shadowed-rule")
    got = {}
    for d in found:  # one rule shadowed: on that rule; several: one warning on the rule that covers them
        if ": never matches: rule " in d.message:
            got[d.rule_index] = int(d.message.split("rule ")[2].split(" ")[0])
        else:
            covered = d.message.split("matches every image that rules ")[1].split(" match,")[0]
            got.update({int(n): d.rule_index for n in covered.split(", ")})
    expected = {}
    for i, later in enumerate(patterns):
        prior = next((j for j in range(i) if glob_subsumes(patterns[j], later)), None)
        if prior is not None:
            expected[i] = prior
    assert got == expected
