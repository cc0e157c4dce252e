"""Firth's penalised partial likelihood (Heinze & Schemper, Biometrics 2001;57:114-9) maximised by
Newton-Raphson on standardised covariates, with profile penalised-likelihood limits and p-values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from rodnan.core.analysis.cox.engines import Fitted
from rodnan.core.analysis.cox.risk_sets import FloatArray, RiskSets


def fit_firth(time: FloatArray, event: FloatArray, x: FloatArray, conf_level: float, profile: bool) -> Fitted:
    """Firth's penalised Breslow partial likelihood, maximised on standardised covariates.

    With ``profile``, also the profile penalised-likelihood limits and likelihood-ratio p-value of each
    coefficient (in ``profile_limits`` and ``profile_p``, on the original scale).
    """
    scale = x.std(axis=0)
    z = (x - x.mean(axis=0)) / scale
    risk = RiskSets(time, event)
    free = np.ones(z.shape[1], dtype=bool)
    try:
        beta, terms, converged = _firth_newton(risk, z, np.zeros(z.shape[1]), free)
    except np.linalg.LinAlgError:
        return Fitted(None, None, False, ["the information matrix is singular: Firth's model cannot be estimated"])
    messages = [] if converged else ["Firth's Newton-Raphson did not converge"]
    covariance_z = np.linalg.inv(terms[2])
    fitted = Fitted(beta / scale, covariance_z / np.outer(scale, scale), converged, messages)
    if profile and converged:
        limits, p_values = _firth_profile(risk, z, beta, terms[0], np.sqrt(np.diag(covariance_z)), conf_level)
        fitted.profile_limits = limits / scale[:, None]
        fitted.profile_p = p_values
    return fitted


def _firth_newton(
    risk: RiskSets, z: FloatArray, start: FloatArray, free: npt.NDArray[np.bool_], max_iter: int = 100
) -> tuple[FloatArray, tuple[float, FloatArray, FloatArray], bool]:
    """Newton-Raphson on the ``free`` coefficients (the others held at ``start``): steps I^-1 U*, at most 2.5
    per coefficient (coxphf's maxstep), halved while the penalised log-likelihood decreases."""
    beta = start.copy()
    current = firth_terms(risk, z, beta)
    if not free.any():
        return beta, current, True
    for _ in range(max_iter):
        penalised, score, information = current
        step = np.zeros_like(beta)
        step[free] = np.linalg.solve(information[np.ix_(free, free)], score[free])
        largest = float(np.max(np.abs(step)))
        if largest > 2.5:
            step *= 2.5 / largest
        candidate: tuple[float, FloatArray, FloatArray] | None = None
        for _halving in range(40):
            try:
                candidate = firth_terms(risk, z, beta + step)
            except np.linalg.LinAlgError:
                candidate = None
            if candidate is not None and candidate[0] >= penalised - 1e-12 * max(1.0, abs(penalised)):
                break
            step /= 2
        if candidate is None:
            return beta, current, False
        beta = beta + step
        current = candidate
        if float(np.max(np.abs(step))) < 1e-10:
            return beta, current, True
    return beta, current, False


def _firth_profile(
    risk: RiskSets, z: FloatArray, beta: FloatArray, maximum: float, se: FloatArray, conf_level: float
) -> tuple[FloatArray, FloatArray]:
    """Profile penalised-likelihood limits (standardised scale) and likelihood-ratio p-values of each coefficient.

    A limit is where 2 (l*max - l*profile(b_j)) equals the chi-square(1) quantile; the p-value compares
    l*max with l*profile(0) (Heinze & Schemper 2001, as coxphf does with pl=TRUE).
    """
    critical = float(stats.chi2.ppf(conf_level, 1))
    p = len(beta)
    limits = np.full((p, 2), np.nan)
    p_values = np.full(p, np.nan)

    def deviance(j: int, value: float) -> float:
        start = beta.copy()
        start[j] = value
        free = np.arange(p) != j
        _, terms, _ = _firth_newton(risk, z, start, free)
        return 2 * (maximum - terms[0])

    for j in range(p):
        p_values[j] = float(stats.chi2.sf(max(deviance(j, 0.0), 0.0), 1))
        for side, sign in enumerate((-1.0, 1.0)):
            width = max(float(se[j]), 0.1)
            inner, outer = float(beta[j]), float(beta[j]) + sign * width
            for _ in range(60):
                if deviance(j, outer) >= critical:
                    break
                inner, outer = outer, outer + sign * width
                width *= 2
            else:
                continue  # no limit found: left as NaN (infinite)
            limits[j, side] = optimize.brentq(lambda v, j=j: deviance(j, v) - critical, inner, outer, xtol=1e-10)
    return limits, p_values


def firth_terms(risk: RiskSets, z: FloatArray, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Penalised log-likelihood, Firth's modified score and the information, at ``beta``."""
    loglik, score, information, derivative = risk.breslow(z, beta, third=True)
    sign, logdet = np.linalg.slogdet(information)
    if sign <= 0 or not np.isfinite(logdet):
        raise np.linalg.LinAlgError("information matrix not positive definite")
    inverse = np.linalg.inv(information)
    modified = score + 0.5 * np.einsum("ab,bar->r", inverse, derivative)
    return loglik + 0.5 * logdet, modified, information
