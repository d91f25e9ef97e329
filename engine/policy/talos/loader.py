"""Reading Talos `ImageVerificationConfig` documents (v1alpha1) into rules, the way Talos does.

Measured from siderolabs/talos v1.13 `pkg/machinery/config/types/security/image_verification.go`
(the fields, Talos's strict decoding) and `ImageVerificationRules.Merge`.

Several `ImageVerificationConfig` documents in one file are merged the way Talos merges a
patch into a config: a rule whose `image` equals a rule already present replaces it in place,
any other rule is appended. Talos validates the merged config, so validation messages use the
0-based index in the merged list (which is also the number in the rule id), and a rule that a
later document replaced is not validated (only reported as replaced). Key and type errors are
reported for every document, as Talos's strict decoder refuses them before merging.
"""

from __future__ import annotations

from ...diagnostics import Diagnostic, reindent
from ...vocabulary import KeylessVerifier, PublicKeyVerifier
from ...yamlschema import TALOS, Walker
from ...yamlsource import (
    Document,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    end_position,
    is_null,
    kind_name,
    map_get,
    mapping_items,
    position,
    scalar_str,
)
from . import lints
from .evaluate import TalosPolicy
from .rules import API_VERSION, KIND, TalosRule, last_line
from .validation import validate

DOC_KEYS = ("apiVersion", "kind", "rules")
RULE_KEYS = ("image", "skip", "deny", "keyless", "publicKey")
KEYLESS_KEYS = ("issuer", "subject", "subjectRegex")
PUBLIC_KEY_KEYS = ("certificate",)
# A scalar with this tag is text, never null: what Go decodes into a string field is its value.
_STR_TAG = "tag:yaml.org,2002:str"
# Booleans as yaml.v3 decodes them, written plain; other spellings (and errors) by the walker.
_PLAIN_BOOLS = {"true": True, "false": False}


def _last_item(node: SequenceNode) -> Node | None:
    return node.value[-1] if node.value else None


def detect(doc: Document) -> bool:
    """An `ImageVerificationConfig` document (any apiVersion; a wrong one is reported by load)."""
    kind = map_get(doc.root, "kind") if doc.root is not None else None
    return kind is not None and scalar_str(kind) == KIND


