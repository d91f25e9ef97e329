"""Regenerate `samples/`: policies, image lists, a signed OCI image layout and its trusted root.

    python -m devtools.make_samples [--out DIR]

Everything the demo (`pullguard` with no arguments) shows is made here, offline:

- a sample private Sigstore (Fulcio CA, CT log, Rekor; `devtools.private_sigstore`) whose
  public half is `trusted_root.json`; its private keys, and the partner's signing key, live only
  in this process's memory and are never written;
- `registry/`, an OCI image layout with one small image per sample reference and cosign's
  signature artifacts next to them (legacy `.sig` tags, v3 bundles as referrers and under the
  `sha256-<hex>` fallback tag), including the broken ones the demo is meant to show;
- `talos/policy.yaml` and `kyverno/cluster-policy.yaml` over those images, and
  `kyverno/image-validating-policy.yaml`, `pullguard convert`'s output for the ClusterPolicy;
- `images/` with the same image list in every format `--images` reads;
- `partner.pub`, the partner's public key (`pullguard verify IMAGE --key partner.pub`).

Image contents, timestamps and file layout are fixed, so a rerun changes only what must change:
signatures, certificates and the partner's public key (EC keys cannot be seeded).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devtools.oci_layout_writer import OCILayoutWriter
from devtools.private_sigstore import Identity, PrivateSigstore, generate_key, intoto_statement, public_pem

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"

# Every signature is made "at" a fixed time; verification checks certificates at the logged time.
SIGNED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ACME_SUBJECT_REGEX = r"^https://github\.com/acme/[^/]+/\.github/workflows/release\.yaml@refs/tags/v"


# The attestations the Kyverno sample policy requires: builder's SLSA provenance (legacy `.att`)
# and ledger's CycloneDX SBOM (a Sigstore bundle referrer), both keyless from the release workflow.
SLSA_PROVENANCE = "https://slsa.dev/provenance/v0.2"
CYCLONEDX_SBOM = "https://cyclonedx.org/bom"
SLSA_BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"
PROVENANCE = {
    "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
    "builder": {"id": SLSA_BUILDER},
    "invocation": {"configSource": {"uri": "git+https://github.com/acme/builder@refs/tags/v1.0.0",
                                    "entryPoint": ".github/workflows/release.yaml"}},
}
SBOM = {
    "bomFormat": "CycloneDX", "specVersion": "1.5",
    "components": [{"type": "library", "name": "openssl", "version": "3.3.2",
                    "licenses": [{"expression": "Apache-2.0"}]}],
}


def workflow_identity(repo: str, ref: str) -> Identity:
    return Identity(f"https://github.com/{repo}/.github/workflows/release.yaml@{ref}", GITHUB_ISSUER)


@dataclass(frozen=True)
class Sample:
    """One image of the demo and what pullguard must say about it."""

    reference: str
    signing: str  # how the generator signs it (see `_sign`)
    talos: str  # expected outcome under talos/policy.yaml
    kyverno: str  # expected outcome under kyverno/cluster-policy.yaml
    why: str  # one line for the README and the image list
    namespace: str = "default"
    size: str = "12 MB"


SAMPLES_TABLE: tuple[Sample, ...] = (
    Sample("ghcr.io/acme/api:v1.4.0", "keyless-legacy", "verified", "verified",
           "keyless; legacy `.sig` signature with a Rekor SET", "acme"),
    Sample("ghcr.io/acme/web:v2.1.0", "keyless-bundle-referrer", "verified", "verified",
           "keyless; Sigstore bundle found as an OCI referrer", "acme"),
    Sample("ghcr.io/acme/worker:v0.9.2", "keyless-bundle-tag", "verified", "verified",
           "keyless; Sigstore bundle under the `sha256-<hex>` tag", "acme"),
    Sample("ghcr.io/acme/billing:v3.0.1", "keyless-wrong-identity", "failed", "failed",
           "keyless, but signed by a branch build: wrong identity", "acme"),
    Sample("ghcr.io/acme/cache:v1.1.0", "unsigned", "failed", "failed",
           "no signature at all", "acme"),
    Sample("quay.io/partner/agent:v5.2.0", "key-legacy", "verified", "verified",
           "signed with the partner's key (`cosign sign --key`)", "monitoring"),
    Sample("quay.io/partner/exporter:v1.0.3", "key-tampered", "failed", "failed",
           "the partner's signature with one byte changed", "monitoring"),
    Sample("registry.acme.internal:5000/tools/debug:2026.01", "unsigned", "skipped", "skipped",
           "internal registry, skip rule", "tools"),
    Sample("ttl.sh/3f9c2a1e-demo:1h", "unsigned", "denied", "allowed",
           "anonymous throw-away registry, deny rule (Kyverno: allowed)", "scratch"),
    Sample("registry.k8s.io/pause:3.10", "unsigned", "allowed", "allowed",
           "no rule matches", "kube-system", "320 kB"),
    Sample("docker.io/library/nginx:1.27", "unsigned", "allowed", "allowed",
           "no rule matches", "default", "72 MB"),
    # Last, so that adding them changed no other image's pod name or signing time.
    Sample("ghcr.io/acme/builder:v1.0.0", "keyless-legacy-slsa", "verified", "verified",
           "keyless `.sig`, and a SLSA provenance attestation (`.att`) Kyverno requires", "acme"),
    Sample("ghcr.io/acme/ledger:v1.2.0", "keyless-legacy-sbom", "verified", "verified",
           "keyless `.sig`, and a CycloneDX SBOM bundle referrer Kyverno requires", "acme"),
)


def _split(reference: str) -> tuple[str, str]:
    """`ghcr.io/acme/api:v1.4.0` -> (`ghcr.io/acme/api`, `v1.4.0`)."""
    repo, _, tag = reference.rpartition(":")
    return repo, tag


# ---------------------------------------------------------------------------------------------
# Registry


@dataclass
class Built:
    digests: dict[str, str]  # reference -> image manifest digest
    messages: dict[str, str]  # reference -> Talos's verification message (verified images)
    partner_key_pem: str


def build_registry(out: Path, sigstore: PrivateSigstore) -> Built:
    layout = OCILayoutWriter(out / "registry")
    partner_key = generate_key("ecdsa-p256")
    digests: dict[str, str] = {}
    messages: dict[str, str] = {}
    for n, sample in enumerate(SAMPLES_TABLE):
        repo, tag = _split(sample.reference)
        files = {
            "etc/sample-release": f"{sample.reference}\n".encode(),
            "bin/sample": f"#!/bin/sh\necho {repo.rsplit('/', 1)[-1]} {tag}\n".encode(),
        }
        digest = layout.image(sample.reference, files)
        digests[sample.reference] = digest
        at = SIGNED_AT + timedelta(minutes=n)
        message = _sign(layout, sigstore, sample, repo, tag, digest, at, partner_key)
        if message:
            messages[sample.reference] = message
    return Built(digests, messages, public_pem(partner_key))


def _sign(layout: OCILayoutWriter, sigstore: PrivateSigstore, sample: Sample, repo: str, tag: str,
          digest: str, at: datetime, partner_key) -> str | None:
    """Attach the sample's signature artifacts; returns Talos's message when it verifies."""
    kind = sample.signing
    name = repo.split("/", 1)[1]  # acme/api
    release = workflow_identity(name, f"refs/tags/{tag}")
    if kind == "keyless-legacy":
        payload, annotations = sigstore.sign_legacy(digest, identity=release, at=at, docker_reference=repo)
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        return "verified via legacy signature (bundle verified true)"
    if kind == "keyless-legacy-slsa":
        payload, annotations = sigstore.sign_legacy(digest, identity=release, at=at, docker_reference=repo)
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        layout.legacy_attestation(repo, digest, [sigstore.attest_legacy(
            digest, SLSA_PROVENANCE, PROVENANCE, identity=release, at=at)])
        return "verified via legacy signature (bundle verified true)"
    if kind == "keyless-legacy-sbom":
        payload, annotations = sigstore.sign_legacy(digest, identity=release, at=at, docker_reference=repo)
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        sbom = sigstore.sign_bundle(digest, identity=release, at=at,
                                    statement=intoto_statement(digest, CYCLONEDX_SBOM, SBOM))
        referrer = layout.bundle_referrer(digest, layout.size_of(digest), sbom, predicate_type=CYCLONEDX_SBOM)
        # The SBOM's bundle names the image digest and is signed by the release identity, so
        # Talos, which looks at referrers before the `.sig` tag, verifies the image through it.
        return f"verified via bundle referrer with digest {referrer}"
    if kind == "keyless-bundle-referrer":
        bundle = sigstore.sign_bundle(digest, identity=release, at=at)
        referrer = layout.bundle_referrer(digest, layout.size_of(digest), bundle)
        return f"verified via bundle referrer with digest {referrer}"
    if kind == "keyless-bundle-tag":
        layout.bundle_tag(repo, digest, [sigstore.sign_bundle(digest, identity=release, at=at)])
        return "verified via bundle"
    if kind == "keyless-wrong-identity":
        branch = workflow_identity(name, "refs/heads/main")
        payload, annotations = sigstore.sign_legacy(digest, identity=branch, at=at, docker_reference=repo)
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        return None
    if kind == "key-legacy":
        payload, annotations = sigstore.sign_legacy(digest, key=partner_key, at=at, tlog=False, docker_reference=repo)
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        return "verified via legacy signature (bundle verified false)"
    if kind == "key-tampered":
        payload, annotations = sigstore.sign_legacy(digest, key=partner_key, at=at, tlog=False, docker_reference=repo)
        import base64

        sig = bytearray(base64.b64decode(annotations["dev.cosignproject.cosign/signature"]))
        sig[len(sig) // 2] ^= 0x01
        annotations["dev.cosignproject.cosign/signature"] = base64.b64encode(bytes(sig)).decode()
        layout.legacy_signature(repo, digest, [(payload, annotations)])
        return None
    if kind == "unsigned":
        return None
    raise ValueError(f"unknown signing kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Policies


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.strip().splitlines())


TALOS_POLICY = """\
# Image signature verification for the acme cluster: a Talos machine-configuration patch.
#   talosctl patch machineconfig --nodes <node> --patch @policy.yaml
# Rules are tried top-down; the first whose pattern matches the image's registry/repository
# decides. An image no rule matches is allowed.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  # acme's own images are signed keyless by the release workflow of each repository.
  - image: ghcr.io/acme/*
    keyless:
      issuer: {issuer}
      subjectRegex: {subject_regex}
  # The partner signs its images with a key pair (`cosign sign --key`).
  - image: quay.io/partner/*
    publicKey:
      certificate: |-
{partner_key}
  # Only the cluster's own builds land in the internal registry; they are not signed.
  - image: registry.acme.internal:5000/*
    skip: true
  # An anonymous registry whose images expire after hours: never run anything from it.
  - image: ttl.sh/*
    deny: true
{mirrors}"""

KYVERNO_POLICY = """\
# The same intent as ../talos/policy.yaml, as a Kyverno ClusterPolicy. Every verifyImages entry
# whose imageReferences match an image applies; Kyverno's verifyImages has no "deny", so the
# ttl.sh image is allowed here.
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
  annotations:
    policies.kyverno.io/title: Verify image signatures
spec:
  webhookTimeoutSeconds: 30
  rules:
    - name: acme-release-builds
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "ghcr.io/acme/*"
            - "registry.acme.internal:5000/*"
          # Only the cluster's own builds land in the internal registry; they are not signed.
          skipImageReferences:
            - "registry.acme.internal:5000/*"
          failureAction: Enforce
          mutateDigest: false
          verifyDigest: false
          attestors:
            - entries:
                - keyless:
                    issuer: {issuer}
                    subjectRegExp: '{subject_regex}'
                    rekor:
                      url: https://rekor.sigstore.dev
    - name: builder-provenance
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        # builder must carry the SLSA provenance of the slsa-github-generator's container workflow
        # (`cosign attest --type slsaprovenance`); Kyverno puts the predicate's fields at the top.
        - imageReferences:
            - "ghcr.io/acme/builder:*"
          failureAction: Enforce
          mutateDigest: false
          verifyDigest: false
          attestations:
            - type: {slsa}
              attestors:
                - entries:
                    - keyless:
                        issuer: {issuer}
                        subjectRegExp: '{subject_regex}'
                        rekor:
                          url: https://rekor.sigstore.dev
              conditions:
                - all:
                    - key: "{{{{ buildType }}}}"
                      operator: Equals
                      value: https://github.com/slsa-framework/slsa-github-generator/container@v1
                    - key: "{{{{ builder.id }}}}"
                      operator: Equals
                      value: "https://github.com/slsa-framework/slsa-github-generator/*"
    - name: ledger-sbom
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        # ledger must carry a CycloneDX SBOM (`cosign attest --type cyclonedx`, a bundle referrer).
        - imageReferences:
            - "ghcr.io/acme/ledger:*"
          failureAction: Enforce
          mutateDigest: false
          verifyDigest: false
          attestations:
            - type: {sbom}
              attestors:
                - entries:
                    - keyless:
                        issuer: {issuer}
                        subjectRegExp: '{subject_regex}'
                        rekor:
                          url: https://rekor.sigstore.dev
              conditions:
                - all:
                    - key: "{{{{ bomFormat }}}}"
                      operator: Equals
                      value: CycloneDX
    - name: partner-images
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "quay.io/partner/*"
          failureAction: Enforce
          mutateDigest: false
          verifyDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
{partner_key}
                    rekor:
                      ignoreTlog: true
{mirrors}"""

MIRRORS = """\
---
# pullguard reads registry mirrors from the policy file. These send pulls for ghcr.io and quay.io
# to the OCI image layout bundled with the samples, so that verification runs offline; `oci:`
# endpoints are pullguard's own (a path relative to this file), and skipFallback keeps it from
# asking the real registries. On a Talos node, point `url` at a registry mirror instead.{kubectl_note}
apiVersion: v1alpha1
kind: RegistryMirrorConfig
name: ghcr.io
endpoints:
  - url: oci:../registry
skipFallback: true
---
apiVersion: v1alpha1
kind: RegistryMirrorConfig
name: quay.io
endpoints:
  - url: oci:../registry
skipFallback: true
"""


def write_policies(out: Path, built: Built) -> None:
    (out / "talos").mkdir(parents=True, exist_ok=True)
    (out / "kyverno").mkdir(parents=True, exist_ok=True)
    kubectl_note = ("\n# They are not Kubernetes objects: apply only the ClusterPolicy above to a cluster"
                    "\n# (e.g. `yq 'select(.kind == \"ClusterPolicy\")' cluster-policy.yaml | kubectl apply -f -`).")
    (out / "talos" / "policy.yaml").write_text(TALOS_POLICY.format(
        issuer=GITHUB_ISSUER, subject_regex=ACME_SUBJECT_REGEX, partner_key=_indent(built.partner_key_pem, 8),
        mirrors=MIRRORS.format(kubectl_note="")))
    (out / "kyverno" / "cluster-policy.yaml").write_text(KYVERNO_POLICY.format(
        issuer=GITHUB_ISSUER, subject_regex=ACME_SUBJECT_REGEX, partner_key=_indent(built.partner_key_pem, 22),
        slsa=SLSA_PROVENANCE, sbom=CYCLONEDX_SBOM,
        mirrors=MIRRORS.format(kubectl_note=kubectl_note)))


# ---------------------------------------------------------------------------------------------
# Image lists


def _workload(sample: Sample) -> str:
    repo, _ = _split(sample.reference)
    return repo.rsplit("/", 1)[-1].replace("3f9c2a1e-", "")


def plain_list() -> str:
    width = max(len(s.reference) for s in SAMPLES_TABLE)
    lines = ["# The demo's images; the comment says what `pullguard verify` finds (Talos policy)."]
    for s in SAMPLES_TABLE:
        lines.append(f"{s.reference:<{width}}  # {s.talos}: {s.why}")
    return "\n".join(lines) + "\n"


def kubectl_pods(built: Built) -> str:
    """What `kubectl get pods -A -o json` prints for one pod per sample image (trimmed)."""
    items = []
    for n, s in enumerate(SAMPLES_TABLE):
        name = f"{_workload(s)}-7d9f8c6b5-{'abcdefghijklm'[n]}x{n}q"
        repo, _ = _split(s.reference)
        items.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": s.namespace, "labels": {"app": _workload(s)}},
            "spec": {
                "containers": [{"name": _workload(s), "image": s.reference, "imagePullPolicy": "IfNotPresent"}],
                "nodeName": "talos-worker-1",
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [{
                    "name": _workload(s),
                    "image": s.reference,
                    "imageID": f"{repo}@{built.digests[s.reference]}",
                    "ready": True,
                }],
            },
        })
    doc = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    return json.dumps(doc, indent=4) + "\n"


def deployment_manifest() -> str:
    """One Deployment running every sample image (acme's api with the others as sidecars)."""
    containers = []
    for s in SAMPLES_TABLE:
        containers.append(f"        - name: {_workload(s)}\n          image: {s.reference}")
    return (
        "# A Deployment whose pod runs every sample image (as `kubectl get deploy -o yaml` would show it).\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: acme-shop\n"
        "  namespace: acme\n"
        "spec:\n"
        "  replicas: 2\n"
        "  selector:\n"
        "    matchLabels:\n"
        "      app: acme-shop\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        "        app: acme-shop\n"
        "    spec:\n"
        "      containers:\n" + "\n".join(containers) + "\n"
    )


def talosctl_image_ls(built: Built) -> str:
    """`talosctl image ls` on a node (Go tabwriter, three spaces of padding).

    Talos labels each image it verified at pull time with `talos.dev/verified=<message>`.
    """
    header = ("NODE", "IMAGE", "DIGEST", "SIZE", "LABELS", "CREATED")
    rows = [header]
    for n, s in enumerate(SAMPLES_TABLE):
        labels = ["io.cri-containerd.image=managed"]
        if s.reference in built.messages:
            labels.append(f"talos.dev/verified={built.messages[s.reference]}")
        created = (SIGNED_AT + timedelta(hours=2, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(("172.20.0.5", s.reference, built.digests[s.reference], s.size, ",".join(labels), created))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        lines.append("".join(f"{cell:<{widths[i] + 3}}" for i, cell in enumerate(r[:-1])) + r[-1])
    return "\n".join(lines) + "\n"


def write_image_lists(out: Path, built: Built) -> None:
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    (images / "images.txt").write_text(plain_list())
    (images / "pods.json").write_text(kubectl_pods(built))
    (images / "deployment.yaml").write_text(deployment_manifest())
    (images / "talosctl-image-ls.txt").write_text(talosctl_image_ls(built))


# ---------------------------------------------------------------------------------------------


PACKAGE_DOC = '''"""pullguard's bundled samples (data only), installed as `pullguard.samples`.

Regenerate with `python -m devtools.make_samples`; find them with `pullguard.engine.samples.sample_dir()`.
"""
'''


IVPOL_HEADER = """\
# The converter's output for cluster-policy.yaml beside it, checked in:
#   pullguard convert samples/kyverno/cluster-policy.yaml --to kyverno-ivpol
# (run from the repository's top). The same images, the same verdicts, offline: the registry
# mirrors at the end send ghcr.io and quay.io to the bundled OCI layout, as in cluster-policy.yaml.
"""


def write_image_validating_policy(out: Path) -> None:
    """kyverno/image-validating-policy.yaml: `pullguard convert` of the ClusterPolicy beside it."""
    from pullguard.engine.policy import load_policy
    from pullguard.engine.policy.ivpol.convert import convert
    from pullguard.engine.policy.kyverno.evaluate import KyvernoPolicySet

    text = (out / "kyverno" / "cluster-policy.yaml").read_text()
    loaded = load_policy(text, "samples/kyverno/cluster-policy.yaml")
    assert isinstance(loaded.policy, KyvernoPolicySet) and not loaded.errors, loaded.diagnostics
    conversion = convert(loaded.policy, text, "samples/kyverno/cluster-policy.yaml")
    (out / "kyverno" / "image-validating-policy.yaml").write_text(IVPOL_HEADER + conversion.text)


def talosctl_tuf_trusted_roots(trusted_root: str) -> str:
    """`talosctl -n 172.20.0.5 get tuftrustedroots -o yaml` of the sample node, whose root is the
    samples' own (talosctl's yaml output: `node:`, the resource's metadata, `spec.jsonData`)."""
    chomp = "|" if trusted_root.endswith("\n") else "|-"
    return ("node: 172.20.0.5\nmetadata:\n    namespace: security\n    type: TUFTrustedRoots.security.talos.dev\n"
            "    id: trusted_root.json\n    version: 1\n    owner: security.TUFTrustedRootController\n"
            "    phase: running\n    created: 2026-01-12T08:04:02Z\n    updated: 2026-01-12T08:04:02Z\n"
            f"spec:\n    lastRefreshTime: 2026-01-12T08:04:02.512093117Z\n    jsonData: {chomp}\n"
            + _indent(trusted_root.rstrip("\n"), 8) + "\n")


def generate(out: Path = SAMPLES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for generated in ("registry", "talos", "kyverno", "images"):
        shutil.rmtree(out / generated, ignore_errors=True)
    (out / "__init__.py").write_text(PACKAGE_DOC)
    sigstore = PrivateSigstore(now=SIGNED_AT, name="pullguard-samples")
    built = build_registry(out, sigstore)
    sigstore.write_trusted_root(out / "trusted_root.json")
    write_policies(out, built)
    write_image_validating_policy(out)
    write_image_lists(out, built)
    # The partner's public key as `cosign generate-key-pair` writes cosign.pub, for
    # `pullguard verify IMAGE --key partner.pub` (cosign's flags, no policy file).
    (out / "partner.pub").write_text(built.partner_key_pem.strip() + "\n")
    # samples/tests/ holds hand-written PolicyTest files that pin the demo's outcomes, and
    # samples/troubleshooting/ pasted pull errors for `pullguard explain` and a node's `talosctl get`
    # outputs: they are inputs, not generated, so a copy goes along with samples written elsewhere.
    # The node's trusted root is the samples' own, written from trusted_root.json.
    if out.resolve() != SAMPLES.resolve():
        for written_by_hand in ("tests", "troubleshooting"):
            shutil.copytree(SAMPLES / written_by_hand, out / written_by_hand, dirs_exist_ok=True)
    (out / "troubleshooting").mkdir(exist_ok=True)
    (out / "troubleshooting" / "talosctl-tuftrustedroots.yaml").write_text(
        talosctl_tuf_trusted_roots((out / "trusted_root.json").read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.make_samples", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES, help=f"output directory (default {SAMPLES})")
    args = parser.parse_args(argv)
    generate(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
