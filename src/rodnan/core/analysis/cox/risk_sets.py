"""Risk-set sums of the Cox partial likelihood (Breslow's and Efron's handling of ties) and its derivatives,
vectorised with numpy: sorted once, evaluated at any coefficients. The engines, Firth's method and the
monotone-likelihood check all evaluate the likelihood here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Ties = Literal["efron", "breslow"]


FloatArray = npt.NDArray[np.float64]


class RiskSets:
    """Risk-set sums for the partial likelihood: sorted once, evaluated at any coefficients.

    Times are grouped into distinct values; for the t-th distinct time the risk set is every subject
    with time >= t. Sums are reverse cumulative sums over the distinct times.
    """

    def __init__(self, time: FloatArray, event: FloatArray) -> None:
        times, inverse = np.unique(time, return_inverse=True)
        self.order = np.argsort(inverse, kind="stable")
        self.starts = np.searchsorted(inverse[self.order], np.arange(len(times)))
        self.n_groups = len(times)
        self.deaths = np.bincount(inverse, weights=event, minlength=self.n_groups)
        self.event = event.astype(bool)
        self.death_groups = np.flatnonzero(self.deaths > 0)

    def _sum_by_time(self, values: FloatArray) -> FloatArray:
        """Sum of rows of ``values`` (first axis = subjects) for each distinct time."""
        return np.add.reduceat(values[self.order], self.starts, axis=0)

    def _at_risk(self, values: FloatArray) -> FloatArray:
        by_time = self._sum_by_time(values)
        return by_time[::-1].cumsum(axis=0)[::-1]

    def loglik(self, x: FloatArray, beta: FloatArray, ties: Ties) -> float:
        """The log partial likelihood at ``beta``."""
        return self.derivatives(x, beta, ties, order=0)[0]

    def derivatives(self, x: FloatArray, beta: FloatArray, ties: Ties, order: int = 2) -> tuple[float, FloatArray, FloatArray]:
        """Log partial likelihood, score and information (minus the Hessian) at ``beta``."""
        if ties == "breslow":
            loglik, score, information, _ = self.breslow(x, beta, third=False, order=order)
            return loglik, score, information
        return self.efron(x, beta, order=order)

    def breslow(
        self, x: FloatArray, beta: FloatArray, third: bool = False, order: int = 2
    ) -> tuple[float, FloatArray, FloatArray, FloatArray]:
        """Breslow's partial likelihood and its derivatives (the third, d information / d beta, if asked)."""
        eta = x @ beta
        shift = float(eta.max())
        w = np.exp(eta - shift)
        d = self.deaths[self.death_groups]
        s0 = self._at_risk(w)[self.death_groups]
        loglik = float(eta[self.event].sum() - np.sum(d * (np.log(s0) + shift)))
        p = x.shape[1]
        if order == 0:
            return loglik, np.zeros(p), np.zeros((p, p)), np.zeros((p, p, p))
        s1 = self._at_risk(w[:, None] * x)[self.death_groups]
        mean = s1 / s0[:, None]
        score = x[self.event].sum(axis=0) - (d[:, None] * mean).sum(axis=0)
        s2 = self._at_risk(w[:, None, None] * x[:, :, None] * x[:, None, :])[self.death_groups]
        second = s2 / s0[:, None, None]
        covariance = second - mean[:, :, None] * mean[:, None, :]
        information = np.einsum("g,gab->ab", d, covariance)
        derivative = np.zeros((p, p, p))
        if third:
            s3 = self._at_risk(w[:, None, None, None] * x[:, :, None, None] * x[:, None, :, None] * x[:, None, None, :])
            raw3 = s3[self.death_groups] / s0[:, None, None, None]
            # third central moment of x under the risk-set weights: dI_ab / d beta_c = sum_t d_t m3_abc(t)
            m3 = (
                raw3
                - mean[:, :, None, None] * second[:, None, :, :]
                - mean[:, None, :, None] * second[:, :, None, :]
                - mean[:, None, None, :] * second[:, :, :, None]
                + 2 * mean[:, :, None, None] * mean[:, None, :, None] * mean[:, None, None, :]
            )
            derivative = np.einsum("g,gabc->abc", d, m3)
        return loglik, score, information, derivative

    def efron(self, x: FloatArray, beta: FloatArray, order: int = 2) -> tuple[float, FloatArray, FloatArray]:
        """Efron's partial likelihood, score and information."""
        eta = x @ beta
        shift = float(eta.max())
        w = np.exp(eta - shift)
        d = self.deaths[self.death_groups]
        # one term per event: at a time with d tied events the l-th term (l = 0..d-1) removes l/d of them
        term_group = np.repeat(self.death_groups, d.astype(np.int64))
        starts = np.repeat(np.cumsum(d) - d, d.astype(np.int64))
        fraction = (np.arange(len(term_group)) - starts) / np.repeat(d, d.astype(np.int64))
        dead_w = np.where(self.event, w, 0.0)
        s0 = self._at_risk(w)[term_group] - fraction * self._sum_by_time(dead_w)[term_group]
        loglik = float(eta[self.event].sum() - np.sum(np.log(s0) + shift))
        p = x.shape[1]
        if order == 0:
            return loglik, np.zeros(p), np.zeros((p, p))
        wx = w[:, None] * x
        s1 = self._at_risk(wx)[term_group] - fraction[:, None] * self._sum_by_time(dead_w[:, None] * x)[term_group]
        mean = s1 / s0[:, None]
        score = x[self.event].sum(axis=0) - mean.sum(axis=0)
        wxx = w[:, None, None] * x[:, :, None] * x[:, None, :]
        s2 = (
            self._at_risk(wxx)[term_group]
            - fraction[:, None, None] * self._sum_by_time(np.where(self.event[:, None, None], wxx, 0.0))[term_group]
        )
        information = (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
        return loglik, score, information
