"""Kyverno ImageValidatingPolicy: loading with the CRD's rules, CEL compiled with positions,
matching as written, simulate/explain/outline (SPEC §4b)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.ivpol import IvpolPolicySet, IvpolRequirements
from pullguard.engine.policy.ivpol.expressions import CelRuntimeError, compile_expression, match_env, policy_env
from pullguard.engine.policy.ivpol.verification import AttestorCheck, attestors_to_check, run

KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVgGZ74ta5OT2AWZPH5iB/wVu4OcK
0wlhRYC3SgMjddqf+zXZOTodBPvNtn4VgfAUXOvMqKiTvIAdRqKAYAaJjg==
-----END PUBLIC KEY-----"""


def policy(spec: str = "", *, api: str = "policies.kyverno.io/v1", kind: str = "ImageValidatingPolicy",
           name: str = "check-images", globs: tuple[str, ...] = ("ghcr.io/acme/*",), validations: str | None = None) -> str:
    """A valid policy (a cosign key attestor, one validation); `spec` lines are appended to spec."""
    refs = "".join(f"    - glob: {json.dumps(g)}\n" for g in globs)
    key = textwrap.indent(KEY, " " * 12)
    validations = validations if validations is not None else (
        "  validations:\n"
        "    - expression: >-\n"
        "        images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)\n"
        "      message: failed the image signature verification\n")
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
            "  matchConstraints:\n    resourceRules:\n"
            "      - apiGroups: ['']\n        apiVersions: [v1]\n        operations: [CREATE, UPDATE]\n        resources: [pods]\n"
            + ("  matchImageReferences:\n" + refs if globs else "")
            + "  attestors:\n    - name: cosign\n      cosign:\n        key:\n          data: |\n" + key + "\n"
            + validations + spec)


def errors(text: str) -> list[tuple[str, str, int | None, int | None]]:
    loaded = load_policy(text, "p.yaml")
    return [(d.code, d.message, d.line, d.column) for d in loaded.diagnostics if d.severity == "error"]


def test_a_valid_policy_loads_as_the_third_dialect() -> None:
    for api in ("policies.kyverno.io/v1", "policies.kyverno.io/v1beta1"):
        for kind in ("ImageValidatingPolicy", "NamespacedImageValidatingPolicy"):
            loaded = load_policy(policy(api=api, kind=kind), "p.yaml")
            assert loaded.dialect == "kyverno-ivpol"
            assert loaded.errors == 0, loaded.diagnostics
            assert isinstance(loaded.policy, IvpolPolicySet)


# (spec lines appended or a whole text, expected code, words of the message, line, column)
SCHEMA_CASES = [
    ("  failurPolicy: Fail\n", "unknown-key", "unknown key 'failurPolicy' in spec", 27, 3),
    ("  validationConfigurations:\n    verifyDigets: false\n", "unknown-key",
     "unknown key 'verifyDigets' in validationConfigurations", 28, 5),
    ("  failurePolicy: Never\n", "ivpol-unsupported-value",
     'spec.failurePolicy: Unsupported value: "Never": supported values: "Ignore", "Fail"', 27, 18),
    ("  validationActions: [Deny, Block]\n", "ivpol-unsupported-value",
     'spec.validationActions: Unsupported value: "Block"', 27, 22),
    ("  validationConfigurations:\n    required: maybe\n", "wrong-type", "'required' must be true or false", 28, 15),
    ("  variables:\n    - expression: 'true'\n", "ivpol-required", "spec.variables[0].name: Required value", 28, 7),
    ("  attestations:\n    - intoto: {type: x}\n", "ivpol-required", "spec.attestations[0].name: Required value", 28, 7),
    ("  matchImageReferences2: []\n", "unknown-key", "did-you-mean", 27, 3),
]


