"""Adversarial cases for verification (issue 11): each one an attacker's attempt that must not end
in `verified`, or must stay bounded. Like sigstore-conformance's negative bundles, every row is
signed for real by the private Sigstore; registry cases run against a real docker-registry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from devtools.private_sigstore import Identity, generate_key, public_pem
from pullguard.engine.signatures import SignatureError, TrustedRootError, verify_bundle, verify_legacy
from pullguard.engine.signatures.legacy import LegacyLayer
from pullguard.engine.signatures.trust import load_trusted_root, parse_trusted_root
from pullguard.engine.vocabulary import KeylessVerifier
from tests.support.push import OCI_INDEX, OCI_MANIFEST, Pusher, compact_json
from tests.support.signing import key_rule

DIGEST = "sha256:" + "ab" * 32
WHO = Identity("release@acme.example", "https://accounts.acme.example")
KEYLESS = KeylessVerifier(issuer=WHO.issuer, subject=WHO.subject)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ issue 11 #1: keys without ignoreTlog


def _logged_key_bundle(sigstore, key, *, log_key=None, other_signature: bool = False) -> bytes:
    """A key-signed DSSE bundle whose tlog entry (SET, inclusion proof) records it, as cosign
    `sign --key` with the transparency log makes it."""
    doc = json.loads(sigstore.sign_bundle(DIGEST, key=key))
    env = doc["dsseEnvelope"]
    payload = base64.b64decode(env["payload"])
    signature = base64.b64decode(env["signatures"][0]["sig"])
    if other_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    body = sigstore.dsse_body(env, payload, signature, public_pem(key).encode())
    doc["verificationMaterial"]["tlogEntries"] = [
        sigstore.tlog_entry(body, "dsse", int(sigstore.now.timestamp()), log_key)
    ]
    return json.dumps(doc).encode()


def _unlogged(sigstore, key) -> bytes:
    return sigstore.sign_bundle(DIGEST, key=key)


def _unlogged_message(sigstore, key) -> bytes:
    return sigstore.sign_bundle(DIGEST, key=key, message_signature=True)


def _logged_by_unknown_log(sigstore, key) -> bytes:
    return _logged_key_bundle(sigstore, key, log_key=generate_key("ecdsa-p256"))


def _logged_other_signature(sigstore, key) -> bytes:
    return _logged_key_bundle(sigstore, key, other_signature=True)


KEY_TLOG_CASES = [
    ("empty tlogEntries", _unlogged, "bundle has no transparency-log entry (tlogEntries is empty)"),
    ("message signature, empty tlogEntries", _unlogged_message, "bundle has no transparency-log entry"),
    ("entry from a log not in the root", _logged_by_unknown_log, "which is not in the trusted root"),
    ("entry records another signature", _logged_other_signature, "Rekor entry does not record this signature"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in KEY_TLOG_CASES], ids=[c[0] for c in KEY_TLOG_CASES])
def test_key_rule_that_wants_the_tlog_refuses_an_unlogged_bundle(sigstore, root, make, message):
    key = generate_key()
    with pytest.raises(SignatureError, match=re.escape(message)):
        verify_bundle(make(sigstore, key), DIGEST, key_rule(key, ignore_tlog=False), root)


def test_key_rule_that_wants_the_tlog_accepts_a_logged_bundle(sigstore, root):
    key = generate_key()
    evidence = verify_bundle(_logged_key_bundle(sigstore, key), DIGEST, key_rule(key, ignore_tlog=False), root)
    assert evidence.bundle_verified is True and evidence.tlog is not None


def test_talos_public_key_rule_still_ignores_the_tlog(sigstore, root):
    key = generate_key()
    evidence = verify_bundle(_unlogged(sigstore, key), DIGEST, key_rule(key), root)
    assert evidence.key_fingerprint is not None and evidence.tlog is None


# ------------------------------------------------------------------ issue 11 #3: validity windows


def _shifted_root(sigstore, part: str, start: datetime | None = None, end: datetime | None = None):
    """The private Sigstore's root with one part's `validFor` moved."""
    doc = sigstore.trusted_root()
    window = {"start": _rfc3339(start or sigstore.now - timedelta(days=365))}
    if end is not None:
        window["end"] = _rfc3339(end)
    if part == "ca":
        doc["certificateAuthorities"][0]["validFor"] = window
    else:
        doc[part][0]["publicKey"]["validFor"] = window
    return parse_trusted_root(json.dumps(doc).encode(), f"shifted-{part}")


def _retired(sigstore, part):
    return _shifted_root(sigstore, part, end=sigstore.now - timedelta(hours=1))


def _not_yet(sigstore, part):
    return _shifted_root(sigstore, part, start=sigstore.now + timedelta(days=1))


WINDOW_CASES = [
    ("Fulcio CA retired an hour before", "ca", _retired, "no Fulcio CA of the trusted root"),
    ("Fulcio CA valid from tomorrow", "ca", _not_yet, "no Fulcio CA of the trusted root"),
    ("CT log key retired", "ctlogs", _retired, "was not valid at the SCT time"),
    ("Rekor key retired", "tlogs", _retired, "was not valid at the"),
]


def _legacy(sigstore):
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO)
    return lambda root: verify_legacy([LegacyLayer(payload, annotations)], DIGEST, KEYLESS, root)


def _bundle(message_signature: bool):
    def sign(sigstore):
        bundle = sigstore.sign_bundle(DIGEST, identity=WHO, message_signature=message_signature)
        return lambda root: verify_bundle(bundle, DIGEST, KEYLESS, root)

    return sign


FORMATS = {"legacy": _legacy, "bundle dsse": _bundle(False), "bundle message": _bundle(True)}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("part, shift, message", [c[1:] for c in WINDOW_CASES], ids=[c[0] for c in WINDOW_CASES])
def test_a_key_outside_its_validity_window_verifies_nothing(sigstore, root, fmt, part, shift, message):
    check = FORMATS[fmt](sigstore)
    assert check(root).bundle_verified  # the same signature verifies with the root as issued
    with pytest.raises(SignatureError, match=re.escape(message)):
        check(shift(sigstore, part))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_window_that_holds_the_signing_time_still_verifies(sigstore, fmt):
    check = FORMATS[fmt](sigstore)
    for part in ("ca", "ctlogs", "tlogs"):
        check(_shifted_root(sigstore, part, start=sigstore.now - timedelta(hours=1), end=sigstore.now + timedelta(hours=1)))


# ------------------------------------------------------------------ issue 11 #10: the trusted-root file


def _fifo(tmp_path: Path) -> str:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


def _huge(tmp_path: Path) -> str:
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    return str(path)


ROOT_FILES = [
    ("device", lambda tmp: "/dev/zero", "cannot read trusted root /dev/zero: not a regular file"),
    ("fifo", _fifo, "not a regular file"),
    ("directory", lambda tmp: str(tmp), "not a regular file"),
    ("larger than the limit", _huge, "larger than the 4 MiB limit"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in ROOT_FILES], ids=[c[0] for c in ROOT_FILES])
def test_trusted_root_that_is_not_a_small_regular_file_is_refused(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(TrustedRootError, match=re.escape(message)) as caught:
        load_trusted_root(path)
    assert path in str(caught.value)


@pytest.mark.parametrize("path", ["/dev/zero", "fifo"])
def test_cli_names_the_unreadable_trusted_root(tmp_path, path):
    if path == "fifo":
        path = _fifo(tmp_path)
    policy = Path(__file__).resolve().parents[1] / "samples" / "talos" / "policy.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "pullguard.tui.cli", "verify", str(policy), "ghcr.io/acme/app:v1", "--trusted-root", path],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert f"pullguard: error: cannot read trusted root {path}: not a regular file" in proc.stderr


# ------------------------------------------------------------------ issue 11 #2 and #5: a real registry


@pytest.fixture(scope="module")
def reg(registry):
    pusher = Pusher(registry.url)
    yield registry, pusher
    pusher.close()


class Counting:
    """The registry store, counting what discovery asks and receives and how much runs at once."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.requests: list[str] = []
        self.bytes = 0
        self.in_flight = 0
        self.peak = 0

    async def _count(self, what: str, call):
        self.requests.append(what)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await call
        finally:
            self.in_flight -= 1

    async def resolve(self, context, tag):
        return await self._count("resolve", self.inner.resolve(context, tag))

    async def manifest(self, repository, reference, max_size):
        fetched = await self._count("manifest", self.inner.manifest(repository, reference, max_size))
        self.bytes += len(fetched.data)
        return fetched

    async def blob(self, repository, digest, max_size):
        data = await self._count("blob", self.inner.blob(repository, digest, max_size))
        self.bytes += len(data)
        return data

    async def referrers(self, repository, digest, artifact_type):
        return await self._count("referrers", self.inner.referrers(repository, digest, artifact_type))


