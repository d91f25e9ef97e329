"""The colour of each word pullguard shows: one map for outcomes, actions and severities.

The CLI's text output and every dashboard widget colour these words from here, so `allowed`
reads the same in `pullguard verify` and in the table. Values are style names that both the
CLI's ANSI painter (`tui/output.py`) and Rich understand. Standard library only: `pullguard
check` imports this at run time and must start fast.

Why these colours: green for what is checked and good, red for what a node refuses (bold where
a signature did not verify), magenta for what could not be checked at all (an error is not a
failed signature), yellow for what passes unchecked on purpose (skip), cyan for what a rule
lets through outright (allow). An action and the outcome it leads to share a colour.
"""

from __future__ import annotations

from typing import Final

OUTCOME_STYLE: Final[dict[str, str]] = {
    "verified": "bold green",
    "failed": "bold red",
    "error": "bold magenta",
    "denied": "red",
    "skipped": "yellow",
    "allowed": "cyan",
}

# The dashboard's table also shows the states before an outcome is known.
PENDING_STYLE: Final[dict[str, str]] = {
    "unverified": "dim",  # simulated only: the rule demands a signature nobody has checked yet
    "verifying": "italic",
}

ACTION_STYLE: Final[dict[str, str]] = {
    "verify": "green",
    "skip": OUTCOME_STYLE["skipped"],
    "deny": OUTCOME_STYLE["denied"],
    "allow": OUTCOME_STYLE["allowed"],
}
# A reference that does not parse has no action: its outcome is `error`.
NO_ACTION_STYLE: Final[str] = OUTCOME_STYLE["error"]

# Bold for what refuses the policy only; a note in cyan, which reads on dark and light themes.
SEVERITY_STYLE: Final[dict[str, str]] = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# The editor underlines a diagnostic's range and tints its background (the text keeps its
# syntax colours), so the range shows on every theme and in monochrome terminals.
SEVERITY_TINT: Final[dict[str, str | None]] = {"error": "#5f1f1f", "warning": "#4f4210", "info": None}

# The dashboard draws the same names in the active theme's colours (Textual CSS variables), so
# a light theme gets its own green and red: `bold green` is `color: $text-success; text-style: bold`.
THEME_COLOURS: Final[dict[str, str]] = {
    "green": "$text-success",
    "red": "$text-error",
    "yellow": "$text-warning",
    "cyan": "$text-primary",  # not $text-accent: textual-dark's accent is its warning colour (skipped)
    "magenta": "$text-secondary",
}


def theme_css(style: str) -> str:
    """CSS declarations for a style name of the maps above, in theme colours."""
    words = style.split()
    colour = next((THEME_COLOURS[word] for word in words if word in THEME_COLOURS), None)
    declarations = [f"color: {colour};"] if colour else []
    if "dim" in words:
        declarations.append("color: $foreground 60%;")
    text_styles = [word for word in words if word in ("bold", "italic", "underline")]
    if text_styles:
        declarations.append(f"text-style: {' '.join(text_styles)};")
    return " ".join(declarations)