@pytest.mark.parametrize(("extra", "code", "words", "line", "column"), SCHEMA_CASES)
def test_the_crd_schema(extra: str, code: str, words: str, line: int, column: int) -> None:
    text = policy(extra)
    found = [e for e in errors(text) if e[0] == code]
    assert found, errors(text)
    if words == "did-you-mean":
        diagnostic = next(d for d in load_policy(text, "p.yaml").diagnostics if d.code == code)
        assert diagnostic.fix == "did you mean 'matchImageReferences'?"
    else:
        assert words in found[0][1]
    assert found[0][2:] == (line, column)


# whole-document cases: (text, code, words)
DOCUMENT_CASES = [
    (policy().replace("  attestors:", "  attestorz:"), "ivpol-required", "spec.attestors: Required value"),
    (policy(validations=""), "ivpol-required", "spec.validations: Required value"),
    (policy().replace("  name: check-images\n", ""), "ivpol-name-required", "metadata.name: Required value"),
    (policy(api="policies.kyverno.io/v2"), "ivpol-api-version",
     'no matches for kind "ImageValidatingPolicy" in version "policies.kyverno.io/v2"'),
    (policy().replace("      cosign:\n        key:", "      notary: {certs: {value: x}}\n      cosign:\n        key:"),
     "ivpol-one-of", "spec.attestors[0]: exactly one of cosign or notary must be set"),
    (policy().replace("  matchConstraints:\n    resourceRules:\n", "  matchConstraints:\n    resourceRulez:\n"),
     "ivpol-match-constraints", "a matchConstraints with at least one resource rule is required"),
    (policy().replace("- glob: \"ghcr.io/acme/*\"", "- {glob: a, expression: 'true'}"),
     "ivpol-one-of", "spec.matchImageReferences[0]: exactly one of glob or expression must be set"),
    (policy().replace("      cosign:\n        key:\n", "      cosign:\n        kee:\n"),
     "ivpol-cosign-verifier", "spec.attestors[0].cosign: one of key, keyless or certificate must be set"),
]


@pytest.mark.parametrize(("text", "code", "words"), DOCUMENT_CASES)
def test_document_rules(text: str, code: str, words: str) -> None:
    assert any(c == code and words in m for c, m, _, _ in errors(text)), errors(text)


# CEL errors at their column inside the YAML (a call is at its `(`, as in cel-go): (validations, words, line, column)
CEL_CASES = [
    ("    - expression: images.containers.all(i, i.nope())\n", "undeclared reference to 'nope'", 24, 50),  # a call: at its `(`
    ("    - expression: \"images.containers.size() +\"\n", "Syntax error", 24, 46),
    ("    - expression: 'images.containers.size()'\n", "output is expected to be of type bool", 24, 20),
    ("    - expression: |\n        images.containers.all(i,\n          i.startsWith(1))\n",
     "found no matching overload for 'startsWith'", 26, 23),
    ("    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.cosgn]) > 0)\n",
     "attestor 'cosgn' is not declared in spec.attestors", 24, 80),
    ("    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom, []) > 0)\n",
     "attestation 'sbom' is not declared in spec.attestations", 24, 88),
    ("    - expression: 'true'\n      messageExpression: '1'\n", "output is expected to be of type string", 25, 27),
    ("    - expression: variables.missing\n", "undeclared reference to 'variables.missing'", 24, 28),
]


@pytest.mark.parametrize(("validations", "words", "line", "column"), CEL_CASES)
def test_cel_errors_at_their_column(validations: str, words: str, line: int, column: int) -> None:
    found = [e for e in errors(policy(validations="  validations:\n" + validations))
             if e[0] in ("ivpol-cel", "ivpol-unknown-reference")]
    assert found and words in found[0][1], found
    assert found[0][2:] == (line, column)


# glob, gobwas's words, column in the pattern (the pattern starts at column 14, after `- glob: "`)
GLOB_CASES = [
    ("ghcr.io/[acme", "unexpected end of input", 14),
    ("[b-a]", "hi character 'a' should be greater than lo 'b'", 4),
    ("x[]", "could not parse range", 2),
]


