"""CEL PolicyExceptions and NamespacedImageValidatingPolicy scope, as Kyverno applies them.

Exceptions (`policies.kyverno.io` PolicyException): Kyverno's conformance cases
`test/conformance/chainsaw/image-validating-policies/exceptions/{regular,wrong-exception}` and the
CLI's `test/cli/test-image-validating-policy/with-cel-exceptions`, rewritten onto the samples'
partner key and OCI layout, offline; then the cases that try to slip past (an exception whose
condition errors, one naming the policy with the wrong kind, an expired one, one that does not
compile). Scope: a NamespacedImageValidatingPolicy applies to resources of its own namespace
only (Kyverno's webhook `NamespacedPolicy` predicate); a bare image has no namespace.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.tui.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PARTNER_KEY = (SAMPLES / "partner.pub").read_text().strip()
SIGNED = "quay.io/partner/agent:v5.2.0"
UNSIGNED = "quay.io/partner/exporter:v1.0.3"  # the partner's signature with one byte changed
CHECK = "images.containers.map(image, verifyImageSignatures(image, [attestors.partner])).all(e, e > 0)"


def _policy(name: str = "ivpol-sample", *, kind: str = "ImageValidatingPolicy", namespace: str | None = None,
            failure: str = "Fail") -> str:
    meta = f"{{name: {name}, namespace: {namespace}}}" if namespace else f"{{name: {name}}}"
    return (f"apiVersion: policies.kyverno.io/v1\nkind: {kind}\nmetadata: {meta}\nspec:\n"
            f"  failurePolicy: {failure}\n  validationConfigurations: {{verifyDigest: false}}\n"
            "  matchConstraints:\n    resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]\n"
            "  matchImageReferences:\n    - glob: quay.io/*\n  attestors:\n    - name: partner\n      cosign:\n"
            "        key:\n          data: |-\n" + textwrap.indent(PARTNER_KEY, "            ")
            + f"\n        ctlog: {{insecureIgnoreTlog: true}}\n  validations:\n    - expression: \"{CHECK}\"\n"
            "      message: failed to verify image with the partner key\n")


def _exception(conditions: list[str] | None = ("object.metadata.name == 'skipped-pod'",), *, policy: str = "ivpol-sample",
               kind: str = "ImageValidatingPolicy", name: str = "check-name", extra: str = "",
               api: str = "policies.kyverno.io/v1alpha1") -> str:
    listed = "".join(f"    - name: c{i}\n      expression: \"{c}\"\n" for i, c in enumerate(conditions or ()))
    return (f"apiVersion: {api}\nkind: PolicyException\nmetadata: {{name: {name}}}\nspec:\n"
            f"  policyRefs:\n    - {{name: {policy}, kind: {kind}}}\n"
            + (f"  matchConditions:\n{listed}" if conditions is not None else "") + extra)


def _pod(name: str, image: str, namespace: str | None = "default") -> str:
    meta = f"{{name: {name}, namespace: {namespace}}}" if namespace else f"{{name: {name}}}"
    return f"apiVersion: v1\nkind: Pod\nmetadata: {meta}\nspec:\n  containers:\n    - {{name: c, image: '{image}'}}\n"


def _kyverno_test(tmp_path: Path, policy: str, exception: str | None, resources: list[str],
                  rows: list[tuple[str, str]], capsys, policy_name: str = "ivpol-sample") -> tuple[int, dict]:
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "resources.yaml").write_text("---\n".join(resources))
    if exception is not None:
        (tmp_path / "exception.yaml").write_text(exception)
    listed = "".join(f"  - {{isImageValidatingPolicy: true, kind: Pod, policy: {policy_name}, resources: [{r}], result: {w}}}\n"
                     for r, w in rows)
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\n"
        "resources: [resources.yaml]\n" + ("exceptions: [exception.yaml]\n" if exception is not None else "")
        + f"pullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n  trustedRoot: {SAMPLES / 'trusted_root.json'}\n"
        f"results:\n{listed}")
    code = main(["test", str(tmp_path / "kyverno-test.yaml"), "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


SKIPPED = "rule is skipped due to policy exception: check-name"

# (case, policy, exception, resource, pullguard's result, words in its message)
EXCEPTION_CASES = [
    # Kyverno's conformance `exceptions/regular`: the exception names the pod
    ("regular: the excepted pod", _policy(), _exception(), _pod("skipped-pod", UNSIGNED), "skip", SKIPPED),
    ("regular: another pod is verified", _policy(), _exception(), _pod("test-pod-bad", UNSIGNED), "fail",
     "failed to verify image with the partner key"),
    # `exceptions/wrong-exception`: an exception for another policy excepts nothing here
    ("wrong-exception: another policy's", _policy(), _exception(policy="not-ivpol-sample"), _pod("skipped-pod", UNSIGNED),
     "fail", None),
    ("the kind is compared exactly", _policy(), _exception(kind="imageValidatingPolicy"), _pod("skipped-pod", UNSIGNED),
     "fail", None),
    ("a NamespacedImageValidatingPolicy is another kind", _policy(), _exception(kind="NamespacedImageValidatingPolicy"),
     _pod("skipped-pod", UNSIGNED), "fail", None),
    ("every condition must hold", _policy(), _exception(["object.metadata.name == 'skipped-pod'", "object.metadata.namespace == 'x'"]),
     _pod("skipped-pod", UNSIGNED), "fail", None),
    ("no matchConditions: every resource", _policy(), _exception(None), _pod("any", UNSIGNED), "skip", SKIPPED),
    ("v1 exceptions", _policy(), _exception(api="policies.kyverno.io/v1"), _pod("skipped-pod", UNSIGNED), "skip", SKIPPED),
    # what tries to slip past: a condition that errors excepts nothing
    ("a condition that errors, failurePolicy Fail: error", _policy(), _exception(["object.metadata.labels.missing == 'x'"]),
     _pod("skipped-pod", UNSIGNED), "error", "PolicyException check-name: matchConditions 'c0'"),
    ("a condition that errors, failurePolicy Ignore: evaluated", _policy(failure="Ignore"),
     _exception(["object.metadata.labels.missing == 'x'"]), _pod("skipped-pod", UNSIGNED), "fail", None),
    ("a false condition decides over one that errors", _policy(),
     _exception(["object.metadata.labels.missing == 'x'", "object.metadata.name == 'other'"]), _pod("skipped-pod", UNSIGNED),
     "fail", None),
    ("an expired exception", _policy(), _exception(extra="  expiresAt: '2020-01-01T00:00:00Z'\n"),
     _pod("skipped-pod", UNSIGNED), "fail", None),
    ("an exception that has not expired", _policy(), _exception(extra="  expiresAt: '2999-01-01T00:00:00Z'\n"),
     _pod("skipped-pod", UNSIGNED), "skip", SKIPPED),
]


@pytest.mark.parametrize("name, policy, exception, resource, got, words", EXCEPTION_CASES, ids=[c[0] for c in EXCEPTION_CASES])
def test_cel_policy_exceptions_in_kyverno_test_files(tmp_path, capsys, name, policy, exception, resource, got, words):
    pod = resource.split("name: ")[1].split(",")[0]
    _, report = _kyverno_test(tmp_path, policy, exception, [resource], [(pod, "skip")], capsys)
    [case] = report["cases"]
    assert case["actual"]["outcome"] == got, case
    assert case["passed"] == (got == "skip")
    if words is not None:
        assert words in (case["message"] or ""), case


def test_kyverno_with_cel_exceptions_rows(tmp_path, capsys):
    """Kyverno's with-cel-exceptions test as written: fail, pass, skip."""
    code, report = _kyverno_test(
        tmp_path, _policy(), _exception(), [_pod("test-pod-good", SIGNED), _pod("test-pod-bad", UNSIGNED), _pod("skipped-pod", UNSIGNED)],
        [("test-pod-bad", "fail"), ("test-pod-good", "pass"), ("skipped-pod", "skip")], capsys)
    assert code == 0, [c["reason"] for c in report["cases"] if not c["passed"]]


