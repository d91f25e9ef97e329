"""The editor's engine call: analyze() from memory, cached by text, sensible while typing."""

from __future__ import annotations

import pytest

from pullguard.engine import analysis
from pullguard.engine.analysis import analyze

GOOD = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/*
    skip: true
  - image: "*"
    deny: true
"""
IMAGES = ["ghcr.io/siderolabs/kubelet:v1.33.0", "nginx:1.25"]


@pytest.fixture(autouse=True)
def fresh_cache():
    analysis.clear_cache()
    yield
    analysis.clear_cache()


def test_good_policy():
    a = analyze(GOOD, IMAGES, "p.yaml")
    assert (a.errors, a.stale) == (0, False)
    assert [(d.action, d.rule_id) for d in a.decisions] == [("skip", "0000"), ("deny", "0001")]
    assert [(o.rule_id, o.line, o.end_line) for o in a.outline] == [("0000", 4, 5), ("0001", 6, 7)]


def test_same_text_is_cached():
    assert analyze(GOOD, IMAGES, "p.yaml") is analyze(GOOD, list(IMAGES), "p.yaml")


def test_validation_errors_still_simulate_current_text():
    text = GOOD.replace("    deny: true\n", "")  # rule 1 now has no verifier: a Talos error
    a = analyze(text, IMAGES, "p.yaml")
    assert a.errors == 1 and not a.stale
    assert [d.action for d in a.decisions] == ["skip", "verify"]
    assert a.decisions[1].message == "verification required by matched rule (0001): no verifier configured"


@pytest.mark.parametrize("broken_tail", ['  - image: "unterminated\n', "  - image: [a\n", "  bad: : :\n"])
def test_syntax_error_keeps_last_good_decisions_flagged_stale(broken_tail):
    analyze(GOOD, IMAGES, "p.yaml")
    a = analyze(GOOD + broken_tail, IMAGES, "p.yaml")
    assert a.syntax_error and a.stale
    assert a.diagnostics[0].line is not None
    assert [d.action for d in a.decisions] == ["skip", "deny"]
    assert len(a.outline) == 2


def test_syntax_error_without_history_has_no_decisions_for_empty_prefix():
    a = analyze("rules: [\n", IMAGES, "new.yaml")
    assert a.syntax_error and a.stale


def test_not_a_policy_has_no_decisions():
    a = analyze("kind: ConfigMap\n", IMAGES, "cm.yaml")
    assert a.decisions is None and [d.code for d in a.diagnostics] == ["no-policy"]


def test_invalid_image_gets_an_error_decision():
    a = analyze(GOOD, ["Not/A:Valid:Ref"], "p.yaml")
    d = a.decisions[0]
    assert d.action is None and d.error and d.message == d.error


@pytest.mark.parametrize("enabled_before", [True, False])
def test_analyze_leaves_the_garbage_collector_as_it_found_it(enabled_before):
    import gc

    from pullguard.engine.analysis import analyze, clear_cache

    clear_cache()
    text = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    deny: true\n"
    if not enabled_before:
        gc.disable()
    try:
        result = analyze(text + f"# {enabled_before}\n", ["nginx"])
        assert result.decisions[0].action == "deny"
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()
