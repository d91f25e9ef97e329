"""The shared YAML walker: typed fields, unknown keys with did-you-mean, each format's words."""

from __future__ import annotations

import pytest

from pullguard.engine.diagnostics import Diagnostic
from pullguard.engine.policytest.format import WORDING as POLICYTEST
from pullguard.engine.yamlschema import KUBERNETES, TALOS, Walker, Wording, close_key, duplicate_keys
from pullguard.engine.yamlsource import MappingNode, compose

ALLOWED = ("image", "skip", "deny", "keyless", "publicKey")


def _walk(text: str, wording: Wording) -> tuple[dict[str, str], list[Diagnostic]]:
    (doc,), problem = compose(text)
    assert problem is None and isinstance(doc.root, MappingNode)
    found: list[Diagnostic] = []
    walker = Walker(found.append, wording=wording)
    # Kubernetes and Talos name the object ("in a rule"); a PolicyTest prefixes the case.
    fields = walker.fields(doc.root, ALLOWED, "case 1: " if wording is POLICYTEST else "a rule")
    return {k: v.value for k, v in fields.items()}, found


# (wording, text, code, message, fix, with an end position)
FINDINGS = [
    (KUBERNETES, "imagee: x\n", "unknown-key", "unknown key 'imagee' in a rule", "did you mean 'image'?", True),
    (KUBERNETES, "PUBLICKEY: x\n", "unknown-key", "unknown key 'PUBLICKEY' in a rule", "did you mean 'publicKey'?", True),
    (TALOS, "PUBLICKEY: x\n", "unknown-key", "unknown key 'PUBLICKEY' in a rule",
     "a rule allows only: image, skip, deny, keyless, publicKey", True),  # Talos: no wrong-case suggestion
    (POLICYTEST, "imagee: x\n", "test-unknown-key", "case 1: unknown key 'imagee'; did you mean 'image'?", None, False),
    (POLICYTEST, "zzz: x\n", "test-unknown-key",
     "case 1: unknown key 'zzz' (known keys: image, skip, deny, keyless, publicKey)", None, False),
    (POLICYTEST, "image: a\nimage: b\n", "test-duplicate-key", "case 1: 'image' is given twice", None, False),
]


@pytest.mark.parametrize("wording, text, code, message, fix, ends", FINDINGS)
def test_each_format_keeps_its_words(wording, text, code, message, fix, ends):
    _, found = _walk(text, wording)
    (diag,) = found
    assert (diag.code, diag.message, diag.fix) == (code, message, fix)
    assert (diag.line, diag.column) == (len(text.splitlines()), 1)
    assert (diag.end_line is not None) is ends


def test_fields_keep_the_first_of_two_keys_when_the_format_says_so():
    fields, _ = _walk("image: a\nimage: b\n", POLICYTEST)
    assert fields == {"image": "a"}


# (what, node text, message)
TYPES = [
    ("string", "[a]", "'x' must be a string, not a list"),
    ("boolean", "'true'", "'x' must be true or false, not 'true'"),
]


@pytest.mark.parametrize("kind, value, message", TYPES)
def test_wrong_types_say_what_was_expected(kind, value, message):
    (doc,), _ = compose(f"x: {value}\n")
    node = doc.root.value[0][1]
    found: list[Diagnostic] = []
    walker = Walker(found.append)
    assert (walker.string("'x'", node) if kind == "string" else walker.boolean("'x'", node)) is None
    (diag,) = found
    assert (diag.code, diag.message) == ("wrong-type", message)


@pytest.mark.parametrize("key, suggestion", [("imag", "image"), ("Deny", "deny"), ("zzz", None)])
def test_close_key(key, suggestion):
    assert close_key(key, ALLOWED) == suggestion


def test_duplicate_keys_visit_each_aliased_mapping_once():
    text = "a: &a {k: 1, k: 2}\nb: [*a, *a, *a]\n"
    (doc,), _ = compose(text)
    assert [(d.line, d.message) for d in duplicate_keys(doc.root)] == [(1, 'mapping key "k" already defined at line 1')]
