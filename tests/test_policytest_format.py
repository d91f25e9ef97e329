"""The PolicyTest file format: good files load, bad files give diagnostics at the right line."""

import textwrap

import pytest

from pullguard.engine.policytest.discover import discover
from pullguard.engine.policytest.format import TestCase, load_test_file


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "talos").mkdir()
    (tmp_path / "talos" / "policy.yaml").write_text("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: []\n")
    (tmp_path / "layout").mkdir()
    (tmp_path / "trusted_root.json").write_text("{}")
    (tmp_path / "tests").mkdir()
    return tmp_path


def load(folder, body):
    path = folder / "tests" / "t.yaml"
    text = textwrap.dedent(body).lstrip("\n")
    path.write_text(text)
    return load_test_file(text, path)


HEADER = """
apiVersion: pullguard.dev/v1alpha1
kind: PolicyTest
policy: ../talos/policy.yaml
"""


def test_issue_example_loads(folder):
    loaded = load(
        folder,
        HEADER
        + """
cases:
  - image: ghcr.io/siderolabs/kubelet:v1.36.0
    action: verify
    rule: 1
  - image: docker.io/library/busybox
    action: deny
""",
    )
    assert loaded.diagnostics == []
    assert loaded.policy_path == (folder / "talos" / "policy.yaml").resolve()
    assert loaded.cases == [
        TestCase("ghcr.io/siderolabs/kubelet:v1.36.0", 6, 5, action="verify", rule=1),
        TestCase("docker.io/library/busybox", 9, 5, action="deny"),
    ]


GOOD_CASES = [
    ("kyverno rule name", "  - {image: nginx, action: verify, rule: check-images/verify-sig}",
     dict(action="verify", rule="check-images/verify-sig")),
    ("talos rule id string", "  - {image: nginx, action: skip, rule: '0002'}", dict(action="skip", rule="0002")),
    ("message prefix", "  - {image: nginx, action: allow, message: no matched}", dict(action="allow", message="no matched")),
    ("verify case", "  - {image: nginx, verify: true, outcome: failed, message: 'image verification failed'}",
     dict(verify=True, outcome="failed", message="image verification failed")),
    ("verify with action too", "  - {image: nginx, verify: yes, action: verify, outcome: verified}",
     dict(verify=True, action="verify", outcome="verified")),
    ("named case", "  - {image: nginx, name: busybox is refused, action: deny}", dict(action="deny", name="busybox is refused")),
]


@pytest.mark.parametrize("name,case_line,fields", GOOD_CASES, ids=[c[0] for c in GOOD_CASES])
def test_good_cases(folder, name, case_line, fields):
    loaded = load(folder, HEADER + "cases:\n" + case_line + "\n")
    assert loaded.diagnostics == []
    (case,) = loaded.cases
    for key, value in fields.items():
        assert getattr(case, key) == value


def test_paths_resolve_relative_to_the_test_file(folder):
    loaded = load(
        folder,
        HEADER
        + """
trustedRoot: ../trusted_root.json
insecureRegistries: [registry.local:5000]
mirrors:
  ghcr.io: oci:../layout
  docker.io: [http://127.0.0.1:5000, "oci:../layout"]
cases:
  - {image: nginx, verify: true, outcome: verified}
""",
    )
    assert loaded.diagnostics == []
    layout = f"oci:{(folder / 'layout').resolve()}"
    assert loaded.mirrors == {"ghcr.io": [layout], "docker.io": ["http://127.0.0.1:5000", layout]}
    assert loaded.trusted_root == (folder / "trusted_root.json").resolve()
    assert loaded.insecure_registries == ["registry.local:5000"]


