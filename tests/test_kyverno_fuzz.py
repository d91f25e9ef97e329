"""Random ClusterPolicy-shaped YAML never raises out of load_policy or evaluation."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.kyverno.schema import POLICY
from pullguard.engine.yamlschema import ListOf, Schema


def _vocabulary() -> list[str]:
    seen, out, todo = set(), [], [POLICY]
    while todo:
        s = todo.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        for k, spec in s.fields.items():
            out.append(k)
            if isinstance(spec, Schema):
                todo.append(spec)
            elif isinstance(spec, ListOf) and isinstance(spec.item, Schema):
                todo.append(spec.item)
    return sorted(set(out))


VOCAB = _vocabulary()
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from(["*", "ghcr.io/*", "nginx:*", "Audit", "Enforce",
                                                                    "Notary", "Cosign", "Pod", "(?=x)", "", "yes"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(VOCAB), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=25,
)


@st.composite
def policies(draw):
    entry = draw(st.dictionaries(st.sampled_from(VOCAB), values, max_size=6))
    if draw(st.booleans()):
        entry["imageReferences"] = draw(st.lists(st.sampled_from(["*", "ghcr.io/*", "docker.io/nginx:*", "?"]), max_size=2))
    rule = {"name": draw(st.sampled_from(["r", "", "x" * 70])), "match": draw(values), "verifyImages": [entry]}
    if draw(st.booleans()):
        rule["match"] = {"any": [{"resources": {"kinds": draw(st.lists(st.sampled_from(["Pod", "Deployment", "*", "v1/Pod"]),
                                                                       max_size=2))}}]}
    doc = {
        "apiVersion": draw(st.sampled_from(["kyverno.io/v1", "kyverno.io/v2beta1", "kyverno.io/v9"])),
        "kind": draw(st.sampled_from(["ClusterPolicy", "Policy"])),
        "metadata": draw(st.one_of(values, st.just({"name": "p"}))),
        "spec": draw(st.one_of(values, st.just({"rules": [rule]}), st.builds(lambda r: {"rules": r}, st.lists(st.just(rule), max_size=3)))),
    }
    return yaml.safe_dump_all([doc] * draw(st.integers(1, 2)), sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_random_policies_never_raise(text):
    lp = load_policy(text, "fuzz.yaml")
    assert lp.dialect == "kyverno"
    for d in lp.diagnostics:
        assert d.line is None or d.line >= 1
    if lp.policy is not None:
        for image in ("nginx", "ghcr.io/a/b:v1@sha256:" + "0" * 64, "BAD REF"):
            lp.policy.evaluate(image)
            lp.policy.explain(image)
        lp.policy.outline()


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_and_mangled_text_never_raises(data):
    base = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n"
        "      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n        - imageReferences: ['ghcr.io/*']\n"
        "          attestors:\n            - count: 1\n              entries:\n                - keyless: {roots: a, subjectRegExp: 'x'}\n"
    )
    cut = data.draw(st.integers(0, len(base)))
    junk = data.draw(st.text(max_size=5))
    text = base[:cut] + junk + base[cut:]
    load_policy(text, "fuzz.yaml")
