"""Benchmark: the keyed audit chain's append, verify and checkpoint, on SQLite and PostgreSQL.

For each database (SQLite in a fresh data folder; PostgreSQL in a private cluster with the server's
default, production-like settings such as fsync=on, started and stopped by this script, as in
bench/web.py), in a process of its own:

1. one study, site, user, subject and form record (the entries point at them, as the import's do);
2. ``--entries`` entries appended in batches of ``--batch`` (default 3,000, an import transaction),
   each batch in its own transaction, through :func:`rodnan.web.audit.chain.append` (the same call a
   single save makes): one form value per entry, its old and new value as stored (``EnteredValue.as_json()``);
   the figure is wall time per entry (HMACs, canonical JSON, the inserts, the head update, the commit);
3. ``verify_chain()`` over the whole table (every MAC recomputed, the head and a checkpoint checked);
4. ``write_checkpoint()``, ten times (median).

Targets (issue 14): append at most 15 µs per entry in 3,000-entry batches; verify of 1,000,000 entries
under 30 s; a checkpoint under 1 s. The exit status is 1 when one is missed (after printing everything).

Usage: ``python bench/audit.py [--entries 1000000] [--batch 3000] [--database sqlite|postgresql|both] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_APPEND_US, TARGET_VERIFY_S, TARGET_CHECKPOINT_S = 15.0, 30.0, 1.0


def _cluster_class() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    from web import PostgresCluster, free_port  # bench/web.py's production-like cluster

    return PostgresCluster, free_port


def fixtures() -> dict[str, Any]:
    """A subject and a form record for the entries to point at (foreign keys checked as in real use)."""
    sys.path.insert(0, str(ROOT))
    from tests.web import factories

    study = factories.make_study()
    site = factories.site_a(study)
    user = factories.make_user("bench-investigator", "investigator", site)
    subject = factories.screened_subject(user, site)
    record = factories.scr_record(subject, "screening")
    return {"user": user, "site": site.pk, "subject": subject.pk, "record": record.pk, "label": subject.label}


def run_database(args: argparse.Namespace, database: str) -> dict[str, Any]:
    folder = (Path(args.keep) / database) if args.keep else Path(tempfile.mkdtemp(prefix=f"rodnan-bench-audit-{database}-"))
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"database": database}
    with ExitStack() as stack:
        url = None
        if database == "postgresql":
            cluster_class, free_port = _cluster_class()
            cluster = cluster_class(folder / "postgresql", free_port())
            stack.callback(cluster.stop)
            cluster.start()
            url = cluster.url
        from rodnan.web import runtime

        runtime.setup(data, url)
        runtime.migrate()
        figures["label"] = runtime.database_label()
        from django.db import transaction

        from rodnan.web.audit.chain import Change, ItemChange, append, verify_chain, write_checkpoint

        made = fixtures()
        if args.no_references:
            made.update(user=None, site=None, subject=None, record=None)
        start_seq = verify_chain().entries
        batches, per_batch, cpu = [], [], 0.0
        at = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
        done = 0
        while done < args.entries:
            size = min(args.batch, args.entries - done)
            changes = [
                Change("form.import", "form", f"{made['label']}/M{n % 12}/labs", "imported from the paper CRF",
                       (ItemChange(f"item_{n % 40}", None, {"raw": f"{n % 997}.{n % 10}", "unit": "g/dL",
                                                            "value": n % 997 + (n % 10) / 10}),),
                       site_id=made["site"], subject_id=made["subject"], form_record_id=made["record"])
                for n in range(done, done + size)
            ]  # fmt: skip
            started, cpu_started = time.perf_counter(), time.process_time()
            with transaction.atomic():
                append(user=made["user"], role="investigator", changes=changes, source="import", at=at)
            seconds = time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            batches.append(seconds)
            per_batch.append(seconds / size * 1e6)
            done += size
            if len(batches) % 50 == 0:
                print(f"    {done:,} entries appended", flush=True)
        figures["append"] = {"entries": done, "batch": args.batch, "seconds": sum(batches),
                             "us_per_entry_mean": sum(batches) / done * 1e6, "python_cpu_us_per_entry": cpu / done * 1e6,
                             "us_per_entry_median_batch": statistics.median(per_batch),
                             "us_per_entry_p95_batch": sorted(per_batch)[int(0.95 * (len(per_batch) - 1))]}  # fmt: skip
        checkpoints = []
        for _ in range(10):
            started = time.perf_counter()
            write_checkpoint()
            checkpoints.append(time.perf_counter() - started)
        figures["checkpoint_s_median"] = statistics.median(checkpoints)
        figures["checkpoint_s_max"] = max(checkpoints)
        started, cpu_started = time.perf_counter(), time.process_time()
        report = verify_chain()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        figures["verify"] = {"entries": report.entries, "ok": report.ok, "problem": report.problem, "seconds": seconds,
                             "cpu_seconds": cpu_seconds}  # fmt: skip
        assert report.entries == start_seq + done, report
        from django.db import connections

        connections.close_all()
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def report(all_figures: list[dict[str, Any]]) -> bool:
    ok = True
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for f in all_figures:
        a, v = f["append"], f["verify"]
        per_million = v["seconds"] / max(v["entries"], 1) * 1e6
        print(f"{f['label']}:")
        print(f"  append: {a['entries']:,} entries in batches of {a['batch']:,}: {a['seconds']:.1f} s, "
              f"{a['us_per_entry_mean']:.1f} µs per entry (median batch {a['us_per_entry_median_batch']:.1f}, "
              f"p95 batch {a['us_per_entry_p95_batch']:.1f}; of which this process's CPU {a['python_cpu_us_per_entry']:.1f}); "
              f"target ≤ {TARGET_APPEND_US:g}")  # fmt: skip
        print(f"  verify: {v['entries']:,} entries in {v['seconds']:.1f} s ({per_million:.1f} s per million; "
              f"this process's CPU {v['cpu_seconds']:.1f} s), "
              f"{'intact' if v['ok'] else 'BROKEN: ' + v['problem']}; target < {TARGET_VERIFY_S:g} s per million")  # fmt: skip
        print(f"  checkpoint: median {f['checkpoint_s_median'] * 1000:.1f} ms, max {f['checkpoint_s_max'] * 1000:.1f} ms; "
              f"target < {TARGET_CHECKPOINT_S:g} s")  # fmt: skip
        ok &= a["us_per_entry_mean"] <= TARGET_APPEND_US and per_million < TARGET_VERIFY_S and v["ok"]
        ok &= f["checkpoint_s_max"] < TARGET_CHECKPOINT_S
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=3000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", metavar="DIR", help="keep the data folders (and the PostgreSQL cluster) in DIR")
    parser.add_argument(
        "--no-references",
        action="store_true",
        help="entries without user, site, subject and record (measures the foreign-key checks' share)",
    )
    parser.add_argument("--phase", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.phase:  # one database per process (Django is set up once per process)
        os.environ.setdefault("RODNAN_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
        Path(args.json).write_text(json.dumps(run_database(args, args.phase), indent=1))
        return
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    all_figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for database in databases:
            print(f"{database}:", flush=True)
            out = Path(tmp) / f"{database}.json"
            argv = [
                f"--entries={args.entries}",
                f"--batch={args.batch}",
                *([f"--keep={args.keep}"] if args.keep else []),
                *(["--no-references"] if args.no_references else []),
            ]
            child = subprocess.Popen([sys.executable, __file__, *argv, "--phase", database, "--json", str(out)])
            try:
                child.wait()
            except BaseException:
                child.terminate()
                child.wait()
                raise
            if child.returncode != 0 or not out.exists():
                raise SystemExit(f"the {database} run failed (exit {child.returncode})")
            all_figures.append(json.loads(out.read_text()))
    ok = report(all_figures)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
