"""Legacy cosign signatures (`sha256-<hex>.sig` layers), signed for real by our private Sigstore."""

from __future__ import annotations

import base64
import json

import pytest

from devtools.private_sigstore import Identity, generate_key, public_pem
from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.signatures import LegacyLayer, SignatureError, verify_legacy
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier
from tests.support.signing import key_rule, sign_options

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
WHO = Identity("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0",
               "https://token.actions.githubusercontent.com")




def keyless_rule(**kw) -> KeylessVerifier:
    return KeylessVerifier(**{"issuer": WHO.issuer, "subject": WHO.subject, **kw})


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519"])
def test_public_key_signature_verifies_without_tlog(sigstore, root, kind):
    key = generate_key(kind)
    payload, annotations = sigstore.sign_legacy(DIGEST, key=key, tlog=False)
    evidence = verify_legacy([LegacyLayer(payload, annotations)], DIGEST, key_rule(key), root)
    assert evidence.to_json() == {
        "format": "legacy",
        "artifact_digest": DIGEST,
        "identity": None,
        "key_fingerprint": load_public_key_pem(public_pem(key)).fingerprint,
        "tlog": None,
    }
    # Talos sets IgnoreTlog for public keys: "bundle verified false"
    assert evidence.bundle_verified is False


def test_public_key_rule_that_wants_the_tlog_checks_the_set(sigstore, root):
    key = generate_key()
    payload, annotations = sigstore.sign_legacy(DIGEST, key=key, tlog=True)
    evidence = verify_legacy([LegacyLayer(payload, annotations)], DIGEST, key_rule(key, ignore_tlog=False), root)
    assert evidence.bundle_verified is True
    assert evidence.tlog is not None and evidence.tlog.integrated_time == int(sigstore.now.timestamp())
    _, unlogged = sigstore.sign_legacy(DIGEST, key=key, tlog=False)
    with pytest.raises(SignatureError, match="no Rekor bundle annotation"):
        verify_legacy([LegacyLayer(payload, unlogged)], DIGEST, key_rule(key, ignore_tlog=False), root)


def test_keyless_signature_verifies_with_set_chain_sct_and_identity(sigstore, root):
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO)
    evidence = verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(), root)
    assert evidence.bundle_verified is True
    out = evidence.to_json()
    assert out["identity"] == {"issuer": WHO.issuer, "subject": WHO.subject}
    assert out["key_fingerprint"] is None
    assert out["tlog"]["integrated_time"] == sigstore.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(out["tlog"]["log_index"], int)


def _flip_signature(payload, ann):
    sig = bytearray(base64.b64decode(ann["dev.cosignproject.cosign/signature"]))
    sig[-1] ^= 0x01
    return payload, {**ann, "dev.cosignproject.cosign/signature": base64.b64encode(bytes(sig)).decode()}


def _tamper_payload(payload, ann):
    return payload.replace(b"registry.local/app", b"registry.local/evil"), ann


def _tamper_set_time(payload, ann):
    bundle = json.loads(ann["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 60
    return payload, {**ann, "dev.sigstore.cosign/bundle": json.dumps(bundle)}


def _drop_bundle(payload, ann):
    return payload, {k: v for k, v in ann.items() if k != "dev.sigstore.cosign/bundle"}


def _drop_certificate(payload, ann):
    return payload, {k: v for k, v in ann.items() if k != "dev.sigstore.cosign/certificate"}


# (case, sign options, mutation, rule options, expected message fragment)
KEYLESS_FAILURES = [
    ("wrong subject", {}, None, {"subject": "https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main"},
     "does not match the rule's subject"),
    ("wrong issuer", {}, None, {"issuer": "https://accounts.google.com"}, "does not match the rule's issuer"),
    ("subjectRegex not matching", {}, None, {"subject": None, "subject_regex": r"^https://github\.com/other/"},
     "does not match the rule's subjectRegex"),
    ("tampered payload", {}, _tamper_payload, {}, "does not verify with the signing certificate's key"),
    ("tampered signature", {}, _flip_signature, {}, "does not verify with the signing certificate's key"),
    ("SET tampered", {}, _tamper_set_time, {}, "Rekor SET does not verify"),
    ("no Rekor bundle", {}, _drop_bundle, {}, "no Rekor bundle annotation"),
    ("no certificate", {}, _drop_certificate, {}, "has no certificate"),
    ("certificate expired at integrated time", {"integrated_at_minutes": 20}, None, {},
     "certificate was not valid at the logged time"),
    ("certificate not yet valid at integrated time", {"integrated_at_minutes": -5}, None, {},
     "certificate was not valid at the logged time"),
    ("missing SCT", {"sct": False}, None, {}, "no embedded SCT"),
    ("invalid SCT", {"tamper_sct": True}, None, {}, "SCT signature does not verify"),
    ("SCT from an unknown CT log", {"sct_log_key": "fresh"}, None, {}, "which is not in the trusted root"),
    ("not a code-signing certificate", {"code_signing": False}, None, {}, "not for code signing"),
]


@pytest.mark.parametrize(
    "sign_opts, mutate, rule_opts, message",
    [case[1:] for case in KEYLESS_FAILURES],
    ids=[case[0] for case in KEYLESS_FAILURES],
)
def test_keyless_failures(sigstore, root, sign_opts, mutate, rule_opts, message):
    opts = sign_options(sigstore, sign_opts)
    if opts.get("sct_log_key") == "fresh":
        opts["sct_log_key"] = generate_key()
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO, **opts)
    if mutate:
        payload, annotations = mutate(payload, annotations)
    with pytest.raises(SignatureError, match=message):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(**rule_opts), root)


