"""Kyverno policies: loading, Kyverno's validation messages, pullguard lints, requirements."""

from __future__ import annotations

import textwrap

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.policy import load_policy
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier
from tests.support.policies import kyverno_policy

HEAD = kyverno_policy("")


def pem_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def indent(text: str, n: int) -> str:
    return textwrap.indent(text, " " * n)


def with_entry(body: str, head: str = HEAD) -> str:
    """`body` is one verifyImages entry written at column 0 (first line without '- ')."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return head + "        - " + lines[0] + "\n" + "".join("          " + line + "\n" for line in lines[1:])


KEYLESS_OK = """attestors:
  - entries:
      - keyless:
          issuer: https://accounts.google.com
          subject: "*@example.com"
          rekor: {url: https://rekor.sigstore.dev}
"""


def diags(text: str):
    return load_policy(text, "p.yaml").diagnostics


def messages(text: str, severity: str = "error") -> list[str]:
    return [d.message for d in diags(text) if d.severity == severity]


# --- Kyverno's own validation, word for word ---------------------------------------------

@pytest.mark.parametrize(
    "body,expected",
    [
        ("imageReferences: ['*']\n" + KEYLESS_OK, []),
        ("mutateDigest: false\n" + KEYLESS_OK, ["An image reference is required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries: []\n", ["An entry is required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - {}\n",
         ["keys, certificates, keyless, or a nested attestor is required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keys: {}\n",
         ["A public key, kms key or secret is required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keys: {kms: 'awskms:///x', signatureAlgorithm: sha1}\n", []),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless: {issuer: x, subject: y}\n",
         ["Either Rekor URL or roots are required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless: {issuer: x, subject: y, rekor: {}}\n",
         ["An URL is required"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless: {issuer: x, roots: abc}\n", []),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - certificates: {}\n", ["cert or certChain required"]),
        ("imageReferences: ['*']\nattestors:\n  - count: 3\n    entries:\n      - keyless: {roots: a}\n      - keyless: {roots: b}\n",
         ["Count cannot exceed length of entries"]),
        ("imageReferences: ['*']\nattestors:\n  - count: 0\n    entries:\n      - keyless: {roots: a}\n",
         ["count in body should be greater than or equal to 1"]),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless: {roots: a}\n        certificates: {cert: x}\n",
         ["keys, certificates, keyless, or a nested attestor is required"]),
        ("imageReferences: ['*']\ntype: Notary\nattestors:\n  - entries:\n      - keyless: {roots: a}\n",
         ["Keyless field is not allowed for type notary"]),
        ("imageReferences: ['*']\ntype: Notary\nattestors:\n  - entries:\n      - keys: {kms: 'awskms:///k'}\n",
         ["Keys field is not allowed for type notary"]),
        ("imageReferences: ['*']\ntype: Sigstore\n" + KEYLESS_OK,
         ['type: Unsupported value: "Sigstore": supported values: "Cosign", "SigstoreBundle", "Notary"']),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - attestor:\n          entries: []\n",
         ["An entry is required"]),
        ("image: 'ghcr.io/*'\nkey: 'k8s://ns/secret'\n", []),
    ],
)
def test_kyverno_validation_messages(body, expected):
    assert messages(with_entry(body)) == expected


def test_keys_signature_algorithm_is_checked_with_public_keys():
    body = ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keys:\n          signatureAlgorithm: sha1\n"
            f"          publicKeys: |\n{indent(pem_key(), 12)}")
    assert messages(with_entry(body)) == ["Invalid signature algorithm provided"]


@pytest.mark.parametrize(
    "spec_action,entries,errors_at",
    [
        # CRD default for spec.validationFailureAction is Audit; mutateDigest defaults to true
        (None, [{}], [0]),
        ("Audit", [{}], [0]),
        ("Enforce", [{}], []),
        ("enforce", [{}], []),
        (None, [{"mutateDigest": "false"}], []),
        (None, [{"failureAction": "Enforce"}], []),
        ("Enforce", [{"failureAction": "Audit"}], [0]),
        # Kyverno's loop carries an entry's failureAction over to the rule's later entries
        (None, [{"failureAction": "Enforce"}, {}], []),
        ("Enforce", [{"failureAction": "Audit", "mutateDigest": "false"}, {}], [1]),
    ],
)
def test_mutate_digest_with_audit(spec_action, entries, errors_at):
    head = HEAD.replace("  validationFailureAction: Enforce\n", f"  validationFailureAction: {spec_action}\n" if spec_action else "")
    text = head
    for e in entries:
        text += "        - imageReferences: ['ghcr.io/*']\n"
        for k, v in e.items():
            text += f"          {k}: {v}\n"
        text += indent(KEYLESS_OK, 10)
    found = [d for d in diags(text) if d.code == "kyverno-mutate-digest-audit"]
    assert [d.rule_index for d in found] == errors_at
    for d in found:
        assert d.message == "mutateDigest must be set to false for ‘Audit’ failure action"
        assert d.fix and "mutateDigest: false" in d.fix


# --- structure, positions, unknown keys --------------------------------------------------

def test_unknown_key_did_you_mean_with_position():
    text = with_entry("imageReference: ['*']\n" + KEYLESS_OK)
    (d,) = [d for d in diags(text) if d.code == "unknown-key"]
    assert d.message == "unknown key 'imageReference' in verifyImages entry"
    assert d.fix == "did you mean 'imageReferences'?"
    assert (d.line, d.column) == (14, 11)
    assert d.rule_index == 0


@pytest.mark.parametrize(
    "fragment,code",
    [
        ("imageReferences: ['*']\nrequired: maybe\n" + KEYLESS_OK, "wrong-type"),
        ("imageReferences: '*'\n" + KEYLESS_OK, "wrong-type"),
        ("imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless: {roots: a, subjectRegexp: x}\n", "unknown-key"),
    ],
)
def test_type_and_key_errors(fragment, code):
    assert code in [d.code for d in diags(with_entry(fragment)) if d.severity == "error"]


@pytest.mark.parametrize(
    "text,expected",
    [
        # kubectl's strict decoding refuses a key written twice; Python's YAML keeps the last silently
        (with_entry("imageReferences: ['ghcr.io/*']\nimageReferences: ['*']\n" + KEYLESS_OK),
         [(15, 11, 'mapping key "imageReferences" already defined at line 14')]),
        (HEAD.replace("  name: pol\n", "  name: pol\n  name: other\n") + "        - imageReferences: ['*']\n"
         + indent(KEYLESS_OK, 10), [(5, 3, 'mapping key "name" already defined at line 4')]),
        (with_entry("imageReferences: ['*']\n" + KEYLESS_OK.replace("subject:", "issuer: x\n          subject:")),
         [(19, 21, 'mapping key "issuer" already defined at line 18')]),
        # a map of free keys (annotations) as well as the schema's objects
        (HEAD.replace("  name: pol\n", "  name: pol\n  annotations: {a: x, b: y, a: z}\n")
         + "        - imageReferences: ['*']\n" + indent(KEYLESS_OK, 10),
         [(5, 29, 'mapping key "a" already defined at line 5')]),
        (with_entry("imageReferences: ['*']\n" + KEYLESS_OK), []),
    ],
)
def test_duplicate_keys_are_errors(text, expected):
    found = [d for d in diags(text) if d.code == "duplicate-key"]
    assert [(d.line, d.column, d.message, d.severity) for d in found] == [e + ("error",) for e in expected]


_ENTRY = "        - imageReferences: ['*']\n" + indent(KEYLESS_OK, 10)


# Names written as numbers or booleans: Kubernetes turns the YAML into JSON first (yaml.v2), so
# `name: 42` reaches the API server as the number 42 and is refused for a string field.
@pytest.mark.parametrize(
    "text,expected",
    [
        (HEAD.replace("name: pol", "name: 42") + _ENTRY, [(4, 9, "'name' must be a string, not the number 42", '"42"')]),
        (HEAD.replace("name: pol", "name: 1.5") + _ENTRY, [(4, 9, "'name' must be a string, not the number 1.5", '"1.5"')]),
        (HEAD.replace("name: pol", "name: 0x1F") + _ENTRY, [(4, 9, "'name' must be a string, not the number 0x1F", '"0x1F"')]),
        (HEAD.replace("name: pol", "name: yes") + _ENTRY, [(4, 9, "'name' must be a string, not the boolean yes", '"yes"')]),
        (HEAD.replace("name: pol", "name: pol\n  namespace: 7") + _ENTRY,
         [(5, 14, "'namespace' must be a string, not the number 7", '"7"')]),
        (HEAD.replace("- name: r1", "- name: true") + _ENTRY, [(8, 13, "'name' must be a string, not the boolean true", '"true"')]),
        (HEAD.replace("name: pol", "name: pol\n  labels: {tier: 1}") + _ENTRY,
         [(5, 18, "the value of 'tier' in 'labels' must be a string, not the number 1", '"1"')]),
        # quoted, explicitly tagged, or not a number to yaml.v2: a string
        (HEAD.replace("name: pol", "name: '42'") + _ENTRY, []),
        (HEAD.replace("name: pol", "name: !!str 42") + _ENTRY, []),
        (HEAD.replace("name: pol", "name: 2024-01-01") + _ENTRY, []),
        (HEAD.replace("name: pol", "name: 1.2.3") + _ENTRY, []),
        (HEAD.replace("name: pol", "name: v1") + _ENTRY, []),
        (HEAD + _ENTRY, []),
    ],
)
def test_names_must_be_strings(text, expected):
    found = [d for d in diags(text) if d.code == "wrong-type"]
    assert [(d.line, d.column, d.message) for d in found] == [e[:3] for e in expected]
    assert [d.fix for d in found] == [f"quote it: {e[3]}" for e in expected]
    assert all(d.severity == "error" for d in found)


def test_rule_level_checks():
    text = HEAD.replace("      verifyImages:\n", "") + "    - name: r1\n      match: {any: [{resources: {kinds: [Pod]}}]}\n"
    msgs = messages(text)
    assert "Duplicate rule name: 'r1'" in msgs
    assert "No operation defined in the rule 'r1'.(supported operations: mutate,validate,generate,verifyImages)" in msgs


def test_cluster_policy_with_namespace_and_nothing_to_verify():
    text = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p, namespace: default}
spec:
  rules:
    - name: v
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate: {message: x, pattern: {}}
"""
    ds = diags(text)
    assert "A clusterpolicy should not have the namespace defined" in [d.message for d in ds]
    (w,) = [d for d in ds if d.code == "kyverno-nothing-to-verify"]
    assert w.severity == "warning" and "nothing to verify" in w.message


def test_several_policies_in_several_documents():
    one = with_entry("imageReferences: ['ghcr.io/*']\n" + KEYLESS_OK)
    two = one.replace("name: pol", "name: other").replace("ghcr.io/*", "quay.io/*")
    text = "kind: ImageVerificationConfig\napiVersion: v1alpha1\nrules: []\n---\n" + one + "---\n" + two
    lp = load_policy(text, "p.yaml")
    assert lp.dialect == "kyverno" and lp.errors == 0
    outline = lp.policy.outline()
    assert [(o.index, o.rule_id, o.pattern) for o in outline] == [(0, "pol/r1#0", "ghcr.io/*"), (1, "other/r1#0", "quay.io/*")]
    assert outline[1].line > outline[0].end_line
    assert lp.policy.evaluate("quay.io/a/b").rule_id == "other/r1#0"


# --- pullguard lints ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "pattern,code,fix_part",
    [
        ("nginx", "kyverno-pattern-never-matches", "docker.io/nginx:*"),
        ("nginx:1.25", "kyverno-pattern-never-matches", "docker.io/nginx:1.25"),
        ("ghcr.io/org/app", "kyverno-pattern-never-matches", "ghcr.io/org/app:*"),
        ("myorg/*", "kyverno-pattern-never-matches", "docker.io/myorg/*"),
        ("nginx:*", "kyverno-pattern-no-registry", "docker.io/nginx:*"),
        ("index.docker.io/*", "kyverno-pattern-docker-host", "docker.io/*"),
        ("docker.io/library/nginx:*", "kyverno-pattern-library", "docker.io/nginx:*"),
        ("docker.io/nginx:1.25@sha256:*", "kyverno-pattern-never-matches", "docker.io/nginx@sha256:*"),
        ("docker.io/nginx:*", None, None),
        ("*", None, None),
        ("ghcr.io/org/*", None, None),
        ("localhost:5000/*", None, None),
    ],
)
def test_pattern_lints(pattern, code, fix_part):
    found = [d for d in diags(with_entry(f"imageReferences: ['{pattern}']\n" + KEYLESS_OK)) if d.code.startswith("kyverno-pattern")]
    if code is None:
        assert found == []
    else:
        assert [d.code for d in found] == [code]
        assert found[0].severity == "warning" and fix_part in found[0].fix
        assert found[0].line == 14


