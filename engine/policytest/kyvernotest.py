"""Kyverno CLI test files (`apiVersion: cli.kyverno.io/v1alpha1`, `kind: Test`), run offline by `pullguard test`.

    apiVersion: cli.kyverno.io/v1alpha1
    kind: Test
    metadata: {name: verify-signature}
    policies: [policies.yaml]           # ClusterPolicy/Policy with verifyImages, relative to this file
    resources: [resources.yaml]         # Pods, and workloads whose pod template holds the images
    results:
      - {policy: check-image, rule: verify-signature, kind: Pod, resources: [signed], result: pass}
    pullguard:                          # beside Kyverno's fields: where the signatures are, offline
      mirrors: {ghcr.io: oci:layout}
      trustedRoot: trusted_root.json
      insecureRegistries: [localhost:5000]

A result row names a policy, a rule and resources (`name` or `namespace/name`) of a kind. Each
resource's images are taken as Kyverno takes them (containers, initContainers,
ephemeralContainers, the pod template of a workload; engine.images), decided by the policies
with the resource's kind (autogen included), and verified. The rule's result for the resource
is `skip` when it applies to none of its images, else `pass` when every image it applies to is
verified and `fail` when one fails or is denied. An image pullguard cannot decide (`error`:
a field it does not verify, a registry it cannot reach) is `error`, which no expectation
matches: a check pullguard did not make never passes as a failure Kyverno would report.

pullguard verifies an image against every entry that applies to it at once, so where several
rules apply to one image, a failure is reported for each of them. Kyverno's `variables`,
`userinfo`, `context` and `values` are not read (a warning says so); of `exceptions`, the CEL
PolicyExceptions (`policies.kyverno.io`) are read, kyverno.io's are not (a warning says so).

A row with `isImageValidatingPolicy: true` names an ImageValidatingPolicy (it has no rules; a
`rule` is ignored, as Kyverno ignores it). The resource is the policy's `object`: a policy
whose matchConstraints or matchConditions do not select it has excluded it, which Kyverno's CLI
reports as a pass (reason "Excluded", counted as skipped), so `pass` and `skip` both match it.
Otherwise the images of the resource that matchImageReferences takes are verified together,
as Kyverno evaluates the policy once for the resource: the resource is `object` and
`images.<category>` holds all of them (`all()` over them is false for one unsigned image), and
the result is `pass` when every one is verified, `fail` when one fails, `error` when pullguard
cannot tell. A
resource with no image the policy takes passes (Kyverno runs the validations over empty image
lists). A NamespacedImageValidatingPolicy excludes a resource of another namespace (a resource
without metadata.namespace is in `default`), as Kyverno's webhook only calls a namespace's
policies for it. A CEL PolicyException that excepts the resource makes the result `skip`
(Kyverno: "rule is skipped due to policy exception: NAME").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from ..images import ImageListError, parse_image_list, plain_object
from ..policy import LoadedPolicy, load_policy
from ..policy.ivpol.exceptions import PolicyException, attach, excepting
from ..policy.ivpol.loader import load_exception_documents
from ..policy.ivpol.model import MatchError
from ..policy.ivpol.policyset import SKIPPED_BY_EXCEPTION, IvpolPolicySet
from ..policy.ivpol.selection import ResourceImage, images_by_category, namespace_of
from ..textfile import TextFileError, read_text
from ..yamlschema import Walker, problem_diagnostic
from ..yamlsource import MappingNode, Node, SequenceNode, compose, end_position, is_null, map_get, position, scalar_str
from .format import WORDING, TestCase, read_mirrors, resolve_path, test_error
from .run import CaseResult, FileResult

API_GROUP = "cli.kyverno.io/"
KIND = "Test"
RESULTS = ("pass", "fail", "skip")
NOT_READ = ("variables", "userinfo", "context", "values", "checks")
TOP_KEYS = ("apiVersion", "kind", "metadata", "name", "policies", "resources", "exceptions", "results", "pullguard",
            *NOT_READ)
RESULT_KEYS = ("policy", "rule", "resource", "resources", "kind", "result", "status", "namespace",
               "isImageValidatingPolicy", "isValidatingAdmissionPolicy", "isValidatingPolicy", "isMutatingPolicy",
               "patchedResources", "generatedResource", "cloneSourceResource")
PULLGUARD_KEYS = ("mirrors", "trustedRoot", "insecureRegistries")
POLICY_KINDS = ("ClusterPolicy", "Policy", "ImageValidatingPolicy", "NamespacedImageValidatingPolicy")
EXCLUDED = "excluded"  # an ImageValidatingPolicy that does not select the resource (Kyverno: a pass)


@dataclass(frozen=True)
class Expectation:
    policy: str
    rule: str | None  # None: an ImageValidatingPolicy row (isImageValidatingPolicy: true)
    kind: str | None
    resource: str  # `name` or `namespace/name`
    result: str
    line: int
    column: int


@dataclass
class KyvernoTest:
    path: str
    policies: list[Path] = field(default_factory=list)
    resources: list[Path] = field(default_factory=list)
    exceptions: list[Path] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    trusted_root: Path | None = None
    insecure_registries: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class Resource:
    kind: str
    namespace: str | None
    name: str
    images: tuple[str, ...]
    object: dict[str, Any] = field(default_factory=dict, compare=False)  # the document as plain data

    def named(self, wanted: str) -> bool:
        if "/" in wanted:
            return wanted == f"{self.namespace or 'default'}/{self.name}"
        return wanted == self.name


@dataclass(frozen=True)
class Overrides:
    """`pullguard test --mirror/--trusted-root/--insecure-registry`: before the file's own."""

    mirrors: dict[str, list[str]] = field(default_factory=dict)
    trusted_root: str | None = None
    insecure_registries: tuple[str, ...] = ()


