"""Signatures in another repository (Kyverno `repository`, ImageValidatingPolicy
`cosign.source.repository`; cosign's COSIGN_REPOSITORY / WithTargetRepository), on real registries.

The `.sig`/`.att` tags, the bundle tag and the referrers of the image digest are looked up in the
other repository only; the signed claim must still name the image's digest. Each row beside a
verifying one tries to slip past: a signature in the other repository for another digest, one in
the image's own repository when the policy points elsewhere (Kyverno does not look there), the
other repository on another host with its own credentials (neither host's credentials may reach
the other)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pytest

from devtools.oci_layout_writer import DSSE_ENVELOPE, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, SIMPLESIGNING
from devtools.private_sigstore import public_pem, sign_bytes, simple_signing_payload
from pullguard.engine.policy import load_policy
from pullguard.engine.policy.ivpol.convert import convert
from pullguard.engine.verify import VerifyOptions, verify_images
from tests.support.push import DistributionClient, Pusher
from tests.support.registry import REGISTRY_USER, htpasswd_auth, need_registry_binary, start_registry
from tests.support.scripted_http import scripted_server
from tests.support.signing import ALICE, ISSUER, fixed_key

KEY = fixed_key(0x5E90_0001)
MALLORY_KEY = fixed_key(0x5E90_0002)
SIGS = "sigs/acme"  # the signature repository on the image's registry
SIGNATURE_USER = ("signatures", "an0ther-Pa55word")  # the second registry's user
PROVENANCE = "https://slsa.dev/provenance/v1"


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


def _legacy(image_digest: str, *, claimed: str | None = None, key=KEY) -> tuple[bytes, dict]:
    """`cosign sign --key --tlog-upload=false` for `image_digest` (its payload naming `claimed`)."""
    payload = simple_signing_payload(claimed or image_digest)
    return payload, {"dev.cosignproject.cosign/signature": base64.b64encode(sign_bytes(key, payload)).decode()}


def _attach(push: Pusher, repo: str, tag: str, media_type: str, layers: list[tuple[bytes, dict]]) -> None:
    """A `.sig`/`.att` manifest under `tag`, as Pusher.attach_legacy lays one out."""
    descs = [dict(push.blob(repo, data), mediaType=media_type, annotations=ann) for data, ann in layers]
    config = dict(push.blob(repo, b"{}"), mediaType=OCI_CONFIG)
    push.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": descs})


@pytest.fixture(scope="module")
def world(registry, sigstore, tmp_path_factory):
    push = Pusher(registry.url)
    host = registry.url.split("://", 1)[1]
    images: dict[str, str] = {}

    def image(name: str) -> str:
        digest = push.push_image(f"app/{name}", "v1", content=f"repository test {name}".encode())
        images[name] = f"{host}/app/{name}@{digest}"
        return digest

    d = image("elsewhere")  # its signature only in the signature repository
    push.attach_legacy(SIGS, d, [_legacy(d)])
    d = image("own")  # its signature only in its own repository
    push.attach_legacy("app/own", d, [_legacy(d)])
    d = image("other-digest")  # the signature repository holds, under its tag, a signature for "elsewhere"
    push.attach_legacy(SIGS, d, [_legacy(d, claimed=images["elsewhere"].split("@")[1])])
    d = image("bundle")  # a v3 bundle under the bundle tag of the signature repository
    push.attach_bundle_tag(SIGS, d, [sigstore.sign_bundle(d, identity=ALICE)])
    d = image("keyless")  # keyless legacy in the signature repository
    push.attach_legacy(SIGS, d, [sigstore.sign_legacy(d, identity=ALICE)])
    d = image("attested")  # an attestation under the signature repository's .att tag
    push.attach_att(SIGS, d, [sigstore.attest_legacy(d, PROVENANCE, {"buildType": "ci"}, identity=ALICE)])
    d = image("attested-own")  # the attestation in the image's own repository only
    push.attach_att("app/attested-own", d, [sigstore.attest_legacy(d, PROVENANCE, {"buildType": "ci"}, identity=ALICE)])
    d = image("prefixed")  # cosign sign with WithPrefix("v1-"): `v1-sha256-<hex>.sig`
    _attach(push, SIGS, "v1-" + "sha256-" + d.split(":")[1] + ".sig", SIMPLESIGNING, [_legacy(d)])
    d = image("attested-prefixed")
    _attach(push, SIGS, "v1-" + "sha256-" + d.split(":")[1] + ".att", DSSE_ENVELOPE,
            [sigstore.attest_legacy(d, PROVENANCE, {"buildType": "ci"}, key=KEY, tlog=False)])
    d = image("mallory")  # a signature by another key in the signature repository
    push.attach_legacy(SIGS, d, [_legacy(d, key=MALLORY_KEY)])
    push.close()
    root = sigstore.write_trusted_root(tmp_path_factory.mktemp("repo-root") / "trusted_root.json")
    return {"images": images, "host": host, "root": str(root)}


KEYS = "keys:\n  publicKeys: |-\n" + _indent(public_pem(KEY), 4) + "  rekor: {ignoreTlog: true}\n"
KEYLESS = f"keyless:\n  issuer: {ISSUER}\n  subject: {ALICE.subject}\n  rekor: {{url: https://rekor.sigstore.dev}}\n"


def cluster_policy(attestor: str = KEYS, entry_extra: str = "", attestations: str = "") -> str:
    text = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n"
        "    match: {any: [{resources: {kinds: [Pod]}}]}\n"
        "    verifyImages:\n"
        "    - imageReferences: ['*']\n      mutateDigest: false\n"
        + _indent(entry_extra, 6)
    )
    if attestations:
        return text + _indent(attestations, 6)
    return text + "      attestors:\n      - entries:\n        - " + _indent(attestor, 10).lstrip()


def _verify(text: str, image: str, root: str, **options) -> tuple[str, str, dict]:
    loaded = load_policy(text, "repository.yaml")
    assert loaded.errors == 0, [(d.line, d.message) for d in loaded.diagnostics if d.severity == "error"]
    (result,) = asyncio.run(verify_images(loaded, [image], VerifyOptions(trusted_root=root, **options)))
    return result.outcome, result.message, result.to_json()


def _cases(host: str) -> list[tuple[str, str, str, str, str]]:
    sigs = f"{host}/{SIGS}"
    return [
        ("entry repository: the signature there verifies", "elsewhere", cluster_policy(entry_extra=f"repository: {sigs}"),
         "verified", f"verified via legacy signature (bundle verified false) in {sigs}"),
        ("attestor repository: the signature there verifies", "elsewhere", cluster_policy(KEYS + f"repository: {sigs}\n"),
         "verified", f"in {sigs}"),
        ("no repository: the image's own repository has none", "elsewhere", cluster_policy(), "failed",
         "legacy signature tag not found"),
        ("repository elsewhere: a signature in the image's own repository is not looked at", "own",
         cluster_policy(entry_extra=f"repository: {sigs}"), "failed", "legacy signature tag not found"),
        ("a signature in the other repository for another digest", "other-digest",
         cluster_policy(entry_extra=f"repository: {sigs}"), "failed", "signature is for another image"),
        ("a signature in the other repository by another key", "mallory",
         cluster_policy(entry_extra=f"repository: {sigs}"), "failed", "does not verify"),
        ("the attestor's repository wins over the entry's", "elsewhere",
         cluster_policy(KEYS + f"repository: {sigs}\n", entry_extra=f"repository: {host}/app/own"), "verified", f"in {sigs}"),
        ("the attestor's repository wins: the entry's is not looked at", "elsewhere",
         cluster_policy(KEYS + f"repository: {host}/app/own\n", entry_extra=f"repository: {sigs}"), "failed",
         "legacy signature tag not found"),
        ("a v3 bundle under the other repository's bundle tag", "bundle",
         cluster_policy(KEYLESS, entry_extra=f"repository: {sigs}"), "verified", f"verified via bundle in {sigs}"),
        ("keyless legacy in the other repository", "keyless", cluster_policy(KEYLESS, entry_extra=f"repository: {sigs}"),
         "verified", f"in {sigs}"),
        ("an attestation in the other repository", "attested",
         cluster_policy(entry_extra=f"repository: {sigs}", attestations=_attestations()), "verified",
         f"verified attestation {PROVENANCE} (legacy"),
        ("an attestation in the image's own repository when the policy points elsewhere", "attested-own",
         cluster_policy(entry_extra=f"repository: {sigs}", attestations=_attestations()), "failed",
         f"no verified attestation of type {PROVENANCE}"),
        ("an attestor's repository inside attestations", "attested",
         cluster_policy(attestations=_attestations(f"repository: {sigs}")), "verified", f"in {sigs}"),
    ]


def _attestations(attestor_extra: str = "") -> str:
    return ("attestations:\n- type: " + PROVENANCE + "\n  attestors:\n  - entries:\n    - "
            + _indent(KEYLESS + attestor_extra, 6).lstrip()
            + "  conditions:\n  - all:\n    - {key: '{{ buildType }}', operator: Equals, value: ci}\n")


CASE_IDS = [c[0] for c in _cases("h")]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_kyverno_looks_for_signatures_in_the_repository_the_policy_names(world, index):
    _case, image, policy, outcome, words = _cases(world["host"])[index]
    got, message, _ = _verify(policy, world["images"][image], world["root"])
    assert got == outcome, message
    assert words in message


def test_the_evidence_says_where_the_signature_was_found(world):
    sigs = f"{world['host']}/{SIGS}"
    _, _, report = _verify(cluster_policy(entry_extra=f"repository: {sigs}"), world["images"]["elsewhere"], world["root"])
    assert report["signature"]["repository"] == sigs
    assert report["requirements"]["entries"][0]["attestors"][0]["entries"][0]["repository"] == sigs
    _, _, own = _verify(cluster_policy(), world["images"]["own"], world["root"])
    assert "repository" not in own["signature"]  # the image's own: the SPEC §2 shape as before
    _, _, attested = _verify(cluster_policy(entry_extra=f"repository: {sigs}", attestations=_attestations()),
                             world["images"]["attested"], world["root"])
    assert attested["attestations"][0]["repository"] == sigs


def test_the_detail_pane_says_where_the_signature_was_found(world):
    from rich.text import Text

    from pullguard.tui.widgets.detail import result_lines

    sigs = f"{world['host']}/{SIGS}"
    _, _, report = _verify(cluster_policy(entry_extra=f"repository: {sigs}"), world["images"]["elsewhere"], world["root"])
    out = Text()
    result_lines(out, report)
    assert f"found in  {sigs}" in out.plain


# --- ImageValidatingPolicy cosign.source ----------------------------------------------------------


def ivpol(source: str = "", attestation: bool = False) -> str:
    check = ("verifyAttestationSignatures(i, attestations.prov, [attestors.ours])" if attestation
             else "verifyImageSignatures(i, [attestors.ours])")
    return (
        "apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata: {name: sigs}\n"
        "spec:\n  validationConfigurations: {mutateDigest: false}\n"
        "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n"
        "  attestors:\n  - name: ours\n    cosign:\n      key:\n        data: |-\n" + _indent(public_pem(KEY), 10)
        + "      ctlog: {insecureIgnoreTlog: true}\n" + _indent(source, 6)
        + (f"  attestations:\n  - name: prov\n    intoto: {{type: '{PROVENANCE}'}}\n" if attestation else "")
        + f"  validations:\n  - expression: images.containers.map(i, {check}).all(n, n > 0)\n"
        "    message: not signed\n"
    )


def _ivpol_cases(host: str) -> list[tuple[str, str, str, str, str]]:
    sigs = f"{host}/{SIGS}"
    return [
        ("source.repository: the signature there verifies", "elsewhere", ivpol(f"source: {{repository: {sigs}}}"),
         "verified", ""),
        ("no source: the image's own repository has none", "elsewhere", ivpol(), "failed", "not signed"),
        ("source.repository: the image's own signature is not looked at", "own", ivpol(f"source: {{repository: {sigs}}}"),
         "failed", "not signed"),
        ("source.repository: a signature for another digest", "other-digest", ivpol(f"source: {{repository: {sigs}}}"),
         "failed", "not signed"),
        ("source.tagPrefix: the prefixed .sig tag", "prefixed", ivpol(f"source: {{repository: {sigs}, tagPrefix: v1-}}"),
         "verified", ""),
        ("source.tagPrefix: the unprefixed tag is not looked at", "elsewhere",
         ivpol(f"source: {{repository: {sigs}, tagPrefix: v1-}}"), "failed", "not signed"),
        ("no tagPrefix: a prefixed tag is not looked at", "prefixed", ivpol(f"source: {{repository: {sigs}}}"),
         "failed", "not signed"),
        ("source.tagPrefix: a prefixed .att tag", "attested-prefixed",
         ivpol(f"source: {{repository: {sigs}, tagPrefix: v1-}}", attestation=True), "verified", ""),
        ("source.PullSecrets is not verified by pullguard", "elsewhere",
         ivpol(f"source:\n  repository: {sigs}\n  PullSecrets: [{{name: regcred}}]"), "error",
         "not verified by pullguard: attestor 'ours': cosign.source.PullSecrets"),
    ]


IVPOL_IDS = [c[0] for c in _ivpol_cases("h")]


@pytest.mark.parametrize("index", range(len(IVPOL_IDS)), ids=IVPOL_IDS)
def test_an_image_validating_policy_looks_in_its_source_repository(world, index):
    _case, image, policy, outcome, words = _ivpol_cases(world["host"])[index]
    got, message, report = _verify(policy, world["images"][image], world["root"])
    assert got == outcome, message
    assert words in message
    if outcome == "verified":
        assert report["signature"]["repository"] == f"{world['host']}/{SIGS}"


def test_convert_carries_the_repository_and_keeps_the_verdicts(world):
    sigs = f"{world['host']}/{SIGS}"
    for attestor, extra in ((KEYS, f"repository: {sigs}"), (KEYS + f"repository: {sigs}\n", "")):
        text = cluster_policy(attestor, entry_extra=extra)
        loaded = load_policy(text, "repository.yaml")
        conversion = convert(loaded.policy, text, "repository.yaml")
        assert f"repository: {json.dumps(sigs)}" in conversion.text or f"repository: {sigs}" in conversion.text
        assert not [w for w in conversion.warnings if "repository" in w.message]
        for image in ("elsewhere", "own", "other-digest"):
            assert (_verify(conversion.text, world["images"][image], world["root"])[0]
                    == _verify(text, world["images"][image], world["root"])[0]), image


# --- check: bad values are diagnostics with line:column ---------------------------------------------


# (case, value, words, the text the column points at)
BAD_REPOSITORIES = [
    ("a tag", "ghcr.io/acme/sigs:v1", "repository can only contain the characters", ":v1"),
    ("upper case", "ghcr.io/Acme/sigs", "repository can only contain the characters", "Acme"),
    ("a digest", "ghcr.io/acme/sigs@sha256:" + "0" * 64, "repository can only contain the characters", "@sha256"),
    ("a port that is not digits", "ghcr.io:x/acme", "the port must be digits", "x/acme"),
]


@pytest.mark.parametrize("value, words, at", [c[1:] for c in BAD_REPOSITORIES], ids=[c[0] for c in BAD_REPOSITORIES])
def test_a_repository_cosign_cannot_parse_is_a_check_error_and_an_error_outcome(value, words, at):
    for text, code, field in ((cluster_policy(entry_extra=f"repository: '{value}'"), "kyverno-repository-invalid", "repository"),
                              (cluster_policy(KEYS + f"repository: '{value}'\n"), "kyverno-repository-invalid",
                               "attestors[0].entries[0].repository"),
                              (ivpol(f"source: {{repository: '{value}'}}"), "ivpol-repository-invalid", "source.repository")):
        loaded = load_policy(text, "repository.yaml")
        (diag,) = [d for d in loaded.diagnostics if d.code == code]
        assert diag.severity == "error" and f"failed to parse signature repository {value}" in diag.message
        assert field in diag.message and words in diag.message
        line = text.splitlines()[diag.line - 1]
        assert line[diag.column - 1:].startswith(at), (line, diag.column)
        requirements = loaded.policy.evaluate("ghcr.io/acme/app:v1").requirements
        assert requirements.unsupported if code.startswith("kyverno") else requirements.applying[0].policy.attestors[0].unsupported


def test_type_sigstore_bundle_ignores_repository_as_kyverno_does(world):
    """Kyverno's SigstoreBundle path reads the bundles as referrers of the image in its own
    repository (fetchBundles): `repository` is a warning and the image's own repository is used."""
    sigs = f"{world['host']}/{SIGS}"
    text = cluster_policy(KEYS, entry_extra=f"type: SigstoreBundle\nrepository: {sigs}")
    loaded = load_policy(text, "repository.yaml")
    assert "kyverno-repository-ignored" in [d.code for d in loaded.diagnostics]
    assert _verify(text, world["images"]["own"], world["root"])[0] == "verified"
    assert _verify(text, world["images"]["elsewhere"], world["root"])[0] == "failed"


