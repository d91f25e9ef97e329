"""`pullguard check` and `pullguard simulate`: exit codes, JSON shape, stdout/stderr discipline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.tui.cli import main

GOOD = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: ^https://github\\.com/siderolabs/
  - image: index.docker.io/library/*
    skip: true
  - image: quay.io/bad/*
    deny: true
"""
WARN = GOOD + "  - image: docker.io/*\n    deny: true\n"
BAD = GOOD + "  - image: registry.example.com/*\n"
BROKEN = GOOD + "  - image: [oops\n"


@pytest.fixture
def policy(tmp_path):
    def write(text: str, name: str = "p.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "text,code",
    # an empty or comment-only file is `no-policy`, as a machine config without the document is
    [(GOOD, 0), (WARN, 0), (BAD, 1), (BROKEN, 1), ("kind: ConfigMap\n", 1), ("", 1), ("# todo\n\n", 1)],
    ids=["good", "warnings-only", "talos-error", "yaml-syntax", "not-a-policy", "empty", "comment-only"],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_exit_codes(capsys, policy, text, code, fmt):
    got, out, err = run(capsys, "check", policy(text), "--format", fmt)
    assert got == code
    if fmt == "json":
        json.loads(out)
        assert err == ""


def test_check_json_shape(capsys, policy):
    path = policy(BAD + "  - image: docker.io/*\n    deny: true\n")
    code, out, _ = run(capsys, "check", path, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert set(doc) == {"policy", "dialect", "errors", "warnings", "diagnostics"}
    assert (doc["policy"], doc["dialect"], doc["errors"]) == (path, "talos", 1)
    assert doc["warnings"] == sum(1 for d in doc["diagnostics"] if d["severity"] == "warning")
    for d in doc["diagnostics"]:
        assert {"severity", "code", "message", "line", "column", "rule_index"} <= set(d)
        assert d["severity"] in ("error", "warning", "info")
    error = next(d for d in doc["diagnostics"] if d["severity"] == "error")
    assert error == {
        "severity": "error", "code": "talos-verifier-required",
        "message": "rule 3: at least one verifier must be configured",
        "line": 12, "column": 5, "rule_index": 3, "fix": error["fix"],
    }
    lines = [d["line"] for d in doc["diagnostics"]]
    assert lines == sorted(lines)


def test_check_text_is_compiler_style(capsys, policy):
    path = policy(BAD)
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert f"{path}:12:5: error: rule 3: at least one verifier must be configured [talos-verifier-required]" in out
    assert "fix: " in out and "   12 |   - image: registry.example.com/*" in out
    assert out.rstrip().endswith("refused: 1 error, 0 warnings, 1 note (talos, 4 rules)")
    assert "\x1b[" not in out  # not a terminal: no colour


def test_check_yaml_syntax_error_has_a_line(capsys, policy):
    code, out, _ = run(capsys, "check", policy(BROKEN), "--format", "json")
    (diag,) = [d for d in json.loads(out)["diagnostics"] if d["code"] == "yaml-syntax"]
    # libyaml notices the unclosed '[' at the end of the stream, on the line after it
    assert code == 1 and diag["line"] == 13 and diag["severity"] == "error"


@pytest.mark.parametrize("command", ["check", "simulate"])
def test_unreadable_policy_exits_2_with_one_line(capsys, tmp_path, command):
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    for target in (str(tmp_path / "missing.yaml"), str(tmp_path), str(binary)):
        code, out, err = run(capsys, command, target, *(["nginx"] if command == "simulate" else []))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("pullguard: error: cannot read policy")


# A policy or image list that is not UTF-8: `file:line:column: not UTF-8 text (byte 0x..)`, computed
# from the byte offset, in every command that reads one (not Python's codec message).
LATIN1 = GOOD.replace("  - image: quay.io/bad/*", "  # \u00e9quipe\n  - image: quay.io/bad/*").encode("latin-1")


@pytest.mark.parametrize(
    "command,extra,bad,where",
    [
        ("check", [], "policy", "10:5"),
        ("simulate", ["nginx"], "policy", "10:5"),
        ("verify", ["nginx"], "policy", "10:5"),
        ("diff", ["{good}"], "policy", "10:5"),  # OLD is the bad one
        ("simulate", ["--images", "{images}"], "images", "2:9"),
        ("verify", ["--images", "{images}"], "images", "2:9"),
        ("diff", ["{good}", "--images", "{images}"], "images", "2:9"),
    ],
)
def test_not_utf8_is_located_in_every_command(capsys, tmp_path, command, extra, bad, where):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(LATIN1)
    images = tmp_path / "images.txt"
    images.write_bytes(b"nginx\nghcr.io/\xe9quipe/app:v1\n")
    argv = [command, str(latin if bad == "policy" else good)]
    argv += [a.format(good=good, images=images) for a in extra]
    code, out, err = run(capsys, *argv)
    shown = latin if bad == "policy" else images
    assert code == 2 and out == ""
    assert err == f"pullguard: error: cannot read {bad} {shown}:{where}: not UTF-8 text (byte 0xe9)\n", err


def test_check_never_modifies_the_policy(capsys, policy):
    path = policy(BAD)
    before = Path(path).read_bytes(), os.stat(path).st_mtime_ns
    run(capsys, "check", path)
    run(capsys, "simulate", path, "nginx")
    assert (Path(path).read_bytes(), os.stat(path).st_mtime_ns) == before


SIMULATE_CASES = [
    ("ghcr.io/siderolabs/kubelet:v1.33.0", "ghcr.io/siderolabs/kubelet", "verify", 0,
     "verification required by matched rule (0000): keyless issuer https://token.actions.githubusercontent.com subjectRegex ^https://github\\.com/siderolabs/"),
    ("nginx:1.25", "index.docker.io/library/nginx", "skip", 1, "verification skipped by matched rule (0001)"),
    ("quay.io/bad/thing@sha256:" + "a" * 64, "quay.io/bad/thing", "deny", 2, "verification denied by matched rule (0002)"),
    ("registry.example.com:5000/app", "registry.example.com:5000/app", "allow", None, "no matched rule"),
]


def test_simulate_json_shape_and_messages(capsys, policy):
    path = policy(GOOD)
    code, out, err = run(capsys, "simulate", path, *[c[0] for c in SIMULATE_CASES], "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"policy", "dialect", "results"} and doc["dialect"] == "talos"
    for result, (image, subject, action, index, message) in zip(doc["results"], SIMULATE_CASES, strict=True):
        assert set(result) == {"image", "match_subject", "action", "rule_index", "rule_id", "pattern", "verifier", "message"}
        assert (result["image"], result["match_subject"], result["action"], result["rule_index"], result["message"]) == (
            image, subject, action, index, message)
        assert result["rule_id"] == (None if index is None else f"{index:04d}")
    assert doc["results"][0]["verifier"] == {
        "type": "keyless", "issuer": "https://token.actions.githubusercontent.com",
        "subject": None, "subject_regex": "^https://github\\.com/siderolabs/",
    }
    assert [r["verifier"] for r in doc["results"][1:]] == [None, None, None]


def test_simulate_invalid_reference(capsys, policy):
    code, out, _ = run(capsys, "simulate", policy(GOOD), "UPPER/case", "--format", "json")
    (result,) = json.loads(out)["results"]
    assert code == 0 and result["action"] is None and result["match_subject"] is None
    assert "UPPER/case" in result["message"]


def test_simulate_text_table(capsys, policy):
    code, out, _ = run(capsys, "simulate", policy(GOOD), "nginx", "quay.io/bad/x")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["IMAGE", "MATCH", "SUBJECT", "RULE", "ACTION", "MESSAGE"]
    assert lines[1].split()[:4] == ["nginx", "index.docker.io/library/nginx", "0001", "skip"]
    assert lines[-1] == "2 images: 1 skip, 1 deny"


@pytest.mark.parametrize(
    "text,argv",
    [(BAD, ["nginx"]), (BROKEN, ["nginx"]), ("kind: ConfigMap\n", ["nginx"]), (GOOD, [])],
    ids=["policy-errors", "yaml-syntax", "not-a-policy", "no-images"],
)
def test_simulate_refuses_with_exit_2(capsys, policy, text, argv):
    code, out, err = run(capsys, "simulate", policy(text), *argv, "--format", "json")
    assert code == 2 and out == ""
    assert err


def test_simulate_refused_policy_lists_errors_on_stderr(capsys, policy):
    path = policy(BAD)
    _, _, err = run(capsys, "simulate", path, "nginx")
    assert f"{path}:12:5: error: rule 3: at least one verifier must be configured" in err


def test_simulate_images_file_and_unreadable(capsys, policy, tmp_path):
    listing = tmp_path / "images.txt"
    listing.write_text("# fleet\nnginx:1.25\n\nquay.io/bad/x  # denied\n")
    code, out, _ = run(capsys, "simulate", policy(GOOD), "--images", str(listing), "--format", "json")
    assert code == 0
    assert [r["action"] for r in json.loads(out)["results"]] == ["skip", "deny"]
    code, out, err = run(capsys, "simulate", policy(GOOD), "--images", str(tmp_path / "nope.txt"))
    assert code == 2 and out == "" and err.startswith("pullguard: error: cannot read images")


def _pullguard(*argv, stdin="", env=None):
    environment = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())", *argv],
        input=stdin, capture_output=True, text=True, env=environment,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_simulate_images_from_stdin_real_process(policy):
    done = _pullguard("simulate", policy(GOOD), "--images", "-", "--format", "json", stdin="nginx\nghcr.io/siderolabs/x\n")
    assert done.returncode == 0, done.stderr
    assert [r["action"] for r in json.loads(done.stdout)["results"]] == ["skip", "verify"]


def test_usage_error_is_exit_2_real_process(policy):
    assert _pullguard("check").returncode == 2
    assert _pullguard("check", policy(GOOD), "--format", "yaml").returncode == 2
    assert _pullguard("simulate", policy(GOOD), "nginx", "--format", "xml").returncode == 2


SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PUBLIC_KEY_RULE = "  - image: 'ghcr.io/keyed/*'\n    publicKey:\n      certificate: |\n" + "".join(
    "        " + line + "\n" for line in (SAMPLES / "partner.pub").read_text().splitlines())


@pytest.mark.parametrize("text", [GOOD, WARN + PUBLIC_KEY_RULE + "  - image: '*'\n    keyless: {issuer: \"q\\u00e9\\\"\"}\n",
                                  (SAMPLES / "talos" / "policy.yaml").read_text()])
def test_json_results_are_what_json_dumps_makes_of_each_decision(text: str) -> None:
    # The JSON writer builds a Talos result's fields after match_subject as text (once per rule
    # hit); the document must be byte for byte what json.dumps makes of every decision.
    import io

    from pullguard.engine.policy import load_policy
    from pullguard.engine.simulate import simulate, simulate_json
    from pullguard.tui.commands.simulate import write_json_results

    loaded = load_policy(text, "p.yaml")
    images = ["ghcr.io/siderolabs/talos:v1", "nginx", "quay.io/bad/x@sha256:" + "a" * 64, "ghcr.io/keyed/app:1",
              "registry.example.com/\u00e9t\u00e9:1", "Bad:Ref", "ghcr.io/acme/app:v1", "other.io/x/y", "ttl.sh/app:1",
              "registry.acme.internal:5000/app:1", "quay.io/partner/app:1"]
    decisions = simulate(loaded, images)
    out = io.StringIO()
    write_json_results(simulate_json(loaded, []), decisions, stream=out)
    head = json.dumps({"policy": loaded.path, "dialect": loaded.dialect})[:-1]
    assert out.getvalue() == head + ', "results": [\n  ' + ",\n  ".join(json.dumps(d.to_json()) for d in decisions) + "\n]}\n"
    assert {d.action for d in decisions} >= {"verify", "skip", "deny", None}


MISSING_DIGEST = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: digests}
spec:
  validationFailureAction: Enforce
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ['ghcr.io/acme/*']
          mutateDigest: false
          attestors: [{entries: [{keyless: {issuer: https://i, subject: s, rekor: {url: https://r}}}]}]
        - imageReferences: ['ghcr.io/acme/skipped*']
          skipImageReferences: ['ghcr.io/acme/skipped-too*']
          mutateDigest: false
          attestors: [{entries: [{keyless: {issuer: https://i, subject: s, rekor: {url: https://r}}}]}]
"""


@pytest.mark.parametrize("text", [MISSING_DIGEST, (SAMPLES / "kyverno" / "cluster-policy.yaml").read_text(),
                                  (SAMPLES / "kyverno" / "image-validating-policy.yaml").read_text()],
                         ids=["missing digest", "cluster policy sample", "image validating policy sample"])
def test_kyverno_json_results_shared_by_images_alike_are_what_json_dumps_makes(text: str) -> None:
    # Images decided alike share one encoded tail (the outcome's rules and requirements); an
    # image whose message names it (a missing digest) must still get its own.
    import io

    from pullguard.engine.policy import load_policy
    from pullguard.engine.simulate import simulate, simulate_json
    from pullguard.tui.commands.simulate import write_json_results

    loaded = load_policy(text, "p.yaml")
    images = ["ghcr.io/acme/app:v1", "ghcr.io/acme/app:v2", "ghcr.io/acme/other:v1", "ghcr.io/acme/app@sha256:" + "a" * 64,
              "ghcr.io/acme/skipped-too:1", "ghcr.io/acme/skipped:1", "ghcr.io/acme/skipped-too:2", "nginx", "Bad:Ref",
              "ghcr.io/acme/builder:v1.0.0", "ghcr.io/acme/ledger:v1.2.0", "docker.io/library/busybox:1", "ghcr.io/acme/app:v1"]
    decisions = simulate(loaded, images)
    out = io.StringIO()
    write_json_results(simulate_json(loaded, []), decisions, stream=out)
    head = json.dumps({"policy": loaded.path, "dialect": loaded.dialect})[:-1]
    assert out.getvalue() == head + ', "results": [\n  ' + ",\n  ".join(json.dumps(d.to_json()) for d in decisions) + "\n]}\n"
    if text is MISSING_DIGEST:
        messages = [d.message for d in decisions[:3]]
        assert len(set(messages)) == 3 and all("missing digest for ghcr.io/acme/" in m for m in messages)
