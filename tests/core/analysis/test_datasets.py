"""ADaM-like analysis datasets: hand-built expectations, and invariants on a simulated cohort of 200."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rodnan.core import units
from rodnan.core.analysis.datasets import (
    choice_parameters,
    derive_parameter_visits,
    derive_responses,
    derive_subject_level,
    derive_time_to_event,
    involvement_variable,
    number_parameters,
)
from rodnan.core.endpoints import EndpointsResult, evaluate_endpoints
from rodnan.core.protocol import Study
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.core.trialdata import TrialData, from_frames
from tests.core.endpoints.builder import ORGANS_NORMAL, Subject, build, day


@pytest.fixture(scope="module")
def cohort(study: Study) -> SimulatedCohort:
    """200 simulated subjects."""
    return simulate_cohort(study, 200, seed=2026)


@pytest.fixture(scope="module")
def data(study: Study, cohort: SimulatedCohort) -> TrialData:
    """The cohort through the data interface."""
    return from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events, source="simulated")


@pytest.fixture(scope="module")
def result(data: TrialData) -> EndpointsResult:
    """Its endpoints."""
    return evaluate_endpoints(data)


# --- hand-built -------------------------------------------------------------------------------------


def _worked_example(study: Study) -> tuple[TrialData, EndpointsResult]:
    """domain.md §9.2: baseline mRSS 24, FVC 70, DLCO 60; M3; M6 FVC 62 confirmed by 63 on day 197."""
    subject = (
        Subject("A")
        .visit("SCR", -14, **{**ORGANS_NORMAL, "mrss": 24, "fvc_pct_pred": 70, "dlco_pct_pred": 60, "age": 40, "sex": "male"})
        .organs("M3", 91, mrss=22, fvc_pct_pred=72, dlco_pct_pred=58)
        .organs("M6", 183, mrss=28, fvc_pct_pred=62, dlco_pct_pred=60)
        .visit("M6R", 197, fvc_pct_pred=63)
    )
    data = build(study, [subject])
    return data, evaluate_endpoints(data)


def test_time_to_event_rows_of_the_worked_example(study: Study) -> None:
    """E3 at M6 (day 183): DFS AVAL 183, CNSR 0, SRCRULE e3_lung, confirmed; OS censored at the last contact (end, day 372)."""
    data, result = _worked_example(study)
    tte = derive_time_to_event(data, result).set_index("PARAMCD")
    dfs, os = tte.loc["DFS"], tte.loc["OS"]
    assert (dfs["AVAL"], dfs["CNSR"], dfs["SRCRULE"], dfs["EVNTSTAT"]) == (183.0, 0, "e3_lung", "CONFIRMED")
    assert dfs["ADT"] == pd.Timestamp(day(183))
    assert dfs["STARTDT"] == pd.Timestamp(day(0))
    assert dfs["AVALMO"] == pytest.approx(183 / 30.4375)
    assert dfs["EVNTDESC"].startswith("E3 Lung progression")
    assert dfs["LSTCMPDT"] == pd.Timestamp(day(91))  # left bound for interval censoring
    assert dfs["USUBJID"] == "NCT00962923-A"
    assert (os["AVAL"], os["CNSR"], os["EVNTDESC"]) == (372.0, 1, "Completed follow-up without an event")
    assert list(tte["PARAMN"]) == [1, 2]


def test_parameter_visits_of_the_worked_example(study: Study) -> None:
    """FVC % pred.: BASE 70 on the SCR record (ABLFL Y), CHG and PCHG after the infusion, ADY without day 0."""
    data, result = _worked_example(study)
    bds = derive_parameter_visits(data, result)
    fvc = bds[bds["PARAMCD"] == "FVCPP"].set_index("AVISIT")
    assert list(fvc.index) == ["SCR", "M3", "M6", "M6R"]
    assert fvc.loc["SCR", "ABLFL"] == "Y"
    assert (fvc["ABLFL"] == "Y").sum() == 1
    assert (fvc["BASE"] == 70).all()
    assert fvc.loc["M6", "CHG"] == -8
    assert fvc.loc["M6", "PCHG"] == pytest.approx(-800 / 70)  # -11.43 %
    assert np.isnan(fvc.loc["SCR", "CHG"])
    assert fvc.loc["SCR", "ADY"] == -14  # before the infusion: ADT - TRTSDT
    assert fvc.loc["M3", "ADY"] == 92  # on or after: ADT - TRTSDT + 1
    assert (fvc.loc["M6", "AVISITN"], fvc.loc["SCR", "AVISITN"]) == (6.0, round(-14 / 30.4375, 2))
    assert np.isnan(fvc.loc["M6R", "AVISITN"])  # unscheduled
    assert fvc.loc["M3", "PARAM"] == "Forced vital capacity, % predicted (%)"


def test_subject_level_of_the_worked_example(study: Study) -> None:
    """Baseline covariates, the lung involvement flag (DLCO 60 % < 70 %), SEX/AGE from the baseline items, flags."""
    data, result = _worked_example(study)
    adsl = derive_subject_level(data, result).iloc[0]
    assert (adsl["MRSSBL"], adsl["FVCPPBL"], adsl["DLCOPPBL"], adsl["ALBBL"]) == (24, 70, 60, 40)
    assert (adsl["LUNGBLFL"], adsl["DIGEBLFL"], adsl["KIDNBLFL"], adsl["RAPIBLFL"]) == ("Y", "N", "N", "")
    assert adsl["PATHWAY"] == "lung"  # no enrolment pathway given: the first pathway met at baseline
    assert (adsl["SEX"], adsl["AGE"], adsl["AGEU"]) == ("M", 40, "YEARS")
    assert (adsl["SAFFL"], adsl["ITTFL"], adsl["EOSSTT"], adsl["DCSREAS"]) == ("Y", "Y", "COMPLETED", "")
    assert adsl["TRTSDT"] == pd.Timestamp(day(0))


# --- a simulated cohort of 200 ------------------------------------------------------------------


def test_one_dfs_and_one_os_row_per_subject(data: TrialData, result: EndpointsResult) -> None:
    """Every simulated subject is infused: exactly one DFS and one OS row each, AVAL >= 0 and = ADT - STARTDT."""
    tte = derive_time_to_event(data, result)
    counts = tte.groupby(["USUBJID", "PARAMCD"]).size()
    assert (counts == 1).all()
    assert len(counts) == 2 * len(data.subjects)
    assert (tte["AVAL"] >= 0).all()
    assert (tte["AVAL"] == (tte["ADT"] - tte["STARTDT"]).dt.days).all()
    assert set(tte["CNSR"]) <= {0, 1}
    assert ((tte["CNSR"] == 0) == (tte["SRCRULE"] != "")).all()
    assert (tte.loc[tte["CNSR"] == 1, "CNSDTDSC"] != "").all()


def test_event_dates_lie_within_follow_up(data: TrialData, result: EndpointsResult) -> None:
    """Events and censorings fall between the infusion and the end of the subject's data (last value or death)."""
    tte = derive_time_to_event(data, result)
    subjects = data.subjects.set_index("subject_id")
    last_value = data.values.groupby("subject_id", observed=True)["date"].max()
    ids = tte["USUBJID"].str.removeprefix("NCT00962923-")
    end = pd.concat(
        [last_value.reindex(ids), subjects["death_date"].reindex(ids), subjects["end_date"].reindex(ids)], axis=1
    ).max(axis=1)
    assert (tte["ADT"].to_numpy() >= tte["STARTDT"].to_numpy()).all()
    assert (tte["ADT"].to_numpy() <= end.to_numpy()).all()


