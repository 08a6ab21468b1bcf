"""Gradients of a cost with respect to conductances: exact and estimated.

``dC/dg_j`` for every trainable resistor ``j`` (siemens⁻¹·cost units),
averaged over the samples of a :class:`~physnet.learning.problem.Problem`.

* ``"adjoint"`` — exact: with the Jacobian ``J`` at the free state and
  ``λ = J⁻¹ ∂C/∂v``, ``dC/dg_j = -Δλ_j ΔV_j`` (one extra solve per sample,
  reusing the Newton pattern and symbolic factorization).
* ``"fd"`` — central finite differences in ``g_j`` (two DC solves per edge;
  for tests).
* ``"fp"`` — frequency propagation (see :mod:`physnet.learning.fp`).
* ``"ep"`` / ``"ep-centered"`` — equilibrium propagation: a nudged phase
  with error current ``-β ∂C/∂v_out``; ``[(ΔV^β)² - (ΔV^0)²] / (2β)``
  (bias ``O(β)``) or ``[(ΔV^β)² - (ΔV^{-β})²] / (4β)`` (bias ``O(β²)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physnet.constants import GMIN
from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.problem import Problem, make_problem
from physnet.netlist import Netlist
from physnet.solvers.dc import NewtonOptions, solve_dc
from physnet.solvers.linearize import Linearization, linearize
from physnet.solvers.nodal import injections as source_injections
from physnet.solvers.nodal import leaving, short_values
from physnet.system import System

__all__ = ["GradientResult", "gradient", "free_states", "operating_point", "small_signal", "central_differences",
           "METHODS"]

METHODS = ("adjoint", "fd", "fp", "ep", "ep-centered")


@dataclass(frozen=True, eq=False)
class GradientResult:
    """A gradient (or gradient estimate) with what it cost to get it.

    Attributes
    ----------
    grad : ndarray, shape (n_trainable,)
        ``dC/dg`` per trainable resistor, mean over samples.
    cost : float
        Mean cost of the free state.
    method : str
    edges : tuple of str
        Trainable resistor names (the order of ``grad``).
    states : ndarray, shape (batch, n_nodes)
        Free-state node potentials.
    info : dict
        Method-specific diagnostics (solves, amplitudes, ...).

    Examples
    --------
    Finite differences on the divider ``v_out = g1 / (g1 + g2) = 0.25`` V (cost ``½ v_out²``):

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> r = pn.gradient(net, outputs=["out"], targets=[0.0], method="fd")
    >>> r.method, r.edges, round(r.cost, 12), r.states.shape, r.info["solves"]
    ('fd', ('R1', 'R2'), 0.03125, (1, 3), 5)
    """

    grad: NDArray[np.float64]
    cost: float
    method: str
    edges: tuple[str, ...]
    states: NDArray[np.float64]
    info: Mapping[str, Any] = field(default_factory=dict)


def free_states(problem: Problem, g_all: NDArray, *, currents: NDArray | None = None,
                initial: NDArray | None = None, options: NewtonOptions = NewtonOptions()) -> NDArray:
    """Node potentials of every sample, shape (batch, n_nodes), with optional extra node ``currents``.

    ``initial`` (batch, n_nodes) warm-starts Newton from earlier states.

    Examples
    --------
    The divider ``v_out = g1 / (g1 + g2) = V1 / 4`` driven at 1 V and 2 V (nodes: ground, in, out):

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [0.0], inputs={"v_sources": [[1.0], [2.0]]})
    >>> np.round(free_states(p, p.conductances()), 12).tolist()
    [[0.0, 1.0, 0.25], [0.0, 2.0, 0.5]]
    """
    if initial is not None and problem.batch == 1:
        initial = initial[0]
    v = solve_dc(problem.system, g_all, v_sources=problem.v_sources, i_sources=problem.i_sources,
                 currents=currents, initial=initial, options=options).v
    return np.broadcast_to(v, (problem.batch, problem.system.n_nodes)).copy()


def operating_point(problem: Problem, g_all: NDArray, *,
                    options: NewtonOptions = NewtonOptions()) -> tuple[NDArray, Linearization | None]:
    """Free states (batch, n_nodes) and, for a linear network, its factorised matrix.

    A linear network is factored **once**: the factor gives the DC
    potentials of every sample (one multi-right-hand-side solve) and is
    returned for :func:`small_signal` to reuse. With diodes the states come
    from Newton (one per sample) and ``None`` is returned: each sample's
    Jacobian differs.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [0.0], inputs={"v_sources": [[1.0], [2.0]]})
    >>> v, lin = operating_point(p, p.conductances())
    >>> np.round(v, 12).tolist(), lin is not None
    ([[0.0, 1.0, 0.25], [0.0, 2.0, 0.5]], True)
    """
    system = problem.system
    if system.has("diode"):
        return free_states(problem, g_all, options=options), None
    lin = linearize(system, np.zeros(system.n_nodes), g_all, gmin=options.gmin)
    op = lin.op
    E = short_values(system, op.reduction, problem.v_sources)
    held = op.reduction.potentials(np.zeros(E.shape[:-1] + (op.reduction.n_free,)), E)  # sources on, free nodes 0
    currents = source_injections(system, problem.i_sources) - leaving(system.n_nodes, op.a, op.b,
                                                                      op.edge_flows(lin.weights, held))
    currents = np.broadcast_to(currents, (problem.batch, system.n_nodes))
    v = np.broadcast_to(held, (problem.batch, system.n_nodes)) + lin.respond(np.ascontiguousarray(currents.T)).T
    return v, lin


def small_signal(problem: Problem, g_all: NDArray, v: NDArray, currents: NDArray,
                 shared: Linearization | None = None, *, gmin: float = GMIN) -> NDArray:
    """Response ``J⁻¹ δi`` of every sample to its node currents, shape (batch, n_nodes).

    A linear network shares one factorization across the batch (multi
    right-hand side): pass the one :func:`operating_point` returned as
    ``shared`` and nothing is refactored. With diodes each sample is
    linearised at its own state (one numeric factorization each), with the
    diodes' ``gmin`` shunt of the DC solve that found ``v``.

    Examples
    --------
    1 A into the divider's output sees ``1/(1 + 3)`` Ω to ground (nodes: ground, in, out):

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [0.0])
    >>> v, lin = operating_point(p, p.conductances())
    >>> np.round(small_signal(p, p.conductances(), v, np.array([[0.0, 0.0, 1.0]]), lin), 12).tolist()
    [[0.0, 0.0, 0.25]]
    """
    if not problem.system.has("diode"):
        lin = shared if shared is not None else linearize(problem.system, v[0], g_all)
        return lin.respond(np.ascontiguousarray(currents.T)).T
    out = np.empty_like(currents)
    for s in range(problem.batch):
        out[s] = linearize(problem.system, v[s], g_all, gmin=gmin).respond(currents[s])
    return out


def _adjoint(problem: Problem, g_all: NDArray, options: NewtonOptions) -> GradientResult:
    v, shared = operating_point(problem, g_all, options=options)
    # λ = J⁻¹ ∂C/∂v, with the Jacobian of the model the DC solve used (its gmin)
    lam = small_signal(problem, g_all, v, -problem.error_currents(v, 1.0), shared, gmin=options.gmin)
    grad = -np.mean(problem.drops(lam) * problem.drops(v), axis=0)
    return GradientResult(grad, float(np.mean(problem.costs(v))), "adjoint", problem.edge_names, v,
                          {"solves": "newton + 1 factorization per sample" if shared is None
                           else "one factorization for the states and the adjoint"})


def central_differences(cost_at: Callable[[NDArray], float], params: NDArray, indices: Sequence[int],
                        relative_step: float) -> NDArray[np.float64]:
    """``dC/dp_j`` for each ``j`` in ``indices`` by central differences with step ``relative_step·|p_j|``.

    Examples
    --------
    >>> import numpy as np
    >>> central_differences(lambda p: float(p @ p), np.array([1.0, 2.0, 3.0]), [0, 2], 1e-6).round(6).tolist()
    [2.0, 6.0]
    """
    grad = np.empty(len(indices))
    for i, j in enumerate(indices):
        h = relative_step * abs(params[j])
        costs = []
        for sign in (1.0, -1.0):
            shifted = np.array(params, dtype=np.float64)
            shifted[j] += sign * h
            costs.append(cost_at(shifted))
        grad[i] = (costs[0] - costs[1]) / (2.0 * h)
    return grad


def _finite_differences(problem: Problem, g_all: NDArray, step: float, options: NewtonOptions) -> GradientResult:
    v = free_states(problem, g_all, options=options)
    grad = central_differences(
        lambda g: float(np.mean(problem.costs(free_states(problem, g, initial=v, options=options)))),
        g_all, problem.trainable, step)
    return GradientResult(grad, float(np.mean(problem.costs(v))), "fd", problem.edge_names, v,
                          {"relative_step": step, "solves": 2 * len(problem.trainable) + 1})


def _equilibrium_propagation(problem: Problem, g_all: NDArray, beta: float, centered: bool,
                             options: NewtonOptions) -> GradientResult:
    v = free_states(problem, g_all, options=options)
    e = problem.error_currents(v, beta)
    # Nudged phases: the error current -β ∂C/∂v_out is evaluated at the free state.
    v_plus = free_states(problem, g_all, currents=e, initial=v, options=options)
    if centered:
        v_minus = free_states(problem, g_all, currents=-e, initial=v, options=options)
        grad = np.mean(problem.drops(v_plus) ** 2 - problem.drops(v_minus) ** 2, axis=0) / (4.0 * beta)
    else:
        grad = np.mean(problem.drops(v_plus) ** 2 - problem.drops(v) ** 2, axis=0) / (2.0 * beta)
    return GradientResult(grad, float(np.mean(problem.costs(v))), "ep-centered" if centered else "ep",
                          problem.edge_names, v, {"beta": beta, "phases": 3 if centered else 2})


def gradient(
    network: System | Netlist,
    g: NDArray | None = None,
    inputs: Mapping[str, NDArray] | None = None,
    outputs: Sequence[str] = (),
    targets=None,
    *,
    method: str = "adjoint",
    cost: Cost = SQUARED_ERROR,
    trainable=None,
    beta: float = 1e-3,
    fd_step: float = 1e-6,
    options: NewtonOptions = NewtonOptions(),
    **fp_options: Any,
) -> GradientResult:
    """``dC/dg`` of a network's cost with respect to its trainable conductances.

    Parameters
    ----------
    network : System or Netlist
    g : ndarray, optional
        Trainable conductances (S); default the netlist's values.
    inputs : mapping, optional
        ``{"v_sources": (batch, n_v), "i_sources": (batch, n_i)}``; default:
        the netlist's own sources.
    outputs : sequence of str
        Output nodes.
    targets : array_like, shape (n_out,) or (batch, n_out)
    method : {"adjoint", "fd", "fp", "ep", "ep-centered"}
    cost : Cost, optional
        Default ``½‖v_out - y‖²``.
    trainable : None, str or array of int, optional
        See :func:`physnet.learning.problem.make_problem`.
    beta : float, optional
        Nudging / error amplitude for FP and EP (A per unit ∂C/∂v).
    fd_step : float, optional
        Relative step of finite differences.
    options : NewtonOptions, optional
    **fp_options
        Passed to :func:`physnet.learning.fp.fp_update` (e.g. ``solver``).

    Returns
    -------
    GradientResult

    Examples
    --------
    A divider ``v_out = g1 / (g1 + g2)``: ``dC/dg1 = (v_out - y) g2 / (g1 + g2)²``.

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> r = pn.gradient(net, outputs=["out"], targets=[0.0])
    >>> np.round(r.grad, 12).tolist()
    [0.046875, -0.015625]
    """
    problem = make_problem(network, outputs, targets, inputs=inputs, trainable=trainable, cost=cost)
    g_all = problem.conductances(g)
    if method == "adjoint":
        return _adjoint(problem, g_all, options)
    if method == "fd":
        return _finite_differences(problem, g_all, fd_step, options)
    if method in ("ep", "ep-centered"):
        return _equilibrium_propagation(problem, g_all, beta, method == "ep-centered", options)
    if method == "fp":
        from physnet.learning.fp import fp_estimate

        return fp_estimate(problem, g_all, beta=beta, options=options, **fp_options)
    raise NetlistError(f"unknown gradient method {method!r} (known: {', '.join(METHODS)})")
