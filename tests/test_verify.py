"""verify_images without a registry: outcomes that need no network, the cache, mirrors, JSON.

Signed images against a real registry are in tests/test_cli_verify.py.
"""

from __future__ import annotations

import asyncio

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.verify import FAILED_PREFIX, VerifyCache, VerifyOptions, merge_mirrors, summary, verify_images

DIGEST = "sha256:" + "c0" * 32

POLICY = """apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "registry.example/skip/*"
    skip: true
  - image: "registry.example/deny/*"
    deny: true
  - image: "registry.example/signed/*"
    keyless:
      issuer: https://issuer.example
      subject: me@example.com
"""


class NoNetwork:
    """A store that fails the test the moment verification tries to reach a registry."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def resolve(self, repository, tag):
        self.calls.append(f"resolve {repository}:{tag}")
        raise AssertionError("no request expected")

    async def manifest(self, repository, reference, max_size):
        self.calls.append(f"manifest {reference}")
        raise AssertionError("no request expected")

    async def blob(self, repository, digest, max_size):
        self.calls.append(f"blob {digest}")
        raise AssertionError("no request expected")

    async def referrers(self, repository, digest, artifact_type):
        self.calls.append("referrers")
        raise AssertionError("no request expected")


def _verify(images, cache=None, store=None):
    loaded = load_policy(POLICY, "p.yaml")
    store = store or NoNetwork()
    seen = []
    results = asyncio.run(
        verify_images(loaded, images, VerifyOptions(), on_result=seen.append, cache=cache, store=store)
    )
    return results, seen, store


@pytest.mark.parametrize(
    "image, outcome, message, digest",
    [
        ("registry.example/skip/a:1", "skipped", "verification skipped by matched rule (0000)", None),
        ("registry.example/deny/b", "denied", "verification denied by matched rule (0001)", None),
        ("nginx:1.25", "allowed", "no matched rule", None),
        (f"registry.example/deny/b@{DIGEST}", "denied", "verification denied by matched rule (0001)", DIGEST),
        ("Not A Ref", "error", "invalid image reference 'Not A Ref'", None),
    ],
)
def test_outcomes_without_network(image, outcome, message, digest):
    results, seen, store = _verify([image])
    (result,) = results
    assert (result.outcome, result.digest) == (outcome, digest)
    assert result.message.startswith(message)
    assert seen == results
    assert store.calls == []


def test_cached_success_makes_no_request_and_keeps_evidence():
    cache = VerifyCache()
    loaded = load_policy(POLICY, "p.yaml")
    decision = loaded.policy.evaluate_many([f"registry.example/signed/app@{DIGEST}"])[0]
    from pullguard.engine.signatures.trust import load_trusted_root
    from pullguard.engine.verify import cache_key

    cache.put(cache_key(decision, None, load_trusted_root()), DIGEST, "verified via bundle", None)
    results, _, store = _verify([f"registry.example/signed/app@{DIGEST}"], cache=cache)
    assert (results[0].outcome, results[0].message, results[0].cached) == ("verified", "verified via bundle", True)
    assert store.calls == []


def test_cache_entry_does_not_cover_another_identity():
    cache = VerifyCache()
    loaded = load_policy(POLICY, "p.yaml")
    decision = loaded.policy.evaluate_many([f"registry.example/signed/app@{DIGEST}"])[0]
    from pullguard.engine.signatures.trust import load_trusted_root
    from pullguard.engine.verify import cache_key

    cache.put(cache_key(decision, None, load_trusted_root()), DIGEST, "verified via bundle", None)
    other = load_policy(POLICY.replace("me@example.com", "you@example.com"), "p.yaml")
    results = asyncio.run(
        verify_images(other, [f"registry.example/signed/app@{DIGEST}"], VerifyOptions(), cache=cache, store=_Unsigned())
    )
    assert results[0].outcome == "failed"


class _Unsigned:
    async def manifest(self, repository, reference, max_size):
        from pullguard.engine.signatures.discovery import ArtifactNotFound

        raise ArtifactNotFound(reference)

    async def referrers(self, repository, digest, artifact_type):
        return None


def test_results_keep_input_order_and_summary_counts_every_outcome():
    images = ["nginx", "registry.example/deny/x", "registry.example/skip/y", "nginx:2"]
    results, _, _ = _verify(images)
    assert [r.decision.image for r in results] == images
    assert summary(results) == {"verified": 0, "failed": 0, "skipped": 1, "denied": 1, "allowed": 2, "error": 0}


def test_json_has_every_simulate_field_plus_verify_fields():
    results, _, _ = _verify(["registry.example/skip/a"])
    out = results[0].to_json()
    simulate_keys = {"image", "match_subject", "action", "rule_index", "rule_id", "pattern", "verifier", "message"}
    assert simulate_keys | {"digest", "outcome", "signature", "errors"} == set(out)
    assert (out["signature"], out["errors"]) == (None, [])


@pytest.mark.parametrize(
    "policy, cli, expected",
    [
        ({"ghcr.io": ["https://p1"]}, {}, {"ghcr.io": ["https://p1"]}),
        ({}, {"ghcr.io": ["oci:/x"]}, {"ghcr.io": ["oci:/x"]}),
        ({"ghcr.io": ["https://p1", "https://p2"]}, {"ghcr.io": ["https://c1", "https://p2"]},
         {"ghcr.io": ["https://c1", "https://p2", "https://p1"]}),
        ({"a": ["https://a"]}, {"b": ["https://b"]}, {"b": ["https://b"], "a": ["https://a"]}),
    ],
)
def test_mirrors_command_line_first_then_policy(policy, cli, expected):
    from pullguard.engine.endpoints import parse_endpoint
    from pullguard.engine.registry.mirrors import MirrorSpec

    specs = {host: MirrorSpec(tuple(parse_endpoint(e) for e in urls)) for host, urls in policy.items()}
    config = merge_mirrors(specs, cli)
    assert {host: [e.url for e in spec.endpoints] for host, spec in config.mirrors.items()} == expected


def test_mirrors_keep_the_policy_files_override_path_and_skip_fallback():
    from pullguard.engine.policy import load_policy

    loaded = load_policy(
        "apiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: ghcr.io\n"
        "endpoints:\n  - url: https://mirror.example/api/v2/ghcr\n    overridePath: true\n"
        "skipFallback: true\n---\n" + POLICY,
        "p.yaml",
    )
    config = merge_mirrors(loaded.mirror_specs, {"ghcr.io": ["oci:/layout"]})
    spec = config.lookup("ghcr.io")
    assert [(e.url, e.override_path) for e in spec.endpoints] == [
        ("oci:/layout", False), ("https://mirror.example/api/v2/ghcr", True)]
    assert spec.skip_fallback and spec.endpoints[1].api_base == "https://mirror.example/api/v2/ghcr"


TWO_REGISTRIES = POLICY + """  - image: "other.example/signed/*"
    keyless:
      issuer: https://issuer.example
      subject: me@example.com
