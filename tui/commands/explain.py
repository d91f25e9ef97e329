"""`pullguard explain [POLICY] [TEXT...] [--format text|json]` (SPEC §1, §2).

Reads pasted pull errors (kubectl events, kubelet and containerd lines, Talos's and Kyverno's
messages) from the arguments after POLICY, or from standard input when there are none; the
first argument is POLICY when it names a readable file. Exit 0 when at least one error is
recognised, 2 when none (or for usage errors, an unreadable policy, a policy with errors).
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", metavar="[POLICY] TEXT", nargs="*", default=[],
                        help="a policy file (optional), then the pasted error; standard input when no text is given")
    parser.add_argument("--format", "-o", choices=("text", "json"), default="text", help="output format (default text)")


# A first argument ending so names a policy file, never a word of a pasted error.
_POLICY_SUFFIXES = (".yaml", ".yml", ".json")


def _fail(message: str) -> int:
    print(f"pullguard: error: {message}", file=sys.stderr)
    return 2


def _read_stdin() -> str:
    from pullguard.engine.troubleshoot import MAX_TEXT

    if sys.stdin.isatty():
        print("pullguard: paste the error, then press Ctrl-D", file=sys.stderr)
    # Bytes, so that a paste that is not UTF-8 is read (replaced) instead of failing; bounded.
    data = sys.stdin.buffer.read(MAX_TEXT * 4)
    return data.decode("utf-8", "replace")


def run(args: argparse.Namespace) -> int:
    words = list(args.words)
    policy_path = None
    if words and os.path.isfile(words[0]) and os.access(words[0], os.R_OK):
        policy_path = words.pop(0)
    elif words and words[0].endswith(_POLICY_SUFFIXES) and not any(c.isspace() for c in words[0]):
        # A policy file that cannot be read, not a pasted error: exit 2 with its path and reason (SPEC §1).
        from .inputs import fail, read_policy

        _, problem = read_policy(words[0])
        return fail(problem or f"cannot read policy {words[0]}")
    loaded = None
    if policy_path is not None:
        from pullguard.engine.policy import load_policy

        from .inputs import read_policy, report_refused

        policy_text, problem = read_policy(policy_path)
        if problem is not None or policy_text is None:
            return _fail(problem or f"cannot read policy {policy_path}")
        loaded = load_policy(policy_text, policy_path)
        if loaded.errors or loaded.policy is None:
            report_refused(loaded, policy_path, policy_text)
            if loaded.dialect is None and not words:
                print(f"pullguard: to explain the text in {policy_path}, give it on standard input: "
                      f"pullguard explain [POLICY] < {policy_path}", file=sys.stderr)
            return 2
    text = " ".join(words) if words else _read_stdin()

    from pullguard.engine.troubleshoot import explain, explain_json

    explanations = explain(text, loaded)
    if args.format == "json":
        import json

        print(json.dumps(explain_json(explanations, policy_path), indent=2))
    else:
        _print_text(explanations)
    if not explanations:
        print("pullguard: no pull error recognised in the text (a kubelet event, a containerd or Talos "
              "message, or a Kyverno admission denial)", file=sys.stderr)
        if "errimagepull" in text.lower() or "imagepullbackoff" in text.lower():
            print("pullguard: the pod's events say why its image is not pulled: kubectl describe pod POD | "
                  "pullguard explain [POLICY]", file=sys.stderr)
        return 2
    return 0


def _lines(text: str) -> list[str]:
    """Our own line breaks kept, every line's outside text escaped (the engine never lets a
    newline from the paste into a field: it only writes its own, between joined errors)."""
    from pullguard.engine.display import escape_control

    return [escape_control(line) for line in text.split("\n")]


def _print_text(explanations: list) -> None:
    from pullguard.engine.display import escape_control

    from ..output import Painter, plural
    from ..styles import ACTION_STYLE, NO_ACTION_STYLE, OUTCOME_STYLE

    paint = Painter.for_stream(sys.stdout)
    for number, item in enumerate(explanations):
        report, decision, advice = item.reported, item.decision, item.advice
        if number:
            print()
        image = escape_control(report.image) if report.image is not None else "(image not named)"
        print(f"{paint(image, 'bold')}  {paint('(' + report.source + ')', 'dim')}")
        outcome = report.outcome or "reported"
        node = paint(outcome, OUTCOME_STYLE.get(outcome)) + " - " + escape_control(report.message)
        if report.rule_id is not None and report.rule_id not in report.message:
            node += f" [{escape_control(report.rule_id)}]"
        print(f"  node said:  {node}")
        if decision is not None:
            action = decision.action or "invalid"
            rule = (f" by rule {escape_control(decision.rule_id)} ({escape_control(decision.pattern or '')})"
                    if decision.rule_id else "")
            verdict = {True: paint("as the node did", "green"), False: paint("unlike the node", "bold red"),
                       None: "(no verdict to compare)"}[advice.agrees]
            print(f"  policy:     {paint(action, ACTION_STYLE[decision.action] if decision.action else NO_ACTION_STYLE)}{rule}, {verdict}")
        print(f"  cause:      {_lines(advice.cause)[0]}")
        if advice.suggestion:
            first, *rest = _lines(advice.suggestion)
            print(f"  {paint('fix:', 'green')}        {first}")
            for line in rest:
                print(f"              {line}")
    if len(explanations) > 1:
        verdicts = [e.advice.agrees for e in explanations]
        counts = [(verdicts.count(True), "as the node did"), (verdicts.count(False), "unlike the node")]
        said = ", ".join(f"{n} {words}" for n, words in counts if n)
        print(f"\n{plural(len(explanations), 'pull error')}" + (f": the policy decides {said}" if said else ""))
