"""Command-line conventions every command shares (SPEC §1): unreadable files, what is shown of a
policy's own lines, argument order, usage errors, --version, completion."""

from __future__ import annotations

import subprocess
import sys

from pullguard.tui.cli import main

MIRROR_WITH_PASSWORD = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/acme/*
    skip: true
---
apiVersion: v1alpha1
kind: RegistryMirrorConfig
name: ghcr.io
endpoints:
  - url: ftp://bob:Secr3tPW@127.0.0.1:1
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_source_line_never_shows_a_mirror_password(tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(MIRROR_WITH_PASSWORD)
    code, out, _ = run(capsys, "check", str(policy))
    assert code == 0 and "Secr3tPW" not in out
    lines = out.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.startswith("   11 | "))
    assert lines[shown] == "   11 |   - url: ftp://***@127.0.0.1:1"
    # the underline covers the URL as shown, not as written
    assert lines[shown + 1] == "      |          ^" + "~" * (len("ftp://***@127.0.0.1:1") - 1)


def test_pullguard_test_on_a_device_is_refused_without_reading_it():
    # /dev/zero never ends: a plain open().read() of it (the source line of the diagnostic)
    # hung; the subprocess's timeout turns a regression into a failure, not a stuck suite.
    done = subprocess.run([sys.executable, "-m", "pullguard.tui.cli", "test", "/dev/zero"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "/dev/zero" in done.stderr and "not a regular file" in done.stderr
