"""Benchmark: simulate 10,000 subjects with the protocol's 12 months of follow-up.

Target (issue #4, 2-core machine): the simulation in under 10 s. Also reports the time to write the
cohort as CSV (``rodnan simulate``'s files) and the peak memory of this process.
Usage: ``python bench/simulate.py [--n 10000] [--seed 1] [--write]``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from rodnan.cli.simulate import write_cohort
from rodnan.core.protocol import load_protocol
from rodnan.core.simulate.cohort import simulate_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="also write the CSV files and time it")
    args = parser.parse_args()
    study = load_protocol()
    start = time.perf_counter()
    cohort = simulate_cohort(study, args.n, args.seed)
    seconds = time.perf_counter() - start
    print(
        f"simulate_cohort: {args.n:,} subjects, {len(cohort.values):,} item values, {len(cohort.adverse_events):,} adverse events"
    )
    print(f"  {seconds:.2f} s ({'OK' if seconds < 10 else 'MISSED'} < 10 s)")
    if args.write:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            paths = write_cohort(cohort, Path(folder))
            size = sum(p.stat().st_size for p in paths.values()) / 1e6
            print(f"write CSV: {time.perf_counter() - start:.2f} s, {size:,.0f} MB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
