"""The small-signal (linearised) network at an operating point.

At a DC operating point ``v`` the network responds to small extra node
currents ``δi`` with ``δv = J⁻¹ δi`` where ``J = L(g) + diag(i_d'(v))`` is
the Newton Jacobian, with every voltage source held (shorted for the
increment). This is the operator behind the exact adjoint gradient, the
phasor fast path of frequency propagation at low frequency, and
equilibrium propagation's linear response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.constants import GMIN, thermal_voltage
from physnet.elements.diode import diode_iv
from physnet.solvers.linear import Factor
from physnet.solvers.nodal import NodalOperator, edge_weights, nodal_operator
from physnet.system import System

__all__ = ["Linearization", "linearize"]


@dataclass(frozen=True, eq=False)
class Linearization:
    """Factorised Jacobian of a network at an operating point.

    Attributes
    ----------
    system : System
    op : NodalOperator
        The DC nodal operator (pattern, reduction, factorization cache).
    weights : ndarray
        Small-signal conductance of every stamped edge (S), pattern order.
    factor : Factor
        Numeric factorization of the reduced Jacobian. Valid until the next
        factorization on the same operator (CHOLMOD updates in place).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> lin = linearize(net.compile(), np.array([0.0, 1.0, 0.5]))
    >>> lin.weights.tolist(), np.round(lin.respond(np.array([0.0, 1.0, 1.0])), 12).tolist()  # V1 holds a
    ([1.0, 1.0], [0.0, 0.0, 0.5])
    """

    system: System
    op: NodalOperator
    weights: NDArray[np.float64]
    factor: Factor

    def respond(self, currents: NDArray) -> NDArray:
        """Node potential increments for injected node currents (sources held).

        Parameters
        ----------
        currents : ndarray, shape (n_nodes,) or (n_nodes, k)
            Currents injected into each node (A); columns are independent
            right-hand sides.

        Returns
        -------
        ndarray, same shape as ``currents``
        """
        red = self.op.reduction
        currents = np.asarray(currents, dtype=np.float64)
        rhs = red.restrict(currents.T).T if currents.ndim > 1 else red.restrict(currents)
        x = self.factor.solve(rhs)
        return red.expand(x) if currents.ndim == 1 else red.expand(x.T).T


def linearize(system: System, v: NDArray, g: NDArray | None = None, *, k: NDArray | None = None,
              gmin: float = GMIN, backend: str = "auto") -> Linearization:
    """Factorise the Jacobian of ``system`` at node potentials ``v`` (one numeric factorization).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "a"], ["0", "0"], r=[1.0, 1.0])
    >>> system = net.compile()
    >>> lin = linearize(system, np.zeros(2))
    >>> lin.respond(np.array([0.0, 1.0]))  # 1 A into two 1 Ω in parallel
    array([0. , 0.5])
    """
    op = nodal_operator(system, "dc", backend)
    w = edge_weights(system, op, g, k)
    if system.has("diode"):
        d = system["diode"]
        dsl = op.edge_slice("diode")
        vt = thermal_voltage(system.temperature)
        w[dsl] = diode_iv(v[op.a[dsl]] - v[op.b[dsl]], d["is_"], d["n"], d["rs"], vt, gmin)[1]
    factor = op.factorizer.factor(op.matrix_data(w), spd=bool(np.all(w > 0)))
    return Linearization(system, op, w, factor)
