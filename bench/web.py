"""Benchmark: the web application under 20 concurrent clients, with 10,000 subjects at 10 sites.

For each database (SQLite, and PostgreSQL in a private cluster this script starts with the
server's default, production-like settings such as fsync=on, and stops at the end):

1. a fresh data folder (and database), migrated; the protocol loaded; 10 sites; an administrator,
   an importing investigator and one coordinator per site, created through the account actions;
2. the simulated cohort (``simulate_cohort``) imported with ``rodnan.web.imports.check_import_cohort``
   (every value checked and audited; the audit chain is verified afterwards);
3. ``rodnan serve`` (gunicorn, by default its own default of 5 sync workers) started as a separate process;
4. 20 clients, each a separate process logged in as the coordinator of one site through the real
   /login/ form (CSRF included), request back to back, with no think time, in a loop: the subject
   list (a random page), two subject pages, a form page, and a form save (the form's own fields
   with one answer changed and a reason for change, posted as the browser posts it).

Printed: p50/p95/max per operation and database, request counts, errors (any unexpected status,
409 edit conflicts included), the import time and where it went, the audit entries, the database
size, and the CPU the server and the clients used per request. Targets (the web benchmark issue,
2-core machine): subject list and subject page p95 < 200 ms, form save p95 < 150 ms, no errors;
the exit status is 1 when one is missed (after printing everything).

Usage: ``python bench/web.py [--subjects 10000] [--sites 10] [--clients 20] [--duration 60 |
--requests-per-client N] [--think SECONDS] [--database sqlite|postgresql|both] [--workers 5]
[--threads 1] [--keep DIR [--reuse]]``. ``--reuse`` measures the data a previous ``--keep`` run
imported (a 10,000-subject import takes over half an hour).
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

PASSWORD = "bench-password-2026!"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_DATABASE = "rodnan_bench"
TARGETS_MS = {"subject list": 200.0, "subject page": 200.0, "form save": 150.0}
OPERATIONS = ("subject list", "subject page", "form page", "form save")
EDITED_FORMS = ("mrss", "ssc_haq", "sf36")  # answered by radio buttons: a changed answer stays in range
HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# A private PostgreSQL cluster
# ---------------------------------------------------------------------------------------------


class PostgresCluster:
    """A throw-away PostgreSQL 15 cluster in ``root`` (data and socket), on a Unix socket only.

    initdb refuses to run as root, so as root the commands run as the ``postgres`` user.
    Stopped by ``pg_ctl stop`` (which signals the postmaster named in its pid file).
    """

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data, self.socket = root / "pgdata", root / "pgsock"
        self.log = root / "postgresql.log"
        self.running = False

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root, self.socket):
                shutil.chown(path, "postgres", "postgres")
            for parent in self.root.parents:  # the postgres user must reach the folder
                if parent.stat().st_mode & 0o001 == 0:
                    parent.chmod(parent.stat().st_mode | 0o001)
        if not (self.data / "PG_VERSION").exists():
            self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-instructions")  # fmt: skip
        options = f"-p {self.port} -k {self.socket} -c listen_addresses=''"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.running = True
        exists = subprocess.run(
            [*(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []), str(PG_BIN / "psql"), "-h", str(self.socket),
             "-p", str(self.port), "-U", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if not exists:
            self._run(str(PG_BIN / "createdb"), "-h", str(self.socket), "-p", str(self.port), "-U", "postgres", PG_DATABASE)

    def postmaster(self) -> int:
        """The process id of the running server."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{PG_DATABASE}?host={self.socket}&port={self.port}"

    def stop(self) -> None:
        if self.running:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False


@contextmanager
def fresh_database(database: str, prefix: str) -> Iterator[str]:
    """A fresh data folder (and, for PostgreSQL, a private cluster), set up and migrated for this process;
    yields the database's label; removes everything afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{database}-"))
    try:
        with database_in(database, folder) as label:
            yield label
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def database_in(database: str, folder: Path) -> Iterator[str]:
    """The database in ``folder`` (its data folder, and for PostgreSQL its private cluster, created when new;
    the cluster started and stopped), set up and migrated for this process; yields its label."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        url = None
        if database == "postgresql":
            cluster = PostgresCluster(folder / "postgresql", free_port())
            stack.callback(cluster.stop)
            cluster.start()
            url = cluster.url
        from rodnan.web import runtime

        runtime.setup(data, url)
        runtime.migrate()
        yield runtime.database_label()
        from django.db import connections

        connections.close_all()


