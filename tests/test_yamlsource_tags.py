"""Every node `yamlsource.compose` makes carries the tag PyYAML's own safe resolver gives it: the
composer's shortcut (no regex for a scalar whose first character starts no implicit type) must
not turn a null, a boolean or a number into a string, or the other way round."""

from __future__ import annotations

import random

import pytest
import yaml

from pullguard.engine.yamlsource import compose, is_null

SCALARS = [
    "", "~", "null", "Null", "NULL", "nul", "true", "True", "TRUE", "tRUE", "yes", "Yes", "no", "off", "On", "y", "n",
    "0", "-1", "+1", "0x1f", "0o17", "017", "1_000", "1.5", ".5", "-.inf", ".NaN", "1e3", "2026-12-01",
    "2026-12-01T10:00:00Z", "<<", "=", "https://rekor.sigstore.dev", "ghcr.io/acme/*", "a", "keyless", "type",
    "name", "nested", "'quoted'", '"42"', '"null"', "'true'", "!!str 42", "!!int 42", "!!null ''", "! 42",
    "!!bool yes", "-x", ".x", "+x", "0a", "~x",
]


def _tags(node: yaml.Node) -> list[tuple[str, str | None, str]]:
    out = [(node.tag, node.value if isinstance(node, yaml.ScalarNode) else None, type(node).__name__)]
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out += _tags(k) + _tags(v)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            out += _tags(item)
    return out


def _stock(text: str) -> list:
    loader = yaml.SafeLoader(text)  # PyYAML's own resolver, regexes for every plain scalar
    try:
        return [_tags(loader.get_node())] if loader.check_node() else []
    finally:
        loader.dispose()


def _ours(text: str) -> list:
    docs, problem = compose(text)
    assert problem is None
    return [_tags(d.root) for d in docs if d.root is not None]


@pytest.mark.parametrize("scalar", SCALARS)
def test_each_scalar_gets_the_safe_resolvers_tag_as_key_value_and_item(scalar):
    text = f"{scalar or 'k'}: {scalar}\nlist: [{scalar}]\nblock:\n  - {scalar}\n"
    assert _ours(text) == _stock(text)


def test_generated_scalars_agree():
    rng = random.Random(16)
    alphabet = "ab0123456789.-+_:~<=xeEyYnNtTfFoO/ "
    values = {"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9))).strip() or "a" for _ in range(3000)}
    lines = [f"k{i}: '{v}'\nv{i}: {v}" if ":" in v or v.startswith(("-", "~ ")) else f"v{i}: {v}"
             for i, v in enumerate(sorted(values))]
    # a value the stock composer refuses is left out (`- -`, `a: b: c`)
    good = []
    for line in lines:
        try:
            _stock(line)
        except yaml.YAMLError:
            continue
        good.append(line)
    text = "\n".join(good) + "\n"
    assert len(good) > 2000
    assert _ours(text) == _stock(text)


@pytest.mark.parametrize(("text", "null"), [("a: ~", True), ("a: null", True), ("a:", True), ("a: 'null'", False),
                                             ("a: nullx", False), ("a: !!str null", False)])
def test_null_is_read_as_yaml_v3_reads_it(text, null):
    docs, _ = compose(text)
    assert is_null(docs[0].root.value[0][1]) is null
