"""Policy texts shared by the tests of more than one face."""

from __future__ import annotations

import textwrap

from devtools.private_sigstore import public_pem

# The signed images' registry name: served by the loopback registry through a mirror, so the
# names (and the snapshots) do not depend on the registry's port.
SIGNED_HOST = "registry.pullguard.test"


def signed_registry_policy(key) -> str:
    """Talos: `SIGNED_HOST/blocked/*` denied, `SIGNED_HOST/*` and the loopback registry need
    `key`'s signature, everything else skipped (the dashboard's signed world)."""
    pem = textwrap.indent(public_pem(key).strip(), " " * 10)
    return (
        "# signed images from our registry\n"
        "apiVersion: v1alpha1\n"
        "kind: ImageVerificationConfig\n"
        "rules:\n"
        f"  - image: {SIGNED_HOST}/blocked/*\n"
        "    deny: true\n"
        f"  - image: {SIGNED_HOST}/*\n"
        "    publicKey:\n"
        "      certificate: |\n"
        f"{pem}\n"
        "  - image: 127.0.0.1:*\n"
        "    publicKey:\n"
        "      certificate: |\n"
        f"{pem}\n"
        "  - image: '*'\n"
        "    skip: true\n"
    )


def keyless_policy(image: str, identity) -> str:
    """Talos: images matching `image` need a keyless signature by `identity` (issuer and subject)."""
    return (
        "apiVersion: v1alpha1\n"
        "kind: ImageVerificationConfig\n"
        "rules:\n"
        f"  - image: {image}\n"
        "    keyless:\n"
        f"      issuer: {identity.issuer}\n"
        f"      subject: {identity.subject}\n"
    )


def kyverno_policy(entries: str, kinds: str = "[Pod]", extra_rules: str = "", annotations: str = "") -> str:
    """A Kyverno ClusterPolicy `pol` (Enforce) whose rule `r1` matches `kinds` and ends in
    `verifyImages:`, followed by `entries` (indented by the caller) and `extra_rules`."""
    return f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pol
{annotations}spec:
  validationFailureAction: Enforce
  rules:
    - name: r1
      match:
        any:
          - resources:
              kinds: {kinds}
      verifyImages:
{entries}{extra_rules}"""
