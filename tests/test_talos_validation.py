"""Talos's own validation cases (pkg/machinery/config/types/security/image_verification_test.go,
TestImageVerificationConfigValidate), written as YAML: same errors and warnings, word for word,
each at the line a person would fix."""

from __future__ import annotations

import textwrap

import pytest

from pullguard.engine.policy import load_policy

HEAD = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"


def load(rules_yaml: str):
    return load_policy(HEAD + textwrap.dedent(rules_yaml), "p.yaml")


def talos_messages(loaded, severity):
    return [d.message for d in loaded.diagnostics if d.severity == severity and d.code.startswith("talos-")]


CASES = [
    (
        "valid config",
        """
        - image: ghcr.io/*
          keyless:
            issuer: https://token.actions.githubusercontent.com
            subjectRegex: https://github.com/myorg/.*
        - image: localhost:3000/*
          deny: true
        """,
        [],
        [],
    ),
    (
        "valid config with subject instead of subjectRegex",
        """
        - image: docker.io/*
          keyless:
            issuer: https://accounts.google.com
            subject: user@example.com
        """,
        [],
        [],
    ),
    (
        "valid config with skip and no verifier",
        "- image: registry.internal.example.com/*\n  skip: true\n",
        [],
        [],
    ),
    (
        "valid config with deny and no verifier",
        "- image: registry.internal.example.com/*\n  deny: true\n",
        [],
        [],
    ),
    (
        "rule missing imagePattern",
        "- {}\n",
        ["rule 0: imagePattern must be specified", "rule 0: at least one verifier must be configured"],
        [],
    ),
    (
        "no verifier",
        "- image: docker.io/*\n",
        ["rule 0: at least one verifier must be configured"],
        [],
    ),
    (
        "verifier missing issuer",
        """
        - image: docker.io/*
          keyless:
            subject: user@example.com
        """,
        ["rule 0: verifier OIDC issuer must be specified"],
        [],
    ),
    (
        "verifier missing subject and subjectRegex",
        """
        - image: docker.io/*
          keyless:
            issuer: https://accounts.google.com
        """,
        ["rule 0: verifier subject or subjectRegex must be specified"],
        [],
    ),
    (
        "verifiers cannot be configured if skip or deny is true",
        """
        - image: docker.io/*
          skip: true
          keyless:
            issuer: https://accounts.google.com
            subject: user@example.com
        """,
        ["rule 0: verifiers cannot be configured if skip or deny is true"],
        [],
    ),
    (
        "multiple errors",
        """
        - skip: true
        - image: docker.io/*
        """,
        ["rule 0: imagePattern must be specified", "rule 1: at least one verifier must be configured"],
        [],
    ),
    (
        "warnings for in imagePattern",
        """
        - image: localhost:3000/*/:latest
          deny: true
        - image: docker.io/my-image@*
          skip: true
        - image: nginx
          skip: true
        """,
        [],
        [
            "rule 0: imagePattern contains ':' but matching only applies to the image registry and repository, not the tag or digest",
            "rule 1: imagePattern contains '@' but matching only applies to the image registry and repository, not the tag or digest",
            "rule 2: imagePattern does not contain a '/', image references like 'nginx' are matched as 'docker.io/nginx' (normalized)",
        ],
    ),
    # Beyond Talos's table: the remaining messages of Validate.
    (
        "skip and deny",
        "- image: a.io/*\n  skip: true\n  deny: true\n",
        ["rule 0: skip and deny cannot both be true", ],
        [],
    ),
    (
        "both verifiers",
        """
        - image: a.io/*
          keyless: {issuer: https://i, subject: s}
          publicKey: {certificate: x}
        """,
        ["rule 0: only one of keyless or publicKey verifier can be configured"],
        [],
    ),
    (
        "public key without certificate",
        "- image: a.io/*\n  publicKey: {}\n",
        ["rule 0: verifier certificates must be specified"],
        [],
    ),
    (
        # yaml.v3 decodes `keyless:` with no value into a nil pointer: no verifier at all.
        "null keyless is no verifier",
        "- image: a.io/*\n  keyless:\n",
        ["rule 0: at least one verifier must be configured"],
        [],
    ),
    (
        "a '*' pattern needs no slash",
        "- image: '*'\n  deny: true\n",
        [],
        [],
    ),
]


@pytest.mark.parametrize("name,rules,errors,warnings", CASES, ids=[c[0] for c in CASES])
def test_talos_validate(name, rules, errors, warnings):
    loaded = load(rules)
    assert talos_messages(loaded, "error") == errors
    assert talos_messages(loaded, "warning") == warnings
    assert all(d.line is not None and d.column is not None for d in loaded.diagnostics)


@pytest.mark.parametrize(
    "rules,code,line,column",
    [
        ("- image: a.io/*\n  skip: true\n  deny: true\n", "talos-skip-and-deny", 6, 3),
        ("- image: docker.io/*\n", "talos-verifier-required", 4, 3),
        ("- image: a.io/*\n  keyless:\n    subject: s\n", "talos-issuer-required", 5, 3),
        ("- image: a.io/*\n  keyless:\n    issuer: ''\n    subject: s\n", "talos-issuer-required", 6, 13),
        ("- image: a.io/*\n  publicKey:\n    certificate: ''\n", "talos-certificate-required", 6, 18),
        ("- image: a.io/x:1\n  skip: true\n", "talos-pattern-tag", 4, 10),
        ("- image: a.io/*\n  keyless: {issuer: i, subject: s}\n  publicKey: {certificate: c}\n", "talos-two-verifiers", 6, 3),
    ],
)
def test_talos_diagnostic_positions(rules, code, line, column):
    found = [d for d in load(rules).diagnostics if d.code == code]
    assert [(d.line, d.column) for d in found] == [(line, column)]
    assert found[0].fix


def test_rule_ids_and_actions():
    loaded = load(
        """
        - image: a.io/*
          deny: true
        - image: b.io/*
          skip: true
        - image: c.io/*
          skip: true
          deny: true
        """
    )
    assert [(r.rule_id, r.action) for r in loaded.policy.rules] == [
        ("0000", "deny"),
        ("0001", "skip"),
        # verify.go tests Deny before Skip
        ("0002", "deny"),
    ]
