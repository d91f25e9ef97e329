"""pullguard convert --to kyverno-ivpol: the bundled ClusterPolicy and generated ones convert to
ImageValidatingPolicies that check clean and decide every image of a fleet the same way."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine.gobglob import compile_glob
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.ivpol.convert import compare, convert, glob_for, wildcard_regex
from pullguard.engine.policy.kyverno.evaluate import KyvernoPolicySet
from pullguard.engine.reference import kyverno_image_string

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
_KEY = ["-----BEGIN PUBLIC KEY-----", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVgGZ74ta5OT2AWZPH5iB/wVu4OcK",
        "0wlhRYC3SgMjddqf+zXZOTodBPvNtn4VgfAUXOvMqKiTvIAdRqKAYAaJjg==", "-----END PUBLIC KEY-----"]
KEY = ("\n" + " " * 22).join(_KEY)  # in a block scalar at column 23


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pullguard.tui.cli", *args], capture_output=True, text=True)


def test_the_bundled_cluster_policy_converts_to_the_bundled_image_validating_policy(tmp_path: Path) -> None:
    source = SAMPLES / "kyverno" / "cluster-policy.yaml"
    result = run("convert", str(source), "--to", "kyverno-ivpol", "--images", str(SAMPLES / "images" / "images.txt"),
                 "--images", str(SAMPLES / "images" / "pods.json"))
    assert result.returncode == 0, result.stderr
    assert "the same decisions" in result.stderr
    bundled = (SAMPLES / "kyverno" / "image-validating-policy.yaml").read_text()
    assert result.stdout.replace(str(source), "samples/kyverno/cluster-policy.yaml") in bundled
    written = tmp_path / "converted.yaml"
    written.write_text(result.stdout)
    check = run("check", str(written), "--format", "json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["errors"] == 0


def test_lossy_parts_are_warnings_with_their_line(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: lossy
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          mutateDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      {KEY}
                  annotations:
                    team: acme
          attestations:
            - type: https://slsa.dev/provenance/v0.2
              conditions:
                - all:
                    - key: "{{{{ builder.id }}}}"
                      operator: AnyIn
                      value: [x]
""")
    result = run("convert", str(policy), "--to", "kyverno-ivpol")
    assert result.returncode == 1
    assert f"{policy}:13: warning: lossy/r#0 attestations[0]: conditions are not carried over" in result.stderr
    assert '"lossy/r#0 attestations[0] conditions were not converted: write them by hand"' in result.stdout
    assert f"{policy}:23: warning: lossy/r#0: 'attestors[0].entries[0].annotations' is not carried over" in result.stderr
    written = tmp_path / "out.yaml"
    written.write_text(result.stdout)
    assert run("check", str(written)).returncode == 0


def test_not_a_kyverno_policy_is_a_usage_error() -> None:
    result = run("convert", str(SAMPLES / "talos" / "policy.yaml"), "--to", "kyverno-ivpol")
    assert result.returncode == 2 and "not a Kyverno ClusterPolicy/Policy" in result.stderr
    assert run("convert", str(SAMPLES / "kyverno" / "cluster-policy.yaml")).returncode == 2  # --to is required


def test_a_policy_without_verify_images_has_nothing_to_convert(tmp_path: Path) -> None:
    text = (SAMPLES / "kyverno" / "cluster-policy.yaml").read_text()
    path = tmp_path / "empty.yaml"
    path.write_text(text[: text.index("  rules:")] + "  rules: []\n")
    result = run("convert", str(path), "--to", "kyverno-ivpol")
    assert result.returncode == 2 and "no verifyImages entry to convert" in result.stderr and result.stdout == ""


OTHER_DOCUMENTS = [
    # documents beside the policy that convert copies as written (a mirror, anything else)
    "apiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: ghcr.io\nendpoints:\n  - url: oci:../registry\n",
    "    - name: indented\n      match: {any: []}\n    - name: second\n",  # a block sequence at column 5
    "  a: 1\n  b:\n    - c\n",  # a block mapping at column 3
    "--- {a: 1, b: [2]}\n",  # a flow mapping after the separator, on its line
    "--- !!map\nx: y\n",
]


