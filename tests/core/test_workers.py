"""rodnan.core.workers: run_ordered (results in round-robin order from forked processes) and share_work (a child
starts on the tasks while the caller does something else, then both take them); errors raised here."""

from __future__ import annotations

import gc
import os
import signal
import time
from pathlib import Path

import pytest

from rodnan.core.workers import fewer_collections, run_ordered, share_work
from rodnan.errors import InputError


def _square_with_pid(task: int) -> tuple[int, int]:
    return task * task, os.getpid()


def test_results_come_back_round_robin_from_other_processes() -> None:
    lanes = [[1, 2, 3], [10, 20], [100]]
    results = list(run_ordered(lanes, _square_with_pid))
    assert [r for r, _ in results] == [1, 100, 10000, 4, 400, 9]  # lane 0, 1, 2, then 0, 1, then 0
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert len(pids) == 3


def test_one_lane_runs_here_in_order() -> None:
    results = list(run_ordered([[3, 1, 2]], _square_with_pid))
    assert results == [(9, os.getpid()), (1, os.getpid()), (4, os.getpid())]


def _refuse_seven(task: int) -> int:
    if task == 7:
        raise InputError("task", "must not be seven", task)
    return task


def test_a_worker_error_is_raised_here_with_its_field_and_rule() -> None:
    with pytest.raises(InputError) as error:
        list(run_ordered([[1, 7, 2], [3, 4, 5]], _refuse_seven))
    assert (error.value.field, error.value.rule, error.value.value) == ("task", "must not be seven", 7)


def test_fewer_collections_raises_the_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    with fewer_collections(12345):
        assert gc.get_threshold() == (12345, *before[1:])
    assert gc.get_threshold() == before


def _slow_or_refuse(task: int) -> int:
    if task == 7:
        raise InputError("task", "must not be seven", task)
    time.sleep(30)
    return task


def test_stopped_workers_do_not_run_the_callers_sigterm_handler(tmp_path: Path) -> None:
    marker = tmp_path / "handler-ran"

    def handler(signum: int, frame: object) -> None:
        marker.write_text(str(os.getpid()))

    before = signal.signal(signal.SIGTERM, handler)
    try:
        started = time.monotonic()
        with pytest.raises(InputError):  # lane 0 fails at once; lane 1 is still sleeping and is stopped
            list(run_ordered([[7], [1]], _slow_or_refuse))
        assert time.monotonic() - started < 20
    finally:
        signal.signal(signal.SIGTERM, before)
    assert not marker.exists()


def _cube_with_pid(task: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough that the child takes some of the tasks while the caller is busy
    return task**3, os.getpid()


def test_share_work_returns_meanwhile_and_every_result_in_task_order() -> None:
    def meanwhile() -> str:
        time.sleep(0.3)
        return "survival"

    first, results = share_work(list(range(12)), _cube_with_pid, meanwhile)
    assert first == "survival"
    assert [r for r, _ in results] == [k**3 for k in range(12)]
    pids = {pid for _, pid in results}
    assert len(pids - {os.getpid()}) == 1  # the child took tasks while this process was busy


def test_share_work_with_one_task_runs_here() -> None:
    first, results = share_work([4], _square_with_pid, lambda: 1)
    assert (first, results) == (1, [(16, os.getpid())])


def test_share_work_raises_a_task_error_from_the_child_with_its_field_and_rule() -> None:
    def meanwhile() -> None:
        time.sleep(0.5)  # the child takes task 0 (seven) first

    with pytest.raises(InputError) as error:
        share_work([7, 1, 2], _refuse_seven, meanwhile)
    assert (error.value.field, error.value.rule, error.value.value) == ("task", "must not be seven", 7)


def test_share_work_raises_the_callers_error_and_stops_the_child() -> None:
    def meanwhile() -> None:
        raise InputError("meanwhile", "failed", None)

    started = time.monotonic()
    with pytest.raises(InputError, match="meanwhile"):
        share_work([1, 2, 3], _slow_or_refuse, meanwhile)  # the child sleeps 30 s per task: it is killed
    assert time.monotonic() - started < 20
