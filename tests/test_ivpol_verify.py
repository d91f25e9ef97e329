"""ImageValidatingPolicy verification end to end: real signatures in a real docker-registry on
loopback, and the bundled samples offline (the converted policy reaches the ClusterPolicy's
verdicts)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devtools.private_sigstore import public_pem
from tests.support.samples import PROMISED

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def verify(*args: str, cwd: Path | None = None) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "verify", *args, "--format", "json"],
                          capture_output=True, text=True, cwd=cwd)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_converted_sample_reaches_the_cluster_policys_verdicts_offline(tmp_path: Path) -> None:
    outcomes = {}
    for name in ("cluster-policy.yaml", "image-validating-policy.yaml"):
        code, report = verify(str(SAMPLES / "kyverno" / name), "--images", str(SAMPLES / "images" / "images.txt"),
                              "--trusted-root", str(SAMPLES / "trusted_root.json"), cwd=tmp_path)
        assert code == 1
        outcomes[name] = {r["image"]: r["outcome"] for r in report["results"]}
    # skipImageReferences skips what the converted policy does not take: both admit without a check
    admitted_alike = {image: ("allowed" if outcome == "skipped" else outcome)
                      for image, outcome in outcomes["cluster-policy.yaml"].items()}
    assert outcomes["image-validating-policy.yaml"] == admitted_alike
    assert admitted_alike == {image: ("allowed" if kyverno == "skipped" else kyverno) for image, _, kyverno in PROMISED}


@pytest.mark.parametrize(("image", "written", "changed", "seen"), [
    ("ghcr.io/acme/builder:v1.0.0", "container@v1", "container@v2", "'https://github.com/slsa-framework/slsa-github-generator/container@v1'"),
    ("ghcr.io/acme/builder:v1.0.0", "slsa-github-generator/*", "other-generator/*", "generator_container_slsa3.yml"),
    ("ghcr.io/acme/ledger:v1.2.0", "value: CycloneDX", "value: SPDX", "'CycloneDX'"),
])
def test_a_sample_attestation_condition_that_does_not_hold_fails_both_policies(
        tmp_path: Path, image: str, written: str, changed: str, seen: str) -> None:
    """The conditions really run over the predicate in both dialects: change the expected value and
    the image fails, in the ClusterPolicy and in its conversion."""
    import shutil

    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples, ignore=shutil.ignore_patterns("__pycache__"))
    cluster = samples / "kyverno" / "cluster-policy.yaml"
    text = cluster.read_text()
    assert text.count(written) == 1
    cluster.write_text(text.replace(written, changed))
    converted = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "convert", str(cluster), "--to", "kyverno-ivpol"],
                               capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr
    (samples / "kyverno" / "image-validating-policy.yaml").write_text(converted.stdout)
    for name, words in (("cluster-policy.yaml", "fails its conditions: attestations[0].conditions[0].all"),
                        ("image-validating-policy.yaml", "fails its conditions")):
        code, report = verify(str(samples / "kyverno" / name), image,
                              "--trusted-root", str(samples / "trusted_root.json"), cwd=tmp_path)
        (result,) = report["results"]
        assert (code, result["outcome"]) == (1, "failed"), result
        assert words in result["message"], result["message"]
        if name == "cluster-policy.yaml":
            assert seen in result["message"]


def _policy(host: str, key, validations: str, extra_attestors: str = "") -> str:
    pem = textwrap.indent(public_pem(key).strip(), " " * 12)
    return f"""apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: loopback
spec:
  validationConfigurations:
    mutateDigest: true
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods]
  matchImageReferences:
    - glob: "{host}/app/*"
  attestors:
    - name: ours
      cosign:
        key:
          data: |
{pem}
        ctlog:
          insecureIgnoreTlog: true
{extra_attestors}  validations:
{validations}"""


ONE = ("    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.ours]) > 0)\n"
       "      messageExpression: \"'not signed by us: ' + images.containers[0]\"\n")
TWO = ("    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.ours, attestors.theirs]) >= 2)\n"
       "      message: needs both signatures\n")
ANY = ("    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.ours, attestors.theirs]) >= 1)\n"
       "      message: needs one signature\n")


def _theirs(key) -> str:
    pem = textwrap.indent(public_pem(key).strip(), " " * 12)
    return f"""    - name: theirs
      cosign:
        key:
          data: |
{pem}
        ctlog:
          insecureIgnoreTlog: true
