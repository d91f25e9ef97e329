"""Rich Text in the active theme's colours.

The panes build their Text with pullguard's style names (`bold green`, `yellow`, from
tui/styles.py), which Rich would draw as the terminal's ANSI colours whatever the theme: green
on solarized-light's cream is hard to read, and a light theme's own success colour is not used.
`themed` repaints a Text's spans in the theme's colours (the same Textual variables the image
table's CSS uses), so every pane follows `ctrl+p` → theme. Widgets keep the Text as built and
repaint it when the theme changes (`App.theme_changed_signal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from rich.style import Style
from rich.text import Span, Text

from .styles import THEME_COLOURS


def themed(text: Text, variables: Mapping[str, str]) -> Text:
    """A copy of `text` whose style names are drawn in the theme's colours (unchanged where
    the theme has no such colour, as before the first theme is applied)."""
    colours = tuple(variables.get(name.lstrip("$"), "") for name in THEME_COLOURS.values())
    if not any(colours):
        return text
    out = text.copy()
    out.style = _style(out.style, colours) if isinstance(out.style, str) else out.style
    out.spans = [Span(s.start, s.end, _style(s.style, colours)) if isinstance(s.style, str) else s for s in out.spans]
    return out


@lru_cache(maxsize=256)
def _style(name: str, colours: tuple[str, ...]) -> str | Style:
    words = name.split()
    by_word = dict(zip(THEME_COLOURS, colours, strict=True))
    colour = next((by_word[word] for word in words if by_word.get(word)), None)
    if colour is None:
        return name
    rest = " ".join(word for word in words if word not in by_word)
    return (Style.parse(rest) if rest else Style()) + Style(color=colour)
