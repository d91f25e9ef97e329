"""pullguard.engine.textfile: UTF-8 files read once, the same way, with a located message when they are not."""

from __future__ import annotations

import io
import re
import sys

import pytest

from pullguard.engine.textfile import TextFileError, decode_text, read_text

# (bytes, text or None, (line, column, byte) of the first bad byte)
CASES = [
    (b"rules: []\n", "rules: []\n", None),
    (b"\xef\xbb\xbfrules: []\n", "rules: []\n", None),  # a BOM is dropped
    (b"r\xc3\xa9gle: x\n", "r\u00e9gle: x\n", None),
    (b"\xd7", None, (1, 1, 0xD7)),
    (b"ab\xd7", None, (1, 3, 0xD7)),
    (b"a: 1\nb: \xc3\xa9\xd7x\n", None, (2, 5, 0xD7)),  # columns count characters, not bytes
    (b"\xef\xbb\xbf\n\n  \xd7", None, (3, 3, 0xD7)),  # the BOM is not a column
    (b"\xef\xbb\xbfab\xd7", None, (1, 3, 0xD7)),
    (b"\xff\xfe\x00r\x00u", None, (1, 1, 0xFF)),  # UTF-16 with its BOM
    (b"x\n\xe2\x82", None, (2, 1, 0xE2)),  # a sequence cut short at the end
    (b"x\r\ny\xa0", None, (2, 2, 0xA0)),  # Latin-1 no-break space
]


@pytest.mark.parametrize("data,text,where", CASES)
def test_decode_text(data, text, where):
    if where is None:
        assert decode_text(data, "p.yaml") == text
        return
    with pytest.raises(TextFileError) as caught:
        decode_text(data, "p.yaml")
    line, column, byte = where
    err = caught.value
    assert (err.path, err.line, err.column) == ("p.yaml", line, column)
    assert str(err) == f"p.yaml:{line}:{column}: not UTF-8 text (byte 0x{byte:02x})"
    assert "codec" not in str(err) and "position" not in str(err)


@pytest.mark.parametrize("data,text,where", CASES[:4])
def test_read_text_file_and_stdin(tmp_path, monkeypatch, data, text, where):
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    for source, shown in ((path, str(path)), ("-", "<stdin>")):
        if where is None:
            assert read_text(source) == text
        else:
            with pytest.raises(TextFileError, match=rf"^{re.escape(shown)}:1:1: not UTF-8 text \(byte 0xd7\)$"):
                read_text(source)


def test_read_text_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "missing.yaml")
