"""`/` in the image table: a line that filters the table by text as it is typed."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class FindBar(Input):
    """Filters the image table (image, match subject, rule, pod) as it is typed; enter keeps the
    filter and goes back to the table, escape clears it."""

    DEFAULT_CSS = """
    FindBar { height: 1; border: none; padding: 0 1; background: $panel; color: $foreground; }
    FindBar:focus { border: none; background: $panel; }
    """
    BINDINGS = [
        Binding("escape", "clear_find", "Clear", id="find.clear", tooltip="Clear the text filter and go back to the table"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="filter images by text: enter keeps it, escape clears", **kwargs)

    async def action_clear_find(self) -> None:
        self.value = ""
        await self.app.run_action("app.close_find")