def test_an_exception_that_does_not_compile_is_placed_and_stops_the_test(tmp_path, capsys):
    code, report = _kyverno_test(tmp_path, _policy(), _exception(["object.metadata.name == "]), [_pod("skipped-pod", UNSIGNED)],
                                 [("skipped-pod", "skip")], capsys)
    assert code == 2 or report["cases"] == [], report
    text = json.dumps(report)
    assert "spec.matchConditions[0].expression: Invalid value" in text


# --- exceptions in the policy file ---------------------------------------------------------------


def _simulate(tmp_path: Path, policy: str, images: str, capsys) -> tuple[int, list[dict]]:
    (tmp_path / "p.yaml").write_text(policy)
    (tmp_path / "images.yaml").write_text(images)
    code = main(["simulate", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "images.yaml"), "-o", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)["results"] if out else []


def test_an_exception_in_the_policy_file_skips_the_resource(tmp_path, capsys):
    code, results = _simulate(tmp_path, _policy() + "---\n" + _exception(),
                              _pod("skipped-pod", UNSIGNED) + "---\n" + _pod("other", UNSIGNED), capsys)
    assert code == 0
    assert [(r["action"], r["message"]) for r in results] == [
        ("skip", "ivpol-sample: " + SKIPPED),
        ("verify", "verification required by ivpol-sample: 1 validation")]
    assert results[0]["rules"][0]["action"] == "skip"