def _verify(policy_text: str, images: list[str], *, cache=None, root_path=None):
    from pullguard.engine.policy import load_policy
    from pullguard.engine.verify import VerifyOptions, merge_mirrors, open_store, verify_images

    loaded = load_policy(policy_text, "policy.yaml")
    options = VerifyOptions(trusted_root=str(root_path) if root_path else None)

    async def run():
        store = Counting(open_store(options, merge_mirrors({}, {})))
        try:
            return await verify_images(loaded, images, options, cache=cache, store=store), store
        finally:
            await store.inner.aclose()

    return asyncio.run(run())


def _talos_key_policy(key) -> str:
    pem = textwrap.indent(public_pem(key), " " * 10)
    return (
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
        f"  - image: '127.0.0.1:*'\n    publicKey:\n      certificate: |\n{pem}"
    )


def test_a_moved_tag_is_resolved_again_and_fails(reg, sigstore, tmp_path):
    from pullguard.engine.verify import VerifyCache

    registry, pusher = reg
    key = generate_key()
    signed = pusher.push_image("moved/app", "v1", b"signed image")
    pusher.attach_legacy("moved/app", signed, [sigstore.sign_legacy(signed, key=key, tlog=False)])
    image = f"{registry.host}/moved/app:v1"
    cache = VerifyCache()
    root_path = sigstore.write_trusted_root(tmp_path / "root.json")
    (first,), _ = _verify(_talos_key_policy(key), [image], cache=cache, root_path=root_path)
    assert (first.outcome, first.digest) == ("verified", signed)

    unsigned = pusher.push_image("moved/app", "v1", b"unsigned image")  # the tag moves
    (again,), store = _verify(_talos_key_policy(key), [image], cache=cache, root_path=root_path)
    assert (again.outcome, again.digest, again.cached) == ("failed", unsigned, False)
    assert store.requests[0] == "resolve"

    pusher.push_image("moved/app", "v1", b"signed image")  # and back: the digest's success is reused
    (back,), store = _verify(_talos_key_policy(key), [image], cache=cache, root_path=root_path)
    assert (back.outcome, back.cached, store.requests) == ("verified", True, ["resolve"])


