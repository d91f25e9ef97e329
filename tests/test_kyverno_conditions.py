"""Kyverno attestation conditions: the operators as Kyverno's own tables have them
(kyverno/kyverno pkg/engine/variables/operator/*_test.go, ported as rows), variable substitution
over the predicate, and what `check` says about conditions it cannot evaluate."""

from __future__ import annotations

import json

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.kyverno.conditions import (
    Condition,
    ConditionBlock,
    check_template,
    evaluate_conditions,
    substitute,
)
from pullguard.engine.policy.kyverno.operators import evaluate

# (operator, key, value, expected): rows of Kyverno's operator tests.
OPERATOR_CASES = [
    # equal_test.go
    ("Equals", True, True, True), ("Equals", False, False, True), ("Equals", True, False, False),
    ("Equals", True, "true", False), ("Equals", 42, 42, True), ("Equals", 42, 43, False),
    ("Equals", 42, 42.0, True), ("Equals", 42, 42.5, False), ("Equals", 42, "42", True),
    ("Equals", 42, "invalid", False), ("Equals", 3.14, 3.14, True), ("Equals", 3.14, 2.71, False),
    ("Equals", 42.0, 42, True), ("Equals", 3.14, "3.14", True), ("Equals", 3.14, "invalid", False),
    ("Equals", 10.5, 10, False), ("Equals", 3.14, True, False), ("Equals", 10, True, False),
    ("Equals", "hello", "hello", True), ("Equals", "hello", "world", False),
    ("Equals", "hello-world", "hello-*", True), ("Equals", "goodbye-world", "hello-*", False),
    ("Equals", "hello", 123, False), ("Equals", "100Mi", "100Mi", True), ("Equals", "1Gi", "1024Mi", True),
    ("Equals", "100Mi", "200Mi", False), ("Equals", "1h", "60m", True), ("Equals", "1h", "30m", False),
    ("Equals", "1h", 3600, True), ("Equals", {"a": 1}, {"a": 1}, True), ("Equals", [1, 2], [1, 2], True),
    ("Equals", [1, 2], [2, 1], False), ("Equals", None, None, False), ("equals", "x", "x", True),
    ("EQUALS", "x", "x", True), ("Equal", "x", "x", True),
    # notequal_test.go
    ("NotEquals", True, False, True), ("NotEquals", 42, 43, True), ("NotEquals", 5, 5.5, True),
    ("NotEquals", 3.14, 2.71, True), ("NotEquals", "hello", "world", True),
    ("NotEquals", "100Mi", "not-a-quantity", True), ("NotEquals", "1h", "30m", True),
    ("NotEquals", "1h", "60m", False), ("NotEquals", "hello", "h*", False), ("NotEquals", True, "true", True),
    ("NotEquals", None, "x", False),
    # in_test.go
    ("In", "hello", "hello", True), ("In", "hello-world", "hello-*", True), ("In", "goodbye-world", "hello-*", False),
    ("In", "apple", '["apple", "banana", "cherry"]', True), ("In", "grape", '["apple", "banana", "cherry"]', False),
    ("In", "apple", 12345, False), ("In", "a", "not-valid-json", False), ("In", "kube-system", ["default", "kube-*"], True),
    ("In", ["a", "b"], ["a", "b", "c"], True), ("In", ["a", "d"], ["a", "b", "c"], False),
    ("NotIn", "kyverno", "kyverno", False), ("NotIn", "kyverno", ["default"], True), ("NotIn", ["a", "d"], ["a", "b"], True),
    # anyin / anynotin / allin / allnotin tests
    ("AnyIn", "kyverno", "kyverno", True), ("AnyIn", "kube-system", ["default", "kube-*"], True),
    ("AnyIn", ["a", "x"], ["a", "b"], True), ("AnyIn", ["x", "y"], ["a", "b"], False),
    ("AnyIn", [1, 2], ["2"], True), ("AnyIn", ["5"], "1-10", True), ("AnyIn", ["15"], "1-10", False),
    ("AnyIn", ["a*"], ["abc"], True), ("AnyIn", "notjson", "notjson", True), ("AnyIn", ["x"], 5, False),
    ("AnyNotIn", "kyverno", "kyverno", False), ("AnyNotIn", "kube-system", ["default", "kube-*"], False),
    ("AnyNotIn", "kyverno", "default", True), ("AnyNotIn", 64, "64", False), ("AnyNotIn", 64, "default", True),
    ("AnyNotIn", 3.14, "3.14", False), ("AnyNotIn", 3.14, "default", True), ("AnyNotIn", True, True, False),
    ("AnyNotIn", ["a", "x"], ["a", "b"], True), ("AnyNotIn", ["a", "b"], ["a", "b"], False),
    ("AnyNotIn", ["15"], "1-10", True), ("AnyNotIn", ["5"], "1-10", False),
    ("AllIn", ["a", "b"], ["a", "b", "c"], True), ("AllIn", ["a", "x"], ["a", "b"], False),
    ("AllIn", ["5", "7"], "1-10", True), ("AllIn", ["5", "17"], "1-10", False), ("AllIn", "kyverno", "kyverno", True),
    ("AllNotIn", "kyverno", "kyverno", False), ("AllNotIn", "kyverno", "default", True), ("AllNotIn", 64, "64", False),
    ("AllNotIn", 64, "default", True), ("AllNotIn", ["x", "y"], ["a", "b"], True), ("AllNotIn", ["a", "y"], ["a", "b"], False),
    ("AllNotIn", ["15", "20"], "1-10", True), ("AllNotIn", ["5", "20"], "1-10", False),
    # numeric_test.go
    ("GreaterThan", 10, 5, True), ("GreaterThan", 5, 10, False), ("GreaterThan", 5, 5, False),
    ("GreaterThanOrEquals", 10, 10, True), ("LessThan", 5, 10, True), ("LessThanOrEquals", 5, 5, True),
    ("GreaterThan", 10.5, 10.4, True), ("LessThan", 10.4, 10.5, True), ("GreaterThan", "100", 50, True),
    ("LessThan", "50", "100", True), ("GreaterThan", "1.2.3", "1.2.2", True), ("LessThan", "1.1.0", "1.2.0", True),
    ("GreaterThanOrEquals", "1.2.0", "1.2.0", True), ("LessThan", "1.2.0-rc.1", "1.2.0", True),
    ("GreaterThan", "200Mi", "100Mi", True), ("LessThan", "1Gi", "2Gi", True), ("GreaterThanOrEquals", "500m", "0.5", True),
    ("GreaterThan", True, 5, False), ("GreaterThan", "not-a-number", 5, False), ("GreaterThan", None, 5, False),
    ("LessThanOrEquals", "23h59m", "24h", True), ("LessThanOrEquals", "24h0m1s", "24h", False),
    ("GreaterThan", 3601, "1h", True), ("GreaterThan", "1h", 3599, True),
    # duration_test.go
    ("DurationGreaterThan", "2h", "1h", True), ("DurationGreaterThan", "1h", "2h", False),
    ("DurationGreaterThan", "1h", "1h", False), ("DurationGreaterThan", "60m", "1h", False),
    ("DurationGreaterThan", "61m", "1h", True), ("DurationGreaterThan", 120, 60, True), ("DurationGreaterThan", 60, 120, False),
    ("DurationGreaterThan", 120, "1m", True), ("DurationGreaterThan", 120.5, 60.5, True), ("DurationGreaterThan", 120.5, 60, True),
    ("DurationGreaterThan", 120.0, "1m", True), ("DurationGreaterThan", True, False, False),
    ("DurationGreaterThan", 120, "invalid", False), ("DurationGreaterThan", 120, True, False),
    ("DurationGreaterThanOrEquals", "2h", "1h", True), ("DurationGreaterThanOrEquals", "1h", "60m", True),
    ("DurationGreaterThanOrEquals", "30m", "1h", False), ("DurationGreaterThanOrEquals", 60, 60, True),
    ("DurationLessThan", "30m", "1h", True), ("DurationLessThan", "2h", "1h", False), ("DurationLessThan", "1h", "60m", False),
    ("DurationLessThan", 30, 60, True), ("DurationLessThanOrEquals", "30m", "1h", True),
    ("DurationLessThanOrEquals", "1h", "60m", True), ("DurationLessThanOrEquals", "2h", "1h", False),
    ("DurationLessThanOrEquals", 60, 60, True),
]


