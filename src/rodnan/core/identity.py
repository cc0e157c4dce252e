"""Who the patient is, kept apart: validating a subject's identity and planning its change (decision 0020).

The rest of rodnan knows a subject only by pseudonymous numbers (screening number, subject ID). The
identity (names, date of birth, hospital record number, contact details, next of kin) lives in a store of
its own that only the site's own staff see. This module holds the rules, pure Python as the rest of the
core: :func:`plan_identity` checks what a coordinator typed (each problem an :class:`~rodnan.errors.InputError`
naming the field and the rule), computes the change against the stored identity, and returns what to write:

- the identity's new fields, and the change with its old and new values for the identity store's own
  append-only history (read only by the same staff roles);
- the entry for the main audit trail, which monitors and data managers read: the changed fields' names
  only, their values withheld, and a commitment (SHA-256 over a random salt, the values and the reason),
  so the history kept in the identity store can be proved unchanged against the keyed chain
  (:func:`commitment`) without the chain carrying a name.

Worked example (the test reuses it): salt ``"00" * 16``, one change ``family_name`` from nothing to
``"Test-Li"``, reason ``""``: the commitment is SHA-256 of the UTF-8 text
``'rodnan-identity-change-v1\\n' + '0000…00' + '\\n' + '{"items":[["family_name",null,"Test-Li"]],"reason":""}'``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields

from rodnan.errors import InputError

COMMITMENT_DOMAIN = "rodnan-identity-change-v1\n"
"""Prefix of every commitment's message (a commitment can never pass for another kind of hash)."""

WITHHELD = "withheld"
"""What the main audit trail shows in place of an identity value (old or new) that is there."""

COMMITMENT_ITEM = "values_sha256"
"""The main-chain item that carries the commitment of an identity change."""

EARLIEST_BIRTH = dt.date(1900, 1, 1)
"""No subject was born before this date (a typing error otherwise)."""

MAX_LENGTHS = {
    "family_name": 100, "given_names": 100, "hospital_record_number": 40, "phone": 30, "email": 254, "address": 500,
    "next_of_kin_name": 200, "next_of_kin_relation": 50, "next_of_kin_phone": 30,
}  # fmt: skip
"""The longest text each field holds (characters)."""

_RECORD_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9./-]*$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class IdentityFields:
    """A subject's identity as stored: every field text ('' when not given), the date of birth ISO (``YYYY-MM-DD``)."""

    family_name: str = ""
    given_names: str = ""
    date_of_birth: str = ""
    hospital_record_number: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    next_of_kin_name: str = ""
    next_of_kin_relation: str = ""
    next_of_kin_phone: str = ""


IDENTITY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(IdentityFields))
"""The identity's fields, in the order the screens show them."""

LABELS = {
    "family_name": "Family name", "given_names": "Given name(s)", "date_of_birth": "Date of birth",
    "hospital_record_number": "Hospital record number", "phone": "Phone", "email": "E-mail", "address": "Address",
    "next_of_kin_name": "Next of kin", "next_of_kin_relation": "Relation to the patient",
    "next_of_kin_phone": "Next of kin's phone",
}  # fmt: skip
"""Each field's label for people."""