@pytest.mark.parametrize(("glob", "words", "column"), GLOB_CASES)
def test_glob_errors_at_their_column(glob: str, words: str, column: int) -> None:
    found = [e for e in errors(policy(globs=(glob,))) if e[0] == "ivpol-glob"]
    assert found == [("ivpol-glob", f'spec.matchImageReferences[0].glob: Invalid value: "{glob}": {words}', 13, 13 + column)]


def test_variables_are_typed_by_their_expression_and_seen_by_later_ones() -> None:
    text = policy("  variables:\n    - name: registry\n      expression: \"'ghcr.io'\"\n"
                  "    - name: ok\n      expression: images.containers.all(i, i.startsWith(variables.registry))\n",
                  validations="  validations:\n    - expression: variables.ok\n")
    assert errors(text) == []


# --- simulate ---------------------------------------------------------------------------------

# globs, image, action (gobwas on the string as written: no normalization)
DECISIONS = [
    (("ghcr.io/acme/*",), "ghcr.io/acme/app:v1", "verify"),
    (("ghcr.io/acme/*",), "ghcr.io/other/app:v1", "allow"),
    (("docker.io/*",), "nginx", "allow"),
    (("docker.io/*",), "docker.io/library/nginx:1.25", "verify"),
    (("nginx*",), "nginx:1.25", "verify"),
    (("*.example.com/*",), "eu.example.com/app", "verify"),
    (("ghcr.io/{acme,corp}/*",), "ghcr.io/corp/x", "verify"),
    (("ghcr.io/[!a]*",), "ghcr.io/acme/x", "allow"),
    (("ghcr.io/?cme/*",), "ghcr.io/acme/x", "verify"),
    ((), "anything/at:all", "verify"),  # no matchImageReferences: every image
]


@pytest.mark.parametrize(("globs", "image", "action"), DECISIONS)
def test_simulate_decisions(globs: tuple[str, ...], image: str, action: str) -> None:
    loaded = load_policy(policy(globs=globs), "p.yaml")
    assert loaded.policy is not None
    decision = loaded.policy.evaluate(image)
    assert decision.action == action
    assert decision.match_subject == image
    if action == "verify":
        assert decision.rule_id == "check-images"
        assert decision.rules == [{"policy": "check-images", "rule": None, "entry": 0 if globs else None,
                                   "action": "verify", "validations": [
                                       "images.containers.map(image, verifyImageSignatures(image, [attestors.cosign]))"
                                       ".all(e, e > 0)"]}]
        assert isinstance(decision.requirements, IvpolRequirements)
        assert decision.verifier is not None and decision.verifier.to_json()["type"] == "public_key"
    else:
        assert decision.message == "no matched policy" and decision.rules == []


def test_every_applying_policy_is_listed() -> None:
    text = policy(name="first", globs=("ghcr.io/*",)) + "---\n" + policy(name="second", globs=("*/acme/*",))
    loaded = load_policy(text, "p.yaml")
    assert loaded.errors == 0 and loaded.policy is not None
    decision = loaded.policy.evaluate("ghcr.io/acme/app")
    assert [r["policy"] for r in decision.rules or []] == ["first", "second"]
    assert decision.rule_id == "first" and decision.message.startswith("verification required by first and 1 more")
    assert [o.rule_id for o in loaded.policy.outline()] == ["first", "second"]
    trials = loaded.policy.explain("docker.io/acme/app")
    assert [(t.rule_id, t.matched) for t in trials] == [("first", False), ("second", True)]
    assert "glob '*/acme/*' takes 'docker.io/acme/app'" in trials[1].reason


def test_match_expressions_see_ref() -> None:
    loaded = load_policy(policy(globs=()).replace(
        "  attestors:", "  matchImageReferences:\n    - expression: \"image(ref).registry() == 'ghcr.io'\"\n  attestors:"),
        "p.yaml")
    assert loaded.errors == 0, loaded.diagnostics
    assert loaded.policy is not None
    assert loaded.policy.evaluate("ghcr.io/acme/app:v1").action == "verify"
    assert loaded.policy.evaluate("quay.io/acme/app:v1").action == "allow"


