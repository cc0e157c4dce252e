"""DATABASE_URL parsing: the two schemes, Unix-socket hosts, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodnan.errors import InputError
from rodnan.web.database_url import parse_database_url, sqlite_database


def test_sqlite_url_gives_the_file_with_the_sqlite_options() -> None:
    entry = parse_database_url("sqlite:///srv/rodnan/db.sqlite3")
    assert entry["ENGINE"] == "django.db.backends.sqlite3"
    assert entry["NAME"] == "/srv/rodnan/db.sqlite3"
    assert entry["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # writers queue for the audit chain's head
    assert entry["OPTIONS"]["timeout"] == 20
    assert "journal_mode=WAL" in entry["OPTIONS"]["init_command"]


def test_sqlite_url_path_is_unescaped() -> None:
    assert parse_database_url("sqlite:///data/my%20db.sqlite3")["NAME"] == "/data/my db.sqlite3"


def test_each_sqlite_entry_has_its_own_options() -> None:
    first = sqlite_database(Path("/tmp/a.sqlite3"))
    first["OPTIONS"]["timeout"] = 1
    assert sqlite_database(Path("/tmp/b.sqlite3"))["OPTIONS"]["timeout"] == 20


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_url_with_user_password_host_and_port(scheme: str) -> None:
    entry = parse_database_url(f"{scheme}://rodnan:s%40cret%2Fpw@db.example.org:6543/trial")
    assert entry == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "trial",
        "USER": "rodnan",
        "PASSWORD": "s@cret/pw",
        "HOST": "db.example.org",
        "PORT": "6543",
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"server_side_binding": True, "prepare_threshold": 5},
    }


def test_postgresql_url_without_port_or_password() -> None:
    entry = parse_database_url("postgresql://rodnan@localhost/trial")
    assert (entry["USER"], entry["PASSWORD"], entry["HOST"], entry["PORT"]) == ("rodnan", "", "localhost", "")
    assert entry["NAME"] == "trial"


def test_postgresql_socket_host_and_port_in_the_query() -> None:
    entry = parse_database_url("postgresql://postgres@/rodnan?host=/tmp/sock&port=5544")
    assert (entry["HOST"], entry["PORT"], entry["USER"], entry["NAME"]) == ("/tmp/sock", "5544", "postgres", "rodnan")
    assert entry["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}  # host and port are taken out


def test_postgresql_query_keeps_driver_options() -> None:
    entry = parse_database_url("postgresql://u:p@db:5432/trial?sslmode=require&application_name=rodnan")
    assert entry["OPTIONS"] == {
        "sslmode": "require",
        "application_name": "rodnan",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    assert (entry["HOST"], entry["PORT"]) == ("db", "5432")


def test_percent_encoded_socket_path() -> None:
    assert parse_database_url("postgresql://postgres@/rodnan?host=%2Fvar%2Frun%2Fpostgresql")["HOST"] == "/var/run/postgresql"


def test_surrounding_spaces_are_ignored() -> None:
    assert parse_database_url("  postgresql://u@h/trial \n")["NAME"] == "trial"


@pytest.mark.parametrize("url", ["mysql://u:p@h/trial", "http://example.org/x", "/srv/rodnan/db.sqlite3", "rodnan"])
def test_unknown_scheme_is_an_input_error_naming_database_url(url: str) -> None:
    with pytest.raises(InputError, match="scheme must be sqlite or postgresql") as caught:
        parse_database_url(url)
    assert caught.value.field == "DATABASE_URL"
    assert str(caught.value).startswith("DATABASE_URL: ")


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/", "postgresql://u:p@db:5432", "postgres://u@db"])
def test_postgresql_url_without_a_database_name(url: str) -> None:
    with pytest.raises(InputError, match="needs a database name") as caught:
        parse_database_url(url)
    assert caught.value.field == "DATABASE_URL"
    assert caught.value.value == url


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:"])
def test_sqlite_url_without_a_path(url: str) -> None:
    with pytest.raises(InputError, match="needs a file path") as caught:
        parse_database_url(url)
    assert caught.value.field == "DATABASE_URL"


def test_password_is_not_echoed_for_an_unknown_scheme() -> None:
    """The error shows the scheme it did not accept, not the whole URL with its password."""
    with pytest.raises(InputError) as caught:
        parse_database_url("mysql://rodnan:hunter2-secret@db/trial")
    assert "hunter2-secret" not in str(caught.value)
    assert caught.value.value == "mysql"


@pytest.mark.parametrize(
    ("query", "binding", "threshold"),
    [("prepare_threshold=none", True, None), ("prepare_threshold=0", True, 0), ("prepare_threshold=12", True, 12),
     ("server_side_binding=false", False, 5), ("server_side_binding=TRUE&prepare_threshold=off", True, None)],
)  # fmt: skip
def test_postgresql_statement_options_from_the_query_are_typed(query: str, binding: bool, threshold: int | None) -> None:
    options = parse_database_url(f"postgresql://u@db/trial?{query}")["OPTIONS"]
    assert (options["server_side_binding"], options["prepare_threshold"]) == (binding, threshold)


def test_postgresql_prepare_threshold_that_is_not_a_number_names_the_setting() -> None:
    with pytest.raises(InputError) as caught:
        parse_database_url("postgresql://u@db/trial?prepare_threshold=often")
    assert "DATABASE_URL" in str(caught.value)
    assert "prepare_threshold" in str(caught.value)


def test_sqlite_commits_are_durable_by_default_and_the_setting_is_checked(monkeypatch, tmp_path):
    """Issue 16: SQLite ran with synchronous=NORMAL (a power loss could take back acknowledged saves); FULL now,
    NORMAL on request, anything else a named error. The pragma is read back from a real connection."""
    import sqlite3

    from rodnan.errors import InputError
    from rodnan.web.database_url import sqlite_database

    def pragma() -> int:
        connection = sqlite3.connect(tmp_path / "db.sqlite3")
        connection.executescript(sqlite_database(tmp_path / "db.sqlite3")["OPTIONS"]["init_command"])
        value = connection.execute("PRAGMA synchronous").fetchone()[0]
        connection.close()
        return int(value)

    monkeypatch.delenv("RODNAN_SQLITE_SYNCHRONOUS", raising=False)
    assert pragma() == 2  # FULL
    monkeypatch.setenv("RODNAN_SQLITE_SYNCHRONOUS", "normal")
    assert pragma() == 1
    monkeypatch.setenv("RODNAN_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(InputError) as caught:
        sqlite_database(tmp_path / "db.sqlite3")
    assert caught.value.field == "RODNAN_SQLITE_SYNCHRONOUS"
