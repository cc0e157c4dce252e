"""Starting Django from the command line: point it at a data folder, migrate, serve with gunicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def setup(data: Path | None = None, database_url: str | None = None) -> Path:
    """Configure and start Django for ``data`` (default ``./rodnan-data``); returns the data folder."""
    folder = (data or Path(os.environ.get("RODNAN_DATA", "rodnan-data"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "static").mkdir(exist_ok=True)  # STATIC_ROOT: whitenoise warns at start when it is missing
    os.environ["RODNAN_DATA"] = str(folder)
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rodnan.web.settings")
    import django

    django.setup()
    return folder


def prepare_audit_key() -> Path:
    """Create the audit key at first start (``<data>/audit/keys/k1.key``, mode 0600); returns the key folder."""
    from rodnan.web.audit.chain import key_dir, key_ring

    key_ring()
    return key_dir()


WORKER_COMMAND = [sys.executable, "-c", "from rodnan.cli.app import main; main()", "worker"]


@contextmanager
def background_worker(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``rodnan worker`` for ``data`` beside the caller (the web server) and stop it when the block ends.

    The worker inherits the environment :func:`setup` prepared (data folder, ``DATABASE_URL``); it stops
    by itself if this process dies without stopping it.
    """
    command = [*WORKER_COMMAND, "--data", str(data), "--parent", str(os.getpid())]
    worker = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)


def migrate(verbosity: int = 0) -> None:
    """Create or update the database tables."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def database_label() -> str:
    """The database in use, for people (no password)."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {settings['NAME']}"
    return f"PostgreSQL {settings.get('NAME')} on {settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}"


DEFAULT_WORKERS, DEFAULT_THREADS = 5, 1
"""Five single-threaded (sync) workers on two cores: a sync worker accepts a connection only when it is
idle, so requests go to free workers; threaded workers keep each client's keep-alive connection and
queued requests behind a busy one (p95 three times the median in the benchmark; decision 0007)."""


SOCKET_PATH_MAX = 100
"""Longest Unix socket path used (the kernel's limit is 107 bytes on Linux, 103 on macOS)."""


def control_socket(data: Path, port: int) -> str | None:
    """gunicorn's control socket for the server of data folder ``data`` on ``port``: ``<data>/run/gunicorn-<port>.ctl``,
    so two servers on one host never share one (gunicorn's default is one path per user); None when the path would
    be too long for a Unix socket (the control interface is then off)."""
    path = Path(data).resolve() / "run" / f"gunicorn-{port}.ctl"
    return str(path) if len(str(path).encode()) <= SOCKET_PATH_MAX else None


def serve(host: str, port: int, workers: int = DEFAULT_WORKERS, threads: int = DEFAULT_THREADS,
          access_log: bool = False) -> None:  # fmt: skip
    """Serve the application with gunicorn (blocks until stopped): ``threads`` 1 selects sync workers.

    Database connections the caller opened (the migration, the protocol load) are closed first: the
    workers are forked from this process and must not share its connections (a PostgreSQL connection
    used by two processes at once interleaves their commands; SQLite forbids carrying one across fork).
    """
    from django.conf import settings
    from django.db import connections
    from gunicorn.app.base import BaseApplication

    from rodnan.web.wsgi import application

    connections.close_all()
    socket = control_socket(settings.DATA_DIR, port)

    class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn has no types: BaseApplication is Any
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "accesslog": "-" if access_log else None, "timeout": 60, "graceful_timeout": 10,
                "control_socket": socket, "control_socket_disable": True if socket is None else None,
            }  # fmt: skip
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    _Server().run()
