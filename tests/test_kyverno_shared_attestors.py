"""Attestors written alike are decoded once when simulate loads a policy (`SubtreeMemo`): what
each entry requires, and every error with its line and column, must be what a full load says,
also where the same text means something else (anchors, tag directives, another column, another
entry type or signature repository) or where only the later copy is wrong."""

from __future__ import annotations

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.simulate import simulate
from pullguard.engine.yamlschema import SubtreeMemo
from pullguard.engine.yamlsource import compose

HEAD = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  validationFailureAction: Enforce
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
"""
KEYLESS = "[{entries: [{keyless: {issuer: https://i, subject: 'https://github.com/acme/*', rekor: {url: https://rekor.sigstore.dev}}}]}]"
BLOCK = """
            - entries:
                - keyless:
                    issuer: https://i
                    subject: https://github.com/acme/*
                    rekor: {url: https://rekor.sigstore.dev}"""

BLOCK_LAST = BLOCK.replace("                    subject: https://github.com/acme/*\n", "") + "\n                    subject: https://github.com/acme/"
ANCHORED = "[{entries: [{keyless: &k {issuer: https://?, rekor: {url: https://r}}}]}]"
ALIAS = "[{entries: [{keyless: *k}]}]"
# `!k!null` is null under the first document's directive, an unknown tag (the text) under the second
TAGGED = "[{entries: [{keyless: {issuer: https://i, subject: !k!null https://s, rekor: {url: https://r}}}]}]"


def entry(refs: str, extra: str = "", attestors: str = KEYLESS) -> str:
    return f"        - imageReferences: ['{refs}']\n{extra}          attestors: {attestors}\n"


CASES = {
    "alike": HEAD + entry("ghcr.io/a/*") + entry("ghcr.io/b/*") + entry("ghcr.io/c/*"),
    "block style": HEAD + entry("ghcr.io/a/*", attestors=BLOCK) + entry("ghcr.io/b/*", attestors=BLOCK),
    # the same attestors, read for another entry type or signature repository
    "repository": HEAD + entry("ghcr.io/a/*", "          repository: ghcr.io/sigs/a\n") + entry("ghcr.io/b/*")
    + entry("ghcr.io/c/*", "          repository: ghcr.io/sigs/c\n"),
    "notary after cosign": HEAD + entry("ghcr.io/a/*") + entry("ghcr.io/b/*") + entry("ghcr.io/n/*", "          type: Notary\n"),
    "bundle after cosign": HEAD + entry("ghcr.io/a/*", "          repository: ghcr.io/sigs/a\n")
    + entry("ghcr.io/b/*", "          type: SigstoreBundle\n          repository: ghcr.io/sigs/a\n"),
    # the same text under attestations: another path in every requirement
    "attestation attestors": HEAD + entry("ghcr.io/a/*") + "        - imageReferences: ['ghcr.io/b/*']\n"
    "          attestations: [{type: https://slsa.dev/provenance/v0.2, attestors: " + KEYLESS + "}]\n",
    # the same attestors as the first attestation of one entry and the second of the next
    "attestation index": HEAD + "        - imageReferences: ['ghcr.io/a/*']\n          attestations:\n"
    "            - type: https://x\n              attestors: " + KEYLESS + "\n"
    "        - imageReferences: ['ghcr.io/b/*']\n          attestations:\n"
    "            - type: https://y\n              attestors: " + KEYLESS.replace("acme", "other") + "\n"
    "            - type: https://x\n              attestors: " + KEYLESS + "\n",
    # only the last copy is wrong: its error names its own line
    "error in a later entry": HEAD + entry("ghcr.io/a/*") + entry("ghcr.io/b/*")
    + entry("ghcr.io/c/*", attestors=KEYLESS.replace("[{entries", "[{count: 2, entries")),
    "unknown key in a later entry": HEAD + entry("ghcr.io/a/*") + entry("ghcr.io/b/*")
    + entry("ghcr.io/c/*", attestors=KEYLESS.replace("subject:", "subjekt:")),
    "field not verified, alike": HEAD + entry("ghcr.io/a/*", "          cosignOCI11: true\n") + entry("ghcr.io/b/*"),
    # an anchor defined anew in the next document: the same alias text means two things
    "anchors": HEAD + entry("ghcr.io/a/*", attestors=ANCHORED.replace("?", "a")) + entry("ghcr.io/b/*", attestors=ALIAS)
    + "---\n" + HEAD.replace("name: p", "name: q") + entry("ghcr.io/c/*", attestors=ANCHORED.replace("?", "c"))
    + entry("ghcr.io/d/*", attestors=ALIAS),
    # the same tagged text under two documents' %TAG directives
    "tag directives": "%TAG !k! tag:yaml.org,2002:\n---\n" + HEAD + entry("ghcr.io/a/*", attestors=TAGGED)
    + "...\n%TAG !k! tag:example.com,2000:\n---\n" + HEAD.replace("name: p", "name: q") + entry("ghcr.io/b/*", attestors=TAGGED),
    "byte-order mark": "\ufeff" + HEAD + entry("ghcr.io/a/*") + entry("ghcr.io/b/*") + entry("ghcr.io/c/*", "          type: Notary\n"),
    # libyaml's marks do not count a byte-order mark: keyed by them, the text would lose its last
    # character, and these two attestors (subjects .../a and .../b) would read alike
    "byte-order mark, block style": "\ufeff" + HEAD + entry("ghcr.io/a/*", attestors=BLOCK_LAST + "a")
    + entry("ghcr.io/b/*", attestors=BLOCK_LAST + "b") + entry("ghcr.io/c/*", attestors=BLOCK_LAST + "a"),
    "non-ascii": HEAD + entry("ghcr.io/\u00e9t\u00e9/*") + entry("ghcr.io/\U0001f600/*")
    + entry("ghcr.io/c/*", "          type: Notary\n"),
    "another column": HEAD + entry("ghcr.io/a/*") + "    - name: r2\n      match: {any: [{resources: {kinds: [Pod]}}]}\n"
    "      verifyImages:\n      - imageReferences: ['ghcr.io/b/*']\n        attestors: " + KEYLESS + "\n        type: Notary\n",
}
IMAGES = ["ghcr.io/a/x:1", "ghcr.io/b/x@sha256:" + "b" * 64, "ghcr.io/c/x:2", "ghcr.io/d/x:3", "ghcr.io/n/x:4",
          "ghcr.io/\u00e9t\u00e9/x:1"]


def found(loaded):
    return [(d.severity, d.code, d.message, d.line, d.column, d.rule_index) for d in loaded.diagnostics]


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_simulate_load_decides_and_reports_as_a_full_load(text):
    full, lean = load_policy(text, "p.yaml"), load_policy(text, "p.yaml", errors_only=True)
    assert [d for d in found(lean) if d[0] == "error"] == [d for d in found(full) if d[0] == "error"]
    lean_rest = [d for d in found(lean) if d[0] != "error"]
    assert all(d in found(full) for d in lean_rest)  # what it reports beyond errors, full load says too
    decisions = [d.to_json() for d in simulate(full, IMAGES)]
    assert [d.to_json() for d in simulate(lean, IMAGES)] == decisions


def test_the_cases_hold_what_they_are_named_for():
    full = {name: load_policy(text, "p.yaml") for name, text in CASES.items()}
    later = [(d.code, d.line) for d in full["error in a later entry"].diagnostics if d.severity == "error"]
    assert later == [("kyverno-count-exceeds-entries", 15)]
    notary = [d.line for d in full["notary after cosign"].diagnostics if d.code == "kyverno-notary-keyless"]
    assert notary == [16]
    assert [d.line for d in full["another column"].diagnostics if d.code == "kyverno-notary-keyless"] == [16]
    repos = [e.attestor_sets[0].entries[0].repository for e in full["repository"].policy.entries]
    assert repos == ["ghcr.io/sigs/a", "", "ghcr.io/sigs/c"]
    issuers = [e.attestor_sets[0].entries[0].verifier.issuer for e in full["anchors"].policy.entries]
    assert issuers == ["https://a", "https://a", "https://c", "https://c"]
    paths = [[s.entries[0].path for a in e.attestations for s in a.attestor_sets] for e in full["attestation index"].policy.entries]
    assert paths == [["attestations[0].attestors[0].entries[0]"],
                     ["attestations[0].attestors[0].entries[0]", "attestations[1].attestors[0].entries[0]"]]
    subjects = [e.attestor_sets[0].entries[0].verifier.subject for e in full["tag directives"].policy.entries]
    assert subjects == [None, "https://s"]
    subjects = [e.attestor_sets[0].entries[0].verifier.subject for e in full["byte-order mark, block style"].policy.entries]
    assert subjects == ["https://github.com/acme/a", "https://github.com/acme/b", "https://github.com/acme/a"]


def _memo_after_reading(text):
    from pullguard.engine.policy.kyverno.loader import _SHARED_SPECS, _load

    docs, problem = compose(text)
    assert problem is None
    memo = SubtreeMemo.for_documents(docs, _SHARED_SPECS)
    if memo is not None:
        _load(docs, "p.yaml", True, memo)
    return memo


@pytest.mark.parametrize(("name", "hits"), [("alike", 2), ("block style", 1), ("repository", 2), ("another column", 0),
                                             ("tag directives", 0), ("non-ascii", 2)])
def test_alike_attestors_are_decoded_once(name, hits):
    assert _memo_after_reading(CASES[name]).hits == hits


@pytest.mark.parametrize("name", ["anchors", "byte-order mark", "byte-order mark, block style"])
def test_no_memo_where_text_cannot_key_it(name):
    assert _memo_after_reading(CASES[name]) is None


def test_alike_entries_share_their_attestor_sets():
    lean = load_policy(CASES["alike"], "p.yaml", errors_only=True).policy.entries
    assert lean[0].attestor_sets[0] is lean[1].attestor_sets[0] is lean[2].attestor_sets[0]
    assert lean[0].attestor_sets is not lean[1].attestor_sets  # each entry's own list


# Attestors a generated policy picks from, flow and block, clean and not: each is written after
# `attestors:` at the entry's indentation (block ones start on the next line).
POOL = [
    KEYLESS,
    KEYLESS.replace("acme", "other"),
    "[{count: 1, entries: [{keyless: {issuer: https://i, subject: s, rekor: {url: https://r}}}, {keys: {publicKeys: k}}]}]",
    "[{entries: [{keyless: {issuer: https://i, roots: r, annotations: {a: b}}}]}]",
    "[{entries: [{keyless: {issuer: https://i, rekor: {url: https://r}}, annotations: {a: b, a: c}}]}]",
    "[{entries: [{keyless: {issuer: https://i}}]}]",  # neither rekor nor roots: an error
    "[{entries: [{keyless: {issuer: https://i, rekor: {url: https://r}}, repository: ghcr.io/sigs/x}]}]",
    "[{entries: [{certificates: {cert: c, rekor: {url: https://r}}}]}]",
    "[{entries: [{attestor: {entries: [{keyless: {issuer: https://i, rekor: {url: https://r}}}]}}]}]",
    "[{entries: [{keyless: {issuer: https://i, rekor: {url: https://r}, additionalExtensions: {x: y}}}]}]",
    "[{entries: [{keyless: {issuer: 'https://i', subject: \"s\", rekor: {url: https://r}}}]}]  # a comment",
    "[{entries: [{keyless: {issuer: ~, rekor: {url: https://r}}}]}]",
    "[{entries: [{keyless: {issuer: 42, rekor: {url: https://r}}}]}]",
    BLOCK,
    BLOCK.replace("https://i", "https://j"),
    BLOCK + "\n                    subjectRegExp: '('",
    BLOCK + "\n\n          # trailing comment",
]
CLEAN = [KEYLESS, KEYLESS.replace("acme", "other"), POOL[2], POOL[6], POOL[8], POOL[10], POOL[11], BLOCK,
         BLOCK.replace("https://i", "https://j"), BLOCK + "\n\n          # trailing comment"]
ENTRY_EXTRAS = ["", "", "          type: Notary\n", "          type: SigstoreBundle\n", "          repository: ghcr.io/sigs/e\n",
                "          mutateDigest: false\n          verifyDigest: false\n",
                "          failureAction: Audit\n          mutateDigest: false\n"]


def _generated(rng) -> str:
    text = HEAD
    for i in range(rng.randrange(2, 9)):
        # mostly clean choices, so that many policies are read with the memo to the end
        extra = rng.choice(ENTRY_EXTRAS) if rng.random() < 0.2 else ""
        attestors = rng.choice(POOL) if rng.random() < 0.3 else rng.choice(CLEAN)
        if rng.random() < 0.3:
            text += (f"        - imageReferences: ['ghcr.io/e{i}/*']\n{extra}          attestations:\n"
                     f"            - type: https://t\n              attestors: {attestors.replace(chr(10), chr(10) + '    ')}\n")
        else:
            text += entry(f"ghcr.io/e{i}/*", extra, attestors)
    return text


def test_generated_policies_read_alike_with_and_without_the_memo():
    import random

    from pullguard.engine.policy.kyverno.loader import _SHARED_SPECS, _load

    rng = random.Random(16)
    used = 0
    for _ in range(300):
        text = _generated(rng)
        docs, problem = compose(text)
        assert problem is None, text
        memo = SubtreeMemo.for_documents(docs, _SHARED_SPECS)
        shared, shared_diags = _load(docs, "p.yaml", True, memo)
        plain, plain_diags = _load(docs, "p.yaml", True, None)
        if not shared_diags and memo.hits:
            used += 1
        if shared_diags and memo.hits:
            continue  # load() reads these again without the memo
        assert shared_diags == plain_diags, text
        assert [(e.rule_id, e.to_json("verify", None), e.describe(), e.unsupported) for e in shared.entries] == \
               [(e.rule_id, e.to_json("verify", None), e.describe(), e.unsupported) for e in plain.entries], text
    assert used > 30  # the memo was used, and agreed, on many clean policies
