"""Kyverno's custom JMESPath functions (`pkg/engine/jmespath/functions.go`, `time.go`) that its
attestation samples use, over the `jmespath` library; `KYVERNO_ONLY` names the Kyverno functions
pullguard does not implement (a condition that calls one is a `check` error at its column, never
a silent pass)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

import jmespath.functions
from jmespath.functions import signature

from ... import jsontext

# Kyverno functions with no implementation here: reported by `check`, never evaluated.
KYVERNO_ONLY = frozenset({
    "pattern_match", "label_match", "path_canonicalize", "semver_compare", "parse_yaml", "lookup",
    "items", "object_from_lists", "random", "x509_decode", "image_normalize", "is_external_url",
    "time_to_cron", "time_add", "time_parse", "time_utc", "time_diff", "time_between", "time_truncate",
    "round", "sha256",
})


class FunctionError(ValueError):
    """A Kyverno function got arguments it refuses (Kyverno's JMESPath error)."""


def go_duration_string(nanoseconds: int) -> str:
    """time.Duration.String(): `72h3m0.5s`, `1.5s`, `300ms`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _fraction(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _fraction(n: int, size: int) -> str:
    whole, frac = divmod(n, size)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


_GO_LAYOUT = {"2006": "%Y", "01": "%m", "02": "%d", "15": "%H", "04": "%M", "05": "%S", "Jan": "%b", "Mon": "%a"}


def _parse_time(layout: str, text: str) -> datetime:
    """time.Parse with RFC 3339 (an empty layout) or a simple Go layout."""
    try:
        if not layout or layout == "2006-01-02T15:04:05Z07:00":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        fmt = layout
        for go, py in _GO_LAYOUT.items():
            fmt = fmt.replace(go, py)
        parsed = datetime.strptime(text, fmt)
    except ValueError as exc:
        raise FunctionError(f"parsing time {text!r}: {exc}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _go_regex(pattern: str) -> Any:
    import re2

    from ...goregexp import compile_error

    error = compile_error(pattern)
    if error is not None:
        raise FunctionError(f"error parsing regexp: {error}")
    return re2.compile(pattern)


def _text(value: object, function: str, position: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    raise FunctionError(f"invalid type for argument {position} of {function}: expected String or Real")


class KyvernoFunctions(jmespath.functions.Functions):  # type: ignore[misc]  # jmespath is untyped
    """The JMESPath builtins plus Kyverno's functions (names as Kyverno registers them)."""

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_compare(self, a: str, b: str) -> int:
        return (a > b) - (a < b)

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_equal_fold(self, a: str, b: str) -> bool:
        return a.casefold() == b.casefold()

    @signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["string"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_replace(self, s: str, old: str, new: str, n: float) -> str:
        return s.replace(old, new, int(n)) if n >= 0 else s.replace(old, new)

    @signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_replace_all(self, s: str, old: str, new: str) -> str:
        return s.replace(old, new)

    @signature({"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_to_upper(self, s: str) -> str:
        return s.upper()

    @signature({"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_to_lower(self, s: str) -> str:
        return s.lower()

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_trim(self, s: str, cut: str) -> str:
        return s.strip(cut)

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_trim_prefix(self, s: str, prefix: str) -> str:
        return s.removeprefix(prefix)

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_split(self, s: str, sep: str) -> list[str]:
        if sep == "":
            return list(s)
        return s.split(sep)

    @signature({"types": ["string"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_truncate(self, s: str, length: float) -> str:
        return s[: max(0, int(length))]

    @signature({"types": ["string"]}, {"types": ["string", "number"]})  # type: ignore[untyped-decorator]
    def _func_regex_match(self, pattern: str, src: object) -> bool:
        return _go_regex(pattern).search(_text(src, "regex_match", 2)) is not None

    @signature({"types": ["string"]}, {"types": ["string", "number"]}, {"types": ["string", "number"]})  # type: ignore[untyped-decorator]
    def _func_regex_replace_all(self, pattern: str, src: object, repl: object) -> str:
        expanded = _text(repl, "regex_replace_all", 3).replace("\\", "\\\\")
        # Go's ${1} and $1 both name a group
        import re

        expanded = re.sub(r"\$\{?(\d+)\}?", r"\\\1", expanded)
        result: str = _go_regex(pattern).sub(expanded, _text(src, "regex_replace_all", 2))
        return result

    @signature({"types": ["string"]}, {"types": ["string", "number"]}, {"types": ["string", "number"]})  # type: ignore[untyped-decorator]
    def _func_regex_replace_all_literal(self, pattern: str, src: object, repl: object) -> str:
        literal = _text(repl, "regex_replace_all_literal", 3)
        result: str = _go_regex(pattern).sub(lambda _m: literal, _text(src, "regex_replace_all_literal", 2))
        return result

    @signature({"types": ["string", "boolean"]})  # type: ignore[untyped-decorator]
    def _func_to_boolean(self, s: object) -> bool:
        if isinstance(s, bool):
            return s
        lowered = str(s).lower()
        if lowered not in ("true", "false"):
            raise FunctionError(f"lowercase argument must be 'true' or 'false' (provided: {s!r})")
        return lowered == "true"

    @signature({"types": ["number"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_add(self, a: float, b: float) -> float:
        return a + b

    @signature({"types": ["number"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_subtract(self, a: float, b: float) -> float:
        return a - b

    @signature({"types": ["number"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_multiply(self, a: float, b: float) -> float:
        return a * b

    @signature({"types": ["number"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_divide(self, a: float, b: float) -> float:
        if b == 0:
            raise FunctionError("Zero divisor passed")
        return a / b

    @signature({"types": ["number"]}, {"types": ["number"]})  # type: ignore[untyped-decorator]
    def _func_modulo(self, a: float, b: float) -> float:
        if b == 0:
            raise FunctionError("Zero divisor passed")
        return a % b

    @signature({"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_parse_json(self, s: str) -> Any:
        try:
            return jsontext.loads(s)
        except ValueError as exc:
            raise FunctionError(f"parse_json: {exc}") from None

    @signature({"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_base64_decode(self, s: str) -> str:
        try:
            return base64.b64decode(s, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError) as exc:
            raise FunctionError(f"base64_decode: {exc}") from None

    @signature({"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_base64_encode(self, s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    @signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_time_since(self, layout: str, ts1: str, ts2: str) -> str:
        t1 = _parse_time(layout, ts1)
        t2 = _parse_time(layout, ts2) if ts2 else datetime.now(timezone.utc)
        delta = t2 - t1
        nanoseconds = (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
        return go_duration_string(nanoseconds)

    @signature()  # type: ignore[untyped-decorator]
    def _func_time_now(self) -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @signature()  # type: ignore[untyped-decorator]
    def _func_time_now_utc(self) -> str:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_time_before(self, a: str, b: str) -> bool:
        return _parse_time("", a) < _parse_time("", b)

    @signature({"types": ["string"]}, {"types": ["string"]})  # type: ignore[untyped-decorator]
    def _func_time_after(self, a: str, b: str) -> bool:
        return _parse_time("", a) > _parse_time("", b)


FUNCTIONS = KyvernoFunctions()
# Every name a condition may call: the JMESPath builtins and Kyverno's, as implemented here.
KNOWN = frozenset(FUNCTIONS.FUNCTION_TABLE)
