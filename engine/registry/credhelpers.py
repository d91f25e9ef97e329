"""docker's credential helpers: `docker-credential-<name> get`, the registry on stdin, JSON out.

As docker's `credentials.NewNativeStore` runs them (docker/docker-credential-helpers `client.Get`):
the server address on standard input; on success `{"ServerURL", "Username", "Secret"}` on
standard output, where the user name `<token>` means the secret is an identity token; a helper
that has nothing for the address exits non-zero saying `credentials not found in native keychain`.

A helper is a program from the user's PATH, so it is bounded like any outside input: it has
`timeout` seconds to answer and may print at most MAX_HELPER_OUTPUT bytes; its standard error is
not read. Messages name the helper and never hold what it printed on success.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass

from .. import jsontext
from ..display import escape_control
from .errors import RegistryError

MAX_HELPER_OUTPUT = 64 * 1024
HELPER_TIMEOUT = 10.0
_NOT_FOUND = "credentials not found in native keychain"
# docker-credential-helpers' marker for an identity token in the Username field.
TOKEN_USERNAME = "<token>"


class HelperError(RegistryError):
    """A credential helper that is missing, fails, hangs or answers what docker would not read."""


@dataclass(frozen=True)
class HelperAnswer:
    username: str
    secret: str

    def __repr__(self) -> str:
        return f"HelperAnswer(username={self.username!r}, secret=<hidden>)"


def run_helper(name: str, server: str, *, timeout: float = HELPER_TIMEOUT,
               limit: int = MAX_HELPER_OUTPUT) -> HelperAnswer | None:
    """What `docker-credential-<name> get` answers for `server`; None when it has nothing."""
    program = f"docker-credential-{name}"
    what = f"credential helper {program}"
    try:
        proc = subprocess.Popen([program, "get"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=os.environ.copy())
    except FileNotFoundError:
        raise HelperError(f"{what} is not installed (not found on PATH)") from None
    except OSError as exc:
        raise HelperError(f"{what} cannot be run: {exc.strerror or exc}") from None
    try:
        out, overflow = _talk(proc, server.encode(), timeout, limit)
    except TimeoutError:
        raise HelperError(f"{what} did not answer within {timeout:g}s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if overflow:
        raise HelperError(f"{what} printed more than {limit} bytes")
    if proc.returncode != 0:
        text = out.decode("utf-8", "replace").strip()
        if _NOT_FOUND in text.lower():
            return None
        # A failing helper says why on stdout; an answer that looks like credentials is never shown.
        said = "" if not text or "secret" in text.lower() else ": " + escape_control(text.splitlines()[0][:200])
        raise HelperError(f"{what} failed for {server} (exit status {proc.returncode}){said}")
    try:
        doc = jsontext.loads(out)
    except (ValueError, UnicodeDecodeError):
        raise HelperError(f"{what} did not answer with JSON for {server}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Username", ""), str) or not isinstance(doc.get("Secret"), str):
        raise HelperError(f"{what} answered for {server} without a Username and Secret")
    return HelperAnswer(str(doc.get("Username", "")), doc["Secret"])


def _talk(proc: subprocess.Popen[bytes], data: bytes, timeout: float, limit: int) -> tuple[bytes, bool]:
    """Write `data`, read standard output to its end: (output, whether it went past `limit`)."""
    assert proc.stdin is not None and proc.stdout is not None
    deadline = time.monotonic() + timeout
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it did not read its input; what it printed still says why
    buf = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 8192)
            if not chunk:
                break
            buf += chunk
            if len(buf) > limit:
                return bytes(buf[:limit]), True
    left = deadline - time.monotonic()
    try:
        proc.wait(max(left, 0.01))
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    return bytes(buf), False