def test_os_events_are_the_deaths(data: TrialData, result: EndpointsResult) -> None:
    """OS events are exactly the subjects who died, on their death dates."""
    tte = derive_time_to_event(data, result)
    os = tte[tte["PARAMCD"] == "OS"].set_index("USUBJID")
    died = data.subjects[data.subjects["status"] == "died"]
    assert set(os.index[os["CNSR"] == 0]) == {f"NCT00962923-{s}" for s in died["subject_id"]}
    for _, subject in died.iterrows():
        assert os.loc[f"NCT00962923-{subject['subject_id']}", "ADT"] == subject["death_date"]


def test_dfs_has_events_of_several_rules(data: TrialData, result: EndpointsResult) -> None:
    """The simulated cohort produces skin, lung and new-organ events, and censorings of each kind it simulates."""
    dfs = result.dfs
    assert {"e2_skin", "e3_lung", "e5_new_organ"} <= set(dfs["rule"])
    assert set(dfs.loc[~dfs["event"], "censor_reason"]) <= {"completed", "withdrawn", "lost_to_follow_up"}
    assert (
        dfs.loc[dfs["rule"] == "e1_death", "date"]
        == data.subjects.set_index("subject_id")["death_date"]
        .reindex(dfs.loc[dfs["rule"] == "e1_death", "subject_id"])
        .to_numpy()
    ).all()


