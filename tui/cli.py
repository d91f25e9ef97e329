"""The `pullguard` command line: argument parsing and dispatch to one module per command.

Each command lives in `tui/commands/<name>.py` with `add_arguments(parser)` and
`run(args) -> int` (the exit code); they are imported only when chosen so that
`pullguard check` never pays for Textual or sigstore. A command's arguments are parsed by its
own parser, intermixed (options and positionals in any order), so a usage error shows that
command's usage.
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
    "test": "run PolicyTest and Kyverno CLI test files",
    "diff": "what changes between two policies over the same images",
    "explain": "explain a pasted pull error: the image, the rule, the cause and the fix",
    "convert": "rewrite a Kyverno verifyImages policy as ImageValidatingPolicy documents",
    "tree": "list the signatures, attestations and SBOMs attached to images (nothing is verified)",
    "completion": "print a shell completion script (bash, zsh or fish)",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 (SPEC §1) after the usage of the command that was given."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"pullguard: error: {message}\n")


class _Version(argparse.Action):
    """`pullguard --version`: `pullguard <version>`, looked up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from .version import installed_version

        print(f"pullguard {installed_version()}")
        parser.exit(0)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each command's own (for its usage and its intermixed parse)."""
    parser = _Parser(prog="pullguard", description="Image signature verification policies, tested before rollout.")
    parser.add_argument("--version", action=_Version, help="print pullguard's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands: dict[str, argparse.ArgumentParser] = {}
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"pullguard.tui.commands.{name}")
        commands[name] = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(commands[name])
    return parser, commands


def parse(argv: list[str]) -> argparse.Namespace:
    """The command's arguments, options and positionals in any order (SPEC §1:
    `pullguard simulate p.yaml --format json nginx`); without a command, the top-level parser."""
    parser, commands = build_parser()
    if argv and argv[0] in commands:
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        args.command = argv[0]
        return args
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from .commands import edit

        return edit.run_sample()
    args = parse(argv)
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
