"""The upstream projects' own validation tests, ported case by case as tables (issue 16).

Talos `pkg/machinery/config/types/security/image_verification_test.go` (TestImageVerificationConfigValidate
and TestImageVerificationConfigMerge, in the v1.13 schema: `skip`/`deny` where later Talos has
`verify`), Kyverno `api/kyverno/v1/image_verification_test.go` (Test_ImageVerification,
Test_Audit_VerifyImageRule, Test_Enforce_VerifyImageRule) and the verifyImages cases of
`pkg/validation/policy/validate_test.go`. Each row holds the upstream error text; pullguard must
report exactly those errors, plus only errors of its own that say they are its own (a placeholder
key such as `bla` that can never verify: "pullguard refuses it, Kyverno accepts the policy").
"""

from __future__ import annotations

import json

import pytest

from pullguard.engine.policy import load_policy

ISSUER = "https://token.actions.githubusercontent.com"


def talos(*rules: str) -> str:
    return "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n" + "".join(rules)


def errors_of(text: str) -> list[str]:
    return [d.message for d in load_policy(text, "p.yaml").diagnostics if d.severity == "error"]


# (name, rules, Talos's errors in order)
TALOS_VALIDATE = [
    ("valid config", f"  - image: ghcr.io/*\n    keyless: {{issuer: {ISSUER}, subjectRegex: 'https://github.com/myorg/.*'}}\n", []),
    ("valid config with subject instead of subjectRegex",
     "  - image: docker.io/*\n    keyless: {issuer: https://accounts.google.com, subject: user@example.com}\n", []),
    ("valid config with skip and no verifier", "  - image: registry.internal.example.com/*\n    skip: true\n", []),
    ("rule missing imagePattern", "  - skip: true\n", ["rule 0: imagePattern must be specified"]),
    ("verification but no verifier", "  - image: docker.io/*\n", ["rule 0: at least one verifier must be configured"]),
    ("verifier missing issuer", "  - image: docker.io/*\n    keyless: {subject: user@example.com}\n",
     ["rule 0: verifier OIDC issuer must be specified"]),
    ("verifier missing subject and subjectRegex", "  - image: docker.io/*\n    keyless: {issuer: https://accounts.google.com}\n",
     ["rule 0: verifier subject or subjectRegex must be specified"]),
    ("verifier configured but skip is true",
     "  - image: docker.io/*\n    skip: true\n    keyless: {issuer: https://accounts.google.com, subject: user@example.com}\n",
     ["rule 0: verifiers cannot be configured if skip or deny is true"]),
    ("skip and deny", "  - image: docker.io/*\n    skip: true\n    deny: true\n", ["rule 0: skip and deny cannot both be true"]),
    ("multiple errors", "  - skip: true\n  - image: docker.io/*\n",
     ["rule 0: imagePattern must be specified", "rule 1: at least one verifier must be configured"]),
]


@pytest.mark.parametrize("name, rules, expected", TALOS_VALIDATE, ids=[c[0] for c in TALOS_VALIDATE])
def test_talos_image_verification_config_validate(name, rules, expected):
    assert errors_of(talos(rules)) == expected


def test_talos_image_verification_config_merge():
    # TestImageVerificationConfigMerge: a patch's rule with the same image replaces it in place,
    # the others keep their place (Talos's merge by image pattern).
    base = talos("  - image: ghcr.io/siderolabs/talos*\n    skip: true\n",
                 "  - image: docker.io/*\n    keyless: {issuer: https://accounts.google.com, subject: user@example.com}\n",
                 f"  - image: '**'\n    keyless: {{issuer: {ISSUER}, subjectRegex: 'https://github.com/fallbackorg/.*'}}\n")
    override = talos(f"  - image: ghcr.io/siderolabs/talos*\n    keyless: {{issuer: {ISSUER}, subjectRegex: 'https://github.com/differentorg/.*'}}\n",
                     "  - image: '**'\n    skip: true\n")
    rules = load_policy(base + "---\n" + override, "p.yaml").policy.rules
    assert [(r.pattern, r.action) for r in rules] == [("ghcr.io/siderolabs/talos*", "verify"), ("docker.io/*", "verify"), ("**", "skip")]
    assert rules[0].verifier.subject_regex == "https://github.com/differentorg/.*"
    assert rules[1].verifier.subject == "user@example.com"
    assert rules[2].verifier is None


