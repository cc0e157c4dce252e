"""Many writers, one chain: two ``rodnan serve`` processes on one database, clients saving forms and logging in at once.

On PostgreSQL (``RODNAN_TEST_DATABASE=postgresql``) both servers run in the test cluster as an
application role without UPDATE or DELETE on audit entries (``rodnan audit grant-app-role``), which
the test also proves PostgreSQL enforces; on SQLite they share one data folder's database file.
Afterwards ``rodnan audit verify`` passes and the entries' sequence numbers have no gap.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from rodnan.cli.app import main; main()"]
EDITED_FORMS = ("mrss", "ssc_haq", "sf36")  # answered by radio buttons: a changed answer stays valid
CLIENTS, SAVES = 6, 4


def bench_web() -> Any:
    """bench/web.py's HTTP client (cookies, CSRF) and CRF form reader."""
    spec = importlib.util.spec_from_file_location("rodnan_bench_web", ROOT / "bench" / "web.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rodnan_bench_web"] = module
    spec.loader.exec_module(module)
    return module


def child_env(database_url: str | None, **extra: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "RODNAN_AUDIT_KEY_DIR", "RODNAN_AUDIT_CHECKPOINT_FILE", "RODNAN_DATA")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env |= {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **extra}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def with_database(url: str, name: str, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc if user is None else f"{user}@{parts.netloc.split('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, f"/{name}", parts.query, parts.fragment))


def pg_connect(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return psycopg.connect(host=query.get("host", parts.hostname), port=query.get("port", parts.port), user=parts.username,
                           dbname=parts.path.lstrip("/"), autocommit=True)  # fmt: skip


def query(database: str | Path, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(database, Path):
        with closing(sqlite3.connect(database, timeout=30)) as db:
            return db.execute(sql).fetchall()
    with pg_connect(database) as conn:
        return conn.execute(sql).fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[0].decode()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the server on port {port} did not answer within 120 s")


def client(web: Any, number: int, ports: list[int], username: str, password: str, records: list[int], errors: list[str],
           done: list[tuple[str, int]]) -> None:  # fmt: skip
    """Log in at both servers, then save each record SAVES times, alternating servers."""
    try:
        rng = random.Random(number)
        browsers = []
        for port in ports:
            browser = web.Browser(port)
            _, _, page = browser.request("GET", "/login/")
            form = {"username": username, "password": password, "csrfmiddlewaretoken": web._csrf(page), "next": ""}
            status, _, _ = browser.request("POST", "/login/", form)
            assert status == 302, f"login at port {port}: HTTP {status}"
            done.append(("login", port))
            browsers.append(browser)
        for k in range(SAVES):
            browser = browsers[k % 2]
            record = records[k % len(records)]
            status, _, page = browser.request("GET", f"/forms/{record}/")
            assert status == 200, f"form {record}: HTTP {status}"
            posted, radios = web.crf_fields(page)
            status, headers, _ = browser.request("POST", f"/forms/{record}/", web.changed_answer(posted, radios, rng))
            assert status == 302, f"save of form {record} at port {browser.port}: HTTP {status}"
            assert "/login/" not in headers.get("location", "")
            done.append(("save", browser.port))
    except Exception as exc:  # reported to the test
        errors.append(f"client {number}: {type(exc).__name__}: {exc}")


def test_two_servers_and_parallel_clients_keep_one_gap_free_chain(db_vendor: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    owner_url = app_url = None
    database: str | Path = data / "rodnan.sqlite3"
    if db_vendor == "postgresql":
        name = f"rodnan_writers_{secrets.token_hex(4)}"
        with pg_connect(os.environ["DATABASE_URL"]) as conn:
            conn.execute(f"CREATE DATABASE {name}")
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rodnan_app'").fetchone():
                conn.execute("CREATE ROLE rodnan_app LOGIN")
        owner_url = with_database(os.environ["DATABASE_URL"], name)
        app_url = with_database(os.environ["DATABASE_URL"], name, user="rodnan_app")
        database = owner_url

    filled = subprocess.run([*CLI, "demo", "--data", str(data), "--no-serve"], env=child_env(owner_url), cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    if app_url is not None:
        granted = subprocess.run([*CLI, "audit", "grant-app-role", "rodnan_app", "--data", str(data)], env=child_env(owner_url),
                                 cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert granted.returncode == 0, granted.stderr
        assert "REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_auditentry FROM rodnan_app;" in granted.stdout
        import psycopg

        with pg_connect(app_url) as conn:  # the application's role, as an insider with its password
            for sql in ("ALTER TABLE audit_auditentry DISABLE TRIGGER USER", "UPDATE audit_auditentry SET reason = 'x'",
                        "DELETE FROM audit_auditentry", "TRUNCATE audit_auditentry"):  # fmt: skip
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
            conn.execute("UPDATE audit_audithead SET seq = seq WHERE id = 1")  # the head row it must update

    forms = ", ".join(f"'{code}'" for code in EDITED_FORMS)
    records = [row[0] for row in query(database, f"SELECT id FROM crfs_formrecord WHERE form_code IN ({forms}) "
                                                 "AND status = 'complete' ORDER BY id")]  # fmt: skip
    assert len(records) >= CLIENTS, f"the demo has {len(records)} complete questionnaire forms"
    before = query(database, "SELECT count(*) FROM audit_auditentry")[0][0]

    ports = [free_port(), free_port()]
    servers = []
    for port in ports:
        command = [*CLI, "serve", "--data", str(data), "--port", str(port), "--workers", "2"]
        servers.append(subprocess.Popen(command, env=child_env(app_url), cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT))  # fmt: skip
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_until_serving(port, server)
        web = bench_web()
        # the demo prints each user's generated password once, when it creates the users
        passwords = dict(re.findall(r"│ (investigator|coordinator) +│ [^│]+│ (\S+) +│", filled.stdout))
        assert set(passwords) == {"investigator", "coordinator"}, filled.stdout
        errors: list[str] = []
        done: list[tuple[str, int]] = []
        users = ("investigator", "coordinator")
        threads = [threading.Thread(target=client, args=(web, n, ports, users[n % 2], passwords[users[n % 2]],
                                                         records[n::CLIENTS], errors, done)) for n in range(CLIENTS)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        outputs = []
        for server in servers:
            server.send_signal(signal.SIGTERM)
            outputs.append(server.communicate(timeout=60)[0].decode())
    assert errors == [], "\n".join(errors + [o[-2000:] for o in outputs])
    assert sorted(done) == sorted([("login", p) for p in ports] * CLIENTS + [("save", p) for p in ports] * (CLIENTS * SAVES // 2))

    seqs = [row[0] for row in query(database, "SELECT seq FROM audit_auditentry ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    added = query(database, f"SELECT action, count(*) FROM audit_auditentry WHERE seq > {before} GROUP BY action")
    counts = dict(added)
    assert counts.get("auth.login") == 2 * CLIENTS
    assert counts.get("record.save", 0) >= CLIENTS * SAVES  # one entry per save event that changes a value
    verified = subprocess.run([*CLI, "audit", "verify", "--data", str(data)], env=child_env(app_url), cwd=ROOT,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert f"audit chain intact: {len(seqs)} entries verified" in verified.stdout
    if owner_url is not None:
        with pg_connect(os.environ["DATABASE_URL"]) as conn:
            conn.execute(f"DROP DATABASE {urlsplit(owner_url).path.lstrip('/')} WITH (FORCE)")
