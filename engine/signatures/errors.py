"""The one exception signature verification raises."""

from __future__ import annotations


class SignatureError(Exception):
    """A signature did not satisfy a rule.

    The message says which check failed and with what values, so a person can act on it
    (e.g. "certificate identity 'a@b' does not match subject 'c@d'").
    `errors` lists every individual failure when several signatures were tried.
    """

    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors: list[str] = list(errors) if errors else [message]


class TrustedRootError(Exception):
    """A `trusted_root.json` cannot be read or does not hold what verification needs."""
