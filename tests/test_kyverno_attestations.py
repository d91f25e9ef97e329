"""Kyverno `verifyImages[].attestations`: attestations found as cosign stores them (the legacy
`.att` tag on a real registry, a bundle under the `sha256-<hex>` tag, a bundle referrer in an OCI
layout), signed with the private Sigstore (keyless) and with keys, every signature check applied,
then the predicate type and the conditions. The real cosign attestation verifies against its own
trusted root, and fails when its type or a condition does not match."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from devtools.oci_layout_writer import OCILayoutWriter
from devtools.private_sigstore import intoto_statement, public_pem
from pullguard.engine.policy import load_policy
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import Pusher
from tests.support.realworld import REAL_WORLD
from tests.support.signing import ALICE, ISSUER, MALLORY, fixed_key

SLSA = "https://slsa.dev/provenance/v0.2"
SBOM = "https://cyclonedx.org/bom"
PROVENANCE = {
    "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
    "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
    "invocation": {"configSource": {"entryPoint": ".github/workflows/release.yml"}},
}
BOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "openssl", "licenses": [{"expression": "Apache-2.0"}]}]}
KEY = fixed_key(0xA77E_0001)
OTHER_KEY = fixed_key(0xA77E_0002)


@pytest.fixture(scope="module")
def world(registry, sigstore, tmp_path_factory):
    """Images on the real registry, each with its attestations; the private Sigstore's root on disk."""
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}

    def image(name: str) -> str:
        digest = push.push_image(f"att/{name}", "v1", content=f"attested {name}".encode())
        images[name] = f"{host}/att/{name}@{digest}"
        return digest

    d = image("legacy")  # keyless SLSA provenance, legacy .att with an intoto Rekor entry
    push.attach_att("att/legacy", d, [sigstore.attest_legacy(d, SLSA, PROVENANCE, identity=ALICE)])
    d = image("keyed")  # key-signed SLSA provenance (logged) and an SBOM, both legacy .att
    push.attach_att("att/keyed", d, [sigstore.attest_legacy(d, SLSA, PROVENANCE, key=KEY),
                                     sigstore.attest_legacy(d, SBOM, BOM, key=KEY, tlog=False)])
    d = image("bundletag")  # keyless SBOM bundle under the sha256-<hex> tag (an index of bundle manifests)
    push.attach_bundle_tag("att/bundletag", d, [sigstore.sign_bundle(d, identity=ALICE, statement=intoto_statement(d, SBOM, BOM))])
    d = image("mallory")  # signed by someone the policy does not trust
    push.attach_att("att/mallory", d, [sigstore.attest_legacy(d, SLSA, PROVENANCE, identity=MALLORY)])
    d = image("other-image")  # a valid attestation for another image, copied here
    other = "sha256:" + "ab" * 32
    push.attach_att("att/other-image", d, [sigstore.attest_legacy(other, SLSA, PROVENANCE, identity=ALICE)])
    d = image("tampered")  # the statement changed after signing
    envelope, annotations = sigstore.attest_legacy(d, SLSA, PROVENANCE, identity=ALICE)
    doc = json.loads(envelope)
    forged = json.loads(intoto_statement(d, SLSA, dict(PROVENANCE, buildType="https://evil.example/build")))
    doc["payload"] = __import__("base64").b64encode(json.dumps(forged).encode()).decode()
    push.attach_att("att/tampered", d, [(json.dumps(doc).encode(), annotations)])
    d = image("unlogged")  # keyless, no Rekor entry
    push.attach_att("att/unlogged", d, [sigstore.attest_legacy(d, SLSA, PROVENANCE, identity=ALICE, tlog=False)])
    d = image("nosct")  # keyless, a certificate without SCT
    push.attach_att("att/nosct", d, [sigstore.attest_legacy(d, SLSA, PROVENANCE, identity=ALICE, sct=False)])
    d = image("huge")  # an envelope over the 1 MiB payload limit
    big = dict(PROVENANCE, padding="x" * (1024 * 1024 + 10))
    push.attach_att("att/huge", d, [sigstore.attest_legacy(d, SLSA, big, identity=ALICE)])
    d = image("none")  # no attestation at all
    push.close()
    root = sigstore.write_trusted_root(tmp_path_factory.mktemp("att-root") / "trusted_root.json")
    return {"images": images, "root": str(root), "host": host}


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


