"""Elimination of voltage sources and DC shorts from the nodal equations.

Every voltage source (and, at DC, every inductor, a 0 V short) ties two node
potentials together: ``v(a) - v(b) = E``. Instead of adding MNA rows, which
would make the matrix indefinite, physnet contracts the sources: nodes joined
by sources form a *supernode* with one unknown (or none, when the supernode
contains ground). Then

    v = x[free] + S @ E

where ``x`` holds one unknown per free supernode, ``free[node]`` is the
supernode's unknown (``-1`` when its potential is fixed), ``E`` are the source
values and ``S`` (sparse, entries ±1) sums the sources along the tree path
from each node to its supernode's root. The reduced matrix ``Pᵀ L P`` stays
symmetric positive definite, so Cholesky applies, and 0 V shorts (14 208 of
them in IBM's ibmpg1) simply merge nodes.

The supernodes (:func:`component_roots`), the source forest
(:func:`source_paths`) and the floating-node check are numba kernels in
``O(nodes + edges)``, each with a scipy twin (``*_numpy``) that tests compare
it with.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import breadth_first_order, connected_components

from physnet.errors import FloatingNodeError, SourceLoopError
from physnet.system import System

__all__ = ["Reduction", "reduce_sources", "conductive_kinds", "short_kinds"]

_CONDUCTIVE = {
    "dc": ("resistor", "diode", "pipe"),
    "ac": ("resistor", "diode", "pipe", "capacitor", "inductor"),
    "tran": ("resistor", "diode", "pipe", "capacitor", "inductor"),
}
_SHORTS = {"dc": ("vsource", "inductor"), "ac": ("vsource",), "tran": ("vsource",)}


def conductive_kinds(analysis: str) -> tuple[str, ...]:
    """Element kinds that stamp a conductance (admittance) in ``analysis``.

    Examples
    --------
    >>> conductive_kinds("dc"), conductive_kinds("ac")
    (('resistor', 'diode', 'pipe'), ('resistor', 'diode', 'pipe', 'capacitor', 'inductor'))
    """
    return _CONDUCTIVE[analysis]


def short_kinds(analysis: str) -> tuple[str, ...]:
    """Element kinds eliminated as ideal voltage constraints in ``analysis``.

    Examples
    --------
    >>> short_kinds("dc"), short_kinds("ac")  # an inductor is a 0 V short at DC only
    (('vsource', 'inductor'), ('vsource',))
    """
    return _SHORTS[analysis]


@dataclass(frozen=True, eq=False)
class Reduction:
    """Map between node potentials and the reduced unknowns.

    Attributes
    ----------
    analysis : {"dc", "ac", "tran"}
        Which elements were treated as shorts.
    free : ndarray of int64, shape (n_nodes,)
        Reduced unknown of each node, ``-1`` where the potential is fixed.
    n_free : int
        Number of reduced unknowns.
    shorts : tuple of (str, int)
        ``(kind, index)`` of each eliminated element, the columns of ``S``.
    S : scipy.sparse.csr_matrix, shape (n_nodes, n_shorts)
        Source-path matrix, ``v = x[free] + S @ E``.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> red = reduce_sources(net.compile())
    >>> red.n_free, red.shorts, red.potentials(np.array([0.5]), np.array([1.0])).tolist()
    (1, (('vsource', 0),), [0.0, 1.0, 0.5])
    """

    analysis: str
    free: NDArray[np.int64]
    n_free: int
    shorts: tuple[tuple[str, int], ...]
    S: sp.csr_matrix

    def potentials(self, x: NDArray, short_values: NDArray) -> NDArray:
        """Node potentials ``x[free] + S @ E`` (``x`` and ``E`` may carry a leading batch axis)."""
        return self.expand(x) + (self.S @ np.asarray(short_values).T).T

    def expand(self, x: NDArray) -> NDArray:
        """Node values ``x[free]``, 0 at fixed nodes: :meth:`potentials` with every source at 0 V.

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.vsource("V1", "a", "0", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
        >>> reduce_sources(net.compile()).expand(np.array([[0.5], [0.25]])).tolist()
        [[0.0, 0.0, 0.5], [0.0, 0.0, 0.25]]
        """
        x = np.asarray(x)
        padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], axis=-1)
        return padded[..., self.free]  # index -1 hits the appended zero

    def restrict(self, node_values: NDArray) -> NDArray:
        """Sum node quantities into their supernodes (``Pᵀ y``; fixed nodes dropped).

        ``node_values`` has shape (n_nodes,) or (batch, n_nodes).

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.vsource("V1", "a", "b", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["a", "b"], ["0", "0"], r=[1.0, 1.0])
        >>> reduce_sources(net.compile()).restrict(np.array([[5.0, 1.0, 2.0]])).tolist()
        [[3.0]]
        """
        node_values = np.asarray(node_values)
        if self._gather is not None:  # one node per unknown: a plain gather
            return node_values[..., self._gather]
        if node_values.ndim == 1:
            mask = self.free >= 0
            if np.iscomplexobj(node_values):
                return (np.bincount(self.free[mask], node_values[mask].real, self.n_free)
                        + 1j * np.bincount(self.free[mask], node_values[mask].imag, self.n_free))
            return np.bincount(self.free[mask], node_values[mask], self.n_free)
        return (self._restriction @ node_values.T).T

    @cached_property
    def _gather(self) -> NDArray[np.int64] | None:
        """The node of each unknown when no supernode holds two free nodes (else ``None``); built once."""
        nodes = np.flatnonzero(self.free >= 0)
        if len(nodes) != self.n_free:
            return None
        order = np.empty(self.n_free, dtype=np.int64)
        order[self.free[nodes]] = nodes
        return order

    @cached_property
    def _restriction(self) -> sp.csr_matrix:
        """``Pᵀ`` (n_free, n_nodes): one entry per free node in its unknown's row; built once."""
        mask = self.free >= 0
        return sp.csr_matrix((np.ones(int(mask.sum())), (self.free[mask], np.flatnonzero(mask))),
                             shape=(self.n_free, len(self.free)))

    def short_currents(self, leaving: NDArray) -> NDArray:
        """Currents through the eliminated sources, from KCL.

        Parameters
        ----------
        leaving : ndarray, shape (..., n_nodes)
            Net current leaving each node through every *other* element.

        Returns
        -------
        ndarray, shape (..., n_shorts)
            SPICE convention: current flowing into the ``+`` terminal,
            through the source, out of the ``-`` terminal.
        """
        return -(self.S.T @ np.asarray(leaving).T).T


def _short_edges(system: System, analysis: str):
    shorts, a, b = [], [], []
    for kind in short_kinds(analysis):
        table = system[kind]
        shorts.extend(zip(itertools.repeat(kind), range(len(table))))
        a.append(table.a)
        b.append(table.b)
    a = np.concatenate(a) if a else np.zeros(0, np.int64)
    b = np.concatenate(b) if b else np.zeros(0, np.int64)
    return tuple(shorts), a, b


def reduce_sources(system: System, analysis: str = "dc") -> Reduction:
    """Contract voltage sources (and DC shorts) and check every node is grounded.

    Parameters
    ----------
    system : System
        The network.
    analysis : {"dc", "ac", "tran"}
        At DC inductors are shorts and capacitors open.

    Returns
    -------
    Reduction

    Raises
    ------
    SourceLoopError
        Sources form a loop (their currents would be undetermined).
    FloatingNodeError
        Some nodes have no conductive path to ground or to a grounded source.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=2.0)
    >>> net.vsource("V2", "b", "a", dc=0.0)
    >>> net.resistor("R1", "b", "c", r=1.0)
    >>> net.resistor("R2", "c", "0", r=1.0)
    >>> red = reduce_sources(net.compile())
    >>> red.free.tolist(), red.n_free
    ([-1, -1, -1, 0], 1)
    """
    n = system.n_nodes
    shorts, a, b = _short_edges(system, analysis)
    self_loops = np.flatnonzero(a == b)
    if self_loops.size:
        kind, i = shorts[self_loops[0]]
        raise SourceLoopError(f"{kind} {system[kind].names[i]!r} connects node "
                              f"{system.node_names[a[self_loops[0]]]!r} to itself")
    root = component_roots(a, b, n)
    is_root = root == np.arange(n)
    n_comp = int(np.count_nonzero(is_root))
    if len(a) > n - n_comp:
        _raise_loop(system, shorts, a, b, root)
    # Unknowns number the supernodes in order of their lowest node; ground's (root 0) has none.
    free = (np.cumsum(is_root) - 2)[root]
    reduction = Reduction(analysis, free, n_comp - 1, shorts, source_paths(a, b, root, n))
    _check_grounded(system, reduction)
    return reduction


def component_roots(a: NDArray[np.int64], b: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Lowest node of the connected component of each of ``n`` nodes joined by edges ``(a, b)``.

    Examples
    --------
    >>> component_roots(np.array([3, 1]), np.array([1, 4]), 5).tolist()
    [0, 1, 2, 1, 1]
    """
    from physnet._numba import component_roots as kernel

    return kernel(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64), n)


def component_roots_numpy(a: NDArray[np.int64], b: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Numpy twin of :func:`component_roots` (scipy's connected components).

    Examples
    --------
    >>> a, b = np.array([3, 1]), np.array([1, 4])
    >>> component_roots_numpy(a, b, 5).tolist(), component_roots(a, b, 5).tolist()
    ([0, 1, 2, 1, 1], [0, 1, 2, 1, 1])
    """
    graph = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    return np.unique(labels, return_index=True)[1][labels]  # components are labelled in order of lowest node


def source_paths(a: NDArray[np.int64], b: NDArray[np.int64], root: NDArray[np.int64], n: int) -> sp.csr_matrix:
    """Source-path matrix: ``S[i, k] = ±1`` when source ``k`` lies on the path from node ``i`` to its root.

    Parameters
    ----------
    a, b : ndarray of int64
        Terminals of the sources (a forest: no loops).
    root : ndarray of int64, shape (n,)
        :func:`component_roots` of that forest.
    n : int
        Number of nodes.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, len(a))
        ``+1`` where the path crosses source ``k`` from its ``-`` to its
        ``+`` terminal going down from the root, ``-1`` the other way, so
        that ``v = v[root] + S @ E``.

    Examples
    --------
    >>> a, b = np.array([1, 2]), np.array([0, 1])  # V0 from node 1 to ground, V1 from node 2 to node 1
    >>> source_paths(a, b, component_roots(a, b, 3), 3).toarray().tolist()  # v2 = E0 + E1
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """
    from physnet._numba import source_paths as kernel

    rows, cols, signs = kernel(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64), root, n)
    return sp.csr_matrix((signs, (rows, cols)), shape=(n, len(a)))


def source_paths_numpy(a: NDArray[np.int64], b: NDArray[np.int64], root: NDArray[np.int64], n: int) -> sp.csr_matrix:
    """Numpy twin of :func:`source_paths` (scipy's breadth-first search and sparse products).

    Only the sources' terminals take part: one breadth-first search from a
    virtual node joined to every component root gives the source forest;
    ``S = Σ_d Tᵈ E`` with ``E`` the signed edge from each node to its parent
    and ``T`` the parent map, one sparse product per tree level.

    Examples
    --------
    >>> a, b = np.array([1, 2, 4]), np.array([0, 1, 2])
    >>> root = component_roots(a, b, 5)
    >>> S = source_paths_numpy(a, b, root, 5)
    >>> S.toarray()[4].tolist(), bool(np.array_equal(S.toarray(), source_paths(a, b, root, 5).toarray()))
    ([1.0, 1.0, 1.0], True)
    """
    n_shorts = len(a)
    if n_shorts == 0:
        return sp.csr_matrix((n, 0))
    touched, ends = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(touched)
    la, lb = ends[:n_shorts], ends[n_shorts:]
    graph = sp.csr_matrix((np.arange(1, n_shorts + 1), (la, lb)), shape=(k, k))
    graph = graph + graph.T
    roots = np.flatnonzero(root[touched] == touched)
    virtual = k
    coo = graph.tocoo()
    rows = np.concatenate([coo.row, np.full(len(roots), virtual), roots])
    cols = np.concatenate([coo.col, roots, np.full(len(roots), virtual)])
    data = np.concatenate([coo.data, np.ones(2 * len(roots))])
    augmented = sp.csr_matrix((data, (rows, cols)), shape=(k + 1, k + 1))
    _, pred = breadth_first_order(augmented, virtual, directed=False, return_predecessors=True)
    child = np.flatnonzero((pred[:k] >= 0) & (pred[:k] != virtual))
    parent = pred[child]
    edge = np.asarray(graph[parent, child]).ravel().astype(np.int64) - 1  # data holds edge id + 1
    sign = np.where(la[edge] == parent, -1.0, 1.0)  # v_child = v_parent - E if parent is '+'
    step = sp.csr_matrix((sign, (child, edge)), shape=(k, n_shorts))
    T = sp.csr_matrix((np.ones(len(child)), (child, parent)), shape=(k, k))
    S = step
    while step.nnz:
        step = T @ step
        S = S + step
    S = S.tocoo()
    return sp.csr_matrix((S.data, (touched[S.row], S.col)), shape=(n, n_shorts))


def _raise_loop(system: System, shorts: tuple[tuple[str, int], ...], a: NDArray[np.int64], b: NDArray[np.int64],
                root: NDArray[np.int64]) -> None:
    """Raise a SourceLoopError naming the first short that closes a loop (a plain union-find pass)."""
    parent = list(range(system.n_nodes))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k, (p, q) in enumerate(zip(a, b)):
        rp, rq = find(p), find(q)
        if rp == rq:
            kind, i = shorts[k]
            members = [f"{shorts[j][0]} {system[shorts[j][0]].names[shorts[j][1]]!r}"
                       for j in range(len(a)) if root[a[j]] == root[p]][:6]
            raise SourceLoopError(
                f"{kind} {system[kind].names[i]!r} closes a loop of voltage sources / DC shorts "
                f"({', '.join(members)}): the currents around it are undetermined — remove one of them"
            )
        parent[rp] = rq


def _check_grounded(system: System, red: Reduction) -> None:
    """Raise a FloatingNodeError naming the nodes with no conductive path to a fixed potential."""
    m = red.n_free
    ends = np.where(red.free < 0, m, red.free)  # every fixed node becomes the one extra node m
    kinds = conductive_kinds(red.analysis)
    ra = np.concatenate([ends[system[kind].a] for kind in kinds])
    rb = np.concatenate([ends[system[kind].b] for kind in kinds])
    root = component_roots(ra, rb, m + 1)
    if not root.any():
        return
    floating_reduced = root[:m] != root[m]
    node_mask = (red.free >= 0) & floating_reduced[np.maximum(red.free, 0)]
    nodes = tuple(system.node_names[i] for i in np.flatnonzero(node_mask))
    shown = ", ".join(repr(n) for n in nodes[:8]) + (f" and {len(nodes) - 8} more" if len(nodes) > 8 else "")
    what = "resistors, diodes or pipes" if red.analysis == "dc" else "any element"
    raise FloatingNodeError(
        f"{'node' if len(nodes) == 1 else 'nodes'} {shown} {'is' if len(nodes) == 1 else 'are'} floating: "
        f"no path to ground through {what} — connect {'it' if len(nodes) == 1 else 'them'} or remove "
        f"{'it' if len(nodes) == 1 else 'them'}",
        nodes,
    )
