"""Sigstore bundles (cosign v3 DSSE and message signatures), signed for real by our private Sigstore."""

from __future__ import annotations

import base64
import json

import pytest

from devtools.private_sigstore import Identity, generate_key, intoto_statement, public_pem
from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.signatures import SignatureError, verify_bundle
from pullguard.engine.vocabulary import KeylessVerifier
from tests.support.signing import key_rule, sign_options

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
WHO = Identity("release@acme.example", "https://accounts.acme.example")




def keyless_rule(**kw) -> KeylessVerifier:
    return KeylessVerifier(**{"issuer": WHO.issuer, "subject": WHO.subject, **kw})


@pytest.mark.parametrize("message_signature", [False, True], ids=["dsse", "message-signature"])
def test_keyless_bundle_verifies(sigstore, root, message_signature):
    bundle = sigstore.sign_bundle(DIGEST, identity=WHO, message_signature=message_signature)
    evidence = verify_bundle(bundle, DIGEST, keyless_rule(), root)
    assert evidence.bundle_verified is True
    out = evidence.to_json()
    assert out["format"] == "bundle"
    assert out["artifact_digest"] == DIGEST
    assert out["identity"] == {"issuer": WHO.issuer, "subject": WHO.subject}
    assert out["tlog"]["integrated_time"] == sigstore.now.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "kind, message_signature",
    [("ecdsa-p256", False), ("ecdsa-p384", False), ("rsa-2048", False), ("ed25519", False),
     ("ecdsa-p256", True), ("rsa-2048", True)],
)
def test_public_key_bundle_verifies_without_tlog(sigstore, root, kind, message_signature):
    key = generate_key(kind)
    bundle = sigstore.sign_bundle(DIGEST, key=key, message_signature=message_signature)
    evidence = verify_bundle(bundle, DIGEST, key_rule(key), root)
    assert evidence.to_json() == {
        "format": "bundle",
        "artifact_digest": DIGEST,
        "identity": None,
        "key_fingerprint": load_public_key_pem(public_pem(key)).fingerprint,
        "tlog": None,
    }


def _edit(bundle: bytes, fn) -> bytes:
    doc = json.loads(bundle)
    fn(doc)
    return json.dumps(doc).encode()


def _tamper_payload(doc):
    env = doc["dsseEnvelope"]
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["predicateType"] = "https://example.com/evil"
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


def _flip_signature(doc):
    env = doc["dsseEnvelope"]
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[-1] ^= 0x01
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()


def _tamper_set(doc):
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 30)


# (case, sign options, mutation, rule options, expected message fragment)
KEYLESS_FAILURES = [
    ("wrong subject", {}, None, {"subject": "someone@acme.example"},
     "certificate identity 'release@acme.example' does not match the rule's subject 'someone@acme.example'"),
    ("wrong issuer", {}, None, {"issuer": "https://token.actions.githubusercontent.com"},
     "does not match the rule's issuer"),
    ("subjectRegex not matching", {}, None, {"subject": None, "subject_regex": "@other\\.example$"},
     "does not match the rule's subjectRegex"),
    ("tampered payload", {}, _tamper_payload, {}, "Sigstore bundle does not verify"),
    ("tampered signature", {}, _flip_signature, {}, "Sigstore bundle does not verify"),
    ("SET tampered", {}, _tamper_set, {}, "invalid inclusion promise"),
    ("certificate expired at integrated time", {"integrated_at_minutes": 20}, None, {},
     "certificate was not valid at the logged time"),
    ("missing SCT", {"sct": False}, None, {}, "signed certificate timestamp"),
    ("invalid SCT", {"tamper_sct": True}, None, {}, "failed to verify SCT"),
    ("not a code-signing certificate", {"code_signing": False}, None, {}, "code signing"),
]


@pytest.mark.parametrize(
    "sign_opts, mutate, rule_opts, message",
    [case[1:] for case in KEYLESS_FAILURES],
    ids=[case[0] for case in KEYLESS_FAILURES],
)
def test_keyless_failures(sigstore, root, sign_opts, mutate, rule_opts, message):
    opts = sign_options(sigstore, sign_opts)
    bundle = sigstore.sign_bundle(DIGEST, identity=WHO, **opts)
    if mutate:
        bundle = _edit(bundle, mutate)
    with pytest.raises(SignatureError, match=message):
        verify_bundle(bundle, DIGEST, keyless_rule(**rule_opts), root)


def test_dsse_subject_for_another_digest_fails(sigstore, root):
    bundle = sigstore.sign_bundle(OTHER_DIGEST, identity=WHO)
    with pytest.raises(SignatureError) as err:
        verify_bundle(bundle, DIGEST, keyless_rule(), root)
    assert str(err.value) == (
        f"signature is for another image: in-toto subject names {OTHER_DIGEST}, image digest is {DIGEST}"
    )


def test_message_signature_for_another_digest_fails(sigstore, root):
    bundle = sigstore.sign_bundle(OTHER_DIGEST, identity=WHO, message_signature=True)
    with pytest.raises(SignatureError, match="signature is for another image: bundle message digest"):
        verify_bundle(bundle, DIGEST, keyless_rule(), root)


