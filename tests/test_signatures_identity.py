"""Certificate identity extraction and matching (Talos exact, Kyverno wildcard, RE2 regexes), and the trusted root."""

from __future__ import annotations

import json
import os

import pytest

from devtools.private_sigstore import Identity as Who
from devtools.private_sigstore import PrivateSigstore
from pullguard.engine.signatures import SignatureError, TrustedRootError
from pullguard.engine.signatures.evidence import Identity
from pullguard.engine.signatures.identity import certificate_identity, check_identity
from pullguard.engine.signatures.trust import load_trusted_root, production_root_path
from pullguard.engine.vocabulary import KeylessVerifier

GH = "https://token.actions.githubusercontent.com"
WF = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"


@pytest.mark.parametrize(
    "subject, extensions, expected",
    [
        (WF, ("v1", "v2"), Identity(GH, WF)),
        ("dev@acme.example", ("v1", "v2"), Identity(GH, "dev@acme.example")),
        (WF, ("v2",), Identity(GH, WF)),
        (WF, ("v1",), Identity(GH, WF)),  # older Fulcio: only .1.1
        (WF, (), Identity(None, WF)),
    ],
    ids=["uri-both", "email", "v2-only", "v1-fallback", "no-issuer"],
)
def test_certificate_identity(sigstore, subject, extensions, expected):
    _, cert = sigstore.issue_certificate(Who(subject, GH), issuer_extensions=extensions, sct=False)
    assert certificate_identity(cert) == expected


def test_long_issuer_uses_der_long_form(sigstore):
    issuer = "https://issuer.example/" + "x" * 200
    _, cert = sigstore.issue_certificate(Who(WF, issuer), issuer_extensions=("v2",), sct=False)
    assert certificate_identity(cert).issuer == issuer


# (rule, identity, expected failure fragment or None when it matches)
CASES = [
    (dict(issuer=GH, subject=WF), None),
    (dict(issuer=GH, subject=WF + "x"), "does not match the rule's subject"),
    (dict(issuer=GH + "/", subject=WF), "does not match the rule's issuer"),
    (dict(issuer=GH, subject_regex=r"acme/app/"), None),  # unanchored search
    (dict(issuer=GH, subject_regex=r"^acme/app/"), "subjectRegex"),
    (dict(issuer=GH, subject_regex=r"@refs/tags/v\d+\.\d+\.\d+$"), None),
    (dict(issuer=GH, subject=WF, subject_regex=r"refs/heads/"), "subjectRegex"),  # both must hold
    (dict(issuer=GH, subject_regex=r"(?P<x"), "not a valid RE2 expression"),
    (dict(issuer=GH, subject_regex=r"(a)\1"), "not a valid RE2 expression"),  # backreferences: not RE2
    (dict(issuer=GH, subject_regex=r"acme/\C"), "not a valid RE2 expression"),  # Go's regexp has no \C
    (dict(issuer_regex=r"githubusercontent\.com$", subject=WF), None),
    (dict(issuer_regex=r"^https://accounts\.google\.com$", subject=WF), "issuer regular expression"),
    (dict(issuer=GH, subject="https://github.com/acme/*", match="wildcard"), None),
    (dict(issuer="https://token.actions.*", subject=WF, match="wildcard"), None),
    (dict(issuer=GH, subject="https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v?.?.?", match="wildcard"), None),
    (dict(issuer=GH, subject="https://github.com/other/*", match="wildcard"), "does not match the rule's subject"),
    (dict(issuer=GH, subject="https://github.com/acme/*", match="exact"), "does not match the rule's subject"),
]


@pytest.mark.parametrize("rule, failure", CASES)
def test_check_identity(rule, failure):
    verifier = KeylessVerifier(**rule)
    if failure is None:
        check_identity(Identity(GH, WF), verifier)
    else:
        with pytest.raises(SignatureError, match=failure):
            check_identity(Identity(GH, WF), verifier)


def test_failure_names_both_values():
    with pytest.raises(SignatureError) as err:
        check_identity(Identity(GH, "a@b.example"), KeylessVerifier(issuer=GH, subject="c@d.example"))
    assert str(err.value) == "certificate identity 'a@b.example' does not match the rule's subject 'c@d.example'"


# ---------------------------------------------------------------- trusted root


def test_production_root_is_read_from_the_sigstore_package():
    path = production_root_path()
    assert path.is_file() and path.parent.parent.name == "_store"
    root = load_trusted_root()
    assert root.source == str(path.resolve())
    assert {k.base_url for k in root.tlogs} >= {"https://rekor.sigstore.dev"}
    assert root.ctlogs and root.authorities
    assert load_trusted_root() is root  # parsed once


def test_replaced_root_is_reloaded_when_the_file_changes(sigstore, tmp_path):
    path = sigstore.write_trusted_root(tmp_path / "tr.json")
    first = load_trusted_root(path)
    assert load_trusted_root(path) is first
    before = path.stat().st_mtime_ns
    PrivateSigstore(name="other").write_trusted_root(path)
    os.utime(path, ns=(before + 10**9, before + 10**9))  # a later modification time, whatever the clock
    second = load_trusted_root(path)
    assert second is not first
    assert second.tlogs[0].log_id != first.tlogs[0].log_id


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read trusted root"),
        ("{", "not JSON"),
        (json.dumps({"mediaType": "application/json"}), "not a Sigstore trusted root"),
        (json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                     "tlogs": [{"publicKey": {"rawBytes": "AAAA"}}]}), "tlogs\\[0\\]: unreadable public key"),
    ],
    ids=["missing", "not-json", "wrong-media-type", "bad-key"],
)
def test_bad_trusted_root_files(tmp_path, content, message):
    path = tmp_path / "tr.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TrustedRootError, match=message):
        load_trusted_root(path)


def test_private_root_is_usable_by_sigstore(sigstore, tmp_path):
    root = load_trusted_root(sigstore.write_trusted_root(tmp_path / "tr.json"))
    sig_root = root.sigstore_root()
    assert len(sig_root.get_fulcio_certs()) == 2
