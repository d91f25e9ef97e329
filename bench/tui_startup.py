"""Dashboard speed: cold start to the first frame, and keystroke to updated table.

1. `pullguard` (the bundled sample) in a pseudo-terminal, with PULLGUARD_EXIT_AFTER_FIRST_FRAME=1
   so it exits once the first frame with the policy and the simulated table has been drawn.
   Wall time over several runs, next to `python -c pass` and `import textual.app` measured the
   same way in the same run (target: under 1.0 s).
2. A 200-rule Talos policy with 2,000 images, in a headless app: an edit that changes a pattern
   (and so many rows), then the time until the table shows it (analysis in its thread plus the
   in-place table update). The 0.15 s typing debounce is set to 0 here and reported apart;
   target: under 50 ms.

Run: python bench/tui_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _in_pty(argv: list[str], env: dict) -> float:
    """Wall seconds for argv to run to exit attached to an 80x24 pseudo-terminal."""
    import fcntl
    import struct
    import termios

    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    while True:
        ready, _, _ = select.select([fd], [], [], 10)
        if not ready:
            os.kill(pid, 9)
            raise RuntimeError(f"{argv} did not finish")
        try:
            if not os.read(fd, 65536):
                break
        except OSError:  # the child closed the terminal
            break
    os.waitpid(pid, 0)
    elapsed = time.perf_counter() - started
    os.close(fd)
    return elapsed


def startup(runs: int) -> None:
    env = dict(os.environ, PULLGUARD_EXIT_AFTER_FIRST_FRAME="1", TERM="xterm-256color")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import textual.app": [sys.executable, "-c", "import textual.app"],
        "pullguard first frame": [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main([]))"],
    }
    results = {}
    for name, argv in cases.items():
        _in_pty(argv, env)  # warm the disk cache
        times = [_in_pty(argv, env) for _ in range(runs)]
        results[name] = times
    base = statistics.median(results["python -c pass"])
    print(f"startup ({runs} runs each, 80x24 pty, median / min / max):")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"  {name:<24} {med * 1000:7.0f} ms  {min(times) * 1000:6.0f} / {max(times) * 1000:6.0f}   x{med / base:5.1f} of bare python")
    first = statistics.median(results["pullguard first frame"])
    print(f"  target < 1000 ms: {'met' if first < 1.0 else 'NOT met'} ({first * 1000:.0f} ms)")


def big_policy(rules: int) -> str:
    lines = ["apiVersion: v1alpha1", "kind: ImageVerificationConfig", "rules:"]
    for i in range(rules - 1):
        if i % 3 == 0:
            lines += [f"  - image: registry{i}.example.com/team/*", "    skip: true"]
        elif i % 3 == 1:
            lines += [f"  - image: registry{i}.example.com/*", "    deny: true"]
        else:
            lines += [
                f"  - image: ghcr.io/org{i}/*",
                "    keyless:",
                "      issuer: https://token.actions.githubusercontent.com",
                f"      subject: https://github.com/org{i}/app/.github/workflows/release.yml@refs/heads/main",
            ]
    lines += ["  - image: '*'", "    skip: true"]
    return "\n".join(lines) + "\n"


def big_images(count: int, rules: int) -> list[str]:
    out = []
    for n in range(count):
        i = n % rules
        host = f"registry{i}.example.com/team" if i % 3 == 0 else f"registry{i}.example.com" if i % 3 == 1 else f"ghcr.io/org{i}"
        out.append(f"{host}/app{n}:v{n % 7}")
    return out


async def keystrokes(edits: int) -> None:
    from tui.app import ImageItem, PullguardApp

    text = big_policy(200)
    images = big_images(2000, 200)
    app = PullguardApp("bench.yaml", text, [ImageItem(i) for i in images], validate_delay=0.0)
    timings, applies, changed_rows = [], [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        # Toggle rule 0's action (skip <-> deny) and a harmless comment, alternately: the first
        # rewrites every row rule 0 decides, the second changes no row at all.
        for n in range(edits):
            editor = app.editor
            lines = editor.text.split("\n")
            row = lines.index("  - image: registry0.example.com/team/*") + 1
            before = app.analyses
            started = time.perf_counter()
            # One edit as a keystroke makes it (incremental, not a whole-document replace).
            if n % 2 == 0:
                word = "deny" if "skip" in lines[row] else "skip"
                editor.replace(word, (row, 4), (row, 8))
            else:
                editor.insert("#", (len(lines) - 1, 0))
            while app.analyses == before:
                await asyncio.sleep(0)
            timings.append(time.perf_counter() - started)
            t = time.perf_counter()
            app.apply_analysis(app.analysis)  # the in-place table update alone (no rows differ now)
            applies.append(time.perf_counter() - t)
            changed_rows.append(n % 2 == 0)
    from engine.analysis import analyze, clear_cache

    engine_ms = []
    for n in range(5):
        clear_cache()
        t = time.perf_counter()
        analyze(text + "#" * (n + 1), images, "bench-engine.yaml")
        engine_ms.append((time.perf_counter() - t) * 1000)
    edit_ms = [t * 1000 for t, c in zip(timings, changed_rows) if c]
    quiet_ms = [t * 1000 for t, c in zip(timings, changed_rows) if not c]
    print(f"keystroke -> updated table, 200 rules x 2,000 images ({edits} edits, debounce 0; the app waits 150 ms more while typing):")
    print(f"  edit that changes ~10 rows:  median {statistics.median(edit_ms):6.1f} ms  max {max(edit_ms):6.1f} ms")
    print(f"  edit that changes no row:    median {statistics.median(quiet_ms):6.1f} ms  max {max(quiet_ms):6.1f} ms")
    print(f"  table/panes refresh alone:   median {statistics.median(applies) * 1000:6.1f} ms")
    print(f"  engine analyze() alone, cold: median {statistics.median(engine_ms):6.1f} ms (parse + validate + simulate)")
    worst = statistics.median(edit_ms)
    print(f"  target < 50 ms: {'met' if worst < 50 else 'NOT met'} ({worst:.1f} ms median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    os.chdir(ROOT)
    startup(args.runs)
    asyncio.run(keystrokes(args.edits))


if __name__ == "__main__":
    main()
