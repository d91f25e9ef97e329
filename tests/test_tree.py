"""`pullguard tree IMAGE...`: every signature, attestation and SBOM attached to an image, never verified
(SPEC §1, §2 `tree`).

An OCI image layout holds one image with everything cosign and other tools attach (legacy `.sig`,
`.att` and `.sbom` tags, the `sha256-<hex>` bundle tag, OCI referrers of five artifact types) and
is listed through the CLI in a subprocess; a real docker-registry (no referrers API) serves the tag
forms; the engine is called directly over an in-memory store for the per-image bounds (64 entries,
16 MiB, 4 in flight), counted, never timed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.oci_layout_writer import OCI_EMPTY, OCI_MANIFEST, SIMPLESIGNING, OCILayoutWriter, canonical, tag_of
from devtools.private_sigstore import PrivateSigstore, generate_key, intoto_statement, public_pem
from pullguard.engine.artifacts import ArtifactNotFound, Fetched
from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.signatures.discovery import MAX_ENTRIES, MAX_IMAGE_BYTES, MAX_IN_FLIGHT
from pullguard.engine.signatures.inventory import inventory
from pullguard.tui.cli import main
from tests.support.push import DistributionClient, Pusher
from tests.support.registry import REGISTRY_USER
from tests.support.signing import ALICE, ISSUER, MALLORY

REPO = Path(__file__).resolve().parents[1]
DSSE = "application/vnd.dsse.envelope.v1+json"
SLSA = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def dsse_layer(sigstore: PrivateSigstore, digest: str, predicate: str, *, annotate: bool, identity=ALICE) -> tuple[bytes, dict]:
    """A cosign `.att` layer: a DSSE envelope over an in-toto statement, with cosign's annotations."""
    bundle = json.loads(sigstore.sign_bundle(digest, identity=identity, statement=intoto_statement(digest, predicate)))
    envelope = json.dumps(bundle["dsseEnvelope"]).encode()
    _, annotations = sigstore.sign_legacy(digest, identity=identity)  # the certificate and log entry, as cosign attaches them
    if annotate:
        annotations["predicateType"] = predicate
    return envelope, annotations


