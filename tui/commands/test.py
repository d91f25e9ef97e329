"""`pullguard test` (placeholder until the command lands)."""

import sys


def add_arguments(parser):
    parser.add_argument("rest", nargs="*")


def run(args) -> int:
    print("pullguard: 'test' is not built yet", file=sys.stderr)
    return 2
