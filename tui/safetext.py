"""Outside text on the dashboard: escaped, and never read as markup (SPEC §6).

Image references, registry answers, certificates, policy files and file paths are written by
someone else. Textual reads a `str` given to a label, a title or a notification as content
markup (`[/nope].yaml` raised MarkupError in the status bar) and Rich passes ESC through to the
terminal, so everything the dashboard shows from outside goes through `safe_text` (or, where a
`str` is wanted, `escape_control`).
"""

from __future__ import annotations

from rich.text import Text

from pullguard.engine.display import escape_control


def safe_text(value: object, style: str = "") -> Text:
    """`value` as Rich Text with control characters escaped: shown as written, never as markup."""
    return Text(escape_control(str(value)), style=style)


def escape_lines(text: str) -> str:
    """Text made of lines (a copyable report): each line escaped, the line breaks kept."""
    return "\n".join(escape_control(line) for line in text.split("\n"))


# One visible character per control character, for text that must keep its columns (the
# editor: the document holds the real characters, the cursor and diagnostics count them).
_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}
_PICTURES |= {code: 0xFFFD for code in [*range(0x80, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def control_pictures(text: str) -> str:
    """`text` with each control character drawn as its Unicode control picture (ESC as `␛`),
    bidirectional overrides as `�`: the same length, nothing a terminal acts on."""
    return text.translate(_PICTURES)
