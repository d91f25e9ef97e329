"""Registry credentials: who we are to each registry host.

Credentials come from the files docker and podman write: `$REGISTRY_AUTH_FILE`, then
`$DOCKER_CONFIG/config.json` (or `~/.docker/config.json` when DOCKER_CONFIG is unset). An `auths`
entry holds `auth` (base64 of `user:password`) or `username`/`password`. Keys are normalized to a
host[:port]; docker.io, index.docker.io, registry-1.docker.io and `https://index.docker.io/v1/` all
name Docker Hub. Passwords never reach a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..textfile import TextFileError, read_text
from .errors import RegistryError
from .hosts import normalize_host


class CredentialsError(RegistryError):
    """A credential file exists but cannot be read; the message names the file, never its content."""


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:  # never show the secret, even in tracebacks of callers
        return f"Credential(username={self.username!r}, password=<hidden>)"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class CredentialStore:
    """host -> Credential, read once from the credential files (first file that names a host wins)."""

    def __init__(self, entries: dict[str, Credential] | None = None, sources: list[str] | None = None):
        self._entries: dict[str, Credential] = {}
        for key, cred in (entries or {}).items():
            self._entries.setdefault(normalize_host(key), cred)
        # Paths the credentials came from (for `--verbose`-style evidence; never their content).
        self.sources = list(sources or [])

    def __repr__(self) -> str:
        return f"CredentialStore(hosts={sorted(self._entries)!r})"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, host: str) -> Credential | None:
        return self._entries.get(normalize_host(host))

    @classmethod
    def default_paths(cls, environ: dict[str, str] | None = None) -> list[Path]:
        env = os.environ if environ is None else environ
        paths: list[Path] = []
        if env.get("REGISTRY_AUTH_FILE"):
            paths.append(Path(env["REGISTRY_AUTH_FILE"]))
        if env.get("DOCKER_CONFIG"):
            paths.append(Path(env["DOCKER_CONFIG"]) / "config.json")
        else:
            home = env.get("HOME") or str(Path.home())
            paths.append(Path(home) / ".docker" / "config.json")
        return paths

    @classmethod
    def load(cls, paths: list[Path] | None = None, environ: dict[str, str] | None = None) -> "CredentialStore":
        """Read the credential files that exist; a missing file is fine, an unreadable one is an error."""
        entries: dict[str, Credential] = {}
        sources: list[str] = []
        for path in paths if paths is not None else cls.default_paths(environ):
            if not path.is_file():
                continue
            for key, cred in _read_auth_file(path).items():
                entries.setdefault(normalize_host(key), cred)
            sources.append(str(path))
        return cls(entries, sources)


def _read_auth_file(path: Path) -> dict[str, Credential]:
    try:
        # Bounded, and only a regular file: a FIFO or /dev/zero in its place never hangs a run.
        doc = json.loads(read_text(path))
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except TextFileError as exc:
        raise CredentialsError(f"{exc.path}:{exc.line}:{exc.column}: credentials file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # Position only: the text around the error could be a secret.
        raise CredentialsError(
            f"{path}:{exc.lineno}:{exc.colno}: credentials file is not valid JSON ({exc.msg})"
        ) from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if auths is None:
        return {}
    if not isinstance(auths, dict):
        raise CredentialsError(f"{path}: `auths` must be an object")
    out: dict[str, Credential] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise CredentialsError(f"{path}: auths entry for {normalize_host(key)} must be an object")
        cred = _entry_credential(entry)
        if cred is None:
            # Only an identity token or nothing usable: anonymous for that host.
            continue
        if cred is _BAD:
            raise CredentialsError(
                f"{path}: auths entry for {normalize_host(key)}: `auth` is not base64 of user:password"
            )
        out[key] = cred
    return out


_BAD = Credential("", "")


def _entry_credential(entry: dict[str, object]) -> Credential | None:
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            raw = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _BAD
        user, sep, password = raw.partition(":")
        if not sep or not user:
            return _BAD
        return Credential(user, password)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and name and isinstance(secret, str):
        return Credential(name, secret)
    return None
