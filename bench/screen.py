"""Benchmark: bulk screening of synthetic candidates from a wide CSV, end to end.

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

import numpy as np
import pandas as pd

from rodnan.core.eligibility import evaluate_criteria
from rodnan.core.protocol import load_protocol

# value ranges around every threshold of the protocol (uniform), in the header units below
SPREAD = {
    "disease_duration_months": (0, 60), "mrss": (5, 40), "esr": (2, 60), "hemoglobin [g/dL]": (8, 16),
    "vc_pct_pred": (40, 110), "fvc_pct_pred": (40, 110), "dlco_pct_pred": (30, 110), "mpap_echo [mm[Hg]]": (15, 60),
    "albumin [g/L]": (18, 48), "weight_loss_12m_pct": (-5, 20), "urine_protein_24h [g/(24.h)]": (0, 1.5),
    "creatinine [mg/dL]": (0.5, 2.5), "lvef": (35, 75), "creatinine_clearance": (10, 140), "platelets [/mm3]": (40000, 400000),
}  # fmt: skip
BOOLEANS = {
    "acr_1980_met": 0.9, "uncontrolled_arrhythmia": 0.03, "hemorrhagic_cystitis": 0.01, "hiv_positive": 0.01,
    "htlv1_positive": 0.01, "malignancy": 0.02, "pregnant": 0.02, "prosthesis": 0.02, "vascular_access": 0.97,
}  # fmt: skip
MISSING = 0.03


def write_candidates(path: Path, n: int, seed: int) -> None:
    """A wide CSV of ``n`` synthetic candidates (about 3 % of values missing)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {"subject_id": np.char.add("C", np.arange(n).astype(str))}
    for name, (low, high) in SPREAD.items():
        values = rng.uniform(low, high, n)
        values = np.round(values) if name in ("mrss", "platelets [/mm3]") else np.round(values, 1 if high > 10 else 2)
        values[rng.random(n) < MISSING] = np.nan
        columns[name] = values
    for name, p in BOOLEANS.items():
        flags = np.where(rng.random(n) < p, "yes", "no").astype(object)
        flags[rng.random(n) < MISSING] = ""
        columns[name] = flags
    frame = pd.DataFrame(columns)
    for name in ("mrss", "platelets [/mm3]"):
        frame[name] = frame[name].astype("Int64")
    frame.to_csv(path, index=False)


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
        write_candidates(path, args.n, args.seed)
        print(f"wrote {args.n:,} candidates ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        seconds, peak = run_cli(path, out)
        bulk_rate = args.n / seconds
        verdicts = pd.read_csv(out, usecols=["verdict"])["verdict"].value_counts().to_dict()
        assert sum(verdicts.values()) == args.n, verdicts
        row_rate = row_by_row_rate(path, args.sample)
    print(f"bulk (rodnan screen, end to end): {seconds:.2f} s, {bulk_rate:,.0f} candidates/s")
    print(f"peak RSS (process + workers): {peak / 2**20:,.0f} MiB")
    print(f"verdicts: {verdicts}")
    print(f"row by row (evaluate_criteria, {args.sample:,} candidates): {row_rate:,.0f} candidates/s")
    print(f"ratio bulk / row by row: {bulk_rate / row_rate:.0f}x")
    print(f"targets: >= 300,000/s {'OK' if bulk_rate >= 300_000 else 'MISSED'}; "
          f">= 30x {'OK' if bulk_rate / row_rate >= 30 else 'MISSED'}; "
          f"< 2 GB {'OK' if peak < 2e9 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