KEYLESS_ALICE = f"keyless: {{issuer: '{ISSUER}', subject: '{ALICE.subject}', rekor: {{url: https://rekor.sigstore.dev}}}}"
KEYS = "keys:\n  publicKeys: |-\n" + _indent(public_pem(KEY), 4)
OTHER_KEYS = "keys:\n  publicKeys: |-\n" + _indent(public_pem(OTHER_KEY), 4)
KEYS_NO_TLOG = KEYS + "  rekor: {ignoreTlog: true, url: https://rekor.sigstore.dev}\n"


def policy(attestations: str, image: str = "*") -> str:
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        "    verifyImages:\n"
        f"    - imageReferences: ['{image}']\n      mutateDigest: false\n"
        "      attestations:\n" + _indent(attestations, 6)
    )


def attestation(kind: str, attestor: str | None = KEYLESS_ALICE, conditions: str = "", name: str = "") -> str:
    text = f"- type: {kind}\n"
    if name:
        text += f"  name: {name}\n"
    if attestor is not None:
        text += "  attestors:\n  - entries:\n    - " + _indent(attestor, 6).lstrip()
    if conditions:
        text += "  conditions:\n" + _indent(conditions, 2)
    return text


def _mirror(host: str, layout: Path) -> str:
    return (f"---\napiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: {host}\n"
            f"endpoints:\n  - url: oci:{layout}\nskipFallback: true\n")


