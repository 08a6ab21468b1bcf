"""The phasor FP path for networks with few diodes: one factorization for the whole batch.

The DC state of every sample comes from the diode ports of
:mod:`physnet.solvers.ports`: ``A`` (diodes at fixed reference conductances
``g_ref``) is factored once, ``y = A⁻¹ b``, the ``k`` port voltages solve
``d + C0 q(d) = Uᵀ y`` and ``v = y - Z q(d)``. The small-signal response to
the error current ``e`` follows from the same factor (Woodbury,
``D = diag(i'(d) - g_ref)``):

    J⁻¹ e = y_e - Z D (I + C0 D)⁻¹ Uᵀ y_e,     y_e = A⁻¹ e.

A batch costs no more back-substitutions than a single sample: by
superposition the states are combinations of the responses to each *source*
(``m`` of them) and the error responses combinations of the responses to
unit currents at the *outputs*, so one step solves ``m + k + n_out``
right-hand sides with the one factor whatever the batch size (or one per
sample when that is fewer), and every edge's coefficients are small dense
products. A sample whose port Newton fails falls back to
:func:`physnet.solve_dc` (GMIN and source stepping).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from physnet.constants import thermal_voltage
from physnet.elements.diode import diode_iv
from physnet.learning.problem import Problem
from physnet.solvers.dc import NewtonOptions, solve_dc
from physnet.solvers.nodal import edge_weights, leaving, nodal_operator, short_values
from physnet.solvers.nodal import injections as source_injections
from physnet.solvers.ports import MAX_PORTS, PortNetwork, port_network, port_newton
from physnet.system import System

__all__ = ["phasor_coefficients", "superpose", "MAX_PORTS"]


def superpose(response: Callable[[NDArray], NDArray], u: NDArray) -> tuple[NDArray, NDArray]:
    """Responses of a linear map to the rows of ``u`` as ``weights @ basis``, with the fewest evaluations.

    ``response`` maps rows of inputs (r, m) to rows of outputs (r, n). With
    more samples than inputs the basis is the response to each unit input
    and the weights are ``u``; otherwise the basis is the samples' own
    responses and the weights the identity.

    Examples
    --------
    >>> calls = []
    >>> def double(rows):
    ...     calls.append(len(rows))
    ...     return 2.0 * np.repeat(rows, 2, axis=1)
    >>> w, basis = superpose(double, np.arange(8.0).reshape(4, 2))
    >>> (w @ basis)[1].tolist(), calls
    ([4.0, 4.0, 6.0, 6.0], [2])
    """
    batch, m = u.shape
    if batch > m:
        return u, response(np.eye(m))
    return np.eye(batch), response(u)


def _ports(system: System, g_all: NDArray) -> PortNetwork:
    """The diode ports of ``system`` with resistor conductances ``g_all`` (one numeric factorization)."""
    op = nodal_operator(system, "dc")
    return port_network(system, op, edge_weights(system, op, g_all))


def _source_values(problem: Problem) -> NDArray:
    """Every sample's source values (batch, n_v + n_i): voltage sources, then current sources."""
    system = problem.system
    columns = []
    for kind, given in (("vsource", problem.v_sources), ("isource", problem.i_sources)):
        values = system[kind]["dc"] if given is None else given
        columns.append(np.broadcast_to(values, (problem.batch, len(system[kind]))))
    return np.hstack(columns)


def _source_response(ports: PortNetwork, system: System, u: NDArray) -> NDArray:
    """Potentials (r, n_nodes) for source values ``u`` (r, n_v + n_i), every diode at ``g_ref``."""
    lin = ports.base
    op, red = lin.op, lin.op.reduction
    n_v = len(system["vsource"])
    E = short_values(system, red, u[:, :n_v])
    held = red.potentials(np.zeros((len(u), red.n_free)), E)  # sources on, free nodes at 0
    currents = source_injections(system, u[:, n_v:]) - leaving(system.n_nodes, op.a, op.b,
                                                                op.edge_flows(lin.weights, held))
    return held + lin.respond(np.ascontiguousarray(currents.T)).T


def _current_response(ports: PortNetwork, nodes: NDArray, n_nodes: int, rows: NDArray) -> NDArray:
    """Potentials (r, n_nodes) for currents ``rows`` (r, len(nodes)) injected at ``nodes``."""
    currents = np.zeros((n_nodes, len(rows)))
    currents[nodes] = rows.T
    return ports.base.respond(currents).T


def _diode_states(ports: PortNetwork, problem: Problem, g_all: NDArray, y: NDArray,
                  options: NewtonOptions) -> tuple[NDArray, NDArray, PortNetwork]:
    """Port currents ``q(d)`` and small-signal conductances ``i'(d)`` (batch, k) at the DC solution.

    Returns the ports too: refactored when a fallback DC solve reused (and so overwrote) the factorization.
    """
    system = problem.system
    d, converged, _ = port_newton(ports, system, ports.drops(y), options)
    for s in np.flatnonzero(~converged):  # the robust path: GMIN and source stepping
        d[s] = ports.drops(solve_dc(system, g_all, options=options, **problem.sample_inputs(s)).v)
    if not converged.all():
        ports = _ports(system, g_all)
    table = system["diode"]
    current, slope = diode_iv(d, table["is_"], table["n"], table["rs"], thermal_voltage(system.temperature),
                              options.gmin)
    return current - ports.g_ref * d, slope, ports


def phasor_coefficients(problem: Problem, g_all: NDArray, beta: float,
                        options: NewtonOptions = NewtonOptions()) -> tuple[NDArray, NDArray, NDArray, dict]:
    """DC states (batch, n_nodes) and small-signal FP coefficients ``ΔV^A``, ``ΔV^B`` (batch, n_trainable).

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=5.0)
    >>> net.resistor("R1", "in", "a", r=2e3)
    >>> net.diode("D1", "a", "0", is_=1e-13)
    >>> problem = make_problem(net, ["a"], [0.0])
    >>> v, dv_a, dv_b, info = phasor_coefficients(problem, np.array([5e-4]), 1e-3)
    >>> bool(np.isclose(v[0, 2], pn.solve_dc(net)["a"], rtol=1e-12, atol=0)), info["back_substitutions"]
    (True, 3)
    """
    system = problem.system
    ports = _ports(system, g_all)
    k = len(ports.a)
    u_w, u_basis = superpose(lambda rows: _source_response(ports, system, rows), _source_values(problem))
    y = u_w @ u_basis
    q = slope = np.zeros((problem.batch, 0))
    if k:
        q, slope, ports = _diode_states(ports, problem, g_all, y, options)
    v = y - q @ ports.Z
    errors = problem.error_currents(v, beta)
    nodes = np.flatnonzero(np.any(errors != 0.0, axis=0))
    e_w, e_basis = superpose(lambda rows: _current_response(ports, nodes, system.n_nodes, rows), errors[:, nodes])
    D = slope - ports.g_ref
    m = np.linalg.solve(np.eye(k) + ports.C0[None] * D[:, None, :], (e_w @ ports.drops(e_basis))[..., None])[..., 0]
    z_drops = problem.drops(ports.Z)  # (k, n_trainable)
    dv_a = u_w @ problem.drops(u_basis) - q @ z_drops
    dv_b = e_w @ problem.drops(e_basis) - (D * m) @ z_drops
    return v, dv_a, dv_b, {"back_substitutions": len(u_basis) + k + len(e_basis), "diode_ports": k}
