"""The phasor FP path for networks with few diodes: one factorization for the whole batch.

With the diodes replaced by fixed reference conductances ``g_ref`` the
network is linear, ``A = L(g) + U diag(g_ref) Uᵀ`` (``U`` the diodes' node
incidence), and is factored **once** per step. Each diode is then a
two-terminal *port* carrying the rest of its current, ``q(d) = i(d) -
g_ref d``, as in :mod:`physnet.solvers.transient`'s low-rank engine. With
``Z = A⁻¹ U`` (``k`` back-substitutions) and ``C0 = Uᵀ Z`` the DC state of
every sample is exact:

    y = A⁻¹ b,    d + C0 q(d) = Uᵀ y   (SPICE-limited Newton, k unknowns),    v = y - Z q(d),

and so is its small-signal response to the error current ``e`` (Woodbury,
``D = diag(i'(d) - g_ref)``):

    J⁻¹ e = y_e - Z D (I + C0 D)⁻¹ Uᵀ y_e,     y_e = A⁻¹ e.

A batch costs no more back-substitutions than a single sample: by
superposition the states are combinations of the responses to each *source*
(``m`` of them) and the error responses combinations of the responses to
unit currents at the *outputs*, so one step solves ``m + k + n_out``
right-hand sides with the one factor whatever the batch size (or one per
sample when that is fewer), and every edge's coefficients are small dense
products. The ``k × k`` port systems are solved for all samples at once. A
sample whose port Newton fails falls back to :func:`physnet.solve_dc` (GMIN
and source stepping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.constants import thermal_voltage
from physnet.elements.diode import critical_voltage, diode_iv, junction_current, junction_voltages, limit_junction
from physnet.learning.problem import Problem
from physnet.solvers.dc import NewtonOptions, solve_dc
from physnet.solvers.linearize import Linearization
from physnet.solvers.nodal import edge_weights, leaving, nodal_operator, short_values
from physnet.solvers.nodal import injections as source_injections
from physnet.solvers.transient import LOWRANK_MAX_DIODES
from physnet.system import System

__all__ = ["PortNetwork", "port_network", "phasor_coefficients", "superpose", "MAX_PORTS"]

MAX_PORTS = LOWRANK_MAX_DIODES
"""Networks with at most this many diodes take the port path; more diodes use Newton per sample."""


@dataclass(frozen=True, eq=False)
class PortNetwork:
    """A network factored with its diodes as fixed conductances, plus the diode ports.

    Attributes
    ----------
    base : Linearization
        The factored matrix ``A`` (diodes at ``g_ref``).
    a, b : ndarray of int64
        Anode and cathode node of each diode.
    g_ref : ndarray, shape (k,)
        Reference conductance of each diode built into ``A`` (S).
    Z : ndarray, shape (k, n_nodes)
        Rows of ``A⁻¹ U``: node potentials per unit current driven through each port.
    C0 : ndarray, shape (k, k)
        ``Uᵀ A⁻¹ U``: the ports' open-circuit impedance matrix (Ω).
    """

    base: Linearization
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    g_ref: NDArray[np.float64]
    Z: NDArray[np.float64]
    C0: NDArray[np.float64]

    def drops(self, v: NDArray) -> NDArray:
        """Port (diode) voltages of potentials ``v`` (batch, n_nodes) -> (batch, k)."""
        return v[..., self.a] - v[..., self.b]


def port_network(system: System, g_all: NDArray) -> PortNetwork:
    """Factor ``A`` (one numeric factorization) and compute the ports ``Z``, ``C0``.

    Examples
    --------
    A resistor in series with a diode: one port, ``C0`` the resistance seen
    by the diode in parallel with ``1/g_ref``.

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3)
    >>> net.diode("D1", "a", "0")
    >>> ports = port_network(net.compile(), np.array([1e-3]))
    >>> bool(np.isclose(ports.C0[0, 0], 1.0 / (1e-3 + ports.g_ref[0])))
    True
    """
    op = nodal_operator(system, "dc")
    w = edge_weights(system, op, g_all)
    table = system["diode"]
    g_ref = np.full(len(table), _typical_conductance(w)) if len(table) else np.zeros(0)
    w[op.edge_slice("diode")] = g_ref  # any positive value is exact; a typical one keeps A well conditioned
    base = Linearization(system, op, w, op.factorizer.factor(op.matrix_data(w), spd=True))
    units = np.zeros((system.n_nodes, len(table)))
    units[table.a, np.arange(len(table))] += 1.0
    units[table.b, np.arange(len(table))] -= 1.0
    Z = base.respond(units).T if len(table) else units.T
    return PortNetwork(base, table.a, table.b, g_ref, Z, (Z[:, table.a] - Z[:, table.b]).T)


def _typical_conductance(weights: NDArray) -> float:
    """Median of the positive edge weights (1 mS if none): the diodes' reference conductance."""
    positive = weights[weights > 0]
    return float(np.median(positive)) if positive.size else 1e-3


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


def _port_newton(ports: PortNetwork, system: System, o: NDArray,
                 options: NewtonOptions) -> tuple[NDArray, NDArray]:
    """Solve ``d + C0 q(d) = o`` for every sample at once (SPICE junction limiting); returns ``d``, converged."""
    table = system["diode"]
    vt = thermal_voltage(system.temperature)
    shape = o.shape
    is_, n, rs = (np.broadcast_to(table[p], shape) for p in ("is_", "n", "rs"))
    vj = np.array(critical_voltage(is_, n, vt))  # SPICE's MODEINITJCT: every junction starts at vcrit
    d = np.zeros(shape)
    converged = np.zeros(shape[0], dtype=bool)
    eye = np.eye(shape[1])
    for it in range(options.max_iter):
        if it:
            raw = junction_voltages(d, is_, n, rs, vt, options.gmin)
            vj = np.where(converged[:, None], vj, limit_junction(raw, vj, is_, n, vt))
            limited = np.any(vj != raw, axis=1)
        else:
            limited = np.ones(shape[0], dtype=bool)
        cur, gd = junction_current(vj, is_, n, rs, vt, options.gmin)
        slope, offset = gd - ports.g_ref, cur - gd * (vj + rs * cur)  # q(d) ≈ slope d + offset
        new = np.linalg.solve(eye + ports.C0[None] * slope[:, None, :], (o - offset @ ports.C0.T)[..., None])[..., 0]
        step = np.max(np.abs(new - d), axis=1)
        d = np.where(converged[:, None], d, new)
        converged |= ~limited & (step <= options.vntol + options.reltol * np.max(np.abs(new), axis=1))
        if converged.all():
            break
    return d, converged


def _diode_states(ports: PortNetwork, problem: Problem, g_all: NDArray, y: NDArray,
                  options: NewtonOptions) -> tuple[NDArray, NDArray, PortNetwork]:
    """Port currents ``q(d)`` and small-signal conductances ``i'(d)`` (batch, k) at the DC solution.

    Returns the ports too: refactored when a fallback DC solve reused (and so overwrote) the factorization.
    """
    system = problem.system
    d, converged = _port_newton(ports, system, ports.drops(y), options)
    for s in np.flatnonzero(~converged):  # the robust path: GMIN and source stepping
        d[s] = ports.drops(solve_dc(system, g_all, options=options, **problem.sample_inputs(s)).v)
    if not converged.all():
        ports = port_network(system, g_all)
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
    ports = port_network(system, g_all)
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
