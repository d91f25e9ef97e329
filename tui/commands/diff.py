"""`pullguard diff OLD NEW [IMAGE...] [--images FILE] [--format text|json]`: a rollout what-if.

Both policies are simulated over the same images (each distinct image once); every image whose
action or deciding rule (by content, not position) changes is listed, grouped by kind of change
(see engine/policydiff.py for the kinds). Exit 0 when nothing changes, 1 when something does,
2 on usage errors, unreadable files or a policy with errors (diagnostics on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

_EPILOG = """\
kinds of change (an image changes when its action or the content of its deciding rule
changes; a rule moved by an insertion is the same rule):
  newly-denied      the new policy denies the image, the old one did not
  newly-verified    the new policy verifies the image, the old one skipped, allowed or denied it
  newly-unverified  the new policy skips or allows the image, the old one verified or denied it
  other-rule        handled the same way by a rule of different content (pattern or
                    verifier), or skip <-> allow
across dialects (Talos against Kyverno) rules are compared by action and verifier only.
exit status: 0 no change, 1 changes, 2 usage error, unreadable file or policy with errors"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("old", metavar="OLD", help="the policy as it is now")
    parser.add_argument("new", metavar="NEW", help="the policy as it would be")
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image references")
    parser.add_argument(
        "--images",
        dest="images_file",
        metavar="FILE",
        help="image list: plain text, kubectl get pods -o json, Kubernetes YAML or talosctl image ls; '-' reads stdin",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


class _Refused(Exception):
    """Input that stops the command with exit 2; the message is already printed."""


def run(args: argparse.Namespace) -> int:
    from pullguard.engine.policydiff import diff_policies

    try:
        old = _load(args.old)
        new = _load(args.new)
        images = list(args.images) + _read_images(args.images_file)
    except _Refused:
        return 2
    if not images:
        print("pullguard: error: no images given (pass IMAGE arguments or --images FILE)", file=sys.stderr)
        return 2
    cross = old.dialect != new.dialect
    result = diff_policies(old.policy, new.policy, images, cross_dialect=cross)

    if args.format == "json":
        document = {"old": args.old, "new": args.new, **result.to_json()}
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(result, cross, old.dialect, new.dialect)
    return 1 if result.changes else 0


def _print_text(result, cross: bool, old_dialect: str, new_dialect: str) -> None:
    from ..diffreport import cross_dialect_line, report_lines

    if cross:
        print(cross_dialect_line(old_dialect, new_dialect))
    print("\n".join(report_lines(result)))


def _load(path: str):
    """The loaded policy, or _Refused after saying why on stderr (as `pullguard simulate` does)."""
    from pullguard.engine.policy import load_policy

    from .check import read_policy
    from .simulate import report_refused

    text, problem = read_policy(path)
    if problem is not None:
        print(f"pullguard: error: {problem}", file=sys.stderr)
        raise _Refused
    loaded = load_policy(text, path)
    if loaded.errors or loaded.policy is None:
        report_refused(loaded, path, text)
        raise _Refused
    return loaded


def _read_images(path: str | None) -> list[str]:
    if path is None:
        return []
    from .simulate import read_image_list

    entries, problem = read_image_list(path)
    if problem is not None:
        print(f"pullguard: error: {problem}", file=sys.stderr)
        raise _Refused
    return [entry.image for entry in entries]