def is_kyverno_test(text: str) -> bool:
    """Whether a YAML text is a Kyverno CLI `Test` (for picking files out of a folder)."""
    if API_GROUP not in text:
        return False
    docs, _ = compose(text)
    for doc in docs:
        if isinstance(doc.root, MappingNode):
            if (_text(map_get(doc.root, "apiVersion")) or "").startswith(API_GROUP) and _text(map_get(doc.root, "kind")) == KIND:
                return True
    return False


def load_kyverno_test(text: str, path: str | Path) -> KyvernoTest:
    result = KyvernoTest(str(path))
    base = Path(path).parent
    diags = result.diagnostics
    docs, problem = compose(text)
    if problem is not None:
        diags.append(problem_diagnostic(problem))
        return result
    roots = [d.root for d in docs if d.root is not None and not is_null(d.root)]
    if len(roots) != 1 or not isinstance(roots[0], MappingNode):
        diags.append(test_error("test-not-mapping", f"expected one '{KIND}' document", 1, 1))
        return result
    root = roots[0]
    walker = Walker(diags.append, wording=WORDING)
    fields = walker.fields(root, TOP_KEYS, "")
    for key in NOT_READ:
        if key in fields:
            diags.append(Diagnostic("warning", "test-not-read", f"'{key}' is not read by pullguard: results that depend on it may differ",
                                    *position(fields[key])))
    result.policies = _files(fields, "policies", base, walker, diags, root)
    result.resources = _files(fields, "resources", base, walker, diags, root)
    if "exceptions" in fields:
        result.exceptions = _files(fields, "exceptions", base, walker, diags, root)
    own = fields.get("pullguard")
    if own is not None and isinstance(own, MappingNode):
        block = walker.fields(own, PULLGUARD_KEYS, "pullguard: ")
        if "mirrors" in block:
            result.mirrors = read_mirrors(block["mirrors"], base, walker)
        if "trustedRoot" in block:
            value = walker.string("trustedRoot", block["trustedRoot"])
            if value is not None:
                resolved = resolve_path(base, value)
                if resolved.is_file():
                    result.trusted_root = resolved
                else:
                    diags.append(test_error("test-file-not-found", f"trustedRoot file '{value}' not found (looked for {resolved})",
                                            *position(block["trustedRoot"])))
        if "insecureRegistries" in block:
            result.insecure_registries = walker.string_list("'insecureRegistries'", block["insecureRegistries"],
                                                            "'insecureRegistries' entry")
    elif own is not None:
        walker.wrong_type("'pullguard'", "a mapping", own)
    rows = fields.get("results")
    if not isinstance(rows, SequenceNode) or not rows.value:
        diags.append(test_error("test-no-cases", "'results' must list at least one result", *position(rows or root)))
        return result
    for number, row in enumerate(rows.value, start=1):
        result.expectations += _expectations(row, number, walker, diags)
    return result


