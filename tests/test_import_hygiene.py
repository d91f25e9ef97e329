"""The engine is reachable without the UI: importing it must not pull in Textual."""

import subprocess
import sys


def test_engine_never_imports_textual_or_tui():
    code = (
        "import importlib, pkgutil, sys\n"
        "import pullguard.engine\n"
        "for info in pkgutil.walk_packages(pullguard.engine.__path__, 'pullguard.engine.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('pullguard.tui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
