"""The protocol's roles the write path needs: which form records the intervention and which items carry its values."""

from __future__ import annotations

from dataclasses import dataclass

from rodnan.core.protocol.model import FormDef, Study


@dataclass(frozen=True)
class InterventionItems:
    """The item codes of the intervention form's roles."""

    date: str
    cells: str
    weight: str
    lot: str
    donor: str


def intervention_form(study: Study) -> FormDef:
    """The form that records the intervention (the MSC infusion)."""
    return study.form_by_code["infusion"]


def intervention_items(study: Study) -> InterventionItems:
    """The items of the intervention form by role."""
    return InterventionItems("infusion_date", "cells_administered", "infusion_weight", "product_lot", "donor_code")


def log_items(form: FormDef) -> tuple[str, str | None] | None:
    """A log form's start and end item codes; None for a scheduled form."""
    log = getattr(form, "log", None)
    if getattr(form, "kind", "scheduled") != "log" or log is None:
        return None
    return str(log.start), (str(log.end) if log.end else None)