"""


@pytest.mark.parametrize(("validations", "with_theirs", "expected"), [
    (ONE, False, {"app/signed": "verified", "app/wrongkey": "failed", "app/unsigned": "failed"}),
    (TWO, True, {"app/signed": "failed", "app/wrongkey": "failed", "app/unsigned": "failed"}),
    (ANY, True, {"app/signed": "verified", "app/wrongkey": "verified", "app/unsigned": "failed"}),
])
def test_signatures_in_a_real_registry(signed_world, tmp_path: Path, validations: str, with_theirs: bool,
                                       expected: dict[str, str]) -> None:
    from tests.support.signing import fixed_key

    host = signed_world["host"]
    other = fixed_key(0x5EED_0002)  # the key app/wrongkey is signed with (tests.support.worlds)
    policy = tmp_path / "ivpol.yaml"
    policy.write_text(_policy(host, signed_world["key"], validations, _theirs(other) if with_theirs else ""))
    images = [f"{host}/{name}:v1" for name in expected] + ["quay.io/elsewhere/app:v1"]
    code, report = verify(str(policy), *images)
    outcomes = {r["image"].split("/", 1)[1].rsplit(":", 1)[0]: r for r in report["results"]}
    assert {name: outcomes[name]["outcome"] for name in expected} == expected
    assert outcomes["elsewhere/app"]["outcome"] == "allowed"  # not taken: no request made for it
    signed = outcomes["app/signed"]
    if signed["outcome"] == "verified":
        assert signed["signature"]["format"] == "legacy" and signed["digest"] == signed_world["digests"]["app/signed"]
        assert signed["message"].startswith("verified via legacy signature")
    if validations is ONE:
        assert outcomes["app/unsigned"]["message"] == f"loopback: not signed by us: {host}/app/unsigned:v1"
    assert code == 1


def test_an_attestor_pullguard_does_not_verify_is_an_error(signed_world, tmp_path: Path) -> None:
    host = signed_world["host"]
    text = _policy(host, signed_world["key"], ONE).replace(
        "        ctlog:\n", "        source: {PullSecrets: [{name: r}]}\n        ctlog:\n")
    policy = tmp_path / "ivpol.yaml"
    policy.write_text(text)
    code, report = verify(str(policy), f"{host}/app/signed:v1")
    result = report["results"][0]
    assert (code, result["outcome"]) == (1, "error")
    assert "not verified by pullguard: attestor 'ours': cosign.source.PullSecrets" in result["message"]


def test_policy_test_files_run_on_the_third_dialect(tmp_path: Path) -> None:
    """`pullguard test` on a PolicyTest for the converted sample: decisions by policy name, verdicts offline."""
    test = tmp_path / "ivpol-test.yaml"
    test.write_text(f"""apiVersion: pullguard.dev/v1alpha1
kind: PolicyTest
policy: {SAMPLES / "kyverno" / "image-validating-policy.yaml"}
trustedRoot: {SAMPLES / "trusted_root.json"}
cases:
  - {{image: ghcr.io/acme/api:v1.4.0, action: verify, rule: verify-image-signatures-acme-release-builds}}
  - {{image: "registry.acme.internal:5000/tools/debug:2026.01", action: allow}}
  - {{image: ghcr.io/acme/web:v2.1.0, verify: true, outcome: verified, message: "verified via bundle referrer"}}
  - {{image: quay.io/partner/exporter:v1.0.3, verify: true, outcome: failed}}
