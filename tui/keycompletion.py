"""Key completion in the editor: the keys each dialect allows at the cursor's level.

While a key is being typed at the end of a line, the editor shows the rest of the first key that
fits, greyed after the cursor (TextArea's public `suggestion`; `right` accepts it). The level is
found from the indentation of the lines above (the keys of the mappings around the cursor), and
the allowed keys from the schemas the engine reads policies with: Talos's loader keys, Kyverno's
`yamlschema` tree.
"""

from __future__ import annotations

import re
from functools import cache

from pullguard.engine.policy.kyverno.schema import POLICY
from pullguard.engine.policy.talos.loader import DOC_KEYS, KEYLESS_KEYS, PUBLIC_KEY_KEYS, RULE_KEYS
from pullguard.engine.yamlschema import ANY, ListOf, Schema, Spec, listof

_TYPING_KEY = re.compile(r"^(?P<indent>[ ]*(?:- +)*)(?P<key>[A-Za-z][A-Za-z0-9]*)$")


@cache
def _talos() -> Schema:
    rule = Schema("rule", {key: ANY for key in RULE_KEYS})
    rule.fields["keyless"] = Schema("keyless", {key: ANY for key in KEYLESS_KEYS})
    rule.fields["publicKey"] = Schema("publicKey", {key: ANY for key in PUBLIC_KEY_KEYS})
    doc = Schema("ImageVerificationConfig", {key: ANY for key in DOC_KEYS})
    doc.fields["rules"] = listof(rule)
    return doc


def dialect_schema(text: str) -> Schema | None:
    """The schema of the policy `text` is written in (by its kind), or None."""
    if "kind: ImageVerificationConfig" in text:
        return _talos()
    if "kyverno.io/" in text and ("kind: ClusterPolicy" in text or "kind: Policy" in text):
        return POLICY
    return None


def _content_column(line: str) -> int:
    """0-based column where the line's key starts (after its '- ' indicators)."""
    match = re.match(r"[ ]*(?:- +)*", line)
    return match.end() if match else 0


def key_path(lines: list[str], row: int) -> list[str] | None:
    """The keys of the block mappings around line `row` (outermost first), from the lines above
    with less indentation; None when a line above is not a plain `key:` line."""
    column = _content_column(lines[row])
    path: list[str] = []
    for index in range(row - 1, -1, -1):
        if column == 0:
            break
        text = lines[index]
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        here = _content_column(text)
        if here >= column:
            continue
        key, colon, rest = text[here:].partition(":")
        if not colon or rest.split("#")[0].strip() or not key.strip():
            return None  # the parent is not a `key:` whose value is the block below
        path.insert(0, key.strip().strip("'\""))
        column = here
    return path


def _walk(schema: Spec | None, path: list[str]) -> Schema | None:
    for key in path:
        while isinstance(schema, ListOf):
            schema = schema.item
        if not isinstance(schema, Schema):
            return None
        schema = schema.fields.get(key)
    while isinstance(schema, ListOf):
        schema = schema.item
    return schema if isinstance(schema, Schema) else None


def allowed_keys(text: str, lines: list[str], row: int) -> tuple[str, ...]:
    """The keys the dialect allows on line `row`'s level ((), when unknown)."""
    path = key_path(lines, row)
    schema = _walk(dialect_schema(text), path) if path is not None else None
    return tuple(schema.fields) if schema is not None else ()


def typing_key(line: str) -> bool:
    """The line is a key being typed (indentation, '- ', letters): worth completing."""
    return _TYPING_KEY.match(line) is not None


def suggestion(text: str, lines: list[str], row: int, column: int) -> str:
    """The rest of the key being typed at (row, column), with ': ', or ""."""
    line = lines[row]
    if column != len(line):
        return ""
    typing = _TYPING_KEY.match(line)
    if typing is None:
        return ""
    prefix = typing.group("key")
    for key in allowed_keys(text, lines, row):  # in the schema's (Go struct's) order
        if key.startswith(prefix) and key != prefix:
            return key[len(prefix):] + ": "
    return ""
