"""The prepared stiffness operator of an elastic network: free dofs, pattern, scatter map, factor cache.

The free degrees of freedom, the CSC pattern of the free block of the
stiffness matrix ``K = Σ_j k_j b̂_j b̂_jᵀ`` and the linear map from the
spring stiffnesses ``k`` to that pattern's data depend only on the
topology, the node positions and the pinned nodes. They are built once per
``(system.topology, pinned nodes, backend)`` and cached as long as a system
of that topology lives (systems made by ``with_values`` share them), like
:func:`physnet.solvers.nodal.nodal_operator`. A new ``k`` then costs one
numeric factorization (the symbolic analysis is the
:class:`~physnet.solvers.linear.Factorizer`'s, done once), and every solve
with the same ``k`` reuses it, for any number of right-hand sides.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from physnet.elements.spring import bond_vectors
from physnet.errors import NetlistError
from physnet.solvers.linear import Factor, Factorizer, default_backend
from physnet.system import System, Topology

__all__ = ["FLOPPY", "ElasticOperator", "elastic_operator"]

FLOPPY = ("the elastic network is floppy (stiffness matrix singular to working precision): pin more nodes or add "
          "springs so that no free node or rigid motion is unconstrained")
"""The message of the :class:`~physnet.errors.NetlistError` raised for a floppy network."""

_RIGID_MIN = 1e-13  # smallest eigenvalue of the Jacobi-scaled stiffness below which the network is a mechanism
_SIGNS = np.array([1.0, 1.0, -1.0, -1.0])  # a spring's blocks (a, a), (b, b), (a, b), (b, a)


@dataclass(eq=False)
class ElasticOperator:
    """Topology-only data to assemble, factor and solve the free stiffness block of an elastic network.

    Build it with :func:`elastic_operator` (cached). Vectors over the free
    degrees of freedom have ``n_free = len(free)`` entries; several of them
    are the columns of an (n_free, batch) array.

    Attributes
    ----------
    free : ndarray of int64
        Free degrees of freedom, node-major (``i*d + c``): every component
        of every positioned node that is neither ground nor pinned.
    shape : tuple of int
        ``(n_nodes, d)``, the shape of a displacement or force field.
    slots : ndarray of int64, shape (n_springs, 4, d, d)
        Data index of each entry of each spring's blocks ``(a, a)``,
        ``(b, b)``, ``(a, b)``, ``(b, a)``; ``nnz`` where the row or the
        column is fixed (the entry is dropped).
    diagonal : ndarray of int64, shape (n_free,)
        Data index of each free degree of freedom's diagonal entry (always
        in the pattern, so masses and drag can be added).
    scatter : scipy.sparse.csr_matrix, shape (nnz, n_springs)
        The stiffness data from the spring stiffnesses: ``scatter @ k``.
    factorizer : Factorizer
        Factorization cache of the pattern (``factorizations`` counts the
        numeric factorizations).
    positions : ndarray, shape (n_nodes, d)
        The node positions the bond directions were taken from.

    Examples
    --------
    Node ``r`` hangs from two pinned nodes; a force on it, restricted to the
    free dofs, solved, and spread back over the nodes. A second solve at the
    same stiffnesses reuses the factorization:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "r"], [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "r", "p", k=4.0); net.spring("S2", "r", "q", k=2.0)
    >>> op = elastic_operator(net.compile(), ["p", "q"])
    >>> f = np.zeros(op.shape); f[3] = (1.0, 2.0)
    >>> u = op.full(op.solve([4.0, 2.0], op.restrict(f)))
    >>> op.shape, np.round(u[3], 12).tolist(), op.solve([4.0, 2.0], op.restrict(f)).shape, op.factorizer.factorizations
    ((4, 2), [0.5, 0.5], (2,), 1)
    """

    free: NDArray[np.int64]
    shape: tuple[int, int]
    slots: NDArray[np.int64]
    diagonal: NDArray[np.int64]
    scatter: sp.csr_matrix
    factorizer: Factorizer
    positions: NDArray[np.float64]
    _k: NDArray[np.float64] | None = field(default=None, repr=False)  # the stiffnesses of _factor
    _factor: Factor | None = field(default=None, repr=False)

    @property
    def nnz(self) -> int:
        """Stored entries of the free stiffness block."""
        return len(self.factorizer.indices)

    def stiffness_data(self, k: NDArray) -> NDArray[np.float64]:
        """Data of the free stiffness block (CSC order of the pattern) for spring stiffnesses ``k``."""
        return self.scatter @ np.asarray(k, dtype=np.float64)

    def block_data(self, blocks: NDArray) -> NDArray[np.float64]:
        """Data of the free block of ``Σ_j`` (spring ``j``'s d×d ``blocks[j]`` stamped like ``k_j b̂_j b̂_jᵀ``).

        For stiffness blocks that are not ``k b̂ b̂ᵀ``, e.g. the geometric
        tangent of :func:`physnet.elements.spring.stiffness_blocks`.
        """
        values = _SIGNS[None, :, None, None] * np.asarray(blocks, dtype=np.float64)[:, None]
        return np.bincount(self.slots.reshape(-1), values.reshape(-1), self.nnz + 1)[:self.nnz]

    def matrix(self, data: NDArray) -> sp.csc_matrix:
        """The free block with values ``data`` as a CSC matrix."""
        n = len(self.free)
        return sp.csc_matrix((data, self.factorizer.indices, self.factorizer.indptr), shape=(n, n))

    def factor(self, k: NDArray) -> Factor:
        """The factorization of the free stiffness block at stiffnesses ``k``, refactored only if ``k`` changed.

        Raises
        ------
        NetlistError
            The network is floppy: the factorization breaks down, or the
            smallest eigenvalue of the Jacobi-scaled matrix
            ``D^-1/2 K D^-1/2``, estimated by three steps of inverse
            iteration with the factor, is below 1e-13. A mechanism seldom
            gives an exactly zero pivot in floating point (bond directions
            are rounded), so the estimate is what catches it: ~1e-16 for a
            mechanism, above ~1e-11 for rigid networks whose stiffnesses
            span twelve decades.
        """
        k = np.asarray(k, dtype=np.float64)
        if self._factor is not None and np.array_equal(k, self._k):
            return self._factor
        self._k = self._factor = None  # a failed CHOLMOD refactorization leaves no valid factor behind
        data = self.stiffness_data(k)
        try:
            factor = self.factorizer.factor(data)
        except (RuntimeError, np.linalg.LinAlgError):  # SuperLU: zero pivot; CHOLMOD: not positive definite
            raise NetlistError(FLOPPY) from None
        if len(self.free):
            _check_rigid(self.matrix(data), factor)
        self._k, self._factor = k.copy(), factor
        return factor

    def factor_data(self, data: NDArray, *, spd: bool) -> Factor:
        """Factor another matrix on this pattern (a tangent or dynamic stiffness) with :meth:`Factorizer.factor`.

        A real ``spd`` refactorization by CHOLMOD updates the factorizer's
        one numeric factor in place, so the cached factor of :meth:`factor`
        is dropped then (the next :meth:`factor` refactors).
        """
        if spd and self.factorizer.backend == "cholmod" and not np.iscomplexobj(data):
            self._k = self._factor = None
        return self.factorizer.factor(data, spd=spd)

    def solve(self, k: NDArray, rhs: NDArray) -> NDArray:
        """``K⁻¹ rhs`` over the free dofs at stiffnesses ``k``; ``rhs`` of shape (n_free,) or (n_free, batch)."""
        return self.factor(k).solve(rhs)

    def restrict(self, fields: NDArray) -> NDArray:
        """Free-dof entries (..., n_free) of node fields (..., n_nodes, d)."""
        fields = np.asarray(fields)
        return fields.reshape(fields.shape[:-2] + (-1,))[..., self.free]

    def full(self, x: NDArray) -> NDArray:
        """Node fields (..., n_nodes, d) of free-dof vectors ``x`` (..., n_free), zero at fixed dofs."""
        out = np.zeros(x.shape[:-1] + (self.shape[0] * self.shape[1],), dtype=x.dtype)
        out[..., self.free] = x
        return out.reshape(x.shape[:-1] + self.shape)


def _check_rigid(K: sp.csc_matrix, factor: Factor) -> None:
    """Raise the floppy NetlistError unless ``K``'s Jacobi-scaled smallest eigenvalue is clearly positive."""
    scale = np.sqrt(np.abs(K.diagonal()))
    scale[scale == 0] = 1.0
    y = np.random.default_rng(0).standard_normal(K.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(3):
            y = scale * factor.solve(scale * y)
            y /= np.linalg.norm(y)
        smallest = y @ ((K @ (y / scale)) / scale)
    if not np.isfinite(smallest) or abs(smallest) < _RIGID_MIN:
        raise NetlistError(FLOPPY)


_CACHE: weakref.WeakKeyDictionary[Topology, dict] = weakref.WeakKeyDictionary()


def elastic_operator(system: System, pinned: Sequence[str], backend: str = "auto") -> ElasticOperator:
    """The cached :class:`ElasticOperator` of ``system`` with the nodes ``pinned`` held fixed.

    Keyed by ``system.topology``, the set of pinned nodes and the backend; a
    system with the same topology but other node positions gets a new
    operator (the bond directions are part of the pattern's data map).

    Raises
    ------
    NetlistError
        No node positions, an unknown pinned node, or ``pinned`` given as
        one string.

    Examples
    --------
    Node ``r`` hangs from two pinned nodes by perpendicular springs, so the
    free block is diagonal, ``diag(k₂, k₁)``; a system with new stiffnesses
    shares the operator:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "r"], [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "r", "p", k=4.0); net.spring("S2", "r", "q", k=2.0)
    >>> system = net.compile()
    >>> op = elastic_operator(system, ["p", "q"])
    >>> op.free.tolist(), op.matrix(op.stiffness_data([4.0, 2.0])).toarray().tolist()
    ([6, 7], [[2.0, 0.0], [0.0, 4.0]])
    >>> np.round(op.solve([4.0, 2.0], np.array([[1.0, 2.0], [2.0, 0.0]])), 12).tolist()  # two force patterns
    [[0.5, 1.0], [0.5, 0.0]]
    >>> elastic_operator(system.with_values("spring", k=[1.0, 1.0]), ["q", "p"]) is op
    True
    """
    if isinstance(pinned, str):
        raise NetlistError(f"pinned = {pinned!r} must be a list of node names, e.g. [{pinned!r}]")
    backend = default_backend() if backend == "auto" else backend
    per_system = _CACHE.setdefault(system.topology, {})
    key = (tuple(sorted({system.node_index(name) for name in pinned})), backend)
    op = per_system.get(key)
    if op is None or not np.array_equal(op.positions, system.positions, equal_nan=True):
        op = per_system[key] = _build(system, key[0], backend)
    return op


def _build(system: System, pinned: tuple[int, ...], backend: str) -> ElasticOperator:
    """Free dofs, the free block's CSC pattern (analytically, from the springs' blocks) and the scatter map."""
    bond, length = bond_vectors(system)  # raises a NetlistError if the system has no positions
    unit = bond / length[:, None]
    n_nodes, d = system.positions.shape
    fixed = np.isnan(system.positions).any(axis=1)  # ground and unpositioned nodes carry no displacement
    fixed[0] = True
    fixed[list(pinned)] = True
    free = np.flatnonzero(~np.repeat(fixed, d))
    n = len(free)
    where = np.full(n_nodes * d, -1, dtype=np.int64)  # free index of every dof, -1 if fixed
    where[free] = np.arange(n)
    springs = system["spring"]
    comp = np.arange(d)
    da, db = where[springs.a[:, None] * d + comp], where[springs.b[:, None] * d + comp]
    shape = (len(springs), 4, d, d)
    rows = np.broadcast_to(np.stack([da, db, da, db], axis=1)[..., :, None], shape)
    cols = np.broadcast_to(np.stack([da, db, db, da], axis=1)[..., None, :], shape)
    keep = (rows >= 0) & (cols >= 0)
    # Column-major keys sort into CSC order; every diagonal entry is stored even if no spring reaches it.
    keys = np.concatenate([cols[keep] * n + rows[keep], np.arange(n) * (n + 1)])
    unique, inverse = np.unique(keys, return_inverse=True)
    n_kept = int(keep.sum())
    slots = np.full(shape, len(unique), dtype=np.int64)
    slots[keep] = inverse[:n_kept]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(unique // max(n, 1), minlength=n))])
    values = _SIGNS[None, :, None, None] * np.einsum("ei,ej->eij", unit, unit)[:, None]
    spring = np.broadcast_to(np.arange(len(springs))[:, None, None, None], shape)
    scatter = sp.csr_matrix((values[keep], (slots[keep], spring[keep])), shape=(len(unique), len(springs)))
    factorizer = Factorizer(indptr, unique % max(n, 1), n, backend=backend)
    return ElasticOperator(free, (n_nodes, d), slots, inverse[n_kept:], scatter, factorizer,
                           system.positions.copy())