@pytest.mark.parametrize("operator,key,value,expected", OPERATOR_CASES)
def test_operators_as_kyverno_decides(operator, key, value, expected):
    assert evaluate(operator, key, value) is expected


PREDICATE = {
    "buildType": "https://slsa.dev/container-based-build/v0.1",
    "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
    "invocation": {"configSource": {"entryPoint": ".github/workflows/release.yml"}},
    "materials": [{"uri": "git+https://github.com/acme/app"}, {"uri": "git+https://github.com/acme/lib"}],
    "metadata": {"buildFinishedOn": "2026-11-30T09:00:00Z", "completeness": {"parameters": True}},
    "count": 3,
}
STATEMENT = {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2",
             "subject": [], "predicate": PREDICATE}


@pytest.mark.parametrize("template,expected", [
    ("{{ buildType }}", "https://slsa.dev/container-based-build/v0.1"),
    ("{{builder.id}}", PREDICATE["builder"]["id"]),
    ("{{ count }}", 3),  # one variable: its JSON value, not text
    ("n={{ count }}", "n=3"),  # inside text: its text
    ("{{ materials[].uri }}", ["git+https://github.com/acme/app", "git+https://github.com/acme/lib"]),
    ("{{ metadata.completeness }}", {"parameters": True}),
    ("x {{ metadata.completeness }}", 'x {"parameters":true}'),
    ("{{ nothing.here }}", None),
    ("{{ regex_match('^https://github.com/slsa-framework/', '{{ builder.id }}') }}", True),
    ("{{ to_upper(invocation.configSource.entryPoint) }}", ".GITHUB/WORKFLOWS/RELEASE.YML"),
    ("{{ split(buildType, '/') | length(@) }}", 5),
    ("{{ time_since('', metadata.buildFinishedOn, '2026-11-30T10:30:00Z') }}", "1h30m0s"),
    ("{{ provenance.buildType }}", "https://slsa.dev/container-based-build/v0.1"),  # the attestation's name
    ("\\{{ not a variable }}", "{{ not a variable }}"),
    ("plain", "plain"),
])
def test_variables_substitute_as_kyverno(template, expected):
    context = dict(PREDICATE, provenance=PREDICATE)
    assert substitute(template, context) == expected


