"""Signature verification: legacy cosign `.sig` layers and Sigstore bundles, key and keyless.

Importing this package is cheap: `cryptography.x509` and `sigstore` load only when a check runs.
"""

from pullguard.engine.signatures.bundle import verify_bundle
from pullguard.engine.signatures.errors import SignatureError, TrustedRootError
from pullguard.engine.signatures.evidence import SignatureEvidence
from pullguard.engine.signatures.legacy import LegacyLayer, verify_legacy

__all__ = [
    "LegacyLayer",
    "SignatureError",
    "SignatureEvidence",
    "TrustedRootError",
    "verify_bundle",
    "verify_legacy",
]
