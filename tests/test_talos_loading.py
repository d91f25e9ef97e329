"""Loading Talos policies: strict keys, types as Go decodes them, multi-document merge, mirrors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.talos.mirrors import DeclaredMirrors, read_mirrors
from pullguard.engine.yamlsource import compose

HEAD = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\n"


def diags(text, code=None):
    loaded = load_policy(textwrap.dedent(text), "p.yaml")
    return [d for d in loaded.diagnostics if code is None or d.code == code]


@pytest.mark.parametrize(
    "text,message,line,column,fix",
    [
        (HEAD + "rules:\n  - imag: a.io/*\n", "unknown key 'imag' in a rule", 4, 5, "did you mean 'image'?"),
        (HEAD + "rule:\n  - image: a.io/*\n", "unknown key 'rule' in ImageVerificationConfig", 3, 1, "did you mean 'rules'?"),
        (HEAD + "rules:\n  - image: a.io/*\n    keyless: {issuer: i, subjectRegx: s}\n", "unknown key 'subjectRegx' in keyless", 5, 26,
         "did you mean 'subjectRegex'?"),
        (HEAD + "rules:\n  - image: a.io/*\n    publicKey: {cert: x}\n", "unknown key 'cert' in publicKey", 5, 17, None),
        (HEAD + "rules:\n  - image: a.io/*\n    zzz: 1\n", "unknown key 'zzz' in a rule", 5, 5, None),
    ],
)
def test_unknown_keys(text, message, line, column, fix):
    found = diags(text, "unknown-key")
    assert [(d.message, d.line, d.column, d.severity) for d in found] == [(message, line, column, "error")]
    if fix:
        assert found[0].fix == fix
    else:
        assert "allows only" in found[0].fix


@pytest.mark.parametrize(
    "rules,message",
    [
        ("  - image: a.io/*\n    skip: 'true'\n", "skip must be true or false, not 'true'"),
        ("  - image: a.io/*\n    skip: [1]\n", "skip must be true or false, not a list"),
        ("  - image: [a]\n    skip: true\n", "image must be a string, not a list"),
        ("  - image: a.io/*\n    keyless: yes-please\n", "keyless must be a mapping, not 'yes-please'"),
        ("  - image: a.io/*\n    publicKey: [x]\n", "publicKey must be a mapping, not a list"),
        ("  - just-a-string\n", "a rule must be a mapping, not 'just-a-string'"),
    ],
)
def test_wrong_types_are_errors(rules, message):
    found = diags(HEAD + "rules:\n" + rules, "wrong-type")
    assert [d.message for d in found] == [message]
    assert found[0].line is not None


def test_rules_not_a_list():
    assert [d.message for d in diags(HEAD + "rules: {a: 1}\n", "wrong-type")] == ["rules must be a list, not a mapping"]


@pytest.mark.parametrize("value,expected", [("true", True), ("yes", True), ("on", True), ("false", False), ("", False)])
def test_yaml_booleans_as_yaml_v3_decodes_them(value, expected):
    loaded = load_policy(HEAD + f"rules:\n  - image: a.io/*\n    skip: {value}\n    deny: {'false' if expected else 'true'}\n")
    assert loaded.policy.rules[0].skip is expected
    assert loaded.errors == 0


def test_numbers_decode_into_string_fields():
    # yaml.v3 puts the text of any scalar into a string field.
    loaded = load_policy(HEAD + "rules:\n  - image: 1234\n    deny: true\n")
    assert loaded.policy.rules[0].pattern == "1234"


# The loader reads text and plain true/false itself, everything else through the walker: both
# must decode as yaml.v3 does, in a full load and in simulate's errors-only load alike.
@pytest.mark.parametrize("rule,fields,errors", [
    ("image: a.io/*\n    skip: true", ("a.io/*", True, False, "", ""), 0),
    ("image: a.io/*\n    skip: True", ("a.io/*", True, False, "", ""), 0),
    ("image: a.io/*\n    skip: !!str true", ("a.io/*", True, False, "", ""), 0),
    ("image: a.io/*\n    skip: 'false'", ("a.io/*", False, False, "", ""), 2),
    ("image: a.io/*\n    deny: ~", ("a.io/*", False, False, "", ""), 1),
    ("image: null\n    deny: true", ("", False, True, "", ""), 1),
    ("image: !!str 12\n    deny: true", ("12", False, True, "", ""), 0),
    ("image: 'a.io/\u00e9*'\n    deny: true", ("a.io/\u00e9*", False, True, "", ""), 0),
    ("image: a.io/*\n    keyless: {issuer: null, subject: 5}", ("a.io/*", False, False, "", "5"), 1),
    ("image: a.io/*\n    keyless: {issuer: !!str null, subject: [s]}", ("a.io/*", False, False, "null", ""), 2),
])
def test_fields_decode_alike_whichever_reader_reads_them(rule, fields, errors):
    for errors_only in (False, True):
        loaded = load_policy(HEAD + "rules:\n  - " + rule + "\n", "p.yaml", errors_only)
        found = loaded.policy.rules[0]
        assert (found.pattern, found.skip, found.deny, found.issuer, found.subject) == fields
        assert loaded.errors == errors


def test_wrong_api_version():
    found = diags("apiVersion: v1alpha2\nkind: ImageVerificationConfig\nrules: []\n", "unsupported-api-version")
    assert [(d.line, d.column, d.fix) for d in found] == [(1, 13, "apiVersion: v1alpha1")]


@pytest.mark.parametrize(
    "text,line",
    [
        (HEAD + "rules:\n  - image: [a\n", 5),
        (HEAD + "rules:\n - image: a\n  skip: true\n", 5),
        ("kind: a: b\n", 1),
    ],
)
def test_yaml_syntax_errors_have_a_line(text, line):
    found = diags(text, "yaml-syntax")
    assert len(found) == 1 and found[0].line == line and found[0].severity == "error"


# (text, [(line, column, message)]): yaml.v3 (Talos's decoder) refuses a key written twice in a mapping
DUPLICATE_KEYS = [
    (HEAD + "rules:\n  - {image: a.io/*, deny: true}\nrules:\n  - {image: b.io/*, deny: true}\n",
     [(5, 1, 'mapping key "rules" already defined at line 3')]),
    (HEAD + "rules:\n  - image: a.io/*\n    deny: true\n    image: b.io/*\n",
     [(6, 5, 'mapping key "image" already defined at line 4')]),
    (HEAD + "rules:\n  - image: a.io/*\n    keyless: {issuer: i, subject: s, issuer: j}\n",
     [(5, 38, 'mapping key "issuer" already defined at line 5')]),
    (HEAD + "kind: ImageVerificationConfig\nrules: []\n", [(3, 1, 'mapping key "kind" already defined at line 2')]),
    (HEAD + "rules:\n  - image: a.io/*\n    'deny': true\n    deny: false\n",  # quoting does not make a new key
     [(6, 5, 'mapping key "deny" already defined at line 5')]),
    # an anchored mapping used twice is one mapping: reported once
    (HEAD + "x-key: &k {issuer: i, issuer: j}\nrules:\n  - {image: a.io/*, keyless: *k}\n  - {image: b.io/*, keyless: *k}\n",
     [(3, 23, 'mapping key "issuer" already defined at line 3')]),
    # the same key in two different mappings, and in two documents, is fine
    (HEAD + "rules:\n  - {image: a.io/*, deny: true}\n  - {image: b.io/*, deny: true}\n---\n" + HEAD + "rules: []\n", []),
    # documents pullguard does not read as policy are Talos's business, not this file's
    ("machine: {type: worker, type: controlplane}\n---\n" + HEAD + "rules: []\n", []),
]


@pytest.mark.parametrize("text,expected", DUPLICATE_KEYS)
def test_duplicate_keys_are_errors(text, expected):
    loaded = load_policy(text, "p.yaml")
    found = [d for d in loaded.diagnostics if d.code == "duplicate-key"]
    assert [(d.line, d.column, d.message) for d in found] == expected
    assert all(d.severity == "error" and "remove" in d.fix for d in found)
    assert loaded.errors >= len(expected)


MERGE_BASE = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/talos*
    skip: true
  - image: docker.io/*
    keyless:
      issuer: https://accounts.google.com
      subject: user@example.com
  - image: "**"
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: https://github.com/fallbackorg/.*
---
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/talos*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: https://github.com/differentorg/.*
  - image: "**"
    skip: true
"""


