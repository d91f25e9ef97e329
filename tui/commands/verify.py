"""`pullguard verify POLICY [IMAGE...] [--images FILE] [verify options] [--format text|json|github]`,
and `pullguard verify IMAGE... (--key FILE | --certificate-identity[-regexp] X
--certificate-oidc-issuer[-regexp] Y) [--insecure-ignore-tlog]`: ad hoc, cosign's flags, no policy
file; every positional is then an image (tui/cosign_options.py). JSON `policy` and `dialect` are null then.

Real verification (SPEC §1-§3). Exit 0 when every image is admitted (verified, skipped,
allowed), 1 when any is failed, denied or error, 2 for usage errors, an unreadable policy, or a
policy with errors (diagnostics on stderr; the policy is refused). JSON goes to stdout and
nothing else does; progress goes to stderr. The policy file is only ever read.

Images from `talosctl image ls` carry the node's own verdict (the `talos.dev/verified` label,
SPEC §6). It is shown beside pullguard's: a TALOS column in the text table (`verified`,
`unverified`, or `-` for an image the list says nothing about), with `!` where the node and
pullguard disagree; in JSON, as the extra key `node_verified` (true, false or null) on every
result, present only when the input had such labels, so other inputs keep the SPEC §2 keys.
`--format github` prints GitHub Actions `::error`/`::warning` workflow commands (tui/reports/github.py).
"""

from __future__ import annotations

import argparse
import sys
import time

from ..cosign_options import add_cosign_arguments, adhoc_given, adhoc_policy, usage_error
from ..verify_options import add_verify_arguments, to_verify_kwargs, unreadable_trusted_root
from .inputs import add_format_option, add_images_option, fail, load_policy_or_refuse, policy_subjects, read_named_images, with_extracted
from .simulate import has_pods, pod_cell

# A live counter is drawn on a terminal; otherwise one summary line, and only for long runs.
_LONG_RUN = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", nargs="?",
                        help="Talos ImageVerificationConfig or Kyverno policy file (an image with --key or --certificate-*)")
    parser.add_argument("images", metavar="IMAGE", nargs="*", default=[], help="image references to verify")
    add_images_option(parser)
    add_verify_arguments(parser)
    add_cosign_arguments(parser)
    add_format_option(parser, "github")


