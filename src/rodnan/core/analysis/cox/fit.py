""":func:`fit_cox` and :func:`fit_univariable_cox`: the options and complete cases checked, events per
variable counted, and the engine chosen (standard, or Firth's when asked or, with "auto", when needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from rodnan.core.analysis.cox.engines import find_diverging, fit_standard
from rodnan.core.analysis.cox.firth import fit_firth
from rodnan.core.analysis.cox.result import (
    COEFFICIENT_COLUMNS,
    UNIVARIABLE_COLUMNS,
    CoxResult,
    UnivariableCoxResult,
    build_result,
    empty_result,
)
from rodnan.core.analysis.cox.risk_sets import FloatArray, Ties
from rodnan.errors import InputError

Penalizer = Literal["none", "firth", "auto"]
FirthCi = Literal["profile", "wald"]


TIES: tuple[Ties, ...] = ("efron", "breslow")
PENALIZERS: tuple[Penalizer, ...] = ("none", "firth", "auto")
FIRTH_CIS: tuple[FirthCi, ...] = ("profile", "wald")


MIN_EVENTS_PER_VARIABLE = 10.0


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
        return empty_result(names, n, events, n_excluded, epv, ties, conf_level, notes)
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
        fitted = fit_standard(time, event, x, ties, names)
        notes.extend(fitted.messages)
        if fitted.beta is not None:
            monotone = find_diverging(time, event, x, fitted.beta, ties, names)
        if monotone or fitted.beta is None:
            if monotone:
                notes.append(
                    f"monotone likelihood (separation) for {', '.join(monotone)}: the maximum-likelihood estimate is "
                    "infinite and the reported coefficient is where iteration stopped"
                    + ("; Firth's penalised likelihood used" if penalizer == "auto" else "; use penalizer='firth'")
                )
            use_firth = penalizer == "auto"
        if not use_firth:
            return build_result(time, event, x, names, fitted, ties, "none", n_excluded, epv, conf_level, monotone, notes)
    if ties == "efron" and _has_tied_events(time, event):
        notes.append("Firth's penalised likelihood uses Breslow's handling of tied event times")
    fitted = fit_firth(time, event, x, conf_level, profile=firth_ci == "profile")
    notes.extend(fitted.messages)
    return build_result(time, event, x, names, fitted, "breslow", "firth", n_excluded, epv, conf_level, monotone, notes)


def _has_tied_events(time: FloatArray, event: FloatArray) -> bool:
    event_times = time[event == 1]
    return len(np.unique(event_times)) < len(event_times)


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
