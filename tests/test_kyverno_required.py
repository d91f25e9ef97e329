"""Kyverno `required` on an entry that checks nothing (no attestors, no attestations): Kyverno
admits only images its verification marked verified, so `required: true` (the default) refuses
the image and `required: false` admits it. Never a silent `verified` for a required entry."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.samples import sample_dir
from pullguard.engine.verify import VerifyOptions, verify_images

SAMPLES = sample_dir()

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: pol}}
spec:
  validationFailureAction: Enforce
  rules:
    - name: r1
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      verifyImages:
        - imageReferences: ['ghcr.io/acme/*']
          mutateDigest: false
          verifyDigest: false
{required}"""


@pytest.mark.parametrize("required,outcome,words", [
    ("", "failed", "required: the image is not verified (the entry has no attestors or attestations)"),
    ("          required: true\n", "failed", "required: the image is not verified"),
    ("          required: false\n", "verified", "no attestors to check"),
])
def test_an_entry_that_checks_nothing(required, outcome, words):
    loaded = load_policy(textwrap.dedent(POLICY.format(required=required)), "p.yaml")
    assert loaded.errors == 0, loaded.diagnostics
    options = VerifyOptions(trusted_root=str(SAMPLES / "trusted_root.json"),
                            mirrors={"ghcr.io": [f"oci:{SAMPLES / 'registry'}"]})
    (result,) = asyncio.run(verify_images(loaded, ["ghcr.io/acme/cache:v1.1.0"], options))
    assert result.outcome == outcome
    assert words in result.message
