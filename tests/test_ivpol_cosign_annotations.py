"""ImageValidatingPolicy `cosign.annotations`, on the real registry, as Kyverno checks them:
against the signature's own OCI annotations (`oci.Signature.Annotations()`, in
pkg/image/verifiers/ivpol/cosign/certs.go checkSignatureAnnotations) — a `.sig`/`.att` layer's
descriptor annotations; a Sigstore bundle, which cosign wraps with static.NewAttestation, has only an
empty `dev.cosignproject.cosign/signature`. Not the payload's `optional` (that is the ClusterPolicy
attestor's `annotations`). Any verified signature that holds them is enough."""

from __future__ import annotations

import asyncio
import base64

import pytest

from devtools.private_sigstore import public_pem, sign_bytes, simple_signing_payload
from pullguard.engine.policy import load_policy
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import Pusher
from tests.support.signing import fixed_key

KEY = fixed_key(0xA770_0001)
PROVENANCE = "https://slsa.dev/provenance/v1"
SIGNATURE = "dev.cosignproject.cosign/signature"


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _signed(digest: str, extra: dict[str, str] | None = None, optional: dict | None = None) -> tuple[bytes, dict]:
    payload = simple_signing_payload(digest, optional=optional)
    return payload, {SIGNATURE: base64.b64encode(sign_bytes(KEY, payload)).decode(), **(extra or {})}


@pytest.fixture(scope="module")
def world(registry, sigstore):
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}

    def image(name: str) -> str:
        digest = push.push_image(f"ann/{name}", "v1", content=f"annotations {name}".encode())
        images[name] = f"{host}/ann/{name}@{digest}"
        return digest

    d = image("layer")  # `team: web` on the layer, `env: prod` in the payload (cosign sign -a)
    layer = _signed(d, {"team": "web"}, optional={"env": "prod"})
    push.attach_legacy("ann/layer", d, [layer])
    images["layer-signature"] = layer[1][SIGNATURE]
    d = image("second")  # the first signature lacks the annotation, the second holds it
    push.attach_legacy("ann/second", d, [_signed(d), _signed(d, {"team": "web"})])
    d = image("bundle")
    push.attach_bundle_tag("ann/bundle", d, [sigstore.sign_bundle(d, key=KEY)])
    d = image("attested")
    push.attach_att("ann/attested", d, [sigstore.attest_legacy(d, PROVENANCE, {"buildType": "ci"}, key=KEY, tlog=False)])
    push.close()
    return images


def ivpol(annotations: str, attestation: bool = False) -> str:
    check = ("images.containers.map(i, verifyAttestationSignatures(i, attestations.prov, [attestors.ours])).all(n, n > 0)"
             if attestation else "images.containers.map(i, verifyImageSignatures(i, [attestors.ours])).all(n, n > 0)")
    return (
        "apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: ann}\n"
        "spec:\n  validationConfigurations: {mutateDigest: false}\n"
        "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n"
        "  attestors:\n  - name: ours\n    cosign:\n      key:\n        data: |-\n" + _indent(public_pem(KEY), 10)
        + "      ctlog: {insecureIgnoreTlog: true}\n" + f"      annotations: {annotations}\n"
        + (f"  attestations:\n  - name: prov\n    intoto: {{type: '{PROVENANCE}'}}\n" if attestation else "")
        + f"  validations:\n  - expression: {check}\n    message: not signed\n"
    )


def _cases(world) -> list[tuple[str, str, str, bool, str]]:
    return [
        ("an annotation the signature layer holds", "layer", "{team: web}", False, "verified"),
        ("another value", "layer", "{team: ops}", False, "failed"),
        ("an annotation only in the payload's optional (cosign -a) is not looked at", "layer", "{env: prod}", False, "failed"),
        ("cosign's own signature annotation, as Kyverno's test", "layer",
         f"{{'{SIGNATURE}': '{world['layer-signature']}'}}", False, "verified"),
        ("any verified signature holding them is enough", "second", "{team: web}", False, "verified"),
        ("a bundle carries no annotation of its own", "bundle", "{team: web}", False, "failed"),
        ("a bundle's only annotation: an empty signature one", "bundle", f"{{'{SIGNATURE}': ''}}", False, "verified"),
        ("an attestation layer's predicateType annotation", "attested", f"{{predicateType: '{PROVENANCE}'}}", True, "verified"),
        ("an attestation layer's annotation with another value", "attested", "{predicateType: other}", True, "failed"),
    ]


CASE_IDS = [c[0] for c in _cases({"layer-signature": "x"})]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_cosign_annotations_are_checked_against_the_signatures_oci_annotations(world, index):
    _case, image, annotations, attestation, outcome = _cases(world)[index]
    loaded = load_policy(ivpol(annotations, attestation), "ann.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    (result,) = asyncio.run(verify_images(loaded, [world[image]], VerifyOptions()))
    assert result.outcome == outcome, result.message
    if outcome == "failed" and not attestation:
        assert "annotations mismatch" in " ".join(result.errors), result.errors


def test_the_session_cache_tells_policies_apart_by_their_annotations(world):
    from pullguard.engine.verify import VerifyCache

    cache = VerifyCache()
    (first,) = asyncio.run(verify_images(load_policy(ivpol("{team: web}"), "a.yaml"), [world["layer"]], VerifyOptions(),
                                         cache=cache))
    assert first.outcome == "verified", first.message
    (second,) = asyncio.run(verify_images(load_policy(ivpol("{team: ops}"), "b.yaml"), [world["layer"]], VerifyOptions(),
                                          cache=cache))
    assert (second.outcome, second.cached) == ("failed", False), second.message
