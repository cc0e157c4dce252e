"""The entry screen's fields from the protocol's layouts: body grid rows, answer buttons, partial-date inputs."""

from __future__ import annotations

import re

from rodnan.core.entry import check_form_entry
from rodnan.core.protocol import Study
from rodnan.web.crfs.fields import body_grid_rows, build_fields


def test_body_grid_rows_follow_the_protocols_body_areas(study: Study) -> None:
    form = study.form_by_code["mrss"]
    fields, computed = build_fields(study, form, {})
    rows = body_grid_rows(form, fields)
    assert [(area, right.code if right else None, left.code if left else None) for area, right, left in rows][:4] == [
        ("Face", "mrss_face", None),
        ("Anterior chest", "mrss_chest", None),
        ("Abdomen", "mrss_abdomen", None),
        ("Upper arm", "mrss_upper_arm_r", "mrss_upper_arm_l"),
    ]
    assert len(rows) == 10
    assert {f.widget for f in fields} == {"radio"}  # scores 0-3 as buttons in a body grid
    assert [item.code for item, _ in computed] == ["mrss"]  # the total is computed, not typed


def test_questionnaire_layout_gives_buttons_and_default_layout_does_not(study: Study) -> None:
    sf36, _ = build_fields(study, study.form_by_code["sf36"], {})
    assert {f.code: f.widget for f in sf36}["sf36_q3a"] == "radio"
    organ, _ = build_fields(study, study.form_by_code["organ_function"], {})
    assert {f.widget for f in organ} <= {"number", "boolean", "date", "file"}  # the lab's sample date, its scanned source


def test_partial_date_field_is_a_text_input_with_pattern_and_placeholder(study: Study) -> None:
    form = study.form_by_code["medical_history"]
    entry = check_form_entry(study, form.code, {"mh_start": ("2015-13", None), "mh_end": ("2019", None)})
    fields, _ = build_fields(study, form, {"mh_start": ("2015-13", ""), "mh_end": ("2019", "")}, entry)
    by_code = {f.code: f for f in fields}
    start = by_code["mh_start"]
    assert start.widget == "partial_date"
    assert start.placeholder == "YYYY, YYYY-MM or YYYY-MM-DD"
    pattern = re.compile(f"^(?:{start.pattern})$")  # as the browser applies it
    assert [bool(pattern.match(t)) for t in ("2019", "2019-03", "2019-03-14", "2019-3", "19")] == [True, True, True, False, False]
    assert start.error is not None
    assert start.error.message.startswith("Onset date: must be a date YYYY, YYYY-MM or YYYY-MM-DD")
    assert by_code["mh_end"].error is None
    assert by_code["mh_term"].widget == "text"
    assert by_code["mh_term"].pattern == ""
