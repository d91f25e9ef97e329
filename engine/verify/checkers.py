"""Signature checks (`engine.signatures`) behind discovery's `SignatureChecker`, and the threads
they run on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pullguard.engine.signatures.evidence import SignatureEvidence
from pullguard.engine.signatures.trust import TrustRoot
from pullguard.engine.vocabulary import Verifier

T = TypeVar("T")


@dataclass
class Checker:
    """One verifier against one trusted root, as discovery calls it for each candidate."""

    verifier: Verifier
    trusted_root: TrustRoot

    def bundle(self, bundle_bytes: bytes, image_digest: str) -> SignatureEvidence:
        from pullguard.engine.signatures import verify_bundle
        from pullguard.engine.signatures.legacy import SIGNATURE_ANNOTATION

        evidence = verify_bundle(bundle_bytes, image_digest, self.verifier, self.trusted_root)
        # cosign hands a verified bundle on as static.NewAttestation(envelope): no annotation but
        # an empty signature one
        self._oci_annotations({SIGNATURE_ANNOTATION: ""})
        return evidence

    def legacy(self, layer: dict[str, Any], payload: bytes, image_digest: str) -> SignatureEvidence:
        from pullguard.engine.signatures.legacy import LegacyLayer, verify_legacy

        raw = layer.get("annotations")
        annotations = raw if isinstance(raw, dict) else {}
        evidence = verify_legacy([LegacyLayer(payload, annotations)], image_digest, self.verifier, self.trusted_root)
        self._oci_annotations(annotations)
        return evidence

    def attestation(self, layer: dict[str, Any], envelope: bytes, image_digest: str) -> SignatureEvidence:
        from pullguard.engine.signatures.attestation import verify_legacy_attestation

        raw = layer.get("annotations")
        annotations = raw if isinstance(raw, dict) else {}
        evidence = verify_legacy_attestation(envelope, annotations, image_digest, self.verifier, self.trusted_root)
        self._oci_annotations(annotations)
        return evidence

    def _oci_annotations(self, annotations: dict[str, Any]) -> None:
        """ImageValidatingPolicy `cosign.annotations`, checked once the signature verified (a
        signature without them is one that does not count, as Kyverno tries the next)."""
        if self.verifier.oci_annotations:
            from pullguard.engine.signatures.payload import check_signature_annotations

            check_signature_annotations(annotations, self.verifier.oci_annotations)


class Checkers:
    """Per run: one trusted root (loaded once) and the threads signature checks run on.

    Checks are CPU work (X.509, ECDSA) kept off the event loop. cryptography releases the GIL
    while it verifies, but the Python around each check holds it: more threads than cores only
    make the checks and the event loop take turns at the GIL, so the pool has one thread per
    core (at most one per concurrent image)."""

    def __init__(self, trusted_root_path: str | None) -> None:
        self._path = trusted_root_path
        self._root: TrustRoot | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start_pool(self, concurrency: int) -> None:
        workers = max(1, min(max(1, concurrency), os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pullguard-check")

    def close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            return await asyncio.to_thread(fn)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def root(self) -> TrustRoot:
        """The run's trusted root; raises TrustedRootError when it cannot be read."""
        if self._root is None:
            from pullguard.engine.signatures.trust import load_trusted_root

            self._root = load_trusted_root(self._path)
        return self._root

    def checker(self, verifier: Verifier) -> Checker:
        return Checker(verifier, self.root())
