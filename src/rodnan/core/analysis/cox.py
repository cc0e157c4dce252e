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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from rodnan.errors import InputError

Ties = Literal["efron", "breslow"]
Penalizer = Literal["none", "firth", "auto"]
FirthCi = Literal["profile", "wald"]
FloatArray = npt.NDArray[np.float64]
TIES: tuple[Ties, ...] = ("efron", "breslow")
PENALIZERS: tuple[Penalizer, ...] = ("none", "firth", "auto")
FIRTH_CIS: tuple[FirthCi, ...] = ("profile", "wald")
COEFFICIENT_COLUMNS = ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p")
UNIVARIABLE_COLUMNS = ("covariate", "n", "events", *COEFFICIENT_COLUMNS, "penalizer", "note")
MIN_EVENTS_PER_VARIABLE = 10.0
_STEP_LIMIT = 0.01  # a further Newton step above this (in covariate SDs) means the estimate is still moving
_LARGE_STANDARDISED_COEF = 10.0  # |b x SD| above this: a hazard ratio over e^10 per SD, i.e. divergence
_LIFELINES_FIT_OPTIONS = {"step_size": 1.0, "precision": 1e-13, "r_precision": 1e-14}
WARM_START_MIN_SUBJECTS = 5000  # from this size lifelines starts from a vectorised Newton-Raphson estimate


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


def fit_cox(
    frame: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    ties: Ties = "efron",
    penalizer: Penalizer = "none",
    conf_level: float = 0.95,
    min_events_per_variable: float = MIN_EVENTS_PER_VARIABLE,
    firth_ci: FirthCi = "profile",
) -> CoxResult:
    """Fit a Cox proportional-hazards model on the complete cases of ``frame``.

    Args:
        frame: one row per subject.
        duration_col: column of follow-up times (>= 0).
        event_col: column of events (1/True = event, 0/False = censored).
        covariates: numeric columns (encode a category as 0/1 columns); at least one.
        ties: "efron" (R's default; lifelines) or "breslow" (statsmodels).
        penalizer: "none", "firth" (Firth's penalised likelihood, Breslow ties) or "auto" (Firth when
            events per variable are below ``min_events_per_variable`` or the likelihood is monotone).
        conf_level: confidence level of the hazard-ratio intervals.
        min_events_per_variable: EPV below which a warning is given (and "auto" uses Firth).
        firth_ci: for Firth fits, "profile" (the default, as R's coxphf: profile penalised-likelihood
            limits and likelihood-ratio p-values) or "wald".

    Returns:
        A :class:`CoxResult`. A model that cannot be estimated (no events, singular information) is a
        result with NaN coefficients and the reason in ``warnings``, not an exception.

    Raises:
        InputError: a missing or non-numeric column, a covariate that is constant among the complete
            cases, invalid durations or events, or an unknown option.
    """
    names = _check_options(frame, duration_col, event_col, covariates, ties, penalizer, conf_level, firth_ci)
    data, n_excluded = _complete_cases(frame, duration_col, event_col, names)
    for name in names:
        if data[name].nunique() < 2:
            raise InputError(name, f"is constant among the {len(data)} complete cases: it carries no information")
    time = data[duration_col].to_numpy(dtype=np.float64)
    event = data[event_col].to_numpy(dtype=np.float64)
    x = data[list(names)].to_numpy(dtype=np.float64)
    return _fit(time, event, x, names, ties, penalizer, conf_level, min_events_per_variable, n_excluded, firth_ci)


