"""`pullguard explain`'s engine: pasted pull errors -> image, source, what the node said, whether
the policy agrees, the cause and the fix (SPEC §1, §2 `explain`).

Texts are written from the sources' own format strings (kubelet image_manager.go, containerd's
Talos image-verify patch, Talos verify.go and its cosign package, Kyverno imageverifier.go) and
pasted the ways people paste them: whole, shortened, re-wrapped by an 80-column terminal, joined
errors on one line, several at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.troubleshoot import MAX_REPORTS, MAX_TEXT, explain, explain_json, recognise

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
PASTES = SAMPLES / "troubleshooting"
TALOS = "samples/talos/policy.yaml"
KYVERNO = "samples/kyverno/cluster-policy.yaml"

GITHUB = "https://token.actions.githubusercontent.com"
MAIN_BUILD = "https://github.com/acme/billing/.github/workflows/release.yaml@refs/heads/main"
WRONG_SIGNER = (f"none of the expected identities matched what was in the certificate, got subjects [{MAIN_BUILD}] "
                f"with issuer {GITHUB}")


def kubelet(image: str, talos: str, code: str = "PermissionDenied") -> str:
    return (f'Failed to pull image "{image}": rpc error: code = {code} desc = failed to verify image "{image}" with talos: '
            f"failed to verify: rpc error: code = {code} desc = {talos}")


def event_rows(image: str, talos: str) -> str:
    return (
        f'  Normal   Pulling    49s (x4 over 2m9s) kubelet            Pulling image "{image}"\n'
        f"  Warning  Failed     49s (x4 over 2m9s) kubelet            {kubelet(image, talos)}\n"
        "  Warning  Failed     49s (x4 over 2m9s) kubelet            Error: ErrImagePull\n"
        f'  Normal   BackOff    10s (x6 over 2m8s) kubelet            Back-off pulling image "{image}"\n'
        "  Warning  Failed     10s (x6 over 2m8s) kubelet            Error: ImagePullBackOff\n"
    )


def rewrapped(text: str, width: int = 80) -> str:
    """As an 80-column terminal breaks lines: at the width, in the middle of a word."""
    return "\n".join(line[i:i + width] for line in text.split("\n") for i in range(0, max(len(line), 1), width))


BILLING_FAILED = f"image verification failed: no valid signature found: bundle tag not found\nno valid legacy signature: {WRONG_SIGNER}"
UNSIGNED = "image verification failed: no valid signature found: bundle tag not found\nlegacy signature tag not found"
TAMPERED = ("image verification failed: no valid signature found: bundle tag not found\n"
            "no valid legacy signature: invalid signature when validating ASN.1 encoded signature")
NOT_FOUND = 'image reference not found during resolution: ghcr.io/acme/api:v9.9.9: not found'
AIR_GAPPED = ("failed to convert verification rule to cosign check options: failed to get trusted root: "
              "failed to watch for TUF trusted root: context deadline exceeded")
UNREACHABLE = ('failed to resolve image reference: failed to do request: Head "https://ghcr.io/v2/acme/api/manifests/v1.4.0": '
               "dial tcp: lookup ghcr.io: no such host")
KYVERNO_DENIAL = (
    'Warning  FailedCreate  2m  replicaset-controller  Error creating: admission webhook "validate.kyverno.svc-fail" '
    "denied the request: resource Pod/billing/billing-x was blocked due to the following policies "
    "verify-image-signatures: acme-release-builds: 'failed to verify image {image}: .attestors[0].entries[0].keyless: {why}'"
)


def read(name: str) -> str:
    return (PASTES / name).read_text()


# text, policy, image, source, outcome, rule_id, agrees, words in the cause, words in the suggestion
CASES = [
    pytest.param(read("kubelet-billing.txt"), TALOS, "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None, True,
                 "does not accept that signer", "subjectRegex: ^https://github\\.com/acme/billing/", id="kubelet-full"),
    pytest.param(rewrapped(read("kubelet-billing.txt")), TALOS, "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None,
                 True, MAIN_BUILD, "add this rule before rule 0000", id="kubelet-rewrapped-80"),
    pytest.param(read("kubelet-billing.txt").replace("not found\nno valid", "not found no valid"), TALOS,
                 "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None, True, MAIN_BUILD, "- image: ghcr.io/acme/billing",
                 id="joined-with-a-space"),
    pytest.param(f'Failed to pull image "ghcr.io/acme/billing:v3.0.1": no valid legacy signature: {WRONG_SIGNER}', TALOS,
                 "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None, True, MAIN_BUILD, "subjectRegex",
                 id="shortened-no-wrappers"),
    pytest.param(read("kubelet-billing.txt").lower(), TALOS, "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None, True,
                 MAIN_BUILD, "subjectRegex", id="lower-case"),
    pytest.param(rewrapped(event_rows("ghcr.io/acme/cache:v1.1.0", UNSIGNED)), TALOS, "ghcr.io/acme/cache:v1.1.0",
                 "kubelet", "failed", None, True, "no signature was found", "skip: true", id="unsigned-rewrapped"),
    pytest.param(read("containerd-cache.txt"), TALOS, "ghcr.io/acme/cache:v1.1.0", "containerd", "failed", None, True,
                 "no signature was found", "cosign sign", id="containerd-logfmt"),
    pytest.param(read("talos-ttl.txt"), TALOS, "ttl.sh/3f9c2a1e-demo:1h", "talos", "denied", "0003", True,
                 "rule 0003 (`image: ttl.sh/*`, samples/talos/policy.yaml:25) denies", "deny rule 0003", id="talos-log"),
    pytest.param(event_rows("ttl.sh/3f9c2a1e-demo:1h", "verification denied by matched rule (0003)"), TALOS,
                 "ttl.sh/3f9c2a1e-demo:1h", "kubelet", "denied", "0003", True, "denies", "policy.yaml:25",
                 id="kubelet-denied"),
    pytest.param(kubelet("ghcr.io/acme/web:v2.1.0", "image verification failed: no valid bundle referrer: failed to verify "
                         "certificate identity: no matching CertificateIdentity found, last error: expected SAN value to "
                         f'match regex "^https://github\\.com/acme/", got "{MAIN_BUILD}"'), None, "ghcr.io/acme/web:v2.1.0",
                 "kubelet", "failed", None, None, "(it asks for ^https://github\\.com/acme/)",
                 "subjectRegex: ^https://github\\.com/acme/billing/", id="sigstore-go-identity-no-policy"),
    pytest.param("verification denied by matched rule (0003)", None, None, "talos", "denied", "0003", None,
                 "Talos denied the image", "talosctl get imageverificationrules 0003", id="talos-bare-no-policy"),
    pytest.param(kubelet("quay.io/partner/exporter:v1.0.3", TAMPERED), TALOS, "quay.io/partner/exporter:v1.0.3", "kubelet",
                 "failed", None, True, "does not verify with the rule's key", "rotated its key", id="tampered"),
    pytest.param(kubelet("ghcr.io/acme/api:v9.9.9", NOT_FOUND, "NotFound"), TALOS, "ghcr.io/acme/api:v9.9.9", "kubelet",
                 "error", None, True, "tag v9.9.9", "check the tag v9.9.9 of ghcr.io/acme/api", id="not-found"),
    pytest.param(kubelet("ghcr.io/acme/api:v1.4.0", AIR_GAPPED, "Internal"), TALOS, "ghcr.io/acme/api:v1.4.0", "kubelet",
                 "error", None, True, "air-gapped", "talosctl get tuftrustedroots -o yaml", id="air-gapped-tuf"),
    pytest.param(kubelet("ghcr.io/acme/api:v1.4.0", UNREACHABLE, "Internal"), TALOS, "ghcr.io/acme/api:v1.4.0", "kubelet",
                 "error", None, True, "could not resolve", "reaches the registry", id="registry-unreachable"),
    pytest.param(kubelet("registry.k8s.io/pause:3.10", "verification denied by matched rule (0004)"), TALOS,
                 "registry.k8s.io/pause:3.10", "kubelet", "denied", "0004", False, "allows it (no rule matches)",
                 "talosctl get imageverificationrules -o yaml", id="node-rules-differ"),
    pytest.param(kubelet("ghcr.io/acme/api:v1.4.0", "image verification failed: no valid signature found: bundle tag not found\n"
                         "no valid legacy signature: none of the expected identities matched what was in the certificate, "
                         "got subjects [https://github.com/acme/api/.github/workflows/release.yaml@refs/tags/v1.4.0] "
                         f"with issuer {GITHUB}"), TALOS, "ghcr.io/acme/api:v1.4.0", "kubelet", "failed", None, False,
                 "requires its verification by rule 0000", "are not samples/talos/policy.yaml", id="policy-accepts-that-signer"),
    pytest.param('  Normal   BackOff    10s (x6 over 2m8s) kubelet  Back-off pulling image "ghcr.io/acme/cache:v1.1.0"', TALOS,
                 "ghcr.io/acme/cache:v1.1.0", "kubelet", None, None, None, "waits before pulling", "Failed to pull image",
                 id="back-off-only"),
    pytest.param(read("kyverno-exporter.txt"), KYVERNO, "quay.io/partner/exporter:v1.0.3", "kyverno", "failed",
                 "verify-image-signatures/partner-images", True, "does not verify with the rule's key", "PUBLIC KEY",
                 id="kyverno-denial"),
    pytest.param(KYVERNO_DENIAL.format(image="ghcr.io/acme/billing:v3.0.1", why=f"no matching signatures: {WRONG_SIGNER}"),
                 KYVERNO, "ghcr.io/acme/billing:v3.0.1", "kyverno", "failed", "verify-image-signatures/acme-release-builds",
                 True, "does not accept that signer", "count: 1", id="kyverno-event-identity"),
    pytest.param(KYVERNO_DENIAL.format(image="ghcr.io/acme/cache:v1.1.0", why="no signatures found"), KYVERNO,
                 "ghcr.io/acme/cache:v1.1.0", "kyverno", "failed", "verify-image-signatures/acme-release-builds", True,
                 "no signature was found", "skipImageReferences", id="kyverno-unsigned"),
    pytest.param(KYVERNO_DENIAL.format(image="ghcr.io/acme/cache:v1.1.0", why="missing digest for ghcr.io/acme/cache:v1.1.0"),
                 KYVERNO, "ghcr.io/acme/cache:v1.1.0", "kyverno", "failed", "verify-image-signatures/acme-release-builds", True,
                 "requires a digest", "mutateDigest: true", id="kyverno-verify-digest"),
    pytest.param('Error from server: admission webhook "ivpol.validate.kyverno.svc-fail-finegrained-verify-images" denied the '
                 "request: Policy verify-images failed: the image is not signed by acme's release workflow", None, None,
                 "kyverno", "failed", "verify-images", None, "ImageValidatingPolicy verify-images refused the pod",
                 "pullguard verify", id="kyverno-image-validating-policy"),
    pytest.param('{"kind": "Event", "message": "Failed to pull image \\"ghcr.io/acme/cache:v1.1.0\\": rpc error: code = '
                 'PermissionDenied desc = image verification failed: no valid signature found: bundle tag not found\\nlegacy '
                 'signature tag not found", "reason": "Failed"}', TALOS, "ghcr.io/acme/cache:v1.1.0", "kubelet", "failed", None,
                 True, "no signature was found", "skip: true", id="kubectl-get-events-json"),
    pytest.param(kubelet("ttl.sh/3f9c2a1e-demo:1h", "verification denied by matched rule (0003)").replace('"', "\u201c", 1)
                 .replace('":', "\u201d:", 1).replace(" ", "\u00a0", 3), TALOS, "ttl.sh/3f9c2a1e-demo:1h", "kubelet", "denied",
                 "0003", True, "denies", "deny rule 0003", id="pasted-through-a-chat-program"),
    pytest.param(kubelet("ttl.sh/a:1", "verification denied by matched rule (0003)"), TALOS, "ttl.sh/a:1", "kubelet",
                 "denied", "0003", None, "Talos denied ttl.sh/a:1", "talosctl get imageverificationrules 0003",
                 id="reference-the-policy-cannot-read"),
    pytest.param(read("kubelet-billing.txt"), KYVERNO, "ghcr.io/acme/billing:v3.0.1", "kubelet", "failed", None, True,
                 "verify-image-signatures/acme-release-builds#0", "count: 1", id="talos-event-kyverno-policy"),
    pytest.param('Failed to pull image "ghcr.io/acme/api:v9": rpc error: code = NotFound desc = failed to pull and unpack image '
                 '"ghcr.io/acme/api:v9": failed to resolve reference "ghcr.io/acme/api:v9": ghcr.io/acme/api:v9: not found',
                 TALOS, "ghcr.io/acme/api:v9", "kubelet", "error", None, None, "tag v9", "crane ls ghcr.io/acme/api",
                 id="not-found-before-verification"),
    pytest.param("  Warning  Failed     49s (x4 over 2m9s) kubelet            Error: ErrImagePull", TALOS, None, "kubelet",
                 None, None, None, "without the reason", "kubectl describe pod", id="bare-ErrImagePull"),
    pytest.param('Failed to pull image "nginx:1.27": rpc error: code = Unknown desc = failed to pull and unpack image '
                 '"docker.io/library/nginx:1.27": failed to resolve reference "docker.io/library/nginx:1.27": unexpected '
                 "status from HEAD request: 429 Too Many Requests", TALOS, "nginx:1.27", "kubelet", "error", None, None,
                 "not its signature verification", "credentials", id="not-a-verification-failure"),
]


@pytest.mark.parametrize("text,policy,image,source,outcome,rule_id,agrees,cause,suggestion", CASES)
def test_explained(text, policy, image, source, outcome, rule_id, agrees, cause, suggestion):
    loaded = load_policy((REPO / policy).read_text(), policy) if policy else None
    (found,) = explain(text, loaded)
    entry = found.to_json()
    assert (entry["image"], entry["source"]) == (image, source)
    assert (entry["reported"]["outcome"], entry["reported"]["rule_id"]) == (outcome, rule_id)
    assert entry["agrees"] is agrees
    assert cause in entry["cause"]
    assert suggestion in entry["suggestion"]
    assert (entry["decision"] is None) == (policy is None or image is None)


@pytest.mark.parametrize("text", [
    pytest.param('  Normal   Pulled     3s    kubelet  Successfully pulled image "nginx:1.27" in 1.2s', id="a-successful-pull"),
    pytest.param("Error from server (Forbidden): pods is forbidden: User \"dev\" cannot create resource \"pods\"", id="rbac"),
    pytest.param('admission webhook "validation.gatekeeper.sh" denied the request: [no-latest] image tag latest', id="other-webhook"),
    pytest.param("", id="empty"),
])
def test_not_a_pull_error(text):
    assert explain(text) == []


def test_the_node_message_is_talos_text_however_it_was_pasted():
    """Joined errors come back separated by a newline, as Talos's errors.Join writes them."""
    pasted = [read("kubelet-billing.txt"), rewrapped(read("kubelet-billing.txt")),
              read("kubelet-billing.txt").replace("not found\nno valid", "not found    no valid")]
    assert {r.message for text in pasted for r in recognise(text)} == {BILLING_FAILED}


