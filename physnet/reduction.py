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
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Element kinds that stamp a conductance (admittance) in ``analysis``."""
    return _CONDUCTIVE[analysis]


def short_kinds(analysis: str) -> tuple[str, ...]:
    """Element kinds eliminated as ideal voltage constraints in ``analysis``."""
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
    """

    analysis: str
    free: NDArray[np.int64]
    n_free: int
    shorts: tuple[tuple[str, int], ...]
    S: sp.csr_matrix

    def potentials(self, x: NDArray, short_values: NDArray) -> NDArray:
        """Node potentials ``x[free] + S @ E`` (``x`` and ``E`` may carry a leading batch axis)."""
        x = np.asarray(x)
        padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], axis=-1)
        v = padded[..., self.free]  # index -1 hits the appended zero
        offset = (self.S @ np.asarray(short_values).T).T
        return v + offset

    def restrict(self, node_values: NDArray) -> NDArray:
        """Sum node quantities into their supernodes (``Pᵀ y``; fixed nodes dropped)."""
        node_values = np.asarray(node_values)
        mask = self.free >= 0
        if node_values.ndim == 1:
            if np.iscomplexobj(node_values):
                return (np.bincount(self.free[mask], node_values[mask].real, self.n_free)
                        + 1j * np.bincount(self.free[mask], node_values[mask].imag, self.n_free))
            return np.bincount(self.free[mask], node_values[mask], self.n_free)
        P = sp.csr_matrix((np.ones(mask.sum()), (self.free[mask], np.flatnonzero(mask))),
                          shape=(self.n_free, len(self.free)))
        return (P @ node_values.T).T

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
        shorts.extend((kind, i) for i in range(len(table)))
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
    graph = sp.coo_matrix((np.arange(1, len(a) + 1), (a, b)), shape=(n, n)).tocsr()
    graph = graph + graph.T
    n_comp, labels = connected_components(graph, directed=False)
    if len(a) > n - n_comp:
        _raise_loop(system, shorts, a, b, labels, n_comp)

    ground_label = labels[0]
    roots = np.unique(labels, return_index=True)[1]  # lowest node of each component (ground's is 0)
    comp_index = np.full(n_comp, -1)
    comp_index[np.arange(n_comp) != ground_label] = np.arange(n_comp - 1)
    free = np.where(labels == ground_label, -1, comp_index[labels])
    S = _source_paths(graph, roots, a, n, len(shorts))
    reduction = Reduction(analysis, free.astype(np.int64), n_comp - 1, shorts, S)
    _check_grounded(system, reduction)
    return reduction


def _source_paths(graph: sp.csr_matrix, roots: NDArray, a: NDArray, n: int, n_shorts: int) -> sp.csr_matrix:
    """``S[i, k] = ±1`` when source ``k`` lies on the tree path from node ``i`` to its root.

    One breadth-first search from a virtual node joined to every component
    root gives the source forest; ``S = Σ_d Tᵈ E`` with ``E`` the signed edge
    from each node to its parent and ``T`` the parent map, one sparse product
    per tree level.
    """
    if n_shorts == 0:
        return sp.csr_matrix((n, 0))
    virtual = n
    coo = graph.tocoo()
    rows = np.concatenate([coo.row, np.full(len(roots), virtual), roots])
    cols = np.concatenate([coo.col, roots, np.full(len(roots), virtual)])
    data = np.concatenate([coo.data, np.ones(2 * len(roots))])
    augmented = sp.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    _, pred = breadth_first_order(augmented, virtual, directed=False, return_predecessors=True)
    child = np.flatnonzero((pred[:n] >= 0) & (pred[:n] != virtual))
    parent = pred[child]
    edge = np.asarray(graph[parent, child]).ravel().astype(np.int64) - 1  # data holds edge id + 1
    sign = np.where(a[edge] == parent, -1.0, 1.0)  # v_child = v_parent - E if parent is '+'
    step = sp.csr_matrix((sign, (child, edge)), shape=(n, n_shorts))
    T = sp.csr_matrix((np.ones(len(child)), (child, parent)), shape=(n, n))
    S = step
    while step.nnz:
        step = T @ step
        S = S + step
    return S.tocsr()


def _raise_loop(system, shorts, a, b, labels, n_comp):
    # The first edge that closes a cycle is found with a union-find pass.
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
                       for j in range(len(a)) if labels[a[j]] == labels[p]][:6]
            raise SourceLoopError(
                f"{kind} {system[kind].names[i]!r} closes a loop of voltage sources / DC shorts "
                f"({', '.join(members)}): the currents around it are undetermined — remove one of them"
            )
        parent[rp] = rq


def _check_grounded(system: System, red: Reduction) -> None:
    m = red.n_free
    a_list, b_list = [], []
    for kind in conductive_kinds(red.analysis):
        t = system[kind]
        a_list.append(t.a)
        b_list.append(t.b)
    ra = np.concatenate(a_list) if a_list else np.zeros(0, np.int64)
    rb = np.concatenate(b_list) if b_list else np.zeros(0, np.int64)
    ra = np.where(red.free[ra] < 0, m, red.free[ra])
    rb = np.where(red.free[rb] < 0, m, red.free[rb])
    graph = sp.coo_matrix((np.ones(len(ra)), (ra, rb)), shape=(m + 1, m + 1))
    n_comp, labels = connected_components(graph, directed=False)
    if n_comp == 1:
        return
    floating_reduced = labels != labels[m]
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