# --- the other repository on another host, each with its own credentials ----------------------------


@pytest.fixture(scope="module")
def two_hosts(basic_auth_registry, tmp_path_factory):
    """The image on `basic_auth_registry` (REGISTRY_USER), its signature on a second registry that
    knows only SIGNATURE_USER: a credential sent to the wrong host is refused there."""
    need_registry_binary()
    root = tmp_path_factory.mktemp("signature-registry")
    with start_registry(root, auth=htpasswd_auth(root, dict([SIGNATURE_USER]))) as signatures:
        images = Pusher(basic_auth_registry.url)
        images.client.close()
        images.client = DistributionClient(basic_auth_registry.url, REGISTRY_USER)
        digest = images.push_image("app/private", "v1", content=b"private image")
        images.close()
        sigs = Pusher(signatures.url)
        sigs.client.close()
        sigs.client = DistributionClient(signatures.url, SIGNATURE_USER)
        sigs.attach_legacy("sigs/private", digest, [_legacy(digest)])
        sigs.close()
        image_host = basic_auth_registry.url.split("://", 1)[1]
        signature_host = signatures.url.split("://", 1)[1]
        # by tag: the image host is asked for the digest (a digest reference is never resolved)
        yield {"image": f"{image_host}/app/private:v1", "image_host": image_host,
               "signature_host": signature_host, "repository": f"{signature_host}/sigs/private"}


