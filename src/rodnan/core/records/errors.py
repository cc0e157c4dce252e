"""The named refusals of the write path's plans."""

from __future__ import annotations

from rodnan.core.entry import FormEntryResult
from rodnan.errors import InputError


class EntryRejectedError(InputError):
    """A form's entries have errors or unconfirmed warnings, or break a rule of the action; ``entry`` holds them all."""

    def __init__(self, entry: FormEntryResult, field: str = "", rule: str = "") -> None:
        first = next(iter(entry.errors.values()), None) or next(iter(entry.warnings.values()), None)
        super().__init__(field or (first.item if first else "form"), rule or (first.rule if first else "invalid"), None)
        self.entry = entry


class StaleError(InputError):
    """The subject or record changed since the page (or the request) was prepared: optimistic locking."""
