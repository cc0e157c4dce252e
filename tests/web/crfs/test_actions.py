"""Form saves through the web's write action: unit conversions, ranges and warnings, reasons for changes, edit
conflicts, derived scores and the audit entries each save must leave.

Expected values are written out here by hand: unit conversions (1 g/dL = 10 g/L) and the mRSS total as the
sum of its 17 area scores.
"""

from __future__ import annotations

import pytest

from rodnan.web.accounts.access import AccessDeniedError
from rodnan.web.audit.chain import verify_chain
from rodnan.web.crfs.actions import EditConflictError, check_save_form
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.actions import EntryRejectedError
from rodnan.web.subjects.models import Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db


MRSS_AREAS = {
    "mrss_face": 1, "mrss_chest": 0, "mrss_abdomen": 0, "mrss_upper_arm_r": 1, "mrss_upper_arm_l": 1,
    "mrss_forearm_r": 2, "mrss_forearm_l": 2, "mrss_hand_r": 2, "mrss_hand_l": 2, "mrss_fingers_r": 3,
    "mrss_fingers_l": 3, "mrss_thigh_r": 0, "mrss_thigh_l": 0, "mrss_lower_leg_r": 1, "mrss_lower_leg_l": 1,
    "mrss_foot_r": 0, "mrss_foot_l": 0,
}  # fmt: skip


def _entries(values: dict[str, object]) -> dict[str, tuple[str, None]]:
    return {code: (str(value), None) for code, value in values.items()}


def test_form_save_stores_the_unit_conversion(site, coordinator):
    """Albumin typed as 2.3 g/dL is stored as 23 g/L, keeping the raw '2.3' and the unit 'g/dL'."""
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "screening")
    result = check_save_form(coordinator, record, {"albumin": ("2.3", "g/dL")}, expected_version=0)
    record.refresh_from_db()
    stored = record.values["albumin"]
    assert (stored["raw"], stored["unit"], stored["converted"]) == ("2.3", "g/dL", True)
    assert stored["value"] == pytest.approx(23.0)
    assert stored["display"] == "23 g/L"
    assert result.changed == ("albumin",)
    assert (record.version, record.status) == (1, "in_progress")


def test_first_save_of_a_visit_records_done_on_and_audits_each_item(site, coordinator):
    """The first save sets the visit's date and writes visit.done plus one record.save event with every item (no reason)."""
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "demographics")
    visit_date = f.days_ago(58)
    start = f.last_seq()
    entries = {"sex": ("female", None), "age": ("45", None), "height": ("1.62", "m"), "body_weight": ("58", None),
               "childbearing_potential": ("yes", None)}  # fmt: skip
    check_save_form(coordinator, record, entries, expected_version=0, visit_date=visit_date)
    visit = Visit.objects.get(subject=subject, code="SCR")
    assert visit.done_on == visit_date
    got = [
        (e.action, e.object_id, e.field, e.old_value, e.new_value, e.reason, e.username, e.role)
        for e in f.flat(f.audit_since(start))
    ]
    where = "NJDT-S0001/SCR/demographics"
    assert got == [
        ("visit.done", "NJDT-S0001/SCR", "done_on", "", visit_date.isoformat(), "", "coord", "coordinator"),
        ("record.save", where, "sex", "", "female", "", "coord", "coordinator"),
        ("record.save", where, "age", "", "45", "", "coord", "coordinator"),
        ("record.save", where, "height", "", "1.62 m", "", "coord", "coordinator"),
        ("record.save", where, "body_weight", "", "58", "", "coord", "coordinator"),
        ("record.save", where, "childbearing_potential", "", "yes", "", "coord", "coordinator"),
        ("record.save", where, "status", "not_started", "complete", "", "coord", "coordinator"),
    ]
    record.refresh_from_db()
    assert record.values["height"]["value"] == pytest.approx(162.0)
    assert (record.status, record.version, record.updated_by.username) == ("complete", 1, "coord")
    assert {e.form_record_id for e in f.audit_since(start)[1:]} == {record.pk}