def test_change_from_baseline(data: TrialData, result: EndpointsResult) -> None:
    """CHG = AVAL - BASE and PCHG = 100 CHG / BASE after the infusion; one baseline record per subject and parameter."""
    bds = derive_parameter_visits(data, result)
    post = bds["ADY"] > 0
    known = post & bds["BASE"].notna()
    np.testing.assert_allclose(bds.loc[known, "CHG"], bds.loc[known, "AVAL"] - bds.loc[known, "BASE"])
    nonzero = known & (bds["BASE"] != 0)
    np.testing.assert_allclose(bds.loc[nonzero, "PCHG"], 100 * bds.loc[nonzero, "CHG"] / bds.loc[nonzero, "BASE"])
    assert bds.loc[~post, "CHG"].isna().all()
    flagged = bds[bds["ABLFL"] == "Y"]
    assert (flagged.groupby(["USUBJID", "PARAMCD"]).size() == 1).all()
    assert (flagged["AVAL"] == flagged["BASE"]).all()
    assert (flagged["ADY"] < 1).all()
    assert not (bds["ADY"] == 0).any()
    assert set(bds["PARAMCD"]) >= {"MRSS", "SF36PCS", "SF36MCS", "HAQDI", "FVCPP", "DLCOPP", "VCPP", "ALB", "CREAT"}


def test_subject_level_baseline_equals_the_screening_values(
    study: Study, cohort: SimulatedCohort, data: TrialData, result: EndpointsResult
) -> None:
    """ADSL *BL = the SCR row of values.csv converted to the item's unit (UCUM factor of its entered unit)."""
    adsl = derive_subject_level(data, result).set_index("SUBJID")
    raw = cohort.values_frame()
    scr = raw[raw["visit"] == "SCR"]
    checked = 0
    for parameter in number_parameters(study):
        item = study.item_by_code[parameter.item]
        rows = scr[scr["item"] == parameter.item]
        if rows.empty:
            continue
        factors = rows["unit"].map(
            lambda unit, item=item: (
                1.0 if unit in ("", item.unit) else units.conversion_factor(unit, item.unit, item.molar_mass_g_per_mol)
            )
        )
        expected = rows["value"].astype(float) * factors
        got = adsl.loc[rows["subject_id"], parameter.baseline_variable].to_numpy()
        np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-12, err_msg=parameter.item)
        checked += 1
    assert checked >= 25
    for parameter in choice_parameters(study):
        rows = scr[scr["item"] == parameter.item]
        assert adsl.loc[rows["subject_id"], parameter.baseline_variable].tolist() == rows["value"].tolist()


def test_subject_level_columns(study: Study, cohort: SimulatedCohort, data: TrialData, result: EndpointsResult) -> None:
    """One row per subject; exposure, disposition and population flags from subjects.csv; involvement flags per pathway."""
    adsl = derive_subject_level(data, result)
    subjects = cohort.subjects
    assert adsl["SUBJID"].tolist() == subjects["subject_id"].tolist()
    assert adsl["DOSEKG"].tolist() == subjects["cells_per_kg"].astype(float).tolist()
    assert adsl["PATHWAY"].tolist() == subjects["pathway"].tolist()
    assert adsl["SEX"].tolist() == subjects["sex"].map({"female": "F", "male": "M"}).tolist()
    expected_status = subjects["status"].map({"completed": "COMPLETED"}).fillna("DISCONTINUED")
    assert adsl["EOSSTT"].tolist() == expected_status.tolist()
    assert (adsl.loc[subjects["status"].eq("died").to_numpy(), "DCSREAS"] == "DEATH").all()
    assert set(adsl["SAFFL"]) == {"Y"}
    assert all(len(column) <= 8 for column in adsl.columns)
    for pathway in ("rapidly_progressive", "lung", "digestive", "kidney"):
        assert involvement_variable(pathway) in adsl.columns
    # each subject qualified through their enrolment pathway, so its baseline flag is Y
    flag = [adsl.loc[i, involvement_variable(p)] for i, p in enumerate(subjects["pathway"])]
    assert set(flag) == {"Y"}


def test_responses_dataset(data: TrialData, result: EndpointsResult) -> None:
    """CRISS, CRISSP and EUSTARSK once per subject at M12; RM<organ> per 3-monthly visit; SRM<organ> once per involved subject."""
    responses = derive_responses(data, result)
    n = len(data.subjects)
    counts = responses["PARAMCD"].value_counts()
    assert (counts["CRISS"], counts["CRISSP"], counts["EUSTARSK"]) == (n, n, n)
    assert set(responses.loc[responses["PARAMCD"] == "RMLUNG", "AVISIT"]) == {"M3", "M6", "M9", "M12"}
    assert set(responses["AVALC"]) <= {"Y", "N", ""}
    flags = responses[responses["PARAMCD"] != "CRISSP"]
    assert ((flags["AVALC"] == "Y") == (flags["AVAL"] == 1)).all()
    assert ((flags["AVALC"] == "") == flags["AVAL"].isna()).all()
    sustained = responses[responses["PARAMCD"] == "SRMLUNG"]
    involved = result.involvement["lung"] == 2
    assert sorted(sustained["USUBJID"]) == sorted(f"NCT00962923-{s}" for s in involved.index[involved])
    criss = responses[responses["PARAMCD"] == "CRISSP"]["AVAL"].dropna()
    assert criss.between(0, 1).all()
