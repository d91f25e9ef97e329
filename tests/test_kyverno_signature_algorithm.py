"""Kyverno `signatureAlgorithm` (cosign's --signature-digest-algorithm) and ImageValidatingPolicy
`key.hashAlgorithm`, on the real registry: the key verifies signatures over that digest only.

From upstream: Kyverno builds the key's verifier with `signature.LoadVerifier(key, hash)`
(pkg/image/verifiers/cpol/cosign/cosign.go decodePEM; ivpol/cosign/opts.go), hash from
`signatureAlgorithmMap` ("" is SHA-256); sigstore's LoadVerifier (pkg/signature/verifier.go) makes
ECDSA verify over that hash, RSA PKCS#1 v1.5 over it (no PSS) and Ed25519 pure. For keys attestors
Kyverno takes `keys.signatureAlgorithm` (CRD default sha256) and overwrites the entry's
(pkg/engine/internal/imageverifier.go buildCosignVerifier); a `certificates` attestor's `cert`
verifies with the entry's. Each row beside a verifying one signs over another digest."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from devtools.private_sigstore import intoto_statement, public_pem, simple_signing_payload
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.ivpol.convert import convert
from pullguard.engine.signatures.payload import INTOTO_PAYLOAD_TYPE, pae
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import Pusher
from tests.support.signing import ALICE, fixed_key

P256 = fixed_key(0xA160_0001)
P384 = ec.derive_private_key(0xA160_0002, ec.SECP384R1())
RSA = rsa.generate_private_key(65537, 2048)
ED = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PROVENANCE = "https://slsa.dev/provenance/v1"
HASHES = {"sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _sign(key, data: bytes, algorithm: str, pss: bool = False) -> bytes:
    h = HASHES[algorithm]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(h))
    if isinstance(key, rsa.RSAPrivateKey):
        pad = padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.MAX_LENGTH) if pss else padding.PKCS1v15()
        return key.sign(data, pad, h)
    return key.sign(data)


def _legacy(digest: str, key, algorithm: str, pss: bool = False) -> tuple[bytes, dict]:
    """`cosign sign --key --signature-digest-algorithm <algorithm> --tlog-upload=false`."""
    payload = simple_signing_payload(digest)
    return payload, {"dev.cosignproject.cosign/signature": base64.b64encode(_sign(key, payload, algorithm, pss)).decode()}


def _attestation(digest: str, key, algorithm: str) -> tuple[bytes, dict]:
    """`cosign attest --key` (legacy .att layer) with the DSSE signature over `algorithm`."""
    statement = intoto_statement(digest, PROVENANCE, {"buildType": "ci"})
    sig = _sign(key, pae(INTOTO_PAYLOAD_TYPE, statement), algorithm)
    envelope = json.dumps({"payloadType": INTOTO_PAYLOAD_TYPE, "payload": base64.b64encode(statement).decode(),
                           "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]}).encode()
    return envelope, {"dev.cosignproject.cosign/signature": "", "predicateType": PROVENANCE}


# (image name, key, digest algorithm, RSA-PSS)
SIGNED = [
    ("p256-sha224", P256, "sha224", False), ("p256-sha256", P256, "sha256", False),
    ("p256-sha384", P256, "sha384", False), ("p256-sha512", P256, "sha512", False),
    ("p384-sha256", P384, "sha256", False), ("p384-sha384", P384, "sha384", False),
    ("rsa-sha256", RSA, "sha256", False), ("rsa-sha512", RSA, "sha512", False), ("rsa-pss-sha256", RSA, "sha256", True),
    ("ed25519", ED, "sha512", False),
]


@pytest.fixture(scope="module")
def world(registry, sigstore, tmp_path_factory):
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}

    def image(name: str) -> str:
        digest = push.push_image(f"algo/{name}", "v1", content=f"algorithm {name}".encode())
        images[name] = f"{host}/algo/{name}@{digest}"
        return digest

    for name, key, algorithm, pss in SIGNED:
        d = image(name)
        push.attach_legacy(f"algo/{name}", d, [_legacy(d, key, algorithm, pss)])
    for algorithm in ("sha256", "sha512"):
        d = image(f"att-{algorithm}")
        push.attach_att(f"algo/att-{algorithm}", d, [_attestation(d, P256, algorithm)])
    d = image("message-bundle")  # a key's signature over the image digest itself (sha256)
    push.attach_bundle_tag("algo/message-bundle", d, [sigstore.sign_bundle(d, key=P256, message_signature=True)])
    push.close()
    _, cert = sigstore.issue_certificate(ALICE, key=P256)
    return {"images": images, "cert": cert.public_bytes(serialization.Encoding.PEM).decode()}


def keys(key, *, algorithm: str | None = None, entry_algorithm: str | None = None) -> str:
    text = "keys:\n  publicKeys: |-\n" + _indent(public_pem(key), 4) + "  rekor: {ignoreTlog: true}\n"
    if algorithm:
        text += f"  signatureAlgorithm: {algorithm}\n"
    if entry_algorithm:
        text += f"signatureAlgorithm: {entry_algorithm}\n"
    return text


def cluster_policy(attestor: str, attestations: bool = False) -> str:
    text = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        "    verifyImages:\n    - imageReferences: ['*']\n      mutateDigest: false\n"
    )
    if attestations:
        return text + ("      attestations:\n      - type: " + PROVENANCE + "\n        attestors:\n        - entries:\n          - "
                       + _indent(attestor, 12).lstrip())
    return text + "      attestors:\n      - entries:\n        - " + _indent(attestor, 10).lstrip()


def _verify(text: str, image: str) -> tuple[str, str]:
    loaded = load_policy(text, "algorithm.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    assert loaded.policy.evaluate(image).requirements.unsupported == []
    (result,) = asyncio.run(verify_images(loaded, [image], VerifyOptions()))
    return result.outcome, result.message


CASES = [
    ("keys.signatureAlgorithm sha512: signed over sha512", "p256-sha512", keys(P256, algorithm="sha512"), "verified"),
    ("keys.signatureAlgorithm sha512: signed over sha256", "p256-sha256", keys(P256, algorithm="sha512"), "failed"),
    ("no signatureAlgorithm (sha256): signed over sha512", "p256-sha512", keys(P256), "failed"),
    ("keys.signatureAlgorithm sha256: signed over sha512", "p256-sha512", keys(P256, algorithm="sha256"), "failed"),
    ("keys.signatureAlgorithm sha224: signed over sha224", "p256-sha224", keys(P256, algorithm="sha224"), "verified"),
    ("keys.signatureAlgorithm sha384: signed over sha384", "p256-sha384", keys(P256, algorithm="sha384"), "verified"),
    ("keys.signatureAlgorithm sha384: signed over sha512", "p256-sha512", keys(P256, algorithm="sha384"), "failed"),
    # Kyverno overwrites the entry's with keys.signatureAlgorithm (sha256 by default) for keys attestors
    ("entry signatureAlgorithm sha512 with keys: signed over sha512", "p256-sha512",
     keys(P256, entry_algorithm="sha512"), "failed"),
    ("entry signatureAlgorithm sha512 with keys: signed over sha256", "p256-sha256",
     keys(P256, entry_algorithm="sha512"), "verified"),
    ("entry sha256, keys sha512: keys' wins", "p256-sha512", keys(P256, algorithm="sha512", entry_algorithm="sha256"),
     "verified"),
    ("P-384, no signatureAlgorithm: its curve's sha384 is not sha256", "p384-sha384", keys(P384), "failed"),
    ("P-384, no signatureAlgorithm: signed over sha256", "p384-sha256", keys(P384), "verified"),
    ("P-384, keys.signatureAlgorithm sha384", "p384-sha384", keys(P384, algorithm="sha384"), "verified"),
    ("RSA, keys.signatureAlgorithm sha512: PKCS#1 v1.5 over sha512", "rsa-sha512", keys(RSA, algorithm="sha512"), "verified"),
    ("RSA, keys.signatureAlgorithm sha512: signed over sha256", "rsa-sha256", keys(RSA, algorithm="sha512"), "failed"),
    ("RSA, no signatureAlgorithm: PSS is not what LoadVerifier takes", "rsa-pss-sha256", keys(RSA), "failed"),
    ("RSA, no signatureAlgorithm: PKCS#1 v1.5 over sha256", "rsa-sha256", keys(RSA), "verified"),
    ("Ed25519: the digest algorithm does not apply", "ed25519", keys(ED, algorithm="sha512"), "verified"),
    ("Ed25519, sha256", "ed25519", keys(ED), "verified"),
    ("a key's bundle message signature (over a sha256 digest) with sha512", "message-bundle",
     keys(P256, algorithm="sha512"), "failed"),
    ("a key's bundle message signature with the default", "message-bundle", keys(P256), "verified"),
]


@pytest.mark.parametrize("image, attestor, outcome", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_key_verifies_signatures_over_its_signature_algorithm_only(world, image, attestor, outcome):
    got, message = _verify(cluster_policy(attestor), world["images"][image])
    assert got == outcome, message


def test_the_failure_says_which_digest_the_key_wanted(world):
    _, message = _verify(cluster_policy(keys(P256, algorithm="sha512")), world["images"]["p256-sha256"])
    assert "does not verify with the rule's public key" in message and " over sha512 " in message
    _, message = _verify(cluster_policy(keys(P256, algorithm="sha512")), world["images"]["message-bundle"])
    assert "cannot verify with signatureAlgorithm sha512: the signed digest is sha256" in message


ATTESTATIONS = [
    ("attestation over sha512, keys sha512", "att-sha512", keys(P256, algorithm="sha512"), "verified"),
    ("attestation over sha512, the default", "att-sha512", keys(P256), "failed"),
    ("attestation over sha256, keys sha512", "att-sha256", keys(P256, algorithm="sha512"), "failed"),
]


@pytest.mark.parametrize("image, attestor, outcome", [c[1:] for c in ATTESTATIONS], ids=[c[0] for c in ATTESTATIONS])
def test_attestation_signatures_follow_the_signature_algorithm(world, image, attestor, outcome):
    got, message = _verify(cluster_policy(attestor, attestations=True), world["images"][image])
    assert got == outcome, message


def _certificate(world, algorithm: str | None) -> str:
    text = "certificates:\n  cert: |-\n" + _indent(world["cert"], 4) + "  rekor: {ignoreTlog: true}\n"
    return text + (f"signatureAlgorithm: {algorithm}\n" if algorithm else "")


CERTIFICATES = [("entry sha512, signed over sha512", "p256-sha512", "sha512", "verified"),
                ("entry sha512, signed over sha256", "p256-sha256", "sha512", "failed"),
                ("no signatureAlgorithm, signed over sha512", "p256-sha512", None, "failed"),
                ("no signatureAlgorithm, signed over sha256", "p256-sha256", None, "verified")]


@pytest.mark.parametrize("image, algorithm, outcome", [c[1:] for c in CERTIFICATES], ids=[c[0] for c in CERTIFICATES])
def test_a_certificate_key_verifies_over_the_entrys_signature_algorithm(world, image, algorithm, outcome):
    got, message = _verify(cluster_policy(_certificate(world, algorithm)), world["images"][image])
    assert got == outcome, message


def test_the_entrys_signature_algorithm_beside_keys_is_a_warning_with_its_position():
    text = cluster_policy(keys(P256, entry_algorithm="sha512"))
    loaded = load_policy(text, "algorithm.yaml")
    (warning,) = [d for d in loaded.diagnostics if d.code == "kyverno-signature-algorithm-ignored"]
    assert warning.severity == "warning" and "keys.signatureAlgorithm (sha256)" in warning.message
    assert text.splitlines()[warning.line - 1][warning.column - 1:].startswith("sha512")
    assert "kyverno-signature-algorithm-ignored" not in [d.code for d in load_policy(
        cluster_policy(keys(P256, algorithm="sha512", entry_algorithm="sha512")), "a.yaml").diagnostics]


@pytest.mark.parametrize("where", ["keys", "entry"])
def test_an_unknown_signature_algorithm_is_a_check_error_with_its_position(where):
    attestor = keys(P256, algorithm="md5") if where == "keys" else keys(P256, entry_algorithm="md5")
    text = cluster_policy(attestor)
    loaded = load_policy(text, "algorithm.yaml")
    (error,) = [d for d in loaded.diagnostics if d.code == "kyverno-signature-algorithm"]
    assert error.message == "Invalid signature algorithm provided"
    assert text.splitlines()[error.line - 1][error.column - 1:].startswith("md5")


# --- ImageValidatingPolicy key.hashAlgorithm, and convert ------------------------------------------------


def ivpol(algorithm: str | None) -> str:
    return (
        "apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: algo}\n"
        "spec:\n  validationConfigurations: {mutateDigest: false}\n"
        "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n"
        "  attestors:\n  - name: ours\n    cosign:\n      key:\n"
        + (f"        hashAlgorithm: {algorithm}\n" if algorithm else "")
        + "        data: |-\n" + _indent(public_pem(P256), 10)
        + "      ctlog: {insecureIgnoreTlog: true}\n"
        "  validations:\n  - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.ours])).all(n, n > 0)\n"
        "    message: not signed\n"
    )


IVPOL = [("hashAlgorithm sha512, signed over sha512", "p256-sha512", "sha512", "verified"),
         ("hashAlgorithm sha512, signed over sha256", "p256-sha256", "sha512", "failed"),
         ("no hashAlgorithm, signed over sha512", "p256-sha512", None, "failed"),
         ("hashAlgorithm sha384, signed over sha384", "p256-sha384", "sha384", "verified")]


@pytest.mark.parametrize("image, algorithm, outcome", [c[1:] for c in IVPOL], ids=[c[0] for c in IVPOL])
def test_an_image_validating_policy_key_verifies_over_its_hash_algorithm(world, image, algorithm, outcome):
    loaded = load_policy(ivpol(algorithm), "algorithm.yaml")
    assert loaded.errors == 0
    (result,) = asyncio.run(verify_images(loaded, [world["images"][image]], VerifyOptions()))
    assert result.outcome == outcome, result.message


def test_an_upper_case_hash_algorithm_is_a_check_error_and_an_error_outcome(world):
    text = ivpol("SHA512")
    loaded = load_policy(text, "algorithm.yaml")
    (error,) = [d for d in loaded.diagnostics if d.code == "ivpol-hash-algorithm"]
    assert text.splitlines()[error.line - 1][error.column - 1:].startswith("SHA512")
    (result,) = asyncio.run(verify_images(loaded, [world["images"]["p256-sha512"]], VerifyOptions()))
    assert result.outcome == "error" and "cosign.key.hashAlgorithm" in result.message


def test_convert_carries_the_signature_algorithm_and_keeps_the_verdicts(world):
    text = cluster_policy(keys(P256, algorithm="sha512"))
    loaded = load_policy(text, "algorithm.yaml")
    conversion = convert(loaded.policy, text, "algorithm.yaml")
    assert "hashAlgorithm: sha512" in conversion.text
    assert not [w for w in conversion.warnings if "signatureAlgorithm" in w.message]
    converted = load_policy(conversion.text, "converted.yaml")
    assert converted.errors == 0
    for image in ("p256-sha512", "p256-sha256"):
        (want,) = asyncio.run(verify_images(loaded, [world["images"][image]], VerifyOptions()))
        (got,) = asyncio.run(verify_images(converted, [world["images"][image]], VerifyOptions()))
        assert got.outcome == want.outcome, (image, got.message)


@pytest.mark.parametrize("dialect", ["ClusterPolicy", "ImageValidatingPolicy"])
def test_the_session_cache_never_hands_a_pass_to_a_policy_that_wants_another_digest(world, dialect):
    from pullguard.engine.verify import VerifyCache

    lenient, strict = ((cluster_policy(keys(P256, algorithm="sha512")), cluster_policy(keys(P256)))
                       if dialect == "ClusterPolicy" else (ivpol("sha512"), ivpol(None)))
    cache = VerifyCache()
    image = world["images"]["p256-sha512"]
    (first,) = asyncio.run(verify_images(load_policy(lenient, "a.yaml"), [image], VerifyOptions(), cache=cache))
    assert first.outcome == "verified", first.message
    (second,) = asyncio.run(verify_images(load_policy(strict, "b.yaml"), [image], VerifyOptions(), cache=cache))
    assert (second.outcome, second.cached) == ("failed", False), second.message