def test_merge_as_talos_merge_test():
    # TestImageVerificationConfigMerge: replaced in place, order kept, no append.
    loaded = load_policy(MERGE_BASE)
    rules = loaded.policy.rules
    assert [(r.pattern, r.action, r.line) for r in rules] == [
        ("ghcr.io/siderolabs/talos*", "verify", 18),
        ("docker.io/*", "verify", 6),
        ("**", "skip", 22),
    ]
    assert rules[0].verifier.subject_regex == "https://github.com/differentorg/.*"
    codes = [d.code for d in loaded.diagnostics]
    assert codes.count("rule-replaced") == 2 and codes.count("duplicate-document") == 1


@pytest.mark.parametrize(
    "docs,expected",
    [
        # within one document duplicates are both kept
        ([["a.io/*", "a.io/*"]], ["a.io/*#0", "a.io/*#0"]),
        # a new pattern is appended after the earlier rules
        ([["a.io/*"], ["b.io/*"]], ["a.io/*#0", "b.io/*#1"]),
        # a later document replaces the last earlier rule with that pattern
        ([["a.io/*", "a.io/*"], ["a.io/*"]], ["a.io/*#0", "a.io/*#1"]),
        # two new rules with the same pattern in one later document are both appended
        ([["a.io/*"], ["b.io/*", "b.io/*"]], ["a.io/*#0", "b.io/*#1", "b.io/*#1"]),
        # three documents, replacement across all of them
        ([["a.io/*", "b.io/*"], ["b.io/*"], ["a.io/*", "c.io/*"]], ["a.io/*#2", "b.io/*#1", "c.io/*#2"]),
    ],
)
def test_merge_table(docs, expected):
    text = "---\n".join(
        HEAD + "rules:\n" + "".join(f"  - image: {p}\n    deny: true\n" for p in doc) for doc in docs
    )
    loaded = load_policy(text)
    assert [f"{r.pattern}#{r.doc_index}" for r in loaded.policy.rules] == expected
    assert [r.rule_id for r in loaded.policy.rules] == [f"{i:04d}" for i in range(len(expected))]


