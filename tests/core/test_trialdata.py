"""The one data interface: reading a `rodnan simulate` directory, frames from another provider, and bad rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rodnan.cli.simulate import write_cohort
from rodnan.core import units
from rodnan.core.derivation import derive_items
from rodnan.core.protocol import Study
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.core.trialdata import TrialData, from_frames, read_trial_dir
from rodnan.core.values import normalize_value
from rodnan.errors import InputError


@pytest.fixture(scope="module")
def cohort(study: Study) -> SimulatedCohort:
    """60 simulated subjects (5 % of lab values in another accepted unit)."""
    return simulate_cohort(study, 60, seed=7)


@pytest.fixture(scope="module")
def written(cohort: SimulatedCohort, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort as `rodnan simulate` writes it."""
    out = tmp_path_factory.mktemp("sim")
    write_cohort(cohort, out)
    return out


@pytest.fixture(scope="module")
def data(written: Path, study: Study) -> TrialData:
    """The directory read back."""
    return read_trial_dir(written, study)


def _expected(study: Study, raw: pd.DataFrame) -> pd.DataFrame:
    """values.csv rows converted by hand, per item and entered unit: numbers times the UCUM factor to the
    item's unit, yes/no 1/0, choices their position in the protocol."""
    value = np.full(len(raw), np.nan)
    text = np.full(len(raw), "", dtype=object)
    for (code, unit), rows in raw.groupby(["item", "unit"]):
        item = study.item_by_code[str(code)]
        where = raw.index.get_indexer(rows.index)
        if item.type in ("text", "date"):
            text[where] = rows["value"].to_numpy(dtype=object)
        elif item.type == "boolean":
            value[where] = rows["value"].map({"true": 1.0, "false": 0.0}).to_numpy()
        elif item.type == "choice":
            value[where] = rows["value"].map({c.code: float(i) for i, c in enumerate(item.choices)}).to_numpy()
            text[where] = rows["value"].to_numpy(dtype=object)
        else:
            factor = 1.0 if unit in ("", item.unit) else units.conversion_factor(str(unit), item.unit, item.molar_mass_g_per_mol)
            value[where] = rows["value"].astype(float).to_numpy() * factor
    return raw.assign(value=value, text=text)


def test_round_trip_gives_the_simulated_numbers_in_item_units(study: Study, cohort: SimulatedCohort, data: TrialData) -> None:
    """Every values.csv row comes back once, converted to the item's unit (per entered unit, by its UCUM factor); the
    pregnancy tests (a log form's items: records of their own, not visit values) are left out."""
    logged = {code for form in study.log_forms for code in form.items}
    raw = cohort.values_frame()
    assert raw["item"].isin(logged).any()  # the simulator writes them (for the import)
    raw = raw[~raw["item"].isin(logged)]
    key = ["subject_id", "visit", "item"]
    expected = _expected(study, raw).set_index(key).sort_index()
    measured = data.values[~data.values["derived"]]
    got = measured.assign(**{c: measured[c].astype(str) for c in key}).set_index(key).sort_index()
    assert got.index.equals(expected.index)
    np.testing.assert_allclose(got["value"].to_numpy(), expected["value"].to_numpy(), rtol=1e-12, atol=1e-12)
    assert got["text"].tolist() == expected["text"].tolist()
    assert (got["date"].to_numpy() == pd.to_datetime(expected["date"]).to_numpy()).all()
    units_of_items = [study.item_by_code[code].unit or "" for code in got.index.get_level_values("item")]
    assert got["unit"].astype(str).tolist() == units_of_items
    converted = raw["unit"].to_numpy() != np.array([study.item_by_code[c].unit or "" for c in raw["item"]], dtype=object)
    assert (converted & (raw["unit"] != "").to_numpy()).sum() > 0  # the cohort has values in other accepted units


def test_round_trip_agrees_with_the_frames(study: Study, cohort: SimulatedCohort, data: TrialData) -> None:
    """read_trial_dir (the files) and from_frames (simulate_cohort's frames) give the same data."""
    frames = from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events)
    key = ["subject_id", "visit", "item"]

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.assign(**{c: frame[c].astype(str) for c in (*key, "unit")})
        return out.sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(plain(frames.values), plain(data.values))
    for column in ("subject_id", "status", "infusion_date", "end_date", "death_date", "cells_per_kg"):
        pd.testing.assert_series_equal(frames.subjects[column], data.subjects[column], check_dtype=False)
    assert len(frames.adverse_events) == len(data.adverse_events) == len(cohort.adverse_events)


