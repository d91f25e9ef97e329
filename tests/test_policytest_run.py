"""`pullguard test` end to end: real policy files, the runner's output, exit codes and JSON."""

import json
import re
import textwrap

import pytest

from devtools.oci_layout_writer import OCILayoutWriter
from pullguard.tui.cli import main

POLICY = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "index.docker.io/library/busybox"
    deny: true
  - image: "ghcr.io/siderolabs/*"
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subject: https://github.com/siderolabs/talos/.github/workflows/release.yaml@refs/heads/main
  - image: "registry.k8s.io/*"
    skip: true
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "talos" / "policy.yaml", POLICY)
    return tmp_path


def test_file(project, cases, name="t.yaml", extra="", policy="../talos/policy.yaml"):
    return write(
        project / "tests" / name,
        f"apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: {policy}\n" + extra + "cases:\n" + cases,
    )


test_file.__test__ = False

PASSING = """\
  - image: ghcr.io/siderolabs/kubelet:v1.36.0
    action: verify
    rule: 1
  - image: docker.io/library/busybox
    action: deny
  - {image: busybox:1.36, action: deny, rule: "0000"}
  - {image: registry.k8s.io/pause:3.10, action: skip, rule: 2, message: verification skipped}
  - {image: quay.io/org/app:v1, action: allow, message: no matched rule}
"""


