"""Acceptance: pullguard against /work/shared/SPEC.md, statement by statement, as users' scripts see it.

Each table row is one SPEC statement checked through the `pullguard` command line: the installed
console script in a subprocess where the process boundary matters (stdout holds JSON and nothing
else, progress on stderr, `--images -`), `pullguard.tui.cli.main` in-process elsewhere (fast). Verification
runs only against the bundled OCI layout (policy-file mirrors with skipFallback, or a `--mirror` whose
layout holds everything asked for) and a closed loopback port. Rows where the product disagrees with
the SPEC are strict xfails naming the difference.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine import samples as sample_paths
from pullguard.tui import cli
from tests.support.samples import promised_summary

# Belt and braces: proxies at a closed loopback port for anything that honours them (the registry
# client itself ignores the environment, trust_env=False; the tests never name a real host).
NO_NETWORK_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost,::1",
}

SAMPLE_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    for key, value in NO_NETWORK_ENV.items():
        monkeypatch.setenv(key, value)


def _pullguard_exe() -> list[str]:
    exe = shutil.which("pullguard")
    if exe is None:  # pragma: no cover - the package is installed for the tests
        pytest.skip("the pullguard console script is not installed (pip install -e .)")
    return [exe]


def proc(*argv: str, stdin: str | None = None, cwd: str | Path | None = None, env: dict | None = None):
    """The installed console script in a subprocess: (exit code, stdout, stderr)."""
    full_env = {**os.environ, **NO_NETWORK_ENV, **(env or {})}
    done = subprocess.run(
        _pullguard_exe() + list(argv), input=stdin, capture_output=True, text=True,
        cwd=cwd, env=full_env, timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def run(capsys, monkeypatch, *argv: str, stdin: str | None = None):
    """`pullguard.tui.cli.main` in-process: (exit code, stdout, stderr); argparse exits become codes."""
    capsys.readouterr()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def no_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" not in text


# --- fixtures: policies and the samples ---------------------------------------------------------

OK_TALOS = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ttl.sh/*
    deny: true
  - image: registry.acme.internal:5000/*
    skip: true
  - image: "*"
    deny: true
"""

WARN_TALOS = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/org/app:v1
    deny: true
"""

ERR_TALOS = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/org/*
"""

