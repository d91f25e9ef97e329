"""Benchmark: the editor's keystroke loop, `pullguard.engine.analysis.analyze()` on a 200-rule policy and
2,000 images, in memory, with a one-character edit each time so no cache can answer.

Prints the median and 90th percentile of 50 edits (target: median < 30 ms on this machine),
and, measured in the same run as a baseline, a full re-parse with ruamel.yaml's round-trip
loader (what a naive editor that keeps comments would call on every keystroke).

    python bench/edit_loop.py [--rules 200] [--images 2000] [--edits 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from simulate_scale import make_images, make_policy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()

    from pullguard.engine.analysis import analyze

    rng = random.Random(2)
    text, _ = make_policy(args.rules, rng)
    images = make_images(args.images, args.rules, rng)
    # Where a person types: inside image patterns, one character at a time.
    anchor = text.index("team1/")
    analyze(text, images, "bench.yaml")  # warm imports, as the open editor has them

    times = []
    cpu = []
    results = None
    for n in range(args.edits):
        edited = text[: anchor + 4] + chr(ord("a") + n % 26) * (n // 26 + 1) + text[anchor + 4:]
        start, start_cpu = time.perf_counter(), time.process_time()
        results = analyze(edited, images, "bench.yaml")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert results.decisions is not None and len(results.decisions) == len(images)

    from ruamel.yaml import YAML

    ruamel_times = []
    for n in range(min(args.edits, 10)):
        edited = text[: anchor + 4] + chr(ord("a") + n) + text[anchor + 4:]
        start = time.perf_counter()
        YAML().load(edited)
        ruamel_times.append(time.perf_counter() - start)

    ms = sorted(t * 1000 for t in times)
    median = statistics.median(ms)
    p90 = ms[int(len(ms) * 0.9) - 1]
    base = statistics.median(ruamel_times) * 1000
    print(f"policy: {args.rules} rules; images: {args.images}; edits: {args.edits}")
    print(f"analyze() per edit (parse+validate+lint+simulate): median {median:.1f} ms, p90 {p90:.1f} ms  (target < 30 ms)")
    print(f"  CPU time of this process per edit:                median {statistics.median(cpu) * 1000:.1f} ms "
          "(wall time above includes waiting for a core on a busy machine)")
    print(f"baseline: ruamel.yaml round-trip parse alone:      median {base:.1f} ms  ({base / median:.1f}x the whole analyze)")


if __name__ == "__main__":
    main()