def _files(fields: dict[str, Node], key: str, base: Path, walker: Walker, diags: list[Diagnostic], root: Node) -> list[Path]:
    node = fields.get(key)
    if node is None:
        diags.append(test_error("test-missing-key", f"'{key}' must list the {key} files", *position(root)))
        return []
    out = []
    items = node.value if isinstance(node, SequenceNode) else [node]
    for item in items:
        value = walker.string(f"'{key}' entry", item)
        if value is None:
            continue
        resolved = _kyverno_path(base, value)
        if resolved.is_file():
            out.append(resolved)
        else:
            diags.append(test_error("test-file-not-found", f"{key[:-1]} file '{value}' not found (looked for {resolved})",
                                    *position(item)))
    return out


def _expectations(row: Node, number: int, walker: Walker, diags: list[Diagnostic]) -> list[Expectation]:
    where = f"result {number}: "
    if not isinstance(row, MappingNode):
        walker.wrong_type(f"result {number}", "a mapping", row)
        return []
    fields = walker.fields(row, RESULT_KEYS, where)
    line, column = position(row)
    values: dict[str, str | None] = {}
    for key in ("policy", "rule", "kind", "result", "status", "resource"):
        values[key] = walker.string(key, fields[key]) if key in fields else None
    ivpol = "isImageValidatingPolicy" in fields and walker.boolean("isImageValidatingPolicy",
                                                                    fields["isImageValidatingPolicy"]) is True
    wanted = values["result"] or values["status"]  # `status` is the field's older name
    problems = [key for key in ("policy", "rule") if not values[key] and not (ivpol and key == "rule")]
    if wanted not in RESULTS:
        at = position(fields.get("result") or fields.get("status") or row)
        diags.append(test_error("test-wrong-value", f"{where}'result' must be one of {', '.join(RESULTS)}, found {wanted!r}", *at))
        return []
    if problems:
        diags.append(test_error("test-missing-key", f"{where}'{problems[0]}' is required", line, column))
        return []
    names = []
    if values["resource"]:
        names.append(values["resource"])
    if "resources" in fields:
        names += walker.string_list("'resources'", fields["resources"], "'resources' entry")
    if not names:
        diags.append(test_error("test-missing-key", f"{where}'resources' must name at least one resource", line, column))
    rule = None if ivpol else values["rule"] or ""
    return [Expectation(values["policy"] or "", rule, values["kind"], name, wanted, line, column) for name in names]


def read_resources(path: Path, shown: str) -> list[Resource]:
    """Every object in a resources file that holds images, with the images Kyverno would check
    (engine.images reads them; each belongs to the document whose lines hold it)."""
    text = read_text(path)
    entries = parse_image_list(text, shown)
    docs, _ = compose(text)
    out = []
    for doc in docs:
        root = doc.root
        if not isinstance(root, MappingNode):
            continue
        metadata = map_get(root, "metadata")
        first, last = position(root)[0], end_position(root)[0]
        images = tuple(e.image for e in entries if e.line is not None and first <= e.line <= last)
        out.append(Resource(_text(map_get(root, "kind")) or "", _text(map_get(metadata, "namespace")),
                            _text(map_get(metadata, "name")) or "", images, plain_object(root)))
    return out


# `verify(loaded, images, test, overrides)`: the engine's outcome and message per image, in order
# (an image is the reference with its resource's kind, or a selection.ResourceImage).
Verifier = Callable[[LoadedPolicy, Sequence[Any], "KyvernoTest", Overrides], Sequence[tuple[str, str]]]


