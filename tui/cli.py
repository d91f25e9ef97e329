"""The `pullguard` command line: argument parsing and dispatch to one module per command.

Each command lives in `tui/commands/<name>.py` with `add_arguments(parser)` and
`run(args) -> int` (the exit code); they are imported only when chosen so that
`pullguard check` never pays for Textual or sigstore.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "edit": "open the dashboard on POLICY (created if missing)",
    "check": "validate and lint a policy",
    "simulate": "show which rule every image hits (no network)",
    "verify": "verify image signatures against registries",
    "test": "run PolicyTest files",
    "diff": "what changes between two policies over the same images",
    "explain": "explain a pasted pull error: the image, the rule, the cause and the fix",
    "convert": "rewrite a Kyverno verifyImages policy as ImageValidatingPolicy documents",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2, as SPEC §1 says
        self.print_usage(sys.stderr)
        self.exit(2, f"pullguard: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pullguard", description="Image signature verification policies, tested before rollout.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"pullguard.tui.commands.{name}")
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from .commands import edit

        return edit.run_sample()
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"pullguard.tui.commands.{args.command}")
    try:
        return module.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `pullguard simulate ... | head`: the reader left; exit quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
