"""`pullguard verify` end to end: a real docker-registry, real signatures from our private Sigstore.

Images are pushed over the distribution API, signed like cosign (legacy `.sig` with a key, keyless
legacy with a Rekor SET, keyless v3 bundles under the referrers fallback tag) and verified through
the CLI with `--trusted-root` = the private root. The real-world signatures are served by the
local registry posing as Docker Hub and ghcr.io (`--mirror`), checked with the production root.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.oci_layout_writer import OCILayoutWriter
from devtools.private_sigstore import PrivateSigstore, generate_key, public_pem
from pullguard.tui.cli import main
from tests.support.policies import keyless_policy
from tests.support.push import Pusher
from tests.support.realworld import REAL_WORLD
from tests.support.registry import start_registry_process
from tests.support.signing import ALICE, ISSUER, MALLORY


class World:
    """The registry, the signed images and the policy that describes them."""

    def __init__(self, tmp: Path) -> None:
        self.registry = start_registry_process()
        self.sigstore = PrivateSigstore()
        self.root = self.sigstore.write_trusted_root(tmp / "trusted_root.json")
        self.key = generate_key("ecdsa-p256")
        self.other_key = generate_key("ecdsa-p256")
        self.push = Pusher(self.registry.url)
        self.host = self.registry.host
        self.images: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        ps = self.sigstore

        def image(name: str) -> tuple[str, str]:
            repo = f"{name}"
            digest = self.push.push_image(repo, "v1")
            self.images[name] = f"{self.host}/{repo}:v1"
            self.digests[name] = digest
            return repo, digest

        repo, d = image("keyed/legacy")
        self.push.attach_legacy(repo, d, [ps.sign_legacy(d, key=self.key, tlog=False)])
        repo, d = image("keyed/legacy-wrong-key")
        self.push.attach_legacy(repo, d, [ps.sign_legacy(d, key=self.other_key, tlog=False)])
        repo, d = image("keyless/legacy")
        self.push.attach_legacy(repo, d, [ps.sign_legacy(d, identity=ALICE)])
        repo, d = image("keyless/bundle")
        self.push.attach_bundle_tag(repo, d, [ps.sign_bundle(d, identity=ALICE)])
        repo, d = image("keyless/wrong-identity")
        self.push.attach_legacy(repo, d, [ps.sign_legacy(d, identity=MALLORY)])
        repo, d = image("keyless/bundle-wrong-identity")
        self.push.attach_bundle_tag(repo, d, [ps.sign_bundle(d, identity=MALLORY)])
        repo, d = image("keyless/unsigned")
        repo, d = image("keyless/tampered")
        payload, annotations = ps.sign_legacy(d, identity=ALICE)
        self.push.attach_legacy(repo, d, [(payload.replace(b'"critical"', b'"critical" '), annotations)])
        repo, d = image("keyless/other-digest")
        other = self.push.push_image(repo, "other")
        # A valid signature, but for the image's sibling: pushed under this image's .sig tag.
        self.push.attach_legacy(repo, d, [ps.sign_legacy(other, identity=ALICE)])
        repo, d = image("keyless/bundle-other-digest")
        self.push.attach_bundle_tag(repo, d, [ps.sign_bundle(other, identity=ALICE)])
        image("skipped/app")
        image("denied/app")

        self.policy = tmp / "policy.yaml"
        pem = "\n".join("        " + line for line in public_pem(self.key).strip().splitlines())
        self.policy_text = f"""apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "{self.host}/skipped/*"
    skip: true
  - image: "{self.host}/denied/*"
    deny: true
  - image: "{self.host}/keyed/*"
    publicKey:
      certificate: |
{pem}
  - image: "{self.host}/keyless/*"
    keyless:
      issuer: {ISSUER}
      subject: {ALICE.subject}
  - image: "127.0.0.1:1/*"
    keyless:
      issuer: {ISSUER}
      subject: {ALICE.subject}