def run_kyverno_test(path: str | Path, overrides: Overrides | None = None, *, verifier: Verifier | None = None) -> FileResult:
    """Load a Kyverno CLI test, its policies and resources, and compare every result row."""
    shown = str(path)
    result = FileResult(shown, None, "kyverno")
    try:
        text = read_text(path)
    except (OSError, TextFileError) as exc:
        result.diagnostics.append((shown, test_error("test-unreadable", f"cannot read test file: {exc}", None, None)))
        return result
    test = load_kyverno_test(text, path)
    result.diagnostics += [(shown, d) for d in test.diagnostics]
    if any(d.severity == "error" for d in test.diagnostics):
        return result
    policies: dict[str, LoadedPolicy] = {}  # by `name` and `namespace/name`
    for policy_path in test.policies:
        text = read_text(policy_path)
        loaded = load_policy(text, str(policy_path))
        errors = [d for d in loaded.diagnostics if d.severity == "error"]
        result.diagnostics += [(str(policy_path), d) for d in errors]
        if not errors and loaded.policy is not None:
            for names, alone in each_policy(text):
                one = load_policy(alone, str(policy_path))
                policies.update((name, one) for name in names)
    exceptions: list[PolicyException] = []
    for exception_path in test.exceptions:
        found, diagnostics = _read_exceptions(exception_path)
        exceptions += found
        result.diagnostics += [(str(exception_path), d) for d in diagnostics]
    if exceptions:
        policies = {name: _with_exceptions(loaded, exceptions) for name, loaded in policies.items()}
    resources: list[Resource] = []
    for resource_path in test.resources:
        try:
            resources += read_resources(resource_path, str(resource_path))
        except (OSError, TextFileError, ImageListError) as exc:
            result.diagnostics.append((str(resource_path), test_error("test-unreadable", f"cannot read resources: {exc}", None, None)))
    if result.invalid:
        return result
    result.policy = ", ".join(str(p) for p in test.policies)
    verify = verifier or _engine_verifier
    # ((policy, kind, resource), image) -> (outcome, message)
    outcomes: dict[tuple[tuple[int, str, int], str], tuple[str, str]] = {}
    for expectation in test.expectations:
        case = TestCase(f"{expectation.kind or '*'}/{expectation.resource}", expectation.line, expectation.column,
                        outcome=expectation.result,
                        name=expectation.policy if expectation.rule is None else f"{expectation.policy}/{expectation.rule}")
        matching = [r for r in resources if r.named(expectation.resource) and expectation.kind in (None, r.kind)]
        if not matching:
            result.cases.append(CaseResult(shown, case, {"outcome": None}, False,
                                           f"no resource {case.image} in {', '.join(str(p) for p in test.resources)}", None))
            continue
        actual, message = _rule_result(expectation, matching[0], policies, test, overrides or Overrides(), verify, outcomes)
        passed = actual == expectation.result or (actual == EXCLUDED and expectation.result in ("pass", "skip"))
        reason = None if passed else f"expected {expectation.result}, got {actual}" + (f": {message}" if message else "")
        result.cases.append(CaseResult(shown, case, {"outcome": actual, "images": list(matching[0].images)}, passed, reason, message))
    return result


def each_policy(text: str) -> list[tuple[tuple[str, ...], str]]:
    """Each ClusterPolicy/Policy of a file alone (its names, the text with every other policy's
    lines blanked, so lines and columns stay those of the file; other documents, such as mirror
    configs, kept): Kyverno reports a result per policy, and pullguard verifies an image against
    every entry of the policy it is given."""
    docs, _ = compose(text)
    spans: list[tuple[tuple[str, ...], int, int]] = []
    for doc in docs:
        root = doc.root
        if isinstance(root, MappingNode) and _text(map_get(root, "kind")) in POLICY_KINDS:
            metadata = map_get(root, "metadata")
            name, namespace = _text(map_get(metadata, "name")), _text(map_get(metadata, "namespace"))
            if name:
                names: tuple[str, ...] = (name, f"{namespace}/{name}") if namespace else (name,)
                spans.append((names, position(root)[0], end_position(root)[0]))
    lines = text.split("\n")
    out: list[tuple[tuple[str, ...], str]] = []
    for index, (names, _, _) in enumerate(spans):
        kept = list(lines)
        for other, (_, first, last) in enumerate(spans):
            if other != index:
                kept[first - 1:last] = [""] * (last - first + 1)
        out.append((names, "\n".join(kept)))
    return out


