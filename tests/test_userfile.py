"""engine.userfile: the files a person names, read with a reason and saved atomically as typed."""

from __future__ import annotations

import os
import stat

import pytest

from pullguard.engine.userfile import read_user_file, write_atomic


@pytest.mark.parametrize("existing", [True, False])
def test_write_atomic(tmp_path, existing):
    target = tmp_path / "p.yaml"
    if existing:
        target.write_text("old")
        os.chmod(target, 0o600)
    write_atomic(target, "new: text\n")
    assert target.read_text() == "new: text\n"
    if existing:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["p.yaml"]


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: None, "No such file or directory"),
        (lambda p: p.mkdir(), "Is a directory"),
        (lambda p: p.write_bytes(b"ok: 1\nbad: \xd7\n"), ":2:"),  # file:line:column of the bad byte
    ],
)
def test_read_user_file_says_why_with_the_path(tmp_path, make, says):
    target = tmp_path / "p.yaml"
    make(target)
    text, problem = read_user_file(str(target))
    assert text is None and problem is not None
    assert problem.startswith(str(target)) and says in problem


def test_write_atomic_keeps_the_text_as_typed(tmp_path):
    target = tmp_path / "p.yaml"
    typed = "# a comment\r\nrules:   # spacing kept\n  - image: 'x'\n"
    write_atomic(target, typed)
    assert target.read_bytes() == typed.encode()
    assert read_user_file(str(target)) == (typed, None)


NO_USER = "~no-such-user-pullguard"  # a `~name` of no user: Python's expanduser raises for it


@pytest.mark.parametrize(
    "typed, found",
    [
        ("~/p.yaml", True),  # the home folder
        (f"{NO_USER}/p.yaml", False),  # stays as written, as bash leaves it: not found, no traceback
        ("~", False),  # the home folder itself: a directory
    ],
)
def test_read_user_file_expands_home_as_a_shell(tmp_path, monkeypatch, typed, found):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "p.yaml").write_text("rules: []\n")
    text, problem = read_user_file(typed)
    if found:
        assert (text, problem) == ("rules: []\n", None)
    else:
        assert text is None and problem is not None and problem.startswith(typed)