@pytest.mark.parametrize("field", ["subjectRegExp", "issuerRegExp"])
@pytest.mark.parametrize("regex,ok", [("^https://github.com/org/.*$", True), ("(?=x)", False), ("a(b", False), ("\\d+", True),
                                      (r"^https://\C+", False), (r"a\\C", True), (r"\Q\C\E", True)])
def test_re2_regex_lint(field, regex, ok):
    body = f"imageReferences: ['*']\nattestors:\n  - entries:\n      - keyless:\n          roots: a\n          {field}: '{regex}'\n"
    found = [d for d in diags(with_entry(body)) if d.code == "invalid-regex"]
    assert (found == []) is ok
    if not ok:
        assert found[0].message.startswith(f"keyless.{field} is not a valid RE2 regular expression: ")
        assert found[0].line == 19
        if "\\C" in regex:  # Go's regexp rejects \C, which RE2 in C++ takes: say so
            assert "invalid escape sequence: \\C" in found[0].message and "'\\C'" in found[0].fix


@pytest.mark.parametrize(
    "key_text,code",
    [
        ("-----BEGIN PUBLIC KEY-----\n            MFkw\n            -----END PUBLIC KEY-----", "invalid-public-key"),
        ("-----BEGIN CERTIFICATE-----\n            MIIB\n            -----END CERTIFICATE-----", "certificate-not-public-key"),
        ("not a key", "invalid-public-key"),
    ],
)
def test_unparseable_public_keys(key_text, code):
    body = f"imageReferences: ['*']\nattestors:\n  - entries:\n      - keys:\n          publicKeys: |\n            {key_text}\n"
    found = [d for d in diags(with_entry(body)) if d.severity == "error"]
    assert [d.code for d in found] == [code]