def _rule_result(
    expectation: Expectation, resource: Resource, policies: dict[str, LoadedPolicy], test: KyvernoTest, overrides: Overrides,
    verify: Verifier, outcomes: dict[tuple[tuple[int, str, int], str], tuple[str, str]],
) -> tuple[str, str | None]:
    """The rule's result for the resource: skip, pass, fail, or error (pullguard could not tell)."""
    loaded = policies.get(expectation.policy)
    if loaded is None or loaded.policy is None:
        return "error", f"no policy '{expectation.policy}' in {', '.join(str(p) for p in test.policies)}"
    ivpol = loaded.dialect == "kyverno-ivpol"
    if ivpol != (expectation.rule is None):
        return "error", (f"'{expectation.policy}' is an ImageValidatingPolicy: its row needs isImageValidatingPolicy: true"
                         if ivpol else f"'{expectation.policy}' is not an ImageValidatingPolicy (isImageValidatingPolicy: true)")
    policy_name = expectation.policy.rpartition("/")[2]  # a namespaced Policy is named `namespace/name`
    subjects: list[Any] = ([ResourceImage(image, resource.object, category)
                            for category, images in images_by_category(resource.object).items() for image in images]
                           if ivpol else [_Image(image, resource.kind) for image in resource.images])
    if ivpol and isinstance(loaded.policy, IvpolPolicySet):  # and what spec.images extractors find beside
        written = {str(subject) for subject in subjects}
        subjects += [ResourceImage(image, resource.object, name) for image, name in loaded.policy.extracted(resource.object)
                     if image not in written]
    if ivpol:
        excluded = _ivpol_excluded(loaded, policy_name, resource)
        if excluded is not None:
            return excluded
    applying = []
    for subject in subjects:
        decision = loaded.policy.evaluate_many([subject])[0]
        if decision.error is not None:
            return "error", f"{subject}: {decision.error}"
        if any(r["policy"] == policy_name and r["rule"] == expectation.rule and r["action"] == "verify"
               for r in decision.rules or ()):
            applying.append(subject)
    if not applying:
        return ("pass", "no image the policy takes") if ivpol else ("skip", None)
    key = (id(loaded), resource.kind, id(resource))
    missing = [subject for subject in applying if (key, str(subject)) not in outcomes]
    if missing:
        found = verify(loaded, missing, test, overrides)
        for subject, verified in zip(missing, found, strict=True):
            outcomes[(key, str(subject))] = verified
    for wanted in ("error", "fail"):  # an image pullguard could not decide outweighs a failure
        for image in applying:
            outcome, message = outcomes[(key, str(image))]
            if _result_of(outcome) == wanted:
                return wanted, f"{image}: {outcome}: {message}"
    return "pass", None


def _ivpol_excluded(loaded: LoadedPolicy, name: str, resource: Resource) -> tuple[str, str | None] | None:
    """(excluded, why) when the ImageValidatingPolicy does not select the resource (another
    namespace's NamespacedImageValidatingPolicy, matchConstraints, matchConditions), (skip, why)
    when a PolicyException excepts it, (error, why) when it cannot tell, None when it applies."""
    policy = next((p for p in getattr(loaded.policy, "policies", ()) if p.name == name), None)
    if policy is None:
        return None
    if policy.scope is not None and namespace_of(resource.object) != policy.scope:
        return EXCLUDED, (f"NamespacedImageValidatingPolicy {policy.scope}/{policy.name} applies only to resources in "
                          f"namespace '{policy.scope}'; {resource.kind}/{resource.name} is in '{namespace_of(resource.object)}'")
    try:
        reason = policy.selection.selects(resource.object) if policy.selection is not None else None
        if reason is not None:
            return EXCLUDED, reason
        keys = excepting(policy, resource.object)
    except MatchError as error:
        return "error", str(error)
    return ("skip", SKIPPED_BY_EXCEPTION + ", ".join(keys)) if keys else None


