"""Cox proportional-hazards models: univariable and multivariable, with Firth's penalised likelihood for few events.

Engines (each cross-checked against the others and against R in tests/core/analysis/test_cox.py):

* ``ties="efron"`` (R's default): lifelines ``CoxPHFitter`` (Newton-Raphson on Efron's partial
  likelihood), run with a full Newton step and tight tolerances so that it stops where R's ``coxph``
  does. From 5,000 subjects it starts from an estimate found by a vectorised (numpy) Newton-Raphson on
  the same partial likelihood, which leaves lifelines about one iteration instead of four or five; the
  estimate is the same (tested) and lifelines still supplies the standard errors.
* ``ties="breslow"``: statsmodels ``PHReg(ties="breslow")``.
* ``penalizer="firth"``: Firth's penalised partial likelihood (Heinze & Schemper, Biometrics
  2001;57:114-9), maximised here by Newton-Raphson: maximise l*(b) = l(b) + 1/2 log det I(b), with the
  modified score U*_r = U_r + 1/2 trace(I^-1 dI/db_r), steps of I^-1 U* (at most 2.5 per standardised
  coefficient, halved while l* decreases). It uses Breslow's partial likelihood for ties, as R's
  ``coxphf`` does. Standard errors are I(b)^-1 at the penalised estimate. By default (``firth_ci=
  "profile"``, as ``coxphf``'s ``pl=TRUE``) the limits are profile penalised-likelihood limits (where
  2 (l*max - l*profile(b_j)) reaches the chi-square(1) quantile) and the p-values penalised
  likelihood-ratio tests; ``firth_ci="wald"`` gives Wald's. The model likelihood-ratio test compares
  the penalised log-likelihood at b and at 0 (``coxphf``'s penalised likelihood-ratio test).

Few events. The result reports events per variable (EPV = events / covariates) and warns below
``min_events_per_variable`` (10, Peduzzi et al., J Clin Epidemiol 1995;48:1503-10). With
``penalizer="auto"`` Firth's method is used when EPV is below that threshold or the likelihood is
monotone.

Monotone likelihood (separation). When a covariate (or combination) separates the events from the
rest of the risk sets, the maximum-likelihood estimate is infinite: the fit stops at a large value
whose standard error is meaningless. Detected as R's ``coxph`` does ("Loglik converged before variable
...; coefficient may be infinite"): one more Newton step from the reported estimate still moves a
standardised coefficient (by more than 0.01 standard deviations of the covariate per unit change), or
the coefficient is implausibly large (|b x SD| > 10). Reported in ``monotone_likelihood`` and
``warnings``; Firth's estimate stays finite.

Concordance is Harrell's C of the linear predictor (lifelines' ``concordance_index``, which counts ties
in the predictor as 1/2, as R's ``concordance`` does).

The package, by responsibility: :mod:`~rodnan.core.analysis.cox.fit` (the two entry points, checks, the choice
of engine), :mod:`~rodnan.core.analysis.cox.engines` (lifelines, statsmodels, separation),
:mod:`~rodnan.core.analysis.cox.firth`, :mod:`~rodnan.core.analysis.cox.risk_sets` (the partial likelihood)
and :mod:`~rodnan.core.analysis.cox.result`.
"""

from rodnan.core.analysis.cox.engines import WARM_START_MIN_SUBJECTS
from rodnan.core.analysis.cox.fit import (
    FIRTH_CIS,
    MIN_EVENTS_PER_VARIABLE,
    PENALIZERS,
    TIES,
    FirthCi,
    Penalizer,
    fit_cox,
    fit_univariable_cox,
)
from rodnan.core.analysis.cox.result import COEFFICIENT_COLUMNS, UNIVARIABLE_COLUMNS, CoxResult, UnivariableCoxResult
from rodnan.core.analysis.cox.risk_sets import Ties

__all__ = [
    "COEFFICIENT_COLUMNS",
    "FIRTH_CIS",
    "MIN_EVENTS_PER_VARIABLE",
    "PENALIZERS",
    "TIES",
    "UNIVARIABLE_COLUMNS",
    "WARM_START_MIN_SUBJECTS",
    "CoxResult",
    "FirthCi",
    "Penalizer",
    "Ties",
    "UnivariableCoxResult",
    "fit_cox",
    "fit_univariable_cox",
]
