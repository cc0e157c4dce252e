"""Users' text files: the first byte that is not UTF-8 named by line and column (characters, 1-based)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rodnan.core import textfile
from rodnan.errors import InputError


def test_decode_names_line_and_column_in_characters() -> None:
    """Line 2 is 'ab', 'é' (two bytes), 'c', then 0xff: column 5 in characters (byte offset 10 in the file)."""
    data = b"first\nab" + "é".encode() + b"c\xff\n"
    with pytest.raises(InputError) as caught:
        textfile.decode_utf8(data, "x.csv")
    assert str(caught.value) == "x.csv: is not UTF-8 text: byte 0xff at line 2, column 5 cannot be read (save the file as UTF-8)"


def test_the_error_keeps_its_position_across_processes() -> None:
    """Screening's worker processes raise it; it comes back whole through pickle."""
    import pickle

    error = textfile.NotUtf8Error("f.csv", 0xE9, 30_002, 2)
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), str(back), back.line, back.column) == (textfile.NotUtf8Error, str(error), 30_002, 2)


def test_decode_drops_a_byte_order_mark_and_keeps_the_text() -> None:
    assert textfile.decode_utf8("\ufeffa,é\n".encode(), "x") == "a,é\n"


@pytest.mark.parametrize("piece_bytes", [1, 2, 3, 7, 1 << 16])
def test_the_stream_check_agrees_whatever_the_pieces(piece_bytes: int) -> None:
    """A multi-byte character cut between two pieces is still one character; the bad byte is on line 3."""
    data = "a\nüüü\nxy€".encode() + b"\xfe\n"
    with pytest.raises(InputError, match=r"byte 0xfe at line 3, column 4 "):
        textfile.check_utf8_stream(io.BytesIO(data), "f", piece_bytes=piece_bytes)
    textfile.check_utf8_stream(io.BytesIO("a\nüüü\n€".encode()), "f", piece_bytes=piece_bytes)  # valid: no error


def test_the_stream_check_counts_lines_from_the_given_first_line() -> None:
    with pytest.raises(InputError, match=r"at line 101, column 1 "):
        textfile.check_utf8_stream(io.BytesIO(b"ok\n\x80\n"), "f", first_line=100)


def test_a_truncated_character_at_the_end_is_named() -> None:
    with pytest.raises(InputError, match=r"byte 0xe2 at line 1, column 3 "):
        textfile.check_utf8_stream(io.BytesIO(b"ab\xe2\x82"), "f")


def test_read_utf8_refuses_a_file_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 11)
    with pytest.raises(InputError, match="is larger than 10 bytes, the most a test file may have"):
        textfile.read_utf8(path, 10, "a test file")
    path.write_bytes(b"x" * 10)
    assert textfile.read_utf8(path, 10) == "x" * 10