def test_a_glob_that_gobwas_would_crash_on_is_an_error_decision() -> None:
    loaded = load_policy(policy(globs=("a{,}",)), "p.yaml")
    assert loaded.policy is not None
    decision = loaded.policy.evaluate("a")
    assert decision.action == "verify" and decision.error is not None and "panics" in decision.error


# --- the image library (kyverno/sdk extensions/cel/libs/image) ---------------------------------

IMAGE_FUNCTIONS = [
    ("image('nginx').registry()", "index.docker.io"),
    ("image('nginx').repository()", "library/nginx"),
    ("image('nginx').tag()", "latest"),
    ("image('ghcr.io/a/b:v1').identifier()", "v1"),
    (f"image('ghcr.io/a/b@sha256:{'a' * 64}').digest()", "sha256:" + "a" * 64),
    (f"image('ghcr.io/a/b:v1@sha256:{'a' * 64}').tag()", ""),  # a digest reference has no tag
    ("string(image('localhost:5000/x/y:t').containsDigest())", "false"),
    ("string(isImage('UPPER/case'))", "false"),
    ("parseImageReference('ghcr.io/a/b:v1').repository()", "a/b"),
]


@pytest.mark.parametrize(("expression", "value"), IMAGE_FUNCTIONS)
def test_image_functions(expression: str, value: str) -> None:
    compiled = compile_expression(match_env(), expression, "string")
    assert not hasattr(compiled, "message"), compiled
    assert compiled.evaluate({"ref": "x"}) == value  # type: ignore[union-attr]


def test_a_runtime_error_is_raised_not_returned() -> None:
    compiled = compile_expression(policy_env(), "images.containers.size() > 0", "bool")
    with pytest.raises(CelRuntimeError, match="containers"):
        compiled.evaluate({"images": {}})  # type: ignore[union-attr]
    compiled = compile_expression(policy_env(), "images.containers.all(i, verifyImageSignatures(i, []) > 0)", "bool")
    with pytest.raises(CelRuntimeError, match="only when verifying"):
        compiled.evaluate({"images": {"containers": ["a"]}})  # type: ignore[union-attr]


def test_cli_check_and_simulate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ivpol.yaml"
    path.write_text(policy())
    check = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "check", str(path), "--format", "json"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["dialect"] == "kyverno-ivpol"
    run = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "simulate", str(path), "ghcr.io/acme/app:v1", "nginx",
                          "--format", "json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert [r["action"] for r in json.loads(run.stdout)["results"]] == ["verify", "allow"]


# --- verification, from attestor checks (engine.verify makes the checks against the registry) ---


DIGEST = "@sha256:" + "a" * 64


def _requirements(text: str, image: str) -> IvpolRequirements:
    loaded = load_policy(text, "p.yaml")
    assert loaded.errors == 0, loaded.diagnostics
    assert loaded.policy is not None
    requirements = loaded.policy.evaluate(image).requirements
    assert isinstance(requirements, IvpolRequirements)
    return requirements


def _checks(requirements: IvpolRequirements, check: AttestorCheck) -> dict[tuple[int, str], AttestorCheck]:
    return {(p.index, name): check for p, name in attestors_to_check(requirements)}


SIGNED = AttestorCheck(True, "verified via bundle", evidence="evidence")
UNSIGNED = AttestorCheck(False, "no valid signature found")
FAULT = AttestorCheck(False, "registry ghcr.io: connection refused", fault=True)
NO_DIGEST_CHECK = "  validationConfigurations:\n    mutateDigest: false\n"

