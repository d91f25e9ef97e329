"""`pullguard test` runs Kyverno CLI test files (SPEC §1): the verifyImages cases of Kyverno's own
`test/cli/test/images/` (verify-signature, secure-images, digest, private-registry), rewritten to
point at the bundled samples' OCI layout and private Sigstore instead of ghcr.io, offline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pullguard.engine.policytest.kyvernotest import is_kyverno_test, load_kyverno_test
from pullguard.tui.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PARTNER_KEY = (SAMPLES / "partner.pub").read_text().strip()  # the samples' partner key (make_samples writes it)
API_DIGEST = "sha256:701388773f15581d88995a5438b03a92598fc392d43382834db1e307b4ba4401"


def _policy(name: str, rule: str, entry: str, kinds: str = "[Pod]", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: {name}
          annotations:
            pod-policies.kyverno.io/autogen-controllers: none
        spec:
          validationFailureAction: Enforce
          background: false
          rules:
            - name: {rule}
              match:
                any:
                  - resources:
                      kinds: {kinds}
        """) + textwrap.indent(extra, "      ") + "      verifyImages:\n" + textwrap.indent(textwrap.dedent(entry), "        ")


KEY_ENTRY = "- imageReferences: [\"quay.io/partner/*\"]\n  attestors:\n    - count: 1\n      entries:\n        - keys:\n" \
    "            publicKeys: |-\n" + textwrap.indent(PARTNER_KEY, "              ") + \
    "\n            rekor: {url: https://rekor.sigstore.dev, ignoreTlog: true}\n            ctlog: {ignoreSCT: true}\n"

POLICIES = "---\n".join([
    # test/cli/test/images/verify-signature: a public key, signed and unsigned Pods
    _policy("check-image", "verify-signature", KEY_ENTRY),
    # ... and a DataVolume whose image Kyverno finds through imageExtractors
    _policy("check-data-volume-image", "verify-signature",
            KEY_ENTRY.replace("- imageReferences", "- mutateDigest: false\n  imageReferences"), kinds="[DataVolume]",
            extra="imageExtractors:\n  DataVolume:\n    - path: /spec/source/registry/url\n"
                  "      jmesPath: \"trim_prefix(@, 'docker://')\"\n"),
    # test/cli/test/images/secure-images: required, no attestors
    _policy("secure-images", "enforce-signatures",
            "- imageReferences: ['ghcr.io/*']\n  mutateDigest: false\n  required: true\n  verifyDigest: false\n"),
    # test/cli/test/images/digest: verifyDigest without attestors, in Audit
    _policy("require-image-digest", "check-digest",
            "- imageReferences: ['ghcr.io/acme/api*']\n  mutateDigest: false\n  required: false\n  verifyDigest: true\n"
            "  failureAction: Audit\n"),
    # test/cli/test/images/private-registry: a Notary certificate
    _policy("check-notary", "verify-signature",
            "- type: Notary\n  imageReferences: ['quay.io/partner/agent*']\n  attestors:\n    - count: 1\n      entries:\n"
            "        - certificates:\n            cert: |-\n              -----BEGIN CERTIFICATE-----\n"
            "              MIIBszCCAVmgAwIBAgIUAQ==\n              -----END CERTIFICATE-----\n"),
])


def _pod(name: str, image: str, namespace: str | None = None) -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}{where}}}\nspec:\n  containers:\n    - {{name: c, image: \"{image}\"}}\n"


RESOURCES = "---\n".join([
    _pod("signed", "quay.io/partner/agent:v5.2.0"),
    _pod("unsigned", "quay.io/partner/exporter:v1.0.3"),  # the partner's signature with one byte changed
    "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: signed-registry-image-datavolume}\n"
    "spec:\n  source:\n    registry:\n      url: \"docker://quay.io/partner/agent:v5.2.0\"\n",
    _pod("tomcat", "ghcr.io/acme/cache:v1.1.0"),
    _pod("no-digest", "ghcr.io/acme/api:v1.4.0", namespace="test"),
    _pod("with-digest", f"ghcr.io/acme/api@{API_DIGEST}", namespace="test"),
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: agent}\nspec:\n  template:\n    spec:\n"
    "      initContainers: [{name: i, image: \"quay.io/partner/agent:v5.2.0\"}]\n"
    "      containers: [{name: c, image: \"quay.io/partner/exporter:v1.0.3\"}]\n",
])

# (policy, rule, kind, resource, what Kyverno's test says, what pullguard reports, why they differ)
TABLE = [
    ("check-image", "verify-signature", "Pod", "signed", "pass", "pass", None),
    ("check-image", "verify-signature", "Pod", "unsigned", "fail", "fail", None),
    ("check-image", "verify-signature", "Pod", "tomcat", "skip", "skip", None),  # not a partner image
    # autogen is off (the annotation), so the Pod rule does not see the Deployment
    ("check-image", "verify-signature", "Deployment", "agent", "skip", "skip", None),
    # pullguard does not run imageExtractors: the DataVolume holds no image it reads
    ("check-data-volume-image", "verify-signature", "DataVolume", "signed-registry-image-datavolume", "pass", "skip",
     "imageExtractors"),
    # `required: true` with nothing to verify: the image is never marked verified, so it fails
    ("secure-images", "enforce-signatures", "Pod", "tomcat", "fail", "fail", None),
    ("require-image-digest", "check-digest", "Pod", "test/no-digest", "fail", "fail", None),
    ("require-image-digest", "check-digest", "Pod", "test/with-digest", "pass", "pass", None),
    # Notary signatures are not verified by pullguard: an error, which no expectation matches
    ("check-notary", "verify-signature", "Pod", "signed", "pass", "error", "Notary"),
]


@pytest.fixture
def test_dir(tmp_path):
    (tmp_path / "policies.yaml").write_text(POLICIES)
    (tmp_path / "resources.yaml").write_text(RESOURCES)
    rows = "".join(f"  - {{policy: {p}, rule: {r}, kind: {k}, resources: [{res}], result: {want}}}\n"
                   for p, r, k, res, want, _, _ in TABLE)
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: images}\n"
        "policies: [policies.yaml]\nresources: [resources.yaml]\n"
        f"pullguard:\n  mirrors: {{ghcr.io: oci:{SAMPLES / 'registry'}, quay.io: oci:{SAMPLES / 'registry'}}}\n"
        f"  trustedRoot: {SAMPLES / 'trusted_root.json'}\n"
        f"results:\n{rows}")
    return tmp_path


