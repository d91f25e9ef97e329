"""An ImageValidatingPolicy evaluates a resource's images together, as Kyverno evaluates a policy
once per admission request (`pkg/image/verification/evaluator/policy.go`): `images.containers`
holds every container image of the Pod the policy takes, so `all()` over them fails the Pod for
one unsigned image among signed ones; each image's result says which image made the validation
false. Offline: the samples' partner key and OCI layout, through `pullguard verify` on manifests
and kubectl pods and through Kyverno test files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pullguard.tui.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PARTNER_KEY = (SAMPLES / "partner.pub").read_text().strip()
SIGNED = "quay.io/partner/agent:v5.2.0"
UNSIGNED = "quay.io/partner/exporter:v1.0.3"  # the partner's signature with one byte changed
MISSING = "quay.io/partner/missing:v0.0.1"  # not in the layout
OTHER = "ghcr.io/acme/api:v1.4.0"  # a host the policy does not take
ALL_SIGNED = "images.containers.all(i, verifyImageSignatures(i, [attestors.partner]) > 0)"


def _policy(validations: str = f"- expression: \"{ALL_SIGNED}\"\n  message: an image is not signed by the partner\n",
            *, required: bool = True) -> str:
    return ("apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: partner}\nspec:\n"
            f"  validationConfigurations: {{verifyDigest: false, required: {str(required).lower()}}}\n"
            "  matchConstraints:\n    resourceRules:\n"
            "      - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n"
            "      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}\n"
            "  matchImageReferences:\n    - glob: quay.io/*\n  attestors:\n    - name: partner\n      cosign:\n"
            "        key:\n          data: |-\n" + textwrap.indent(PARTNER_KEY, "            ")
            + "\n        ctlog: {insecureIgnoreTlog: true}\n  validations:\n" + textwrap.indent(validations, "    "))


def _pod(name: str, containers: list[str], init: list[str] = (), namespace: str = "default") -> str:
    def listed(images: list[str] | tuple[str, ...], prefix: str) -> str:
        return "".join(f"    - {{name: {prefix}{i}, image: '{image}'}}\n" for i, image in enumerate(images))

    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n"
            + (f"  initContainers:\n{listed(init, 'init')}" if init else "") + f"  containers:\n{listed(containers, 'c')}")


# The samples' layout serves quay.io alone, as a node with skipFallback: an image missing there is
# missing, not a connection error
MIRROR = (f"---\napiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: quay.io\nendpoints:\n"
          f"  - url: oci:{SAMPLES / 'registry'}\nskipFallback: true\n")


def _verify(tmp_path: Path, policy: str, manifests: str, capsys) -> tuple[int, list[dict]]:
    (tmp_path / "p.yaml").write_text(policy + MIRROR)
    (tmp_path / "pods.yaml").write_text(manifests)
    code = main(["verify", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "pods.yaml"), "-o", "json",
                 "--trusted-root", str(SAMPLES / "trusted_root.json")])
    return code, json.loads(capsys.readouterr().out)["results"]


MADE_FALSE = f"(because of the resource's image {UNSIGNED})"

# (case, policy, pod, [(image, outcome, words in its message)])
CASES = [
    ("every image signed", _policy(), _pod("p", [SIGNED, SIGNED]),
     [(SIGNED, "verified", "1 validation of partner true"), (SIGNED, "verified", None)]),
    # the attacker's case: one unsigned image in a Pod of signed ones fails the Pod
    ("one unsigned image among signed ones", _policy(), _pod("p", [SIGNED, UNSIGNED, SIGNED]),
     [(SIGNED, "failed", f"partner: an image is not signed by the partner {MADE_FALSE}"),
      (UNSIGNED, "failed", "partner: an image is not signed by the partner"),
      (SIGNED, "failed", MADE_FALSE)]),
    ("the validation sees every image", _policy("- expression: \"size(images.containers) == 2\"\n  message: two images\n",
                                                required=False), _pod("p", [SIGNED, UNSIGNED]),
     [(SIGNED, "verified", None), (UNSIGNED, "verified", None)]),
    ("no image alone makes it false", _policy("- expression: \"size(images.containers) < 2\"\n  message: one image only\n",
                                              required=False), _pod("p", [SIGNED, SIGNED]),
     [(SIGNED, "failed", "partner: one image only"), (SIGNED, "failed", "partner: one image only")]),
    ("messageExpression over the images",
     _policy(f"- expression: \"{ALL_SIGNED}\"\n  messageExpression: \"'not all of ' + images.containers.join(', ')\"\n"),
     _pod("p", [SIGNED, UNSIGNED]),
     [(SIGNED, "failed", f"not all of {SIGNED}, {UNSIGNED}"), (UNSIGNED, "failed", f"not all of {SIGNED}, {UNSIGNED}")]),
    ("exists(): one signed image admits the Pod without required",
     _policy("- expression: \"images.containers.exists(i, verifyImageSignatures(i, [attestors.partner]) > 0)\"\n",
             required=False), _pod("p", [UNSIGNED, SIGNED]),
     [(UNSIGNED, "verified", None), (SIGNED, "verified", None)]),
    ("exists() with required: the unverified image fails the Pod",
     _policy("- expression: \"images.containers.exists(i, verifyImageSignatures(i, [attestors.partner]) > 0)\"\n"),
     _pod("p", [SIGNED, UNSIGNED]),
     [(SIGNED, "failed", MADE_FALSE), (UNSIGNED, "failed", f"image {UNSIGNED} ")]),
    # required covers every image the policy takes, init containers too: a validation over containers alone
    ("an init container no validation checks fails required", _policy(), _pod("p", [SIGNED], init=[UNSIGNED]),
     [(UNSIGNED, "failed", f"image {UNSIGNED} is not verified: no policy performed a signature or attestation check on it"),
      (SIGNED, "failed", MADE_FALSE)]),
    ("an unsigned init container is not in images.containers", _policy(required=False), _pod("p", [SIGNED], init=[UNSIGNED]),
     [(UNSIGNED, "verified", None), (SIGNED, "verified", None)]),
    ("an image the policy does not take is not in its lists", _policy(), _pod("p", [SIGNED, OTHER]),
     [(SIGNED, "verified", None), (OTHER, "allowed", None)]),
    ("an image that cannot be checked: the Pod cannot be evaluated", _policy(), _pod("p", [SIGNED, MISSING]),
     [(SIGNED, "error", f"partner: image {MISSING}: image reference not found"), (MISSING, "error", "not found")]),
]


@pytest.mark.parametrize("name, policy, pod, expected", CASES, ids=[c[0] for c in CASES])
def test_a_pods_images_are_evaluated_together(tmp_path, capsys, name, policy, pod, expected):
    code, results = _verify(tmp_path, policy, pod, capsys)
    assert [(r["image"], r["outcome"]) for r in results] == [(image, outcome) for image, outcome, _ in expected], results
    for result, (_, _, words) in zip(results, expected, strict=True):
        if words is not None:
            assert words in result["message"], result["message"]
    assert code == (0 if all(outcome in ("verified", "allowed") for _, outcome, _ in expected) else 1)


def test_pods_are_evaluated_each_on_its_own(tmp_path, capsys):
    """Two Pods in one list: the unsigned image of one does not fail the other."""
    _, results = _verify(tmp_path, _policy(), _pod("bad", [SIGNED, UNSIGNED]) + "---\n" + _pod("good", [SIGNED]), capsys)
    assert [r["outcome"] for r in results] == ["failed", "failed", "verified"]
    assert [r["pod"] for r in results] == ["bad", "bad", "good"]


def test_a_deployments_pod_template(tmp_path, capsys):
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: default}\nspec:\n  template:\n"
                  f"    spec:\n      containers:\n        - {{name: a, image: '{SIGNED}'}}\n        - {{name: b, image: '{UNSIGNED}'}}\n")
    _, results = _verify(tmp_path, _policy(), deployment, capsys)
    assert [r["outcome"] for r in results] == ["failed", "failed"]
    assert MADE_FALSE in results[0]["message"]


def test_kubectl_pods(tmp_path, capsys):
    pods = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
         "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}}
        for name, images in (("one", [SIGNED, UNSIGNED]), ("two", [SIGNED]))]}
    _, results = _verify(tmp_path, _policy(), json.dumps(pods), capsys)
    assert [r["outcome"] for r in results] == ["failed", "failed", "verified"]


def test_the_validations_of_the_pod_are_reported_for_each_image(tmp_path, capsys):
    _, results = _verify(tmp_path, _policy(), _pod("p", [SIGNED, UNSIGNED]), capsys)
    assert [[(v["expression"], v["value"]) for v in r["validations"]] for r in results] == [[(ALL_SIGNED, False)]] * 2


def test_bare_images_stay_a_pod_each(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(_policy() + MIRROR)
    code = main(["verify", str(tmp_path / "p.yaml"), SIGNED, UNSIGNED, "-o", "json",
                 "--trusted-root", str(SAMPLES / "trusted_root.json")])
    results = json.loads(capsys.readouterr().out)["results"]
    assert (code, [r["outcome"] for r in results]) == (1, ["verified", "failed"])
    assert "because of" not in results[1]["message"]


def test_a_kyverno_test_file_fails_the_pod_with_one_unsigned_image(tmp_path, capsys):
    (tmp_path / "policy.yaml").write_text(_policy())
    (tmp_path / "resources.yaml").write_text(_pod("mixed", [SIGNED, UNSIGNED]) + "---\n" + _pod("signed", [SIGNED, SIGNED]))
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\n"
        f"resources: [resources.yaml]\npullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n"
        f"  trustedRoot: {SAMPLES / 'trusted_root.json'}\nresults:\n"
        "  - {isImageValidatingPolicy: true, kind: Pod, policy: partner, resources: [mixed], result: fail}\n"
        "  - {isImageValidatingPolicy: true, kind: Pod, policy: partner, resources: [signed], result: pass}\n")
    code = main(["test", str(tmp_path / "kyverno-test.yaml"), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert code == 0, [c["reason"] for c in cases if not c["passed"]]
    assert UNSIGNED in cases[0]["message"]


# --- spec.images: custom extractors ---------------------------------------------------------------

SIDECAR_CHECK = "images.sidecar.all(i, verifyImageSignatures(i, [attestors.partner]) > 0)"


def _with_extractor(expression: str, name: str = "sidecar", validation: str = SIDECAR_CHECK, required: bool = False) -> str:
    policy = _policy(f"- expression: \"{validation}\"\n  message: a sidecar is not signed\n", required=required)
    return policy.replace("  validations:\n", f"  images:\n    - name: {name}\n      expression: \"{expression}\"\n  validations:\n")


def _annotated_pod(sidecar: str, containers: list[str]) -> str:
    return _pod("p", containers).replace("namespace: default}", f"namespace: default, annotations: {{sidecar: '{sidecar}'}}}}")


ANNOTATION = "[object.metadata.annotations.sidecar]"

# (case, policy, pod, [(image, outcome, words)])
EXTRACTORS = [
    ("an image only the extractor finds is checked", _with_extractor(ANNOTATION), _annotated_pod(UNSIGNED, [SIGNED]),
     [(SIGNED, "failed", MADE_FALSE), (UNSIGNED, "failed", "partner: a sidecar is not signed")]),
    ("a signed one passes", _with_extractor(ANNOTATION), _annotated_pod(SIGNED, [UNSIGNED]),
     [(UNSIGNED, "verified", None), (SIGNED, "verified", "1 validation of partner true")]),
    ("the extractor's images are filtered by matchImageReferences", _with_extractor(ANNOTATION), _annotated_pod(OTHER, [SIGNED]),
     [(SIGNED, "verified", None), (OTHER, "allowed", None)]),
    ("an extracted image a container also names has no row of its own", _with_extractor(ANNOTATION),
     _annotated_pod(UNSIGNED, [UNSIGNED]), [(UNSIGNED, "failed", "a sidecar is not signed")]),
    ("an extractor over the containers", _with_extractor("object.spec.containers.map(c, c.image)", "all",
                                                         SIDECAR_CHECK.replace("sidecar", "all")),
     _pod("p", [SIGNED, UNSIGNED]), [(SIGNED, "failed", MADE_FALSE), (UNSIGNED, "failed", "a sidecar is not signed")]),
    ("required covers extracted images", _with_extractor(ANNOTATION, validation="true", required=True),
     _annotated_pod(UNSIGNED, [SIGNED]),
     [(SIGNED, "failed", None), (UNSIGNED, "failed", f"image {UNSIGNED} is not verified")]),
    # what must not pass silently: an extractor that errors, one that replaces a default extractor
    ("an extractor that errors", _with_extractor("[object.metadata.annotations.missing]"), _annotated_pod(UNSIGNED, [SIGNED]),
     [(SIGNED, "error", "spec.images 'sidecar'")]),
    ("an extractor named as a default one", _with_extractor("object.spec.containers.map(c, c.image)", "containers",
                                                            SIDECAR_CHECK.replace("sidecar", "containers")),
     _pod("p", [SIGNED]), [(SIGNED, "error", "replaces Kyverno's own extractor")]),
]


@pytest.mark.parametrize("name, policy, pod, expected", EXTRACTORS, ids=[c[0] for c in EXTRACTORS])
def test_spec_images_extractors(tmp_path, capsys, name, policy, pod, expected):
    _, results = _verify(tmp_path, policy, pod, capsys)
    assert [(r["image"], r["outcome"]) for r in results] == [(image, outcome) for image, outcome, _ in expected], results
    for result, (_, _, words) in zip(results, expected, strict=True):
        if words is not None:
            assert words in result["message"], result["message"]


def test_simulate_lists_an_extracted_image_with_its_source(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(_with_extractor(ANNOTATION) + MIRROR)
    (tmp_path / "pods.yaml").write_text(_annotated_pod(UNSIGNED, [SIGNED]))
    assert main(["simulate", str(tmp_path / "p.yaml"), "--images", str(tmp_path / "pods.yaml"), "-o", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["image"], r["action"]) for r in results] == [(SIGNED, "verify"), (UNSIGNED, "verify")]


def test_an_extracted_image_in_a_kyverno_test_file(tmp_path, capsys):
    (tmp_path / "policy.yaml").write_text(_with_extractor(ANNOTATION))
    (tmp_path / "resources.yaml").write_text(_annotated_pod(UNSIGNED, [SIGNED]))
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\n"
        f"resources: [resources.yaml]\npullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n"
        f"  trustedRoot: {SAMPLES / 'trusted_root.json'}\nresults:\n"
        "  - {isImageValidatingPolicy: true, kind: Pod, policy: partner, resources: [p], result: fail}\n")
    code = main(["test", str(tmp_path / "kyverno-test.yaml"), "-o", "json"])
    [case] = json.loads(capsys.readouterr().out)["cases"]
    assert code == 0 and UNSIGNED in case["message"], case


def test_a_custom_resource_whose_image_only_an_extractor_finds(tmp_path, capsys):
    """A Kyverno test resource of a kind with no containers (a Task CRD): spec.images is how the
    policy sees its image."""
    policy = _with_extractor("[object.spec.image]", "task", SIDECAR_CHECK.replace("sidecar", "task")).replace(
        "[deployments]}", "[deployments]}\n      - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE], resources: [tasks]}")
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "resources.yaml").write_text("---\n".join(
        f"apiVersion: example.com/v1\nkind: Task\nmetadata: {{name: {name}, namespace: default}}\nspec: {{image: '{image}'}}\n"
        for name, image in (("unsigned", UNSIGNED), ("signed", SIGNED))))
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\n"
        f"resources: [resources.yaml]\npullguard:\n  mirrors: {{quay.io: oci:{SAMPLES / 'registry'}}}\n"
        f"  trustedRoot: {SAMPLES / 'trusted_root.json'}\nresults:\n"
        "  - {isImageValidatingPolicy: true, kind: Task, policy: partner, resources: [unsigned], result: fail}\n"
        "  - {isImageValidatingPolicy: true, kind: Task, policy: partner, resources: [signed], result: pass}\n")
    code = main(["test", str(tmp_path / "kyverno-test.yaml"), "-o", "json"])
    cases = json.loads(capsys.readouterr().out)["cases"]
    assert code == 0, [c["reason"] for c in cases if not c["passed"]]
    assert [c["actual"]["outcome"] for c in cases] == ["fail", "pass"]
