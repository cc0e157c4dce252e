"""Benchmark: bulk screening of simulated candidates from a wide CSV, end to end.

The candidates come from ``rodnan.core.simulate.candidates`` (a realistic screening pool, each
candidate with the verdict its generator intended; the output says how many got it).

Measures, on this machine:
- candidates per second of ``rodnan screen FILE --format csv --out OUT`` run as a separate
  process (CSV parsing, unit conversion, range checks, evaluation and CSV output included);
- the peak resident memory of that process and its worker processes together (the sum of their
  RSS, sampled every 20 ms; pages the forked workers share with it are counted twice, so this is
  an upper bound);
- the rate of ``evaluate_criteria`` row by row on a sample, and the ratio of the two rates.

Targets (issue #2, 2-core machine): >= 300,000 candidates/s, >= 30x the row-by-row rate, peak
memory < 2 GB. Usage: ``python bench/screen.py [--n 1000000] [--sample 5000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

from rodnan.core.eligibility import evaluate_criteria
from rodnan.core.protocol import load_protocol
from rodnan.core.simulate.candidates import CandidatePool, candidates_csv_text, simulate_candidates


def write_candidates(path: Path, n: int, seed: int) -> CandidatePool:
    """Write a simulated screening pool of ``n`` candidates (``simulate_candidates``) as a wide CSV."""
    pool = simulate_candidates(load_protocol(), n, seed)
    path.write_bytes(candidates_csv_text(pool).encode())
    return pool


def _tree_rss(root: int) -> int:
    """Sum of the resident set sizes of ``root`` and its descendants, in bytes (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        parents[int(entry)] = int(fields["PPid"])
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, frontier = 0, {root}
    while frontier:
        total += sum(rss.get(pid, 0) for pid in frontier)
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
    return total


def run_cli(path: Path, out: Path) -> tuple[float, int]:
    """Run ``rodnan screen`` in a child process; return (seconds, peak RSS of its process tree in bytes)."""
    peak = 0
    done = threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(pid))
            time.sleep(0.02)

    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "rodnan", "screen", str(path), "--format", "csv", "--out", str(out)], stderr=subprocess.PIPE
    )
    sampler = threading.Thread(target=sample, args=(process.pid,), daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"rodnan screen failed: {stderr.decode()}")
    return seconds, peak


def row_by_row_rate(path: Path, sample: int) -> float:
    """Candidates per second of evaluate_criteria on the first ``sample`` rows (parsing excluded)."""
    study = load_protocol()
    frame = pd.read_csv(path, nrows=sample, keep_default_na=False, dtype=str)
    records = []
    for row in frame.to_dict("records"):
        facts: dict[str, object] = {}
        for header, value in row.items():
            if header == "subject_id" or value == "":
                continue
            code, _, unit = header.partition(" [")
            facts[code] = value if not unit else _measurement(value, unit[:-1])
        records.append(facts)
    start = time.perf_counter()
    for facts in records:
        evaluate_criteria(study, facts)
    return len(records) / (time.perf_counter() - start)


def _measurement(value: str, unit: str) -> object:
    from rodnan.core.values import Measurement

    return Measurement(value, unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "candidates.csv", Path(tmp) / "verdicts.csv"
        t = time.perf_counter()
        pool = write_candidates(path, args.n, args.seed)
        print(f"wrote {args.n:,} candidates ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        seconds, peak = run_cli(path, out)
        bulk_rate = args.n / seconds
        screened = pd.read_csv(out, usecols=["subject_id", "verdict"], dtype=str)
        verdicts = screened["verdict"].value_counts().to_dict()
        assert sum(verdicts.values()) == args.n, verdicts
        as_intended = int((screened["verdict"].to_numpy() == pool.intended_verdict).sum())
        del pool
        row_rate = row_by_row_rate(path, args.sample)
    print(f"bulk (rodnan screen, end to end): {seconds:.2f} s, {bulk_rate:,.0f} candidates/s")
    print(f"peak RSS (process + workers): {peak / 2**20:,.0f} MiB")
    print(f"verdicts: {verdicts}")
    print(f"verdicts as the simulator intended: {as_intended:,} of {args.n:,}")
    print(f"row by row (evaluate_criteria, {args.sample:,} candidates): {row_rate:,.0f} candidates/s")
    print(f"ratio bulk / row by row: {bulk_rate / row_rate:.0f}x")
    print(f"targets: >= 300,000/s {'OK' if bulk_rate >= 300_000 else 'MISSED'}; "
          f">= 30x {'OK' if bulk_rate / row_rate >= 30 else 'MISSED'}; "
          f"< 2 GB {'OK' if peak < 2e9 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