# (name, file text, code, line, column, words the message must contain)
BAD_FILES = [
    ("unknown top-level key", HEADER + "polcy: x\ncases:\n  - {image: a, action: allow}\n", "test-unknown-key", 4, 1,
     "unknown key 'polcy'"),
    ("unknown case key, suggestion", HEADER + "cases:\n  - image: a\n    actoin: deny\n", "test-unknown-key", 6, 5,
     "did you mean 'action'"),
    ("missing image", HEADER + "cases:\n  - image: a\n    action: deny\n  - action: deny\n", "test-missing-key", 7, 5,
     "case 2: 'image' must be specified"),
    ("empty image", HEADER + "cases:\n  - {image: '', action: deny}\n", "test-empty-value", 5, 13, "'image' is empty"),
    ("image not a string", HEADER + "cases:\n  - {image: [a], action: deny}\n", "test-wrong-type", 5, 13, "must be a string"),
    ("wrong action word", HEADER + "cases:\n  - image: a\n    action: denied\n", "test-wrong-value", 6, 13,
     "action 'denied' is not one of verify, skip, deny, allow; did you mean 'deny'"),
    ("missing action", HEADER + "cases:\n  - image: a\n    rule: 1\n", "test-missing-key", 5, 5, "expected 'action'"),
    ("wrong outcome word", HEADER + "cases:\n  - {image: a, verify: true, outcome: verify}\n", "test-wrong-value", 5, 39,
     "outcome 'verify' is not one of"),
    ("outcome without verify", HEADER + "cases:\n  - {image: a, action: verify, outcome: verified}\n", "test-outcome-without-verify", 5, 41,
     "only with 'verify: true'"),
    ("verify without outcome", HEADER + "cases:\n  - {image: a, verify: true}\n", "test-missing-key", 5, 5, "needs the expected 'outcome'"),
    ("verify not a boolean", HEADER + "cases:\n  - {image: a, verify: 'true', outcome: verified}\n", "test-wrong-type", 5, 24,
     "'verify' must be true or false"),
    ("negative rule", HEADER + "cases:\n  - {image: a, action: deny, rule: -1}\n", "test-wrong-value", 5, 36, "0 or more"),
    ("rule with allow", HEADER + "cases:\n  - {image: a, action: allow, rule: 0}\n", "test-rule-with-allow", 5, 37, "no rule matched"),
    ("duplicate key", HEADER + "cases:\n  - image: a\n    action: deny\n    action: skip\n", "test-duplicate-key", 7, 5,
     "'action' is given twice"),
    ("missing policy file",
     "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ../nope.yaml\ncases:\n  - {image: a, action: deny}\n",
     "test-policy-not-found", 3, 9, "policy file '../nope.yaml' not found"),
    ("no policy key", "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\ncases:\n  - {image: a, action: deny}\n",
     "test-missing-key", 1, 1, "'policy' must name the policy file"),
    ("wrong kind",
     "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTests\npolicy: ../talos/policy.yaml\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-header", 2, 7, "'kind' must be 'PolicyTest'"),
    ("wrong apiVersion", "apiVersion: v1\nkind: PolicyTest\npolicy: ../talos/policy.yaml\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-header", 1, 13, "'apiVersion' must be 'pullguard.dev/v1alpha1'"),
    ("no cases", HEADER, "test-missing-key", 1, 1, "'cases' must list at least one case"),
    ("empty cases", HEADER + "cases: []\n", "test-no-cases", 4, 8, "at least one case"),
    ("cases not a list", HEADER + "cases: {image: a}\n", "test-wrong-type", 4, 8, "'cases' must be a list"),
    ("case not a mapping", HEADER + "cases:\n  - nginx\n", "test-wrong-type", 5, 5, "expected a mapping"),
    ("bad mirror scheme", HEADER + "mirrors: {ghcr.io: ftp://x}\ncases:\n  - {image: a, action: deny}\n", "test-wrong-value", 4, 20,
     "must start with http://, https:// or oci:"),
    ("mirror with a password", HEADER + "mirrors: {ghcr.io: 'https://bob:Secr3tPW@127.0.0.1:5000'}\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-value", 4, 20, "credentials in the endpoint URL are not supported"),
    ("mirror not a URL", HEADER + "mirrors: {ghcr.io: 'https://[::1'}\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-value", 4, 20, "is not a valid URL"),
    ("mirror bad port", HEADER + "mirrors: {ghcr.io: 'http://127.0.0.1:99999'}\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-value", 4, 20, "is not a valid URL"),
    ("mirror with a query", HEADER + "mirrors: {ghcr.io: 'https://127.0.0.1:5000/?x=1'}\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-value", 4, 20, "must not have a query"),
    ("missing OCI layout", HEADER + "mirrors: {ghcr.io: 'oci:../missing'}\ncases:\n  - {image: a, action: deny}\n",
     "test-file-not-found", 4, 20, "OCI layout 'oci:../missing'"),
    ("missing trusted root", HEADER + "trustedRoot: ../root.json\ncases:\n  - {image: a, action: deny}\n", "test-file-not-found", 4, 14,
     "trustedRoot file '../root.json' not found"),
    ("insecureRegistries not a list", HEADER + "insecureRegistries: a:5000\ncases:\n  - {image: a, action: deny}\n",
     "test-wrong-type", 4, 21, "must be a list"),
    ("YAML syntax error", HEADER + "cases:\n  - image: [a\n", "yaml-syntax", None, None, "YAML syntax error"),
    ("not a mapping", "- a\n- b\n", "test-not-mapping", 1, 1, "expected a 'PolicyTest' mapping"),
    ("empty file", "", "test-empty", 1, 1, "empty file"),
    ("two documents", HEADER + "cases:\n  - {image: a, action: deny}\n---\n" + HEADER.lstrip() + "cases:\n  - {image: a, action: deny}\n",
     "test-multiple-documents", 7, 1, "one 'PolicyTest' document per file"),
]