def fit_univariable_cox(
    frame: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    ties: Ties = "efron",
    penalizer: Penalizer = "none",
    conf_level: float = 0.95,
    min_events_per_variable: float = MIN_EVENTS_PER_VARIABLE,
    firth_ci: FirthCi = "profile",
) -> UnivariableCoxResult:
    """Fit one Cox model per covariate, each on the subjects whose value of that covariate is recorded.

    A covariate that is missing for everyone, constant, or not numeric is listed with a reason in
    ``note`` and no estimate, instead of stopping the others.

    Args:
        frame, duration_col, event_col, ties, penalizer, conf_level, min_events_per_variable, firth_ci: as
            for :func:`fit_cox`.
        covariates: the candidate covariates, each fitted alone.

    Returns:
        A :class:`UnivariableCoxResult`: one table row per covariate and the full fits.
    """
    _check_options(frame, duration_col, event_col, covariates, ties, penalizer, conf_level, firth_ci)
    rows: list[dict[str, object]] = []
    fits: dict[str, CoxResult] = {}
    for name in covariates:
        row: dict[str, object] = dict.fromkeys(UNIVARIABLE_COLUMNS, math.nan)
        row.update(covariate=name, penalizer="", note="")
        column = frame[name]
        recorded = frame.loc[column.notna() & frame[duration_col].notna() & frame[event_col].notna()]
        row.update(n=len(recorded), events=int(pd.to_numeric(recorded[event_col], errors="coerce").fillna(0).sum()))
        if len(recorded) == 0:
            row["note"] = "skipped: no subject has a value"
        elif not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            row["note"] = "skipped: not numeric (encode categories as 0/1 columns)"
        elif recorded[name].nunique() < 2:
            row["note"] = f"skipped: constant ({recorded[name].iloc[0]!r}) among the {len(recorded)} subjects with a value"
        else:
            fit = fit_cox(
                recorded, duration_col, event_col, [name], ties, penalizer, conf_level, min_events_per_variable, firth_ci
            )
            fits[name] = fit
            estimates = fit.coefficients.loc[name]
            row.update({column_name: float(estimates[column_name]) for column_name in COEFFICIENT_COLUMNS})
            row.update(n=fit.n, events=fit.events, penalizer=fit.penalizer, note="; ".join(fit.warnings))
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(UNIVARIABLE_COLUMNS))
    table["n"] = table["n"].astype(np.int64)
    table["events"] = table["events"].astype(np.int64)
    return UnivariableCoxResult(table, fits)


# --- fitting ----------------------------------------------------------------------------------------


def _fit(
    time: FloatArray,
    event: FloatArray,
    x: FloatArray,
    names: tuple[str, ...],
    ties: Ties,
    penalizer: Penalizer,
    conf_level: float,
    min_epv: float,
    n_excluded: int,
    firth_ci: FirthCi = "profile",
) -> CoxResult:
    n, p = x.shape
    events = int(event.sum())
    epv = events / p
    notes: list[str] = []
    if events == 0:
        notes.append(f"no events among {n} subjects: the Cox model cannot be estimated")
        return _empty_result(names, n, events, n_excluded, epv, ties, conf_level, notes)
    use_firth = penalizer == "firth"
    if epv < min_epv:
        advice = "Firth's penalised likelihood used" if use_firth or penalizer == "auto" else "consider penalizer='firth'"
        covariate_word = "covariate" if p == 1 else "covariates"
        notes.append(
            f"only {events} events for {p} {covariate_word} (EPV {epv:.1f} < {min_epv:g}): estimates unreliable; {advice}"
        )
        use_firth = use_firth or penalizer == "auto"
    monotone: tuple[str, ...] = ()
    if not use_firth:
        fitted = _fit_standard(time, event, x, ties, names)
        notes.extend(fitted.messages)
        if fitted.beta is not None:
            monotone = _diverging(time, event, x, fitted.beta, ties, names)
        if monotone or fitted.beta is None:
            if monotone:
                notes.append(
                    f"monotone likelihood (separation) for {', '.join(monotone)}: the maximum-likelihood estimate is "
                    "infinite and the reported coefficient is where iteration stopped"
                    + ("; Firth's penalised likelihood used" if penalizer == "auto" else "; use penalizer='firth'")
                )
            use_firth = penalizer == "auto"
        if not use_firth:
            return _result(time, event, x, names, fitted, ties, "none", n_excluded, epv, conf_level, monotone, notes)
    if ties == "efron" and _has_tied_events(time, event):
        notes.append("Firth's penalised likelihood uses Breslow's handling of tied event times")
    fitted = _fit_firth(time, event, x, conf_level, profile=firth_ci == "profile")
    notes.extend(fitted.messages)
    return _result(time, event, x, names, fitted, "breslow", "firth", n_excluded, epv, conf_level, monotone, notes)


