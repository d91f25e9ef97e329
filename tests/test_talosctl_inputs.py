"""Talos policies as `talosctl get … -o yaml` prints them (SPEC §6): machineconfig (the machine
config as a string under `spec`, several nodes in one file) and imageverificationrules (one rule a
document). The fixtures in tests/talosctl/ follow talosctl's yaml output (`node:`, `metadata:`,
`spec:`, yaml.v3's four-space indent, `---` between resources)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy

FIXTURES = Path(__file__).parent / "talosctl"
TWO_NODES = (FIXTURES / "machineconfig-two-nodes.yaml").read_text()
RULES = (FIXTURES / "imageverificationrules.yaml").read_text()
LEGACY = (FIXTURES / "machineconfig-legacy-mapping.yaml").read_text()
POLICY_EQUIVALENT = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/acme/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: ^https://github\\.com/acme/
  - image: registry.acme.internal:5000/*
    skip: true
  - image: ttl.sh/*
    deny: true
"""
IMAGES = ["ghcr.io/acme/api:v1", "registry.acme.internal:5000/tools/debug:1", "ttl.sh/abc/demo:1h", "nginx:1.27"]


def found(text: str, code: str | None = None) -> list[tuple[str, str, int | None, int | None]]:
    loaded = load_policy(text, "node.yaml")
    return [(d.severity, d.message, d.line, d.column) for d in loaded.diagnostics if code is None or d.code == code]


def decisions(text: str) -> list[tuple[str, str | None]]:
    loaded = load_policy(text, "node.yaml")
    assert loaded.policy is not None
    return [(d.action, d.rule_id) for d in (loaded.policy.evaluate(i) for i in IMAGES)]


def test_rule_resources_decide_as_the_policy_they_came_from():
    loaded = load_policy(RULES, "node.yaml")
    assert loaded.dialect == "talos" and loaded.errors == 0 and loaded.warnings == 0
    assert decisions(RULES) == decisions(POLICY_EQUIVALENT) == [
        ("verify", "0000"), ("skip", "0001"), ("deny", "0002"), ("allow", None)]


def test_rule_resources_in_any_order_keep_their_ids():
    docs = RULES.split("---\n")
    assert decisions("---\n".join(reversed(docs))) == decisions(RULES)


def test_machine_config_of_two_nodes_simulates_the_first_and_warns_where_the_second_differs():
    loaded = load_policy(TWO_NODES, "node.yaml")
    assert loaded.dialect == "talos" and loaded.errors == 0
    assert loaded.policy is not None
    assert loaded.policy.evaluate("ttl.sh/abc/demo:1h").action == "deny"  # 172.20.0.2 denies, .3 skips
    assert found(TWO_NODES, "talosctl-nodes-differ") == [(
        "warning", "node 172.20.0.3's rule 0001 ('ttl.sh/*', skip) differs from node 172.20.0.2's rule 0001 "
        "('ttl.sh/*', deny); pullguard simulates node 172.20.0.2's rules", 65, 11)]
    # Mirrors come from the first node's machine config documents.
    assert loaded.mirrors == {"ghcr.io": ["http://127.0.0.1:5050"]}


def test_the_same_nodes_twice_do_not_warn():
    first = TWO_NODES.split("---\nnode: 172.20.0.3")[0]
    same = first + "---\n" + first.replace("172.20.0.2", "172.20.0.4")
    assert found(same, "talosctl-nodes-differ") == []


@pytest.mark.parametrize("case,edit,expected", [
    ("rule missing on the second node",
     lambda t: t[: t.rindex("        - image: ttl.sh/*")],
     ("node 172.20.0.3 has no rule 0001; node 172.20.0.2 has rule 0001 ('ttl.sh/*', deny); "
      "pullguard simulates node 172.20.0.2's rules", 61, 11)),
    ("extra rule on the second node",
     lambda t: t + "        - image: quay.io/*\n          deny: true\n",
     ("node 172.20.0.3 has rule 0002 ('quay.io/*', deny), which node 172.20.0.2 does not have; "
      "pullguard simulates node 172.20.0.2's rules", 67, 11)),
])
def test_node_differences_table(case, edit, expected):
    messages = [(m, line, col) for _s, m, line, col in found(edit(TWO_NODES), "talosctl-nodes-differ")]
    assert expected in messages, case


