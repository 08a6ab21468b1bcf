"""Sparse nodal operators: incidence, Laplacian, and the reduced system matrix.

The sparsity pattern of the reduced matrix ``Pᵀ B diag(w) Bᵀ P`` depends only
on topology, so :func:`build_pattern` computes it once (CSC index arrays plus,
for every edge, the four slots its weight lands in; numba, with the numpy
twin :func:`csc_pattern_numpy`). Each parameter change then only *scatters*
new edge weights into the data array (:func:`scatter`, numba, with the numpy
twin :func:`scatter_numpy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from physnet.reduction import Reduction, conductive_kinds
from physnet.system import System

__all__ = [
    "Pattern",
    "build_pattern",
    "csc_pattern_numpy",
    "scatter",
    "scatter_numpy",
    "assemble",
    "incidence",
    "laplacian",
    "edge_nodes",
]


def edge_nodes(system: System, kinds: tuple[str, ...]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Concatenated terminal nodes ``(a, b)`` of the elements of ``kinds``, in that order.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> net.diode("D1", "a", "0")
    >>> a, b = edge_nodes(net.compile(), ("diode", "resistor"))
    >>> a.tolist(), b.tolist()
    ([1, 1, 2], [0, 2, 0])
    """
    a = [system[k].a for k in kinds]
    b = [system[k].b for k in kinds]
    empty = np.zeros(0, np.int64)
    return (np.concatenate(a) if a else empty), (np.concatenate(b) if b else empty)


def incidence(system: System, kinds: tuple[str, ...] = ("resistor",)) -> sp.csr_matrix:
    """Node–edge incidence matrix ``B`` (n_nodes × n_edges): +1 at ``a``, -1 at ``b``.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "x", "0", r=1.0)
    >>> incidence(net.compile()).toarray()
    array([[-1.],
           [ 1.]])
    """
    a, b = edge_nodes(system, kinds)
    m = len(a)
    cols = np.concatenate([np.arange(m), np.arange(m)])
    return sp.csr_matrix(
        (np.concatenate([np.ones(m), -np.ones(m)]), (np.concatenate([a, b]), cols)), shape=(system.n_nodes, m)
    )


def laplacian(system: System, weights: NDArray, kinds: tuple[str, ...] = ("resistor",)) -> sp.csr_matrix:
    """Full weighted Laplacian ``B diag(w) Bᵀ`` over all nodes (ground included).

    A reference operator for tests and small problems; solvers use the
    reduced matrix from :func:`assemble`.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], g=[1.0, 2.0])
    >>> laplacian(net.compile(), [1.0, 2.0]).toarray().tolist()  # rows and columns: ground, a, b
    [[2.0, 0.0, -2.0], [0.0, 1.0, -1.0], [-2.0, -1.0, 3.0]]
    """
    B = incidence(system, kinds)
    return (B @ sp.diags(np.asarray(weights)) @ B.T).tocsr()


@dataclass(frozen=True, eq=False)
class Pattern:
    """Fixed sparsity pattern of a reduced nodal matrix.

    Attributes
    ----------
    kinds : tuple of str
        Element kinds whose edges stamp into the matrix, in edge order.
    offsets : dict of str to (int, int)
        Slice of the edge axis held by each kind.
    n : int
        Matrix size (number of free unknowns).
    indptr, indices : ndarray of int64
        CSC structure (symmetric, diagonal always present).
    slots : ndarray of int64, shape (4, n_edges)
        Data positions of the (a,a), (b,b), (a,b), (b,a) entries of each edge,
        ``-1`` where a terminal is fixed or both terminals share a supernode.
    diagonal : ndarray of int64, shape (n,)
        Data position of each diagonal entry (for shunts to ground).

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.reduction import reduce_sources
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> pattern = build_pattern(net.compile(), reduce_sources(net.compile()))
    >>> pattern.n, pattern.nnz, pattern.slots.tolist()  # R2's ground terminal has no slots
    (2, 4, [[0, 3], [3, -1], [2, -1], [1, -1]])
    """

    kinds: tuple[str, ...]
    offsets: dict[str, tuple[int, int]]
    n: int
    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    slots: NDArray[np.int64]
    diagonal: NDArray[np.int64]

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return len(self.indices)

    @property
    def n_edges(self) -> int:
        """Number of stamped edges."""
        return self.slots.shape[1]


