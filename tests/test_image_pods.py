"""Images from a cluster keep their pod and namespace (SPEC §7, issue 14): `pods.json` and
manifests give `simulate`/`verify` a POD column and `pod`/`namespace` keys on every result; a list
that says nothing of pods keeps the SPEC §2 keys only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def pullguard(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
                           *argv], capture_output=True, text=True, cwd=SAMPLES, timeout=120,
                          env=dict(os.environ, NO_COLOR="1", COLUMNS="200"))


VERIFY = ("verify", "talos/policy.yaml", "--trusted-root", "trusted_root.json")
SIMULATE = ("simulate", "talos/policy.yaml")


@pytest.mark.parametrize("command", [SIMULATE, VERIFY], ids=["simulate", "verify"])
@pytest.mark.parametrize("images,first", [
    ("images/pods.json", {"image": "ghcr.io/acme/api:v1.4.0", "pod": "api-7d9f8c6b5-ax0q", "namespace": "acme"}),
    ("images/deployment.yaml", {"image": "ghcr.io/acme/api:v1.4.0", "pod": None, "namespace": "acme"}),
    ("images/images.txt", {"image": "ghcr.io/acme/api:v1.4.0"}),
])
def test_json_results_say_where_each_image_runs(command, images, first):
    done = pullguard(*command, "--images", images, "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    results = json.loads(done.stdout)["results"]
    assert {k: results[0].get(k) for k in first} == first
    assert ("pod" in results[0]) == ("pod" in first)
    assert all(("pod" in r) == ("pod" in first) and ("namespace" in r) == ("pod" in first) for r in results)


@pytest.mark.parametrize("command", [SIMULATE, VERIFY], ids=["simulate", "verify"])
@pytest.mark.parametrize("images,cell", [
    ("images/pods.json", "acme/api-7d9f8c6b5-ax0q"),
    ("images/deployment.yaml", "acme"),
    ("images/images.txt", None),
])
def test_the_text_table_has_a_pod_column(command, images, cell):
    done = pullguard(*command, "--images", images)
    header, row = done.stdout.splitlines()[:2]
    assert ("POD" in header.split()) == (cell is not None)
    if cell is not None:
        assert row.split()[1] == cell