@pytest.mark.parametrize("text,code", [("k8s://ns/cosign-key", "kyverno-key-reference"), ("'{{ keys.data }}'", "kyverno-key-variable")])
def test_key_references_are_info(text, code):
    body = f"imageReferences: ['*']\nattestors:\n  - entries:\n      - keys:\n          publicKeys: {text}\n"
    ds = diags(with_entry(body))
    assert [d.severity for d in ds if d.code == code] == ["info"]
    assert not [d for d in ds if d.severity == "error"]


def test_notary_is_reported_unsupported():
    body = "imageReferences: ['ghcr.io/*']\ntype: Notary\nattestors:\n  - entries:\n      - certificates: {cert: x}\n"
    lp = load_policy(with_entry(body), "p.yaml")
    assert [d.severity for d in lp.diagnostics if d.code == "kyverno-notary-unsupported"] == ["info"]
    d = lp.policy.evaluate("ghcr.io/a/b")
    assert d.action == "verify" and d.verifier is None
    assert "type Notary is not supported for verification by pullguard" in d.message
    assert d.requirements.unsupported


# --- requirements ------------------------------------------------------------------------

def test_keys_by_fingerprint_and_count_over_expanded_keys():
    k1, k2 = pem_key(), pem_key()
    body = (
        "imageReferences: ['ghcr.io/*']\nattestors:\n  - count: 2\n    entries:\n      - keys:\n          publicKeys: |\n"
        + indent(k1 + k2, 12)
        + "      - keyless: {roots: r, issuer: i, subject: s}\n"
    )
    lp = load_policy(with_entry(body), "p.yaml")
    assert lp.errors == 0
    d = lp.policy.evaluate("ghcr.io/a/b:v1")
    (aset,) = d.requirements.verify[0][0].attestor_sets
    assert aset.count == 2 and aset.required == 2 and len(aset.entries) == 3  # two keys + keyless
    fps = [a.verifier.fingerprint for a in aset.entries if isinstance(a.verifier, PublicKeyVerifier)]
    assert fps == [load_public_key_pem(k1).fingerprint, load_public_key_pem(k2).fingerprint]
    # Kyverno's default for key attestors without rekor: a tlog entry is required
    assert all(not a.verifier.ignore_tlog for a in aset.entries if isinstance(a.verifier, PublicKeyVerifier))
    assert "2 of 3" in d.message
    assert d.verifier == aset.entries[0].verifier
    assert d.to_json()["verifier"] == {"type": "public_key", "key_fingerprint": fps[0]}
    req = d.to_json()["requirements"]["entries"][0]["attestors"][0]
    assert req["count"] == 2 and req["required"] == 2


