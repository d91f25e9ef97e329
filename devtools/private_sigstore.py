"""A private Sigstore: our own Fulcio CA, CT log and Rekor keys, and signing the way cosign does.

Used by the tests (real signatures, real verifiers — nothing patched) and by the samples generator.
`PrivateSigstore().trusted_root()` is a `trusted_root.json` in the Sigstore protobuf-JSON format that
sigstore-python 4.x reads; certificates are Fulcio-style (code-signing EKU, SAN, OIDC issuer extensions
1.3.6.1.4.1.57264.1.1 and .1.8, ten minutes of validity, an embedded precertificate SCT computed over the
TBS without the SCT extension); Rekor entries carry a SET, and bundles a one-leaf inclusion proof with a
signed checkpoint.

EC keys cannot be seeded in `cryptography`, so every instance has fresh keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"

_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


# ---------------------------------------------------------------- keys


def generate_key(kind: str = "ecdsa-p256") -> PrivateKey:
    """`ecdsa-p256`, `ecdsa-p384`, `rsa-2048`, `rsa-3072` or `ed25519`."""
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key kind {kind!r}")


def public_pem(key) -> str:
    """The PEM `PUBLIC KEY` of a private or public key (what a Talos `publicKey.certificate` holds)."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _spki_der(key) -> bytes:
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key) -> bytes:
    """RFC 6962 key id: SHA-256 of the DER SubjectPublicKeyInfo (also Rekor's log id)."""
    return hashlib.sha256(_spki_der(key)).digest()


def sign_bytes(key: PrivateKey, data: bytes) -> bytes:
    """Sign like cosign: ECDSA/RSA over SHA-256 (ECDSA P-384 over SHA-384), Ed25519 pure."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algo = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
        return key.sign(data, ec.ECDSA(algo))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def _key_details(key) -> str:
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return {"secp256r1": "PKIX_ECDSA_P256_SHA_256", "secp384r1": "PKIX_ECDSA_P384_SHA_384"}[pub.curve.name]
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    return f"PKIX_RSA_PKCS1V15_{pub.key_size}_SHA256"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _der_utf8string(text: str) -> bytes:
    body = text.encode()
    if len(body) < 0x80:
        return bytes([0x0C, len(body)]) + body
    n = (len(body).bit_length() + 7) // 8
    return bytes([0x0C, 0x80 | n]) + len(body).to_bytes(n, "big") + body


def _der_octet_string(body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([0x04, len(body)]) + body
    n = (len(body).bit_length() + 7) // 8
    return bytes([0x04, 0x80 | n]) + len(body).to_bytes(n, "big") + body


def simple_signing_payload(image_digest: str, docker_reference: str = "registry.local/app", optional: dict | None = None) -> bytes:
    """The payload `cosign sign` (legacy format) signs, byte for byte as cosign marshals it."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": image_digest},
            "type": "cosign container image signature",
        },
        "optional": optional,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def intoto_statement(image_digest: str, predicate_type: str = COSIGN_SIGN_PREDICATE, predicate: dict | None = None) -> bytes:
    """The in-toto Statement cosign v3 `sign` puts in a DSSE bundle: the image digest as subject."""
    algo, _, hexpart = image_digest.partition(":")
    doc: dict = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {algo: hexpart}}],
        "predicateType": predicate_type,
    }
    if predicate is not None:
        doc["predicate"] = predicate
    return json.dumps(doc, separators=(",", ":")).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# ---------------------------------------------------------------- the private instance


@dataclass
class Identity:
    """A Fulcio identity: SAN subject (URI if it has '://', else email) and OIDC issuer."""

    subject: str
    issuer: str


