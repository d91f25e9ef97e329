"""libyaml's syntax errors in plain words, with a fix (and, for indentation, the column to use).

libyaml says what its parser expected (`while parsing a block collection: did not find expected
'-' indicator`); a person writing a policy needs to hear which line is out of place and where it
should start. Almost every such error in a policy is indentation: the line that libyaml stops at
is indented unlike its neighbours, and the line above it says where it belongs (under the item
of a list, with the keys of the mapping it continues). Leaf module: text in, words out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyntaxWords:
    message: str  # after "YAML syntax error: "
    fix: str | None = None
    # (line, column the text starts at, column it should start at): a re-indentation edit.
    reindent: tuple[int, int, int] | None = None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content_column(line: str) -> int:
    """1-based column where the line's key starts (after any '- ' indicators)."""
    column = _indent(line)
    rest = line[column:]
    while rest.startswith("- ") or rest == "-":
        step = len(rest) - len(rest[1:].lstrip(" "))
        column += step
        rest = rest[step:]
    return column + 1


def _previous(lines: list[str], row: int, dash: bool) -> int | None:
    """0-based row of the nearest line above `row` with text (a list item if `dash`)."""
    for index in range(row - 1, -1, -1):
        text = lines[index].strip()
        if not text or text.startswith("#") or text == "---":
            continue
        if not dash or text.startswith("- ") or text == "-":
            return index
    return None


def _reindent_words(lines: list[str], row: int) -> SyntaxWords | None:
    """Line `row` (0-based) is out of place: where its neighbours say it should start."""
    text = lines[row]
    if "\t" in text[: _indent(text) + 1]:
        return None
    here = _indent(text) + 1
    dash = text.lstrip(" ").startswith("-")
    above = _previous(lines, row, dash)
    if above is None:
        return None
    wanted = _indent(lines[above]) + 1 if dash else _content_column(lines[above])
    if wanted == here:
        return None
    if dash:
        message = f"line {row + 1} is indented to column {here}; the list item above it (line {above + 1}) starts at column {wanted}"
    else:
        key = text.strip().split(":", 1)[0]
        message = f"line {row + 1} is indented to column {here}; '{key}' belongs with the keys of line {above + 1}, at column {wanted}"
    return SyntaxWords(
        message,
        f"indent line {row + 1} to column {wanted}, like line {above + 1}",
        (row + 1, here, wanted),
    )


def explain(text: str, problem: str, context: str | None, line: int | None, context_line: int | None) -> SyntaxWords:
    """Plain words for libyaml's `problem` (and `context`) at 1-based `line`."""
    lines = text.split("\n")
    row = None if line is None else min(max(line - 1, 0), max(len(lines) - 1, 0))
    raw = f"{context}: {problem}" if context else problem
    if "tab" in problem or (row is not None and lines[row][: _indent(lines[row]) + 1].startswith("\t")):
        return SyntaxWords(f"line {line} is indented with a tab; YAML allows only spaces for indentation",
                           "replace the tab with spaces (two per level)")
    if problem.startswith("did not find expected '-' indicator") or problem.startswith("did not find expected key"):
        if row is not None:
            words = _reindent_words(lines, row)
            if words is not None:
                return words
        return SyntaxWords(f"line {line} is not indented like the lines it continues ({raw})",
                           "indent it like the keys (or the '- ' items) it belongs with")
    if problem.startswith("mapping values are not allowed"):
        if row is not None:
            current = lines[row]
            above = _previous(lines, row, False)
            if above is not None and _indent(current) + 1 > _content_column(lines[above]) and ":" in lines[above]:
                wanted = _content_column(lines[above])
                key = current.strip().split(":", 1)[0]
                return SyntaxWords(
                    f"line {line} is indented deeper than line {above + 1}, so '{key}' reads as part of "
                    f"the value on line {above + 1}",
                    f"indent line {line} to column {wanted}, like line {above + 1}",
                    (line or 1, _indent(current) + 1, wanted),
                )
            return SyntaxWords(f"line {line} has a second ': ' in one value",
                               "quote the value ('...') if the ': ' belongs to it, or put the key on its own line")
    if problem.startswith("could not find expected ':'"):
        where = context_line or line
        return SyntaxWords(f"line {where} has a key with no ':' after it",
                           "write 'key: value' (a ':' and a space after the key), or remove the line")
    if "flow sequence" in (context or "") or "flow mapping" in (context or ""):
        bracket = "]" if "sequence" in (context or "") else "}"
        opened = f" opened on line {context_line}" if context_line else ""
        return SyntaxWords(f"a '{'[' if bracket == ']' else '{'}'{opened} is not closed",
                           f"close it with '{bracket}' (separate its items with ', ')")
    if "quoted scalar" in (context or ""):
        opened = f" opened on line {context_line}" if context_line else ""
        return SyntaxWords(f"a quoted value{opened} is not closed", "end the value with the same quote it starts with")
    return SyntaxWords(raw)