def _config(tmp_path: Path, auths: dict[str, tuple[str, str]]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                                          for host, (u, p) in auths.items()}}))
    return str(path)


CREDENTIALS = [
    ("each host its own credentials", {"image_host": REGISTRY_USER, "signature_host": SIGNATURE_USER}, "verified", "in "),
    ("no credentials for the signature host", {"image_host": REGISTRY_USER}, "error", "/v2/sigs/private/manifests/"),
    ("the image host's credentials do not open the signature host",
     {"image_host": REGISTRY_USER, "signature_host": REGISTRY_USER}, "error", "/v2/sigs/private/manifests/"),
    ("the signature host's credentials do not open the image host",
     {"image_host": SIGNATURE_USER, "signature_host": SIGNATURE_USER}, "error", "/v2/app/private/manifests/v1: 401"),
]


@pytest.mark.parametrize("auths, outcome, words", [c[1:] for c in CREDENTIALS], ids=[c[0] for c in CREDENTIALS])
def test_the_signature_host_has_its_own_credentials(two_hosts, tmp_path, auths, outcome, words):
    secrets = _config(tmp_path, {two_hosts[key]: cred for key, cred in auths.items()})
    text = cluster_policy(entry_extra=f"repository: {two_hosts['repository']}\nverifyDigest: false")
    got, message, report = _verify(text, two_hosts["image"], None, pull_secrets=[secrets])
    assert got == outcome, message
    assert words in message
    for _user, password in (REGISTRY_USER, SIGNATURE_USER):
        assert password not in json.dumps(report)


