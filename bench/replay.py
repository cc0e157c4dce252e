"""Benchmark: ``rodnan audit verify`` with the replay (chain check, replay and reconciliation) on SQLite and PostgreSQL.

For each database, in a process of its own: a fresh data folder (PostgreSQL: a private cluster with the
server's default settings, fsync on), migrated; a simulated cohort imported through the write path
(``bench/web.py``'s ``fill``, as ``bench/import_cohort.py`` does: every subject through the same plans as
the screens, about 60 audit entries per subject, so 17,000 subjects make about 1,000,000 entries); then,
timed, the chain check alone (``verify_chain``) and the whole verification
(``rodnan.web.audit.replay.verify_and_reconcile``: the chain read once and replayed in the same pass,
then every subject, record and visit read in chunks and reconciled). The untouched import must
reconcile with no difference.

Target (issue 14): verify of 1,000,000 entries, replay included, in < 30 s on each database; the exit
status is 1 when it is missed or a difference is found.

``--entries N`` appends N corrections (``record.save`` entries of five items each, old and new values as
the plans write them) to the imported records and stores their final values, for a long trail on this
2-core machine where importing 17,000 subjects takes hours under load.

``--keep DIR`` builds each database in ``DIR/<database>`` (the data folder and, for PostgreSQL, its cluster)
and keeps it; a later run with the same ``--keep DIR`` reuses what is there (built once, verified many
times: the build options are then ignored). ``--profile FILE`` writes a cProfile of the whole
verification to ``FILE.<database>``.

Usage: ``python bench/replay.py [--subjects 17000] [--sites 10] [--entries 0] [--database sqlite|postgresql|both]
[--seed 6] [--keep DIR] [--profile FILE]``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web import database_in, fill, fresh_database, phase_figures, run_phase  # bench/web.py: the private cluster and the filling

TARGET_S = 30.0
"""Issue 14: verify (replay included) of 1,000,000 entries in under 30 s on each database."""


def append_corrections(total: int, batch: int = 3000) -> tuple[int, float]:
    """Append ``total`` corrections (``record.save`` entries, five items each, old and new stored values as the
    plans write them) to the imported records, then store each record's final values: a long trail the
    stored rows still match. Returns the count and the seconds taken."""
    from django.db import transaction

    from rodnan.web.audit.chain import Change, ItemChange, append
    from rodnan.web.crfs.models import FormRecord

    rows = list(
        FormRecord.objects.exclude(values={}).order_by("id").values_list("id", "subject__site_id", "subject_id", "values")
    )
    state = {pk: dict(values) for pk, _, _, values in rows}
    started = time.perf_counter()
    done = 0
    while done < total:
        changes = []
        for n in range(done, min(done + batch, total)):
            pk, site, subject, _ = rows[n % len(rows)]
            values = state[pk]
            items = []
            for code in list(values)[:5]:
                old = values[code]
                new = values[code] = {**old, "raw": str(n % 997), "value": float(n % 997), "display": str(n % 997)}
                items.append(ItemChange(code, old, new))
            changes.append(Change("record.save", "record", f"bench/{pk}", "transcription error", tuple(items), site_id=site,
                                  subject_id=subject, form_record_id=pk))  # fmt: skip
        with transaction.atomic():
            append(user=None, role="investigator", changes=changes, source="import")
        done += len(changes)
        if done % 100_000 < batch:
            print(f"    {done:,} corrections appended, {time.perf_counter() - started:.0f} s", flush=True)
    with transaction.atomic():
        for pk, values in state.items():
            FormRecord.objects.filter(pk=pk).update(values=values)
    return done, time.perf_counter() - started


def build(args: argparse.Namespace) -> dict[str, Any]:
    """Import the cohort and append the corrections; returns the build's figures."""
    args.verify = False
    figures = fill(args)
    if args.entries:
        figures["appended"], figures["append_s"] = append_corrections(args.entries)
    return figures


def run_database(args: argparse.Namespace, database: str) -> dict[str, Any]:
    """Migrate a fresh (or the kept) database, import the cohort, time the chain check and the whole verification."""
    if args.keep:
        folder = Path(args.keep).resolve() / database
        context = database_in(database, folder)
    else:
        context = fresh_database(database, "rodnan-bench-replay")
    with context as label:
        built = Path(args.keep).resolve() / database / "built.json" if args.keep else None
        if built is not None and built.exists():
            figures = json.loads(built.read_text())
            print(f"  reusing the database kept in {built.parent}", flush=True)
        else:
            figures = build(args)
            if built is not None:
                built.write_text(json.dumps(figures, indent=1))
        figures["database"] = label
        from rodnan.web.audit.chain import verify_chain
        from rodnan.web.audit.replay import verify_and_reconcile

        started, cpu = time.perf_counter(), time.process_time()
        chain = verify_chain()
        figures["chain_s"], figures["chain_cpu_s"] = time.perf_counter() - started, time.process_time() - cpu
        profiler = cProfile.Profile() if args.profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        result = verify_and_reconcile(limit=5)
        if profiler is not None:
            profiler.disable()
        figures["verify_s"], figures["verify_cpu_s"] = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.dump_stats(f"{args.profile}.{database}")
        figures.update(chain_ok=chain.ok, entries=result.chain.entries, ok=result.ok, differences=result.difference_count,
                       first=[str(d) for d in result.differences], rows=[result.subjects, result.records, result.visits],
                       clinical=result.clinical_entries)  # fmt: skip
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=17_000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument(
        "--entries",
        type=int,
        default=0,
        help="append this many corrections to the imported records (a long trail without importing more)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", help="build the databases in this folder and keep them; reuse them when already built")
    parser.add_argument("--profile", help="write a cProfile of the verification to this path (.sqlite / .postgresql added)")
    parser.add_argument("--phase", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if run_phase(args, run_database):
        return
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for database in databases:
            print(f"{database}:", flush=True)
            flags = [f"--subjects={args.subjects}", f"--sites={args.sites}", f"--seed={args.seed}",
                     f"--batch-size={args.batch_size}", f"--entries={args.entries}"]  # fmt: skip
            flags += [f"--keep={args.keep}"] if args.keep else []
            flags += [f"--profile={args.profile}"] if args.profile else []
            f = phase_figures(__file__, database, flags, tmp)
            per_million = f["verify_s"] / max(f["entries"], 1) * 1e6
            met = per_million < TARGET_S
            ok = ok and met and f["ok"]
            subjects, records, visits = f["rows"]
            print(f"  {f['database']}: {f['subjects']:,} subjects imported in {f['import_s']:.1f} s; "
                  f"{f['entries']:,} entries ({f['clinical']:,} clinical), {subjects:,} subjects, {records:,} records, "
                  f"{visits:,} visits", flush=True)  # fmt: skip
            print(f"  chain check alone: {f['chain_s']:.1f} s (CPU {f['chain_cpu_s']:.1f} s)", flush=True)
            print(f"  verify with replay and reconciliation: {f['verify_s']:.1f} s (CPU {f['verify_cpu_s']:.1f} s), "
                  f"{per_million:.1f} s per million entries ({'meets' if met else 'MISSES'} the {TARGET_S:.0f} s target); "
                  f"{'intact' if f['ok'] else 'DIFFERENCES: ' + str(f['differences'])} {f['first']}", flush=True)  # fmt: skip
            print(f"  load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