def build_pattern(system: System, reduction: Reduction, kinds: tuple[str, ...] | None = None) -> Pattern:
    """Compute the reduced matrix's sparsity pattern and every edge's data slots (once per topology).

    Parameters
    ----------
    system : System
        The network.
    reduction : Reduction
        Source elimination from :func:`physnet.reduction.reduce_sources`.
    kinds : tuple of str, optional
        Stamping kinds; default: the conductive kinds of the reduction's analysis.

    Returns
    -------
    Pattern

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.reduction import reduce_sources
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    >>> system = net.compile()
    >>> pattern = build_pattern(system, reduce_sources(system))  # a is fixed by V1: b is the only unknown
    >>> pattern.n, pattern.nnz, pattern.kinds, pattern.offsets["resistor"]
    (1, 1, ('resistor', 'diode', 'pipe'), (0, 2))
    """
    from physnet._numba import csc_pattern

    kinds = conductive_kinds(reduction.analysis) if kinds is None else kinds
    offsets, start = {}, 0
    for k in kinds:
        offsets[k] = (start, start + len(system[k]))
        start += len(system[k])
    a, b = edge_nodes(system, kinds)
    indptr, indices, diagonal, slots = csc_pattern(reduction.free[a], reduction.free[b], reduction.n_free)
    return Pattern(tuple(kinds), offsets, reduction.n_free, indptr, indices, slots, diagonal)