def test_several_errors_in_one_paste_in_order():
    text = "\n".join([read("kubelet-billing.txt"), read("containerd-cache.txt"), read("talos-ttl.txt"),
                      kubelet("quay.io/partner/exporter:v1.0.3", TAMPERED)])
    loaded = load_policy((REPO / TALOS).read_text(), TALOS)
    found = explain(text, loaded)
    assert [(e.reported.image, e.reported.source, e.reported.reason.kind) for e in found] == [
        ("ghcr.io/acme/billing:v3.0.1", "kubelet", "identity"),
        ("ghcr.io/acme/cache:v1.1.0", "containerd", "unsigned"),
        ("ttl.sh/3f9c2a1e-demo:1h", "talos", "denied"),
        ("quay.io/partner/exporter:v1.0.3", "kubelet", "bad-signature"),
    ]
    assert all(e.advice.agrees for e in found)


def test_two_events_on_one_line_are_two_errors():
    line = kubelet("ghcr.io/acme/cache:v1.1.0", UNSIGNED.replace("\n", " ")) + " " + kubelet(
        "ttl.sh/3f9c2a1e-demo:1h", "verification denied by matched rule (0003)")
    assert [(r.image, r.reason.kind) for r in recognise(line)] == [
        ("ghcr.io/acme/cache:v1.1.0", "unsigned"), ("ttl.sh/3f9c2a1e-demo:1h", "denied")]


