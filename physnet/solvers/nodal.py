"""The prepared nodal operator of a system: reduction, pattern, factorization cache.

Everything here depends only on topology, so it is built once per
``(system.topology, analysis, backend)`` and cached as long as a system of
that topology lives (systems made by ``with_values`` share it).
Parameter-dependent pieces (edge weights, source values, injections) are
plain functions of arrays.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.assembly import Pattern, build_pattern, edge_nodes, scatter
from physnet.errors import NetlistError
from physnet.reduction import Reduction, reduce_sources
from physnet.solvers.linear import Factorizer, default_backend
from physnet.system import System, Topology

__all__ = ["NodalOperator", "nodal_operator", "injections", "leaving", "short_values", "edge_weights"]


@dataclass(frozen=True, eq=False)
class NodalOperator:
    """Topology-only data needed to assemble and factor a system's nodal matrix.

    Attributes
    ----------
    reduction : Reduction
        Voltage-source elimination.
    pattern : Pattern
        Sparsity pattern and edge slots.
    factorizer : Factorizer
        Factorization cache (symbolic analysis reused across calls).
    a, b : ndarray of int64
        Terminal nodes of the stamped edges (pattern order).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> op = nodal_operator(net.compile(), backend="superlu")
    >>> op.a.tolist(), op.b.tolist(), op.edge_slice("resistor"), op.matrix_data(np.array([1.0, 2.0])).tolist()
    ([1, 2], [2, 0], slice(0, 2, None), [1.0, -1.0, -1.0, 3.0])
    """

    reduction: Reduction
    pattern: Pattern
    factorizer: Factorizer
    a: NDArray[np.int64]
    b: NDArray[np.int64]

    def edge_slice(self, kind: str) -> slice:
        """Slice of the edge axis that belongs to ``kind``."""
        start, stop = self.pattern.offsets[kind]
        return slice(start, stop)

    def matrix_data(self, weights: NDArray, shunt: float = 0.0) -> NDArray:
        """Reduced-matrix data for edge ``weights`` plus ``shunt`` siemens from every unknown to ground."""
        data = scatter(self.pattern.slots, weights, self.pattern.nnz)
        if shunt:
            data[self.pattern.diagonal] += shunt
        return data

    def edge_flows(self, weights: NDArray, v: NDArray) -> NDArray:
        """Current ``w (v_a - v_b)`` through every edge (batch axis first if ``v`` has one)."""
        return weights * (v[..., self.a] - v[..., self.b])


_CACHE: "weakref.WeakKeyDictionary[Topology, dict]" = weakref.WeakKeyDictionary()


def nodal_operator(system: System, analysis: str = "dc", backend: str = "auto") -> NodalOperator:
    """The cached :class:`NodalOperator` of ``system``'s topology for ``analysis``.

    Raises
    ------
    FloatingNodeError, SourceLoopError
        From :func:`physnet.reduction.reduce_sources`.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> system = net.compile()
    >>> op = nodal_operator(system)
    >>> op.pattern.n, op is nodal_operator(system.with_values("resistor", g=[2.0, 2.0]))  # cached per topology
    (1, True)
    """
    backend = default_backend() if backend == "auto" else backend
    per_system = _CACHE.setdefault(system.topology, {})
    key = (analysis, backend)
    if key not in per_system:
        reduction = reduce_sources(system, analysis)
        pattern = build_pattern(system, reduction)
        a, b = edge_nodes(system, pattern.kinds)
        factorizer = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
        per_system[key] = NodalOperator(reduction, pattern, factorizer, a, b)
    return per_system[key]


def edge_weights(system: System, op: NodalOperator, g: NDArray | None = None, k: NDArray | None = None) -> NDArray:
    """Linear DC edge weights in pattern order: resistor ``g``, pipe ``k``, 0 for nonlinear edges.

    Call-time values are checked like netlist values: finite, non-zero and of
    the netlist value's sign (a conductance trained to zero or below is an
    error naming the element, not a singular matrix).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "a", "b", r=2.0)
    >>> net.diode("D1", "b", "0")
    >>> system = net.compile()
    >>> edge_weights(system, nodal_operator(system)).tolist()  # the diode's weight comes from its operating point
    [0.5, 0.0]
    >>> edge_weights(system, nodal_operator(system), g=[-1.0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    physnet.errors.NetlistError: resistor 'R1': g = -1.0 is invalid (must be finite and > 0); clip trained ...
    """
    w = np.zeros(op.pattern.n_edges)
    for kind, values in (("resistor", g), ("pipe", k)):
        if kind not in op.pattern.offsets:
            continue
        table = system[kind]
        default = table[_VALUE[kind]]
        if values is None:
            w[op.edge_slice(kind)] = default
            continue
        values = np.asarray(values, dtype=np.float64)
        if values.shape != default.shape:
            raise NetlistError(f"{_VALUE[kind]}: expected {len(default)} {kind} values, got shape {values.shape}")
        bad = ~np.isfinite(values) | (np.sign(values) != np.sign(default))
        if bad.any():
            i = int(np.argmax(bad))
            raise NetlistError(f"{kind} {table.names[i]!r}: {_VALUE[kind]} = {float(values[i])!r} is invalid "
                               f"(must be finite and {'> 0' if default[i] > 0 else '< 0'}); clip trained "
                               "conductances to bounds")
        w[op.edge_slice(kind)] = values
    return w


_VALUE = {"resistor": "g", "pipe": "k"}


def short_values(system: System, reduction: Reduction, v_sources: NDArray | None = None) -> NDArray:
    """Values of the eliminated elements (the columns of ``S``): source voltages, then 0 V per DC inductor.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.reduction import reduce_sources
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=2.0)
    >>> net.inductor("L1", "a", "b", l=1e-3)
    >>> net.resistor("R1", "b", "0", r=1.0)
    >>> system = net.compile()
    >>> red = reduce_sources(system)
    >>> short_values(system, red).tolist(), short_values(system, red, np.array([[1.0], [3.0]])).tolist()
    ([2.0, 0.0], [[1.0, 0.0], [3.0, 0.0]])
    """
    values = np.asarray(system["vsource"]["dc"] if v_sources is None else v_sources)
    n_inductors = len(reduction.shorts) - len(system["vsource"])
    if n_inductors:
        values = np.concatenate([values, np.zeros(values.shape[:-1] + (n_inductors,), values.dtype)], axis=-1)
    return values


def injections(system: System, i_sources: NDArray | None = None) -> NDArray:
    """Current injected into each node by the current sources (batch axis first if given).

    A source ``I a b`` pushes its current out of ``a`` and into ``b``.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.isource("I1", "a", "b", dc=2.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["0", "0"], r=[1.0, 1.0])
    >>> system = net.compile()
    >>> injections(system)[1:].tolist(), injections(system, np.array([[1.0], [3.0]]))[:, 1:].tolist()  # nodes a, b
    ([-2.0, 2.0], [[-1.0, 1.0], [-3.0, 3.0]])
    """
    table = system["isource"]
    values = np.asarray(table["dc"] if i_sources is None else i_sources)
    return -leaving(system.n_nodes, table.a, table.b, values)


def leaving(n_nodes: int, a: NDArray, b: NDArray, flows: NDArray) -> NDArray:
    """Net current leaving each node when ``flows`` run from ``a`` to ``b`` (batch axis first if any).

    Examples
    --------
    >>> import numpy as np
    >>> leaving(3, np.array([1, 2]), np.array([2, 0]), np.array([1.0, 0.5])).tolist()  # 1 A 1->2, 0.5 A 2->0
    [-0.5, 1.0, -0.5]
    """
    flows = np.asarray(flows)
    if flows.ndim > 1:
        return np.stack([leaving(n_nodes, a, b, f) for f in flows])
    if np.iscomplexobj(flows):
        return leaving(n_nodes, a, b, flows.real) + 1j * leaving(n_nodes, a, b, flows.imag)
    return np.bincount(a, flows, n_nodes) - np.bincount(b, flows, n_nodes)