@pytest.mark.parametrize("case,edit,code,message,line,column", [
    # A finding inside the `spec: |` block points at the line and column in the talosctl file.
    ("unknown key in the machine config's rule", lambda t: t.replace("          deny: true", "          deni: true", 1),
     "unknown-key", "unknown key 'deni' in a rule", 35, 11),
    ("Talos validation inside the spec string",
     lambda t: t.replace("          deny: true", "          deny: true\n          skip: true", 1),
     "talos-skip-and-deny", "rule 1: skip and deny cannot both be true", 35, 11),
    ("YAML syntax error inside the spec string", lambda t: t.replace("    cluster:\n        clusterName: acme\n", "    cluster: [\n", 1),
     "yaml-syntax", None, 25, 5),  # at the inner `---`
])
def test_positions_inside_the_machine_config_string(case, edit, code, message, line, column):
    loaded = load_policy(edit(TWO_NODES), "node.yaml")
    hits = [d for d in loaded.diagnostics if d.code == code]
    assert hits, (case, [(d.code, d.message) for d in loaded.diagnostics])
    if message is not None:
        assert hits[0].message == message
    assert (hits[0].line, hits[0].column) == (line, column), case


def test_a_quoted_spec_string_points_at_spec():
    quoted = ('node: 10.5.0.2\nmetadata:\n    namespace: config\n    type: MachineConfigs.config.talos.dev\n'
              '    id: v1alpha1\nspec: "apiVersion: v1alpha1\\nkind: ImageVerificationConfig\\nrules:\\n'
              '  - image: a.io/*\\n    deni: true\\n"\n')
    assert found(quoted, "unknown-key") == [("error", "unknown key 'deni' in a rule", 6, 7)]


@pytest.mark.parametrize("case,edit,code,message,line,column", [
    ("unknown key in a rule resource's spec", lambda t: t.replace("    deny: true", "    deni: true", 1),
     "unknown-key", "unknown key 'deni' in a rule", 47, 5),
    ("a rule resource left out", lambda t: "---\n".join(d for d in t.split("---\n") if 'id: "0001"' not in d),
     "talosctl-rules-incomplete", "node 172.20.0.2: its rules are not 0000 to 0001 (0001): rule ids and "
     "first-match order may differ from the node's", 12, 5),
    ("a keyless verifier without issuer", lambda t: t.replace("        issuer: https://token.actions.githubusercontent.com\n", ""),
     "talos-issuer-required", "rule 0: verifier OIDC issuer must be specified", 15, 5),
])
def test_rule_resource_findings(case, edit, code, message, line, column):
    loaded = load_policy(edit(RULES), "node.yaml")
    hits = [(d.message, d.line, d.column) for d in loaded.diagnostics if d.code == code]
    assert hits and hits[0][0] == message and hits[0][1:] == (line, column), (case, hits,
                                                                            [d.code for d in loaded.diagnostics])


def test_old_talos_printed_the_first_config_document_as_a_mapping():
    # No ImageVerificationConfig in a lone v1alpha1 document: nothing to simulate, said as for any file.
    assert [c for c in (d.code for d in load_policy(LEGACY, "node.yaml").diagnostics)] == ["no-policy"]


def test_other_resources_are_not_talosctl_policies():
    roots = "node: 10.5.0.2\nmetadata:\n    type: TUFTrustedRoots.security.talos.dev\nspec:\n    jsonData: '{}'\n"
    assert [d.code for d in load_policy(roots, "roots.yaml").diagnostics] == ["no-policy"]


# The sample node (samples/troubleshooting/talosctl-*.yaml): its live rules differ from
# samples/talos/policy.yaml in one rule, the partner's key (the node still has a rotated-out one).
SAMPLES = Path(__file__).parent.parent / "samples"
SAMPLE_IMAGES = [line.split("#")[0].strip() for line in (SAMPLES / "images/images.txt").read_text().splitlines()
                 if line.split("#")[0].strip()]


def sample_decisions(name: str) -> list[tuple[str, str, str | None, object]]:
    loaded = load_policy((SAMPLES / name).read_text(), name)
    assert loaded.policy is not None and loaded.errors == 0 and loaded.warnings == 0, loaded.diagnostics
    return [(i, d.action, d.rule_id, d.verifier) for i, d in zip(SAMPLE_IMAGES, loaded.policy.evaluate_many(SAMPLE_IMAGES),
                                                                  strict=True)]


