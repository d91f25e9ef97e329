"""JSON from outside (registries, mirrors, files, credential helpers), read so that every
malformed document is a ValueError.

json's C decoder recurses once a nesting level and raises RecursionError past Python's limit:
about a thousand levels, a few KB of brackets in a manifest a registry serves. Every reader of
outside JSON already turns a ValueError into its own message (that image's outcome, that file's
error); a RecursionError went past them and ended the whole run.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads`, a document nested too deeply for it a `json.JSONDecodeError` like any other."""
    try:
        return json.loads(data)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", data if isinstance(data, str) else "", 0) from None