def test_the_signature_hosts_mirror_serves_its_signatures(world, registry):
    """A mirror of the signature host (here an unused loopback port) is asked as for any host."""
    text = cluster_policy(entry_extra="repository: localhost:1/sigs/acme")
    got, message, report = _verify(text, world["images"]["elsewhere"], world["root"],
                                   mirrors={"localhost:1": [registry.url]})
    assert got == "verified", message
    assert report["signature"]["repository"] == "localhost:1/sigs/acme"


@pytest.mark.parametrize("prefix, words", [("v1:", "':' is not allowed in a tag"), ("x" * 54, "longer than 53 characters")],
                         ids=["a colon", "too long"])
def test_a_tag_prefix_that_makes_no_tag_is_a_check_error_and_an_error_outcome(prefix, words):
    text = ivpol(f"source: {{tagPrefix: '{prefix}'}}")
    loaded = load_policy(text, "repository.yaml")
    (diag,) = [d for d in loaded.diagnostics if d.code == "ivpol-tag-prefix-invalid"]
    assert diag.severity == "error" and words in diag.message
    assert text.splitlines()[diag.line - 1][diag.column - 1:].startswith(f"'{prefix}"), diag.column
    (attestor,) = loaded.policy.policies[0].attestors
    assert any(u.startswith("cosign.source.tagPrefix") for u in attestor.unsupported)