class Layout:
    """ghcr.io/acme/app:v1 with every kind of attachment, in an OCI layout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ps = self.sigstore = PrivateSigstore()
        self.key = generate_key("ecdsa-p256")
        self.fingerprint = load_public_key_pem(public_pem(self.key)).fingerprint
        w = OCILayoutWriter(root)
        repo = "ghcr.io/acme/app"
        d = self.digest = w.image(f"{repo}:v1", {"app": b"everything attached"})
        size = w.size_of(d)
        w.image(f"{repo}:bare", {"app": b"nothing attached"})
        # Legacy tags: three signatures, two attestations, an SBOM.
        w.legacy_signature(repo, d, [ps.sign_legacy(d, identity=ALICE), ps.sign_legacy(d, key=self.key, tlog=True),
                                     ps.sign_legacy(d, key=self.key, tlog=False)])
        att_layers = [dsse_layer(ps, d, SLSA, annotate=True), dsse_layer(ps, d, SPDX, annotate=False)]
        self._tagged(w, f"{repo}:{tag_of(d)}.att", [w.blob(p, DSSE).to_json(annotations=a) for p, a in att_layers])
        self._tagged(w, f"{repo}:{tag_of(d)}.sbom", [w.blob(b'{"spdxVersion": "SPDX-2.3"}', "text/spdx+json").to_json()])
        # The bundle tag: a signature and an attestation.
        w.bundle_tag(repo, d, [ps.sign_bundle(d, identity=ALICE), ps.sign_bundle(d, identity=MALLORY, statement=intoto_statement(d, SLSA))])
        # Referrers: a bundle, cosign's OCI 1.1 signature, an SBOM, a Notary signature, something else.
        self.bundle_referrer = w.bundle_referrer(d, size, ps.sign_bundle(d, key=self.key))
        payload, annotations = ps.sign_legacy(d, key=self.key, tlog=True)
        signed = w.blob(payload, SIMPLESIGNING).to_json(annotations=annotations)
        self.cosign_referrer = self._referrer(w, d, size, COSIGN_SIG_ARTIFACT, [signed])
        spdx = "application/spdx+json"
        self.sbom_referrer = self._referrer(w, d, size, spdx, [w.blob(b"{}", spdx).to_json()])
        notary = "application/vnd.cncf.notary.signature"
        self.notary_referrer = self._referrer(w, d, size, notary, [w.blob(b"jws", "application/jose+json").to_json()])
        self.other_referrer = self._referrer(w, d, size, "application/vnd.example.thing", [w.blob(b"x").to_json()])
        self.repo = repo

    @staticmethod
    def _tagged(w: OCILayoutWriter, ref_name: str, layers: list[dict]) -> None:
        config = w.blob(b"{}", "application/vnd.oci.image.config.v1+json")
        w.manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": layers}, ref_name)

    @staticmethod
    def _referrer(w: OCILayoutWriter, digest: str, size: int, artifact_type: str, layers: list[dict]) -> str:
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
               "config": w.blob(b"{}", OCI_EMPTY).to_json(), "layers": layers,
               "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size}}
        return w.manifest(doc).digest


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return Layout(tmp_path_factory.mktemp("tree") / "layout")


def run_cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "tree", *argv], capture_output=True, text=True,
                          env=env, timeout=120, cwd=cwd)


def test_everything_attached_is_listed_from_a_layout(layout):
    proc = run_cli(f"{layout.repo}:v1", "--mirror", f"ghcr.io=oci:{layout.root}", "--format", "json")
    assert (proc.returncode, proc.stderr) == (0, "")
    (result,) = json.loads(proc.stdout)["results"]
    assert (result["image"], result["digest"]) == (f"{layout.repo}:v1", layout.digest)
    for artifact in result["artifacts"]:
        assert set(artifact) == {"kind", "format", "reference", "predicate_type", "identity", "key_fingerprint"}
    alice = {"issuer": ISSUER, "subject": ALICE.subject}
    mallory = {"issuer": ISSUER, "subject": MALLORY.subject}
    tag = f"{layout.repo}:{tag_of(layout.digest)}"
    seen = sorted((a["kind"] or "", a["format"], a["reference"], a["predicate_type"] or "", json.dumps(a["identity"]),
                   a["key_fingerprint"] or "") for a in result["artifacts"])

    def row(kind, fmt, reference, predicate=None, identity=None, fingerprint=None):
        return (kind or "", fmt, reference, predicate or "", json.dumps(identity), fingerprint or "")

    at = f"{layout.repo}@"
    expected = [
        row("signature", "bundle-referrer", at + layout.bundle_referrer, "https://sigstore.dev/cosign/sign/v1"),
        row("signature", "legacy", at + layout.cosign_referrer, fingerprint=layout.fingerprint),
        row("sbom", "referrer", at + layout.sbom_referrer),
        row("signature", "referrer", at + layout.notary_referrer),
        row(None, "referrer", at + layout.other_referrer),
        row("signature", "legacy", tag + ".sig", identity=alice),
        row("signature", "legacy", tag + ".sig", fingerprint=layout.fingerprint),  # the key, from its log entry
        row("signature", "legacy", tag + ".sig"),  # never logged: no key to name
        row("attestation", "legacy", tag + ".att", SLSA, alice),
        row("attestation", "legacy", tag + ".att", SPDX, alice),  # predicate read from the envelope
        row("sbom", "legacy", tag + ".sbom"),
    ]
    bundles = [a for a in result["artifacts"] if a["format"] == "bundle"]
    assert sorted((b["kind"], b["predicate_type"], b["identity"]["subject"]) for b in bundles) == [
        ("attestation", SLSA, MALLORY.subject), ("signature", "https://sigstore.dev/cosign/sign/v1", ALICE.subject)]
    assert all(b["reference"].startswith(at + "sha256:") for b in bundles)  # each bundle manifest of the index
    assert sorted(r for r in seen if r[1] != "bundle") == sorted(expected)
    assert mallory in [b["identity"] for b in bundles]
    # Lookup order: referrers, the bundle tag, then .sig, .att, .sbom.
    formats = [a["format"] for a in result["artifacts"]]
    assert formats.index("bundle") > max(i for i, f in enumerate(formats) if f in ("bundle-referrer", "referrer"))
    tagged = [a["reference"].rsplit(".", 1)[-1] for a in result["artifacts"] if a["reference"].startswith(tag + ".")]
    assert tagged == ["sig"] * 3 + ["att"] * 2 + ["sbom"]


def test_text_output_says_nothing_was_verified(layout):
    proc = run_cli(f"{layout.repo}:v1", f"{layout.repo}:bare", "--mirror", f"ghcr.io=oci:{layout.root}")
    assert (proc.returncode, proc.stderr) == (0, "")
    out = proc.stdout
    assert "nothing was verified" in out
    assert f"{layout.repo}:bare" in out and "nothing attached" in out
    assert ALICE.subject in out and SLSA in out and layout.fingerprint in out
    assert out.rstrip().splitlines()[-1].startswith("13 artifacts on 2 images; nothing was verified")


# (arguments, exit code, what stderr says)
EXITS = [
    (["ghcr.io/acme/app:missing"], 1, "image reference not found during resolution"),
    (["ghcr.io/acme/app:v1", "ghcr.io/acme/nothere:v1"], 1, "not found"),
    (["Not A Reference!"], 2, "invalid image reference"),
    ([], 2, "IMAGE"),
    (["ghcr.io/acme/app:v1", "--format", "yaml"], 2, "invalid choice"),
]


@pytest.mark.parametrize("argv, code, says", EXITS)
def test_exit_codes(layout, argv, code, says):
    proc = run_cli(*argv, "--mirror", f"ghcr.io=oci:{layout.root}", "--format", "json") if "--format" not in argv else \
        run_cli(*argv, "--mirror", f"ghcr.io=oci:{layout.root}")
    assert proc.returncode == code, proc.stderr
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr
    if code == 1:
        doc = json.loads(proc.stdout)
        missing = [r for r in doc["results"] if r["digest"] is None]
        assert missing and all(r["artifacts"] == [] for r in missing)


def test_a_real_registry_without_referrers_api(registry, capsys):
    """docker-registry 2.8 has no referrers API: the tags are listed, and that answer is no problem."""
    ps = PrivateSigstore()
    key = generate_key("ecdsa-p256")
    push = Pusher(registry.url)
    digest = push.push_image("tree/app", "v1", content=b"tree on a registry")
    push.attach_legacy("tree/app", digest, [ps.sign_legacy(digest, key=key, tlog=True)])
    push.attach_bundle_tag("tree/app", digest, [ps.sign_bundle(digest, identity=ALICE)])
    push.close()
    code = main(["tree", f"{registry.host}/tree/app:v1", "--format", "json"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    (result,) = json.loads(out)["results"]
    assert result["digest"] == digest
    got = [(a["kind"], a["format"], a["identity"], a["key_fingerprint"]) for a in result["artifacts"]]
    assert got == [("signature", "bundle", {"issuer": ISSUER, "subject": ALICE.subject}, None),
                   ("signature", "legacy", None, load_public_key_pem(public_pem(key)).fingerprint)]


def test_private_registry_credentials_are_never_printed(basic_auth_registry, tmp_path):
    user, password = REGISTRY_USER
    push = Pusher(basic_auth_registry.url)
    push.client.close()
    push.client = DistributionClient(basic_auth_registry.url, auth=REGISTRY_USER)
    digest = push.push_image("private/tree", "v1", content=b"private tree")
    push.attach_legacy("private/tree", digest, [PrivateSigstore().sign_legacy(digest, identity=ALICE)])
    push.close()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {basic_auth_registry.host: {"auth": token}}}))
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", DOCKER_CONFIG=str(tmp_path))
    image = f"{basic_auth_registry.host}/private/tree:v1"
    for argv, code in (([image], 0), ([image, "--format", "json"], 0), ([f"{basic_auth_registry.host}/private/missing:v1"], 1)):
        proc = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "tree", *argv], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == code, proc.stderr
        assert code == 1 or ALICE.subject in proc.stdout  # the credentials were used
        for secret in (password, token):
            assert secret not in proc.stdout + proc.stderr


def _readme_lines(start: str) -> list[str]:
    block = (REPO / "README.md").read_text().split("## Try next", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith(start)]


@pytest.mark.parametrize("line", _readme_lines("pullguard tree ") + [
    line for line in _readme_lines("pullguard verify ") if "--key" in line or "--certificate-" in line])
def test_readme_lines_work_offline_on_the_samples(line):
    """The README's `tree` and cosign-flag `verify` lines, run in the samples' directory as written."""
    import shlex

    argv = shlex.split(line.split("   #", 1)[0])[1:]
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO / "samples")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout  # no image in error, no registry asked beyond the layout


def test_outside_text_is_escaped_in_text_output(tmp_path):
    """A predicate type and a media type with ESC and a newline: one escaped line, no fake row."""
    ps = PrivateSigstore()
    w = OCILayoutWriter(tmp_path / "layout")
    d = w.image("ghcr.io/evil/app:v1", {"a": b"b"})
    envelope, annotations = dsse_layer(ps, d, SLSA, annotate=False)
    annotations["predicateType"] = "\x1b[2J\x1b]0;pwned\x07\nsignature  legacy  fake"
    Layout._tagged(w, f"ghcr.io/evil/app:{tag_of(d)}.att", [w.blob(envelope, DSSE).to_json(annotations=annotations)])
    Layout._referrer(w, d, w.size_of(d), "application/x-\x1b[31mred\r\nrow", [w.blob(b"x").to_json()])
    proc = run_cli("ghcr.io/evil/app:v1", "--mirror", f"ghcr.io=oci:{tmp_path / 'layout'}")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\r" not in proc.stdout
    assert not any(line.lstrip().startswith("signature  legacy  fake") for line in proc.stdout.splitlines())
    json_proc = run_cli("ghcr.io/evil/app:v1", "--mirror", f"ghcr.io=oci:{tmp_path / 'layout'}", "--format", "json")
    predicates = [a["predicate_type"] for a in json.loads(json_proc.stdout)["results"][0]["artifacts"]]
    assert annotations["predicateType"] in predicates  # JSON keeps the text; json.dumps escapes it


# -- the engine directly: the per-image bounds, counted ----------------------------------------------------------


class MemoryStore:
    """An ArtifactStore from dicts that counts what it serves and how many requests run at once."""

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.referrer_list: list[dict] | None = []
        self.served = 0
        self.requests = 0
        self.in_flight = 0
        self.peak = 0

    async def _enter(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0)

    async def manifest(self, repository: str, reference: str, max_size: int) -> Fetched:
        await self._enter()
        try:
            if reference not in self.manifests:
                raise ArtifactNotFound(reference)
            media_type, data = self.manifests[reference]
            data = data[:max_size]
            self.served += len(data)
            return Fetched(media_type, data, reference)
        finally:
            self.in_flight -= 1

    async def blob(self, repository: str, digest: str, max_size: int) -> bytes:
        await self._enter()
        try:
            data = self.blobs[digest][:max_size]
            self.served += len(data)
            return data
        finally:
            self.in_flight -= 1

    async def referrers(self, repository: str, digest: str, artifact_type: str) -> list[dict] | None:
        assert artifact_type == ""  # every artifact type
        await self._enter()
        self.in_flight -= 1
        return self.referrer_list


IMAGE = "sha256:" + "ab" * 32


def test_more_referrers_than_the_entry_limit_are_cut_and_said():
    store = MemoryStore()
    store.referrer_list = [{"digest": f"sha256:{i:064x}", "artifactType": "application/spdx+json"} for i in range(MAX_ENTRIES + 36)]
    found = asyncio.run(inventory(store, "r.example/app", IMAGE))
    assert len(found.artifacts) == MAX_ENTRIES
    limit = f"{MAX_ENTRIES}-entry per-image limit"
    assert found.problems == [f"{MAX_ENTRIES + 36} referrers exceed the {limit}; the first {MAX_ENTRIES} are listed"]


def test_attestation_payloads_stop_at_the_byte_budget_with_four_in_flight():
    """Forty 1 MiB attestation layers without a predicate annotation: at most 16 MiB is read, never
    more than four requests at once, and each layer past the budget is still listed, its predicate unknown."""
    store = MemoryStore()
    layers = []
    for i in range(40):
        digest = f"sha256:{i:064x}"
        store.blobs[digest] = b" " * (1024 * 1024)
        layers.append({"mediaType": DSSE, "digest": digest, "size": 1024 * 1024})
    store.manifests[tag_of(IMAGE) + ".att"] = (OCI_MANIFEST, canonical({"mediaType": OCI_MANIFEST, "layers": layers}))
    found = asyncio.run(inventory(store, "r.example/app", IMAGE))
    assert store.served <= MAX_IMAGE_BYTES
    assert store.peak <= MAX_IN_FLIGHT
    assert len(found.artifacts) == 40 and all(a.kind == "attestation" and a.predicate_type is None for a in found.artifacts)
    assert any("16 MiB per-image fetch limit" in p for p in found.problems)


def test_a_manifest_that_is_not_json_is_a_problem_not_a_crash():
    store = MemoryStore()
    store.manifests[tag_of(IMAGE) + ".sig"] = (OCI_MANIFEST, b"\xff not json")
    store.manifests[tag_of(IMAGE)] = (OCI_MANIFEST, b"[]")
    found = asyncio.run(inventory(store, "r.example/app", IMAGE))
    assert found.artifacts == []
    tag = tag_of(IMAGE)
    assert sorted(found.problems) == [f".sig tag {tag}.sig: not a JSON manifest", f"bundle tag {tag}: not a JSON manifest"]


# (what the bundle tag's one bundle layer holds, kind, predicate type, a problem is reported)
BUNDLE_LAYERS = [
    ("missing", "attestation", SLSA, True),  # the blob is not there: the manifest's annotation says what it was
    ("not json", "attestation", SLSA, False),
    ("message signature", "signature", None, False),
]


@pytest.mark.parametrize("blob, kind, predicate, problem", BUNDLE_LAYERS)
def test_an_unreadable_bundle_is_known_by_its_manifest(blob, kind, predicate, problem):
    store = MemoryStore()
    layer_digest = "sha256:" + "cd" * 32
    if blob == "not json":
        store.blobs[layer_digest] = b"\x00 not a bundle"
    elif blob == "message signature":
        store.blobs[layer_digest] = json.dumps({"messageSignature": {}, "verificationMaterial": {}}).encode()
    named = {"dev.sigstore.bundle.predicateType": SLSA} if blob != "message signature" else {}
    manifest = {"mediaType": OCI_MANIFEST, "annotations": named,
                "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "digest": layer_digest, "size": 10}]}
    store.manifests[tag_of(IMAGE)] = (OCI_MANIFEST, canonical(manifest))
    if blob == "missing":
        store.blobs = _Missing()
    found = asyncio.run(inventory(store, "r.example/app", IMAGE))
    (artifact,) = found.artifacts
    assert (artifact.kind, artifact.format, artifact.predicate_type) == (kind, "bundle", predicate)
    assert bool(found.problems) == problem


class _Missing(dict):
    def __getitem__(self, key):
        raise ArtifactNotFound(key)
