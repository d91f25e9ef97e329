"""Inputs an attacker (or an accident) hands the engine's ground layer: files that never end,
mirror endpoints that crashed URL parsing or leaked a password, image references holding control
characters (issue 11 #7, #9, #10, #11). Each row failed before its fix: a hang, a traceback, a
password in the output, or an entry taken for a valid reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pullguard.engine.policy import load_policy
from pullguard.engine.textfile import MAX_TEXT_BYTES, read_text

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TALOS_POLICY = SAMPLES / "talos" / "policy.yaml"
KYVERNO_POLICY = SAMPLES / "kyverno" / "cluster-policy.yaml"


def pullguard(*argv: str, stdin: object = subprocess.DEVNULL, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess; a hang fails the test through the timeout."""
    return subprocess.run([sys.executable, "-m", "pullguard.tui.cli", *argv], stdin=stdin,
                          capture_output=True, text=True, timeout=timeout)


# --- #7: files that are not regular files, or never end --------------------------------------


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "policy.fifo"
    os.mkfifo(path)
    return path


def _big(tmp_path: Path) -> Path:
    path = tmp_path / "big.txt"
    with open(path, "wb") as handle:  # sparse: one byte past the limit costs no disk
        handle.truncate(MAX_TEXT_BYTES + 1)
    return path


# (what, path maker, message after the path)
UNREADABLE = [
    ("fifo", lambda tmp, fifo: fifo, "not a regular file (a FIFO)"),
    ("dev-zero", lambda tmp, fifo: Path("/dev/zero"), "not a regular file (a character device)"),
    ("directory", lambda tmp, fifo: tmp, "Is a directory"),
    ("past-the-limit", lambda tmp, fifo: _big(tmp), "larger than 16 MiB, the limit for a policy, test file or image list"),
]


# In this process only what cannot hang it if the check is missing; the FIFO and /dev/zero go
# through the CLI in a subprocess with a timeout below.
@pytest.mark.parametrize("what, make, reason", UNREADABLE[2:], ids=[r[0] for r in UNREADABLE[2:]])
def test_read_text_refuses_without_reading_forever(tmp_path, fifo, what, make, reason):
    path = make(tmp_path, fifo)
    with pytest.raises(OSError) as info:
        read_text(path)
    assert info.value.strerror == reason
    assert info.value.filename == str(path)


@pytest.mark.parametrize("what, make, reason", UNREADABLE, ids=[r[0] for r in UNREADABLE])
@pytest.mark.parametrize("command", ["check", "simulate-images"])
def test_cli_refuses_unreadable_files(tmp_path, fifo, command, what, make, reason):
    path = str(make(tmp_path, fifo))
    if command == "check":
        done, shown = pullguard("check", path), f"cannot read policy {path}: {reason}"
    else:
        done, shown = pullguard("simulate", str(TALOS_POLICY), "--images", path), f"cannot read images {path}: {reason}"
    assert done.returncode == 2
    assert done.stderr.strip() == f"pullguard: error: {shown}"
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_standard_input_is_read_up_to_the_limit():
    with open("/dev/zero", "rb") as zero:
        done = pullguard("simulate", str(TALOS_POLICY), "--images", "-", stdin=zero)
    assert done.returncode == 2
    assert done.stderr.strip() == ("pullguard: error: cannot read images -: "
                                   "larger than 16 MiB, the limit for a policy, test file or image list")


