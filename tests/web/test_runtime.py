"""rodnan serve's gunicorn set-up: worker class from the thread count, and no database connection
carried into the forked workers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, connections
from gunicorn.app.base import BaseApplication

from rodnan.web import runtime
from rodnan.web.studies.models import Study


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replaces gunicorn's run (which would fork and block) by a record of the configuration and of
    the open database connections at the moment the workers would be forked."""
    seen: dict[str, Any] = {"closed_all": False}
    close_all = connections.close_all

    def recorded_close_all() -> None:
        seen["closed_all"] = True
        close_all()

    monkeypatch.setattr(connections, "close_all", recorded_close_all)

    def run(self: BaseApplication) -> None:
        seen["closed_before_fork"] = seen["closed_all"]
        seen["worker_class"] = self.cfg.worker_class_str
        seen["workers"], seen["threads"], seen["bind"] = self.cfg.workers, self.cfg.threads, self.cfg.bind
        seen["control_socket"], seen["control_off"] = self.cfg.control_socket, self.cfg.control_socket_disable
        seen["open"] = [alias for alias in connections if connections[alias].connection is not None]

    monkeypatch.setattr(BaseApplication, "run", run)
    return seen


@pytest.mark.django_db(transaction=True)
def test_connections_opened_before_serving_are_closed_before_the_fork(captured: dict[str, Any]) -> None:
    Study.objects.count()  # the migration and the protocol load open the connection in rodnan serve
    assert connection.connection is not None
    runtime.serve("127.0.0.1", 8123)
    assert captured["closed_before_fork"]
    if connection.vendor == "postgresql":  # Django never closes SQLite's in-memory test database
        assert captured["open"] == []  # a forked worker would otherwise share this process's connection


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("threads", "worker_class"), [(1, "sync"), (2, "gthread"), (4, "gthread")])
def test_one_thread_means_sync_workers(captured: dict[str, Any], threads: int, worker_class: str) -> None:
    runtime.serve("127.0.0.1", 8124, workers=3, threads=threads)
    assert (captured["worker_class"], captured["workers"], captured["threads"]) == (worker_class, 3, threads)
    assert captured["bind"] == ["127.0.0.1:8124"]


@pytest.mark.django_db(transaction=True)
def test_default_is_five_sync_workers(captured: dict[str, Any]) -> None:
    runtime.serve("127.0.0.1", 8125)
    assert (captured["worker_class"], captured["workers"]) == ("sync", 5)


@pytest.mark.django_db(transaction=True)
def test_each_data_folder_and_port_has_its_own_control_socket(captured: dict[str, Any], settings, tmp_path) -> None:
    """Issue 16: two rodnan serve on one host shared gunicorn's control socket ($XDG_RUNTIME_DIR/gunicorn.ctl)."""
    seen = []
    for folder, port in ((tmp_path / "a", 8126), (tmp_path / "b", 8126), (tmp_path / "a", 8127)):
        settings.DATA_DIR = folder
        runtime.serve("127.0.0.1", port)
        seen.append(captured["control_socket"])
        assert captured["control_off"] is False
    assert seen == [str(tmp_path / "a" / "run" / "gunicorn-8126.ctl"), str(tmp_path / "b" / "run" / "gunicorn-8126.ctl"),
                    str(tmp_path / "a" / "run" / "gunicorn-8127.ctl")]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_folder_too_deep_for_a_unix_socket_turns_the_control_interface_off(captured: dict[str, Any], settings,
                                                                              tmp_path) -> None:  # fmt: skip
    settings.DATA_DIR = tmp_path / ("d" * 120)
    runtime.serve("127.0.0.1", 8128)
    assert captured["control_off"] is True
