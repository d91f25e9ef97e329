"""Moving a rule up or down in the policy text (alt+up / alt+down on the rules outline).

The text is rewritten by lines, never re-serialised: a rule is the lines of its list item,
with the comment lines directly above it (they describe it) and its own trailing comments;
moving it swaps those lines with its neighbour's. Both dialects keep rules as the items of a
block sequence (`rules:` in Talos, `spec.rules` in Kyverno), found through the YAML nodes.
"""

from __future__ import annotations

from pullguard.engine.yamlsource import MappingNode, Node, SequenceNode, compose, position


def _sequences(node: Node | None) -> list[SequenceNode]:
    out: list[SequenceNode] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, SequenceNode):
            out.append(current)
            stack.extend(current.value)
        elif isinstance(current, MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
    return out


def _item_lines(lines: list[str], sequence: SequenceNode, index: int) -> tuple[int, int]:
    """[first, last) 0-based lines of item `index`: its '- ' line (less any comment lines right
    above it, which belong to it) up to the next item's first line, or the end of its text."""
    items = sequence.value

    def start(i: int) -> int:
        row = position(items[i])[0] - 1
        # the '- ' may sit on the line of the item's first key
        while row > 0 and lines[row - 1].strip().startswith("#"):
            row -= 1
        return row

    first = start(index)
    if index + 1 < len(items):
        return first, start(index + 1)
    end = sequence.end_mark.line  # 0-based line after the sequence's last character
    if sequence.end_mark.column > 0:
        end += 1
    # trailing blank lines and comments below the last item stay where they are
    while end > first + 1 and not lines[end - 1].strip():
        end -= 1
    return first, end


def move_rule(text: str, line: int, step: int) -> tuple[str, int] | None:
    """`text` with the rule written at 1-based `line` moved one place up (step -1) or down
    (+1), and the 1-based line that `line` is on now; None when it cannot move (first or last, or
    the text does not parse)."""
    docs, problem = compose(text)
    if problem is not None:
        return None
    lines = text.split("\n")
    # Every list item whose lines hold `line`, innermost first: a Kyverno outline entry that is
    # alone in its verifyImages list moves with its rule (the item of spec.rules around it).
    holding: list[tuple[int, SequenceNode, int]] = []
    for doc in docs:
        for sequence in _sequences(doc.root):
            if getattr(sequence, "flow_style", False):
                continue
            for index, item in enumerate(sequence.value):
                first = position(item)[0]
                if first <= line <= _item_lines(lines, sequence, index)[1]:
                    holding.append((first, sequence, index))
    holding.sort(key=lambda held: -held[0])
    if not holding or holding[0][0] != line:
        return None  # no list item starts at `line`
    for _first, sequence, index in holding:
        if len(sequence.value) > 1:
            return _swap(lines, sequence, index, step, line)
    return None


def _swap(lines: list[str], sequence: SequenceNode, index: int, step: int, line: int) -> tuple[str, int] | None:
    """Swap item `index` with its neighbour; the text and where 1-based `line` (inside the item) is now."""
    other = index + step
    if not 0 <= other < len(sequence.value):
        return None
    low, high = sorted((index, other))
    a_first, a_end = _item_lines(lines, sequence, low)
    b_first, b_end = _item_lines(lines, sequence, high)
    upper, lower = lines[a_first:a_end], lines[b_first:b_end]
    between = lines[a_end:b_first]
    moved = lines[:a_first] + lower + between + upper + lines[b_end:]
    if step < 0:  # the item was the lower block; it now starts where the upper one did
        shift = a_first - b_first
    else:  # the item was the upper block; it now follows the lower one
        shift = len(lower) + len(between)
    return "\n".join(moved), line + shift