def csc_pattern_numpy(
    ra: NDArray[np.int64], rb: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Numpy twin of the numba kernel behind :func:`build_pattern`.

    Parameters
    ----------
    ra, rb : ndarray of int64
        Reduced unknown of each edge's terminals, ``-1`` where fixed.
    n : int
        Number of unknowns.

    Returns
    -------
    indptr, indices : ndarray of int64
        Sorted CSC structure, diagonal included, parallel edges merged.
    diagonal : ndarray of int64, shape (n,)
        Data position of each diagonal entry.
    slots : ndarray of int64, shape (4, n_edges)
        See :class:`Pattern`.

    Examples
    --------
    >>> import numpy as np
    >>> from physnet._numba import csc_pattern
    >>> ra, rb = np.array([0, 1, 1]), np.array([1, -1, 0])  # edges 0 and 2 are parallel
    >>> indptr, indices, diagonal, slots = csc_pattern_numpy(ra, rb, 2)
    >>> indptr.tolist(), indices.tolist(), slots[:, 2].tolist()
    ([0, 2, 4], [0, 1, 0, 1], [3, 0, 1, 2])
    >>> all(np.array_equal(x, y) for x, y in zip((indptr, indices, diagonal, slots), csc_pattern(ra, rb, 2)))
    True
    """
    live_a = (ra >= 0) & (ra != rb)
    live_b = (rb >= 0) & (ra != rb)
    both = np.flatnonzero(live_a & live_b)
    # Parallel edges share an entry: deduplicate undirected pairs first (one
    # sort of the edges), then let scipy's COO->CSC conversion place the
    # diagonal and both triangles; the COO data records where each entry went.
    lo, hi = np.minimum(ra[both], rb[both]), np.maximum(ra[both], rb[both])
    pairs, pair_of_edge = np.unique(lo * n + hi, return_inverse=True)
    p_lo, p_hi = pairs // max(n, 1), pairs % max(n, 1)
    n_pairs = len(pairs)
    rows = np.concatenate([np.arange(n), p_hi, p_lo])
    cols = np.concatenate([np.arange(n), p_lo, p_hi])
    tagged = sp.coo_matrix((np.arange(1, len(rows) + 1, dtype=np.float64), (rows, cols)), shape=(n, n)).tocsc()
    tagged.sort_indices()
    slot_of = np.empty(len(rows), dtype=np.int64)
    slot_of[tagged.data.astype(np.int64) - 1] = np.arange(len(rows))
    diagonal = slot_of[:n]
    lower, upper = slot_of[n:n + n_pairs], slot_of[n + n_pairs:]  # (hi, lo) and (lo, hi) entries
    slots = np.full((4, len(ra)), -1, dtype=np.int64)
    slots[0, live_a] = diagonal[ra[live_a]]
    slots[1, live_b] = diagonal[rb[live_b]]
    a_is_lo = ra[both] < rb[both]
    # (a, b) entry: row a, column b -> the (hi, lo) entry when a is the larger index
    slots[2, both] = np.where(a_is_lo, upper[pair_of_edge], lower[pair_of_edge])
    slots[3, both] = np.where(a_is_lo, lower[pair_of_edge], upper[pair_of_edge])
    return tagged.indptr.astype(np.int64), tagged.indices.astype(np.int64), diagonal, slots


def scatter_numpy(slots: NDArray[np.int64], weights: NDArray, nnz: int) -> NDArray:
    """Numpy twin of :func:`scatter`: add ``±w`` of every edge into its slots.

    Examples
    --------
    >>> import numpy as np
    >>> slots = np.array([[0, 3], [3, -1], [2, -1], [1, -1]])  # R1 a-b, R2 b-ground (see Pattern)
    >>> w = np.array([1.0, 2.0])
    >>> scatter_numpy(slots, w, 4).tolist(), bool(np.array_equal(scatter_numpy(slots, w, 4), scatter(slots, w, 4)))
    ([1.0, -1.0, -1.0, 3.0], True)
    """
    weights = np.asarray(weights)
    values = np.concatenate([weights, weights, -weights, -weights])
    flat = slots.reshape(-1)
    keep = flat >= 0
    if np.iscomplexobj(values):
        return (np.bincount(flat[keep], values[keep].real, nnz)
                + 1j * np.bincount(flat[keep], values[keep].imag, nnz))
    return np.bincount(flat[keep], values[keep], nnz).astype(np.float64, copy=False)  # int64 if no edges


def scatter(slots: NDArray[np.int64], weights: NDArray, nnz: int) -> NDArray:
    """Matrix data for edge weights ``w`` (numba kernel; see :func:`scatter_numpy`).

    Parameters
    ----------
    slots : ndarray of int64, shape (4, n_edges)
        From :class:`Pattern`.
    weights : ndarray, shape (n_edges,)
        Edge conductances (float) or admittances (complex).
    nnz : int
        Length of the data array.

    Returns
    -------
    ndarray, shape (nnz,)
        Matrix data in the pattern's CSC order.

    Examples
    --------
    >>> import numpy as np
    >>> slots = np.array([[0, 3], [3, -1], [2, -1], [1, -1]])  # R1 a-b, R2 b-ground (see Pattern)
    >>> scatter(slots, np.array([1.0, 2.0]), 4).tolist()  # CSC data of [[1, -1], [-1, 3]]
    [1.0, -1.0, -1.0, 3.0]
    >>> scatter(slots, np.array([1j, 2.0]), 4).tolist()
    [1j, -1j, -1j, (2+1j)]
    """
    from physnet._numba import scatter_edges

    weights = np.ascontiguousarray(weights)
    out = np.zeros(nnz, dtype=np.result_type(weights.dtype, np.float64))
    scatter_edges(slots, weights, out)
    return out


def assemble(pattern: Pattern, weights: NDArray) -> sp.csc_matrix:
    """Reduced nodal matrix for the given edge weights.

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.reduction import reduce_sources
    >>> net = pn.Netlist()
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], g=[1.0, 2.0])
    >>> system = net.compile()
    >>> pattern = build_pattern(system, reduce_sources(system))
    >>> assemble(pattern, system["resistor"]["g"]).toarray()
    array([[ 1., -1.],
           [-1.,  3.]])
    """
    data = scatter(pattern.slots, weights, pattern.nnz)
    return sp.csc_matrix((data, pattern.indices, pattern.indptr), shape=(pattern.n, pattern.n))
