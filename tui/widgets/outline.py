"""The rule outline: each rule's id, pattern and action; the rule under the cursor is highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pullguard.engine.display import escape_control

from ..styles import ACTION_STYLE
from ..themetext import themed


def outline_label(item) -> Text:
    action = item.action or "?"
    label = Text(f"{item.rule_id} ", style="dim")
    label.append(f"{action:<6} ", style=ACTION_STYLE.get(action, ""))
    label.append(escape_control(item.pattern) if item.pattern else "(no pattern)")
    return label


class RuleOutline(OptionList):
    DEFAULT_CSS = """
    RuleOutline { border: round $panel-lighten-2; }
    RuleOutline:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list = []
        self._keys: list[tuple] = []

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint())

    def _repaint(self) -> None:
        self._keys = []  # every label again, in the new theme's colours
        self.set_items(self.items)

    def _label(self, item) -> Text:
        return themed(outline_label(item), self.app.theme_variables)

    def set_items(self, items: list) -> None:
        # Compare what the labels are made of: building 200 labels per keystroke costs more.
        keys = [(item.rule_id, item.action, item.pattern) for item in items]
        self.items = list(items)
        if keys == self._keys:
            return
        if len(keys) == len(self._keys):
            # The usual edit changes a rule or two: replace those prompts only (OptionList's
            # public replace_option_prompt_at_index). Clearing and re-adding 200 options
            # builds every one of them again (about 45 ms).
            for index, (old, new) in enumerate(zip(self._keys, keys, strict=True)):
                if old != new:
                    self.replace_option_prompt_at_index(index, self._label(items[index]))
            self._keys = keys
            return
        highlighted = self.highlighted
        self._keys = keys
        self.clear_options()
        self.add_options([Option(self._label(item), id=f"rule-{index}") for index, item in enumerate(items)])
        if highlighted is not None and items:
            self.highlighted = min(highlighted, len(items) - 1)

    def follow(self, line: int) -> None:
        """Highlight the rule whose text holds 1-based `line`."""
        for index, item in enumerate(self.items):
            end = item.end_line if item.end_line is not None else item.line
            if item.line is not None and item.line <= line <= (end or item.line):
                if self.highlighted != index:
                    self.highlighted = index
                return
