"""pullguard's version, as installed (importlib.metadata), for `--version` and the SARIF tool entry."""

from __future__ import annotations


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pullguard")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
