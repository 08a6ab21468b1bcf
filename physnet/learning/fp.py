"""Frequency propagation (Anisetti, Kandala, Scellier, Schwarz 2024).

The activation (the input sources, at ``f_A``; 0 = DC) and an error current
``e = -β ∂C/∂v_out`` at the outputs (at ``f_B``) drive the same network.
Every edge reads the two coefficients of its own voltage drop, ``ΔV^A`` and
``ΔV^B``, and updates its conductance by their product:

    dC/dg_j ≈ ΔV^A_j ΔV^B_j / β,        Δg_j = -(α/β) ΔV^A_j ΔV^B_j.

``solver="phasor"`` (the fast path) computes ``ΔV^B`` as the small-signal
response at the DC operating point: one Newton solve for the activation,
then one extra solve with the Jacobian. It equals the exact adjoint gradient
for every β (the error tone is treated as infinitesimal); the physical,
finite-amplitude experiment (bias ``O(β²)`` in diode networks) is what the
harmonic-balance and transient solvers reproduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.gradient import GradientResult, _full_g, free_states, small_signal
from physnet.learning.problem import Problem, make_problem
from physnet.netlist import Netlist
from physnet.solvers.dc import NewtonOptions
from physnet.system import System

__all__ = ["FPUpdate", "fp_update", "fp_estimate", "SOLVERS"]

SOLVERS = ("phasor",)


@dataclass(frozen=True, eq=False)
class FPUpdate:
    """One frequency-propagation step.

    Attributes
    ----------
    delta_g : ndarray, shape (n_trainable,)
        Conductance update ``-(α/β) ⟨ΔV^A ΔV^B⟩`` (S), mean over samples.
    gradient : GradientResult
        The gradient estimate ``⟨ΔV^A ΔV^B⟩ / β`` with diagnostics.
    dv_a, dv_b : ndarray, shape (batch, n_trainable)
        Activation and error coefficients of each trainable edge's drop (V).
    alpha, beta : float
        Learning rate and error amplitude.
    solver : str
    """

    delta_g: NDArray[np.float64]
    gradient: GradientResult
    dv_a: NDArray[np.float64]
    dv_b: NDArray[np.float64]
    alpha: float
    beta: float
    solver: str


def _phasor(problem: Problem, g_all: NDArray, beta: float, options: NewtonOptions):
    v = free_states(problem, g_all, options=options)
    v_b = small_signal(problem, g_all, v, problem.error_currents(v, beta))
    return v, problem.drops(v), problem.drops(v_b)


def fp_estimate(problem: Problem, g_all: NDArray, *, beta: float = 1e-3, solver: str = "phasor",
                options: NewtonOptions = NewtonOptions()) -> GradientResult:
    """The FP gradient estimate ``⟨ΔV^A ΔV^B⟩ / β`` for a prepared problem."""
    if beta <= 0 or not np.isfinite(beta):
        raise NetlistError(f"beta = {beta!r} must be a finite number > 0")
    if solver not in SOLVERS:
        raise NetlistError(f"unknown FP solver {solver!r} (available: {', '.join(SOLVERS)})")
    v, dv_a, dv_b = _phasor(problem, g_all, beta, options)
    grad = np.mean(dv_a * dv_b, axis=0) / beta
    return GradientResult(grad, float(np.mean(problem.costs(v))), "fp", problem.edge_names, v,
                          {"solver": solver, "beta": beta, "dv_a": dv_a, "dv_b": dv_b})


def fp_update(
    network: System | Netlist,
    g: NDArray | None = None,
    inputs: Mapping[str, NDArray] | None = None,
    outputs: Sequence[str] = (),
    targets=None,
    *,
    alpha: float = 1e-3,
    beta: float = 1e-3,
    solver: str = "phasor",
    cost: Cost = SQUARED_ERROR,
    trainable=None,
    options: NewtonOptions = NewtonOptions(),
) -> FPUpdate:
    """One FP learning step: coefficients per edge and the conductance update.

    Parameters
    ----------
    network : System or Netlist
    g : ndarray, optional
        Trainable conductances (S).
    inputs, outputs, targets, cost, trainable
        As in :func:`physnet.gradient`.
    alpha : float, optional
        Learning rate (S² per unit cost... i.e. ``Δg = -α dC/dg``).
    beta : float, optional
        Error-current amplitude per unit ``∂C/∂v_out`` (A/V for the
        squared error).
    solver : {"phasor"}
        How the coefficients are read (see the module docstring).

    Returns
    -------
    FPUpdate

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> step = pn.fp_update(net, outputs=["out"], targets=[0.0], alpha=0.1, beta=1e-2)
    >>> np.allclose(step.delta_g, -0.1 * pn.gradient(net, outputs=["out"], targets=[0.0]).grad, rtol=1e-12)
    True
    """
    problem = make_problem(network, outputs, targets, inputs=inputs, trainable=trainable, cost=cost)
    estimate = fp_estimate(problem, _full_g(problem, g), beta=beta, solver=solver, options=options)
    return FPUpdate(-alpha * estimate.grad, estimate, estimate.info["dv_a"], estimate.info["dv_b"], alpha, beta,
                    solver)
