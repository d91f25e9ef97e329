"""Attestation `conditions`: `all`/`any` of `key`/`operator`/`value` over the in-toto predicate.

As Kyverno evaluates them (`pkg/engine/internal/utils.go` EvaluateConditions,
`pkg/engine/variables/evaluate.go`, `vars.go`): the predicate's fields are merged at the top of
the JSON context (`{{ buildType }}`, `{{ builder.id }}`), and the predicate is also reachable
under the attestation's `name` (`{{ sbom.bomFormat }}`). Variables `{{ … }}` in keys and values
are JMESPath, innermost first; a string that is one variable takes the variable's JSON value, a
variable inside a longer string is replaced by its text. Each condition block passes when all of
`all` and one of `any` (when given) hold; every block must pass.

`check_template` finds what `check` reports (a JMESPath that does not parse, a function that does
not exist) with the offset of the problem inside the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

VARIABLE = re.compile(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")
_AT_START = re.compile(r"^\{\{(?:\{[^{}]*\}|[^{}])*\}\}")


class SubstitutionError(Exception):
    """A variable could not be resolved (a JMESPath error, a Kyverno function's error)."""


@dataclass(frozen=True)
class Condition:
    key: Any  # the JSON value as written (strings may hold {{ }})
    operator: str  # as Kyverno spells it
    value: Any
    message: str
    path: str  # conditions[0].all[1]

    def describe(self) -> str:
        return f"{_show(self.key)} {self.operator} {_show(self.value)}"


@dataclass(frozen=True)
class ConditionBlock:
    any: tuple[Condition, ...] | None  # None: no `any` written (an empty one fails, as in Kyverno)
    all: tuple[Condition, ...]


@dataclass(frozen=True)
class ConditionVerdict:
    passed: bool
    message: str  # which condition failed and the value seen; empty when passed
    error: bool = False  # a variable could not be resolved (Kyverno: "failed to check attestations")


def cache_text(blocks: tuple[ConditionBlock, ...]) -> str:
    """The conditions as canonical JSON: equal for conditions that decide alike."""
    def one(c: Condition) -> list[Any]:
        return [c.key, c.operator, c.value]

    return json.dumps([[None if b.any is None else [one(c) for c in b.any], [one(c) for c in b.all]] for b in blocks],
                      sort_keys=True, default=str)


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"'{text}'" if isinstance(value, str) else text


# --- variable substitution --------------------------------------------------------------------


def _query(expression: str, context: dict[str, Any]) -> Any:
    import jmespath
    from jmespath import exceptions

    from .jmespath_functions import FUNCTIONS, FunctionError

    expression = expression.strip()
    if not expression:
        raise SubstitutionError("invalid query (nil)")
    try:
        return jmespath.search(expression, context, options=jmespath.Options(custom_functions=FUNCTIONS))
    except (exceptions.JMESPathError, FunctionError) as exc:
        raise SubstitutionError(f"JMESPath query {expression!r} failed: {_one_line(exc)}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise SubstitutionError(f"JMESPath query {expression!r} failed: {exc}") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _braces(variable: str) -> tuple[str, bool]:
    """replaceBracesAndTrimSpaces: the expression, and whether it is shallow (`{{- … }}`)."""
    inner = variable.replace("{{", "").replace("}}", "").strip()
    if inner.startswith("-"):
        return inner[1:].strip(), True
    return inner, False


def substitute(value: Any, context: dict[str, Any]) -> Any:
    """Kyverno's SubstituteAll over a JSON value (strings in lists and mapping values and keys)."""
    if isinstance(value, str):
        return _substitute_string(value, context)
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if isinstance(value, dict):
        return {_as_text(substitute(k, context)): substitute(v, context) for k, v in value.items()}
    return value


def _substitute_string(text: str, context: dict[str, Any]) -> Any:
    value = text
    found = [m.group(0) for m in VARIABLE.finditer(value)]
    rounds = 0
    while found:
        rounds += 1
        if rounds > 64:  # a variable whose value writes another variable, over and over
            raise SubstitutionError(f"variables in {text!r} nest deeper than 64 levels")
        original = value
        shallow = False
        for whole in found:
            initial = _AT_START.match(whole) is not None
            variable = whole if initial else whole[1:]
            expression, shallow = _braces(variable)
            result = _query(expression, context)
            if original == variable:
                return result
            prefix = "" if initial else whole[0]
            replacement = _as_text(result)
            if shallow and result is not None:
                replacement = replacement.replace("{{", "\\{{")
            value = value.replace(prefix + variable, prefix + replacement, 1)
        found = [] if shallow else [m.group(0) for m in VARIABLE.finditer(value)]
    return value.replace("\\{{", "{{")


# --- evaluation ----------------------------------------------------------------------------------


def predicate_context(statement: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The JSON context Kyverno evaluates conditions in, or None when the statement has no
    predicate object ("failed to extract predicate from statement")."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return None
    context = dict(predicate)
    if name:
        context[name] = predicate
    return context


def _holds(condition: Condition, context: dict[str, Any]) -> tuple[bool, Any]:
    from .operators import evaluate

    key = substitute(condition.key, context)
    value = substitute(condition.value, context)
    return evaluate(condition.operator, key, value), key


def _failure(condition: Condition, seen: object) -> str:
    text = condition.message or f"{condition.path}: {condition.describe()} is false"
    return f"{text} (the key is {_show(seen) if seen is not None else 'null'})"


def evaluate_conditions(blocks: tuple[ConditionBlock, ...], statement: dict[str, Any], name: str) -> ConditionVerdict:
    """Whether the statement's predicate satisfies every condition block, and if not, which
    condition failed with the value it saw."""
    if not blocks:
        return ConditionVerdict(True, "")
    context = predicate_context(statement, name)
    if context is None:
        return ConditionVerdict(False, "failed to extract predicate from statement: it has no predicate object", True)
    try:
        for block in blocks:
            if block.any is not None:
                misses = []
                for condition in block.any:
                    ok, seen = _holds(condition, context)
                    if ok:
                        break
                    misses.append(_failure(condition, seen))
                else:
                    return ConditionVerdict(False, "no condition of 'any' holds: " + "; ".join(misses))
            for condition in block.all:
                ok, seen = _holds(condition, context)
                if not ok:
                    return ConditionVerdict(False, _failure(condition, seen))
    except SubstitutionError as exc:
        return ConditionVerdict(False, f"failed to substitute variables in attestation conditions: {exc}", True)
    return ConditionVerdict(True, "")


# --- what check reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateProblem:
    offset: int  # into the text as written
    message: str
    severity: str = "error"


def check_template(text: str) -> list[TemplateProblem]:
    """JMESPath that does not parse and functions that do not exist, in every `{{ }}` of `text`
    (innermost first, as they are substituted; an inner variable reads as text of its length)."""
    import jmespath
    from jmespath import exceptions

    from .jmespath_functions import KNOWN, KYVERNO_ONLY

    problems: list[TemplateProblem] = []
    work = text
    for _ in range(64):
        found = list(VARIABLE.finditer(work))
        if not found:
            break
        for m in found:
            start = m.start(2)
            variable = m.group(2)
            body_start = start + 2
            inner = variable[2:-2]
            lead = len(inner) - len(inner.lstrip())
            expression = inner.strip()
            if expression.startswith("-"):
                lead += 1 + len(expression[1:]) - len(expression[1:].lstrip())
                expression = expression[1:].strip()
            at = body_start + lead
            if not expression:
                problems.append(TemplateProblem(start, "empty variable '{{ }}'"))
            else:
                try:
                    parsed = jmespath.compile(expression).parsed
                except exceptions.LexerError as exc:
                    problems.append(TemplateProblem(at + int(exc.lex_position or 0),
                                                    f"JMESPath does not parse: {_lexer_reason(exc)} in '{expression}'"))
                    parsed = None
                except exceptions.ParseError as exc:
                    position = int(exc.lex_position or 0)
                    token = f"'{exc.token_value}'" if exc.token_value else "end of expression"
                    problems.append(TemplateProblem(at + min(position, len(expression)),
                                                    f"JMESPath does not parse: unexpected {token} in '{expression}'"))
                    parsed = None
                if parsed is not None:
                    for function in _functions(parsed):
                        where = at + max(0, expression.find(function + "("))
                        if function in KYVERNO_ONLY:
                            problems.append(TemplateProblem(
                                where, f"JMESPath function '{function}' is a Kyverno function pullguard does not implement"))
                        elif function not in KNOWN:
                            problems.append(TemplateProblem(where, f"unknown JMESPath function '{function}'"))
                    if expression.startswith("predicate."):
                        problems.append(TemplateProblem(at, (
                            f"'{expression}': Kyverno puts the predicate's fields at the top of the context "
                            f"(write '{{{{ {expression.removeprefix('predicate.')} }}}}')"), "warning"))
            # the variable reads as text of the same length in the enclosing expression
            work = work[:start] + "x" * len(variable) + work[m.end(2):]
    return problems


def _lexer_reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message).split("\n", 1)[0].rstrip(":")


def _functions(node: Any) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "function_expression":
                out.append(str(item.get("value")))
            stack.extend(item.get("children") or [])
        elif isinstance(item, list):
            stack.extend(item)
    return out
