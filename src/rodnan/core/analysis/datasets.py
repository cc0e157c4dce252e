"""Analysis datasets derived from the trial's data and its evaluated endpoints, named after CDISC ADaM.

Four ``derive_*`` functions (admiral's verb: dataset in, dataset out), each column named as the ADaM
variable it maps to, so that writing ADSL, ADTTE and BDS datasets (ADLB-, ADQS-like) is a rename-free
copy (docs/endpoints.md, "Analysis datasets"):

* :func:`derive_subject_level` (ADSL): one row per subject: identifiers, demographics, the pathway and
  the baseline involvement of each organ, the baseline covariates named in the objectives,
  exposure, disposition, population flags.
* :func:`derive_time_to_event` (ADTTE): one DFS and one OS row per infused subject.
* :func:`derive_parameter_visits` (BDS): one row per subject, parameter and visit with baseline and
  change from baseline.
* :func:`derive_responses` (BDS, responder parameters): ACR-CRISS and EUSTAR skin improvement at
  their visit, organ remission per visit, sustained remission per subject.

Conventions: dates are datetime64; ``Y``/``N`` flags, empty when unknown; ADY follows the CDISC study
day (day 1 is the infusion day, no day 0); AVAL of ADTTE is the elapsed days from the infusion
(ADT - STARTDT, so an event on the infusion day is 0), as the protocol counts day 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.endpoints import CENSOR_REASONS, EndpointsResult
from rodnan.core.endpoints.assessments import visit_months
from rodnan.core.lifecycle import SubjectStatus
from rodnan.core.protocol.model import ParameterDef, Study
from rodnan.core.trialdata import TrialData


def _parameters(study: Study) -> tuple[ParameterDef, ...]:
    return () if study.analysis is None else tuple(study.analysis.parameters)


def number_parameters(study: Study) -> tuple[ParameterDef, ...]:
    """The protocol's parameters of number and integer items: BDS rows and a numeric ADSL baseline (``*BL``)."""
    items = study.item_by_code
    return tuple(p for p in _parameters(study) if p.item in items and items[p.item].is_numeric)


def choice_parameters(study: Study) -> tuple[ParameterDef, ...]:
    """The protocol's parameters of choice items: the baseline answer (the choice code) as an ADSL character covariate."""
    items = study.item_by_code
    return tuple(p for p in _parameters(study) if p.item in items and items[p.item].type == "choice")


SUBJECT_AGE, SUBJECT_SEX, SUBJECT_CELLS, SUBJECT_INFUSION_DATE = "age", "sex", "cells_administered", "infusion_date"
"""Columns of the subjects table (:mod:`rodnan.core.trialdata`): platform names, not item codes (the
protocol's items may share them; the intervention's items are ``Study.intervention_items``)."""
_SEX = {"female": "F", "male": "M"}
_EOSSTT = {
    SubjectStatus.COMPLETED.value: "COMPLETED",
    SubjectStatus.WITHDRAWN.value: "DISCONTINUED",
    SubjectStatus.DIED.value: "DISCONTINUED",
    SubjectStatus.LOST_TO_FOLLOW_UP.value: "DISCONTINUED",
    SubjectStatus.SCREEN_FAILED.value: "DISCONTINUED",
}
_DCSREAS = {
    SubjectStatus.WITHDRAWN.value: "WITHDRAWAL BY SUBJECT",
    SubjectStatus.DIED.value: "DEATH",
    SubjectStatus.LOST_TO_FOLLOW_UP.value: "LOST TO FOLLOW-UP",
    SubjectStatus.SCREEN_FAILED.value: "SCREEN FAILURE",
}
_FLAG = np.array(["N", "", "Y"], dtype=object)  # truth code 0 / 1 / 2


def involvement_variable(pathway: str) -> str:
    """ADSL flag of baseline involvement for a pathway: first 4 letters + ``BLFL`` (``lung`` -> ``LUNGBLFL``)."""
    return f"{pathway.replace('_', '')[:4].upper()}BLFL"