def test_kyverno_cli_cases(test_dir, capsys):
    # Offline: hosts with a mirror in the `pullguard:` block are served by it alone (no request
    # leaves loopback, so a signature missing from the layout is `fail`, not a connection error).
    code = main(["test", str(test_dir), "-o", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # the rows where pullguard cannot do what Kyverno does fail, never pass
    cases = out["cases"]
    assert len(cases) == len(TABLE)
    for case, (policy, _, kind, resource, want, got, differs) in zip(cases, TABLE, strict=True):
        assert case["image"] == f"{kind}/{resource}" and case["expected"] == {"outcome": want}
        assert case["actual"]["outcome"] == got, (policy, resource, case["reason"])
        assert case["passed"] == (want == got)
        if got == "error":
            assert differs in case["message"]


def test_signatures_from_the_command_line(test_dir, capsys):
    """No `pullguard:` block: --mirror and --trusted-root given to pullguard test."""
    path = test_dir / "kyverno-test.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("pullguard:")] + text[text.index("results:"):])
    layout = str(SAMPLES / "registry")
    code = main(["test", str(path), "--mirror", f"quay.io=oci:{layout}", "--mirror", f"ghcr.io=oci:{layout}",
                 "--trusted-root", str(SAMPLES / "trusted_root.json"), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert code == 1
    assert [c["actual"]["outcome"] for c in cases] == [row[5] for row in TABLE]


@pytest.mark.parametrize(
    "row, message",
    [
        ("{policy: p, rule: r, resources: [x], result: maybe}", "'result' must be one of pass, fail, skip, found 'maybe'"),
        ("{rule: r, resources: [x], result: pass}", "'policy' is required"),
        ("{policy: p, rule: r, result: pass}", "'resources' must name at least one resource"),
        ("{policy: p, resources: [x], result: pass}", "'rule' is required"),  # only an ImageValidatingPolicy row has none
    ],
)
def test_an_invalid_result_row_is_a_diagnostic(tmp_path, row, message):
    (tmp_path / "p.yaml").write_text(POLICIES)
    (tmp_path / "r.yaml").write_text(RESOURCES)
    text = f"apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: [p.yaml]\nresources: [r.yaml]\nresults:\n  - {row}\n"
    assert is_kyverno_test(text)
    loaded = load_kyverno_test(text, tmp_path / "kyverno-test.yaml")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and message in errors[0].message and errors[0].line == 6


@pytest.mark.parametrize(
    "policies, where, found",
    [
        ("p.yaml", "tests", True),
        ("~/p.yaml", "home", False),  # kyverno test joins it to the test's folder (path.GetFullPath): no `~`
        ("~/p.yaml", "tests/~", True),
        ("~no-such-user-pullguard/p.yaml", "home", False),  # not found, never a traceback
    ],
)
def test_policy_paths_are_found_as_kyverno_finds_them(tmp_path, monkeypatch, policies, where, found):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / where).mkdir(parents=True, exist_ok=True)
    (tmp_path / where / "p.yaml").write_text(POLICIES)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "r.yaml").write_text(RESOURCES)
    text = (f"apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: ['{policies}']\nresources: [r.yaml]\n"
            "results:\n  - {policy: check-image, rule: verify-signature, resources: [x], result: pass}\n")
    loaded = load_kyverno_test(text, tmp_path / "tests" / "kyverno-test.yaml")
    errors = [(d.code, d.line) for d in loaded.diagnostics if d.severity == "error"]
    assert errors == ([] if found else [("test-file-not-found", 3)])
    assert loaded.policies == ([(tmp_path / where / "p.yaml").resolve()] if found else [])


def test_a_missing_resource_fails_the_row(test_dir, capsys):
    path = test_dir / "kyverno-test.yaml"
    path.write_text(path.read_text() + "  - {policy: check-image, rule: verify-signature, kind: Pod, resources: [ghost], result: pass}\n")
    main(["test", str(path), "-o", "json"])
    last = json.loads(capsys.readouterr().out)["cases"][-1]
    assert not last["passed"] and last["reason"].startswith("no resource Pod/ghost")


def test_image_validating_policy_rows_name_the_policy_alone(capsys):
    """The bundled ImageValidatingPolicy sample as a Kyverno CLI test (isImageValidatingPolicy: true)."""
    code = main(["test", str(SAMPLES / "tests" / "kyverno-cli-ivpol-test.yaml"), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert code == 0
    assert [(c["image"], c["actual"]["outcome"]) for c in cases] == [
        ("Pod/api", "pass"), ("Pod/shop/web", "pass"), ("Pod/billing", "fail"), ("Pod/agent", "pass"), ("Pod/nginx", "pass"),
        ("Pod/agent", "pass"),
    ]
