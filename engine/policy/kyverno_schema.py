"""The shape of a Kyverno ClusterPolicy/Policy, and a walker that reads YAML nodes against it.

Field names and types from kyverno/kyverno `api/kyverno/v1` (spec_types.go, rule_types.go,
match_resources_types.go, resource_description_types.go, user_info_types.go,
image_verification_types.go). Parts pullguard does not interpret (mutate, validate, generate,
context, preconditions, conditions, selectors) are read as opaque YAML.

The walker turns a mapping into an `Obj`: the decoded values (Go zero values where absent,
as the Go structs would hold them), which keys were written, and where. Unknown keys and wrong
types become diagnostics, never exceptions.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Union

from ..diagnostics import Diagnostic
from ..yamlsource import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    duplicate_key_diagnostic,
    end_position,
    is_null,
    kind_name,
    position,
    scalar_bool,
    scalar_int,
)

Pos = tuple[int, int]

# Field type specs: a string naming a leaf type, a Schema, or ("list", spec). NAME is a string
# that must be written as one: `name: 42` is a number once Kubernetes turns the YAML into JSON.
STR, BOOL, INT, STRLIST, STRMAP, ANY, MAP = "str", "bool", "int", "strlist", "strmap", "any", "map"
NAME = "name"


@dataclass(eq=False)  # compared by identity: specs are tested against leaf names often
class Schema:
    name: str  # how a person calls this object in messages: "verifyImages entry"
    fields: dict[str, object]

    def __post_init__(self) -> None:
        # Each field's Go zero value, shared by every Obj of this schema (read only). Fields
        # that name a Schema (set later for recursive ones) have the zero value None.
        self.zeros: dict[str, object] = {k: _zero(s) for k, s in self.fields.items()}


Spec = Union[str, Schema, tuple]


def listof(spec: Spec) -> tuple:
    return ("list", spec)


class Obj:
    """A decoded mapping: `get` gives every field of the schema (the Go zero value when absent).

    Only what was written is stored, and key/value nodes are looked up when a diagnostic needs
    a position: the editor decodes every mapping of the policy on every keystroke."""

    __slots__ = ("schema", "node", "values")

    def __init__(self, schema: Schema, node: Node, values: dict[str, object] | None = None):
        self.schema = schema
        self.node = node
        self.values: dict[str, object] = {} if values is None else values  # written, not null

    def get(self, key: str):
        values = self.values
        return values[key] if key in values else self.schema.zeros.get(key)

    def has(self, key: str) -> bool:
        """Written and not null (a Go pointer field that is non-nil)."""
        return key in self.values

    @property
    def start(self) -> Pos:
        return position(self.node)

    @property
    def end(self) -> Pos:
        return end_position(self.node)

    def _nodes(self, key: str) -> tuple[Node, Node] | None:
        found = None
        if isinstance(self.node, MappingNode):
            for key_node, value_node in self.node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == key:
                    found = (key_node, value_node)  # the last one, as decoding keeps it
        return found

    def key_pos(self, key: str) -> Pos:
        nodes = self._nodes(key)
        return position(nodes[0]) if nodes is not None else self.start

    def value_pos(self, key: str) -> Pos:
        nodes = self._nodes(key)
        return position(nodes[1]) if nodes is not None else self.start


@dataclass
class Seq:
    """A decoded list with its items' nodes."""

    node: Node
    items: list
    nodes: list[Node]


def _zero(spec: Spec):
    if not isinstance(spec, str):
        return None
    if spec == STR or spec == NAME:
        return ""
    if spec == BOOL:
        return False
    if spec == INT:
        return None
    if spec == STRLIST:
        return ()
    if spec == STRMAP:
        return MappingProxyType({})
    return None