MIB = 1024 * 1024
BUNDLE_MT = "application/vnd.dev.sigstore.bundle.v0.3+json"


def _bundle_index(pusher, repo: str, image: str, manifests: int, layers: int, distinct: bool) -> None:
    """Under the bundle tag: an index of `manifests` manifests of `layers` 1 MiB bundle layers each
    (the same blob everywhere, or a different one per manifest)."""
    empty = dict(pusher.blob(repo, b"{}"), mediaType="application/vnd.oci.empty.v1+json")
    entries = []
    for m in range(manifests):
        blob = dict(pusher.blob(repo, bytes([m if distinct else 0]) * MIB), mediaType=BUNDLE_MT)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_MT, "config": empty,
               "layers": [blob] * layers, "annotations": {"n": str(m)}}
        digest = "sha256:" + hashlib.sha256(compact_json(doc)).hexdigest()
        entries.append(pusher.manifest(repo, digest, doc))
    pusher.manifest(repo, image.replace(":", "-"), {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})


BOUND_CASES = [
    # (case, manifests, layers per manifest, distinct blobs, outcome, message fragment)
    ("30 x 100 layers of one 1 MiB blob", 30, 100, False, "failed", "no valid bundle layer"),
    ("20 manifests of distinct 1 MiB blobs", 20, 1, True, "error", "exceeds the 16 MiB per-image fetch limit"),
    ("65 index entries", 65, 1, False, "error", "65 bundle index entries exceed the 64-entry per-image limit"),
]


