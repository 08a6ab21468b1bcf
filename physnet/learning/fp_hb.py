"""Frequency propagation by harmonic balance: both tones in one periodic steady state.

For every sample the network is solved by
:func:`physnet.solvers.harmonic_balance.solve_hb` at base ``f0`` with the
activation (the sources' values, at harmonic ``p``: DC when ``p = 0``) and
the error current ``e cos(2π f_B t)`` injected at the outputs at harmonic
``q`` (its ``injections=``). Each trainable edge's coefficients are the
in-phase parts of its drop's phasors at ``p`` and ``q``. The error ``e =
-β ∂C/∂v_out`` is set from the activation-only state: the DC operating point
(Newton, all samples at once) or, for ``f_A > 0``, an activation-only
harmonic-balance solve that also warm-starts the two-tone one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from physnet.learning.fp_tones import FPTones
from physnet.learning.gradient import free_states
from physnet.learning.problem import Problem
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.harmonic_balance import HBOptions, HBResult, solve_hb

__all__ = ["hb_coefficients", "activation_phasors", "sample_sources"]


def activation_phasors(values: NDArray, harmonic: int, n_harmonics: int) -> NDArray[np.complex128]:
    """Source phasors (K+1, n_sources): ``values`` at DC (``harmonic = 0``) or as ``values cos(k ω0 t)``.

    Examples
    --------
    >>> activation_phasors(np.array([1.0, -2.0]), 1, 2)
    array([[ 0.+0.j,  0.+0.j],
           [ 1.+0.j, -2.+0.j],
           [ 0.+0.j,  0.+0.j]])
    """
    out = np.zeros((n_harmonics + 1, len(values)), dtype=np.complex128)
    out[harmonic] = values
    return out


def sample_sources(problem: Problem, s: int) -> tuple[NDArray, NDArray]:
    """Voltage- and current-source values of sample ``s``: its inputs, else the netlist's DC values.

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> problem = make_problem(net, ["a"], [[0.0], [0.0]], inputs={"v_sources": [[2.0], [3.0]]})
    >>> sample_sources(problem, 1)
    (array([3.]), array([], dtype=float64))
    """
    given = problem.sample_inputs(s)
    system = problem.system
    v = system["vsource"]["dc"] if given["v_sources"] is None else given["v_sources"]
    i = system["isource"]["dc"] if given["i_sources"] is None else given["i_sources"]
    return np.asarray(v, dtype=np.float64), np.asarray(i, dtype=np.float64)


def _solve(problem: Problem, g_all: NDArray, s: int, tones: FPTones, K: int, hb_options: HBOptions,
           injections: NDArray | None = None, initial: HBResult | NDArray | None = None) -> HBResult:
    v_src, i_src = sample_sources(problem, s)
    p = tones.base.p
    return solve_hb(problem.system, tones.base.f0, K, g=g_all, v_sources=activation_phasors(v_src, p, K),
                    i_sources=activation_phasors(i_src, p, K), injections=injections, initial=initial,
                    options=hb_options)


def hb_coefficients(problem: Problem, g_all: NDArray, beta: float, tones: FPTones, n_harmonics: int,
                    options: NewtonOptions, hb_options: HBOptions) -> tuple[NDArray, NDArray, NDArray, dict]:
    """Activation states and per-edge coefficients ``(v, ΔV^A, ΔV^B, info)`` by harmonic balance.

    ``v`` (batch, n_nodes) holds the activation-only node coefficients the
    cost is evaluated on; ``ΔV^A``, ``ΔV^B`` are (batch, n_trainable).

    Examples
    --------
    A DC activation and the default error tone on the divider ``v_out = g1 / (g1 + g2)``:
    ``ΔV^A ΔV^B / β`` is the exact gradient of a linear network.

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.fp_tones import fp_tones
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> v, dv_a, dv_b, info = hb_coefficients(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), 1e-2,
    ...                                       fp_tones(), 1, pn.NewtonOptions(), pn.HBOptions())
    >>> np.round(dv_a * dv_b / 1e-2, 12).tolist(), info["n_harmonics"]
    ([[0.046875, -0.015625]], 1)
    """
    p, q = tones.base.p, tones.base.q
    if p == 0:
        v = free_states(problem, g_all, options=options)
        starts: list = [row[None, :] for row in v]  # HB starts from the known DC point
    else:
        free = [_solve(problem, g_all, s, tones, n_harmonics, hb_options) for s in range(problem.batch)]
        v = np.stack([r.V[p].real for r in free])
        starts = free
    errors = problem.error_currents(v, beta)
    dv_a = np.empty((problem.batch, len(problem.trainable)))
    dv_b = np.empty_like(dv_a)
    iterations = 0
    for s in range(problem.batch):
        injections = np.zeros((n_harmonics + 1, problem.system.n_nodes), dtype=np.complex128)
        injections[q] = errors[s]
        hb = _solve(problem, g_all, s, tones, n_harmonics, hb_options, injections, starts[s])
        drops = problem.drops(hb.V)  # (K+1, n_trainable) phasors
        dv_a[s], dv_b[s] = drops[p].real, drops[q].real
        iterations += hb.iterations
    return v, dv_a, dv_b, {"n_harmonics": n_harmonics, "hb_iterations": iterations}
