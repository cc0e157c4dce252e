"""Benchmark: the identity store on SQLite with many patients (decision 0020).

In a fresh data folder: the study, one coordinator, ``--subjects`` subjects and as many invented identities
(rows inserted in bulk: this measures the reads, not the import), then, each ``--repeat`` times, median and
95th percentile of the wall time:

1. the identity page (``GET /subjects/<pk>/identity/`` through Django's test client: the view, its audit entry
   and the page), for random subjects;
2. a search by hospital record number and a search by the beginning of a family name (``POST /identity/search/``,
   its audit entry included);
3. a correction through the write path (:func:`rodnan.web.identity.actions.check_save_identity`: plan, row,
   audit entry, history row).

Usage: ``python bench/identity.py [--subjects 10000] [--repeat 100] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(repeat: int, run: Callable[[int], object]) -> tuple[float, float]:
    times = []
    for n in range(repeat):
        start = time.perf_counter()
        run(n)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[max(0, round(0.95 * len(times)) - 1)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="data folder to use and keep (default: a temporary one)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="rodnan-bench-identity-"))
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.pop("DATABASE_URL", None)
    from rodnan.web import runtime

    runtime.setup(folder)
    runtime.migrate()
    from django.test import Client
    from django.utils import timezone

    from rodnan.web.demo import ensure_users
    from rodnan.web.identity.actions import check_save_identity
    from rodnan.web.identity.demo import demo_identity
    from rodnan.web.identity.models import Identity
    from rodnan.web.studies.models import Site
    from rodnan.web.studies.protocol import load_study
    from rodnan.web.subjects.models import Subject

    study = load_study()
    site = Site.objects.get(study=study)
    coordinator = ensure_users(site)["coordinator"]
    today = timezone.localdate()
    subjects = Subject.objects.bulk_create(
        Subject(study=study, site=site, screening_number=f"{site.code}-S{n + 1:05d}", status="screening", screening_date=today)
        for n in range(args.subjects)
    )
    identities = []
    for n, subject in enumerate(subjects):
        values = demo_identity(n, today)
        values["date_of_birth"] = dt.date.fromisoformat(values["date_of_birth"])  # type: ignore[assignment]
        identities.append(Identity(subject=subject, site=site, version=1, **values))
    Identity.objects.bulk_create(identities, batch_size=2000)
    client = Client()
    client.force_login(coordinator)
    rng = random.Random(962923)
    picks = [rng.choice(subjects) for _ in range(args.repeat)]

    def view(n: int) -> None:
        assert client.get(f"/subjects/{picks[n].pk}/identity/").status_code == 200

    def by_number(n: int) -> None:
        assert client.post("/identity/search/", {"q": f"demo-{100001 + rng.randrange(args.subjects)}"}).status_code == 200

    def by_name(n: int) -> None:
        assert client.post("/identity/search/", {"q": "test-zh"}).status_code == 200

    def correct(n: int) -> None:
        subject = picks[n]
        stored = Identity.objects.get(subject=subject)
        values = {**demo_identity(subjects.index(subject), today), "phone": f"+86 25 5552 {n:04d}"}
        check_save_identity(coordinator, subject, values, f"new phone {n}", stored.version)

    print(f"{args.subjects} subjects with identities, SQLite ({folder}); median and p95 of {args.repeat} runs, ms:")
    for label, run in (("identity page (view + audit entry)", view), ("search by record number", by_number),
                       ("search by family name (up to 50 found)", by_name), ("correction (write path)", correct)):  # fmt: skip
        median, p95 = _timed(args.repeat, run)
        print(f"  {label:42s} {median:7.1f} {p95:7.1f}")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