@pytest.mark.parametrize("count,required", [(None, 2), (1, 1), (2, 2)])
def test_count_semantics(count, required):
    c = f"  - count: {count}\n    entries:\n" if count else "  - entries:\n"
    body = ("imageReferences: ['ghcr.io/*']\nattestors:\n" + c
            + "      - keyless: {roots: a, subject: x}\n      - keyless: {roots: b, subject: y}\n")
    d = load_policy(with_entry(body), "p.yaml").policy.evaluate("ghcr.io/a/b")
    assert d.requirements.verify[0][0].attestor_sets[0].required == required
    assert ("all of:" in d.message) is (required == 2)


def test_keyless_verifier_fields():
    body = """imageReferences: ['ghcr.io/*']
attestors:
  - entries:
      - keyless:
          issuer: https://token.actions.githubusercontent.com
          subjectRegExp: '^https://github.com/org/'
          rekor: {url: https://rekor.example, ignoreTlog: true}
          ctlog: {ignoreSCT: true}
"""
    d = load_policy(with_entry(body), "p.yaml").policy.evaluate("ghcr.io/a/b")
    v = d.verifier
    assert isinstance(v, KeylessVerifier)
    assert (v.match, v.issuer, v.subject_regex, v.rekor_url, v.ignore_tlog, v.ignore_sct) == (
        "wildcard", "https://token.actions.githubusercontent.com", "^https://github.com/org/", "https://rekor.example", True, True)


