"""`pullguard explain [POLICY] [TEXT...]` as a person runs it: exit codes, JSON keys, text output
(SPEC §1: 0 when at least one error is recognised, 2 when none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TALOS = "samples/talos/policy.yaml"
KYVERNO = "samples/kyverno/cluster-policy.yaml"
DENIED = ('Failed to pull image "ttl.sh/3f9c2a1e-demo:1h": rpc error: code = PermissionDenied desc = '
          "verification denied by matched rule (0003)")
ENTRY_KEYS = {"image", "source", "reported", "decision", "agrees", "cause", "suggestion"}


def pullguard(*argv: str, stdin: str | bytes = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())", *argv],
        input=stdin.encode() if isinstance(stdin, str) else stdin, capture_output=True, cwd=REPO,
        env=dict(os.environ, NO_COLOR="1"), timeout=120,
    )


@pytest.mark.parametrize("policy,paste,image,agrees", [
    (TALOS, "kubelet-billing.txt", "ghcr.io/acme/billing:v3.0.1", True),
    (TALOS, "containerd-cache.txt", "ghcr.io/acme/cache:v1.1.0", True),
    (TALOS, "talos-ttl.txt", "ttl.sh/3f9c2a1e-demo:1h", True),
    (KYVERNO, "kyverno-exporter.txt", "quay.io/partner/exporter:v1.0.3", True),
    # The Talos denial under the Kyverno policy: verifyImages cannot deny, so the two differ.
    (KYVERNO, "talos-ttl.txt", "ttl.sh/3f9c2a1e-demo:1h", False),
])
def test_every_sample_paste_is_explained_offline(policy, paste, image, agrees):
    done = pullguard("explain", policy, "--format", "json", stdin=(REPO / "samples/troubleshooting" / paste).read_bytes())
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {"policy", "explanations"} and doc["policy"] == policy
    (entry,) = doc["explanations"]
    assert set(entry) == ENTRY_KEYS and set(entry["reported"]) == {"message", "rule_id", "outcome"}
    assert (entry["image"], entry["agrees"]) == (image, agrees)
    assert entry["decision"]["image"] == image


def test_text_output_for_people():
    done = pullguard("explain", TALOS, stdin=(REPO / "samples/troubleshooting/kubelet-billing.txt").read_bytes())
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.startswith("ghcr.io/acme/billing:v3.0.1  (kubelet)\n")
    assert "  node said:  failed - image verification failed: no valid signature found: bundle tag not found\\nno valid" in out
    assert "  policy:     verify by rule 0000 (ghcr.io/acme/*), as the node did\n" in out
    assert "\n                - image: ghcr.io/acme/billing\n" in out  # the rule to add, as YAML


@pytest.mark.parametrize("argv", [
    pytest.param(["explain", TALOS, DENIED, "--format", "json"], id="policy-then-text"),
    pytest.param(["explain", "-o", "json", TALOS, DENIED], id="short-format-first"),
    pytest.param(["explain", "--format", "json", DENIED], id="no-policy"),
    pytest.param(["explain", "--format", "json", *DENIED.split()], id="text-in-many-words"),
])
def test_text_from_arguments(argv):
    done = pullguard(*argv)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [e["reported"]["rule_id"] for e in doc["explanations"]] == ["0003"]
    assert doc["policy"] == (TALOS if TALOS in argv else None)
    assert (doc["explanations"][0]["decision"] is None) == (TALOS not in argv)


@pytest.mark.parametrize("argv,stdin", [
    pytest.param(["explain", TALOS], "everything is fine\n", id="nothing-recognised"),
    pytest.param(["explain"], "", id="empty-stdin"),
    pytest.param(["explain", "just some words"], "", id="words-that-are-no-error"),
])
def test_nothing_recognised_is_exit_2(argv, stdin):
    done = pullguard(*argv, "--format", "json", stdin=stdin)
    assert done.returncode == 2
    assert json.loads(done.stdout)["explanations"] == []
    assert b"no pull error recognised" in done.stderr


def test_a_policy_with_errors_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: ghcr.io/*\n    skip: true\n    deny: true\n")
    done = pullguard("explain", str(bad), DENIED)
    assert done.returncode == 2 and done.stdout == b""
    assert b"skip and deny cannot both be true" in done.stderr and b"has errors" in done.stderr


def test_a_pasted_text_file_given_as_policy_says_how_to_pass_it():
    done = pullguard("explain", "samples/troubleshooting/kubelet-billing.txt")
    assert done.returncode == 2
    assert b"pullguard explain [POLICY] < samples/troubleshooting/kubelet-billing.txt" in done.stderr


def test_outside_text_is_escaped_in_text_output():
    done = pullguard("explain", TALOS, stdin=DENIED.replace("3f9c2a1e-demo", "demo\x1b[2J\x07") + "\n")
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout
    assert b"demo\\x1b[2J\\x07" in done.stdout


def test_stdin_that_is_not_utf8_is_read():
    done = pullguard("explain", TALOS, "--format", "json", stdin=b"\xff\xfe garbage\n" + DENIED.encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["explanations"][0]["agrees"] is True


def test_several_pastes_end_with_a_count():
    pastes = b"".join((REPO / "samples/troubleshooting" / name).read_bytes()
                      for name in ("kubelet-billing.txt", "containerd-cache.txt", "talos-ttl.txt"))
    done = pullguard("explain", TALOS, stdin=pastes)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().endswith("\n3 pull errors: the policy decides 3 as the node did\n")


def test_a_pod_list_points_at_the_events():
    done = pullguard("explain", stdin="NAME        READY   STATUS             RESTARTS   AGE\n"
                                      "billing-x   0/1     ImagePullBackOff   0          2m\n")
    assert done.returncode == 2
    assert b"kubectl describe pod POD | pullguard explain" in done.stderr
