"""The bundled samples give exactly the outcomes the README promises (SPEC §8).

Everything runs as a user would run it: `pullguard verify --format json` in a subprocess, from a
directory that is not the checkout (the policies' `oci:../registry` mirrors must resolve next to
the policy file), with no network (the mirrors say skipFallback).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine.images import parse_image_list
from pullguard.engine.samples import (
    IMAGE_LISTS,
    sample_dir,
    sample_images_path,
    sample_policy_path,
    sample_registry,
    sample_trusted_root,
)
from tests.support.samples import PROMISED

REPO = Path(__file__).resolve().parents[1]

# How each verified image was verified, and why each failed one failed (both dialects).
# (image, signature format, message pattern, identity subject or None, a phrase in `errors`)
EVIDENCE = [
    ("ghcr.io/acme/api:v1.4.0", "legacy", r"verified via legacy signature \(bundle verified true\)",
     "https://github.com/acme/api/.github/workflows/release.yaml@refs/tags/v1.4.0", None),
    ("ghcr.io/acme/web:v2.1.0", "bundle-referrer", r"verified via bundle referrer with digest sha256:[0-9a-f]{64}",
     "https://github.com/acme/web/.github/workflows/release.yaml@refs/tags/v2.1.0", None),
    ("ghcr.io/acme/worker:v0.9.2", "bundle", r"verified via bundle",
     "https://github.com/acme/worker/.github/workflows/release.yaml@refs/tags/v0.9.2", None),
    ("quay.io/partner/agent:v5.2.0", "legacy", r"verified via legacy signature \(bundle verified false\)", None, None),
    ("ghcr.io/acme/billing:v3.0.1", None, r"image verification failed: no valid signature found: .*refs/heads/main",
     None, "does not match the rule's subjectRegex"),
    ("ghcr.io/acme/cache:v1.1.0", None, r"image verification failed: no valid signature found: .*not found",
     None, "legacy signature tag not found"),
    ("quay.io/partner/exporter:v1.0.3", None, r"image verification failed: no valid signature found: .*public key",
     None, "signature does not verify with the rule's public key"),
]


def pullguard(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def verified(elsewhere) -> dict[str, dict]:
    """`pullguard verify --format json` of each sample policy over the plain image list."""
    out = {}
    for dialect in ("talos", "kyverno"):
        proc = pullguard("verify", str(sample_policy_path(dialect)), "--images", str(sample_images_path()),
                         "--trusted-root", str(sample_trusted_root()), "--format", "json", cwd=elsewhere)
        assert proc.returncode == 1, proc.stderr  # failed (and denied) images: exit 1
        out[dialect] = json.loads(proc.stdout)
    return out


def by_image(report: dict) -> dict[str, dict]:
    return {r["image"]: r for r in report["results"]}


@pytest.mark.parametrize("image,talos,kyverno", PROMISED)
def test_every_sample_image_gets_the_promised_outcome(verified, image, talos, kyverno):
    assert by_image(verified["talos"])[image]["outcome"] == talos
    assert by_image(verified["kyverno"])[image]["outcome"] == kyverno


@pytest.mark.parametrize("dialect", ["talos", "kyverno"])
def test_summary_counts_every_outcome_and_nothing_is_an_error(verified, dialect):
    column = 1 if dialect == "talos" else 2
    expected = {o: 0 for o in ("verified", "failed", "skipped", "denied", "allowed", "error")}
    for row in PROMISED:
        expected[row[column]] += 1
    assert verified[dialect]["summary"] == expected
    assert [r["image"] for r in verified[dialect]["results"]] == [row[0] for row in PROMISED]


@pytest.mark.parametrize("dialect", ["talos", "kyverno"])
@pytest.mark.parametrize("image,fmt,message,subject,error", EVIDENCE)
def test_evidence_and_failure_reasons(verified, dialect, image, fmt, message, subject, error):
    result = by_image(verified[dialect])[image]
    assert re.search(message, result["message"], re.S), result["message"]
    signature = result["signature"]
    if fmt is None:
        assert signature is None
        assert any(error in e for e in result["errors"]), result["errors"]
        return
    assert result["digest"].startswith("sha256:")
    assert signature["format"] == fmt
    assert signature["artifact_digest"] == result["digest"]
    if subject is None:  # the partner's key: no identity, no log entry needed
        assert signature["identity"] is None and signature["key_fingerprint"].startswith("sha256:")
    else:
        assert signature["identity"] == {"issuer": "https://token.actions.githubusercontent.com", "subject": subject}
        assert signature["tlog"]["integrated_time"].startswith("2026-01-15T")


@pytest.mark.parametrize("image,action,rule", [
    ("registry.acme.internal:5000/tools/debug:2026.01", "skip", "0002"),
    ("ttl.sh/3f9c2a1e-demo:1h", "deny", "0003"),
    ("registry.k8s.io/pause:3.10", "allow", None),
])
def test_talos_rules_that_need_no_network(verified, image, action, rule):
    result = by_image(verified["talos"])[image]
    assert (result["action"], result["rule_id"]) == (action, rule)


@pytest.mark.parametrize("policy", ["talos", "kyverno"])
def test_check_passes_on_the_sample_policies(elsewhere, policy):
    proc = pullguard("check", str(sample_policy_path(policy)), "--format", "json", cwd=elsewhere)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert (report["dialect"], report["errors"], report["warnings"]) == (policy, 0, 0)


def test_simulate_reads_kubectl_json_from_stdin_as_the_readme_shows(elsewhere):
    pods = sample_images_path("kubectl-json").read_text()
    proc = pullguard("simulate", str(sample_policy_path()), "--images", "-", "--format", "json", cwd=elsewhere, stdin=pods)
    assert proc.returncode == 0, proc.stderr
    actions = {r["image"]: r["action"] for r in json.loads(proc.stdout)["results"]}
    expected = {"verified": "verify", "failed": "verify", "skipped": "skip", "denied": "deny", "allowed": "allow"}
    assert actions == {image: expected[talos] for image, talos, _ in PROMISED}


@pytest.mark.parametrize("fmt", sorted(IMAGE_LISTS))
def test_every_image_list_format_names_the_same_images(fmt):
    path = sample_images_path(fmt)
    entries = parse_image_list(path.read_text(), str(path))
    assert sorted(e.image for e in entries) == sorted(row[0] for row in PROMISED)


def test_talosctl_labels_match_what_pullguard_says(verified):
    """The node's `talos.dev/verified` label carries the message pullguard gives that image."""
    path = sample_images_path("talosctl")
    entries = {e.image: e for e in parse_image_list(path.read_text(), str(path))}
    talos = by_image(verified["talos"])
    for image, entry in entries.items():
        if talos[image]["outcome"] == "verified":
            assert entry.node_verified is True and entry.node_message == talos[image]["message"]
        else:
            assert entry.node_verified is False
    digests = {line.split()[1]: line.split()[2] for line in path.read_text().splitlines()[1:]}
    assert {i: r["digest"] for i, r in talos.items() if r["digest"]} == {i: digests[i] for i, r in talos.items() if r["digest"]}