def test_hard_range_error_names_item_and_rule_and_saves_nothing(site, coordinator):
    """Albumin 80 g/L is above the plausible 5-70 g/L: refused with the label and rule, record untouched."""
    subject = f.screened_subject(coordinator, site)
    record = f.scr_record(subject, "screening")
    before = dict(record.values)
    start = f.last_seq()
    entries = {**f.screening_entries(subject, LUNG_ELIGIBLE)["screening"], "albumin": ("80", None)}
    with pytest.raises(EntryRejectedError) as caught:
        check_save_form(coordinator, record, entries, expected_version=1, reason="typo")
    issue = caught.value.entry.errors["albumin"]
    assert issue.message == "Serum albumin: must be within the plausible range 5 to 70 g/L"
    assert caught.value.field == "albumin"
    record.refresh_from_db()
    assert (record.version, record.values) == (1, before)
    assert f.audit_since(start) == []


def test_soft_range_warning_needs_confirmation(site, coordinator):
    """Albumin 18 g/L is below the expected 20: a warning until confirmed, then saved with a confirm_warning entry."""
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "screening")
    with pytest.raises(EntryRejectedError) as caught:
        check_save_form(coordinator, record, {"albumin": ("18", None)}, expected_version=0)
    assert caught.value.entry.errors == {}
    assert caught.value.entry.warnings["albumin"].message == (
        "Serum albumin: outside the expected range 20 to 55 g/L; confirm it is correct"
    )
    record.refresh_from_db()
    assert record.version == 0
    start = f.last_seq()
    check_save_form(coordinator, record, {"albumin": ("18", None)}, expected_version=0, confirmed={"albumin"})
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["value"], record.confirmed_warnings) == (1, 18.0, ["albumin"])
    actions_written = [(e.action, e.field, e.new_value) for e in f.flat(f.audit_since(start))]
    assert actions_written == [
        ("visit.done", "done_on", f.today().isoformat()),
        ("record.save", "albumin", "18"),
        ("record.save", "status", "in_progress"),
        ("record.confirm_warning", "albumin", "outside the expected range 20 to 55 g/L; confirm it is correct"),
    ]


def test_changing_a_saved_value_needs_a_reason(site, coordinator, investigator):
    """Without a reason the change is refused; with one, one entry per changed item (old, new, user, role, reason)."""
    subject = f.screened_subject(coordinator, site)
    record = f.scr_record(subject, "screening")
    entries = f.screening_entries(subject, {**LUNG_ELIGIBLE, "albumin": 38, "esr": 14})["screening"]
    start = f.last_seq()
    with pytest.raises(EntryRejectedError) as caught:
        check_save_form(investigator, record, entries, expected_version=1, reason="  ")
    assert (caught.value.field, caught.value.rule) == ("reason", "a reason for change is required when a saved value is changed")
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["raw"]) == (1, "40")
    assert f.audit_since(start) == []

    result = check_save_form(investigator, record, entries, expected_version=1, reason="lab report corrected")
    assert result.changed == ("esr", "albumin")  # in form order
    got = [(e.action, e.field, e.old_value, e.new_value, e.username, e.role, e.reason) for e in f.flat(f.audit_since(start))]
    assert got == [
        ("record.save", "esr", "12", "14", "inv", "investigator", "lab report corrected"),
        ("record.save", "albumin", "40", "38", "inv", "investigator", "lab report corrected"),
    ]
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["value"], record.updated_by.username) == (2, 38.0, "inv")
    assert verify_chain().ok


def test_saving_unchanged_values_writes_nothing(site, coordinator):
    """Saving the same values again keeps the version and adds no audit entry."""
    subject = f.screened_subject(coordinator, site)
    record = f.scr_record(subject, "screening")
    start = f.last_seq()
    result = check_save_form(coordinator, record, f.screening_entries(subject, LUNG_ELIGIBLE)["screening"], expected_version=1)
    assert result.changed == ()
    record.refresh_from_db()
    assert record.version == 1
    assert f.audit_since(start) == []


