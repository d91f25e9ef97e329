"""Kyverno's condition operators, as `pkg/engine/variables/operator/` evaluates them.

`evaluate(operator, key, value)` takes the key and value after variable substitution (JSON
values: None, bool, int, float, str, list, dict) and answers as Kyverno's handlers do, with their
quirks kept: a value that cannot be compared is `False` (never an exception), strings are tried as
Go durations, then Kubernetes quantities, then go-wildcard patterns (the *value* is the pattern),
`In`/`NotIn` take a JSON array written as a string, `AnyIn`/`AllIn` take a range `1-10`.
Operator names are matched case-insensitively, as `CreateOperatorHandler` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ... import jsontext
from ...patterns import wildcard_match

# Kyverno's ConditionOperators (api/kyverno/v1/common_types.go), by lower-case name.
OPERATORS: dict[str, str] = {name.lower(): name for name in (
    "Equal", "Equals", "NotEqual", "NotEquals", "In", "AnyIn", "AllIn", "NotIn", "AnyNotIn", "AllNotIn",
    "GreaterThanOrEquals", "GreaterThan", "LessThanOrEquals", "LessThan",
    "DurationGreaterThanOrEquals", "DurationGreaterThan", "DurationLessThanOrEquals", "DurationLessThan",
)}
DEPRECATED = {"In": "AllIn or AnyIn", "NotIn": "AllNotIn or AnyNotIn"}


def canonical(operator: str) -> str | None:
    """The operator's name as Kyverno spells it, or None when Kyverno has no such operator."""
    return OPERATORS.get(operator.lower())


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sprint(v: object) -> str:
    """Go's fmt.Sprint of a JSON value (numbers as Go prints a float64: 1, 1.5, 1e+21)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    if v is None:
        return "<nil>"
    if isinstance(v, list):
        return "[" + " ".join(_sprint(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_sprint(v[k])}" for k in sorted(v)) + "]"
    return str(v)


# --- Go durations ------------------------------------------------------------------------

_UNITS = {"ns": Decimal(1), "us": Decimal(1000), "µs": Decimal(1000), "μs": Decimal(1000),
          "ms": Decimal(10**6), "s": Decimal(10**9), "m": Decimal(60 * 10**9), "h": Decimal(3600 * 10**9)}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> Decimal | None:
    """time.ParseDuration in nanoseconds, or None where Go refuses the text."""
    s = text
    sign = Decimal(1)
    if s[:1] in "+-" and s:
        sign = Decimal(-1) if s[0] == "-" else Decimal(1)
        s = s[1:]
    if s == "0":
        return Decimal(0)
    if not s:
        return None
    total = Decimal(0)
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            return None
        total += Decimal(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def _durations(key: object, value: object) -> tuple[Decimal, Decimal] | None:
    """operator.go parseDuration, in seconds: at least one side a duration string (not "0"),
    the other a duration string or a number of seconds."""
    kd = parse_go_duration(key) if isinstance(key, str) and key != "0" else None
    vd = parse_go_duration(value) if isinstance(value, str) and value != "0" else None
    if kd is None and vd is None:
        return None
    ks = kd / Decimal(10**9) if kd is not None else _seconds(key)
    vs = vd / Decimal(10**9) if vd is not None else _seconds(value)
    if ks is None or vs is None:
        return None
    return ks, vs


# --- Kubernetes quantities and semantic versions -----------------------------------------

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
_SUFFIX = {"Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
           "Pi": Decimal(2**50), "Ei": Decimal(2**60), "n": Decimal("1e-9"), "u": Decimal("1e-6"),
           "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
           "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


def parse_quantity(text: str) -> Decimal | None:
    """resource.ParseQuantity's value, or None where Kubernetes refuses the text."""
    m = _QUANTITY.fullmatch(text)
    if m is None:
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def _semver(text: str) -> tuple[tuple[int, int, int], tuple[tuple[int, int | str], ...] | None] | None:
    """blang/semver Parse: (major, minor, patch) and the pre-release parts (None: a release)."""
    m = _SEMVER.fullmatch(text)
    if m is None:
        return None
    pre = None
    if m.group(4):
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in m.group(4).split("."))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))), pre


def _semver_cmp(a: str, b: str) -> int | None:
    pa, pb = _semver(a), _semver(b)
    if pa is None or pb is None:
        return None
    if pa[0] != pb[0]:
        return -1 if pa[0] < pb[0] else 1
    if pa[1] == pb[1]:
        return 0
    if pa[1] is None:
        return 1  # a release is above its pre-releases
    if pb[1] is None:
        return -1
    return -1 if pa[1] < pb[1] else 1


