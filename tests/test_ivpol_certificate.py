"""ImageValidatingPolicy `cosign.certificate` (`cert`, `certChain`), on the real registry, as
Kyverno's opts.go checkOptions builds it — the same verifier as the ClusterPolicy `certificates`
attestor (cosign's --certificate / --certificate-chain): `cert` alone is the key that must have made
the signature, `certChain` the roots the signing certificate must chain to (with `cert`, that
certificate). And `pullguard convert` carries a ClusterPolicy's certificates attestor over with the
same verdicts."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization

from devtools.private_sigstore import public_pem
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.ivpol.convert import convert
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import Pusher
from tests.support.signing import ALICE, fixed_key

KEY = fixed_key(0xCE57_1001)
OTHER = fixed_key(0xCE57_1002)


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def world(registry, sigstore, other_sigstore, tmp_path_factory):
    """`sigstore`'s root is the one given to pullguard; `other_sigstore` is a private Sigstore
    whose CA, Rekor and CT keys only the policy names."""
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}
    own = other_sigstore

    def image(name: str) -> str:
        digest = push.push_image(f"ivcert/{name}", "v1", content=f"ivcert {name}".encode())
        images[name] = f"{host}/ivcert/{name}@{digest}"
        return digest

    _, key_cert = own.issue_certificate(ALICE, key=KEY)
    d = image("by-key")
    push.attach_legacy("ivcert/by-key", d, [own.sign_legacy(d, key=KEY, tlog=False)])
    d = image("private")
    push.attach_legacy("ivcert/private", d, [own.sign_legacy(d, identity=ALICE)])
    d = image("public")  # keyless in the trusted root's own Sigstore
    push.attach_legacy("ivcert/public", d, [sigstore.sign_legacy(d, identity=ALICE)])
    push.close()
    root = sigstore.write_trusted_root(tmp_path_factory.mktemp("ivcert-root") / "trusted_root.json")
    return {"images": images, "root": str(root), "key_cert": _pem(key_cert), "chain": own.chain_pem(),
            "public_chain": sigstore.chain_pem(), "rekor": public_pem(own.rekor_key), "ctlog": public_pem(own.ct_key),
            "other_cert": _pem(own.issue_certificate(ALICE, key=OTHER)[1])}


def _value(name: str, text: str) -> str:
    return f"{name}:\n  value: |-\n" + _indent(text, 4)


def certificate(w, *, cert=None, chain=None, ctlog="ctlog: {insecureIgnoreTlog: true}\n") -> str:
    text = "certificate:\n"
    if cert:
        text += _indent(_value("cert", w[cert]), 2)
    if chain:
        text += _indent(_value("certChain", w[chain]), 2)
    return text + ctlog


def private_ctlog(w, extra: str = "") -> str:
    return ("ctlog:\n  url: https://rekor.private.example\n  rekorPubKey: |-\n" + _indent(w["rekor"], 4)
            + "  ctLogPubKey: |-\n" + _indent(w["ctlog"], 4) + extra)


def ivpol(cosign: str) -> str:
    return (
        "apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: ivcert}\n"
        "spec:\n  validationConfigurations: {mutateDigest: false}\n"
        "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n"
        "  attestors:\n  - name: ours\n    cosign:\n" + _indent(cosign, 6)
        + "  validations:\n  - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.ours])).all(n, n > 0)\n"
        "    message: not signed\n"
    )


def _cases(w):
    return [
        ("cert alone: the signature is by its key", "by-key", certificate(w, cert="key_cert"), "verified"),
        ("cert alone: another key's certificate", "by-key", certificate(w, cert="other_cert"), "failed"),
        ("cert alone needs a log entry without insecureIgnoreTlog", "by-key", certificate(w, cert="key_cert", ctlog=""),
         "failed"),
        ("certChain with the private Rekor and CT keys", "private", certificate(w, chain="chain", ctlog=private_ctlog(w)),
         "verified"),
        ("certChain of another CA", "private", certificate(w, chain="public_chain", ctlog=private_ctlog(w)), "failed"),
        ("certChain: a signature of another Sigstore", "public", certificate(w, chain="chain", ctlog=private_ctlog(w)),
         "failed"),
        ("certChain, the private CT log unknown", "private",
         certificate(w, chain="chain", ctlog=private_ctlog(w).split("  ctLogPubKey")[0]), "failed"),
        ("certChain, insecureIgnoreSCT", "private",
         certificate(w, chain="chain", ctlog=private_ctlog(w).split("  ctLogPubKey")[0] + "  insecureIgnoreSCT: true\n"),
         "verified"),
        ("certChain and cert: another certificate", "private",
         certificate(w, cert="other_cert", chain="chain", ctlog=private_ctlog(w)), "failed"),
    ]


CASE_IDS = [c[0] for c in _cases({k: "x" for k in ("key_cert", "chain", "public_chain", "rekor", "ctlog", "other_cert")})]


def _verify(text: str, image: str, root: str) -> tuple[str, str]:
    loaded = load_policy(text, "ivcert.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    (result,) = asyncio.run(verify_images(loaded, [image], VerifyOptions(trusted_root=root)))
    return result.outcome, result.message


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_cosign_certificate_verifies_as_kyverno_does(world, index):
    _case, image, cosign, outcome = _cases(world)[index]
    got, message = _verify(ivpol(cosign), world["images"][image], world["root"])
    assert got == outcome, message


def test_a_cert_expression_is_not_verified_by_pullguard(world):
    text = ivpol("certificate:\n  cert: {expression: \"'x'\"}\nctlog: {insecureIgnoreTlog: true}\n")
    got, message = _verify(text, world["images"]["by-key"], world["root"])
    assert got == "error" and "not verified by pullguard: attestor 'ours': cosign.certificate.cert.expression" in message


BAD = [
    ("not PEM", "certificate:\n  cert: {value: nope}\n", "ivpol-certificate-invalid", "nope"),
    ("a broken PEM block", "certificate:\n  cert:\n    value: |-\n      -----BEGIN CERTIFICATE-----\n      MIIB\n"
     "      -----END CERTIFICATE-----\n", "ivpol-certificate-invalid", "|-"),
    ("neither cert nor certChain", "certificate: {}\n", "ivpol-certificate-required", "{}"),
]


@pytest.mark.parametrize("cosign, code, at", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_certificate_is_a_check_error_with_its_position_and_an_error_outcome(cosign, code, at):
    text = ivpol(cosign)
    loaded = load_policy(text, "ivcert.yaml")
    (error,) = [d for d in loaded.diagnostics if d.code == code]
    assert error.severity == "error"
    assert text.splitlines()[error.line - 1][error.column - 1:].startswith(at), (error.line, error.column)
    (attestor,) = loaded.policy.policies[0].attestors
    assert attestor.unsupported and not attestor.verifiers


# --- convert: a ClusterPolicy certificates attestor keeps its verdicts -----------------------------


def cluster_policy(w, *, cert=None, chain=None, rekor="rekor: {ignoreTlog: true, url: https://rekor.sigstore.dev}\n",
                   ctlog="") -> str:
    attestor = "certificates:\n"
    if cert:
        attestor += "  cert: |-\n" + _indent(w[cert], 4)
    if chain:
        attestor += "  certChain: |-\n" + _indent(w[chain], 4)
    attestor += _indent(rekor + ctlog, 2)
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        "    verifyImages:\n    - imageReferences: ['*']\n      mutateDigest: false\n"
        "      attestors:\n      - entries:\n        - " + _indent(attestor, 10).lstrip()
    )


def _private_logs(w) -> tuple[str, str]:
    return ("rekor:\n  url: https://rekor.private.example\n  pubkey: |-\n" + _indent(w["rekor"], 4),
            "ctlog:\n  pubkey: |-\n" + _indent(w["ctlog"], 4))


def _conversions(w):
    rekor, ctlog = _private_logs(w)
    return [
        ("cert alone", cluster_policy(w, cert="key_cert")),
        ("cert alone, another key's", cluster_policy(w, cert="other_cert")),
        ("certChain", cluster_policy(w, chain="chain", rekor=rekor, ctlog=ctlog)),
        ("certChain and cert", cluster_policy(w, cert="other_cert", chain="chain", rekor=rekor, ctlog=ctlog)),
        ("certChain, ignoreSCT", cluster_policy(w, chain="chain", rekor=rekor, ctlog="ctlog: {ignoreSCT: true}\n")),
    ]


CONVERSION_IDS = [c[0] for c in _conversions({k: "x" for k in ("key_cert", "chain", "rekor", "ctlog", "other_cert")})]


@pytest.mark.parametrize("index", range(len(CONVERSION_IDS)), ids=CONVERSION_IDS)
def test_convert_carries_certificates_attestors_with_the_same_verdicts(world, index):
    _case, text = _conversions(world)[index]
    loaded = load_policy(text, "p.yaml")
    conversion = convert(loaded.policy, text, "p.yaml")
    assert not [w.message for w in conversion.warnings if "certificates" in w.message]
    assert ("        certificate:\n" if "certChain" in _case else "        key:\n") in conversion.text
    for image in ("by-key", "private", "public"):
        want = _verify(text, world["images"][image], world["root"])[0]
        assert _verify(conversion.text, world["images"][image], world["root"])[0] == want, image
