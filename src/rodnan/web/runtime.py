"""Starting Django from the command line: point it at a data folder, migrate, serve with gunicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def setup(data: Path | None = None, database_url: str | None = None) -> Path:
    """Configure and start Django for ``data`` (default ``./rodnan-data``); returns the data folder."""
    folder = (data or Path(os.environ.get("RODNAN_DATA", "rodnan-data"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["RODNAN_DATA"] = str(folder)
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rodnan.web.settings")
    import django

    django.setup()
    return folder


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


def serve(host: str, port: int, workers: int, threads: int = 4, access_log: bool = False) -> None:
    """Serve the application with gunicorn (blocks until stopped)."""
    from gunicorn.app.base import BaseApplication

    from rodnan.web.wsgi import application

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
                "accesslog": "-" if access_log else None, "timeout": 60, "graceful_timeout": 10,
            }  # fmt: skip
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    _Server().run()