def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat (no Python-only forms such as '1_0' or ' 1')."""
    if not re.fullmatch(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[Ii]nf(?:inity)?|NaN)", text):
        return None
    return float(text)


# --- Equals / NotEquals ------------------------------------------------------------------


def _equal(key: object, value: object) -> bool | None:
    """EqualHandler; None where Kyverno's NotEqual answers `true` for a type it cannot compare."""
    if isinstance(key, bool):
        return key == value if isinstance(value, bool) else None
    if _is_number(key):
        k = float(key)  # type: ignore[arg-type]
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return k == value if k == int(k) else None
        if isinstance(value, float):
            return k == value
        if isinstance(value, str):
            parsed = parse_go_float(value)  # every JSON number is a float64 in Kyverno
            return None if parsed is None else parsed == k
        return None
    if isinstance(key, str):
        durations = _durations(key, value)
        if durations is not None:
            return durations[0] == durations[1]
        quantity = parse_quantity(key)
        if quantity is not None and isinstance(value, str):
            if value == "":
                return wildcard_match(value, key)
            other = parse_quantity(value)
            return None if other is None else quantity == other
        if isinstance(value, str):
            return wildcard_match(value, key)
        return None
    if isinstance(key, (dict, list)):
        return key == value if type(value) is type(key) else None
    return None


def _equals(key: object, value: object) -> bool:
    if isinstance(key, str) and parse_quantity(key) is not None and value == "":
        return False  # EqualHandler: "" is no quantity, and it does not fall back to wildcards
    return bool(_equal(key, value))


def _not_equals(key: object, value: object) -> bool:
    if key is None or not isinstance(key, (bool, int, float, str, dict, list)):
        return False  # Unsupported type
    answer = _equal(key, value)
    return True if answer is None else not answer


# --- In / NotIn and the Any/All variants -------------------------------------------------

_IN_RANGE = re.compile(r"([-|+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)")
_NOT_IN_RANGE = re.compile(r"([-|+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)")


def _is_range(text: str) -> bool:
    """GetOperatorFromStringPattern(text) is InRange (checked after the prefix operators)."""
    if len(text) < 2 or text[0] in "<>!" or _NOT_IN_RANGE.fullmatch(text):
        return False
    return _IN_RANGE.fullmatch(text) is not None


def _in_range(key: str, pattern: str) -> bool:
    """pattern.Validate of a key against `lo-hi` (inclusive) or `lo!-hi` (outside)."""
    negate = "!-" in pattern
    m = (_NOT_IN_RANGE if negate else _IN_RANGE).fullmatch(pattern)
    if m is None:
        return False
    k, lo, hi = parse_quantity(key), parse_quantity(m.group(1)), parse_quantity(m.group(2))
    if k is None or lo is None or hi is None:
        return False
    inside = lo <= k <= hi
    return not inside if negate else inside


def _json_strings(text: str) -> list[str] | None:
    try:
        parsed = jsontext.loads(text)
    except ValueError:
        return None
    if parsed is None:
        return []
    if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
        return None
    return parsed


def _either_matches(a: str, b: str) -> bool:
    return wildcard_match(a, b) or wildcard_match(b, a)


def _key_in(key: str, value: object, *, lenient_json: bool) -> bool | None:
    """keyExistsInArray (In/NotIn) and any/allKeyExistsInArray (lenient_json: a string that is
    not JSON is a one-element list, and ranges apply); None: the value's type is invalid."""
    if isinstance(value, list):
        return any(_either_matches(_sprint(v), key) for v in value)
    if isinstance(value, str):
        if wildcard_match(value, key):
            return True
        if lenient_json and _is_range(value):
            return _in_range(key, value)
        if lenient_json and not _valid_json(value):
            arr: list[str] | None = [value]
        else:
            arr = _json_strings(value)
        if arr is None:
            return None
        return key in arr
    return None


def _valid_json(text: str) -> bool:
    try:
        jsontext.loads(text)
    except ValueError:
        return False
    return True


def _key_strings(key: list[Any], strict: bool) -> list[str] | None:
    if strict:  # In/NotIn assert every item is a string (Go panics otherwise; we refuse)
        return list(key) if all(isinstance(v, str) for v in key) else None
    return [_sprint(v) for v in key]


def _in(key: object, value: object, negate: bool) -> bool:
    """In / NotIn (deprecated): every key item exactly in the value list."""
    if isinstance(key, list):
        keys = _key_strings(key, strict=True)
        if keys is None:
            return False
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                return False
            values: list[str] | None = list(value)
        elif isinstance(value, str):
            if len(keys) == 1 and keys[0] == value:
                return True
            values = _json_strings(value)
        else:
            return False
        if values is None:
            return False
        contained = all(k in set(values) for k in keys)
        return not contained if negate else contained
    if not isinstance(key, (str, bool, int, float)):
        return False
    found = _key_in(_sprint(key), value, lenient_json=False)
    if found is None:
        return False
    return not found if negate else found


def _set_values(value: object, keys: list[str], *, allow_scalar: bool) -> tuple[list[str] | None, bool | None]:
    """The value as a list of strings for the Any/All set forms, or an early answer
    (None, answer) for the single-key equality shortcut; (None, None) for an invalid type."""
    if isinstance(value, list):
        return [_sprint(v) for v in value], None
    if allow_scalar and (isinstance(value, (bool, int, float))):
        return [_sprint(value)], None
    if isinstance(value, str):
        if len(keys) == 1 and keys[0] == value:
            return None, True
        if not _valid_json(value):
            return [value], None
        return _json_strings(value), None
    return None, None


