"""Kleene's strong three-valued logic, against the truth tables written out by hand."""

from __future__ import annotations

import pytest

from rodnan.core.verdict import Truth, Verdict, all_of, any_of, truth_of

T, F, U = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN

# Kleene (1938) strong logic, K3: the tables as printed in any logic textbook.
AND_TABLE = {
    (T, T): T, (T, U): U, (T, F): F,
    (U, T): U, (U, U): U, (U, F): F,
    (F, T): F, (F, U): F, (F, F): F,
}  # fmt: skip
OR_TABLE = {
    (T, T): T, (T, U): T, (T, F): T,
    (U, T): T, (U, U): U, (U, F): U,
    (F, T): T, (F, U): U, (F, F): F,
}  # fmt: skip


@pytest.mark.parametrize(("pair", "expected"), AND_TABLE.items())
def test_all_of_follows_the_kleene_and_table(pair: tuple[Truth, Truth], expected: Truth) -> None:
    """and: false wins over unknown, unknown over true."""
    assert all_of(pair) is expected


@pytest.mark.parametrize(("pair", "expected"), OR_TABLE.items())
def test_any_of_follows_the_kleene_or_table(pair: tuple[Truth, Truth], expected: Truth) -> None:
    """or: true wins over unknown (unknown or true is true), unknown over false."""
    assert any_of(pair) is expected


def test_not_swaps_true_and_false_and_keeps_unknown() -> None:
    """not unknown is unknown."""
    assert (~T, ~F, ~U) == (F, T, U)


def test_empty_conjunction_is_true_and_empty_disjunction_false() -> None:
    """The identities of and/or."""
    assert all_of([]) is T
    assert any_of([]) is F


def test_truth_of_maps_none_to_unknown_and_verdict_names() -> None:
    """A missing value is unknown; verdict words are met / not_met / unknown."""
    assert truth_of(None) is U
    assert truth_of(True) is T
    assert truth_of(False) is F
    assert (T.verdict, F.verdict, U.verdict) == (Verdict.MET, Verdict.NOT_MET, Verdict.UNKNOWN)
