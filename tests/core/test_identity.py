"""The identity's rules (rodnan.core.identity): named validation errors, the plan of a save, the commitment."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from rodnan.core.identity import (
    COMMITMENT_ITEM,
    WITHHELD,
    IdentityChange,
    IdentityFields,
    changes_from_json,
    changes_to_json,
    commitment,
    plan_identity,
    validate_identity,
)
from rodnan.errors import InputError

TODAY = dt.date(2026, 12, 8)
SALT = "00" * 16
VALID = {"family_name": "Test-Li", "given_names": "Demo  Wei", "date_of_birth": "1970-05-04",
         "hospital_record_number": " njdt 12345 "}  # fmt: skip


def test_validate_identity_normalises_names_and_record_number():
    """Inner runs of spaces become one; the record number is upper-cased without spaces; the date stays ISO."""
    identity = validate_identity(VALID, TODAY)
    assert identity == IdentityFields("Test-Li", "Demo Wei", "1970-05-04", "NJDT12345")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"family_name": "  "}, "family_name", "is required"),
        ({"date_of_birth": ""}, "date_of_birth", "is required"),
        ({"date_of_birth": "04/05/1970"}, "date_of_birth", "must be a date YYYY-MM-DD"),
        ({"date_of_birth": "2026-12-09"}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth", "cannot be before 1900-01-01"),
        ({"hospital_record_number": ""}, "hospital_record_number", "is required"),
        ({"hospital_record_number": "NJ#12"}, "hospital_record_number", "must hold only letters, digits and . / -"),
        ({"phone": "call me"}, "phone", "must be a phone number"),
        ({"phone": "+86 123"}, "phone", "must be a phone number: 6 to 15 digits"),
        ({"email": "test.patient@"}, "email", "must be an e-mail address"),
        ({"family_name": "x" * 101}, "family_name", "must be at most 100 characters long"),
        ({"given_names": "Wei\nLi"}, "given_names", "must not hold control characters or line breaks"),
        ({"next_of_kin_relation": "spouse"}, "next_of_kin_name", "is required when a relation or phone"),
        ({"next_of_kin_name": "Test-Wang", "next_of_kin_phone": "+86 25 5551 0001"}, "next_of_kin_relation", "is required"),
        ({"next_of_kin_name": "Test-Wang", "next_of_kin_relation": "spouse"}, "next_of_kin_phone", "is required"),
        ({"nickname": "Wei"}, "nickname", "is not a field of the identity"),
    ],
)
def test_validate_identity_names_field_and_rule(change, field, rule):
    """Each broken rule gives an InputError naming the field and the rule."""
    with pytest.raises(InputError) as caught:
        validate_identity({**VALID, **change}, TODAY)
    assert caught.value.field == field
    assert caught.value.rule.startswith(rule)


def test_validation_errors_never_repeat_the_value():
    """An error message may reach a log: it names the field and rule but not the identity value typed."""
    for change in ({"phone": "call Li Wei"}, {"email": "li.wei@nowhere"}, {"hospital_record_number": "LI#WEI"}):
        with pytest.raises(InputError) as caught:
            validate_identity({**VALID, **change}, TODAY)
        assert "wei" not in str(caught.value).lower()


def test_address_keeps_its_line_breaks():
    """The address is the one multi-line field."""
    identity = validate_identity({**VALID, "address": "1 Example Road\nNanjing"}, TODAY)
    assert identity.address == "1 Example Road\nNanjing"


def test_commitment_is_sha256_of_the_documented_text():
    """The module docstring's worked example, recomputed by hand with hashlib."""
    text = "rodnan-identity-change-v1\n" + "0" * 32 + '\n{"items":[["family_name",null,"Test-Li"]],"reason":""}'
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert commitment(SALT, (IdentityChange("family_name", None, "Test-Li"),), "") == expected


