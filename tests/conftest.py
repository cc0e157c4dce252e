"""Shared fixtures: the bundled protocol and a candidate who is eligible through one pathway."""

from __future__ import annotations

import pytest
from hypothesis import settings

from rodnan.core.protocol import Study, load_protocol
from tests.candidates import LUNG_ELIGIBLE, NEUTRAL


@pytest.fixture(scope="session")
def study() -> Study:
    """The bundled NCT00962923 protocol."""
    return load_protocol()


@pytest.fixture
def neutral() -> dict[str, object]:
    """A candidate meeting no pathway and no exclusion (a fresh copy per test)."""
    return dict(NEUTRAL)


@pytest.fixture
def lung_eligible() -> dict[str, object]:
    """A candidate eligible through the lung pathway alone (a fresh copy per test)."""
    return dict(LUNG_ELIGIBLE)


# Property tests are derandomised (the same examples on every machine) and have no deadline: the
# first example of a run may build the unit registry, which takes half a second.
settings.register_profile("rodnan", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("rodnan")
