"""Random bytes, random YAML and mutated policies never raise out of load_policy, analyze or `check`."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pullguard.engine.analysis import analyze
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.talos.subject import fast_subject
from pullguard.engine.reference import InvalidReference, parse_reference
from pullguard.tui.commands import check

VALID = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/siderolabs/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: ^https://github\\.com/siderolabs/
  - image: "*"
    publicKey:
      certificate: |
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
        -----END PUBLIC KEY-----
  - image: docker.io/*
    skip: true
"""
KEYS = ["apiVersion", "kind", "rules", "image", "skip", "deny", "keyless", "publicKey",
        "issuer", "subject", "subjectRegex", "certificate", "v1alpha1", "ImageVerificationConfig"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(KEYS))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=25,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_all(text: str) -> None:
    loaded = load_policy(text, "fuzz.yaml")
    for d in loaded.diagnostics:
        assert d.severity in ("error", "warning", "info") and d.code and d.message
    if loaded.policy is not None and hasattr(loaded.policy, "outline"):
        loaded.policy.evaluate_many(["nginx", "ghcr.io/siderolabs/x:v1", "Bad Ref"])
        loaded.policy.explain("nginx")
        loaded.policy.outline()
    analyze(text, ["nginx"], "fuzz.yaml")


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _check_all(data.decode("utf-8", "replace"))


@SETTINGS
@given(trees)
def test_random_yaml(tree):
    _check_all(yaml.safe_dump(tree))


@SETTINGS
@given(st.lists(trees, min_size=1, max_size=3))
def test_random_ivc_documents(rule_lists):
    docs = [{"apiVersion": "v1alpha1", "kind": "ImageVerificationConfig", "rules": rules} for rules in rule_lists]
    _check_all(yaml.safe_dump_all(docs))


@SETTINGS
@given(st.data())
def test_mutated_valid_policy(data):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = data.draw(st.text(alphabet=" \n\t:-*{}[]'\"|&!#@a1", min_size=1, max_size=3))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + len(piece):]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    _check_all(text)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_check_command_never_raises(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_bytes(data)

    class Args:
        policy = str(path)
        format = "json"

    assert check.run(Args()) in (0, 1, 2)


REF_ALPHABET = "abcAB019.-_/:@"


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(alphabet=REF_ALPHABET, max_size=30),
    st.builds(lambda h, r, t: f"{h}/{r}{t}", st.sampled_from(["ghcr.io", "docker.io", "localhost:5000", "a.b", "UP.io", "x"]),
              st.text(alphabet="abc/._-", min_size=1, max_size=12),
              st.sampled_from(["", ":v1", ":", "@sha256:" + "a" * 64, ":t@sha256:" + "b" * 64])),
))
def test_fast_subject_agrees_with_the_reference_parser(image):
    fast = fast_subject(image)
    if fast is None:
        return
    try:
        assert parse_reference(image).context == fast
    except InvalidReference as exc:  # the fast path must never accept what the parser refuses
        raise AssertionError(f"fast path accepted {image!r}: {exc}") from exc
