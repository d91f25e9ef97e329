"""Per-keystroke analyze of a Kyverno ClusterPolicy the size of the Talos 200-rule benchmark.

The policy: 20 rules x 10 verifyImages entries = 200 entries (keyless and public-key attestors,
skipImageReferences, one key PEM per key entry), 2,000 images. Each "keystroke" edits one
character inside the policy, so neither the load nor the simulation cache can answer, then runs
`pullguard.engine.analysis.analyze` (load + validate + lint + evaluate every image + outline), as the
editor does after its debounce.

Printed beside it, measured in the same run: the YAML compose alone (the floor any loader pays),
a Talos ImageVerificationConfig with 200 rules over the same images, and how much of a
keystroke Python's cyclic garbage collector took (it scans every live object, including the
analyses the editor keeps cached, whenever enough new objects survive). Medians and minimums:
other processes on the machine move the median, the minimum shows what the code costs.

    python bench/edit_loop_kyverno.py [--keystrokes 30]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from pullguard.engine.analysis import analyze, clear_cache  # noqa: E402
from pullguard.engine.yamlsource import compose  # noqa: E402


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def kyverno_policy(rules: int = 20, per_rule: int = 10) -> str:
    out = ["apiVersion: kyverno.io/v1", "kind: ClusterPolicy", "metadata:", "  name: bench",
           "spec:", "  validationFailureAction: Enforce", "  rules:"]
    key = pem()
    n = 0
    for r in range(rules):
        out += [f"    - name: rule-{r}", "      match:", "        any:", "          - resources:",
                "              kinds: [Pod]", "      verifyImages:"]
        for _ in range(per_rule):
            out += [f"        - imageReferences: [\"registry{n % 50}.example.com/team{n}/*\", \"ghcr.io/org{n}/*\"]",
                    f"          skipImageReferences: [\"ghcr.io/org{n}/dev-*\"]",
                    "          attestors:", "            - entries:"]
            if n % 2:
                out += ["                - keyless:",
                        "                    issuer: https://token.actions.githubusercontent.com",
                        f"                    subject: \"https://github.com/org{n}/*\"",
                        "                    rekor: {url: https://rekor.sigstore.dev}"]
            else:
                out += ["                - keys:", "                    publicKeys: |"]
                out += ["                      " + line for line in key.strip().splitlines()]
            n += 1
    return "\n".join(out) + "\n"


def talos_policy(rules: int = 200) -> str:
    key = pem()
    out = ["apiVersion: v1alpha1", "kind: ImageVerificationConfig", "rules:"]
    for n in range(rules):
        out.append(f"  - image: registry{n % 50}.example.com/team{n}/*")
        if n % 2:
            out += ["    keyless:", "      issuer: https://token.actions.githubusercontent.com",
                    f"      subject: https://github.com/org{n}/app/.github/workflows/release.yml@refs/heads/main"]
        else:
            out += ["    publicKey:", "      certificate: |"]
            out += ["        " + line for line in key.strip().splitlines()]
    return "\n".join(out) + "\n"


def images(count: int = 2000) -> list[str]:
    out = []
    for i in range(count):
        n = i % 260
        if i % 4 == 0:
            out.append(f"ghcr.io/org{n}/app:v{i}")
        elif i % 4 == 1:
            out.append(f"registry{n % 50}.example.com/team{n}/svc:{i}")
        elif i % 4 == 2:
            out.append(f"nginx:1.{i}")
        else:
            out.append(f"ghcr.io/org{n}/dev-x@sha256:" + f"{i:064x}")
    return out


def keystrokes(text: str, count: int, marker: str) -> list[str]:
    """`count` different texts, each one character away from `text` (a repeated text would be
    answered from the analysis cache)."""
    end = text.index(marker) + len(marker) - 1
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for k in range(count):
        at = end - k // len(letters)  # the marker's last character, then the one before, ...
        ch = letters[k % len(letters)]
        out.append(text[:at] + (ch if ch != text[at] else "_") + text[at + 1:])
    return out


class GcClock:
    """Seconds spent in garbage collection, read with gc.callbacks."""

    def __init__(self):
        self.spent = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.spent += time.perf_counter() - self._start


def timed(fn, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        start = time.perf_counter()
        fn(t)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keystrokes", type=int, default=30)
    args = ap.parse_args()
    imgs = images()
    kyv = kyverno_policy()
    tal = talos_policy()
    kyv_texts = keystrokes(kyv, args.keystrokes, "team1/")
    tal_texts = keystrokes(tal, args.keystrokes, "team1/")

    first = analyze(kyv, imgs, "bench.yaml")  # warm imports and the image-string memo
    assert first.loaded.dialect == "kyverno" and first.loaded.errors == 0, first.diagnostics[:3]
    actions = {}
    for d in first.decisions:
        actions[d.action] = actions.get(d.action, 0) + 1
    analyze(tal, imgs, "talos.yaml")
    clear_cache()

    floor = timed(lambda t: compose(t), kyv_texts)
    gc_clock = GcClock()
    gc.callbacks.append(gc_clock)
    kyverno = timed(lambda t: analyze(t, imgs, "bench.yaml"), kyv_texts)
    gc.callbacks.remove(gc_clock)
    talos = timed(lambda t: analyze(t, imgs, "talos.yaml"), tal_texts)

    def ms(xs):
        return statistics.median(xs) * 1000

    def low(xs):
        return min(xs) * 1000

    print(f"Kyverno policy: 200 verifyImages entries in 20 rules, {len(kyv.splitlines())} lines; {len(imgs)} images "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(actions.items()))})")
    print(f"  YAML compose only (floor)     median {ms(floor):7.1f} ms  min {low(floor):6.1f} ms")
    print(f"  Kyverno analyze per keystroke median {ms(kyverno):7.1f} ms  min {low(kyverno):6.1f} ms  "
          f"({ms(kyverno) / ms(floor):.1f}x the floor)")
    print(f"    of which Kyverno (no compose) median {ms(kyverno) - ms(floor):5.1f} ms  min {low(kyverno) - low(floor):6.1f} ms")
    print(f"    of which garbage collection  mean {gc_clock.spent / len(kyv_texts) * 1000:7.1f} ms")
    print(f"  Talos 200 rules, same images  median {ms(talos):7.1f} ms  min {low(talos):6.1f} ms  "
          f"(Kyverno/Talos {ms(kyverno) / ms(talos):.2f}x)")


if __name__ == "__main__":
    main()
