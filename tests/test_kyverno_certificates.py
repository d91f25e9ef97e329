"""Kyverno `certificates` attestors (cosign's --certificate / --certificate-chain), keyless `roots`,
custom `rekor.pubkey`/`ctlog.pubkey` (a private Sigstore built from the policy, never fetched),
`ignoreTlog`/`ignoreSCT` for keyless bundles, and `additionalExtensions`, on the real registry:
each row verifies or fails as Kyverno would, and the rows beside it try to slip past the check."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives import serialization

from devtools.private_sigstore import public_pem
from pullguard.engine.policy import load_policy
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import Pusher
from tests.support.signing import ALICE, ISSUER, fixed_key

KEY = fixed_key(0xCE57_0001)
OTHER = fixed_key(0xCE57_0002)
REPO_EXT = "1.3.6.1.4.1.57264.1.5"  # githubWorkflowRepository
TRIGGER_EXT = "1.3.6.1.4.1.57264.1.2"  # githubWorkflowTrigger


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def world(registry, sigstore, other_sigstore, tmp_path_factory):
    """`sigstore` is the trusted root given to pullguard; `other_sigstore` is a private Sigstore
    (own CA, Rekor and CT log) that policies name through certChain/roots and rekor/ctlog.pubkey."""
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}
    own = other_sigstore

    def image(name: str) -> str:
        digest = push.push_image(f"cert/{name}", "v1", content=f"cert {name}".encode())
        images[name] = f"{host}/cert/{name}@{digest}"
        return digest

    # A key with a certificate from the private CA (for `cert` alone), signing legacy without a log entry.
    _, key_cert = own.issue_certificate(ALICE, key=KEY)
    d = image("by-key")
    push.attach_legacy("cert/by-key", d, [own.sign_legacy(d, key=KEY, tlog=False)])
    # Keyless in the private Sigstore: its CA, its CT log, its Rekor.
    d = image("private")
    push.attach_legacy("cert/private", d, [own.sign_legacy(d, identity=ALICE)])
    # Keyless bundles in the public-like root: one without log entries, one without SCT.
    d = image("bundle-unlogged")
    bundle = json.loads(sigstore.sign_bundle(d, identity=ALICE))
    bundle["verificationMaterial"]["tlogEntries"] = []
    push.attach_bundle_tag("cert/bundle-unlogged", d, [json.dumps(bundle).encode()])
    d = image("bundle-nosct")
    push.attach_bundle_tag("cert/bundle-nosct", d, [sigstore.sign_bundle(d, identity=ALICE, sct=False)])
    # Fulcio workflow extensions on the certificate.
    d = image("workflow")
    workflow = {REPO_EXT: "acme/app", TRIGGER_EXT: "push"}
    push.attach_legacy("cert/workflow", d, [sigstore.sign_legacy(d, identity=ALICE, extensions=workflow)])
    d = image("annotated")  # cosign sign -a env=prod -a team=web
    push.attach_legacy("cert/annotated", d, [sigstore.sign_legacy(d, identity=ALICE, optional={"env": "prod", "team": "web"})])
    d = image("annotated-bundle")
    push.attach_bundle_tag("cert/annotated-bundle", d, [sigstore.sign_bundle(d, identity=ALICE)])
    push.close()
    root = sigstore.write_trusted_root(tmp_path_factory.mktemp("cert-root") / "trusted_root.json")
    return {"images": images, "root": str(root), "key_cert": _pem(key_cert), "chain": own.chain_pem(),
            "rekor": public_pem(own.rekor_key), "ctlog": public_pem(own.ct_key),
            "other_cert": _pem(own.issue_certificate(ALICE, key=OTHER)[1])}


def policy(attestor: str) -> str:
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        "    verifyImages:\n"
        "    - imageReferences: ['*']\n      mutateDigest: false\n"
        "      attestors:\n      - entries:\n        - " + _indent(attestor, 10).lstrip()
    )


def block(name: str, text: str, spaces: int) -> str:
    return " " * spaces + f"{name}: |-\n" + _indent(text, spaces + 2)


def certificates(w, *, cert=None, chain=None, rekor="  rekor: {ignoreTlog: true, url: https://rekor.sigstore.dev}\n", ctlog=""):
    text = "certificates:\n"
    if cert:
        text += block("cert", w[cert] if cert in w else cert, 2)
    if chain:
        text += block("certChain", w[chain], 2)
    return text + rekor + ctlog


def private_logs(w) -> tuple[str, str]:
    rekor = "  rekor:\n    url: https://rekor.private.example\n" + block("pubkey", w["rekor"], 4)
    ctlog = "  ctlog:\n" + block("pubkey", w["ctlog"], 4)
    return rekor, ctlog


def keyless(extra: str = "", **fields) -> str:
    text = f"keyless:\n  issuer: {ISSUER}\n  subject: {ALICE.subject}\n"
    for k, v in fields.items():
        text += f"  {k}: {v}\n"
    if "rekor" not in extra:
        text += "  rekor: {url: https://rekor.sigstore.dev}\n"
    return text + extra


def _cases(w):
    rekor, ctlog = private_logs(w)
    return [
        ("cert alone: the signature is by its key", "by-key", certificates(w, cert="key_cert"), "verified", "verified via legacy"),
        ("cert alone: another key's certificate", "by-key", certificates(w, cert="other_cert"), "failed",
         "does not verify with the rule's public key"),
        ("cert alone requires a log entry without ignoreTlog", "by-key", certificates(w, cert="key_cert", rekor=""), "failed",
         "no Rekor bundle annotation"),
        ("certChain with the private Rekor and CT keys", "private", certificates(w, chain="chain", rekor=rekor, ctlog=ctlog),
         "verified", "verified via legacy signature (bundle verified true)"),
        ("certChain, the private Rekor unknown to the root", "private", certificates(w, chain="chain", ctlog=ctlog,
                                                                               rekor="  rekor: {url: https://rekor.sigstore.dev}\n"),
         "failed", "not in the trusted root"),
        ("certChain, the private CT log unknown", "private", certificates(w, chain="chain", rekor=rekor), "failed", "CT log"),
        ("certChain, ignoreSCT", "private", certificates(w, chain="chain", rekor=rekor, ctlog="  ctlog: {ignoreSCT: true}\n"),
         "verified", "verified via legacy"),
        ("certChain and cert: another certificate", "private",
         certificates(w, cert="other_cert", chain="chain", rekor=rekor, ctlog=ctlog), "failed", "is not the policy's certificates.cert"),
        ("certChain of the trusted root's CA does not take the private CA's", "by-key",
         certificates(w, chain="chain", rekor=rekor, ctlog=ctlog), "failed", "certificate"),
        ("keyless roots with the private logs", "private", keyless(rekor + ctlog, roots="|-\n" + _indent(w["chain"], 4).rstrip("\n")),
         "verified", "verified via legacy"),
        ("keyless without the private roots", "private", keyless(rekor + ctlog), "failed", "does not chain"),
        ("keyless bundle without log entries, ignoreTlog", "bundle-unlogged",
         keyless("  rekor: {url: https://rekor.sigstore.dev, ignoreTlog: true}\n"), "verified", "verified via bundle"),
        ("keyless bundle without log entries", "bundle-unlogged", keyless(), "failed", "bundle"),
        ("keyless bundle without SCT, ignoreSCT", "bundle-nosct", keyless("  ctlog: {ignoreSCT: true}\n"), "verified",
         "verified via bundle"),
        ("keyless bundle without SCT", "bundle-nosct", keyless(), "failed", "SCT"),
        ("annotations the payload holds", "annotated", keyless() + "annotations: {env: prod}\n", "verified", "verified via legacy"),
        ("annotations: another value", "annotated", keyless() + "annotations: {env: dev}\n", "failed",
         "annotation env is 'prod', the rule's annotations require 'dev'"),
        ("annotations: one the payload lacks", "annotated", keyless() + "annotations: {tier: gold}\n", "failed",
         "signed payload has no annotation 'tier'"),
        ("annotations on a bundle signature", "annotated-bundle", keyless() + "annotations: {env: prod}\n", "failed",
         "this Sigstore bundle carries none"),
        ("additionalExtensions that hold", "workflow",
         keyless("  additionalExtensions: {githubWorkflowRepository: acme/app, githubWorkflowTrigger: push}\n"), "verified", "verified"),
        ("additionalExtensions: another repository", "workflow",
         keyless("  additionalExtensions: {githubWorkflowRepository: evil/notacme}\n"), "failed",
         "githubWorkflowRepository is 'acme/app', the rule's additionalExtensions require 'evil/notacme'"),
        ("additionalExtensions: an extension the certificate lacks", "workflow",
         keyless("  additionalExtensions: {githubWorkflowSha: abc}\n"), "failed", "githubWorkflowSha is absent"),
    ]


CASE_IDS = [c[0] for c in _cases({k: "x" for k in ("key_cert", "chain", "rekor", "ctlog", "other_cert")})]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_certificates_and_private_sigstore_as_kyverno_verifies(world, index):
    _case, image, attestor, outcome, words = _cases(world)[index]
    loaded = load_policy(policy(attestor), "cert.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    assert loaded.policy.evaluate(world["images"][image]).requirements.unsupported == []
    (result,) = asyncio.run(verify_images(loaded, [world["images"][image]], VerifyOptions(trusted_root=world["root"])))
    assert result.outcome == outcome, result.message
    assert words in result.message


def test_a_certificate_that_is_not_pem_is_a_check_error():
    loaded = load_policy(policy("certificates:\n  cert: |-\n    -----BEGIN CERTIFICATE-----\n    nope\n    -----END CERTIFICATE-----\n"),
                         "cert.yaml")
    assert [d.code for d in loaded.diagnostics if d.severity == "error"] == ["kyverno-certificate-invalid"]