def _any_in(key: object, value: object, negate: bool) -> bool:
    """AnyIn / AnyNotIn: some key item matches (or, negated, fails to match) a value item."""
    if isinstance(key, list):
        keys = [_sprint(v) for v in key]
        if isinstance(value, str) and not (len(keys) == 1 and keys[0] == value) and _is_range(value):
            if negate:
                outside = value.replace("-", "!-", 1)
                return any(_in_range(k, outside) for k in keys)
            return any(_in_range(k, value) for k in keys)
        values, early = _set_values(value, keys, allow_scalar=True)
        if early is not None:
            return not negate
        if values is None:
            return False
        if negate:
            return any(not any(_either_matches(k, v) for v in values) for k in keys)
        return any(_either_matches(k, v) for k in keys for v in values)
    if not isinstance(key, (str, bool, int, float)):
        return False
    found = _key_in(_sprint(key), value, lenient_json=True)
    if found is None:
        return False
    return not found if negate else found


def _all_in(key: object, value: object, negate: bool) -> bool:
    """AllIn / AllNotIn: every key item matches (or, negated, none matches) a value item."""
    if isinstance(key, list):
        keys = [_sprint(v) for v in key]
        if isinstance(value, str) and not (len(keys) == 1 and keys[0] == value) and _is_range(value):
            if negate:
                return not any(_in_range(k, value) for k in keys)
            return all(_in_range(k, value) for k in keys)
        values, early = _set_values(value, keys, allow_scalar=False)
        if early is not None:
            return not negate
        if values is None:
            return False
        if negate:
            return not any(_either_matches(k, v) for k in keys for v in values)
        return all(any(_either_matches(k, v) for v in values) for k in keys)
    if not isinstance(key, (str, bool, int, float)):
        return False
    found = _key_in(_sprint(key), value, lenient_json=True)
    if found is None:
        return False
    return not found if negate else found


# --- numeric and duration comparisons ------------------------------------------------------

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThanOrEquals": lambda a, b: a >= b, "GreaterThan": lambda a, b: a > b,
    "LessThanOrEquals": lambda a, b: a <= b, "LessThan": lambda a, b: a < b,
}


def _numeric_with_number(key: float, value: object, cmp: Callable[[Any, Any], bool]) -> bool:
    if _is_number(value):
        return cmp(key, float(value))  # type: ignore[arg-type]
    if isinstance(value, str):
        durations = _durations(key, value)
        if durations is not None:
            return cmp(*durations)
        parsed = parse_go_float(value)
        return False if parsed is None else cmp(key, parsed)
    return False


def _numeric(op: str, key: object, value: object) -> bool:
    cmp = _COMPARE[op]
    if _is_number(key):
        return _numeric_with_number(float(key), value, cmp)  # type: ignore[arg-type]
    if not isinstance(key, str):
        return False
    durations = _durations(key, value)
    if durations is not None:
        return cmp(*durations)
    quantity = parse_quantity(key)
    if quantity is not None and isinstance(value, str):
        other = parse_quantity(value)
        if other is not None:
            return cmp(quantity, other)
    number = parse_go_float(key)
    if number is not None:
        return _numeric_with_number(number, value, cmp)
    if _semver(key) is not None:
        if not isinstance(value, str):
            return False
        order = _semver_cmp(key, value)
        return False if order is None else cmp(order, 0)
    return False


def _seconds(v: object) -> Decimal | None:
    """A number of seconds as Go's time.Duration(n) * time.Second takes it (truncated)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Decimal(int(v))
    return None


def _nanoseconds(v: object) -> Decimal | None:
    """A Duration* operand: a Go duration string, or a number of seconds; None for anything else."""
    if isinstance(v, str):
        return parse_go_duration(v)
    seconds = _seconds(v)
    return None if seconds is None else seconds * Decimal(10**9)


def _duration(op: str, key: object, value: object) -> bool:
    """The deprecated Duration* operators: numbers are seconds, strings Go durations."""
    k, v = _nanoseconds(key), _nanoseconds(value)
    if k is None or v is None:
        return False
    return _COMPARE[op.removeprefix("Duration")](k, v)


def evaluate(operator: str, key: object, value: object) -> bool:
    """Kyverno's verdict for `key <operator> value`; raises KeyError for an unknown operator
    (the loader reports those as a diagnostic before anything is evaluated)."""
    op = OPERATORS[operator.lower()]
    if op in ("Equal", "Equals"):
        return _equals(key, value)
    if op in ("NotEqual", "NotEquals"):
        return _not_equals(key, value)
    if op in ("In", "NotIn"):
        return _in(key, value, negate=op == "NotIn")
    if op in ("AnyIn", "AnyNotIn"):
        return _any_in(key, value, negate=op == "AnyNotIn")
    if op in ("AllIn", "AllNotIn"):
        return _all_in(key, value, negate=op == "AllNotIn")
    if op.startswith("Duration"):
        return _duration(op, key, value)
    return _numeric(op, key, value)