# (extra spec, validations (None: the default), image, check, outcome, words of the message)
VERDICTS = [
    ("", None, "ghcr.io/acme/app:v1", SIGNED, "verified", "verified via bundle; 1 validation of check-images true"),
    ("", None, "ghcr.io/acme/app:v1", UNSIGNED, "failed", "check-images: failed the image signature verification"),
    ("", None, "ghcr.io/acme/app:v1", FAULT, "error", "connection refused"),
    ("", "  validations:\n    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.cosign]) > 0)\n"
         "      messageExpression: \"'unsigned: ' + images.containers[0]\"\n",
     "ghcr.io/acme/app:v1", UNSIGNED, "failed", "check-images: unsigned: ghcr.io/acme/app:v1"),
    ("", "  validations:\n    - expression: \"false\"\n", "ghcr.io/acme/app:v1", SIGNED, "failed",
     "CEL expression validation failed at index 0"),
    # validationConfigurations.required (default true): Kyverno's EnforceRequired after the validations
    ("", "  validations:\n    - expression: \"true\"\n", "ghcr.io/acme/app:v1", SIGNED, "failed",
     "image ghcr.io/acme/app:v1 is not verified: no policy performed a signature or attestation check on it"),
    ("", "  validations:\n    - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.cosign]) >= 0)\n",
     "ghcr.io/acme/app:v1", UNSIGNED, "failed", "image ghcr.io/acme/app:v1 failed signature or attestation verification"),
    ("  validationConfigurations:\n    required: false\n", "  validations:\n    - expression: \"true\"\n",
     "ghcr.io/acme/app:v1", SIGNED, "verified", "verified: 1 validation of check-images true"),
    ("", "  validations:\n    - expression: images.containers[3] == 'x'\n", "ghcr.io/acme/app:v1", SIGNED, "error",
     "validation 0 (line 24)"),
    ("", "  attestations:\n    - name: sbom\n      intoto: {type: https://cyclonedx.org/bom}\n"
         "  validations:\n    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom,"
         " [attestors.cosign]) > 0)\n", "ghcr.io/acme/app:v1", SIGNED, "error", "not verified by pullguard: attestation"),
    # an answer that does not depend on the unknown count is CEL's, as in Kyverno; but `required`
    # then needs the check that pullguard could not answer
    ("  validationConfigurations:\n    required: false\n",
     "  validations:\n    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom,"
     " [attestors.cosign]) > 0 || true)\n  attestations:\n    - name: sbom\n      intoto: {type: x}\n",
     "ghcr.io/acme/app:v1", UNSIGNED, "verified", "verified"),
    ("", "  validations:\n    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom,"
         " [attestors.cosign]) > 0 || true)\n  attestations:\n    - name: sbom\n      intoto: {type: x}\n",
     "ghcr.io/acme/app:v1", UNSIGNED, "error", "validationConfigurations.required: not verified by pullguard: attestation"),
    # verifyDigest without mutateDigest: a tag reference fails as Kyverno's checkDigests fails it
    (NO_DIGEST_CHECK, None, "ghcr.io/acme/app:v1", SIGNED, "failed", "image ghcr.io/acme/app:v1 does not have a digest"),
    (NO_DIGEST_CHECK, None, "ghcr.io/acme/app" + DIGEST, SIGNED, "verified", "verified"),
    ("  variables:\n    - name: signed\n      expression: images.containers.all(i, verifyImageSignatures(i, [attestors.cosign]) > 0)\n",
     "  validations:\n    - expression: variables.signed\n      message: not signed\n",
     "ghcr.io/acme/app:v1", UNSIGNED, "failed", "check-images: not signed"),
]


@pytest.mark.parametrize(("extra", "validations", "image", "check", "outcome", "words"), VERDICTS)
def test_verdicts(extra: str, validations: str | None, image: str, check: AttestorCheck, outcome: str, words: str) -> None:
    requirements = _requirements(policy(extra, validations=validations), image)
    verdict = run(requirements, _checks(requirements, check), has_digest="@" in image)
    assert (verdict.outcome, words in verdict.message) == (outcome, True), verdict
    if outcome == "verified" and check is SIGNED and "verifyImageSignatures" in (validations or "verifyImageSignatures"):
        assert verdict.evidence == "evidence"


