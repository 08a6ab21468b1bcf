"""The compiled, frozen description of a network.

A :class:`System` holds topology (node names, which element touches which
node) and default parameter values as read-only arrays. Physics functions take
a system plus parameter arrays at call time, so one system serves every
training step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.elements.table import ELEMENTS, ElementTable
from physnet.errors import NetlistError

__all__ = ["System", "Analysis", "Topology"]


@dataclass(frozen=True)
class Analysis:
    """An analysis card recorded from a netlist (``.op``, ``.ac``, ``.tran``).

    Parameters
    ----------
    kind : {"op", "dc", "ac", "tran"}
        The analysis.
    args : tuple
        Its arguments as written: ``("dec", 10, 1e3, 1e6)`` for ``.ac``,
        ``(step, stop)`` or ``(step, stop, start)`` for ``.tran``.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> net.analysis("tran", 1e-3, 1.0)
    >>> net.compile().analyses
    (Analysis(kind='tran', args=(0.001, 1.0)),)
    """

    kind: str
    args: tuple = ()


class Topology:
    """Identity of a system's topology, shared by the systems that differ from it only in parameter values.

    Solvers key their topology-only caches (source reduction, sparsity
    pattern, symbolic factorization) on it, so a system made by
    :meth:`System.with_values` reuses the work done for the one it came from.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> system = net.compile()
    >>> system.with_values("resistor", g=2.0).topology is system.topology, net.compile().topology is system.topology
    (True, False)
    """

    __slots__ = ("__weakref__",)


@dataclass(frozen=True, eq=False)
class System:
    """A compiled network: node index plus one element table per kind.

    Build one with :meth:`physnet.Netlist.compile`; do not construct directly.

    Parameters
    ----------
    title : str
        Free text (the first line of a SPICE netlist).
    node_names : tuple of str
        Node names by index; index 0 is ground, named ``"0"``.
    elements : mapping of str to ElementTable
        One table per kind in :data:`physnet.elements.ELEMENTS` (possibly
        empty).
    positions : ndarray of shape (n_nodes, d) or None
        Node coordinates for elastic networks and plots (NaN where unset).
    temperature : float
        Circuit temperature in degrees Celsius.
    analyses : tuple of Analysis
        Analyses recorded from a netlist, in order.
    topology : Topology
        Shared with every system derived from this one by
        :meth:`with_values` (a new one for every :meth:`Netlist.compile`).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "in", "0", r=100.0)
    >>> system = net.compile()
    >>> system.n_nodes, system.node_index("in"), system["resistor"]["g"]
    (2, 1, array([0.01]))
    """

    title: str
    node_names: tuple[str, ...]
    elements: Mapping[str, ElementTable]
    positions: NDArray[np.float64] | None = None
    temperature: float = 27.0
    analyses: tuple[Analysis, ...] = ()
    topology: Topology = field(default_factory=Topology, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes, ground included."""
        return len(self.node_names)

    @cached_property
    def _index(self) -> Mapping[str, int]:
        return MappingProxyType({name: i for i, name in enumerate(self.node_names)})

    def node_index(self, name: str) -> int:
        """Index of node ``name``; raises a :class:`NetlistError` naming it if unknown."""
        try:
            return self._index[name]
        except (KeyError, TypeError):
            key = str(name)  # Netlist accepts integer node names and stores them as text
            if key.lower() in ("0", "gnd"):
                return 0
            if key in self._index and not isinstance(name, bool):
                return self._index[key]
            raise NetlistError(f"unknown node {name!r}: the network has no node of that name") from None

    def node_indices(self, names) -> NDArray[np.int64]:
        """Indices of several nodes (see :meth:`node_index`)."""
        return np.array([self.node_index(n) for n in names], dtype=np.int64)

    def __getitem__(self, kind: str) -> ElementTable:
        return self.elements[kind]

    def has(self, kind: str) -> bool:
        """Whether the system holds at least one element of ``kind``."""
        return len(self.elements[kind]) > 0

    @cached_property
    def element_kind(self) -> Mapping[str, str]:
        """Map from element name to its kind."""
        return MappingProxyType({n: k for k, t in self.elements.items() for n in t.names})

    @property
    def domains(self) -> frozenset[str]:
        """Physical domains present (``"electric"``, ``"elastic"``, ``"flow"``)."""
        return frozenset(ELEMENTS[k].domain for k, t in self.elements.items() if len(t))

    def with_values(self, kind: str, **values: ArrayLike) -> System:
        """The same topology with new default values for some parameters of one element kind.

        Use it to freeze trained conductances or one sample's source values
        into a system, e.g. before exporting it to SPICE. Values are checked
        as :class:`physnet.Netlist` checks them; unchanged parameters and
        every other table are shared, not copied, and so is the
        :attr:`topology` (with the solvers' cached factorization analysis).

        Parameters
        ----------
        kind : str
            Element kind, e.g. ``"resistor"`` or ``"vsource"``.
        **values : array_like
            Parameter name to one value per element of that kind (or a scalar).

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.vsource("V1", "a", "0", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
        >>> trained = net.compile().with_values("resistor", g=[1.0, 3.0])
        >>> float(pn.solve_dc(trained)["b"])
        0.25
        >>> trained.topology is net.compile().topology, trained.topology is trained.with_values("resistor", g=2.0).topology
        (False, True)
        >>> trained.with_values("resistor", g=[1.0, -1.0])
        Traceback (most recent call last):
        ...
        physnet.errors.NetlistError: resistor 'R2': g = -1.0 S is invalid (must be a finite number > 0)
        """
        from physnet.netlist import Netlist  # the builder owns the validity rules

        if kind not in self.elements:
            raise NetlistError(f"unknown element kind {kind!r} (known: {', '.join(self.elements)})")
        table = self.elements[kind]
        if not len(table):
            raise NetlistError(f"the network has no {kind} elements to set {', '.join(values)} on")
        known = [p.name for p in table.spec.params]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise NetlistError(f"{kind}: unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(known))})")
        merged = {p.name: values.get(p.name, table[p.name]) for p in table.spec.params}
        checked = Netlist._check_values(table.spec, list(table.names), merged, {})
        new_table = ElementTable.build(table.spec, table.names, table.a, table.b, checked)
        return replace(self, elements=MappingProxyType({**self.elements, kind: new_table}))

    def summary(self) -> str:
        """One line per element kind present, e.g. ``"resistor: 3"``."""
        parts = [f"{self.n_nodes} nodes"] + [f"{k}: {len(t)}" for k, t in self.elements.items() if len(t)]
        return ", ".join(parts)
