"""The results of a Cox fit (:class:`CoxResult`, :class:`UnivariableCoxResult`) and how an engine's estimate
becomes one: Wald or profile limits, the likelihood-ratio test, concordance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from rodnan.core.analysis.cox.engines import Fitted
from rodnan.core.analysis.cox.firth import firth_terms
from rodnan.core.analysis.cox.risk_sets import FloatArray, RiskSets, Ties

COEFFICIENT_COLUMNS = ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p")
UNIVARIABLE_COLUMNS = ("covariate", "n", "events", *COEFFICIENT_COLUMNS, "penalizer", "note")


@dataclass(frozen=True, eq=False)
class CoxResult:
    """A fitted Cox model.

    Attributes:
        coefficients: one row per covariate (index): coef (log hazard ratio), se, hr, hr_lower, hr_upper,
            z (Wald), p. The limits and p are Wald's, except for a Firth fit with ``ci_method`` "profile":
            profile penalised-likelihood limits and likelihood-ratio p (NaN limit: not finite). All NaN when
            the model could not be estimated (see ``warnings``).
        covariance: covariance matrix of the coefficients.
        n: subjects used (complete cases).
        events: events among them.
        n_excluded: rows dropped for a missing duration, event or covariate.
        events_per_variable: events / number of covariates.
        ties: "efron" or "breslow" (the partial likelihood actually used; Firth always uses Breslow's).
        penalizer: "none" or "firth" (the method actually used).
        converged: whether the fit converged to a finite estimate.
        log_likelihood: (penalised, for Firth) partial log-likelihood at the estimate.
        log_likelihood_null: the same at coefficients 0.
        lr_chi2, lr_df, lr_p: likelihood-ratio test of all coefficients = 0.
        concordance: Harrell's C of the linear predictor.
        monotone_likelihood: covariates whose unpenalised estimate diverges (separation).
        warnings: what the reader of the result must know (few events, separation, convergence).
        conf_level: confidence level of the hazard-ratio intervals.
        ci_method: "wald" or "profile" (how hr_lower, hr_upper and p were computed).
    """

    coefficients: pd.DataFrame
    covariance: pd.DataFrame
    n: int
    events: int
    n_excluded: int
    events_per_variable: float
    ties: Ties
    penalizer: Literal["none", "firth"]
    converged: bool
    log_likelihood: float
    log_likelihood_null: float
    lr_chi2: float
    lr_df: int
    lr_p: float
    concordance: float
    monotone_likelihood: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    conf_level: float = 0.95
    ci_method: Literal["wald", "profile"] = "wald"


@dataclass(frozen=True, eq=False)
class UnivariableCoxResult:
    """One Cox model per covariate, each on the subjects with that covariate recorded.

    Attributes:
        table: one row per covariate in the order given: covariate, n, events, coef, se, hr, hr_lower,
            hr_upper, z, p, penalizer, note (why a covariate was skipped, or the fit's warnings).
        fits: the full :class:`CoxResult` of each covariate that was fitted.
    """

    table: pd.DataFrame
    fits: Mapping[str, CoxResult] = field(default_factory=dict)


def build_result(
    time: FloatArray,
    event: FloatArray,
    x: FloatArray,
    names: tuple[str, ...],
    fitted: Fitted,
    ties: Ties,
    penalizer: Literal["none", "firth"],
    n_excluded: int,
    epv: float,
    conf_level: float,
    monotone: tuple[str, ...],
    notes: list[str],
) -> CoxResult:
    """The :class:`CoxResult` of an engine\'s fit: Wald (or profile) limits, likelihood-ratio test, concordance."""
    n, p = x.shape
    events = int(event.sum())
    if fitted.beta is None or fitted.covariance is None:
        return empty_result(names, n, events, n_excluded, epv, ties, conf_level, notes, penalizer)
    beta, covariance = fitted.beta, fitted.covariance
    se = np.sqrt(np.diag(covariance))
    crit = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zvalue = beta / se
        coefficients = pd.DataFrame(
            {
                "coef": beta,
                "se": se,
                "hr": np.exp(beta),
                "hr_lower": np.exp(beta - crit * se),
                "hr_upper": np.exp(beta + crit * se),
                "z": zvalue,
                "p": 2 * stats.norm.sf(np.abs(zvalue)),
            },
            index=pd.Index(names, name="covariate"),
        )
        ci_method: Literal["wald", "profile"] = "wald"
        if fitted.profile_limits is not None and fitted.profile_p is not None:
            coefficients["hr_lower"] = np.exp(fitted.profile_limits[:, 0])
            coefficients["hr_upper"] = np.exp(fitted.profile_limits[:, 1])
            coefficients["p"] = fitted.profile_p
            ci_method = "profile"
    risk = RiskSets(time, event)
    centred = x - x.mean(axis=0)
    if penalizer == "firth":
        scale = x.std(axis=0)
        loglik = firth_terms(risk, centred / scale, beta * scale)[0]
        loglik_null = firth_terms(risk, centred / scale, np.zeros(p))[0]
    else:
        loglik = risk.loglik(centred, beta, ties)
        loglik_null = risk.loglik(centred, np.zeros(p), ties)
    lr_chi2 = 2 * (loglik - loglik_null)
    from lifelines.utils import concordance_index

    concordance = float(concordance_index(time, -(x @ beta), event))
    converged = fitted.converged and not monotone
    return CoxResult(
        coefficients=coefficients,
        covariance=pd.DataFrame(covariance, index=list(names), columns=list(names)),
        n=n,
        events=events,
        n_excluded=n_excluded,
        events_per_variable=epv,
        ties=ties,
        penalizer=penalizer,
        converged=converged,
        log_likelihood=float(loglik),
        log_likelihood_null=float(loglik_null),
        lr_chi2=float(lr_chi2),
        lr_df=p,
        lr_p=float(stats.chi2.sf(lr_chi2, p)),
        concordance=concordance,
        monotone_likelihood=monotone,
        warnings=tuple(notes),
        conf_level=conf_level,
        ci_method=ci_method,
    )


def empty_result(
    names: tuple[str, ...],
    n: int,
    events: int,
    n_excluded: int,
    epv: float,
    ties: Ties,
    conf_level: float,
    notes: list[str],
    penalizer: Literal["none", "firth"] = "none",
) -> CoxResult:
    """A :class:`CoxResult` for a model that could not be estimated: NaN coefficients, the reason in ``warnings``."""
    nan_table = pd.DataFrame(math.nan, index=pd.Index(names, name="covariate"), columns=list(COEFFICIENT_COLUMNS))
    nan_covariance = pd.DataFrame(math.nan, index=list(names), columns=list(names))
    return CoxResult(
        coefficients=nan_table,
        covariance=nan_covariance,
        n=n,
        events=events,
        n_excluded=n_excluded,
        events_per_variable=epv,
        ties=ties,
        penalizer=penalizer,
        converged=False,
        log_likelihood=math.nan,
        log_likelihood_null=math.nan,
        lr_chi2=math.nan,
        lr_df=len(names),
        lr_p=math.nan,
        concordance=math.nan,
        warnings=tuple(notes),
        conf_level=conf_level,
    )