OTHER_TALOS = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ttl.sh/*
    skip: true
"""


@pytest.fixture
def files(tmp_path):
    """Named inputs for the command tables: {name: path}."""
    paths = {}
    for name, text in {"ok": OK_TALOS, "warn": WARN_TALOS, "err": ERR_TALOS, "other": OTHER_TALOS}.items():
        p = tmp_path / f"{name}.yaml"
        p.write_text(text)
        paths[name] = str(p)
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    paths["binary"] = str(tmp_path / "binary.yaml")
    (tmp_path / "adir").mkdir()
    paths["dir"] = str(tmp_path / "adir")
    paths["missing"] = str(tmp_path / "missing.yaml")
    (tmp_path / "images.txt").write_text("ttl.sh/demo-image:1\n# a comment\nregistry.acme.internal:5000/a/b:1\n")
    paths["images"] = str(tmp_path / "images.txt")
    passing = tmp_path / "pass.test.yaml"
    passing.write_text(
        "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ok.yaml\n"
        "cases:\n  - {image: ttl.sh/demo-image:1, action: deny, rule: 0}\n"
    )
    paths["test_pass"] = str(passing)
    failing = tmp_path / "fail.test.yaml"
    failing.write_text(
        "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: ok.yaml\n"
        "cases:\n  - {image: ttl.sh/demo-image:1, action: allow}\n"
    )
    paths["test_fail"] = str(failing)
    return paths


@pytest.fixture(scope="session")
def samples_copy(tmp_path_factory) -> Path:
    """The installed samples copied elsewhere: they must work from any directory."""
    dest = tmp_path_factory.mktemp("samples") / "samples"
    shutil.copytree(sample_paths.sample_dir(), dest)
    return dest


def _policy_with_sample_mirrors(samples: Path, body: str) -> str:
    """A policy of one's own over the sample images, served by the bundled layout only."""
    layout = samples / "registry"
    mirrors = "".join(
        f"---\napiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: {host}\n"
        f"endpoints:\n  - url: oci:{layout}\nskipFallback: true\n"
        for host in ("ghcr.io", "quay.io")
    )
    return body + mirrors


def _sample_partner_pem(samples: Path) -> str:
    text = (samples / "talos" / "policy.yaml").read_text()
    block = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", text, re.S).group(0)
    return "\n".join(line.strip() for line in block.splitlines())


def _fingerprint(pem: str) -> str:
    """sha256:<hex of DER SubjectPublicKeyInfo>, computed independently of pullguard."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="session")
def sample_verify(samples_copy):
    """One real `pullguard verify --format json` of the whole sample list, from another directory,
    with the file's bytes and mtime before and after."""
    policy = samples_copy / "talos" / "policy.yaml"
    os.utime(policy, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = (policy.read_bytes(), policy.stat().st_mtime_ns)
    code, out, err = proc(
        "verify", str(policy), "--images", str(samples_copy / "images" / "images.txt"),
        "--trusted-root", str(samples_copy / "trusted_root.json"), "--format", "json",
        cwd=samples_copy.parent,
    )
    after = (policy.read_bytes(), policy.stat().st_mtime_ns)
    return {"code": code, "out": out, "err": err, "before": before, "after": after}


@pytest.fixture(scope="session")
def sample_results(sample_verify):
    return {r["image"]: r for r in json.loads(sample_verify["out"])["results"]}


# --- §1 commands: exit codes ----------------------------------------------------------------------

EXIT_CODES = [
    # (argv with {placeholders}, stdin, exit code, SPEC statement)
    ("check {ok}", None, 0, "check: no errors"),
    ("check {warn}", None, 0, "check: warnings allowed"),
    ("check {err}", None, 1, "check: errors"),
    ("check {err} --format json", None, 1, "check json: errors"),
    ("check {missing}", None, 2, "check: unreadable (missing)"),
    ("check {dir}", None, 2, "check: unreadable (directory)"),
    ("check {binary}", None, 2, "check: unreadable (not text)"),
    ("check", None, 2, "check: usage (no POLICY)"),
    ("check {ok} --format xml", None, 2, "check: usage (bad --format)"),
    ("simulate {ok} nginx", None, 0, "simulate: ok"),
    ("simulate {ok} --images {images}", None, 0, "simulate: --images FILE"),
    ("simulate {ok} --images -", "ttl.sh/abc-def:1\n", 0, "simulate: --images - from stdin"),
    ("simulate {warn} nginx", None, 0, "simulate: warnings do not refuse"),
    ("simulate {err} nginx", None, 2, "simulate: policy has errors"),
    ("simulate {missing} nginx", None, 2, "simulate: unreadable policy"),
    ("simulate {ok} --images {missing}", None, 2, "simulate: unreadable image list"),
    ("simulate {ok} nginx --format yaml", None, 2, "simulate: usage (bad --format)"),
    ("simulate", None, 2, "simulate: usage (no POLICY)"),
    ("verify {ok} registry.acme.internal:5000/a/b:1", None, 0, "verify: skipped is admitted"),
    ("verify {other} registry.k8s.io/pause:3.10", None, 0, "verify: allowed is admitted"),
    ("verify {ok} ttl.sh/abc-def:1", None, 1, "verify: denied"),
    ("verify {ok} --images -", "ttl.sh/abc-def:1\n", 1, "verify: --images - from stdin"),
    ("verify {err} nginx", None, 2, "verify: policy has errors"),
    ("verify {missing} nginx", None, 2, "verify: unreadable policy"),
    ("verify {dir} nginx", None, 2, "verify: unreadable policy (directory)"),
    ("verify {binary} nginx", None, 2, "verify: unreadable policy (not text)"),
    ("verify {ok} nginx --concurrency 0", None, 2, "verify: usage (--concurrency 0)"),
    ("verify {ok} nginx --timeout abc", None, 2, "verify: usage (--timeout)"),
    ("verify {ok} nginx --mirror ghcr.io", None, 2, "verify: usage (--mirror without =)"),
    ("verify {ok} nginx --mirror ghcr.io=ftp://x", None, 2, "verify: usage (--mirror scheme)"),
    ("test {test_pass}", None, 0, "test: all pass"),
    ("test {test_fail}", None, 1, "test: a case fails"),
    ("test {missing}", None, 2, "test: unreadable"),
    ("test {binary}", None, 2, "test: unreadable (not text)"),
    ("diff {ok} {ok} ttl.sh/abc-def:1", None, 0, "diff: no change"),
    ("diff {ok} {other} ttl.sh/abc-def:1", None, 1, "diff: changes"),
    ("diff {ok} {other} --images -", "ttl.sh/abc-def:1\n", 1, "diff: --images - from stdin"),
    ("diff {ok}", None, 2, "diff: usage (no NEW)"),
    ("diff {ok} {missing} nginx", None, 2, "diff: unreadable"),
    ("diff {ok} {err} nginx", None, 2, "diff: policy has errors"),
]


@pytest.mark.parametrize("argv, stdin, code, statement", EXIT_CODES, ids=[r[3] for r in EXIT_CODES])
def test_exit_codes(capsys, monkeypatch, files, argv, stdin, code, statement):
    args = [part.format(**files) for part in argv.split()]
    got, out, err = run(capsys, monkeypatch, *args, stdin=stdin)
    assert got == code, f"{statement}: exit {got}, stdout={out!r}, stderr={err!r}"
    assert no_traceback(out + err)
    if code == 2:  # usage and unreadable input: told on stderr, in one place
        assert err.strip(), f"{statement}: exit 2 with nothing on stderr"


REFUSED = [("simulate", "{err} nginx"), ("verify", "{err} nginx"), ("diff", "{ok} {err} nginx")]


@pytest.mark.parametrize("command, rest", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_policy_diagnostics_on_stderr(capsys, monkeypatch, files, command, rest):
    """§1: a policy with errors is refused (exit 2, diagnostics on stderr), stdout stays empty."""
    args = [command] + [part.format(**files) for part in rest.split()] + ["--format", "json"]
    code, out, err = run(capsys, monkeypatch, *args)
    assert code == 2
    assert out == ""
    assert "rule 0: at least one verifier must be configured" in err
    assert f"{files['err']}:4:" in err  # file:line: of the offending rule


JSON_COMMANDS = [
    ("check", "check {ok} --format json", None),
    ("check-errors", "check {err} --format json", None),
    ("simulate", "simulate {ok} nginx ttl.sh/abc-def:1 --format json", None),
    ("simulate-stdin", "simulate {ok} --images - --format json", "ttl.sh/abc-def:1\nnginx\n"),
    ("verify", "verify {ok} ttl.sh/abc-def:1 registry.acme.internal:5000/a/b:1 --format json", None),
    ("test", "test {test_fail} --format json", None),
    ("diff", "diff {ok} {other} ttl.sh/abc-def:1 --format json", None),
]


@pytest.mark.parametrize("name, argv, stdin", JSON_COMMANDS, ids=[r[0] for r in JSON_COMMANDS])
def test_json_mode_stdout_is_one_json_document(files, name, argv, stdin):
    """§1: JSON goes to stdout, and nothing else does in JSON mode; the policy is never modified."""
    args = [part.format(**files) for part in argv.split()]
    policy = Path(args[1])
    os.utime(policy, ns=(1_500_000_000_000_000_000,) * 2)
    before = (policy.read_bytes(), policy.stat().st_mtime_ns)
    code, out, err = proc(*args, stdin=stdin)
    assert code in (0, 1), err
    json.loads(out)  # the whole of stdout, nothing before or after
    assert no_traceback(err)
    assert (policy.read_bytes(), policy.stat().st_mtime_ns) == before


def test_images_from_stdin_real_process(files):
    """§1: `--images -` reads standard input (a real pipe, kubectl-style JSON)."""
    pods = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "ttl.sh/abc-def:1"}]}}]})
    code, out, err = proc("simulate", files["ok"], "--images", "-", "--format", "json", stdin=pods)
    assert code == 0, err
    assert [r["image"] for r in json.loads(out)["results"]] == ["ttl.sh/abc-def:1"]


def test_verify_progress_goes_to_stderr_and_json_to_stdout(sample_verify):
    """§1: a long verify run reports progress/logs on stderr; stdout is exactly the JSON."""
    assert sample_verify["code"] == 1, sample_verify["err"]
    json.loads(sample_verify["out"])
    assert "pullguard:" in sample_verify["err"]  # the run's log line went to stderr
    assert no_traceback(sample_verify["err"])


def test_verify_never_modifies_the_policy(sample_verify):
    """§1: a policy file is never modified by verify (bytes and mtime)."""
    assert sample_verify["before"] == sample_verify["after"]


@pytest.mark.parametrize("command", ["check", "simulate"])
def test_check_and_simulate_never_modify_the_policy(capsys, monkeypatch, files, command):
    policy = Path(files["warn"])
    os.utime(policy, ns=(1_400_000_000_000_000_000,) * 2)
    before = (policy.read_bytes(), policy.stat().st_mtime_ns)
    args = [command, str(policy)] + (["nginx"] if command == "simulate" else [])
    run(capsys, monkeypatch, *args)
    assert (policy.read_bytes(), policy.stat().st_mtime_ns) == before


# --- §2 JSON output: exact keys -------------------------------------------------------------------

CHECK_KEYS = ["policy", "dialect", "errors", "warnings", "diagnostics"]
DIAGNOSTIC_KEYS = {"severity", "code", "message", "line", "column", "rule_index"}
# `fix` carries §5's "suggested fix where one exists"; the only key beyond §2's list.
DIAGNOSTIC_EXTRA = {"fix"}
SIMULATE_TOP = ["policy", "dialect", "results"]
RESULT_KEYS = ["image", "match_subject", "action", "rule_index", "rule_id", "pattern", "verifier", "message"]
VERIFY_EXTRA = {"digest", "outcome", "signature", "errors"}
SUMMARY_KEYS = ["verified", "failed", "skipped", "denied", "allowed", "error"]
SIGNATURE_KEYS = {"format", "artifact_digest", "identity", "key_fingerprint", "tlog"}
KYVERNO_RULE_KEYS = {"policy", "rule", "entry", "action"}


def test_check_json_keys(capsys, monkeypatch, files):
    code, out, _ = run(capsys, monkeypatch, "check", files["err"], "--format", "json")
    doc = json.loads(out)
    assert list(doc) == CHECK_KEYS
    assert doc["policy"] == files["err"] and doc["dialect"] == "talos"
    assert doc["errors"] == sum(d["severity"] == "error" for d in doc["diagnostics"]) >= 1
    assert doc["warnings"] == sum(d["severity"] == "warning" for d in doc["diagnostics"])
    for diag in doc["diagnostics"]:
        assert DIAGNOSTIC_KEYS <= set(diag) <= DIAGNOSTIC_KEYS | DIAGNOSTIC_EXTRA, diag
        assert diag["severity"] in ("error", "warning", "info")
        assert isinstance(diag["line"], int) and diag["line"] >= 1  # 1-based
        assert isinstance(diag["column"], int) and diag["column"] >= 1
    first = [d for d in doc["diagnostics"] if d["severity"] == "error"][0]
    assert (first["line"], first["column"], first["rule_index"]) == (4, 5, 0)


def test_simulate_json_keys_and_verifier_shapes(capsys, monkeypatch, samples_copy):
    policy = samples_copy / "talos" / "policy.yaml"
    images = ["ghcr.io/acme/api:v1", "quay.io/partner/agent:v1", "ttl.sh/abc-def:1", "nginx"]
    code, out, _ = run(capsys, monkeypatch, "simulate", str(policy), *images, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == SIMULATE_TOP and doc["dialect"] == "talos"
    results = {r["image"]: r for r in doc["results"]}
    for r in results.values():
        assert list(r) == RESULT_KEYS, r
    keyless = results["ghcr.io/acme/api:v1"]["verifier"]
    assert list(keyless) == ["type", "issuer", "subject", "subject_regex"]
    assert keyless["type"] == "keyless" and keyless["subject"] is None and keyless["subject_regex"]
    public = results["quay.io/partner/agent:v1"]["verifier"]
    assert public == {"type": "public_key", "key_fingerprint": _fingerprint(_sample_partner_pem(samples_copy))}
    assert results["nginx"]["verifier"] is None and results["nginx"]["rule_index"] is None


def test_verify_json_keys(sample_verify):
    doc = json.loads(sample_verify["out"])
    assert list(doc) == ["policy", "dialect", "results", "summary"]
    assert list(doc["summary"]) == SUMMARY_KEYS
    assert sum(doc["summary"].values()) == len(doc["results"])
    for r in doc["results"]:
        assert set(r) == set(RESULT_KEYS) | VERIFY_EXTRA, r
        assert r["outcome"] in SUMMARY_KEYS
        assert r["digest"] is None or SAMPLE_DIGEST_RE.match(r["digest"])
        assert isinstance(r["errors"], list) and all(isinstance(e, str) for e in r["errors"])
        sig = r["signature"]
        if sig is None:
            continue
        assert set(sig) == SIGNATURE_KEYS
        assert sig["format"] in ("legacy", "bundle", "bundle-referrer")
        assert sig["artifact_digest"] == r["digest"]
        assert sig["identity"] is None or set(sig["identity"]) == {"issuer", "subject"}
        assert sig["key_fingerprint"] is None or SAMPLE_DIGEST_RE.match(sig["key_fingerprint"])
        if sig["tlog"] is not None:
            assert set(sig["tlog"]) == {"log_index", "integrated_time"}
            assert isinstance(sig["tlog"]["log_index"], int)
            assert TIME_RE.match(sig["tlog"]["integrated_time"])


def test_verify_evidence_key_fingerprint_is_der_spki_sha256(sample_results, samples_copy):
    sig = sample_results["quay.io/partner/agent:v5.2.0"]["signature"]
    assert sig["key_fingerprint"] == _fingerprint(_sample_partner_pem(samples_copy))
    assert sig["identity"] is None and sig["tlog"] is None  # public key: IgnoreTlog


def test_verify_evidence_keyless(sample_results):
    sig = sample_results["ghcr.io/acme/api:v1.4.0"]["signature"]
    assert sig["format"] == "legacy" and sig["key_fingerprint"] is None
    assert sig["identity"] == {
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "https://github.com/acme/api/.github/workflows/release.yaml@refs/tags/v1.4.0",
    }
    assert sample_results["ghcr.io/acme/web:v2.1.0"]["signature"]["format"] == "bundle-referrer"
    assert sample_results["ghcr.io/acme/worker:v0.9.2"]["signature"]["format"] == "bundle"


# --- §3 Talos -------------------------------------------------------------------------------------

VALID_FIRST = "  - image: zz.example.com/org/*\n    deny: true\n"

TALOS_DIAGNOSTICS = [
    # (rule 1 YAML, severity, exact message, line of the diagnostic within the file)
    ("  - skip: true\n", "error", "rule 1: imagePattern must be specified"),
    ("  - image: ''\n    deny: true\n", "error", "rule 1: imagePattern must be specified"),
    ("  - image: a.io/x/*\n    skip: true\n    deny: true\n", "error", "rule 1: skip and deny cannot both be true"),
    ("  - image: a.io/x/*\n    deny: true\n    keyless: {issuer: https://i, subject: s}\n", "error",
     "rule 1: verifiers cannot be configured if skip or deny is true"),
    ("  - image: a.io/x/*\n", "error", "rule 1: at least one verifier must be configured"),
    ("  - image: a.io/x/*\n    keyless:\n", "error", "rule 1: at least one verifier must be configured"),
    ("  - image: a.io/x/*\n    keyless: {issuer: https://i, subject: s}\n    publicKey: {certificate: x}\n", "error",
     "rule 1: only one of keyless or publicKey verifier can be configured"),
    ("  - image: a.io/x/*\n    keyless: {subject: s}\n", "error", "rule 1: verifier OIDC issuer must be specified"),
    ("  - image: a.io/x/*\n    keyless: {issuer: https://i}\n", "error",
     "rule 1: verifier subject or subjectRegex must be specified"),
    ("  - image: a.io/x/*\n    keyless: {}\n", "error", "rule 1: verifier OIDC issuer must be specified"),
    ("  - image: a.io/x/*\n    publicKey: {}\n", "error", "rule 1: verifier certificates must be specified"),
    ("  - image: a.io/x@sha256:abc\n    deny: true\n", "warning",
     "rule 1: imagePattern contains '@' but matching only applies to the image registry and repository, not the tag or digest"),
    ("  - image: a.io/x:v1\n    deny: true\n", "warning",
     "rule 1: imagePattern contains ':' but matching only applies to the image registry and repository, not the tag or digest"),
    ("  - image: nginx\n    deny: true\n", "warning",
     "rule 1: imagePattern does not contain a '/', image references like 'nginx' are matched as 'docker.io/nginx' (normalized)"),
]

TALOS_NOT_WARNED = [
    # (pattern, message fragment that must not appear): Talos's own conditions
    ("localhost:5000/*", "imagePattern contains ':'"),  # ':' before the first '/' is a port
    ("*", "does not contain a '/'"),
    ("ghcr.io/org/*", "imagePattern contains"),
]


def _talos(rules: str) -> str:
    return "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n" + rules


@pytest.mark.parametrize("rule, severity, message", TALOS_DIAGNOSTICS, ids=[r[2][8:60] for r in TALOS_DIAGNOSTICS])
def test_talos_messages_word_for_word(capsys, monkeypatch, tmp_path, rule, severity, message):
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos(VALID_FIRST + rule))
    code, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
    doc = json.loads(out)
    found = [d for d in doc["diagnostics"] if d["message"] == message]
    assert found, [d["message"] for d in doc["diagnostics"]]
    assert found[0]["severity"] == severity and found[0]["rule_index"] == 1
    assert 6 <= found[0]["line"] <= 5 + rule.count("\n")  # inside rule 1 (lines 6..)
    assert code == (1 if severity == "error" else 0)


@pytest.mark.parametrize("pattern, fragment", TALOS_NOT_WARNED)
def test_talos_warnings_not_given_where_talos_gives_none(capsys, monkeypatch, tmp_path, pattern, fragment):
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos(f"  - image: '{pattern}'\n    deny: true\n"))
    _, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
    assert not [d for d in json.loads(out)["diagnostics"] if fragment in d["message"]]


def test_talos_unknown_rule_key_is_an_error(capsys, monkeypatch, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos("  - image: a.io/x/*\n    deny: true\n    keyles: {}\n"))
    code, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
    errors = [d for d in json.loads(out)["diagnostics"] if d["severity"] == "error"]
    assert code == 1 and errors and errors[0]["line"] == 6 and "keyles" in errors[0]["message"]


MATCH_SUBJECTS = [
    ("nginx", "index.docker.io/library/nginx"),
    ("docker.io/nginx:latest", "index.docker.io/library/nginx"),
    ("myuser/app", "index.docker.io/myuser/app"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b"),
    ("docker.io/library/nginx@sha256:" + "a" * 64, "index.docker.io/library/nginx"),
    ("ghcr.io/org/app:v1@sha256:" + "b" * 64, "ghcr.io/org/app"),
    ("index.docker.io/library/nginx:1", "index.docker.io/library/nginx"),
    ("registry.example.com:8443/team/app:1", "registry.example.com:8443/team/app"),
]


def test_match_subject_normalization(capsys, monkeypatch, files):
    images = [image for image, _ in MATCH_SUBJECTS]
    code, out, _ = run(capsys, monkeypatch, "simulate", files["other"], *images, "--format", "json")
    got = {r["image"]: r["match_subject"] for r in json.loads(out)["results"]}
    assert got == dict(MATCH_SUBJECTS)


GO_GLOB = [
    # (pattern, image, matches)
    ("ghcr.io/siderolabs/talos*", "ghcr.io/siderolabs/talosctl:v1.13.0", True),
    ("docker.io/*", "nginx", False),
    ("docker.io/*", "docker.io/library/nginx", False),
    ("index.docker.io/*", "nginx", True),
    ("index.docker.io/library/nginx", "nginx:1.25", True),  # no '*': equality with the subject
    ("ghcr.io/org/app", "ghcr.io/org/app-two", False),
    ("ghcr.io/*", "ghcr.io/a/b/c:1", True),  # '*' crosses '/'
    ("ghcr.io/**", "ghcr.io/a/b:1", True),  # '**' is '*'
    ("ghcr.io/*/app", "ghcr.io/org/team/app:1", True),
    ("ghcr.io/*/app", "ghcr.io/app", False),
    ("*/org/*/app", "ghcr.io/org/x/app", True),
    ("*app*org*", "ghcr.io/org/app", False),  # middle pieces in order
    ("ghcr.io/org/ap?", "ghcr.io/org/app", False),  # no '?'
    ("ghcr.io/org/[a]pp", "ghcr.io/org/app", False),  # no classes
    ("GHCR.io/*", "ghcr.io/org/app", False),  # case-sensitive
    ("*", "registry.k8s.io/pause:3.10", True),
    ("*.example.com/*", "attacker.io/x.example.com/app", True),
    ("localhost:5000/*", "localhost:5000/a/b:t", True),
]