def _has_tied_events(time: FloatArray, event: FloatArray) -> bool:
    event_times = time[event == 1]
    return len(np.unique(event_times)) < len(event_times)


@dataclass
class _Fitted:
    beta: FloatArray | None
    covariance: FloatArray | None
    converged: bool
    messages: list[str]
    profile_limits: FloatArray | None = None  # (covariates x 2) profile-likelihood limits of the coefficients
    profile_p: FloatArray | None = None


def _fit_standard(time: FloatArray, event: FloatArray, x: FloatArray, ties: Ties, names: tuple[str, ...]) -> _Fitted:
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
            return _Fitted(None, None, False, [f"the fit failed: {_first_line(exc)}"])
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
    return _Fitted(beta, covariance, converged, messages)


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
    risk = _RiskSets(time, event)
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


def _fit_firth(time: FloatArray, event: FloatArray, x: FloatArray, conf_level: float, profile: bool) -> _Fitted:
    """Firth's penalised Breslow partial likelihood, maximised on standardised covariates.

    With ``profile``, also the profile penalised-likelihood limits and likelihood-ratio p-value of each
    coefficient (in ``profile_limits`` and ``profile_p``, on the original scale).
    """
    scale = x.std(axis=0)
    z = (x - x.mean(axis=0)) / scale
    risk = _RiskSets(time, event)
    free = np.ones(z.shape[1], dtype=bool)
    try:
        beta, terms, converged = _firth_newton(risk, z, np.zeros(z.shape[1]), free)
    except np.linalg.LinAlgError:
        return _Fitted(None, None, False, ["the information matrix is singular: Firth's model cannot be estimated"])
    messages = [] if converged else ["Firth's Newton-Raphson did not converge"]
    covariance_z = np.linalg.inv(terms[2])
    fitted = _Fitted(beta / scale, covariance_z / np.outer(scale, scale), converged, messages)
    if profile and converged:
        limits, p_values = _firth_profile(risk, z, beta, terms[0], np.sqrt(np.diag(covariance_z)), conf_level)
        fitted.profile_limits = limits / scale[:, None]
        fitted.profile_p = p_values
    return fitted


def _firth_newton(
    risk: _RiskSets, z: FloatArray, start: FloatArray, free: npt.NDArray[np.bool_], max_iter: int = 100
) -> tuple[FloatArray, tuple[float, FloatArray, FloatArray], bool]:
    """Newton-Raphson on the ``free`` coefficients (the others held at ``start``): steps I^-1 U*, at most 2.5
    per coefficient (coxphf's maxstep), halved while the penalised log-likelihood decreases."""
    beta = start.copy()
    current = _firth_terms(risk, z, beta)
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
                candidate = _firth_terms(risk, z, beta + step)
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
    risk: _RiskSets, z: FloatArray, beta: FloatArray, maximum: float, se: FloatArray, conf_level: float
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


