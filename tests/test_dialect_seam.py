"""engine.policy.dialect: a dialect is a package with `detect` and `load` and a policy object
offering `PolicyModel`'s calls; load_policy, simulation and the editor's analysis need nothing
else (no hasattr, no dialect names). A toy third dialect plugged into the table shows it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pullguard.engine import analysis, policy
from pullguard.engine.diagnostics import Diagnostic
from pullguard.engine.policy.dialect import Dialect, PolicyModel
from pullguard.engine.simulate import simulate
from pullguard.engine.vocabulary import Decision, OutlineItem, RuleTrial
from pullguard.engine.yamlsource import Document, SequenceNode, map_get, position, scalar_str


class AllowList:
    """Admits the images it lists, denies every other one."""

    def __init__(self, images: list[tuple[str, int]]):
        self.images = images

    def evaluate(self, image: str) -> Decision:
        for index, (listed, _) in enumerate(self.images):
            if listed == image:
                return Decision(image, image, "allow", index, f"{index:04d}", listed, None, "listed")
        return Decision(image, image, "deny", None, None, None, None, "not listed")

    def evaluate_many(self, images: Sequence[str]) -> list[Decision]:
        return [self.evaluate(image) for image in images]

    def explain(self, image: str) -> list[RuleTrial]:
        return [RuleTrial(i, f"{i:04d}", listed, listed == image, "equal" if listed == image else "differs")
                for i, (listed, _) in enumerate(self.images)]

    def outline(self) -> list[OutlineItem]:
        return [OutlineItem(i, f"{i:04d}", listed, "allow", line, line) for i, (listed, line) in enumerate(self.images)]


def _detect(doc: Document) -> bool:
    kind = map_get(doc.root, "kind")
    return kind is not None and scalar_str(kind) == "AllowList"


def _load(docs: list[Document], path: str) -> tuple[PolicyModel, list[Diagnostic]]:
    images: list[tuple[str, int]] = []
    diags: list[Diagnostic] = []
    for doc in docs:
        if not _detect(doc):
            continue
        listed = map_get(doc.root, "images")
        if not isinstance(listed, SequenceNode):
            diags.append(Diagnostic("error", "allowlist-images", "'images' must be a list", *position(doc.root)))
            continue
        images += [(scalar_str(item) or "", position(item)[0]) for item in listed.value]
    return AllowList(images), diags


@pytest.fixture
def third_dialect(monkeypatch):
    monkeypatch.setattr(policy, "DIALECTS", (*policy.DIALECTS, Dialect("allowlist", _detect, _load)))
    analysis.clear_cache()
    yield
    analysis.clear_cache()


TEXT = "kind: AllowList\nimages:\n  - ghcr.io/acme/app:v1\n  - nginx\n"


def test_a_third_dialect_is_one_table_entry(third_dialect):
    loaded = policy.load_policy(TEXT, "allow.yaml")
    assert (loaded.dialect, loaded.errors) == ("allowlist", 0)
    decisions = simulate(loaded, ["nginx", "ghcr.io/evil/app:v1"])
    assert [(d.action, d.rule_id) for d in decisions] == [("allow", "0001"), ("deny", None)]
    result = analysis.analyze(TEXT, ["nginx"], "allow.yaml")
    assert [o.pattern for o in result.outline] == ["ghcr.io/acme/app:v1", "nginx"]
    assert [o.line for o in result.outline] == [3, 4]
    assert result.decisions is not None and result.decisions[0].message == "listed"


def test_its_diagnostics_reach_the_loaded_policy(third_dialect):
    loaded = policy.load_policy("kind: AllowList\nimages: nginx\n", "allow.yaml")
    assert [(d.code, d.line) for d in loaded.diagnostics] == [("allowlist-images", 1)]


@pytest.mark.parametrize("text, dialect", [
    ("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: []\n", "talos"),
    ("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec: {rules: []}\n", "kyverno"),
])
def test_the_two_dialects_answer_every_call_of_the_seam(text, dialect):
    loaded = policy.load_policy(text, "p.yaml")
    assert loaded.dialect == dialect and loaded.policy is not None
    model = loaded.policy
    assert isinstance(model.evaluate("nginx"), Decision)
    assert all(isinstance(d, Decision) for d in model.evaluate_many(["nginx", "ghcr.io/a/b:v1"]))
    assert model.explain("nginx") == [] and model.outline() == []
