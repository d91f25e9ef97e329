"""`pullguard diff` with Kyverno policies: Kyverno against Kyverno, and Talos against its Kyverno rewrite."""

import json

import pytest

from pullguard.tui.cli import main

ISSUER = "https://token.actions.githubusercontent.com"
APP = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
OTHER = "https://github.com/org/other/.github/workflows/release.yaml@refs/heads/main"
ORG_WILDCARD = "https://github.com/org/*"
IMAGES = ["ghcr.io/org/app:v1", "ghcr.io/org/tool:v1", "quay.io/org/db:1", "nginx:1.25"]


def entry(refs, subject=APP, skip=None):
    skip_line = f"          skipImageReferences: {json.dumps(skip)}\n" if skip else ""
    return (
        f"        - imageReferences: {json.dumps(refs)}\n{skip_line}"
        "          attestors:\n            - entries:\n                - keyless:\n"
        f"                    issuer: {ISSUER}\n                    subject: {subject}\n"
        "                    rekor: {url: https://rekor.sigstore.dev}\n"
    )


def rule(name, *entries):
    return (
        f"    - name: {name}\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n"
        "      verifyImages:\n" + "".join(entries)
    )


def kyverno(*rules, name="check-images"):
    return (
        f"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n" + "".join(rules)
    )


BASE = kyverno(rule("verify-org", entry(["ghcr.io/org/*"], skip=["ghcr.io/org/tool*"])))

# (name, new policy, {image: kind})
KYVERNO_PAIRS = [
    ("identical", BASE, {}),
    ("rule renamed", kyverno(rule("verify-github", entry(["ghcr.io/org/*"], skip=["ghcr.io/org/tool*"]))), {}),
    ("rule inserted before",
     kyverno(rule("quay", entry(["example.com/*"])), rule("verify-org", entry(["ghcr.io/org/*"], skip=["ghcr.io/org/tool*"]))), {}),
    ("subject changed", kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject=OTHER, skip=["ghcr.io/org/tool*"]))),
     {"ghcr.io/org/app:v1": "verifier-changed"}),
    ("subject widened to a wildcard",
     kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject=ORG_WILDCARD, skip=["ghcr.io/org/tool*"]))),
     {"ghcr.io/org/app:v1": "verifier-weakened"}),
    ("subject wildcard on another organisation",
     kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject="https://github.com/other/*", skip=["ghcr.io/org/tool*"]))),
     {"ghcr.io/org/app:v1": "verifier-changed"}),
    ("skip removed", kyverno(rule("verify-org", entry(["ghcr.io/org/*"]))), {"ghcr.io/org/tool:v1": "newly-requires-verification"}),
    ("skip widened", kyverno(rule("verify-org", entry(["ghcr.io/org/*"], skip=["ghcr.io/org/*"]))),
     {"ghcr.io/org/app:v1": "newly-unverified", "ghcr.io/org/tool:v1": "other-rule"}),
    ("second rule also applies",
     kyverno(rule("verify-org", entry(["ghcr.io/org/*"], skip=["ghcr.io/org/tool*"])),
             rule("quay", entry(["quay.io/*", "ghcr.io/org/app*"], subject=OTHER))),
     {"ghcr.io/org/app:v1": "other-rule", "quay.io/org/db:1": "newly-requires-verification"}),
]


@pytest.fixture
def write(tmp_path):
    def make(name, text):
        path = tmp_path / name
        path.write_text(text)
        return path

    return make


def diff(capsys, old, new):
    code = main(["diff", str(old), str(new), *IMAGES, "--format", "json"])
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    return code, {c["image"]: c["kind"] for c in doc["changes"]}, doc


@pytest.mark.parametrize("name,new,changed", KYVERNO_PAIRS, ids=[p[0] for p in KYVERNO_PAIRS])
def test_kyverno_pairs(write, capsys, name, new, changed):
    code, got, doc = diff(capsys, write("old.yaml", BASE), write("new.yaml", new))
    assert got == changed
    assert doc["unchanged"] == len(IMAGES) - len(changed)
    assert code == (1 if changed else 0)


TALOS = f"""\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "ghcr.io/org/tool*"
    skip: true
  - image: "ghcr.io/org/*"
    keyless:
      issuer: {ISSUER}
      subject: {APP}
"""

# (name, Kyverno rewrite, {image: kind}) — the Talos policy is the old one.
CROSS = [
    ("faithful rewrite", BASE, {}),
    ("rewrite with another subject", kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject=OTHER, skip=["ghcr.io/org/tool*"]))),
     {"ghcr.io/org/app:v1": "verifier-changed"}),
    ("rewrite with a wildcard subject",
     kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject=ORG_WILDCARD, skip=["ghcr.io/org/tool*"]))),
     {"ghcr.io/org/app:v1": "verifier-weakened"}),
    ("rewrite forgets the skip", kyverno(rule("verify-org", entry(["ghcr.io/org/*"]))),
     {"ghcr.io/org/tool:v1": "newly-requires-verification"}),
    ("rewrite covers quay too", kyverno(rule("verify-org", entry(["ghcr.io/org/*", "quay.io/*"], skip=["ghcr.io/org/tool*"]))),
     {"quay.io/org/db:1": "newly-requires-verification"}),
]


@pytest.mark.parametrize("name,new,changed", CROSS, ids=[c[0] for c in CROSS])
def test_talos_against_kyverno_rewrite(write, capsys, name, new, changed):
    code, got, doc = diff(capsys, write("talos.yaml", TALOS), write("kyverno.yaml", new))
    assert got == changed
    assert code == (1 if changed else 0)


def test_cross_dialect_text_says_how_rules_are_compared(write, capsys):
    code = main(["diff", str(write("talos.yaml", TALOS)), str(write("kyverno.yaml", BASE)), *IMAGES])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines() == [
        "comparing a talos policy with a kyverno policy: rules compared by action and verifier",
        "0 changed, 4 unchanged",
    ]


def test_kyverno_change_names_the_applying_rules(write, capsys):
    new = kyverno(rule("verify-org", entry(["ghcr.io/org/*"], subject=OTHER, skip=["ghcr.io/org/tool*"])))
    code = main(["diff", str(write("old.yaml", BASE)), str(write("new.yaml", new)), *IMAGES])
    out, _ = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[:2] == [
        "verifier changed (neither wider nor narrower) (1):",
        f"  ghcr.io/org/app:v1: verify by check-images/verify-org [keyless {ISSUER} {APP}] -> "
        f"verify by check-images/verify-org [keyless {ISSUER} {OTHER}]",
    ]
