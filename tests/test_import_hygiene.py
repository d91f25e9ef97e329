"""The engine is reachable without the UI: importing it must not pull in Textual."""

import subprocess
import sys


def test_engine_never_imports_textual_or_tui():
    code = (
        "import importlib, pkgutil, sys\n"
        "import engine\n"
        "for info in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
