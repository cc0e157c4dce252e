"""Pytest plugin loaded before Django starts (``-p tests.django_env`` in pyproject).

It gives the test run:

- its own throw-away data folder and secret key, so no test touches ./rodnan-data;
- its database: ``RODNAN_TEST_DATABASE=sqlite`` (the default) tests on SQLite; ``postgresql`` starts a
  private PostgreSQL 15 cluster for this run only (Unix socket in a temporary folder, no TCP, no
  fsync), points ``DATABASE_URL`` at it, and stops and deletes it when the run ends. Clusters left
  behind by a run that was killed are removed by the next run;
- under ``CI=true``, no skips: a skipped test is reported as a failure, so CI cannot pass with part
  of the suite silently not run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

os.environ["RODNAN_DATA"] = _DATA_DIR = tempfile.mkdtemp(prefix="rodnan-test-data-")
Path(_DATA_DIR, "static").mkdir()  # STATIC_ROOT: whitenoise warns on every request when it is missing
os.environ.setdefault("RODNAN_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's event loop beside live_server
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)

DATABASE_ENV = "RODNAN_TEST_DATABASE"
DATABASES = ("sqlite", "postgresql")
PG_BIN = Path(os.environ.get("RODNAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
"""Where the PostgreSQL 15 server binaries are (Debian's package postgresql-15)."""
PG_USER = "postgres"
"""The cluster's superuser; also the system user that runs it when the tests run as root."""
CLUSTER_PREFIX = "rodnan-test-pg-"
OWNER_FILE = "owner.pid"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def running_in_ci() -> bool:
    """True under ``CI=true`` (as the CI runner sets it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def requested_database() -> str:
    """The database the run asked for through ``RODNAN_TEST_DATABASE``."""
    name = os.environ.get(DATABASE_ENV, "").strip().lower() or "sqlite"
    if name == "postgres":
        name = "postgresql"
    if name not in DATABASES:
        raise pytest.UsageError(f"{DATABASE_ENV} must be sqlite or postgresql (got {name!r})")
    return name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """Fast shutdown (SIGINT) of a postmaster; immediate (SIGQUIT), then SIGKILL, if it hangs."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reaps it when it is our child
            if not _alive(pid):
                return
            time.sleep(0.05)


def _cluster_root() -> Path:
    """A folder short enough for a Unix socket path (at most 107 bytes)."""
    root = Path(tempfile.gettempdir())
    return root if len(str(root)) <= 60 else Path("/tmp")


def remove_stale_clusters(root: Path) -> list[Path]:
    """Stop and delete the clusters of earlier runs whose pytest process is gone; returns their folders."""
    removed = []
    for folder in root.glob(f"{CLUSTER_PREFIX}*"):
        owner = _read_pid(folder / OWNER_FILE)
        if owner is not None and _alive(owner):
            continue
        if owner is None and time.time() - folder.stat().st_mtime < 600:
            continue  # being created right now by another run
        postmaster = _read_pid(folder / "data" / "postmaster.pid")
        if postmaster is not None and _alive(postmaster) and _is_postgres(postmaster):
            _stop_pid(postmaster)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    """A throw-away PostgreSQL cluster in a temporary folder, reachable only through its Unix socket."""

    def __init__(self, bin_dir: Path = PG_BIN, root: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.root = root or _cluster_root()
        self.folder: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        assert self.folder is not None
        return self.folder / "postgres.log"

    def _run_as(self) -> dict[str, Any]:
        """Popen arguments that drop root to the postgres user (initdb and postgres refuse to run as root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": PG_USER, "group": PG_USER, "extra_groups": []}

    def check_binaries(self) -> None:
        missing = [name for name in ("initdb", "postgres") if not os.access(self.bin_dir / name, os.X_OK)]
        if not missing:
            if os.geteuid() == 0:
                import pwd

                try:
                    pwd.getpwnam(PG_USER)
                except KeyError:
                    raise pytest.UsageError(f"tests run as root need the system user {PG_USER!r} to run PostgreSQL") from None
            return
        where = ", ".join(str(self.bin_dir / name) for name in missing)
        if running_in_ci():
            raise pytest.UsageError(
                f"CI=true and {DATABASE_ENV}=postgresql, but the PostgreSQL 15 server is not installed (missing {where}). "
                "The CI script .ci/run installs it (apt-get install postgresql-15); check that step's output."
            )
        raise pytest.UsageError(
            f"{DATABASE_ENV}=postgresql needs the PostgreSQL 15 server binaries (missing {where}).\n"
            "Install them with:  sudo apt-get install postgresql-15   (Debian 12; the cluster this installs is not used)\n"
            f"or set RODNAN_PG_BIN to the folder of initdb and postgres, or unset {DATABASE_ENV} to test on SQLite."
        )

    def start(self) -> str:
        """Create and start the cluster; returns the ``DATABASE_URL`` of its database ``rodnan``."""
        self.check_binaries()
        remove_stale_clusters(self.root)
        self.folder = Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX, dir=self.root))
        (self.folder / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
        run_as = self._run_as()
        if run_as:
            shutil.chown(self.folder, PG_USER, PG_USER)
        data = self.folder / "data"
        initdb = [str(self.bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER, "-E", "UTF8",
                  "--no-locale", "--no-sync", "--no-instructions"]  # fmt: skip
        done = subprocess.run(initdb, capture_output=True, text=True, cwd=self.folder, check=False, **run_as)
        if done.returncode != 0:
            self.stop()
            raise pytest.UsageError(f"initdb failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        self.port = _free_port()
        server = [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder),
                  "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
                  "-c", "full_page_writes=off", "-c", "max_connections=50"]  # fmt: skip
        with self.log.open("wb") as log:
            # its own session: a Ctrl+C on the terminal reaches pytest only, which then stops the server cleanly
            self.process = subprocess.Popen(server, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.folder, start_new_session=True, **run_as)  # fmt: skip
        self._wait_until_ready()
        return f"postgresql://{PG_USER}@/rodnan?host={quote(str(self.folder), safe='/')}&port={self.port}"

    def _wait_until_ready(self) -> None:
        import psycopg

        assert self.process is not None
        assert self.folder is not None
        deadline = time.monotonic() + START_TIMEOUT
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with psycopg.connect(host=str(self.folder), port=self.port, user=PG_USER, dbname="postgres",
                                     connect_timeout=2, autocommit=True) as conn:  # fmt: skip
                    conn.execute("CREATE DATABASE rodnan")
                return
            except psycopg.OperationalError as exc:
                error = exc
                time.sleep(0.1)
        if self.process.poll() is not None:
            status = f"exited with code {self.process.returncode} before accepting connections"
        else:
            status = f"did not accept connections within {START_TIMEOUT:.0f} s (last error: {error})"
        tail = self.log_tail()
        self.stop()
        raise pytest.UsageError(f"the private PostgreSQL server {status}.\nServer log, last lines:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except (OSError, AssertionError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    def stop(self) -> None:
        """Fast shutdown by PID, then delete the folder. Safe to call twice."""
        if self.process is not None:
            if self.process.poll() is None:
                _stop_pid(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)
            self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


_cluster: PrivateCluster | None = None


def _stop_cluster() -> None:
    global _cluster
    if _cluster is not None:
        cluster, _cluster = _cluster, None
        cluster.stop()


def _on_sigterm(signum: int, frame: object) -> None:
    """A killed run (SIGTERM) still stops its server; then dies of the signal as it would have."""
    _stop_cluster()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Generator[None]:
    """Choose the database before pytest-django (in this same hook) reads the Django settings."""
    global _cluster
    options = early_config.known_args_namespace
    wanted = requested_database()
    if wanted == "sqlite":
        os.environ.pop("DATABASE_URL", None)  # a DATABASE_URL left in the shell must not pick the tests' database
    elif _cluster is None and not (getattr(options, "help", False) or getattr(options, "version", False)):
        cluster = PrivateCluster()
        os.environ["DATABASE_URL"] = cluster.start()
        _cluster = cluster
        atexit.register(_stop_cluster)
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    result = yield
    from django.db.models.signals import post_migrate

    post_migrate.connect(_let_flush_empty_the_audit_table, dispatch_uid="rodnan-tests-audit-truncate")
    return result


def _let_flush_empty_the_audit_table(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """Lift the audit table's ban on emptying it in the test database (after migrate and flush).

    Django's transactional tests end by emptying every table: with one TRUNCATE on PostgreSQL, which
    migration audit/0002's statement trigger refuses, and with DELETE on SQLite, which migration
    audit/0004's trigger refuses. Only that one trigger is lifted, and only in the test database; the
    UPDATE triggers (and PostgreSQL's row DELETE trigger) stay on, and the tests of the bans put it
    back inside their own transaction.
    """
    # the identity history (decision 0020, migration identity/0002) has the same two bans
    names = {"audit": ("audit_auditentry", "audit_entry"), "identity": ("identity_identitychange", "identity_change")}
    if getattr(sender, "label", "") not in names:
        return
    table, prefix = names[sender.label]
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER IF EXISTS {prefix}_no_delete")
            return
        if connection.vendor != "postgresql":
            return
        cursor.execute(f"SELECT 1 FROM pg_trigger WHERE tgname = '{prefix}_no_truncate' AND NOT tgisinternal")
        if cursor.fetchone():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {prefix}_no_truncate")


def pytest_report_header(config: pytest.Config) -> str:
    if _cluster is not None and _cluster.folder is not None:
        return f"database: private PostgreSQL cluster {_cluster.folder} (port {_cluster.port}; {DATABASE_ENV}=postgresql)"
    return f"database: SQLite ({DATABASE_ENV}=postgresql tests on PostgreSQL 15)"


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_cluster()


# -- CI=true: nothing may be skipped ---------------------------------------------------------------


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


_failed_skips: list[str] = []


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = _skip_reason(report)
    _failed_skips.append(report.nodeid)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI=true a skipped test (skip mark, skipif, pytest.skip, importorskip) fails instead."""
    report = yield
    if running_in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Under CI=true a module skipped at collection (``pytest.skip(allow_module_level=True)``) fails too."""
    report = yield
    if running_in_ci() and report.skipped:
        _fail_skip(report)
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _failed_skips:
        terminalreporter.write_line(
            f"CI=true: {len(_failed_skips)} skipped test(s) counted as failures (every test must run in CI)."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Backstop: if a skip still reached the report under CI=true, the run fails."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if running_in_ci() and skipped and session.exitstatus == 0:
        sys.stderr.write(f"CI=true: {len(skipped)} test(s) were skipped; every test must run in CI\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