@pytest.mark.parametrize("pattern, image, matches", GO_GLOB, ids=[f"{p} ~ {i}" for p, i, _ in GO_GLOB])
def test_go_glob_semantics(capsys, monkeypatch, tmp_path, pattern, image, matches):
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos(f"  - image: '{pattern}'\n    deny: true\n"))
    code, out, err = run(capsys, monkeypatch, "simulate", str(policy), image, "--format", "json")
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert result["action"] == ("deny" if matches else "allow"), result


OUTCOME_MESSAGES = [
    # (image, action, rule_index, rule_id, message): the sample-free three-rule policy
    ("quay.io/other:1", "allow", None, None, "no matched rule"),
    ("b.io/x/y:1", "skip", 2, "0002", "verification skipped by matched rule (0002)"),
    ("c.io/x/y:1", "deny", 2, "0002", "verification denied by matched rule (0002)"),
]


@pytest.mark.parametrize("image, action, index, rule_id, message", OUTCOME_MESSAGES, ids=[r[1] for r in OUTCOME_MESSAGES])
def test_talos_outcome_messages_first_match(capsys, monkeypatch, tmp_path, image, action, index, rule_id, message):
    policy = tmp_path / "p.yaml"
    third = "b.io/*\n    skip: true" if action == "skip" else "c.io/*\n    deny: true"
    policy.write_text(_talos(
        "  - image: a.io/*\n    deny: true\n"
        "  - image: z.io/*\n    skip: true\n"
        f"  - image: {third}\n"
        f"  - image: '*/x/*'\n    deny: true\n"  # matches too, but later: first match decides
    ))
    code, out, _ = run(capsys, monkeypatch, "simulate", str(policy), image, "--format", "json")
    r = json.loads(out)["results"][0]
    assert (r["action"], r["rule_index"], r["rule_id"], r["message"]) == (action, index, rule_id, message)
    # the same through verify (no network: skip/deny/allow)
    code, out, _ = run(capsys, monkeypatch, "verify", str(policy), image, "--format", "json")
    v = json.loads(out)["results"][0]
    outcome = {"allow": "allowed", "skip": "skipped", "deny": "denied"}[action]
    assert (v["outcome"], v["message"], v["digest"], v["signature"]) == (outcome, message, None, None)
    assert code == (1 if action == "deny" else 0)