@dataclass(frozen=True)
class IdentityChange:
    """One field's change, with its values: kept in the identity store's history only, never in the main trail."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class IdentityPlan:
    """What saving an identity writes.

    Attributes:
        identity: the identity's fields after the save.
        version: the identity's version after the save (1 for a new identity).
        created: True when there was no identity before.
        changes: the fields that change, with old and new values (None: empty), for the identity history.
        reason: the reason for change ('' for a new identity).
        salt: the random salt of the commitment (hex), kept with the history row.
        commitment: :func:`commitment` of ``changes`` and ``reason``.
        audit_action: ``identity.create`` or ``identity.change``.
        audit_items: the main trail's items: (field, ``WITHHELD`` or None, ``WITHHELD`` or None) per change, then
            (``COMMITMENT_ITEM``, None, the commitment).
    """

    identity: IdentityFields
    version: int
    created: bool
    changes: tuple[IdentityChange, ...]
    reason: str
    salt: str
    commitment: str
    audit_action: str
    audit_items: tuple[tuple[str, str | None, str | None], ...]

    @property
    def empty(self) -> bool:
        """True when the save changes nothing (nothing is written, nothing audited)."""
        return not self.changes


def _clean_text(name: str, raw: object) -> str:
    """``raw`` as one line of text: surrounding and repeated spaces removed, control characters refused."""
    text = "" if raw is None else str(raw)
    text = unicodedata.normalize("NFC", text).strip()
    breaks = "\n\r" if name == "address" else ""
    if any(unicodedata.category(c) == "Cc" and c not in breaks for c in text.replace("\t", " ")):
        raise InputError(name, "must not hold control characters or line breaks")
    if name != "address":
        text = " ".join(text.split())
    if len(text) > MAX_LENGTHS.get(name, 100):
        raise InputError(name, f"must be at most {MAX_LENGTHS[name]} characters long", f"{len(text)} characters")
    return text


def _phone(name: str, text: str) -> str:
    if not text:
        return ""
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.match(text) or not 6 <= digits <= 15:
        # the value itself stays out of the message: errors may be logged
        raise InputError(name, "must be a phone number: 6 to 15 digits, optionally with +, spaces, ( ) - . /")
    return text


def validate_identity(raw: Mapping[str, object], today: dt.date) -> IdentityFields:
    """Check and normalise an identity as typed.

    Names and free text are trimmed (inner runs of spaces made one); the hospital record number is upper-cased
    without spaces. Error messages name the field and the rule but never repeat an identity value (they may
    reach a log).

    Args:
        raw: field name -> typed text (missing keys are empty); other keys are refused.
        today: the site's date (a date of birth cannot be after it).

    Returns:
        The identity as it will be stored.

    Raises:
        InputError: naming the first field that breaks a rule, and the rule.
    """
    unknown = sorted(set(raw) - set(IDENTITY_FIELDS))
    if unknown:
        raise InputError(unknown[0], "is not a field of the identity")
    values = {name: _clean_text(name, raw.get(name)) for name in IDENTITY_FIELDS}
    if not values["family_name"]:
        raise InputError("family_name", "is required")
    born_text = values["date_of_birth"]
    if not born_text:
        raise InputError("date_of_birth", "is required")
    try:
        born = dt.date.fromisoformat(born_text)
    except ValueError:
        raise InputError("date_of_birth", "must be a date YYYY-MM-DD") from None
    if born > today:
        raise InputError("date_of_birth", "cannot be in the future")
    if born < EARLIEST_BIRTH:
        raise InputError("date_of_birth", f"cannot be before {EARLIEST_BIRTH.isoformat()}")
    values["date_of_birth"] = born.isoformat()
    number = values["hospital_record_number"].replace(" ", "").upper()
    if not number:
        raise InputError("hospital_record_number", "is required")
    if not _RECORD_NUMBER.match(number):
        raise InputError("hospital_record_number", "must hold only letters, digits and . / - (starting with a letter or digit)")
    values["hospital_record_number"] = number
    values["phone"] = _phone("phone", values["phone"])
    values["next_of_kin_phone"] = _phone("next_of_kin_phone", values["next_of_kin_phone"])
    if values["email"] and not _EMAIL.match(values["email"]):
        raise InputError("email", "must be an e-mail address (name@example.org)")
    kin = values["next_of_kin_name"]
    if not kin and (values["next_of_kin_relation"] or values["next_of_kin_phone"]):
        raise InputError("next_of_kin_name", "is required when a relation or phone of the next of kin is given")
    if kin and not values["next_of_kin_relation"]:
        raise InputError("next_of_kin_relation", "is required when a next of kin is named")
    if kin and not values["next_of_kin_phone"]:
        raise InputError("next_of_kin_phone", "is required when a next of kin is named")
    return IdentityFields(**values)


def canonical_change_text(changes: tuple[IdentityChange, ...], reason: str) -> str:
    """The changes and the reason as the canonical JSON text the commitment covers (keys sorted, no spaces, UTF-8)."""
    body = {"items": [[c.field, c.old, c.new] for c in changes], "reason": reason}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def commitment(salt: str, changes: tuple[IdentityChange, ...], reason: str) -> str:
    """SHA-256 (lowercase hex) of ``COMMITMENT_DOMAIN + salt + "\\n" + canonical_change_text(changes, reason)``.

    The main audit trail carries this instead of the values: the history row that holds the values and the salt
    reproduces it, a changed history row does not, and without the salt (16 random bytes) the values cannot be
    guessed from it (a date of birth alone would be found by trying every date).
    """
    text = COMMITMENT_DOMAIN + salt + "\n" + canonical_change_text(changes, reason)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def changes_from_json(text: str) -> tuple[IdentityChange, ...]:
    """The changes of a history row's stored JSON text (``[{"field", "old", "new"}, ...]``)."""
    return tuple(IdentityChange(str(i["field"]), i.get("old"), i.get("new")) for i in json.loads(text or "[]"))


