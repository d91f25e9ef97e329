"""Diagnostics a person can act on (issue 15): YAML syntax errors in plain words with the column
to use, regex fixes that say what to change, one warning for one mistake, a rule key that lost
its indentation; and the fixes' machine-applicable edits do fix the policy."""

from __future__ import annotations

import pytest

from pullguard.engine.diagnostics import TextEdit
from pullguard.engine.goregexp import compile_error
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.regexfix import regex_fix

HEAD = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
KYVERNO_HEAD = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n"


def apply_all(text: str, edits) -> str:
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        text = edit.apply(text)
    return text


@pytest.mark.parametrize("text,line,words,fix", [
    (HEAD + "  - image: a.io/*\n    skip: true\n - image: b.io/*\n    skip: true\n", 6,
     "line 6 is indented to column 2; the list item above it (line 4) starts at column 3", "indent line 6 to column 3"),
    (HEAD + "  - image: a.io/*\n  skip: true\n", 5,
     "line 5 is indented to column 3; 'skip' belongs with the keys of line 4, at column 5", "indent line 5 to column 5"),
    (HEAD + "  - image: a.io/*\n      skip: true\n", 5,
     "line 5 is indented deeper than line 4, so 'skip' reads as part of the value on line 4", "indent line 5 to column 5"),
    (HEAD + "  - image: a.io/*\n    keyless:\n      issuer: https://i\n     subject: s\n", 7,
     "'subject' belongs with the keys of line 6, at column 7", "indent line 7 to column 7"),
    (KYVERNO_HEAD + "    - name: r\n      verifyImages:\n      - imageReferences: ['a.io/*']\n     attestors: []\n", 10,
     "'attestors' belongs with the keys of line 9, at column 9", "indent line 10 to column 9"),
])
def test_bad_indentation_is_a_sentence_with_a_fix_that_fixes_it(text, line, words, fix):
    loaded = load_policy(text, "p.yaml")
    (syntax,) = [d for d in loaded.diagnostics if d.code == "yaml-syntax"]
    assert syntax.message.startswith("YAML syntax error: line ") and words in syntax.message
    assert "while parsing" not in syntax.message and "expected" not in syntax.message
    assert syntax.fix is not None and syntax.fix.startswith(fix) and syntax.line == line
    fixed = apply_all(text, syntax.edits)
    assert not [d for d in load_policy(fixed, "p.yaml").diagnostics if d.code == "yaml-syntax"]


@pytest.mark.parametrize("text,words,fix", [
    (HEAD + "\t- image: a\n", "line 4 is indented with a tab", "replace the tab with spaces"),
    ("a: b: c\n", "line 1 has a second ': ' in one value", "quote the value"),
    (HEAD + "  - image: a\n    skip\n    deny: true\n", "line 5 has a key with no ':' after it", "write 'key: value'"),
    ("rules: [a\n", "a '[' opened on line 1 is not closed", "close it with ']'"),
    ("a: 'b\n", "a quoted value opened on line 1 is not closed", "end the value with the same quote"),
])
def test_other_syntax_errors_in_plain_words(text, words, fix):
    (syntax,) = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "yaml-syntax"]
    assert syntax.message.startswith(f"YAML syntax error: {words}") and syntax.fix.startswith(fix)


@pytest.mark.parametrize("pattern,fix", [
    ("(ci", "close the group with ')'"),
    ("ci)", "remove the extra ')'"),
    ("[ci", "close the character class with ']'"),
    ("*@example.com", "for any text write '.*'"),
    ("a**", "one repetition operator at a time"),
    ("a{2000}", "goes up to 1000"),
    ("ci\\Z", "use '$'"),
    ("x(?=y)", "RE2 has no lookahead or lookbehind"),
    ("(a)\\1", "RE2 has no backreferences"),
])
def test_regex_fixes_say_what_to_change(pattern, fix):
    error = compile_error(pattern)
    assert error is not None
    said = regex_fix(pattern, error)
    assert fix in said and "go doc" not in said


@pytest.mark.parametrize("field,text", [
    ("talos", HEAD + "  - image: a.io/*\n    keyless:\n      issuer: https://i\n      subjectRegex: '(ci'\n"),
    ("kyverno", KYVERNO_HEAD + "    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n"
                "        - imageReferences: ['a.io/*']\n          attestors:\n            - entries:\n"
                "                - keyless: {issuer: 'https://i', subjectRegExp: '(ci', rekor: {url: 'https://r'}}\n"),
])
def test_both_dialects_give_the_regex_fix(field, text):
    found = [d for d in load_policy(text, "p.yaml").diagnostics if "(ci" in d.message or "missing )" in d.message]
    assert found and all(d.fix and "close the group with ')'" in d.fix for d in found)


def test_deny_all_first_is_one_warning_on_it():
    text = HEAD + "".join(f"  - image: '{p}'\n    deny: true\n" for p in ("*", "a.io/*", "b.io/*", "c.io/*"))
    shadowed = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "shadowed-rule"]
    assert [(d.rule_index, d.line) for d in shadowed] == [(0, 4)]
    assert shadowed[0].message == ("rule 0: '*' matches every image that rules 1, 2, 3 match, so they never match: "
                                   "the first match wins")
    assert shadowed[0].fix == "move rule 0 below rule 3, or narrow its pattern"


def test_a_rule_key_at_column_one_says_indent_it_under_the_rule():
    text = HEAD + "  - image: 'a.io/*'\n    keyless:\n      issuer: https://i\n      subject: s\ndeny: true\n"
    (found,) = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "unknown-key"]
    assert found.message.startswith("unknown key 'deny' in ImageVerificationConfig")
    assert found.fix.startswith("indent it under the rule") and "allows only" not in found.fix
    assert found.edits == (TextEdit(8, 1, 8, 1, "    "),)
    fixed = apply_all(text, found.edits)
    assert fixed.endswith("\n    deny: true\n")
    assert not [d for d in load_policy(fixed, "p.yaml").diagnostics if d.code == "unknown-key"]


def test_an_unknown_key_that_is_no_rule_key_still_lists_the_allowed_ones():
    text = HEAD + "  - image: 'a.io/*'\n    deny: true\nkeylesss: {}\n"
    (found,) = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "unknown-key"]
    assert "allows only: apiVersion, kind, rules" in found.fix and not found.edits


def test_docker_io_fix_writes_index_docker_io():
    text = HEAD + "  - image: docker.io/library/nginx\n    deny: true\n"
    (found,) = [d for d in load_policy(text, "p.yaml").diagnostics if d.code == "never-matches"]
    assert apply_all(text, found.edits) == HEAD + "  - image: 'index.docker.io/library/nginx'\n    deny: true\n"


@pytest.mark.parametrize("edit,source,expected", [
    (TextEdit(1, 1, 1, 1, "  "), "a\nb", "  a\nb"),
    (TextEdit(2, 1, 2, 3, ""), "a\n  b", "a\nb"),
    (TextEdit(1, 2, 2, 1, "-"), "ab\ncd", "a-cd"),
    (TextEdit(5, 1, 5, 1, "x"), "a\nb", "a\nxb"),  # past the last line: clamped to it
])
def test_text_edit_apply(edit, source, expected):
    assert edit.apply(source) == expected