class _Loader:
    """Reads `ImageVerificationConfig` documents into rules, every finding through one
    `yamlschema.Walker` in Talos's words (yaml.v3 strict decoding). With `record_positions`
    (a full load), each rule records where its parts are as it is read; without (errors only),
    it keeps its node to find them when asked (`TalosRule.positions`)."""

    def __init__(self, path: str, record_positions: bool = True):
        self.path = path
        self.record_positions = record_positions
        self.diags: list[Diagnostic] = []
        self.walk = Walker(self.diags.append, wording=TALOS)

    # A fleet's policy is thousands of rules: their text and plain true/false (nearly all there
    # is) are read here without a call into the walker, which reads and reports the rest.

    def boolean(self, what: str, node: Node) -> bool:
        """A Go bool field: null is false; anything but true/false is reported (and false)."""
        if isinstance(node, ScalarNode) and not node.style:
            plain = _PLAIN_BOOLS.get(node.value)
            if plain is not None:
                return plain
        if is_null(node):
            return False
        return bool(self.walk.boolean(what, node))

    def text(self, what: str, node: Node) -> str:
        """A Go string field (yaml.v3): a scalar's text, null is ''; a collection is reported."""
        if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
            text: str = node.value
            return text
        return self.walk.go_string(what, node)

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
                    self.walk.diag(
                        "error",
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
            elif key in RULE_KEYS and isinstance(rules_node, SequenceNode) and isinstance(last_rule := _last_item(rules_node), MappingNode):
                self.rule_key_outside(key, key_node, last_rule)
            else:
                self.walk.unknown_key(key, key_node, DOC_KEYS, "ImageVerificationConfig")
        if rules_node is None or is_null(rules_node):
            return []
        if not isinstance(rules_node, SequenceNode):
            self.walk.wrong_type("rules", "a list", rules_node)
            return []
        return [self.rule(item, doc.index) for item in rules_node.value]

    def rule_key_outside(self, key: str, key_node: Node, last_rule: MappingNode) -> None:
        """A rule's key written at the document's level after `rules:` (a new line that lost its
        indentation): the fix indents it under the last rule, with its keys."""
        line, column = position(key_node)
        wanted = position(last_rule.value[0][0])[1] if last_rule.value else position(last_rule)[1]
        self.walk.report(Diagnostic(
            "error", "unknown-key",
            f"unknown key '{key}' in ImageVerificationConfig: '{key}' is a rule's key, written outside the rule",
            line, column, self.walk.rule_index(), *end_position(key_node),
            fix=f"indent it under the rule: start it at column {wanted}, like the rule's other keys",
            edits=(reindent(line, column, wanted),),
        ))

    def rule(self, node: Node, doc_index: int) -> TalosRule:
        line, column = position(node)
        record = self.record_positions
        rule = TalosRule(-1, "", False, False, None, line, column, doc_index, None if record else node)
        if record:
            rule.end_line = last_line(node)
        if is_null(node):
            return rule  # `- ` with nothing: Go decodes an empty rule
        if not isinstance(node, MappingNode):
            self.walk.wrong_type("a rule", "a mapping", node)
            return rule
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node.value)
            if record:
                rule.positions[key] = position(key_node)
                rule.positions[key + "="] = position(value)
                rule.positions[key + "=end"] = end_position(value)
            if key == "image":
                rule.pattern = self.text("image", value)
            elif key == "skip":
                rule.skip = self.boolean("skip", value)
            elif key == "deny":
                rule.deny = self.boolean("deny", value)
            elif key == "keyless":
                self.keyless(rule, value)
            elif key == "publicKey":
                self.public_key(rule, value)
            else:
                self.walk.unknown_key(key, key_node, RULE_KEYS, "a rule")
        return rule

    def keyless(self, rule: TalosRule, node: Node) -> None:
        if is_null(node):  # a nil pointer in Go: no verifier
            return
        if not isinstance(node, MappingNode):
            self.walk.wrong_type("keyless", "a mapping", node)
            return
        rule.has_keyless = True
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node.value)
            if self.record_positions:
                rule.positions["keyless." + key] = position(key_node)
                rule.positions["keyless." + key + "="] = position(value)
            if key == "issuer":
                rule.issuer = self.text("keyless.issuer", value)
            elif key == "subject":
                rule.subject = self.text("keyless.subject", value)
            elif key == "subjectRegex":
                rule.subject_regex = self.text("keyless.subjectRegex", value)
            else:
                self.walk.unknown_key(key, key_node, KEYLESS_KEYS, "keyless")

    def public_key(self, rule: TalosRule, node: Node) -> None:
        if is_null(node):
            return
        if not isinstance(node, MappingNode):
            self.walk.wrong_type("publicKey", "a mapping", node)
            return
        rule.has_public_key = True
        for key, key_node, value in mapping_items(node):
            if self.record_positions:
                rule.positions["publicKey." + key] = position(key_node)
                rule.positions["publicKey." + key + "="] = position(value)
            if key == "certificate":
                rule.certificate = self.text("publicKey.certificate", value)
            else:
                self.walk.unknown_key(key, key_node, PUBLIC_KEY_KEYS, "publicKey")


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


def _build_verifier(rule: TalosRule) -> None:
    if rule.has_keyless:
        rule.verifier = KeylessVerifier(
            issuer=rule.issuer or None,
            subject=rule.subject or None,
            subject_regex=rule.subject_regex or None,
            match="exact",
        )
    elif rule.has_public_key:
        rule.verifier = PublicKeyVerifier(pem=rule.certificate, fingerprint=lints.key_fingerprint(rule.certificate))


def load(docs: list[Document], path: str, errors_only: bool = False) -> tuple[TalosPolicy, list[Diagnostic]]:
    """Read, merge, validate (Talos) and lint (pullguard) every ImageVerificationConfig in `docs`
    (with `errors_only`, the lints that can only warn are skipped)."""
    loader = _Loader(path, record_positions=not errors_only)
    per_doc: list[list[TalosRule]] = []
    ivc_docs: list[Document] = []
    for doc in docs:
        if doc.root is not None and detect(doc):
            rules = loader.document(doc)
            if rules is not None:
                per_doc.append(rules)
                ivc_docs.append(doc)
    rules, replaced = merge(per_doc)
    loader.diags.extend(validate(rules))
    for rule in rules:
        if rule.has_keyless or rule.has_public_key:  # not skip/deny rules, a fleet's many
            _build_verifier(rule)
    loader.diags.extend(lints.lint(rules, replaced, ivc_docs, errors_only))
    return TalosPolicy(rules), loader.diags