class Walker:
    """Reads nodes against schemas, collecting diagnostics."""

    def __init__(self, report: Callable[[Diagnostic], None], rule_index: Callable[[], int | None] = lambda: None):
        self.report = report
        self.rule_index = rule_index

    def diag(self, severity, code, message, pos: Pos | None, fix=None, end: Pos | None = None):
        line, column = pos if pos else (None, None)
        end_line, end_column = end if end else (None, None)
        self.report(Diagnostic(severity, code, message, line, column, self.rule_index(), end_line, end_column, fix))

    def wrong_type(self, what: str, expected: str, node: Node) -> None:
        self.diag("error", "wrong-type", f"{what} must be {expected}, not {kind_name(node)}",
                  position(node), None, end_position(node))

    def check_string(self, what: str, node: ScalarNode) -> None:
        """A plain scalar in a string field that Kubernetes reads as a number or boolean: its
        YAML-to-JSON step (yaml.v2) makes `name: 42` a JSON number, which the API server and
        Kyverno refuse for a string ('cannot unmarshal number into ... of type string')."""
        kind = _not_a_string(node)
        if kind is not None:
            self.diag("error", "wrong-type", f"{what} must be a string, not the {kind} {node.value}",
                      position(node), f'quote it: "{node.value}"', end_position(node))

    def obj(self, schema: Schema, node: Node, what: str | None = None,
            hook: Callable[[str, Obj], bool] | None = None) -> Obj | None:
        """Decode a mapping; None (with a diagnostic) when the node is not a mapping.

        `hook(key, obj)` may claim a key before the schema does (returns True when it did)."""
        if is_null(node):
            return Obj(schema, node)
        if not isinstance(node, MappingNode):
            self.wrong_type(what or schema.name, "a mapping", node)
            return None
        values: dict[str, object] = {}
        out = Obj(schema, node, values)
        fields = schema.fields
        seen: dict[str, ScalarNode] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.diag("error", "wrong-type", f"keys in {schema.name} must be strings",
                          position(key_node), None, end_position(key_node))
                continue
            key = key_node.value
            earlier = seen.setdefault(key, key_node)
            if earlier is not key_node:  # the same words as the whole-document check (load_policy)
                self.report(duplicate_key_diagnostic(key_node, earlier, self.rule_index()))
            if hook is not None and hook(key, out):
                continue
            spec = fields.get(key)
            if spec is None:
                self.unknown_key(key, key_node, schema)
                continue
            if is_null(value_node):
                continue  # Go leaves the zero value; a pointer stays nil
            value = self.value(spec, value_node, f"'{key}'")
            if value is not None:
                values[key] = value
        return out

    def unknown_key(self, key: str, key_node: Node, schema: Schema) -> None:
        allowed = tuple(schema.fields)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if not close:  # wrong case is the commonest slip in camelCase names
            close = [a for a in allowed if a.lower() == key.lower()][:1]
        fix = f"did you mean '{close[0]}'?" if close else f"{schema.name} allows only: " + ", ".join(allowed)
        self.diag("error", "unknown-key", f"unknown key '{key}' in {schema.name}",
                  position(key_node), fix, end_position(key_node))

    def value(self, spec: Spec, node: Node, what: str):
        if isinstance(spec, Schema):
            return self.obj(spec, node, what)
        if isinstance(spec, tuple):
            if not isinstance(node, SequenceNode):
                self.wrong_type(what, "a list", node)
                return None
            items, nodes = [], []
            for item in node.value:
                v = None if is_null(item) else self.value(spec[1], item, f"an item of {what}")
                if v is None and isinstance(spec[1], Schema) and is_null(item):
                    v = self.obj(spec[1], item, what)  # `- ` decodes to an empty struct
                if v is not None:
                    items.append(v)
                    nodes.append(item)
            return Seq(node, items, nodes)
        if spec == STR or spec == NAME:
            if isinstance(node, ScalarNode):
                if spec == NAME and not node.style:  # plain: Kubernetes may read a number or a boolean
                    self.check_string(what, node)
                return node.value
            self.wrong_type(what, "a string", node)
            return None
        if spec == BOOL:
            v = scalar_bool(node)
            if v is None:
                fix = "write true or false without quotes" if isinstance(node, ScalarNode) else None
                self.diag("error", "wrong-type", f"{what} must be true or false, not {kind_name(node)}",
                          position(node), fix, end_position(node))
            return v
        if spec == INT:
            v = scalar_int(node)
            if v is None:
                self.wrong_type(what, "an integer", node)
            return v
        if spec == STRLIST:
            if not isinstance(node, SequenceNode):
                self.wrong_type(what, "a list of strings", node)
                return None
            out, nodes = [], []
            for item in node.value:
                if isinstance(item, ScalarNode) and not is_null(item):
                    out.append(item.value)
                    nodes.append(item)
                else:
                    self.wrong_type(f"an item of {what}", "a string", item)
            return Seq(node, out, nodes)
        if spec == STRMAP:
            if not isinstance(node, MappingNode):
                self.wrong_type(what, "a mapping of strings", node)
                return None
            out = {}
            for k, v in node.value:
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
                    if not v.style:
                        self.check_string(f"the value of '{k.value}' in {what}", v)
                    out[k.value] = "" if is_null(v) else v.value
                else:
                    self.wrong_type(f"a value of {what}", "a string", v)
            return out
        if spec == MAP:
            if not isinstance(node, MappingNode):
                self.wrong_type(what, "a mapping", node)
                return None
            return node
        return node  # ANY: opaque


