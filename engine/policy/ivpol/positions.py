"""Where a position inside an expression's text is in the YAML file.

CEL reports `<input>:LINE:COLUMN` in the expression's own text; the editor needs the file's line
and column. For a plain or quoted scalar on one line the text starts after the quote; for a
literal block (`|`, `|-`) line N of the text is line N after the indicator, at the block's
indentation, which the composer does not keep: it is worked out from the scalar's span
(indicator, line breaks, indentation and text add up to it). Folded and multi-line flow scalars
fold line breaks into spaces, so only their first line is certain; a position there is given on
the scalar's first text line.
"""

from __future__ import annotations

from ...yamlsource import ScalarNode, position


def _block_indent(node: ScalarNode) -> int | None:
    """The indentation (spaces) of a literal block's text lines, from the scalar's span."""
    lines = node.value.split("\n")
    if node.value.endswith("\n"):
        lines.pop()
    text_lines = [line for line in lines if line]
    if not text_lines:
        return None
    span = node.end_mark.index - node.start_mark.index
    written = sum(len(line) + 1 for line in lines)
    # `|` clips (the value ends with a break), `|-` strips it; an indentation digit or a comment
    # after the indicator makes the header longer.
    headers = (1, 2, 3, 4) if node.value.endswith("\n") else (2, 1, 3, 4)
    for header in headers:
        rest = span - header - 1 - written
        if rest > 0 and rest % len(text_lines) == 0:
            return rest // len(text_lines)
    return None


def expression_position(node: ScalarNode, line: int, column: int, fallback_indent: int) -> tuple[int, int]:
    """The file's 1-based (line, column) of the expression text's 1-based (line, column).

    `fallback_indent` (0-based columns) is used where the indentation cannot be worked out."""
    start_line, start_column = position(node)
    style = node.style
    if style == "|":
        indent = _block_indent(node)
        return start_line + line, (indent if indent is not None else fallback_indent) + column
    if style == ">":
        return start_line + 1, fallback_indent + column
    if line > 1 or node.start_mark.line != node.end_mark.line:
        return start_line, start_column + (1 if style in ('"', "'") else 0)
    return start_line, start_column + (1 if style in ('"', "'") else 0) + column - 1