MERGE = _talos("  - image: a.io/*\n    deny: true\n  - image: b.io/*\n    deny: true\n") + "---\n" + _talos(
    "  - image: a.io/*\n    skip: true\n  - image: c.io/*\n    skip: true\n"
) + "---\nmachine:\n  type: worker\n"

MERGED = [("a.io/x/y", "skip", 0), ("b.io/x/y", "deny", 1), ("c.io/x/y", "skip", 2)]


def test_talos_merge_of_several_documents(capsys, monkeypatch, tmp_path):
    """§3: an equal pattern replaces the earlier rule in place; a new one is appended;
    other documents are ignored."""
    policy = tmp_path / "p.yaml"
    policy.write_text(MERGE)
    code, out, err = run(capsys, monkeypatch, "simulate", str(policy), *[i for i, _, _ in MERGED], "--format", "json")
    assert code == 0, err
    got = [(r["image"], r["action"], r["rule_index"]) for r in json.loads(out)["results"]]
    assert got == MERGED


# --- §4 Kyverno -----------------------------------------------------------------------------------

def _kyverno(entries: str, action: str = "Enforce", rules: str | None = None) -> str:
    rule = rules or (
        "    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n" + entries
    )
    return (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        f"spec:\n  validationFailureAction: {action}\n  rules:\n" + rule
    )


