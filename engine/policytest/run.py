"""Running a PolicyTest file: its policy loaded, every case decided (and verified, with `verify: true`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from ..policy import LoadedPolicy, load_policy
from ..textfile import TextFileError, read_text
from .checks import actual_of, check_decision, check_verification
from .format import TestCase, TestFile, load_test_file, test_error


@dataclass
class CaseResult:
    file: str
    case: TestCase
    actual: dict[str, Any]
    passed: bool
    # Why the case failed, for a person; None when it passed.
    reason: str | None
    # What the policy (or verification) said about the image.
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.case.line,
            "image": self.case.image,
            "expected": self.case.expected(),
            "actual": self.actual,
            "passed": self.passed,
            "message": self.message,
            "reason": self.reason,
        }


@dataclass
class FileResult:
    file: str
    policy: str | None
    dialect: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    # (path the diagnostic points into, diagnostic): the test file's own and its policy's.
    diagnostics: list[tuple[str, Diagnostic]] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return any(d.severity == "error" for _, d in self.diagnostics)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if not c.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "policy": self.policy,
            "dialect": self.dialect,
            "passed": self.passed,
            "failed": self.failed,
            "diagnostics": [dict(d.to_json(), file=path) for path, d in self.diagnostics],
        }


# `verifier(loaded, test_file, images)`: (outcome, message) per image, in order.
Verifier = Callable[[LoadedPolicy, TestFile, list[str]], Sequence[tuple[str | None, str | None]]]


def run_test_file(path: str | Path, *, verifier: Verifier | None = None) -> FileResult:
    """Load a test file and its policy, and run every case.

    `verifier(loaded, test_file, images) -> list[(outcome, message)]` runs `verify: true` cases;
    None uses `pullguard.engine.verify` with the file's mirrors, trusted root and insecure registries.
    """
    shown = str(path)
    result = FileResult(shown, None)
    try:
        text = read_text(path)
    except TextFileError as exc:
        result.diagnostics.append((shown, test_error("test-unreadable", f"cannot read test file: {exc.reason}",
                                                 exc.line, exc.column, "save the file as UTF-8")))
        return result
    except OSError as exc:
        result.diagnostics.append((shown, test_error("test-unreadable", f"cannot read test file: {_reason(exc)}", None, None)))
        return result
    test_file = load_test_file(text, path)
    result.diagnostics.extend((shown, d) for d in test_file.diagnostics)
    if test_file.policy_path is not None:
        result.policy = str(test_file.policy_path)
    if test_file.errors or test_file.policy_path is None:
        return result
    policy_shown = _display_path(test_file.policy_path)
    result.policy = policy_shown
    try:
        policy_text = read_text(test_file.policy_path)
    except TextFileError as exc:
        result.diagnostics.append((policy_shown, test_error("policy-unreadable", f"cannot read policy: {exc.reason}",
                                                        exc.line, exc.column, "save the file as UTF-8")))
        return result
    except OSError as exc:
        result.diagnostics.append((policy_shown, test_error("policy-unreadable", f"cannot read policy: {_reason(exc)}", None, None)))
        return result
    loaded = load_policy(policy_text, policy_shown)
    result.dialect = loaded.dialect
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    if errors or loaded.policy is None:
        result.diagnostics.extend((policy_shown, d) for d in errors)
        return result

    cases = test_file.cases
    decisions = loaded.policy.evaluate_many([c.image for c in cases])
    verify_cases = [i for i, c in enumerate(cases) if c.verify]
    verified: dict[int, tuple[str | None, str | None]] = {}
    if verify_cases:
        run = verifier or _engine_verifier
        try:
            outcomes = run(loaded, test_file, [cases[i].image for i in verify_cases])
        except VerificationSetupError as exc:
            # Nothing was verified: the file's setup (trusted root, mirrors) is at fault, not a case.
            result.diagnostics.append((shown, test_error("test-verify-setup", str(exc), None, None)))
            outcomes = [(None, str(exc))] * len(verify_cases)
        verified = dict(zip(verify_cases, outcomes, strict=True))

    for index, (case, decision) in enumerate(zip(cases, decisions, strict=True)):
        actual = actual_of(decision)
        message: str | None = decision.message
        problems = check_decision(case, decision)
        if case.verify:
            outcome, verify_message = verified[index]
            actual["outcome"] = outcome
            message = verify_message
            problems += check_verification(case, outcome, verify_message)
        actual["message"] = message
        result.cases.append(CaseResult(shown, case, actual, not problems, "; ".join(problems) or None, message))
    return result


def _engine_verifier(loaded: LoadedPolicy, test_file: TestFile, images: list[str]) -> list[tuple[str | None, str | None]]:
    """Run `pullguard.engine.verify` with the test file's mirrors, trusted root and insecure registries."""
    import asyncio

    from .. import verify as verify_module

    # The same options `pullguard verify` builds from its flags; the policy file's own
    # mirrors travel in `loaded`, as they do for `pullguard verify`.
    options = verify_module.VerifyOptions(
        trusted_root=str(test_file.trusted_root) if test_file.trusted_root else None,
        mirrors=dict(test_file.mirrors),
        insecure=list(test_file.insecure_registries),
    )
    try:
        results = asyncio.run(verify_module.verify_images(loaded, images, options))
    except Exception as exc:  # per-image faults are outcomes; what escapes is the setup's
        raise VerificationSetupError(f"verification could not run: {_reason(exc)}") from exc
    return [(r.outcome, r.message) for r in results]


class VerificationSetupError(Exception):
    """Verification could not start (unusable trusted root, mirror, ...): the file is invalid."""


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