def test_kubelet_follow_up_lines_join_the_failure_they_follow():
    """`Error: ErrImagePull`, `Back-off pulling image` and `ImagePullBackOff` repeat the failure above
    them: one explanation; alone, they are still recognised (the pod is stuck on a pull)."""
    assert [r.reason.kind for r in recognise(event_rows("ghcr.io/acme/cache:v1.1.0", UNSIGNED))] == ["unsigned"]
    alone = "  Warning  Failed  1m  kubelet  Error: ErrImagePull\n  Warning  Failed  1m  kubelet  Error: ImagePullBackOff\n"
    assert [r.message for r in recognise(alone)] == ["Error: ErrImagePull", "Error: ImagePullBackOff"]


def test_repeated_events_are_one_explanation():
    assert len(recognise(read("kubelet-billing.txt") * 3)) == 1


def test_json_document_shape():
    loaded = load_policy((REPO / TALOS).read_text(), TALOS)
    doc = explain_json(explain(read("kubelet-billing.txt"), loaded), TALOS)
    assert doc["policy"] == TALOS
    (entry,) = doc["explanations"]
    assert set(entry) == {"image", "source", "reported", "decision", "agrees", "cause", "suggestion"}
    assert set(entry["reported"]) == {"message", "rule_id", "outcome"}
    assert entry["decision"]["rule_id"] == "0000" and entry["decision"]["action"] == "verify"


