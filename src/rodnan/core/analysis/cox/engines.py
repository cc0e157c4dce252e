"""The unpenalised fit: lifelines for Efron's ties (with a vectorised warm start on large data), statsmodels
for Breslow's; their warnings become messages; and the detection of a monotone likelihood (separation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rodnan.core.analysis.cox.risk_sets import FloatArray, RiskSets, Ties

_STEP_LIMIT = 0.01  # a further Newton step above this (in covariate SDs) means the estimate is still moving
_LARGE_STANDARDISED_COEF = 10.0  # |b x SD| above this: a hazard ratio over e^10 per SD, i.e. divergence
_LIFELINES_FIT_OPTIONS = {"step_size": 1.0, "precision": 1e-13, "r_precision": 1e-14}
WARM_START_MIN_SUBJECTS = 5000  # from this size lifelines starts from a vectorised Newton-Raphson estimate


@dataclass
class Fitted:
    """What an engine (standard or Firth) returns: the estimate and its covariance (None when it failed), and its messages."""

    beta: FloatArray | None
    covariance: FloatArray | None
    converged: bool
    messages: list[str]
    profile_limits: FloatArray | None = None  # (covariates x 2) profile-likelihood limits of the coefficients
    profile_p: FloatArray | None = None


def fit_standard(time: FloatArray, event: FloatArray, x: FloatArray, ties: Ties, names: tuple[str, ...]) -> Fitted:
    """Unpenalised fit: lifelines for Efron's ties, statsmodels for Breslow's; their warnings become messages."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if ties == "efron":
                beta, covariance = _fit_lifelines(time, event, x, names)
            else:
                beta, covariance = _fit_statsmodels(time, event, x)
        except (np.linalg.LinAlgError, ValueError, ArithmeticError, RuntimeError) as exc:
            return Fitted(None, None, False, [f"the fit failed: {_first_line(exc)}"])
    converged = bool(np.all(np.isfinite(beta)) and np.all(np.isfinite(covariance)))
    for warning in caught:
        if issubclass(warning.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning)):
            continue
        text = _first_line(warning.message)
        if "failed to converge" in text.lower() or "did not converge" in text.lower():
            converged = False
        if text and text not in messages:
            messages.append(text)
    if not converged:
        messages.append("the fit did not converge")
    return Fitted(beta, covariance, converged, messages)


def _first_line(message: object) -> str:
    """The first sentence-bearing line of an engine's message, without its pointers to code examples."""
    text = str(message).strip()
    line = text.splitlines()[0].strip() if text else type(message).__name__
    return line.split(" For example")[0].split(" Please see")[0].strip()


def _fit_lifelines(time: FloatArray, event: FloatArray, x: FloatArray, names: tuple[str, ...]) -> tuple[FloatArray, FloatArray]:
    from lifelines import CoxPHFitter

    columns = list(names)  # the real names, so that lifelines' messages name the covariates
    data = pd.DataFrame(x, columns=columns)
    data["__rodnan_time__"] = time
    data["__rodnan_event__"] = event
    start = _efron_warm_start(time, event, x) if len(time) >= WARM_START_MIN_SUBJECTS else None
    initial_point = None if start is None else start * data[columns].std().to_numpy()  # lifelines' standardised scale
    fitter = CoxPHFitter().fit(
        data, "__rodnan_time__", "__rodnan_event__", fit_options=dict(_LIFELINES_FIT_OPTIONS), initial_point=initial_point
    )
    beta = fitter.params_[columns].to_numpy(dtype=np.float64)
    covariance = fitter.variance_matrix_.loc[columns, columns].to_numpy(dtype=np.float64)
    return beta, covariance


def _efron_warm_start(time: FloatArray, event: FloatArray, x: FloatArray, max_iter: int = 10) -> FloatArray | None:
    """A starting point for lifelines: Newton-Raphson on Efron's partial likelihood, vectorised with numpy.

    lifelines evaluates the Efron terms one distinct time at a time in Python, about a second per iteration
    for 100,000 subjects; starting it here leaves it one iteration (its convergence check and the
    information matrix of the reported standard errors). None (start from 0) if this does not converge
    to a moderate estimate, e.g. under separation.
    """
    scale = x.std(axis=0)
    z = (x - x.mean(axis=0)) / scale
    risk = RiskSets(time, event)
    beta = np.zeros(x.shape[1])
    loglik, score, information = risk.efron(z, beta)
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            return None
        step *= min(1.0, 2.5 / max(float(np.max(np.abs(step))), 1e-300))
        for _halving in range(20):
            candidate = risk.efron(z, beta + step)
            if np.isfinite(candidate[0]) and candidate[0] >= loglik - 1e-9 * abs(loglik):
                break
            step /= 2
        beta = beta + step
        loglik, score, information = candidate
        if float(np.max(np.abs(step))) < 1e-9:
            break
    if not np.all(np.isfinite(beta)) or float(np.max(np.abs(beta))) > _LARGE_STANDARDISED_COEF:
        return None
    return np.asarray(beta / scale, dtype=np.float64)


def _fit_statsmodels(time: FloatArray, event: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    from statsmodels.duration.hazard_regression import PHReg

    result = PHReg(time, x, status=event, ties="breslow").fit()
    return np.asarray(result.params, dtype=np.float64), np.asarray(result.cov_params(), dtype=np.float64)


def find_diverging(
    time: FloatArray, event: FloatArray, x: FloatArray, beta: FloatArray, ties: Ties, names: tuple[str, ...]
) -> tuple[str, ...]:
    """Covariates whose estimate is still moving after convergence, or implausibly large: monotone likelihood."""
    scale = x.std(axis=0)
    standardised = beta * scale
    risk = RiskSets(time, event)
    _loglik, score, information = risk.derivatives((x - x.mean(axis=0)) / scale, standardised, ties)
    try:
        step = np.linalg.lstsq(information, score, rcond=None)[0]
    except np.linalg.LinAlgError:  # pragma: no cover - lstsq does not raise on singular systems
        step = np.full_like(beta, np.inf)
    flagged = (np.abs(step) > _STEP_LIMIT) | (np.abs(standardised) > _LARGE_STANDARDISED_COEF) | ~np.isfinite(beta)
    return tuple(name for name, bad in zip(names, flagged, strict=True) if bad)