def test_stale_expected_version_is_an_edit_conflict(site, coordinator, investigator):
    """Two people opened version 1; the second save is refused with EditConflictError and stores nothing."""
    subject = f.screened_subject(coordinator, site)
    record = f.scr_record(subject, "screening")
    first = f.screening_entries(subject, {**LUNG_ELIGIBLE, "esr": 20})["screening"]
    check_save_form(coordinator, record, first, expected_version=1, reason="re-read the lab sheet")
    start = f.last_seq()
    second = f.screening_entries(subject, {**LUNG_ELIGIBLE, "esr": 30})["screening"]
    with pytest.raises(EditConflictError) as caught:
        check_save_form(investigator, record, second, expected_version=1, reason="mine")
    assert caught.value.current.version == 2
    assert "version 2" in str(caught.value)
    assert "(version 1)" in str(caught.value)
    assert "coord" in str(caught.value)
    record.refresh_from_db()
    assert (record.version, record.values["esr"]["raw"], record.updated_by.username) == (2, "20", "coord")
    assert f.audit_since(start) == []


def test_mrss_total_is_derived_and_completes_the_form(site, investigator):
    """17 area scores summing to 19 derive the required total; the record is complete and M1 is done."""
    subject = f.infused_subject(investigator, site, f.days_ago(40))
    record = FormRecord.objects.get(subject=subject, visit__code="M1", form_code="mrss")
    visit_date = f.days_ago(9)
    result = check_save_form(investigator, record, _entries(MRSS_AREAS), expected_version=0, visit_date=visit_date)
    assert result.entry.derived["mrss"].value == 19.0
    assert result.entry.missing_required == ()
    record.refresh_from_db()
    assert (record.status, record.version) == ("complete", 1)
    assert "mrss" not in record.values  # derived, not typed
    assert Visit.objects.get(pk=record.visit_id).done_on == visit_date


def test_mrss_with_an_area_missing_is_incomplete(site, investigator):
    """16 of 17 areas: no total can be derived, the form is saved as incomplete."""
    subject = f.infused_subject(investigator, site)
    record = FormRecord.objects.get(subject=subject, visit__code="M1", form_code="mrss")
    partial = {k: v for k, v in MRSS_AREAS.items() if k != "mrss_foot_l"}
    result = check_save_form(investigator, record, _entries(partial), expected_version=0, confirmed={"visit_window"})
    assert "mrss_foot_l" in result.entry.missing_required
    record.refresh_from_db()
    assert record.status == "in_progress"


def test_follow_up_visit_date_before_the_infusion_is_refused(site, investigator):
    """A follow-up form cannot be dated before the infusion (day 0)."""
    infusion_date = f.days_ago(40)
    subject = f.infused_subject(investigator, site, infusion_date)
    record = FormRecord.objects.get(subject=subject, visit__code="M1", form_code="mrss")
    with pytest.raises(EntryRejectedError) as caught:
        check_save_form(investigator, record, _entries(MRSS_AREAS), expected_version=0, visit_date=f.days_ago(41))
    assert caught.value.field == "visit_date"
    record.refresh_from_db()
    assert record.version == 0
    assert Visit.objects.get(pk=record.visit_id).done_on is None


def test_infusion_form_cannot_be_changed_through_a_form_save(site, investigator):
    """The infusion is recorded by the infusion step only: a form save cannot change cells or date behind the dose check."""
    subject = f.infused_subject(investigator, site)
    record = FormRecord.objects.get(subject=subject, form_code="infusion")
    entries = {**f.infusion_entries(subject.infusion_date), "cells_administered": ("90000000", None)}
    start = f.last_seq()
    with pytest.raises(EntryRejectedError) as caught:
        check_save_form(investigator, record, entries, expected_version=1, reason="recount")
    assert caught.value.field == "form"
    assert "infusion step" in caught.value.rule
    record.refresh_from_db()
    assert (record.version, record.values["cells_administered"]["value"]) == (1, 60_000_000.0)
    assert f.audit_since(start) == []


def test_form_save_needs_the_enter_data_permission(site, coordinator):
    """A monitor's save is refused with AccessDeniedError; nothing is stored or audited."""
    monitor = f.make_user("mon", "monitor", site)
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "screening")
    start = f.last_seq()
    with pytest.raises(AccessDeniedError, match="enter data"):
        check_save_form(monitor, record, {"albumin": ("40", None)}, expected_version=0)
    record.refresh_from_db()
    assert (record.version, record.values) == (0, {})
    assert f.audit_since(start) == []
