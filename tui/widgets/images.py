"""The image table: one row per image, drawn line by line (Textual's Line API on a ScrollView).

Why a widget of its own rather than Textual's DataTable or textual-fastdatatable: DataTable
keys its rendered cells and lines on a counter that every `update_cell` bumps and maps screen
lines to rows through a list rebuilt after each update, so pullguard had to override three of
its private methods to keep an edit under 50 ms at 2,000 rows; textual-fastdatatable (0.19)
needs pyarrow (a large native dependency, and an import on the first frame) and is a copy of
the same DataTable internals. Here a line is a pure function of the row it shows, the column
widths and the cursor, and is cached on exactly that: an edit that changes ten rows draws ten
lines. Rows live in a list (the shown ones, after the filters) and a dict (all of them), so
10,000 rows cost a list of 10,000 keys and nothing per frame but the visible lines.

Columns are laid out from the pane's width and what the rows hold: image, rule, action and
outcome always fit (the image cut in the middle, never so that two rows read the same), then
match subject, node and pod take what is left; what does not fit scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.events import Click, MouseMove
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pullguard.engine.display import escape_control

from ..imagelist import node_disagrees
from ..styles import ACTION_STYLE, OUTCOME_STYLE, PENDING_STYLE, theme_css
from ..textcut import cut_middle, distinct_cuts

# Filters cycled by `f`: None shows every row.
FILTERS: tuple[str | None, ...] = (
    None, "verified", "failed", "error", "denied", "skipped", "allowed", "unverified",
)

# The words the outcome and action columns show, each with a component class (theme colours).
OUTCOME_STYLES = {**OUTCOME_STYLE, **PENDING_STYLE}
OUTCOME_WORDS = tuple(OUTCOME_STYLES)
ACTION_WORDS = tuple(ACTION_STYLE)

# The mark beside a node verdict that disagrees with pullguard's.
DISAGREE_MARK = " ≠"


class Row(NamedTuple):
    """What one row shows; equal rows are not redrawn. A tuple: 2,000 of them are made per
    analysis, and a frozen dataclass took twice as long to build."""

    image: str
    subject: str
    rule: str
    action: str
    outcome: str
    node: str
    place: str = ""  # namespace/pod of a cluster image

    def node_cell(self) -> str:
        if not self.node:
            return ""
        return self.node + DISAGREE_MARK if node_disagrees(self.node, self.outcome) else self.node


class Column(NamedTuple):
    key: str
    label: str
    least: int  # narrowest useful width
    most: int  # never wider, however long the text


# In the order shown. The verdict columns come right after the image so they fit at 80.
COLUMNS = (
    Column("image", "image", 20, 64),
    Column("rule", "rule", 4, 64),  # Kyverno's `policy/rule#entry` is long
    Column("action", "action", 6, 6),
    Column("outcome", "outcome", 10, 10),
    Column("subject", "match subject", 12, 48),
    Column("node", "node", 4, 12),
    Column("place", "pod", 8, 40),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
IMAGE_LEAST = 8  # the image column gives way down to this before the verdict columns scroll
IMAGE_READABLE = 32  # most image names are no longer: the rule is cut before the image is
GAP = 2  # spaces between columns (one more before the first)


def _cell_text(row: Row, key: str) -> str:
    return row.node_cell() if key == "node" else getattr(row, key)


class ImageTable(ScrollView, can_focus=True):
    """The simulation/verification table. Key bindings act on the selected row."""

    BINDINGS = [
        # The key hints show four of these, so that f5 and f1 still fit at 80 columns.
        Binding("a", "app.add_image", "Add", id="table.add", tooltip="Add an image reference to the table"),
        Binding("delete", "app.remove_image", "Remove", id="table.remove", tooltip="Remove the selected image", show=False),
        Binding("enter", "app.verify_selected", "Verify", id="table.verify", tooltip="Verify the selected image"),
        Binding(
            "c", "app.show_details", "Details", id="table.details",
            tooltip="Open the selected image's details as copyable text", show=False,
        ),
        Binding(
            "f", "app.cycle_filter", "Filter", id="table.filter", tooltip="Show only one outcome (cycles through those present)",
        ),
        Binding("slash", "app.find_images", "Find", id="table.find", tooltip="Filter the table by text (image, subject, rule, pod)"),
        Binding(
            "e", "app.toggle_rules", "Each rule", id="table.each_rule",
            tooltip="Detail pane: show each rule tried, or fold long runs of rules that did not decide", show=False,
        ),
        Binding("up", "cursor(-1)", "Up", id="table.up", tooltip="Select the image above", show=False),
        Binding("down", "cursor(1)", "Down", id="table.down", tooltip="Select the image below", show=False),
        Binding("pageup", "page(-1)", "Page up", id="table.page_up", tooltip="Up one page", show=False),
        Binding("pagedown", "page(1)", "Page down", id="table.page_down", tooltip="Down one page", show=False),
        Binding("home", "ends(0)", "First", id="table.first", tooltip="Select the first image", show=False),
        Binding("end", "ends(1)", "Last", id="table.last", tooltip="Select the last image", show=False),
    ]

    COMPONENT_CLASSES = {
        "image-table--header", "image-table--cursor", "image-table--cursor-blurred",
        "image-table--disagree", "image-table--dim",
        *(f"image-table--{word}" for word in OUTCOME_WORDS),
        *(f"image-table--action-{word}" for word in ACTION_WORDS),
    }

    DEFAULT_CSS = """
    ImageTable { border: round $panel-lighten-2; height: 1fr; background: $surface; color: $foreground; }
    ImageTable:focus { border: round $accent; }
    ImageTable > .image-table--header { text-style: bold; background: $panel; color: $foreground; }
    ImageTable > .image-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    ImageTable > .image-table--cursor-blurred { background: $boost; }
    ImageTable > .image-table--dim { color: $foreground 60%; }
    ImageTable > .image-table--disagree { color: $text-warning; text-style: bold; }
    """

    # Outcome and action words in the colours of tui/styles.py's maps, from the active theme.
    DEFAULT_CSS += "".join(
        f"ImageTable > .image-table--{word} {{ {theme_css(style)} }}\n" for word, style in OUTCOME_STYLES.items()
    ) + "".join(f"ImageTable > .image-table--action-{word} {{ {theme_css(style)} }}\n" for word, style in ACTION_STYLE.items())

    class RowHighlighted(Message):
        """The cursor moved to another image (or the table became empty: `image` is None)."""

        def __init__(self, table: ImageTable, image: str | None) -> None:
            super().__init__()
            self.table = table
            self.image = image

        @property
        def control(self) -> ImageTable:
            return self.table

    cursor_row: reactive[int] = reactive(0, always_update=False, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.known: dict[str, Row] = {}  # every image, shown or filtered out
        self.order: list[str] = []  # every image, in list order
        self.shown: list[str] = []  # the images that pass the filters, in order
        self.position: dict[str, int] = {}  # image -> index in `shown`
        self.outcome_filter: str | None = None
        self.text_filter = ""
        self.widths: tuple[int, ...] = tuple(column.least for column in COLUMNS)
        self.visible_columns: tuple[int, ...] = ()  # indexes into COLUMNS with a width
        self.cuts: dict[str, str] = {}  # image -> its text cut to the image column
        self.drawn = 0  # lines composed (not found in the cache): tests, bench
        self.lines: LRUCache[tuple, Strip] = LRUCache(1024)
        self.styles_seen: dict[str, Style] = {}
        self.hover_row = -1
        self.last_highlighted: str | None = None
        # Set by the app below 100 columns: the image before the match subject and the pod.
        self.image_first = False

    # -- data --------------------------------------------------------------------------

    @property
    def images(self) -> list[str]:
        return list(self.order)

    @property
    def row_count(self) -> int:
        """Rows shown (after the filters)."""
        return len(self.shown)

    def row_for(self, image: str) -> Row | None:
        return self.known.get(image)

    def get_row_at(self, index: int) -> tuple[str, ...]:
        """The full text of each column of shown row `index`, in COLUMN_KEYS order."""
        row = self.known[self.shown[index]]
        return tuple(_cell_text(row, key) for key in COLUMN_KEYS)

    def column_span(self, key: str) -> tuple[int, int] | None:
        """(first, past-last) x of column `key` in the table's content, or None when not shown."""
        x = 1
        for index in self.visible_columns:
            if COLUMNS[index].key == key:
                return x, x + self.widths[index]
            x += self.widths[index] + GAP
        return None

    def shows(self, row: Row) -> bool:
        """Whether `row` passes the filters (shown, not filtered out)."""
        if self.outcome_filter is not None and row.outcome != self.outcome_filter:
            return False
        if self.text_filter:
            needle = self.text_filter.casefold()
            return any(needle in text.casefold() for text in (row.image, row.subject, row.rule, row.place, row.node))
        return True

    def outcomes_present(self) -> set[str]:
        return {row.outcome for row in self.known.values()}

    def selected_image(self) -> str | None:
        if not self.shown:
            return None
        return self.shown[min(self.cursor_row, len(self.shown) - 1)]

    def sync(self, rows: list[Row], *, refilter: bool = False) -> int:
        """Make the table show `rows` in this order; returns how many rows changed.

        Rows equal to what is shown are skipped (an edit usually changes a handful of 2,000);
        the shown list is rebuilt only when the order, the filters or a row's filtering changed.
        """
        order = [row.image for row in rows]
        known = self.known
        changed = 0
        regroup = refilter or order != self.order
        for row in rows:
            old = known.get(row.image)
            if old == row:
                continue
            known[row.image] = row
            changed += 1
            if old is None or self.shows(old) != self.shows(row):
                regroup = True
        if order != self.order:
            wanted = set(order)
            for image in [image for image in known if image not in wanted]:
                del known[image]
            self.order = order
        if regroup:
            self._refilter()
        if changed or regroup:
            self._relayout()
            self.refresh()
        return changed

    def update_row(self, row: Row) -> None:
        """Show a new `row` for an image already in the table (a verification result)."""
        old = self.known.get(row.image)
        if old is None or old == row:
            return
        self.known[row.image] = row
        if self.shows(old) != self.shows(row):
            self._refilter()
        self._relayout()
        index = self.position.get(row.image)
        if index is not None:
            self.refresh_line(index)

    def set_filter(self, outcome: str | None) -> None:
        self.outcome_filter = outcome
        self._refilter()
        self._relayout()
        self.refresh()

    def set_text_filter(self, text: str) -> None:
        self.text_filter = text
        self._refilter()
        self._relayout()
        self.refresh()

    def _refilter(self) -> None:
        selected = self.selected_image()
        known = self.known
        if self.outcome_filter is None and not self.text_filter:
            self.shown = list(self.order)
        else:
            self.shown = [image for image in self.order if self.shows(known[image])]
        self.position = {image: index for index, image in enumerate(self.shown)}
        self.cuts = {}  # whether a cut is unique depends on the other rows shown
        self.virtual_size = Size(self.virtual_size.width, len(self.shown) + 1)
        if selected is not None and selected in self.position:
            self.cursor_row = self.position[selected]
        else:
            self.cursor_row = max(0, min(self.cursor_row, len(self.shown) - 1))
        self._highlight()

    # -- layout ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._relayout()

    def set_image_first(self, value: bool) -> None:
        if value != self.image_first:
            self.image_first = value
            self._relayout()

    def _wanted(self) -> list[int]:
        """Each column's width if nothing were cut (its longest text, within its bounds)."""
        rows = [self.known[image] for image in self.shown] or list(self.known.values())
        wanted = []
        for column in COLUMNS:
            if column.key == "node":
                longest = max((len(row.node_cell()) for row in rows), default=0)
            elif column.key in ("action", "outcome"):
                longest = column.most
            else:
                index = Row._fields.index(column.key)
                longest = max((len(row[index]) for row in rows), default=0)
            if longest == 0 and column.key in ("node", "place", "subject"):
                wanted.append(0)  # nothing to show: no column
                continue
            wanted.append(max(column.least, len(column.label), min(column.most, longest)))
        return wanted

    def _relayout(self) -> None:
        """Column widths for the pane's width: action, outcome and the node verdict whole; image,
        rule, match subject and pod share the rest (each at least a little): the rule whole when
        the image still gets IMAGE_READABLE, else the two 1 to 2, then the others; a column that
        cannot get its least goes past the right edge (it scrolls), the later ones first."""
        wanted = self._wanted()
        keys = [column.key for column in COLUMNS]
        at = {key: index for index, key in enumerate(keys)}
        shared = [at["rule"], at["image"], at["subject"], at["place"]]  # in the order they grow
        least = {index: min(wanted[index], max(4, COLUMNS[index].least if index != at["rule"] else 12)) for index in shared}
        least[at["image"]] = IMAGE_LEAST if wanted[at["image"]] else 0
        present = [index for index, width in enumerate(wanted) if width]
        width = self.scrollable_content_region.width
        # Not enough room for every column's least: the pod, then the subject, then the node scroll.
        droppable = [index for index in (at["place"], at["subject"], at["node"]) if index in present]
        offscreen: list[int] = []
        while True:
            on = [index for index in present if index not in offscreen]
            room = width - 1 - GAP * (len(on) - 1) - sum(wanted[index] for index in on if index not in shared)
            spare = room - sum(least[index] for index in on if index in shared)
            # On a small screen the whole image name comes before the subject and the pod (the
            # detail pane shows both); the node verdict stays. Else every column gets its least.
            image_short = self.image_first and spare < wanted[at["image"]] - least[at["image"]]
            make_room = image_short and bool(droppable) and droppable[0] != at["node"]
            if (spare >= 0 and not make_room) or not droppable:
                break
            offscreen.append(droppable.pop(0))
        widths = list(wanted)
        for index in shared:
            if index in on:
                widths[index] = least[index]
        extra = room - sum(widths[index] for index in shared if index in on)
        # The whole rule when that leaves the image IMAGE_READABLE characters (most names), else
        # the rule and the image share the room 1 to 2 (each up to its whole text), so Kyverno's
        # long `policy/rule#entry` never leaves the image a stub; what is left goes to the match
        # subject, then the pod.
        rule, image = at["rule"], at["image"]
        pair = [index for index in (rule, image) if index in on]
        whole_rule = wanted[rule] - widths[rule]
        weights = {rule: 1, image: 2}
        if extra - whole_rule >= min(IMAGE_READABLE, wanted[image]) - widths[image]:
            widths[rule] += whole_rule
            extra -= whole_rule
        while extra > 0:
            hungry = [index for index in pair if widths[index] < wanted[index]]
            if not hungry:
                break
            room_now, total = extra, sum(weights[index] for index in hungry)
            for index in hungry:
                share = max(1, room_now * weights[index] // total)
                grow = min(share, extra, wanted[index] - widths[index])
                widths[index] += grow
                extra -= grow
        for index in shared:
            if index in on and index not in pair and extra > 0:
                grow = min(extra, wanted[index] - widths[index])
                widths[index] += grow
                extra -= grow
        new = tuple(widths)
        if new != self.widths:
            if new[0] != self.widths[0]:
                self.cuts = {}
            self.widths = new
            self.refresh()
        visible = tuple(on) + tuple(sorted(offscreen))  # on screen first, then what scrolls
        if visible != self.visible_columns:
            self.visible_columns = visible
            self.refresh()
        total = 1 + sum(new[i] for i in self.visible_columns) + GAP * (len(self.visible_columns) - 1)
        if self.virtual_size != Size(total, len(self.shown) + 1):
            self.virtual_size = Size(total, len(self.shown) + 1)

    def _image_text(self, image: str) -> str:
        cut = self.cuts.get(image)
        if cut is None:
            width = self.widths[0]
            # Cut every shown image at once: whether a cut is unique depends on the others.
            self.cuts = distinct_cuts([escape_control(name) for name in self.shown], width, keys=self.shown)
            cut = self.cuts.get(image) or escape_control(image)[:width]
        return cut

    # -- drawing ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.lines.clear()  # a theme or CSS change restyles every line
        self.styles_seen = {}

    def _style(self, name: str) -> Style:
        style = self.styles_seen.get(name)
        if style is None:
            style = self.styles_seen[name] = self.get_component_rich_style(f"image-table--{name}", partial=True)
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            return self._line(None, -1, scroll_x, width)
        index = scroll_y + y - 1
        if index >= len(self.shown):
            return Strip.blank(width, self.rich_style)
        return self._line(self.shown[index], index, scroll_x, width)

    def _line(self, image: str | None, index: int, scroll_x: int, width: int) -> Strip:
        row = self.known.get(image) if image is not None else None
        cursor = index >= 0 and index == self.cursor_row
        focused = self.has_focus
        key = (row, index == self.hover_row, cursor, focused if cursor else None, scroll_x, width, self.widths,
               self._image_text(image) if image is not None else None)
        strip = self.lines.get(key)
        if strip is None:
            self.drawn += 1
            strip = self._draw_row(row, image, cursor, focused, index == self.hover_row)
            strip = strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
            self.lines[key] = strip
        return strip

    def _draw_row(self, row: Row | None, image: str | None, cursor: bool, focused: bool, hover: bool) -> Strip:
        base = self.rich_style
        if row is None:
            line_style = base + self._style("header")
            cells = [(column.label, Style()) for column in COLUMNS]
        else:
            line_style = base
            if cursor:
                line_style = base + self._style("cursor" if focused else "cursor-blurred")
            elif hover:
                line_style = base + self._style("cursor-blurred")
            cells = [
                (self._image_text(row.image), Style()),
                (row.rule, Style()),
                (row.action, self._style(f"action-{row.action}") if row.action in ACTION_WORDS else self._style("dim")),
                (row.outcome, self._style(row.outcome) if row.outcome in OUTCOME_WORDS else Style()),
                (escape_control(row.subject), self._style("dim") if not cursor else Style()),
                (row.node_cell(), self._style("disagree") if row.node_cell().endswith(DISAGREE_MARK) else Style()),
                (escape_control(row.place), Style()),
            ]
        segments = [Segment(" ", line_style)]
        first = True
        for index in self.visible_columns:
            text, style = cells[index]
            width = self.widths[index]
            if not first:
                segments.append(Segment(" " * GAP, line_style))
            first = False
            if index != 0 and len(text) > width:
                # A third before the cut: rules differ at the end (`…/rule#entry`), not in the policy name.
                text = cut_middle(text, width, head=max(4, (width - 1) // 3))
            cell_style = line_style + style if not cursor else line_style + style + self._style("cursor" if focused else "cursor-blurred")
            segments.append(Segment(text.ljust(width), cell_style))
        return Strip(segments)

    def refresh_line(self, index: int) -> None:
        """Repaint shown row `index` if it is on screen (its line is composed again only if it changed)."""
        y = index + 1 - self.scroll_offset.y
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- cursor ---------------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)
        self._scroll_to_cursor()
        self._highlight()

    def _highlight(self) -> None:
        image = self.selected_image()
        if image != self.last_highlighted:
            self.last_highlighted = image
            self.post_message(self.RowHighlighted(self, image))

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height - 1  # below the header
        if height <= 0:
            return
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False)

    def move_cursor(self, *, row: int) -> None:
        if self.shown:
            self.cursor_row = max(0, min(row, len(self.shown) - 1))

    def select(self, image: str) -> bool:
        """Move the cursor to `image`; False when it is not shown."""
        index = self.position.get(image)
        if index is None:
            return False
        self.move_cursor(row=index)
        return True

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step * max(1, self.scrollable_content_region.height - 2))

    def action_ends(self, end: int) -> None:
        self.move_cursor(row=len(self.shown) - 1 if end else 0)

    def on_click(self, event: Click) -> None:
        index = event.y + self.scroll_offset.y - 1
        if event.y >= 1 and 0 <= index < len(self.shown):
            self.move_cursor(row=index)

    def on_mouse_move(self, event: MouseMove) -> None:
        index = event.y + self.scroll_offset.y - 1 if event.y >= 1 else -1
        if index != self.hover_row:
            old, self.hover_row = self.hover_row, index
            self.refresh_line(old)
            self.refresh_line(index)

    def on_leave(self) -> None:
        old, self.hover_row = self.hover_row, -1
        self.refresh_line(old)

    def on_focus(self) -> None:
        self.refresh_line(self.cursor_row)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor_row)

    def shown_rows(self) -> Iterable[Row]:
        return (self.known[image] for image in self.shown)