def _cond(key, operator, value, path="conditions[0].all[0]", message=""):
    return Condition(key, operator, value, message, path)


@pytest.mark.parametrize("blocks,passed,words", [
    ((ConditionBlock(None, (_cond("{{ buildType }}", "Equals", "https://slsa.dev/container-based-build/v0.1"),)),), True, ""),
    ((ConditionBlock(None, (_cond("{{ buildType }}", "Equals", "https://example.com/other"),)),), False,
     "conditions[0].all[0]: '{{ buildType }}' Equals 'https://example.com/other' is false (the key is 'https://slsa.dev/container-based-build/v0.1')"),
    ((ConditionBlock(None, (_cond("{{ count }}", "GreaterThan", 5, message="too few steps"),)),), False,
     "too few steps (the key is 3)"),
    ((ConditionBlock((_cond("{{ count }}", "Equals", 1, "conditions[0].any[0]"),
                      _cond("{{ count }}", "Equals", 3, "conditions[0].any[1]")), ()),), True, ""),
    ((ConditionBlock((_cond("{{ count }}", "Equals", 1, "conditions[0].any[0]"),), ()),), False,
     "no condition of 'any' holds: conditions[0].any[0]: '{{ count }}' Equals 1 is false (the key is 3)"),
    ((ConditionBlock((), ()),), False, "no condition of 'any' holds: "),  # an empty `any` fails, as in Kyverno
    ((ConditionBlock(None, (_cond("{{ missing }}", "Equals", "x"),)),), False, "(the key is null)"),
    ((ConditionBlock(None, (_cond("{{ materials[].uri }}", "AllIn", ["git+https://github.com/acme/*"]),)),), True, ""),
    ((ConditionBlock(None, (_cond("{{ divide(count, `0`) }}", "Equals", 1),)),), False,
     "failed to substitute variables in attestation conditions"),
])
def test_condition_blocks(blocks, passed, words):
    verdict = evaluate_conditions(blocks, STATEMENT, "provenance")
    assert verdict.passed is passed
    assert words in verdict.message


