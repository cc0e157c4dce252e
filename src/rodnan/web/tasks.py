"""The background tasks and the one worker that runs them (decision 0012).

django-tasks with its database backend (django-tasks-db): a task is a function decorated with
``@task()``, enqueued into the database (``some_task.enqueue(...)``) by any process, and run by the
worker that ``rodnan serve`` and ``rodnan demo`` start beside the web server (``rodnan worker`` runs
one alone). django-tasks has no scheduler, so the worker process adds one: a thread that, on every
tick, enqueues each :data:`PERIODIC` task that no process has enqueued within its interval. With two
servers on one database both schedulers look at the same task table, so a period gets one run (two at
worst, when they tick at the same instant; every periodic task here is harmless to run twice).

Later issues add their tasks here (or in their own module, registered in :data:`PERIODIC`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections
from django.utils import timezone
from django_tasks import task

from rodnan.errors import InputError

logger = logging.getLogger("rodnan.tasks")

CHECKPOINT_MINUTES_ENV = "RODNAN_AUDIT_CHECKPOINT_MINUTES"
DEFAULT_CHECKPOINT_MINUTES = 60.0


@task()
def write_audit_checkpoint() -> dict[str, Any]:
    """Sign the audit chain's head and append it to the checkpoint file; returns the checkpoint."""
    from rodnan.web.audit.chain import write_checkpoint

    checkpoint = write_checkpoint()
    return {"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at, "key_id": checkpoint.key_id}


@task()
def echo(text: str) -> str:
    """Return ``text``: a task that proves a worker runs what is enqueued (tests, ``rodnan worker --check``)."""
    return text


def checkpoint_minutes() -> float:
    """``RODNAN_AUDIT_CHECKPOINT_MINUTES`` (default 60; fractions allowed).

    Raises:
        InputError: the value is not a positive number.
    """
    text = os.environ.get(CHECKPOINT_MINUTES_ENV, "").strip()
    if not text:
        return DEFAULT_CHECKPOINT_MINUTES
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not minutes > 0 or minutes != minutes or minutes == float("inf"):
        raise InputError(CHECKPOINT_MINUTES_ENV, "must be a positive number of minutes", text)
    return minutes


@dataclass(frozen=True)
class Periodic:
    """A task enqueued every ``every()`` (an interval read when the worker starts)."""

    task: Any
    every: Callable[[], dt.timedelta]

    @property
    def path(self) -> str:
        """The task's import path, as the task table stores it."""
        return f"{self.task.func.__module__}.{self.task.func.__qualname__}"


PERIODIC: list[Periodic] = [Periodic(write_audit_checkpoint, lambda: dt.timedelta(minutes=checkpoint_minutes()))]
"""The periodic tasks: the audit checkpoint (every ``RODNAN_AUDIT_CHECKPOINT_MINUTES``)."""


def enqueue_due(now: dt.datetime | None = None, periodic: list[Periodic] | None = None) -> list[str]:
    """Enqueue every periodic task that nobody enqueued within its interval before ``now``; returns their paths."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    enqueued = []
    for job in PERIODIC if periodic is None else periodic:
        since = now - job.every()
        if not DBTaskResult.objects.filter(task_path=job.path, enqueued_at__gt=since).exists():
            job.task.enqueue()
            enqueued.append(job.path)
    return enqueued


class Scheduler(threading.Thread):
    """Enqueues the due periodic tasks every ``tick`` seconds; stops the process when its parent is gone."""

    def __init__(self, tick: float, parent: int | None) -> None:
        super().__init__(name="rodnan-scheduler", daemon=True)
        self.tick = tick
        self.parent = parent
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.parent is not None and os.getppid() != self.parent:  # the server died without stopping us
                logger.warning("the process that started this worker is gone: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                close_old_connections()
                for path in enqueue_due():
                    logger.info("enqueued %s", path)
            except Exception:  # a database hiccup must not end the schedule; the next tick tries again
                logger.exception("could not enqueue the periodic tasks")
            finally:
                close_old_connections()
            self.stopping.wait(self.tick)


def run_worker(*, interval: float = 1.0, parent: int | None = None, batch: bool = False) -> None:
    """Run the task worker in this process until SIGINT or SIGTERM (or, ``batch``, until the queue is empty).

    The scheduler thread enqueues the periodic tasks first (and then every tick: a twentieth of the
    shortest interval, between 0.2 s and 30 s); the worker polls the task table every ``interval`` seconds.

    Args:
        interval: seconds between polls of an empty queue.
        parent: the pid of the server that started this worker; the worker stops when it is gone.
        batch: run what is queued (the periodic tasks due included), then return.
    """
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    shortest = min(job.every().total_seconds() for job in PERIODIC)
    worker_id = f"rodnan-{os.getpid()}-{get_random_string(8)}"
    worker = Worker(queue_names=["*"], interval=interval, batch=batch, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id=worker_id, excluded_queue_names=[])  # fmt: skip
    if batch:
        enqueue_due()
        worker.run()
        return
    scheduler = Scheduler(max(0.2, min(30.0, shortest / 20)), parent)
    scheduler.start()
    worker.configure_signals()
    try:
        worker.run()
    finally:
        scheduler.stopping.set()
