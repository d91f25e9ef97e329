"""Real production signatures, read in place from the shared folder beside the checkout (never
copied into the repository). `PULLGUARD_REAL_WORLD` points elsewhere, e.g. from a git worktree."""

from __future__ import annotations

import os
from pathlib import Path

REAL_WORLD = Path(os.environ.get("PULLGUARD_REAL_WORLD") or Path(__file__).resolve().parents[3] / "shared" / "real-world")