def test_the_sample_node_differs_from_the_policy_in_git_in_one_rule():
    node_config = sample_decisions("troubleshooting/talosctl-machineconfig.yaml")
    node_rules = sample_decisions("troubleshooting/talosctl-imageverificationrules.yaml")
    policy = sample_decisions("talos/policy.yaml")
    assert node_config == node_rules
    differing = {(i, rule) for (i, _a, rule, v), (_i, _b, _r, w) in zip(node_config, policy, strict=True) if v != w}
    assert differing == {("quay.io/partner/agent:v5.2.0", "0001"), ("quay.io/partner/exporter:v1.0.3", "0001")}
    mirrors = load_policy((SAMPLES / "troubleshooting/talosctl-machineconfig.yaml").read_text(),
                          str(SAMPLES / "troubleshooting/talosctl-machineconfig.yaml")).mirrors
    assert mirrors == {"ghcr.io": [f"oci:{SAMPLES / 'registry'}"], "quay.io": [f"oci:{SAMPLES / 'registry'}"]}


def run_cli(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
                           *argv], input=stdin, capture_output=True, cwd=SAMPLES, env=dict(os.environ, NO_COLOR="1"),
                          timeout=120)


@pytest.mark.parametrize("node_file", ["troubleshooting/talosctl-machineconfig.yaml",
                                       "troubleshooting/talosctl-imageverificationrules.yaml"])
@pytest.mark.parametrize("argv,stdin,code,expect", [
    (["check", "{f}", "--format", "json"], b"", 0, b'"dialect": "talos",\n  "errors": 0,\n  "warnings": 0,'),
    (["simulate", "{f}", "quay.io/partner/agent:v5.2.0", "ttl.sh/3f9c2a1e-demo:1h"], b"", 0,
     b"verification denied by matched rule (0003)"),
    (["explain", "{f}", "--format", "json"], (SAMPLES / "troubleshooting/talos-ttl.txt").read_bytes(), 0,
     b'"agrees": true'),
])
def test_the_sample_node_files_offline(node_file, argv, stdin, code, expect):
    done = run_cli(*(a.format(f=node_file) for a in argv), stdin=stdin)
    assert done.returncode == code, done.stderr
    assert expect in done.stdout


def test_the_sample_node_verifies_offline_with_its_own_trusted_root():
    """The node's talosctl outputs alone: its machine config (rules and mirrors) and its TUF root.
    The rotated-out partner key fails the partner's good image too."""
    done = run_cli("verify", "troubleshooting/talosctl-machineconfig.yaml", "--images", "images/images.txt",
                   "--trusted-root", "troubleshooting/talosctl-tuftrustedroots.yaml", "--format", "json")
    report = json.loads(done.stdout)
    assert report["summary"] == {"verified": 5, "failed": 4, "skipped": 1, "denied": 1, "allowed": 2, "error": 0}
    outcomes = {r["image"]: r["outcome"] for r in report["results"]}
    assert outcomes["quay.io/partner/agent:v5.2.0"] == "failed"


@pytest.mark.parametrize("second,error", [
    (None, None),
    ("same", None),  # several nodes with one root: that root
    ("other", "nodes 172.20.0.5, 172.20.0.6 have different trusted roots; pass one node's output"),
])
def test_tuftrustedroots_of_several_nodes(tmp_path, second, error):
    from pullguard.engine.signatures.errors import TrustedRootError
    from pullguard.engine.signatures.trust import parse_trusted_root

    one = (SAMPLES / "troubleshooting/talosctl-tuftrustedroots.yaml").read_text()
    text = one
    if second is not None:
        other = one.replace("172.20.0.5", "172.20.0.6")
        if second == "other":
            other = other.replace('"tlogs": [', '"tlogs": [], "unused": [', 1)
        text = one + "---\n" + other
    if error is None:
        root = parse_trusted_root(text.encode(), "roots.yaml")
        assert root.document == json.loads((SAMPLES / "trusted_root.json").read_text())
    else:
        with pytest.raises(TrustedRootError, match=error):
            parse_trusted_root(text.encode(), "roots.yaml")


def test_explain_points_at_the_nodes_stale_key_inside_its_machine_config():
    """The partner's image fails on the sample node: explain on the node's own output finds the
    rule, the line of its key inside the talosctl file, and says what to change."""
    done = run_cli("explain", "troubleshooting/talosctl-machineconfig.yaml", "--format", "json",
                   stdin=(SAMPLES / "troubleshooting/kubelet-agent.txt").read_bytes())
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["explanations"]
    assert (entry["image"], entry["decision"]["rule_id"], entry["agrees"]) == ("quay.io/partner/agent:v5.2.0", "0001", True)
    assert "troubleshooting/talosctl-machineconfig.yaml:33" in entry["suggestion"]
    assert "rotated its key" in entry["suggestion"]
