"""Verification from the dashboard: a run in a worker thread with its own event loop.

Each image's result is posted as `ImageVerified` as it finishes, and the end of the run as
`VerificationFinished`; the app updates one table row per result. Nothing here is imported on
the first frame's path that loads sigstore, httpx or cryptography.x509: the verification stack
is imported inside the thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

# verifier(loaded, images, options, on_result, cache) -> awaitable: the engine's by default;
# tests pass one that holds a run open to cancel it.
Verifier = Callable[..., Any]


class VerifyUnavailable(Exception):
    """The verification stack cannot be imported (not installed or not built)."""


async def engine_verifier(loaded: Any, images: list[str], options: dict[str, Any], on_result: Any, cache: Any) -> Any:
    """Default verifier: `pullguard.engine.verify.verify_images`."""
    try:
        from pullguard.engine.verify import VerifyOptions, verify_images
    except ImportError as exc:
        raise VerifyUnavailable(f"verification is not available: {exc}") from exc
    return await verify_images(loaded, images, VerifyOptions(**options), on_result=on_result, cache=cache)


def new_cache() -> Any:
    """The session's cache of successful verifications (None without the verification stack)."""
    try:
        from pullguard.engine.verify import VerifyCache
    except ImportError:
        return None
    return VerifyCache()


class VerifyRun:
    """Handle on a verification running in a worker thread's own event loop."""

    def __init__(self, images: list[str]) -> None:
        self.images = images
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False
        self.done = 0

    def cancel(self) -> None:
        self.cancelled = True
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


class ImageVerified(Message):
    """One image of `run` is verified (in completion order)."""

    def __init__(self, run: VerifyRun, result: Any) -> None:
        super().__init__()
        self.run = run
        self.result = result


class VerificationFinished(Message):
    """`run` ended: done, cancelled, or `error` (why it could not run)."""

    def __init__(self, run: VerifyRun, error: str | None) -> None:
        super().__init__()
        self.run = run
        self.error = error


def run_verification(
    run: VerifyRun,
    loaded: Any,
    options: dict[str, Any],
    verifier: Verifier,
    cache: Any,
    report: MessagePump,
    still_wanted: Callable[[], bool],
) -> None:
    """Verify `run.images` on this thread's own loop, posting each result and the end to
    `report`; results stop once the run is cancelled or `still_wanted()` is false."""
    loop = asyncio.new_event_loop()
    run.loop = loop
    error: str | None = None
    try:

        def on_result(result: Any) -> None:
            if not run.cancelled and still_wanted():
                report.post_message(ImageVerified(run, result))

        run.task = loop.create_task(verifier(loaded, run.images, options, on_result, cache))
        if run.cancelled:  # cancelled before the task existed
            run.task.cancel()
        loop.run_until_complete(run.task)
    except asyncio.CancelledError:
        run.cancelled = True
    except VerifyUnavailable as exc:
        error = str(exc)
    except Exception as exc:  # a bug or an unexpected fault: show it, keep the UI alive
        error = f"{type(exc).__name__}: {exc}"
    finally:
        loop.close()
    report.post_message(VerificationFinished(run, error))
