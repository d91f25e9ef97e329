"""The pullguard dashboard: one screen, keyboard first (SPEC §7).

The editor text IS the policy file: saving writes exactly what is on screen, so comments, key
order and quoting survive by construction. The app wires widgets, keys and workers together:
what it works on is the `Session` (tui/session.py), the long work is in `tui/workers/` (an
exclusive debounced "validate" worker, a "verify" thread worker with its own event loop, a
"compare" thread), each reporting back as messages handled here, so neither ever blocks the UI
and typing never cancels a verification. Nothing on the first-frame import path loads
sigstore, httpx or cryptography.x509.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Label, OptionList, TextArea
from textual.worker import get_current_worker

from pullguard.engine.analysis import analyze
from pullguard.engine.diagnostics import Diagnostic
from pullguard.engine.display import escape_control
from pullguard.engine.textfile import read_text
from pullguard.engine.userfile import expand_home, read_user_file, write_atomic

from . import editing
from .counts import plural, severity_counts
from .imagelist import ImageItem, parse_images
from .palette import PullguardCommands
from .safetext import safe_text
from .session import Session
from .widgets.detail import DetailPane, detail_text
from .widgets.diagnostics import DiagnosticsList
from .widgets.editor import PolicyEditor
from .widgets.findbar import FindBar
from .widgets.images import FILTERS, ImageTable
from .widgets.modals import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen, TextModal, error_modal
from .widgets.outline import RuleOutline
from .widgets.panetabs import PaneTabs
from .widgets.titles import retitle
from .workers.comparison import ComparisonReady, ComparisonRefused, compare_with_saved
from .workers.validation import INLINE_ANALYSIS_IMAGES, AnalysisReady, validate
from .workers.verification import (
    ImageVerified,
    VerificationFinished,
    Verifier,
    VerifyRun,
    engine_verifier,
    new_cache,
    run_verification,
)

EXIT_AFTER_FIRST_FRAME = "PULLGUARD_EXIT_AFTER_FIRST_FRAME"


class PullguardApp(App[None]):
    CSS_PATH = "app.tcss"
    # Zoomed (z), a pane keeps the status bar and the key hints.
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, #status, #find"
    NARROW = 100  # below this many columns the panes are two pages (PaneTabs)
    TITLE = "pullguard"
    COMMANDS = App.COMMANDS | {PullguardCommands}

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="app.save", tooltip="Save the policy (atomic write)", priority=True),
        # Not in the key hints (the help screen and the palette list them): f5 and f1 must fit at 80.
        Binding("ctrl+o", "open_policy", "Open", id="app.open", tooltip="Open another policy file", priority=True, show=False),
        Binding(
            "ctrl+l", "load_images", "Load images", id="app.load",
            tooltip="Load an image list (text, kubectl JSON, manifests, talosctl image ls)", priority=True, show=False,
        ),
        Binding("f5", "verify_all", "Verify all", id="app.verify_all", tooltip="Verify every image against its registry"),
        # priority: the editor would take escape first; check_action lets it through when idle.
        Binding("escape", "cancel_verify", "Cancel", id="app.cancel", tooltip="Cancel the running verification", priority=True),
        Binding("f1", "help", "Help", id="app.help", tooltip="Every key the dashboard answers to"),
        Binding(
            "z", "zoom", "Zoom", id="app.zoom",
            tooltip="Zoom the focused pane to the whole screen, or back (not in the editor)", show=False,
        ),
        Binding("f2", "focus('editor')", "Editor", id="app.focus_editor", tooltip="Focus the policy editor", show=False),
        Binding("f3", "focus('images')", "Images", id="app.focus_images", tooltip="Focus the image table", show=False),
        Binding("f4", "focus('problems')", "Problems", id="app.focus_problems", tooltip="Focus the diagnostics list", show=False),
        Binding(
            "ctrl+r", "compare_saved", "Compare", id="app.compare",
            tooltip="Compare with the saved version: what the edits change per image", show=False,
        ),
        Binding("f8", "next_problem", "Next problem", id="app.next_problem", tooltip="Jump to the next diagnostic", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit; asks when there are unsaved edits", priority=True),
        Binding(
            "ctrl+full_stop,alt+enter,alt+q", "apply_fix", "Fix", id="app.apply_fix", key_display="^./M-q",
            # ctrl+. and alt+enter reach the app only from terminals with the kitty keyboard protocol
            # (kitty, WezTerm, foot, Ghostty); alt+q works in every terminal, tmux and SSH included.
            # priority: the editor would type the 'q' of alt+q; check_action lets it through in dialogs.
            tooltip="Apply the fix of the diagnostic at the cursor (or the one selected in the problems list)", priority=True,
        ),
        Binding("alt+up", "move_rule(-1)", "Rule up", id="app.rule_up", tooltip="Move the rule up (outline or editor)", show=False),
        Binding("alt+down", "move_rule(1)", "Rule down", id="app.rule_down", tooltip="Move the rule down (outline or editor)", show=False),
        Binding(
            "ctrl+e", "explain_error", "Explain", id="app.explain", show=False,
            tooltip="Explain a pasted pull error (kubelet, containerd, Talos, Kyverno); its image is added and selected",
        ),
        Binding("ctrl+t", "choose_trusted_root", "Trusted root", id="app.trusted_root", show=False,
                tooltip="Choose the Sigstore trusted root to verify against (trusted_root.json or talosctl tuftrustedroots)"),
    ]

    def __init__(
        self,
        policy_path: str,
        text: str | None = None,
        images: list[ImageItem] | None = None,
        verify_options: dict[str, Any] | None = None,
        *,
        sample: bool = False,
        verifier: Verifier | None = None,
        validate_delay: float = 0.15,
        exit_after_first_frame: bool | None = None,
        new_file: bool = False,
    ) -> None:
        super().__init__()
        if text is None:
            text = read_text(policy_path)
        self.initial_text = text  # what the editor starts with
        self.session = Session(policy_path, text, list(images or []), dict(verify_options or {}), sample=sample)
        self.verifier = verifier or engine_verifier
        self.validate_delay = validate_delay
        if exit_after_first_frame is None:
            exit_after_first_frame = bool(os.environ.get(EXIT_AFTER_FIRST_FRAME))
        self.exit_after_first_frame = exit_after_first_frame
        self.analyses = 0  # how many analyses reached the screen (tests, bench)
        self.first_frame_rows: int | None = None
        self.last_apply_seconds = 0.0
        # (wall, process CPU) when the last analysis started, after the debounce (bench).
        self.analysis_started = (0.0, 0.0)
        self._select_next: str | None = None  # an image to select once its row exists
        self._run: VerifyRun | None = None
        self._problem_index = -1
        self._detail_pending = False
        self._status_text = ""
        self.new_file = new_file  # POLICY does not exist yet: offer a starter, write nothing until saved
        self.hand_added: set[str] = set()  # images added with a or ctrl+e (Load asks before dropping them)

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
        yield PaneTabs(id="pages")
        with Horizontal(id="top"):
            yield PolicyEditor(self.initial_text, id="editor")
            with Vertical(id="side"):
                yield RuleOutline(id="outline")
                yield DiagnosticsList(id="problems")
        with Horizontal(id="bottom"):
            yield ImageTable(id="images")
            yield DetailPane(id="detail")
        yield FindBar(id="find")
        with Horizontal(id="status"):
            yield Label("", id="status-text")
            # The progress bar (four widgets) is mounted by the first verification: not before
            # the first frame.
        yield Footer(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < self.NARROW, "-narrow")
        self.table.set_image_first(event.size.width < self.NARROW)

    @on(events.DescendantFocus)
    def _on_focus_moved(self, event: events.DescendantFocus) -> None:
        """Below 100 columns, show the page that holds the focused pane."""
        widget = event.widget
        for page, container in (("policy", "#top"), ("images", "#bottom")):
            if any(node.id == container.lstrip("#") for node in widget.ancestors_with_self):
                self._show_page(page)

    def _show_page(self, page: str) -> None:
        self.set_class(page == "images", "-page-images")
        self.query_one("#pages", PaneTabs).show_page(page)

    def action_show_page(self, page: str) -> None:
        self.set_focus(self.table if page == "images" else self.editor)

    def action_zoom(self) -> None:
        """`z`: the focused pane fills the screen (its border, the status bar and the key hints
        stay), or goes back."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif screen.focused is not None:
            screen.maximize(screen.focused)

    def on_mount(self) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")
        self.table.set_image_first(self.size.width < self.NARROW)
        retitle(self.editor, self._title())
        self.query_one("#outline", RuleOutline).border_title = "rules"
        self.query_one("#problems", DiagnosticsList).border_title = "problems"
        retitle(self.table, "images")
        self.query_one("#detail", DetailPane).border_title = "detail"
        self.editor.focus()
        if self.new_file:
            self.call_after_refresh(self._offer_starter)
        session = self.session
        if len(session.items) <= INLINE_ANALYSIS_IMAGES:
            try:
                self.apply_analysis(analyze(self.editor.text, session.images, session.policy_path))
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
        """The editor holds edits that are not saved."""
        return self.editor.text != self.session.saved_text

    @property
    def verifying(self) -> bool:
        return self._run is not None

    def _title(self) -> str:
        name = Path(self.session.policy_path).name
        return f"{name}{' [+]' if self._dirty_safe() else ''}{' (sample)' if self.session.sample else ''}"

    def _dirty_safe(self) -> bool:
        try:
            return self.dirty
        except NoMatches:  # before the editor is mounted
            return False

    # -- validation ----------------------------------------------------------------------

    @on(TextArea.Changed, "#editor")
    def _on_edit(self, event: TextArea.Changed) -> None:
        retitle(self.editor, self._title())
        self.validate()

    def validate(self, delay: float | None = None) -> None:
        """Re-analyse the editor text after `delay` (the debounce), replacing any pending run."""
        self._validate(self.editor.text, self.session.images, self.validate_delay if delay is None else delay)

    # @work hands run_worker a callable, not a coroutine: a worker the next keystroke cancels
    # before it starts then leaves no coroutine that was never awaited.
    @work(exclusive=True, group="validate", exit_on_error=False, name="validate")
    async def _validate(self, text: str, images: list[str], delay: float) -> None:
        self.post_message(await validate(text, images, self.session.policy_path, delay))

    def on_analysis_ready(self, message: AnalysisReady) -> None:
        if message.text != self.editor.text or message.images != self.session.images:
            return  # superseded while it ran; the newer worker will apply its own
        self.analysis_started = (message.started, message.started_cpu)
        self.apply_analysis(message.analysis)
        self.last_apply_seconds = time.perf_counter() - message.started

    def apply_analysis(self, analysis: Any) -> None:
        with self.batch_update():  # one frame for editor, lists, table and status
            self._apply_analysis(analysis)

    def _apply_analysis(self, analysis: Any) -> None:
        self.session.apply(analysis)
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

    def _sync_table(self) -> int:
        session, table = self.session, self.table
        analysis = session.analysis
        if analysis is not None and analysis.decisions is None and table.row_count and session.items:
            retitle(table, "no usable policy: showing the last result", "border_subtitle")
            if session.images == table.images:
                return 0
        elif analysis is not None and analysis.stale:
            retitle(table, "YAML does not parse: last good policy", "border_subtitle")
        else:
            retitle(table, "", "border_subtitle")
        changed = table.sync(session.rows())
        if self._select_next is not None and table.select(self._select_next):
            self._select_next = None
        return changed

    def _update_status(self) -> None:
        """The status bar: the problem counts first (they must show at 80 columns), the path last."""
        session = self.session
        analysis = session.analysis
        parts = []
        if analysis is not None:
            parts.append(severity_counts(d.severity for d in analysis.diagnostics))
            parts.append(analysis.loaded.dialect or "unknown dialect")
            parts.append(plural(len(analysis.outline or []), "rule"))
        table = self.table
        shown = f"{table.row_count} of {len(session.items)}" if table.row_count != len(session.items) else str(len(session.items))
        parts.append(f"{shown} images")
        filters = self._filter_words()
        if filters:
            parts.append(f"filter: {filters}")
        parts.append(session.policy_path + (" [+]" if self.dirty else ""))
        text = " · ".join(parts)
        if text != self._status_text:  # Label.update lays the screen out again, even when equal
            self._status_text = text
            self.query_one("#status-text", Label).update(safe_text(text))
        retitle(table, f"images ({filters})" if filters else "images")

    def _filter_words(self) -> str:
        table = self.table
        words = [table.outcome_filter] if table.outcome_filter else []
        if table.text_filter:
            words.append(f"/{table.text_filter}")
        return " ".join(words)

    # -- detail and outline ----------------------------------------------------------------

    def _selected(self) -> str | None:
        return self.table.selected_image()

    def details_for(self, image: str | None, *, fold: bool = False) -> Text:
        if image is None:
            if self.session.items:  # every image is filtered out
                filters = self._filter_words()
                return Text(f"No image matches the filter ({filters}): f cycles the outcomes, / changes the text.", style="dim")
            return Text("No images yet. Press a in the table to add one, ctrl+l to load a list.", style="dim")
        decision, trials, result, node = self.session.detail_inputs(image)
        shown = result.to_json() if result is not None else None
        return detail_text(image, decision, trials, shown, node, fold=fold)

    def _show_detail(self) -> None:
        self._detail_pending = False
        pane = self.query_one("#detail", DetailPane)
        image = self._selected()
        if image is None:
            pane.show(self.details_for(None), None)
            return
        decision, trials, result, node = self.session.detail_inputs(image)
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
    def _on_row(self, event: ImageTable.RowHighlighted) -> None:
        self._show_detail()

    @on(TextArea.SelectionChanged, "#editor")
    def _on_cursor(self, event: TextArea.SelectionChanged) -> None:
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
            if value:
                self.add_image(value)

        self.push_screen(
            PromptScreen(
                "Add image", placeholder="ghcr.io/org/app:v1 or …@sha256:…", hint="enter adds · escape cancels",
                check=editing.reference_problem,
            ),
            added,
        )

    def add_image(self, image: str) -> None:
        """Add `image` by hand (a, ctrl+e) and select it; Load asks before replacing these."""
        if self.session.add_item(ImageItem(image)):
            self.hand_added.add(image)
            self._select_next = image
            self._images_changed()
        else:
            self._select_next = image
            self._sync_table()
            self.notify(f"{image} is already in the table")

    def action_remove_image(self) -> None:
        image = self._selected()
        if image is None:
            return
        self.session.remove(image)
        self._images_changed()

    def action_load_images(self) -> None:
        def chosen(path: str | None) -> None:
            if not path:
                return
            kept = [image for image in self.hand_added if self.session.has(image)]
            if not kept:
                self.load_images(path)
                return

            def answered(replace: bool | str | None) -> None:
                if replace:
                    self.load_images(path)

            self.push_screen(
                ConfirmScreen(f"Replace the list? {len(kept)} image(s) added by hand ({kept[0]}…) will be gone.",
                              yes="Replace"),
                answered,
            )

        self.push_screen(
            PromptScreen(
                "Load images from",
                placeholder="images.txt, pods.json, deploy.yaml, talosctl-image-ls.txt",
                hint=editing.IMAGE_LIST_FORMATS + " · tab completes the path · replaces the current list",
                paths=True,
            ),
            chosen,
        )

    def load_images(self, path: str) -> bool:
        text, problem = read_user_file(path)
        if text is None:
            self.push_screen(error_modal("could not read the image list", problem or path))
            return False
        try:
            items = parse_images(text, path)
        except ValueError as exc:
            self.push_screen(error_modal("could not read the image list", str(exc)))
            return False
        self.session.set_items(items)
        self.hand_added.clear()
        self._images_changed()
        self.notify(f"loaded {len(self.session.items)} images from {path}")
        return True

    def _images_changed(self) -> None:
        # Simulation of the new list is one analysis away; run it now, not after the debounce.
        self.validate(delay=0.0)

    def action_cycle_filter(self) -> None:
        """`f`: the next outcome that some image has (then every image again)."""
        table = self.table
        present = table.outcomes_present()
        choices = [outcome for outcome in FILTERS if outcome is None or outcome in present]
        current = choices.index(table.outcome_filter) if table.outcome_filter in choices else 0
        table.set_filter(choices[(current + 1) % len(choices)])
        self._update_status()
        self._show_detail()

    def action_find_images(self) -> None:
        """`/`: filter the table by text, as it is typed."""
        find = self.query_one("#find", FindBar)
        find.display = True
        find.focus()

    def action_close_find(self) -> None:
        find = self.query_one("#find", FindBar)
        if not find.value:
            find.display = False
        self.table.focus()

    @on(FindBar.Changed, "#find")
    def _on_find(self, event: FindBar.Changed) -> None:
        self.table.set_text_filter(event.value)
        self._update_status()
        self._show_detail()

    @on(FindBar.Submitted, "#find")
    def _on_find_done(self, event: FindBar.Submitted) -> None:
        self.action_close_find()

    def action_clear_filter(self) -> None:
        self.table.set_filter(None)
        self._update_status()

    # -- verification ------------------------------------------------------------------------

    def action_verify_all(self) -> None:
        self.start_verify(self.session.images)

    def action_verify_selected(self) -> None:
        image = self._selected()
        if image is None:
            self.notify("no image selected", severity="warning")
            return
        self.start_verify([image])

    def start_verify(self, images: list[str]) -> None:
        session = self.session
        if not images:
            self.notify("no images to verify: press a to add one or ctrl+l to load a list", severity="warning")
            return
        if session.analysis is None or not session.verifiable:
            self.notify("the policy has errors: fix them before verifying", severity="error")
            return
        if self._run is not None:
            self._run.cancel()
        run = VerifyRun(list(images))
        self._run = run
        decisions = session.decisions()
        session.verifying = {image for image in images if getattr(decisions.get(image), "action", None) == "verify"}
        progress = self._progress_bar()
        progress.update(total=len(images), progress=0)
        progress.display = True
        self._sync_table()
        self._run_verify(run, session.analysis.loaded)

    def _progress_bar(self) -> Any:
        from textual.widgets import ProgressBar

        try:
            return self.query_one("#progress", ProgressBar)
        except NoMatches:
            bar = ProgressBar(id="progress", show_eta=False)
            self.query_one("#status").mount(bar)
            return bar

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False, name="verify")
    def _run_verify(self, run: VerifyRun, loaded: Any) -> None:
        worker = get_current_worker()
        session = self.session
        if session.verify_cache is None:  # made here: it imports the verification stack
            session.verify_cache = new_cache()
        run_verification(
            run, loaded, session.verify_options, self.verifier, session.verify_cache, self, lambda: not worker.is_cancelled
        )

    def on_image_verified(self, message: ImageVerified) -> None:
        run, result = message.run, message.result
        if run is not self._run or run.cancelled:
            return
        session = self.session
        image = result.decision.image
        session.results[image] = result
        session.verifying.discard(image)
        run.done += 1
        self._progress_bar().update(progress=run.done)
        decision = session.decisions().get(image)
        if decision is not None and session.has(image):
            self.table.update_row(session.row(session.item(image), decision))  # one row, not all 2,000
        if self._selected() == image:
            self._show_detail()

    def on_verification_finished(self, message: VerificationFinished) -> None:
        run, error = message.run, message.error
        if run is not self._run:
            return
        self._run = None
        self.session.verifying = set()
        self._progress_bar().display = False
        self._sync_table()
        self._show_detail()
        if error:
            self.push_screen(error_modal("verification did not run", error))
        elif run.cancelled:
            self.notify(f"verification cancelled after {run.done} of {len(run.images)} images")
        else:
            counts = self.session.outcome_counts(run.images)
            summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            self.notify(f"verification done: {summary or 'nothing to report'}")

    def action_cancel_verify(self) -> None:
        if self._run is not None:
            self._run.cancel()
            for worker in self.workers:
                if worker.group == "verify":
                    worker.cancel()

    def action_command_palette(self) -> None:
        # A dialog that a priority key (ctrl+o, ctrl+l, ...) opened over the palette hides it from
        # Textual, which would then push a second palette with the same id: a crash on ctrl+p.
        if any(isinstance(screen, CommandPalette) for screen in self.screen_stack):
            return
        super().action_command_palette()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # escape belongs to the focused widget (the editor leaves on it, modals close on it)
        # unless a verification runs and the main screen is showing.
        if action == "cancel_verify":
            return self._run is not None and len(self.screen_stack) == 1
        if action == "apply_fix":
            return len(self.screen_stack) == 1
        return True

    # -- compare with the saved version -------------------------------------------------------

    def action_compare_saved(self) -> None:
        """`pullguard diff SAVED EDITED` over the loaded images, in a modal (ctrl+r)."""
        from .widgets.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            return
        if not self.session.items:
            self.notify("no images to compare over: press a to add one or ctrl+l to load a list", severity="warning")
            return
        self._compare(self.session.policy_path, self.editor.text, self.session.images)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False, name="compare")
    def _compare(self, path: str, text: str, images: list[str]) -> None:
        self.post_message(compare_with_saved(path, text, images))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        from .widgets.compare import CompareScreen

        if not isinstance(self.screen, CompareScreen):
            self.push_screen(CompareScreen(message.path, message.result, message.cross, message.old_dialect, message.new_dialect))

    def on_comparison_refused(self, message: ComparisonRefused) -> None:
        if message.unreadable:
            self.push_screen(error_modal("could not read the saved policy", message.message))
        else:
            self.notify(message.message, severity="error")

    # -- files -------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.session.sample:
            self._save_as()
            return
        self.save(self.session.policy_path)

    def _save_as(self, then: Any = None) -> None:
        def saved_as(path: str) -> None:
            if self.save(path):
                self.session.policy_path = path
                self.session.sample = False
                retitle(self.editor, self._title())
                self._update_status()
                if then is not None:
                    then()

        def chosen(path: str | None) -> None:
            if not path:
                return
            path = str(expand_home(path))  # typed as in a shell: `~/mine.yaml`
            old_dir, new_dir = os.path.dirname(os.path.abspath(self.session.policy_path)), os.path.dirname(os.path.abspath(path))
            relative = editing.relative_oci_paths(self.editor.text)
            if not relative or old_dir == new_dir:
                saved_as(path)
                return

            def answered(choice: str | None) -> None:
                if choice == "rewrite":
                    editing.replace_text(self.editor, editing.relocate_oci_paths(self.editor.text, old_dir, new_dir))
                if choice is not None:
                    saved_as(path)

            self.push_screen(
                ChoiceScreen(
                    f"The policy names oci:{relative[0]}, read relative to the policy file: from {new_dir} it "
                    "no longer resolves. Rewrite the relative oci: paths for the new folder?",
                    [("rewrite", "Rewrite them"), ("keep", "Keep as written")],
                    hint="escape cancels the save",
                ),
                answered,
            )

        self.push_screen(
            PromptScreen(
                "Save the sample policy as",
                value=Path(self.session.policy_path).name,
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
        self.session.saved_text = text
        retitle(self.editor, self._title())
        self._update_status()
        problems = editing.problem_counts(text, path)
        self.notify(f"saved {path}" + (f" ({problems})" if problems else ""), severity="warning" if problems else "information")
        return True

    def action_open_policy(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.open_policy(path)

        def confirmed(discard: bool | str | None) -> None:
            if discard:
                self.push_screen(PromptScreen("Open policy", placeholder="policy.yaml", hint="tab completes the path", paths=True), chosen)

        if self.dirty:
            self.push_screen(ConfirmScreen("Discard unsaved edits and open another policy?", yes="Discard"), confirmed)
        else:
            confirmed(True)

    def action_open_sample(self, dialect: str) -> None:
        """A bundled sample policy, verified against the samples' own trusted root and registry
        (so f5 works offline); saving it asks for a new name, as for the first sample."""
        from pullguard.engine import samples

        def confirmed(discard: bool | str | None) -> None:
            if discard and self.open_policy(str(samples.sample_policy_path(dialect))):
                self.session.sample = True
                # The sample policies name the bundled registry themselves (mirrors with skipFallback).
                self.session.verify_options["trusted_root"] = str(samples.sample_trusted_root())
                if not self.session.items:
                    self.load_images(str(samples.sample_images_path("plain")))

        if self.dirty:
            self.push_screen(ConfirmScreen("Discard unsaved edits and open the sample?", yes="Discard"), confirmed)
        else:
            confirmed(True)

    def open_policy(self, path: str) -> bool:
        text, problem = read_user_file(path)
        if text is None:
            self.push_screen(error_modal("could not open the policy", problem or path))
            return False
        session = self.session
        session.policy_path = path
        session.sample = False
        session.saved_text = text
        self.editor.load_text(text)
        retitle(self.editor, self._title())
        self.validate(delay=0.0)
        return True

    async def action_quit(self) -> None:
        if not self.dirty:
            self.exit()
            return

        def answered(quit_anyway: bool | str | None) -> None:
            if quit_anyway == "save":
                if self.session.sample:
                    self._save_as(then=self.exit)
                elif self.save(self.session.policy_path):
                    self.exit()
            elif quit_anyway:
                self.exit()

        self.push_screen(
            ConfirmScreen("The policy has unsaved edits. Quit without saving?", yes="Quit", other=("Save and quit", "s", "save")),
            answered,
        )

    # -- editing: quick fixes, moving rules, explaining a pull error, the trusted root ---------

    def _offer_starter(self) -> None:
        from .commands.edit import STARTERS

        name = Path(self.session.policy_path).name
        first = "kyverno" if "kyv" in name.lower() else "talos"
        choices = sorted([("talos", "Talos ImageVerificationConfig"), ("kyverno", "Kyverno ClusterPolicy")],
                         key=lambda choice: choice[0] != first)

        def chosen(dialect: str | None) -> None:
            if dialect in STARTERS:
                editing.replace_text(self.editor, STARTERS[dialect])
                self.editor.move_cursor((0, 0))

        self.push_screen(
            ChoiceScreen(f"{name} does not exist yet. Start from:", choices,
                         hint="nothing is written until you save (ctrl+s) · escape starts empty"),
            chosen,
        )

    def action_apply_fix(self) -> None:
        """ctrl+. / alt+enter: the fix of the diagnostic selected in the problems list (when it
        has focus) or of the one at the editor's cursor."""
        problems = self.query_one("#problems", DiagnosticsList)
        diagnostic: Diagnostic | None
        if problems.has_focus and problems.highlighted is not None and problems.highlighted < len(problems.diagnostics):
            diagnostic = problems.diagnostics[problems.highlighted]
        else:
            row, column = self.editor.cursor_location
            diagnostic = editing.diagnostic_at(self.editor.diagnostics, row + 1, column + 1)
        message = editing.apply_fix(self.editor, diagnostic)
        if diagnostic is not None and diagnostic.edits:
            self.editor.focus()
        self.notify(message, severity="information" if diagnostic is not None and diagnostic.edits else "warning")

    def action_move_rule(self, step: int) -> None:
        """alt+up / alt+down: the rule highlighted in the outline (or under the editor's cursor)
        moves one place; its text (and the comments above it) moves in the editor."""
        outline = self.query_one("#outline", RuleOutline)
        items = outline.items
        if outline.has_focus and outline.highlighted is not None and outline.highlighted < len(items):
            item = items[outline.highlighted]
        else:
            line = self.editor.cursor_location[0] + 1
            item = next((i for i in items if i.line is not None and i.line <= line <= (i.end_line or i.line)), None)
        if item is None or not item.line:
            self.notify("no rule here to move", severity="warning")
            return
        if editing.move_rule_in_editor(self.editor, item.line, step) is None:
            self.notify(f"rule {item.rule_id} is already the {'first' if step < 0 else 'last'} of its list")
            return
        self.validate(delay=0.0)

    def action_explain_error(self) -> None:
        from .widgets.explain import ExplainScreen

        if isinstance(self.screen, ExplainScreen):
            return
        analysis = self.session.analysis
        loaded = analysis.loaded if analysis is not None and not analysis.loaded.errors else None

        def chosen(image: str | None) -> None:
            if image:
                self.add_image(image)
                self.table.focus()

        self.push_screen(ExplainScreen(loaded), chosen)

    def action_choose_trusted_root(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.session.verify_options["trusted_root"] = path
                self.notify(f"verifying against the trusted root {path}")

        current = self.session.verify_options.get("trusted_root") or ""
        self.push_screen(
            PromptScreen(
                "Trusted root to verify against",
                placeholder="trusted_root.json, or talosctl get tuftrustedroots -o yaml output",
                value=str(current),
                hint="tab completes the path · empty: the public Sigstore root · checked before it is used",
                paths=True,
                check=editing.trusted_root_problem,
            ),
            chosen,
        )

    # -- help --------------------------------------------------------------------------------

    def help_rows(self) -> list[tuple[str, str, str]]:
        def keys(bindings: Sequence[Binding | tuple[str, ...]], where: str) -> list[tuple[str, str, str]]:
            # Every binding here is a Binding (with its tooltip), never a bare tuple.
            return [(b.key, b.tooltip or b.description, where) for b in bindings if isinstance(b, Binding)]

        rows = keys(self.BINDINGS, "anywhere")
        rows.append(("ctrl+p", "Command palette: every action by name", "anywhere"))
        rows += keys(ImageTable.BINDINGS, "image table")
        rows += keys(DetailPane.BINDINGS, "detail pane")
        rows.append(("enter", "Jump to the diagnostic in the editor", "problems / rules"))
        rows.append(("ctrl+. / alt+enter / alt+q", "Apply the selected diagnostic's fix", "problems / rules"))
        rows.append(("alt+up / alt+down", "Move the highlighted rule up / down (its comments move with it)", "problems / rules"))
        rows.append(("enter", "New line, indented as YAML wants (deeper after 'key:', an item's keys after '- ')", "editor"))
        rows += [(b.key, b.tooltip, "editor") for b in PolicyEditor.BINDINGS if isinstance(b, Binding) and b.tooltip]
        rows.append(("ctrl+. / alt+enter / alt+q", "Apply the fix of the diagnostic at the cursor", "editor"))
        rows.append(("alt+up / alt+down", "Move the rule under the cursor up / down", "editor"))
        rows.append(("right", "Accept the key suggested after the cursor (the keys the dialect allows there)", "editor"))
        rows.append(("tab", "Indent", "editor"))
        rows.append(("home / end", "Line start / line end", "editor"))
        rows.append(("shift+arrows, f6", "Select; f6 selects the line", "editor"))
        rows.append(("escape", "Leave the editor (focus moves on)", "editor"))
        rows.append(("ctrl+z / ctrl+y", "Undo / redo", "editor"))
        rows.append(("tab / shift+tab", "Move between panes (outside the editor)", "panes"))
        return rows

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_rows()))