def test_commitment_changes_with_values_reason_and_salt():
    """Another value, another reason or another salt gives another commitment."""
    base = commitment(SALT, (IdentityChange("family_name", None, "Test-Li"),), "typo")
    assert base != commitment(SALT, (IdentityChange("family_name", None, "Test-Lu"),), "typo")
    assert base != commitment(SALT, (IdentityChange("family_name", None, "Test-Li"),), "typo fixed")
    assert base != commitment("11" * 16, (IdentityChange("family_name", None, "Test-Li"),), "typo")


def test_plan_of_a_new_identity_masks_every_value_in_the_audit_items():
    """A first save: version 1, one change per field given, the audit items name fields only, then the commitment."""
    plan = plan_identity(None, 0, VALID, "", TODAY, SALT)
    assert (plan.created, plan.version, plan.audit_action) == (True, 1, "identity.create")
    assert [c.field for c in plan.changes] == ["family_name", "given_names", "date_of_birth", "hospital_record_number"]
    assert plan.changes[3] == IdentityChange("hospital_record_number", None, "NJDT12345")
    assert plan.audit_items[:4] == tuple((name, None, WITHHELD) for name in
                                         ("family_name", "given_names", "date_of_birth", "hospital_record_number"))  # fmt: skip
    assert plan.audit_items[4] == (COMMITMENT_ITEM, None, commitment(SALT, plan.changes, ""))
    flat = repr(plan.audit_items)
    assert [needle for needle in ("Test-Li", "1970", "NJDT12345") if needle in flat] == []


def test_plan_of_a_change_needs_a_reason_and_lists_only_what_changed():
    """A saved identity changes only with a reason; unchanged fields are not listed; clearing a field is a change."""
    stored = validate_identity({**VALID, "phone": "+86 25 5550 1000"}, TODAY)
    typed = {**VALID, "family_name": "Test-Lu", "phone": ""}
    with pytest.raises(InputError) as caught:
        plan_identity(stored, 3, typed, "  ", TODAY, SALT)
    assert (caught.value.field, caught.value.rule) == ("reason", "is required to change a saved identity")
    plan = plan_identity(stored, 3, typed, "spelling  on the ID card", TODAY, SALT, expected_version=3)
    assert (plan.created, plan.version, plan.reason) == (False, 4, "spelling on the ID card")
    assert plan.audit_action == "identity.change"
    assert plan.changes == (IdentityChange("family_name", "Test-Li", "Test-Lu"),
                            IdentityChange("phone", "+86 25 5550 1000", None))  # fmt: skip
    assert plan.audit_items[:2] == (("family_name", WITHHELD, WITHHELD), ("phone", WITHHELD, None))


def test_plan_without_changes_is_empty_and_needs_no_reason():
    """Saving the same identity again changes nothing: no reason needed, version kept, nothing to audit."""
    stored = validate_identity(VALID, TODAY)
    plan = plan_identity(stored, 2, VALID, "", TODAY, SALT)
    assert plan.empty
    assert (plan.version, plan.audit_items) == (2, ())


def test_plan_refuses_a_stale_version_and_a_record_number_of_another_subject():
    """The page's version must be the stored one; a record number held by another subject of the site is refused."""
    with pytest.raises(InputError) as stale:
        plan_identity(None, 1, VALID, "", TODAY, SALT, expected_version=0)
    assert stale.value.field == "version"
    with pytest.raises(InputError) as taken:
        plan_identity(None, 0, VALID, "", TODAY, SALT, record_number_taken_by="NJDT-003")
    assert taken.value.field == "hospital_record_number"
    assert taken.value.rule == "is already recorded for subject NJDT-003 at this site"


def test_plan_refuses_a_short_salt():
    """The commitment's salt must be at least 16 bytes of hex, or the values could be guessed from it."""
    with pytest.raises(InputError) as caught:
        plan_identity(None, 0, VALID, "", TODAY, "abcd")
    assert caught.value.field == "salt"


def test_changes_json_round_trip():
    """A history row's JSON text gives back the changes it was written from."""
    changes = (IdentityChange("family_name", "Test-Li", "Test-Lü"), IdentityChange("email", None, "t@example.invalid"))
    assert changes_from_json(changes_to_json(changes)) == changes
