"""The image table: one row per image, updated in place as the policy or results change.

Rows are keyed by the image reference (stable across edits) and cells are rewritten with
`update_cell` only where their text changed, so typing in the editor never rebuilds the
table (no `clear()`, no full layout, no flicker). Column widths are fixed for the same reason.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from ..safetext import safe_text
from ..styles import OUTCOME_STYLE, PENDING_STYLE

# How an outcome, or the state before one, looks in the outcome column.
OUTCOME_STYLES = {**OUTCOME_STYLE, **PENDING_STYLE}

# (key, label, width). The verdict columns come right after the image so they show at 80
# columns; the image column takes what the pane's width leaves (recomputed on resize only).
COLUMNS = (
    ("image", "image", 24),
    ("rule", "rule", 4),
    ("action", "action", 6),
    ("outcome", "outcome", 10),
    ("subject", "match subject", 34),
    ("node", "node", 10),
)
IMAGE_WIDTH = (16, 48)

# Filters cycled by `f`: None shows every row.
FILTERS: tuple[str | None, ...] = (
    None, "verified", "failed", "error", "denied", "skipped", "allowed", "unverified",
)


class Row(NamedTuple):
    """What one row shows; equal rows are not redrawn. A tuple: 2,000 of them are made per
    analysis, and a frozen dataclass took twice as long to build."""

    image: str
    subject: str
    rule: str
    action: str
    outcome: str
    node: str

    def cells(self) -> dict[str, object]:
        # Text, not str: DataTable reads a str as console markup (slower, and an image such
        # as `[::1]:5000/app` would not show as written); escaped, as outside text (SPEC §6).
        return {
            "image": safe_text(self.image),
            "rule": safe_text(self.rule),
            "action": Text(self.action),
            "outcome": Text(self.outcome, style=OUTCOME_STYLES.get(self.outcome, "")),
            "subject": safe_text(self.subject),
            "node": safe_text(self.node),
        }


class ImageTable(DataTable):
    """The simulation/verification table. Key bindings act on the selected row."""

    BINDINGS = [
        Binding("a", "app.add_image", "Add image", id="table.add", tooltip="Add an image reference to the table"),
        Binding("delete", "app.remove_image", "Remove", id="table.remove", tooltip="Remove the selected image"),
        Binding("enter", "app.verify_selected", "Verify", id="table.verify", tooltip="Verify the selected image"),
        Binding("c", "app.show_details", "Details", id="table.details", tooltip="Open the selected image's details as copyable text"),
        Binding("f", "app.cycle_filter", "Filter", id="table.filter", tooltip="Show only one outcome (cycles)"),
        Binding(
            "e", "app.toggle_rules", "Each rule", id="table.each_rule",
            tooltip="Detail pane: show each rule tried, or fold long runs of rules that did not decide", show=False,
        ),
    ]

    DEFAULT_CSS = """
    ImageTable { border: round $panel; height: 1fr; }
    ImageTable:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: dict[str, Row] = {}  # every known image, shown or filtered out
        self._order: list[str] = []
        self.outcome_filter: str | None = None
        # Rendered cells keyed by what they show (see _render_cell).
        self._cells_by_content: LRUCache[tuple, list] = LRUCache(4096)
        self._lines_by_content: LRUCache[tuple, object] = LRUCache(1024)  # see _render_line

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, width=width, key=key)

    def on_resize(self) -> None:
        # Give the image column the room the verdict columns leave (cell padding is 1 a side).
        fixed = sum(width + 2 for key, _, width in COLUMNS[1:4]) + 2
        low, high = IMAGE_WIDTH
        width = max(low, min(high, self.scrollable_content_region.width - fixed - 1))
        column = self.columns.get(ColumnKey("image"))
        if column is not None and column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh()

    def _render_cell(self, row_index: int, column_index: int, base_style, width: int, cursor: bool = False, hover: bool = False):
        # A private DataTable method, overridden (Textual pinned to 8.2.8; tests/test_tui_app
        # pins this): DataTable keys its rendered cells on a counter that every update_cell
        # bumps, so an edit that changes one row re-rendered every visible cell through Rich
        # (20-35 ms for 19 rows of 6 cells). Keyed on the row's content, only changed cells are
        # rendered again. Header and label cells keep DataTable's own cache.
        row_key = self._row_locations.get_key(row_index) if row_index >= 0 and column_index >= 0 else None
        row = self._rows.get(row_key.value) if row_key is not None and row_key.value is not None else None
        if row is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row, row_index, column_index, base_style, width, cursor, hover,
            self.show_cursor, self._show_hover_cursor, self._pseudo_class_state,
        )
        lines = self._cells_by_content.get(key)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._cells_by_content[key] = lines
        return lines

    def _render_line(self, y: int, x1: int, x2: int, base_style):
        # A private DataTable method, overridden like _render_cell: DataTable keys a drawn line
        # on the update counter too, so after any update_cell every visible line was composed
        # again (styles, segments, crop: ~1 ms a line). Keyed on the row shown there and on
        # whether the cursor or the mouse is on it (row cursor), an unchanged line is reused.
        if self.cursor_type != "row" or (self.show_header and y < self.header_height):
            return super()._render_line(y, x1, x2, base_style)
        index = y - self.header_height if self.show_header else y
        row_key = self._row_locations.get_key(index)
        row = self._rows.get(row_key.value) if row_key is not None and row_key.value is not None else None
        if row is None:
            return super()._render_line(y, x1, x2, base_style)
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        key = (
            row, index, x1, x2, self.size.width, base_style,
            cursor.row == index, hover.row == index, self.show_cursor, self._show_hover_cursor,
            self._pseudo_class_state, tuple(column.width for column in self.columns.values()),
        )
        strip = self._lines_by_content.get(key)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
            self._lines_by_content[key] = strip
        return strip

    def _get_offsets(self, y: int):
        # A private DataTable method, overridden like _render_cell: DataTable maps a screen
        # line to its row through a list of every row's lines, rebuilt after each update_cell
        # (2,000 rows: ~5 ms a frame). Every row here is one line high (add_row's default), so
        # line y below the header is the row at index y.
        if self.show_header:
            if y < self.header_height:
                return self._header_row_key, y
            y -= self.header_height
        row_key = self._row_locations.get_key(y)
        if row_key is None:
            raise LookupError(f"Y coord {y!r} is greater than total height")
        return row_key, 0

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cells_by_content.clear()  # a theme or CSS change restyles every cell
        self._lines_by_content.clear()

    @property
    def images(self) -> list[str]:
        return list(self._order)

    def row_for(self, image: str) -> Row | None:
        return self._rows.get(image)

    def shows(self, row: Row) -> bool:
        """Whether `row` passes the outcome filter (shown, not filtered out)."""
        return self.outcome_filter is None or row.outcome == self.outcome_filter

    def selected_image(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # cursor outside the table (empty after a filter)
            return None
        return key.value

    def sync(self, rows: list[Row], *, refilter: bool = False) -> int:
        """Make the table show `rows` in this order; returns how many cells were rewritten.

        Rows equal to what is shown are skipped before anything else is looked at (an edit
        usually changes a handful of 2,000); `refilter` looks at every row again (new filter).
        """
        order = [row.image for row in rows]
        changed = 0
        added = False
        known = self._rows
        if order != self._order:
            wanted = set(order)
            for image in [image for image in known if image not in wanted]:
                if image in self.rows:
                    self.remove_row(image)
                del known[image]
        for row in rows:
            old = known.get(row.image)
            if old == row and not refilter:
                continue
            known[row.image] = row
            shown = old is not None and row.image in self.rows
            if not self.shows(row):
                if shown:
                    self.remove_row(row.image)
                continue
            if old is None or not shown:
                self.add_row(*row.cells().values(), key=row.image)
                changed += len(COLUMNS)
                added = True
                continue
            changed += self._update_cells(old, row)
        if order != self._order or added:
            # New rows land at the end; put every row back in list order.
            self._order = order
            self._resort()
        return changed

    def _update_cells(self, old: Row, row: Row) -> int:
        if old == row:
            return 0
        changed = 0
        old_cells = old.cells()
        for key, value in row.cells().items():
            if str(old_cells[key]) != str(value):
                # update_width=False (the default): widths are fixed, nothing is re-measured.
                self.update_cell(row.image, key, value)
                changed += 1
        return changed

    def update_row(self, row: Row) -> None:
        """Show a new `row` for an image already in the table (a verification result)."""
        old = self._rows.get(row.image)
        if old is None or old == row:
            return
        if self.shows(old) != self.shows(row):  # it enters or leaves the filtered view
            self.sync([row if image == row.image else self._rows[image] for image in self._order])
            return
        self._rows[row.image] = row
        if self.shows(row):
            self._update_cells(old, row)

    def set_filter(self, outcome: str | None) -> None:
        self.outcome_filter = outcome
        self.sync([self._rows[image] for image in self._order], refilter=True)

    def _resort(self) -> None:
        position = {image: index for index, image in enumerate(self._order)}
        if self.row_count:
            self.sort("image", key=lambda image: position.get(str(image), len(position)))
