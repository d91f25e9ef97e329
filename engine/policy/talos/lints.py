"""pullguard's own lints for Talos policies (SPEC §5): what Talos accepts but will surprise you.

Each lint has a stable code, points at the text to change, and suggests a fix:

| code | severity | what |
|---|---|---|
| `re2-invalid-regex` | error | `subjectRegex` that Go's regexp (RE2) rejects: Talos fails every verification |
| `invalid-public-key` | error | `publicKey.certificate` is not a parseable PEM `PUBLIC KEY` |
| `certificate-not-public-key` | error | a `CERTIFICATE` block where Talos needs the `PUBLIC KEY` |
| `duplicate-pattern` | warning | the same `image` twice: the later rule can never match |
| `shadowed-rule` | warning | an earlier rule matches everything this rule matches |
| `never-matches` | warning | the pattern cannot match any normalized reference (`docker.io/...`) |
| `risky-skip` | warning | a `skip` rule that also covers registries the author does not control |
| `allow-by-default` | info | images no rule matches are admitted unverified (`no matched rule`) |
| `duplicate-document` | info | several ImageVerificationConfig documents: merged as Talos patches |
| `rule-replaced` | info | a rule replaced by a later document's rule with the same pattern |
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ...diagnostics import Diagnostic, Severity, TextEdit
from ...goregexp import compile_error
from ...patterns import FirstMatch, first_match, glob_never_matches, glob_subsumes
from ...yamlsource import Document, position
from ..regexfix import regex_fix
from .rules import Pos, TalosRule

# Registries where anyone can publish under their own namespace.
SHARED_REGISTRIES = ("index.docker.io", "docker.io", "ghcr.io", "quay.io", "gcr.io", "registry.gitlab.com", "public.ecr.aws")


# Talos validates only that a key is present; it parses it when an image is pulled. A key
# pullguard cannot read is refused here, by pullguard alone, and the message says what Talos does.
TALOS_READS_KEY_LATE = ("pullguard refuses it, Talos accepts the file and reads the key only to verify: "
                        "every pull this rule decides would fail")


@lru_cache(maxsize=512)
def _check_key(pem: str) -> tuple[str | None, str | None, str | None]:
    """(fingerprint, error code, error message) for a PEM text; cached, the editor re-reads it often."""
    from ...keys import KeyFormatError, load_public_key_pem

    try:
        return load_public_key_pem(pem).fingerprint, None, None
    except KeyFormatError as exc:
        return None, exc.code, str(exc)


def key_fingerprint(pem: str) -> str | None:
    return _check_key(pem)[0] if pem else None


def re2_error(pattern: str) -> str | None:
    """Why Go's regexp (RE2 syntax, less `\\C`) rejects `pattern`, or None if it compiles."""
    return compile_error(pattern)


@lru_cache(maxsize=4096)  # a pure function of the pattern, asked for every rule on every keystroke
def never_match_reason(pattern: str) -> tuple[str, str | None] | None:
    """(why, suggested pattern) when `pattern` can match no normalized match subject."""
    if not pattern:
        return None  # Talos reports the empty pattern itself
    found = glob_never_matches(pattern)
    return None if found is None else (found.reason, found.suggestion)


def _risky_skip(pattern: str) -> tuple[str, str] | None:
    """(why, fix) when a skip pattern reaches registries or namespaces the author likely does not own."""
    if pattern.strip("*") == "":
        return (
            "skips verification for every image not matched by an earlier rule",
            "list the registries you trust explicitly, e.g. 'registry.example.com/*'",
        )
    host, slash, rest = pattern.partition("/")
    if "*" in host:
        if host.startswith("*"):
            tail = host.lstrip("*")
            example = f"attacker.io/x{tail}/{rest.replace('*', 'app') or 'app'}"
            named = tail.lstrip(".") or "registry.example.com"
            return (
                f"the leading '*' matches any text, '/' included, so it also matches images on "
                f"registries you do not control, such as '{example}'",
                f"name each host: '{named}/{rest or '*'}'",
            )
        example = host.replace("*", ".attacker.example", 1)
        return (
            f"the '*' in the registry host also matches hosts like '{example}'",
            f"end the host before the '*': '{host.split('*', 1)[0].rstrip('.')}/*'",
        )
    if host in SHARED_REGISTRIES and rest:
        namespace = rest.split("/", 1)[0]
        if "*" in namespace and namespace != "*" and "/" not in rest.split("*", 1)[0]:
            prefix = namespace.split("*", 1)[0]
            if prefix and not prefix.endswith("/"):
                return (
                    f"'{host}' is a shared registry and '{prefix}*' also matches other accounts such as '{host}/{prefix}-other/...'",
                    f"'{host}/{prefix}/*'",
                )
        if namespace == "*" or rest == "*":
            return (
                f"'{host}' is a shared registry: '{pattern}' skips images any account can publish",
                f"'{host}/<your organisation>/*'",
            )
    return None


