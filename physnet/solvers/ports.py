"""Diode ports: a network with few diodes solved for many samples with one factorization.

With the diodes replaced by fixed reference conductances ``g_ref`` the
network is linear, ``A = L(g) + U diag(g_ref) Uᵀ`` (``U`` the diodes' node
incidence), and is factored **once**. Each diode is then a two-terminal
*port* carrying the rest of its current, ``q(d) = i(d) - g_ref d``, as in
:mod:`physnet.solvers.transient`'s low-rank engine. With ``Z = A⁻¹ U``
(``k`` back-substitutions) and ``C0 = Uᵀ Z`` the DC state of every sample
is exact (Woodbury):

    y = A⁻¹ b,    d + C0 q(d) = Uᵀ y   (SPICE-limited Newton, k unknowns),    v = y - Z q(d).

The ``k × k`` port systems of all samples are solved together.
:func:`physnet.solve_dc` takes this path for batches of samples on networks
with at most :data:`MAX_PORTS` diodes; frequency propagation's phasor path
(:mod:`physnet.learning.fp_ports`) builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from physnet.constants import thermal_voltage
from physnet.elements.diode import critical_voltage, junction_current, junction_voltages, limit_junction
from physnet.solvers.linearize import Linearization
from physnet.solvers.nodal import NodalOperator
from physnet.system import System

if TYPE_CHECKING:
    from physnet.solvers.dc import NewtonOptions

__all__ = ["MAX_PORTS", "PortNetwork", "port_network", "port_newton", "reference_conductance"]

MAX_PORTS = 64
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

    Examples
    --------
    A diode behind 1 kΩ: one port; a unit current through it raises its
    anode (node ``a``, index 2) by 1 kΩ ∥ ``1/g_ref`` = 500 Ω:

    >>> import numpy as np, physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3); net.diode("D1", "a", "0")
    >>> system = net.compile(); op = nodal_operator(system)
    >>> ports = port_network(system, op, edge_weights(system, op))
    >>> ports.g_ref.tolist(), ports.Z.round(9).tolist(), ports.drops(np.array([0.0, 1.0, 0.6])).tolist()
    ([0.001], [[0.0, 0.0, 500.0]], [0.6])
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


def port_network(system: System, op: NodalOperator, weights: NDArray) -> PortNetwork:
    """Factor ``A`` (one numeric factorization on ``op``) and compute the ports ``Z``, ``C0``.

    Parameters
    ----------
    system : System
    op : NodalOperator
        The system's DC operator (:func:`physnet.solvers.nodal.nodal_operator`).
    weights : ndarray
        Linear edge weights in pattern order (:func:`physnet.solvers.nodal.edge_weights`;
        the diodes' entries are replaced by ``g_ref``).

    Examples
    --------
    A resistor in series with a diode: one port, ``C0`` the resistance seen
    by the diode in parallel with ``1/g_ref``.

    >>> import physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3)
    >>> net.diode("D1", "a", "0")
    >>> system = net.compile()
    >>> op = nodal_operator(system)
    >>> ports = port_network(system, op, edge_weights(system, op))
    >>> bool(np.isclose(ports.C0[0, 0], 1.0 / (1e-3 + ports.g_ref[0])))
    True
    """
    w = np.array(weights, dtype=np.float64)
    table = system["diode"]
    g_ref = reference_conductance(w, len(table))
    w[op.edge_slice("diode")] = g_ref
    base = Linearization(system, op, w, op.factorizer.factor(op.matrix_data(w), spd=bool(np.all(w[w != 0] > 0))))
    units = np.zeros((system.n_nodes, len(table)))
    units[table.a, np.arange(len(table))] += 1.0
    units[table.b, np.arange(len(table))] -= 1.0
    Z = base.respond(units).T if len(table) else units.T
    return PortNetwork(base, table.a, table.b, g_ref, Z, (Z[:, table.a] - Z[:, table.b]).T)


def reference_conductance(weights: NDArray, n_diodes: int) -> NDArray[np.float64]:
    """Conductance (S) built into the linear part for each diode: the median linear edge conductance.

    Any positive value gives the exact answer (the ports carry the rest of
    each diode's current); a typical one keeps the matrices well
    conditioned.

    Examples
    --------
    >>> reference_conductance(np.array([1e-3, 0.0, 3e-3, 2e-3]), 2).tolist()
    [0.002, 0.002]
    """
    positive = weights[weights > 0]
    return np.full(n_diodes, float(np.median(positive)) if positive.size else 1e-3)


def port_newton(ports: PortNetwork, system: System, o: NDArray, options: NewtonOptions,
                start: NDArray | None = None) -> tuple[NDArray, NDArray, NDArray]:
    """Solve ``d + C0 q(d) = o`` for every sample (rows of ``o``, shape (batch, k)) at once.

    SPICE's Newton: each junction is linearised at a limited junction
    voltage (``pnjlim``); a sample has converged when no junction was
    limited and its step is within ``vntol + reltol * max|d|``.

    Parameters
    ----------
    ports : PortNetwork
    system : System
    o : ndarray, shape (batch, k)
        Open-circuit port voltages ``Uᵀ y``.
    options : NewtonOptions
        Tolerances, ``gmin`` and ``max_iter``.
    start : ndarray, shape (batch, k), optional
        Port voltages to start from (a previous solution); by default every
        junction starts at its critical voltage (SPICE's ``MODEINITJCT``).

    Returns
    -------
    d : ndarray, shape (batch, k)
        Port voltages.
    converged : ndarray of bool, shape (batch,)
    iterations : ndarray of int, shape (batch,)
        Newton iterations each sample took (``max_iter`` if it did not converge).

    Examples
    --------
    A diode behind 1 kΩ, driven by 1 V and by 5 V: with the diode at
    ``g_ref`` = 1 mS the open-circuit port voltages are half the source's.
    Both samples at once, as :func:`physnet.solve_dc` finds them:

    >>> import numpy as np, physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3); net.diode("D1", "a", "0")
    >>> system = net.compile(); op = nodal_operator(system)
    >>> ports = port_network(system, op, edge_weights(system, op))
    >>> d, converged, _ = port_newton(ports, system, np.array([[0.5], [2.5]]), pn.NewtonOptions())
    >>> converged.tolist(), bool(np.allclose(d[:, 0], pn.solve_dc(net, v_sources=[[1.0], [5.0]])["a"], rtol=1e-9))
    ([True, True], True)
    """
    table = system["diode"]
    vt = thermal_voltage(system.temperature)
    shape = o.shape
    is_, n, rs = (np.broadcast_to(table[p], shape) for p in ("is_", "n", "rs"))
    if start is None:
        vj = np.array(critical_voltage(is_, n, vt))
        d = np.zeros(shape)
    else:
        d = np.array(start, dtype=np.float64)
        vj = junction_voltages(d, is_, n, rs, vt, options.gmin)
    converged = np.zeros(shape[0], dtype=bool)
    iterations = np.full(shape[0], options.max_iter)
    eye = np.eye(shape[1])
    for it in range(options.max_iter):
        if it:
            raw = junction_voltages(d, is_, n, rs, vt, options.gmin)
            vj = np.where(converged[:, None], vj, limit_junction(raw, vj, is_, n, vt))
            limited = np.any(vj != raw, axis=1)
        else:
            limited = np.full(shape[0], start is None)
        cur, gd = junction_current(vj, is_, n, rs, vt, options.gmin)
        slope, offset = gd - ports.g_ref, cur - gd * (vj + rs * cur)  # q(d) ≈ slope d + offset
        new = np.linalg.solve(eye + ports.C0[None] * slope[:, None, :], (o - offset @ ports.C0.T)[..., None])[..., 0]
        step = np.max(np.abs(new - d), axis=1, initial=0.0)
        d = np.where(converged[:, None], d, new)
        done = ~converged & ~limited & (step <= options.vntol + options.reltol * np.max(np.abs(new), axis=1,
                                                                                          initial=0.0))
        iterations[done] = it + 1
        converged |= done
        if converged.all():
            break
    return d, converged, iterations