def verify(world, text: str, image: str, trusted_root: str | None = None):
    loaded = load_policy(text, "attest.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    options = VerifyOptions(trusted_root=trusted_root or world["root"])
    (result,) = asyncio.run(verify_images(loaded, [world["images"].get(image, image)], options))
    return result


BUILDER_OK = ("- all:\n  - key: \"{{ regex_match('^https://github.com/slsa-framework/slsa-github-generator/', "
              "'{{ builder.id }}') }}\"\n    operator: Equals\n    value: true")
ENTRY_POINT_BAD = "- all:\n  - key: '{{ invocation.configSource.entryPoint }}'\n    operator: Equals\n    value: Makefile"

CASES = [
    # (case, image, attestations, outcome, words in the message)
    ("keyless legacy .att verifies", "legacy", attestation(SLSA), "verified", f"verified attestation {SLSA} (legacy sha256:"),
    ("conditions hold", "legacy", attestation(SLSA, conditions=BUILDER_OK), "verified", "verified attestation"),
    ("a condition fails, named with the value seen", "legacy", attestation(SLSA, conditions=ENTRY_POINT_BAD), "failed",
     "conditions[0].all[0]: '{{ invocation.configSource.entryPoint }}' Equals 'Makefile' is false "
     "(the key is '.github/workflows/release.yml')"),
    ("another predicate type is not there", "legacy", attestation(SBOM), "failed",
     f"no verified attestation of type {SBOM} (verified attestations have type {SLSA})"),
    ("key-signed .att, logged", "keyed", attestation(SLSA, KEYS), "verified", "verified attestation"),
    ("key-signed SBOM without a log entry needs ignoreTlog", "keyed", attestation(SBOM, KEYS), "failed",
     "no Rekor bundle annotation"),
    ("key-signed SBOM with ignoreTlog", "keyed",
     attestation(SBOM, KEYS_NO_TLOG, conditions="- all:\n  - key: '{{ bomFormat }}'\n    operator: Equals\n    value: CycloneDX"),
     "verified", f"verified attestation {SBOM}"),
    ("the attestation's name holds the predicate", "keyed",
     attestation(SBOM, KEYS_NO_TLOG, name="sbom",
                 conditions="- all:\n  - key: '{{ sbom.components[].licenses[].expression }}'\n    operator: AllIn\n"
                            "    value: [Apache-2.0, MIT]"), "verified", "verified attestation"),
    ("another key", "keyed", attestation(SLSA, OTHER_KEYS), "failed", "does not verify with the rule's public key"),
    ("bundle under the sha256 tag", "bundletag", attestation(SBOM), "verified", f"verified attestation {SBOM} (bundle sha256:"),
    ("bundle of another type", "bundletag", attestation(SLSA), "failed", f"verified attestations have type {SBOM}"),
    ("an untrusted signer", "mallory", attestation(SLSA), "failed", f"'{MALLORY.subject}' does not match"),
    ("an attestation of another image", "other-image", attestation(SLSA), "failed", "signature is for another image"),
    ("a statement changed after signing", "tampered", attestation(SLSA), "failed", "does not verify with the signing certificate"),
    ("keyless without a Rekor entry", "unlogged", attestation(SLSA), "failed", "no Rekor bundle annotation"),
    ("keyless without an SCT", "nosct", attestation(SLSA), "failed", "no embedded SCT"),
    ("over the payload limit", "huge", attestation(SLSA), "failed", "over the 1 MiB payload limit"),
    ("no attestation at all", "none", attestation(SLSA), "failed", "no attestation found"),
    ("no attestors: any keyless signer of the root", "legacy", attestation(SLSA, attestor=None), "verified", "verified attestation"),
    ("count 1 of two attestors", "keyed",
     f"- type: {SLSA}\n  attestors:\n  - count: 1\n    entries:\n    - " + _indent(OTHER_KEYS, 6).lstrip()
     + "    - " + _indent(KEYS, 6).lstrip(), "verified", "verified attestation"),
    ("both of two attestors", "keyed",
     f"- type: {SLSA}\n  attestors:\n  - entries:\n    - " + _indent(OTHER_KEYS, 6).lstrip() + "    - " + _indent(KEYS, 6).lstrip(),
     "failed", "verifiedCount: 1, requiredCount: 2"),
]


@pytest.mark.parametrize("image, attestations, outcome, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attestations_verify_as_kyverno_checks_them(world, image, attestations, outcome, words):
    result = verify(world, policy(attestations), image)
    assert result.outcome == outcome, result.message
    assert words in result.message


def test_a_verified_attestation_is_evidence_in_the_json(world):
    result = verify(world, policy(attestation(SLSA, conditions=BUILDER_OK)), "legacy")
    out = result.to_json()
    (att,) = out["attestations"]
    assert att["predicate_type"] == SLSA and att["format"] == "legacy"
    assert att["identity"] == {"issuer": ISSUER, "subject": ALICE.subject}
    assert att["predicate"] == PROVENANCE
    digest = world["images"]["legacy"].rsplit("@", 1)[1]
    assert att["subject"] == [{"digest": {"sha256": digest.split(":", 1)[1]}}]
    assert att["tlog"]["log_index"] >= 0
    assert out["signature"]["format"] == "legacy"


def test_attestations_are_not_left_unverified(world):
    loaded = load_policy(policy(attestation(SLSA)), "attest.yaml")
    requirements = loaded.policy.evaluate(world["images"]["legacy"]).requirements
    assert requirements.unsupported == []
    assert "not verified by pullguard" not in verify(world, policy(attestation(SLSA)), "legacy").message


def test_a_bundle_referrer_of_the_predicate_type(sigstore, tmp_path):
    lay = OCILayoutWriter(tmp_path / "layout")
    d = lay.image("ghcr.io/acme/sbom:v1", {"app": b"sbom"})
    cosign = lay.bundle_referrer(d, lay.size_of(d), sigstore.sign_bundle(d, identity=ALICE))  # a signature, not the SBOM
    sbom = lay.bundle_referrer(d, lay.size_of(d), sigstore.sign_bundle(d, identity=ALICE, statement=intoto_statement(d, SBOM, BOM)),
                               predicate_type=SBOM)
    lay.save()
    root = sigstore.write_trusted_root(tmp_path / "trusted_root.json")
    text = policy(attestation(SBOM, conditions="- all:\n  - key: '{{ specVersion }}'\n    operator: GreaterThanOrEquals\n"
                                             "    value: '1.4.0'"), "ghcr.io/acme/*")
    text += _mirror("ghcr.io", lay.root)
    loaded = load_policy(text, "attest.yaml")
    (result,) = asyncio.run(verify_images(loaded, [f"ghcr.io/acme/sbom@{d}"], VerifyOptions(trusted_root=str(root))))
    assert result.outcome == "failed", result.message  # '1.5' is not a semantic version: Kyverno's GreaterThan is false
    text = text.replace("value: '1.4.0'", "value: '1.4'")
    loaded = load_policy(text, "attest.yaml")
    (result,) = asyncio.run(verify_images(loaded, [f"ghcr.io/acme/sbom@{d}"], VerifyOptions(trusted_root=str(root))))
    assert result.outcome == "verified", result.message
    assert result.message == f"verified attestation {SBOM} (bundle-referrer {sbom})"
    assert cosign != sbom


def test_a_referrer_annotated_with_the_type_must_carry_it_in_its_statement(sigstore, tmp_path):
    lay = OCILayoutWriter(tmp_path / "layout")
    d = lay.image("ghcr.io/acme/sbom:v1", {"app": b"liar"})
    # the annotation says SBOM, the signed statement is SLSA provenance: the statement decides
    lay.bundle_referrer(d, lay.size_of(d), sigstore.sign_bundle(d, identity=ALICE, statement=intoto_statement(d, SLSA, PROVENANCE)),
                        predicate_type=SBOM)
    lay.save()
    root = sigstore.write_trusted_root(tmp_path / "trusted_root.json")
    loaded = load_policy(policy(attestation(SBOM), "ghcr.io/acme/*") + _mirror("ghcr.io", lay.root), "attest.yaml")
    (result,) = asyncio.run(verify_images(loaded, [f"ghcr.io/acme/sbom@{d}"], VerifyOptions(trusted_root=str(root))))
    assert result.outcome == "failed", result.message
    assert f"verified attestations have type {SLSA}" in result.message


# --- the real cosign attestation (sigstore/cosign pkg/cosign/testdata) --------------------------------

REAL_DIGEST = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
REAL_TYPE = "https://cosign.sigstore.dev/attestation/v1"


@pytest.fixture(scope="module")
def real_attestation(tmp_path_factory):
    folder = REAL_WORLD / "cosign-attestation"
    if not folder.is_dir():
        pytest.skip(f"real-world attestation not found at {folder} (set PULLGUARD_REAL_WORLD)")
    lay = OCILayoutWriter(tmp_path_factory.mktemp("real-att"))
    ref = lay.bundle_referrer(REAL_DIGEST, 0, (folder / "oci-attestation.sigstore.json").read_bytes(), predicate_type=REAL_TYPE)
    lay.save()
    return lay, ref, str(folder / "trusted_root_pgi.json")


def _real(real_attestation, attestations: str):
    lay, _ref, root = real_attestation
    text = policy(attestations, "registry.example/*")
    text += _mirror("registry.example", lay.root)
    loaded = load_policy(text, "real.yaml")
    assert loaded.errors == 0
    (result,) = asyncio.run(verify_images(loaded, [f"registry.example/repo@{REAL_DIGEST}"], VerifyOptions(trusted_root=root)))
    return result


REAL_ATTESTOR = "keyless: {issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com', rekor: {url: https://rekor.sigstore.dev}}"


@pytest.mark.parametrize("attestations, outcome, words", [
    (attestation(REAL_TYPE, REAL_ATTESTOR), "verified", f"verified attestation {REAL_TYPE} (bundle-referrer "),
    (attestation(REAL_TYPE, REAL_ATTESTOR, "- all:\n  - key: '{{ Data }}'\n    operator: Equals\n    value: '*foo*'"),
     "verified", "verified attestation"),
    (attestation(REAL_TYPE, REAL_ATTESTOR, "- all:\n  - key: '{{ parse_json(Data).foo }}'\n    operator: Equals\n    value: bar"),
     "verified", "verified attestation"),
    (attestation(SLSA, REAL_ATTESTOR), "failed", f"no verified attestation of type {SLSA}"),
    (attestation(REAL_TYPE, REAL_ATTESTOR, "- all:\n  - key: '{{ parse_json(Data).foo }}'\n    operator: Equals\n    value: baz"),
     "failed", "(the key is 'bar')"),
    (attestation(REAL_TYPE, "keyless: {issuer: 'https://github.com/login/oauth', subject: 'someone@else.com', "
                            "rekor: {url: https://rekor.sigstore.dev}}"), "failed", "does not match"),
], ids=["verifies", "wildcard condition", "parse_json condition", "another type", "a failing condition", "another signer"])
def test_the_real_cosign_attestation(real_attestation, attestations, outcome, words):
    result = _real(real_attestation, attestations)
    assert result.outcome == outcome, result.message
    assert words in result.message


def test_the_real_attestation_fails_against_another_root(real_attestation, world):
    lay, _ref, _root = real_attestation
    text = policy(attestation(REAL_TYPE, REAL_ATTESTOR), "registry.example/*")
    text += _mirror("registry.example", lay.root)
    options = VerifyOptions(trusted_root=world["root"])  # the private Sigstore's: neither its CA nor its logs
    (result,) = asyncio.run(verify_images(load_policy(text, "real.yaml"), [f"registry.example/repo@{REAL_DIGEST}"], options))
    assert result.outcome == "failed", result.message
    assert "not in the trusted root" in result.message


# --- the evidence in the faces -------------------------------------------------------------------


def test_the_detail_pane_shows_the_attestation_with_its_predicate_folded(world):
    from pullguard.tui.widgets.detail import PREDICATE_LINES, detail_text

    text = policy(attestation(SLSA))
    loaded = load_policy(text, "attest.yaml")
    image = world["images"]["legacy"]
    (result,) = asyncio.run(verify_images(loaded, [image], VerifyOptions(trusted_root=world["root"])))
    decision = loaded.policy.evaluate(image)
    folded = detail_text(image, decision, [], result.to_json(), fold=True).plain
    whole = detail_text(image, decision, [], result.to_json(), fold=False).plain
    assert f"type      {SLSA}" in folded and f"signer    {ALICE.subject} ({ISSUER})" in folded
    assert "subject   sha256:" + image.rsplit(":", 1)[1] in folded
    assert "more lines (e: unfold, c: copy)" in folded and "more lines" not in whole
    assert len(json.dumps(PROVENANCE, indent=2).splitlines()) > PREDICATE_LINES
    assert '"entryPoint": ".github/workflows/release.yml"' in whole


def test_a_policy_test_case_expects_an_attestation_outcome(world, tmp_path, capsys):
    from pullguard.tui.cli import main

    (tmp_path / "policy.yaml").write_text(policy(attestation(SLSA, conditions=ENTRY_POINT_BAD)))
    (tmp_path / "t.yaml").write_text(
        "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: policy.yaml\n"
        f"trustedRoot: {world['root']}\ninsecureRegistries: ['{world['host']}']\ncases:\n"
        f"  - image: {world['images']['legacy']}\n    verify: true\n    outcome: failed\n"
        "    message: 'image verification failed: no valid signature found: p/r#0: attestations[0].attestors[0]'\n"
        f"  - image: {world['images']['keyed']}\n    verify: true\n    outcome: verified\n"
    )
    code = main(["test", str(tmp_path / "t.yaml"), "--format", "json"])
    out, _err = capsys.readouterr()
    cases = json.loads(out)["cases"]
    # the keyed image's attestation is signed with a key, not by the keyless signer the policy trusts
    assert [c["passed"] for c in cases] == [True, False], out
    assert "the key is '.github/workflows/release.yml'" in cases[0]["actual"]["message"]
    assert code == 1


def test_more_attestation_layers_than_the_entry_limit_is_an_error_naming_it(sigstore, tmp_path):
    lay = OCILayoutWriter(tmp_path / "layout")
    d = lay.image("ghcr.io/acme/many:v1", {"app": b"many"})
    one = sigstore.attest_legacy(d, SLSA, PROVENANCE, key=KEY, tlog=False)  # small annotations: the manifest fits
    # 65 distinct envelopes: one more than the limit
    layers = [(one[0] + b" " * n, one[1]) for n in range(65)]
    lay.legacy_attestation("ghcr.io/acme/many", d, layers)
    lay.save()
    root = sigstore.write_trusted_root(tmp_path / "trusted_root.json")
    loaded = load_policy(policy(attestation(SLSA), "ghcr.io/acme/*") + _mirror("ghcr.io", lay.root), "attest.yaml")
    (result,) = asyncio.run(verify_images(loaded, [f"ghcr.io/acme/many@{d}"], VerifyOptions(trusted_root=str(root))))
    assert result.outcome == "error", result.message
    assert "65 attestation layers exceed the 64-entry per-image limit" in result.message
