"""`pullguard test TESTFILE... [--format text|json|junit]`: run PolicyTest files like a test runner.

Exit 0 when every case passes, 1 when any fails, 2 when a test file (or the policy it names)
is unreadable or invalid; those are reported as file:line:column diagnostics on stderr (and,
with `--format junit`, as an `<error>` test case: tui/reports/junit.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from ..verify_options import add_signature_sources, mirrors_from_args, unreadable_trusted_root
from .inputs import add_format_option, fail

_EPILOG = """\
a test file:
  apiVersion: pullguard.dev/v1alpha1
  kind: PolicyTest
  policy: ../talos/policy.yaml          # relative to the test file
  mirrors: {ghcr.io: oci:../layout}     # for verify: true cases (also trustedRoot,
  cases:                                #   insecureRegistries)
    - image: ghcr.io/siderolabs/kubelet:v1.36.0
      action: verify                    # verify | skip | deny | allow
      rule: 1                           # Talos rule index, or Kyverno policy/rule
    - image: ghcr.io/org/app:v1
      verify: true                      # real verification
      outcome: verified                 # verified | failed | skipped | denied | allowed | error
      message: verified via             # optional message prefix
a Kyverno CLI test file (apiVersion: cli.kyverno.io/v1alpha1, kind: Test) runs offline too: its
results[] (policy, rule or isImageValidatingPolicy, kind, resources, result: pass|fail|skip) are compared with pullguard's
verification of each resource's images; signatures come from --mirror, --trusted-root and
--insecure-registry, or from a 'pullguard:' block (mirrors, trustedRoot, insecureRegistries).
exit status: 0 all pass, 1 any fails, 2 a test file or its policy is unreadable or invalid"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "testfiles",
        nargs="+",
        metavar="TESTFILE",
        help="PolicyTest or Kyverno CLI test files (kyverno-test.yaml), or folders holding them",
    )
    add_format_option(parser, "junit")
    add_signature_sources(parser)


def run(args: argparse.Namespace) -> int:
    from pullguard.engine.display import escape_control
    from pullguard.engine.policytest.discover import discover
    from pullguard.engine.policytest.kyvernotest import Overrides, run_kyverno_test
    from pullguard.engine.policytest.run import run_test_file

    problem = unreadable_trusted_root(args)
    if problem is not None:
        return fail(problem)
    paths, problems = discover(args.testfiles)
    for problem in problems:
        print(f"pullguard: {escape_control(problem)}", file=sys.stderr)
    overrides = Overrides(mirrors_from_args(args.mirror or []), args.trusted_root, tuple(args.insecure_registry or ()))
    results = [run_kyverno_test(path, overrides) if _is_kyverno_test(path) else run_test_file(path) for path in paths]

    _report_diagnostics(results)

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
    elif args.format == "junit":
        from ..reports.junit import junit_xml, suites_from_results

        sys.stdout.write(junit_xml(suites_from_results(results, problems)))
    else:
        from ..output import Painter

        paint = Painter.for_stream(sys.stdout)
        for result in results:
            for case in result.cases:
                if not case.passed:
                    name = f" ({case.case.name})" if case.case.name else ""
                    where = f"{case.file}:{case.case.line}"
                    shown = escape_control(f"{where} {case.case.image}{name}: {case.reason}")
                    print(f"{paint('FAIL', 'bold red')} {shown}")
        if results or not problems:  # nothing ran: the problems above are the whole answer
            summary = f"{passed} passed, {failed} failed"
            print(paint(summary, "bold red" if failed else "bold green"))

    if problems or any(r.invalid for r in results):
        return 2
    return 1 if failed else 0


def _is_kyverno_test(path) -> bool:
    from pullguard.engine.policytest.kyvernotest import is_kyverno_test
    from pullguard.engine.textfile import TextFileError, read_text

    try:
        return is_kyverno_test(read_text(path))
    except (OSError, TextFileError):
        return False  # the PolicyTest runner reports why it cannot be read


def _report_diagnostics(results) -> None:
    """Compiler-style diagnostics on stderr, with the offending source line where it can be read."""
    from pullguard.engine.textfile import TextFileError, read_text

    from ..output import Painter, diagnostic_block

    paint = Painter.for_stream(sys.stderr)
    sources: dict[str, list[str] | None] = {}
    for result in results:
        for shown, diag in result.diagnostics:
            if shown not in sources:
                # Through read_text: a regular file within its size limit (`/dev/zero` is refused, not read forever).
                try:
                    sources[shown] = read_text(shown).splitlines()
                except (OSError, TextFileError):
                    sources[shown] = None
            print(diagnostic_block(diag, shown, sources[shown], paint), file=sys.stderr)
