"""The background task runner: an enqueued task is run by the worker; the periodic checkpoint appears; serve starts
and stops the worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from django.utils import timezone

from rodnan.core.audit import read_checkpoints
from rodnan.errors import InputError
from rodnan.web import tasks
from rodnan.web.audit.chain import Change, append

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from rodnan.cli.app import main; main()"]


@pytest.fixture(autouse=True)
def audit_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RODNAN_AUDIT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("RODNAN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return tmp_path


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a ``rodnan`` subprocess on a data folder of its own (no test database, no test key folder)."""
    drop = ("DATABASE_URL", "RODNAN_AUDIT_KEY_DIR", "RODNAN_AUDIT_CHECKPOINT_FILE", "RODNAN_DATA")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    return {**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **extra}


def test_checkpoint_minutes_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tasks.CHECKPOINT_MINUTES_ENV, raising=False)
    assert tasks.checkpoint_minutes() == 60.0
    monkeypatch.setenv(tasks.CHECKPOINT_MINUTES_ENV, "0.5")
    assert tasks.checkpoint_minutes() == 0.5
    for bad in ("0", "-3", "soon", "nan", "inf"):
        monkeypatch.setenv(tasks.CHECKPOINT_MINUTES_ENV, bad)
        with pytest.raises(InputError) as caught:
            tasks.checkpoint_minutes()
        assert caught.value.field == tasks.CHECKPOINT_MINUTES_ENV


@pytest.mark.django_db
def test_a_periodic_task_is_enqueued_once_per_interval_and_run_by_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.models import DBTaskResult

    monkeypatch.setenv(tasks.CHECKPOINT_MINUTES_ENV, "10")
    # the worker closes "obsolete" connections between tasks, and the test's open transaction looks obsolete to it
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    append(user=None, role="", changes=[Change("x"), Change("y")])
    now = timezone.now()
    assert tasks.enqueue_due(now) == ["rodnan.web.tasks.write_audit_checkpoint"]
    assert tasks.enqueue_due(now + dt.timedelta(minutes=9)) == []  # enqueued less than 10 minutes before
    echoed = tasks.echo.enqueue("ping")
    assert DBTaskResult.objects.filter(status="READY").count() == 2

    tasks.run_worker(batch=True)  # runs what is queued, then returns

    assert DBTaskResult.objects.get(id=echoed.id).return_value == "ping"
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    (checkpoint,) = read_checkpoints(Path(os.environ["RODNAN_AUDIT_CHECKPOINT_FILE"]))
    assert checkpoint.seq == 2
    later = now + dt.timedelta(minutes=10, seconds=1)
    assert tasks.enqueue_due(later) == ["rodnan.web.tasks.write_audit_checkpoint"]


def test_the_worker_process_runs_an_enqueued_task_and_writes_periodic_checkpoints(tmp_path: Path) -> None:
    data = tmp_path / "data"
    enqueue = (
        "import sys; from pathlib import Path; from rodnan.web import runtime; runtime.setup(Path(sys.argv[1]));"
        "runtime.migrate(); from rodnan.web.tasks import echo; print(echo.enqueue('hello from the test').id)"
    )
    done = subprocess.run([sys.executable, "-c", enqueue, str(data)], capture_output=True, text=True, env=child_env(),
                          cwd=ROOT, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip().replace("-", "")
    worker = subprocess.Popen([*CLI, "worker", "--data", str(data)], env=child_env(RODNAN_AUDIT_CHECKPOINT_MINUTES="0.02"),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        checkpoints = data / "audit" / "checkpoints.jsonl"
        deadline = time.monotonic() + 90
        result = None
        while time.monotonic() < deadline:
            with closing(sqlite3.connect(data / "rodnan.sqlite3", timeout=20)) as db:
                result = db.execute("SELECT status, return_value FROM django_tasks_database_dbtaskresult WHERE "
                                    "replace(id, '-', '') = ?", (task_id,)).fetchone()  # fmt: skip
            if result and result[0] == "SUCCESSFUL" and checkpoints.exists() and len(read_checkpoints(checkpoints)) >= 2:
                break
            time.sleep(0.5)
        assert result == ("SUCCESSFUL", json.dumps("hello from the test"))
        lines = read_checkpoints(checkpoints)
        assert len(lines) >= 2, "the periodic checkpoint ran once at most in 90 s with a 1.2 s interval"
        assert (lines[0].seq, lines[0].key_id) == (0, "k1")
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(proc.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_serve_starts_the_worker_and_stops_it(tmp_path: Path) -> None:
    data, port = tmp_path / "data", _free_port()
    server = subprocess.Popen([*CLI, "serve", "--data", str(data), "--port", str(port), "--workers", "1"],
                              env=child_env(RODNAN_AUDIT_CHECKPOINT_MINUTES="0.02"), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        checkpoints = data / "audit" / "checkpoints.jsonl"
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                    status = response.status
            except OSError:
                status = None
            if status == 200 and checkpoints.exists():
                break
            time.sleep(0.5)
        assert (status, checkpoints.exists()) == (200, True)
        workers = [pid for pid in _children(server.pid) if " worker " in _cmdline(pid)]
        assert len(workers) == 1
        assert oct((data / "audit" / "keys" / "k1.key").stat().st_mode & 0o777) == "0o600"
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode == 0, output
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Path(f"/proc/{workers[0]}").exists() and "worker" in _cmdline(workers[0]):
        time.sleep(0.2)
    assert "worker" not in _cmdline(workers[0]), "the worker outlived the server"