def test_an_attestor_pullguard_cannot_verify_is_an_error_not_a_count() -> None:
    text = policy().replace("      cosign:\n        key:\n", "      cosign:\n        source: {PullSecrets: [{name: r}]}\n        key:\n")
    requirements = _requirements(text, "ghcr.io/acme/app:v1")
    verdict = run(requirements, _checks(requirements, SIGNED), has_digest=False)
    assert verdict.outcome == "error"
    assert "not verified by pullguard: attestor 'cosign': cosign.source.PullSecrets" in verdict.message


def test_every_applying_policy_must_pass() -> None:
    text = policy(name="first", globs=("ghcr.io/*",)) + "---\n" + policy(
        name="second", globs=("*/acme/*",), validations="  validations:\n    - expression: \"false\"\n      message: no\n")
    requirements = _requirements(text, "ghcr.io/acme/app:v1")
    verdict = run(requirements, _checks(requirements, SIGNED), has_digest=False)
    assert (verdict.outcome, verdict.message) == ("failed", "second: no")
    assert [(t.policy, t.value) for t in verdict.trials] == [("first", True), ("second", False)]


def test_kyvernos_cluster_libraries_are_a_warning_and_an_error_only_when_needed() -> None:
    """resource.get, globalContext.get, http and image.GetMetadata reach the cluster or the network:
    a policy using them checks (as in Kyverno), and verification says pullguard cannot answer."""
    text = policy("  variables:\n    - name: cm\n      expression: resource.get('v1', 'configmaps', 'default', 'keys')\n",
                  validations="  validations:\n    - expression: variables.cm.data.ok == 'true'\n")
    loaded = load_policy(text, "p.yaml")
    assert loaded.errors == 0, loaded.diagnostics
    assert "ivpol-cel-library" in [d.code for d in loaded.diagnostics if d.severity == "warning"]
    requirements = _requirements(text, "ghcr.io/acme/app:v1")
    verdict = run(requirements, _checks(requirements, SIGNED), has_digest=False)
    assert verdict.outcome == "error" and "not verified by pullguard: Kyverno's resource library" in verdict.message
    # a real mistake next to a library call is still an error
    assert any(c == "ivpol-cel" for c, *_ in errors(policy(
        validations="  validations:\n    - expression: resource.get('v1', 'pods', 'a', 'b') != null && nope\n")))


def test_a_json_mode_policy_needs_no_match_constraints() -> None:
    text = policy("  evaluation:\n    mode: JSON\n").replace("  matchConstraints:\n    resourceRules:\n"
                                                             "      - apiGroups: ['']\n        apiVersions: [v1]\n"
                                                             "        operations: [CREATE, UPDATE]\n        resources: [pods]\n", "")
    assert errors(text) == []


# Kyverno's output-type checks beyond validations: (spec lines, words)
OUTPUT_TYPES = [
    ("  auditAnnotations:\n    - key: k\n      valueExpression: '1'\n",
     "spec.auditAnnotations[0].valueExpression: Invalid value: \"1\": output is expected to be either of type string or null_type"),
    ("  images:\n    - name: x\n      expression: '1'\n",
     "spec.images[0].expression: Invalid value: \"1\": output is expected to be of type list(string)"),
]


@pytest.mark.parametrize(("extra", "message"), OUTPUT_TYPES)
def test_output_types(extra: str, message: str) -> None:
    assert [m for c, m, _, _ in errors(policy(extra)) if c == "ivpol-cel"] == [message]
    fine = extra.replace("'1'", "\"'text'\"" if "audit" in extra else "\"['ghcr.io/a']\"")
    assert errors(policy(fine)) == []


# pullguard's own lints: (spec lines appended, validations (None: the default), globs, code, words, fix words)
LINTS = [
    ("", None, ("docker.io/library/*",), "ivpol-docker-hub-glob",
     "Docker Hub images written without 'docker.io/' (nginx, library/nginx) do not match it", "'*' and 'library/*'"),
    ("", None, ("ghcr.io/a/*", "ghcr.io/a/*"), "duplicate-pattern", "'ghcr.io/a/*' is written twice", "remove one"),
    ("", "  validations:\n    - expression: \"true\"\n", ("ghcr.io/*",), "ivpol-required-without-check",
     "no expression calls verifyImageSignatures", "validationConfigurations.required: false"),
    ("", "  validations:\n    - expression: \"true\"\n", ("ghcr.io/*",), "ivpol-unused-attestor",
     "attestor 'cosign' is not used by any expression", "attestors.cosign"),
]