"""


class _CountingUnsigned:
    """No signatures anywhere; `referrers_api` names the registries that implement the API."""

    def __init__(self, referrers_api: set[str]) -> None:
        self.referrers_api = referrers_api
        self.referrer_calls: list[str] = []

    async def manifest(self, repository, reference, max_size):
        from pullguard.engine.signatures.discovery import ArtifactNotFound

        raise ArtifactNotFound(reference)

    async def referrers(self, repository, digest, artifact_type):
        host = repository.partition("/")[0]
        self.referrer_calls.append(host)
        return [] if host in self.referrers_api else None


# (case, registries with the referrers API, referrers requests per registry for 3 images on each)
REFERRERS_ASKED = [
    ("no API anywhere: asked once per registry", set(), {"registry.example": 1, "other.example": 1}),
    ("API on one registry: asked for each of its images", {"other.example"}, {"registry.example": 1, "other.example": 3}),
    ("API everywhere", {"registry.example", "other.example"}, {"registry.example": 3, "other.example": 3}),
]


@pytest.mark.parametrize("api, expected", [c[1:] for c in REFERRERS_ASKED], ids=[c[0] for c in REFERRERS_ASKED])
def test_a_registry_without_referrers_api_is_asked_once_per_run(api, expected):
    images = [f"{host}/signed/app{i}@sha256:{i:064x}" for host in ("registry.example", "other.example") for i in range(3)]
    store = _CountingUnsigned(api)
    results = asyncio.run(
        verify_images(load_policy(TWO_REGISTRIES, "p.yaml"), images, VerifyOptions(concurrency=1), store=store)
    )
    assert [r.outcome for r in results] == ["failed"] * 6
    assert {r.message for r in results} == {
        "image verification failed: no valid signature found: bundle tag not found\nlegacy signature tag not found"
    }
    assert {h: store.referrer_calls.count(h) for h in ("registry.example", "other.example")} == expected


# ---- Kyverno requirements pullguard cannot check: reported before any request ---------------

def _kyverno(entry: str) -> str:
    if "mutateDigest" not in entry:  # by tag, as the images here are given
        entry = entry.replace("\n", "\n  mutateDigest: false\n  verifyDigest: false\n", 1)
    body = "\n".join("        " + line for line in entry.strip("\n").splitlines())
    return f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: signed
spec:
  rules:
    - name: check
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
{body}
"""