KEYLESS = "{entries: [{keyless: {issuer: https://i, subject: s, rekor: {url: https://rekor.sigstore.dev}}}]}"


def _entry(patterns: list[str], extra: str = "", attestors: str = KEYLESS) -> str:
    refs = json.dumps(patterns)
    return f"        - imageReferences: {refs}\n          mutateDigest: false\n{extra}          attestors: [{attestors}]\n"


KYVERNO_MATCH = [
    # (pattern, image, applies)
    ("docker.io/nginx:*", "nginx:1.25", True),
    ("docker.io/nginx:*", "nginx:1.25@sha256:" + "a" * 64, False),  # tag dropped with a digest
    ("docker.io/nginx@*", "nginx:1.25@sha256:" + "a" * 64, True),
    ("docker.io/library/nginx*", "nginx", False),  # no library/ under Kyverno
    ("docker.io/nginx", "nginx", False),  # whole string: the tag defaults to latest
    ("docker.io/nginx:latest", "nginx", True),
    ("ghcr.io/*", "ghcr.io/a/b/c:1", True),  # '*' crosses '/'
    ("ghcr.io/a?b:*", "ghcr.io/a/b:1", True),  # '?' is one character, '/' included
    ("ghcr.io/a?b:*", "ghcr.io/ab:1", False),  # exactly one
    ("ghcr.io/org/app", "ghcr.io/org/app:v1", False),  # anchored
    ("*", "registry.k8s.io/pause:3.10", True),
    ("GHCR.io/*", "ghcr.io/org/app:1", False),
]


@pytest.mark.parametrize("pattern, image, applies", KYVERNO_MATCH, ids=[f"{p} ~ {i[:40]}" for p, i, _ in KYVERNO_MATCH])
def test_kyverno_wildcard_matching(capsys, monkeypatch, tmp_path, pattern, image, applies):
    policy = tmp_path / "k.yaml"
    policy.write_text(_kyverno(_entry([pattern])))
    code, out, err = run(capsys, monkeypatch, "simulate", str(policy), image, "--format", "json")
    assert code == 0, err
    r = json.loads(out)["results"][0]
    assert r["action"] == ("verify" if applies else "allow"), r
    assert (r["rules"] != []) == applies