@dataclass
class PrivateSigstore:
    """Root CA, intermediate CA, CT log key and Rekor key; `now` anchors all validity periods."""

    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))
    name: str = "pullguard-private"

    def __post_init__(self) -> None:
        self.root_key = generate_key("ecdsa-p384")
        self.intermediate_key = generate_key("ecdsa-p384")
        self.ct_key = generate_key("ecdsa-p256")
        self.rekor_key = generate_key("ecdsa-p256")
        self.log_name = f"rekor.{self.name}.invalid"  # the signer name on checkpoint lines: no spaces
        self.origin = f"{self.log_name} - 1"
        self._next_log_index = 1000
        start = self.now - timedelta(days=365)
        end = self.now + timedelta(days=3650)
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} root"),
            ]
        )
        inter_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} intermediate"),
            ]
        )
        self.root_cert = self._ca_cert(root_name, root_name, self.root_key, self.root_key, start, end, None)
        self.intermediate_cert = self._ca_cert(
            inter_name, root_name, self.intermediate_key, self.root_key, start, end, 0
        )

    @staticmethod
    def _ca_cert(subject, issuer, key, signer, start, end, path_length):
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        )
        if path_length is not None:  # Fulcio's intermediate is restricted to code signing
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        return builder.sign(signer, hashes.SHA384())

    # ------------------------------------------------------------ trusted root

    def trusted_root(self) -> dict:
        """The `trusted_root.json` document for this instance."""
        der = serialization.Encoding.DER

        def log(key, url):
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki_der(key)),
                    "keyDetails": _key_details(key),
                    "validFor": {"start": _rfc3339(self.now - timedelta(days=365))},
                },
                "logId": {"keyId": _b64(key_id(key))},
            }

        return {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [log(self.rekor_key, f"https://rekor.{self.name}.invalid")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": self.name, "commonName": f"{self.name} root"},
                    "uri": f"https://fulcio.{self.name}.invalid",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.intermediate_cert.public_bytes(der))},
                            {"rawBytes": _b64(self.root_cert.public_bytes(der))},
                        ]
                    },
                    "validFor": {"start": _rfc3339(self.now - timedelta(days=365))},
                }
            ],
            "ctlogs": [log(self.ct_key, f"https://ctfe.{self.name}.invalid")],
            "timestampAuthorities": [],
        }

    def trusted_root_log_id(self, kind: str) -> bytes:
        """The log id of this instance's Rekor (`tlogs`) or CT log (`ctlogs`)."""
        return key_id(self.rekor_key if kind == "tlogs" else self.ct_key)

    def write_trusted_root(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.trusted_root(), indent=2) + "\n")
        return path

    def chain_pem(self) -> str:
        """The `dev.sigstore.cosign/chain` annotation: intermediate then root."""
        pem = serialization.Encoding.PEM
        return (self.intermediate_cert.public_bytes(pem) + self.root_cert.public_bytes(pem)).decode()

    # ------------------------------------------------------------ Fulcio

    def issue_certificate(
        self,
        identity: Identity,
        *,
        at: datetime | None = None,
        key: PrivateKey | None = None,
        sct: bool = True,
        sct_log_key: PrivateKey | None = None,
        tamper_sct: bool = False,
        code_signing: bool = True,
        issuer_extensions: tuple[str, ...] = ("v1", "v2"),
        extensions: dict[str, str] | None = None,
    ) -> tuple[PrivateKey, x509.Certificate]:
        """A Fulcio-style leaf certificate valid for ten minutes from one minute before `at`.

        The SCT is signed by `sct_log_key` (default: this instance's CT log) over the precertificate
        TBS — the certificate's TBS without the SCT list extension — and the issuer key hash.
        `issuer_extensions` picks the OIDC issuer extensions: "v1" (.1.1, raw) and/or "v2" (.1.8, DER).
        """
        at = at or self.now
        key = key or generate_key("ecdsa-p256")
        serial = x509.random_serial_number()
        not_before = at - timedelta(minutes=1)
        if "://" in identity.subject:
            san = x509.UniformResourceIdentifier(identity.subject)
        else:
            san = x509.RFC822Name(identity.subject)
        eku = [ExtendedKeyUsageOID.CODE_SIGNING] if code_signing else [ExtendedKeyUsageOID.EMAIL_PROTECTION]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        )
        if "v1" in issuer_extensions:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(_ISSUER_V1, identity.issuer.encode()), critical=False
            )
        if "v2" in issuer_extensions:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(_ISSUER_V2, _der_utf8string(identity.issuer)), critical=False
            )
        for oid, value in (extensions or {}).items():  # raw-text Fulcio extensions, e.g. "1.3.6.1.4.1.57264.1.5"
            builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), value.encode()), critical=False)
        if not sct:
            return key, builder.sign(self.intermediate_key, hashes.SHA384())

        # The precertificate TBS is the final TBS minus the SCT extension, which comes last.
        precert_tbs = builder.sign(self.intermediate_key, hashes.SHA384()).tbs_certificate_bytes
        log_key = sct_log_key or self.ct_key
        timestamp_ms = int(at.timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(_spki_der(self.intermediate_key)).digest()
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, 1)
            + issuer_key_hash
            + len(precert_tbs).to_bytes(3, "big")
            + precert_tbs
            + struct.pack("!H", 0)
        )
        signature = sign_bytes(log_key, signed)
        if tamper_sct:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        sct_bytes = (
            struct.pack("!B", 0)
            + key_id(log_key)
            + struct.pack("!QH", timestamp_ms, 0)
            + struct.pack("!BBH", 4, 3, len(signature))  # sha256, ecdsa
            + signature
        )
        sct_list = struct.pack("!H", len(sct_bytes) + 2) + struct.pack("!H", len(sct_bytes)) + sct_bytes
        cert = builder.add_extension(
            x509.UnrecognizedExtension(_SCT_LIST, _der_octet_string(sct_list)), critical=False
        ).sign(self.intermediate_key, hashes.SHA384())
        if cert.tbs_precertificate_bytes != precert_tbs:  # our construction must match what verifiers rebuild
            raise AssertionError("precertificate TBS mismatch")
        return key, cert

    # ------------------------------------------------------------ Rekor

    def _log_index(self) -> int:
        self._next_log_index += 1
        return self._next_log_index

    def signed_entry_timestamp(self, body: bytes, integrated_time: int, log_index: int, log_key=None) -> bytes:
        import rfc8785

        log_key = log_key or self.rekor_key
        canonical = rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated_time,
                "logID": key_id(log_key).hex(),
                "logIndex": log_index,
            }
        )
        return sign_bytes(log_key, canonical)

    def checkpoint(self, root_hash: bytes, tree_size: int, log_key=None) -> str:
        """A signed note: `origin\\nsize\\nroot\\n\\n— name <b64(keyhint + sig)>\\n` (keyhint: 4 bytes of the log id)."""
        log_key = log_key or self.rekor_key
        note = f"{self.origin}\n{tree_size}\n{_b64(root_hash)}\n"
        sig = sign_bytes(log_key, note.encode())
        return note + "\n" + f"\u2014 {self.log_name} {_b64(key_id(log_key)[:4] + sig)}\n"

    def cosign_bundle_annotation(self, body: bytes, integrated_time: int, log_key=None) -> str:
        """The legacy `dev.sigstore.cosign/bundle` annotation: SET and the entry it covers."""
        log_key = log_key or self.rekor_key
        index = self._log_index()
        set_ = self.signed_entry_timestamp(body, integrated_time, index, log_key)
        return json.dumps(
            {
                "SignedEntryTimestamp": _b64(set_),
                "Payload": {
                    "body": _b64(body),
                    "integratedTime": integrated_time,
                    "logIndex": index,
                    "logID": key_id(log_key).hex(),
                },
            },
            separators=(",", ":"),
        )

    def tlog_entry(self, body: bytes, kind: str, integrated_time: int, log_key=None) -> dict:
        """A bundle `tlogEntries[]` item: SET plus a one-leaf inclusion proof and signed checkpoint."""
        log_key = log_key or self.rekor_key
        index = self._log_index()
        root_hash = hashlib.sha256(b"\x00" + body).digest()
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(key_id(log_key))},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {
                "signedEntryTimestamp": _b64(self.signed_entry_timestamp(body, integrated_time, index, log_key))
            },
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": _b64(root_hash),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": self.checkpoint(root_hash, 1, log_key)},
            },
            "canonicalizedBody": _b64(body),
        }

    # ------------------------------------------------------------ cosign

    def sign_legacy(
        self,
        image_digest: str,
        *,
        key: PrivateKey | None = None,
        identity: Identity | None = None,
        at: datetime | None = None,
        integrated_at: datetime | None = None,
        tlog: bool = True,
        docker_reference: str = "registry.local/app",
        log_key: PrivateKey | None = None,
        optional: dict | None = None,
        **cert_options,
    ) -> tuple[bytes, dict]:
        """`cosign sign` in the legacy format: (simple-signing payload, layer annotations).

        With `key`: a key-pair signature (Rekor entry only when `tlog`). With `identity`: keyless —
        a fresh key, a Fulcio certificate at `at`, and a Rekor entry integrated at `integrated_at`.
        """
        if (key is None) == (identity is None):
            raise ValueError("give exactly one of key= or identity=")
        at = at or self.now
        payload = simple_signing_payload(image_digest, docker_reference, optional)
        annotations: dict[str, str] = {}
        if identity is not None:
            key, cert = self.issue_certificate(identity, at=at, **cert_options)
            signer_pem = cert.public_bytes(serialization.Encoding.PEM)
            annotations["dev.sigstore.cosign/certificate"] = signer_pem.decode()
            annotations["dev.sigstore.cosign/chain"] = self.chain_pem()
        else:
            signer_pem = public_pem(key).encode()
        signature = sign_bytes(key, payload)
        annotations["dev.cosignproject.cosign/signature"] = _b64(signature)
        if tlog:
            body = self.hashedrekord_body(payload, signature, signer_pem)
            when = int((integrated_at or at).timestamp())
            annotations["dev.sigstore.cosign/bundle"] = self.cosign_bundle_annotation(body, when, log_key)
        return payload, annotations

    def attest_legacy(
        self,
        image_digest: str,
        predicate_type: str,
        predicate: dict,
        *,
        key: PrivateKey | None = None,
        identity: Identity | None = None,
        at: datetime | None = None,
        integrated_at: datetime | None = None,
        tlog: bool = True,
        log_key: PrivateKey | None = None,
        statement: bytes | None = None,
        **cert_options,
    ) -> tuple[bytes, dict]:
        """`cosign attest` in the legacy format: (DSSE envelope layer, layer annotations) for the
        `sha256-<hex>.att` tag, with an `intoto` v0.0.2 Rekor entry as cosign uploads it."""
        if (key is None) == (identity is None):
            raise ValueError("give exactly one of key= or identity=")
        at = at or self.now
        payload = statement if statement is not None else intoto_statement(image_digest, predicate_type, predicate)
        annotations: dict[str, str] = {"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type}
        if identity is not None:
            key, cert = self.issue_certificate(identity, at=at, **cert_options)
            signer_pem = cert.public_bytes(serialization.Encoding.PEM)
            annotations["dev.sigstore.cosign/certificate"] = signer_pem.decode()
            annotations["dev.sigstore.cosign/chain"] = self.chain_pem()
        else:
            signer_pem = public_pem(key).encode()
        signature = sign_bytes(key, pae(INTOTO_PAYLOAD_TYPE, payload))
        envelope = json.dumps({"payloadType": INTOTO_PAYLOAD_TYPE, "payload": _b64(payload),
                               "signatures": [{"keyid": "", "sig": _b64(signature)}]}, separators=(",", ":")).encode()
        if tlog:
            body = {
                "apiVersion": "0.0.2",
                "kind": "intoto",
                "spec": {"content": {
                    "envelope": {"payloadType": INTOTO_PAYLOAD_TYPE,
                                 "signatures": [{"sig": _b64(_b64(signature).encode()), "publicKey": _b64(signer_pem)}]},
                    "hash": {"algorithm": "sha256", "value": hashlib.sha256(envelope).hexdigest()},
                    "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                }},
            }
            when = int((integrated_at or at).timestamp())
            annotations["dev.sigstore.cosign/bundle"] = self.cosign_bundle_annotation(
                json.dumps(body, separators=(",", ":")).encode(), when, log_key)
        return envelope, annotations

    @staticmethod
    def hashedrekord_body(payload: bytes, signature: bytes, signer_pem: bytes) -> bytes:
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(signer_pem)}},
            },
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def sign_bundle(
        self,
        image_digest: str,
        *,
        key: PrivateKey | None = None,
        identity: Identity | None = None,
        at: datetime | None = None,
        integrated_at: datetime | None = None,
        statement: bytes | None = None,
        log_key: PrivateKey | None = None,
        message_signature: bool = False,
        **cert_options,
    ) -> bytes:
        """`cosign sign` (v3, new bundle format): a v0.3 bundle with a DSSE in-toto Statement.

        Keyless (`identity`): certificate, `dsse` Rekor entry with SET, inclusion proof and checkpoint.
        Key (`key`): public-key hint only, no tlog entry (public-key rules need none).
        `message_signature`: instead of DSSE, a signature over the image digest itself (`sign-blob` style,
        `hashedrekord` entry).
        """
        if (key is None) == (identity is None):
            raise ValueError("give exactly one of key= or identity=")
        at = at or self.now
        if message_signature:
            return self._sign_message_bundle(image_digest, key, identity, at, integrated_at, log_key, cert_options)
        payload = statement if statement is not None else intoto_statement(image_digest)
        material: dict = {}
        if identity is not None:
            key, cert = self.issue_certificate(identity, at=at, **cert_options)
        signature = sign_bytes(key, pae(INTOTO_PAYLOAD_TYPE, payload))
        envelope = {
            "payload": _b64(payload),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature), "keyid": ""}],
        }
        if identity is not None:
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            material["certificate"] = {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))}
            body = self.dsse_body(envelope, payload, signature, cert_pem)
            when = int((integrated_at or at).timestamp())
            material["tlogEntries"] = [self.tlog_entry(body, "dsse", when, log_key)]
        else:
            material["publicKey"] = {"hint": _b64(key_id(key))}
            material["tlogEntries"] = []
        bundle = {"mediaType": BUNDLE_V03_MEDIA_TYPE, "verificationMaterial": material, "dsseEnvelope": envelope}
        return json.dumps(bundle, indent=2).encode()

    def _sign_message_bundle(self, image_digest, key, identity, at, integrated_at, log_key, cert_options) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        digest = bytes.fromhex(image_digest.partition(":")[2])
        material: dict = {}
        if identity is not None:
            key, cert = self.issue_certificate(identity, at=at, **cert_options)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        elif isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            raise ValueError("message signatures need an ECDSA or RSA key")
        if identity is not None:
            material["certificate"] = {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))}
            body = {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {
                        "content": _b64(signature),
                        "publicKey": {"content": _b64(cert.public_bytes(serialization.Encoding.PEM))},
                    },
                },
            }
            when = int((integrated_at or at).timestamp())
            material["tlogEntries"] = [
                self.tlog_entry(json.dumps(body, separators=(",", ":")).encode(), "hashedrekord", when, log_key)
            ]
        else:
            material["publicKey"] = {"hint": _b64(key_id(key))}
            material["tlogEntries"] = []
        bundle = {
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": material,
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
                "signature": _b64(signature),
            },
        }
        return json.dumps(bundle, indent=2).encode()

    @staticmethod
    def dsse_body(envelope: dict, payload: bytes, signature: bytes, cert_pem: bytes) -> bytes:
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(json.dumps(envelope, separators=(",", ":")).encode()).hexdigest(),
                },
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": _b64(signature), "verifier": _b64(cert_pem)}],
            },
        }
        return json.dumps(body, separators=(",", ":")).encode()
