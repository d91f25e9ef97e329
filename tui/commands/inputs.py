"""What the commands read, and how they refuse it: `--format`, `--images`, the policy, image lists.

Every command that takes a policy reads it the same way (exit 2 with the path and the reason
when it cannot be read), and every command that acts on a policy refuses one with errors the
same way (its errors compiler-style on stderr, then one line saying so). Only argparse and
stdlib at import time: command modules import this while the parser is built.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pullguard.engine.diagnostics import Diagnostic
    from pullguard.engine.images import ImageEntry
    from pullguard.engine.policy import LoadedPolicy

EXIT_USAGE = 2


def add_format_option(parser: argparse.ArgumentParser, *for_ci: str) -> None:
    """`--format text|json`, and the CI formats a command also writes (`junit`, `sarif`, `github`)."""
    choices = ("text", "json", *for_ci)
    parser.add_argument("--format", "-o", choices=choices, default="text", help=f"output format: {', '.join(choices)} (default text)")


def add_images_option(parser: argparse.ArgumentParser) -> None:
    """`--images FILE`, repeatable (as `args.images_files`, in the order given): any SPEC §6 list
    format; '-' reads standard input."""
    parser.add_argument(
        "--images",
        dest="images_files",
        metavar="FILE",
        action="append",
        default=[],
        help="image list: plain text, kubectl get pods -o json, Kubernetes YAML or talosctl image ls; '-' reads stdin "
        "(repeatable: the lists are read in order)",
    )


def fail(message: str) -> int:
    """`pullguard: error: message` on stderr (escaped: it may quote a file), and exit 2."""
    from pullguard.engine.display import escape_control

    print(f"pullguard: error: {escape_control(message)}", file=sys.stderr)
    return EXIT_USAGE


def read_policy(path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, one-line reason) for a policy file; '-' is standard input."""
    from pullguard.engine.textfile import TextFileError, read_text

    try:
        return read_text(path), None
    except OSError as exc:
        return None, f"cannot read policy {path}: {exc.strerror or exc}"
    except TextFileError as exc:  # `p.yaml:3:7: not UTF-8 text (byte 0xd7)`
        return None, f"cannot read policy {exc}"


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.line if d.line is not None else 0, d.column or 0))


def load_policy_or_refuse(path: str, errors_only: bool = False) -> LoadedPolicy | None:
    """The loaded policy, or None after saying on stderr why it is refused (exit 2): unreadable,
    or a policy with errors. `errors_only`: the caller shows no warning, so lints that can only
    warn may be skipped (see `load_policy`)."""
    text, problem = read_policy(path)
    if text is None:
        fail(problem or f"cannot read policy {path}")
        return None
    from pullguard.engine.policy import load_policy

    loaded = load_policy(text, path, errors_only)
    if loaded.errors or loaded.policy is None:
        report_refused(loaded, path, text)
        return None
    return loaded


def report_refused(loaded: LoadedPolicy, path: str, text: str) -> None:
    """A refused policy: its errors on stderr, compiler style, then one line saying so."""
    from pullguard.engine.display import escape_control

    from ..output import Painter, diagnostic_block

    paint = Painter.for_stream(sys.stderr)
    lines = text.splitlines()
    for diag in sorted_diagnostics(loaded.diagnostics):
        if diag.severity == "error":
            print(diagnostic_block(diag, path, lines, paint), file=sys.stderr)
    shown = escape_control(path)
    if loaded.policy is None and not loaded.errors:
        print(f"pullguard: error: {shown}: no policy found", file=sys.stderr)
    print(f"pullguard: policy {shown} has errors; run 'pullguard check {shown}'", file=sys.stderr)


def read_image_list(name: str) -> tuple[list[ImageEntry], str | None]:
    """(entries, None) or ([], one-line reason) for an image list in any SPEC §6 format."""
    from pullguard.engine.images import ImageListError, parse_image_list
    from pullguard.engine.textfile import TextFileError, read_text

    try:
        text = read_text(name)
    except OSError as exc:
        return [], f"cannot read images {name}: {exc.strerror or exc}"
    except TextFileError as exc:  # `images.txt:3:7: not UTF-8 text (byte 0xd7)`
        return [], f"cannot read images {exc}"
    try:
        return list(parse_image_list(text, "<stdin>" if name == "-" else name)), None
    except ImageListError as exc:
        return [], str(exc)


def policy_subjects(loaded: LoadedPolicy, entries: Iterable[ImageEntry]) -> Iterable[str]:
    """What the policy decides for each entry: an ImageValidatingPolicy takes an image from a
    manifest or kubectl pods with the resource it is written in (its matchConstraints and
    matchConditions apply, the resource is `object`; SPEC §4b); other images are bare references."""
    if loaded.dialect != "kyverno-ivpol":
        return (e.image for e in entries)
    from pullguard.engine.policy.ivpol.selection import subjects

    return subjects([(e.image, e.resource, e.category) for e in entries])


def with_extracted(loaded: LoadedPolicy, named: Sequence[tuple[str | None, ImageEntry]]) -> list[tuple[str | None, ImageEntry]]:
    """The entries, and after each resource's last one the images an ImageValidatingPolicy's
    `spec.images` extractors find in it that its containers do not name (checked as images of
    their own, their source `…/images.NAME`; SPEC §4b)."""
    if loaded.dialect != "kyverno-ivpol":
        return list(named)
    import dataclasses

    from pullguard.engine.policy.ivpol import IvpolPolicySet

    policy = loaded.policy
    if not isinstance(policy, IvpolPolicySet) or not any(p.extractors for p in policy.policies):
        return list(named)

    out: list[tuple[str | None, ImageEntry]] = []
    for k, (origin, entry) in enumerate(named):
        out.append((origin, entry))
        resource = entry.resource
        if resource is None or (k + 1 < len(named) and named[k + 1][1].resource is resource):
            continue
        written = {e.image for _, e in named if e.resource is resource}
        owner = (entry.source or "").rpartition("/")[0]
        for image, name in policy.extracted(resource):
            if image not in written:
                out.append((origin, dataclasses.replace(entry, image=image, source=f"{owner}/images.{name}", line=None,
                                                        category=name)))
    return out


def read_images(arguments: list[str], images_files: Sequence[str], *, empty_list_ok: bool = False) -> list[ImageEntry] | None:
    """The IMAGE arguments, then every `--images` list in order; None after saying why (exit 2),
    also when there are no images (`simulate` takes an empty list: `empty_list_ok`)."""
    named = read_named_images(arguments, images_files, empty_list_ok=empty_list_ok)
    return None if named is None else [entry for _, entry in named]


def read_named_images(
    arguments: list[str], images_files: Sequence[str], *, empty_list_ok: bool = False
) -> list[tuple[str | None, ImageEntry]] | None:
    """As `read_images`, each entry with the list file that named it (None: an IMAGE argument
    or standard input), for output that points at the line of the list (`verify --format github`)."""
    from pullguard.engine.images import ImageEntry

    named: list[tuple[str | None, ImageEntry]] = [(None, ImageEntry(image, source=None, line=None)) for image in arguments]
    for images_file in images_files:
        more, problem = read_image_list(images_file)
        if problem is not None:
            fail(problem)
            return None
        named += [(None if images_file == "-" else images_file, entry) for entry in more]
    if not named and not (empty_list_ok and images_files):
        fail("no images given (pass IMAGE arguments or --images FILE)")
        return None
    return named
