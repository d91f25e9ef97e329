"""JUnit XML for `pullguard test --format junit`, as GitLab and Jenkins read it.

`<testsuites>` holds one `<testsuite>` per test file and one `<testcase>` per case; a case that
fails has a `<failure>` whose message is the reason and whose text holds what was expected and
what the policy (or verification) decided. A test file that cannot be read, or that is invalid
(it or its policy has errors), is one `<testcase>` with an `<error>` listing the problems, so CI
shows it instead of a suite that merely passed nothing. The element and attribute names are those
of the Jenkins JUnit schema (tests/schemas/junit.xsd). Outside text is escaped (SPEC §6), which
also keeps every character one that XML 1.0 allows.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pullguard.engine.display import escape_control

# The two code points XML 1.0 forbids that escape_control leaves alone.
_NOT_XML = str.maketrans({"\ufffe": "\\ufffe", "\uffff": "\\uffff"})


def _text(value: object) -> str:
    return escape_control(str(value)).translate(_NOT_XML)


@dataclass
class Case:
    name: str
    classname: str
    failure: tuple[str, str] | None = None  # (message, details)
    error: tuple[str, str] | None = None


@dataclass
class Suite:
    name: str
    cases: list[Case] = field(default_factory=list)


def classname(path: str) -> str:
    """`samples/tests/talos.yaml` -> `samples.tests.talos`: Jenkins groups by the dotted parts."""
    stem, _ = os.path.splitext(path.replace(os.sep, "/"))
    return ".".join(part for part in stem.split("/") if part not in ("", ".", "..")) or stem


def suites_from_results(results: Sequence[Any], problems: Sequence[str] = ()) -> list[Suite]:
    """Suites for `pullguard test`'s FileResults (engine.policytest), and one for the arguments
    that named no test file (`problems`: `missing.yaml: no such file or folder`)."""
    suites = []
    if problems:
        suites.append(Suite("pullguard test", [Case(problem, "pullguard.test", error=(problem, problem)) for problem in problems]))
    for result in results:
        suite = Suite(result.file)
        group = classname(result.file)
        errors = [(shown, d) for shown, d in result.diagnostics if d.severity == "error"]
        if errors:
            listed = "\n".join(f"{d.location(shown)}: {d.message}" for shown, d in errors)
            suite.cases.append(Case("load test file and policy", group, error=(errors[0][1].message, listed)))
        for case in result.cases:
            test = case.case
            name = f"{test.name}: {test.image}" if test.name else test.image
            name = f"{name} (line {test.line})"
            failure = None
            if not case.passed:
                details = [
                    f"{case.file}:{test.line}: {test.image}",
                    f"expected: {json.dumps(test.expected())}",
                    f"actual: {json.dumps(case.actual)}",
                ]
                if case.message is not None:
                    details.append(f"message: {case.message}")
                failure = (case.reason or "did not match", "\n".join(details))
            suite.cases.append(Case(name, group, failure=failure))
        suites.append(suite)
    return suites


def junit_xml(suites: Sequence[Suite], name: str = "pullguard test") -> str:
    """The XML document, UTF-8, with a declaration; counts on every suite and on the whole."""
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in suites:
        counts = {
            "tests": len(suite.cases),
            "failures": sum(1 for c in suite.cases if c.failure is not None),
            "errors": sum(1 for c in suite.cases if c.error is not None),
        }
        attributes = {"name": _text(suite.name), **{k: str(v) for k, v in counts.items()}, "skipped": "0", "file": _text(suite.name)}
        element = ET.SubElement(root, "testsuite", attributes)
        for case in suite.cases:
            item = ET.SubElement(element, "testcase", name=_text(case.name), classname=_text(case.classname))
            for tag, what in (("failure", case.failure), ("error", case.error)):
                if what is not None:
                    message, details = what
                    ET.SubElement(item, tag, message=_text(message), type=tag).text = "\n".join(
                        _text(line) for line in details.split("\n"))
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
