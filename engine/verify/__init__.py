"""Real verification: what a Talos node (or Kyverno) decides at pull time, with the evidence.

One concept per module: `results` (options, one result per image, the summary), `cache` (the
session cache and `result_key`), `stores` (the registry as a run and an image see it),
`checkers` (signature checks and their threads), `kyverno` (attestor sets), `mirrors` (merging
the policy's and the command line's), `run` (`verify_images`); `tree` lists what is attached to
images over the same stores (`pullguard tree`, nothing verified).
"""

from pullguard.engine.verify.cache import VerifyCache, cache_key, result_key
from pullguard.engine.verify.kyverno import unsupported_requirements
from pullguard.engine.verify.mirrors import merge_mirrors
from pullguard.engine.verify.results import FAILED_PREFIX, VerifyOptions, VerifyResult, summary
from pullguard.engine.verify.run import verify_images
from pullguard.engine.verify.stores import open_store

__all__ = [
    "FAILED_PREFIX",
    "VerifyCache",
    "VerifyOptions",
    "VerifyResult",
    "cache_key",
    "merge_mirrors",
    "open_store",
    "result_key",
    "summary",
    "unsupported_requirements",
    "verify_images",
]