@pytest.mark.parametrize("manifests, layers, distinct, outcome, message", [c[1:] for c in BOUND_CASES],
                         ids=[c[0] for c in BOUND_CASES])
def test_one_image_is_bounded_in_requests_bytes_and_concurrency(reg, manifests, layers, distinct, outcome, message):
    registry, pusher = reg
    repo = f"bounded/m{manifests}-l{layers}-{int(distinct)}"
    image = pusher.push_image(repo, "v1")
    _bundle_index(pusher, repo, image, manifests, layers, distinct)
    (result,), store = _verify(_talos_key_policy(generate_key()), [f"{registry.host}/{repo}@{image}"])
    assert result.outcome == outcome
    assert message in result.message
    assert store.bytes <= 16 * MIB
    assert store.peak <= 4
    # referrers, two tags, at most 64 index manifests, and each distinct blob once
    assert len(store.requests) <= 3 + min(manifests, 64) + (16 if distinct else 1)


def test_peak_memory_of_a_hostile_bundle_index_stays_small(reg, tmp_path):
    """The 30 x 100 x 1 MiB index of the review took 3.3 GB; a subprocess's peak RSS says what it takes now."""
    registry, pusher = reg
    repo = "bounded/rss"
    image = pusher.push_image(repo, "v1")
    _bundle_index(pusher, repo, image, 30, 100, True)
    policy = tmp_path / "policy.yaml"
    policy.write_text(_talos_key_policy(generate_key()))
    script = textwrap.dedent(f"""
        import resource, sys
        from pullguard.tui.cli import main
        code = main(["verify", {str(policy)!r}, {f"{registry.host}/{repo}@{image}"!r}, "--format", "json"])
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    out = json.loads(proc.stdout)
    assert out["results"][0]["outcome"] == "error"
    assert "exceeds the 16 MiB per-image fetch limit" in out["results"][0]["message"]
    assert peak_kib < 250 * 1024, f"peak RSS {peak_kib} KiB"


# ------------------------------------------------------------------ issue 11 #5: referrers (the server has no referrers API)


def test_thousands_of_referrers_are_refused_without_fetching_them():
    from pullguard.engine.artifacts import ArtifactNotFound
    from pullguard.engine.signatures import discovery

    class ManyReferrers:
        requests: list[str] = []

        async def referrers(self, repository, digest, artifact_type):
            self.requests.append("referrers")
            return [{"artifactType": BUNDLE_MT, "digest": f"sha256:{i:064x}"} for i in range(3000)]

        async def manifest(self, repository, reference, max_size):
            self.requests.append(f"manifest {reference}")
            raise ArtifactNotFound(reference)

        async def blob(self, repository, digest, max_size):
            raise AssertionError("no blob may be fetched")

    class Never:
        def bundle(self, data, image_digest):
            raise AssertionError("nothing to check")

        def legacy(self, layer, payload, image_digest):
            raise AssertionError("nothing to check")

    store = ManyReferrers()
    found = asyncio.run(discovery.discover(store, "127.0.0.1:1/app", DIGEST, Never()))
    assert not found.verified
    assert found.message == "3000 bundle referrers exceed the 64-entry per-image limit"
    assert found.faults == [found.message]
    assert len(store.requests) == 3  # the referrers list and the two tags, nothing per referrer


# ------------------------------------------------------------------ issue 11 #1 end to end: Kyverno keys attestor


def _kyverno_keys_policy(key, *, ignore_tlog: bool) -> str:
    pem = textwrap.indent(public_pem(key).strip(), " " * 22)
    rekor = "                    rekor:\n                      ignoreTlog: true\n" if ignore_tlog else (
        "                    rekor:\n                      url: https://rekor.sigstore.dev\n")
    return f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: signed
spec:
  rules:
    - name: keyed
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["127.0.0.1:*"]
          mutateDigest: false
          verifyDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
{pem}
{rekor}"""


def _key_signed(pusher, sigstore, repo: str, key, how: str) -> str:
    image = pusher.push_image(repo, "v1", repo.encode())
    if how == "unlogged bundle":
        pusher.attach_bundle_tag(repo, image, [sigstore.sign_bundle(image, key=key)])
    elif how == "logged bundle":
        pusher.attach_bundle_tag(repo, image, [_logged_for(sigstore, key, image)])
    else:  # a legacy signature without a Rekor bundle annotation
        pusher.attach_legacy(repo, image, [sigstore.sign_legacy(image, key=key, tlog=False)])
    return image


def _logged_for(sigstore, key, image: str) -> bytes:
    doc = json.loads(sigstore.sign_bundle(image, key=key))
    env = doc["dsseEnvelope"]
    body = sigstore.dsse_body(env, base64.b64decode(env["payload"]), base64.b64decode(env["signatures"][0]["sig"]),
                              public_pem(key).encode())
    doc["verificationMaterial"]["tlogEntries"] = [sigstore.tlog_entry(body, "dsse", int(sigstore.now.timestamp()))]
    return json.dumps(doc).encode()


KYVERNO_KEY_CASES = [
    # (how the image is signed, ignoreTlog, outcome)
    ("unlogged bundle", False, "failed"),
    ("unlogged legacy", False, "failed"),
    ("logged bundle", False, "verified"),
    ("unlogged bundle", True, "verified"),
    ("unlogged legacy", True, "verified"),
]


@pytest.mark.parametrize("how, ignore_tlog, outcome", KYVERNO_KEY_CASES)
def test_kyverno_keys_attestor_needs_the_tlog_unless_told_otherwise(reg, sigstore, tmp_path, how, ignore_tlog, outcome):
    from pullguard.engine.verify import VerifyCache

    registry, pusher = reg
    key = generate_key()
    repo = f"kyverno-keys/{how.replace(' ', '-')}-{int(ignore_tlog)}"
    image = _key_signed(pusher, sigstore, repo, key, how)
    root_path = sigstore.write_trusted_root(tmp_path / "root.json")
    cache = VerifyCache()
    for _ in range(2):  # the second run may come from the cache: same verdict
        (result,), _ = _verify(_kyverno_keys_policy(key, ignore_tlog=ignore_tlog), [f"{registry.host}/{repo}@{image}"],
                               cache=cache, root_path=root_path)
        assert result.outcome == outcome, result.message


def test_trusted_root_from_talosctl_get_tuftrustedroots(sigstore, tmp_path):
    """SPEC §6: `--trusted-root` takes `talosctl get tuftrustedroots -o yaml` (the node's own root)."""
    import yaml

    root_json = json.dumps(sigstore.trusted_root())
    nodes = [{"node": f"172.20.0.{n}", "metadata": {"namespace": "runtime", "type": "TrustedRoots.security.talos.dev",
                                                    "id": "trusted-root"}, "spec": {"jsonData": root_json}} for n in (2, 3)]
    path = tmp_path / "tuf.yaml"
    path.write_text(yaml.safe_dump_all(nodes))
    root = load_trusted_root(path)
    assert [k.log_id for k in root.tlogs] == [sigstore.trusted_root_log_id("tlogs")]
    payload, annotations = sigstore.sign_legacy(DIGEST, identity=WHO)
    assert verify_legacy([LegacyLayer(payload, annotations)], DIGEST, KEYLESS, root).bundle_verified


def test_an_edited_trusted_root_drops_the_successes_it_no_longer_gives(reg, sigstore, tmp_path):
    """The session cache keys on the root's content, not its path: retiring the CA in the same
    file during a session makes the next run fail, with no stale `verified`."""
    from pullguard.engine.verify import VerifyCache

    registry, pusher = reg
    image = pusher.push_image("edited-root/app", "v1", b"edited root")
    pusher.attach_legacy("edited-root/app", image, [sigstore.sign_legacy(image, identity=WHO)])
    policy = (
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
        f"  - image: '127.0.0.1:*'\n    keyless:\n      issuer: {WHO.issuer}\n      subject: {WHO.subject}\n"
    )
    root_path = tmp_path / "root.json"
    root_path.write_text(json.dumps(sigstore.trusted_root()))
    cache = VerifyCache()
    ref = f"{registry.host}/edited-root/app@{image}"
    (first,), _ = _verify(policy, [ref], cache=cache, root_path=root_path)
    assert first.outcome == "verified", first.message

    doc = sigstore.trusted_root()
    doc["certificateAuthorities"][0]["validFor"]["end"] = _rfc3339(sigstore.now - timedelta(hours=1))
    root_path.write_text(json.dumps(doc))
    os.utime(root_path, ns=(0, root_path.stat().st_mtime_ns + 1_000_000_000))  # a new mtime even on coarse clocks
    (again,), _ = _verify(policy, [ref], cache=cache, root_path=root_path)
    assert (again.outcome, again.cached) == ("failed", False)
    assert "no Fulcio CA of the trusted root" in again.message


@pytest.mark.parametrize("with_root", [False, True])
def test_a_private_sigstore_signature_against_the_public_root_hints_at_trusted_root(reg, sigstore, tmp_path, with_root):
    """Signed with a private Sigstore, verified with no --trusted-root: the failure stays a
    failure (the public root does not vouch for it) and says that a --trusted-root may be missing."""
    from pullguard.engine.verify.run import PRODUCTION_ROOT_HINT

    registry, pusher = reg
    image = pusher.push_image("private-root/app", "v1", b"private root")
    pusher.attach_legacy("private-root/app", image, [sigstore.sign_legacy(image, identity=WHO)])
    policy = (
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
        f"  - image: '127.0.0.1:*'\n    keyless:\n      issuer: {WHO.issuer}\n      subject: {WHO.subject}\n"
    )
    root_path = tmp_path / "root.json"
    root_path.write_text(json.dumps(sigstore.trusted_root()))
    (result,), _ = _verify(policy, [f"{registry.host}/private-root/app@{image}"], root_path=root_path if with_root else None)
    if with_root:
        assert result.outcome == "verified" and PRODUCTION_ROOT_HINT not in result.errors
    else:
        assert result.outcome == "failed", result.message
        assert PRODUCTION_ROOT_HINT in result.errors and "--trusted-root" in PRODUCTION_ROOT_HINT


SAMPLE_ROOT = Path(__file__).resolve().parent.parent / "samples" / "trusted_root.json"


def _set(path: str, value: object):
    """A change to the sample root: the field at `path` (dots, [i]) set to `value`, or deleted (...)."""
    def change(doc: dict) -> None:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        node: object = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]  # type: ignore[index]
        key: object = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]  # type: ignore[attr-defined]
        else:
            node[key] = value  # type: ignore[index]
    return change


