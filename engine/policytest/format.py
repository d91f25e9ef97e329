"""The PolicyTest file format (`apiVersion: pullguard.dev/v1alpha1`, `kind: PolicyTest`) and its loading.

Loading never raises on bad input: every problem is a Diagnostic with the line and column in
the test file, read through `pullguard.engine.yamlschema` in PolicyTest's own words.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from ..endpoints import EndpointError, parse_endpoint
from ..userfile import expand_home
from ..vocabulary import OUTCOMES
from ..yamlschema import Finding, Walker, Wording, problem_diagnostic
from ..yamlsource import (
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

    def expected(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
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
        diags.append(test_error("test-empty", f"empty file: expected a '{KIND}' document", 1, 1))
        return result
    if len(tests) > 1:
        second = tests[1].root
        line, column = position(second) if second is not None else (None, None)
        diags.append(test_error("test-multiple-documents", f"one '{KIND}' document per file, found {len(tests)}", line, column))
        return result
    root = tests[0].root
    if not isinstance(root, MappingNode):
        at = position(root) if root is not None else (None, None)
        diags.append(test_error("test-not-mapping", f"expected a '{KIND}' mapping, found {kind_name(root)}", *at))
        return result
    walker = Walker(diags.append, wording=WORDING)
    fields = walker.fields(root, TOP_KEYS, "")
    _check_header(root, fields, diags)

    policy_node = fields.get("policy")
    if policy_node is None:
        diags.append(test_error("test-missing-key", "'policy' must name the policy file to test", *position(root)))
    else:
        text_value = walker.string("policy", policy_node)
        if text_value is not None:
            resolved = resolve_path(base, text_value)
            if not resolved.is_file():
                diags.append(
                    test_error(
                        "test-policy-not-found",
                        f"policy file '{text_value}' not found (looked for {resolved})",
                        *position(policy_node),
                    )
                )
            else:
                result.policy_path = resolved

    if "mirrors" in fields:
        result.mirrors = read_mirrors(fields["mirrors"], base, walker)
    if "trustedRoot" in fields:
        value = walker.string("trustedRoot", fields["trustedRoot"])
        if value is not None:
            resolved = resolve_path(base, value)
            if not resolved.is_file():
                diags.append(
                    test_error(
                        "test-file-not-found",
                        f"trustedRoot file '{value}' not found (looked for {resolved})",
                        *position(fields["trustedRoot"]),
                    )
                )
            else:
                result.trusted_root = resolved
    if "insecureRegistries" in fields:
        result.insecure_registries = walker.string_list("'insecureRegistries'", fields["insecureRegistries"], "'insecureRegistries' entry")

    cases_node = fields.get("cases")
    if cases_node is None:
        diags.append(test_error("test-missing-key", "'cases' must list at least one case", *position(root)))
    elif not isinstance(cases_node, SequenceNode):
        diags.append(test_error("test-wrong-type", f"'cases' must be a list, found {kind_name(cases_node)}", *position(cases_node)))
    elif not cases_node.value:
        diags.append(test_error("test-no-cases", "'cases' must list at least one case", *position(cases_node)))
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
            diags.append(test_error("test-missing-key", f"'{key}' must be '{want}'", *position(root)))
        elif scalar_str(node) != want:
            diags.append(test_error("test-wrong-header", f"'{key}' must be '{want}', found {kind_name(node)}", *position(node)))


def _read_case(node: Node, number: int, walker: Walker, diags: list[Diagnostic]) -> TestCase | None:
    line, column = position(node)
    where = f"case {number}"
    if not isinstance(node, MappingNode):
        diags.append(test_error("test-wrong-type", f"{where}: expected a mapping with 'image', found {kind_name(node)}", line, column))
        return None
    before = len(diags)
    fields = walker.fields(node, CASE_KEYS, f"{where}: ")
    image = None
    if "image" not in fields:
        diags.append(test_error("test-missing-key", f"{where}: 'image' must be specified", line, column))
    else:
        image = walker.string(f"{where}: 'image'", fields["image"])
        if image is not None and not image.strip():
            diags.append(test_error("test-empty-value", f"{where}: 'image' is empty", *position(fields["image"])))
    verify = False
    if "verify" in fields:
        value = scalar_bool(fields["verify"])
        if value is None:
            diags.append(
                test_error(
                    "test-wrong-type",
                    f"{where}: 'verify' must be true or false, found {kind_name(fields['verify'])}",
                    *position(fields["verify"]),
                )
            )
        else:
            verify = value
    action = _choice(fields.get("action"), ACTIONS, f"{where}: action", diags)
    outcome = _choice(fields.get("outcome"), OUTCOMES, f"{where}: outcome", diags)
    rule = _read_rule(fields.get("rule"), where, diags)
    message = walker.string(f"{where}: 'message'", fields["message"]) if "message" in fields else None
    name = walker.string(f"{where}: 'name'", fields["name"]) if "name" in fields else None

    if verify and "outcome" not in fields:
        diags.append(
            test_error("test-missing-key", f"{where}: 'verify: true' needs the expected 'outcome' ({', '.join(OUTCOMES)})", line, column)
        )
    if not verify and "outcome" in fields:
        diags.append(
            test_error(
                "test-outcome-without-verify",
                f"{where}: 'outcome' is checked only with 'verify: true'",
                *position(fields["outcome"]),
                fix="add 'verify: true' to the case",
            )
        )
    if not verify and "action" not in fields:
        diags.append(
            test_error("test-missing-key", f"{where}: the expected 'action' ({', '.join(ACTIONS)}) must be specified", line, column)
        )
    if action == "allow" and rule is not None:
        diags.append(
            test_error(
                "test-rule-with-allow",
                f"{where}: 'allow' means no rule matched, so no 'rule' can be expected",
                *position(fields["rule"]),
                fix="remove 'rule'",
            )
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
            diags.append(test_error("test-wrong-value", f"{where}: 'rule' index must be 0 or more, found {number}", *position(node)))
            return None
        return number
    text = scalar_str(node)
    if not isinstance(node, ScalarNode) or not text:
        diags.append(
            test_error(
                "test-wrong-type",
                f"{where}: 'rule' must be a Talos rule index or a Kyverno 'policy/rule', found {kind_name(node)}",
                *position(node),
            )
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
    diags.append(test_error("test-wrong-value", message, *position(node)))
    return None


def read_mirrors(node: Node, base: Path, walker: Walker) -> dict[str, list[str]]:
    if not isinstance(node, MappingNode):
        walker.report(
            test_error("test-wrong-type", f"'mirrors' must map a registry host to endpoints, found {kind_name(node)}", *position(node))
        )
        return {}
    mirrors: dict[str, list[str]] = {}
    for host, _, value in mapping_items(node):
        items = value.value if isinstance(value, SequenceNode) else [value]
        endpoints = []
        for item in items:
            endpoint = walker.string(f"mirror endpoint for '{host}'", item)
            if endpoint is None:
                continue
            try:  # the rules --mirror and Talos mirror documents follow (no password is ever shown)
                spec = parse_endpoint(endpoint, where=f"mirror endpoint for '{host}'")
            except EndpointError as exc:
                walker.report(test_error("test-wrong-value", str(exc), *position(item)))
                continue
            if spec.is_oci:
                layout = resolve_path(base, spec.path)
                if not layout.is_dir():
                    walker.report(
                        test_error(
                            "test-file-not-found", f"OCI layout '{endpoint}' for '{host}' not found (looked for {layout})", *position(item)
                        )
                    )
                    continue
                endpoint = f"oci:{layout}"
            endpoints.append(endpoint)
        mirrors[host] = endpoints
    return mirrors


def resolve_path(base: Path, value: str) -> Path:
    """A file a pullguard test file names: `~` expanded, relative to the test file's folder."""
    path = expand_home(value)
    return path if path.is_absolute() else (base / path).resolve()


def test_error(code: str, message: str, line: int | None, column: int | None, fix: str | None = None) -> Diagnostic:
    return Diagnostic("error", code, message, line, column, fix=fix)
