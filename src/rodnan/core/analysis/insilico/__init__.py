"""In-silico trial: the cohort simulator and the planned analysis run many times, for power and precision.

Each replicate is one trial of ``n`` subjects: :func:`~rodnan.core.simulate.cohort.simulate_cohort` with
the replicate's own seed, read through the analysis interface
(:func:`~rodnan.core.trialdata.from_frames`, deriving the protocol's derived items), its endpoints
evaluated (:func:`~rodnan.core.endpoints.evaluate_endpoints`), and then the two analyses of issue #6:

* **mRSS change, baseline to month 12** (the BDS rows of parameter MRSS at visit M12 with their baseline,
  :func:`~rodnan.core.analysis.datasets.derive_parameter_visits`; complete cases): the paired Wilcoxon
  signed-rank test (:func:`~rodnan.core.analysis.longitudinal.compare_paired_wilcoxon`, R's
  ``wilcox.test(paired = TRUE)``) and the mean change with its t interval (mean +- t(1 - alpha/2, m - 1)
  SD / sqrt(m) over the m complete pairs; the interval excludes 0 exactly when the paired t-test rejects).
* **Disease-free survival**: the Kaplan-Meier estimate (:func:`~rodnan.core.analysis.survival.fit_kaplan_meier`,
  log-log interval) at month ``dfs_month`` (12), the number of events and whether the median DFS is reached.
  Time is on the scheduled-visit scale (:func:`dfs_months`): an event found, or a censoring, at a scheduled
  visit is at that visit's month (M12 is month 12 whether it took place on day 358 or 386); a death, an
  adverse-event trigger or an unscheduled assessment is at its day / days-per-month. On the day scale the
  events of the M12 visit spread over its window, where everyone leaves follow-up, and the Kaplan-Meier
  estimate at "day 365" then depends on how many subjects were still to be seen that week (a small trial
  drops less than a large one); on the visit scale the 12-month rate is P(no event found up to and
  including the M12 assessment), the same estimand whatever the trial size.

Replicates and seeds. Replicate ``r`` uses the seed ``replicate_seeds(seed, reps)[r]``, the first 64 bits of
``numpy.random.SeedSequence(seed, spawn_key=(r,))`` (what ``SeedSequence(seed).spawn()`` gives its r-th child):
the same seed gives the same result, the first replicates do not change when more are asked for, and any
replicate can be rebuilt alone with ``rodnan simulate --n N --seed <its seed>`` (same parameters). Replicates are
analysed in batches (their subjects renamed ``R<r>-<id>`` and evaluated together, which is the same per subject and
several times faster); only the items the endpoints read, and the inputs of the derived items among them,
are kept, so SF-36 and HAQ-DI are not derived.

Failures. An analysis that raises or gives no finite result in a replicate (fewer than two complete pairs,
every change zero, ...) is counted in ``failures`` with its message; it counts as not significant in the
power, and is left out of the means, SDs, coverage and widths.

The true mRSS change for coverage and bias is ``params.effect_mrss_12m`` (the simulator's expected change at
month 12 before the score is capped at 51, which pulls the simulated mean about 0.1-0.2 points lower), unless
a :class:`ReferenceValues` estimated from one large simulated cohort (:func:`estimate_reference`) is given;
that also supplies the reference 12-month DFS for its coverage.

The package, by responsibility: :mod:`~rodnan.core.analysis.insilico.run` (:func:`run_insilico_trial`,
:func:`estimate_reference`, the seeds), :mod:`~rodnan.core.analysis.insilico.replicate` (the analyses of one
batch of replicates) and :mod:`~rodnan.core.analysis.insilico.results` (the summaries and the result).
"""

from rodnan.core.analysis.insilico.replicate import analysis_items, cohort_frames, dfs_months, paired_wilcoxon_p
from rodnan.core.analysis.insilico.results import (
    REPLICATE_COLUMNS,
    DfsSummary,
    InSilicoResult,
    MrssSummary,
    ReferenceValues,
    summarise_replicates,
)
from rodnan.core.analysis.insilico.run import estimate_reference, replicate_seeds, run_insilico_trial

__all__ = [
    "REPLICATE_COLUMNS",
    "DfsSummary",
    "InSilicoResult",
    "MrssSummary",
    "ReferenceValues",
    "analysis_items",
    "cohort_frames",
    "dfs_months",
    "estimate_reference",
    "paired_wilcoxon_p",
    "replicate_seeds",
    "run_insilico_trial",
    "summarise_replicates",
]
