"""Kyverno attestation `conditions` written as CEL over `extractPayload`, where that is exact.

A ClusterPolicy condition reads the predicate through JMESPath with Kyverno's operators
(engine/policy/kyverno/conditions.py); an ImageValidatingPolicy reads
`extractPayload(image, attestations.NAME)`, the same predicate, in CEL. The two agree only on a
small, common part, and only that part is written:

- the key is one variable naming a field path, `{{ buildType }}` or `{{ builder.id }}` (plain
  JMESPath identifiers; the attestation's own name first is the predicate itself), and a missing
  field or one under a value that is not an object is JMESPath's null;
- the operator is Equals or NotEquals, and the value a boolean or a string that Kyverno's
  EqualHandler compares as text: not empty, no `{{`, no Go duration, quantity or float (those are
  compared as numbers). A string with `*` or `?` is a go-wildcard, matched only where the key
  is a string that is not a Kubernetes quantity (EqualHandler does not fall back to wildcards
  for those).

`extractPayload` gives the predicate of the verified statement, where a ClusterPolicy checks
every statement of the type: the two agree on an image with one statement of each type.

Everything else gives None: the converter then refuses the attestation rather than guess.
"""

from __future__ import annotations

import re
from typing import Any

from ..kyverno.conditions import Condition, ConditionBlock
from ..kyverno.operators import canonical, parse_go_duration, parse_go_float, parse_quantity

_KEY = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) *\}\}")
# Kyverno's other top-level context entries: a path starting with one does not (only) read the predicate.
_CONTEXT_ROOTS = frozenset({"request", "images", "element", "elementIndex", "serviceAccountName",
                            "serviceAccountNamespace", "target", "image"})
# resource.ParseQuantity's grammar (parse_quantity in operators.py), as RE2 for the CEL side.
_QUANTITY_RE2 = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"


def cel_string(text: str) -> str:
    """A CEL string literal of `text` (control characters as \\u escapes)."""
    out = []
    for c in text:
        if c in "\\'":
            out.append("\\" + c)
        elif ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "'" + "".join(out) + "'"


def conditions_cel(blocks: tuple[ConditionBlock, ...], name: str, payload: str = "p") -> str | None:
    """A CEL boolean over `payload` (the predicate) that holds exactly when Kyverno's conditions
    do, or None when some condition is outside the part written exactly."""
    parts = []
    for block in blocks:
        terms = []
        if block.any is not None:
            any_of = [_condition(c, name, payload) for c in block.any]
            if None in any_of:
                return None
            terms.append("(" + " || ".join(f"({t})" for t in any_of) + ")" if any_of else "false")
        for c in block.all:
            one = _condition(c, name, payload)
            if one is None:
                return None
            terms.append(f"({one})")
        parts.append(" && ".join(terms) if terms else "true")
    return " && ".join(f"({p})" for p in parts) if parts else "true"


def _condition(c: Condition, name: str, payload: str) -> str | None:
    operator = canonical(c.operator) if isinstance(c.operator, str) else None
    if operator not in ("Equals", "Equal", "NotEquals", "NotEqual") or not isinstance(c.key, str):
        return None
    path = _path(c.key, name)
    if path is None:
        return None
    present, key = _present(path, payload)
    equal = _equal(key, c.value)
    if equal is None:
        return None
    if operator in ("Equals", "Equal"):
        return " && ".join([*present, equal])
    return " && ".join([*present, f"{key} != null", f"!({equal})"])  # Kyverno: a null key is never NotEqual


def _path(key: str, name: str) -> list[str] | None:
    m = _KEY.fullmatch(key)
    if m is None:
        return None
    path = m.group(1).split(".")
    if name and path[0] == name:  # the predicate under the attestation's name (it wins over a field)
        return path[1:]
    if path[0] in _CONTEXT_ROOTS:
        return None
    return path


def _present(path: list[str], payload: str) -> tuple[list[str], str]:
    """The guards that the field exists under objects all the way down, and the field."""
    guards = []
    at = payload
    for field in path:
        guards += [f"type({at}) == map", f"{cel_string(field)} in {at}"]
        at = f"{at}[{cel_string(field)}]"
    return guards, at


def _equal(key: str, value: Any) -> str | None:
    """EqualHandler's answer for this value as CEL (true: equal), or None where not exact."""
    if isinstance(value, bool):
        return f"{key} == {'true' if value else 'false'}"
    if not isinstance(value, str) or not value or "{{" in value:
        return None
    if parse_go_duration(value) is not None or parse_quantity(value) is not None or parse_go_float(value) is not None:
        return None
    if "*" not in value and "?" not in value:
        return f"{key} == {cel_string(value)}"
    wildcard = "^" + "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value) + "$"
    guards = [f"type({key}) == string"]
    if value[0] in "*?+-.0123456789":  # a text the pattern takes may be a quantity
        guards.append(f"!{key}.matches({cel_string(_QUANTITY_RE2)})")
    return " && ".join([*guards, f"{key}.matches({cel_string('(?s)' + wildcard)})"])