@pytest.mark.parametrize("other", OTHER_DOCUMENTS)
def test_other_documents_are_copied_so_that_they_still_read(other: str) -> None:
    """An indented document after the policy was copied from its first item's column: the
    converted file was a YAML syntax error (found by mutating the sample policy)."""
    import yaml

    text = (SAMPLES / "kyverno" / "cluster-policy.yaml").read_text()
    text = text.split("\n---\n")[0] + ("\n" if other.startswith("---") else "\n---\n") + other
    loaded = load_policy(text, "p.yaml")
    assert not loaded.errors and isinstance(loaded.policy, KyvernoPolicySet)
    conversion = convert(loaded.policy, text, "p.yaml")
    back = load_policy(conversion.text, "converted.yaml")
    assert not back.errors, [d.message for d in back.diagnostics if d.severity == "error"]
    expected = list(yaml.safe_load_all(other.removeprefix("---")))
    assert expected[0] in list(yaml.safe_load_all(conversion.text))


# --- patterns -----------------------------------------------------------------------------------

# go-wildcard pattern -> the glob kept, or None where an expression is written instead
GLOBS = [
    ("ghcr.io/acme/*", "ghcr.io/acme/*"),
    ("registry.acme.internal:5000/*", "registry.acme.internal:5000/*"),
    ("localhost/x*", "localhost/x*"),
    ("docker.io/*", None),  # Docker Hub names are written without docker.io/
    ("nginx*", None),
    ("ghcr.io/acme/app:v1*", None),  # a tag is dropped before a digest
    ("ghcr.io/?cme/*", None),  # `?` may stand for the `:` of a tag
    ("ghcr.io/acme/app", None),  # the normalized string always has a tag
    ("ghcr.io/*/app*", None),
]


@pytest.mark.parametrize(("pattern", "glob"), GLOBS)
def test_globs_only_where_they_take_the_same_images(pattern: str, glob: str | None) -> None:
    assert glob_for(pattern) == glob


def _fleet(rng: random.Random, size: int) -> list[str]:
    hosts = ["", "docker.io/", "ghcr.io/", "quay.io/", "localhost:5000/", "registry.acme.internal:5000/", "localhost/"]
    paths = ["nginx", "library/nginx", "acme/app", "acme/api", "partner/agent", "tools/debug", "a/b/c"]
    ends = ["", ":latest", ":v1", ":1.27", "@sha256:" + "a" * 64, ":v1@sha256:" + "b" * 64]
    return [rng.choice(hosts) + rng.choice(paths) + rng.choice(ends) for _ in range(size)]


PATTERNS = ["ghcr.io/acme/*", "docker.io/*", "nginx*", "*:latest", "*/library/*", "quay.io/?artner/*", "ghcr.io/acme/app:v1",
            "*@sha256:*", "localhost:5000/*", "registry.acme.internal:5000/*", "docker.io/library/nginx:*", "*nginx*",
            "ghcr.io/acme/ap?*", "*", "docker.io/acme/*", "localhost/*", "*:v1", "ghcr.io/*/app*"]


def _generated_policy(rng: random.Random) -> str:
    rules = []
    for r in range(rng.randint(1, 3)):
        entries = []
        for _ in range(rng.randint(1, 2)):
            refs = json.dumps(rng.sample(PATTERNS, rng.randint(1, 3)))
            skips = json.dumps(rng.sample(PATTERNS, rng.randint(0, 2)))
            entries.append(f"""        - imageReferences: {refs}
          skipImageReferences: {skips}
          mutateDigest: false
          verifyDigest: {rng.choice(["true", "false"])}
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      {KEY}
""")
        rules.append(f"""    - name: rule-{r}
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
{"".join(entries)}""")
    return "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: generated\nspec:\n  rules:\n" + "".join(rules)