def run_phase(args: argparse.Namespace, run_database: Callable[[argparse.Namespace, str], dict[str, Any]]) -> bool:
    """In a benchmark's child process (``--phase DATABASE --json FILE``): run that database and write its figures.

    Returns False in the parent process (no ``--phase``), which then calls :func:`phase_figures` per database.
    """
    if not args.phase:
        return False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("RODNAN_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    Path(args.json).write_text(json.dumps(run_database(args, args.phase), indent=1))
    return True


def phase_figures(script: str, database: str, flags: list[str], tmp: str) -> dict[str, Any]:
    """Run ``script`` for one database in a process of its own (Django is set up once per process); its figures."""
    out = Path(tmp) / f"{database}.json"
    command = [sys.executable, script, *flags, "--phase", database, "--json", str(out)]
    if subprocess.run(command, check=False).returncode != 0 or not out.exists():
        raise SystemExit(f"the {database} run failed")
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Filling the database
# ---------------------------------------------------------------------------------------------


def fill(args: argparse.Namespace) -> dict[str, Any]:
    """Protocol, sites, users and the imported cohort (Django is set up); returns the import figures."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from rodnan.core.simulate.cohort import simulate_cohort
    from rodnan.web.accounts.actions import check_create_user, check_grant_membership, do_grant_membership
    from rodnan.web.imports import check_import_cohort
    from rodnan.web.studies.models import Site
    from rodnan.web.studies.protocol import load_study, study_definition

    study = load_study()
    sites = list(Site.objects.filter(study=study).order_by("id"))[: args.sites]
    for k in range(len(sites) + 1, args.sites + 1):
        sites.append(Site.objects.create(study=study, code=f"B{k:02d}", name=f"Benchmark site {k}", country="CN"))
    admin = get_user_model().objects.create_user(username="bench-admin", password=PASSWORD)
    for site in sites:
        do_grant_membership(admin, "administrator", admin, site, "administrator")
    settings.ROLE_APPROVAL = False  # one administrator, as a site with a single administrator runs (decision 0023)

    def create_user(site: Any, name: str, role: str) -> Any:
        user, _ = check_create_user(admin, site, name, role)  # the account actions, audited
        user.set_password(PASSWORD)  # what the user does through its set-password link
        user.save(update_fields=["password"])
        return user

    importer = create_user(sites[0], "bench-importer", "investigator")
    for site in sites[1:]:
        check_grant_membership(admin, importer, site, "investigator")
    for k, site in enumerate(sites, 1):
        create_user(site, f"coord{k:02d}", "coordinator")
    start = time.perf_counter()
    cohort = simulate_cohort(study_definition(study), args.subjects, args.seed)
    simulated = time.perf_counter() - start
    print(f"  simulated {args.subjects:,} subjects in {simulated:.1f} s; importing ...", flush=True)
    marks = {math.ceil(args.subjects * k / 10) for k in range(1, 11)}

    def progress(done: int, total: int) -> None:
        if done in marks or done == total:
            print(f"    {done:,}/{total:,} subjects, {time.perf_counter() - start:.0f} s", flush=True)

    report = check_import_cohort(importer, sites, cohort, progress=progress, batch_size=args.batch_size,
                                 workers=getattr(args, "import_workers", None))  # fmt: skip
    figures = {
        "subjects": report.subjects, "statuses": dict(report.statuses), "visits": report.visits,
        "form_records": report.form_records, "forms_saved": report.forms_saved, "values": report.values,
        "audit_entries": report.audit_entries, "rejected": len(report.rejected), "simulate_s": simulated,
        "import_s": report.seconds, "checks_s": report.seconds_checks, "rows_s": report.seconds_rows,
        "audit_s": report.seconds_audit,
    }  # fmt: skip
    if args.verify:
        from rodnan.web.audit.chain import verify_chain

        start = time.perf_counter()
        chain = verify_chain()
        figures["verify_s"], figures["chain_ok"], figures["chain_entries"] = time.perf_counter() - start, chain.ok, chain.entries
    return figures


def stored_figures() -> dict[str, Any]:
    """What the database holds, for a folder whose import did not finish (its committed batches are whole subjects)."""
    from django.db.models import Count

    from rodnan.web.audit.models import AuditEntry
    from rodnan.web.crfs.models import FormRecord
    from rodnan.web.subjects.models import Subject, Visit

    statuses = dict(Subject.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    nan = math.nan
    return {
        "subjects": sum(statuses.values()), "statuses": statuses, "visits": Visit.objects.count(),
        "form_records": FormRecord.objects.count(),
        "forms_saved": FormRecord.objects.exclude(status=FormRecord.Status.NOT_STARTED).count(), "values": -1,
        "audit_entries": AuditEntry.objects.count(), "rejected": -1, "simulate_s": nan,
        "import_s": nan, "checks_s": nan, "rows_s": nan, "audit_s": nan, "partial": True,
    }  # fmt: skip


def database_size() -> int:
    """Bytes on disk of the database in use (SQLite: the file and its WAL)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(connection.settings_dict["NAME"])
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def client_plans(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per client: the coordinator to log in as, the subjects of its site, the forms it may edit.

    Two clients of one site never edit the same form, so an edit conflict (409) is a real error.
    """
    from rodnan.web.crfs.models import FormRecord
    from rodnan.web.studies.models import Site
    from rodnan.web.subjects.models import Subject

    rng = random.Random(args.seed)
    sites = list(Site.objects.order_by("id"))[: args.sites]
    plans = []
    for c in range(args.clients):
        site_index = c % len(sites)
        site = sites[site_index]
        peers = [k for k in range(args.clients) if k % len(sites) == site_index]
        subjects = list(Subject.objects.filter(site=site).values_list("pk", flat=True))
        records = list(
            FormRecord.objects.filter(subject__site=site, subject__status="in_follow_up", form_code__in=EDITED_FORMS,
                                      status=FormRecord.Status.COMPLETE).order_by("pk").values_list("pk", flat=True)
        )  # fmt: skip
        mine = records[peers.index(c) :: len(peers)]
        rng.shuffle(mine)
        plans.append({"client": c, "username": f"coord{site_index + 1:02d}", "site": site.code, "subjects": subjects,
                      "records": mine[:2000]})  # fmt: skip
    return plans


# ---------------------------------------------------------------------------------------------
# The clients (each in its own process: no shared GIL with the others' timing)
# ---------------------------------------------------------------------------------------------


class Browser:
    """One user's connection: keep-alive HTTP/1.1, cookies, CSRF token; nothing else."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://{HOST}:{port}"
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, form: dict[str, Any] | list[tuple[str, str]] | None = None
                ) -> tuple[int, dict[str, str], str]:  # fmt: skip
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "rodnan-bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                        "Referer": self.origin + path}  # fmt: skip
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest):
                self.conn.close()  # the server closed an idle keep-alive connection: the request was not handled
                self.conn = None
                if attempt == 2:
                    raise
                continue
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or morsel.value == "":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if response.will_close:
                self.conn.close()
                self.conn = None
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data.decode("utf-8", "replace")
        raise AssertionError("unreachable")

    def login(self, username: str) -> None:
        status, _, page = self.request("GET", "/login/")
        token = _csrf(page)
        status, _, _ = self.request("POST", "/login/", {"username": username, "password": PASSWORD,
                                                              "csrfmiddlewaretoken": token, "next": ""})  # fmt: skip
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login of {username} failed: HTTP {status}")


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TAG = re.compile(r"<(input|select|/select|option|textarea)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'([a-zA-Z_:-]+)(?:="([^"]*)")?')


def _csrf(page: str) -> str:
    match = _CSRF.search(page)
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1)


def crf_fields(page: str) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """What the browser would post from the CRF form: (name, value) pairs in order, and per radio
    group its options (the checked one posted; a group with nothing checked posts nothing)."""
    marker = page.find('id="crf"')
    if marker < 0:
        raise RuntimeError("no CRF form (id crf) on this page")
    start = page.rfind("<form", 0, marker)  # whatever attributes come first (enctype since file items)
    end = page.find("</form>", start)
    posted: list[tuple[str, str]] = []
    radios: dict[str, list[str]] = {}
    select: str | None = None
    select_value: str | None = None
    first_option: str | None = None
    for match in _TAG.finditer(page, start, end):
        tag = match.group(1).lower()
        attrs = {k.lower(): html.unescape(v or "") for k, v in _ATTR.findall(match.group(2))}
        if tag == "select":
            select = attrs.get("name") if "disabled" not in attrs else None
            select_value, first_option = None, None
        elif tag == "option" and select is not None:
            value = attrs.get("value", "")
            first_option = value if first_option is None else first_option
            if "selected" in attrs:
                select_value = value
        elif tag == "/select" and select is not None:
            posted.append((select, select_value if select_value is not None else (first_option or "")))
            select = None
        elif tag == "input" and "name" in attrs and "disabled" not in attrs:
            kind = attrs.get("type", "text").lower()
            if kind == "radio":
                radios.setdefault(attrs["name"], []).append(attrs.get("value", ""))
                if "checked" in attrs:
                    posted.append((attrs["name"], attrs.get("value", "")))
            elif kind == "checkbox":
                if "checked" in attrs:
                    posted.append((attrs["name"], attrs.get("value", "on")))
            elif kind not in ("submit", "button"):
                posted.append((attrs["name"], attrs.get("value", "")))
    return posted, radios


def changed_answer(posted: list[tuple[str, str]], radios: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    """The posted fields with one answered radio question given another answer, and a reason for change."""
    current = dict(posted)
    answered = [name for name, options in radios.items() if current.get(name) and len([o for o in options if o]) > 1]
    if not answered:
        raise RuntimeError("no answered question to change on this form")
    name = rng.choice(answered)
    new = rng.choice([o for o in radios[name] if o and o != current[name]])
    out = [(k, new if k == name else v) for k, v in posted if k != "reason"]
    return [*out, ("reason", "benchmark: corrected from the source document")]


@dataclass
class Sample:
    """One measured request."""

    operation: str
    seconds: float
    status: int
    ok: bool
    at: float = 0.0


@dataclass
class ClientResult:
    """What one client measured (sent to the parent as plain tuples)."""

    client: int
    samples: list[Sample] = field(default_factory=list)
    failure: str = ""
    cpu: float = 0.0  # CPU seconds the client process used while measuring

    def plain(self) -> tuple[int, list[tuple[str, float, int, bool, float]], str, float]:
        return self.client, [(s.operation, s.seconds, s.status, s.ok, s.at) for s in self.samples], self.failure, self.cpu

    @classmethod
    def from_plain(cls, data: tuple[int, list[tuple[str, float, int, bool, float]], str, float]) -> ClientResult:
        return cls(data[0], [Sample(*s) for s in data[1]], data[2], data[3])


def run_client(plan: dict[str, Any], port: int, start_at: Any, budget: dict[str, Any], ready: Any, out: Any) -> None:
    """One client process: log in, warm up, wait for the start, then loop until the time or request budget is spent
    (after each request, a think time drawn from an exponential distribution when ``budget["think"]`` > 0)."""
    result = ClientResult(plan["client"])
    stop_after, requests, think = budget["duration"], budget["requests"], budget["think"]
    try:
        rng = random.Random(budget["seed"] * 1000 + plan["client"])
        browser = Browser(port)
        browser.login(plan["username"])
        subjects, records = plan["subjects"], list(plan["records"])
        pages = max(1, math.ceil(len(subjects) / 50))
        browser.request("GET", "/subjects/")  # warm-up (not measured): templates, protocol parse in the worker
        browser.request("GET", f"/subjects/{subjects[0]}/")
        ready.put(plan["client"])
        start_at.wait()
        t0, cpu0 = time.perf_counter(), time.process_time()
        done = 0

        def timed(operation: str, method: str, path: str, expect: int, form: Any = None) -> str:
            nonlocal done
            began = time.perf_counter()
            status, headers, page = browser.request(method, path, form)
            elapsed = time.perf_counter() - began
            ok = status == expect and not (expect == 302 and "/login/" in headers.get("location", ""))
            result.samples.append(Sample(operation, elapsed, status, ok, began - t0))
            done += 1
            if think > 0:
                time.sleep(rng.expovariate(1 / think))
            return page

        def spent() -> bool:
            return done >= requests if requests is not None else time.perf_counter() - t0 >= stop_after

        k = 0
        while not spent():
            timed("subject list", "GET", f"/subjects/?page={rng.randint(1, pages)}", 200)
            for _ in range(2):
                if spent():
                    break
                timed("subject page", "GET", f"/subjects/{rng.choice(subjects)}/", 200)
            if spent() or not records:
                continue
            record = records[k % len(records)]
            k += 1
            page = timed("form page", "GET", f"/forms/{record}/", 200)
            if spent():
                break
            posted, radios = crf_fields(page)
            timed("form save", "POST", f"/forms/{record}/", 302, changed_answer(posted, radios, rng))
        result.cpu = time.process_time() - cpu0
    except Exception as exc:  # reported, and counted as a failure of the run
        result.failure = f"{type(exc).__name__}: {exc}"
        ready.put(plan["client"])
    out.put(result.plain())


def load_test(args: argparse.Namespace, port: int, plans: list[dict[str, Any]], servers: list[int]
              ) -> tuple[list[ClientResult], float, float]:  # fmt: skip
    """Start one process per client, release them together, collect their samples; returns them, the
    seconds of the measurement and the CPU seconds the server processes (``servers``' trees) used meanwhile."""
    context = mp.get_context("spawn")
    start_at, ready, out = context.Event(), context.Queue(), context.Queue()
    budget = {"duration": args.duration, "requests": args.requests_per_client, "think": args.think, "seed": args.seed}
    processes = [
        context.Process(target=run_client, args=(plan, port, start_at, budget, ready, out), daemon=True) for plan in plans
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=600)
    print(f"  {len(processes)} clients logged in and warmed up; measuring ...", flush=True)
    started, cpu = time.perf_counter(), sum(tree_cpu(pid) for pid in servers)
    start_at.set()
    results = [ClientResult.from_plain(out.get(timeout=args.duration * 3 + 1200)) for _ in processes]
    seconds, cpu = time.perf_counter() - started, sum(tree_cpu(pid) for pid in servers) - cpu
    for process in processes:
        process.join(timeout=30)
    return sorted(results, key=lambda r: r.client), seconds, cpu


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, frontier = 0, {root}
    while frontier:
        total += sum(ticks.get(pid, 0) for pid in frontier)
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
    return total / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# One database, end to end (in a process of its own: Django is set up once per process)
# ---------------------------------------------------------------------------------------------


def wait_for_server(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rodnan serve exited ({server.returncode}); see {log}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"rodnan serve did not answer within {timeout:.0f} s; see {log}")


def server_errors(log: Path) -> list[str]:
    """The last line of each traceback in the server log (the exceptions behind HTTP 500s), distinct, first 5."""
    lines = log.read_text(errors="replace").splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith((" ", "Traceback"))), None)
            if end is not None and lines[end] not in found:
                found.append(lines[end])
    return found[:5]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation between the closest ranks)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(results: list[ClientResult], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"operations": {}, "failures": [r.failure for r in results if r.failure]}
    for operation in OPERATIONS:
        samples = [s for r in results for s in r.samples if s.operation == operation]
        times = [s.seconds * 1000 for s in samples]
        errors = [s.status for s in samples if not s.ok]
        out["operations"][operation] = {
            "n": len(samples), "errors": len(errors), "error_statuses": sorted(set(errors)),
            "p50": percentile(times, 50), "p95": percentile(times, 95), "max": max(times, default=math.nan),
        }  # fmt: skip
    total = sum(len(r.samples) for r in results)
    out["requests"], out["seconds"] = total, seconds
    out["throughput"] = total / seconds if seconds else math.nan
    return out