def test_subjects_are_typed(data: TrialData, cohort: SimulatedCohort) -> None:
    """Dates are datetime64, the death date is set for those who died, numbers are floats."""
    subjects = data.subjects
    assert str(subjects["infusion_date"].dtype) == "datetime64[ns]"
    died = subjects["status"] == "died"
    assert subjects.loc[died, "death_date"].notna().all()
    assert subjects.loc[~died, "death_date"].isna().all()
    assert subjects["cells_per_kg"].tolist() == cohort.subjects["cells_per_kg"].astype(float).tolist()


def test_derived_items_fill_what_was_not_measured(study: Study, cohort: SimulatedCohort, data: TrialData) -> None:
    """HAQ-DI and SF-36 summaries are derived per visit from the answers, as the one-visit derivation computes them."""
    values = data.values
    derived = values[values["derived"]]
    assert {"haq_di", "sf36_pcs", "sf36_mcs"} <= set(derived["item"].astype(str))
    measured = values[~values["derived"]]
    keys = ["subject_id", "visit", "item"]
    assert not set(map(tuple, derived[keys].astype(str).to_numpy())) & set(map(tuple, measured[keys].astype(str).to_numpy()))
    raw = cohort.values_frame()
    for subject_id, visit in [("S0001", "M1"), ("S0002", "M6"), ("S0003", "SCR")]:
        rows = raw[(raw["subject_id"] == subject_id) & (raw["visit"] == visit)]
        facts = {
            code: normalize_value(study.item_by_code[code], value, unit or None)
            for code, value, unit in zip(rows["item"], rows["value"], rows["unit"], strict=True)
            if study.item_by_code[code].type not in ("text", "date")
        }
        expected = derive_items(study, facts)
        got = values[(values["subject_id"] == subject_id) & (values["visit"] == visit)]
        got = got.set_index(got["item"].astype(str))
        for code in ("haq_di", "sf36_pcs"):
            assert got.loc[code, "value"] == pytest.approx(expected[code].value, rel=1e-12), (subject_id, visit, code)


def test_items_filter_reads_only_those_items(written: Path, study: Study) -> None:
    """items= keeps only the listed items (and what derives from them); derive=False adds nothing."""
    subset = read_trial_dir(written, study, items=["mrss", "albumin"])
    assert set(subset.values["item"].astype(str)) == {"mrss", "albumin"}
    plain = read_trial_dir(written, study, derive=False)
    assert not plain.values["derived"].any()
    assert "haq_di" not in set(plain.values["item"].astype(str))


# --- bad input ----------------------------------------------------------------------------------

SUBJECTS = "subject_id,site,status,infusion_date,end_date,death_date\nS1,NJDT,completed,2020-01-06,2021-01-10,\n"
VALUES = "subject_id,visit,item,value,unit,date\nS1,SCR,albumin,40,,2019-12-20\nS1,SCR,creatinine,1.1,mg/dL,2019-12-20\n"


