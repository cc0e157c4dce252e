"""Benchmark: Kaplan-Meier, log-rank and Cox on the DFS of 100,000 simulated subjects.

What is built (not timed against the target, but each step's time is printed):

1. ``simulate_cohort`` for 100,000 subjects, in parts of ``--chunk`` subjects (5,000) with seeds from
   ``replicate_seeds(seed, parts)``, so that memory stays bounded;
2. the endpoint evaluation of every part, as the in-silico trial does it: the values of the items the
   endpoints read (``cohort_frames``, ``analysis_items``), ``from_frames`` (checks, unit conversion,
   derived items), ``evaluate_endpoints``, and the ADaM-like datasets ``derive_time_to_event`` (ADTTE,
   its DFS rows) and ``derive_subject_level`` (ADSL) -- the "endpoint evaluation" line;
3. one frame of 100,000 DFS rows: AVAL (days from the infusion), the event (CNSR = 0), and five ADSL
   baseline covariates: AGE, FEMALE (SEX = F), MRSSBL, FVCPPBL, DLCOPPBL; and PATHWAY.

What is timed against the target (issue #6: KM and Cox on 100,000 simulated subjects in < 10 s, on this
2-core machine): ``fit_kaplan_meier(AVAL, event)`` + ``fit_cox(frame, "AVAL", "EVENT", the five
covariates, ties="efron")``, wall clock. ``compare_log_rank(AVAL, event, PATHWAY)`` (four groups) is
timed and printed as well, with the sum of the three. The exit status is 1 when KM + Cox take 10 s or more.
Usage: ``python bench/analysis.py [--n 100000] [--chunk 5000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from rodnan.core.analysis.cox import fit_cox
from rodnan.core.analysis.datasets import derive_subject_level, derive_time_to_event
from rodnan.core.analysis.insilico import analysis_items, cohort_frames, replicate_seeds
from rodnan.core.analysis.survival import compare_log_rank, fit_kaplan_meier
from rodnan.core.endpoints import evaluate_endpoints
from rodnan.core.protocol import load_protocol
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.core.trialdata import from_frames

COVARIATES = ["AGE", "FEMALE", "MRSSBL", "FVCPPBL", "DLCOPPBL"]
TARGET_SECONDS = 10.0


class Clock:
    """Wall-clock and process CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s wall, {self.cpu:6.2f} s CPU"


def build_dfs_frame(n: int, chunk: int, seed: int) -> tuple[pd.DataFrame, float, float]:
    """The DFS rows with the ADSL covariates of ``n`` simulated subjects; seconds simulating and evaluating."""
    study = load_protocol()
    items = analysis_items(study)
    parts = (n + chunk - 1) // chunk
    seeds = replicate_seeds(seed, parts)
    frames, simulating, evaluating = [], 0.0, 0.0
    for k in range(parts):
        size = min(chunk, n - k * chunk)
        start = time.perf_counter()
        cohort = simulate_cohort(study, size, seeds[k])
        middle = time.perf_counter()
        subjects, values, events = cohort_frames(cohort, items, prefix=f"P{k}-")
        data = from_frames(study, subjects, values, events, source="bench")
        result = evaluate_endpoints(data)
        adtte = derive_time_to_event(data, result)
        adsl = derive_subject_level(data, result)
        evaluating += time.perf_counter() - middle
        simulating += middle - start
        dfs = adtte[adtte["PARAMCD"] == "DFS"].merge(adsl, on="USUBJID", suffixes=("", "_ADSL"))
        frames.append(
            pd.DataFrame(
                {
                    "AVAL": dfs["AVAL"].to_numpy(dtype=np.float64),
                    "EVENT": (dfs["CNSR"] == 0).to_numpy(dtype=np.int64),
                    "AGE": dfs["AGE"].to_numpy(dtype=np.float64),
                    "FEMALE": (dfs["SEX"] == "F").to_numpy(dtype=np.float64),
                    "MRSSBL": dfs["MRSSBL"].to_numpy(dtype=np.float64),
                    "FVCPPBL": dfs["FVCPPBL"].to_numpy(dtype=np.float64),
                    "DLCOPPBL": dfs["DLCOPPBL"].to_numpy(dtype=np.float64),
                    "PATHWAY": dfs["PATHWAY"].to_numpy(dtype=object),
                }
            )
        )
        print(f"  part {k + 1}/{parts}: {size:,} subjects", file=sys.stderr, flush=True)
    return pd.concat(frames, ignore_index=True), simulating, evaluating


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    frame, simulating, evaluating = build_dfs_frame(args.n, args.chunk, args.seed)
    time_, event = frame["AVAL"].to_numpy(), frame["EVENT"].to_numpy()
    with Clock() as km_clock:
        km = fit_kaplan_meier(time_, event)
    with Clock() as lr_clock:
        log_rank = compare_log_rank(time_, event, frame["PATHWAY"].to_numpy())
    with Clock() as cox_clock:
        cox = fit_cox(frame, "AVAL", "EVENT", COVARIATES, ties="efron")
    print(f"simulate_cohort, {args.n:,} subjects in parts of {args.chunk:,}: {simulating:.1f} s")
    print(f"endpoint evaluation (frames, from_frames, evaluate_endpoints, ADTTE, ADSL): {evaluating:.1f} s")
    median = f"median {km.median.time:g} days" if np.isfinite(km.median.time) else "median not reached"
    print(f"DFS rows: {len(frame):,}, events {km.events:,}, distinct times {len(km.table):,}, {median}")
    print(f"fit_kaplan_meier:               {km_clock}")
    print(f"compare_log_rank (4 pathways):  {lr_clock}   chi2 {log_rank.chi2:.1f} on {log_rank.df} df")
    print(f"fit_cox (Efron, 5 covariates):  {cox_clock}   n {cox.n:,}, converged {cox.converged}")
    for name, row in cox.coefficients.iterrows():
        print(f"    {name:9s} HR {row['hr']:.4f} ({row['hr_lower']:.4f}-{row['hr_upper']:.4f})")
    km_cox = km_clock.wall + cox_clock.wall
    print(f"KM + log-rank + Cox:            {km_cox + lr_clock.wall:6.2f} s wall")
    verdict = "OK" if km_cox < TARGET_SECONDS else "MISSED"
    print(f"KM + Cox:                       {km_cox:6.2f} s wall ({verdict} < {TARGET_SECONDS:g} s)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    if km_cox >= TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