""")
    proc = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "test", str(test)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed, 0 failed" in proc.stdout


SBOM_TYPE = "https://cyclonedx.org/bom"
BOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "openssl"}]}


@pytest.fixture(scope="module")
def attested(registry, sigstore):  # type: ignore[no-untyped-def]
    """att/sbom: a key-signed CycloneDX SBOM (legacy .att, not logged); att/spdx: another format;
    att/none: no attestation; all signed with the same key."""
    from tests.support.push import Pusher
    from tests.support.signing import fixed_key

    key = fixed_key(0x1F00_0001)
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    digests = {}
    for name, predicate in (("sbom", BOM), ("spdx", {"bomFormat": "SPDX"}), ("none", None)):
        digest = push.push_image(f"ivatt/{name}", "v1", content=f"ivpol attested {name}".encode())
        push.attach_legacy(f"ivatt/{name}", digest, [sigstore.sign_legacy(digest, key=key, tlog=False)])
        if predicate is not None:
            push.attach_att(f"ivatt/{name}", digest, [sigstore.attest_legacy(digest, SBOM_TYPE, predicate, key=key, tlog=False)])
        digests[name] = digest
    push.close()
    return {"host": host, "key": key, "digests": digests}


SBOM_CHECKS = (
    "    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom, [attestors.ours]) > 0)\n"
    "      message: no signed SBOM\n"
    "    - expression: images.containers.all(i, extractPayload(i, attestations.sbom).bomFormat == 'CycloneDX')\n"
    "      message: not a CycloneDX SBOM\n")


def test_attestations_in_a_real_registry(attested, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = attested["host"]
    text = _policy(host, attested["key"], SBOM_CHECKS).replace("    - glob: \"" + host + "/app/*\"", f"    - glob: \"{host}/ivatt/*\"")
    text = text.replace("  validations:\n", f"  attestations:\n    - name: sbom\n      intoto: {{type: {SBOM_TYPE}}}\n  validations:\n")
    policy = tmp_path / "ivpol.yaml"
    policy.write_text(text)
    code, report = verify(str(policy), *(f"{host}/ivatt/{name}:v1" for name in ("sbom", "spdx", "none")))
    outcomes = {r["image"].rsplit("/", 1)[1]: (r["outcome"], r["message"]) for r in report["results"]}
    assert outcomes["sbom:v1"][0] == "verified", outcomes
    assert outcomes["spdx:v1"] == ("failed", "loopback: not a CycloneDX SBOM")
    assert outcomes["none:v1"] == ("failed", "loopback: no signed SBOM")
    assert code == 1


def test_a_converted_cluster_policy_with_attestations_reaches_the_same_verdicts(attested, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = attested["host"]
    pem = textwrap.indent(public_pem(attested["key"]).strip(), " " * 26)
    cluster = tmp_path / "cluster-policy.yaml"
    cluster.write_text(f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: sboms
spec:
  rules:
    - name: cyclonedx
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["{host}/ivatt/*"]
          mutateDigest: false
          verifyDigest: false
          attestations:
            - type: {SBOM_TYPE}
              attestors:
                - entries:
                    - keys:
                        publicKeys: |-
{pem}
                        rekor:
                          ignoreTlog: true
""")
    converted = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "convert", str(cluster), "--to", "kyverno-ivpol"],
                               capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr
    assert "verifyAttestationSignatures(image, attestations.attestation0, [attestors.key0]) >= 1" in converted.stdout
    ivpol = tmp_path / "ivpol.yaml"
    ivpol.write_text(converted.stdout)
    images = [f"{host}/ivatt/{name}:v1" for name in ("sbom", "spdx", "none")]
    outcomes = {}
    for policy in (cluster, ivpol):
        _code, report = verify(str(policy), *images)
        outcomes[policy.name] = [r["outcome"] for r in report["results"]]
    assert outcomes["cluster-policy.yaml"] == outcomes["ivpol.yaml"] == ["verified", "verified", "failed"]


def test_the_image_validating_policy_shows_the_attestations_it_verified(tmp_path: Path) -> None:
    """The evidence of an ImageValidatingPolicy names the attestation as the ClusterPolicy's does:
    its type, format, signer, the statement's subject (the image digest) and the predicate."""
    from pullguard.tui.widgets.detail import detail_text

    code, report = verify(str(SAMPLES / "kyverno" / "image-validating-policy.yaml"), "ghcr.io/acme/builder:v1.0.0",
                          "ghcr.io/acme/ledger:v1.2.0", "--trusted-root", str(SAMPLES / "trusted_root.json"), cwd=tmp_path)
    assert code == 0
    seen = {}
    for result in report["results"]:
        (attestation,) = result["attestations"]
        digest = result["digest"].removeprefix("sha256:")
        assert {"sha256": digest} in [s["digest"] for s in attestation["subject"]]
        assert attestation["identity"]["subject"].startswith("https://github.com/acme/")
        seen[result["image"]] = (attestation["predicate_type"], attestation["format"], attestation["predicate"])
    assert seen["ghcr.io/acme/builder:v1.0.0"][:2] == ("https://slsa.dev/provenance/v0.2", "legacy")
    assert seen["ghcr.io/acme/builder:v1.0.0"][2]["buildType"].endswith("/container@v1")
    assert seen["ghcr.io/acme/ledger:v1.2.0"][:2] == ("https://cyclonedx.org/bom", "bundle-referrer")
    assert seen["ghcr.io/acme/ledger:v1.2.0"][2]["bomFormat"] == "CycloneDX"
    from pullguard.engine.policy import load_policy

    loaded = load_policy((SAMPLES / "kyverno" / "image-validating-policy.yaml").read_text(), "ivpol.yaml")
    result = report["results"][0]
    shown = detail_text(result["image"], loaded.policy.evaluate(result["image"]), [], result, fold=False).plain
    assert "https://slsa.dev/provenance/v0.2" in shown and "/None" not in shown
    assert "verify-image-signatures-builder-provenance entry 0: verify" in shown
