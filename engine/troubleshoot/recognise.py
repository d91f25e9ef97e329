"""Finding the pull errors in a paste: where each one is, which image, who reported it.

A paste is scanned once for anchors, the words each source starts its report with: kubelet's
`Failed to pull image "<ref>":` and `Back-off pulling image "<ref>"`, containerd's
`PullImage "<ref>" failed` (and its `failed to verify image "<ref>" with talos:`), Talos's own
messages, and Kyverno's `admission webhook "…kyverno…" denied the request`. A report runs from
its anchor to the first break: a new line that does not continue it (Talos joins two errors
with a newline; a paste may have a space there instead), an event row, or the next report.
Breaks are found once for the whole text, so the work is linear in the size of the paste.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from typing import Literal

from .paste import json_text, regular
from .reasons import TALOS_START, Reason, ReasonKind, ReportedOutcome, flat, kyverno_reason, talos_reason

Source = Literal["kubelet", "containerd", "talos", "kyverno"]

# Distinct reports kept from one paste; a paste with more is a log dump, not a question.
MAX_REPORTS = 256

_I = re.IGNORECASE
_QUOTED_REF = r'"([^"\s]{1,512})"'
_ANCHOR = re.compile(
    r"(?P<kubelet>Failed to pull image " + _QUOTED_REF + r":?)"
    r"|(?P<backoff>Back-off pulling image " + _QUOTED_REF + r")"
    r"|(?P<cri>PullImage " + _QUOTED_REF + r" failed:?)"
    r"|(?P<wrapper>failed to verify image " + _QUOTED_REF + r" with talos:?)"
    r'|(?P<webhook>admission webhook "([^"\s]{1,253})" denied the request:?)'
    r"|(?P<kyverno>failed to verify (?:image|signature for) ([^\s\"']{1,512}):(?=\s))"
    r"|(?P<pullerr>Error: (?:ErrImagePull|ImagePullBackOff))"
    r"|(?P<talos>" + TALOS_START.pattern + r")",
    _I,
)
# Anchors that start a new report wherever they are (the others may sit inside one).
_RECORD_ANCHORS = frozenset({"kubelet", "backoff", "cri", "webhook", "pullerr"})
# Wrappers around the node's message: gRPC statuses, containerd's and kubelet's prefixes.
_WRAPPER = re.compile(
    r"\s*(?:rpc error: code = \w{1,40} desc = |failed to verify image " + _QUOTED_REF + r" with talos:\s?"
    r"|failed to verify:\s?|failed to pull and unpack image " + _QUOTED_REF + r":\s?"
    r"|failed to pull image " + _QUOTED_REF + r":\s?)", _I)
# A line that carries on the report above it (the second of Talos's joined errors, a wrapper).
_CONTINUATION = re.compile(
    r"\s*(?:legacy signature tag not found|no valid legacy signature|no legacy signatures found"
    r"|failed to resolve \.sig tag|unexpected media type for \.sig manifest|failed to get fetcher for \.sig manifest"
    r"|failed to fetch \.sig manifest|no valid bundle|bundle tag not found|rpc error:|desc = )", _I)
# A line that starts something new: an event row, a log line, kubectl's headers, a prompt.
_RECORD_LINE = re.compile(
    r"\s*(?:(?:Normal|Warning)\s|Events:|Type\s+Reason|LAST SEEN\s|\$ |Error from server|[IWEF]\d{4} \d\d:"
    r"|\d{4}-\d\d-\d\d[T ]\d|[\w.:\[\]-]{1,64}: \d{4}-\d\d-\d\dT|time=)", _I)
# The same inside a line whose newlines were lost (an event row, kubelet's follow-up errors).
_INLINE_STOP = re.compile(
    r"\s(?:Normal|Warning)\s+[A-Z][A-Za-z]{1,40}\s+(?:\d|<unknown>)"
    r"|\sError: (?:ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InvalidImageName)", _I)
# Talos's log fields after its message (zap), and the ones that say which image and rule.
_LOG_FIELDS = re.compile(r'\s\{"[\w.-]{1,64}":')
_IMAGE_FIELD = re.compile(r'"image_ref":\s?"([^"\s]{1,512})"')
_RULE_FIELD = re.compile(r'"rule_id":\s?"(\d{1,6})"')
_ERROR_FIELD = re.compile(r'"error":\s?"((?:[^"\\\n]|\\.){0,4096})"')
# containerd's words for an image that is not in the registry (`…: not found`, the registry's code).
_NOT_FOUND = re.compile(r":\s?not found$|manifest unknown|name unknown", _I)
# Kyverno: a rule's message in the denial, `policy:` once, then `rule: 'failed to verify …'`.
_KYVERNO_RULE = re.compile(
    r"(?:([\w.-]{1,253}):\s)?([\w.-]{1,253}):\s'?failed to verify (?:image|signature for) ([^\s\"']{1,512}):\s", _I)
# Kyverno ImageValidatingPolicy: `Policy <name> failed: <validation message>`.
_IVPOL = re.compile(r"Policy ([\w.-]{1,253}) (failed|error):\s?", _I)


@dataclass(frozen=True)
class Reported:
    """One pull error as a source reported it."""

    image: str | None
    source: Source
    reason: Reason
    # Kyverno: the policy and rule the denial names.
    policy: str | None = None
    rule: str | None = None

    @property
    def message(self) -> str:
        return self.reason.message

    @property
    def outcome(self) -> ReportedOutcome | None:
        return self.reason.outcome

    @property
    def rule_id(self) -> str | None:
        if self.reason.rule_id is not None:
            return self.reason.rule_id
        if self.rule is not None:
            return f"{self.policy}/{self.rule}" if self.policy else self.rule
        return self.policy  # an ImageValidatingPolicy has no rules, only its name


class _Breaks:
    """Sorted positions where a report ends; `after(i)` is the first one past i."""

    def __init__(self, positions: list[int], end: int):
        self._positions = sorted(positions)
        self._end = end

    def after(self, index: int) -> int:
        at = bisect.bisect_right(self._positions, index)
        return self._positions[at] if at < len(self._positions) else self._end


def _breaks(text: str, anchors: list[re.Match[str]]) -> tuple[_Breaks, _Breaks]:
    """(breaks for node messages, breaks for Kyverno denials, which span blank and indented lines)."""
    plain: list[int] = []
    kyverno: list[int] = []
    start = 0
    for line in text.split("\n"):
        if start:
            newline = start - 1
            if not _CONTINUATION.match(line):
                plain.append(newline)
            if _RECORD_LINE.match(line):
                kyverno.append(newline)
        start += len(line) + 1
    for stop in _INLINE_STOP.finditer(text):
        plain.append(stop.start())
        kyverno.append(stop.start())
    for anchor in anchors:
        if anchor.lastgroup in _RECORD_ANCHORS:
            plain.append(anchor.start())
            if anchor.lastgroup != "pullerr":
                kyverno.append(anchor.start())
    return _Breaks(plain, len(text)), _Breaks(kyverno, len(text))


def _unwrapped(message: str) -> str:
    found = _WRAPPER.match(message)
    while found is not None and found.end() > 0:
        message = message[found.end():]
        found = _WRAPPER.match(message)
    return message.strip()


def _node_reason(message: str) -> Reason:
    """The Talos message inside wrappers, or a pull error that is not about signatures."""
    inner = _unwrapped(message)
    start = TALOS_START.search(inner)
    if start is not None:
        reason = talos_reason(inner[start.start():])
        if reason is not None:
            return reason
    text = flat(inner)
    kind: ReasonKind = "not-found" if _NOT_FOUND.search(text) else "pull"
    return Reason(kind, "error", text, detail=text, verification=False)


def _kyverno_rules(block: str) -> list[Reported]:
    text = flat(block)
    out: list[Reported] = []
    matches = list(_KYVERNO_RULE.finditer(text))
    policy: str | None = None
    for i, found in enumerate(matches):
        if found.group(1):
            policy = found.group(1)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        message = text[found.end():end].strip()
        if message.endswith("'"):
            message = message[:-1].rstrip()
        message = message.replace("''", "'")
        reason = kyverno_reason(message)
        full = f"failed to verify image {found.group(3)}: {reason.message}"
        out.append(Reported(found.group(3), "kyverno", _with_message(reason, full), policy, found.group(2)))
    return out


def _with_message(reason: Reason, message: str) -> Reason:
    return replace(reason, message=message)


def _ivpol(block: str) -> list[Reported]:
    text = flat(block)
    found = _IVPOL.search(text)
    if found is None:
        return []
    message = text[found.start():].strip()
    outcome: ReportedOutcome = "failed" if found.group(2).lower() == "failed" else "error"
    detail = text[found.end():].strip()
    return [Reported(None, "kyverno", Reason("validation", outcome, message, detail=detail), found.group(1))]


def recognise(pasted: str) -> list[Reported]:
    """Every distinct pull error in `pasted`, in the order they appear (at most MAX_REPORTS)."""
    text = regular(pasted)
    anchors = list(_ANCHOR.finditer(text))
    plain, kyverno = _breaks(text, anchors)
    found: list[Reported] = []
    consumed = 0
    for anchor in anchors:
        if anchor.start() < consumed:
            continue
        kind = anchor.lastgroup
        if kind in ("kubelet", "cri", "wrapper"):
            end = plain.after(anchor.end())
            source: Source = "kubelet" if kind == "kubelet" else "containerd"
            found.append(Reported(_ref(anchor), source, _node_reason(text[anchor.end():end])))
        elif kind == "backoff":
            end = anchor.end()
            found.append(Reported(_ref(anchor), "kubelet", Reason("backoff", None, flat(anchor.group(0)))))
        elif kind == "talos":
            end = plain.after(anchor.start())
            found.extend(_talos_said(text, anchor.start(), end))
        elif kind == "webhook":
            end = kyverno.after(anchor.end())
            if "kyverno" not in anchor.group(0).lower():
                continue
            block = text[anchor.end():end]
            found.extend(_kyverno_rules(block) or _ivpol(block))
        elif kind == "kyverno":
            end = plain.after(anchor.end())
            message = flat(text[anchor.end():end]).rstrip("'").rstrip()
            reason = kyverno_reason(message)
            full = f"{flat(anchor.group(0))} {reason.message}"
            found.append(Reported(_ref(anchor), "kyverno", _with_message(reason, full)))
        else:  # a lone "Error: ErrImagePull": kept only when nothing says more
            end = anchor.end()
            found.append(Reported(None, "kubelet", Reason("backoff", None, anchor.group(0))))
        consumed = end
    return _distinct(found)


def _talos_said(text: str, start: int, end: int) -> list[Reported]:
    """Talos's message alone, or as its log writes it (`talosctl logs machined`): the message,
    then the fields as JSON, `{"image_ref": "…", "rule_id": "0003", "error": "…"}`."""
    message = text[start:end]
    fields = _LOG_FIELDS.search(message)
    image = rule_id = None
    if fields is not None:
        message, tail = message[: fields.start()], message[fields.start():]
        image_ref, rule, error = _IMAGE_FIELD.search(tail), _RULE_FIELD.search(tail), _ERROR_FIELD.search(tail)
        image = image_ref.group(1) if image_ref else None
        rule_id = rule.group(1) if rule else None
        if error is not None:
            message = f"{message.rstrip()}: {json_text(error.group(1))}"
    reason = talos_reason(message, rule_id)
    return [] if reason is None else [Reported(image, "talos", reason)]


def _ref(anchor: re.Match[str]) -> str:
    return next(g for g in anchor.groups()[(anchor.lastindex or 0):] if g)


def _distinct(found: list[Reported]) -> list[Reported]:
    """One report per image and message; kubelet's back-off lines only for an image that has no
    other report (they repeat an earlier failure); a bare `Error: ErrImagePull` only alone."""
    informed = {r.image for r in found if r.reason.kind != "backoff"}
    named = any(r.image is not None for r in found)
    seen: set[tuple[str | None, str, str]] = set()
    out: list[Reported] = []
    for report in found:
        if report.reason.kind == "backoff" and (report.image in informed or (report.image is None and named)):
            continue
        key = (report.image, report.source, report.message.lower())
        if key in seen:
            continue
        seen.add(key)
        out.append(report)
        if len(out) >= MAX_REPORTS:
            break
    return out