def _read_exceptions(path: Path) -> tuple[list[PolicyException], list[Diagnostic]]:
    """The CEL PolicyExceptions of a test's `exceptions:` file; kyverno.io's PolicyExceptions
    (for ClusterPolicies) are not read, which a warning says."""
    try:
        text = read_text(path)
    except (OSError, TextFileError) as exc:
        return [], [test_error("test-unreadable", f"cannot read exceptions: {exc}", None, None)]
    docs, problem = compose(text)
    if problem is not None:
        return [], [problem_diagnostic(problem)]
    found, diagnostics = load_exception_documents(docs)
    for doc in docs:
        root = doc.root
        if (isinstance(root, MappingNode) and _text(map_get(root, "kind")) == "PolicyException"
                and (_text(map_get(root, "apiVersion")) or "").startswith("kyverno.io/")):
            diagnostics.append(Diagnostic("warning", "test-not-read", "a kyverno.io PolicyException (for ClusterPolicies) is "
                                          "not read by pullguard: results that depend on it may differ", *position(root)))
    return found, diagnostics


def _with_exceptions(loaded: LoadedPolicy, exceptions: list[PolicyException]) -> LoadedPolicy:
    """An ImageValidatingPolicy file's policies with the test's exceptions that name them."""
    from dataclasses import replace

    if not isinstance(loaded.policy, IvpolPolicySet):
        return loaded
    return replace(loaded, policy=IvpolPolicySet(attach(loaded.policy.policies, exceptions)))


def _text(node: Node | None) -> str | None:
    return scalar_str(node) if node is not None else None


def _result_of(outcome: str) -> str:
    if outcome == "verified":
        return "pass"
    if outcome in ("failed", "denied"):
        return "fail"
    if outcome in ("skipped", "allowed"):
        return "skip"
    return "error"


@dataclass(frozen=True)
class _Image:
    """An image with the kind of the resource it comes from (Kyverno's match on kinds, autogen)."""

    reference: str
    kind: str

    def __str__(self) -> str:
        return self.reference


def _engine_verifier(loaded: LoadedPolicy, images: Sequence[Any], test: KyvernoTest, overrides: Overrides) -> list[tuple[str, str]]:
    """`pullguard.engine.verify` offline: a host given a mirror here (`--mirror`, the `pullguard:`
    block) is served by its mirrors alone, as a mirror with `skipFallback` is; the real registry
    is never asked, so a signature missing from the mirror is `failed`, not a connection error."""
    import asyncio
    from dataclasses import replace

    from .. import verify as verify_module
    from ..endpoints import parse_endpoint
    from ..policy.talos.mirrors import DeclaredMirrors

    mirrors = {host: list(endpoints) for host, endpoints in overrides.mirrors.items()}
    for host, endpoints in test.mirrors.items():
        mirrors.setdefault(host, []).extend(endpoints)
    declared = dict(loaded.mirror_specs)
    for host, endpoints in mirrors.items():
        own = tuple(parse_endpoint(e, where=f"mirror for {host}") for e in endpoints)
        before = declared.get(host)
        declared[host] = DeclaredMirrors(own + (before.endpoints if before else ()), skip_fallback=True)
    options = verify_module.VerifyOptions(
        trusted_root=overrides.trusted_root or (str(test.trusted_root) if test.trusted_root else None),
        insecure=[*overrides.insecure_registries, *test.insecure_registries],
    )
    results = asyncio.run(verify_module.verify_images(replace(loaded, mirror_specs=declared), list(images), options))
    return [(r.outcome, r.message) for r in results]


def _kyverno_path(base: Path, value: str) -> Path:
    """A file of `policies`, `resources` or `exceptions` found as `kyverno test` finds it
    (path.GetFullPath): absolute as written, else joined to the test file's folder; no `~`."""
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()