def _firth_terms(risk: _RiskSets, z: FloatArray, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Penalised log-likelihood, Firth's modified score and the information, at ``beta``."""
    loglik, score, information, derivative = risk.breslow(z, beta, third=True)
    sign, logdet = np.linalg.slogdet(information)
    if sign <= 0 or not np.isfinite(logdet):
        raise np.linalg.LinAlgError("information matrix not positive definite")
    inverse = np.linalg.inv(information)
    modified = score + 0.5 * np.einsum("ab,bar->r", inverse, derivative)
    return loglik + 0.5 * logdet, modified, information


def _result(
    time: FloatArray,
    event: FloatArray,
    x: FloatArray,
    names: tuple[str, ...],
    fitted: _Fitted,
    ties: Ties,
    penalizer: Literal["none", "firth"],
    n_excluded: int,
    epv: float,
    conf_level: float,
    monotone: tuple[str, ...],
    notes: list[str],
) -> CoxResult:
    n, p = x.shape
    events = int(event.sum())
    if fitted.beta is None or fitted.covariance is None:
        return _empty_result(names, n, events, n_excluded, epv, ties, conf_level, notes, penalizer)
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
    risk = _RiskSets(time, event)
    centred = x - x.mean(axis=0)
    if penalizer == "firth":
        scale = x.std(axis=0)
        loglik = _firth_terms(risk, centred / scale, beta * scale)[0]
        loglik_null = _firth_terms(risk, centred / scale, np.zeros(p))[0]
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


def _empty_result(
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


def _diverging(
    time: FloatArray, event: FloatArray, x: FloatArray, beta: FloatArray, ties: Ties, names: tuple[str, ...]
) -> tuple[str, ...]:
    """Covariates whose estimate is still moving after convergence, or implausibly large: monotone likelihood."""
    scale = x.std(axis=0)
    standardised = beta * scale
    risk = _RiskSets(time, event)
    _loglik, score, information = risk.derivatives((x - x.mean(axis=0)) / scale, standardised, ties)
    try:
        step = np.linalg.lstsq(information, score, rcond=None)[0]
    except np.linalg.LinAlgError:  # pragma: no cover - lstsq does not raise on singular systems
        step = np.full_like(beta, np.inf)
    flagged = (np.abs(step) > _STEP_LIMIT) | (np.abs(standardised) > _LARGE_STANDARDISED_COEF) | ~np.isfinite(beta)
    return tuple(name for name, bad in zip(names, flagged, strict=True) if bad)


class _RiskSets:
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


# --- input checks -----------------------------------------------------------------------------------


def _check_options(
    frame: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    ties: str,
    penalizer: str,
    conf_level: float,
    firth_ci: str = "profile",
) -> tuple[str, ...]:
    if isinstance(covariates, str):
        raise InputError("covariates", "must be a list of column names, not one string", covariates)
    names = tuple(covariates)
    if not names:
        raise InputError("covariates", "needs at least one covariate")
    if len(set(names)) != len(names):
        raise InputError("covariates", "must not repeat a column", names)
    missing = [c for c in (duration_col, event_col, *names) if c not in frame.columns]
    if missing:
        raise InputError("frame", f"has no column {', '.join(map(repr, missing))}")
    if duration_col in names or event_col in names:
        raise InputError("covariates", "must not include the duration or event column", names)
    if ties not in TIES:
        raise InputError("ties", f"must be one of {', '.join(TIES)}", ties)
    if penalizer not in PENALIZERS:
        raise InputError("penalizer", f"must be one of {', '.join(PENALIZERS)}", penalizer)
    if firth_ci not in FIRTH_CIS:
        raise InputError("firth_ci", f"must be one of {', '.join(FIRTH_CIS)}", firth_ci)
    if not 0 < conf_level < 1:
        raise InputError("conf_level", "must be between 0 and 1 (exclusive)", conf_level)
    return names


def _complete_cases(frame: pd.DataFrame, duration_col: str, event_col: str, names: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
    columns = [duration_col, event_col, *names]
    data = frame[columns].copy()
    for column in columns:
        values = data[column]
        if pd.api.types.is_bool_dtype(values):
            data[column] = values.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(values):
            converted = pd.to_numeric(values, errors="coerce")
            if converted.notna().sum() < values.notna().sum():
                raise InputError(column, "must be numeric (encode categories as 0/1 columns)")
            data[column] = converted
        data[column] = data[column].astype(np.float64)
    complete = data.dropna()
    time = complete[duration_col].to_numpy()
    event = complete[event_col].to_numpy()
    if not np.all(np.isfinite(time)) or np.any(time < 0):
        raise InputError(duration_col, "must be finite and not negative")
    if not np.all((event == 0) | (event == 1)):
        raise InputError(event_col, "must be 0/1 or True/False (1 = event, 0 = censored)")
    return complete.reset_index(drop=True), len(data) - len(complete)
