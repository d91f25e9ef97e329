"""Files a person names: read one with a reason they can act on, save one atomically as typed.

The dashboard opens policies and image lists by the path typed into a dialog and saves the
editor's text back. Reading goes through `engine.textfile` (UTF-8 with file:line:column for a
bad byte); a problem comes back as one line that starts with the path, never a traceback.
Saving writes exactly the text given, so comments, key order and quoting survive by
construction: nothing here parses or rewrites YAML.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .textfile import TextFileError, read_text


def expand_home(path: str) -> Path:
    """`path` with a leading `~` or `~user` expanded as a shell expands it. A `~name` naming no
    user stays as written, as bash leaves it (Python raises RuntimeError for it)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def read_user_file(path: str) -> tuple[str | None, str | None]:
    """(text, None), or (None, why it cannot be read, with the path); `~` is expanded."""
    try:
        return read_text(expand_home(path)), None
    except TextFileError as exc:  # already says path:line:column
        return None, str(exc)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half.

    A temp file in the same directory (same filesystem) is written, flushed to disk and renamed
    over the target; the target's permission bits are kept (new files get 0666 & ~umask).
    Line endings are written as they are in `text` (no translation).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
