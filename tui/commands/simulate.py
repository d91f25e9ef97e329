"""`pullguard simulate POLICY [IMAGE...] [--images FILE] [--format text|json]` (SPEC §1, §2).

First-match evaluation, no network. Exit 0, or 2 for usage errors, an unreadable policy or
image list, or a policy with errors (refused: its errors go to stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from pullguard.engine.gcpause import gc_paused

from .inputs import add_format_option, add_images_option, load_policy_or_refuse, policy_subjects, read_images, with_extracted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="Talos ImageVerificationConfig or Kyverno policy file")
    parser.add_argument("images", metavar="IMAGE", nargs="*", default=[], help="image references")
    add_images_option(parser)
    add_format_option(parser)


def pod_cell(entry) -> str:
    """`namespace/pod` for the text tables (a workload manifest gives its namespace only)."""
    return "/".join(p for p in (entry.namespace, entry.pod) if p) or "-"


def has_pods(entries) -> bool:
    """Did the list say where images run (kubectl pods, manifests)? Then results carry `pod`/`namespace`."""
    return any(e.pod is not None or e.namespace is not None for e in entries)


def write_json_results(doc: dict, decisions: Iterable, stream=None, entries: list | None = None) -> None:
    """The SPEC §2 document with one result a line: readable, and fast on a fleet.

    Written as the decisions come (a fleet's output is never held whole). json's `indent=`
    switches to its pure-Python encoder (10x slower on 50,000 results), so each result is
    encoded alone; images decided alike share everything after `"match_subject"`, encoded
    once (Talos by rule and message, Kyverno by the outcome's objects), and the two strings
    before it go through json's C string encoder. With `entries` (aligned with the
    decisions), each result ends with that entry's `pod` and `namespace`.
    """
    import json
    from json.encoder import encode_basestring_ascii as quote

    def flat_object(mapping: dict) -> str:
        # json.dumps of a verifier's JSON, whose values are text or null: json.dumps itself
        # sets up an encoder on every call, twice the cost, once for every rule a fleet hits.
        items = []
        for key, value in mapping.items():
            if type(key) is not str or (value is not None and type(value) is not str):
                return json.dumps(mapping)
            items.append(f'{quote(key)}: {"null" if value is None else quote(value)}')
        return "{" + ", ".join(items) + "}"

    def plain_tail(d) -> str:
        # What json.dumps(d.to_json()) holds after "match_subject" for a decision without
        # `rules` or `requirements` (Talos), written from its fields: building and encoding the
        # dict cost four times as much, once for every rule a fleet hits (tests hold them equal).
        action, index, rule_id, pattern, verifier, message = d.action, d.rule_index, d.rule_id, d.pattern, d.verifier, d.message
        return (f'"action": {"null" if action is None else quote(action)}, "rule_index": {"null" if index is None else index}, '
                f'"rule_id": {"null" if rule_id is None else quote(rule_id)}, "pattern": {"null" if pattern is None else quote(pattern)}, '
                f'"verifier": {"null" if verifier is None else flat_object(verifier.to_json())}, '
                f'"message": {"null" if message is None else quote(message)}}}')

    def full_tail(d) -> str:
        rest = d.to_json()
        del rest["image"], rest["match_subject"]
        return json.dumps(rest)[1:]

    stream = stream or sys.stdout
    head = json.dumps({k: v for k, v in doc.items() if k != "results"})[:-1]
    encoded: dict[tuple, str] = {}
    lines: list[str] = []
    separator = ', "results": [\n  '
    where = iter(entries) if entries is not None else None
    # Kyverno and ImageValidatingPolicy decisions alike hold the same objects (the outcome's
    # rules, requirements and verifier): their tail, about 1.4 KB of JSON, is encoded once.
    # The objects are kept with it, so no id in a key can be another object's while it is cached.
    # A message that names its image (a missing digest) never repeats and is not kept; past
    # 32 MB of tails (tens of thousands of entries) the cache starts over.
    shared: dict[tuple, tuple[str, object, object, object]] = {}
    shared_bytes = 0
    for d in decisions:
        if d.match_subject is None:  # an invalid reference: its own error message
            tail = full_tail(d)
        elif d.rules is None and d.requirements is None:
            plain_key = (d.rule_index, d.action, d.message)
            known = encoded.get(plain_key)
            tail = known if known is not None else encoded.setdefault(plain_key, plain_tail(d))
        elif d.match_subject in d.message:
            tail = full_tail(d)
        else:
            outcome_key = (id(d.requirements), id(d.rules), id(d.verifier), d.action, d.rule_index, d.rule_id, d.pattern,
                           d.message)
            found = shared.get(outcome_key)
            if found is None:
                if shared_bytes > 32 << 20:
                    shared.clear()
                    shared_bytes = 0
                found = shared[outcome_key] = (full_tail(d), d.requirements, d.rules, d.verifier)
                shared_bytes += len(found[0])
            tail = found[0]
        subject = "null" if d.match_subject is None else quote(d.match_subject)
        if where is not None:
            entry = next(where)
            tail = tail[:-1] + f', "pod": {json.dumps(entry.pod)}, "namespace": {json.dumps(entry.namespace)}}}'
        lines.append(f'{{"image": {quote(d.image)}, "match_subject": {subject}, {tail}')
        if len(lines) >= 10_000:
            stream.write(head + separator + ",\n  ".join(lines))
            head, separator, lines = "", ",\n  ", []
    if lines:
        stream.write(head + separator + ",\n  ".join(lines))
        head, separator = "", ",\n  "
    stream.write(head + ', "results": []}\n' if head else "\n]}\n")


def run(args: argparse.Namespace) -> int:
    # Simulation makes no reference cycles: the cyclic collector would only walk the policy, the
    # image list and the decisions again and again (a fleet-sized policy's rules are most of
    # the heap), while reference counting frees each chunk of decisions once it is written.
    with gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    loaded = load_policy_or_refuse(args.policy, errors_only=True)  # simulate shows no warning
    if loaded is None:
        return 2
    entries = read_images(args.images, args.images_files, empty_list_ok=True)
    if entries is None:
        return 2
    entries = [entry for _, entry in with_extracted(loaded, [(None, entry) for entry in entries])]

    from pullguard.engine.simulate import simulate, simulate_chunks, simulate_json

    if args.format == "json":
        from itertools import chain

        chunks = simulate_chunks(loaded, policy_subjects(loaded, entries))
        write_json_results(simulate_json(loaded, []), chain.from_iterable(chunks),
                           entries=entries if has_pods(entries) else None)
        return 0
    decisions = simulate(loaded, list(policy_subjects(loaded, entries)))

    from ..output import Painter, plural, table, terminal_width
    from ..styles import ACTION_STYLE, NO_ACTION_STYLE

    paint = Painter.for_stream(sys.stdout)
    with_node = any(getattr(e, "node_verified", None) is not None for e in entries)
    with_pods = has_pods(entries)
    headers = (["IMAGE"] + (["POD"] if with_pods else []) + ["MATCH SUBJECT", "RULE", "ACTION"]
               + (["TALOS"] if with_node else []) + ["MESSAGE"])
    rows, styles = [], []
    for entry, d in zip(entries, decisions, strict=True):
        row = [d.image] + ([pod_cell(entry)] if with_pods else []) + [d.match_subject or "-", d.rule_id or "-",
                                                                       d.action or "invalid"]
        style = [None] + (["dim"] if with_pods else []) + ["dim", None, ACTION_STYLE[d.action] if d.action else NO_ACTION_STYLE]
        if with_node:
            node = getattr(entry, "node_verified", None)
            row.append("-" if node is None else ("verified" if node else "unverified"))
            style.append(None)
        row.append(d.message)
        style.append(None)
        rows.append(row)
        styles.append(style)
    print(table(headers, rows, paint, styles, width=terminal_width(sys.stdout)))
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.action or "invalid"] = counts.get(d.action or "invalid", 0) + 1
    order = ["verify", "skip", "deny", "allow", "invalid"]
    summary = ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
    print(f"\n{plural(len(decisions), 'image')}: {summary or 'none'}")
    return 0