def _write(folder: Path, subjects: str = SUBJECTS, values: str = VALUES, events: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subjects.csv").write_text(subjects, encoding="utf-8")
    (folder / "values.csv").write_text(values, encoding="utf-8")
    if events is not None:
        (folder / "adverse_events.csv").write_text(events, encoding="utf-8")
    return folder


def test_small_directory_converts_units(tmp_path: Path, study: Study) -> None:
    """Creatinine 1.1 mg/dL is 97.24 umol/L (x 88.4, molar mass 113.12 g/mol); no adverse_events.csv is no events."""
    data = read_trial_dir(_write(tmp_path), study)
    values = data.values.set_index(data.values["item"].astype(str))
    assert values.loc["creatinine", "value"] == pytest.approx(1.1 * 10 / 113.12 * 1000, rel=1e-9)
    assert values.loc["creatinine", "unit"] == "umol/L"
    assert data.adverse_events.empty
    assert data.source == str(tmp_path)


@pytest.mark.parametrize(
    ("values_line", "where", "rule"),
    [
        ("S1,M3,albumin,abc,,2020-04-06", "line 3, column 'value'", "albumin: must be a number"),
        ("S1,M3,albumin,4,mm[Hg],2020-04-06", "line 3, column 'unit'", "unit must convert to g/L"),
        ("S1,M3,albumin,500,,2020-04-06", "line 3, column 'value'", "albumin: must be within the plausible range 5 to 70 g/L"),
        ("S1,SCR,mrss,20.5,,2019-12-20", "line 3, column 'value'", "mrss: must be a whole number"),
        ("S1,SCR,ana,weak,,2019-12-20", "line 3, column 'value'", "ana: must be one of negative, positive"),
        ("S1,SCR,pregnant,maybe,,2019-12-20", "line 3, column 'value'", "pregnant: must be yes/no"),
        ("S1,SCR,albumen,40,,2019-12-20", "line 3, column 'item'", "is not an item of the protocol"),
        ("S9,SCR,mrss,20,,2019-12-20", "line 3, column 'subject_id'", "is not a subject of the subjects table"),
        ("S1,SCR,albumin,41,,2019-12-20", "line 3, column 'item'", "is given twice for subject S1 at visit SCR"),
        ("S1,SCR,mrss,20,,20.12.2019", "line 3, column 'date'", "must be a date"),
    ],
)
def test_bad_value_rows_name_file_line_column_and_rule(
    tmp_path: Path, study: Study, values_line: str, where: str, rule: str
) -> None:
    """Every broken rule of values.csv is an InputError naming the file, the line, the column and the rule."""
    head, first, _ = VALUES.split("\n", 2)
    folder = _write(tmp_path, values=f"{head}\n{first}\n{values_line}\n")
    with pytest.raises(InputError) as caught:
        read_trial_dir(folder, study)
    message = str(caught.value)
    assert f"values.csv {where}" in message
    assert rule in message


def test_bad_subject_rows_are_reported(tmp_path: Path, study: Study) -> None:
    """An unknown status, a bad date and a missing column in subjects.csv."""
    bad_status = SUBJECTS.replace("completed", "finished")
    with pytest.raises(InputError, match=r"subjects.csv line 2, column 'status': must be one of screening"):
        read_trial_dir(_write(tmp_path / "a", subjects=bad_status), study)
    bad_date = SUBJECTS.replace("2020-01-06", "6 Jan")
    with pytest.raises(InputError, match=r"subjects.csv line 2, column 'infusion_date': must be a date"):
        read_trial_dir(_write(tmp_path / "b", subjects=bad_date), study)
    no_site = SUBJECTS.replace("site,", "").replace("NJDT,", "")
    with pytest.raises(InputError, match=r"subjects.csv line 1: the header lacks the column\(s\) site"):
        read_trial_dir(_write(tmp_path / "c", subjects=no_site), study)
    events = "subject_id,term,onset_date\nS2,Fever,2020-01-07\n"
    with pytest.raises(InputError, match=r"adverse_events.csv line 2, column 'subject_id'"):
        read_trial_dir(_write(tmp_path / "d", events=events), study)


def test_missing_file_is_reported(tmp_path: Path, study: Study) -> None:
    """A directory without values.csv is not a simulate directory."""
    (tmp_path / "subjects.csv").write_text(SUBJECTS, encoding="utf-8")
    with pytest.raises(InputError, match=r"values\.csv: the file is missing"):
        read_trial_dir(tmp_path, study)


def test_from_frames_takes_numbers_and_booleans(study: Study) -> None:
    """Another provider may pass numbers as floats and yes/no as True/False; empty values are dropped."""
    subjects = pd.DataFrame(
        {
            "subject_id": ["S1"],
            "site": ["NJDT"],
            "status": ["in_follow_up"],
            "infusion_date": [pd.Timestamp("2020-01-06")],
            "end_date": [None],
        }
    )
    values = pd.DataFrame(
        {
            "subject_id": ["S1"] * 4,
            "visit": ["SCR"] * 4,
            "item": ["albumin", "pregnant", "sex", "crp"],
            "value": [3.9, False, "female", None],
            "unit": ["g/dL", "", "", ""],
            "date": [pd.Timestamp("2019-12-20")] * 4,
        }
    )
    data = from_frames(study, subjects, values, source="database")
    got = data.values.set_index(data.values["item"].astype(str))
    assert got.loc["albumin", "value"] == pytest.approx(39.0)
    assert got.loc["pregnant", "value"] == 0.0
    assert (got.loc["sex", "value"], got.loc["sex", "text"]) == (0.0, "female")
    assert "crp" not in got.index
    with pytest.raises(InputError, match=r"values line 2, column 'value'"):
        from_frames(study, subjects, values.assign(value=["x", False, "female", None]))
