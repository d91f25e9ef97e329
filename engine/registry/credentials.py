"""Registry credentials: who we are to each registry host, and where that was looked up.

Sources, in the order they are asked (the first that has credentials for a host wins):
1. `--pull-secret FILE` (each in the order given): a Kubernetes `kubernetes.io/dockerconfigjson`
   (or `kubernetes.io/dockercfg`) Secret manifest, YAML or JSON, or a bare config.json;
2. Talos `RegistryAuthConfig` documents (and v1alpha1 `machine.registries.config.<host>.auth`)
   in the policy file, handed over as `DeclaredAuth`;
3. `$REGISTRY_AUTH_FILE`, podman's `$XDG_RUNTIME_DIR/containers/auth.json`, then
   `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json` when DOCKER_CONFIG is unset).

In a config file, as docker reads it: a `credHelpers` entry for the host names the helper to
ask, else `credsStore` names the one for every host, else the `auths` entry holds `auth`
(base64 of `user:password`), `username`/`password`, or `identitytoken` (an OAuth2 refresh
token). Helpers run only when a registry asks for credentials (`credhelpers`). Keys are
normalized to a host[:port]; docker.io, index.docker.io, registry-1.docker.io and
`https://index.docker.io/v1/` all name Docker Hub. Secrets never reach a repr, a log line or an
error message; `looked_at(host)` says which sources were asked and what each had.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import jsontext
from ..textfile import TextFileError, read_text
from .credhelpers import TOKEN_USERNAME, HelperAnswer, run_helper
from .errors import RegistryError
from .hosts import DOCKER_HUB, normalize_host

# The server address docker hands a credential helper for Docker Hub.
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"


class CredentialsError(RegistryError):
    """A credential file exists but cannot be read, or a helper failed; the message names the
    file or the helper, never a secret."""


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)
    # An OAuth2 refresh token for the registry's token endpoint (docker's `identitytoken`).
    identity_token: str | None = field(default=None, repr=False)
    # Where it came from, for messages: a file, a helper, the policy file (never compared).
    source: str = field(default="", compare=False)

    def __repr__(self) -> str:  # never show the secret, even in tracebacks of callers
        token = ", identity_token=<hidden>" if self.identity_token else ""
        return f"Credential(username={self.username!r}, password=<hidden>{token})"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class DeclaredAuth(Protocol):
    """Credentials a policy file declares for a host (Talos `RegistryAuthConfig`: the policy's
    plain data, `engine.policy.talos.registryauth.DeclaredAuth`)."""

    @property
    def host(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def auth(self) -> str: ...  # base64 of user:password
    @property
    def identity_token(self) -> str: ...


Helper = Callable[[str, str], HelperAnswer | None]  # (helper name, server address) -> answer


@dataclass
class _Source:
    label: str
    present: bool = True
    entries: dict[str, Credential] = field(default_factory=dict)
    helpers: dict[str, str] = field(default_factory=dict)  # credHelpers: host -> helper name
    store_helper: str = ""  # credsStore

    def lookup(self, host: str, helper: Helper) -> tuple[Credential | None, str]:
        """(credential or None, what this source had for `host`, in words)."""
        if not self.present:
            return None, f"{self.label} (absent)"
        name = self.helpers.get(host)
        kind = "credHelpers"
        if name is None and self.store_helper:
            name, kind = self.store_helper, "credsStore"
        if name:
            where = f"docker-credential-{name} ({kind} in {self.label})"
            try:
                answer = helper(name, DOCKER_HUB_SERVER if host == DOCKER_HUB else host)
            except RegistryError as exc:
                raise CredentialsError(f"{exc} ({kind} in {self.label})") from None
            if answer is None or not answer.secret:
                return None, f"{where}: none"
            if answer.username == TOKEN_USERNAME:
                return Credential("", "", answer.secret, source=where), where
            return Credential(answer.username, answer.secret, source=where), where
        cred = self.entries.get(host)
        return cred, self.label if cred is not None else f"{self.label}: none"


class CredentialStore:
    """host -> Credential from the sources in order; each host is looked up once (helpers
    included), thread-safe (the registry client asks from worker threads)."""

    def __init__(self, entries: dict[str, Credential] | None = None, sources: list[str] | None = None,
                 *, helper: Helper | None = None):
        self._sources: list[_Source] = []
        if entries:
            given = {normalize_host(k): v for k, v in reversed(list(entries.items()))}
            self._sources.append(_Source("given credentials", entries=given))
        # Paths the credentials came from (never their content).
        self.sources = list(sources or [])
        self._helper: Helper = helper or run_helper
        self._found: dict[str, tuple[Credential | None, list[str], CredentialsError | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        hosts = sorted({h for s in self._sources for h in (*s.entries, *s.helpers)})
        return f"CredentialStore(hosts={hosts!r})"

    def __len__(self) -> int:
        return len({h for s in self._sources for h in s.entries})

    def _add(self, source: _Source) -> None:
        self._sources.append(source)
        if source.present:
            self.sources.append(source.label)

    def known(self, host: str) -> bool:
        """Has `host` been looked up already (so `get` runs no helper)?"""
        return normalize_host(host) in self._found

    def get(self, host: str) -> Credential | None:
        """The credential for `host`; CredentialsError when a helper asked for it failed."""
        cred, _notes, error = self._lookup(normalize_host(host))
        if error is not None:
            raise error
        return cred

    def looked_at(self, host: str) -> str:
        """Which sources were asked for `host` and what each had: for a 401/403 message."""
        _cred, notes, _error = self._lookup(normalize_host(host))
        return "; ".join(notes)

    def _lookup(self, host: str) -> tuple[Credential | None, list[str], CredentialsError | None]:
        with self._lock:
            found = self._found.get(host)
            if found is None:
                found = self._ask(host)
                self._found[host] = found
            return found

    def _ask(self, host: str) -> tuple[Credential | None, list[str], CredentialsError | None]:
        notes: list[str] = []
        for source in self._sources:
            try:
                cred, note = source.lookup(host, self._helper)
            except CredentialsError as exc:
                return None, [*notes, str(exc)], exc
            notes.append(note)
            if cred is not None:
                return cred, notes, None
        return None, notes, None

    # -- where credentials come from ----------------------------------------------------------

    @classmethod
    def default_paths(cls, environ: dict[str, str] | None = None) -> list[Path]:
        return [path for path, _label in _default_files(os.environ if environ is None else environ)]

    @classmethod
    def load(cls, paths: list[Path] | None = None, environ: dict[str, str] | None = None, *,
             pull_secrets: Iterable[str] = (), declared: Iterable[DeclaredAuth] = (),
             helper: Helper | None = None) -> "CredentialStore":
        """Read every source; a missing file is fine, an unreadable one is a CredentialsError."""
        store = cls(helper=helper)
        for secret in pull_secrets:
            store._add(read_pull_secret(secret))
        declared = list(declared)
        if declared:
            store._add(_declared_source(declared))
        files = [(p, str(p)) for p in paths] if paths is not None else _default_files(
            os.environ if environ is None else environ)
        for path, label in files:
            store._add(_read_config_file(path, label) if path.is_file() else _Source(label, present=False))
        return store


def _default_files(env: Any) -> list[tuple[Path, str]]:
    files: list[tuple[Path, str]] = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append((Path(env["REGISTRY_AUTH_FILE"]), env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):  # podman's own file
        path = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
        files.append((path, str(path)))
    if env.get("DOCKER_CONFIG"):
        path = Path(env["DOCKER_CONFIG"]) / "config.json"
    else:
        path = Path(env.get("HOME") or str(Path.home())) / ".docker" / "config.json"
    files.append((path, str(path)))
    return files


def _load_json(path: Path, what: str) -> Any:
    try:
        # Bounded, and only a regular file: a FIFO or /dev/zero in its place never hangs a run.
        return jsontext.loads(read_text(path))
    except OSError as exc:
        raise CredentialsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except TextFileError as exc:
        raise CredentialsError(f"{exc.path}:{exc.line}:{exc.column}: {what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # Position only: the text around the error could be a secret.
        raise CredentialsError(f"{path}:{exc.lineno}:{exc.colno}: {what} is not valid JSON ({exc.msg})") from None


def _read_config_file(path: Path, label: str) -> _Source:
    return _config_source(_load_json(path, "credentials file"), label)


def _config_source(doc: Any, label: str) -> _Source:
    """A docker/podman config document: `auths`, `credHelpers`, `credsStore`."""
    source = _Source(label)
    if not isinstance(doc, dict):
        return source
    auths = doc.get("auths")
    if auths is not None:
        if not isinstance(auths, dict):
            raise CredentialsError(f"{label}: `auths` must be an object")
        source.entries = _auth_entries(auths, label)
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        source.helpers = {normalize_host(k): v for k, v in helpers.items() if isinstance(v, str) and v}
    store = doc.get("credsStore")
    if isinstance(store, str):
        source.store_helper = store
    return source


def _auth_entries(auths: dict[str, Any], label: str) -> dict[str, Credential]:
    out: dict[str, Credential] = {}
    for key, entry in auths.items():
        host = normalize_host(key)
        if not isinstance(entry, dict):
            raise CredentialsError(f"{label}: auths entry for {host} must be an object")
        cred = _entry_credential(entry, label)
        if cred is _BAD:
            raise CredentialsError(f"{label}: auths entry for {host}: `auth` is not base64 of user:password")
        if cred is not None:
            out.setdefault(host, cred)
    return out


_BAD = Credential("", "")


def _entry_credential(entry: dict[str, Any], label: str) -> Credential | None:
    token = entry.get("identitytoken") or entry.get("identityToken")
    identity = token if isinstance(token, str) and token else None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            raw = base64.b64decode(auth, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):  # binascii.Error, or text that is not ASCII
            return _BAD
        user, sep, password = raw.partition(":")
        if not sep or not user:
            return _BAD
        return Credential(user, password, identity, source=label)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and name and isinstance(secret, str):
        return Credential(name, secret, identity, source=label)
    if identity is not None:
        return Credential("", "", identity, source=label)
    return None


def _declared_source(declared: list[DeclaredAuth]) -> _Source:
    source = _Source("RegistryAuthConfig in the policy file")
    for item in declared:
        entry: dict[str, Any] = {"auth": item.auth, "username": item.username, "password": item.password,
                                 "identitytoken": item.identity_token}
        cred = _entry_credential(entry, source.label)
        if cred is _BAD:
            raise CredentialsError(f"{source.label}: RegistryAuthConfig {normalize_host(item.host)}: "
                                   "`auth` is not base64 of user:password")
        if cred is not None:
            source.entries.setdefault(normalize_host(item.host), cred)
    return source


# -- pull secrets ----------------------------------------------------------------------------

_SECRET_KEYS = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}


def read_pull_secret(path: str) -> _Source:
    """`--pull-secret FILE`: a Secret manifest (YAML or JSON; every dockerconfigjson/dockercfg
    Secret in it, a List's items too) or a bare config.json."""
    label = f"--pull-secret {path}"
    try:
        text = read_text(path)
    except OSError as exc:
        raise CredentialsError(f"cannot read pull secret {path}: {exc.strerror or exc}") from None
    except TextFileError as exc:
        raise CredentialsError(f"{exc.path}:{exc.line}:{exc.column}: pull secret is not UTF-8 text") from None
    docs = _documents(text, path)
    source = _Source(label)
    found = False
    for doc in docs:
        items = doc.get("items") if doc.get("kind") == "List" else [doc]
        for secret in items if isinstance(items, list) else []:
            if not isinstance(secret, dict):
                continue
            if "auths" in secret or "credHelpers" in secret or "credsStore" in secret:  # a bare config.json
                bare = _config_source(secret, label)
                source.entries = {**bare.entries, **source.entries}
                source.helpers = {**bare.helpers, **source.helpers}
                source.store_helper = source.store_helper or bare.store_helper
                found = True
            elif secret.get("kind") == "Secret":
                entries = _secret_entries(secret, label)
                if entries is not None:
                    source.entries = {**entries, **source.entries}
                    found = True
    if not found:
        raise CredentialsError(f"{path}: no kubernetes.io/dockerconfigjson Secret or docker config.json found")
    return source


def _documents(text: str, path: str) -> list[dict[str, Any]]:
    try:
        doc = jsontext.loads(text)
        return [doc] if isinstance(doc, dict) else []
    except ValueError:
        pass
    from ..yamlsource import compose

    docs, problem = compose(text)
    if problem is not None:
        where = f"{path}:{problem.line}:{problem.column}" if problem.line else path
        raise CredentialsError(f"{where}: pull secret is not valid YAML")  # its text could be a secret
    try:
        plain = [_plain(doc.root) for doc in docs if doc.root is not None]
    except RecursionError:  # nothing a Secret holds is nested so deep
        raise CredentialsError(f"{path}: pull secret is nested too deeply") from None
    return [d for d in plain if isinstance(d, dict)]


def _plain(node: Any) -> Any:
    """The strings, lists and mappings of a composed YAML node (all a Secret holds)."""
    from ..yamlsource import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, MappingNode):
        return {k.value: _plain(v) for k, v in node.value if isinstance(k, ScalarNode)}
    if isinstance(node, SequenceNode):
        return [_plain(v) for v in node.value]
    return node.value if isinstance(node, ScalarNode) else None


