"""YAML alias bombs, everywhere YAML is read: policies, image lists, PolicyTest files.

A few hundred bytes of nested aliases expand to billions of nodes for any walker that reads
the tree as a tree. pullguard refuses a document whose aliases expand past its limit, with the
limit and the anchor's line in the message, before any walker runs. Bounds are sizes: the peak
memory of a `pullguard` process, measured with getrusage in a fresh parent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.yamlsource import ALIAS_EXPANSION_LIMIT, compose

# Ten Lists of ten Lists ... of a Pod: 10^9 containers once expanded, in under 700 bytes.
IMAGES_BOMB = (
    "p: &p {kind: Pod, spec: {containers: [{name: c, image: nginx}]}}\n"
    + "".join(f"l{n}: &l{n} {{kind: List, items: [{','.join([f'*{prev}'] * 10)}]}}\n"
              for n, prev in zip(range(1, 9), ["p"] + [f"l{n}" for n in range(1, 8)], strict=True))
    + "kind: List\nitems: [" + ",".join(["*l8"] * 10) + "]\n"
)

# Kyverno attestor sets nested through aliases: each level holds ten of the one below.
_ATTESTOR = "{keyless: {issuer: https://i, subject: s, rekor: {url: https://rekor.sigstore.dev}}}"
POLICY_BOMB = (
    "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: bomb\n"
    f"x0: &a0 {{count: 1, entries: [{_ATTESTOR}]}}\n"
    + "".join(f"x{n}: &a{n} {{count: 1, entries: [{', '.join([f'{{attestor: *a{n - 1}}}'] * 10)}]}}\n"
              for n in range(1, 7))
    + "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
    "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
    "    verifyImages:\n    - imageReferences: ['*']\n      mutateDigest: false\n"
    "      attestors: [" + ", ".join(["*a6"] * 10) + "]\n"
)

TALOS_BOMB = (
    "apiVersion: v1alpha1\nkind: ImageVerificationConfig\n"
    "x0: &r0 {image: 'ghcr.io/*', skip: true}\n"
    + "".join(f"x{n}: &r{n} [{', '.join([f'*r{n - 1}'] * 10)}]\n" for n in range(1, 8))
    + "rules: *r7\n"
)

POLICYTEST_BOMB = (
    "apiVersion: pullguard.dev/v1alpha1\nkind: PolicyTest\npolicy: policy.yaml\n"
    "c0: &c0 {image: nginx, action: allow}\n"
    + "".join(f"c{n}: &c{n} [{', '.join([f'*c{n - 1}'] * 10)}]\n" for n in range(1, 8))
    + "cases: *c7\n"
)

SMALL_POLICY = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: 'ghcr.io/*'\n    skip: true\n"


def _peak_rss_run(args: list[str], cwd: Path, stdin: str | None = None) -> tuple[subprocess.CompletedProcess, int]:
    """Run `pullguard ARGS` under a fresh parent that reports the child's peak RSS (KiB), with
    a 2 GiB address-space cap so an unbounded expansion fails instead of taking the machine."""
    wrapper = (
        "import resource, subprocess, sys, json\n"
        "def cap():\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "code = 'import sys; from pullguard.tui.cli import main; sys.exit(main())'\n"
        "p = subprocess.run([sys.executable, '-c', code, *sys.argv[1:]], preexec_fn=cap,\n"
        "                   capture_output=True, text=True, input=sys.stdin.read())\n"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout[-4000:], 'err': p.stderr[-4000:],\n"
        "                  'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin or "", timeout=300)
    report = json.loads(done.stdout)
    return subprocess.CompletedProcess(args, report["rc"], report["out"], report["err"]), report["rss"]


def test_the_bombs_are_small():
    assert len(IMAGES_BOMB) < 700
    assert len(POLICY_BOMB) < 2000


# (what, files to write, command, exit code, text that must appear in stdout+stderr)
CLI_CASES = [
    ("images list", {"policy.yaml": SMALL_POLICY, "images.yaml": IMAGES_BOMB},
     ["simulate", "policy.yaml", "--images", "images.yaml"], 2, "yaml-alias-limit|YAML aliases expand"),
    ("images on stdin", {"policy.yaml": SMALL_POLICY}, ["simulate", "policy.yaml", "--images", "-"], 2,
     "YAML aliases expand"),
    ("kyverno policy", {"policy.yaml": POLICY_BOMB}, ["check", "policy.yaml"], 1, "YAML aliases expand"),
    ("talos policy", {"policy.yaml": TALOS_BOMB}, ["check", "policy.yaml"], 1, "YAML aliases expand"),
    ("kyverno simulate", {"policy.yaml": POLICY_BOMB}, ["simulate", "policy.yaml", "nginx"], 2, "YAML aliases expand"),
    ("policy test", {"policy.yaml": SMALL_POLICY, "t.yaml": POLICYTEST_BOMB}, ["test", "t.yaml"], 2,
     "YAML aliases expand"),
]


@pytest.mark.parametrize("what,files,args,code,needle", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_alias_bombs_are_refused_with_bounded_memory(tmp_path, what, files, args, code, needle):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    stdin = IMAGES_BOMB if "-" in args else None
    done, peak_kib = _peak_rss_run(args, tmp_path, stdin)
    shown = done.stdout + done.stderr
    assert done.returncode == code, shown
    assert any(n in shown for n in needle.split("|")), shown
    assert "Traceback" not in shown
    assert f"{ALIAS_EXPANSION_LIMIT:,}" in shown  # the message names the limit
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


# (document, refused?, line of the diagnostic)
COMPOSE_CASES = [
    (IMAGES_BOMB, True, 9),  # the anchor used most: l8, written on line 9
    (POLICY_BOMB, True, 11),
    ("a: &a [*a]\n", True, 1),  # an alias inside its own anchor
    ("a: &a {b: &b [*a]}\n", True, 1),
    # legitimate reuse is never refused: one anchor used 5,000 times
    ("base: &k {issuer: https://i, subject: s}\nrules:\n" + "".join("- *k\n" for _ in range(5000)), False, None),
    ("plain: [1, 2, 3]\n", False, None),
]


@pytest.mark.parametrize("text,refused,line", COMPOSE_CASES,
                         ids=["images-bomb", "policy-bomb", "self-alias", "nested-self-alias", "reuse", "plain"])
def test_compose_refuses_documents_whose_aliases_expand_too_far(text, refused, line):
    docs, problem = compose(text)
    if not refused:
        assert problem is None and len(docs) == 1
        return
    assert problem is not None and problem.code == "yaml-alias-limit"
    assert problem.line == line
    assert docs == []


def test_a_bomb_after_a_good_document_keeps_the_good_one():
    docs, problem = compose(SMALL_POLICY + "---\n" + TALOS_BOMB)
    assert problem is not None and problem.line is not None and problem.line > 5
    assert len(docs) == 1


def test_policy_diagnostic_names_the_limit_and_line():
    loaded = load_policy(POLICY_BOMB, "bomb.yaml")
    (diag,) = [d for d in loaded.diagnostics if d.code == "yaml-alias-limit"]
    assert diag.severity == "error"
    assert diag.line == 11 and diag.column is not None
    assert f"{ALIAS_EXPANSION_LIMIT:,}" in diag.message
