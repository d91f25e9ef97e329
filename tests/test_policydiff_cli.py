"""`pullguard diff` end to end on real policy files: kinds, grouping, counts, exit codes, JSON."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pullguard.engine.keys import load_public_key_pem
from pullguard.tui.cli import main


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


KEY_A, KEY_B = _pem(), _pem()


def talos(*rules: str) -> str:
    return "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n" + "".join(rules)


def key_rule(pattern: str, pem: str) -> str:
    body = "".join(f"          {line}\n" for line in pem.strip().splitlines())
    return f"  - image: \"{pattern}\"\n    publicKey:\n      certificate: |\n{body}"


def keyless_rule(pattern: str, subject: str) -> str:
    return (
        f"  - image: \"{pattern}\"\n    keyless:\n      issuer: https://token.actions.githubusercontent.com\n"
        f"      subject: {subject}\n"
    )


def regex_rule(pattern: str, subject_regex: str) -> str:
    return (
        f"  - image: \"{pattern}\"\n    keyless:\n      issuer: https://token.actions.githubusercontent.com\n"
        f"      subjectRegex: '{subject_regex}'\n"
    )


RELEASE_TAGS = r"^https://github\.com/org/app/\.github/workflows/release\.yaml@refs/tags/v"
ORGANISATION = r"^https://github\.com/org/"


def skip_rule(pattern: str) -> str:
    return f"  - image: \"{pattern}\"\n    skip: true\n"


def deny_rule(pattern: str) -> str:
    return f"  - image: \"{pattern}\"\n    deny: true\n"


IMAGES = ["ghcr.io/org/app:v1", "ghcr.io/org/tool:v2", "registry.k8s.io/pause:3.10", "quay.io/other/db:1"]
BASE = [key_rule("ghcr.io/org/*", KEY_A), skip_rule("registry.k8s.io/*")]
SUBJECT = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"

# (name, old rules, new rules, {image: kind} for the changed images)
PAIRS = [
    ("identical", BASE, BASE, {}),
    ("rule inserted above shifts the others", BASE, [skip_rule("docker.io/nothing/*")] + BASE, {}),
    ("rule appended for other images", BASE, BASE + [deny_rule("example.com/*")], {}),
    ("deny added in front", BASE, [deny_rule("ghcr.io/org/tool")] + BASE, {"ghcr.io/org/tool:v2": "newly-denied"}),
    ("catch-all deny appended", BASE, BASE + [deny_rule("*")], {"quay.io/other/db:1": "newly-denied"}),
    ("skip added in front of a verify", BASE, [skip_rule("ghcr.io/org/app")] + BASE, {"ghcr.io/org/app:v1": "newly-unverified"}),
    ("verify rule removed", BASE, BASE[1:], {"ghcr.io/org/app:v1": "newly-unverified", "ghcr.io/org/tool:v2": "newly-unverified"}),
    ("skip replaced by verify", BASE, [BASE[0], key_rule("registry.k8s.io/*", KEY_A)],
     {"registry.k8s.io/pause:3.10": "newly-requires-verification"}),
    ("verifier key changed", BASE, [key_rule("ghcr.io/org/*", KEY_B), BASE[1]],
     {"ghcr.io/org/app:v1": "verifier-changed", "ghcr.io/org/tool:v2": "verifier-changed"}),
    ("public key replaced by keyless", BASE, [keyless_rule("ghcr.io/org/*", SUBJECT), BASE[1]],
     {"ghcr.io/org/app:v1": "verifier-changed", "ghcr.io/org/tool:v2": "verifier-changed"}),
    ("subjectRegex loosened from release tags to the organisation", [regex_rule("ghcr.io/org/*", RELEASE_TAGS), BASE[1]],
     [regex_rule("ghcr.io/org/*", ORGANISATION), BASE[1]],
     {"ghcr.io/org/app:v1": "verifier-weakened", "ghcr.io/org/tool:v2": "verifier-weakened"}),
    ("subjectRegex narrowed to release tags", [regex_rule("ghcr.io/org/*", ORGANISATION), BASE[1]],
     [regex_rule("ghcr.io/org/*", RELEASE_TAGS), BASE[1]],
     {"ghcr.io/org/app:v1": "verifier-strengthened", "ghcr.io/org/tool:v2": "verifier-strengthened"}),
    ("exact subject widened to a subjectRegex that admits it", [keyless_rule("ghcr.io/org/*", SUBJECT), BASE[1]],
     [regex_rule("ghcr.io/org/*", ORGANISATION), BASE[1]],
     {"ghcr.io/org/app:v1": "verifier-weakened", "ghcr.io/org/tool:v2": "verifier-weakened"}),
    ("same key, narrower rule in front", BASE, [key_rule("ghcr.io/org/app", KEY_A)] + BASE, {"ghcr.io/org/app:v1": "other-rule"}),
    ("rules reordered, first match changes", [skip_rule("ghcr.io/*"), deny_rule("ghcr.io/org/*")],
     [deny_rule("ghcr.io/org/*"), skip_rule("ghcr.io/*")], {"ghcr.io/org/app:v1": "newly-denied", "ghcr.io/org/tool:v2": "newly-denied"}),
]


@pytest.fixture
def files(tmp_path):
    def make(old_rules, new_rules):
        old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
        old.write_text(talos(*old_rules))
        new.write_text(talos(*new_rules))
        return old, new

    return make


def run(capsys, *args):
    code = main(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name,old_rules,new_rules,changed", PAIRS, ids=[p[0] for p in PAIRS])
def test_kinds_on_policy_pairs(files, capsys, name, old_rules, new_rules, changed):
    old, new = files(old_rules, new_rules)
    code, out, err = run(capsys, old, new, *IMAGES, "--format", "json")
    assert err == ""
    doc = json.loads(out)
    assert {c["image"]: c["kind"] for c in doc["changes"]} == changed
    assert doc["unchanged"] == len(IMAGES) - len(changed)
    assert sum(doc["counts"].values()) == len(changed)
    assert code == (1 if changed else 0)


def test_json_change_carries_both_simulate_results(files, capsys):
    old, new = files(BASE, [deny_rule("ghcr.io/org/tool")] + BASE)
    _, out, _ = run(capsys, old, new, *IMAGES, "--format", "json")
    doc = json.loads(out)
    assert set(doc) >= {"changes", "counts", "unchanged"}
    assert doc["counts"] == {"verifier-weakened": 0, "newly-denied": 1, "newly-unverified": 0, "newly-requires-verification": 0,
                             "verifier-changed": 0, "verifier-strengthened": 0, "other-rule": 0}
    (change,) = doc["changes"]
    assert change["old"]["action"] == "verify" and change["old"]["rule_index"] == 0
    assert change["old"]["verifier"]["type"] == "public_key"
    assert change["new"] == {
        "image": "ghcr.io/org/tool:v2",
        "match_subject": "ghcr.io/org/tool",
        "action": "deny",
        "rule_index": 0,
        "rule_id": "0000",
        "pattern": "ghcr.io/org/tool",
        "verifier": None,
        "message": "verification denied by matched rule (0000)",
    }


def test_text_groups_by_kind_with_counts(files, capsys):
    old, new = files(BASE,
                     [deny_rule("ghcr.io/org/tool"), skip_rule("ghcr.io/org/app")] + BASE[:1] + [key_rule("registry.k8s.io/*", KEY_B)])
    code, out, _ = run(capsys, old, new, *IMAGES)
    assert code == 1
    fp_a, fp_b = load_public_key_pem(KEY_A).fingerprint, load_public_key_pem(KEY_B).fingerprint
    assert out.splitlines() == [
        "newly denied (1):",
        f"  ghcr.io/org/tool:v2: verify by rule 0 (0000) ghcr.io/org/* [public key {fp_a}] -> deny by rule 0 (0000) ghcr.io/org/tool",
        "",
        "newly unverified (admitted without verification) (1):",
        f"  ghcr.io/org/app:v1: verify by rule 0 (0000) ghcr.io/org/* [public key {fp_a}] -> skip by rule 1 (0001) ghcr.io/org/app",
        "",
        "newly requires verification (1):",
        "  registry.k8s.io/pause:3.10: skip by rule 1 (0001) registry.k8s.io/* -> "
        f"verify by rule 3 (0003) registry.k8s.io/* [public key {fp_b}]",
        "",
        "3 changed (1 newly-denied, 1 newly-unverified, 1 newly-requires-verification), 1 unchanged",
    ]


def test_no_change_text(files, capsys):
    old, new = files(BASE, [skip_rule("docker.io/nothing/*")] + BASE)
    code, out, _ = run(capsys, old, new, *IMAGES)
    assert (code, out) == (0, "0 changed, 4 unchanged\n")


def test_repeated_images_count_once(files, capsys):
    old, new = files(BASE, BASE + [deny_rule("*")])
    code, out, _ = run(capsys, old, new, *IMAGES, *IMAGES, "quay.io/other/db:1", "--format", "json")
    doc = json.loads(out)
    assert [c["image"] for c in doc["changes"]] == ["quay.io/other/db:1"]
    assert doc["unchanged"] == 3


def test_unreadable_or_invalid_policy_exits_2(files, capsys, tmp_path):
    old, new = files(BASE, BASE)
    code, out, err = run(capsys, old, tmp_path / "missing.yaml", *IMAGES)
    assert (code, out) == (2, "") and "cannot read policy" in err and "missing.yaml" in err
    new.write_text(talos(BASE[0], "  - image: x\n    skip: true\n    deny: true\n"))
    code, out, err = run(capsys, old, new, *IMAGES)
    assert (code, out) == (2, "")
    assert "skip and deny cannot both be true" in err and f"{new}:" in err


def test_no_images_is_a_usage_error(files, capsys):
    old, new = files(BASE, BASE)
    code, _, err = run(capsys, old, new)
    assert code == 2 and "no images" in err


def test_missing_arguments_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["diff", "only-one.yaml"])
    assert exc.value.code == 2


def test_images_from_a_file_and_from_stdin(files, capsys, tmp_path, monkeypatch):
    import io

    old, new = files(BASE, BASE + [deny_rule("*")])
    listing = tmp_path / "images.txt"
    listing.write_text("# fleet\n" + "\n".join(IMAGES) + "\n")
    code, out, _ = run(capsys, old, new, "--images", listing, "--format", "json")
    assert code == 1 and json.loads(out)["unchanged"] == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("quay.io/other/db:1\nghcr.io/org/app:v1\n"))
    code, out, _ = run(capsys, old, new, "--images", "-", "--format", "json")
    doc = json.loads(out)
    assert [c["image"] for c in doc["changes"]] == ["quay.io/other/db:1"] and doc["unchanged"] == 1


def test_unreadable_image_list_exits_2(files, capsys, tmp_path):
    old, new = files(BASE, BASE)
    code, out, err = run(capsys, old, new, "--images", tmp_path / "nope.txt")
    assert (code, out) == (2, "") and "cannot read images" in err


def test_fleet_from_kubectl_json_counts_each_image_once(files, capsys, tmp_path):
    def pod(name, *images):
        return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}}

    pods = {"apiVersion": "v1", "kind": "List", "items": [
        pod("web-1", "ghcr.io/org/app:v1", "quay.io/other/db:1"),
        pod("web-2", "ghcr.io/org/app:v1", "quay.io/other/db:1"),
        pod("pause", "registry.k8s.io/pause:3.10"),
    ]}
    listing = tmp_path / "pods.json"
    listing.write_text(json.dumps(pods))
    old, new = files(BASE, BASE + [deny_rule("*")])
    code, out, _ = run(capsys, old, new, "--images", listing, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [c["image"] for c in doc["changes"]] == ["quay.io/other/db:1"]
    assert doc["unchanged"] == 2


def test_weakened_verifier_is_listed_first(files, capsys):
    # Rule 0000's subjectRegex loosened from release tags to the whole organisation, and a
    # deny added for another image: the weakening comes first, in text and in JSON.
    old, new = files([regex_rule("ghcr.io/org/*", RELEASE_TAGS), BASE[1]],
                     [deny_rule("quay.io/other/*"), regex_rule("ghcr.io/org/*", ORGANISATION), BASE[1]])
    code, out, _ = run(capsys, old, new, *IMAGES)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "verifier weakened (accepts every signer it accepted, and more) (2):"
    assert lines[1].startswith("  ghcr.io/org/app:v1: verify by rule 0 (0000) ghcr.io/org/* [keyless ")
    assert "newly denied (1):" in lines
    assert lines[-1] == "3 changed (2 verifier-weakened, 1 newly-denied), 1 unchanged"
    _, out, _ = run(capsys, old, new, *IMAGES, "--format", "json")
    doc = json.loads(out)
    assert list(doc["counts"])[0] == "verifier-weakened"
    assert [c["kind"] for c in doc["changes"]][:2] == ["verifier-weakened", "verifier-weakened"]


def test_loosening_the_samples_release_tag_regex_is_a_weakened_verifier_listed_first(tmp_path, capsys):
    """Issue 16's case on the bundled sample: rule 0000's subjectRegex from release tags to the
    whole organisation did not move the rule; it accepts more signers."""
    from pullguard.engine.samples import sample_dir

    old = sample_dir() / "talos" / "policy.yaml"
    text = old.read_text()
    regex = r"^https://github\.com/acme/[^/]+/\.github/workflows/release\.yaml@refs/tags/v"
    assert regex in text
    new = tmp_path / "new.yaml"
    new.write_text(text.replace(regex, r"^https://github\.com/acme/"))
    code = main(["diff", str(old), str(new), "--images", str(sample_dir() / "images" / "images.txt"), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    kinds = [change["kind"] for change in report["changes"]]
    assert kinds and set(kinds) == {"verifier-weakened"}