def run_database(args: argparse.Namespace, database: str) -> dict[str, Any]:
    """Everything for one database; returns its figures (also written to --json)."""
    folder = (Path(args.keep) / database) if args.keep else Path(tempfile.mkdtemp(prefix=f"rodnan-bench-{database}-"))
    data = folder / "data"
    meta = folder / "bench.json"
    reuse = bool(
        args.reuse and (meta.exists() or (folder / "data" / "rodnan.sqlite3").exists() or (folder / "postgresql").exists())
    )
    if args.keep and not reuse and folder.exists():
        raise SystemExit(f"{folder} exists: remove it, or pass --reuse to measure its data again")
    data.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"database": database, "folder": str(folder), "reused": reuse}
    with ExitStack() as stack:
        url = None
        if database == "postgresql":
            cluster = PostgresCluster(folder / "postgresql", free_port())
            stack.callback(cluster.stop)
            cluster.start()
            url = cluster.url
            print(f"  PostgreSQL 15 cluster in {cluster.root} (fsync on, server defaults), port {cluster.port}", flush=True)
        from rodnan.web import runtime

        runtime.setup(data, url)
        runtime.migrate()
        figures["label"] = runtime.database_label()
        if reuse:
            figures["import"] = json.loads(meta.read_text())["import"] if meta.exists() else stored_figures()
            print(f"  reusing the imported data in {folder}", flush=True)
        else:
            figures["import"] = fill(args)
            meta.write_text(json.dumps({"import": figures["import"]}, indent=1))
        imported = figures["import"]
        print(f"  imported {imported['subjects']:,} subjects in {imported['import_s']:.0f} s "
              f"(checks {imported['checks_s']:.0f} s, rows {imported['rows_s']:.0f} s, "
              f"audit {imported['audit_s']:.0f} s for {imported['audit_entries']:,} entries)", flush=True)  # fmt: skip
        plans = client_plans(args)
        figures["size_before"] = database_size()
        from django.db import connections

        connections.close_all()
        port = free_port()
        log = folder / f"serve-{int(time.time())}.log"
        env = {**os.environ, "RODNAN_DATA": str(data)}
        env.pop("DATABASE_URL", None)
        if url:
            env["DATABASE_URL"] = url
        command = [sys.executable, "-m", "rodnan", "serve", "--data", str(data), "--port", str(port),
                   "--workers", str(args.workers), "--threads", str(args.threads)]  # fmt: skip
        with log.open("wb") as sink:
            server = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)

        def stop_server() -> None:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()

        stack.callback(stop_server)
        wait_for_server(port, server, log)
        print(f"  rodnan serve on port {port}: {args.workers} workers x {args.threads} threads (log {log})", flush=True)
        load_before = os.getloadavg()[0]
        servers = [server.pid] + ([cluster.postmaster()] if database == "postgresql" else [])
        results, seconds, server_cpu = load_test(args, port, plans, servers)
        figures["load"] = summarise(results, seconds)
        figures["load"] |= {"loadavg": (load_before, os.getloadavg()[0]), "server_cpu": server_cpu,
                            "client_cpu": sum(r.cpu for r in results)}  # fmt: skip
        stop_server()
        figures["size_after"] = database_size()
        figures["server_errors"] = server_errors(log)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def report(all_figures: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    """Print the figures; True when every target is met."""
    ok = True
    print()
    budget = f"{args.requests_per_client} requests each" if args.requests_per_client else f"{args.duration:.0f} s"
    budget += f", think time {args.think:g} s" if args.think else ", no think time"
    print(f"web benchmark: {args.subjects:,} subjects at {args.sites} sites, {args.clients} clients, {budget}, "
          f"gunicorn {args.workers} workers x {args.threads} threads, {os.cpu_count()} cores")  # fmt: skip
    for figures in all_figures:
        imp, load = figures["import"], figures["load"]
        print(f"\n{figures['database']}: {figures['label']}")
        print(f"  import: {imp['subjects']:,} subjects {imp['statuses']}, {imp['visits']:,} visits, "
              f"{imp['form_records']:,} form records ({imp['forms_saved']:,} filled), {imp['values']:,} values, "
              f"{imp['rejected']} values rejected")  # fmt: skip
        per = imp["import_s"] / max(imp["subjects"], 1) * 1000
        each = imp["audit_s"] / max(imp["audit_entries"], 1) * 1e6
        print(f"  import time: {imp['import_s']:.1f} s ({per:.1f} ms/subject) = entry checks {imp['checks_s']:.1f} s + "
              f"rows {imp['rows_s']:.1f} s + audit {imp['audit_s']:.1f} s ({imp['audit_entries']:,} entries, "
              f"{each:.0f} us each); simulation {imp['simulate_s']:.1f} s")  # fmt: skip
        if "chain_ok" in imp:
            print(f"  audit chain after import: {'intact' if imp['chain_ok'] else 'BROKEN'}, {imp['chain_entries']:,} entries "
                  f"verified in {imp['verify_s']:.1f} s")  # fmt: skip
            ok &= bool(imp["chain_ok"])
        before = "at the start (imported data reused)" if figures.get("reused") else "after import"
        print(f"  database size: {figures['size_before'] / 2**20:,.0f} MiB {before}, "
              f"{figures['size_after'] / 2**20:,.0f} MiB after the load test")  # fmt: skip
        print(f"  load: {load['requests']:,} requests in {load['seconds']:.1f} s ({load['throughput']:.1f} req/s); "
              f"1-min load average {load['loadavg'][0]:.1f} before, {load['loadavg'][1]:.1f} after")  # fmt: skip
        per = 1000 / max(load["requests"], 1)
        print(f"  CPU: server (gunicorn{' + PostgreSQL' if figures['database'] == 'postgresql' else ''}) "
              f"{load['server_cpu']:.1f} s = {load['server_cpu'] * per:.1f} ms per request; "
              f"clients {load['client_cpu']:.1f} s = {load['client_cpu'] * per:.1f} ms per request")  # fmt: skip
        print(f"  {'operation':<14}{'n':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  target")
        for operation, row in load["operations"].items():
            target = TARGETS_MS.get(operation)
            verdict = "" if target is None else f"p95 < {target:.0f} ms {'OK' if row['p95'] < target else 'MISSED'}"
            if target is not None and not row["p95"] < target:
                ok = False
            errors = f"{row['errors']}" + (f" {row['error_statuses']}" if row["errors"] else "")
            print(f"  {operation:<14}{row['n']:>7} {errors:>7}{row['p50']:>9.1f}{row['p95']:>9.1f}{row['max']:>9.1f}  {verdict}")
            ok &= row["errors"] == 0 and row["n"] > 0
        for error in figures.get("server_errors", []):
            print(f"  server exception: {error}")
        for failure in load["failures"]:
            print(f"  client failure: {failure}")
            ok = False
    print(f"\ntargets: {'all met' if ok else 'MISSED (see above)'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    budget.add_argument("--requests-per-client", type=int, default=None, help="requests per client instead of a duration")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean think time after each request, seconds (exponential; default 0: back to back)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", metavar="DIR", help="keep the data folders (and the PostgreSQL cluster) in DIR")
    parser.add_argument("--reuse", action="store_true", help="with --keep: measure the data already imported in DIR")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (rodnan serve's default)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; 1: sync workers (rodnan serve's default)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=250,
                        help="subjects per import transaction (250: fewer commits rewrite fewer index pages)")  # fmt: skip
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip verifying the audit chain after import")
    parser.add_argument("--phase", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # one database in this process (Django is set up once per process)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server and the cluster on the way out
        os.environ.setdefault("RODNAN_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
        figures = run_database(args, args.phase)
        Path(args.json).write_text(json.dumps(figures, indent=1))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    all_figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for database in databases:
            print(f"{database}:", flush=True)
            out = Path(tmp) / f"{database}.json"
            argv = [f"--{name.replace('_', '-')}={value}" for name, value in vars(args).items()
                    if value is not None and name not in ("database", "reuse", "verify", "phase", "json")
                    and not (name == "duration" and args.requests_per_client)]  # fmt: skip
            argv += ["--reuse"] * args.reuse + ["--no-verify"] * (not args.verify)
            child = subprocess.Popen([sys.executable, __file__, *argv, "--phase", database, "--json", str(out)])
            try:
                child.wait()
            except BaseException:
                child.terminate()  # SIGTERM: the phase stops its server and cluster
                child.wait()
                raise
            if child.returncode != 0 or not out.exists():
                raise SystemExit(f"the {database} run failed (exit {child.returncode})")
            all_figures.append(json.loads(out.read_text()))
    ok = report(all_figures, args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