def _secret_entries(secret: dict[str, Any], label: str) -> dict[str, Credential] | None:
    key = _SECRET_KEYS.get(str(secret.get("type", "")))
    if key is None:
        return None
    name = (secret.get("metadata") or {}).get("name") if isinstance(secret.get("metadata"), dict) else None
    what = f"{label}: Secret {name or '?'}"
    raw: str | None = None
    string_data, data = secret.get("stringData"), secret.get("data")
    if isinstance(string_data, dict) and isinstance(string_data.get(key), str):
        raw = string_data[key]
    elif isinstance(data, dict) and isinstance(data.get(key), str):
        try:
            raw = base64.b64decode("".join(data[key].split()), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):  # binascii.Error, or text that is not ASCII
            raise CredentialsError(f"{what}: data.{key} is not base64 of UTF-8 text") from None
    if raw is None:
        raise CredentialsError(f"{what}: has no data.{key}")
    try:
        doc = jsontext.loads(raw)
    except ValueError:
        raise CredentialsError(f"{what}: {key} is not JSON") from None
    if not isinstance(doc, dict):
        raise CredentialsError(f"{what}: {key} is not a JSON object")
    auths = doc.get("auths", {}) if key == ".dockerconfigjson" else doc
    if not isinstance(auths, dict):
        raise CredentialsError(f"{what}: `auths` must be an object")
    return _auth_entries(auths, label)