KEYLESS = "keyless: {issuer: https://issuer.example, subject: me@example.com, rekor: {url: https://rekor.sigstore.dev}}"
CERT = "certificates: {cert: 'k8s://ns/secret'}"  # a certificate pullguard cannot read offline
KMS = "keys: {kms: 'awskms:///k'}"

REFS = "- imageReferences: ['registry.example/*']\n"
NEEDS = "cannot verify: signed/check#0: attestors[0] needs"
SLSA = "https://slsa.dev/provenance/v1"

# (case, verifyImages entry, outcome, message; None: the registry is asked)
KYVERNO_EARLY = [
    ("notary", REFS + f"  type: Notary\n  attestors:\n    - entries:\n        - {CERT}\n",
     "error", "cannot verify: signed/check#0: type Notary is not supported for verification by pullguard"),
    ("attestations by kms", REFS + f"  attestors:\n    - entries:\n        - {KEYLESS}\n"
                            f"  attestations:\n    - type: {SLSA}\n      attestors:\n        - entries:\n            - {KMS}\n",
     "error", "cannot verify: signed/check#0: attestations[0].attestors[0] needs 1 of 1 attestors and kms attestors "
              "are not verified by pullguard"),
    ("certificates, all required", REFS + f"  attestors:\n    - entries:\n        - {CERT}\n",
     "error", f"{NEEDS} 1 of 1 attestors and certificates attestors are not verified by pullguard"),
    ("kms beside keyless, all required",
     REFS + f"  attestors:\n    - entries:\n        - {KMS}\n        - {KEYLESS}\n",
     "error", f"{NEEDS} 2 of 2 attestors and kms attestors are not verified by pullguard"),
    ("nested certificates", REFS + f"  attestors:\n    - entries:\n        - attestor:\n"
                            f"            entries:\n              - {CERT}\n",
     "error", f"{NEEDS} 1 of 1 attestors and certificates attestors are not verified by pullguard"),
    ("missing digest", REFS + f"  mutateDigest: false\n  attestors:\n    - entries:\n        - {KEYLESS}\n",
     "failed", FAILED_PREFIX + "missing digest: verifyDigest requires the image to be referenced by digest"),
    # Attestations by a keyless attestor are verified: the registry is asked.
    ("attestations", REFS + f"  attestations:\n    - type: {SLSA}\n      attestors:\n        - entries:\n            - {KEYLESS}\n",
     None, None),
    # One of two is enough: the keyless attestor can decide, so the registry is asked.
    ("certificates or keyless", REFS + f"  attestors:\n    - count: 1\n      entries:\n"
                                f"        - {CERT}\n        - {KEYLESS}\n", None, None),
]


@pytest.mark.parametrize("entry, outcome, message", [c[1:] for c in KYVERNO_EARLY], ids=[c[0] for c in KYVERNO_EARLY])
def test_kyverno_unsupported_requirements_are_reported_without_a_request(entry, outcome, message):
    loaded = load_policy(_kyverno(entry), "k.yaml")
    assert loaded.errors == 0, [d.message for d in loaded.diagnostics]
    store = NoNetwork()
    if outcome is None:
        with pytest.raises(AssertionError, match="no request expected"):
            asyncio.run(verify_images(loaded, ["registry.example/app:v1"], VerifyOptions(), store=store))
        assert store.calls == ["resolve registry.example/app:v1"]
        return
    (result,) = asyncio.run(verify_images(loaded, ["registry.example/app:v1"], VerifyOptions(), store=store))
    assert (result.outcome, result.message, result.digest) == (outcome, message, None)
    assert store.calls == []