MISTYPED_ROOTS = [
    ("tlogs", True, "root.json: tlogs must be a list"),
    ("tlogs[0]", "https://rekor", "root.json: tlogs[0] must be an object"),
    ("ctlogs[0].publicKey", "MFkw", "root.json: ctlogs[0].publicKey must be an object"),
    ("tlogs[0].publicKey.rawBytes", 5, "root.json: tlogs[0].publicKey.rawBytes must be text"),
    ("tlogs[0].publicKey.rawBytes", ..., "root.json: tlogs[0]: unreadable public key"),
    ("tlogs[0].logId", [], "root.json: tlogs[0].logId must be an object"),
    ("tlogs[0].baseUrl", 1, "root.json: tlogs[0].baseUrl must be text"),
    ("tlogs[0].publicKey.validFor.start", "yesterday", "root.json: tlogs[0].publicKey.validFor.start is not a timestamp: 'yesterday'"),
    ("certificateAuthorities[0].certChain", ..., "root.json: certificateAuthorities[0].certChain is missing"),
    ("certificateAuthorities[0].certChain.certificates", {}, "certificateAuthorities[0].certChain.certificates must be a list"),
    ("certificateAuthorities[0].certChain.certificates[0]", "MIIC", "certChain.certificates[0] must be an object"),
    ("certificateAuthorities[0].certChain.certificates[0].rawBytes", "AAAA", "certificateAuthorities[0]: unreadable certificate"),
    ("certificateAuthorities[0].validFor", "always", "root.json: certificateAuthorities[0].validFor must be an object"),
    ("certificateAuthorities[0].uri", {"a": 1}, "root.json: certificateAuthorities[0].uri must be text"),
]


