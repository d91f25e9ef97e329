"""`pullguard convert POLICY --to kyverno-ivpol [--images FILE...]` (SPEC §1).

Writes the ImageValidatingPolicy documents for every verifyImages entry of a Kyverno
ClusterPolicy/Policy on stdout (engine/policy/ivpol/convert.py says how each part is carried
over); what cannot be carried over is a warning on stderr with its source line. With `--images`,
both policies are simulated over the images and every image whose decision differs is listed on
stderr. Exit 0 converted with no differing image and nothing lost, 1 differences or lossy
warnings, 2 usage, an unreadable file, or a policy that is not a Kyverno policy or has errors.
"""

from __future__ import annotations

import argparse
import sys

from pullguard.engine.display import escape_control


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="Kyverno ClusterPolicy/Policy with verifyImages")
    parser.add_argument("--to", required=True, choices=("kyverno-ivpol",), help="the dialect to write")
    parser.add_argument("--images", dest="images_files", metavar="FILE", action="append", default=[],
                        help="simulate both policies over this image list and list differing images (repeatable)")


def run(args: argparse.Namespace) -> int:
    from pullguard.engine.policy import load_policy
    from pullguard.engine.policy.ivpol.convert import compare, convert
    from pullguard.engine.policy.kyverno.evaluate import KyvernoPolicySet

    from .inputs import read_image_list, read_policy, report_refused

    text, problem = read_policy(args.policy)
    if problem is not None:
        print(f"pullguard: error: {problem}", file=sys.stderr)
        return 2
    assert text is not None
    loaded = load_policy(text, args.policy)
    if not loaded.errors and isinstance(loaded.policy, KyvernoPolicySet) and not loaded.policy.entries:
        print(f"pullguard: error: {args.policy}: no verifyImages entry to convert", file=sys.stderr)
        return 2
    if loaded.errors or not isinstance(loaded.policy, KyvernoPolicySet):
        if not loaded.errors:
            print(f"pullguard: error: {args.policy}: not a Kyverno ClusterPolicy/Policy with verifyImages "
                  f"({loaded.dialect or 'no policy'})", file=sys.stderr)
        else:
            report_refused(loaded, args.policy, text)
        return 2
    images: list[str] = []
    for name in args.images_files:
        entries, problem = read_image_list(name)
        if problem is not None:
            print(f"pullguard: error: {problem}", file=sys.stderr)
            return 2
        images += [entry.image for entry in entries]

    conversion = convert(loaded.policy, text, args.policy)
    sys.stdout.write(conversion.text)
    for warning in conversion.warnings:
        print(f"{args.policy}:{warning.line}: warning: {escape_control(warning.message)}", file=sys.stderr)
    differing = compare(loaded.policy, conversion, images) if images else []
    if differing:
        print(f"differing images ({len(differing)}):", file=sys.stderr)
        for change in differing:
            print(f"  {escape_control(change.image)}: {escape_control(change.old)} -> {escape_control(change.new)}",
                  file=sys.stderr)
    elif images:
        print(f"{len(set(images))} images: the same decisions", file=sys.stderr)
    return 1 if differing or conversion.warnings else 0