def run(args: argparse.Namespace) -> int:
    import asyncio

    adhoc = adhoc_given(args)
    if adhoc:
        args.images = ([args.policy] if args.policy is not None else []) + list(args.images or [])
        loaded = adhoc_policy(args)
    elif args.policy is None:
        usage_error(args, "the following arguments are required: POLICY (or --key / --certificate-* and IMAGE...)")
        return 2
    elif args.insecure_ignore_tlog:
        usage_error(args, "--insecure-ignore-tlog goes with --key or the --certificate-* flags (a policy says what it requires)")
        return 2
    else:
        loaded = load_policy_or_refuse(args.policy)
    if loaded is None:
        return 2
    problem = unreadable_trusted_root(args)
    if problem is not None:
        return fail(problem)
    # The policy file, or (ad hoc) None in JSON and the flags as typed after the text summary.
    shown_policy = None if adhoc else args.policy
    label = args.policy if not adhoc else loaded.path.strip("<>")
    named = read_named_images(args.images, args.images_files)
    if named is None:
        return 2
    named = with_extracted(loaded, named)
    entries = [entry for _, entry in named]
    images = list(policy_subjects(loaded, entries))
    # The node's verdict per image (None: unknown), aligned with `images`.
    node_verdicts = [e.node_verified for e in entries]
    with_node = any(v is not None for v in node_verdicts)
    pods = entries if has_pods(entries) else None  # results then say where each image runs

    from pullguard.engine.verify import VerifyOptions, summary, verify_images

    options = VerifyOptions(**to_verify_kwargs(args))
    progress = _Progress(len(images))
    started = time.monotonic()
    try:
        results = asyncio.run(verify_images(loaded, images, options, on_result=progress.step))
    except Exception as exc:  # a setup failure (e.g. unreadable --trusted-root) is the user's to fix
        progress.done()
        return fail(str(exc))
    progress.done(time.monotonic() - started)

    if args.format == "json":
        import json

        out = {
            "policy": shown_policy,
            "dialect": loaded.dialect,
            "results": [_result_json(r, node, with_node, e if pods else None)
                        for r, node, e in zip(results, node_verdicts, entries, strict=True)],
            "summary": summary(results),
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif args.format == "github":
        _print_github(shown_policy, label, loaded, results, named)
    else:
        _print_text(label, results, summary(results), node_verdicts if with_node else None, pods)
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


def _result_json(result, node_verified: bool | None, with_node: bool, entry=None) -> dict:
    out = result.to_json()
    if with_node:
        out["node_verified"] = node_verified
    if entry is not None:
        out["pod"], out["namespace"] = entry.pod, entry.namespace
    return out


def disagrees(node_verified: bool | None, outcome: str) -> bool:
    """The node's label and pullguard's outcome tell different stories: Talos labels an image
    only after verifying its signature, so a labelled image should verify here and an
    unlabelled one should not (skipped, allowed, denied or failed images carry no label)."""
    return node_verified is not None and node_verified != (outcome == "verified")


def _node_cell(node_verified: bool | None, outcome: str) -> str:
    word = "-" if node_verified is None else ("verified" if node_verified else "unverified")
    return word + " !" if disagrees(node_verified, outcome) else word


def _print_github(policy: str | None, label: str, loaded, results, named) -> None:
    """GitHub Actions workflow commands: an annotation per image not admitted (at its line of the
    image list, or at the rule that decided it) and per policy warning, then the summary."""
    from pullguard.engine.display import escape_control
    from pullguard.engine.verify import summary

    from ..reports.github import verify_annotations

    # Ad hoc (no policy file): an annotation points at the image list, or nowhere.
    rule_lines = {item.index: item.line for item in loaded.policy.outline()} if policy is not None else {}
    places = [(file, entry.line) if file is not None and entry.line is not None else None for file, entry in named]
    for line in verify_annotations(policy, results, places, rule_lines, loaded.diagnostics):
        print(line)
    counts = summary(results)
    print(", ".join(f"{n} {name}" for name, n in counts.items() if n) + f"  ({escape_control(label)})")


def _print_text(policy: str, results, counts: dict[str, int], node_verdicts: list | None = None,
                pods: list | None = None) -> None:
    from pullguard.engine.display import escape_control

    from ..output import Painter, plural, table, terminal_width, use_color
    from ..styles import OUTCOME_STYLE

    paint = Painter(use_color(sys.stdout))
    headers = (["IMAGE"] + (["POD"] if pods is not None else []) + ["RULE", "OUTCOME"]
               + (["TALOS"] if node_verdicts is not None else []) + ["MESSAGE"])
    rows, styles = [], []
    differing = 0
    for i, r in enumerate(results):
        row = [r.decision.image] + ([pod_cell(pods[i])] if pods is not None else []) + [r.decision.rule_id or "-", r.outcome]
        style = [None] + (["dim"] if pods is not None else []) + [None, OUTCOME_STYLE.get(r.outcome)]
        if node_verdicts is not None:
            node = node_verdicts[i]
            row.append(_node_cell(node, r.outcome))
            differing += disagrees(node, r.outcome)
            style.append("bold yellow" if disagrees(node, r.outcome) else "dim")
        rows.append(row + [r.message.replace("\n", "; ")])
        styles.append(style + [None])
    print(table(headers, rows, paint, styles, width=terminal_width(sys.stdout)))
    if differing:
        print(f"\n! {plural(differing, 'image')} where the node's talos.dev/verified label disagrees with pullguard's outcome")
    for r in results:
        if r.outcome in ("failed", "error") and len(r.errors) > 1:
            print(f"\n{escape_control(r.decision.image)}:")
            for err in r.errors:
                print(f"  - {escape_control(err)}")
    print("\n" + ", ".join(f"{n} {name}" for name, n in counts.items() if n) + f"  ({escape_control(policy)})")
