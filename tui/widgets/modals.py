"""Modal screens: help, confirm (quit / discard edits), copyable text (errors, details), prompt,
choice (the starter of a new policy). Every one is a `Dialog`: centred over the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea
from textual_autocomplete import PathAutoComplete

from pullguard.engine.userfile import expand_home

from ..safetext import escape_lines, safe_text
from ..themetext import themed

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal box centred over the dashboard (which stays visible, dimmed, around it).

    Its CSS names `Dialog` itself: Textual scopes a widget's DEFAULT_CSS under its own type,
    so rules for `ModalScreen` written here would match nothing (dialogs opened top-left)."""

    DEFAULT_CSS = """
    Dialog { align: center middle; layout: vertical; }
    Dialog > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    Dialog .title { text-style: bold; width: 1fr; }
    Dialog .hint { color: $text-muted; }
    Dialog .problem { color: $error; }
    Dialog Horizontal { height: auto; align-horizontal: right; }
    Dialog Button { margin: 0 1; min-width: 10; }
    """


class HelpScreen(Dialog[None]):
    """Every key the dashboard answers to, from the live bindings (never out of date)."""

    DEFAULT_CSS = """
    HelpScreen > Vertical { height: 90%; }
    HelpScreen #help-keys { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close", tooltip="Close the help screen"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        text = Text()
        width = max((len(key) for key, _, _ in self.rows), default=8)
        section = None
        for key, description, where in self.rows:
            if where != section:
                section = where
                text.append(f"{where}\n", style="bold underline")
            text.append(f"  {key:<{width}}  ", style="bold cyan")
            text.append(f"{description}\n")
        with Vertical():
            yield Label("pullguard keys", classes="title")
            with VerticalScroll(id="help-keys"):
                yield Static(themed(text, self.app.theme_variables))
            yield Label("escape closes · ctrl+p opens the command palette", classes="hint")


class ConfirmScreen(Dialog[bool | str]):
    """A yes/no question; `y`/`n`, or the buttons. With `other` (label, key, value), a third
    answer: its key or button dismisses with `value` (the quit dialog's "save and quit")."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="No, go back"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel", other: tuple[str, str, str] | None = None) -> None:
        super().__init__()
        self.question = question
        self.yes, self.no = yes, no
        self.other = other

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question), classes="title", id="question")
            with Horizontal():
                if self.other is not None:
                    label, key, _ = self.other
                    yield Button(f"{label} ({key})", variant="primary", id="other")
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def on_key(self, event) -> None:
        if self.other is not None and event.key == self.other[1]:
            event.stop()
            self.dismiss(self.other[2])

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "other" and self.other is not None:
            self.dismiss(self.other[2])
            return
        self.dismiss(event.button.id == "yes")


class ChoiceScreen(Dialog[str | None]):
    """A question with a few answers, one button each (first letter as its key); escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel", tooltip="Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]], hint: str = "") -> None:
        """`choices`: (value, button label); the label's first letter is its key."""
        super().__init__()
        self.question = question
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question), classes="title")
            if self.hint:
                yield Label(safe_text(self.hint), classes="hint")
            with Horizontal():
                for value, label in self.choices:
                    yield Button(f"{label} ({label[0].lower()})", id=f"choice-{value}")

    def on_key(self, event) -> None:
        for value, label in self.choices:
            if event.key == label[0].lower():
                event.stop()
                self.dismiss(value)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextModal(Dialog[None]):
    """Text a person may want to paste elsewhere: select it, or `c` copies all of it."""

    DEFAULT_CSS = """
    TextModal > Vertical { height: 80%; }
    TextModal TextArea { height: 1fr; }
    TextModal.error > Vertical { border: thick $error; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="text.close", tooltip="Close"),
        Binding("c", "copy", "Copy all", id="text.copy", tooltip="Copy the whole text to the clipboard"),
    ]

    def __init__(self, title: str, text: str, error: bool = False) -> None:
        super().__init__(classes="error" if error else "")
        self.title_text = title
        self.text = escape_lines(text)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), classes="title")
            area = TextArea(self.text, read_only=True, soft_wrap=True, id="modal-text")
            area.cursor_blink = False
            yield area
            yield Label("c copies all · select with shift+arrows, ctrl+c copies · escape closes", classes="hint")

    def action_copy(self) -> None:
        # OSC 52 asks the terminal to copy; it cannot tell whether the terminal did.
        self.app.copy_to_clipboard(self.text)
        self.notify("sent to the terminal's clipboard (OSC 52; some terminals ignore it: select the text instead)")


def error_modal(title: str, message: str) -> TextModal:
    return TextModal(title, message, error=True)


class PromptScreen(Dialog[str | None]):
    """One line of input (an image reference, a path); enter accepts, escape cancels.

    `paths`: the input completes file names (tab or enter on the list) and a leading `~` is
    expanded as a shell would (the session keeps the real path, so a save goes where it was
    read from). `check`: a value it returns a reason for is refused, the reason shown under
    the input, the dialog kept open."""

    DEFAULT_CSS = """
    PromptScreen > Vertical { min-height: 5; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Cancel")]

    def __init__(
        self,
        title: str,
        placeholder: str = "",
        value: str = "",
        hint: str = "",
        *,
        paths: bool = False,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint
        self.paths = paths
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.title_text), classes="title")
            field = Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield field
            yield Label("", classes="problem", id="prompt-problem")
            if self.hint:
                yield Label(safe_text(self.hint), classes="hint")
        if self.paths:
            yield PathAutoComplete(field, path=".", prevent_default_enter=False, id="prompt-paths")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value and self.paths:
            value = str(expand_home(value))
        problem = self.check(value) if value and self.check is not None else None
        if problem:
            self.query_one("#prompt-problem", Label).update(safe_text(problem))
            return
        self.dismiss(value or None)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#prompt-problem", Label).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)