@pytest.mark.parametrize("path, value, message", MISTYPED_ROOTS, ids=[f"{p}={v!r}"[:60] for p, v, _ in MISTYPED_ROOTS])
def test_a_mistyped_trusted_root_names_the_field(tmp_path, path, value, message):
    """A trusted root whose fields have other JSON types than the format's is refused naming the
    field, in the CLI (exit 2, before anything runs) and in the dashboard's ctrl+t check: it was
    a bare "'bool' object is not iterable", or a traceback in the dashboard."""
    from pullguard.tui.editing import trusted_root_problem

    doc = json.loads(SAMPLE_ROOT.read_text())
    _set(path, value)(doc)
    root = tmp_path / "root.json"
    root.write_text(json.dumps(doc))
    with pytest.raises(TrustedRootError, match=re.escape(message)):
        parse_trusted_root(root.read_bytes(), "root.json")
    problem = trusted_root_problem(str(root))
    assert problem is not None and message.replace("root.json", str(root)) in problem
    policy = Path(__file__).resolve().parent.parent / "samples" / "talos" / "policy.yaml"
    completed = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "verify", str(policy), "ghcr.io/acme/api:v1.4.0",
                                "--trusted-root", str(root)], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2 and message.replace("root.json", str(root)) in completed.stderr
    assert "Traceback" not in completed.stderr


