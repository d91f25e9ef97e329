"""YAML nested past MAX_NESTING is refused at its line and column; it used to kill the process.

PyYAML's C composer recurses once a level on the C stack: 100,000 brackets (200 KB) were a
segmentation fault in `pullguard check`, in the editor's live validation, in an image list.
yaml.v3 (Talos) refuses nesting past 10,000 levels ("exceeded max depth of 10000"); so does pullguard.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import yaml

from pullguard.engine import yamlsource
from pullguard.engine.images import ImageListError, parse_image_list
from pullguard.engine.policy import load_policy

HEAD = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: "

CASES = [
    # (name, text, refused, (line, column) of the problem)
    ("flow sequences, 9,000", HEAD + "[" * 9_000 + "]" * 9_000 + "\n", False, None),
    ("flow sequences, 20,000", HEAD + "[" * 20_000 + "]" * 20_000 + "\n", True, (3, 7 + 9_999)),  # the 10,000th level: rules is the 2nd
    ("flow mappings, 20,000", HEAD + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", True, (3, 4 + 4 * 9_999)),
    ("compact block sequences, 20,000", HEAD + "\n" + "- " * 20_000 + "x\n", True, (4, 1 + 2 * 9_998)),
    ("a later document", HEAD + "[]\n---\n" + "[" * 20_000 + "]" * 20_000 + "\n", True, (5, 1 + 9_999)),
]


@pytest.mark.parametrize("name, text, refused, where", CASES, ids=[c[0] for c in CASES])
def test_nesting_past_the_limit_is_a_syntax_error_at_its_place(name, text, refused, where):
    docs, problem = yamlsource.compose(text)
    if not refused:
        assert problem is None
        return
    assert problem is not None and problem.code == "yaml-syntax"
    assert "exceeded max depth of 10000" in problem.message
    assert (problem.line, problem.column) == where
    loaded = load_policy(text, "deep.yaml")
    assert any(d.code == "yaml-syntax" and d.severity == "error" for d in loaded.diagnostics)


def test_a_bracket_bomb_is_refused_not_a_crash(tmp_path):
    """200,000 levels in 400 KB: `pullguard check` exits 1 with the error (it was killed by SIGSEGV)."""
    policy = tmp_path / "deep.yaml"
    policy.write_text(HEAD + "[" * 200_000 + "]" * 200_000 + "\n")
    done = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "check", str(policy)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-500:]
    assert "exceeded max depth of 10000" in done.stdout


def test_an_image_list_nested_past_the_limit_is_refused():
    with pytest.raises(ImageListError, match="exceeded max depth of 10000"):
        parse_image_list("apiVersion: v1\nkind: Pod\nspec:\n  containers: " + "[" * 50_000 + "]" * 50_000 + "\n", "deep.yaml")


def _depth(node) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, yaml.MappingNode):
            stack += [(n, depth + 1) for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(n, depth + 1) for n in node.value]
    return deepest


def _nested(rng: random.Random, depth: int):
    if depth == 0:
        return rng.choice(["x", 1, "[a]", "{b}", "]]", "}", "'q'", '"]"'])  # brackets in scalars too
    kind = rng.random()
    # one deep child, the others leaves: a spine as deep as asked, a few hundred nodes at most
    siblings = [_nested(rng, 0) for _ in range(rng.randint(0, 2))]
    if kind < 0.4:
        return [_nested(rng, depth - 1), *siblings]
    if kind < 0.8:
        return {"deep": _nested(rng, depth - 1), **{f"k{i}": s for i, s in enumerate(siblings)}}
    return [{"a": _nested(rng, depth - 1)}]


@pytest.mark.parametrize("seed", range(40))
def test_the_cheap_bound_never_lets_a_deeper_text_past(monkeypatch, seed):
    """`_may_nest_too_deep` skips the count only for a text that cannot nest past the limit:
    with the limit at 30, every generated text (block, flow, compact and mixed styles, brackets
    in scalars) that nests deeper is one the bound sends to the count, and the count refuses it."""
    monkeypatch.setattr(yamlsource, "MAX_NESTING", 30)
    rng = random.Random(seed)
    data = _nested(rng, rng.randint(20, 40))
    text = yaml.safe_dump(data, default_flow_style=rng.choice([False, None, True]), indent=rng.choice([2, 3, 4]), width=10**6)
    depth = _depth(yaml.compose(text, Loader=yaml.CSafeLoader))
    if depth > 30:
        assert yamlsource._may_nest_too_deep(text)
        _, problem = yamlsource.compose(text)
        assert problem is not None and "exceeded max depth of 30" in problem.message
    else:
        assert yamlsource.compose(text)[1] is None
