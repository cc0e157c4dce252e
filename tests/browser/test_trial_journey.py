"""The issue's scenario, driven only through the browser as the study staff would: screen a candidate,
find them eligible through the lung pathway, consent, enrol, infuse, enter a monthly visit (mRSS body
grid, SF-36), correct a value with a reason and find it in the audit trail; a user of another site
sees none of it. Screenshots of the main screens go to docs/screenshots/."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.pages import click_answer, exact, fill_items, flash, log_in, log_out, open_form, save_form, visit_row
from tests.candidates import LUNG_ELIGIBLE, NEUTRAL

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]

DEMOGRAPHICS = {"sex": "female", "age": 45, "height": 160, "body_weight": 55, "childbearing_potential": True}

# The 17 mRSS areas as scored at month 1; total 1+0+0 + 1+1 + 2+2 + 2+3 + 3+3 + 0+0 + 1+1 + 0+0 = 20.
MRSS_M1 = {
    "mrss_face": 1, "mrss_chest": 0, "mrss_abdomen": 0, "mrss_upper_arm_r": 1, "mrss_upper_arm_l": 1,
    "mrss_forearm_r": 2, "mrss_forearm_l": 2, "mrss_hand_r": 2, "mrss_hand_l": 3, "mrss_fingers_r": 3, "mrss_fingers_l": 3,
    "mrss_thigh_r": 0, "mrss_thigh_l": 0, "mrss_lower_leg_r": 1, "mrss_lower_leg_l": 1, "mrss_foot_r": 0, "mrss_foot_l": 0,
}  # fmt: skip
MRSS_M1_TOTAL = 20

# SF-36 v1 answers in questionnaire order. PF items Q3a-j (1..3) sum to 1+2+3+3+2+3+2+3+3+3 = 25, so
# PF = (25 - 10) / 20 x 100 = 75 (raw range 10..30). RP: Q4a-d all 2 ("no" on v1) gives raw 8 of 4..8, so
# RP = (8 - 4) / 4 x 100 = 100.
SF36_V1 = {
    "sf36_q1": 2, "sf36_q2": 3,
    "sf36_q3a": 1, "sf36_q3b": 2, "sf36_q3c": 3, "sf36_q3d": 3, "sf36_q3e": 2, "sf36_q3f": 3, "sf36_q3g": 2, "sf36_q3h": 3,
    "sf36_q3i": 3, "sf36_q3j": 3,
    "sf36_q4a": 2, "sf36_q4b": 2, "sf36_q4c": 2, "sf36_q4d": 2, "sf36_q5a": 2, "sf36_q5b": 1, "sf36_q5c": 2,
    "sf36_q6": 2, "sf36_q7": 3, "sf36_q8": 2,
    "sf36_q9a": 3, "sf36_q9b": 4, "sf36_q9c": 5, "sf36_q9d": 3, "sf36_q9e": 3, "sf36_q9f": 5, "sf36_q9g": 4, "sf36_q9h": 3,
    "sf36_q9i": 4, "sf36_q10": 4, "sf36_q11a": 4, "sf36_q11b": 2, "sf36_q11c": 4, "sf36_q11d": 2,
}  # fmt: skip
SF36_PF, SF36_RP = "75", "100"


def test_coordinator_screens_enrols_follows_and_audits(page: Page, live_server, trial, screenshot) -> None:
    base = live_server.url
    today = timezone.localdate().isoformat()

    # 1. Log in (as the study coordinator).
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot("login")
    log_in(page, base, "coordinator")
    expect(page.get_by_role("heading", name="NCT00962923")).to_be_visible()
    expect(page.locator(".card").filter(has_text="Enrolment")).to_contain_text("0 of 20 enrolled")

    # 2. From the subject list, open a new screening.
    page.get_by_role("navigation").get_by_role("link", name="Subjects").click()
    expect(page.get_by_role("heading", name="Subjects", exact=True)).to_be_visible()
    expect(page.locator("table.list")).to_contain_text("No subjects match.")  # SITEB's subject is not listed
    page.get_by_label("Screening date").fill(today)
    page.get_by_role("button", name="Open screening").click()
    expect(flash(page)).to_contain_text("Screening NJDT-S0001 opened")
    expect(page.get_by_role("heading", level=1)).to_contain_text("NJDT-S0001")
    subject_url = page.url
    expect(page.locator("#eligibility .verdict")).to_contain_text("Incomplete")

    # 3. The screening visit's forms: demographics, then the eligibility values; the live panel follows the typing.
    open_form(page, "SCR", "Demographics")
    fill_items(page, DEMOGRAPHICS)
    save_form(page)
    expect(flash(page)).to_contain_text("Demographics at SCR saved: 5 values changed")

    open_form(page, "SCR", "Eligibility")
    panel = page.locator("#eligibility-panel")
    expect(panel.locator(".verdict")).to_contain_text("Incomplete")
    fill_items(page, NEUTRAL)  # every value on the safe side: no qualifying pathway yet
    expect(panel).to_contain_text("(live, not saved)")
    expect(panel.locator(".verdict")).to_have_text(exact("Not eligible"))
    expect(panel.locator("li.c-neutral").filter(has_text="pathway Lung involvement")).to_be_visible()  # not met: neutral
    page.locator("#v_dlco_pct_pred").fill(str(LUNG_ELIGIBLE["dlco_pct_pred"]))  # DLCO 60 % predicted: lung pathway
    expect(panel.locator(".verdict")).to_contain_text("Eligible")
    expect(panel.locator(".verdict")).to_contain_text("qualifying pathway: Lung involvement")
    expect(panel.locator("li.c-good").filter(has_text="pathway Lung involvement")).to_be_visible()
    screenshot("screening-form-eligibility")
    save_form(page)
    expect(flash(page)).to_contain_text("Eligibility screening at SCR saved: 24 values changed")

    # The checklist on the subject page says the same, from the saved values.
    checklist = page.locator("#eligibility")
    expect(checklist.locator(".verdict")).to_contain_text("Eligible")
    expect(checklist.locator(".verdict")).to_contain_text("qualifying pathway: Lung involvement")
    expect(checklist).not_to_contain_text("(live, not saved)")
    expect(checklist.locator("li.c-good").filter(has_text="ACR (1980 ARA)")).to_be_visible()

    # 4. Record consent.
    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Consent form version").fill("2.0 (2009-07-20)")
    page.get_by_label("Date signed").fill(today)
    page.get_by_role("button", name="Record consent").click()
    expect(flash(page)).to_contain_text("NJDT-S0001: Record consent recorded")
    expect(page.locator(".subject-head .pill")).to_have_text("Consented")
    expect(page.locator(".facts")).to_contain_text(f"{today} (form 2.0 (2009-07-20))")
    expect(page.get_by_role("link", name="Enrol")).to_have_count(0)  # coordinators do not enrol

    # 5. Enrol, as the investigator: the subject ID is allocated.
    log_out(page)
    log_in(page, base, "investigator")
    page.goto(subject_url)
    page.get_by_role("link", name="Enrol").click()
    expect(page.locator("#eligibility .verdict")).to_contain_text("Eligible")
    page.get_by_label("Enrolment date").fill(today)
    page.get_by_role("button", name="Enrol").click()
    expect(flash(page)).to_contain_text("Enrol recorded")
    expect(page.locator(".subject-head .pill")).to_have_text("Enrolled")
    facts = page.locator(".facts")
    expect(facts.locator("div").filter(has_text="Subject ID").locator("dd")).to_have_text("NJDT-001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("NJDT-001")

    # 6. A woman of child-bearing potential: the infusion waits for a negative pregnancy test (decision 0019).
    expect(page.get_by_role("link", name="Record MSC infusion")).to_have_count(0)
    expect(page.locator(".subject-head")).to_contain_text("The infusion cannot be recorded yet. A negative pregnancy test")
    page.get_by_role("link", name="Add pregnancy test entry").click()
    fill_items(page, {"pregnancy_test_date": today, "pregnancy_test_kind": "urine", "pregnancy_test_result": "negative"})
    save_form(page)
    expect(flash(page)).to_contain_text("Pregnancy test: entry 1 added")
    # Record the MSC infusion: 60 kg, 6.0 x 10^7 cells = the protocol's 1.0 x 10^6 cells/kg.
    page.get_by_role("link", name="Record MSC infusion").click()
    expect(page.get_by_text("Protocol dose:")).to_be_visible()
    fill_items(page, {"infusion_date": today, "product_lot": "MSC-2026-017", "donor_code": "D-042",
                      "infusion_weight": 60, "cells_administered": 60000000})  # fmt: skip
    screenshot("infusion")
    page.get_by_role("button", name="Record MSC infusion").click()
    expect(flash(page)).to_contain_text("Record MSC infusion recorded")
    expect(page.locator(".subject-head .pill")).to_have_text("In follow-up")
    dose = facts.locator("div").filter(has_text="Dose").locator("dd")
    expect(dose).to_contain_text("cells/kg, on the protocol dose")
    expect(dose).not_to_have_class("warn")
    expect(facts.locator("div").filter(has_text="MSC infusion").locator("dd")).to_have_text(today)
    for month in range(1, 13):
        expect(visit_row(page, f"M{month}")).to_have_count(1)
    expect(visit_row(page, "M13")).to_have_count(0)
    # D0 waits for the vital signs around the infusion: one row per time, each value stored for its time
    expect(visit_row(page, "D0")).to_contain_text("Data incomplete")
    open_form(page, "D0", "Infusion vitals")
    expect(page.locator("table.timepoint-grid tbody tr")).to_have_count(4)
    vitals = {"systolic_bp": 118, "diastolic_bp": 72, "heart_rate": 78, "body_temperature": 36.8, "respiratory_rate": 16,
              "spo2": 98}  # fmt: skip
    times = ("pre", "during", "end", "after_1h")
    fill_items(page, {f"{item}__{time}": value for time in times for item, value in vitals.items()})
    screenshot("infusion-vitals")
    save_form(page)
    expect(flash(page)).to_contain_text("Vital signs around the MSC infusion at D0 saved: 24 values changed")
    expect(visit_row(page, "D0")).to_contain_text("Done")
    screenshot("subject-page")
    page.get_by_role("navigation").get_by_role("link", name="Subjects").click()
    listed = page.locator("table.list tbody tr")
    expect(listed).to_have_count(1)
    expect(listed.locator("td")).to_have_text(["NJDT-001", "NJDT-S0001", "NJDT", "In follow-up", today, today])
    screenshot("subject-list")

    # 7a. Month 1 (as the coordinator again): the mRSS body grid, the total follows the clicks.
    log_out(page)
    log_in(page, base, "coordinator")
    page.goto(subject_url)
    open_form(page, "M1", "mRSS")
    total = page.locator("#mrss-total")
    expect(total).to_have_text("0 (0 of 17 areas scored)")
    running, scored = 0, 0
    for code, score in MRSS_M1.items():
        click_answer(page, code, score)
        running, scored = running + score, scored + 1
        if scored in (1, 2, 9):
            expect(total).to_have_text(f"{running} ({scored} of 17 areas scored)")
    expect(total).to_have_text(str(MRSS_M1_TOTAL))
    click_answer(page, "mrss_face", 3)  # a change of mind is counted too
    expect(total).to_have_text(str(MRSS_M1_TOTAL + 2))
    click_answer(page, "mrss_face", 1)
    expect(total).to_have_text(str(MRSS_M1_TOTAL))
    screenshot("mrss-grid")
    page.get_by_label("Visit date").fill(today)
    save_form(page)
    # on the infusion day Month 1 is before its window: the core's rule visit_window asks for a confirmation
    expect(page.locator(".msg.error")).to_contain_text("[visit_window] Month 1 on " + today)
    page.locator('input[name="confirm"][value="visit_window"]').check()
    save_form(page)
    # 17 areas changed; the total is computed, not entered.
    expect(flash(page)).to_contain_text("Modified Rodnan skin score at M1 saved: 17 values changed")
    # the visit took place, but its SF-36 and SSc-HAQ are still to enter: not "Done" (issue 15)
    expect(visit_row(page, "M1")).to_contain_text("Data incomplete")

    # 7b. The SF-36 (version 1): after saving, the scores show when the form is opened again.
    open_form(page, "M1", "SF-36")
    page.locator("#v_sf36_form").select_option("v1")
    for code, answer in SF36_V1.items():
        click_answer(page, code, answer)
    save_form(page)
    expect(flash(page)).to_contain_text("SF-36 health survey at M1 saved")
    open_form(page, "M1", "SF-36")
    computed = page.locator("section.computed")
    expect(computed).to_be_visible()
    expect(computed.locator("tr").filter(has_text="physical functioning").locator("td.num")).to_have_text(SF36_PF)
    expect(computed.locator("tr").filter(has_text="role-physical").locator("td.num")).to_have_text(SF36_RP)
    expect(page.locator('input[name="v_sf36_q3a"][value="1"]')).to_be_checked()

    # 8. Change a saved mRSS area: refused without a reason (the error names it), saved with one.
    page.goto(subject_url)
    open_form(page, "M1", "mRSS")
    expect(total).to_have_text(str(MRSS_M1_TOTAL))
    click_answer(page, "mrss_hand_l", 2)
    expect(total).to_have_text(str(MRSS_M1_TOTAL - 1))
    save_form(page)
    error = page.locator(".field-error").filter(has_text="reason")
    expect(error).to_have_text("reason: a reason for change is required when a saved value is changed")
    expect(page.get_by_label("Reason for change")).to_have_class("has-error")
    expect(page.locator('input[name="v_mrss_hand_l"][value="2"]')).to_be_checked()  # what was clicked is kept
    expect(total).to_have_text(str(MRSS_M1_TOTAL - 1))
    screenshot("form-error")
    page.get_by_label("Reason for change").fill("left hand re-examined: moderate, not severe")
    save_form(page)
    expect(flash(page)).to_contain_text("Modified Rodnan skin score at M1 saved: 1 value changed")

    # The change in the subject's audit trail, and in the audit trail of the form itself: who, old, new, why.
    # Columns: #, when, who, role, action, where, item, old value, new value, reason.
    reason = "left hand re-examined: moderate, not severe"
    label = "mRSS area 9: Hand (dorsum), left"  # the item's label from the protocol (its code, mrss_hand_l, is the cell's title)
    expected = ["coordinator", "coordinator", "record.save", "NJDT-001/M1/mrss", label, "3", "2", reason, "screen"]
    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit trail")
    row = page.locator("table.audit tbody tr").filter(has_text=label).filter(has_text=reason)
    expect(row).to_have_count(1)
    expect(row.locator("td:nth-child(n+3)")).to_have_text(expected)
    page.get_by_role("link", name="NJDT-001").click()
    open_form(page, "M1", "mRSS")
    page.get_by_role("link", name="audit trail of this form").click()
    rows = page.locator("table.audit tbody tr")
    # 17 areas first entered with the record's status, the confirmed visit_window finding, one changed
    expect(rows).to_have_count(17 + 1 + 1 + 1)
    expect(rows.filter(has_text=reason).locator("td:nth-child(n+3)")).to_have_text(expected)
    screenshot("audit")

    # The study page now counts the subject.
    page.get_by_role("navigation").get_by_role("link", name="Study").click()
    expect(page.locator(".card").filter(has_text="Enrolment")).to_contain_text("1 of 20 enrolled")
    by_status = page.locator(".card").filter(has_text="Subjects by status")
    expect(by_status.locator("tr").filter(has_text="In follow-up").locator("td.num")).to_have_text("1")
    screenshot("dashboard")

    # 9. A coordinator of another site gets nothing: not in the list, "Not found" at its address.
    log_out(page)
    log_in(page, base, "coordinator_b")
    page.get_by_role("navigation").get_by_role("link", name="Subjects").click()
    expect(page.locator("table.list")).to_contain_text("SITEB-S0001")
    expect(page.locator("table.list")).not_to_contain_text("NJDT")
    page.goto(subject_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).not_to_contain_text("NJDT-001")
    page.goto(f"{subject_url}audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