"""
        self.policy.write_text(self.policy_text)

    def close(self) -> None:
        self.push.close()
        self.registry.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("verify"))
    yield w
    w.close()


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def verify_json(capsys, world: World, images: list[str], *extra: str) -> tuple[int, dict]:
    code, out, err = run_cli(
        capsys, str(world.policy), *images, "--trusted-root", str(world.root), "--format", "json", "--timeout", "3", *extra
    )
    return code, json.loads(out)


VERIFIED = [
    ("keyed/legacy", "verified via legacy signature (bundle verified false)", "legacy", None),
    ("keyless/legacy", "verified via legacy signature (bundle verified true)", "legacy", ALICE),
    ("keyless/bundle", "verified via bundle", "bundle", ALICE),
]


@pytest.mark.parametrize("name, message, fmt, identity", VERIFIED)
def test_signed_images_verify_with_talos_messages(capsys, world, name, message, fmt, identity):
    code, doc = verify_json(capsys, world, [world.images[name]])
    (result,) = doc["results"]
    assert (code, result["outcome"], result["message"]) == (0, "verified", message)
    assert result["digest"] == world.digests[name]
    sig = result["signature"]
    assert sig["format"] == fmt
    assert sig["artifact_digest"] == world.digests[name]
    if identity is None:
        assert sig["identity"] is None
        assert sig["key_fingerprint"].startswith("sha256:")
    else:
        assert sig["identity"] == {"issuer": identity.issuer, "subject": identity.subject}
        assert sig["tlog"]["log_index"] >= 0 and sig["tlog"]["integrated_time"].endswith("Z")


@pytest.mark.parametrize("name", [row[0] for row in VERIFIED])
def test_verified_results_carry_no_lookup_misses_as_errors(capsys, world, name):
    # `bundle tag not found` on the way to a legacy signature is no signature's error (SPEC §2).
    code, doc = verify_json(capsys, world, [world.images[name]])
    (result,) = doc["results"]
    assert (result["outcome"], result["errors"]) == ("verified", [])


FAILED = [
    ("keyed/legacy-wrong-key", ["bundle tag not found", "no valid legacy signature: "]),
    ("keyless/wrong-identity", ["bundle tag not found", "no valid legacy signature: ", MALLORY.subject]),
    ("keyless/bundle-wrong-identity", ["no valid bundle layer: ", MALLORY.subject]),
    ("keyless/unsigned", ["bundle tag not found\nlegacy signature tag not found"]),
    ("keyless/tampered", ["no valid legacy signature: "]),
    ("keyless/other-digest", ["no valid legacy signature: "]),
    ("keyless/bundle-other-digest", ["no valid bundle layer: "]),
]


@pytest.mark.parametrize("name, fragments", FAILED)
def test_bad_signatures_fail_with_reasons(capsys, world, name, fragments):
    code, doc = verify_json(capsys, world, [world.images[name]])
    (result,) = doc["results"]
    assert (code, result["outcome"], result["signature"]) == (1, "failed", None)
    assert result["message"].startswith("image verification failed: no valid signature found: ")
    for fragment in fragments:
        assert fragment in result["message"]
    assert result["errors"], "every failing candidate is listed"


@pytest.mark.parametrize(
    "name, outcome, message",
    [
        ("skipped/app", "skipped", "verification skipped by matched rule (0000)"),
        ("denied/app", "denied", "verification denied by matched rule (0001)"),
    ],
)
def test_skip_and_deny_rules(capsys, world, name, outcome, message):
    code, doc = verify_json(capsys, world, [world.images[name]])
    assert (doc["results"][0]["outcome"], doc["results"][0]["message"]) == (outcome, message)
    assert code == (0 if outcome == "skipped" else 1)


def test_unmatched_image_is_allowed(capsys, world):
    code, doc = verify_json(capsys, world, ["docker.io/library/busybox:1"])
    assert (code, doc["results"][0]["outcome"], doc["results"][0]["message"]) == (0, "allowed", "no matched rule")


def test_unreachable_registry_is_an_error_naming_the_host(capsys, world):
    code, doc = verify_json(capsys, world, ["127.0.0.1:1/app/x:v1"])
    result = doc["results"][0]
    assert (code, result["outcome"]) == (1, "error")
    assert "127.0.0.1:1" in result["message"]


def test_missing_image_is_an_error(capsys, world):
    code, doc = verify_json(capsys, world, [f"{world.host}/keyless/nope:v1"])
    result = doc["results"][0]
    assert (code, result["outcome"]) == (1, "error")
    assert result["message"].startswith("image reference not found during resolution: ")


def test_json_shape_and_summary_over_a_mixed_run(capsys, world):
    names = ["keyless/legacy", "keyless/unsigned", "skipped/app", "denied/app"]
    code, doc = verify_json(capsys, world, [world.images[n] for n in names] + ["nginx"])
    assert code == 1
    assert set(doc) == {"policy", "dialect", "results", "summary"}
    assert doc["dialect"] == "talos"
    assert doc["summary"] == {"verified": 1, "failed": 1, "skipped": 1, "denied": 1, "allowed": 1, "error": 0}
    keys = {"image", "match_subject", "action", "rule_index", "rule_id", "pattern", "verifier", "message",
            "digest", "outcome", "signature", "errors"}
    assert all(set(r) == keys for r in doc["results"])
    assert [r["image"] for r in doc["results"]] == [world.images[n] for n in names] + ["nginx"]


def test_exit_zero_when_every_image_is_admitted_and_text_table(capsys, world):
    images = [world.images["keyless/legacy"], world.images["skipped/app"], "nginx"]
    code, out, err = run_cli(capsys, str(world.policy), *images, "--trusted-root", str(world.root))
    assert code == 0
    assert "verified via legacy signature (bundle verified true)" in out
    assert "skipped" in out and "allowed" in out


def test_images_file_from_stdin_and_policy_untouched(world, tmp_path):
    before = world.policy.read_bytes()
    listing = f"# images\n{world.images['keyless/bundle']}\n{world.images['keyed/legacy']}\n"
    proc = subprocess.run(
        [sys.executable, "-m", "pullguard.tui.cli", "verify", str(world.policy), "--images", "-",
         "--trusted-root", str(world.root), "--format", "json"],
        input=listing, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout holds the JSON and nothing else
    assert [r["outcome"] for r in doc["results"]] == ["verified", "verified"]
    assert world.policy.read_bytes() == before


@pytest.mark.parametrize(
    "policy_text, argv_tail, fragment",
    [
        ("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: x/*\n    skip: true\n    deny: true\n",
         ["nginx"], "rule 0: skip and deny cannot both be true"),
        (None, ["nginx"], "cannot read policy"),
        ("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: []\n", [], "no images given"),
        ("apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules: []\n", ["nginx", "--mirror", "nohost"], "HOST=ENDPOINT"),
    ],
)
def test_usage_and_policy_errors_exit_2(tmp_path, capsys, policy_text, argv_tail, fragment):
    policy = tmp_path / "p.yaml"
    if policy_text is not None:
        policy.write_text(policy_text)
    try:
        code = main(["verify", str(policy), *argv_tail])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert fragment in err


def test_cached_reverification_makes_no_request(world):
    import asyncio

    from pullguard.engine.policy import load_policy
    from pullguard.engine.verify import VerifyCache, VerifyOptions, verify_images

    loaded = load_policy(world.policy_text, str(world.policy))
    options = VerifyOptions(trusted_root=str(world.root))
    cache = VerifyCache()
    images = [world.images["keyless/legacy"], world.images["keyless/bundle"], world.images["keyless/unsigned"]]
    first = asyncio.run(verify_images(loaded, images, options, cache=cache))
    assert [r.outcome for r in first] == ["verified", "verified", "failed"]

    from pullguard.engine.verify import merge_mirrors, open_store

    class ResolveOnly:
        """Tags are resolved again (a tag may have moved); no signature is fetched again."""

        def __init__(self) -> None:
            self.inner = open_store(options, merge_mirrors({}, {}))
            self.resolved: list[str] = []

        async def resolve(self, context, tag):
            self.resolved.append(f"{context}:{tag}")
            return await self.inner.resolve(context, tag)

        def __getattr__(self, name):  # any other registry use is a failure
            raise AssertionError(f"cached re-verification used the registry ({name})")

    async def again_with(store):
        try:
            return await verify_images(loaded, images[:2], options, cache=cache, store=store)
        finally:
            await store.inner.aclose()

    store = ResolveOnly()
    again = asyncio.run(again_with(store))
    assert [(r.outcome, r.cached, r.message) for r in again] == [(r.outcome, True, r.message) for r in first[:2]]
    assert len(store.resolved) == 2


# ----------------------------------------------------------------------------- real-world data

SALRASHID = "index.docker.io/salrashid123/server_image@sha256:c05263d2ff654c3a94243662440913f045075d59c436e2c69e9145ec2b87a321"
KUBEWARDEN = "ghcr.io/kubewarden/kubewarden-controller:v1.34.0@sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172"


@pytest.fixture(scope="module")
def real_world(world, tmp_path_factory):
    if not REAL_WORLD.is_dir():
        pytest.skip(f"real-world signature data not found at {REAL_WORLD}")
    sal = REAL_WORLD / "salrashid123-server_image"
    manifest = json.loads((sal / "signature-manifest.json").read_text())
    for name in ("payload.json", "config.json"):
        world.push.blob("salrashid123/server_image", (sal / name).read_bytes())
    world.push.manifest(
        "salrashid123/server_image", "sha256-" + SALRASHID.rsplit(":", 1)[1] + ".sig", manifest
    )
    bundle = (REAL_WORLD / "kubewarden-controller" / "bundle.json").read_bytes()
    world.push.attach_bundle_tag("kubewarden/kubewarden-controller", "sha256:" + KUBEWARDEN.rsplit(":", 1)[1], [bundle])
    policy = tmp_path_factory.mktemp("real") / "policy.yaml"
    policy.write_text(
        """apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: index.docker.io/salrashid123/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subject: https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30
  - image: ghcr.io/kubewarden/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subjectRegex: ^https://github\\.com/kubewarden/kubewarden-controller/\\.github/workflows/release\\.yml@refs/tags/v
  - image: ghcr.io/wrong-identity/*
    keyless:
      issuer: https://token.actions.githubusercontent.com
      subject: https://github.com/someone/else/.github/workflows/release.yml@refs/heads/main
"""
    )
    return policy


@pytest.mark.parametrize(
    "image, outcome, message",
    [
        (SALRASHID, "verified", "verified via legacy signature (bundle verified true)"),
        (KUBEWARDEN, "verified", "verified via bundle"),
    ],
)
def test_real_world_signatures_with_production_root(capsys, world, real_world, image, outcome, message):
    code, out, err = run_cli(
        capsys, str(real_world), image, "--format", "json",
        "--mirror", f"index.docker.io={world.registry.url}", "--mirror", f"ghcr.io={world.registry.url}",
    )
    result = json.loads(out)["results"][0]
    assert (code, result["outcome"], result["message"]) == (0, outcome, message)
    assert result["signature"]["identity"]["issuer"] == "https://token.actions.githubusercontent.com"


def test_real_world_bundle_against_another_identity_fails(capsys, world, real_world):
    # The kubewarden bundle, re-homed under a repository whose rule wants someone else.
    bundle = (REAL_WORLD / "kubewarden-controller" / "bundle.json").read_bytes()
    digest = "sha256:" + KUBEWARDEN.rsplit(":", 1)[1]
    world.push.attach_bundle_tag("wrong-identity/app", digest, [bundle])
    code, out, err = run_cli(
        capsys, str(real_world), f"ghcr.io/wrong-identity/app@{digest}", "--format", "json",
        "--mirror", f"ghcr.io={world.registry.url}",
    )
    result = json.loads(out)["results"][0]
    assert (code, result["outcome"]) == (1, "failed")
    assert "no valid bundle layer: " in result["message"]


# ----------------------------------------------------------------------------- Kyverno

def kyverno_policy(world: World, tmp: Path) -> Path:
    pem = "\n".join("                      " + line for line in public_pem(world.key).strip().splitlines())
    text = f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: signed
spec:
  rules:
    - name: one-of-two
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["{world.host}/keyless/*"]
          mutateDigest: false
          verifyDigest: false
          attestors:
            - count: 1
              entries:
                - keyless:
                    issuer: "{ISSUER}"
                    subject: "mallory@*"
                    rekor:
                      url: https://rekor.sigstore.dev
                - keyless:
                    issuer: "{ISSUER}"
                    subject: "alice@*"
                    rekor:
                      url: https://rekor.sigstore.dev
    - name: keyed
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["{world.host}/keyed/*"]
          mutateDigest: false
          verifyDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
{pem}
                    rekor:
                      ignoreTlog: true
                    ctlog:
                      ignoreSCT: true
"""
    path = tmp / "kyverno.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, outcome, fragment",
    [
        ("keyless/legacy", "verified", "verified via legacy signature (bundle verified true)"),
        ("keyless/bundle", "verified", "verified via bundle"),
        ("keyless/wrong-identity", "verified", "verified via legacy signature"),  # count 1: mallory's entry is enough
        ("keyless/unsigned", "failed", "fewer than 1 of 2 attestors verified"),
        ("keyed/legacy", "verified", "verified via legacy signature (bundle verified false)"),
        ("keyed/legacy-wrong-key", "failed", "fewer than 1 of 1 attestors verified"),
    ],
)
def test_kyverno_attestor_counts(capsys, world, tmp_path, name, outcome, fragment):
    policy = kyverno_policy(world, tmp_path)
    code, out, err = run_cli(capsys, str(policy), world.images[name], "--trusted-root", str(world.root), "--format", "json")
    assert out, err
    result = json.loads(out)["results"][0]
    assert (result["outcome"], code) == (outcome, 0 if outcome == "verified" else 1), result
    assert fragment in result["message"]


# ----------------------------------------------------------------------------- referrers (oci: layout)

@pytest.fixture(scope="module")
def layout(world, tmp_path_factory):
    lay = OCILayoutWriter(tmp_path_factory.mktemp("layout"))
    ps = world.sigstore
    found = {}
    d = lay.image("ghcr.io/org/referred:v1", {"app": b"referred"})
    found["referred"] = (d, lay.bundle_referrer(d, lay.size_of(d), ps.sign_bundle(d, identity=ALICE)))
    # Talos order: bundle referrers exist, so a good legacy signature is never consulted.
    d = lay.image("ghcr.io/org/referred-bad:v1", {"app": b"referred-bad"})
    found["referred-bad"] = (d, lay.bundle_referrer(d, lay.size_of(d), ps.sign_bundle(d, identity=MALLORY)))
    lay.legacy_signature("ghcr.io/org/referred-bad", d, [ps.sign_legacy(d, identity=ALICE)])
    policy = tmp_path_factory.mktemp("layout-policy") / "policy.yaml"
    policy.write_text(keyless_policy("ghcr.io/org/*", ALICE))
    return lay, policy, found


def test_bundle_referrer_through_oci_layout(capsys, world, layout):
    lay, policy, found = layout
    image_digest, referrer = found["referred"]
    code, out, err = run_cli(capsys, str(policy), "ghcr.io/org/referred:v1", "--mirror", f"ghcr.io=oci:{lay.root}",
                             "--trusted-root", str(world.root), "--format", "json")
    result = json.loads(out)["results"][0]
    assert (code, result["outcome"]) == (0, "verified"), result
    assert result["message"] == f"verified via bundle referrer with digest {referrer}"
    assert result["digest"] == image_digest
    assert result["signature"]["format"] == "bundle-referrer"


def test_failing_referrer_is_final_even_with_a_good_legacy_signature(capsys, world, layout):
    lay, policy, _ = layout
    code, out, err = run_cli(capsys, str(policy), "ghcr.io/org/referred-bad:v1", "--mirror", f"ghcr.io=oci:{lay.root}",
                             "--trusted-root", str(world.root), "--format", "json")
    result = json.loads(out)["results"][0]
    assert (code, result["outcome"]) == (1, "failed"), result
    assert result["message"].startswith("image verification failed: no valid signature found: no valid bundle referrer: ")
    assert MALLORY.subject in result["message"]


def test_real_world_bundle_as_referrer(capsys, world, tmp_path):
    if not REAL_WORLD.is_dir():
        pytest.skip(f"real-world signature data not found at {REAL_WORLD}")
    lay = OCILayoutWriter(tmp_path / "layout")
    digest = "sha256:" + KUBEWARDEN.rsplit(":", 1)[1]
    # Only the referrer is in the layout (the image itself is not), so its subject size is unknown: 0.
    referrer = lay.bundle_referrer(digest, 0, (REAL_WORLD / "kubewarden-controller" / "bundle.json").read_bytes())
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: ghcr.io/kubewarden/*\n"
        "    keyless:\n      issuer: https://token.actions.githubusercontent.com\n"
        "      subject: https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0\n"
    )
    code, out, err = run_cli(capsys, str(policy), KUBEWARDEN, "--mirror", f"ghcr.io=oci:{lay.root}", "--format", "json")
    result = json.loads(out)["results"][0]
    assert (code, result["message"]) == (0, f"verified via bundle referrer with digest {referrer}")


# ----------------------------------------------------------------------------- talosctl image ls: the node's verdict

def talosctl_listing(rows: list[tuple[str, str | None]]) -> str:
    """`talosctl image ls` as Go's tabwriter prints it; label None = no talos.dev/verified."""
    labelled = [(image, "io.cri-containerd.image=managed" + (f",talos.dev/verified={msg}" if msg else ""))
                for image, msg in rows]
    iw = max(len("IMAGE"), *(len(i) for i, _ in labelled)) + 3
    lw = max(len("LABELS"), *(len(lab) for _, lab in labelled)) + 3
    lines = ["NODE".ljust(13) + "IMAGE".ljust(iw) + "DIGEST".ljust(74) + "SIZE".ljust(8) + "LABELS".ljust(lw) + "CREATED"]
    for image, lab in labelled:
        lines.append("172.20.0.5".ljust(13) + image.ljust(iw) + ("sha256:" + "0" * 64).ljust(74) + "12 MB".ljust(8)
                     + lab.ljust(lw) + "2026-01-15T11:30:00Z")
    return "\n".join(lines) + "\n"


# (image, the node's label, pullguard's outcome, TALOS cell, a disagreement)
NODE_VERDICTS = [
    ("keyless/legacy", "verified via legacy signature (bundle verified true)", "verified", "verified", False),
    ("keyless/unsigned", None, "failed", "unverified", False),
    ("skipped/app", None, "skipped", "unverified", False),
    ("keyless/wrong-identity", "verified via legacy signature (bundle verified true)", "failed", "verified !", True),
    ("keyless/bundle", None, "verified", "unverified !", True),
]


@pytest.fixture
def node_listing(world, tmp_path):
    listing = tmp_path / "images.txt"
    listing.write_text(talosctl_listing([(world.images[n], label) for n, label, *_ in NODE_VERDICTS]))
    return listing


def test_verify_text_shows_the_node_verdict_beside_pullguards(capsys, world, node_listing):
    code, out, err = run_cli(capsys, str(world.policy), "--images", str(node_listing), "--trusted-root", str(world.root))
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "RULE", "OUTCOME", "TALOS", "MESSAGE"]
    talos_at = lines[0].index("TALOS")
    for (name, _label, outcome, cell, _), line in zip(NODE_VERDICTS, lines[1:], strict=False):
        assert line.startswith(world.images[name] + " ")
        assert line.split()[2] == outcome
        assert line[talos_at:].startswith(cell + " "), line
    assert "! 2 images where the node's talos.dev/verified label disagrees with pullguard's outcome" in out


def test_verify_json_adds_node_verified_only_for_labelled_input(capsys, world, node_listing):
    code, out, err = run_cli(capsys, str(world.policy), "nginx", "--images", str(node_listing),
                             "--trusted-root", str(world.root), "--format", "json")
    results = json.loads(out)["results"]
    # `nginx` came from the command line: the node said nothing about it.
    assert [r["node_verified"] for r in results] == [None] + [label is not None for _, label, *_ in NODE_VERDICTS]
    assert [r["outcome"] for r in results[1:]] == [outcome for _, _, outcome, *_ in NODE_VERDICTS]
    plain = node_listing.parent / "plain.txt"
    plain.write_text(world.images["keyless/legacy"] + "\n")
    for argv in (["--images", str(plain)], [world.images["keyless/legacy"]]):
        code, out, err = run_cli(capsys, str(world.policy), *argv, "--trusted-root", str(world.root), "--format", "json")
        assert "node_verified" not in json.loads(out)["results"][0]
        code, out, err = run_cli(capsys, str(world.policy), *argv, "--trusted-root", str(world.root))
        assert "TALOS" not in out.splitlines()[0]


# (image, the message's start after the mirror is given): errors name the image's registry and
# the mirror that answered (SPEC §3: "says what failed, for which host").
MIRROR_ERRORS = [
    ("ghcr.io/org/missing:v1", "image reference not found during resolution: ghcr.io/org/missing:v1 via mirror oci:{root}: "
                               "HEAD oci:{root}/v2/org/missing/manifests/v1: 404"),
    ("ghcr.io/org/missing@sha256:" + "0" * 64, "image verification failed: no valid signature found: bundle tag not found\n"
                                               "legacy signature tag not found"),
]


@pytest.mark.parametrize("image, message", MIRROR_ERRORS)
def test_errors_through_an_oci_mirror_name_the_image_registry(capsys, world, layout, tmp_path, image, message):
    lay, _, _ = layout
    policy = tmp_path / "p.yaml"
    policy.write_text(f"""apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/org/*
    keyless: {{issuer: {ISSUER}, subject: {ALICE.subject}}}
---
apiVersion: v1alpha1
kind: RegistryMirrorConfig
name: ghcr.io
endpoints:
  - url: oci:{lay.root}
skipFallback: true
""")
    code, out, err = run_cli(capsys, str(policy), image, "--trusted-root", str(world.root), "--format", "json")
    result = json.loads(out)["results"][0]
    assert code == 1
    assert result["message"] == message.format(root=lay.root)
