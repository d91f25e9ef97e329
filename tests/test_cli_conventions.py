"""Command-line conventions every command shares (SPEC §1): unreadable files, what is shown of a
policy's own lines, argument order, usage errors, --version, completion."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

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


# ---- argument order, -o, --version, usage errors ------------------------------------------------

POLICY = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: ghcr.io/acme/*
    skip: true
"""
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    return str(path)


def usage_error(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "{p}", "--format", "json", "nginx"],  # SPEC §1's own example
        ["simulate", "--format", "json", "{p}", "nginx"],
        ["simulate", "{p}", "nginx", "-o", "json", "ghcr.io/acme/api:v1"],
        ["check", "-o", "json", "{p}"],
        ["diff", "{p}", "-o", "json", "{p}", "nginx"],
        ["test", "-o", "json", str(SAMPLES / "tests" / "talos.yaml")],
        ["explain", "-o", "json", "{p}", "Failed to pull image \"ghcr.io/acme/api:v1\": not found"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_options_and_positionals_in_any_order(capsys, policy, argv):
    code = main([a.replace("{p}", policy) for a in argv])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    json.loads(out)  # -o is --format


def test_images_and_lists_keep_their_order(tmp_path, capsys, policy):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("ghcr.io/acme/one:v1\nghcr.io/acme/two:v1\n")
    second.write_text("ghcr.io/acme/three:v1\n")
    code = main(["simulate", policy, "--images", str(first), "nginx", "--images", str(second), "-o", "json"])
    images = [r["image"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert code == 0
    assert images == ["nginx", "ghcr.io/acme/one:v1", "ghcr.io/acme/two:v1", "ghcr.io/acme/three:v1"]


def test_version_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"pullguard {version('pullguard')}\n"


@pytest.mark.parametrize(
    "argv, usage, message",
    [
        (["check", "a.yaml", "b.yaml"], "usage: pullguard check ", "unrecognized arguments: b.yaml"),
        (["simulate", "--format", "xml", "p.yaml"], "usage: pullguard simulate ", "argument --format/-o: invalid choice: 'xml'"),
        (["verify", "p.yaml", "--concurrency", "0"], "usage: pullguard verify ", "must be at least 1"),
        (["test"], "usage: pullguard test ", "the following arguments are required: TESTFILE"),
        (["completion", "tcsh"], "usage: pullguard completion ", "invalid choice: 'tcsh'"),
        (["bogus"], "usage: pullguard [-h]", "invalid choice: 'bogus'"),
    ],
)
def test_a_usage_error_shows_the_usage_of_the_command_given(capsys, argv, usage, message):
    code, err = usage_error(capsys, *argv)
    assert code == 2
    assert err.startswith(usage) and message in err


def test_simulate_without_arguments_asks_for_the_policy_only(capsys):
    code, err = usage_error(capsys, "simulate")
    assert code == 2
    assert err.splitlines()[-1] == "pullguard: error: the following arguments are required: POLICY"
    assert "POLICY [IMAGE ...]" in err  # IMAGE is shown as optional


# ---- a file that cannot be read: exit 2, its path and the reason, for every command -------------


@pytest.mark.parametrize(
    "argv, shown",
    [
        (["check", "{missing}"], "cannot read policy {missing}: No such file or directory"),
        (["check", "{dir}"], "cannot read policy {dir}: Is a directory"),
        (["simulate", "{missing}", "nginx"], "cannot read policy {missing}: No such file or directory"),
        (["simulate", "{p}", "--images", "{missing}"], "cannot read images {missing}: No such file or directory"),
        (["verify", "{missing}", "nginx"], "cannot read policy {missing}: No such file or directory"),
        (["verify", "{p}", "ghcr.io/acme/api:v1", "--images", "{p}", "--images", "{missing}"],
         "cannot read images {missing}: No such file or directory"),
        (["diff", "{p}", "{missing}", "nginx"], "cannot read policy {missing}: No such file or directory"),
        (["test", "{missing}"], "{missing}: no such file or folder"),
        (["test", "/dev/null"], "/dev/null: error: cannot read test file: not a regular file"),
        (["convert", "{missing}", "--to", "kyverno-ivpol"], "cannot read policy {missing}: No such file or directory"),
        (["explain", "{missing}"], "cannot read policy {missing}: No such file or directory"),
        (["edit", "{p}", "--images", "{missing}"], "{missing}: No such file or directory"),
        (["edit", "{p}", "--trusted-root", "{missing}"], "cannot read trusted root {missing}: No such file or directory"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_an_unreadable_file_is_exit_2_with_its_path_and_reason(tmp_path, capsys, policy, argv, shown):
    names = {"{missing}": str(tmp_path / "missing.yaml"), "{dir}": str(tmp_path), "{p}": policy}

    def fill(text: str) -> str:
        for key, value in names.items():
            text = text.replace(key, value)
        return text

    code = main([fill(a) for a in argv])
    assert code == 2
    assert fill(shown) in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, shown",
    [
        (["--trusted-root", "{missing}"], "cannot read trusted root {missing}: No such file or directory"),
        (["--mirror", "ghcr.io=oci:{missing}"], "{missing} is not an OCI image layout (no oci-layout file in that directory)"),
    ],
)
def test_an_unreadable_verify_input_is_exit_2(tmp_path, capsys, policy, flag, shown):
    missing = str(tmp_path / "missing")
    argv = ["verify", policy, "ghcr.io/acme/api:v1.4.0", *(f.replace("{missing}", missing) for f in flag)]
    try:
        code = main(argv)
    except SystemExit as exit_:  # a flag refused while parsing is a usage error
        code = exit_.code
    assert code == 2
    assert shown.replace("{missing}", missing) in capsys.readouterr().err


# ---- completion -----------------------------------------------------------------------------------


def _script(capsys, shell: str) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "words, expected",
    [
        (["pullguard", "ch"], ["check"]),
        (["pullguard", "check", "--format", ""], ["text", "json", "sarif"]),
        (["pullguard", "test", "-o", "j"], ["json", "junit"]),
        (["pullguard", "verify", "--tr"], ["--trusted-root"]),
        (["pullguard", "completion", ""], ["bash", "zsh", "fish"]),
    ],
)
def test_bash_completion(tmp_path, capsys, words, expected):
    script = tmp_path / "pullguard.bash"
    script.write_text(_script(capsys, "bash"))
    quoted = " ".join(shlex.quote(w) for w in words)
    done = subprocess.run(["bash", "-c", f'source {shlex.quote(str(script))}; COMP_WORDS=({quoted}); '
                           f'COMP_CWORD={len(words) - 1}; _pullguard; printf "%s\\n" "${{COMPREPLY[@]}}"'],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == expected


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize(
    "line, expected",
    [("pullguard ch", ["check"]), ("pullguard check --format ", ["json", "sarif", "text"]),
     ("pullguard verify --format ", ["github", "json", "text"]), ("pullguard completion ", ["bash", "fish", "zsh"])],
)
def test_fish_completion(tmp_path, capsys, line, expected):
    script = tmp_path / "pullguard.fish"
    script.write_text(_script(capsys, "fish"))
    done = subprocess.run(["fish", "--no-config", "-c", f"source {shlex.quote(str(script))}; complete -C{shlex.quote(line)}"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert [row.split("\t")[0] for row in done.stdout.splitlines()] == expected


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_loads(tmp_path, capsys):
    script = tmp_path / "_pullguard"
    script.write_text(_script(capsys, "zsh"))
    subprocess.run(["zsh", "-n", str(script)], check=True, timeout=60)
    done = subprocess.run(["zsh", "-f", "-c", f"autoload -U compinit; compinit -u -D; source {shlex.quote(str(script))}; "
                           "print -r -- $_comps[pullguard]"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "_pullguard", done.stderr