def test_payload_for_another_digest_fails(sigstore, root):
    payload, annotations = sigstore.sign_legacy(OTHER_DIGEST, identity=WHO)
    with pytest.raises(SignatureError) as err:
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(), root)
    assert str(err.value) == (
        f"signature is for another image: payload names {OTHER_DIGEST}, image digest is {DIGEST}"
    )


def test_set_from_an_unknown_log_fails(sigstore, root):
    stranger = generate_key()
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO, log_key=stranger)
    with pytest.raises(SignatureError, match="Rekor SET is from transparency log [0-9a-f]{64}, which is not in the trusted root"):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(), root)


def test_certificate_from_an_unknown_ca_fails(sigstore, other_sigstore, root):
    # Logged in our Rekor, but issued by somebody else's Fulcio.
    payload, annotations = other_sigstore.sign_legacy(DIGEST, identity=WHO, log_key=sigstore.rekor_key)
    with pytest.raises(SignatureError, match="does not chain to a Fulcio CA of the trusted root"):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(), root)


def test_rekor_entry_for_another_payload_fails(sigstore, root):
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO)
    _, other = sigstore.sign_legacy(OTHER_DIGEST, identity=WHO)
    annotations = {**annotations, "dev.sigstore.cosign/bundle": other["dev.sigstore.cosign/bundle"]}
    with pytest.raises(SignatureError, match="Rekor entry is for another payload"):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(), root)


@pytest.mark.parametrize(
    "case, message",
    [
        ("wrong key", "does not verify with the rule's public key sha256:"),
        ("another digest", "signature is for another image"),
        ("tampered payload", "does not verify with the rule's public key"),
        ("tampered signature", "does not verify with the rule's public key"),
    ],
)
def test_public_key_failures(sigstore, root, case, message):
    key = generate_key()
    rule_key = generate_key() if case == "wrong key" else key
    payload, annotations = sigstore.sign_legacy(OTHER_DIGEST if case == "another digest" else DIGEST, key=key, tlog=False)
    if case == "tampered payload":
        payload, annotations = _tamper_payload(payload, annotations)
    if case == "tampered signature":
        payload, annotations = _flip_signature(payload, annotations)
    with pytest.raises(SignatureError, match=message):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, key_rule(rule_key), root)


def test_first_layer_that_verifies_wins_and_every_failure_is_listed(sigstore, root):
    key, stranger = generate_key(), generate_key()
    bad = LegacyLayer(*sigstore.sign_legacy(DIGEST, key=stranger, tlog=False))
    good = LegacyLayer(*sigstore.sign_legacy(DIGEST, key=key, tlog=False))
    wrong_image = LegacyLayer(*sigstore.sign_legacy(OTHER_DIGEST, key=key, tlog=False))
    assert verify_legacy([bad, good], DIGEST, key_rule(key), root).key_fingerprint
    with pytest.raises(SignatureError) as err:
        verify_legacy([bad, wrong_image], DIGEST, key_rule(key), root)
    assert len(err.value.errors) == 2
    assert err.value.errors[0].startswith("legacy signature 0: signature does not verify")
    assert err.value.errors[1].startswith("legacy signature 1: signature is for another image")


def test_no_layers_is_a_failure(root):
    with pytest.raises(SignatureError, match="no legacy signatures found"):
        verify_legacy([], DIGEST, keyless_rule(), root)


def test_rule_with_an_unusable_key_says_so(sigstore, root):
    payload, annotations = sigstore.sign_legacy(DIGEST, key=generate_key(), tlog=False)
    rule = PublicKeyVerifier(pem="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", fingerprint=None)
    with pytest.raises(SignatureError, match="rule's public key is unusable"):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, rule, root)


def test_kyverno_roots_override_replaces_the_fulcio_ca(sigstore, other_sigstore, root):
    from cryptography.hazmat.primitives.serialization import Encoding

    payload, annotations = other_sigstore.sign_legacy(DIGEST, identity=WHO, log_key=sigstore.rekor_key, sct=False)
    roots = other_sigstore.root_cert.public_bytes(Encoding.PEM).decode()
    rule = keyless_rule(roots=roots, ignore_sct=True)
    evidence = verify_legacy([LegacyLayer(payload, annotations)], DIGEST, rule, root)
    assert evidence.identity.subject == WHO.subject
    with pytest.raises(SignatureError, match="does not chain"):
        verify_legacy([LegacyLayer(payload, annotations)], DIGEST, keyless_rule(ignore_sct=True), root)