@pytest.mark.parametrize("seed", range(40))
def test_generated_policies_convert_with_no_differing_image(seed: int) -> None:
    rng = random.Random(seed)
    text = _generated_policy(rng)
    loaded = load_policy(text, "generated.yaml")
    assert loaded.errors == 0, loaded.diagnostics
    assert isinstance(loaded.policy, KyvernoPolicySet)
    conversion = convert(loaded.policy, text, "generated.yaml")
    assert conversion.warnings == []
    checked = load_policy(conversion.text, "converted.yaml")
    assert checked.errors == 0, [d.message for d in checked.diagnostics]
    assert compare(loaded.policy, conversion, _fleet(rng, 300)) == []


@pytest.mark.parametrize("pattern", [p for p, g in GLOBS if g is not None])
def test_kept_globs_agree_with_the_normalized_wildcard_over_a_fleet(pattern: str) -> None:
    import re

    glob = compile_glob(str(glob_for(pattern)))
    regex = re.compile(wildcard_regex(pattern))
    for image in _fleet(random.Random(7), 2000):
        assert glob.match(image) == bool(regex.match(kyverno_image_string(image))), image


def test_names_from_the_source_cannot_write_yaml_of_their_own() -> None:
    """A rule name or namespace holding a line break and YAML: one comment line, one quoted value."""
    text = f"""apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: p
  namespace: "team\\nkind: ClusterRole"
spec:
  rules:
    - name: "r\\nspec: {{}}\\n---\\nkind: Secret"
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          mutateDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      {KEY}
"""
    loaded = load_policy(text, "p.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet)
    conversion = convert(loaded.policy, text, "p.yaml")
    checked = load_policy(conversion.text, "out.yaml")
    assert checked.errors == 0, checked.diagnostics
    assert "\n---\n" not in conversion.text and "kind: Secret" not in conversion.text.replace("\\nkind: Secret", "")
    assert '  namespace: "team\\nkind: ClusterRole"' in conversion.text


def _entry_policy(attestors: str) -> str:
    return f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          mutateDigest: false
{attestors}"""


def test_an_entry_without_attestors_admits_unchecked_as_the_cluster_policy_does() -> None:
    text = _entry_policy("")
    loaded = load_policy(text, "p.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet)
    conversion = convert(loaded.policy, text, "p.yaml")
    assert "    required: false\n" in conversion.text and "  validations: []\n" in conversion.text
    assert load_policy(conversion.text, "out.yaml").errors == 0


def test_an_attestor_set_that_cannot_be_converted_fails_every_image_rather_than_none() -> None:
    text = _entry_policy("""          attestors:
            - entries:
                - certificates:
                    cert: |-
                      -----BEGIN CERTIFICATE-----
                      MIIB
                      -----END CERTIFICATE-----
""")
    loaded = load_policy(text, "p.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet)
    conversion = convert(loaded.policy, text, "p.yaml")
    assert any("certificates attestors are not carried over" in w.message for w in conversion.warnings)
    assert '    - expression: "false"\n      message: "p/r#0 attestors[0] needs 1 attestors and only 0 could be converted' \
        in conversion.text
    assert load_policy(conversion.text, "out.yaml").errors == 0


@pytest.mark.parametrize(("url", "lossy"), [("https://rekor.sigstore.dev", False), ("https://rekor.example.com", True)])
def test_a_keys_attestors_own_rekor_is_a_warning(url: str, lossy: bool) -> None:
    text = _entry_policy(f"""          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      {KEY}
                    rekor:
                      url: {url}
""")
    loaded = load_policy(text, "p.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet)
    warnings = [w.message for w in convert(loaded.policy, text, "p.yaml").warnings]
    assert warnings == (["p/r#0: 'attestors[0].entries[0].keys.rekor.url' is not carried over"] if lossy else [])


def test_the_policys_failure_policy_and_webhook_timeout_are_carried_over() -> None:
    text = _entry_policy("").replace("spec:\n  rules:", "spec:\n  failurePolicy: Ignore\n  webhookTimeoutSeconds: 15\n  rules:")
    loaded = load_policy(text, "p.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet)
    converted = convert(loaded.policy, text, "p.yaml").text
    assert "spec:\n  failurePolicy: Ignore\n  webhookConfiguration:\n    timeoutSeconds: 15\n" in converted
    assert load_policy(converted, "out.yaml").errors == 0
