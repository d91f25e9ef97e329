"""The pullguard dashboard: one screen, keyboard first (SPEC §7).

The editor text IS the policy file: saving writes exactly what is on screen, so comments, key
order and quoting survive by construction. Validation runs in an exclusive "validate" worker
(debounced), verification in a separate exclusive "verify" thread worker with its own event
loop, so neither ever blocks the UI thread and typing never cancels a verification.
Nothing on the first-frame import path loads sigstore, httpx or cryptography.x509: the
verification stack is imported inside the verify worker thread.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Label, OptionList, TextArea
from textual.notifications import SeverityLevel
from textual.worker import get_current_worker

from pullguard.engine.analysis import analyze
from pullguard.engine.display import escape_control
from pullguard.engine.textfile import TextFileError, read_text

from .palette import PullguardCommands
from .safetext import safe_text
from .widgets.detail import DetailPane, detail_text
from .widgets.diagnostics import DiagnosticsList
from .widgets.editor import PolicyEditor
from .widgets.images import FILTERS, ImageTable, Row
from .widgets.modals import ConfirmScreen, HelpScreen, PromptScreen, TextModal, error_modal
from .widgets.outline import RuleOutline

EXIT_AFTER_FIRST_FRAME = "PULLGUARD_EXIT_AFTER_FIRST_FRAME"

# Up to this many images an analysis (parse + validate + simulate, about 15 ms for 2,000 images
# and 200 rules) runs on the event loop: cheaper than the hop to a thread and back, where it
# would also fight the UI for the GIL (it took 50-140 ms there). The first one runs before the
# first frame, so the screen is painted once, with the table filled. Longer lists go to a
# worker thread.
INLINE_ANALYSIS_IMAGES = 3000

STARTER_POLICY = """\
# pullguard: a Talos ImageVerificationConfig. Rules are tried top-down; the first match decides.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "ghcr.io/siderolabs/*"
    keyless:
      issuer: https://accounts.google.com
      subject: siderolabs-talos-ci@talos-production.iam.gserviceaccount.com
  - image: "*"
    skip: true
"""


@dataclass(frozen=True)
class ImageItem:
    """An image in the table and where it came from (the talosctl `talos.dev/verified` label)."""

    image: str
    node_label: str | None = None
    node: str | None = None  # talosctl: the node that reported it
    node_message: str | None = None  # talosctl: Talos's verification message (the label's value)

    def node_text(self) -> str | None:
        if self.node_label is None:
            return None
        text = self.node_label if self.node is None else f"{self.node_label} on {self.node}"
        return f"{text}: {self.node_message}" if self.node_message else text


def node_label_of(entry) -> str | None:
    value = getattr(entry, "node_verified", None)
    if value is None:
        return None
    if value is True:
        return "verified"
    if value is False:
        return "unverified"
    return str(value)


def read_user_file(path: str) -> tuple[str | None, str | None]:
    """A file the user named: (text, None), or (None, why it cannot be read, with the path)."""
    try:
        return read_text(Path(path).expanduser()), None
    except TextFileError as exc:  # already says path:line:column
        return None, str(exc)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half.

    A temp file in the same directory (same filesystem) is written, flushed to disk and renamed
    over the target; the target's permission bits are kept (new files get 0666 & ~umask).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def decision_key(decision) -> tuple:
    """What a verification result depends on: a cached result stays shown while this is equal."""
    return (
        decision.action,
        decision.match_subject,
        decision.verifier,
        repr(getattr(decision, "requirements", None)),
    )


def retitle(widget, value: str, attr: str = "border_title") -> None:
    """Set a border title/subtitle only when it changes: every assignment repaints the whole
    widget (the 2,000-row table's visible cells, the editor's lines), even with the same text.
    The title is Text, never markup: it may hold a file name (`[/nope].yaml`)."""
    shown = f"_pullguard_{attr}"
    if getattr(widget, shown, None) != value:
        setattr(widget, shown, value)
        setattr(widget, attr, safe_text(value))


SIMULATED_OUTCOME = {"allow": "allowed", "skip": "skipped", "deny": "denied", "verify": "unverified"}


class VerifyUnavailable(Exception):
    pass


async def engine_verifier(loaded, images, options: dict, on_result, cache):
    """Default verifier: `pullguard.engine.verify.verify_images` (imported in the worker thread)."""
    try:
        from pullguard.engine.verify import VerifyOptions, verify_images
    except ImportError as exc:  # the verification stack is not installed/built
        raise VerifyUnavailable(f"verification is not available: {exc}") from exc
    return await verify_images(loaded, images, VerifyOptions(**options), on_result=on_result, cache=cache)


def _new_cache():
    try:
        from pullguard.engine.verify import VerifyCache
    except ImportError:
        return None
    return VerifyCache()


class _VerifyRun:
    """Handle on a verification running in a worker thread's own event loop."""

    def __init__(self, images: list[str]) -> None:
        self.images = images
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.cancelled = False
        self.done = 0

    def cancel(self) -> None:
        self.cancelled = True
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


class PullguardApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "pullguard"
    COMMANDS = App.COMMANDS | {PullguardCommands}

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="app.save", tooltip="Save the policy (atomic write)", priority=True),
        Binding("ctrl+o", "open_policy", "Open", id="app.open", tooltip="Open another policy file", priority=True),
        Binding("ctrl+l", "load_images", "Load images", id="app.load", tooltip="Load an image list (text, kubectl JSON, manifests, talosctl image ls)", priority=True),
        Binding("f5", "verify_all", "Verify all", id="app.verify_all", tooltip="Verify every image against its registry"),
        # priority: the editor would take escape first; check_action lets it through when idle.
        Binding("escape", "cancel_verify", "Cancel", id="app.cancel", tooltip="Cancel the running verification", priority=True),
        Binding("f1", "help", "Help", id="app.help", tooltip="Every key the dashboard answers to"),
        Binding("f2", "focus('editor')", "Editor", id="app.focus_editor", tooltip="Focus the policy editor", show=False),
        Binding("f3", "focus('images')", "Images", id="app.focus_images", tooltip="Focus the image table", show=False),
        Binding("f4", "focus('problems')", "Problems", id="app.focus_problems", tooltip="Focus the diagnostics list", show=False),
        Binding("ctrl+r", "compare_saved", "Compare", id="app.compare", tooltip="Compare with the saved version: what the edits change per image", show=False),
        Binding("f8", "next_problem", "Next problem", id="app.next_problem", tooltip="Jump to the next diagnostic", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit; asks when there are unsaved edits", priority=True),
    ]

    def __init__(
        self,
        policy_path: str,
        text: str | None = None,
        images: list[ImageItem] | None = None,
        verify_options: dict | None = None,
        *,
        sample: bool = False,
        verifier: Callable[..., Any] | None = None,
        validate_delay: float = 0.15,
        exit_after_first_frame: bool | None = None,
    ) -> None:
        super().__init__()
        self.policy_path = policy_path
        if text is None:
            text = read_text(policy_path)
        self.initial_text = text
        self.saved_text = text
        self.items: list[ImageItem] = []
        self._item_names: set[str] = set()  # the images in self.items, for O(1) duplicate checks
        for item in images or []:
            self._add_item(item)
        self.verify_options = dict(verify_options or {})
        self.sample = sample
        self.verifier = verifier or engine_verifier
        self.validate_delay = validate_delay
        if exit_after_first_frame is None:
            exit_after_first_frame = bool(os.environ.get(EXIT_AFTER_FIRST_FRAME))
        self.exit_after_first_frame = exit_after_first_frame
        self.analysis = None
        self.policy = None  # the policy object the decisions came from (last good while stale)
        self.analyses = 0  # how many analyses reached the screen (tests, bench)
        self.first_frame_rows: int | None = None
        self._select_next: str | None = None  # an image to select once its row exists
        self.last_apply_seconds = 0.0
        # (wall, process CPU) when the last analysis started, after the debounce (bench).
        self.analysis_started = (0.0, 0.0)
        self.results: dict[str, Any] = {}  # image -> VerifyResult, the session's verdicts
        self.verify_cache = None  # pullguard.engine.verify.VerifyCache, made in the first verify run
        self._run: _VerifyRun | None = None
        self._verifying: set[str] = set()
        self._problem_index = -1
        self._detail_pending = False
        self._status_text = ""
        self._decision_map: tuple[Any, dict[str, Any]] = (None, {})  # (analysis, image -> decision)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text, escaped: most name an image or a file (`markup` is
        kept for the signature and ignored)."""
        super().notify(escape_control(message), title=escape_control(title), severity=severity, timeout=timeout, markup=False)

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield PolicyEditor(self.initial_text, id="editor")
            with Vertical(id="side"):
                yield RuleOutline(id="outline")
                yield DiagnosticsList(id="problems")
        with Horizontal(id="bottom"):
            yield ImageTable(id="images")
            yield DetailPane(id="detail")
        with Horizontal(id="status"):
            yield Label("", id="status-text")
            # The progress bar (four widgets) is mounted by the first verification: not before
            # the first frame.
        yield Footer()

    def on_mount(self) -> None:
        retitle(self.query_one("#editor", PolicyEditor), self._title())
        self.query_one("#outline", RuleOutline).border_title = "rules"
        self.query_one("#problems", DiagnosticsList).border_title = "problems"
        retitle(self.query_one("#images", ImageTable), "images")
        self.query_one("#detail", DetailPane).border_title = "detail"
        self.query_one("#editor").focus()
        if len(self.items) <= INLINE_ANALYSIS_IMAGES:
            try:
                self.apply_analysis(analyze(self.editor.text, self.images, self.policy_path))
                return
            except Exception:  # never keep the dashboard from opening: the worker reports it
                pass
        self.validate(delay=0.0)

    # -- state ---------------------------------------------------------------------------

    @property
    def editor(self) -> PolicyEditor:
        return self.query_one("#editor", PolicyEditor)

    @property
    def table(self) -> ImageTable:
        return self.query_one("#images", ImageTable)

    @property
    def dirty(self) -> bool:
        return self.editor.text != self.saved_text

    @property
    def images(self) -> list[str]:
        return [item.image for item in self.items]

    def _add_item(self, item: ImageItem) -> bool:
        if item.image in self._item_names:
            return False
        self.items.append(item)
        self._item_names.add(item.image)
        return True

    def _set_items(self, items: list[ImageItem]) -> None:
        self.items = []
        self._item_names = set()
        for item in items:
            self._add_item(item)

    def _title(self) -> str:
        name = Path(self.policy_path).name
        return f"{name}{' [+]' if self.text_dirty_safe() else ''}{' (sample)' if self.sample else ''}"

    def text_dirty_safe(self) -> bool:
        try:
            return self.dirty
        except Exception:  # before the editor is mounted
            return False

    # -- validation ----------------------------------------------------------------------

    @on(TextArea.Changed, "#editor")
    def _on_edit(self, event: TextArea.Changed) -> None:
        retitle(self.editor, self._title())
        self.validate()

    def validate(self, delay: float | None = None) -> None:
        """Re-analyse the editor text after `delay` (the debounce), replacing any pending run."""
        text = self.editor.text
        images = self.images
        # A callable, not a coroutine: a worker the next keystroke cancels before it starts
        # then leaves no coroutine that was never awaited.
        self.run_worker(
            partial(self._validate, text, images, self.validate_delay if delay is None else delay),
            group="validate",
            exclusive=True,
            exit_on_error=False,
            name="validate",
        )

    async def _validate(self, text: str, images: list[str], delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)  # debounce: the next keystroke cancels this worker
        started = time.perf_counter()
        self.analysis_started = (started, time.process_time())
        if len(images) <= INLINE_ANALYSIS_IMAGES:
            analysis = analyze(text, images, self.policy_path)
        else:
            analysis = await asyncio.to_thread(analyze, text, images, self.policy_path)
        if text != self.editor.text or images != self.images:
            return  # superseded while it ran; the newer worker will apply its own
        self.apply_analysis(analysis)
        self.last_apply_seconds = time.perf_counter() - started

    def apply_analysis(self, analysis) -> None:
        with self.batch_update():  # one frame for editor, lists, table and status
            self._apply_analysis(analysis)

    def _apply_analysis(self, analysis) -> None:
        self.analysis = analysis
        if not analysis.stale and analysis.loaded.policy is not None:
            self.policy = analysis.loaded.policy
        diagnostics = list(analysis.diagnostics)
        self.editor.set_diagnostics(diagnostics)
        self.query_one("#problems", DiagnosticsList).set_diagnostics(diagnostics)
        outline = self.query_one("#outline", RuleOutline)
        outline.set_items(list(analysis.outline or []))
        outline.follow(self.editor.cursor_location[0] + 1)
        self._sync_table()
        if self.analyses == 0:
            self._show_detail()  # part of the first frame
        else:
            self._show_detail_soon()
        self._update_status()
        self.analyses += 1
        if self.analyses == 1:
            self.first_frame_rows = self.table.row_count
            if self.exit_after_first_frame:
                self.call_after_refresh(self.exit)

    def _decisions(self) -> dict[str, Any]:
        """image -> Decision of the current analysis (built once per analysis, not per call)."""
        analysis = self.analysis
        if analysis is None or analysis.decisions is None:
            return {}
        if self._decision_map[0] is not analysis:
            self._decision_map = (analysis, {decision.image: decision for decision in analysis.decisions})
        return self._decision_map[1]

    def _row(self, item: ImageItem, decision) -> Row:
        if decision is None:
            return Row(item.image, "", "", "", "", item.node_label or "")
        action = decision.action
        outcome = "error" if action is None else SIMULATED_OUTCOME.get(action, action)
        image = item.image
        if self.results or self._verifying:  # none while only simulating: the common case
            result = self.results.get(image)
            if image in self._verifying and action == "verify":
                outcome = "verifying"
            elif result is not None and decision_key(result.decision) == decision_key(decision):
                outcome = result.outcome
        return Row(image, decision.match_subject or "", decision.rule_id or "-", action or "-", outcome, item.node_label or "")

    def _rows(self, decisions: dict[str, Any]) -> list[Row]:
        """Every item's row; inlined for the usual case (2,000 rows per analysis while typing)."""
        if self.results or self._verifying:
            return [self._row(item, decisions.get(item.image)) for item in self.items]
        make, outcomes, rows = tuple.__new__, SIMULATED_OUTCOME, []
        for item in self.items:
            decision = decisions.get(item.image)
            if decision is None:
                rows.append(self._row(item, None))
                continue
            action = decision.action
            outcome = "error" if action is None else outcomes.get(action, action)
            rows.append(make(Row, (item.image, decision.match_subject or "", decision.rule_id or "-", action or "-", outcome, item.node_label or "")))
        return rows

    def _sync_table(self) -> int:
        decisions = self._decisions()
        table = self.table
        analysis = self.analysis
        if analysis is not None and analysis.decisions is None and table.row_count and self.items:
            retitle(table, "no usable policy: showing the last result", "border_subtitle")
            if [item.image for item in self.items] == table.images:
                return 0
        elif analysis is not None and analysis.stale:
            retitle(table, "YAML does not parse: last good policy", "border_subtitle")
        else:
            retitle(table, "", "border_subtitle")
        changed = table.sync(self._rows(decisions))
        if self._select_next is not None and self._select_next in table.rows:
            table.move_cursor(row=table.get_row_index(self._select_next))
            self._select_next = None
        return changed

    def _update_status(self) -> None:
        loaded = self.analysis.loaded if self.analysis else None
        parts = [self.policy_path + (" [+]" if self.dirty else "")]
        if loaded is not None:
            parts.append(loaded.dialect or "unknown dialect")
            parts.append(f"{len(self.analysis.outline or [])} rules")
            parts.append(f"{self.analysis.errors} errors, {self.analysis.warnings} warnings")
        parts.append(f"{len(self.items)} images")
        outcome_filter = self.table.outcome_filter
        if outcome_filter:
            parts.append(f"filter: {outcome_filter}")
        text = " · ".join(parts)
        if text != self._status_text:  # Label.update lays the screen out again, even when equal
            self._status_text = text
            self.query_one("#status-text", Label).update(safe_text(text))
        retitle(self.table, f"images ({outcome_filter})" if outcome_filter else "images")

    # -- detail and outline ----------------------------------------------------------------

    def _selected(self) -> str | None:
        return self.table.selected_image()

    def _detail_inputs(self, image: str) -> tuple:
        """(decision, rules tried, verification result shown, node text) for one image."""
        item = next((i for i in self.items if i.image == image), ImageItem(image))
        decision = self._decisions().get(image)
        trials = []
        policy = self.policy
        if policy is not None and hasattr(policy, "explain"):
            trials = policy.explain(image)
        result = self.results.get(image)
        if result is None or decision is None or decision_key(result.decision) != decision_key(decision):
            result = None
        return decision, trials, result, item.node_text()

    def details_for(self, image: str | None, *, fold: bool = False) -> Text:
        if image is None:
            return Text("No image selected. Press a in the table to add one, ctrl+l to load a list.", style="dim")
        decision, trials, result, node = self._detail_inputs(image)
        shown = result.to_json() if result is not None else None
        return detail_text(image, decision, trials, shown, node, fold=fold)

    def _show_detail(self) -> None:
        self._detail_pending = False
        pane = self.query_one("#detail", DetailPane)
        image = self._selected()
        if image is None:
            pane.show(self.details_for(None), None)
            return
        decision, trials, result, node = self._detail_inputs(image)
        # Most edits leave the selected image's explanation as it was: then build nothing.
        key = (image, None if decision is None else repr(decision.to_json()), tuple(trials), result, node, pane.unfolded)
        if key == pane.key:
            return
        shown = result.to_json() if result is not None else None
        pane.show(detail_text(image, decision, trials, shown, node, fold=not pane.unfolded), key)

    def action_toggle_rules(self) -> None:
        """`e`: every rule tried on its own lines in the detail pane, or long runs folded."""
        pane = self.query_one("#detail", DetailPane)
        pane.unfolded = not pane.unfolded
        self._show_detail()

    def _show_detail_soon(self) -> None:
        """Refresh the detail pane after the next frame, so the table shows first.

        The pane lays out every rule tried (400 lines for 200 rules): after an edit that
        changes the selected image's decision that is most of a frame's work.
        """
        if not self._detail_pending:
            self._detail_pending = True
            self.call_after_refresh(self._show_detail_if_pending)

    def _show_detail_if_pending(self) -> None:
        if self._detail_pending:
            self._show_detail()

    @on(ImageTable.RowHighlighted, "#images")
    def _on_row(self, event) -> None:
        self._show_detail()

    @on(TextArea.SelectionChanged, "#editor")
    def _on_cursor(self, event) -> None:
        self.query_one("#outline", RuleOutline).follow(self.editor.cursor_location[0] + 1)

    @on(OptionList.OptionSelected, "#problems")
    def _on_problem(self, event: OptionList.OptionSelected) -> None:
        self.jump_to_diagnostic(event.option_index)

    @on(OptionList.OptionSelected, "#outline")
    def _on_rule(self, event: OptionList.OptionSelected) -> None:
        items = self.query_one("#outline", RuleOutline).items
        if 0 <= event.option_index < len(items) and items[event.option_index].line:
            self._jump(items[event.option_index].line, 1)

    def jump_to_diagnostic(self, index: int) -> None:
        diagnostics = self.query_one("#problems", DiagnosticsList).diagnostics
        if not 0 <= index < len(diagnostics):
            return
        self._problem_index = index
        diagnostic = diagnostics[index]
        if diagnostic.line is not None:
            self._jump(diagnostic.line, diagnostic.column or 1)

    def _jump(self, line: int, column: int) -> None:
        editor = self.editor
        row = max(0, min(line - 1, editor.document.line_count - 1))
        col = max(0, min(column - 1, len(editor.document.get_line(row))))
        editor.move_cursor((row, col), center=True)
        editor.focus()

    def action_next_problem(self) -> None:
        diagnostics = self.query_one("#problems", DiagnosticsList).diagnostics
        if not diagnostics:
            self.notify("no problems")
            return
        self.jump_to_diagnostic((self._problem_index + 1) % len(diagnostics))

    def action_show_details(self) -> None:
        image = self._selected()
        if image is None:
            self.notify("no image selected", severity="warning")
            return
        self.push_screen(TextModal(f"details: {image}", self.details_for(image).plain))

    # -- images ----------------------------------------------------------------------------

    def action_add_image(self) -> None:
        def added(value: str | None) -> None:
            if value and self._add_item(ImageItem(value)):
                self._select_next = value
                self._images_changed()
            elif value:
                self.notify(f"{value} is already in the table")

        self.push_screen(
            PromptScreen("Add image", placeholder="ghcr.io/org/app:v1 or …@sha256:…", hint="enter adds · escape cancels"),
            added,
        )

    def action_remove_image(self) -> None:
        image = self._selected()
        if image is None:
            return
        self._set_items([item for item in self.items if item.image != image])
        self.results.pop(image, None)
        self._images_changed()

    def action_load_images(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.load_images(path)

        self.push_screen(
            PromptScreen(
                "Load images from",
                placeholder="images.txt, pods.json, deploy.yaml, talosctl-image-ls.txt",
                hint="any SPEC §6 format, detected by content · replaces the current list",
            ),
            chosen,
        )

    def load_images(self, path: str) -> bool:
        text, problem = read_user_file(path)
        if text is None:
            self.push_screen(error_modal("could not read the image list", problem))
            return False
        try:
            items = parse_images(text, path)
        except ValueError as exc:
            self.push_screen(error_modal("could not read the image list", str(exc)))
            return False
        self._set_items(items)
        self._images_changed()
        self.notify(f"loaded {len(self.items)} images from {path}")
        return True

    def _images_changed(self) -> None:
        # Simulation of the new list is one analysis away; run it now, not after the debounce.
        self.validate(delay=0.0)

    def action_cycle_filter(self) -> None:
        current = FILTERS.index(self.table.outcome_filter) if self.table.outcome_filter in FILTERS else 0
        self.table.set_filter(FILTERS[(current + 1) % len(FILTERS)])
        self._update_status()
        self._show_detail()

    def action_clear_filter(self) -> None:
        self.table.set_filter(None)
        self._update_status()

    # -- verification ------------------------------------------------------------------------

    def action_verify_all(self) -> None:
        self.start_verify(self.images)

    def action_verify_selected(self) -> None:
        image = self._selected()
        if image is None:
            self.notify("no image selected", severity="warning")
            return
        self.start_verify([image])

    def start_verify(self, images: list[str]) -> None:
        if not images:
            self.notify("no images to verify: press a to add one or ctrl+l to load a list", severity="warning")
            return
        if self.analysis is None or self.analysis.loaded.policy is None or self.analysis.errors:
            self.notify("the policy has errors: fix them before verifying", severity="error")
            return
        if self._run is not None:
            self._run.cancel()
        run = _VerifyRun(list(images))
        self._run = run
        decisions = self._decisions()
        self._verifying = {image for image in images if getattr(decisions.get(image), "action", None) == "verify"}
        progress = self._progress_bar()
        progress.update(total=len(images), progress=0)
        progress.display = True
        self._sync_table()
        self._run_verify(run, self.analysis.loaded)

    def _progress_bar(self):
        from textual.widgets import ProgressBar

        try:
            return self.query_one("#progress", ProgressBar)
        except NoMatches:
            bar = ProgressBar(id="progress", show_eta=False)
            self.query_one("#status").mount(bar)
            return bar

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False, name="verify")
    def _run_verify(self, run: _VerifyRun, loaded) -> None:
        worker = get_current_worker()
        loop = asyncio.new_event_loop()
        run.loop = loop
        error: str | None = None
        try:
            if self.verify_cache is None:
                self.verify_cache = _new_cache()

            def on_result(result) -> None:
                if not run.cancelled and not worker.is_cancelled:
                    self.call_from_thread(self._verify_result, run, result)

            run.task = loop.create_task(
                self.verifier(loaded, run.images, self.verify_options, on_result, self.verify_cache)
            )
            if run.cancelled:  # cancelled before the task existed
                run.task.cancel()
            loop.run_until_complete(run.task)
        except asyncio.CancelledError:
            run.cancelled = True
        except VerifyUnavailable as exc:
            error = str(exc)
        except Exception as exc:  # a bug or an unexpected fault: show it, keep the UI alive
            error = f"{type(exc).__name__}: {exc}"
        finally:
            loop.close()
        self.call_from_thread(self._verify_finished, run, error)

    def _verify_result(self, run: _VerifyRun, result) -> None:
        if run is not self._run or run.cancelled:
            return
        image = result.decision.image
        self.results[image] = result
        self._verifying.discard(image)
        run.done += 1
        self._progress_bar().update(progress=run.done)
        decisions = self._decisions()
        item = next((i for i in self.items if i.image == image), None)
        if item is not None and image in decisions:
            self.table.update_row(self._row(item, decisions[image]))  # one row, not all 2,000
        if self._selected() == image:
            self._show_detail()

    def _verify_finished(self, run: _VerifyRun, error: str | None) -> None:
        if run is not self._run:
            return
        self._run = None
        self._verifying = set()
        self._progress_bar().display = False
        self._sync_table()
        self._show_detail()
        if error:
            self.push_screen(error_modal("verification did not run", error))
        elif run.cancelled:
            self.notify(f"verification cancelled after {run.done} of {len(run.images)} images")
        else:
            counts: dict[str, int] = {}
            for image in run.images:
                result = self.results.get(image)
                if result is not None:
                    counts[result.outcome] = counts.get(result.outcome, 0) + 1
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            self.notify(f"verification done: {summary or 'nothing to report'}")

    @property
    def verifying(self) -> bool:
        return self._run is not None

    def action_cancel_verify(self) -> None:
        if self._run is not None:
            self._run.cancel()
            for worker in self.workers:
                if worker.group == "verify":
                    worker.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # escape belongs to the focused widget (the editor leaves on it, modals close on it)
        # unless a verification runs and the main screen is showing.
        if action == "cancel_verify":
            return self._run is not None and len(self.screen_stack) == 1
        return True

    # -- compare with the saved version -------------------------------------------------------

    def action_compare_saved(self) -> None:
        """`pullguard diff SAVED EDITED` over the loaded images, in a modal (ctrl+r)."""
        from .widgets.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        if not self.items:
            self.notify("no images to compare over: press a to add one or ctrl+l to load a list", severity="warning")
            return
        self._compare(self.policy_path, self.editor.text, self.images)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False, name="compare")
    def _compare(self, path: str, text: str, images: list[str]) -> None:
        # load_policy rather than the analysis cache: the cache belongs to the event loop.
        from pullguard.engine.policy import load_policy
        from pullguard.engine.policydiff import diff_policies

        from .widgets.compare import CompareScreen

        saved, problem = read_user_file(path)
        if saved is None:
            self.call_from_thread(self.push_screen, error_modal("could not read the saved policy", problem))
            return
        old = load_policy(saved, path)
        new = load_policy(text, path)
        if new.errors or new.policy is None:
            self.call_from_thread(self.notify, "the edited policy has errors: fix them before comparing", severity="error")
            return
        if old.errors or old.policy is None:
            self.call_from_thread(
                self.notify, f"the saved policy {path} has errors: comparing needs two valid policies", severity="error"
            )
            return
        cross = old.dialect != new.dialect
        result = diff_policies(old.policy, new.policy, images, cross_dialect=cross)
        screen = CompareScreen(path, result, cross, old.dialect or "", new.dialect or "")
        self.call_from_thread(self.push_screen, screen)

    # -- files -------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.sample:
            self._save_as()
            return
        self.save(self.policy_path)

    def _save_as(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                if self.save(path):
                    self.policy_path = path
                    self.sample = False
                    retitle(self.editor, self._title())
                    self._update_status()

        self.push_screen(
            PromptScreen(
                "Save the sample policy as",
                value=Path(self.policy_path).name,
                hint="the bundled sample itself is never overwritten",
            ),
            chosen,
        )

    def save(self, path: str) -> bool:
        text = self.editor.text
        try:
            write_atomic(path, text)
        except OSError as exc:
            self.push_screen(error_modal("could not save", f"{path}: {exc.strerror or exc}"))
            return False
        self.saved_text = text
        retitle(self.editor, self._title())
        self._update_status()
        self.notify(f"saved {path}")
        return True

    def action_open_policy(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.open_policy(path)

        def confirmed(discard: bool | None) -> None:
            if discard:
                self.push_screen(PromptScreen("Open policy", placeholder="policy.yaml"), chosen)

        if self.dirty:
            self.push_screen(ConfirmScreen("Discard unsaved edits and open another policy?", yes="Discard"), confirmed)
        else:
            confirmed(True)

    def open_policy(self, path: str) -> bool:
        text, problem = read_user_file(path)
        if text is None:
            self.push_screen(error_modal("could not open the policy", problem))
            return False
        self.policy_path = path
        self.sample = False
        self.saved_text = text
        self.editor.load_text(text)
        retitle(self.editor, self._title())
        self.validate(delay=0.0)
        return True

    async def action_quit(self) -> None:
        if not self.dirty:
            self.exit()
            return

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        self.push_screen(ConfirmScreen("The policy has unsaved edits. Quit without saving?", yes="Quit"), answered)

    # -- help --------------------------------------------------------------------------------

    def help_rows(self) -> list[tuple[str, str, str]]:
        rows: list[tuple[str, str, str]] = []
        for binding in self.BINDINGS:
            rows.append((binding.key, binding.tooltip or binding.description, "anywhere"))
        rows.append(("ctrl+p", "Command palette: every action by name", "anywhere"))
        for binding in ImageTable.BINDINGS:
            rows.append((binding.key, binding.tooltip or binding.description, "image table"))
        for binding in DetailPane.BINDINGS:
            rows.append((binding.key, binding.tooltip or binding.description, "detail pane"))
        rows.append(("up/down", "Select an image (the detail pane follows)", "image table"))
        rows.append(("enter", "Jump to the diagnostic in the editor", "problems / rules"))
        rows.append(("tab", "Indent", "editor"))
        rows.append(("escape", "Leave the editor (focus moves on)", "editor"))
        rows.append(("ctrl+z / ctrl+y", "Undo / redo", "editor"))
        rows.append(("tab / shift+tab", "Move between panes (outside the editor)", "panes"))
        return rows

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_rows()))


def parse_images(text: str, origin: str) -> list[ImageItem]:
    """Any SPEC §6 list format, detected by content (pullguard.engine.images); raises ValueError."""
    from pullguard.engine.images import parse_image_list

    entries = parse_image_list(text, origin)  # ImageListError is a ValueError with origin:line:col
    return [
        ImageItem(entry.image, node_label_of(entry), getattr(entry, "node", None), getattr(entry, "node_message", None))
        for entry in entries
    ]