def kyverno(entry: dict, failure_action: str = "Enforce", rule_extra: str = "", kinds: str = "[Pod]", spec_extra: str = "") -> str:
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        f"spec:\n  validationFailureAction: {failure_action}\n{spec_extra}  rules:\n    - name: r\n"
        f"      match: {{any: [{{resources: {{kinds: {kinds}}}}}]}}\n{rule_extra}"
        f"      verifyImages:\n        - {json.dumps(entry)}\n"
    )


def kyverno_errors(text: str) -> tuple[list[str], list[str]]:
    """(errors Kyverno has too, errors pullguard reports as its own)."""
    found = errors_of(text)
    own = [m for m in found if "pullguard refuses it, Kyverno accepts the policy" in m]
    return [m for m in found if m not in own], own


KEYLESS = {"issuer": "bla", "subject": "bla", "rekor": {"url": "https://rekor.sigstore.dev"}}

# (name, verifyImages entry, Kyverno's errors, pullguard refuses a placeholder key of its own)
KYVERNO_IMAGE_VERIFICATION = [
    ("only key", {"imageReferences": ["bla"], "key": "bla"}, [], True),
    ("only keyless", {"imageReferences": ["bla"], "issuer": "bla", "subject": "*"}, ["Either Rekor URL or roots are required"], False),
    ("key roots, issuer, and subject", {"imageReferences": ["bla"], "issuer": "bla", "subject": "bla", "roots": "bla"}, [], False),
    ("empty", {"imageReferences": ["bla"]}, [], False),
    ("no image", {"image": "", "key": "bla"}, ["An image reference is required"], True),
    ("no image reference", {"key": "bla"}, ["An image reference is required"], True),
    ("no attestors", {"imageReferences": ["*"], "attestors": []}, [], False),
    ("no entries", {"imageReferences": ["*"], "attestors": [{"entries": []}]}, ["An entry is required"], False),
    ("empty attestor", {"imageReferences": ["*"], "attestors": [{"entries": [{}]}]},
     ["keys, certificates, keyless, or a nested attestor is required"], False),
    ("empty static key attestor", {"imageReferences": ["*"], "attestors": [{"entries": [{"keys": {}}]}]},
     ["A public key, kms key or secret is required"], False),
    ("static key invalid signature algorithm attestor",
     {"imageReferences": ["*"], "attestors": [{"entries": [{"keys": {"publicKeys": "bla", "signatureAlgorithm": "sha1"}}]}]},
     ["Invalid signature algorithm provided"], True),
    *[(f"valid static key {algorithm or 'default'} signature algorithm attestor",
       {"imageReferences": ["*"],
        "attestors": [{"entries": [{"keys": {"publicKeys": "bla", **({"signatureAlgorithm": algorithm} if algorithm else {})}}]}]},
       [], True) for algorithm in ("", "sha224", "sha256", "sha384")],
    ("invalid keyless attestor",
     {"imageReferences": ["*"], "attestors": [{"entries": [{"keyless": {"rekor": {}, "issuer": "", "subject": ""}}]}]},
     ["An URL is required"], False),
    ("valid keyless attestor", {"imageReferences": ["*"], "attestors": [{"entries": [{"keyless": KEYLESS}]}]}, [], False),
    ("valid attestation", {"imageReferences": ["*"], "attestations": [{"predicateType": "foo"}]}, [], False),
    ("multiple entries",
     {"imageReferences": ["*"], "attestors": [{"entries": [{"keys": {"publicKeys": "key1"}}, {"keys": {"publicKeys": "key2"}}]}]},
     [], True),
]


@pytest.mark.parametrize("name, entry, expected, own", KYVERNO_IMAGE_VERIFICATION, ids=[c[0] for c in KYVERNO_IMAGE_VERIFICATION])
def test_kyverno_image_verification(name, entry, expected, own):
    theirs, ours = kyverno_errors(kyverno(entry))
    assert theirs == expected
    assert bool(ours) is own


AUDIT = {"imageReferences": ["*"], "attestations": [{"predicateType": "foo"}]}

