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


@pytest.fixture
def anyio_backend():
    return "asyncio"


THEMES = ["textual-dark", "textual-light", "solarized-light", "nord", "gruvbox", "dracula", "tokyo-night",
          "catppuccin-latte"]


def _drawn_colours(widget) -> dict[str, str]:
    """Each word the widget draws, with the colour it is drawn in (as #RRGGBB)."""
    colours: dict[str, str] = {}
    for y in range(widget.content_region.height):
        for segment in widget.render_line(y):
            word = segment.text.strip()
            if word and segment.style is not None and segment.style.color is not None:
                colour = segment.style.color.get_truecolor()
                colours.setdefault(word, "#{:02X}{:02X}{:02X}".format(*colour))
    return colours


@pytest.mark.anyio
@pytest.mark.parametrize("theme", THEMES)
async def test_the_detail_pane_and_the_problems_list_draw_in_the_themes_colours(theme):
    """The words the table colours from the theme (outcomes, severities, actions) are drawn in
    the same theme colours in the other panes, and switching theme repaints them."""
    from pullguard.tui.app import PullguardApp
    from pullguard.tui.widgets.detail import DetailPane

    policy = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    skip: true\n"
    app = PullguardApp("p.yaml", policy, [], validate_delay=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        app.theme = "nord" if theme != "nord" else "textual-dark"
        await pilot.pause()
        pane = app.query_one(DetailPane)
        pane.show(detail_text("nginx:1.25", _decision(), [], {"outcome": "failed", "message": "m", "digest": None}))
        app.theme = theme
        await pilot.pause()
        await pilot.pause()
        variables = app.theme_variables
        body = pane.query_one("#detail-body")
        drawn = _drawn_colours(body)
        assert drawn["failed"] == variables["text-error"].upper(), drawn
        problems = app.query_one("#problems")
        assert _drawn_colours(problems).get("warning") == variables["text-warning"].upper()


@pytest.mark.anyio
@pytest.mark.parametrize("theme", THEMES)
async def test_every_outcome_has_its_own_colour_in_each_theme(theme):
    """skipped (yellow) and allowed (cyan) must not read alike: textual-dark's accent is its
    warning colour, so cyan is drawn in the theme's primary text colour."""
    from textual.app import App

    from pullguard.tui.styles import THEME_COLOURS

    app = App()
    async with app.run_test() as pilot:
        app.theme = theme
        await pilot.pause()
        colours = [app.theme_variables[THEME_COLOURS[word].lstrip("$")].upper() for word in ("green", "red", "yellow", "cyan")]
        assert len(set(colours)) == 4, dict(zip(("green", "red", "yellow", "cyan"), colours, strict=True))