def test_the_sample_root_still_reads():
    root = parse_trusted_root(SAMPLE_ROOT.read_bytes(), "root.json")
    assert (len(root.tlogs), len(root.ctlogs), len(root.authorities)) == (1, 1, 1)
    assert root.tlogs[0].valid_from == datetime(2025, 1, 15, 9, 30, tzinfo=timezone.utc)


def test_a_manifest_nested_too_deeply_fails_its_image_not_the_run(tmp_path):
    """A registry (here a copy of the bundled layout) serving a 10 KB manifest nested 5,000 levels
    deep: json's decoder raises RecursionError, which ended the whole run ("maximum recursion
    depth exceeded", exit 2). Now it is that image's outcome and the other image still verifies."""
    import shutil

    samples = Path(__file__).resolve().parent.parent / "samples"
    copy = tmp_path / "samples"
    shutil.copytree(samples, copy)
    index_path = copy / "registry" / "index.json"
    index = json.loads(index_path.read_text())
    data = ('{"schemaVersion": 2, "annotations": {"x": ' + "[" * 5000 + "]" * 5000 + "}}").encode()
    digest = hashlib.sha256(data).hexdigest()
    (copy / "registry" / "blobs" / "sha256" / digest).write_bytes(data)
    for entry in index["manifests"]:
        if entry["annotations"]["org.opencontainers.image.ref.name"] == "ghcr.io/acme/api:v1.4.0":
            entry.update(digest=f"sha256:{digest}", size=len(data))
    index_path.write_text(json.dumps(index))
    done = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "verify", str(copy / "talos" / "policy.yaml"),
                           "ghcr.io/acme/api:v1.4.0", "ghcr.io/acme/web:v2.1.0", "--trusted-root", str(copy / "trusted_root.json"),
                           "-o", "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-300:]
    outcomes = {r["image"]: r["outcome"] for r in json.loads(done.stdout)["results"]}
    assert outcomes == {"ghcr.io/acme/api:v1.4.0": "failed", "ghcr.io/acme/web:v2.1.0": "verified"}
