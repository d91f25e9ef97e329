"""The rule outline: each rule's id, pattern and action; the rule under the cursor is highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pullguard.engine.display import escape_control

from ..styles import ACTION_STYLE


def outline_label(item) -> Text:
    action = item.action or "?"
    label = Text(f"{item.rule_id} ", style="dim")
    label.append(f"{action:<6} ", style=ACTION_STYLE.get(action, ""))
    label.append(escape_control(item.pattern) if item.pattern else "(no pattern)")
    return label


class RuleOutline(OptionList):
    DEFAULT_CSS = """
    RuleOutline { border: round $panel; }
    RuleOutline:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list = []
        self._keys: list[tuple] = []

    def set_items(self, items: list) -> None:
        # Compare what the labels are made of: building 200 labels per keystroke costs more.
        keys = [(item.rule_id, item.action, item.pattern) for item in items]
        self.items = list(items)
        if keys == self._keys:
            return
        if len(keys) == len(self._keys):
            # The usual edit changes a rule or two: replace those prompts only. Clearing and
            # re-adding 200 options re-measures every one of them (about 45 ms).
            for index, (old, new) in enumerate(zip(self._keys, keys, strict=True)):
                if old != new:
                    self.replace_option_prompt_at_index(index, outline_label(items[index]))
            self._keys = keys
            return
        highlighted = self.highlighted
        self._keys = keys
        self.clear_options()
        self.add_options([Option(outline_label(item), id=f"rule-{index}") for index, item in enumerate(items)])
        if highlighted is not None and items:
            self.highlighted = min(highlighted, len(items) - 1)

    def _replace_option_prompt(self, index: int, prompt) -> None:
        # A private OptionList method, overridden (Textual pinned to 8.2.8; tests/test_tui_app
        # pins it): OptionList drops every rendered option and re-measures all of them when one
        # prompt changes, so each edit to a rule's action or pattern redrew the whole visible
        # outline (~5 ms). When the new prompt is as many lines high as the old one, the line
        # layout stays and only this option's rendered strips go.
        option = self.get_option_at_index(index)
        old_height = self._line_cache.heights.get(index)
        option._set_prompt(prompt)
        width = self.scrollable_content_region.width - self._get_left_gutter_width()
        padding = self.get_component_styles("option-list--option").padding
        # (Textual's own OptionList passes self.styles here too; its annotation says RulesMap.)
        height = self._get_visual(option).get_height(self.styles, width - padding.width) + option._divider  # type: ignore[arg-type]
        if old_height is None or height != old_height:
            self._clear_caches()
            return
        cache = self._option_render_cache
        for key in [key for key in cache.keys() if key[0] is option]:
            cache.discard(key)
        self.refresh()

    def follow(self, line: int) -> None:
        """Highlight the rule whose text holds 1-based `line`."""
        for index, item in enumerate(self.items):
            end = item.end_line if item.end_line is not None else item.line
            if item.line is not None and item.line <= line <= (end or item.line):
                if self.highlighted != index:
                    self.highlighted = index
                return
