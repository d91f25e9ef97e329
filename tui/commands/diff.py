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

from .inputs import add_format_option, add_images_option, load_policy_or_refuse, read_images

_EPILOG = """\
kinds of change (an image changes when its action or the content of its deciding rule
changes; a rule moved by an insertion is the same rule):
  verifier-weakened            the same rule verifies the image with a verifier that accepts
                               every signer it accepted, and more (listed first)
  newly-denied                 the new policy denies the image, the old one did not
  newly-unverified             the new policy skips or allows the image, the old one verified
                               or denied it
  newly-requires-verification  the new policy verifies the image, the old one skipped,
                               allowed or denied it
  verifier-changed             the same rule verifies with a verifier neither wider nor narrower
  verifier-strengthened        the same rule verifies with a verifier that accepts fewer signers
  other-rule                   handled the same way by a rule of different content (pattern or
                               verifier), or skip <-> allow
across dialects (Talos against Kyverno) rules are compared by action and verifier only.
exit status: 0 no change, 1 changes, 2 usage error, unreadable file or policy with errors"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("old", metavar="OLD", help="the policy as it is now")
    parser.add_argument("new", metavar="NEW", help="the policy as it would be")
    parser.add_argument("images", nargs="*", default=[], metavar="IMAGE", help="image references")
    add_images_option(parser)
    add_format_option(parser)


def run(args: argparse.Namespace) -> int:
    from pullguard.engine.policydiff import diff_policies

    old = load_policy_or_refuse(args.old)
    new = load_policy_or_refuse(args.new) if old is not None else None
    if old is None or new is None or old.policy is None or new.policy is None:  # refused (said why)
        return 2
    entries = read_images(args.images, args.images_files)
    if entries is None:
        return 2
    images = [entry.image for entry in entries]
    cross = old.dialect != new.dialect
    result = diff_policies(old.policy, new.policy, images, cross_dialect=cross)

    if args.format == "json":
        document = {"old": args.old, "new": args.new, **result.to_json()}
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(result, cross, old.dialect or "", new.dialect or "")
    return 1 if result.changes else 0


def _print_text(result, cross: bool, old_dialect: str, new_dialect: str) -> None:
    from ..diffreport import cross_dialect_line, report_lines

    if cross:
        print(cross_dialect_line(old_dialect, new_dialect))
    print("\n".join(report_lines(result)))
