"""Signatures made by real projects with the public Sigstore, verified offline with the production root.

The data lives in ../shared/real-world/ (see its README); it is never copied into the repository.
"""

from __future__ import annotations

import json
import socket

import pytest

from devtools.private_sigstore import PrivateSigstore
from pullguard.engine.signatures import LegacyLayer, SignatureError, verify_bundle, verify_legacy
from pullguard.engine.signatures.trust import load_trusted_root
from pullguard.engine.vocabulary import KeylessVerifier
from tests.support.realworld import REAL_WORLD

if not REAL_WORLD.is_dir():
    pytest.skip(f"real-world signature data not found at {REAL_WORLD}", allow_module_level=True)

GITHUB = "https://token.actions.githubusercontent.com"

SALRASHID_DIGEST = "sha256:c05263d2ff654c3a94243662440913f045075d59c436e2c69e9145ec2b87a321"
SALRASHID_SUBJECT = (
    "https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30"
)
KUBEWARDEN_DIGEST = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172"
KUBEWARDEN_SUBJECT = (
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"
)
ATTESTATION_DIGEST = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
OTHER_DIGEST = "sha256:" + "0" * 64


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Verification must never fetch anything (no TUF refresh, no Rekor lookup)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def salrashid_layer() -> LegacyLayer:
    d = REAL_WORLD / "salrashid123-server_image"
    manifest = json.loads((d / "signature-manifest.json").read_text())
    return LegacyLayer((d / "payload.json").read_bytes(), manifest["layers"][0]["annotations"])


def kubewarden_bundle() -> bytes:
    return (REAL_WORLD / "kubewarden-controller" / "bundle.json").read_bytes()


def test_salrashid_legacy_keyless_verifies_with_the_production_root():
    rule = KeylessVerifier(issuer=GITHUB, subject=SALRASHID_SUBJECT)
    evidence = verify_legacy([salrashid_layer()], SALRASHID_DIGEST, rule, None)
    # Talos: "verified via legacy signature (bundle verified true)"
    assert evidence.bundle_verified is True
    assert evidence.to_json() == {
        "format": "legacy",
        "artifact_digest": SALRASHID_DIGEST,
        "identity": {"issuer": GITHUB, "subject": SALRASHID_SUBJECT},
        "key_fingerprint": None,
        "tlog": {"log_index": 1004096555, "integrated_time": "2026-02-27T18:20:46Z"},
    }


def test_kubewarden_v3_bundle_verifies_with_the_production_root():
    rule = KeylessVerifier(issuer=GITHUB, subject=KUBEWARDEN_SUBJECT)
    evidence = verify_bundle(kubewarden_bundle(), KUBEWARDEN_DIGEST, rule, None)
    assert evidence.bundle_verified is True
    assert evidence.details["predicate_type"] == "https://sigstore.dev/cosign/sign/v1"
    assert evidence.to_json()["identity"] == {"issuer": GITHUB, "subject": KUBEWARDEN_SUBJECT}
    assert evidence.to_json()["tlog"] == {"log_index": 1261105807, "integrated_time": "2026-04-09T07:23:29Z"}


def test_cosign_attestation_verifies_with_its_own_trusted_root():
    # An in-toto v0.1 attestation (predicateType cosign.sigstore.dev/attestation/v1, a custom predicate
    # {"Data": ...}) whose subject is the image: like cosign v3, the subject is what binds it to the image.
    root = load_trusted_root(REAL_WORLD / "cosign-attestation" / "trusted_root_pgi.json")
    bundle = (REAL_WORLD / "cosign-attestation" / "oci-attestation.sigstore.json").read_bytes()
    rule = KeylessVerifier(issuer="https://github.com/login/oauth", subject="cody@soyland.com")
    evidence = verify_bundle(bundle, ATTESTATION_DIGEST, rule, root)
    assert evidence.details["predicate_type"] == "https://cosign.sigstore.dev/attestation/v1"
    assert evidence.identity.subject == "cody@soyland.com"
    assert evidence.tlog.log_index == 175508996


@pytest.mark.parametrize(
    "rule, message",
    [
        (KeylessVerifier(issuer=GITHUB, subject=SALRASHID_SUBJECT.replace("v0.0.30", "v0.0.31")),
         "does not match the rule's subject"),
        (KeylessVerifier(issuer="https://accounts.google.com", subject=SALRASHID_SUBJECT),
         "does not match the rule's issuer"),
        (KeylessVerifier(issuer=GITHUB, subject_regex=r"^https://github\.com/siderolabs/"),
         "does not match the rule's subjectRegex"),
    ],
    ids=["other subject", "other issuer", "subjectRegex"],
)
def test_salrashid_against_another_identity_fails(rule, message):
    with pytest.raises(SignatureError, match=message):
        verify_legacy([salrashid_layer()], SALRASHID_DIGEST, rule, None)


def test_salrashid_subject_regex_matches_unanchored():
    rule = KeylessVerifier(issuer=GITHUB, subject_regex=r"salrashid123/go-bazel-github-workflow/")
    assert verify_legacy([salrashid_layer()], SALRASHID_DIGEST, rule, None).bundle_verified


def test_salrashid_repointed_at_another_digest_fails():
    rule = KeylessVerifier(issuer=GITHUB, subject=SALRASHID_SUBJECT)
    with pytest.raises(SignatureError, match="signature is for another image"):
        verify_legacy([salrashid_layer()], OTHER_DIGEST, rule, None)


def test_kubewarden_repointed_or_other_identity_fails():
    with pytest.raises(SignatureError, match="signature is for another image: in-toto subject names"):
        verify_bundle(kubewarden_bundle(), OTHER_DIGEST, KeylessVerifier(issuer=GITHUB, subject=KUBEWARDEN_SUBJECT), None)
    with pytest.raises(SignatureError, match="does not match the rule's subject"):
        verify_bundle(kubewarden_bundle(), KUBEWARDEN_DIGEST, KeylessVerifier(issuer=GITHUB, subject=SALRASHID_SUBJECT), None)


def test_real_signatures_fail_against_a_private_trusted_root(tmp_path):
    root = load_trusted_root(PrivateSigstore().write_trusted_root(tmp_path / "trusted_root.json"))
    with pytest.raises(SignatureError, match="not in the trusted root"):
        verify_legacy([salrashid_layer()], SALRASHID_DIGEST, KeylessVerifier(issuer=GITHUB, subject=SALRASHID_SUBJECT), root)
    with pytest.raises(SignatureError, match="not in the trusted root"):
        verify_bundle(kubewarden_bundle(), KUBEWARDEN_DIGEST, KeylessVerifier(issuer=GITHUB, subject=KUBEWARDEN_SUBJECT), root)
