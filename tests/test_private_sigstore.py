"""Our private Sigstore produces what real Sigstore clients accept: proven with sigstore-python itself."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sigstore.errors import VerificationError
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity as SigstoreIdentity

from devtools.private_sigstore import Identity, PrivateSigstore, intoto_statement, simple_signing_payload

DIGEST = "sha256:" + "12" * 32
WHO = Identity("https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main",
               "https://token.actions.githubusercontent.com")


@pytest.fixture(scope="module")
def verifier(sigstore, tmp_path_factory):
    path = sigstore.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return Verifier(trusted_root=TrustedRoot.from_file(str(path)))


def test_sigstore_python_accepts_our_keyless_dsse_bundle(sigstore, verifier):
    bundle = Bundle.from_json(sigstore.sign_bundle(DIGEST, identity=WHO))
    payload_type, payload = verifier.verify_dsse(bundle, SigstoreIdentity(identity=WHO.subject, issuer=WHO.issuer))
    assert payload_type == "application/vnd.in-toto+json"
    statement = json.loads(payload)
    assert statement["subject"][0]["digest"] == {"sha256": "12" * 32}
    assert statement["predicateType"] == "https://sigstore.dev/cosign/sign/v1"


def test_sigstore_python_accepts_our_keyless_message_signature_bundle(sigstore, verifier):
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    bundle = Bundle.from_json(sigstore.sign_bundle(DIGEST, identity=WHO, message_signature=True))
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex("12" * 32))
    verifier.verify_artifact(hashed, bundle, SigstoreIdentity(identity=WHO.subject, issuer=WHO.issuer))


def test_sigstore_python_rejects_a_bundle_from_another_instance(verifier):
    stranger = PrivateSigstore(name="stranger")
    bundle = Bundle.from_json(stranger.sign_bundle(DIGEST, identity=WHO))
    with pytest.raises(VerificationError):
        verifier.verify_dsse(bundle, SigstoreIdentity(identity=WHO.subject, issuer=WHO.issuer))


def test_leaf_certificate_is_fulcio_style(sigstore):
    _, cert = sigstore.issue_certificate(WHO)
    ext = cert.extensions
    assert ExtendedKeyUsageOID.CODE_SIGNING in ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ext.get_extension_for_class(x509.KeyUsage).value.digital_signature
    san = ext.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [WHO.subject]
    assert ext.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")).value.value == WHO.issuer.encode()
    assert ext.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")).value.value[2:] == WHO.issuer.encode()
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(minutes=10)
    assert cert.not_valid_before_utc <= sigstore.now <= cert.not_valid_after_utc
    scts = ext.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    assert len(scts) == 1 and scts[0].log_id == sigstore.trusted_root_log_id("ctlogs")


def test_embedded_sct_verifies_with_sigstore_python(sigstore, verifier):
    # sigstore-python rebuilds the precertificate TBS (without the SCT extension) itself.
    from sigstore._internal.sct import verify_sct
    from sigstore._internal.trust import KeyringPurpose

    _, cert = sigstore.issue_certificate(WHO)
    keyring = verifier._trusted_root.ct_keyring(KeyringPurpose.VERIFY)
    verify_sct(cert, [sigstore.intermediate_cert, sigstore.root_cert], keyring)
    _, tampered = sigstore.issue_certificate(WHO, tamper_sct=True)
    with pytest.raises(VerificationError):
        verify_sct(tampered, [sigstore.intermediate_cert, sigstore.root_cert], keyring)


def test_checkpoint_is_a_signed_note(sigstore):
    from sigstore._internal.rekor.checkpoint import SignedCheckpoint

    note = sigstore.checkpoint(b"\x01" * 32, 1)
    parsed = SignedCheckpoint.from_text(note)
    assert parsed.checkpoint.log_size == 1
    assert parsed.checkpoint.log_hash == "01" * 32
    assert parsed.signed_note.signatures[0].sig_hash == sigstore.trusted_root_log_id("tlogs")[:4]


def test_payloads_are_what_cosign_signs():
    assert simple_signing_payload(DIGEST, "ghcr.io/acme/app") == (
        b'{"critical":{"identity":{"docker-reference":"ghcr.io/acme/app"},"image":{"docker-manifest-digest":"'
        + DIGEST.encode()
        + b'"},"type":"cosign container image signature"},"optional":null}'
    )
    statement = json.loads(intoto_statement(DIGEST))
    assert statement == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": "12" * 32}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
    }


def test_trusted_root_document_shape(sigstore):
    doc = sigstore.trusted_root()
    assert doc["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    assert [len(ca["certChain"]["certificates"]) for ca in doc["certificateAuthorities"]] == [2]
    assert len(doc["tlogs"]) == 1 and len(doc["ctlogs"]) == 1
    assert doc["tlogs"][0]["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"


def test_sign_requires_exactly_one_signer(sigstore):
    with pytest.raises(ValueError, match="exactly one"):
        sigstore.sign_legacy(DIGEST)
    with pytest.raises(ValueError, match="exactly one"):
        sigstore.sign_bundle(DIGEST)
