"""Talos's discovery order and its error wording (pullguard.engine.signatures.discovery), table-driven.

The registry here is an in-memory `ArtifactStore` and the signature check accepts a bundle or
payload whose bytes start with b"good"; the real registry and real signatures are exercised
end to end in tests/test_cli_verify.py. These cases pin what a Talos node reports when
several signature formats coexist, which is hard to stage on a real registry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from pullguard.engine.signatures import discovery as d

IMAGE = "sha256:" + "ab" * 32
TAG = "sha256-" + "ab" * 32


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class MemoryStore:
    def __init__(self, referrers_api: bool = True, fault_hosts: frozenset = frozenset()) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.referrer_list: list[dict] = []
        self.referrers_api = referrers_api
        self.faults = set(fault_hosts)
        self.requests: list[str] = []

    def blob_of(self, data: bytes) -> dict:
        digest = _digest(data)
        self.blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, media_type: str, doc: dict, tag: str | None = None) -> str:
        data = json.dumps(doc).encode()
        digest = _digest(data)
        self.manifests[digest] = (media_type, data)
        if tag:
            self.manifests[tag] = (media_type, data)
        return digest

    async def manifest(self, repository, reference, max_size):
        self.requests.append(f"manifest {reference}")
        if "manifest" in self.faults:
            raise d.RegistryFault("GET http://reg.example/v2/x/manifests: 500 (reg.example)")
        if reference not in self.manifests:
            raise d.ArtifactNotFound(f"{reference}: not found")
        media_type, data = self.manifests[reference]
        return d.Fetched(media_type, data, _digest(data))

    async def blob(self, repository, digest, max_size):
        self.requests.append(f"blob {digest}")
        if digest not in self.blobs:
            raise d.ArtifactNotFound(f"blob {digest}: not found")
        return self.blobs[digest]

    async def referrers(self, repository, digest, artifact_type):
        self.requests.append("referrers")
        if not self.referrers_api:
            return None
        return [r for r in self.referrer_list if r["artifactType"] == artifact_type]


class Checker:
    def bundle(self, data, image_digest):
        if not data.startswith(b"good"):
            raise ValueError(f"bundle {data.decode()} does not verify")
        return {"kind": "bundle"}

    def legacy(self, layer, payload, image_digest):
        if "dev.cosignproject.cosign/signature" not in layer.get("annotations", {}):
            raise ValueError("missing signature annotation")
        if not payload.startswith(b"good"):
            raise ValueError(f"payload {payload.decode()} does not verify")
        return type("Evidence", (), {"bundle_verified": payload.endswith(b"+set")})()


BUNDLE_MT = "application/vnd.dev.sigstore.bundle.v0.3+json"


def add_referrer(store: MemoryStore, content: bytes) -> str:
    layer = dict(store.blob_of(content), mediaType=BUNDLE_MT)
    digest = store.put_manifest(d.OCI_MANIFEST, {"mediaType": d.OCI_MANIFEST, "artifactType": BUNDLE_MT, "layers": [layer]})
    store.referrer_list.append({"mediaType": d.OCI_MANIFEST, "digest": digest, "artifactType": BUNDLE_MT})
    return digest


def add_bundle_tag(store: MemoryStore, contents: list[bytes], as_index: bool) -> None:
    if not as_index:
        layers = [dict(store.blob_of(c), mediaType=BUNDLE_MT) for c in contents]
        store.put_manifest(d.OCI_MANIFEST, {"mediaType": d.OCI_MANIFEST, "layers": layers}, tag=TAG)
        return
    entries = []
    for c in contents:
        layer = dict(store.blob_of(c), mediaType=BUNDLE_MT)
        digest = store.put_manifest(d.OCI_MANIFEST, {"mediaType": d.OCI_MANIFEST, "layers": [layer]})
        entries.append({"mediaType": d.OCI_MANIFEST, "digest": digest})
    store.put_manifest(d.OCI_INDEX, {"mediaType": d.OCI_INDEX, "manifests": entries}, tag=TAG)


def add_legacy(store: MemoryStore, payloads: list[bytes], annotate: bool = True, media_type: str = d.OCI_MANIFEST) -> None:
    layers = []
    for p in payloads:
        layer = dict(store.blob_of(p), mediaType=d.SIMPLESIGNING)
        if annotate:
            layer["annotations"] = {"dev.cosignproject.cosign/signature": "MEUC"}
        layers.append(layer)
    store.put_manifest(media_type, {"mediaType": media_type, "layers": layers}, tag=TAG + ".sig")


def run(store: MemoryStore) -> d.Discovery:
    return asyncio.run(d.discover(store, "reg.example/app", IMAGE, Checker()))


def build(*steps):
    store = MemoryStore()
    for step in steps:
        step(store)
    return store


REF_GOOD = lambda s: add_referrer(s, b"good-ref")  # noqa: E731
REF_BAD = lambda s: add_referrer(s, b"bad-ref")  # noqa: E731
TAG_GOOD = lambda s: add_bundle_tag(s, [b"bad-1", b"good-2"], as_index=False)  # noqa: E731
TAG_BAD = lambda s: add_bundle_tag(s, [b"bad-tag"], as_index=False)  # noqa: E731
IDX_GOOD = lambda s: add_bundle_tag(s, [b"good-idx"], as_index=True)  # noqa: E731
IDX_BAD = lambda s: add_bundle_tag(s, [b"bad-idx", b"bad-idx2"], as_index=True)  # noqa: E731
SIG_GOOD = lambda s: add_legacy(s, [b"good+set"])  # noqa: E731
SIG_GOOD_NOSET = lambda s: add_legacy(s, [b"bad-first", b"good"])  # noqa: E731
SIG_BAD = lambda s: add_legacy(s, [b"bad-payload"])  # noqa: E731
SIG_UNSIGNED_LAYER = lambda s: add_legacy(s, [b"good"], annotate=False)  # noqa: E731
SIG_DOCKER_MT = lambda s: add_legacy(s, [b"good"], media_type="application/vnd.docker.distribution.manifest.v2+json")  # noqa: E731
NO_REF_API = lambda s: setattr(s, "referrers_api", False)  # noqa: E731


@pytest.mark.parametrize(
    "steps, verified, fmt, message",
    [
        ((REF_GOOD,), True, "bundle-referrer", "verified via bundle referrer with digest "),
        ((TAG_GOOD,), True, "bundle", "verified via bundle"),
        ((IDX_GOOD,), True, "bundle", "verified via bundle"),
        ((SIG_GOOD,), True, "legacy", "verified via legacy signature (bundle verified true)"),
        ((SIG_GOOD_NOSET,), True, "legacy", "verified via legacy signature (bundle verified false)"),
        ((NO_REF_API, SIG_GOOD), True, "legacy", "verified via legacy signature (bundle verified true)"),
        # Order: a verifying referrer wins over everything after it.
        ((REF_GOOD, TAG_BAD, SIG_BAD), True, "bundle-referrer", "verified via bundle referrer with digest "),
        ((TAG_GOOD, SIG_GOOD), True, "bundle", "verified via bundle"),
        # Talos stops at the first stage that has candidates, even if a later one would verify.
        ((REF_BAD, SIG_GOOD), False, None, "no valid bundle referrer: bundle bad-ref does not verify"),
        ((TAG_BAD, SIG_GOOD), False, None, "no valid bundle layer: bundle bad-tag does not verify"),
        ((IDX_BAD,), False, None, "no valid bundle layer: bundle bad-idx2 does not verify"),
        # Nothing at all: Talos's exact joined text.
        ((), False, None, "bundle tag not found\nlegacy signature tag not found"),
        ((SIG_BAD,), False, None, "bundle tag not found\nno valid legacy signature: payload bad-payload does not verify"),
        ((SIG_UNSIGNED_LAYER,), False, None, "bundle tag not found\nno valid legacy signature: missing signature annotation"),
        (
            (SIG_DOCKER_MT,),
            False,
            None,
            "bundle tag not found\nunexpected media type for .sig manifest: application/vnd.docker.distribution.manifest.v2+json",
        ),
    ],
)
def test_discovery_order_and_messages(steps, verified, fmt, message):
    result = run(build(*steps))
    assert result.verified is verified
    assert result.format == fmt
    if message.endswith("digest "):
        assert result.message.startswith(message) and result.artifact_digest in result.message
    else:
        assert result.message == message
    assert result.faults == []


def test_every_failing_candidate_is_listed():
    result = run(build(lambda s: add_legacy(s, [b"bad-a", b"bad-b"])))
    assert result.errors == [
        "bundle tag not found",
        f"legacy signature layer 0 ({_digest(b'bad-a')}): payload bad-a does not verify",
        f"legacy signature layer 1 ({_digest(b'bad-b')}): payload bad-b does not verify",
    ]


def test_three_lookups_start_before_any_answer_is_used():
    store = build(SIG_GOOD)
    run(store)
    # referrers, bundle tag and .sig tag are all asked first: one round trip, not three.
    assert sorted(store.requests[:3]) == sorted(["referrers", f"manifest {TAG}", f"manifest {TAG}.sig"])


def test_registry_fault_is_reported_as_fault_not_absence():
    store = build(SIG_GOOD)
    store.faults.add("manifest")
    result = run(store)
    assert not result.verified
    assert result.faults and "reg.example" in result.faults[0]
    assert result.message.startswith(f"failed to resolve bundle tag {TAG}: ")


def _no_json_bundle_tag(store: MemoryStore) -> None:
    store.manifests[TAG] = (d.OCI_MANIFEST, b"not json")


def _empty_sig(store: MemoryStore) -> None:
    store.put_manifest(d.OCI_MANIFEST, {"mediaType": d.OCI_MANIFEST, "layers": []}, tag=TAG + ".sig")


async def _referrers_500(repository, digest, artifact_type):
    raise d.RegistryFault("GET http://reg.example/v2/app/referrers/x: 500 (reg.example)")


REFERRERS_FAULT = lambda s: setattr(s, "referrers", _referrers_500)  # noqa: E731


BAD_REF_LAYER = {"digest": _digest(b"bad-ref"), "size": 7, "mediaType": BUNDLE_MT}
BAD_REF_MANIFEST = _digest(json.dumps({"mediaType": d.OCI_MANIFEST, "artifactType": BUNDLE_MT, "layers": [BAD_REF_LAYER]}).encode())

# `errors` of a verified result: only real failures before the winner; a lookup that found
# nothing is no signature's error. A failed result keeps the whole chain, misses included.
ERRORS = [
    ("legacy wins, bundle tag absent", (SIG_GOOD,), True, []),
    ("referrer wins", (REF_GOOD, SIG_BAD), True, []),
    ("bundle index wins", (IDX_GOOD,), True, []),
    ("bundle tag wins after a bad layer", (TAG_GOOD,), True,
     [f"bundle layer 0 ({_digest(b'bad-1')}): bundle bad-1 does not verify"]),
    ("legacy wins after a bad layer", (SIG_GOOD_NOSET,), True,
     [f"legacy signature layer 0 ({_digest(b'bad-first')}): payload bad-first does not verify"]),
    ("legacy wins after an unreadable bundle tag", (_no_json_bundle_tag, SIG_GOOD), True,
     ["failed to fetch bundle manifest: failed to decode manifest: Expecting value: line 1 column 1 (char 0)"]),
    ("legacy wins after a referrers fault", (REFERRERS_FAULT, SIG_GOOD), True,
     ["referrers: GET http://reg.example/v2/app/referrers/x: 500 (reg.example)"]),
    ("nothing at all", (), False, ["bundle tag not found", "legacy signature tag not found"]),
    ("no legacy layers", (_empty_sig,), False, ["bundle tag not found", "no legacy signatures found"]),
    ("bad legacy", (SIG_BAD,), False,
     ["bundle tag not found", f"legacy signature layer 0 ({_digest(b'bad-payload')}): payload bad-payload does not verify"]),
    ("bad referrer", (REF_BAD,), False, [f"bundle referrer {BAD_REF_MANIFEST}: bundle bad-ref does not verify"]),
]


@pytest.mark.parametrize("steps, verified, errors", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_hold_real_failures_and_misses_only_when_nothing_verifies(steps, verified, errors):
    result = run(build(*steps))
    assert (result.verified, result.errors) == (verified, errors)
