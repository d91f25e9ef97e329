"""Benchmark: `pullguard simulate --format json` on fleet-shaped Talos policies (issue 16).

Rules in the shapes real policies use, a quarter of them leading-`*` host patterns
(`*.mirror-N.internal/*/base`), and images that each hit a uniformly random rule, so nearly every
image has its own match subject and no literal prefix narrows the search. For each size the whole
process (start-up, YAML, validation, lints, reference parsing, matching, JSON out) is measured
against a plain per-rule regex loop in this process (each image normalized with the same parser,
every rule's glob as a compiled regex tried in order until the first fullmatch), in CPU seconds
(the machine may be shared; wall time is shown too), with the peak RSS of the pullguard process.
Prints the times, the ratios and whether the targets hold: >= 5x the loop at 1,000 x 50,000;
10,000 rules within 1.5x of 100 rules (50,000 images); peak RSS < 250 MB at 200,000 images.

    python bench/simulate_fleet.py [--sizes 1000x50000,1000x200000,4000x50000,100x50000,10000x50000]
                                   [--no-baseline-over 4000] [--dialect talos|kyverno] [--repeat 5] [--phases]

Each pullguard process runs `--repeat` times and its least CPU time is shown (as timeit does:
what a busy machine adds is noise, never the program's own cost).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = "1000x50000,1000x200000,4000x50000,100x50000,10000x50000"
ISSUER = "https://token.actions.githubusercontent.com"


def rule_pattern(i: int) -> str:
    shape = i % 4
    if shape == 0:
        return f"*.mirror-{i}.internal/*/base"
    if shape == 1:
        return f"registry-{i}.example.com/team/*"
    if shape == 2:
        return f"ghcr.io/org-{i}/*"
    return f"*/vendor-{i}/app-*"


def make_policy(n_rules: int) -> tuple[str, list[str]]:
    """n_rules - 1 rules of the four shapes (verify, skip, deny in turn), then a catch-all deny."""
    patterns: list[str] = []
    lines = ["apiVersion: v1alpha1", "kind: ImageVerificationConfig", "rules:"]
    for i in range(n_rules - 1):
        pattern = rule_pattern(i)
        patterns.append(pattern)
        lines.append(f"  - image: '{pattern}'")
        if i % 3 == 0:
            lines += ["    keyless:", f"      issuer: {ISSUER}", f"      subjectRegex: ^https://github\\.com/org-{i}/"]
        elif i % 3 == 1:
            lines.append("    skip: true")
        else:
            lines.append("    deny: true")
    patterns.append("*")
    lines += ["  - image: '*'", "    deny: true"]
    return "\n".join(lines) + "\n", patterns


def make_kyverno_policy(n_entries: int) -> tuple[str, list[str]]:
    """A ClusterPolicy with rules of 100 verifyImages entries each, the same four shapes as
    go-wildcard patterns (Kyverno matches the whole `registry/path:tag` or `@digest` string)."""
    lines = ["apiVersion: kyverno.io/v1", "kind: ClusterPolicy", "metadata: {name: fleet}", "spec:",
             "  validationFailureAction: Enforce", "  rules:"]
    patterns: list[str] = []
    for i in range(n_entries):
        if i % 100 == 0:
            lines += [f"    - name: r{i // 100}", "      match: {any: [{resources: {kinds: [Pod]}}]}", "      verifyImages:"]
        entry = [f"{rule_pattern(i)}:*", f"{rule_pattern(i)}@*"]
        patterns.append("|".join(entry))
        lines += [f"        - imageReferences: ['{entry[0]}', '{entry[1]}']",
                  "          attestors: [{entries: [{keyless: {issuer: " + ISSUER
                  + ", subject: 'https://github.com/org/*', rekor: {url: https://rekor.sigstore.dev}}}]}]"]
    return "\n".join(lines) + "\n", patterns


def make_image(i: int, rng: random.Random) -> str:
    """An image that rule i matches (and no earlier rule of another number does)."""
    n = rng.randrange(1_000_000)
    shape = i % 4
    if shape == 0:
        image = f"eu{n % 7}.mirror-{i}.internal/proj{n}/base"
    elif shape == 1:
        image = f"registry-{i}.example.com/team/svc{n}"
    elif shape == 2:
        image = f"ghcr.io/org-{i}/x{n}"
    else:
        image = f"quay.io/vendor-{i}/app-{n}"
    tag = rng.choice([":v1.2.3", ":latest", f":{n % 1000}", "@sha256:" + f"{rng.getrandbits(256):064x}"])
    return image + tag


def make_images(n_images: int, n_rules: int, rng: random.Random) -> list[str]:
    # One in twenty hits no numbered rule (only the catch-all).
    return [make_image(rng.randrange(n_rules - 1), rng) if rng.random() >= 0.05
            else f"docker.io/library/app{rng.randrange(10_000)}:1" for _ in range(n_images)]


def baseline(images: list[str], patterns: list[str]) -> tuple[float, list[int | None]]:
    """CPU seconds of the plain per-rule regex loop, in this process (no start-up cost counted)."""
    from pullguard.engine.reference import parse_reference

    parse_reference.cache_clear()
    start = time.process_time()
    compiled = [re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.S) for pattern in patterns]
    results: list[int | None] = []
    for image in images:
        subject = parse_reference(image).context
        hit = None
        for index, regex in enumerate(compiled):
            if regex.fullmatch(subject):
                hit = index
                break
        results.append(hit)
    return time.process_time() - start, results


# The child reports its own peak (VmHWM of its address space): ru_maxrss of a child also counts
# the parent's pages it was forked with, which after a large baseline run is most of it.
_CHILD = """import atexit, sys
def _peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            print('peak-kb', line.split()[1], file=sys.stderr)
atexit.register(_peak)
from pullguard.tui.cli import main
sys.exit(main())"""


# --phases: the parts of one simulate, timed in a fresh process (as the CLI runs them, caches cold).
_PHASES = """import gc, io, json, sys, time
gc.disable()
T = time.process_time
from pullguard.engine.policy import load_policy
from pullguard.engine.simulate import simulate_chunks, simulate_json
from pullguard.engine.yamlsource import compose
from pullguard.tui.commands.inputs import read_images
from pullguard.tui.commands.simulate import write_json_results
policy, images = sys.argv[1:3]
text = open(policy).read()
t = {}
s = T(); docs = compose(text); t["compose"] = T() - s; del docs
s = T(); loaded = load_policy(text, policy, errors_only=True); t["load"] = T() - s - t["compose"]
s = T(); entries = read_images([], [images], empty_list_ok=True); t["read list"] = T() - s
s = T(); decisions = [d for chunk in simulate_chunks(loaded, [e.image for e in entries]) for d in chunk]
t["evaluate"] = T() - s
s = T(); write_json_results(simulate_json(loaded, []), decisions, stream=io.StringIO()); t["json out"] = T() - s
print(json.dumps(t))"""


def phases(policy: Path, image_file: Path, repeat: int) -> dict[str, float]:
    """CPU seconds of each phase (least of `repeat` fresh processes): compose the YAML, the rest
    of loading (walk, lints, freeing the YAML), read the image list, evaluate, write the JSON."""
    best: dict[str, float] = {}
    for _ in range(max(1, repeat)):
        out = subprocess.run([sys.executable, "-c", _PHASES, str(policy), str(image_file)], capture_output=True,
                             text=True, check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        for name, seconds in json.loads(out.stdout).items():
            best[name] = min(best.get(name, seconds), seconds)
    return best


def kyverno_baseline(images: list[str], entries: list[str]) -> tuple[float, list[int | None]]:
    """CPU seconds of a per-entry loop over every entry (Kyverno applies every match), each
    imageReferences pattern as a compiled regex; the first applying entry per image."""
    from pullguard.engine.patterns import wildcard_to_regex
    from pullguard.engine.reference import kyverno_image_string

    start = time.process_time()
    compiled = [[re.compile(wildcard_to_regex(p), re.S) for p in entry.split("|")] for entry in entries]
    results: list[int | None] = []
    for image in images:
        string = kyverno_image_string(image)
        applying = [index for index, regexes in enumerate(compiled) if any(r.fullmatch(string) for r in regexes)]
        results.append(applying[0] if applying else None)
    return time.process_time() - start, results


def pullguard(policy: Path, image_file: Path) -> tuple[float, float, float, list[int | None]]:
    """(wall seconds, CPU seconds, peak RSS in MB, rule_index per image) of one whole
    `pullguard simulate` process."""
    start = time.perf_counter()
    out = policy.with_suffix(".json")
    with open(out, "w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, "simulate", str(policy), "--images", str(image_file), "--format", "json"],
            stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        sys.exit(f"pullguard simulate failed ({status}):\n{stderr[-2000:]}")
    peak = next(int(line.split()[1]) for line in stderr.splitlines() if line.startswith("peak-kb"))
    doc = json.loads(out.read_text())
    return elapsed, usage.ru_utime + usage.ru_stime, peak / 1024, [r["rule_index"] for r in doc["results"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="RULESxIMAGES,... (default: %(default)s)")
    parser.add_argument("--no-baseline-over", type=int, default=4000,
                        help="skip the per-rule loop above this many rules (it takes minutes)")
    parser.add_argument("--dialect", choices=("talos", "kyverno"), default="talos",
                        help="kyverno: verifyImages entries (all-match) instead of Talos rules")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each pullguard process; the least CPU time counts")
    parser.add_argument("--phases", action="store_true",
                        help="also time the phases of one simulate (compose, load, read list, evaluate, JSON out) per size")
    args = parser.parse_args()
    kyverno = args.dialect == "kyverno"
    timed: dict[int, dict[str, float]] = {}

    measured: dict[tuple[int, int], float] = {}
    print("CPU seconds (wall seconds of the pullguard process in brackets: the machine may be shared)")
    print(f"{'rules x images':>18} {'distinct':>9} {'pullguard':>18} {'peak RSS':>9} {'per-rule loop':>14} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            n_rules, n_images = (int(x) for x in size.split("x"))
            rng = random.Random(n_rules * 1_000_003 + n_images)
            text, patterns = make_kyverno_policy(n_rules) if kyverno else make_policy(n_rules)
            images = make_images(n_images, n_rules + kyverno, rng)
            policy = Path(tmp) / f"policy-{size}.yaml"
            policy.write_text(text)
            image_file = Path(tmp) / f"images-{size}.txt"
            image_file.write_text("\n".join(images) + "\n")
            runs = [pullguard(policy, image_file) for _ in range(max(1, args.repeat))]
            wall, ours, rss, got = min(runs, key=lambda run: run[1])
            measured[(n_rules, n_images)] = ours
            if n_rules <= args.no_baseline_over:
                base, expected = kyverno_baseline(images, patterns) if kyverno else baseline(images, patterns)
                if got != expected:
                    wrong = sum(1 for a, b in zip(got, expected, strict=True) if a != b)
                    sys.exit(f"{size}: results differ from the per-rule loop on {wrong} images")
                loop, ratio = f"{base:12.2f} s", f"{base / ours:5.1f}x"
            else:
                loop, ratio = f"{'(skipped)':>14}", f"{'-':>6}"
            distinct = len({i.split('@')[0].rsplit(':', 1)[0] for i in images})
            print(f"{n_rules:>8,} x {n_images:<7,} {distinct:>9,} {ours:6.2f} s ({wall:6.2f} s) {rss:6.0f} MB {loop} {ratio}",
                  flush=True)
            if (n_rules, n_images) == (1000, 200_000):
                print(f"{'':>18} peak RSS target < 250 MB: {'met' if rss < 250 else 'MISSED'}")
            if args.phases:
                parts = phases(policy, image_file, args.repeat)
                if n_images == 50_000:
                    timed[n_rules] = parts
                print(f"{'':>18} " + "  ".join(f"{name} {seconds:.3f}" for name, seconds in parts.items()), flush=True)
    if 100 in timed and 10_000 in timed:
        print("what 9,900 more rules add, by phase: " + "  ".join(
            f"{name} {timed[10_000][name] - timed[100][name]:+.3f}" for name in timed[100]))
    few, many = measured.get((100, 50_000)), measured.get((10_000, 50_000))
    if few and many:
        print(f"10,000 rules / 100 rules (50,000 images): {many / few:.2f}x, {many - few:+.2f} s for 9,900 more rules "
              f"(target <= 1.5x: {'met' if many / few <= 1.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
