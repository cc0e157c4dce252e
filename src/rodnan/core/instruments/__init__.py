"""Published clinical instruments, one module each, usable by name through :data:`REGISTRY`."""

from __future__ import annotations

from rodnan.core.instruments import acr_criss, body, classification, eustar_ai, haq_di, lung, mrss, renal, sf36
from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score

REGISTRY: dict[str, InstrumentDef] = {
    instrument.code: instrument
    for instrument in (
        mrss.INSTRUMENT,
        sf36.INSTRUMENT,
        haq_di.INSTRUMENT,
        acr_criss.INSTRUMENT,
        eustar_ai.INSTRUMENT,
        *renal.INSTRUMENTS,
        *body.INSTRUMENTS,
        *classification.INSTRUMENTS,
        lung.INSTRUMENT,
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
