"""Attestation conditions written as CEL (`pullguard convert`) decide as Kyverno's do.

Each case is a ClusterPolicy condition: it is either written as CEL, and then the CEL over
`extractPayload` and Kyverno's JMESPath-and-operators evaluation agree on every predicate of the
table, or it is refused (None) and the converter denies instead. The predicates are the values
that make EqualHandler take its other branches: missing fields, null, numbers, quantities,
durations, booleans, objects where a field was expected.
"""

from __future__ import annotations

import pytest

from pullguard.engine.policy.ivpol.conditions_cel import conditions_cel
from pullguard.engine.policy.ivpol.expressions import compile_expression, policy_env
from pullguard.engine.policy.kyverno.conditions import Condition, ConditionBlock, evaluate_conditions

PREDICATES = [
    {"buildType": "https://example.com/container@v1", "builder": {"id": "https://github.com/slsa-framework/x"}},
    {"buildType": "https://example.com/container@v2", "builder": {"id": "https://gitlab.com/x"}},
    {"buildType": None, "builder": None},
    {"builder": "https://github.com/slsa-framework/x"},
    {"buildType": 5, "builder": {"id": 1.5}},
    {"buildType": "5", "builder": {"id": "10Mi"}},
    {"buildType": "1h", "builder": {"id": "-3"}},
    {"buildType": True, "builder": {"id": False}},
    {"buildType": ["https://example.com/container@v1"], "builder": {"id": {"nested": 1}}},
    {},
    {"sbom": "shadowed", "bomFormat": "CycloneDX"},
]


def _c(key: object, operator: str, value: object) -> Condition:
    return Condition(key=key, operator=operator, value=value, message="", path="conditions[0].all[0]")


# (conditions, written as CEL?)
CASES = [
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "https://example.com/container@v1"),))], True),
    ([ConditionBlock(None, (_c("{{buildType}}", "NotEquals", "https://example.com/container@v1"),))], True),
    ([ConditionBlock(None, (_c("{{ builder.id }}", "Equals", "https://github.com/slsa-framework/*"),))], True),
    ([ConditionBlock(None, (_c("{{ builder.id }}", "NotEquals", "https://github.com/*"),))], True),
    ([ConditionBlock(None, (_c("{{ builder.id }}", "Equals", "*"),))], True),  # quantities are not wildcards
    ([ConditionBlock(None, (_c("{{ builder.id }}", "NotEquals", "?0Mi"),))], True),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", True),))], True),
    ([ConditionBlock(None, (_c("{{ builder.id }}", "NotEquals", False),))], True),
    ([ConditionBlock(None, (_c("{{ sbom.bomFormat }}", "Equals", "CycloneDX"),))], True),  # the name: the predicate
    ([ConditionBlock((_c("{{ buildType }}", "Equals", "https://example.com/container@v2"),
                      _c("{{ builder.id }}", "Equals", "https://gitlab.com/*")),
                     (_c("{{ buildType }}", "NotEquals", "x"),))], True),
    ([ConditionBlock((), ())], True),  # an empty `any` never holds
    ([ConditionBlock(None, (_c("{{ buildType }}", "equals", "https://example.com/container@v1"),)),
      ConditionBlock(None, (_c("{{ builder.id }}", "Equals", "https://*"),))], True),
    # refused: Kyverno compares these as numbers, durations or through functions and lists
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "5"),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "1h"),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "10Mi"),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "Inf"),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", 5),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", ""),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "Equals", "{{ builder.id }}"),))], False),
    ([ConditionBlock(None, (_c("{{ buildType }}", "AnyIn", ["x"]),))], False),
    ([ConditionBlock(None, (_c("{{ to_upper(buildType) }}", "Equals", "X"),))], False),
    ([ConditionBlock(None, (_c("{{ request.object.kind }}", "Equals", "Pod"),))], False),
    ([ConditionBlock(None, (_c("prefix-{{ buildType }}", "Equals", "prefix-x"),))], False),
    ([ConditionBlock(None, (_c("{{ builder.\"id\" }}", "Equals", "x"),))], False),
]


@pytest.mark.parametrize(("blocks", "written"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_conditions_written_as_cel_decide_as_kyverno(blocks: list[ConditionBlock], written: bool) -> None:
    cel_text = conditions_cel(tuple(blocks), "sbom")
    assert (cel_text is not None) == written
    if cel_text is None:
        return
    compiled = compile_expression(policy_env(), f"cel.bind(p, object.p, {cel_text})", "bool")
    assert not hasattr(compiled, "message"), compiled
    for predicate in PREDICATES:
        kyverno = evaluate_conditions(tuple(blocks), {"predicate": predicate}, "sbom")
        assert not kyverno.error
        assert compiled.evaluate({"object": {"p": predicate}}) is kyverno.passed, (predicate, kyverno.message)
