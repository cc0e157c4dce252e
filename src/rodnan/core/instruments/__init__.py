"""Published clinical instruments, one module each, usable by name through :data:`REGISTRY`."""

from __future__ import annotations

from rodnan.core.instruments import mrss
from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score

REGISTRY: dict[str, InstrumentDef] = {module.INSTRUMENT.code: module.INSTRUMENT for module in (mrss,)}
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