# --- referrers in the other repository (cosign's Referrers and GetBundles use the target repository) --


@pytest.fixture(scope="module")
def referrers_world(registry, sigstore, tmp_path_factory):
    """docker-registry 2.8 has no referrers API: a scripted loopback server in front of it answers
    `GET /v2/<repo>/referrers/<digest>` from the referrer manifests pushed below (an empty index for
    any other) and passes every other request through to the real registry."""
    push = Pusher(registry.url)
    listed: dict[tuple[str, str], list[dict]] = {}
    digests: dict[str, str] = {}
    for name, repo in (("ref-elsewhere", SIGS), ("ref-own", "app/ref-own")):
        d = push.push_image(f"app/{name}", "v1", content=f"referrers {name}".encode())
        digests[name] = d
        listed[(repo, d)] = [push.referrer_manifest(repo, d, sigstore.sign_bundle(d, identity=ALICE))]
    push.close()
    upstream = httpx.Client(base_url=registry.url, timeout=10)

    def answer(method, path, headers):
        if "/referrers/" in path:
            repo, _, digest = path.removeprefix("/v2/").partition("/referrers/")
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "manifests": listed.get((repo, digest.split("?")[0]), [])}).encode()
            return 200, {"Content-Type": OCI_INDEX}, body
        r = upstream.request(method, path, headers={k: v for k, v in headers.items() if k.lower() == "accept"})
        keep = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "docker-content-digest")}
        return r.status_code, keep, r.content

    root = sigstore.write_trusted_root(tmp_path_factory.mktemp("referrers-root") / "trusted_root.json")
    with scripted_server(answer) as (host, requests):
        yield {"host": host, "requests": requests, "digests": digests, "root": str(root)}
    upstream.close()