def test_an_exception_in_the_policy_file_does_not_excuse_a_bare_image(tmp_path, capsys):
    """A bare image has no resource: matchConditions are not evaluated, and no exception excepts it."""
    code, results = _simulate(tmp_path, _policy() + "---\n" + _exception(None), f"{UNSIGNED}\n", capsys)
    assert code == 0 and results[0]["action"] == "verify"


def test_verify_skips_an_excepted_pod_without_a_request(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(_policy() + "---\n" + _exception())
    (tmp_path / "pods.yaml").write_text(_pod("skipped-pod", UNSIGNED))
    code = main(["verify", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "pods.yaml"), "-o", "json",
                 "--mirror", "quay.io=http://127.0.0.1:9"])  # never asked
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert (code, result["outcome"], result["message"]) == (0, "skipped", "ivpol-sample: " + SKIPPED)


# (case, exception, code, words, line, column)
CHECKS = [
    ("unknown key", _exception(extra="  matchCondition: []\n"), "unknown-key", "matchCondition", 10, 3),
    ("policyRefs required", "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: e}\nspec: {}\n",
     "ivpol-required", "spec.policyRefs: Required value", None, None),
    ("CEL that does not compile", _exception(["object.metadata.name == "]), "ivpol-cel", "spec.matchConditions[0].expression", None, None),
    ("a condition that is not a bool", _exception(["object.metadata.name"]), "ivpol-cel", "spec.matchConditions[0].expression", None, None),
    ("a kind written in the wrong case", _exception(kind="imagevalidatingpolicy"), "ivpol-exception-kind", "compared exactly", None, None),
    ("a policy the file does not have", _exception(policy="ivpol-sampel"), "ivpol-exception-unknown-policy", "ivpol-sampel", None, None),
    ("no matchConditions", _exception(None), "ivpol-exception-everything", "excepts every resource", None, None),
    ("expired", _exception(extra="  expiresAt: '2020-01-01T00:00:00Z'\n"), "ivpol-exception-expired", "expired", None, None),
    ("not a date", _exception(extra="  expiresAt: tomorrow\n"), "ivpol-exception-expiry", "RFC 3339", None, None),
    ("reportResult", _exception(extra="  reportResult: fail\n"), "ivpol-unsupported-value", "spec.reportResult", None, None),
    ("api version", _exception(api="policies.kyverno.io/v2"), "ivpol-api-version", 'kind "PolicyException"', None, None),
]