def run(capsys, *args):
    code = main(["test", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_all_pass(project, capsys):
    path = test_file(project, PASSING)
    code, out, err = run(capsys, path)
    assert (code, out, err) == (0, "5 passed, 0 failed\n", "")


# (case text, the words the failure line must show)
FAILING = [
    ("  - {image: quay.io/org/app:v1, action: deny}\n", "expected action deny, got allow (no rule)"),
    ("  - {image: ghcr.io/siderolabs/kubelet:v1, action: verify, rule: 2}\n", "expected rule 2, got rule 1 (0001)"),
    ("  - {image: busybox, action: skip}\n", "expected action skip, got deny (rule 0 (0000))"),
    ("  - {image: registry.k8s.io/pause:3.10, action: skip, message: no matched}\n",
     "expected message starting 'no matched', got 'verification skipped by matched rule (0002)'"),
    ("  - {image: 'UPPER/Case:x', action: allow}\n", "image reference is invalid"),
]


@pytest.mark.parametrize("case,words", FAILING, ids=[w for _, w in FAILING])
def test_a_failing_case_is_one_line_with_expected_and_actual(project, capsys, case, words):
    path = test_file(project, PASSING + case)
    code, out, err = run(capsys, path)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "5 passed, 1 failed"
    (fail,) = lines[:-1]
    assert fail.startswith(f"FAIL {path}:13 ")
    assert words in fail


def test_several_files_and_a_folder(project, capsys):
    test_file(project, PASSING, name="a.yaml")
    test_file(project, "  - {image: busybox, action: allow}\n", name="sub/b.yaml", policy="../../talos/policy.yaml")
    write(project / "tests" / "other.yaml", "kind: ConfigMap\n")
    single = test_file(project, "  - {image: quay.io/org/x, action: allow}\n", name="../elsewhere/single.yaml")
    code, out, _ = run(capsys, project / "tests", single)
    assert code == 1
    assert out.splitlines()[-1] == "6 passed, 1 failed"
    assert "sub/b.yaml:5 busybox" in out


# (test file text or None for a missing file, stderr must contain)
INVALID = [
    ("apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../nope.yaml\ncases:\n  - {image: a, action: deny}\n",
     "t.yaml:3:9: error: policy file '../nope.yaml' not found"),
    ("apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../talos/policy.yaml\ncases:\n  - {image: a, acton: deny}\n",
     "t.yaml:5:16: error: case 1: unknown key 'acton'; did you mean 'action'?"),
    ("apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../talos/policy.yaml\ncases:\n  - image: [\n",
     "t.yaml:6:1: error: YAML syntax error"),
]


@pytest.mark.parametrize("text,words", INVALID, ids=["missing policy", "unknown key", "syntax"])
def test_invalid_test_file_exits_2_with_located_diagnostics(project, capsys, text, words):
    path = write(project / "tests" / "t.yaml", text)
    code, out, err = run(capsys, path)
    assert code == 2
    assert words in err
    assert out == "0 passed, 0 failed\n"


# A test file or its policy that is not UTF-8: located like any other diagnostic, never Python's
# "'utf-8' codec can't decode byte 0xd7 in position 1".
@pytest.mark.parametrize(
    "which,data,words",
    [
        ("test", b"apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\n# \xd7\n",
         "tests/t.yaml:3:3: error: cannot read test file: not UTF-8 text (byte 0xd7) [test-unreadable]"),
        ("test", b"\xd7", "tests/t.yaml:1:1: error: cannot read test file: not UTF-8 text (byte 0xd7) [test-unreadable]"),
        ("policy", POLICY.encode() + b"  - image: ghcr.io/\xd7*\n    deny: true\n",
         f"talos/policy.yaml:{POLICY.count(chr(10)) + 1}:20: error: cannot read policy: not UTF-8 text (byte 0xd7) "
         "[policy-unreadable]"),
    ],
    ids=["test-file", "test-file-first-byte", "policy"],
)
def test_not_utf8_is_located(project, capsys, which, data, words):
    path = test_file(project, PASSING)
    (path if which == "test" else project / "talos" / "policy.yaml").write_bytes(data)
    code, out, err = run(capsys, path)
    assert code == 2
    assert words in err, err
    assert "codec" not in err and "position" not in err


def test_missing_path_exits_2(project, capsys):
    code, _, err = run(capsys, project / "nothing.yaml")
    assert code == 2 and "nothing.yaml: no such file or folder" in err


def test_policy_with_errors_exits_2_pointing_into_the_policy(project, capsys):
    write(project / "talos" / "policy.yaml", POLICY + "  - image: x\n    skip: true\n    deny: true\n")
    code, _, err = run(capsys, test_file(project, PASSING))
    assert code == 2
    # The located diagnostic is the Talos loader's: somewhere in the offending rule (lines 12-14).
    assert re.search(r"^talos/policy\.yaml:1[234]:\d+: error: rule 3: skip and deny cannot both be true \[[a-z-]+\]$", err, re.M), err


def test_invalid_file_does_not_stop_the_others(project, capsys):
    test_file(project, PASSING, name="good.yaml")
    write(project / "tests" / "bad.yaml", "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\ncases: []\n")
    code, out, err = run(capsys, project / "tests")
    assert code == 2
    assert out.splitlines()[-1] == "5 passed, 0 failed"
    assert "bad.yaml:1:1: error: 'policy' must name the policy file" in err


def test_json_shape(project, capsys):
    path = test_file(project, PASSING + "  - {image: quay.io/org/app:v1, action: deny}\n")
    code, out, err = run(capsys, path, "--format", "json")
    assert code == 1 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"files", "cases", "passed", "failed"}
    assert (doc["passed"], doc["failed"]) == (5, 1)
    (file_entry,) = doc["files"]
    assert file_entry["file"] == str(path)
    assert file_entry["policy"] == "talos/policy.yaml" and file_entry["dialect"] == "talos"
    assert (file_entry["passed"], file_entry["failed"], file_entry["diagnostics"]) == (5, 1, [])
    first, last = doc["cases"][0], doc["cases"][-1]
    assert set(first) >= {"file", "line", "image", "expected", "actual", "passed", "message"}
    assert first["line"] == 5 and first["image"] == "ghcr.io/siderolabs/kubelet:v1.36.0"
    assert first["expected"] == {"action": "verify", "rule": 1}
    assert first["actual"]["action"] == "verify" and first["actual"]["rule_index"] == 1
    assert first["passed"] is True and first["reason"] is None
    assert last["passed"] is False and last["expected"] == {"action": "deny"}
    assert last["actual"]["action"] == "allow" and last["message"] == "no matched rule"
    assert "expected action deny" in last["reason"]


def test_json_on_invalid_file_carries_diagnostics(project, capsys):
    path = write(project / "tests" / "t.yaml",
                 "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../nope.yaml\ncases:\n  - {image: a, action: dny}\n")
    code, out, _ = run(capsys, path, "--format", "json")
    assert code == 2
    diags = json.loads(out)["files"][0]["diagnostics"]
    assert [(d["code"], d["line"], d["column"], d["file"]) for d in diags] == [
        ("test-policy-not-found", 3, 9, str(path)),
        ("test-wrong-value", 5, 24, str(path)),
    ]


# verify: true cases that need no signature: the verification engine reports skip/deny/allow
# itself, and a registry that is not there is an error.
VERIFY_CASES = [
    ("  - {image: registry.k8s.io/pause:3.10, verify: true, outcome: skipped, message: verification skipped}\n", 0),
    ("  - {image: busybox, verify: true, outcome: denied}\n", 0),
    ("  - {image: quay.io/org/app:v1, verify: true, outcome: allowed, message: no matched rule}\n", 0),
    ("  - {image: busybox, verify: true, outcome: allowed}\n", 1),
    ("  - {image: ghcr.io/siderolabs/kubelet:v1, verify: true, action: verify, outcome: error}\n", 0),
]


@pytest.mark.parametrize("case,code", VERIFY_CASES, ids=["skipped", "denied", "allowed", "wrong outcome", "missing image is an error"])
def test_verify_cases(project, capsys, case, code):
    OCILayoutWriter(project / "layout")  # an empty layout: nothing in it is signed
    extra = "mirrors:\n  ghcr.io: oci:../layout\n"
    got, out, err = run(capsys, test_file(project, case, extra=extra), "--format", "json")
    doc = json.loads(out)
    assert got == code, doc["cases"]
    assert doc["cases"][0]["actual"]["outcome"] is not None


KYVERNO = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  validationFailureAction: Enforce
  rules:
    - name: verify-org
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/org/*"]
          skipImageReferences: ["ghcr.io/org/tool*"]
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main
                    rekor: {url: https://rekor.sigstore.dev}
"""

# (case, passes)
KYVERNO_CASES = [
    ("  - {image: ghcr.io/org/app:v1, action: verify, rule: check-images/verify-org}\n", True),
    ("  - {image: ghcr.io/org/app:v1, action: verify, rule: check-images/verify-org#0}\n", True),
    ("  - {image: ghcr.io/org/app:v1, action: verify, rule: 0}\n", True),
    ("  - {image: ghcr.io/org/tool:v1, action: skip, rule: check-images/verify-org}\n", True),
    ("  - {image: nginx, action: allow}\n", True),
    ("  - {image: ghcr.io/org/app:v1, action: verify, rule: check-images/other}\n", False),
    ("  - {image: ghcr.io/org/tool:v1, action: verify}\n", False),
]


@pytest.mark.parametrize("case,passes", KYVERNO_CASES, ids=[c.strip() for c, _ in KYVERNO_CASES])
def test_kyverno_policy_cases(project, capsys, case, passes):
    write(project / "kyverno" / "policy.yaml", KYVERNO)
    code, out, err = run(capsys, test_file(project, case, policy="../kyverno/policy.yaml"))
    assert err == ""
    assert (code, out.splitlines()[-1]) == ((0, "1 passed, 0 failed") if passes else (1, "0 passed, 1 failed"))
    if not passes:
        assert "check-images/verify-org" in out  # the failure names the rule that did apply


def test_a_missing_test_file_is_exit_2_naming_it_and_claims_no_result(project, capsys):
    missing = project / "tests" / "missing.yaml"
    code, out, err = run(capsys, missing)
    assert code == 2
    assert str(missing) in err
    assert out == ""  # no "0 passed, 0 failed": nothing ran