# Test_Audit_VerifyImageRule / Test_Enforce_VerifyImageRule: (name, failure action, mutateDigest, errors)
KYVERNO_FAILURE_ACTION = [
    ("mutateDigest set to true for audit failure action", "Audit", True,
     ["mutateDigest must be set to false for \u2018Audit\u2019 failure action"]),
    ("mutateDigest set to false for audit failure action", "Audit", False, []),
    ("mutateDigest set to true for enforce failure action", "Enforce", True, []),
    ("mutateDigest set to false for enforce failure action", "Enforce", False, []),
]


@pytest.mark.parametrize("name, action, mutate, expected", KYVERNO_FAILURE_ACTION, ids=[c[0] for c in KYVERNO_FAILURE_ACTION])
def test_kyverno_failure_action(name, action, mutate, expected):
    assert kyverno_errors(kyverno({**AUDIT, "mutateDigest": mutate}, failure_action=action)) == (expected, [])


EXTRACTORS = ("      imageExtractors:\n        CRD:\n          - path: /path/to/image/prefixed/with/scheme\n"
              "            jmesPath: \"trim_prefix(@, 'docker://')\"\n")
KEYED = {"imageReferences": ["*"], "attestors": [{"count": 1, "entries": [{"keyless": KEYLESS}]}]}

# validate_test.go's verifyImages cases: (name, entry, rule extra, kinds, spec extra, errors)
KYVERNO_VALIDATE = [
    ("jmespath image extractor with mutateDigest", {**KEYED, "mutateDigest": True}, EXTRACTORS, "[CRD]", "",
     ["jmespath may not be used in an image extractor when mutating digests with verify images"]),
    ("jmespath image extractor without mutateDigest", {**KEYED, "mutateDigest": False}, EXTRACTORS, "[CRD]", "", []),
    ("wildcard kind in background mode", KEYED, "", '["*"]', "",
     ["wildcard policy not allowed in background mode. Set spec.background=false to disable background mode for this policy rule"]),
    ("wildcard kind with another kind", KEYED, "", '["*", Pod]', "  background: false\n",
     ["wildcard policy can not deal with more than one kind"]),
    ("wildcard kind with verifyImages", KEYED, "", '["*"]', "  background: false\n", ["wildcard policy does not support rule type"]),
]


@pytest.mark.parametrize("name, entry, extra, kinds, spec_extra, expected", KYVERNO_VALIDATE, ids=[c[0] for c in KYVERNO_VALIDATE])
def test_kyverno_validate(name, entry, extra, kinds, spec_extra, expected):
    text = kyverno(entry, rule_extra=extra, kinds=kinds, spec_extra=spec_extra)
    assert kyverno_errors(text) == (expected, [])


def test_talos_reads_a_pkcs1_rsa_public_key():
    # cryptoutils.UnmarshalPEMToPublicKey reads an `RSA PUBLIC KEY` (PKCS#1) block too
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(65537, 2048).public_key()
    pkcs1 = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    spki = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def rule(pem: str) -> str:
        return "  - image: a.io/*\n    publicKey:\n      certificate: |\n" + "".join(f"        {line}\n" for line in pem.splitlines())

    assert errors_of(talos(rule(pkcs1))) == []
    one, two = (load_policy(talos(rule(p)), "p.yaml").policy.rules[0].verifier for p in (pkcs1, spki))
    assert one.fingerprint == two.fingerprint
    # the SubjectPublicKeyInfo under the PKCS#1 label is what Go's ParsePKCS1PublicKey refuses
    (message,) = errors_of(talos(rule(spki.replace("PUBLIC KEY", "RSA PUBLIC KEY"))))
    assert "does not hold a PKCS#1 RSA key" in message
    assert "pullguard refuses it, Talos accepts the file" in message


def test_a_placeholder_key_says_pullguard_alone_refuses_it():
    (message,) = errors_of(talos("  - image: a.io/*\n    publicKey:\n      certificate: bla\n"))
    assert message.startswith("rule 0: publicKey.certificate: no PEM block found")
    assert message.endswith("pullguard refuses it, Talos accepts the file and reads the key only to verify: "
                            "every pull this rule decides would fail")
