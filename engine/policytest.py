"""PolicyTest files: what a policy must decide for given images, checked offline (`pullguard test`).

    apiVersion: pullguard.dev/v1alpha1
    kind: PolicyTest
    policy: ../talos/policy.yaml        # relative to this file
    mirrors: {ghcr.io: oci:../layout}   # only for `verify: true` cases; a list keeps order
    trustedRoot: ../trusted_root.json
    insecureRegistries: [registry.local:5000]
    cases:
      - image: ghcr.io/siderolabs/kubelet:v1.36.0
        action: verify                  # verify | skip | deny | allow
        rule: 1                         # Talos rule index, or Kyverno "policy/rule"
      - image: ghcr.io/org/app:v1
        verify: true                    # run the real verification
        outcome: verified               # verified | failed | skipped | denied | allowed | error
        message: verified via bundle    # a prefix of the message

Loading never raises on bad input: every problem is a Diagnostic with the line and column in
the test file. Running a case compares the policy's Decision (and, for `verify: true`, the
verification result) with what the case expects.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic
from .textfile import TextFileError, read_text
from .vocabulary import OUTCOMES
from .yamlschema import Finding, Walker, Wording, problem_diagnostic
from .yamlsource import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    compose,
    is_null,
    kind_name,
    mapping_items,
    position,
    scalar_bool,
    scalar_int,
    scalar_str,
)

API_VERSION = "pullguard.dev/v1alpha1"
KIND = "PolicyTest"
ACTIONS = ("verify", "skip", "deny", "allow")
TOP_KEYS = ("apiVersion", "kind", "metadata", "policy", "mirrors", "trustedRoot", "insecureRegistries", "cases")
CASE_KEYS = ("image", "name", "action", "rule", "verify", "outcome", "message")
MIRROR_SCHEMES = ("http://", "https://", "oci:")


def _unknown_key(key: str, where: str, allowed: tuple[str, ...], close: str | None) -> Finding:
    # The suggestion is in the message itself; a `fix` would print it twice.
    hint = f"; did you mean '{close}'?" if close else f" (known keys: {', '.join(allowed)})"
    return Finding("test-unknown-key", f"{where}unknown key '{key}'{hint}")


# A PolicyTest's own words: `where` is the case ("case 2: ") or nothing at the top.
WORDING = Wording(
    unknown_key=_unknown_key,
    wrong_type=lambda what, expected, found: Finding("test-wrong-type", f"{what} must be {expected}, found {found}"),
    any_case=False,
    repeated_key=lambda key, where: Finding("test-duplicate-key", f"{where}'{key}' is given twice"),
    ends=False,
)


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest test class

    image: str
    line: int
    column: int
    action: str | None = None
    # Talos rule index (int), or a string: Kyverno "policy/rule", or a Talos rule id "0002".
    rule: int | str | None = None
    verify: bool = False
    outcome: str | None = None
    message: str | None = None  # expected prefix of the decision (or verification) message
    name: str | None = None

    def expected(self) -> dict:
        out: dict = {}
        if self.action is not None:
            out["action"] = self.action
        if self.rule is not None:
            out["rule"] = self.rule
        if self.outcome is not None:
            out["outcome"] = self.outcome
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class TestFile:
    __test__ = False  # not a pytest test class

    path: str
    policy_path: Path | None = None
    cases: list[TestCase] = field(default_factory=list)
    # host -> endpoints in order; `oci:` paths and trustedRoot already resolved against the file.
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    trusted_root: Path | None = None
    insecure_registries: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == "error")


@dataclass
class CaseResult:
    file: str
    case: TestCase
    actual: dict
    passed: bool
    # Why the case failed, for a person; None when it passed.
    reason: str | None
    # What the policy (or verification) said about the image.
    message: str | None

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.case.line,
            "image": self.case.image,
            "expected": self.case.expected(),
            "actual": self.actual,
            "passed": self.passed,
            "message": self.message,
            "reason": self.reason,
        }


@dataclass
class FileResult:
    file: str
    policy: str | None
    dialect: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    # (path the diagnostic points into, diagnostic): the test file's own and its policy's.
    diagnostics: list[tuple[str, Diagnostic]] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return any(d.severity == "error" for _, d in self.diagnostics)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if not c.passed)

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "policy": self.policy,
            "dialect": self.dialect,
            "passed": self.passed,
            "failed": self.failed,
            "diagnostics": [dict(d.to_json(), file=path) for path, d in self.diagnostics],
        }


# ---------------------------------------------------------------------------------------------
# Finding test files


def is_policy_test(text: str) -> bool:
    """Whether a YAML text holds a `kind: PolicyTest` document (for picking files out of a folder)."""
    if "PolicyTest" not in text:  # cheap pre-check: most YAML in a repo is something else
        return False
    docs, _ = compose(text)
    for doc in docs:
        if isinstance(doc.root, MappingNode):
            for key, _, value in mapping_items(doc.root):
                if key == "kind" and scalar_str(value) == KIND:
                    return True
    return False


def discover(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Test files from files and folders, and a message per argument that yields nothing.

    A file named on the command line is always taken (and reported if it is not a PolicyTest);
    a folder contributes every `*.yaml`/`*.yml` below it that holds a PolicyTest document.
    """
    found: list[Path] = []
    problems: list[str] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            picked = []
            for candidate in candidates:
                try:
                    text = read_text(candidate)
                except (OSError, TextFileError):
                    continue
                if is_policy_test(text):
                    picked.append(candidate)
            if not picked:
                problems.append(f"{arg}: no PolicyTest files found in this folder")
            found.extend(picked)
        elif path.exists():
            found.append(path)
        else:
            problems.append(f"{arg}: no such file or folder")
    return list(dict.fromkeys(found)), problems