KYVERNO_NORMALIZED = [
    ("nginx", "docker.io/nginx:latest"),
    ("nginx:1.25", "docker.io/nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25@sha256:" + "a" * 64, "docker.io/nginx@sha256:" + "a" * 64),
    ("ghcr.io/org/app", "ghcr.io/org/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
]


def test_kyverno_normalization(capsys, monkeypatch, tmp_path):
    policy = tmp_path / "k.yaml"
    policy.write_text(_kyverno(_entry(["*"])))
    code, out, _ = run(capsys, monkeypatch, "simulate", str(policy), *[i for i, _ in KYVERNO_NORMALIZED], "--format", "json")
    got = {r["image"]: r["match_subject"] for r in json.loads(out)["results"]}
    assert got == dict(KYVERNO_NORMALIZED)


def test_kyverno_every_applying_rule_and_entry_is_listed(capsys, monkeypatch, tmp_path):
    """§2/§4: no first-match; `rules` lists every applying entry; skipImageReferences skips."""
    rules = (
        "    - name: one\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n"
        + _entry(["ghcr.io/*"], extra="          skipImageReferences: ['ghcr.io/skip/*']\n")
        + _entry(["ghcr.io/org/*"])
        + "    - name: two\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n"
        + _entry(["*"])
    )
    policy = tmp_path / "k.yaml"
    policy.write_text(_kyverno("", rules=rules))
    code, out, err = run(capsys, monkeypatch, "simulate", str(policy), "ghcr.io/org/app:1", "ghcr.io/skip/x:1",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dialect"] == "kyverno"
    org, skip = doc["results"]
    assert org["rules"] == [
        {"policy": "p", "rule": "one", "entry": 0, "action": "verify"},
        {"policy": "p", "rule": "one", "entry": 1, "action": "verify"},
        {"policy": "p", "rule": "two", "entry": 0, "action": "verify"},
    ]
    assert org["action"] == "verify" and org["pattern"] == "ghcr.io/*"
    assert {"policy": "p", "rule": "one", "entry": 0, "action": "skip"} in skip["rules"]
    for r in doc["results"]:
        assert set(RESULT_KEYS) | {"rules"} <= set(r)
        assert all(set(e) == KYVERNO_RULE_KEYS for e in r["rules"])


KYVERNO_MESSAGES = [
    # (policy text builder args, exact message)
    (("        - imageReferences: ['ghcr.io/*']\n          attestors: [" + KEYLESS + "]\n", "Audit"),
     "mutateDigest must be set to false for ‘Audit’ failure action"),
    ((_entry(["ghcr.io/*"], attestors="{count: 2, entries: [{keyless: {issuer: https://i, subject: s, "
             "rekor: {url: https://rekor.sigstore.dev}}}]}"), "Enforce"),
     "Count cannot exceed length of entries"),
    ((_entry(["ghcr.io/*"], attestors="{entries: [{}]}"), "Enforce"),
     "keys, certificates, keyless, or a nested attestor is required"),
    ((_entry(["ghcr.io/*"], attestors="{entries: [{keys: {publicKeys: k}, keyless: {issuer: https://i, "
             "subject: s, rekor: {url: https://rekor.sigstore.dev}}}]}"), "Enforce"),
     "keys, certificates, keyless, or a nested attestor is required"),
]


@pytest.mark.parametrize("args, message", KYVERNO_MESSAGES, ids=["audit-mutate", "count", "no-attestor", "two-attestors"])
def test_kyverno_validation_messages(capsys, monkeypatch, tmp_path, args, message):
    policy = tmp_path / "k.yaml"
    policy.write_text(_kyverno(*args))
    code, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
    doc = json.loads(out)
    found = [d for d in doc["diagnostics"] if d["message"] == message]
    assert code == 1 and found and found[0]["severity"] == "error", [d["message"] for d in doc["diagnostics"]]
    assert found[0]["line"] >= 9  # inside the verifyImages entry


# --- §5 lints ---------------------------------------------------------------------------------------

def _lint_cases():
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(datetime.datetime(2024, 1, 1))
        .not_valid_after(datetime.datetime(2034, 1, 1)).sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM).decode()
    )

    def block(pem: str) -> str:
        return "\n".join("        " + line for line in pem.strip().splitlines())

    return [
        # (rule 1 YAML, code, severity, line, message fragment)
        ("  - image: a.io/x/*\n    keyless:\n      issuer: https://i\n      subjectRegex: 'a(?=b)'\n",
         "re2-invalid-regex", "error", 9, "subjectRegex"),
        ("  - image: a.io/x/*\n    publicKey:\n      certificate: |\n" + block(cert) + "\n",
         "certificate-not-public-key", "error", 8, "CERTIFICATE"),
        ("  - image: a.io/x/*\n    publicKey:\n      certificate: |\n        -----BEGIN PUBLIC KEY-----\n"
         "        AAAA\n        -----END PUBLIC KEY-----\n", "invalid-public-key", "error", 8, "PUBLIC KEY"),
        ("  - image: zz.example.com/org/app\n    skip: true\n", "shadowed-rule", "warning", 6, "rule 0"),
        ("  - image: docker.io/library/nginx\n    deny: true\n", "never-matches", "warning", 6, "index.docker.io"),
        ("  - image: '*.example.com/*'\n    skip: true\n", "risky-skip", "warning", 6, "*"),
        ("  - image: zz.example.com/org/*\n    skip: true\n", "duplicate-pattern", "warning", 6, "rule 0"),
    ]


LINT_CODES = ["re2-invalid-regex", "certificate-not-public-key", "invalid-public-key", "shadowed-rule",
              "never-matches", "risky-skip", "duplicate-pattern"]


@pytest.mark.parametrize("index", range(len(LINT_CODES)), ids=LINT_CODES)
def test_lints_have_code_line_and_fix(capsys, monkeypatch, tmp_path, index):
    rule, code_name, severity, line, fragment = _lint_cases()[index]
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos(VALID_FIRST + rule))
    code, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
    found = [d for d in json.loads(out)["diagnostics"] if d["code"] == code_name]
    assert found, out
    diag = found[0]
    assert (diag["severity"], diag["line"], diag["rule_index"]) == (severity, line, 1)
    assert fragment in diag["message"] + diag.get("fix", "")
    assert diag.get("fix"), f"{code_name}: no suggested fix"
    if code_name == "never-matches":
        assert "index.docker.io/library/nginx" in diag["fix"]


def test_certificate_block_has_its_own_message(capsys, monkeypatch, tmp_path):
    """§5: a CERTIFICATE block gets its own message, not the generic unparseable-key one."""
    cases = _lint_cases()
    texts = {}
    for rule, code_name, *_ in cases[1:3]:
        policy = tmp_path / f"{code_name}.yaml"
        policy.write_text(_talos(VALID_FIRST + rule))
        _, out, _ = run(capsys, monkeypatch, "check", str(policy), "--format", "json")
        texts[code_name] = [d["message"] for d in json.loads(out)["diagnostics"] if d["code"] == code_name]
    assert texts["certificate-not-public-key"] and texts["invalid-public-key"]
    assert texts["certificate-not-public-key"] != texts["invalid-public-key"]


# --- §6 image lists ---------------------------------------------------------------------------------

KUBECTL = json.dumps({"apiVersion": "v1", "kind": "List", "items": [{
    "kind": "Pod", "metadata": {"name": "p"},
    "spec": {
        "initContainers": [{"name": "i", "image": "ghcr.io/org/init:1"}],
        "containers": [{"name": "c", "image": "ghcr.io/org/app:1"}],
        "ephemeralContainers": [{"name": "e", "image": "ghcr.io/org/debug:1"}],
    }}]}, indent=2)

_TEMPLATE = "spec:\n  template:\n    spec:\n      containers:\n        - {name: c, image: %s}\n"
MANIFESTS = "\n---\n".join([
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: ghcr.io/org/pod:1}",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n" + _TEMPLATE % "ghcr.io/org/deploy:1",
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\n" + _TEMPLATE % "ghcr.io/org/sts:1",
    "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n" + _TEMPLATE % "ghcr.io/org/ds:1",
    "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n" + _TEMPLATE % "ghcr.io/org/job:1",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  jobTemplate:\n    spec:\n      template:\n"
    "        spec:\n          containers:\n            - {name: c, image: ghcr.io/org/cron:1}",
    "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: q}\n    spec:\n"
    "      containers:\n        - {name: c, image: ghcr.io/org/listed:1}",
])

