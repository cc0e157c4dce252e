"""Endpoints defined in the protocol file, evaluated on a trial's data (docs/endpoints.md).

:func:`evaluate_endpoints` takes the one data interface (:class:`~rodnan.core.trialdata.TrialData`)
and returns, per subject, the DFS event or censoring, OS, organ remission and the responses at a visit;
the analysis datasets (:mod:`rodnan.core.analysis.datasets`) are derived from that result.
"""

from rodnan.core.endpoints.evaluate import CENSOR_REASONS, FINDINGS, EndpointsResult, evaluate_endpoints
from rodnan.core.endpoints.rules import CompiledEndpoints, compile_endpoints, split_variable

__all__ = [
    "CENSOR_REASONS",
    "FINDINGS",
    "CompiledEndpoints",
    "EndpointsResult",
    "compile_endpoints",
    "evaluate_endpoints",
    "split_variable",
]
