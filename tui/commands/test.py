"""`pullguard test TESTFILE... [--format text|json]`: run PolicyTest files like a test runner.

Exit 0 when every case passes, 1 when any fails, 2 when a test file (or the policy it names)
is unreadable or invalid; those are reported as file:line:column diagnostics on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "testfiles",
        nargs="+",
        metavar="TESTFILE",
        help="PolicyTest files, or folders holding them (every *.yaml with kind PolicyTest)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")


def run(args: argparse.Namespace) -> int:
    from engine.policytest import discover, run_test_file

    paths, problems = discover(args.testfiles)
    for problem in problems:
        print(f"pullguard: {problem}", file=sys.stderr)
    results = [run_test_file(path) for path in paths]

    for result in results:
        for shown, diag in result.diagnostics:
            print(f"{diag.location(shown)}: {diag.severity}: {diag.message}", file=sys.stderr)

    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    if args.format == "json":
        document = {
            "files": [r.to_json() for r in results],
            "cases": [c.to_json() for r in results for c in r.cases],
            "passed": passed,
            "failed": failed,
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            for case in result.cases:
                if not case.passed:
                    print(f"FAIL {case.file}:{case.case.line} {case.case.image}: {case.reason}")
        print(f"{passed} passed, {failed} failed")

    if problems or any(r.invalid for r in results):
        return 2
    return 1 if failed else 0
