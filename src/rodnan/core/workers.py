"""Pure work spread over forked processes: results taken back in a fixed order, or a list of tasks shared with the caller.

The bulk import (decision 0013) builds each subject's course through the core's plans, which is pure
Python and takes most of the import's time, while the writing of the rows and the audit chain must stay
in the one process that holds the database transaction. :func:`run_ordered` forks worker processes
that each work through their own list of tasks in order (a worker may keep state from one task to the
next, e.g. the numbers it allocated), and yields the results round-robin: worker 0's first result,
worker 1's first, ..., worker 0's second, ... so the caller writes them in a fixed order while the
workers compute the next ones.

The workers are forked (Linux and macOS), so they inherit the caller's objects (the protocol, the
cohort) without pickling them; only the results travel back, pickled. A worker must not touch the
database: it inherits the connection's socket or file but never uses it. Each worker keeps at most
``ahead`` results waiting; an exception in a worker is raised in the caller (pickled when it can be,
else as a RuntimeError with its text), and every worker is killed (SIGKILL) when the caller stops early.

:func:`share_work` is the other shape: a forked child starts on a list of tasks while the caller does
something else first, then joins in (the report fits its mixed models so while it analyses survival).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

_DONE = "done"
_RESULT = "result"
_ERROR = "error"


def can_fork() -> bool:
    """True when worker processes can be forked here (not on Windows)."""
    return "fork" in mp.get_all_start_methods()


def _serve(tasks: Sequence[T], work: Callable[[T], R], queue: Any) -> None:
    """A worker's loop: each task in order, its result (or the first exception) put on ``queue``.

    The caller's handlers of SIGTERM and SIGINT are dropped (a SIGTERM sent to the whole process group must end
    a worker, not run the caller's cleanup).
    The objects inherited from the caller are frozen out of the garbage collector's reach (``gc.freeze``):
    the worker never frees them, and scanning them again and again cost a tenth of the import's time.
    """
    # the caller's signal handlers are not the worker's: a SIGTERM must end this process, not run the caller's
    # cleanup (the test suite's handler stops its database server)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it stops the workers
    gc.freeze()
    try:
        for task in tasks:
            queue.put((_RESULT, work(task)))
    except BaseException as exc:
        queue.put((_ERROR, error_payload(exc)))
    else:
        queue.put((_DONE, None))
    queue.close()
    queue.join_thread()


def run_ordered(lanes: Sequence[Sequence[T]], work: Callable[[T], R], *, ahead: int = 2) -> Iterator[R]:
    """``work(task)`` for every task, one forked process per lane, yielded round-robin across the lanes.

    With one lane (or where processes cannot be forked) the tasks run in this process, in the same order.

    Args:
        lanes: one list of tasks per worker process, worked through in order.
        work: the function each worker calls (inherited by the fork: it may close over any object).
        ahead: how many results a worker may compute before the caller takes them.

    Yields:
        The results: lane 0's first, lane 1's first, ..., then each lane's second, and so on (a lane
        that has run out is skipped).

    Raises:
        The exception a worker raised (or RuntimeError with its text when it cannot be pickled).
    """
    if len(lanes) <= 1 or not can_fork():
        yield from _in_process(lanes, work)
        return
    context = mp.get_context("fork")
    queues = [context.Queue(maxsize=max(1, ahead)) for _ in lanes]
    processes = [
        context.Process(target=_serve, args=(tasks, work, queue), daemon=True, name=f"rodnan-worker-{i}")
        for i, (tasks, queue) in enumerate(zip(lanes, queues, strict=True))
    ]
    for process in processes:
        process.start()
    try:
        open_lanes = [i for i, tasks in enumerate(lanes) if tasks]
        while open_lanes:
            for i in list(open_lanes):
                kind, payload = queues[i].get()
                if kind == _DONE:
                    open_lanes.remove(i)
                    continue
                if kind == _ERROR:
                    raise_error(payload, "a worker process")
                yield payload
    finally:
        for process in processes:
            if process.is_alive():  # SIGKILL: a worker not yet past its start would run the caller's SIGTERM handler
                process.kill()
        for process in processes:
            process.join()
        for queue in queues:
            queue.close()


def share_work(tasks: Sequence[T], work: Callable[[T], R], meanwhile: Callable[[], S]) -> tuple[S, list[R]]:
    """``meanwhile()`` here while a forked child starts on ``work(task)`` for the tasks; this process joins
    in when ``meanwhile`` is done: each process takes the next task not yet taken, until none is left.

    Which process computes which task depends on timing, the results do not (the child inherits the same
    objects and runs the same code). Where processes cannot be forked, or with fewer than two tasks,
    everything runs here: ``meanwhile()`` then each task in order.

    Args:
        tasks: the tasks (inherited by the fork, never pickled).
        work: the function called on each task; its results travel back pickled.
        meanwhile: what this process does first.

    Returns:
        What ``meanwhile()`` returned, and the results of the tasks in the tasks' order.

    Raises:
        The exception ``meanwhile`` or a task raised (a child's pickled when it can be, else a RuntimeError
        with its text, as in :func:`run_ordered`).
    """
    if len(tasks) < 2 or not can_fork():
        first = meanwhile()
        return first, [work(task) for task in tasks]
    context = mp.get_context("fork")
    taken = context.Value("i", 0)
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_take_tasks, args=(tasks, work, taken, send), daemon=True, name="rodnan-shared-work")
    child.start()
    send.close()
    results: dict[int, R] = {}
    try:
        first = meanwhile()
        while (k := _next_task(taken, len(tasks))) is not None:
            results[k] = work(tasks[k])
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                raise RuntimeError(f"a worker process ended with exit code {child.exitcode} before its last result") from None
            if kind == _DONE:
                break
            if kind == _ERROR:
                raise_error(payload, "a worker process")
            k, result = payload
            results[k] = result
    finally:
        if child.is_alive() and not receive.poll():
            child.kill()
        receive.close()
        child.join()
    return first, [results[k] for k in range(len(tasks))]


def _next_task(taken: Any, count: int) -> int | None:
    """The index of the next task nobody has taken (and now this process's), or None when all are taken."""
    with taken.get_lock():
        k = int(taken.value)
        if k >= count:
            return None
        taken.value = k + 1
    return k


def _take_tasks(tasks: Sequence[T], work: Callable[[T], R], taken: Any, send: Any) -> None:
    """The child of :func:`share_work`: tasks taken one at a time, each result (index, result) sent back."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while (k := _next_task(taken, len(tasks))) is not None:
            send.send((_RESULT, (k, work(tasks[k]))))
    except BaseException as exc:
        send.send((_ERROR, error_payload(exc)))
    else:
        send.send((_DONE, None))
    finally:
        send.close()


def error_payload(exc: BaseException) -> bytes | str:
    """An exception of a child process, to send to its parent: pickled when it can be, else its traceback's text."""
    try:
        return pickle.dumps(exc)
    except Exception:
        return "".join(traceback.format_exception(exc))


def raise_error(payload: bytes | str, what: str) -> NoReturn:
    """Raise in the parent the exception of :func:`error_payload` (a RuntimeError "``what`` failed" with its text
    when it could not be pickled)."""
    if isinstance(payload, bytes):
        raise pickle.loads(payload)
    raise RuntimeError(f"{what} failed:\n{payload}")


def _in_process(lanes: Sequence[Sequence[T]], work: Callable[[T], R]) -> Iterator[R]:
    """The round-robin order of :func:`run_ordered`, computed here, one task at a time."""
    for k in range(max((len(tasks) for tasks in lanes), default=0)):
        for tasks in lanes:
            if k < len(tasks):
                yield work(tasks[k])


@contextmanager
def fewer_collections(threshold: int = 100_000) -> Iterator[None]:
    """Run the garbage collector's youngest generation every ``threshold`` allocations instead of 700 while a
    bulk job allocates millions of short-lived objects (restored after)."""
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def default_workers() -> int:
    """How many worker processes to use: the processors this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
