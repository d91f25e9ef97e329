"""`--mirror HOST=ENDPOINT` on the command line: a bad value is a usage error that names the
problem and never prints a password (issue 11 #11), for every command that takes it."""

from __future__ import annotations

import subprocess
import sys

import pytest

SECRET = "Secr3tPW"
IMAGES = {"verify": ["nginx"], "edit": []}


@pytest.mark.parametrize(
    "value, says",
    [
        (f"h=ftp://bob:{SECRET}@127.0.0.1:1", "must start with http://, https:// or oci:"),
        (f"h=https://bob:{SECRET}@127.0.0.1:1", "credentials in the endpoint URL are not supported"),
        (f"h=http://bob:{SECRET}@PW@127.0.0.1:1", "credentials in the endpoint URL are not supported"),
        (f"ftp://bob:{SECRET}@127.0.0.1:1", "expected HOST=ENDPOINT"),
        ("h=https://[::1", "is not a valid URL"),
        ("h=http://[zz]:5000", "is not a valid URL"),
        ("h=", "expected HOST=ENDPOINT"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "edit"])
def test_a_bad_mirror_is_a_usage_error_without_the_password(tmp_path, command, value, says):
    done = subprocess.run(
        [sys.executable, "-m", "pullguard.tui.cli", command, str(tmp_path / "p.yaml"), "--mirror", value, *IMAGES[command]],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert says in done.stderr
    assert SECRET not in done.stderr and SECRET not in done.stdout
    assert "Traceback" not in done.stderr