def changes_to_json(changes: tuple[IdentityChange, ...]) -> str:
    """The changes as a history row stores them (canonical JSON, keys sorted)."""
    items = [{"field": c.field, "old": c.old, "new": c.new} for c in changes]
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def plan_identity(
    stored: IdentityFields | None,
    stored_version: int,
    raw: Mapping[str, object],
    reason: str,
    today: dt.date,
    salt: str,
    expected_version: int | None = None,
    record_number_taken_by: str | None = None,
) -> IdentityPlan:
    """Plan saving a subject's identity: validate, compare with the stored identity, and say what to write.

    Args:
        stored: the identity as stored, or None when the subject has none yet.
        stored_version: its version (0 when none).
        raw: the identity as typed (:func:`validate_identity`).
        reason: the reason for change; required when a saved identity changes.
        today: the site's date.
        salt: a fresh random salt (hex; the caller draws it, e.g. ``secrets.token_hex(16)``).
        expected_version: the version the user's page showed; None skips the check.
        record_number_taken_by: the label of another subject of the same site that already holds the typed
            hospital record number (the caller looks it up), or None.

    Returns:
        An :class:`IdentityPlan` (``empty`` when nothing changes).

    Raises:
        InputError: a field breaks a rule (named), ``reason`` is missing on a change of a saved identity,
            the record number belongs to another subject, or ``version`` is stale.
    """
    if expected_version is not None and expected_version != stored_version:
        raise InputError("version", "the identity was changed by someone else since you opened the page; reload it and try again")
    if not re.fullmatch(r"[0-9a-f]{32,}", salt):
        raise InputError("salt", "must be at least 16 random bytes in lowercase hex")
    identity = validate_identity(raw, today)
    if record_number_taken_by is not None:
        raise InputError("hospital_record_number", f"is already recorded for subject {record_number_taken_by} at this site")
    before = stored or IdentityFields()
    changes = tuple(
        IdentityChange(name, getattr(before, name) or None, getattr(identity, name) or None)
        for name in IDENTITY_FIELDS
        if getattr(before, name) != getattr(identity, name)
    )
    reason = " ".join(str(reason or "").split())
    created = stored is None
    if changes and not created and not reason:
        raise InputError("reason", "is required to change a saved identity")
    if len(reason) > 500:
        raise InputError("reason", "must be at most 500 characters long", f"{len(reason)} characters")
    digest = commitment(salt, changes, reason)
    masked = tuple((c.field, WITHHELD if c.old else None, WITHHELD if c.new else None) for c in changes)
    return IdentityPlan(
        identity=identity, version=stored_version + 1 if changes else stored_version, created=created, changes=changes,
        reason=reason, salt=salt, commitment=digest, audit_action="identity.create" if created else "identity.change",
        audit_items=(*masked, (COMMITMENT_ITEM, None, digest)) if changes else (),
    )  # fmt: skip
