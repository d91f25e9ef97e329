"""Every Kyverno verifyImages field that changes Kyverno's verdict is honoured, or the image's
outcome is `error` "not verified by pullguard: <field> …" — never a silent `verified`.

Each row adds one field to a policy under which a real signed sample image verifies (the bundled
OCI layout and private Sigstore root, offline); the field must take `verified` away.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.kyverno.requirements import Requirements
from pullguard.engine.verify import VerifyOptions, verify_images
from pullguard.engine.vocabulary import PublicKeyVerifier

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
API_IMAGE = "ghcr.io/acme/api:v1.4.0"  # keyless, by acme/api's release workflow
PARTNER_IMAGE = "quay.io/partner/agent:v5.2.0"  # a key, legacy signature without a Rekor entry
ISSUER = "https://token.actions.githubusercontent.com"
PARTNER_KEY = (SAMPLES / "partner.pub").read_text().strip()  # the samples' partner key (make_samples writes it)


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _policy(entry_extra: str = "", attestor: str | None = None, rule_extra: str = "", image: str = "ghcr.io/acme/*") -> str:
    if attestor is None:
        attestor = (f"keyless:\n  issuer: {ISSUER}\n  subject: https://github.com/acme/api/*\n"
                    "  rekor: {url: https://rekor.sigstore.dev}\n")
    layout = SAMPLES / "registry"
    mirrors = "".join(
        f"---\napiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: {host}\n"
        f"endpoints:\n  - url: oci:{layout}\nskipFallback: true\n"
        for host in ("ghcr.io", "quay.io")
    )
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        + _indent(rule_extra, 4)
        + "    verifyImages:\n"
        f"    - imageReferences: ['{image}']\n      mutateDigest: false\n      verifyDigest: false\n"
        + _indent(entry_extra, 6)
        + "      attestors:\n      - entries:\n        - " + _indent(attestor, 10).lstrip()
        + mirrors
    )


KEYS_ATTESTOR = "keys:\n  publicKeys: |-\n" + _indent(PARTNER_KEY, 4) + "  rekor: {ignoreTlog: true}\n"
KEYLESS = (f"keyless:\n  issuer: {ISSUER}\n  subject: https://github.com/acme/api/*\n"
           "  rekor: {url: https://rekor.sigstore.dev}\n")


def _verify(text: str, image: str) -> tuple[str, str]:
    loaded = load_policy(text, str(SAMPLES / "kyverno" / "fields.yaml"))
    assert loaded.errors == 0, [d.message for d in loaded.diagnostics if d.severity == "error"]
    options = VerifyOptions(trusted_root=str(SAMPLES / "trusted_root.json"))
    (result,) = asyncio.run(verify_images(loaded, [image], options))
    return result.outcome, result.message


def test_the_baselines_verify():
    assert _verify(_policy(), API_IMAGE)[0] == "verified"
    assert _verify(_policy(attestor=KEYS_ATTESTOR, image="quay.io/partner/*"), PARTNER_IMAGE)[0] == "verified"


# (case, policy, image, the field named in the message)
NOT_VERIFIED = [
    ("keyless.additionalExtensions, an unknown one",
     _policy(attestor=KEYLESS + "  additionalExtensions: {buildConfigURI: x}\n"), API_IMAGE,
     "attestors[0].entries[0].keyless.additionalExtensions (buildConfigURI)"),
    ("keyless.ctlog.tsaCertChain", _policy(attestor=KEYLESS + "  ctlog: {tsaCertChain: x}\n"), API_IMAGE,
     "attestors[0].entries[0].keyless.ctlog.tsaCertChain"),
    ("keys.ctlog.tsaCertChain", _policy(attestor=KEYS_ATTESTOR + "  ctlog: {tsaCertChain: x}\n",
                                        image="quay.io/partner/*"), PARTNER_IMAGE,
     "attestors[0].entries[0].keys.ctlog.tsaCertChain"),
    ("entry annotations", _policy(entry_extra="annotations: {env: prod}"), API_IMAGE, "annotations (env)"),
    ("entry additionalExtensions", _policy(entry_extra="additionalExtensions: {githubWorkflowRepository: evil/notacme}"),
     API_IMAGE, "additionalExtensions (githubWorkflowRepository)"),
    ("cosignOCI11", _policy(entry_extra="cosignOCI11: true"), API_IMAGE, "cosignOCI11"),
    ("validate.deny", _policy(entry_extra="validate:\n  deny: {conditions: {any: [{key: a, operator: Equals, value: a}]}}"),
     API_IMAGE, "validate.deny"),
    ("imageExtractors", _policy(rule_extra="imageExtractors:\n  Pod:\n    - path: /spec/containers/*/image"),
     API_IMAGE, "imageExtractors"),
]


@pytest.mark.parametrize("policy, image, field", [c[1:] for c in NOT_VERIFIED], ids=[c[0] for c in NOT_VERIFIED])
def test_a_field_pullguard_does_not_check_is_never_verified(policy, image, field):
    outcome, message = _verify(policy, image)
    assert outcome == "error", message
    assert f"not verified by pullguard: {field}" in message


@pytest.mark.parametrize("policy, image, field", [c[1:] for c in NOT_VERIFIED], ids=[c[0] for c in NOT_VERIFIED])
def test_the_field_is_named_by_check_and_in_the_requirements(policy, image, field):
    loaded = load_policy(policy, "fields.yaml")
    (info,) = [d for d in loaded.diagnostics if d.code == "kyverno-field-not-verified"]
    assert info.severity == "info" and info.line is not None
    requirements = loaded.policy.evaluate(image).requirements
    assert isinstance(requirements, Requirements)
    (line,) = requirements.unsupported
    assert line.startswith(f"p/r#0: not verified by pullguard: {field}")


# keyless.additionalExtensions are compared with the certificate's Fulcio extensions (issue 12).
EXTENSIONS = [("githubWorkflowRepository", "evil/notacme"), ("githubWorkflowTrigger", "workflow_dispatch"),
              ("githubWorkflowSha", "'0000000000000000000000000000000000000000'"),
              ("githubWorkflowName", "evil"), ("githubWorkflowRef", "refs/heads/evil")]


@pytest.mark.parametrize("ext, value", EXTENSIONS, ids=[e for e, _ in EXTENSIONS])
def test_additional_extensions_the_certificate_does_not_carry_fail(ext, value):
    outcome, message = _verify(_policy(attestor=KEYLESS + f"  additionalExtensions: {{{ext}: {value}}}\n"), API_IMAGE)
    assert outcome == "failed", message
    assert f"certificate extension {ext} is" in message


def test_attestor_annotations_are_checked_against_the_payload():
    # the sample's signature payload has no `optional` annotations (cosign sign without -a)
    outcome, message = _verify(_policy(attestor=KEYLESS + "annotations: {env: prod}\n"), API_IMAGE)
    assert outcome == "failed", message
    assert "signed payload has no annotation 'env'" in message


# --- #1: a keys attestor without `rekor.ignoreTlog: true` requires a transparency-log entry ---------

IGNORE_TLOG = [
    ("no rekor", "", False),
    ("rekor url only", "  rekor: {url: https://rekor.sigstore.dev}\n", False),
    ("ignoreTlog false", "  rekor: {ignoreTlog: false}\n", False),
    ("ignoreTlog true", "  rekor: {ignoreTlog: true}\n", True),
]


@pytest.mark.parametrize("rekor, ignore", [c[1:] for c in IGNORE_TLOG], ids=[c[0] for c in IGNORE_TLOG])
def test_keys_attestors_carry_ignore_tlog_as_written(rekor, ignore):
    attestor = "keys:\n  publicKeys: |-\n" + _indent(PARTNER_KEY, 4) + rekor
    loaded = load_policy(_policy(attestor=attestor, image="quay.io/partner/*"), "k.yaml")
    verifier = loaded.policy.evaluate(PARTNER_IMAGE).verifier
    assert isinstance(verifier, PublicKeyVerifier)
    assert verifier.ignore_tlog is ignore


def test_a_deprecated_key_field_requires_a_transparency_log_entry():
    text = _policy(entry_extra="key: |-\n" + _indent(PARTNER_KEY, 2), image="quay.io/partner/*")
    verifiers = [a.verifier for s in loaded_entry(text).attestor_sets for a in s.entries]
    assert [type(v).__name__ for v in verifiers][-1] == "PublicKeyVerifier"
    assert verifiers[-1] is not None and verifiers[-1].ignore_tlog is False


def loaded_entry(text: str):
    loaded = load_policy(text, "k.yaml")
    requirements = loaded.policy.evaluate(PARTNER_IMAGE).requirements
    assert isinstance(requirements, Requirements)
    return requirements.verify[0][0]


def test_a_partner_signature_without_a_log_entry_fails_without_ignore_tlog():
    attestor = "keys:\n  publicKeys: |-\n" + _indent(PARTNER_KEY, 4)
    outcome, message = _verify(_policy(attestor=attestor, image="quay.io/partner/*"), PARTNER_IMAGE)
    assert outcome == "failed", message