# ---------------------------------------------------------------------------------------------
# Loading


def load_test_file(text: str, path: str | Path) -> TestFile:
    """Parse and check a PolicyTest file held in memory. Paths resolve against `path`'s folder;
    the policy and trustedRoot files must exist (reported with the line that names them)."""
    result = TestFile(str(path))
    base = Path(path).parent
    docs, problem = compose(text)
    diags = result.diagnostics
    if problem is not None:
        diags.append(problem_diagnostic(problem))
        return result
    tests = [d for d in docs if d.root is not None and not is_null(d.root)]
    if not tests:
        diags.append(_error("test-empty", f"empty file: expected a '{KIND}' document", 1, 1))
        return result
    if len(tests) > 1:
        line, column = position(tests[1].root)
        diags.append(_error("test-multiple-documents", f"one '{KIND}' document per file, found {len(tests)}", line, column))
        return result
    root = tests[0].root
    if not isinstance(root, MappingNode):
        diags.append(_error("test-not-mapping", f"expected a '{KIND}' mapping, found {kind_name(root)}", *position(root)))
        return result
    walker = Walker(diags.append, wording=WORDING)
    fields = walker.fields(root, TOP_KEYS, "")
    _check_header(root, fields, diags)

    policy_node = fields.get("policy")
    if policy_node is None:
        diags.append(_error("test-missing-key", "'policy' must name the policy file to test", *position(root)))
    else:
        text_value = walker.string("policy", policy_node)
        if text_value is not None:
            resolved = _resolve(base, text_value)
            if not resolved.is_file():
                diags.append(
                    _error(
                        "test-policy-not-found",
                        f"policy file '{text_value}' not found (looked for {resolved})",
                        *position(policy_node),
                    )
                )
            else:
                result.policy_path = resolved

    if "mirrors" in fields:
        result.mirrors = _read_mirrors(fields["mirrors"], base, walker)
    if "trustedRoot" in fields:
        value = walker.string("trustedRoot", fields["trustedRoot"])
        if value is not None:
            resolved = _resolve(base, value)
            if not resolved.is_file():
                diags.append(
                    _error("test-file-not-found", f"trustedRoot file '{value}' not found (looked for {resolved})", *position(fields["trustedRoot"]))
                )
            else:
                result.trusted_root = resolved
    if "insecureRegistries" in fields:
        result.insecure_registries = walker.string_list("'insecureRegistries'", fields["insecureRegistries"],
                                                        "'insecureRegistries' entry")

    cases_node = fields.get("cases")
    if cases_node is None:
        diags.append(_error("test-missing-key", "'cases' must list at least one case", *position(root)))
    elif not isinstance(cases_node, SequenceNode):
        diags.append(_error("test-wrong-type", f"'cases' must be a list, found {kind_name(cases_node)}", *position(cases_node)))
    elif not cases_node.value:
        diags.append(_error("test-no-cases", "'cases' must list at least one case", *position(cases_node)))
    else:
        for number, node in enumerate(cases_node.value, start=1):
            case = _read_case(node, number, walker, diags)
            if case is not None:
                result.cases.append(case)
    return result