def test_a_statement_without_a_predicate_object_fails_with_why():
    verdict = evaluate_conditions((ConditionBlock(None, (_cond("{{ a }}", "Equals", "b"),)),), {"predicate": "text"}, "")
    assert not verdict.passed and verdict.error and "no predicate object" in verdict.message


@pytest.mark.parametrize("text,offset,words", [
    ("{{ builder.[id }}", 14, "does not parse"),
    ("{{ a | }}", 6, "does not parse"),
    ('{{ "unclosed }}', 3, "does not parse"),
    ("{{ nope(builder.id) }}", 3, "unknown JMESPath function 'nope'"),
    ("{{ regex_match('x', '{{ bogus(a) }}') }}", 24, "unknown JMESPath function 'bogus'"),
    ("{{ lookup(a, 'b') }}", 3, "Kyverno function pullguard does not implement"),
    ("{{ }}", 0, "empty variable"),
])
def test_check_template_finds_the_problem_where_it_is(text, offset, words):
    problems = [p for p in check_template(text) if p.severity == "error"]
    assert problems, text
    assert problems[0].offset == offset
    assert words in problems[0].message


@pytest.mark.parametrize("text", ["{{ buildType }}", "{{ regex_match('^a', '{{ builder.id }}') }}", "no variable", "\\{{ escaped }}"])
def test_check_template_accepts_what_kyverno_evaluates(text):
    assert [p for p in check_template(text) if p.severity == "error"] == []


POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: p}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
    verifyImages:
    - imageReferences: ["ghcr.io/*"]
      mutateDigest: false
      attestations:
      - type: https://slsa.dev/provenance/v0.2
        attestors:
        - entries:
          - keyless: {{issuer: "https://x", subject: "a@b", rekor: {{url: "https://rekor.sigstore.dev"}}}}
        conditions:
        - all:
          - key: {key}
            operator: {operator}
            value: {value}
"""


@pytest.mark.parametrize("key,operator,value,code,line,column,words", [
    ('"{{ builder.[id }}"', "Equals", "x", "kyverno-condition-jmespath", 19, 33, "does not parse"),
    ("'{{ nope(a) }}'", "Equals", "x", "kyverno-condition-jmespath", 19, 22, "unknown JMESPath function 'nope'"),
    ('"{{ a }}"', "Equalz", "x", "kyverno-condition-operator", 20, 23, "'Equalz' is not a Kyverno condition operator"),
    ('"{{ a }}"', "GreaterThan", "[1, 2]", "kyverno-condition-value-type", 21, 20, "not a list"),
    ('"{{ a }}"', "LessThan", "true", "kyverno-condition-value-type", 21, 20, "not the boolean true"),
    ('"{{ a }}"', "DurationLessThan", "soon", "kyverno-condition-value-type", 21, 20, "not 'soon'"),
    ('"{{ a }}"', "AnyIn", "{a: b}", "kyverno-condition-value-type", 21, 20, "not a mapping"),
    ('"{{ a }}"', "In", "[x]", "kyverno-deprecated-operator", 20, 23, "deprecated"),
    ('"{{ predicate.buildType }}"', "Equals", "x", "kyverno-condition-jmespath", 19, 22, "top of the context"),
])
def test_check_reports_conditions_it_cannot_evaluate(key, operator, value, code, line, column, words):
    loaded = load_policy(POLICY.format(key=key, operator=operator, value=value), "p.yaml")
    found = [d for d in loaded.diagnostics if d.code == code]
    assert found, [(d.code, d.message) for d in loaded.diagnostics]
    assert (found[0].line, found[0].column) == (line, column)
    assert words in found[0].message


def test_check_accepts_a_kyverno_sample_condition():
    key = ("\"{{ regex_match('^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
           "generator_container_slsa3.yml@refs/tags/v[0-9].[0-9].[0-9]$','{{ builder.id}}') }}\"")
    loaded = load_policy(POLICY.format(key=key, operator="Equals", value="true"), "p.yaml")
    assert [d for d in loaded.diagnostics if d.code.startswith("kyverno-condition")] == []
    entry = loaded.policy.entries[0]
    condition = entry.attestations[0].conditions[0].all[0]
    assert condition.value is True and condition.operator == "Equals"
    assert json.loads(json.dumps(entry.to_json("verify", None)))["attestations"][0]["conditions"][0]["all"][0]["operator"] == "Equals"