IMAGE_LISTS = [
    ("plain", "# images\nghcr.io/org/a:1\n\nghcr.io/org/b:2  # trailing comment\n", ["ghcr.io/org/a:1", "ghcr.io/org/b:2"]),
    ("kubectl-json", KUBECTL, ["ghcr.io/org/init:1", "ghcr.io/org/app:1", "ghcr.io/org/debug:1"]),
    ("manifests", MANIFESTS, ["ghcr.io/org/pod:1", "ghcr.io/org/deploy:1", "ghcr.io/org/sts:1", "ghcr.io/org/ds:1",
                              "ghcr.io/org/job:1", "ghcr.io/org/cron:1", "ghcr.io/org/listed:1"]),
]


@pytest.mark.parametrize("name, text, images", IMAGE_LISTS, ids=[r[0] for r in IMAGE_LISTS])
def test_image_list_formats_by_content(capsys, monkeypatch, tmp_path, files, name, text, images):
    listing = tmp_path / "list.unknown-extension"  # detected by content, not by name
    listing.write_text(text)
    code, out, err = run(capsys, monkeypatch, "simulate", files["other"], "--images", str(listing), "--format", "json")
    assert code == 0, err
    got = [r["image"] for r in json.loads(out)["results"]]
    assert sorted(got) == sorted(images)  # every container kind, every workload kind


def test_talosctl_image_ls_keeps_the_verified_label(capsys, monkeypatch, samples_copy):
    listing = samples_copy / "images" / "talosctl-image-ls.txt"
    code, out, _ = run(capsys, monkeypatch, "simulate", str(samples_copy / "talos" / "policy.yaml"),
                       "--images", str(listing))
    assert code == 0
    header = out.splitlines()[0]
    assert "TALOS" in header
    api = next(line for line in out.splitlines() if line.startswith("ghcr.io/acme/api:v1.4.0"))
    assert " verified " in api  # Talos's own verdict from the label, beside pullguard's


def test_talosctl_label_next_to_the_verify_verdict(capsys, monkeypatch, samples_copy):
    code, out, _ = run(capsys, monkeypatch, "verify", str(samples_copy / "talos" / "policy.yaml"),
                       "--images", str(samples_copy / "images" / "talosctl-image-ls.txt"),
                       "--trusted-root", str(samples_copy / "trusted_root.json"))
    assert "TALOS" in out.splitlines()[0]


# --- §8 samples -------------------------------------------------------------------------------------

SAMPLE_OUTCOMES = [
    ("ghcr.io/acme/api:v1.4.0", "verified", "verified via legacy signature (bundle verified true)"),
    ("ghcr.io/acme/web:v2.1.0", "verified", "verified via bundle referrer with digest sha256:"),
    ("ghcr.io/acme/worker:v0.9.2", "verified", "verified via bundle"),
    ("ghcr.io/acme/billing:v3.0.1", "failed", "image verification failed: no valid signature found: "),
    ("ghcr.io/acme/cache:v1.1.0", "failed", "image verification failed: no valid signature found: "),
    ("quay.io/partner/agent:v5.2.0", "verified", "verified via legacy signature (bundle verified false)"),
    ("quay.io/partner/exporter:v1.0.3", "failed", "image verification failed: no valid signature found: "),
    ("registry.acme.internal:5000/tools/debug:2026.01", "skipped", "verification skipped by matched rule (0002)"),
    ("ttl.sh/3f9c2a1e-demo:1h", "denied", "verification denied by matched rule (0003)"),
    ("registry.k8s.io/pause:3.10", "allowed", "no matched rule"),
    ("docker.io/library/nginx:1.27", "allowed", "no matched rule"),
]


@pytest.mark.parametrize("image, outcome, message", SAMPLE_OUTCOMES, ids=[r[0] for r in SAMPLE_OUTCOMES])
def test_samples_give_every_outcome(sample_results, image, outcome, message):
    r = sample_results[image]
    assert r["outcome"] == outcome, r
    if message.endswith((" ", ":")):  # the rest names a digest or the failures
        assert r["message"].startswith(message), r["message"]
    else:
        assert r["message"] == message
    if r["message"].startswith("verified via bundle referrer with digest "):
        assert SAMPLE_DIGEST_RE.match(r["message"].rsplit(" ", 1)[1])
    if outcome in ("failed", "error"):
        assert r["errors"], "a failure lists what failed"


def test_samples_summary(sample_verify):
    summary = json.loads(sample_verify["out"])["summary"]
    assert summary == promised_summary("talos")


def test_samples_kyverno_and_kubectl_list(capsys, monkeypatch, samples_copy):
    """README: the Kyverno sample over the kubectl JSON list, verified against the bundled layout."""
    code, out, err = run(capsys, monkeypatch, "verify", str(samples_copy / "kyverno" / "cluster-policy.yaml"),
                         "--images", str(samples_copy / "images" / "pods.json"),
                         "--trusted-root", str(samples_copy / "trusted_root.json"), "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["dialect"] == "kyverno"
    outcomes = {r["image"]: r["outcome"] for r in doc["results"]}
    assert outcomes["ghcr.io/acme/web:v2.1.0"] == "verified"
    assert outcomes["quay.io/partner/agent:v5.2.0"] == "verified"
    assert outcomes["ghcr.io/acme/billing:v3.0.1"] == "failed"
    assert outcomes["ttl.sh/3f9c2a1e-demo:1h"] == "allowed"  # verifyImages cannot deny
    for r in doc["results"]:
        assert "rules" in r and all(set(e) == KYVERNO_RULE_KEYS for e in r["rules"])


def test_kyverno_count_semantics(capsys, monkeypatch, samples_copy, tmp_path):
    """§4: count null means every entry must verify; count N means at least N."""
    pem = _sample_partner_pem(samples_copy)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def keys(p: str) -> str:
        return "{keys: {publicKeys: " + json.dumps(p) + ", rekor: {ignoreTlog: true}}}"

    outcomes = {}
    for count in ("", "count: 1, "):
        attestors = "{" + count + "entries: [" + keys(pem) + ", " + keys(other) + "]}"
        policy = tmp_path / f"k{len(count)}.yaml"
        entry = _entry(["quay.io/partner/*"], extra="          verifyDigest: false\n", attestors=attestors)
        policy.write_text(_policy_with_sample_mirrors(samples_copy, _kyverno(entry)))
        code, out, err = run(capsys, monkeypatch, "verify", str(policy), "quay.io/partner/agent:v5.2.0", "--format", "json")
        assert code in (0, 1), err
        outcomes[count or "null"] = json.loads(out)["results"][0]["outcome"]
    assert outcomes == {"null": "failed", "count: 1, ": "verified"}


# --- UX: bad input gives file:line:column, never a traceback -----------------------------------------

NASTY = [
    ("yaml-syntax", "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: [unclosed\n", 1),
    ("tab-indent", "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n\t- image: a.io/*\n", 1),
    ("json-policy", json.dumps({"apiVersion": "v1alpha1", "kind": "ImageVerificationConfig",
                                "rules": [{"image": "ttl.sh/*", "deny": True}, {"image": 5}]}), 1),
    ("rules-not-a-list", "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: {image: x}\n", 1),
    ("kyverno-wrong-types", _kyverno("        - imageReferences: 'ghcr.io/*'\n          required: 'yes'\n"
                                     "          attestors: {}\n"), 1),
    ("yaml-bomb", "apiVersion: v1alpha1\nkind: ImageVerificationConfig\n"
     + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10))
     + "rules: *a9\n", 1),
    ("not-a-policy", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", 1),
    # SPEC §3 (loading as Talos): Talos's YAML decoder rejects a duplicate mapping key
    # ('mapping key "rules" already defined at line 3'); the last one must not silently win.
    ("duplicate-key",
     "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - {image: a.io/*, deny: true}\n"
     "rules:\n  - {image: b.io/*, deny: true}\n", 1),
]


