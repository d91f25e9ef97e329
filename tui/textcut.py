"""Cutting names to a column's width in the middle, so that no two rows read the same.

`quay.io/partner/app:v1` and `quay.io/partner/tool:v1` cut at the end both read
`quay.io/partner/`; cut in the middle they keep their distinct parts. When the usual cut makes
two different names read alike, the cut moves (more head, or more tail) until each reads apart;
if no single cut does, a name gets a counter (`…~2`) rather than read as another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

ELLIPSIS = "…"


def cut_middle(text: str, width: int, head: int | None = None) -> str:
    """`text` in `width` characters: its start and its end around an ellipsis. `head` is how
    many characters of the start to keep (by default a third: image names differ at the end)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    if head is None:
        head = keep // 3
    head = max(0, min(head, keep))
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head):]


def distinct_cuts(texts: Sequence[str], width: int, keys: Sequence[str] | None = None) -> dict[str, str]:
    """key -> `texts[i]` cut to `width`, every distinct text cut to a distinct string.

    `keys` name the texts (default: the texts); equal texts under different keys read equal.
    """
    keys = list(texts) if keys is None else list(keys)
    shown = {key: cut_middle(text, width) for key, text in zip(keys, texts, strict=True)}
    full = dict(zip(keys, texts, strict=True))
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for key, cut in shown.items():
        groups[cut].append(key)
    taken = set(groups)
    for cut, members in groups.items():
        if len({full[key] for key in members}) < 2:
            continue
        taken.discard(cut)
        originals = sorted({full[key] for key in members})
        chosen = _separating_cut(originals, width, taken)
        for key in members:
            shown[key] = chosen[full[key]]
        taken |= set(chosen.values())
    return shown


def _separating_cut(texts: list[str], width: int, taken: set[str]) -> dict[str, str]:
    """One cut for all of `texts` that reads each apart (and apart from `taken`), or a counter."""
    keep = max(0, width - 1)
    default = keep // 3
    for head in sorted(range(keep + 1), key=lambda h: abs(h - default)):
        cuts = {text: cut_middle(text, width, head) for text in texts}
        values = set(cuts.values())
        if len(values) == len(texts) and not values & taken:
            return cuts
    out = {}
    for number, text in enumerate(texts, start=1):
        suffix = f"~{number}"
        out[text] = cut_middle(text, max(1, width - len(suffix))) + suffix
    return out