def test_set_from_an_unknown_log_fails(sigstore, root):
    bundle = sigstore.sign_bundle(DIGEST, identity=WHO, log_key=generate_key())
    with pytest.raises(SignatureError, match="transparency log entry is from log [0-9a-f]{64}, which is not in the trusted root"):
        verify_bundle(bundle, DIGEST, keyless_rule(), root)


def test_certificate_from_an_unknown_ca_fails(sigstore, other_sigstore, root):
    bundle = other_sigstore.sign_bundle(DIGEST, identity=WHO, log_key=sigstore.rekor_key)
    with pytest.raises(SignatureError, match="does not chain to a Fulcio CA of the trusted root"):
        verify_bundle(bundle, DIGEST, keyless_rule(), root)


@pytest.mark.parametrize(
    "case, message",
    [
        ("wrong key", "DSSE signature does not verify with the rule's public key sha256:"),
        ("another digest", "signature is for another image: in-toto subject names"),
        ("tampered payload", "DSSE signature does not verify"),
        ("tampered signature", "DSSE signature does not verify"),
        ("not in-toto", "DSSE payload type is 'text/plain'"),
    ],
)
def test_public_key_failures(sigstore, root, case, message):
    key = generate_key()
    bundle = sigstore.sign_bundle(OTHER_DIGEST if case == "another digest" else DIGEST, key=key)
    if case == "tampered payload":
        bundle = _edit(bundle, _tamper_payload)
    if case == "tampered signature":
        bundle = _edit(bundle, _flip_signature)
    if case == "not in-toto":
        # re-sign a DSSE envelope with a different payload type, validly
        from devtools.private_sigstore import pae, sign_bytes

        def retype(doc):
            env = doc["dsseEnvelope"]
            env["payloadType"] = "text/plain"
            sig = sign_bytes(key, pae("text/plain", base64.b64decode(env["payload"])))
            env["signatures"][0]["sig"] = base64.b64encode(sig).decode()

        bundle = _edit(bundle, retype)
    rule_key = generate_key() if case == "wrong key" else key
    with pytest.raises(SignatureError, match=message):
        verify_bundle(bundle, DIGEST, key_rule(rule_key), root)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not json", "Sigstore bundle is not JSON"),
        (b'{"mediaType": "application/json"}', "not a Sigstore bundle"),
        (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "neither a DSSE envelope nor a message signature"),
    ],
)
def test_malformed_bundles(root, data, message):
    with pytest.raises(SignatureError, match=message):
        verify_bundle(data, DIGEST, keyless_rule(), root)


def test_keyless_rule_rejects_a_key_signed_bundle(sigstore, root):
    bundle = sigstore.sign_bundle(DIGEST, key=generate_key())
    with pytest.raises(SignatureError, match="signed with a key, but the rule needs a keyless"):
        verify_bundle(bundle, DIGEST, keyless_rule(), root)


def test_attestation_with_another_predicate_still_names_the_image(sigstore, root):
    statement = intoto_statement(DIGEST, "https://slsa.dev/provenance/v1", {"builder": {"id": "ci"}})
    bundle = sigstore.sign_bundle(DIGEST, identity=WHO, statement=statement)
    evidence = verify_bundle(bundle, DIGEST, keyless_rule(), root)
    assert evidence.details["predicate_type"] == "https://slsa.dev/provenance/v1"


# A certificate that does not chain (or was not valid at the logged time) is reported as such even
# when a later stage fails too: the plain chain message wins over sigstore's and the identity's.
# (case, signer, sign options, signed digest, rule options, message signature, expected fragment)
CHAIN_FIRST = [
    ("expired and wrong subject", "ours", {"integrated_at_minutes": 20}, DIGEST, {"subject": "x@acme.example"}, False,
     "certificate was not valid at the logged time"),
    ("expired and another digest", "ours", {"integrated_at_minutes": 20}, OTHER_DIGEST, {}, True,
     "certificate was not valid at the logged time"),
    ("expired and tampered signature", "ours", {"integrated_at_minutes": 20, "mutate": _flip_signature}, DIGEST, {}, False,
     "certificate was not valid at the logged time"),
    ("unknown CA and wrong issuer", "other", {}, DIGEST, {"issuer": "https://elsewhere.example"}, False,
     "does not chain to a Fulcio CA of the trusted root"),
    ("unknown CA and another digest", "other", {}, OTHER_DIGEST, {}, True,
     "does not chain to a Fulcio CA of the trusted root"),
]


@pytest.mark.parametrize(
    "signer, sign_opts, signed_digest, rule_opts, message_signature, message",
    [case[1:] for case in CHAIN_FIRST],
    ids=[case[0] for case in CHAIN_FIRST],
)
def test_chain_failure_is_reported_before_later_stages(
    sigstore, other_sigstore, root, signer, sign_opts, signed_digest, rule_opts, message_signature, message
):
    opts = sign_options(sigstore, sign_opts)
    mutate = opts.pop("mutate", None)
    maker = sigstore if signer == "ours" else other_sigstore
    bundle = maker.sign_bundle(
        signed_digest, identity=WHO, log_key=sigstore.rekor_key, message_signature=message_signature, **opts
    )
    if mutate:
        bundle = _edit(bundle, mutate)
    with pytest.raises(SignatureError, match=message):
        verify_bundle(bundle, DIGEST, keyless_rule(**rule_opts), root)
