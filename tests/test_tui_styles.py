"""One colour per word: the CLI's text output and the dashboard's widgets read the same maps."""

from __future__ import annotations

import pytest
from rich.style import Style

from pullguard.tui.output import Painter
from pullguard.tui.styles import (
    ACTION_STYLE,
    NO_ACTION_STYLE,
    OUTCOME_STYLE,
    PENDING_STYLE,
    SEVERITY_STYLE,
    theme_css,
)
from pullguard.tui.widgets.detail import detail_text
from pullguard.tui.widgets.images import ImageTable
from pullguard.tui.widgets.outline import outline_label

EVERY_STYLE = [*OUTCOME_STYLE.values(), *PENDING_STYLE.values(), *ACTION_STYLE.values(), NO_ACTION_STYLE, *SEVERITY_STYLE.values()]


@pytest.mark.parametrize("style", sorted(set(EVERY_STYLE)))
def test_the_cli_painter_and_rich_both_know_every_style(style):
    assert Painter(True)("word", style) != "word"  # an unknown name would print uncoloured
    Style.parse(style)


@pytest.mark.parametrize(
    "outcome, style",
    [("verified", "bold green"), ("failed", "bold red"), ("error", "bold magenta"),
     ("denied", "red"), ("skipped", "yellow"), ("allowed", "cyan")],
)
def test_an_outcome_has_one_colour_in_the_table_the_detail_pane_and_the_cli(outcome, style):
    assert OUTCOME_STYLE[outcome] == style
    # The table draws the word through its component class, in the theme's colour for the name.
    assert f"ImageTable > .image-table--{outcome} {{ {theme_css(style)} }}" in ImageTable.DEFAULT_CSS
    assert theme_css(style).startswith("color: $text-")
    shown = detail_text("nginx:1.25", _decision(), [], {"outcome": outcome, "message": "m", "digest": None})
    assert any(span.style == style for span in shown.spans if shown.plain[span.start:span.end] == outcome)


@pytest.mark.parametrize(
    "action, outcome",
    [("skip", "skipped"), ("deny", "denied"), ("allow", "allowed")],
)
def test_an_action_shares_the_colour_of_the_outcome_it_leads_to(action, outcome):
    assert ACTION_STYLE[action] == OUTCOME_STYLE[outcome]


def test_the_outline_colours_actions_from_the_same_map():
    from pullguard.engine.vocabulary import OutlineItem

    label = outline_label(OutlineItem(index=0, rule_id="0000", pattern="*", action="allow", line=1, end_line=1))
    assert any(span.style == ACTION_STYLE["allow"] for span in label.spans)


def _decision():
    from pullguard.engine.policy import load_policy

    loaded = load_policy("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    skip: true\n", "p.yaml")
    return loaded.policy.evaluate("nginx:1.25")