def flags(truth: npt.NDArray[np.int8] | pd.Series) -> npt.NDArray[np.object_]:
    """Truth codes (0 no, 1 unknown, 2 yes) as ADaM flags N / "" / Y."""
    result: npt.NDArray[np.object_] = _FLAG[np.asarray(truth, dtype=np.int64)]
    return result


def _usubjid(study: Study, subject_ids: pd.Series | pd.Index) -> npt.NDArray[np.object_]:
    prefix = study.identity.registry_number
    return np.array([f"{prefix}-{s}" for s in subject_ids], dtype=object)


def _column(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
    """An optional column of the contract, or the default everywhere."""
    return frame[name] if name in frame else pd.Series(default, index=frame.index)


def _baseline_wide(result: EndpointsResult, ids: pd.Index, column: str) -> pd.DataFrame:
    return result.baseline.pivot(index="subject_id", columns="item", values=column).reindex(ids)


def derive_subject_level(data: TrialData, result: EndpointsResult) -> pd.DataFrame:
    """ADSL: one row per subject of ``data`` (every status, screen failures too).

    Columns: STUDYID, USUBJID, SUBJID, SITEID, AGE, AGEU, SEX (from the subjects table, else from the
    baseline of the protocol's ``analysis.adsl_items``), PATHWAY, one ``<PATH>BLFL`` per pathway
    (:func:`involvement_variable`), the ``*BL`` baseline covariates of :func:`number_parameters` and
    :func:`choice_parameters`, RFICDT, ENRLDT, TRTSDT, TRTEDT, DOSE (cells), DOSEKG (cells/kg), EOSSTT,
    EOSDT, DCSREAS, DTHFL, DTHDT, LSTALVDT, ENRLFL, ITTFL, SAFFL.
    """
    study, subjects = data.study, data.subjects
    ids = pd.Index(subjects["subject_id"], name="subject_id")
    values = _baseline_wide(result, ids, "value")
    texts = _baseline_wide(result, ids, "text")
    out = pd.DataFrame(index=ids)
    out["STUDYID"] = study.identity.registry_number
    out["USUBJID"] = _usubjid(study, ids)
    out["SUBJID"] = ids.to_numpy(dtype=object)
    out["SITEID"] = subjects["site"].to_numpy(dtype=object)
    adsl_items = study.analysis.adsl_items if study.analysis is not None else {}
    age_item, sex_item = adsl_items.get("AGE"), adsl_items.get("SEX")
    age = _column(subjects, SUBJECT_AGE, np.nan).to_numpy(dtype=np.float64)
    baseline_age = values[age_item].to_numpy(dtype=np.float64) if age_item in values else np.full(len(ids), np.nan)
    out["AGE"] = np.where(np.isnan(age), baseline_age, age)
    out["AGEU"] = "YEARS"
    sex = _column(subjects, SUBJECT_SEX, "").to_numpy(dtype=object)
    baseline_sex = texts[sex_item].fillna("").to_numpy(dtype=object) if sex_item in texts else np.full(len(ids), "", dtype=object)
    out["SEX"] = pd.Series(np.where(sex != "", sex, baseline_sex)).map(_SEX).fillna("").to_numpy(dtype=object)
    involvement = result.involvement.reindex(ids)
    first_met = pd.Series("", index=ids, dtype=object)
    for code in reversed(list(involvement.columns)):
        first_met[involvement[code].to_numpy() == 2] = code
    pathway = _column(subjects, "pathway", "")
    out["PATHWAY"] = np.where(pathway.to_numpy(dtype=object) != "", pathway.to_numpy(dtype=object), first_met.to_numpy())
    for code in involvement.columns:
        out[involvement_variable(code)] = flags(involvement[code].to_numpy())
    for parameter in number_parameters(study):
        out[parameter.baseline_variable] = (
            values[parameter.item].to_numpy(dtype=np.float64) if parameter.item in values else np.nan
        )
    for parameter in choice_parameters(study):
        out[parameter.baseline_variable] = (
            texts[parameter.item].fillna("").to_numpy(dtype=object) if parameter.item in texts else ""
        )
    out["RFICDT"] = subjects["consent_date"].to_numpy()
    out["ENRLDT"] = subjects["enrolment_date"].to_numpy()
    out["TRTSDT"] = subjects[SUBJECT_INFUSION_DATE].to_numpy()
    out["TRTEDT"] = subjects[SUBJECT_INFUSION_DATE].to_numpy()  # a single infusion
    cells = _column(subjects, SUBJECT_CELLS, np.nan)
    weight = _column(subjects, "infusion_weight_kg", np.nan)
    per_kg = _column(subjects, "cells_per_kg", np.nan)
    out["DOSE"] = cells.to_numpy(dtype=np.float64)
    out["DOSEKG"] = per_kg.fillna(cells / weight).to_numpy(dtype=np.float64)
    status = subjects["status"]
    out["EOSSTT"] = status.map(_EOSSTT).fillna("ONGOING").to_numpy(dtype=object)
    out["EOSDT"] = subjects["end_date"].to_numpy()
    out["DCSREAS"] = status.map(_DCSREAS).fillna("").to_numpy(dtype=object)
    died = subjects["death_date"].notna().to_numpy()
    out["DTHFL"] = np.where(died, "Y", "")
    out["DTHDT"] = subjects["death_date"].to_numpy()
    contact = result.os.set_index("subject_id")["date"].reindex(ids)
    last_value = data.values.groupby("subject_id", observed=True)["date"].max().reindex(ids)
    out["LSTALVDT"] = contact.where(contact.notna(), last_value).to_numpy()
    enrolled = (subjects["enrolment_date"].notna() | subjects[SUBJECT_INFUSION_DATE].notna()).to_numpy()
    out["ENRLFL"] = np.where(enrolled, "Y", "N")
    out["ITTFL"] = np.where(enrolled, "Y", "N")
    out["SAFFL"] = np.where(subjects[SUBJECT_INFUSION_DATE].notna().to_numpy(), "Y", "N")
    return out.reset_index(drop=True)


def derive_time_to_event(data: TrialData, result: EndpointsResult) -> pd.DataFrame:
    """ADTTE: a DFS and an OS row per infused subject (PARAMN 1 and 2).

    Columns: STUDYID, USUBJID, PARAMCD (DFS, OS), PARAM, PARAMN, STARTDT (infusion), ADT (event or
    censoring date), AVAL (days, ADT - STARTDT), AVALU, AVALMO (AVAL in months of the schedule's
    days-per-month), CNSR (0 event, 1 censored), EVNTDESC (the rule's label, or the censoring reason),
    CNSDTDSC (what the censoring date is), SRCRULE (the event rule's code), EVNTSTAT (CONFIRMED,
    POSSIBLE or empty), LSTCMPDT (DFS: the last complete assessment before the event or censoring, the
    left bound for interval-censored analyses).
    """
    study = data.study
    endpoints = study.endpoints
    assert endpoints is not None  # evaluate_endpoints needed the section
    per_month = study.schedule.days_per_month
    parts = []
    for paramn, (paramcd, label, frame) in enumerate(
        (("DFS", endpoints.dfs.label, result.dfs), ("OS", endpoints.os.label, result.os)), 1
    ):
        event = frame["event"].to_numpy(dtype=bool)
        reasons = frame["censor_reason"].map(CENSOR_REASONS).fillna("").to_numpy(dtype=object)
        rule_labels = (
            frame["rule_label"].to_numpy(dtype=object) if "rule_label" in frame else np.full(len(frame), "Death", dtype=object)
        )
        part = pd.DataFrame(
            {
                "STUDYID": study.identity.registry_number,
                "USUBJID": _usubjid(study, frame["subject_id"]),
                "PARAMCD": paramcd,
                "PARAM": f"{label} (days)",
                "PARAMN": paramn,
                "STARTDT": frame["start_date"].to_numpy(),
                "ADT": frame["date"].to_numpy(),
                "AVAL": frame["days"].to_numpy(dtype=np.float64),
                "AVALU": "DAYS",
                "AVALMO": frame["days"].to_numpy(dtype=np.float64) / per_month,
                "CNSR": np.where(event, 0, 1),
                "EVNTDESC": np.where(event, rule_labels, reasons),
                "CNSDTDSC": frame["censor_date_source"].to_numpy(dtype=object),
                "SRCRULE": frame["rule"].to_numpy(dtype=object) if "rule" in frame else np.where(event, "death", ""),
                "EVNTSTAT": frame["status"].str.upper().to_numpy(dtype=object) if "status" in frame else "",
                "LSTCMPDT": frame["last_complete_date"].to_numpy() if "last_complete_date" in frame else pd.NaT,
            }
        )
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["LSTCMPDT"] = out["LSTCMPDT"].astype("datetime64[ns]")
    return out.sort_values(["USUBJID", "PARAMN"], kind="stable", ignore_index=True)


def _study_day(dates: pd.Series, start: pd.Series) -> npt.NDArray[np.float64]:
    """CDISC study day: ADT - TRTSDT + 1 on or after the infusion, ADT - TRTSDT before; NaN without an infusion."""
    days = (dates - start).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
    result: npt.NDArray[np.float64] = np.where(days >= 0, days + 1, days)
    return result


def derive_parameter_visits(data: TrialData, result: EndpointsResult, items: list[str] | None = None) -> pd.DataFrame:
    """BDS: one row per subject, parameter and visit (scheduled or not), with baseline and change.

    Args:
        data: the trial's data.
        result: its evaluated endpoints (for the baseline records and the cut-off).
        items: item codes to include (default: the items of :func:`number_parameters`); an item that is
            not a parameter of the protocol gets its code in upper case, without underscores, cut to 8.

    Columns: STUDYID, USUBJID, PARAMCD, PARAM (label and unit), AVISIT (the visit code), AVISITN (its
    month; NaN for an unscheduled visit), ADT, ADY, AVAL, BASE, CHG and PCHG (post-baseline records,
    ADT after TRTSDT; PCHG empty when BASE is 0), ABLFL (Y on the baseline record), DERIVFL (Y when the
    value was derived by the protocol's instrument, not measured).
    """
    study = data.study
    parameters = number_parameters(study)
    known = {p.item: p for p in parameters}
    wanted = [p.item for p in parameters] if items is None else list(items)
    paramcd = {code: known[code].paramcd if code in known else code.replace("_", "").upper()[:8] for code in wanted}
    values = data.values[data.values["item"].isin(wanted)]
    if result.cutoff is not None:
        values = values[values["date"] <= result.cutoff]
    values = values[values["value"].notna()]
    start = data.subjects.set_index("subject_id")[SUBJECT_INFUSION_DATE]
    subject = values["subject_id"].astype(object)
    item = values["item"].astype(object)
    visit = values["visit"].astype(object)
    base_records = result.baseline.set_index(["subject_id", "item"])
    key = pd.MultiIndex.from_arrays([subject, item])
    base = base_records["value"].reindex(key).to_numpy(dtype=np.float64)
    is_base = (base_records["visit"].reindex(key).to_numpy(dtype=object) == visit.to_numpy(dtype=object)) & (
        base_records["date"].reindex(key).to_numpy() == values["date"].to_numpy()
    )
    trtsdt = start.reindex(subject).reset_index(drop=True)
    dates = values["date"].reset_index(drop=True)
    aval = values["value"].to_numpy(dtype=np.float64)
    post = (dates > trtsdt).to_numpy(dtype=bool, na_value=False)
    change = np.where(post, aval - base, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.where(post & (base != 0), 100.0 * change / base, np.nan)
    labels = {
        code: f"{study.item_by_code[code].label} ({study.item_by_code[code].unit})"
        for code in wanted
        if code in study.item_by_code
    }
    out = pd.DataFrame(
        {
            "STUDYID": study.identity.registry_number,
            "USUBJID": _usubjid(study, subject),
            "PARAMCD": item.map(paramcd).to_numpy(dtype=object),
            "PARAM": item.map(labels).to_numpy(dtype=object),
            "AVISIT": visit.to_numpy(dtype=object),
            "AVISITN": visit.map(visit_months(study)).to_numpy(dtype=np.float64),
            "ADT": dates.to_numpy(),
            "ADY": _study_day(dates, trtsdt),
            "AVAL": aval,
            "BASE": base,
            "CHG": change,
            "PCHG": percent,
            "ABLFL": np.where(is_base, "Y", ""),
            "DERIVFL": np.where(values["derived"].to_numpy(dtype=bool), "Y", "") if "derived" in values else "",
        }
    )
    order = {code: i for i, code in enumerate(wanted)}
    out["_p"] = item.map(order).to_numpy()
    return out.sort_values(["USUBJID", "_p", "ADT", "AVISIT"], kind="stable").drop(columns="_p").reset_index(drop=True)


def derive_responses(data: TrialData, result: EndpointsResult) -> pd.DataFrame:
    """BDS responder parameters: AVAL 1/0 (NaN unknown), AVALC Y/N ("" unknown).

    * one row per infused subject and response at its visit: PARAMCD = the response code in upper
      case (CRISS, EUSTARSK); for ACR-CRISS also ``<CODE>P``, the CRISS probability in AVAL;
    * organ remission at each scheduled visit of its series, for subjects whose organ was involved at
      baseline: PARAMCD ``RM<ORGAN>`` (RMLUNG, RMGI, RMRENAL);
    * sustained remission, one row per involved subject: PARAMCD ``SRM<ORGAN>``, ADT = the first
      visit of the first sustained run, AVISIT empty.

    Columns: STUDYID, USUBJID, PARAMCD, PARAM, AVISIT, AVISITN, ADT, AVAL, AVALC.
    """
    study = data.study
    endpoints = study.endpoints
    assert endpoints is not None
    months = visit_months(study)
    parts: list[pd.DataFrame] = []

    def part(
        subject_ids: pd.Series,
        code: str,
        label: str,
        visits: pd.Series,
        dates: pd.Series,
        aval: npt.NDArray[np.float64],
        avalc: npt.NDArray[np.object_],
    ) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "STUDYID": study.identity.registry_number,
                    "USUBJID": _usubjid(study, subject_ids),
                    "PARAMCD": code,
                    "PARAM": label,
                    "AVISIT": visits.to_numpy(dtype=object),
                    "AVISITN": visits.map(months).to_numpy(dtype=np.float64),
                    "ADT": dates.to_numpy(dtype="datetime64[ns]"),
                    "AVAL": aval,
                    "AVALC": avalc,
                }
            )
        )

    def truth_values(truth: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
        codes = truth.to_numpy(dtype=np.int64)
        return np.array([0.0, np.nan, 1.0])[codes], flags(codes)

    for definition in endpoints.responses:
        rows = result.responses[result.responses["response"] == definition.code]
        aval, avalc = truth_values(rows["truth"])
        part(rows["subject_id"], definition.code.upper(), definition.label, rows["visit"], rows["date"], aval, avalc)
        if definition.instrument is not None:
            probability = rows["value"].to_numpy(dtype=np.float64)
            label = f"{definition.label}: probability"
            part(
                rows["subject_id"],
                f"{definition.code.upper()[:7]}P",
                label,
                rows["visit"],
                rows["date"],
                probability,
                np.full(len(rows), "", dtype=object),
            )
    if endpoints.remission is not None:
        for organ in endpoints.remission.organs:
            rows = result.remission[result.remission["organ"] == organ.code]
            aval, avalc = truth_values(rows["truth"])
            part(rows["subject_id"], f"RM{organ.code.upper()}", organ.label, rows["visit"], rows["date"], aval, avalc)
            summary = result.remission_summary
            involved = summary[(summary["organ"] == organ.code) & (summary["involved"] == 2)]
            aval, avalc = truth_values(involved["sustained"].astype(np.int64))
            visits = pd.Series("", index=involved.index, dtype=object)
            label = f"Sustained {organ.label[0].lower()}{organ.label[1:]}"
            part(involved["subject_id"], f"SRM{organ.code.upper()}", label, visits, involved["sustained_date"], aval, avalc)
    if not parts:
        return pd.DataFrame(columns=["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVISIT", "AVISITN", "ADT", "AVAL", "AVALC"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["USUBJID", "PARAMCD", "ADT"], kind="stable", ignore_index=True)
