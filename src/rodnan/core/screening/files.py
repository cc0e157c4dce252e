"""Screening a candidates CSV file: in chunks in this process, or cut into blocks for forked worker
processes, with duplicated subject ids removed across chunks and blocks.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core import textfile
from rodnan.core.protocol.model import Study
from rodnan.core.screening.evaluate import ScreenedBatch, screen_batch
from rodnan.core.screening.read import (
    DUPLICATE_RULE,
    ID_COLUMN,
    CandidateBatch,
    InputIssue,
    SeenIds,
    WidePlan,
    detect_layout,
    plan_wide_columns,
    read_long,
    read_wide_chunk,
)
from rodnan.errors import InputError

CHUNK_ROWS = 100_000
_READ_OPTIONS: dict[str, Any] = {"keep_default_na": False, "na_values": [""], "skip_blank_lines": False}


Render = Callable[[Study, ScreenedBatch], list[str]]
"""Turns a screened batch into one output string per candidate (CSV line, JSON object)."""

BLOCK_BYTES = 8 << 20
"""Bytes of CSV text per block handed to a worker process (about 75,000 candidates)."""


@dataclass
class RenderedChunk:
    """A chunk of candidates screened and rendered, with what the caller needs to account for it.

    ``text`` is the candidates' renderings, UTF-8 encoded and joined by the separator, so that
    the parent process only writes bytes (no per-candidate objects cross the process boundary).
    """

    text: bytes
    subject_ids: npt.NDArray[np.object_]
    lines: npt.NDArray[np.int64]
    verdicts: npt.NDArray[np.int8]
    issues: list[InputIssue]
    rows_read: int


_WORKER_STATE: dict[str, Any] = {}
"""What a forked worker process needs; set in the parent just before the workers are forked."""


def _screen_block(block: bytes, first_line: int) -> RenderedChunk:
    """Worker: parse one block of a wide file, screen it and render each candidate."""
    state = _WORKER_STATE
    study: Study = state["study"]
    try:
        frame = pd.read_csv(io.BytesIO(block), header=None, names=state["raw_header"], **state["options"])
    except pd.errors.ParserError as exc:
        # pandas counts lines from the start of the block: make them lines of the file
        message = re.sub(r"line (\d+)", lambda m: f"line {first_line + int(m.group(1)) - 1}", str(exc).strip())
        raise InputError(state["name"], f"is not a usable CSV file: {message}") from None
    except UnicodeDecodeError as exc:
        textfile.check_utf8_stream(io.BytesIO(block), state["name"], first_line)
        raise InputError(state["name"], f"{textfile.NOT_UTF8}: {exc.reason}") from None
    frame.columns = state["header"]
    batch = read_wide_chunk(state["plan"], frame, first_line, None)  # the parent checks across blocks
    screened = screen_batch(study, batch)
    text = state["separator"].join(state["render"](study, screened)).encode()
    return RenderedChunk(text, batch.subject_ids, batch.lines, screened.verdicts, batch.issues, len(frame))


def _blocks(handle: IO[bytes], block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Cut a file (after its header line) into blocks of whole lines; yields (block, its first line).

    A cut never falls inside a quoted field: the number of quote characters before it is even.
    """
    line = 2
    carry = b""
    while True:
        data = handle.read(block_bytes)
        buffer = carry + data
        if not data:
            if buffer:
                yield buffer, line
            return
        cut = buffer.rfind(b"\n") + 1
        while cut > 0 and b'"' in buffer and buffer.count(b'"', 0, cut) % 2:
            cut = buffer.rfind(b"\n", 0, cut - 1) + 1
        if cut == 0:
            carry = buffer
            continue
        block, carry = buffer[:cut], buffer[cut:]
        yield block, line
        line += block.count(b"\n")