# -- untrusted input: bounded work, bounded output ---------------------------------------------

def test_text_past_the_cap_is_not_read():
    filler = "x" * (MAX_TEXT - 10)
    assert recognise(filler + "\n" + kubelet("ttl.sh/a:1", "verification denied by matched rule (0003)")) == []
    assert len(recognise(filler[:1000] + "\n" + kubelet("ttl.sh/a:1", "verification denied by matched rule (0003)"))) == 1


def test_a_flood_of_errors_is_capped():
    text = "\n".join(kubelet(f"ttl.sh/a{i}:1", "verification denied by matched rule (0003)") for i in range(MAX_REPORTS + 50))
    assert len(recognise(text)) == MAX_REPORTS


@pytest.mark.parametrize("text", [
    pytest.param("got subjects [" + "a" * 200_000, id="unclosed-subject-list"),
    pytest.param(("none of the expected identities matched what was in the certificate, got subjects [" + "a, " * 3000) * 50,
                 id="many-unclosed-subject-lists"),
    pytest.param('Failed to pull image "' * 40_000, id="unclosed-quotes"),
    pytest.param('msg="' + '\\"' * 200_000, id="unclosed-logfmt-value"),
    pytest.param("failed to verify image " + "a" * 600 + ":" + " " * 100_000, id="overlong-kyverno-ref"),
    pytest.param(("  Warning  Failed  1m  kubelet  " + "image verification failed: " * 2000 + "\n") * 20, id="nested-prefixes"),
])
def test_adversarial_pastes_finish(text):
    """Each of these would take minutes with an unbounded or nested quantifier."""
    assert len(recognise(text)) <= MAX_REPORTS