def _check_header(root: MappingNode, fields: dict[str, Node], diags: list[Diagnostic]) -> None:
    for key, want in (("apiVersion", API_VERSION), ("kind", KIND)):
        node = fields.get(key)
        if node is None:
            diags.append(_error("test-missing-key", f"'{key}' must be '{want}'", *position(root)))
        elif scalar_str(node) != want:
            diags.append(_error("test-wrong-header", f"'{key}' must be '{want}', found {kind_name(node)}", *position(node)))


def _read_case(node: Node, number: int, walker: Walker, diags: list[Diagnostic]) -> TestCase | None:
    line, column = position(node)
    where = f"case {number}"
    if not isinstance(node, MappingNode):
        diags.append(_error("test-wrong-type", f"{where}: expected a mapping with 'image', found {kind_name(node)}", line, column))
        return None
    before = len(diags)
    fields = walker.fields(node, CASE_KEYS, f"{where}: ")
    image = None
    if "image" not in fields:
        diags.append(_error("test-missing-key", f"{where}: 'image' must be specified", line, column))
    else:
        image = walker.string(f"{where}: 'image'", fields["image"])
        if image is not None and not image.strip():
            diags.append(_error("test-empty-value", f"{where}: 'image' is empty", *position(fields["image"])))
    verify = False
    if "verify" in fields:
        value = scalar_bool(fields["verify"])
        if value is None:
            diags.append(_error("test-wrong-type", f"{where}: 'verify' must be true or false, found {kind_name(fields['verify'])}", *position(fields["verify"])))
        else:
            verify = value
    action = _choice(fields.get("action"), ACTIONS, f"{where}: action", diags)
    outcome = _choice(fields.get("outcome"), OUTCOMES, f"{where}: outcome", diags)
    rule = _read_rule(fields.get("rule"), where, diags)
    message = walker.string(f"{where}: 'message'", fields["message"]) if "message" in fields else None
    name = walker.string(f"{where}: 'name'", fields["name"]) if "name" in fields else None

    if verify and "outcome" not in fields:
        diags.append(_error("test-missing-key", f"{where}: 'verify: true' needs the expected 'outcome' ({', '.join(OUTCOMES)})", line, column))
    if not verify and "outcome" in fields:
        diags.append(
            _error("test-outcome-without-verify", f"{where}: 'outcome' is checked only with 'verify: true'", *position(fields["outcome"]), fix="add 'verify: true' to the case")
        )
    if not verify and "action" not in fields:
        diags.append(_error("test-missing-key", f"{where}: the expected 'action' ({', '.join(ACTIONS)}) must be specified", line, column))
    if action == "allow" and rule is not None:
        diags.append(
            _error("test-rule-with-allow", f"{where}: 'allow' means no rule matched, so no 'rule' can be expected", *position(fields["rule"]), fix="remove 'rule'")
        )
    if len(diags) > before or image is None:
        return None
    return TestCase(image, line, column, action, rule, verify, outcome, message, name)


def _read_rule(node: Node | None, where: str, diags: list[Diagnostic]) -> int | str | None:
    if node is None:
        return None
    number = scalar_int(node)
    if number is not None:
        if number < 0:
            diags.append(_error("test-wrong-value", f"{where}: 'rule' index must be 0 or more, found {number}", *position(node)))
            return None
        return number
    text = scalar_str(node)
    if not isinstance(node, ScalarNode) or not text:
        diags.append(
            _error("test-wrong-type", f"{where}: 'rule' must be a Talos rule index or a Kyverno 'policy/rule', found {kind_name(node)}", *position(node))
        )
        return None
    return text


