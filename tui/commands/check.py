"""`pullguard check POLICY [--format text|json]`: validate and lint (SPEC §1, §2, §5).

Exit 0 when there are no errors (warnings allowed), 1 when there are errors, 2 when the policy
cannot be read. The policy file is only ever read.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="Talos ImageVerificationConfig (or machine config) or Kyverno policy file")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


def read_policy(path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, one-line reason) for a policy file; '-' is standard input."""
    from pullguard.engine.textfile import TextFileError, read_text

    try:
        return read_text(path), None
    except OSError as exc:
        return None, f"cannot read policy {path}: {exc.strerror or exc}"
    except TextFileError as exc:  # `p.yaml:3:7: not UTF-8 text (byte 0xd7)`
        return None, f"cannot read policy {exc}"


def sorted_diagnostics(diagnostics):
    return sorted(diagnostics, key=lambda d: (d.line if d.line is not None else 0, d.column or 0))


def run(args: argparse.Namespace) -> int:
    text, problem = read_policy(args.policy)
    if problem is not None:
        print(f"pullguard: error: {problem}", file=sys.stderr)
        return 2

    from pullguard.engine.policy import load_policy

    loaded = load_policy(text, args.policy)
    diagnostics = sorted_diagnostics(loaded.diagnostics)
    errors, warnings = loaded.errors, loaded.warnings
    if args.format == "json":
        import json

        doc = {
            "policy": args.policy,
            "dialect": loaded.dialect,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [d.to_json() for d in diagnostics],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 1 if errors else 0

    from ..output import Painter, diagnostic_block, plural

    paint = Painter.for_stream(sys.stdout)
    lines = text.splitlines()
    for diag in diagnostics:
        print(diagnostic_block(diag, args.policy, lines, paint))
    infos = sum(1 for d in diagnostics if d.severity == "info")
    rules = len(getattr(loaded.policy, "rules", []) or [])
    what = f"{loaded.dialect}, {plural(rules, 'rule')}" if loaded.dialect == "talos" else (loaded.dialect or "no policy")
    counts = f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    if infos:
        counts += f", {plural(infos, 'note')}"
    verdict = paint("refused", "bold red") if errors else paint("ok", "bold green")
    if diagnostics:
        print()
    print(f"{args.policy}: {verdict}: {counts} ({what})")
    return 1 if errors else 0
