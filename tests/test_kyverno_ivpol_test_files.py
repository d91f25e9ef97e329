"""`pullguard test` runs Kyverno CLI test rows with `isImageValidatingPolicy: true` (SPEC §1, §4b):
Kyverno's own test/cli/test-image-validating-policy cases (and the IVPol rows of
sample-policy-exclusion and test-context-resource-ivpol) rewritten from a Notary certificate and
ghcr.io to the partner's cosign key and the bundled OCI layout, offline; then matchConstraints and
matchConditions over the resource as a table, with the inputs that try to slip past them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pullguard.tui.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PARTNER_KEY = (SAMPLES / "partner.pub").read_text().strip()  # the samples' partner key (make_samples writes it)
SIGNED = "quay.io/partner/agent:v5.2.0"
UNSIGNED = "quay.io/partner/exporter:v1.0.3"  # the partner's signature with one byte changed
PROD = "has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'"
CHECK = "images.containers.map(image, verifyImageSignatures(image, [attestors.partner])).all(e, e > 0)"
PODS = "{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}"


def _ivpol(name: str = "ivpol-sample", *, rules: str = PODS, constraints: str = "", conditions: str = PROD,
           validations: str = f"- expression: \"{CHECK}\"\n  message: failed to verify image with the partner key\n",
           variables: str = "") -> str:
    condition = f"  matchConditions:\n    - name: check-prod-label\n      expression: \"{conditions}\"\n" if conditions else ""
    return (
        "apiVersion: policies.kyverno.io/v1beta1\nkind: ImageValidatingPolicy\n"
        f"metadata:\n  name: {name}\nspec:\n  failurePolicy: Ignore\n  validationConfigurations:\n    verifyDigest: false\n"
        f"  validationActions: [Deny]\n  matchConstraints:\n    resourceRules: [{rules}]\n"
        + textwrap.indent(constraints, "    ") + condition
        + "  matchImageReferences:\n    - glob: quay.io/*\n  attestors:\n    - name: partner\n      cosign:\n"
        "        key:\n          data: |-\n" + textwrap.indent(PARTNER_KEY, "            ")
        + "\n        ctlog: {insecureIgnoreTlog: true}\n"
        + (f"  variables:\n{textwrap.indent(variables, '    ')}" if variables else "")
        + f"  validations:\n{textwrap.indent(validations, '    ')}")


def _pod(name: str, image: str, labels: str = "{prod: 'true'}", namespace: str = "default") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {labels}}}\n"
            f"spec:\n  containers:\n    - {{name: nginx, image: '{image}'}}\n")


def _deployment(name: str, image: str, labels: str = "{prod: 'true'}") -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default, labels: {labels}}}\n"
            f"spec:\n  template:\n    spec:\n      containers:\n        - {{name: c, image: '{image}'}}\n")


def _run(tmp_path: Path, policy: str, resources: list[str], rows: list[tuple[str, str, str]], capsys) -> list[dict]:
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "resources.yaml").write_text("---\n".join(resources))
    listed = "".join(f"  - {{isImageValidatingPolicy: true, policy: {p}, kind: {k}, resources: [{r}], result: pass}}\n"
                     for p, k, r in rows)
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: kyverno-test}\n"
        "policies: [policy.yaml]\nresources: [resources.yaml]\n"
        f"pullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n  trustedRoot: {SAMPLES / 'trusted_root.json'}\n"
        f"results:\n{listed}")
    main(["test", str(tmp_path / "kyverno-test.yaml"), "-o", "json"])
    cases: list[dict] = json.loads(capsys.readouterr().out)["cases"]
    return cases


# Kyverno's cases: (case, policy, resources, (kind, resource, Kyverno's expectation, pullguard's result,
# why they differ)). Kyverno's policies also check a `referrer` SBOM attestation signed with Notary;
# the rewrite keeps the signature validation (referrer attestations are not verified by pullguard).
KYVERNO_CASES = [
    ("sample-policy", _ivpol(), [_pod("bad-pod", UNSIGNED), _pod("good-pod", SIGNED)],
     [("Pod", "bad-pod", "fail", "fail", None), ("Pod", "good-pod", "pass", "pass", None)]),
    # no message: Kyverno's default words name the validation's index
    ("empty-message", _ivpol(validations=f"- expression: \"{CHECK}\"\n"), [_pod("bad-pod", UNSIGNED), _pod("good-pod", SIGNED)],
     [("Pod", "bad-pod", "fail", "fail", "CEL expression validation failed at index 0"), ("Pod", "good-pod", "pass", "pass", None)]),
    # the CEL PolicyException (exceptions: [exception.yaml]) excepts the pod by name: skip, in Kyverno's words
    ("with-cel-exceptions", _ivpol(),
     [_pod("test-pod-good", SIGNED), _pod("test-pod-bad", UNSIGNED), _pod("skipped-pod", UNSIGNED)],
     [("Pod", "test-pod-bad", "fail", "fail", None), ("Pod", "test-pod-good", "pass", "pass", None),
      ("Pod", "skipped-pod", "skip", "skip", "rule is skipped due to policy exception: check-name")]),
    # sample-policy-exclusion: an objectSelector that does not select the pod excludes it (a pass)
    ("sample-policy-exclusion", _ivpol(constraints="objectSelector: {matchLabels: {prod: nginx}}\n"),
     [_pod("good-pod-excluded", SIGNED)], [("Pod", "good-pod-excluded", "pass", "excluded", None)]),
    # test-context-resource-ivpol: a variable reads a ConfigMap with resource.get (clusterResources)
    ("test-context-resource-ivpol",
     _ivpol("check-deployment-labels", rules="{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}",
            conditions="", variables="- name: cm\n  expression: resource.get('v1', 'configmaps', object.metadata.namespace, 'policy-cm')\n"
            "- name: environment\n  expression: \"has(object.metadata.labels) && 'env' in object.metadata.labels && "
            "object.metadata.labels['env'] == variables.cm.data.env\"\n",
            validations="- expression: variables.environment == true\n  message: Deployment labels must be env=prod\n"
            f"- expression: \"{CHECK}\"\n"),
     [_deployment("negative-deployment", SIGNED, "{env: dev}"), _deployment("positive-deployment", SIGNED, "{env: prod}")],
     [("Deployment", "negative-deployment", "fail", "error", "resource"),
      ("Deployment", "positive-deployment", "pass", "error", "resource")]),
]


# Kyverno's with-cel-exceptions/exception.yaml, as written there
CEL_EXCEPTION = """apiVersion: policies.kyverno.io/v1alpha1
kind: PolicyException
metadata:
  name: check-name
