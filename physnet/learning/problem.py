"""A supervised problem on a network: which conductances train, inputs, outputs, targets.

Every learning rule (adjoint, finite differences, FP, EP, ...) sees the same
:class:`Problem`, so their gradient estimates are comparable edge for edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.netlist import Netlist
from physnet.system import System

__all__ = ["Problem", "make_problem"]


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything a learning rule needs besides the conductances.

    Attributes
    ----------
    system : System
    trainable : ndarray of int64
        Indices of the trainable resistors in ``system["resistor"]``.
    outputs : ndarray of int64
        Output node indices.
    targets : ndarray, shape (batch, n_out)
        Target potentials (V).
    v_sources, i_sources : ndarray, shape (batch, n) or None
        Input values of the voltage / current sources per sample (``None``:
        the netlist's own DC values).
    cost : Cost
        Cost of the output potentials.

    Examples
    --------
    The divider at its free state ``v = (0, 1, 0.25)`` V (nodes: ground, in, out):

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p, v = make_problem(net, ["out"], [0.0]), np.array([[0.0, 1.0, 0.25]])
    >>> p.drops(v).tolist(), p.costs(v).tolist(), p.error_currents(v, 0.1).tolist()
    ([[0.75, 0.25]], [0.03125], [[0.0, 0.0, -0.025]])
    """

    system: System
    trainable: NDArray[np.int64]
    outputs: NDArray[np.int64]
    targets: NDArray[np.float64]
    v_sources: NDArray[np.float64] | None
    i_sources: NDArray[np.float64] | None
    cost: Cost

    @property
    def batch(self) -> int:
        """Number of samples."""
        return self.targets.shape[0]

    @cached_property
    def edge_names(self) -> tuple[str, ...]:
        """Names of the trainable resistors."""
        names = self.system["resistor"].names
        pick = itemgetter(*self.trainable.tolist())
        return pick(names) if len(self.trainable) > 1 else (pick(names),)

    def conductances(self, g: ArrayLike | None = None) -> NDArray[np.float64]:
        """Every resistor's conductance (S): the system's values with the trainable ones set to ``g``.

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.vsource("V1", "in", "0", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
        >>> problem = make_problem(net, ["out"], [0.0], trainable="R2")
        >>> problem.conductances([5.0]).tolist(), problem.conductances().tolist()
        ([1.0, 5.0], [1.0, 3.0])
        """
        g_all = np.array(self.system["resistor"]["g"], dtype=np.float64)
        if g is not None:
            g = np.asarray(g, dtype=np.float64)
            if g.shape != self.trainable.shape:
                raise NetlistError(f"g: expected {len(self.trainable)} trainable conductances, got shape {g.shape}")
            g_all[self.trainable] = g
        return g_all

    def sample_inputs(self, s: int) -> dict[str, NDArray | None]:
        """Source values of sample ``s`` as keyword arguments of :func:`physnet.solve_dc`."""
        return {"v_sources": None if self.v_sources is None else self.v_sources[s],
                "i_sources": None if self.i_sources is None else self.i_sources[s]}

    def drops(self, v: NDArray) -> NDArray:
        """Voltage drop ``v(a) - v(b)`` across each trainable resistor (batch axis first if any)."""
        a, b = self._terminals
        return v[..., a] - v[..., b]

    @cached_property
    def _terminals(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Nodes ``a`` and ``b`` of each trainable resistor, looked up once per problem."""
        table = self.system["resistor"]
        return table.a[self.trainable], table.b[self.trainable]

    def error_currents(self, v: NDArray, beta: float) -> NDArray:
        """Node currents ``e = -β ∂C/∂v_out`` injected at the outputs, for states ``v`` (batch, n_nodes)."""
        grad = self.cost.grad(v[:, self.outputs], self.targets)
        e = np.zeros_like(v)
        for k, node in enumerate(self.outputs):  # repeated outputs add up
            e[:, node] -= beta * grad[:, k]
        return e

    def costs(self, v: NDArray) -> NDArray:
        """Cost of each sample for free-state potentials ``v`` (batch, n_nodes)."""
        return self.cost.value(v[..., self.outputs], self.targets)


@lru_cache(maxsize=8)
def _prefixed(system: System, prefix: str) -> NDArray[np.int64]:
    # Training loops rebuild problems every step: scan 10⁵ names once per system.
    index = np.flatnonzero([n.startswith(prefix) for n in system["resistor"].names])
    index.flags.writeable = False
    return index


def _trainable(system: System, trainable) -> NDArray[np.int64]:
    names = system["resistor"].names
    if trainable is None:
        index = np.arange(len(names))
    elif isinstance(trainable, str):
        index = _prefixed(system, trainable)
    else:
        index = np.asarray(trainable, dtype=np.int64)
    if index.size == 0:
        raise NetlistError(f"no trainable resistors (trainable={trainable!r}; the network has {len(names)} resistors)")
    if index.min() < 0 or index.max() >= len(names):
        raise NetlistError(f"trainable index out of range 0..{len(names) - 1}")
    return index


def _batched(values, width: int, what: str) -> NDArray[np.float64] | None:
    if values is None:
        return None
    arr = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if arr.shape[-1] != width:
        raise NetlistError(f"{what}: expected {width} values per sample, got {arr.shape[-1]}")
    return arr


def make_problem(
    network: System | Netlist,
    outputs: Sequence[str],
    targets,
    *,
    inputs: Mapping[str, NDArray] | None = None,
    trainable=None,
    cost: Cost = SQUARED_ERROR,
) -> Problem:
    """Validate and bundle a supervised problem.

    Parameters
    ----------
    network : System or Netlist
    outputs : sequence of str
        Output node names.
    targets : array_like, shape (n_out,) or (batch, n_out)
        Target potentials.
    inputs : mapping, optional
        ``{"v_sources": ..., "i_sources": ...}`` with one row of source values
        per sample (shape (n,) or (batch, n)); omitted keys keep the
        netlist's DC values.
    trainable : None, str or array of int, optional
        All resistors (None), those whose name starts with a prefix (str),
        or explicit indices.
    cost : Cost, optional
        Default ``½‖v_out - y‖²``.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1.0, 1.0])
    >>> p = make_problem(net, ["out"], [0.3])
    >>> p.batch, p.edge_names
    (1, ('R1', 'R2'))
    """
    system = network.compile() if isinstance(network, Netlist) else network
    inputs = dict(inputs or {})
    unknown = set(inputs) - {"v_sources", "i_sources"}
    if unknown:
        raise NetlistError(f"unknown input key {sorted(unknown)[0]!r} (allowed: v_sources, i_sources)")
    v_in = _batched(inputs.get("v_sources"), len(system["vsource"]), "v_sources")
    i_in = _batched(inputs.get("i_sources"), len(system["isource"]), "i_sources")
    out = system.node_indices(outputs)
    y = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    if y.shape[-1] != len(out):
        raise NetlistError(f"targets: expected {len(out)} values per sample (one per output), got {y.shape[-1]}")
    batch = max(len(a) for a in (y, v_in, i_in) if a is not None)
    for what, arr in (("targets", y), ("v_sources", v_in), ("i_sources", i_in)):
        if arr is not None and len(arr) not in (1, batch):
            raise NetlistError(f"{what}: {len(arr)} samples, but other inputs have {batch}")
    y = np.broadcast_to(y, (batch, len(out)))
    v_in = None if v_in is None else np.broadcast_to(v_in, (batch, v_in.shape[1]))
    i_in = None if i_in is None else np.broadcast_to(i_in, (batch, i_in.shape[1]))
    return Problem(system, _trainable(system, trainable), out, y, v_in, i_in, cost)