def test_other_documents_ignored_and_mirrors_read():
    text = textwrap.dedent(
        """\
        version: v1alpha1
        machine:
          type: worker
          registries:
            mirrors:
              docker.io:
                endpoints: [https://mirror.example/v2, http://10.0.0.1:5000]
                skipFallback: true
        cluster: {}
        ---
        apiVersion: v1alpha1
        kind: RegistryMirrorConfig
        name: ghcr.io
        endpoints:
          - url: https://ghcr-mirror.example
          - url: http://my-harbor/v2/ghcr.io/
            overridePath: true
        skipFallback: true
        ---
        apiVersion: v1alpha1
        kind: ImageVerificationConfig
        rules:
          - image: ghcr.io/*
            deny: true
        """
    )
    loaded = load_policy(text)
    assert loaded.errors == 0 and loaded.dialect == "talos"
    assert [r.pattern for r in loaded.policy.rules] == ["ghcr.io/*"]
    assert loaded.policy.rules[0].line == 23
    assert loaded.mirrors == {
        "docker.io": ["https://mirror.example/v2", "http://10.0.0.1:5000"],
        "ghcr.io": ["https://ghcr-mirror.example", "http://my-harbor/v2/ghcr.io/"],
    }
    docs, _ = compose(text)
    configs = read_mirrors(docs)[0]
    assert configs["docker.io"].skip_fallback is True
    assert [e.override_path for e in configs["ghcr.io"].endpoints] == [False, True]


# An empty or comment-only file is the same `no-policy` error as a machine config without an
# ImageVerificationConfig (it used to load as an empty Talos policy that `check` called ok).
@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# just a comment\n", "  # indented comment\n# another\n", "---\n", "---\n# c\n---\n",
     "\ufeff# comment after a BOM\n",
     "version: v1alpha1\nmachine: {type: worker}\n"],
    ids=["empty", "blank-lines", "comment", "comments", "empty-document", "empty-documents", "bom", "machine-config"],
)
def test_empty_or_comment_only_file_is_no_policy(text):
    loaded = load_policy(text, "p.yaml")
    assert [(d.code, d.severity, d.line, d.column) for d in loaded.diagnostics] == [("no-policy", "error", 1, 1)]
    assert loaded.dialect is None and loaded.policy is None and loaded.errors == 1


def test_outline_spans_each_rule():
    text = (HEAD + "rules:\n  - image: a.io/*\n    deny: true\n\n"
            "  - image: b.io/*\n    publicKey:\n      certificate: |\n        x\n        y\n")
    outline = load_policy(text).policy.outline()
    assert [(o.rule_id, o.pattern, o.action, o.line, o.end_line) for o in outline] == [
        ("0000", "a.io/*", "deny", 4, 5),
        ("0001", "b.io/*", "verify", 7, 11),
    ]