def test_readme_promises_the_outcomes_the_samples_give():
    """Each image has a README table row `| image | Talos outcome | Kyverno outcome | ... |`."""
    readme = (REPO / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3:
            rows[cells[0]] = (cells[1], cells[2])
    assert {image: rows.get(image) for image, _, _ in PROMISED} == {i: (t, k) for i, t, k in PROMISED}


def test_samples_hold_no_private_key_and_stay_small():
    root = sample_dir()
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            total += path.stat().st_size
            assert b"PRIVATE KEY" not in path.read_bytes(), path
    assert total < 200 * 1024
    assert (sample_registry() / "oci-layout").is_file()


def _try_next_sample_lines() -> list[str]:
    """The README's Try next lines that run in the installed samples' directory (before `cd -`)."""
    block = (REPO / "README.md").read_text().split("## Try next", 1)[1].split("```", 2)[1]
    inside = block.split('cd "$(python -m pullguard.engine.samples)"', 1)[1].split("\ncd -", 1)[0]
    return [line.split("   #", 1)[0].strip() for line in inside.splitlines() if line.startswith("pullguard ")]


@pytest.mark.parametrize("line", _try_next_sample_lines())
def test_every_try_next_line_works_offline_on_the_samples(line):
    """Each line as a user pastes it (shell redirects included), in the samples' directory: it
    runs, exits 0 or 1 (some sample images fail on purpose), and no image ends in `error` (an
    error there would mean a registry was asked beyond the bundled layout, or a bug)."""
    import os
    import shlex

    command = f"{shlex.quote(sys.executable)} -m pullguard.tui.cli{line[len('pullguard'):]}"
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120,
                          cwd=sample_dir())
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip(), proc.stderr
    if " --format json" in line or " -o json" in line:
        doc = json.loads(proc.stdout)
        summary = doc.get("summary", {}) if isinstance(doc, dict) else {}
        assert summary.get("error", 0) == 0, summary
    elif line.startswith("pullguard verify "):
        assert " error" not in proc.stdout.splitlines()[-1], proc.stdout
