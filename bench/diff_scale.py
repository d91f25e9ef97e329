"""How long `pullguard diff` takes on a large fleet, against two `pullguard simulate` runs.

50,000 distinct images, two Talos policies of 1,000 rules that differ the way a real change
does (a rule inserted at the top that shifts every other rule, a key rotated, a deny added,
a skip added, a catch-all deny at the end). Both sides run the real CLI in this process with
stdout captured, JSON output, reading the images from a file; the target is diff < 2x the two
simulate runs together. Prints the figures; run with `python bench/diff_scale.py [--images N]
[--rules N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from pullguard.tui.cli import main  # noqa: E402


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _rule(i: int, keys: list[str], rotated: bool = False) -> str:
    pattern = f"registry{i % 50}.example.com/team{i}/*"
    kind = i % 4
    if kind == 0:
        return f'  - image: "{pattern}"\n    skip: true\n'
    if kind == 1:
        return f'  - image: "{pattern}"\n    deny: true\n'
    if kind == 2:
        subject = f"https://github.com/org/team{i}/.github/workflows/release.yaml@refs/heads/main"
        return (
            f'  - image: "{pattern}"\n    keyless:\n      issuer: https://token.actions.githubusercontent.com\n'
            f"      subject: {subject}\n"
        )
    pem = keys[1 if rotated else 0]
    body = "".join(f"          {line}\n" for line in pem.strip().splitlines())
    return f'  - image: "{pattern}"\n    publicKey:\n      certificate: |\n{body}'


def policies(rules: int) -> tuple[str, str]:
    keys = [_pem(), _pem()]
    header = "apiVersion: v1alpha1\nkind: ImageVerificationConfig\nrules:\n"
    old = [_rule(i, keys) for i in range(rules)]
    new = list(old)
    # Key rotated for a tenth of the public-key rules.
    for i in range(3, rules, 40):
        new[i] = _rule(i, keys, rotated=True)
    # A deny for one team and a skip for another, in front of their rules.
    new.insert(0, '  - image: "registry5.example.com/team5/*"\n    deny: true\n')
    new.insert(0, '  - image: "registry2.example.com/team2/*"\n    skip: true\n')
    # An inserted rule at the top: every other rule shifts by one, which is no change.
    new.insert(0, '  - image: "internal.example.com/*"\n    skip: true\n')
    # A catch-all deny at the end: images no rule matched are now denied.
    new.append('  - image: "*"\n    deny: true\n')
    return header + "".join(old), header + "".join(new)


def images(count: int, rules: int) -> list[str]:
    out = []
    for n in range(count):
        team = n % rules
        # One image in ten is outside every rule (allowed, then denied by the catch-all).
        host = f"registry{team % 50}.example.com" if n % 10 else f"other{team % 7}.example.org"
        out.append(f"{host}/team{team}/app{n}:v{n % 13}")
    return out


def _run(argv: list[str]) -> tuple[float, int, str]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return time.perf_counter() - start, code, out.getvalue()


def _engine_figures(old_text: str, new_text: str, fleet: list[str], repeat: int) -> tuple[float, float]:
    """Best times of evaluating both policies vs diffing them, the load and the output left out."""
    from pullguard.engine.policy import load_policy
    from pullguard.engine.policydiff import diff_policies

    old, new = load_policy(old_text, "old.yaml").policy, load_policy(new_text, "new.yaml").policy
    sim, diff = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        old.evaluate_many(fleet)
        new.evaluate_many(fleet)
        sim.append(time.perf_counter() - start)
        start = time.perf_counter()
        diff_policies(old, new, fleet)
        diff.append(time.perf_counter() - start)
    return min(sim), min(diff)


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_text, new_text = policies(args.rules)
        (folder / "old.yaml").write_text(old_text)
        (folder / "new.yaml").write_text(new_text)
        (folder / "images.txt").write_text("\n".join(images(args.images, args.rules)) + "\n")
        old, new, listing = (str(folder / n) for n in ("old.yaml", "new.yaml", "images.txt"))

        engine_sim, engine_diff = _engine_figures(old_text, new_text, images(args.images, args.rules), args.repeat)
        simulate_times, diff_times = [], []
        for _ in range(args.repeat):
            t_old, code_old, _ = _run(["simulate", old, "--images", listing, "--format", "json"])
            t_new, code_new, _ = _run(["simulate", new, "--images", listing, "--format", "json"])
            assert code_old == code_new == 0, "simulate failed"
            simulate_times.append(t_old + t_new)
            t_diff, code, output = _run(["diff", old, new, "--images", listing, "--format", "json"])
            assert code == 1, "diff found no change"
            diff_times.append(t_diff)

    doc = json.loads(output)
    simulate_best, diff_best = min(simulate_times), min(diff_times)
    ratio = diff_best / simulate_best
    print(f"images: {args.images:,}  rules: {args.rules:,} (old) / {args.rules + 4:,} (new)")
    print(f"changes: {len(doc['changes']):,}  counts: {doc['counts']}  unchanged: {doc['unchanged']:,}")
    print(f"two simulate runs: {simulate_best:.2f} s (best of {args.repeat})")
    print(f"diff:              {diff_best:.2f} s (best of {args.repeat})")
    print(f"ratio diff / two simulates: {ratio:.2f}x  (target < 2x: {'met' if ratio < 2 else 'NOT met'})")
    print(
        f"engine only (policies loaded, no I/O): two evaluate_many {engine_sim:.2f} s, "
        f"diff_policies {engine_diff:.2f} s, ratio {engine_diff / engine_sim:.2f}x"
    )


if __name__ == "__main__":
    main_bench()