def _material_errors(rule: TalosRule, add: Callable[..., None]) -> None:
    """A subjectRegex Go would not compile, key material Talos could not use: the lint errors."""
    i = rule.index
    if rule.has_keyless and rule.subject_regex:
        error = re2_error(rule.subject_regex)
        if error:
            add(
                "error",
                "re2-invalid-regex",
                f"rule {i}: subjectRegex is not a valid Go (RE2) regular expression: {error}",
                rule.pos("keyless.subjectRegex", value=True),
                i,
                regex_fix(rule.subject_regex, error),
            )
    if rule.has_public_key and rule.certificate:
        _fp, code, message = _check_key(rule.certificate)
        if code is not None:
            fix = (
                "extract the key: 'openssl x509 -pubkey -noout -in cert.pem' and paste the PUBLIC KEY block"
                if code == "certificate-not-public-key"
                else "paste the signer's PEM block (cosign.pub), from '-----BEGIN PUBLIC KEY-----' to '-----END PUBLIC KEY-----'"
            )
            add("error", code, f"rule {i}: publicKey.certificate: {message}; {TALOS_READS_KEY_LATE}",
                rule.pos("publicKey.certificate", value=True), i, fix)


def lint(rules: list[TalosRule], replaced: list[tuple[TalosRule, TalosRule]], ivc_docs: list[Document],
         errors_only: bool = False) -> list[Diagnostic]:
    """Every lint finding; with `errors_only`, only the errors (what refuses the policy), which
    skips the reachability lints that cost the most on a fleet-sized policy."""
    out: list[Diagnostic] = []

    def add(severity: Severity, code: str, message: str, pos: Pos | None, rule_index: int | None, fix: str | None = None,
            edits: tuple[TextEdit, ...] = ()) -> None:
        line, column = pos if pos else (None, None)
        out.append(Diagnostic(severity, code, message, line, column, rule_index, None, None, fix, edits))

    def replace_image(rule: TalosRule, pattern: str) -> tuple[TextEdit, ...]:
        """The edit that writes `pattern` as the rule's image (quoted: it may start with '*')."""
        start, end = rule.positions.get("image="), rule.positions.get("image=end")
        if start is None or end is None or "'" in pattern:
            return ()
        return (TextEdit(*start, *end, f"'{pattern}'"),)

    if errors_only:
        for rule in rules:
            if rule.subject_regex or rule.certificate:  # most rules of a fleet have neither
                _material_errors(rule, add)
        return out

    if len(ivc_docs) > 1:
        second = ivc_docs[1].root
        add(
            "info",
            "duplicate-document",
            f"{len(ivc_docs)} ImageVerificationConfig documents are merged in order, as Talos merges "
            "config patches (a machine config holding them side by side is refused by Talos: "
            "'duplicate document: ImageVerificationConfig/')",
            position(second) if second is not None else None,
            None,
            "keep one document in the machine config, or apply the others as patches",
        )
    for old, new in replaced:
        add(
            "info",
            "rule-replaced",
            f"rule for '{old.pattern}' is replaced by rule {new.index} of a later document (same image pattern)",
            (old.line, old.column),
            None,
            "remove one of the two rules",
        )

    first_by_pattern: dict[str, TalosRule] = {}
    # earlier rule -> the later rules it covers: one warning per earlier rule that covers several
    # (a deny-all placed first is one mistake, not one per rule below it).
    shadowed: dict[int, tuple[TalosRule, list[tuple[TalosRule, Pos | None]]]] = {}
    covering = _Covering(rules)
    position_of = {id(rule): n for n, rule in enumerate(rules)}
    for rule in rules:
        i = rule.index
        image_pos = rule.pos("image", value=True)

        _material_errors(rule, add)

        if not rule.pattern:
            continue

        # reachability
        earlier = first_by_pattern.get(rule.pattern)
        if earlier is not None:
            add(
                "warning",
                "duplicate-pattern",
                f"rule {i}: image pattern '{rule.pattern}' duplicates rule {earlier.index} ({earlier.rule_id}); "
                f"rule {i} can never match because the first match wins",
                image_pos,
                i,
                f"remove rule {i} or merge it into rule {earlier.index}",
            )
        else:
            first_by_pattern[rule.pattern] = rule
            prior = covering.first_subsuming(position_of[id(rule)])
            if prior is not None:
                shadowed.setdefault(id(prior), (prior, []))[1].append((rule, image_pos))

        never = _safe_never(rule.pattern)
        if never is not None:
            why, suggestion = never
            add(
                "warning",
                "never-matches",
                f"rule {i}: image pattern '{rule.pattern}' can never match: {why}",
                image_pos,
                i,
                f"use '{suggestion}'" if suggestion else None,
                replace_image(rule, suggestion) if suggestion else (),
            )

        if rule.skip and not rule.deny and never is None:
            risky = _risky_skip(rule.pattern)
            if risky is not None:
                why, fix = risky
                add("warning", "risky-skip", f"rule {i}: skip pattern '{rule.pattern}' is wider than it looks: {why}",
                    image_pos, i, f"use {fix}" if fix.startswith("'") else fix)

    for prior, covered in shadowed.values():
        if len(covered) == 1:
            rule, shadowed_pos = covered[0]
            add(
                "warning",
                "shadowed-rule",
                f"rule {rule.index}: never matches: rule {prior.index} ({prior.rule_id}, '{prior.pattern}') "
                f"matches every image that '{rule.pattern}' matches, and the first match wins",
                shadowed_pos,
                rule.index,
                f"move rule {rule.index} above rule {prior.index}, or remove it",
            )
            continue
        numbers = ", ".join(str(rule.index) for rule, _ in covered)
        add(
            "warning",
            "shadowed-rule",
            f"rule {prior.index}: '{prior.pattern}' matches every image that rules {numbers} match, so they "
            f"never match: the first match wins",
            prior.pos("image", value=True),
            prior.index,
            f"move rule {prior.index} below rule {covered[-1][0].index}, or narrow its pattern",
        )

    if rules and not any(r.pattern and r.pattern.strip("*") == "" for r in rules):
        last = rules[-1]
        add(
            "info",
            "allow-by-default",
            "images that no rule matches are admitted without verification ('no matched rule')",
            (last.line, last.column),
            None,
            "add a last rule with image: '*' and deny: true (or a verifier) to cover every other image",
        )
    return out


