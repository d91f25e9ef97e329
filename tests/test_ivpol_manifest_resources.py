"""SPEC §4b: an ImageValidatingPolicy's matchConstraints and matchConditions apply when the
image's resource is known — `--images` manifests and `kubectl get pods -o json` — and the
resource is the validations' `object`; a bare image list is Pods of their own, which only
matchImageReferences decide."""

from __future__ import annotations

import json

import pytest

from pullguard.tui.cli import main
from tests.test_kyverno_ivpol_test_files import SAMPLES, SIGNED, UNSIGNED, _deployment, _ivpol, _pod

MIRROR = ["--mirror", f"quay.io=oci:{SAMPLES / 'registry'}", "--trusted-root", str(SAMPLES / "trusted_root.json")]


def _manifest(*documents: str) -> str:
    return "---\n".join(documents)


# (case, the --images list, simulate's action per image in order)
LISTS = [
    ("a Pod the matchCondition selects", _manifest(_pod("a", UNSIGNED)), ["verify"]),
    ("a Pod the matchCondition excludes", _manifest(_pod("a", UNSIGNED, labels="{prod: 'false'}")), ["allow"]),
    ("a Deployment, the rule is for pods", _manifest(_deployment("a", UNSIGNED)), ["allow"]),
    ("the same image in both", _manifest(_pod("a", UNSIGNED), _pod("b", UNSIGNED, labels="{}")), ["verify", "allow"]),
    ("kubectl get pods -o json", json.dumps({"kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default", "labels": {"prod": "true"}},
         "spec": {"containers": [{"name": "c", "image": UNSIGNED}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "default"},
         "spec": {"containers": [{"name": "c", "image": UNSIGNED}]}}]}), ["verify", "allow"]),
    # a bare reference has no resource: matchConstraints and matchConditions do not take part
    ("a plain list", f"{UNSIGNED}\n", ["verify"]),
]


@pytest.mark.parametrize("name, listed, actions", LISTS, ids=[c[0] for c in LISTS])
def test_simulate_applies_the_selection_to_manifest_images(tmp_path, capsys, name, listed, actions):
    (tmp_path / "p.yaml").write_text(_ivpol())
    (tmp_path / "images").write_text(listed)
    assert main(["simulate", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "images"), "-o", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["action"] for r in results] == actions


def test_verify_takes_the_resource_as_object(tmp_path, capsys):
    """Excluded by matchConditions: allowed; selected: verified against the key; a validation
    over `object` sees the manifest's Pod, not a Pod of pullguard's own."""
    policy = _ivpol(validations="- expression: \"object.metadata.name == 'web' && images.containers.all(i, "
                                "verifyImageSignatures(i, [attestors.partner]) > 0)\"\n  message: not the web pod, or unsigned\n")
    (tmp_path / "p.yaml").write_text(policy)
    (tmp_path / "pods.yaml").write_text(_manifest(_pod("web", SIGNED), _pod("other", SIGNED), _pod("dev", UNSIGNED, labels="{}")))
    code = main(["verify", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "pods.yaml"), *MIRROR, "-o", "json"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["pod"], r["outcome"]) for r in results] == [("web", "verified"), ("other", "failed"),
                                                            ("dev", "allowed")]
    assert "not the web pod, or unsigned" in results[1]["message"]
    assert code == 1
