"""What the README promises for the bundled samples, shared by the CLI and dashboard sample tests."""

from __future__ import annotations

# What the README promises, image by image: (image, Talos outcome, Kyverno outcome).
PROMISED = [
    ("ghcr.io/acme/api:v1.4.0", "verified", "verified"),
    ("ghcr.io/acme/web:v2.1.0", "verified", "verified"),
    ("ghcr.io/acme/worker:v0.9.2", "verified", "verified"),
    ("ghcr.io/acme/billing:v3.0.1", "failed", "failed"),
    ("ghcr.io/acme/cache:v1.1.0", "failed", "failed"),
    ("quay.io/partner/agent:v5.2.0", "verified", "verified"),
    ("quay.io/partner/exporter:v1.0.3", "failed", "failed"),
    ("registry.acme.internal:5000/tools/debug:2026.01", "skipped", "skipped"),
    ("ttl.sh/3f9c2a1e-demo:1h", "denied", "allowed"),
    ("registry.k8s.io/pause:3.10", "allowed", "allowed"),
    ("docker.io/library/nginx:1.27", "allowed", "allowed"),
    ("ghcr.io/acme/builder:v1.0.0", "verified", "verified"),  # Kyverno: and its SLSA provenance
    ("ghcr.io/acme/ledger:v1.2.0", "verified", "verified"),  # Kyverno: and its CycloneDX SBOM
]


def promised_summary(dialect: str) -> dict[str, int]:
    """`pullguard verify`'s summary over the sample images, as PROMISED says (talos or kyverno)."""
    column = 1 if dialect == "talos" else 2
    summary = dict.fromkeys(("verified", "failed", "skipped", "denied", "allowed", "error"), 0)
    for row in PROMISED:
        summary[row[column]] += 1
    return summary
