"""`pullguard tree IMAGE... [verify options] [--format text|json]`: everything attached to each image.

Signatures, attestations and SBOMs: legacy `.sig`/`.att`/`.sbom` tags, the `sha256-<hex>` bundle
tag and OCI referrers of every artifact type, with format, predicate type and the signer's identity
or key fingerprint where readable (SPEC §1, §2). Nothing is verified, and the text output says so.
Exit 0, 1 when an image cannot be found (or its registry not asked), 2 for usage errors. In JSON
mode what could not be read goes to stderr; stdout holds the SPEC §2 document alone.
"""

from __future__ import annotations

import argparse
import sys

from ..verify_options import add_verify_arguments, to_verify_kwargs
from .inputs import add_format_option, fail

NOT_VERIFIED = "nothing was verified: this lists what is attached, not whether it is valid (pullguard verify checks it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image references")
    add_verify_arguments(parser)
    add_format_option(parser)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pullguard.engine.reference import InvalidReference, parse_reference

    for image in args.images:
        try:
            parse_reference(image)
        except InvalidReference as exc:
            return fail(f"invalid image reference {image!r}: {exc}")

    from pullguard.engine.verify import VerifyOptions
    from pullguard.engine.verify.tree import list_attached

    try:
        trees = asyncio.run(list_attached(list(args.images), VerifyOptions(**to_verify_kwargs(args))))
    except Exception as exc:  # a setup failure (an unusable mirror or proxy setting) is the user's to fix
        return fail(str(exc))
    if args.format == "json":
        import json

        _warn(trees)
        sys.stdout.write(json.dumps({"results": [t.to_json() for t in trees]}, indent=2) + "\n")
    else:
        _print_text(trees)
    return 1 if any(t.digest is None for t in trees) else 0


def _warn(trees) -> None:
    from pullguard.engine.display import escape_control

    for tree in trees:
        for problem in ([tree.error] if tree.error else []) + tree.problems:
            print(f"pullguard: warning: {escape_control(tree.image)}: {escape_control(problem)}", file=sys.stderr)


def _signer(artifact) -> str:
    if artifact.identity is not None:
        subject = artifact.identity.subject or "?"
        return f"{subject} ({artifact.identity.issuer})" if artifact.identity.issuer else subject
    return artifact.key_fingerprint or "-"


def _print_text(trees) -> None:
    from pullguard.engine.display import escape_control

    from ..output import Painter, plural, table, terminal_width, use_color

    paint = Painter(use_color(sys.stdout))
    width = terminal_width(sys.stdout)
    for i, tree in enumerate(trees):
        if i:
            print()
        print(paint(escape_control(tree.image), "bold") + (f"  {tree.digest}" if tree.digest else ""))
        if tree.error is not None:
            print(f"  {paint('error', 'bold red')}: {escape_control(tree.error)}")
            continue
        if tree.artifacts:
            rows = [[a.kind or "other", a.format, a.predicate_type or (a.media_type if a.kind in ("sbom", None) else None) or "-",
                     _signer(a), a.reference] for a in tree.artifacts]
            lines = table(["KIND", "FORMAT", "PREDICATE/TYPE", "SIGNER", "REFERENCE"], rows, paint,
                          width=None if width is None else width - 2)
            print("\n".join("  " + line for line in lines.splitlines()))
        else:
            print("  nothing attached")
        for problem in tree.problems:
            print(f"  {paint('!', 'bold yellow')} could not read {escape_control(problem)}")
    count = sum(len(t.artifacts) for t in trees)
    print(f"\n{plural(count, 'artifact')} on {plural(len(trees), 'image')}; {NOT_VERIFIED}")