def test_a_file_at_the_limit_is_read(tmp_path):
    path = tmp_path / "images.txt"
    line = b"ghcr.io/acme/app:v1\n"
    path.write_bytes(line * (MAX_TEXT_BYTES // len(line)))
    assert len(read_text(path)) <= MAX_TEXT_BYTES


# --- #10 and #11: mirror endpoints in a policy file ------------------------------------------

POLICY_HEAD = """\
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: '127.0.0.1:1/*'
    deny: true
  - image: '*'
    skip: true
---
apiVersion: v1alpha1
kind: RegistryMirrorConfig
name: ghcr.io
endpoints:
  - url: {url}
"""

# (RegistryMirrorConfig url, what the warning says, a secret that must never be shown)
MIRRORS = [
    ("https://[::1", "endpoint 'https://[::1' is not a valid URL: '[' opens an IPv6 address that no ']' closes", None),
    ("http://[zz]:5000", "endpoint 'http://[zz]:5000' is not a valid URL: 'zz' in brackets is not an IPv6 address", None),
    ("http://127.0.0.1:70000",
     "endpoint 'http://127.0.0.1:70000' is not a valid URL: the port must be a number from 1 to 65535, found '70000'", None),
    ("'ftp://bob:Secr3tPW@127.0.0.1:1'", "endpoint 'ftp://***@127.0.0.1:1' must start with http://, https:// or oci:", "Secr3tPW"),
    ("'https://bob:Secr3t@PW@127.0.0.1:1'", "credentials in the endpoint URL are not supported", "Secr3t"),
    ("'http://bob:Secr3t@PW@[::1'", "credentials in the endpoint URL are not supported", "Secr3t"),
    ("'ftp://bob:Secr3t@PW@[::1'", "endpoint 'ftp://***@[::1' must start with http://, https:// or oci:", "Secr3t"),
]


@pytest.mark.parametrize("url, warning, secret", MIRRORS, ids=[m[0] for m in MIRRORS])
def test_policy_mirror_endpoints_are_warnings(url, warning, secret):
    loaded = load_policy(POLICY_HEAD.format(url=url), "p.yaml")
    found = [d for d in loaded.diagnostics if d.code == "mirror-endpoint-invalid"]
    assert [(d.severity, d.line, d.column) for d in found] == [("warning", 13, 10)]
    assert f"mirror for ghcr.io: {warning}" in found[0].message
    assert loaded.mirrors == {"ghcr.io": []}
    if secret:
        assert all(secret not in d.message and "bob" not in d.message for d in loaded.diagnostics)


@pytest.mark.parametrize("url, warning, secret", MIRRORS, ids=[m[0] for m in MIRRORS])
@pytest.mark.parametrize("command", ["check", "simulate", "verify"])
def test_cli_mirror_endpoints_never_crash_nor_leak(tmp_path, command, url, warning, secret):
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY_HEAD.format(url=url))
    argv = {
        "check": ["check", str(policy), "--format", "json"],
        "simulate": ["simulate", str(policy), "ghcr.io/acme/app:v1", "--format", "json"],
        "verify": ["verify", str(policy), "ghcr.io/acme/app:v1", "127.0.0.1:1/app:v1", "--format", "json"],
    }[command]
    done = pullguard(*argv)
    assert "Traceback" not in done.stderr
    assert done.returncode == (1 if command == "verify" else 0), done.stderr  # verify: 127.0.0.1:1 is denied
    document = json.loads(done.stdout)
    if command == "check":
        messages = [d["message"] for d in document["diagnostics"] if d["code"] == "mirror-endpoint-invalid"]
        assert len(messages) == 1 and warning in messages[0]
    else:
        assert [r["image"] for r in document["results"]] == ["ghcr.io/acme/app:v1", "127.0.0.1:1/app:v1"][: len(document["results"])]
    if secret:
        assert secret not in done.stdout and secret not in done.stderr


# --- #9: control characters in image references ----------------------------------------------

# go-containerregistry (Talos) and distribution/reference (Kyverno) refuse every C0/C1 control
# character and DEL in a reference: the entry stays in the list, its decision is an error.
CONTROL_REFERENCES = [
    "nginx\x1b[31m",
    "ghcr.io/x/y\n0000  verified",
    "ghcr.io/acme/app:v1\r",
    "ghcr.io/acme/app\x85",
    "gh\x7fcr.io/acme/app",
    "ghcr.io/acme/app:v1\x07",
    "ghcr.io/acme/app@sha256:" + "a" * 64 + "\n",
    "ghcr.io/acme\u202e/app",
]


@pytest.mark.parametrize("policy", [TALOS_POLICY, KYVERNO_POLICY], ids=["talos", "kyverno"])
@pytest.mark.parametrize("image", CONTROL_REFERENCES, ids=[repr(i) for i in CONTROL_REFERENCES])
def test_control_characters_make_an_invalid_reference(policy, image):
    model = load_policy(policy.read_text(), str(policy)).policy
    assert model is not None
    for decision in (model.evaluate(image), model.evaluate_many([image])[0]):
        assert decision.action is None and decision.image == image  # kept as written
        assert decision.error is not None and decision.error.startswith("invalid image reference ")
        # the reference itself is quoted as Python's repr quotes it: escaped
        assert repr(image) in decision.error


def _pod(image: str) -> str:
    return json.dumps({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": image}]}})


TALOSCTL_HEAD = "NODE       IMAGE                     DIGEST    SIZE\n"

# (image list text, the entries read): Python's split()/splitlines()/strip() also break at or drop
# \x1c-\x1f, \x85, \u2028, \v and \f, which cut an entry holding one into valid-looking references
# or cleaned it into one. Only a space or a tab separates, only a newline (CRLF too) ends a line.
IMAGE_LISTS = [
    ("ghcr.io/acme/app:v1\x85ghcr.io/evil/x:v1\n", ["ghcr.io/acme/app:v1\x85ghcr.io/evil/x:v1"]),
    ("ghcr.io/acme/app:v1\u2028ghcr.io/evil/x:v1\n", ["ghcr.io/acme/app:v1\u2028ghcr.io/evil/x:v1"]),
    ("ghcr.io/acme/app:v1\x1fghcr.io/evil/x:v1\n", ["ghcr.io/acme/app:v1\x1fghcr.io/evil/x:v1"]),
    ("ghcr.io/acme/app:v1\x0bghcr.io/evil/x:v1\n", ["ghcr.io/acme/app:v1\x0bghcr.io/evil/x:v1"]),
    ("nginx\rghcr.io/evil/x:v1\n", ["nginx\rghcr.io/evil/x:v1"]),
    ("nginx\x1c\n", ["nginx\x1c"]),
    ("nginx\r\nalpine\r\n", ["nginx", "alpine"]),  # CRLF files still read
    ("nginx\talpine  redis\n", ["nginx", "alpine", "redis"]),
    (_pod("ghcr.io/x/y\n0000  verified"), ["ghcr.io/x/y\n0000  verified"]),
    (_pod("nginx\x85"), ["nginx\x85"]),
    (_pod(" nginx\t"), ["nginx"]),
    ("kind: Pod\nspec:\n  containers:\n  - {name: c, image: \"nginx\\x1f\"}\n", ["nginx\x1f"]),
    (TALOSCTL_HEAD + "10.5.0.2".ljust(11) + "ghcr.io/acme/app:v1\x85".ljust(26) + "sha256:1".ljust(10) + "1 MB\n",
     ["ghcr.io/acme/app:v1\x85"]),
]


@pytest.mark.parametrize("text, images", IMAGE_LISTS, ids=[repr(t[:40]) for t, _ in IMAGE_LISTS])
def test_image_list_entries_keep_their_text(text, images):
    from pullguard.engine.images import parse_image_list

    assert [e.image for e in parse_image_list(text, "images")] == images
    model = load_policy(TALOS_POLICY.read_text(), str(TALOS_POLICY)).policy
    assert model is not None
    for image, decision in zip(images, model.evaluate_many(images), strict=True):
        if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c == "\u2028" for c in image):
            assert decision.action is None and decision.error is not None
