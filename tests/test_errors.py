"""Errors survive pickling (worker processes send them back to the parent) with their fields."""

from __future__ import annotations

import pickle

from rodnan.errors import ExpressionError, InputError, ProtocolError, ProtocolProblem, UnitError


def test_errors_round_trip_through_pickle() -> None:
    """Field, rule, value, message and problems come back unchanged, and so does the text."""
    errors = [
        InputError("albumin", "must be a number", "low"),
        UnitError("unit", "must be a valid UCUM unit", "foo"),
        ExpressionError("albumin <", "unexpected end of expression", 9),
        ProtocolError("p.yaml", [ProtocolProblem(("identity", "target_enrolment"), "must be an integer", 22)]),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
    assert pickle.loads(pickle.dumps(errors[0])).field == "albumin"