@pytest.mark.parametrize("name, exception, code, words, line, column", CHECKS, ids=[c[0] for c in CHECKS])
def test_check_validates_exceptions_where_they_are_written(name, exception, code, words, line, column):
    policy = _policy()
    text = policy + "---\n" + exception
    loaded = load_policy(text, "p.yaml")
    found = [d for d in loaded.diagnostics if d.code == code]
    assert found and words in found[0].message, [(d.code, d.message) for d in loaded.diagnostics]
    first_line = policy.count("\n") + 2  # the exception document's first line
    assert found[0].line is not None and found[0].line >= first_line
    if line is not None:
        assert (found[0].line - first_line + 1, found[0].column) == (line, column)


def test_a_cel_error_in_an_exception_points_into_the_expression():
    policy = _policy()
    text = policy + "---\n" + _exception(["object.metadata.name == 'a' && "])
    [found] = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "ivpol-cel"]
    line = text.split("\n")[found.line - 1]
    assert "object.metadata.name == 'a' &&" in line and found.column > line.index("object")


# --- NamespacedImageValidatingPolicy ------------------------------------------------------------

def _kubectl_pod(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": UNSIGNED}]}}


NAMESPACED = _policy("team-a-images", kind="NamespacedImageValidatingPolicy", namespace="a")

# (case, images, actions, words in the first message)
SCOPE = [
    ("its own namespace", _pod("p", UNSIGNED, "a"), ["verify"], None),
    ("another namespace", _pod("p", UNSIGNED, "b"), ["allow"], "no matched policy"),
    ("no namespace written: default", _pod("p", UNSIGNED, None), ["allow"], None),
    ("a bare image has no namespace", f"{UNSIGNED}\n", ["allow"],
     "NamespacedImageValidatingPolicy a/team-a-images applies only to resources in namespace 'a'"),
    ("kubectl pods of both namespaces", json.dumps({"apiVersion": "v1", "kind": "List", "items": [_kubectl_pod("x", "a"),
                                                                                          _kubectl_pod("y", "b")]}),
     ["verify", "allow"], None),
]


@pytest.mark.parametrize("name, images, actions, words", SCOPE, ids=[c[0] for c in SCOPE])
def test_a_namespaced_policy_applies_in_its_namespace_only(tmp_path, capsys, name, images, actions, words):
    _, results = _simulate(tmp_path, NAMESPACED, images, capsys)
    assert [r["action"] for r in results] == actions
    if words is not None:
        assert words in results[0]["message"]


def test_a_namespaced_policy_without_a_namespace_is_in_default(tmp_path, capsys):
    policy = _policy("p", kind="NamespacedImageValidatingPolicy")
    _, results = _simulate(tmp_path, policy, _pod("p", UNSIGNED, None) + "---\n" + _pod("q", UNSIGNED, "b"), capsys)
    assert [r["action"] for r in results] == ["verify", "allow"]


def test_check_says_a_namespaced_policy_does_not_check_bare_images():
    [info] = [d for d in load_policy(NAMESPACED, "p.yaml").diagnostics if d.code == "ivpol-namespaced-scope"]
    assert info.severity == "info" and "namespace 'a'" in info.message


def test_a_namespaced_policy_in_a_kyverno_test_file(tmp_path, capsys):
    """Namespace a's policy fails a's unsigned pod and excludes b's (Kyverno's webhook never calls it
    for b: the row passes as an exclusion does)."""
    code, report = _kyverno_test(tmp_path, NAMESPACED, None, [_pod("bad", UNSIGNED, "a"), _pod("other", UNSIGNED, "b")],
                                 [("a/bad", "fail"), ("b/other", "pass")], capsys, policy_name="team-a-images")
    assert code == 0, [c["reason"] for c in report["cases"] if not c["passed"]]
    assert [c["actual"]["outcome"] for c in report["cases"]] == ["fail", "excluded"]
    assert "applies only to resources in namespace 'a'" in report["cases"][1]["message"]


def test_explain_says_why_a_namespaced_policy_passes_a_bare_image():
    loaded = load_policy(NAMESPACED, "p.yaml")
    [trial] = loaded.policy.explain(UNSIGNED)
    assert not trial.matched and "applies only to resources in namespace 'a'" in trial.reason
