"""`pullguard test` with `verify: true`: real signatures in an OCI layout, found through the test
file's `mirrors` (an `oci:` path relative to the test file) and checked against its `trustedRoot`."""

from __future__ import annotations

import json

import pytest

from devtools.oci_layout_writer import OCILayoutWriter
from devtools.private_sigstore import PrivateSigstore
from pullguard.tui.cli import main
from tests.support.policies import keyless_policy
from tests.support.signing import ALICE, MALLORY

POLICY = keyless_policy("ghcr.io/org/*", ALICE)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """project/{policy.yaml, trusted_root.json, layout/, tests/}: paths in the tests are relative."""
    root = tmp_path_factory.mktemp("project")
    sigstore = PrivateSigstore()
    sigstore.write_trusted_root(root / "trusted_root.json")
    layout = OCILayoutWriter(root / "layout")
    good = layout.image("ghcr.io/org/good:v1", {"app": b"good"})
    referrer = layout.bundle_referrer(good, layout.size_of(good), sigstore.sign_bundle(good, identity=ALICE))
    bad = layout.image("ghcr.io/org/bad:v1", {"app": b"bad"})
    layout.bundle_referrer(bad, layout.size_of(bad), sigstore.sign_bundle(bad, identity=MALLORY))
    (root / "policy.yaml").write_text(POLICY)
    (root / "tests").mkdir()
    return root, referrer


def run(capsys, project, cases: str):
    root, _ = project
    path = root / "tests" / "verify.yaml"
    path.write_text(
        "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../policy.yaml\n"
        "trustedRoot: ../trusted_root.json\nmirrors:\n  ghcr.io: oci:../layout\ncases:\n" + cases
    )
    code = main(["test", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out)


# (case, passes)
CASES = [
    ("  - {image: ghcr.io/org/good:v1, verify: true, action: verify, rule: 0, outcome: verified, message: verified via bundle referrer}\n",
     True),
    ("  - {image: ghcr.io/org/bad:v1, verify: true, outcome: failed, message: 'image verification failed: no valid signature found'}\n",
     True),
    ("  - {image: ghcr.io/org/missing:v1, verify: true, outcome: error}\n", True),
    ("  - {image: ghcr.io/org/bad:v1, verify: true, outcome: verified}\n", False),
    ("  - {image: ghcr.io/org/good:v1, verify: true, outcome: verified, message: verified via legacy}\n", False),
]


@pytest.mark.parametrize("case,passes", CASES, ids=[c.split(",")[0].split(": ")[1] + (" passes" if p else " fails") for c, p in CASES])
def test_verify_cases_against_an_oci_layout(capsys, project, case, passes):
    code, doc = run(capsys, project, case)
    (result,) = doc["cases"]
    assert result["passed"] is passes, result
    assert code == (0 if passes else 1)
    assert result["actual"]["outcome"] in ("verified", "failed", "error")


def test_verified_case_reports_the_verification_message(capsys, project):
    _, referrer = project
    code, doc = run(capsys, project, CASES[0][0])
    (result,) = doc["cases"]
    assert code == 0
    assert result["expected"] == {"action": "verify", "rule": 0, "outcome": "verified", "message": "verified via bundle referrer"}
    assert result["message"] == f"verified via bundle referrer with digest {referrer}"
    assert result["actual"]["outcome"] == "verified" and result["actual"]["rule_index"] == 0


def test_unusable_trusted_root_makes_the_file_invalid(capsys, project):
    root, _ = project
    (root / "not_a_root.json").write_text("{}")
    path = root / "tests" / "bad_root.yaml"
    path.write_text(
        "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../policy.yaml\n"
        "trustedRoot: ../not_a_root.json\nmirrors:\n  ghcr.io: oci:../layout\ncases:\n"
        "  - {image: ghcr.io/org/good:v1, verify: true, outcome: verified}\n"
        "  - {image: ghcr.io/org/good:v1, action: verify}\n"
    )
    code = main(["test", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{path}: error: verification could not run: " in err and "not_a_root.json" in err
    assert out.splitlines()[-1] == "1 passed, 1 failed"