def test_a_bundle_referrer_in_the_other_repository_verifies(referrers_world):
    w = referrers_world
    sigs = f"{w['host']}/{SIGS}"
    image = f"{w['host']}/app/ref-elsewhere@{w['digests']['ref-elsewhere']}"
    got, message, report = _verify(cluster_policy(KEYLESS, entry_extra=f"repository: {sigs}"), image, w["root"])
    assert got == "verified", message
    assert message.startswith("verified via bundle referrer with digest ") and message.endswith(f" in {sigs}")
    assert report["signature"]["repository"] == sigs


def test_a_bundle_referrer_in_the_images_own_repository_is_not_asked_for(referrers_world):
    w = referrers_world
    d = w["digests"]["ref-own"]
    image = f"{w['host']}/app/ref-own@{d}"
    before = len(w["requests"])
    got, message, _ = _verify(cluster_policy(KEYLESS, entry_extra=f"repository: {w['host']}/{SIGS}"), image, w["root"])
    assert got == "failed", message
    asked = [path for _, path, _ in w["requests"][before:]]
    assert any(p.startswith(f"/v2/{SIGS}/referrers/{d}") for p in asked)
    assert not [p for p in asked if p.startswith("/v2/app/ref-own/")], asked  # nothing of the image's own repository
    assert _verify(cluster_policy(KEYLESS), image, w["root"])[0] == "verified"  # the referrer itself is good