@pytest.mark.parametrize("name, text, line", NASTY, ids=[r[0] if isinstance(r, tuple) else None for r in NASTY])
def test_bad_policy_gives_file_line_column(capsys, monkeypatch, tmp_path, name, text, line):
    policy = tmp_path / "bad.yaml"
    policy.write_text(text)
    code, out, err = run(capsys, monkeypatch, "check", str(policy))
    assert code == 1, out + err
    assert no_traceback(out + err)
    assert re.search(rf"{re.escape(str(policy))}:\d+:\d+: error: ", out), out
    for command in ("simulate", "verify"):
        code, out, err = run(capsys, monkeypatch, command, str(policy), "nginx")
        assert code == 2 and no_traceback(out + err)
        assert re.search(rf"{re.escape(str(policy))}:\d+:\d+: error: ", err), err


def test_bad_test_file_gives_file_line(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: nope.yaml\ncases:\n  - {image: 5}\n")
    code, out, err = run(capsys, monkeypatch, "test", str(bad))
    assert code == 2 and no_traceback(out + err)
    assert re.search(rf"{re.escape(str(bad))}:\d+(:\d+)?: error", err), err


# --- security: credentials never printed ----------------------------------------------------------

def test_credentials_never_printed_on_a_failing_registry(tmp_path):
    """§6: basic-auth credentials from $DOCKER_CONFIG never appear in output, even when the
    registry (a closed loopback port) cannot be reached."""
    password = "Pa55-never-print-me"
    auth = base64.b64encode(f"alice:{password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:9": {"auth": auth}}}))
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos("  - image: 127.0.0.1:9/*\n    keyless: {issuer: https://i, subject: s}\n"))
    outputs = []
    for fmt in ("text", "json"):
        code, out, err = proc("verify", str(policy), "127.0.0.1:9/app:v1", "--timeout", "2", "--format", fmt,
                              env={"DOCKER_CONFIG": str(tmp_path)})
        assert code == 1, err
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "error" in text and "127.0.0.1:9" in text  # says what failed, for which host
    assert password not in text and auth not in text


# --- §3/§4 identities, through real verification against the bundled layout -------------------------

API_IMAGE = "ghcr.io/acme/api:v1.4.0"  # signed keyless by .../acme/api/.github/workflows/release.yaml@refs/tags/v1.4.0
API_SUBJECT = "https://github.com/acme/api/.github/workflows/release.yaml@refs/tags/v1.4.0"
ISSUER = "https://token.actions.githubusercontent.com"

IDENTITIES = [
    # (dialect, keyless mapping, outcome)
    ("talos", {"issuer": ISSUER, "subjectRegex": "acme/api/"}, "verified"),  # unanchored search
    ("talos", {"issuer": ISSUER, "subjectRegex": "^acme/api"}, "failed"),
    ("talos", {"issuer": ISSUER, "subject": API_SUBJECT}, "verified"),
    ("talos", {"issuer": ISSUER, "subject": "https://github.com/acme/api/*"}, "failed"),  # exact, no wildcard
    ("talos", {"issuer": ISSUER + "/", "subject": API_SUBJECT}, "failed"),  # issuer exact
    ("kyverno", {"issuer": ISSUER, "subject": "https://github.com/acme/api/*"}, "verified"),  # wildcard
    ("kyverno", {"issuer": "https://token.actions.*", "subject": API_SUBJECT}, "verified"),
    ("kyverno", {"issuer": ISSUER, "subjectRegExp": "acme/api/"}, "verified"),
    ("kyverno", {"issuer": ISSUER, "subject": "https://github.com/acme/web/*"}, "failed"),
]


@pytest.mark.parametrize("dialect, keyless, outcome", IDENTITIES,
                         ids=[f"{d}-{json.dumps(k)[12:70]}" for d, k, _ in IDENTITIES])
def test_keyless_identity_semantics(capsys, monkeypatch, tmp_path, samples_copy, dialect, keyless, outcome):
    flow = json.dumps(keyless)
    if dialect == "talos":
        body = _talos(f"  - image: ghcr.io/acme/*\n    keyless: {flow}\n")
    else:
        keyless = {**keyless, "rekor": {"url": "https://rekor.sigstore.dev"}}
        attestors = "{entries: [{keyless: " + json.dumps(keyless) + "}]}"
        body = _kyverno(_entry(["ghcr.io/acme/*"], extra="          verifyDigest: false\n", attestors=attestors))
    policy = tmp_path / "p.yaml"
    policy.write_text(_policy_with_sample_mirrors(samples_copy, body))
    code, out, err = run(capsys, monkeypatch, "verify", str(policy), API_IMAGE,
                         "--trusted-root", str(samples_copy / "trusted_root.json"), "--format", "json")
    result = json.loads(out)["results"][0]
    assert result["outcome"] == outcome, result["message"]
    assert code == (0 if outcome == "verified" else 1)


def test_mirror_flag_with_an_oci_layout(capsys, monkeypatch, tmp_path, samples_copy):
    """§1/§6: `--mirror HOST=oci:PATH` serves a policy of one's own from the bundled layout."""
    pem = _sample_partner_pem(samples_copy)
    block = "\n".join("        " + line for line in pem.splitlines())
    policy = tmp_path / "p.yaml"
    policy.write_text(_talos(f"  - image: quay.io/partner/*\n    publicKey:\n      certificate: |\n{block}\n"))
    code, out, err = run(capsys, monkeypatch, "verify", str(policy), "quay.io/partner/agent:v5.2.0",
                         "--mirror", f"quay.io=oci:{samples_copy / 'registry'}", "--format", "json")
    result = json.loads(out)["results"][0]
    assert (code, result["outcome"]) == (0, "verified"), result["message"]
    assert result["message"] == "verified via legacy signature (bundle verified false)"
