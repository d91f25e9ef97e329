"""`pullguard completion bash|zsh|fish`: a shell completion script on standard output (SPEC §1).

The script is written from the parser itself (every command, its options, the choices of
`--format` and `--to`, file names where an argument is a file), so it never lists a flag that
does not exist. Install it as the shell expects:

    pullguard completion bash > /etc/bash_completion.d/pullguard        # or: source <(pullguard completion bash)
    pullguard completion zsh > "${fpath[1]}/_pullguard"                # or: source <(pullguard completion zsh)
    pullguard completion fish > ~/.config/fish/completions/pullguard.fish
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash, zsh or fish")


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    files: bool = False
    repeatable: bool = False


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    # What a positional argument completes to: choices, else file names.
    positional_choices: tuple[str, ...]
    positional_files: bool


def _option(action: argparse.Action) -> Option:
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    takes_value = action.nargs != 0
    choices = tuple(str(c) for c in action.choices) if action.choices else ()
    return Option(tuple(action.option_strings), action.help or "", takes_value, choices,
                  takes_value and not choices and "FILE" in metavar, isinstance(action.default, list))


def describe(commands: dict[str, argparse.ArgumentParser], helps: dict[str, str]) -> list[Command]:
    """What the completion scripts need of each command's parser."""
    out = []
    for name, parser in commands.items():
        options = tuple(_option(a) for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS)
        positionals = [a for a in parser._actions if not a.option_strings]
        choices = tuple(str(c) for a in positionals if a.choices for c in a.choices)
        out.append(Command(name, helps[name], options, choices, any(not a.choices for a in positionals)))
    return out


def _words(values: tuple[str, ...] | list[str]) -> str:
    return " ".join(values)


def bash(commands: list[Command]) -> str:
    lines = [
        "# bash completion for pullguard (pullguard completion bash)",
        "_pullguard() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    COMPREPLY=()",
        "    if [[ $COMP_CWORD -eq 1 ]]; then",
        f'        COMPREPLY=($(compgen -W "{_words([c.name for c in commands])} --help --version" -- "$cur"))',
        "        return",
        "    fi",
        '    case "${COMP_WORDS[1]}" in',
    ]
    for command in commands:
        lines.append(f"    {command.name})")
        lines.append('        case "$prev" in')
        for option in command.options:
            if not option.takes_value:
                continue
            flags = "|".join(option.flags)
            if option.choices:
                lines.append(f'            {flags}) COMPREPLY=($(compgen -W "{_words(option.choices)}" -- "$cur")); return ;;')
            elif option.files:
                lines.append(f'            {flags}) COMPREPLY=($(compgen -f -- "$cur")); return ;;')
            else:
                lines.append(f"            {flags}) return ;;")
        lines.append("        esac")
        flags = _words([flag for option in command.options for flag in option.flags])
        lines.append(f'        if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{flags}" -- "$cur"))')
        if command.positional_choices:
            lines.append(f'        else COMPREPLY=($(compgen -W "{_words(command.positional_choices)}" -- "$cur"))')
        elif command.positional_files:
            lines.append('        else COMPREPLY=($(compgen -f -- "$cur"))')
        lines.append("        fi ;;")
    lines += ["    esac", "}", "complete -o filenames -o bashdefault -F _pullguard pullguard", ""]
    return "\n".join(lines)


def _zsh_text(text: str) -> str:
    """Help text inside a zsh `_arguments` spec (itself inside single quotes)."""
    for char in "\\[]:":
        text = text.replace(char, "\\" + char)
    return text.replace("'", "'\\''")


def zsh(commands: list[Command]) -> str:
    lines = [
        "#compdef pullguard",
        "# zsh completion for pullguard (pullguard completion zsh)",
        "_pullguard() {",
        "    local -a commands",
        "    commands=(",
    ]
    lines += [f"        '{c.name}:{_zsh_text(c.help)}'" for c in commands]
    lines += [
        "    )",
        "    if (( CURRENT == 2 )); then",
        "        _describe -t commands 'pullguard command' commands",
        "        _arguments '(- *)--help[show help]' '(- *)--version[print the version]'",
        "        return",
        "    fi",
        '    local command="$words[2]"',
        "    shift words",
        "    (( CURRENT-- ))",
        '    case "$command" in',
    ]
    for command in commands:
        specs = []
        for option in command.options:
            names = option.flags
            repeat = "*" if option.repeatable else ""
            if len(names) > 1:  # '(--format -o)'{--format,-o}'[help]…': either spelling, once
                head = f"'{repeat}({' '.join(names)})'{{{','.join(names)}}}'"
            else:
                head = f"'{repeat}{names[0]}"
            value = ""
            if option.takes_value:
                if option.choices:
                    value = f":value:({' '.join(option.choices)})"
                elif option.files:
                    value = ":file:_files"
                else:
                    value = ":value: "
            specs.append(f"{head}[{_zsh_text(option.help)}]{value}'")
        if command.positional_choices:
            specs.append(f"'1:value:({' '.join(command.positional_choices)})'")
        elif command.positional_files:
            specs.append("'*:file:_files'")
        lines.append(f"    {command.name})")
        lines.append("        _arguments -s \\")
        lines += [f"            {spec} \\" for spec in specs]
        lines[-1] = lines[-1].removesuffix(" \\")
        lines.append("        ;;")
    lines += [
        "    esac",
        "}",
        'if [[ "$funcstack[1]" == _pullguard ]]; then',
        '    _pullguard "$@"',
        "else",
        "    compdef _pullguard pullguard",
        "fi",
        "",
    ]
    return "\n".join(lines)


def _fish_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(commands: list[Command]) -> str:
    lines = [
        "# fish completion for pullguard (pullguard completion fish)",
        "complete -c pullguard -f",
        "complete -c pullguard -n __fish_use_subcommand -l version -d 'print the version'",
        "complete -c pullguard -n __fish_use_subcommand -s h -l help -d 'show help'",
    ]
    for command in commands:
        lines.append(f"complete -c pullguard -n __fish_use_subcommand -a {command.name} -d {_fish_text(command.help)}")
    for command in commands:
        when = f"-n '__fish_seen_subcommand_from {command.name}'"
        for option in command.options:
            parts = [f"complete -c pullguard {when}"]
            for flag in option.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if option.choices:
                parts.append(f"-x -a {_fish_text(' '.join(option.choices))}")
            elif option.files:
                parts.append("-r -F")
            elif option.takes_value:
                parts.append("-x")
            parts.append(f"-d {_fish_text(option.help)}")
            lines.append(" ".join(parts))
        if command.positional_choices:
            lines.append(f"complete -c pullguard {when} -x -a {_fish_text(' '.join(command.positional_choices))}")
        elif command.positional_files:
            lines.append(f"complete -c pullguard {when} -F")
    lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..cli import COMMANDS, build_parser

    _, parsers = build_parser()
    commands = describe(parsers, COMMANDS)
    sys.stdout.write({"bash": bash, "zsh": zsh, "fish": fish}[args.shell](commands))
    return 0