class _Covering:
    """The earliest earlier rule whose pattern matches everything a rule's pattern matches.

    `glob_subsumes(earlier, later)` is `glob_match(earlier, W)` where W is `later` with each
    star as a letter no pattern holds; so the earliest covering rule is the first match of W
    over the whole rule list (a `FirstMatch`, whose cost does not grow with the rules), when
    that comes before the rule itself (W always matches its own pattern). A policy with few
    patterns that start with `*` checks the earlier rules whose literal prefix the rule's own
    starts with instead: a handful each, and no automaton to build on every keystroke.
    """

    _PAIRWISE_LIMIT = 50_000  # leading-star patterns x rules: above this, the automaton

    def __init__(self, rules: list[TalosRule]):
        self.rules = rules
        patterns = tuple(rule.pattern for rule in rules)
        fresh = "\x00"
        while any(fresh in pattern for pattern in patterns):
            fresh = chr(ord(fresh) + 1)
        self.fresh = fresh
        self.matcher: FirstMatch | None = None
        self.by_prefix: dict[str, list[int]] = {}
        unprefixed = sum(1 for pattern in patterns if pattern.startswith("*"))
        if unprefixed * len(patterns) > self._PAIRWISE_LIMIT:
            self.matcher = first_match(patterns)
            return
        for at, pattern in enumerate(patterns):
            self.by_prefix.setdefault(pattern.split("*", 1)[0], []).append(at)
        self.lengths = sorted({len(prefix) for prefix in self.by_prefix})

    def first_subsuming(self, position: int) -> TalosRule | None:
        pattern = self.rules[position].pattern
        if self.matcher is not None:
            found = self.matcher.first(pattern.replace("*", self.fresh))
            return self.rules[found] if found is not None and found < position else None
        own = pattern.split("*", 1)[0]
        candidates = sorted(earlier for length in self.lengths if length <= len(own)
                            for earlier in self.by_prefix.get(own[:length], ()) if earlier < position)
        for earlier in candidates:
            if glob_subsumes(self.rules[earlier].pattern, pattern):
                return self.rules[earlier]
        return None


def _safe_never(pattern: str) -> tuple[str, str | None] | None:
    try:
        return never_match_reason(pattern)
    except Exception:
        return None
