"""`pullguard check POLICY [--format text|json|sarif]`: validate and lint (SPEC §1, §2, §5).

Exit 0 when there are no errors (warnings allowed), 1 when there are errors, 2 when the policy
cannot be read. The policy file is only ever read. `--format sarif` writes SARIF 2.1.0 for
GitHub code scanning (tui/reports/sarif.py).
"""

from __future__ import annotations

import argparse
import sys

from .inputs import add_format_option, fail, read_policy, sorted_diagnostics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="Talos ImageVerificationConfig (or machine config) or Kyverno policy file")
    add_format_option(parser, "sarif")


def run(args: argparse.Namespace) -> int:
    text, problem = read_policy(args.policy)
    if text is None:
        return fail(problem or f"cannot read policy {args.policy}")

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
    if args.format == "sarif":
        import json

        from ..reports.sarif import sarif_log
        from ..version import installed_version

        sys.stdout.write(json.dumps(sarif_log(args.policy, diagnostics, installed_version()), indent=2) + "\n")
        return 1 if errors else 0

    from pullguard.engine.display import escape_control

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
    print(f"{escape_control(args.policy)}: {verdict}: {counts} ({what})")
    return 1 if errors else 0
