"""Benchmark: `pullguard simulate --format json` on a 1,000-rule Talos policy x 50,000 images.

Measures the whole process (start-up, YAML, validation, lints, reference parsing, first match,
JSON output) against a plain per-rule loop in this process: each image normalized with the
same parser, then every rule's glob translated to a compiled Python regex and tried in order
until the first fullmatch. Prints both times and the ratio (target >= 5x, aim 20x).

    python bench/simulate_scale.py [--rules 1000] [--images 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_policy(n_rules: int, rng: random.Random) -> tuple[str, list[str]]:
    """Rules in the shapes real policies use: org wildcards, repo prefixes, exact names,
    a few mid-pattern stars, and a final catch-all deny."""
    patterns: list[str] = []
    lines = ["apiVersion: v1alpha1", "kind: ImageVerificationConfig", "rules:"]
    for i in range(n_rules - 1):
        host = f"reg{i % 40}.example.com"
        shape = i % 5
        if shape == 0:
            pattern = f"{host}/team{i}/*"
        elif shape == 1:
            pattern = f"{host}/team{i}/app{i}*"
        elif shape == 2:
            pattern = f"{host}/team{i}/svc{i}"
        elif shape == 3:
            pattern = f"{host}/*/tool{i}"
        else:
            pattern = f"ghcr.io/org{i}/*"
        patterns.append(pattern)
        lines.append(f"  - image: '{pattern}'")
        if i % 3 == 0:
            lines.append("    skip: true")
        elif i % 3 == 1:
            lines += [
                "    keyless:",
                "      issuer: https://token.actions.githubusercontent.com",
                f"      subjectRegex: ^https://github\\.com/org{i}/",
            ]
        else:
            lines.append("    deny: true")
    patterns.append("*")
    lines += ["  - image: '*'", "    deny: true"]
    return "\n".join(lines) + "\n", patterns


def make_images(n_images: int, n_rules: int, rng: random.Random) -> list[str]:
    images = []
    for _ in range(n_images):
        i = rng.randrange(n_rules)
        host = f"reg{i % 40}.example.com"
        kind = rng.random()
        if kind < 0.25:
            image = f"{host}/team{i}/svc{i}"
        elif kind < 0.45:
            image = f"{host}/team{i}/app{i}-{rng.randrange(5)}"
        elif kind < 0.55:
            image = f"ghcr.io/org{i}/thing{rng.randrange(10)}"
        elif kind < 0.75:
            image = f"docker.io/library/app{rng.randrange(200)}"  # no rule but the catch-all
        else:
            image = f"quay.io/vendor{rng.randrange(300)}/x{rng.randrange(20)}"
        tag = rng.choice([":v1.2.3", ":latest", f":{rng.randrange(1000)}", "@sha256:" + f"{rng.getrandbits(256):064x}"])
        images.append(image + tag)
    return images


def baseline(images: list[str], patterns: list[str]) -> float:
    """A plain per-rule regex loop, in this process (no start-up cost counted)."""
    from pullguard.engine.reference import parse_reference

    parse_reference.cache_clear()
    start = time.perf_counter()
    compiled = [re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.S) for pattern in patterns]
    results = []
    for image in images:
        subject = parse_reference(image).context
        hit = None
        for index, regex in enumerate(compiled):
            if regex.fullmatch(subject):
                hit = index
                break
        results.append(hit)
    elapsed = time.perf_counter() - start
    baseline.results = results
    return elapsed


def pullguard(policy: Path, image_file: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
         "simulate", str(policy), "--images", str(image_file), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"pullguard simulate failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(1)
    text, patterns = make_policy(args.rules, rng)
    images = make_images(args.images, args.rules, rng)
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(text)
        image_file = Path(tmp) / "images.txt"
        image_file.write_text("\n".join(images) + "\n")

        base_times = [baseline(images, patterns) for _ in range(args.repeat)]
        runs = [pullguard(policy, image_file) for _ in range(args.repeat)]
    ours = [t for t, _ in runs]
    doc = runs[-1][1]
    got = [r["rule_index"] for r in doc["results"]]
    if got != baseline.results:
        mismatches = sum(1 for a, b in zip(got, baseline.results, strict=False) if a != b)
        sys.exit(f"results differ from the baseline on {mismatches} images")
    b, o = statistics.median(base_times), statistics.median(ours)
    print(f"policy: {args.rules} rules; images: {args.images} ({len(set(images))} distinct)")
    print(f"baseline per-rule regex loop (in process):      {b:8.3f} s  (median of {args.repeat})")
    print(f"pullguard simulate --format json (whole process): {o:8.3f} s  (median of {args.repeat})")
    print(f"speed-up: {b / o:.1f}x  (target >= 5x, aim 20x); results identical to the baseline")


if __name__ == "__main__":
    main()
