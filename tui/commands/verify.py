"""`pullguard verify POLICY [IMAGE...] [--images FILE] [verify options] [--format text|json]`.

Real verification (SPEC §1-§3). Exit 0 when every image is admitted (verified, skipped,
allowed), 1 when any is failed, denied or error, 2 for usage errors, an unreadable policy, or a
policy with errors (diagnostics on stderr; the policy is refused). JSON goes to stdout and
nothing else does; progress goes to stderr. The policy file is only ever read.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..verify_options import add_verify_arguments, to_verify_kwargs

# A live counter is drawn on a terminal; otherwise one summary line, and only for long runs.
_LONG_RUN = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="Talos ImageVerificationConfig or Kyverno policy file")
    parser.add_argument("images", metavar="IMAGE", nargs="*", help="image references to verify")
    parser.add_argument("--images", dest="images_file", metavar="FILE", help="file of images ('-' for standard input)")
    add_verify_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


def _fail(message: str) -> int:
    print(f"pullguard: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import asyncio

    from engine.policy import load_policy

    from .check import read_policy

    text, problem = read_policy(args.policy)
    if problem is not None:
        return _fail(problem)

    from .simulate import read_image_list, report_refused

    images = list(args.images)
    if args.images_file:
        entries, problem = read_image_list(args.images_file)
        if problem is not None:
            return _fail(problem)
        images += [e.image for e in entries]
    if not images:
        return _fail("no images given (pass IMAGE arguments or --images FILE)")

    loaded = load_policy(text, args.policy)
    if loaded.errors or loaded.policy is None:
        report_refused(loaded, args.policy, text)
        return 2

    from engine.verify import VerifyOptions, summary, verify_images

    options = VerifyOptions(**to_verify_kwargs(args))
    progress = _Progress(len(images))
    started = time.monotonic()
    try:
        results = asyncio.run(verify_images(loaded, images, options, on_result=progress.step))
    except Exception as exc:  # a setup failure (e.g. unreadable --trusted-root) is the user's to fix
        progress.done()
        return _fail(str(exc))
    progress.done(time.monotonic() - started)

    if args.format == "json":
        import json

        out = {
            "policy": args.policy,
            "dialect": loaded.dialect,
            "results": [r.to_json() for r in results],
            "summary": summary(results),
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _print_text(args.policy, results, summary(results))
    return 0 if all(r.admitted for r in results) else 1


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.tty = sys.stderr.isatty()

    def step(self, result) -> None:
        self.count += 1
        if self.tty and self.total >= 2:
            sys.stderr.write(f"\rverifying {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self, elapsed: float | None = None) -> None:
        if self.tty and self.total >= 2:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        elif elapsed is not None and self.total >= _LONG_RUN:
            print(f"pullguard: {self.count} images checked in {elapsed:.1f}s", file=sys.stderr)


def _print_text(policy: str, results, counts: dict[str, int]) -> None:
    from ..output import OUTCOME_STYLE, Painter, table, terminal_width, use_color

    paint = Painter(use_color(sys.stdout))
    rows, styles = [], []
    for r in results:
        rows.append((r.decision.image, r.decision.rule_id or "-", r.outcome, r.message.replace("\n", "; ")))
        styles.append((None, None, OUTCOME_STYLE.get(r.outcome), None))
    print(table(("IMAGE", "RULE", "OUTCOME", "MESSAGE"), rows, paint, styles, width=terminal_width(sys.stdout)))
    for r in results:
        if r.outcome in ("failed", "error") and len(r.errors) > 1:
            print(f"\n{r.decision.image}:")
            for err in r.errors:
                print(f"  - {err}")
    print("\n" + ", ".join(f"{n} {name}" for name, n in counts.items() if n) + f"  ({policy})")
