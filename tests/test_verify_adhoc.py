"""`pullguard verify IMAGE... --key FILE | --certificate-identity[-regexp] --certificate-oidc-issuer[-regexp]`:
cosign's flags, no policy file (SPEC §1).

Against a real docker-registry with signatures from the private Sigstore, as the policy path is
tested: every ad-hoc run is compared with the same images verified through a one-rule policy file
(outcome, message, evidence, errors word for word). With `--key`, as cosign, a transparency-log
entry is required unless `--insecure-ignore-tlog`; keyless needs both an identity and an issuer flag.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.private_sigstore import PrivateSigstore, generate_key, public_pem
from pullguard.engine.keys import load_public_key_pem
from pullguard.engine.policy.cosignflags import NO_IDENTITY, NO_ISSUER, CosignFlags, CosignFlagsError, cosign_policy
from pullguard.engine.vocabulary import KeylessVerifier, PublicKeyVerifier
from pullguard.tui.cli import main
from tests.support.push import DistributionClient, Pusher
from tests.support.registry import REGISTRY_USER
from tests.support.signing import ALICE, ISSUER, MALLORY

REPO = Path(__file__).resolve().parents[1]


class World:
    """Images on the session registry, signed every way cosign signs, and the files to verify them."""

    def __init__(self, registry, tmp: Path) -> None:
        self.sigstore = PrivateSigstore()
        self.root = str(self.sigstore.write_trusted_root(tmp / "trusted_root.json"))
        self.key, self.other_key = generate_key("ecdsa-p256"), generate_key("ecdsa-p256")
        self.key_file = tmp / "cosign.pub"
        self.key_file.write_text(public_pem(self.key))
        self.host = registry.host
        push = Pusher(registry.url)
        ps = self.sigstore
        self.images: dict[str, str] = {}
        self.digests: dict[str, str] = {}

        def image(name: str) -> tuple[str, str]:
            repo = f"adhoc/{name}"
            digest = push.push_image(repo, "v1", content=f"adhoc {name}".encode())
            self.images[name], self.digests[name] = f"{self.host}/{repo}:v1", digest
            return repo, digest

        repo, d = image("key-logged")
        push.attach_legacy(repo, d, [ps.sign_legacy(d, key=self.key, tlog=True)])
        repo, d = image("key-unlogged")
        push.attach_legacy(repo, d, [ps.sign_legacy(d, key=self.key, tlog=False)])
        repo, d = image("key-bundle-unlogged")
        push.attach_bundle_tag(repo, d, [ps.sign_bundle(d, key=self.key)])
        repo, d = image("other-key")
        push.attach_legacy(repo, d, [ps.sign_legacy(d, key=self.other_key, tlog=True)])
        repo, d = image("alice-legacy")
        push.attach_legacy(repo, d, [ps.sign_legacy(d, identity=ALICE)])
        repo, d = image("alice-bundle")
        push.attach_bundle_tag(repo, d, [ps.sign_bundle(d, identity=ALICE)])
        repo, d = image("mallory")
        push.attach_legacy(repo, d, [ps.sign_legacy(d, identity=MALLORY)])
        image("unsigned")
        push.close()
        self.tmp = tmp

    def policy(self, verifier_yaml: str) -> str:
        """The one-rule Talos policy that says what the flags say."""
        path = self.tmp / f"policy-{abs(hash(verifier_yaml))}.yaml"
        path.write_text(f"apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n  - image: \"*\"\n{verifier_yaml}")
        return str(path)

    def key_policy(self) -> str:
        pem = "\n".join("        " + line for line in public_pem(self.key).strip().splitlines())
        return self.policy(f"    publicKey:\n      certificate: |\n{pem}\n")


@pytest.fixture(scope="module")
def world(registry, tmp_path_factory):
    return World(registry, tmp_path_factory.mktemp("adhoc"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["verify", *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def verify_json(capsys, world: World, images: list[str], *flags: str) -> tuple[int, dict]:
    code, out, err = run(capsys, *images, *flags, "--trusted-root", world.root, "--timeout", "3", "--format", "json")
    assert out, err
    return code, json.loads(out)


KEYLESS = ("--certificate-identity", ALICE.subject, "--certificate-oidc-issuer", ISSUER)
KEYLESS_YAML = f"    keyless:\n      issuer: {ISSUER}\n      subject: {ALICE.subject}\n"

# (flags, image, outcome, message start or fragment)
CASES = [
    ("key", "key-logged", "verified", "verified via legacy signature (bundle verified true)"),
    # cosign: a key-pair signature must be in the transparency log unless --insecure-ignore-tlog.
    ("key", "key-unlogged", "failed", "a transparency-log entry is required"),
    ("key", "key-bundle-unlogged", "failed", "bundle has no transparency-log entry"),
    ("key-ignore-tlog", "key-unlogged", "verified", "verified via legacy signature (bundle verified false)"),
    ("key-ignore-tlog", "key-bundle-unlogged", "verified", "verified via bundle"),
    ("key-ignore-tlog", "other-key", "failed", "does not verify with the rule's public key"),
    ("key", "unsigned", "failed", "bundle tag not found\nlegacy signature tag not found"),
    ("keyless", "alice-legacy", "verified", "verified via legacy signature (bundle verified true)"),
    ("keyless", "alice-bundle", "verified", "verified via bundle"),
    ("keyless", "mallory", "failed", f"certificate identity '{MALLORY.subject}' does not match"),
    ("keyless-regexp", "alice-legacy", "verified", "verified via legacy signature (bundle verified true)"),
    ("keyless-regexp", "mallory", "failed", "does not match the rule's subjectRegex"),
    ("keyless-wrong-issuer", "alice-bundle", "failed", "does not match the rule's issuer 'https://accounts.example.com'"),
    ("keyless-wrong-issuer-regexp", "alice-legacy", "failed", "does not match the rule's issuer regular expression"),
]


def flags_for(world: World, kind: str) -> tuple[str, ...]:
    return {
        "key": ("--key", str(world.key_file)),
        "key-ignore-tlog": ("--key", str(world.key_file), "--insecure-ignore-tlog"),
        "keyless": KEYLESS,
        "keyless-regexp": ("--certificate-identity-regexp", "^alice@", "--certificate-oidc-issuer-regexp", r"pullguard\.test$"),
        "keyless-wrong-issuer": ("--certificate-identity", ALICE.subject, "--certificate-oidc-issuer", "https://accounts.example.com"),
        "keyless-wrong-issuer-regexp": ("--certificate-identity", ALICE.subject, "--certificate-oidc-issuer-regexp", "^https://accounts"),
    }[kind]


@pytest.mark.parametrize("kind, name, outcome, message", CASES)
def test_cosign_flags_verify_on_a_real_registry(capsys, world, kind, name, outcome, message):
    code, doc = verify_json(capsys, world, [world.images[name]], *flags_for(world, kind))
    (result,) = doc["results"]
    assert (doc["policy"], doc["dialect"]) == (None, None)
    assert (result["outcome"], code) == (outcome, 0 if outcome == "verified" else 1), result["message"]
    assert message in result["message"]
    assert result["digest"] == world.digests[name]
    assert (result["rule_id"], result["pattern"]) == ("0000", "*")
    if outcome == "verified":
        sig = result["signature"]
        assert sig["artifact_digest"] == world.digests[name]
        if not kind.startswith("keyless"):
            assert sig["key_fingerprint"] == load_public_key_pem(public_pem(world.key)).fingerprint
        else:
            assert sig["identity"] == {"issuer": ISSUER, "subject": ALICE.subject}
        # --key without --insecure-ignore-tlog: the log entry is the evidence.
        assert (sig["tlog"] is not None) == (kind != "key-ignore-tlog")
    else:
        assert result["signature"] is None and result["errors"]


# What a one-rule policy file says for the same flags: the results are the same, word for word.
# A Talos publicKey rule never needs the log, so it matches --key --insecure-ignore-tlog.
EQUIVALENT = [
    ("key-ignore-tlog", lambda w: w.key_policy()),
    ("keyless", lambda w: w.policy(KEYLESS_YAML)),
]


@pytest.mark.parametrize("kind, policy", EQUIVALENT, ids=[row[0] for row in EQUIVALENT])
def test_same_results_as_a_one_rule_policy(capsys, world, kind, policy):
    images = [world.images[name] for name in world.images]
    code, adhoc = verify_json(capsys, world, images, *flags_for(world, kind))
    policy_code, from_file = verify_json(capsys, world, [policy(world), *images])
    assert code == policy_code
    assert adhoc["summary"] == from_file["summary"]
    for mine, theirs in zip(adhoc["results"], from_file["results"], strict=True):
        for key in ("image", "digest", "outcome", "message", "signature", "errors", "rule_id", "pattern", "verifier"):
            assert mine[key] == theirs[key], (mine["image"], key)


@pytest.mark.parametrize("where", ["first", "last", "between"])
def test_every_positional_is_an_image(capsys, world, where):
    # The first positional is no policy once --key is given, wherever the options come.
    a, b = world.images["key-logged"], world.images["unsigned"]
    options = ("--key", str(world.key_file), "--trusted-root", world.root)
    argv = {"first": (*options, a, b), "last": (a, b, *options), "between": (a, *options, b)}[where]
    code, out, err = run(capsys, *argv)
    assert code == 1, err
    assert a in out and b in out
    assert out.rstrip().endswith(f"(--key {world.key_file})")


def test_text_output_names_the_flags(capsys, world):
    code, out, err = run(capsys, world.images["alice-legacy"], *KEYLESS, "--trusted-root", world.root)
    assert code == 0, err
    assert "verified via legacy signature (bundle verified true)" in out
    assert out.rstrip().endswith(f"(--certificate-identity {ALICE.subject} --certificate-oidc-issuer {ISSUER})")


def test_github_format_without_a_policy_file(capsys, world):
    code, out, err = run(capsys, world.images["unsigned"], "--key", str(world.key_file), "--trusted-root", world.root,
                         "--format", "github")
    assert code == 1
    (annotation,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert "file=" not in annotation and "line=" not in annotation
    assert world.images["unsigned"] in annotation


# (argv after `verify`, what stderr says) — usage errors exit 2 with the command's usage.
USAGE = [
    (["nginx", "--certificate-identity", "a@b"], NO_ISSUER),
    (["nginx", "--certificate-identity-regexp", "a"], NO_ISSUER),
    (["nginx", "--certificate-oidc-issuer", ISSUER], NO_IDENTITY),
    (["nginx", "--certificate-oidc-issuer-regexp", "x", "--insecure-ignore-tlog"], NO_IDENTITY),
    (["nginx", "--certificate-identity", "", "--certificate-oidc-issuer", ISSUER], NO_IDENTITY),
    (["nginx", "--key", "{key}", "--certificate-identity", "a@b"], "give either --key or the --certificate-* flags, not both"),
    (["nginx", "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", ISSUER],
     "--certificate-identity-regexp '(' is not a valid regular expression: missing )"),
    (["nginx", "--certificate-identity", "a", "--certificate-oidc-issuer-regexp", r"\C"],
     "--certificate-oidc-issuer-regexp '\\\\C' is not a valid regular expression"),
    ([], "the following arguments are required: POLICY"),
    (["--insecure-ignore-tlog"], "the following arguments are required: POLICY"),
    (["{policy}", "nginx", "--insecure-ignore-tlog"], "--insecure-ignore-tlog goes with --key or the --certificate-* flags"),
    (["--key", "{key}"], "no images given"),
    (["nginx", "--key", "{cert}"], "a CERTIFICATE block is not accepted here"),
    (["nginx", "--key", "{root}"], "--key {root}: no PEM block found"),
]


@pytest.mark.parametrize("argv, says", USAGE)
def test_usage_errors(capsys, world, tmp_path, argv, says):
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    names = {"key": str(world.key_file), "policy": world.key_policy(), "cert": str(cert), "root": world.root}
    code, out, err = run(capsys, *(a.format(**names) for a in argv))
    assert (code, out) == (2, "")
    assert says.format(**names) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("content, says", [
    (None, "cannot read key {path}: No such file or directory"),
    (b"\xff\xfe-----BEGIN PUBLIC KEY-----", "cannot read key {path}:1:1: not UTF-8 text"),
])
def test_unreadable_key_file_is_exit_2_with_the_path(capsys, tmp_path, content, says):
    path = tmp_path / "cosign.pub"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, "nginx", "--key", str(path))
    assert (code, out) == (2, "")
    assert says.format(path=path) in err


def test_private_registry_credentials_are_never_printed(basic_auth_registry, world, tmp_path):
    """Ad hoc through a registry behind basic auth: the docker config's credentials are used
    and appear in no output (a subprocess, as a user runs it)."""
    user, password = REGISTRY_USER
    push = Pusher(basic_auth_registry.url)
    push.client.close()
    push.client = DistributionClient(basic_auth_registry.url, auth=REGISTRY_USER)
    digest = push.push_image("private/app", "v1", content=b"private adhoc")
    push.attach_legacy("private/app", digest, [world.sigstore.sign_legacy(digest, key=world.key, tlog=True)])
    wrong = push.push_image("private/other", "v1", content=b"private other")
    push.attach_legacy("private/other", wrong, [world.sigstore.sign_legacy(wrong, key=world.other_key, tlog=True)])
    push.close()
    config = tmp_path / "docker"
    config.mkdir()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {basic_auth_registry.host: {"auth": token}}}))
    env = dict(os.environ, DOCKER_CONFIG=str(config), PYTHONPATH=str(REPO), NO_COLOR="1")
    images = [f"{basic_auth_registry.host}/private/app:v1", f"{basic_auth_registry.host}/private/other:v1"]
    for fmt in ("text", "json", "github"):
        proc = subprocess.run(
            [sys.executable, "-m", "pullguard.tui.cli", "verify", *images, "--key", str(world.key_file),
             "--trusted-root", world.root, "--timeout", "5", "--format", fmt],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert "verified" in proc.stdout and "failed" in proc.stdout
        for secret in (password, token):
            assert secret not in proc.stdout + proc.stderr


# -- the engine directly: flags -> the one rule ----------------------------------------------------

PEM = public_pem(generate_key("ecdsa-p256"))

VERIFIERS = [
    (CosignFlags(key_pem=PEM, key_name="k.pub"),
     PublicKeyVerifier(pem=PEM, fingerprint=load_public_key_pem(PEM).fingerprint, ignore_tlog=False)),
    (CosignFlags(key_pem=PEM, key_name="k.pub", ignore_tlog=True),
     PublicKeyVerifier(pem=PEM, fingerprint=load_public_key_pem(PEM).fingerprint, ignore_tlog=True)),
    (CosignFlags(identity="a@b", issuer=ISSUER), KeylessVerifier(issuer=ISSUER, subject="a@b")),
    (CosignFlags(identity_regexp="^a@", issuer_regexp="test$", ignore_tlog=True),
     KeylessVerifier(subject_regex="^a@", issuer_regex="test$", ignore_tlog=True)),
    (CosignFlags(identity="a@b", identity_regexp="b$", issuer=ISSUER),
     KeylessVerifier(issuer=ISSUER, subject="a@b", subject_regex="b$")),
]


@pytest.mark.parametrize("flags, verifier", VERIFIERS)
def test_flags_make_one_rule_for_every_image(flags, verifier):
    loaded = cosign_policy(flags)
    assert loaded.policy is not None and loaded.dialect is None and loaded.diagnostics == []
    decisions = loaded.policy.evaluate_many(["nginx", "ghcr.io/acme/api:v1", "localhost:5000/a/b@sha256:" + "0" * 64])
    for decision in decisions:
        assert (decision.action, decision.rule_id, decision.pattern, decision.verifier) == ("verify", "0000", "*", verifier)


@pytest.mark.parametrize("flags, says", [
    (CosignFlags(), "give --key FILE, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"),
    (CosignFlags(identity="a"), NO_ISSUER),
    (CosignFlags(issuer_regexp="x"), NO_IDENTITY),
    (CosignFlags(key_pem="not a key", key_name="k.pub"), "--key k.pub: no PEM block found"),
    (CosignFlags(key_pem=PEM, issuer="x"), "not both"),
    (CosignFlags(identity_regexp="a(", issuer="x"), "is not a valid regular expression"),
])
def test_flags_that_make_no_verifier(flags, says):
    with pytest.raises(CosignFlagsError, match=None) as caught:
        cosign_policy(flags)
    assert says in str(caught.value)