def test_outside_text_keeps_its_own_characters():
    """The engine keeps what was pasted (the faces escape it); a newline never gets into a field."""
    image = "ghcr.io/acme/x\x1b[31m:v1"
    (found,) = recognise(kubelet(image, "verification denied by matched rule (0003)"))
    assert found.image == image
    for field in (found.message, found.reason.detail):
        assert "\n" not in field


# Talos's message -> (outcome, kind, certificate subject, issuer); from verify.go, cosign.go and the
# cosign / sigstore-go errors Talos passes on.
SAN_REGEX = '^https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yaml@refs/tags/v'


@pytest.mark.parametrize("message,outcome,kind,subject,issuer", [
    ("verification denied by matched rule (0002)", "denied", "denied", None, None),
    (BILLING_FAILED, "failed", "identity", MAIN_BUILD, GITHUB),
    (UNSIGNED, "failed", "unsigned", None, None),
    (TAMPERED, "failed", "bad-signature", None, None),
    ("image verification failed: no valid bundle referrer: failed to verify certificate identity: no matching "
     f'CertificateIdentity found, last error: expected SAN value to match regex "{SAN_REGEX}", got "{MAIN_BUILD}"',
     "failed", "identity", MAIN_BUILD, None),
    ("image verification failed: no valid signature found: no valid bundle layer: failed to verify certificate identity: "
     f'no matching CertificateIdentity found, last error: expected issuer value "{GITHUB}", got "https://accounts.google.com"'
     "\nlegacy signature tag not found", "failed", "identity", None, "https://accounts.google.com"),
    ("image verification failed: no valid signature found: bundle tag not found\nno valid legacy signature: "
     "x509: certificate signed by unknown authority", "failed", "untrusted", None, None),
    ("image verification failed: no valid signature found: bundle tag not found\nno valid legacy signature: "
     "signature not found in transparency log", "failed", "tlog", None, None),
    ("image verification failed: no valid signature found: failed to resolve bundle tag sha256-ab: unexpected status 401 "
     "Unauthorized\nfailed to resolve .sig tag sha256-ab.sig: unexpected status 401 Unauthorized", "failed", "registry", None, None),
    ("image verification failed: no valid signature found: bundle tag not found\nno valid legacy signature: "
     "invalid or missing digest in claim: sha256:00", "failed", "digest", None, None),
    ("image verification failed: no valid signature found: bundle tag not found\nno valid legacy signature: missing "
     "signature annotation", "failed", "other", None, None),
    (NOT_FOUND, "error", "not-found", None, None),
    (UNREACHABLE, "error", "resolve", None, None),
    (AIR_GAPPED, "error", "trusted-root", None, None),
    ("failed to convert verification rule to cosign check options: failed to unmarshal public key: PEM decoding failed",
     "error", "rule-unusable", None, None),
    ("image reference is invalid: could not parse reference: Ghcr.io/x", "error", "invalid-reference", None, None),
])
def test_talos_messages(message, outcome, kind, subject, issuer):
    (found,) = recognise(message)
    assert (found.source, found.outcome, found.reason.kind) == ("talos", outcome, kind)
    assert (found.reason.subjects[0] if found.reason.subjects else None, found.reason.issuer) == (subject, issuer)
    assert found.message == message  # Talos's own text, joined errors on their own lines
