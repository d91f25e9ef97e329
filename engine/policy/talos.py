"""Talos `ImageVerificationConfig` (v1alpha1): loading, Talos's own validation, simulation.

Measured from siderolabs/talos v1.13:
- `pkg/machinery/config/types/security/image_verification.go`: the fields, the validation
  messages (word for word below) and `ImageVerificationRules.Merge`.
- `pkg/machinery/resources/security/image_verification_rule.go`: rules are tried in order,
  a rule with an empty pattern never matches, the first `glob.Glob(pattern, subject)` wins.
- `internal/pkg/containers/image/verify/verify.go`: the subject is
  `name.ParseReference(ref).Context().String()`; the messages `no matched rule`,
  `verification skipped by matched rule (%s)`, `verification denied by matched rule (%s)`;
  rule ids are `%04d` of the index in the merged rule list.

Several `ImageVerificationConfig` documents in one file are merged the way Talos merges a
patch into a config: a rule whose `image` equals a rule already present replaces it in place,
any other rule is appended. Talos validates the merged config, so validation messages use the
0-based index in the merged list (which is also the number in the rule id), and a rule that a
later document replaced is not validated (only reported as replaced). Key and type errors are
reported for every document, as Talos's strict decoder refuses them before merging.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from ..vocabulary import Decision, OutlineItem, RuleTrial
from ..patterns import pattern_masks
from ..reference import ReferenceError, parse_reference
from ..diagnostics import Diagnostic
from ..yamlsource import (
    Document,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    end_position,
    is_null,
    kind_name,
    mapping_items,
    position,
    scalar_bool,
    scalar_str,
)
from ..vocabulary import Action, KeylessVerifier, PublicKeyVerifier, Verifier

KIND = "ImageVerificationConfig"
API_VERSION = "v1alpha1"

DOC_KEYS = ("apiVersion", "kind", "rules")
RULE_KEYS = ("image", "skip", "deny", "keyless", "publicKey")
KEYLESS_KEYS = ("issuer", "subject", "subjectRegex")
PUBLIC_KEY_KEYS = ("certificate",)

Pos = tuple[int, int]
_RULE_IDS = [f"{i:04d}" for i in range(10_000)]


@dataclass
class TalosRule:
    """One rule of the merged policy, with where each of its parts is written."""

    index: int  # 0-based index in the merged rule list
    pattern: str
    skip: bool
    deny: bool
    verifier: Verifier | None
    line: int
    column: int
    end_line: int
    doc_index: int = 0
    # "image", "skip", "deny", "keyless", "publicKey", "keyless.issuer", ... -> (line, column)
    # of the key; "<field>=" -> (line, column) of the value.
    positions: dict[str, Pos] = field(default_factory=dict)
    # Raw fields as written (Talos's view, before interpretation), for validation.
    has_keyless: bool = False
    has_public_key: bool = False
    issuer: str = ""
    subject: str = ""
    subject_regex: str = ""
    certificate: str = ""

    @property
    def rule_id(self) -> str:
        return _RULE_IDS[self.index] if 0 <= self.index < len(_RULE_IDS) else f"{self.index:04d}"

    @property
    def action(self) -> Action:
        # Talos checks deny before skip (verify.go), so a rule with both set denies.
        if self.deny:
            return "deny"
        if self.skip:
            return "skip"
        return "verify"

    def pos(self, key: str, value: bool = False) -> Pos:
        """Where `key` (or its value) is written; falls back to the rule start."""
        found = self.positions.get(key + "=" if value else key)
        if found is None and value:
            found = self.positions.get(key)
        return found or (self.line, self.column)


def _verification_message(rule: TalosRule) -> str:
    """What verification would require, for `simulate` (no network)."""
    head = f"verification required by matched rule ({rule.rule_id})"
    verifier = rule.verifier
    if isinstance(verifier, KeylessVerifier):
        parts = [f"keyless issuer {verifier.issuer or '?'}"]
        if verifier.subject:
            parts.append(f"subject {verifier.subject}")
        if verifier.subject_regex:
            parts.append(f"subjectRegex {verifier.subject_regex}")
        return f"{head}: " + " ".join(parts)
    if isinstance(verifier, PublicKeyVerifier):
        return f"{head}: public key {verifier.fingerprint or '(unparseable)'}"
    return f"{head}: no verifier configured"


class TalosPolicy:
    """The merged rule list and first-match evaluation over it."""

    dialect = "talos"

    def __init__(self, rules: list[TalosRule]):
        self.rules = rules
        self._matcher = None
        self._memo: dict[str, tuple] = {}
        self._outcomes: dict[int, tuple] = {}  # rule index -> (action, rule, message), shared by its images

    # -- matching -------------------------------------------------------------------------

    def _first(self, subject: str) -> int | None:
        if self._matcher is None:
            from ..patterns import first_match

            # Talos skips rules with an empty pattern; as a glob "" matches only "", which is
            # never a match subject, so the automaton needs no special case.
            self._matcher = first_match(tuple(r.pattern for r in self.rules))
        return self._matcher.first(subject)

    def _decide(self, subject: str) -> tuple:
        hit = self._memo.get(subject)
        if hit is not None:
            return hit
        index = self._first(subject)
        hit = ("allow", None, "no matched rule") if index is None else self._outcome(self.rules[index])
        self._memo[subject] = hit
        return hit

    def _outcome(self, rule: TalosRule) -> tuple:
        found = self._outcomes.get(rule.index)
        if found is None:
            found = self._outcomes[rule.index] = self._make_outcome(rule)
        return found

    @staticmethod
    def _make_outcome(rule: TalosRule) -> tuple:
        action = rule.action
        if action == "deny":
            message = f"verification denied by matched rule ({rule.rule_id})"
        elif action == "skip":
            message = f"verification skipped by matched rule ({rule.rule_id})"
        else:
            message = _verification_message(rule)
        return (action, rule, message)

    def evaluate(self, image: str) -> Decision:
        try:
            subject = _subject(image)
        except ReferenceError as exc:
            message = str(exc)
            return Decision(image, None, None, None, None, None, None, message, error=message)
        action, rule, message = self._decide(subject)
        if rule is None:
            return Decision(image, subject, action, None, None, None, None, message)
        verifier = rule.verifier if action == "verify" else None
        return Decision(image, subject, action, rule.index, rule.rule_id, rule.pattern, verifier, message)

    def evaluate_many(self, images: list[str]) -> list[Decision]:
        """Decisions for many images. Small fleets (the editor's list) go through per-pattern
        bitmasks over their distinct subjects, cached across policies, so an edit that changes
        one pattern matches only that pattern again; large ones through the FirstMatch index."""
        subjects: list[str | None] = []
        for image in images:
            try:
                subjects.append(_subject(image))
            except ReferenceError:  # evaluate() builds the error decision
                subjects.append(None)
        distinct = sorted({s for s in subjects if s is not None})
        if 0 < len(distinct) <= _BITMASK_LIMIT:
            self._decide_by_masks(distinct)
        out = []
        decide = self._decide
        for image, subject in zip(images, subjects):
            if subject is None:
                out.append(self.evaluate(image))
                continue
            action, rule, message = decide(subject)
            if rule is None:
                out.append(Decision(image, subject, action, None, None, None, None, message))
            else:
                verifier = rule.verifier if action == "verify" else None
                out.append(Decision(image, subject, action, rule.index, rule.rule_id, rule.pattern, verifier, message))
        return out

    def _decide_by_masks(self, distinct: list[str]) -> None:
        table = pattern_masks(tuple(distinct), "glob")  # subjects sorted and distinct: same bit order
        remaining = (1 << len(distinct)) - 1
        memo = self._memo
        for rule in self.rules:
            if not remaining:
                break
            if not rule.pattern:
                continue
            hit = table.mask(rule.pattern) & remaining
            if not hit:
                continue
            remaining &= ~hit
            bits = bin(hit)[:1:-1]
            i = bits.find("1")
            while i >= 0:
                subject = distinct[i]
                if subject not in memo:
                    memo[subject] = self._outcome(rule)
                i = bits.find("1", i + 1)
        if remaining:
            bits = bin(remaining)[:1:-1]
            i = bits.find("1")
            while i >= 0:
                memo.setdefault(distinct[i], ("allow", None, "no matched rule"))
                i = bits.find("1", i + 1)

    def explain(self, image: str) -> list[RuleTrial]:
        """Every rule in order and why it did or did not decide for this image."""
        from ..patterns import glob_match

        try:
            subject = _subject(image)
        except ReferenceError as exc:
            return [
                RuleTrial(r.index, r.rule_id, r.pattern, False, f"not tried: {exc}") for r in self.rules
            ]
        trials: list[RuleTrial] = []
        winner: TalosRule | None = None
        for rule in self.rules:
            if winner is not None:
                reason = f"not tried: rule {winner.rule_id} matched first"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, reason))
                continue
            if not rule.pattern:
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, "empty image pattern never matches"))
                continue
            if glob_match(rule.pattern, subject):
                winner = rule
                reason = f"'{rule.pattern}' matches '{subject}': {rule.action}"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, True, reason))
            else:
                reason = f"'{rule.pattern}' does not match '{subject}'"
                trials.append(RuleTrial(rule.index, rule.rule_id, rule.pattern, False, reason))
        return trials

    def outline(self) -> list[OutlineItem]:
        return [
            OutlineItem(r.index, r.rule_id, r.pattern, r.action, r.line, r.end_line) for r in self.rules
        ]


# Up to this many distinct subjects, evaluate_many matches by per-pattern bitmasks.
_BITMASK_LIMIT = 20_000


_SUBJECTS: dict[str, str] = {}
_REPO = re.compile(r"[a-z0-9_./-]{2,255}")
_HOST = re.compile(r"[a-z0-9.-]+(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def fast_subject(image: str) -> str | None:
    """The match subject of a plainly well-formed reference, or None to ask the full parser.

    Accepts only a subset of what `pullguard.engine.reference.parse_reference` accepts (lowercase host,
    at most one '@', a sha256 digest) and gives the same answer there (tests compare the two);
    it exists because simulating a fleet parses tens of thousands of references.
    """
    base, at, digest = image.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    colon = base.rfind(":")
    if colon >= 0 and "/" not in base[colon + 1:]:
        if not _TAG.fullmatch(base, colon + 1):
            return None
        base = base[:colon]
    slash = base.find("/")
    registry = ""
    repo = base
    if slash >= 0:
        first = base[:slash]
        if "." in first or ":" in first:
            registry, repo = first, base[slash + 1:]
            if not _HOST.fullmatch(registry):
                return None
    if not _REPO.fullmatch(repo):
        return None
    if not registry or registry == "docker.io":
        registry = "index.docker.io"
    if registry == "index.docker.io" and "/" not in repo:
        repo = "library/" + repo
    return f"{registry}/{repo}"


def _subject(image: str) -> str:
    """Match subject of an image reference, memoized across policies (the TUI re-simulates the
    same images on every keystroke); raises pullguard.engine.reference.ReferenceError."""
    subject = _SUBJECTS.get(image)
    if subject is None:
        subject = fast_subject(image)
        if subject is None:
            subject = parse_reference(image).context
        if len(_SUBJECTS) > 200_000:
            _SUBJECTS.clear()
        _SUBJECTS[image] = subject
    return subject


# -- loading ------------------------------------------------------------------------------


def _map_get(node: Node, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value
    return None


def _last_line(node: Node) -> int:
    """The last line that holds text of `node` (block nodes end where the next one starts)."""
    while isinstance(node, (MappingNode, SequenceNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    start_line = position(node)[0]
    line, column = end_position(node)
    if column == 1 and line > start_line:
        line -= 1  # block scalars (`|`) end at the start of the following line
    return max(line, start_line)


def detect(doc: Document) -> bool:
    """An `ImageVerificationConfig` document (any apiVersion; a wrong one is reported by load)."""
    kind = _map_get(doc.root, "kind") if doc.root is not None else None
    return kind is not None and scalar_str(kind) == KIND


class _Loader:
    def __init__(self, path: str):
        self.path = path
        self.diags: list[Diagnostic] = []

    def error(self, code, message, pos: Pos | None, fix=None, rule_index=None, end: Pos | None = None, severity="error"):
        line, column = pos if pos else (None, None)
        end_line, end_column = end if end else (None, None)
        self.diags.append(
            Diagnostic(severity, code, message, line, column, rule_index, end_line, end_column, fix)
        )

    def unknown_key(self, key: str, key_node: Node, allowed: tuple[str, ...], where: str) -> None:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            fix = f"did you mean '{close[0]}'?"
        else:
            fix = f"{where} allows only: " + ", ".join(allowed)
        self.error(
            "unknown-key",
            f"unknown key '{key}' in {where}",
            position(key_node),
            fix,
            end=end_position(key_node),
        )

    def wrong_type(self, what: str, expected: str, node: Node) -> None:
        self.error(
            "wrong-type",
            f"{what} must be {expected}, not {kind_name(node)}",
            position(node),
            None,
            end=end_position(node),
        )

    def string(self, what: str, node: Node) -> str:
        """A Go string field: any scalar (yaml.v3 takes its text), null is ''."""
        if is_null(node):
            return ""
        if isinstance(node, ScalarNode):
            return node.value
        self.wrong_type(what, "a string", node)
        return ""

    def boolean(self, what: str, node: Node) -> bool:
        if is_null(node):
            return False
        value = scalar_bool(node)
        if value is None:
            fix = "write true or false without quotes" if isinstance(node, ScalarNode) else None
            self.error(
                "wrong-type", f"{what} must be true or false, not {kind_name(node)}", position(node), fix,
                end=end_position(node),
            )
            return False
        return value

    # -- documents ------------------------------------------------------------------------

    def document(self, doc: Document) -> list[TalosRule] | None:
        root = doc.root
        if not isinstance(root, MappingNode):
            return None
        rules_node = None
        for key, key_node, value in mapping_items(root):
            if key == "apiVersion":
                version = scalar_str(value)
                if version != API_VERSION:
                    self.error(
                        "unsupported-api-version",
                        f"ImageVerificationConfig apiVersion must be '{API_VERSION}', not {kind_name(value)}",
                        position(value),
                        f"apiVersion: {API_VERSION}",
                        end=end_position(value),
                    )
            elif key == "kind":
                continue
            elif key == "rules":
                rules_node = value
            else:
                self.unknown_key(key, key_node, DOC_KEYS, "ImageVerificationConfig")
        if rules_node is None or is_null(rules_node):
            return []
        if not isinstance(rules_node, SequenceNode):
            self.wrong_type("rules", "a list", rules_node)
            return []
        return [self.rule(item, doc.index) for item in rules_node.value]

    def rule(self, node: Node, doc_index: int) -> TalosRule:
        line, column = position(node)
        end_line = _last_line(node)
        rule = TalosRule(-1, "", False, False, None, line, column, end_line, doc_index)
        if is_null(node):
            return rule  # `- ` with nothing: Go decodes an empty rule
        if not isinstance(node, MappingNode):
            self.wrong_type("a rule", "a mapping", node)
            return rule
        for key, key_node, value in mapping_items(node):
            rule.positions[key] = position(key_node)
            rule.positions[key + "="] = position(value)
            if key == "image":
                rule.pattern = self.string("image", value)
            elif key == "skip":
                rule.skip = self.boolean("skip", value)
            elif key == "deny":
                rule.deny = self.boolean("deny", value)
            elif key == "keyless":
                self.keyless(rule, value)
            elif key == "publicKey":
                self.public_key(rule, value)
            else:
                self.unknown_key(key, key_node, RULE_KEYS, "a rule")
        return rule

    def keyless(self, rule: TalosRule, node: Node) -> None:
        if is_null(node):  # a nil pointer in Go: no verifier
            return
        if not isinstance(node, MappingNode):
            self.wrong_type("keyless", "a mapping", node)
            return
        rule.has_keyless = True
        for key, key_node, value in mapping_items(node):
            rule.positions["keyless." + key] = position(key_node)
            rule.positions["keyless." + key + "="] = position(value)
            if key == "issuer":
                rule.issuer = self.string("keyless.issuer", value)
            elif key == "subject":
                rule.subject = self.string("keyless.subject", value)
            elif key == "subjectRegex":
                rule.subject_regex = self.string("keyless.subjectRegex", value)
            else:
                self.unknown_key(key, key_node, KEYLESS_KEYS, "keyless")

    def public_key(self, rule: TalosRule, node: Node) -> None:
        if is_null(node):
            return
        if not isinstance(node, MappingNode):
            self.wrong_type("publicKey", "a mapping", node)
            return
        rule.has_public_key = True
        for key, key_node, value in mapping_items(node):
            rule.positions["publicKey." + key] = position(key_node)
            rule.positions["publicKey." + key + "="] = position(value)
            if key == "certificate":
                rule.certificate = self.string("publicKey.certificate", value)
            else:
                self.unknown_key(key, key_node, PUBLIC_KEY_KEYS, "publicKey")


def merge(documents: list[list[TalosRule]]) -> tuple[list[TalosRule], list[tuple[TalosRule, TalosRule]]]:
    """Talos's `ImageVerificationRules.Merge`, applied document after document.

    Returns the merged rules and (replaced, replacement) pairs. Within one document duplicate
    patterns are all kept; a later document's rule replaces the *last* earlier rule with the
    same pattern (Talos indexes the existing rules by pattern, later ones overwrite earlier
    ones in that index), and the index is not updated while merging, so two rules of one
    later document with the same new pattern are both appended.
    """
    merged: list[TalosRule] = []
    replaced: list[tuple[TalosRule, TalosRule]] = []
    for n, rules in enumerate(documents):
        if n == 0:
            merged = list(rules)
            continue
        by_pattern = {rule.pattern: i for i, rule in enumerate(merged)}
        for rule in rules:
            i = by_pattern.get(rule.pattern)
            if i is None:
                merged.append(rule)
            else:
                replaced.append((merged[i], rule))
                merged[i] = rule
    for i, rule in enumerate(merged):
        rule.index = i
    return merged, replaced


def validate(rules: list[TalosRule], loader: _Loader) -> None:
    """Talos's `Validate`, word for word, each message placed where a person would fix it."""
    for rule in rules:
        i = rule.index
        p = rule.pattern
        start = (rule.line, rule.column)

        def err(code, message, pos, fix=None):
            loader.error(code, f"rule {i}: {message}", pos, fix, rule_index=i)

        def warn(code, message, pos, fix=None):
            loader.error(code, f"rule {i}: {message}", pos, fix, rule_index=i, severity="warning")

        if p == "":
            err(
                "talos-image-required",
                "imagePattern must be specified",
                rule.pos("image", value=True) if "image" in rule.positions else start,
                "add 'image: <registry>/<repository pattern>', e.g. 'image: ghcr.io/myorg/*'",
            )
        if "@" in p:
            head = p.split("@", 1)[0]
            warn(
                "talos-pattern-digest",
                "imagePattern contains '@' but matching only applies to the image registry and repository, not the tag or digest",
                rule.pos("image", value=True),
                f"drop the digest part: '{head}'",
            )
        if ":" in p:
            registry, slash, rest = p.partition("/")
            if slash and ":" in rest:
                fixed = registry + "/" + rest.split(":", 1)[0]
                warn(
                    "talos-pattern-tag",
                    "imagePattern contains ':' but matching only applies to the image registry and repository, not the tag or digest",
                    rule.pos("image", value=True),
                    f"drop the tag part: '{fixed}'",
                )
        if "/" not in p and p not in ("*", ""):
            warn(
                "talos-pattern-no-slash",
                "imagePattern does not contain a '/', image references like 'nginx' are matched as 'docker.io/nginx' (normalized)",
                rule.pos("image", value=True),
                f"write the normalized name, e.g. 'index.docker.io/library/{p}'",
            )
        has_verifier = rule.has_keyless or rule.has_public_key
        if rule.skip and rule.deny:
            err("talos-skip-and-deny", "skip and deny cannot both be true", rule.pos("deny"), "keep only one of skip or deny")
        if (rule.skip or rule.deny) and has_verifier:
            where = rule.pos("keyless") if rule.has_keyless else rule.pos("publicKey")
            err(
                "talos-verifier-with-action",
                "verifiers cannot be configured if skip or deny is true",
                where,
                "remove the verifier, or remove skip/deny to verify these images",
            )
        if not rule.skip and not rule.deny and not has_verifier:
            err(
                "talos-verifier-required",
                "at least one verifier must be configured",
                start,
                "add 'keyless: {issuer: ..., subject: ...}' or 'publicKey: {certificate: ...}', or 'skip: true' / 'deny: true'",
            )
        if rule.has_keyless and rule.has_public_key:
            err(
                "talos-two-verifiers",
                "only one of keyless or publicKey verifier can be configured",
                rule.pos("publicKey"),
                "split into two rules with different image patterns, or drop one verifier",
            )
        if rule.has_keyless:
            if rule.issuer == "":
                err(
                    "talos-issuer-required",
                    "verifier OIDC issuer must be specified",
                    rule.pos("keyless.issuer", value=True) if "keyless.issuer" in rule.positions else rule.pos("keyless"),
                    "add 'issuer:', e.g. 'https://token.actions.githubusercontent.com'",
                )
            if rule.subject == "" and rule.subject_regex == "":
                err(
                    "talos-subject-required",
                    "verifier subject or subjectRegex must be specified",
                    rule.pos("keyless"),
                    "add 'subject:' (exact identity) or 'subjectRegex:' (RE2, unanchored)",
                )
        if rule.has_public_key and rule.certificate == "":
            err(
                "talos-certificate-required",
                "verifier certificates must be specified",
                rule.pos("publicKey.certificate", value=True) if "publicKey.certificate" in rule.positions else rule.pos("publicKey"),
                "paste the signer's PEM 'PUBLIC KEY' block under 'certificate: |'",
            )


def _build_verifier(rule: TalosRule) -> None:
    if rule.has_keyless:
        rule.verifier = KeylessVerifier(
            issuer=rule.issuer or None,
            subject=rule.subject or None,
            subject_regex=rule.subject_regex or None,
            match="exact",
        )
    elif rule.has_public_key:
        from .talos_lints import key_fingerprint

        rule.verifier = PublicKeyVerifier(pem=rule.certificate, fingerprint=key_fingerprint(rule.certificate))


def load(docs: list[Document], path: str) -> tuple[TalosPolicy, list[Diagnostic]]:
    """Read, merge, validate (Talos) and lint (pullguard) every ImageVerificationConfig in `docs`."""
    from . import talos_lints

    loader = _Loader(path)
    per_doc: list[list[TalosRule]] = []
    ivc_docs: list[Document] = []
    for doc in docs:
        if doc.root is not None and detect(doc):
            rules = loader.document(doc)
            if rules is not None:
                per_doc.append(rules)
                ivc_docs.append(doc)
    rules, replaced = merge(per_doc)
    validate(rules, loader)
    for rule in rules:
        _build_verifier(rule)
    loader.diags.extend(talos_lints.lint(rules, replaced, ivc_docs))
    return TalosPolicy(rules), loader.diags


# -- registry mirrors ---------------------------------------------------------------------
#
# One parser for mirror documents: this walk over the YAML nodes (which knows where each
# value is written, for diagnostics) builds `pullguard.engine.registry.mirrors` objects, the ones the
# registry client routes with. pullguard.engine.registry knows nothing of policy files; it is imported
# only when the file has mirrors, so loading a policy without them stays light.


def registry_mirror_specs(docs: list[Document]) -> tuple[dict, list[Diagnostic]]:
    """Mirrors declared in the file, host (as written) -> `pullguard.engine.registry.mirrors.MirrorSpec`,
    and a warning for each entry that cannot be used (it is left out).

    Read: v1alpha1 `machine.registries.mirrors.<host>: {endpoints: [url], overridePath,
    skipFallback}` and `RegistryMirrorConfig` documents (`name`, `endpoints: [{url,
    overridePath}]`, `skipFallback`). A `RegistryMirrorConfig` for a host replaces a
    machine-config entry for the same host. Endpoints are checked as `--mirror` checks them
    (`http://`, `https://` or `oci:`, no credentials in the URL).
    """
    found: list[tuple[str, list, Node | None, bool]] = []  # (host, [(url, override, node)], sf node, replaces)
    for doc in docs:
        root = doc.root
        if not isinstance(root, MappingNode):
            continue
        kind_node = _map_get(root, "kind")
        kind = scalar_str(kind_node) if kind_node is not None else None
        if kind == "RegistryMirrorConfig":
            host = _scalar(_map_get(root, "name"))
            if not host:
                continue
            endpoints = []
            eps = _map_get(root, "endpoints")
            if isinstance(eps, SequenceNode):
                for ep in eps.value:
                    url_node = _map_get(ep, "url")
                    if url_node is not None and _scalar(url_node):
                        endpoints.append((_scalar(url_node), _flag(_map_get(ep, "overridePath")), url_node))
            found.append((host, endpoints, _map_get(root, "skipFallback"), True))
        elif kind is None:
            machine = _map_get(root, "machine")
            registries = _map_get(machine, "registries") if machine is not None else None
            table = _map_get(registries, "mirrors") if registries is not None else None
            if not isinstance(table, MappingNode):
                continue
            for host, _key, value in mapping_items(table):
                if not isinstance(value, MappingNode):
                    continue
                eps = _map_get(value, "endpoints")
                override = _flag(_map_get(value, "overridePath"))
                endpoints = []
                if isinstance(eps, SequenceNode):
                    endpoints = [(_scalar(e), override, e) for e in eps.value if _scalar(e)]
                found.append((host, endpoints, _map_get(value, "skipFallback"), False))
    if not found:
        return {}, []

    from ..registry.mirrors import MirrorConfigError, MirrorSpec, parse_endpoint

    specs: dict = {}
    diags: list[Diagnostic] = []
    for host, endpoints, skip_node, replaces in found:
        if host in specs and not replaces:
            continue  # the machine config's entry yields to a RegistryMirrorConfig for the host
        parsed = []
        for url, override, node in endpoints:
            try:
                parsed.append(parse_endpoint(url, where=f"mirror for {host}", override_path=override))
            except MirrorConfigError as exc:
                line, column = position(node)
                diags.append(Diagnostic("warning", "mirror-endpoint-invalid", f"{exc}; this endpoint is not used",
                                        line, column, None, *end_position(node)))
        specs[host] = MirrorSpec(tuple(parsed), _flag(skip_node))
    return specs, diags


def _scalar(node: Node | None) -> str | None:
    return scalar_str(node) if node is not None else None


def _flag(node: Node | None) -> bool:
    return bool(node is not None and scalar_bool(node))


def registry_mirror_configs(docs: list[Document]) -> dict:
    """host -> `pullguard.engine.registry.mirrors.MirrorSpec` (`.endpoints`: `Endpoint(url, override_path)`,
    `.skip_fallback`); entries that cannot be used are left out (`registry_mirror_specs` says why)."""
    return registry_mirror_specs(docs)[0]


def registry_mirrors(docs: list[Document]) -> dict[str, list[str]]:
    """host -> mirror endpoint URLs in the order they are tried (upstream comes after them
    unless `skipFallback`; see `registry_mirror_configs` for overridePath/skipFallback)."""
    return {host: [e.url for e in spec.endpoints] for host, spec in registry_mirror_configs(docs).items()}
