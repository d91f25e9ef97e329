"""Below 100 columns the dashboard shows one of two pages: the policy (editor, rules,
problems) or the images (table, detail). This line names both and marks the one shown;
f2/f3 or a click switch, and focus moving to a pane of the other page switches too."""

from __future__ import annotations

from rich.text import Text
from textual.events import Click
from textual.widgets import Static

PAGES = (("policy", "f2"), ("images", "f3"))


class PaneTabs(Static):
    DEFAULT_CSS = """
    PaneTabs { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.page = "policy"
        self.spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.show_page(self.page)

    def show_page(self, page: str) -> None:
        self.page = page
        text = Text()
        self.spans = []
        for name, key in PAGES:
            if text:
                text.append("  │  ", style="dim")
            start = len(text)
            style = "bold reverse" if name == page else ""
            text.append(f" {name} ", style=style)
            text.append(f" {key}", style="dim")
            self.spans.append((start, len(text), name))
        text.append("    z zooms a pane · tab moves between panes", style="dim")
        self.update(text)

    async def on_click(self, event: Click) -> None:
        x = event.x - 1  # padding
        for start, end, name in self.spans:
            if start <= x < end:
                await self.app.run_action(f"show_page('{name}')")
