"""`load_policy(errors_only=True)` (what simulate loads) refuses exactly what a full load
refuses: the same error diagnostics and the same decisions, only the warnings may be left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.simulate import simulate

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

MIXED = """apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: 'ghcr.io/acme/*'
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: '^https://github\\.com/(?=acme)/'
  - image: 'ghcr.io/acme/app'
    skip: true
  - image: 'docker.io/library/nginx'
    publicKey:
      certificate: not a key
  - image: '*.mirror.internal/*'
    skip: true
  - image: 'ghcr.io/acme/*'
    deny: true
  - image: 'ghcr.io/acme/*'
    deny: true
    deny: false
"""

KYVERNO_MIXED = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: mixed}
spec:
  validationFailureAction: Enforce
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ['nginx', 'index.docker.io/acme/*', 'ghcr.io/acme/*']
          skipImageReferences: ['docker.io/library/*']
          attestors: [{entries: [{keyless: {issuer: https://x, subject: 'https://github.com/acme/*',
                                             subjectRegExp: '(', rekor: {url: https://rekor.sigstore.dev}}}]}]
        - imageReferences: ['acme/*']
          attestors: [{entries: [{keyless: {issuer: https://x, subject: s}}]}]
"""

CASES = [pytest.param(MIXED, id="errors-and-warnings"), pytest.param(KYVERNO_MIXED, id="kyverno-errors-and-warnings")] + [
    pytest.param(path.read_text(), id=path.name)
    for path in [*sorted((SAMPLES / "talos").glob("*.yaml")), SAMPLES / "kyverno" / "cluster-policy.yaml"]]
IMAGES = ["ghcr.io/acme/app:v1", "nginx", "eu.mirror.internal/x/y", "quay.io/other/app@sha256:" + "a" * 64, "Bad:Ref"]


def errors(loaded):
    return [(d.code, d.message, d.line, d.column, d.rule_index) for d in loaded.diagnostics if d.severity == "error"]


@pytest.mark.parametrize("text", CASES)
def test_errors_only_refuses_what_a_full_load_refuses(text: str) -> None:
    full, lean = load_policy(text, "p.yaml"), load_policy(text, "p.yaml", errors_only=True)
    assert errors(lean) == errors(full)
    assert (lean.dialect, lean.errors) == (full.dialect, full.errors)
    if full.policy is not None:
        assert simulate(lean, IMAGES) == simulate(full, IMAGES)


def test_the_mixed_policy_has_both_kinds() -> None:
    full, lean = load_policy(MIXED, "p.yaml"), load_policy(MIXED, "p.yaml", errors_only=True)
    assert {"re2-invalid-regex", "invalid-public-key", "duplicate-key"} <= {code for code, *_ in errors(full)}
    assert full.warnings > 0 and lean.warnings == 0


def test_the_kyverno_mixed_policy_has_both_kinds() -> None:
    full, lean = load_policy(KYVERNO_MIXED, "p.yaml"), load_policy(KYVERNO_MIXED, "p.yaml", errors_only=True)
    assert {"invalid-regex", "kyverno-keyless-rekor-or-roots"} <= {code for code, *_ in errors(full)}
    found = {d.code for d in full.diagnostics if d.severity == "warning"}
    assert {"kyverno-pattern-never-matches", "kyverno-pattern-docker-host"} <= found
    assert not {"kyverno-pattern-never-matches", "kyverno-pattern-docker-host"} & {d.code for d in lean.diagnostics}