NO_USER = "~no-such-user-pullguard"  # a `~name` of no user: Python's expanduser raises for it

HOME_PATHS = [
    # (what the test file says, the diagnostic code or None when it loads, line, column)
    ("policy: ~/talos/policy.yaml\ncases:\n  - {image: a, action: deny}\n", None, None, None),
    (f"policy: {NO_USER}/policy.yaml\ncases:\n  - {{image: a, action: deny}}\n", "test-policy-not-found", 3, 9),
    (f"policy: ../talos/policy.yaml\ntrustedRoot: {NO_USER}/root.json\ncases:\n  - {{image: a, action: deny}}\n",
     "test-file-not-found", 4, 14),
    (f"policy: ../talos/policy.yaml\nmirrors: {{ghcr.io: 'oci:{NO_USER}/layout'}}\ncases:\n  - {{image: a, action: deny}}\n",
     "test-file-not-found", 4, 20),
    ("policy: ../talos/policy.yaml\ntrustedRoot: ~/trusted_root.json\ncases:\n  - {image: a, action: deny}\n", None, None, None),
]


@pytest.mark.parametrize("body, code, line, column", HOME_PATHS)
def test_paths_expand_home_as_a_shell(folder, monkeypatch, body, code, line, column):
    """`~/` is the home folder; a `~name` of no user stays as written: not found, never a traceback."""
    monkeypatch.setenv("HOME", str(folder))
    loaded = load(folder, "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\n" + body)
    errors = [(d.code, d.line, d.column) for d in loaded.diagnostics if d.severity == "error"]
    assert errors == ([] if code is None else [(code, line, column)])
    if code is None:
        assert loaded.policy_path == folder / "talos" / "policy.yaml"


@pytest.mark.parametrize("name,text,code,line,column,words", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_files(folder, name, text, code, line, column, words):
    loaded = load(folder, text)
    matching = [d for d in loaded.diagnostics if d.code == code]
    assert matching, [d.message for d in loaded.diagnostics]
    diag = matching[0]
    assert diag.severity == "error"
    assert words in diag.message
    assert "Secr3tPW" not in diag.message  # a mirror's password is never shown
    if line is not None:
        assert (diag.line, diag.column) == (line, column)
    else:
        assert diag.line is not None  # a syntax error still points somewhere


def test_bad_case_is_dropped_good_cases_kept(folder):
    loaded = load(folder, HEADER + "cases:\n  - {image: a, action: deny}\n  - {image: b, action: nope}\n  - {image: c, action: skip}\n")
    assert [c.image for c in loaded.cases] == ["a", "c"]
    assert len(loaded.diagnostics) == 1


def test_discover_takes_named_files_and_test_files_in_folders(folder):
    good = folder / "tests" / "a.yaml"
    good.write_text(HEADER + "cases:\n  - {image: a, action: deny}\n")
    nested = folder / "tests" / "deeper"
    nested.mkdir()
    (nested / "b.yml").write_text(HEADER + "cases:\n  - {image: a, action: deny}\n")
    (folder / "tests" / "notes.yaml").write_text("kind: Something\n")
    (folder / "tests" / "readme.txt").write_text("kind: PolicyTest\n")
    found, problems = discover([str(folder / "tests"), str(folder / "talos" / "policy.yaml"), str(folder / "missing.yaml")])
    assert found == [good, nested / "b.yml", folder / "talos" / "policy.yaml"]
    assert problems == [f"{folder / 'missing.yaml'}: no such file or folder"]


def test_discover_reports_a_folder_without_tests(folder):
    found, problems = discover([str(folder / "talos")])
    assert found == [] and problems == [f"{folder / 'talos'}: no PolicyTest files found in this folder"]
