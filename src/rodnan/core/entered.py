"""The value of one item as entered and stored: :class:`EnteredValue`, kept in a record's values as JSON.

Split from :mod:`rodnan.core.entry` (the checks that make these values), which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn, get_args

from rodnan.core.files import FileRef
from rodnan.core.protocol.model import ItemType
from rodnan.errors import InputError

ITEM_TYPES: tuple[ItemType, ...] = get_args(ItemType)
"""Every item type, in the order the protocol format lists them."""


class ReadOnlyDict(dict[str, object]):
    """A dict that refuses changes (a JSON value shared by every record that stores the same answer).

    Still a dict for ``json`` and equality; copy it (``dict(d)``) to change it.
    """

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a stored value is read-only: copy it with dict() to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    source: EnteredValue | None = None
    """The value this dict was made from (:meth:`EnteredValue.as_json`), so reading it back costs nothing."""

    def __reduce__(self) -> tuple[type[dict[str, object]], tuple[dict[str, object]]]:
        return (ReadOnlyDict, (dict(self),))


@dataclass(frozen=True)
class EnteredValue:
    """A valid entered value of one item, as typed and as stored.

    Attributes:
        item: the item code.
        type: the item's type (number, integer, boolean, choice, text, date, partial_date).
        raw: the text as typed (for a number typed with its unit, "0.9 mg/dL", the number: "0.9").
        unit: the unit chosen or typed after the number ("mg/dL"), or None for the item's own unit.
        value: a float in the item's unit for number and integer items, 1.0/0.0 for yes/no, the
            choice code for a choice, the stripped text for text, the ISO date for a date, the ISO
            date at its precision for a partial date ("2019", "2019-03", "2019-03-14").
        display: the value for people ("23 g/L", "yes", "Female", "2026-01-15"); for a missing-data code its
            label and CDISC code ("Not done (ND)").
        converted: True when the value was entered in another unit than the item's.
        missing: the missing-data code the item holds instead of a value ("" for a value); then ``raw`` is ""
            and ``value`` None.
        missing_reason: why, when the code needs a reason ("" otherwise).
        file: for a file item, the attached file's metadata (then ``raw`` is its name, ``value`` its SHA-256).
    """

    item: str
    type: ItemType
    raw: str
    unit: str | None
    value: float | str | None
    display: str
    converted: bool = False
    missing: str = ""
    missing_reason: str = ""
    file: FileRef | None = None

    def as_json(self) -> dict[str, object]:
        """The value as a JSON-ready dict (for storage); :meth:`from_json` reads it back.

        The dict is made once per value and cannot be changed (:class:`ReadOnlyDict`): the entry check
        reuses a value for the same answer to the same item, so a bulk import stores (and encodes) one
        dict for all the "2"s of an mRSS area.
        """
        made = self.__dict__.get("_json")
        if made is None:
            made = ReadOnlyDict(
                item=self.item, type=self.type, raw=self.raw, unit=self.unit, value=self.value, display=self.display,
                converted=self.converted,
            )  # fmt: skip
            if self.missing:  # only then: values stored before missing-data codes keep their exact JSON
                made = ReadOnlyDict(made, missing=self.missing, missing_reason=self.missing_reason)
            if self.file is not None:
                made = ReadOnlyDict(made, file=self.file.as_json())
            made.source = self
            self.__dict__["_json"] = made
        return made

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> EnteredValue:
        """Read back a value stored by :meth:`as_json`.

        Raises:
            InputError: a key is missing or holds the wrong type (the field names the key).
        """
        if isinstance(data, ReadOnlyDict) and data.source is not None:
            return data.source
        item, type_name, raw, display = (_json_str(data, key) for key in ("item", "type", "raw", "display"))
        kind = next((t for t in ITEM_TYPES if t == type_name), None)
        if kind is None:
            raise InputError("type", f"must be one of {', '.join(ITEM_TYPES)}", type_name)
        unit = data.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise InputError("unit", "must be a string or null", unit)
        value = data.get("value")
        stored: float | str | None
        if value is None:
            stored = None
        elif kind in ("number", "integer", "boolean"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError("value", f"must be a number for a {kind} item", value)
            stored = float(value)
        else:
            if not isinstance(value, str):
                raise InputError("value", f"must be a string for a {kind} item", value)
            stored = value
        converted = data.get("converted", False)
        if not isinstance(converted, bool):
            raise InputError("converted", "must be true or false", converted)
        missing, why = data.get("missing", ""), data.get("missing_reason", "")
        if not isinstance(missing, str) or not isinstance(why, str):
            raise InputError("missing", "must be a string (a missing-data code) with a string missing_reason", missing)
        file = data.get("file")
        if file is not None and not isinstance(file, Mapping):
            raise InputError("file", "must be an object (the attached file's metadata)", file)
        ref = FileRef.from_json(file) if file is not None else None
        return cls(item, kind, raw, unit, stored, display, converted, missing, why, ref)


def _json_str(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InputError(key, "must be a string", value)
    return value
