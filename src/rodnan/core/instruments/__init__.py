"""Published clinical instruments, one module each, usable by name through :data:`REGISTRY`."""

from __future__ import annotations

from rodnan.core.instruments import body, classification, mrss, renal, sf36
from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score

REGISTRY: dict[str, InstrumentDef] = {
    instrument.code: instrument
    for instrument in (
        mrss.INSTRUMENT,
        sf36.INSTRUMENT,
        *renal.INSTRUMENTS,
        *body.INSTRUMENTS,
        *classification.INSTRUMENTS,
    )
}
"""Every instrument by code."""


def get_instrument(code: str) -> InstrumentDef:
    """The instrument with this code.

    Raises:
        KeyError: no such instrument (the message lists the known ones).
    """
    try:
        return REGISTRY[code]
    except KeyError:
        raise KeyError(f"unknown instrument {code!r} (known: {', '.join(sorted(REGISTRY))})") from None


__all__ = ["REGISTRY", "InputDoc", "InstrumentDef", "Score", "get_instrument"]