spec:
  policyRefs:
    - name: ivpol-sample
      kind: ImageValidatingPolicy
  matchConditions:
    - name: "check-name"
      expression: "object.metadata.name == 'skipped-pod'"
"""
EXCEPTIONS = {"with-cel-exceptions": CEL_EXCEPTION}


@pytest.mark.parametrize("name, policy, resources, rows", KYVERNO_CASES, ids=[c[0] for c in KYVERNO_CASES])
def test_kyverno_ivpol_cli_cases(tmp_path, capsys, name, policy, resources, rows):
    policy_name = "check-deployment-labels" if name == "test-context-resource-ivpol" else "ivpol-sample"
    path = tmp_path / "kyverno-test.yaml"
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "resources.yaml").write_text("---\n".join(resources))
    if name in EXCEPTIONS:
        (tmp_path / "exception.yaml").write_text(EXCEPTIONS[name])
    listed = "".join(f"  - {{isImageValidatingPolicy: true, kind: {k}, policy: {policy_name}, resources: [{r}], result: {want}}}\n"
                     for k, r, want, _, _ in rows)
    path.write_text("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: kyverno-test}\n"
                    "policies: [policy.yaml]\nresources: [resources.yaml]\n"
                    + ("exceptions: [exception.yaml]\n" if name in EXCEPTIONS else "")
                    + f"pullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n"
                    f"  trustedRoot: {SAMPLES / 'trusted_root.json'}\nresults:\n{listed}")
    code = main(["test", str(path), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert [(c["image"], c["actual"]["outcome"]) for c in cases] == [(f"{k}/{r}", got) for k, r, _, got, _ in rows]
    for case, (_, _, want, got, why) in zip(cases, rows, strict=True):
        assert case["passed"] == (want == got or (got == "excluded" and want in ("pass", "skip"))), case["reason"]
        if why is not None:  # the words that say what pullguard did or could not do
            assert why in (case["message"] or ""), case
    assert code == (0 if all(c["passed"] for c in cases) else 1)


@pytest.mark.skip(reason="needs Notary: Kyverno's originals verify a Notary certificate on ghcr.io/kyverno/test-verify-image "
                         "(notary attestors are not verified by pullguard); rewritten onto cosign above")
def test_kyverno_notary_originals():  # pragma: no cover - named for the record
    pass


@pytest.mark.skip(reason="check-json: evaluation.mode JSON over JSON payloads is `kyverno json scan` input, not a test-file "
                         "resource, and its attestor is Notary")
def test_kyverno_check_json():  # pragma: no cover - named for the record
    pass


# (case, policy, resource, pullguard's result, words in the message)
SELECTION = [
    ("resource rule takes the pod", _ivpol(), _pod("p", SIGNED), "pass", None),
    ("resource rule for pods, a Deployment", _ivpol(), _deployment("p", UNSIGNED), "excluded", "no matchConstraints.resourceRules"),
    ("deployments rule takes the pod template", _ivpol(rules="{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], "
                                                            "resources: [deployments]}"), _deployment("p", UNSIGNED), "fail", None),
    ("wildcards", _ivpol(rules="{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}"),
     _deployment("p", UNSIGNED), "fail", None),
    ("UPDATE only: a test file's resource is a CREATE", _ivpol(rules=PODS.replace("CREATE", "UPDATE")), _pod("p", UNSIGNED),
     "excluded", "CREATE v1/pods"),
    ("another group", _ivpol(rules=PODS.replace("['']", "[apps]")), _pod("p", UNSIGNED), "excluded", None),
    ("resourceNames", _ivpol(rules=PODS.replace("}", ", resourceNames: [other]}")), _pod("p", UNSIGNED), "excluded", None),
    ("excludeResourceRules", _ivpol(constraints=f"excludeResourceRules: [{PODS}]\n"), _pod("p", UNSIGNED), "excluded",
     "excludeResourceRules"),
    ("matchCondition false", _ivpol(), _pod("p", UNSIGNED, labels="{prod: 'false'}"), "excluded", "check-prod-label"),
    ("matchCondition without labels", _ivpol(), _pod("p", UNSIGNED, labels="{}"), "excluded", None),
    ("objectSelector selects", _ivpol(constraints="objectSelector: {matchLabels: {prod: 'true'}}\n"), _pod("p", UNSIGNED),
     "fail", None),
    ("objectSelector In", _ivpol(constraints="objectSelector: {matchExpressions: [{key: tier, operator: In, values: [a]}]}\n"),
     _pod("p", UNSIGNED, labels="{prod: 'true', tier: b}"), "excluded", "objectSelector"),
    ("objectSelector DoesNotExist", _ivpol(constraints="objectSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}\n"),
     _pod("p", UNSIGNED), "fail", None),
    # what tries to slip past: a selector pullguard cannot decide, a condition that errors
    ("namespaceSelector: the namespace's labels are unknown",
     _ivpol(constraints="namespaceSelector: {matchLabels: {env: prod}}\n"), _pod("p", UNSIGNED), "error", "namespaceSelector"),
    ("empty namespaceSelector selects every namespace", _ivpol(constraints="namespaceSelector: {}\n"), _pod("p", SIGNED),
     "pass", None),
    ("matchCondition that errors is not an exclusion", _ivpol(conditions="object.metadata.labels.missing == 'x'"),
     _pod("p", UNSIGNED), "error", "matchConditions 'check-prod-label'"),
    ("the object is the resource", _ivpol(validations=f"- expression: \"object.metadata.name == 'p' && {CHECK}\"\n"),
     _pod("p", SIGNED), "pass", None),
    ("a validation that reads the resource fails on it",
     _ivpol(validations="- expression: \"object.metadata.namespace == 'prod'\"\n  message: not in prod\n"),
     _pod("p", SIGNED), "fail", "not in prod"),
    ("no image the policy takes: validations over empty lists", _ivpol(), _pod("p", "ghcr.io/acme/api:v1.4.0"), "pass", None),
    ("initContainers are their own category",
     _ivpol(validations="- expression: \"images.initContainers.all(i, verifyImageSignatures(i, [attestors.partner]) > 0)"
                        " && size(images.containers) == 0\"\n"),
     _pod("p", SIGNED).replace("containers:", "initContainers:"), "pass", None),
]


@pytest.mark.parametrize("name, policy, resource, got, words", SELECTION, ids=[c[0] for c in SELECTION])
def test_match_constraints_and_conditions_over_the_resource(tmp_path, capsys, name, policy, resource, got, words):
    kind = "Deployment" if "kind: Deployment" in resource else "Pod"
    [case] = _run(tmp_path, policy, [resource], [("ivpol-sample", kind, "p")], capsys)
    assert case["actual"]["outcome"] == got, case
    if words is not None:
        assert words in (case["message"] or ""), case


def test_cronjob_job_template(tmp_path, capsys):
    cronjob = (f"apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: p, labels: {{prod: 'true'}}}}\nspec:\n  jobTemplate:\n"
               f"    spec:\n      template:\n        spec:\n          containers: [{{name: c, image: '{UNSIGNED}'}}]\n")
    policy = _ivpol(rules="{apiGroups: [batch], apiVersions: [v1], operations: [CREATE], resources: [cronjobs]}")
    [case] = _run(tmp_path, policy, [cronjob], [("ivpol-sample", "CronJob", "p")], capsys)
    assert case["actual"]["outcome"] == "fail" and case["actual"]["images"] == [UNSIGNED]


@pytest.mark.parametrize("rule, message", [
    ("isImageValidatingPolicy: true, rule: anything", None),  # Kyverno ignores the rule of a ruleless policy
    ("rule: anything", "is an ImageValidatingPolicy: its row needs isImageValidatingPolicy: true"),
])
def test_a_row_says_what_kind_of_policy_it_names(tmp_path, capsys, rule, message):
    (tmp_path / "policy.yaml").write_text(_ivpol())
    (tmp_path / "resources.yaml").write_text(_pod("p", SIGNED))
    (tmp_path / "t.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\npolicies: [policy.yaml]\nresources: [resources.yaml]\n"
        f"pullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n  trustedRoot: {SAMPLES / 'trusted_root.json'}\n"
        f"results:\n  - {{{rule}, policy: ivpol-sample, kind: Pod, resources: [p], result: pass}}\n")
    main(["test", str(tmp_path / "t.yaml"), "-o", "json"])
    [case] = json.loads(capsys.readouterr().out)["cases"]
    if message is None:
        assert case["passed"], case
    else:
        assert case["actual"]["outcome"] == "error" and message in case["message"]


def test_the_sample_ivpol_as_a_kyverno_test(tmp_path, capsys):
    """The bundled converted ImageValidatingPolicy over the ClusterPolicy test's Pods: the same
    verdicts, except that a Pod with no image a policy takes passes (Kyverno runs the
    validations over empty image lists) where the ClusterPolicy's rule skips."""
    acme, partner = "verify-image-signatures-acme-release-builds", "verify-image-signatures-partner-images"
    rows = [(acme, "api", "pass"), (acme, "shop/web", "pass"), (acme, "billing", "fail"), (acme, "agent", "pass"),
            (partner, "agent", "pass"), (partner, "api", "pass")]
    listed = "".join(f"  - {{policy: {p}, isImageValidatingPolicy: true, kind: Pod, resources: [{r}], result: {w}}}\n" for p, r, w in rows)
    (tmp_path / "t.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\n"
        f"policies: [{SAMPLES / 'kyverno' / 'image-validating-policy.yaml'}]\n"
        f"resources: [{SAMPLES / 'tests' / 'kyverno-cli-resources.yaml'}]\n"
        f"pullguard:\n  trustedRoot: {SAMPLES / 'trusted_root.json'}\nresults:\n{listed}")
    code = main(["test", str(tmp_path / "t.yaml"), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert code == 0, [c["reason"] for c in cases if not c["passed"]]
    assert [c["actual"]["outcome"] for c in cases] == [w for _, _, w in rows]
