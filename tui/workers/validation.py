"""Live validation: the editor text analysed after a debounce, reported as `AnalysisReady`."""

from __future__ import annotations

import asyncio
import time

from textual.message import Message

from pullguard.engine.analysis import Analysis, analyze

# Up to this many images an analysis (parse + validate + simulate, about 15 ms for 2,000 images
# and 200 rules) runs on the event loop: cheaper than the hop to a thread and back, where it
# would also fight the UI for the GIL (it took 50-140 ms there). The first one runs before the
# first frame, so the screen is painted once, with the table filled. Longer lists go to a
# worker thread.
INLINE_ANALYSIS_IMAGES = 3000


class AnalysisReady(Message):
    """An analysis of `text` over `images` is done (it may be stale: the text moved on)."""

    def __init__(self, analysis: Analysis, text: str, images: list[str], started: float, started_cpu: float) -> None:
        super().__init__()
        self.analysis = analysis
        self.text = text
        self.images = images
        self.started = started  # perf_counter and process CPU after the debounce (bench)
        self.started_cpu = started_cpu


async def validate(text: str, images: list[str], path: str, delay: float) -> AnalysisReady:
    """Wait `delay` (the debounce: the next keystroke cancels this worker), then analyse."""
    if delay:
        await asyncio.sleep(delay)
    started, started_cpu = time.perf_counter(), time.process_time()
    if len(images) <= INLINE_ANALYSIS_IMAGES:
        analysis = analyze(text, images, path)
    else:
        analysis = await asyncio.to_thread(analyze, text, images, path)
    return AnalysisReady(analysis, text, images, started, started_cpu)