DIGEST = "sha256:" + "cd" * 32


@pytest.mark.parametrize(
    "opts,image,added,missing",
    [
        ("", "ghcr.io/a/b:v1", True, False),
        ("mutateDigest: false\n", "ghcr.io/a/b:v1", False, True),
        ("mutateDigest: false\nverifyDigest: false\n", "ghcr.io/a/b:v1", False, False),
        ("mutateDigest: false\n", f"ghcr.io/a/b@{DIGEST}", False, False),
        ("", f"ghcr.io/a/b@{DIGEST}", False, False),
    ],
)
def test_digest_requirements(opts, image, added, missing):
    d = load_policy(with_entry("imageReferences: ['ghcr.io/*']\n" + opts + KEYLESS_OK), "p.yaml").policy.evaluate(image)
    assert d.requirements.digest_added is added
    assert d.requirements.missing_digest is missing
    assert ("digest would be added (mutateDigest)" in d.message) is added
    assert ("missing digest for" in d.message) is missing


def test_audit_entries_say_failures_are_not_blocked():
    body = "imageReferences: ['ghcr.io/*']\nfailureAction: Audit\nmutateDigest: false\n" + KEYLESS_OK
    d = load_policy(with_entry(body), "p.yaml").policy.evaluate("ghcr.io/a/b")
    assert "Audit: failures are reported, not blocked" in d.message


