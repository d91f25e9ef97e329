"""First match of 1,000 go-glob rules over 50,000 images: pullguard.engine.patterns.FirstMatch against a
plain per-rule regex loop (the baseline), an ordered alternation regex, and an re2.Set, all
measured in this run. Prints figures and ratios; not a test.

    python bench/first_match.py [--rules 1000] [--images 50000] [--distinct 8000]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pullguard.engine.patterns import FirstMatch, glob_to_regex  # noqa: E402
from pullguard.engine.reference import talos_match_subject  # noqa: E402


def make_policy(n: int, rng: random.Random) -> list[str]:
    """Rules shaped like real policies: literal hosts and organisations, a few leading stars,
    exact images, and a catch-all at the end."""
    hosts = [f"registry{i}.example.com" for i in range(40)] + ["ghcr.io", "quay.io",
                                                               "index.docker.io", "gcr.io"]
    rules = []
    for i in range(n - 1):
        kind = rng.random()
        host = rng.choice(hosts)
        if kind < 0.55:
            rules.append(f"{host}/org{i}/*")
        elif kind < 0.75:
            rules.append(f"{host}/org{i % 97}/app{i}")
        elif kind < 0.9:
            rules.append(f"{host}/team{i % 53}/svc{i}*")
        elif kind < 0.97:
            rules.append(f"{host}/*/app{i}")
        else:
            rules.append(f"*.example.com/legacy{i}/*")
    rules.append("*")
    return rules


def make_images(rules: list[str], total: int, distinct: int, rng: random.Random) -> list[str]:
    pool = []
    for _ in range(distinct):
        rule = rng.choice(rules[:-1])
        if rng.random() < 0.15:  # not covered by any specific rule
            pool.append(f"unknown{rng.randint(0, 999)}.example.org/x/y:{rng.randint(1, 9)}")
            continue
        image = rule.replace("*", f"x{rng.randint(0, 50)}", 1).replace("*", "")
        if image.startswith("x") or image.startswith("."):
            image = "edge" + image
        pool.append(f"{image}:v{rng.randint(1, 20)}")
    return [rng.choice(pool) for _ in range(total)]


def baseline(rules: list[str], subjects: list[str]) -> list[int | None]:
    compiled = [re.compile(glob_to_regex(r), re.DOTALL) for r in rules]
    out = []
    for s in subjects:
        hit = None
        for i, rx in enumerate(compiled):
            if rx.fullmatch(s):
                hit = i
                break
        out.append(hit)
    return out


def ours(rules: list[str], subjects: list[str]) -> list[int | None]:
    fm = FirstMatch(rules)
    return [fm.first(s) for s in subjects]


def alternation(rules: list[str], subjects: list[str]) -> list[int | None]:
    rx = re.compile("|".join(f"({glob_to_regex(r)})" for r in rules), re.DOTALL)
    out = []
    for s in subjects:
        m = rx.fullmatch(s)
        out.append(m.lastindex - 1 if m else None)
    return out


def re2_set(rules: list[str], subjects: list[str]) -> list[int | None]:
    import re2

    rs = re2.Set.FullMatchSet()
    for r in rules:
        rs.Add(glob_to_regex(r))
    rs.Compile()
    out = []
    for s in subjects:
        hits = rs.Match(s)
        out.append(min(hits) if hits else None)
    return out


def timed(fn, *args):
    gc.collect()  # do not bill one contender for the garbage of the previous one
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--images", type=int, default=50000)
    ap.add_argument("--distinct", type=int, default=8000)
    ap.add_argument("--baseline-sample", type=int, default=5000,
                    help="images the slow baseline runs on; its time is scaled up")
    args = ap.parse_args()
    rng = random.Random(1)
    rules = make_policy(args.rules, rng)
    images = make_images(rules, args.images, args.distinct, rng)

    t_norm, subjects = timed(lambda: [talos_match_subject(i) for i in images])
    print(f"{len(rules)} rules, {len(images)} images ({len(set(images))} distinct)")
    print(f"normalize (parse_reference, cached): {t_norm * 1000:8.1f} ms")

    sample = subjects[: args.baseline_sample]
    t_base, expect = timed(baseline, rules, sample)
    t_base_full = t_base * len(subjects) / len(sample)
    print(f"baseline per-rule regex loop:        {t_base_full * 1000:8.1f} ms "
          f"(measured on {len(sample)}, scaled)")

    results = {}
    for name, fn in [("FirstMatch (prefix index + memo)", ours),
                     ("ordered alternation regex", alternation),
                     ("re2.Set, min index", re2_set)]:
        t, got = timed(fn, rules, subjects)
        assert got[: len(sample)] == expect, f"{name} disagrees with the baseline"
        results[name] = t
        print(f"{name:36s} {t * 1000:8.1f} ms   {t_base_full / t:6.1f}x baseline")

    distinct = list(dict.fromkeys(subjects))
    t, _ = timed(ours, rules, distinct)
    per = t / len(distinct) * 1e6
    print(f"FirstMatch on {len(distinct)} distinct subjects (no memo reuse): "
          f"{t * 1000:.1f} ms, {per:.1f} us/subject")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