@pytest.mark.parametrize(("extra", "validations", "globs", "code", "words", "fix"), LINTS)
def test_lints(extra: str, validations: str | None, globs: tuple[str, ...], code: str, words: str, fix: str) -> None:
    found = [d for d in load_policy(policy(extra, globs=globs, validations=validations), "p.yaml").diagnostics if d.code == code]
    assert found and found[0].severity == "warning" and words in found[0].message, found
    assert found[0].fix is not None and fix in found[0].fix
    # the default policy has none of them
    assert not [d for d in load_policy(policy(), "p.yaml").diagnostics if d.severity != "info"]


def test_an_identity_regexp_re2_refuses_is_an_error() -> None:
    text = policy().replace("      cosign:\n        key:\n", "      cosign:\n        keyless:\n          identities:\n"
                            "            - issuer: https://accounts.google.com\n              subjectRegExp: '(?=x)'\n"
                            "        key:\n")
    found = [e for e in errors(text) if e[0] == "invalid-regex"]
    assert found and "spec.attestors[0].cosign.keyless.identities[0].subjectRegExp is not a valid RE2" in found[0][1]
    assert found[0][2] == 20


SBOM = ("  attestations:\n    - name: sbom\n      intoto: {type: https://cyclonedx.org/bom}\n")
SBOM_VALIDATIONS = (
    "  validations:\n"
    "    - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom, [attestors.cosign]) > 0)\n"
    "      message: no signed SBOM\n"
    "    - expression: images.containers.all(i, extractPayload(i, attestations.sbom).bomFormat == 'CycloneDX')\n"
    "      message: not a CycloneDX SBOM\n")


@pytest.mark.parametrize(("attested", "payload", "outcome", "words"), [
    (True, {"bomFormat": "CycloneDX"}, "verified", "2 validations of check-images true"),
    (True, {"bomFormat": "SPDX"}, "failed", "check-images: not a CycloneDX SBOM"),
    (False, None, "failed", "check-images: no signed SBOM"),
])
def test_attestations_from_their_checks(attested: bool, payload: object, outcome: str, words: str) -> None:
    from pullguard.engine.policy.ivpol.verification import attestations_to_check

    requirements = _requirements(policy(SBOM, validations=SBOM_VALIDATIONS), "ghcr.io/acme/app:v1")
    checks = {(p.index, attestor, a.name): AttestorCheck(attested, "verified attestation" if attested else "none found",
                                                         evidence="evidence", payload=payload)
              for p, a, attestor in attestations_to_check(requirements)}
    assert list(checks) == [(0, "cosign", "sbom")]
    verdict = run(requirements, checks, has_digest=False)
    assert (verdict.outcome, words in verdict.message) == (outcome, True), verdict


def test_a_payload_of_an_attestation_not_verified_is_an_error() -> None:
    validations = "  validations:\n    - expression: images.containers.all(i, extractPayload(i, attestations.sbom).x == 1)\n"
    requirements = _requirements(policy(SBOM, validations=validations), "ghcr.io/acme/app:v1")
    verdict = run(requirements, {}, has_digest=False)
    assert verdict.outcome == "error" and "failed to get payload: attestation 'sbom'" in verdict.message


def test_a_referrer_attestation_is_not_verified_by_pullguard() -> None:
    extra = "  attestations:\n    - name: sbom\n      referrer: {type: sbom/cyclone-dx}\n"
    requirements = _requirements(policy(extra, validations=SBOM_VALIDATIONS), "ghcr.io/acme/app:v1")
    verdict = run(requirements, {}, has_digest=False)
    assert verdict.outcome == "error" and "not verified by pullguard: attestation 'sbom' (referrer sbom/cyclone-dx)" \
        in verdict.message
