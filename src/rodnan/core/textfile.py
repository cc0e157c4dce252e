"""Reading users' text files safely: UTF-8 errors named by line and column, and a cap on the size.

A file that is not UTF-8 (a spreadsheet saved as Latin-1, a binary file given by mistake) must give one
clear line naming the file and where the first bad byte is, the way an editor would show it (line and
column, 1-based), never a traceback or a byte offset the user cannot find.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import IO

from rodnan.errors import InputError

NOT_UTF8 = "is not UTF-8 text"


class NotUtf8Error(InputError):
    """A file is not UTF-8: ``field`` is the file, ``line`` and ``column`` (1-based, in characters) where
    its first bad byte is."""

    def __init__(self, field: str, byte: int, line: int, column: int) -> None:
        super().__init__(field, not_utf8_rule(byte, line, column))
        self.byte, self.line, self.column = byte, line, column

    def __reduce__(self) -> tuple[type[NotUtf8Error], tuple[str, int, int, int]]:  # type: ignore[override]
        return (type(self), (self.field, self.byte, self.line, self.column))


def utf8_position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based (line, column) of byte ``offset`` of ``data``, the column counted in characters."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", errors="replace")) + 1


def not_utf8_rule(byte: int, line: int, column: int) -> str:
    """The rule of the error for a bad byte: what it is and where."""
    return f"{NOT_UTF8}: byte 0x{byte:02x} at line {line}, column {column} cannot be read (save the file as UTF-8)"


def decode_utf8(data: bytes, name: str) -> str:
    """``data`` decoded as UTF-8 (a leading byte-order mark is dropped).

    Args:
        data: the file's bytes.
        name: the file's name, for the error.

    Raises:
        NotUtf8Error: ``name``: the first byte that is not UTF-8, with its line and column.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        decoded: bytes = exc.object  # without the byte-order mark, if there was one
        line, column = utf8_position(decoded, exc.start)
        raise NotUtf8Error(name, decoded[exc.start], line, column) from None


def read_utf8(path: Path, max_bytes: int, what: str = "file") -> str:
    """The text of a UTF-8 file of at most ``max_bytes`` bytes.

    Args:
        path: the file.
        max_bytes: the largest size accepted (checked before the file is read, and again while reading,
            for files whose size the system does not tell, such as pipes).
        what: what the file is, for the error about its size (e.g. "a protocol file").

    Raises:
        InputError: ``path``: cannot be read or too large; :class:`NotUtf8Error` when it is not UTF-8.
    """
    name = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(name, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(name, f"is larger than {max_bytes:,} bytes, the most {what} may have")
    return decode_utf8(data, name)


def check_utf8_stream(handle: IO[bytes], name: str, first_line: int = 1, piece_bytes: int = 1 << 16) -> None:
    """Read a binary stream to its end and raise at its first byte that is not UTF-8 (in constant memory).

    Used after a reader (e.g. pandas) failed to decode a file, to name the line and column instead of
    the offset in the reader's own buffer. ``first_line`` is the line of the file the stream starts at
    (for a block cut out of a file).

    Raises:
        NotUtf8Error: ``name``: the first bad byte, with its line and column.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, column = first_line, 1
    while True:
        piece = handle.readline(piece_bytes)
        try:
            text = decoder.decode(piece, final=not piece)
        except UnicodeDecodeError as exc:
            data: bytes = exc.object  # the decoder's held-back bytes, then this piece
            column += len(data[: exc.start].decode("utf-8", errors="replace"))
            raise NotUtf8Error(name, data[exc.start], line, column) from None
        if not piece:
            return
        if text.endswith("\n"):
            line, column = line + 1, 1
        else:
            column += len(text)


def check_utf8_file(path: Path, name: str | None = None) -> None:
    """:func:`check_utf8_stream` on a file (nothing happens when it cannot be opened)."""
    try:
        handle = path.open("rb")
    except OSError:
        return
    with handle:
        check_utf8_stream(handle, name or str(path))
