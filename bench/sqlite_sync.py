"""Benchmark: what SQLite's ``synchronous`` setting costs per commit in rodnan's mode (WAL), on this disk.

Each mode writes ``--commits`` small transactions (one row of about an audit entry's size each, as a form save
commits), in a fresh database file in ``--dir`` (default: the system's temporary folder; give the data folder's
disk to measure it), and prints the median and 95th percentile time per commit and the commits per second.
Decision 0024 chose FULL from these figures.

Usage: ``python bench/sqlite_sync.py [--commits 2000] [--dir PATH] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

ROW = "x" * 700
"""About the size of one audit entry's JSON."""


def measure(folder: Path, mode: str, commits: int) -> list[float]:
    """Seconds per commit of ``commits`` one-row transactions with ``synchronous=mode`` in WAL."""
    path = folder / f"sync-{mode}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(f"PRAGMA journal_mode=WAL; PRAGMA synchronous={mode};")
    connection.execute("CREATE TABLE entry (id INTEGER PRIMARY KEY, body TEXT)")
    times = []
    for _ in range(commits):
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO entry (body) VALUES (?)", (ROW,))
        connection.execute("COMMIT")
        times.append(time.perf_counter() - start)
    connection.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as temporary:
        folder = Path(temporary)
        print(f"{args.commits} one-row commits per mode and round, WAL, in {folder} ({os.cpu_count()} CPUs)")
        print(f"{'round':>5} {'mode':>7} {'p50 ms':>8} {'p95 ms':>8} {'commits/s':>10}")
        for round_ in range(1, args.rounds + 1):
            for mode in ("NORMAL", "FULL"):
                times = sorted(measure(folder, mode, args.commits))
                p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
                print(f"{round_:>5} {mode:>7} {1000 * p50:>8.3f} {1000 * p95:>8.3f} {len(times) / sum(times):>10.0f}")


if __name__ == "__main__":
    main()
