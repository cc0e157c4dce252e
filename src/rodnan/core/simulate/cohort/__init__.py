"""A seeded synthetic cohort of NCT00962923, from screening through the protocol's follow-up.

Every subject is simulated from latent disease states (skin, disability, physical and mental
health, lung function) that improve after the MSC infusion by the effect sizes of
:class:`~rodnan.core.simulate.params.SimulationParams`; the forms the protocol's schedule collects
at each visit are then filled at item level (the 17 mRSS areas, the 36 SF-36 answers, the HAQ
items, raw lung function ...), so that rodnan's instruments compute the scores from the answers.

Built to be internally consistent: visit dates follow the schedule (with late and missed visits),
nothing is recorded after death or withdrawal, weight loss agrees with the weights, % predicted
agrees with the raw values through the protocol's reference equations, lymphocyte subsets agree
with each other, and every subject's screening values make them eligible through the pathway they
were enrolled by.

Everything is vectorised over subjects (numpy, one ``Generator(PCG64)`` seeded once); the loops
run over visits and items only, so the same seed gives the same cohort on any machine.

The package, by responsibility: :mod:`~rodnan.core.simulate.cohort.simulation` (:func:`simulate_cohort`, the
loop over the visits), :mod:`~rodnan.core.simulate.cohort.subjects` (who the subjects are and how their
follow-up ends), :mod:`~rodnan.core.simulate.cohort.visits` (the values at each visit),
:mod:`~rodnan.core.simulate.cohort.adverse_events`, and :mod:`~rodnan.core.simulate.cohort.table` (the
:class:`SimulatedCohort` and its CSV text).
"""

from rodnan.core.simulate.cohort.simulation import simulate_cohort
from rodnan.core.simulate.cohort.table import SimulatedCohort, ValueTable, format_numbers

__all__ = ["SimulatedCohort", "ValueTable", "format_numbers", "simulate_cohort"]
