"""Normalizing the image list the editor re-simulates on every keystroke: 2,000 images through
pullguard.engine.reference (Talos and Kyverno), cold, and warm from the cache, against the uncached parse
measured in this run. Also reading a large `kubectl get pods -A -o json`. Prints figures only.

    python bench/reference_parse.py [--images 2000] [--pods 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pullguard.engine.images import parse_image_list  # noqa: E402
from pullguard.engine.reference import kyverno_image_info, parse_reference  # noqa: E402


def images(n: int) -> list[str]:
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(f"nginx:1.{i % 30}")
        elif kind == 1:
            out.append(f"ghcr.io/org{i % 40}/app{i}:v{i % 9}")
        elif kind == 2:
            out.append(f"registry{i % 7}.example.com:5000/team/app{i}@sha256:" + f"{i:064x}")
        else:
            out.append(f"myuser/tool{i}")
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--pods", type=int, default=3000)
    args = ap.parse_args()
    refs = images(args.images)

    uncached = parse_reference.__wrapped__
    t0 = time.perf_counter()
    for r in refs:
        _ = uncached(r).context
    t_uncached = time.perf_counter() - t0

    t0 = time.perf_counter()
    for r in refs:
        _ = parse_reference(r).context
    t_cold = time.perf_counter() - t0
    warm = []
    for _ in range(20):
        t0 = time.perf_counter()
        for r in refs:
            _ = parse_reference(r).context
        warm.append(time.perf_counter() - t0)
    t_warm = statistics.median(warm)
    print(f"{len(refs)} images, Talos match subject (go-containerregistry)")
    print(f"  uncached parse (baseline): {ms(t_uncached)}")
    print(f"  cached, first pass:        {ms(t_cold)}")
    print(f"  cached, warm (median 20):  {ms(t_warm)}   {t_uncached / t_warm:6.1f}x baseline")

    t0 = time.perf_counter()
    for r in refs:
        kyverno_image_info(r)
    k_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in refs:
        kyverno_image_info(r)
    k_warm = time.perf_counter() - t0
    print(f"{len(refs)} images, Kyverno image string: cold {ms(k_cold)}, warm {ms(k_warm)}")

    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"p{i}", "namespace": f"ns{i % 20}", "annotations": {"a": "x" * 200}},
             "spec": {"containers": [{"name": "c", "image": refs[i % len(refs)],
                                      "env": [{"name": "E", "value": "v" * 40}] * 8}]},
             "status": {"containerStatuses": [{"name": "c", "image": "x", "imageID": "y"}]}}
            for i in range(args.pods)]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}, indent=4)
    t0 = time.perf_counter()
    json.loads(text)
    t_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    entries = parse_image_list(text, "pods.json")
    t_list = time.perf_counter() - t0
    print(f"kubectl JSON, {args.pods} pods ({len(text) / 1e6:.1f} MB): parse_image_list {ms(t_list)} "
          f"({len(entries)} images, with lines); json.loads alone {ms(t_json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