def screen_csv_rendered(
    study: Study,
    source: str | Path | IO[str],
    render: Render,
    separator: str = "\n",
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[RenderedChunk]:
    """Screen a candidates CSV and render every candidate, in parallel worker processes.

    A wide file on disk larger than one block is cut into blocks of whole lines that forked worker
    processes parse, screen and render; the results come back in file order, and duplicated
    subject ids across blocks are removed here. Anything else (long layout, an open stream, a
    small file, one CPU) is screened in this process by :func:`screen_csv`, with the same output.

    Args:
        study: the protocol.
        source: path or open text file.
        render: function turning a screened batch into one string per candidate; must be a
            module-level function (workers receive it by fork).
        separator: what goes between two candidates' strings; must not occur inside one.
        workers: worker processes (default: the number of CPUs).
        progress: called with the number of rows processed.
        block_bytes: size of the blocks handed to workers (a file no larger is screened here).

    Raises:
        InputError: the file is unusable.
    """
    workers = workers or os.cpu_count() or 1
    path = Path(source) if isinstance(source, str | Path) else None
    parallel = (
        path is not None
        and workers > 1
        and "fork" in mp.get_all_start_methods()
        and path.is_file()
        and path.stat().st_size > block_bytes
    )
    header = _read_header(source) if parallel else None
    if not parallel or header is None or detect_layout(header[1]) == "long":
        for screened, issues in screen_csv(study, source, progress=progress):
            batch = screened.batch
            text = separator.join(render(study, screened)).encode()
            yield RenderedChunk(text, batch.subject_ids, batch.lines, screened.verdicts, issues, len(batch))
        return
    assert path is not None
    raw_header, clean_header = header
    plan = plan_wide_columns(study, clean_header)
    _WORKER_STATE.update(
        study=study, plan=plan, raw_header=raw_header, header=clean_header, render=render, separator=separator, name=str(path),
        options={**_READ_OPTIONS, "dtype": _dtypes(plan, raw_header, clean_header)},
    )  # fmt: skip
    seen = SeenIds()
    first_issues = list(plan.issues)
    with path.open("rb") as handle, ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        handle.readline()  # the header
        pending: deque[Future[RenderedChunk]] = deque()
        blocks = _blocks(handle, block_bytes)
        for block, line in blocks:
            pending.append(pool.submit(_screen_block, block, line))
            if len(pending) >= 2 * workers:
                yield _accept(pending.popleft().result(), seen, first_issues, separator, progress)
                first_issues = []
        while pending:
            yield _accept(pending.popleft().result(), seen, first_issues, separator, progress)
            first_issues = []
    if first_issues:
        empty = np.array([], dtype=object)
        yield RenderedChunk(b"", empty, np.array([], np.int64), np.array([], np.int8), first_issues, 0)


def _accept(
    chunk: RenderedChunk, seen: SeenIds, issues: list[InputIssue], separator: str, progress: Callable[[int], None] | None
) -> RenderedChunk:
    """Drop candidates whose id came in an earlier block; add the header issues to the first chunk."""
    duplicated = seen.duplicated(chunk.subject_ids, unique_within=True)
    chunk.issues = issues + chunk.issues
    if duplicated.any():
        for i in np.flatnonzero(duplicated):
            chunk.issues.append(
                InputIssue(int(chunk.lines[i]), ID_COLUMN, DUPLICATE_RULE, str(chunk.subject_ids[i]), "duplicated subject id")
            )
        keep = ~duplicated
        pieces = chunk.text.split(separator.encode())
        chunk.text = separator.encode().join(piece for piece, k in zip(pieces, keep.tolist(), strict=True) if k)
        chunk.subject_ids, chunk.lines, chunk.verdicts = chunk.subject_ids[keep], chunk.lines[keep], chunk.verdicts[keep]
    if progress:
        progress(chunk.rows_read)
    return chunk


def _read_header(source: str | Path | IO[str]) -> tuple[list[str], list[str]] | None:
    """The raw and the stripped column names, or None when the file has none (the caller reports it)."""
    try:
        raw = pd.read_csv(source, nrows=0).columns.tolist()
    except (OSError, UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None
    return raw, [h.strip() for h in raw]


def _dtypes(plan: WidePlan, raw_header: list[str], header: list[str]) -> dict[str, Any]:
    """Read the subject id as text and yes/no and choice columns straight into categories."""
    categorical = {c.header for c in plan.columns if c.item.type in ("boolean", "choice")}
    return {
        raw: ("category" if clean in categorical else str)
        for raw, clean in zip(raw_header, header, strict=True)
        if clean in categorical or clean == ID_COLUMN
    }


def _prefetch(chunks: Iterator[pd.DataFrame], depth: int = 2) -> Iterator[pd.DataFrame]:
    """Parse the next chunks in a background thread while the current one is screened.

    pandas' C parser releases the GIL while it tokenises, so on two cores parsing overlaps the
    screening. Exceptions raised while parsing are re-raised here, in order.
    """
    pending: queue.Queue[pd.DataFrame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    def put(item: pd.DataFrame | BaseException | None) -> bool:
        """Queue an item unless the consumer has gone; tell whether it was queued."""
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    worker = threading.Thread(target=produce, name="rodnan-csv-reader", daemon=True)
    worker.start()
    try:
        while (item := pending.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def screen_csv(
    study: Study,
    source: str | Path | IO[str],
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[ScreenedBatch, list[InputIssue]]]:
    """Screen a candidates CSV in chunks; yields each screened batch with its input issues.

    Args:
        study: the protocol.
        source: a path or an open text file.
        chunk_rows: rows per chunk (bounds memory for wide files).
        progress: called with the number of rows just processed.

    Raises:
        InputError: the file is unusable (unreadable, empty, no subject_id column, broken CSV).
    """
    read_options: dict[str, Any] = {**_READ_OPTIONS, "dtype": {ID_COLUMN: str}}
    name = str(source) if isinstance(source, str | Path) else getattr(source, "name", "<input>")
    try:
        header = pd.read_csv(source, nrows=0).columns.tolist()
        if not isinstance(source, str | Path):
            source.seek(0)
    except UnicodeDecodeError as exc:
        _not_utf8(source, name, exc)
    except OSError as exc:
        raise InputError(name, f"cannot be read: {exc.strerror or exc}") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(name, f"is not a usable CSV file: {exc}") from None
    raw_header, header = header, [h.strip() for h in header]
    try:
        if detect_layout(header) == "long":
            frame = pd.read_csv(source, **{**read_options, "dtype": str})
            frame.columns = header
            batch = read_long(study, frame)
            if progress:
                progress(len(frame))
            yield screen_batch(study, batch), batch.issues
            return
        plan = plan_wide_columns(study, header)
        dtypes = _dtypes(plan, raw_header, header)
        issues: list[InputIssue] = list(plan.issues)
        seen = SeenIds()
        line = 2
        chunks = pd.read_csv(source, chunksize=chunk_rows, **{**read_options, "dtype": dtypes})
        for chunk in _prefetch(chunks):
            chunk.columns = header
            batch = read_wide_chunk(plan, chunk, line, seen)
            line += len(chunk)
            if progress:
                progress(len(chunk))
            yield screen_batch(study, batch), issues + batch.issues
            issues = []
        if issues:
            yield screen_batch(study, CandidateBatch(np.array([], dtype=object), np.array([], dtype=np.int64), {})), issues
    except pd.errors.ParserError as exc:
        raise InputError(name, f"is not a usable CSV file: {exc}") from None
    except UnicodeDecodeError as exc:
        _not_utf8(source, name, exc)


def _not_utf8(source: str | Path | IO[str], name: str, exc: UnicodeDecodeError) -> NoReturn:
    """Raise the error for a file pandas could not decode, naming the line and column of its first bad byte
    (pandas' own error gives an offset in its read buffer)."""
    if isinstance(source, str | Path):
        textfile.check_utf8_file(Path(source), name)
    raise InputError(name, f"{textfile.NOT_UTF8}: {exc.reason}") from None