def _choice(node: Node | None, allowed: tuple[str, ...], what: str, diags: list[Diagnostic]) -> str | None:
    if node is None:
        return None
    value = scalar_str(node) if isinstance(node, ScalarNode) else None
    if value in allowed:
        return value
    close = difflib.get_close_matches(value or "", allowed, n=1)
    shown = f"'{value}'" if value is not None else kind_name(node)
    message = f"{what} {shown} is not one of {', '.join(allowed)}"
    if close:
        message += f"; did you mean '{close[0]}'?"
    diags.append(_error("test-wrong-value", message, *position(node)))
    return None


def _read_mirrors(node: Node, base: Path, walker: Walker) -> dict[str, list[str]]:
    if not isinstance(node, MappingNode):
        walker.report(_error("test-wrong-type", f"'mirrors' must map a registry host to endpoints, found {kind_name(node)}", *position(node)))
        return {}
    mirrors: dict[str, list[str]] = {}
    for host, _, value in mapping_items(node):
        items = value.value if isinstance(value, SequenceNode) else [value]
        endpoints = []
        for item in items:
            endpoint = walker.string(f"mirror endpoint for '{host}'", item)
            if endpoint is None:
                continue
            if not endpoint.startswith(MIRROR_SCHEMES):
                walker.report(
                    _error("test-wrong-value", f"mirror endpoint '{endpoint}' for '{host}' must start with http://, https:// or oci:", *position(item))
                )
                continue
            if endpoint.startswith("oci:"):
                layout = _resolve(base, endpoint[len("oci:"):])
                if not layout.is_dir():
                    walker.report(_error("test-file-not-found", f"OCI layout '{endpoint}' for '{host}' not found (looked for {layout})", *position(item)))
                    continue
                endpoint = f"oci:{layout}"
            endpoints.append(endpoint)
        mirrors[host] = endpoints
    return mirrors


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _error(code: str, message: str, line: int | None, column: int | None, fix: str | None = None) -> Diagnostic:
    return Diagnostic("error", code, message, line, column, fix=fix)


# ---------------------------------------------------------------------------------------------
# Running


def rule_matches(expected: int | str, decision) -> bool:
    """Whether the decision's rule is the expected one.

    An int is the Talos rule index (for Kyverno, the index of the first applying entry). A
    string is a Kyverno `policy/rule` that must be among the applying rules, or a Talos rule id
    such as `0002`.
    """
    if isinstance(expected, int):
        return decision.rule_index == expected
    if decision.rules:
        names = {f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules}
        if expected in names:
            return True
    if decision.rule_id is not None and expected == decision.rule_id:
        return True
    return expected.isdigit() and decision.rule_index == int(expected)


def describe_rule(decision) -> str:
    if decision.rules:
        return ", ".join(f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules)
    if decision.rule_index is None:
        return "no rule"
    return f"rule {decision.rule_index} ({decision.rule_id})"


def actual_of(decision) -> dict:
    out = {
        "action": decision.action,
        "rule_index": decision.rule_index,
        "rule_id": decision.rule_id,
        "pattern": decision.pattern,
    }
    if decision.rules is not None:
        out["rules"] = [f"{r.get('policy')}/{r.get('rule')}" for r in decision.rules]
    return out


def check_decision(case: TestCase, decision) -> list[str]:
    """What differs between the case's expected action/rule/message and the decision; [] passes."""
    problems = []
    if decision.action is None:
        return [f"image reference is invalid: {decision.error or decision.message}"]
    if case.action is not None and decision.action != case.action:
        problems.append(f"expected action {case.action}, got {decision.action} ({describe_rule(decision)})")
    if case.rule is not None and not rule_matches(case.rule, decision):
        problems.append(f"expected rule {case.rule}, got {describe_rule(decision)}")
    if case.message is not None and not case.verify and not decision.message.startswith(case.message):
        problems.append(f"expected message starting {case.message!r}, got {decision.message!r}")
    return problems


def check_verification(case: TestCase, outcome: str | None, message: str | None) -> list[str]:
    problems = []
    if outcome != case.outcome:
        problems.append(f"expected outcome {case.outcome}, got {outcome}: {message}")
    elif case.message is not None and not (message or "").startswith(case.message):
        problems.append(f"expected message starting {case.message!r}, got {message!r}")
    return problems


