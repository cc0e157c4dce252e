"""Building blocks shared by every protocol model: the frozen base and the code types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
"""An identifier usable in expressions: lower case letters, digits and underscores."""

VisitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=20)]


class Frozen(BaseModel):
    """Base of every protocol model: immutable, and unknown keys are an error (catches typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class QuantityDef(Frozen):
    """A number with a UCUM unit."""

    value: float
    unit: str

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"
