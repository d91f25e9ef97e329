"""The rule outline: each rule's id, pattern and action; the rule under the cursor is highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

ACTION_STYLES = {"verify": "green", "skip": "yellow", "deny": "red", "allow": "cyan"}


def outline_label(item) -> Text:
    action = item.action or "?"
    label = Text(f"{item.rule_id} ", style="dim")
    label.append(f"{action:<6} ", style=ACTION_STYLES.get(action, ""))
    label.append(item.pattern or "(no pattern)")
    return label


class RuleOutline(OptionList):
    DEFAULT_CSS = """
    RuleOutline { border: round $panel; }
    RuleOutline:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list = []
        self._labels: list[str] = []

    def set_items(self, items: list) -> None:
        labels = [outline_label(item) for item in items]
        plain = [str(label) for label in labels]
        self.items = list(items)
        if plain == self._labels:
            return
        highlighted = self.highlighted
        self._labels = plain
        self.clear_options()  # a few dozen short lines; cheap, and only when the rules change
        self.add_options([Option(label, id=f"rule-{index}") for index, label in enumerate(labels)])
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