def run_test_file(path: str | Path, *, verifier=None) -> FileResult:
    """Load a test file and its policy, and run every case.

    `verifier(loaded, test_file, images) -> list[(outcome, message)]` runs `verify: true` cases;
    None uses `pullguard.engine.verify` with the file's mirrors, trusted root and insecure registries.
    """
    from .policy import load_policy

    shown = str(path)
    result = FileResult(shown, None)
    try:
        text = read_text(path)
    except TextFileError as exc:
        result.diagnostics.append((shown, _error("test-unreadable", f"cannot read test file: {exc.reason}",
                                                 exc.line, exc.column, "save the file as UTF-8")))
        return result
    except OSError as exc:
        result.diagnostics.append((shown, _error("test-unreadable", f"cannot read test file: {_reason(exc)}", None, None)))
        return result
    test_file = load_test_file(text, path)
    result.diagnostics.extend((shown, d) for d in test_file.diagnostics)
    if test_file.policy_path is not None:
        result.policy = str(test_file.policy_path)
    if test_file.errors or test_file.policy_path is None:
        return result
    policy_shown = _display_path(test_file.policy_path)
    result.policy = policy_shown
    try:
        policy_text = read_text(test_file.policy_path)
    except TextFileError as exc:
        result.diagnostics.append((policy_shown, _error("policy-unreadable", f"cannot read policy: {exc.reason}",
                                                        exc.line, exc.column, "save the file as UTF-8")))
        return result
    except OSError as exc:
        result.diagnostics.append((policy_shown, _error("policy-unreadable", f"cannot read policy: {_reason(exc)}", None, None)))
        return result
    loaded = load_policy(policy_text, policy_shown)
    result.dialect = loaded.dialect
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    if errors or loaded.policy is None:
        result.diagnostics.extend((policy_shown, d) for d in errors)
        return result

    cases = test_file.cases
    decisions = loaded.policy.evaluate_many([c.image for c in cases])
    verify_cases = [i for i, c in enumerate(cases) if c.verify]
    verified: dict[int, tuple[str | None, str | None]] = {}
    if verify_cases:
        run = verifier or _engine_verifier
        try:
            outcomes = run(loaded, test_file, [cases[i].image for i in verify_cases])
        except VerificationSetupError as exc:
            # Nothing was verified: the file's setup (trusted root, mirrors) is at fault, not a case.
            result.diagnostics.append((shown, _error("test-verify-setup", str(exc), None, None)))
            outcomes = [(None, str(exc))] * len(verify_cases)
        verified = dict(zip(verify_cases, outcomes))

    for index, (case, decision) in enumerate(zip(cases, decisions)):
        actual = actual_of(decision)
        message = decision.message
        problems = check_decision(case, decision)
        if case.verify:
            outcome, verify_message = verified[index]
            actual["outcome"] = outcome
            message = verify_message
            problems += check_verification(case, outcome, verify_message)
        actual["message"] = message
        result.cases.append(CaseResult(shown, case, actual, not problems, "; ".join(problems) or None, message))
    return result


def _engine_verifier(loaded, test_file: TestFile, images: list[str]) -> list[tuple[str | None, str | None]]:
    """Run `pullguard.engine.verify` with the test file's mirrors, trusted root and insecure registries."""
    import asyncio

    from . import verify as verify_module

    # The same options `pullguard verify` builds from its flags; the policy file's own
    # mirrors travel in `loaded`, as they do for `pullguard verify`.
    options = verify_module.VerifyOptions(
        trusted_root=str(test_file.trusted_root) if test_file.trusted_root else None,
        mirrors=dict(test_file.mirrors),
        insecure=list(test_file.insecure_registries),
    )
    try:
        results = asyncio.run(verify_module.verify_images(loaded, images, options))
    except Exception as exc:  # per-image faults are outcomes; what escapes is the setup's
        raise VerificationSetupError(f"verification could not run: {_reason(exc)}") from exc
    return [(r.outcome, r.message) for r in results]


class VerificationSetupError(Exception):
    """Verification could not start (unusable trusted root, mirror, ...): the file is invalid."""


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