# Mirror documents, read as plain data (engine.endpoints specs) for the registry client.
# (file text, host -> [(url, overridePath)], hosts with skipFallback, warnings as (line, column, fragment))
MIRROR_FILES = [
    ("machine:\n  registries:\n    mirrors:\n      docker.io:\n        endpoints: [https://m1, ftp://bad]\n",
     {"docker.io": [("https://m1", False)]}, set(),
     [(5, 33, "mirror for docker.io: endpoint 'ftp://bad' must start with http://, https:// or oci:")]),
    ("kind: RegistryMirrorConfig\nname: ghcr.io\nendpoints:\n  - url: https://u:p@m\n  - url: https://harbor/v2/ghcr\n"
     "    overridePath: true\n  - url: oci:./layout\nskipFallback: true\n",
     {"ghcr.io": [("https://harbor/v2/ghcr", True), ("oci:./layout", False)]}, {"ghcr.io"},
     [(4, 10, "credentials in the endpoint URL are not supported")]),
    # A RegistryMirrorConfig replaces the machine config's entry for the same host, in either order.
    ("machine:\n  registries:\n    mirrors:\n      ghcr.io: {endpoints: [https://old]}\n---\n"
     "kind: RegistryMirrorConfig\nname: ghcr.io\nendpoints: [{url: https://new}]\n",
     {"ghcr.io": [("https://new", False)]}, set(), []),
    ("kind: RegistryMirrorConfig\nname: ghcr.io\nendpoints: [{url: https://new}]\n---\n"
     "machine:\n  registries:\n    mirrors:\n      ghcr.io: {endpoints: [https://old], overridePath: true}\n",
     {"ghcr.io": [("https://new", False)]}, set(), []),
    ("kind: ImageVerificationConfig\nrules: []\n", {}, set(), []),
]


@pytest.mark.parametrize("text, mirrors, skip_fallback, warnings", MIRROR_FILES)
def test_mirror_documents_are_read_as_plain_data(text, mirrors, skip_fallback, warnings):
    from pullguard.engine.endpoints import EndpointSpec

    docs, _ = compose(text)
    specs, diags = read_mirrors(docs)
    assert all(isinstance(spec, DeclaredMirrors) and all(isinstance(e, EndpointSpec) for e in spec.endpoints)
               for spec in specs.values())
    assert {h: [(e.url, e.override_path) for e in spec.endpoints] for h, spec in specs.items()} == mirrors
    assert {h for h, spec in specs.items() if spec.skip_fallback} == skip_fallback
    assert [(d.severity, d.code, d.line, d.column) for d in diags] == [
        ("warning", "mirror-endpoint-invalid", line, column) for line, column, _ in warnings]
    for d, (_, _, fragment) in zip(diags, warnings, strict=True):
        assert fragment in d.message and "u:p@" not in d.message
    assert load_policy(text).mirrors == {h: [u for u, _ in eps] for h, eps in mirrors.items()}


def test_an_unusable_mirror_endpoint_is_a_warning_with_its_position():
    from pullguard.engine.policy import load_policy

    text = (
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: '*'\n    deny: true\n"
        "---\napiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: ghcr.io\n"
        "endpoints:\n  - url: ftp://mirror.example\n  - url: oci:layout\n"
    )
    loaded = load_policy(text, "dir/p.yaml")
    warnings = [d for d in loaded.diagnostics if d.code == "mirror-endpoint-invalid"]
    assert [(d.severity, d.line, d.column) for d in warnings] == [("warning", 11, 10)]
    assert loaded.mirrors == {"ghcr.io": ["oci:dir/layout"]}


WHERE_CASES = [
    HEAD + "rules:\n  - image: 'ghcr.io/acme/*'\n    keyless:\n      issuer: https://i\n      subjectRegex: '^x$'\n"
    "  - image: a.io/*\n    publicKey: {certificate: x, other: 1}\n  - image: b.io/*\n    skip: true\n    skip: false\n",
    HEAD + "rules:\n  -\n  - image: a.io/*\n    keyless:\n  - image: a.io/*\n    keyless: 3\n  - [1, 2]\n"
    "  - image: |\n      c.io/*\n    deny: true\n  - ? [k]\n    : v\n    image: d.io/*\n",
    HEAD + "rules:\n  - {image: x.io/*, keyless: {issuer: i}, keyless: {subject: s}}\n---\n" + HEAD
    + "rules:\n  - image: x.io/*\n    deny: true\n",
]


@pytest.mark.parametrize("text", WHERE_CASES + [
    (Path(__file__).resolve().parents[1] / "samples" / "talos" / "policy.yaml").read_text()])
def test_a_rule_kept_with_its_node_finds_its_parts_where_a_full_load_records_them(text: str) -> None:
    # simulate's errors-only load keeps each rule's node and reads positions when asked; the
    # full load records them as it reads: the same places, the same last line.
    full = load_policy(text, "p.yaml").policy
    lean = load_policy(text, "p.yaml", errors_only=True).policy
    assert full is not None and lean is not None
    assert [(r.positions, r.end_line, r.line, r.column) for r in lean.rules] == [
        (r.positions, r.end_line, r.line, r.column) for r in full.rules]
    assert all(r.node is None for r in full.rules) and all(r.node is not None for r in lean.rules)
