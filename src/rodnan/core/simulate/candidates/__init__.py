"""Simulated screening pools: made-up candidates, each with the verdict its generator intended.

Every candidate is built for one scenario, and the scenario fixes the verdict ``rodnan screen`` must
give (issue #4):

* ``pathway:P``: eligible through exactly the pathway P (ACR criteria met, the other pathways
  clearly not met, no exclusion);
* ``exclusion:E``: ineligible by exactly the exclusion E, with one qualifying pathway;
* ``no_pathway``: ineligible, ACR criteria met but every pathway clearly not met;
* ``acr_not_met``: ineligible, one pathway met but the ACR (1980 ARA) criteria not fulfilled;
* ``missing:ITEM``: incomplete, and ITEM is the one value that keeps the verdict open (an item read by
  an exclusion or the ACR criterion for an otherwise eligible candidate; a pathway item on which its
  pathway hinges for a candidate with no other pathway).

The thresholds are the protocol's: they are read from the criteria's expressions and converted to
the item's unit; every value on the deciding side of a threshold keeps :data:`MARGIN` (2 % of the
threshold) from it, so rounding and unit conversion cannot flip a verdict. Units and plausible
ranges come from the items. Which item a scenario pushes across which threshold is this module's
table (:data:`STATES`, :data:`EXCLUSION_STATE`), written for the four pathways of NCT00962923.

Values are those of an SSc screening population at a Chinese hospital, in the units its laboratory
reports (haemoglobin and albumin in g/L, creatinine in µmol/L, platelets in 10^9/L). A wide CSV has
one unit per column, so the alternative units are exercised by writing a few whole columns in the
item's first accepted unit (``hemoglobin [g/dL]``, ``creatinine [mg/dL]``), chosen at random at the
rate the parameters give. Values are left empty at random only where that cannot change the verdict.

Everything is drawn with numpy (``default_rng(seed)``), whole columns at a time, and written with a
fixed number of decimals, so the same seed and parameters give the same bytes.

Example::

    pool = simulate_candidates(load_protocol(), n=1000, seed=7)
    Path("pool.csv").write_text(candidates_csv_text(pool))   # then: rodnan screen pool.csv

The package, by responsibility: :mod:`~rodnan.core.simulate.candidates.params` (:class:`CandidateParams`, the
mix), :mod:`~rodnan.core.simulate.candidates.recipes` (how each item is drawn), ``scenarios`` (what is read
from the protocol, the scenarios), ``draw`` (the values of a pool) and ``pool`` (:func:`simulate_candidates`,
:func:`candidates_csv_text`).
"""

from rodnan.core.simulate.candidates.params import CandidateParams
from rodnan.core.simulate.candidates.pool import CandidatePool, candidates_csv_text, simulate_candidates
from rodnan.core.simulate.candidates.recipes import EXCLUSION_STATE, MARGIN, STATES

__all__ = [
    "EXCLUSION_STATE",
    "MARGIN",
    "STATES",
    "CandidateParams",
    "CandidatePool",
    "candidates_csv_text",
    "simulate_candidates",
]