def test_explain_lists_every_entry_with_reason():
    text = with_entry("imageReferences: ['ghcr.io/*']\nskipImageReferences: ['ghcr.io/x/*']\n" + KEYLESS_OK)
    trials = load_policy(text, "p.yaml").policy.explain("ghcr.io/x/y")
    assert len(trials) == 1 and trials[0].matched
    assert "skipImageReferences 'ghcr.io/x/*' skips it" in trials[0].reason


def test_errors_found_while_decoding_name_the_entry_they_are_in():
    """Unknown keys are found before entries are numbered; each gets the index of the entry
    whose lines hold it, also for flow-style entries sharing a line (the first one wins)."""
    entries = "".join(
        f"        - imageReferences: ['ghcr.io/e{n}/*']\n          tpyo{n}: x\n"
        + indent(KEYLESS_OK, 10)
        for n in range(3)
    )
    text = HEAD + entries + """    - name: r2
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages: [{imageReferences: ['a.io/*'], tpyoA: 1}, {imageReferences: ['b.io/*'], tpyoB: 1}]
  tpyoSpec: 1
"""
    found = {d.message.split("'")[1]: d.rule_index for d in diags(text) if d.code == "unknown-key"}
    assert found == {"tpyo0": 0, "tpyo1": 1, "tpyo2": 2, "tpyoA": 3, "tpyoB": 3, "tpyoSpec": None}


# --- Requirements.cache_key: equal exactly when the same signatures are accepted -----------------

def _keyless_entry(ref: str) -> str:
    return f"imageReferences: ['{ref}']\nmutateDigest: false\nverifyDigest: false\n" + KEYLESS_OK


_BASE = _keyless_entry("ghcr.io/*")

# (case, entry written instead of _BASE, same key?)
CACHE_KEYS = [
    ("another pattern", _keyless_entry("ghcr.io/acme/*"), True),
    ("a skip pattern added", _BASE.replace("mutateDigest", "skipImageReferences: ['quay.io/*']\nmutateDigest"), True),
    ("another subject", _BASE.replace('"*@example.com"', '"*@example.org"'), False),
    ("another issuer", _BASE.replace("accounts.google.com", "token.actions.githubusercontent.com"), False),
    ("a second attestor", _BASE + "      - keyless: {issuer: https://i, subject: s, rekor: {url: https://rekor.sigstore.dev}}\n", False),
    ("a count", _BASE.replace("  - entries:", "  - count: 1\n    entries:"), True),  # one entry: count 1 = all
    ("ignoreTlog", _BASE.replace("{url: https://rekor.sigstore.dev}", "{url: https://rekor.sigstore.dev, ignoreTlog: true}"), False),
    ("verifyDigest true", _BASE.replace("verifyDigest: false", "verifyDigest: true"), False),  # a tag fails then
    ("an unchecked field", _BASE.replace("          rekor:", "          additionalExtensions: {githubWorkflowRef: x}\n          rekor:"),
     False),
]


@pytest.mark.parametrize("entry, same", [c[1:] for c in CACHE_KEYS], ids=[c[0] for c in CACHE_KEYS])
def test_requirements_cache_key_is_equal_only_for_the_same_signatures(entry, same):
    image = "ghcr.io/acme/app:v1"
    base = load_policy(with_entry(_BASE), "a.yaml").policy.evaluate(image).requirements
    other_policy = with_entry(entry).replace("name: r1", "name: renamed")
    other = load_policy(other_policy, "b.yaml").policy.evaluate(image).requirements
    assert base is not None and other is not None
    hash(base.cache_key())
    assert (base.cache_key() == other.cache_key()) is same