# gopkg.in/yaml.v2's resolve.go (what sigs.k8s.io/yaml uses to turn YAML into JSON): plain
# scalars it reads as booleans, special floats, and the first characters worth a number parse.
_V2_BOOLEANS = frozenset("y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF".split())
_V2_FLOATS = frozenset(".nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split())
_V2_NUMBER_START = frozenset("+-.0123456789")
_V2_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_V2_TIMESTAMP = re.compile(r"[0-9]{4}-")


def _not_a_string(node: ScalarNode) -> str | None:
    """'number' or 'boolean' when yaml.v2 resolves this plain scalar so; None for a string."""
    value = node.value
    if value in _V2_BOOLEANS:
        kind = "boolean"
    elif value in _V2_FLOATS:
        kind = "number"
    elif not value or value[0] not in _V2_NUMBER_START or _V2_TIMESTAMP.match(value):
        return None  # yaml.v2 hands timestamps to JSON as the text written
    elif _v2_number(value):
        kind = "number"
    else:
        return None
    if node.tag == "tag:yaml.org,2002:str" and _implicit_tag(value) != node.tag:
        return None  # an explicit `!!str 42`
    return kind


def _v2_number(value: str) -> bool:
    plain = value.replace("_", "")
    if value[0] == ".":
        return _V2_FLOAT.fullmatch(plain) is not None
    try:  # Go's ParseInt/ParseUint with base 0 (0x, 0o, 0b prefixes), int64/uint64 range
        number = int(plain, 0)
        if -(1 << 63) <= number < (1 << 64):
            return True
    except ValueError:
        if re.fullmatch(r"[-+]?0[0-7]+", plain):  # Go reads a leading 0 as octal
            return True
    return _V2_FLOAT.fullmatch(plain) is not None


def _implicit_tag(value: str) -> str:
    import yaml

    return yaml.resolver.Resolver().resolve(ScalarNode, value, (True, False))


def seq_items(value) -> list:
    return value.items if isinstance(value, Seq) else []


# --- the schemas ---------------------------------------------------------------------------

REKOR = Schema("rekor", {"url": STR, "pubkey": STR, "ignoreTlog": BOOL})
CTLOG = Schema("ctlog", {"ignoreSCT": BOOL, "pubkey": STR, "tsaCertChain": STR})
SECRET = Schema("keys.secret", {"name": NAME, "namespace": NAME})
KEYS = Schema("keys", {
    "publicKeys": STR, "signatureAlgorithm": STR, "kms": STR, "secret": SECRET,
    "rekor": REKOR, "ctlog": CTLOG,
})
CERTIFICATES = Schema("certificates", {"cert": STR, "certChain": STR, "rekor": REKOR, "ctlog": CTLOG})
KEYLESS = Schema("keyless", {
    "rekor": REKOR, "ctlog": CTLOG, "issuer": STR, "issuerRegExp": STR, "subject": STR,
    "subjectRegExp": STR, "roots": STR, "additionalExtensions": STRMAP,
})
ATTESTOR = Schema("attestor entry", {
    "keys": KEYS, "certificates": CERTIFICATES, "keyless": KEYLESS, "attestor": None,
    "annotations": STRMAP, "repository": STR, "signatureAlgorithm": STR,
})
ATTESTOR_SET = Schema("attestors item", {"count": INT, "entries": listof(ATTESTOR)})
ATTESTOR.fields["attestor"] = ATTESTOR_SET  # a nested attestor set (apiextensions JSON)
ATTESTATION = Schema("attestation", {
    "name": NAME, "predicateType": STR, "type": STR, "attestors": listof(ATTESTOR_SET), "conditions": ANY,
})
CREDENTIALS = Schema("imageRegistryCredentials", {
    "allowInsecureRegistry": BOOL, "providers": STRLIST, "secrets": STRLIST,
})
IV_VALIDATE = Schema("verifyImages validate", {"message": STR, "deny": ANY})
VERIFY_IMAGES = Schema("verifyImages entry", {
    "failureAction": STR, "type": STR, "image": STR, "imageReferences": STRLIST,
    "skipImageReferences": STRLIST, "key": STR, "roots": STR, "subject": STR, "issuer": STR,
    "additionalExtensions": STRMAP, "attestors": listof(ATTESTOR_SET),
    "attestations": listof(ATTESTATION), "annotations": STRMAP, "repository": STR,
    "cosignOCI11": BOOL, "mutateDigest": BOOL, "verifyDigest": BOOL, "validate": IV_VALIDATE,
    "required": BOOL, "imageRegistryCredentials": CREDENTIALS, "useCache": BOOL,
})
RESOURCE_DESCRIPTION = Schema("resources", {
    "kinds": STRLIST, "name": STR, "names": STRLIST, "namespaces": STRLIST, "annotations": STRMAP,
    "selector": ANY, "namespaceSelector": ANY, "operations": STRLIST,
})
_USER_INFO = {"roles": STRLIST, "clusterRoles": STRLIST, "subjects": ANY}
RESOURCE_FILTER = Schema("match/exclude filter", {"resources": RESOURCE_DESCRIPTION, **_USER_INFO})
MATCH = Schema("match", {
    "any": listof(RESOURCE_FILTER), "all": listof(RESOURCE_FILTER),
    "resources": RESOURCE_DESCRIPTION, **_USER_INFO,
})
EXCLUDE = Schema("exclude", dict(MATCH.fields))
RULE = Schema("rule", {
    "name": NAME, "context": ANY, "reportProperties": STRMAP, "match": MATCH, "exclude": EXCLUDE,
    "imageExtractors": ANY, "preconditions": ANY, "celPreconditions": ANY, "mutate": ANY,
    "validate": ANY, "generate": ANY, "verifyImages": listof(VERIFY_IMAGES),
    "skipBackgroundRequests": BOOL,
})
SPEC = Schema("spec", {
    "rules": listof(RULE), "applyRules": STR, "failurePolicy": STR, "validationFailureAction": STR,
    "validationFailureActionOverrides": ANY, "emitWarning": BOOL, "admission": BOOL,
    "background": BOOL, "schemaValidation": BOOL, "webhookTimeoutSeconds": INT,
    "mutateExistingOnPolicyUpdate": BOOL, "generateExisting": BOOL,
    "generateExistingOnPolicyUpdate": BOOL, "useServerSideApply": BOOL,
    "webhookConfiguration": ANY,
})
METADATA = Schema("metadata", {
    "name": NAME, "namespace": NAME, "annotations": STRMAP, "labels": STRMAP, "generateName": NAME,
    "uid": STR, "resourceVersion": STR, "generation": ANY, "creationTimestamp": ANY,
    "managedFields": ANY, "finalizers": ANY, "ownerReferences": ANY, "deletionTimestamp": ANY,
    "deletionGracePeriodSeconds": ANY, "selfLink": STR,
})
POLICY = Schema("policy", {"apiVersion": STR, "kind": STR, "metadata": METADATA, "spec": SPEC, "status": ANY})
