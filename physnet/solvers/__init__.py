"""Solvers: DC (Newton), small-signal phasor (AC), harmonic balance, transient, lock-in, elastic.

Each solver is a function ``solve_*(network, ...) -> *Result`` over a
compiled :class:`physnet.System`; results carry ``converged``,
``iterations``, ``residual`` and a message. The factorization cache and the
frequency planner live in :mod:`physnet.solvers.linear` and
:mod:`physnet.solvers.planner`.
"""

from physnet.solvers.dc import DCResult, NewtonOptions, solve_dc
from physnet.solvers.elastic import ElasticResult, solve_elastic
from physnet.solvers.harmonic_balance import HBOptions, HBResult, solve_hb
from physnet.solvers.lockin import lockin
from physnet.solvers.phasor import ACResult, solve_ac
from physnet.solvers.transient import NoiseSpec, TransientResult, solve_transient

__all__ = [
    "solve_dc",
    "DCResult",
    "NewtonOptions",
    "solve_ac",
    "ACResult",
    "solve_hb",
    "HBResult",
    "HBOptions",
    "solve_transient",
    "TransientResult",
    "NoiseSpec",
    "lockin",
    "solve_elastic",
    "ElasticResult",
]
