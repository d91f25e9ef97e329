"""Talos first-match evaluation: subjects, go-glob quirks, messages and rule ids (SPEC §3)."""

from __future__ import annotations

import random

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.policy.talos import evaluate
from pullguard.engine.simulate import simulate

POLICY = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/talos*
    skip: true
  - image: index.docker.io/library/*
    keyless:
      issuer: https://accounts.google.com
      subject: user@example.com
  - image: docker.io/*
    deny: true
  - image: localhost:5000/**/b
    deny: true
  - image: "*.evil.io/*"
    deny: true
"""


@pytest.fixture(scope="module")
def loaded():
    return load_policy(POLICY, "p.yaml")


@pytest.mark.parametrize(
    "image,subject,action,rule_id,message",
    [
        ("ghcr.io/siderolabs/talosctl:v1.13.0", "ghcr.io/siderolabs/talosctl", "skip", "0000",
         "verification skipped by matched rule (0000)"),
        ("ghcr.io/siderolabs/talos", "ghcr.io/siderolabs/talos", "skip", "0000", "verification skipped by matched rule (0000)"),
        ("nginx", "index.docker.io/library/nginx", "verify", "0001",
         "verification required by matched rule (0001): keyless issuer https://accounts.google.com subject user@example.com"),
        ("docker.io/nginx:latest", "index.docker.io/library/nginx", "verify", "0001", None),
        # `docker.io/*` never matches Docker Hub: subjects say index.docker.io
        ("myuser/app", "index.docker.io/myuser/app", "allow", None, "no matched rule"),
        ("localhost:5000/a/b:t", "localhost:5000/a/b", "deny", "0003", "verification denied by matched rule (0003)"),
        # `*` crosses '/', `**` is `*`
        ("localhost:5000/x/y/z/b", "localhost:5000/x/y/z/b", "deny", "0003", None),
        ("registry.evil.io/app", "registry.evil.io/app", "deny", "0004", None),
        ("quay.io/org/app@sha256:" + "c" * 64, "quay.io/org/app", "allow", None, "no matched rule"),
    ],
)
def test_first_match(loaded, image, subject, action, rule_id, message):
    d = loaded.policy.evaluate(image)
    assert (d.match_subject, d.action, d.rule_id) == (subject, action, rule_id)
    if message:
        assert d.message == message
    # evaluate_many (bitmask path) agrees with evaluate (index path)
    many = simulate(loaded, [image])[0]
    assert (many.match_subject, many.action, many.rule_id, many.message) == (d.match_subject, d.action, d.rule_id, d.message)


def test_public_key_message_names_the_fingerprint():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    text = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: a.io/*\n    publicKey:\n      certificate: |\n"
    text += "".join("        " + line + "\n" for line in pem.strip().splitlines())
    d = load_policy(text).policy.evaluate("a.io/app")
    assert d.message == f"verification required by matched rule (0000): public key {d.verifier.fingerprint}"


def test_explain_says_why(loaded):
    trials = loaded.policy.explain("nginx")
    assert [(t.rule_id, t.matched) for t in trials] == [("0000", False), ("0001", True), ("0002", False), ("0003", False), ("0004", False)]
    assert trials[0].reason == "'ghcr.io/siderolabs/talos*' does not match 'index.docker.io/library/nginx'"
    assert trials[2].reason == "not tried: rule 0001 matched first"


def test_explain_invalid_reference(loaded):
    assert all(not t.matched and t.reason.startswith("not tried:") for t in loaded.policy.explain("Bad Ref"))


def test_bitmask_and_index_paths_agree_on_a_random_fleet(monkeypatch):
    rng = random.Random(7)
    parts = ["a.io", "b.io", "ghcr.io", "index.docker.io", "x", "y", "lib", "app", "*", "**"]
    patterns = ["/".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) + rng.choice(["", "*"]) for _ in range(60)]
    actions = ["deny: true", "skip: true", "keyless: {issuer: https://i, subject: s}"]
    text = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n" + "".join(
        f"  - image: '{p}'\n    {actions[n % 3]}\n" for n, p in enumerate(patterns))
    images = ["/".join(rng.choice(["a.io", "b.io", "ghcr.io", "x", "y", "lib", "app"]) for _ in range(rng.randint(1, 4)))
              for _ in range(400)]
    fast = load_policy(text).policy.evaluate_many(images)
    monkeypatch.setattr(evaluate, "_BITMASK_LIMIT", 0)
    slow = load_policy(text).policy.evaluate_many(images)
    fresh = load_policy(text).policy
    one_by_one = [fresh.evaluate(i) for i in images]
    key = lambda d: (d.image, d.match_subject, d.action, d.rule_index, d.message, d.verifier)  # noqa: E731
    assert [key(d) for d in fast] == [key(d) for d in slow] == [key(d) for d in one_by_one]
