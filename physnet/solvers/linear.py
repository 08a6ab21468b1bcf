"""Sparse linear solves with a factorization cache.

A :class:`Factorizer` belongs to one sparsity pattern. Its first
factorization performs the symbolic analysis (fill-reducing ordering,
elimination tree); later factorizations only redo the numeric part, which is
what a training loop pays per step. Backends, best first:

``"cholmod"``
    CHOLMOD supernodal Cholesky, as bundled with cvxopt
    (``cholmod.symbolic`` once, ``cholmod.numeric`` per refactor). Used for
    real symmetric positive definite matrices. cvxopt's CHOLMOD is built
    without METIS, so its fill-reducing ordering is AMD; CHOLMOD's defaults
    (AMD, supernodal) are kept: on resistor grids the simplicial
    factorization is 1.7 times slower at 10⁴ unknowns and 12 times at 10⁶.
``"superlu"``
    SciPy's SuperLU: the column ordering computed by the first factorization
    is kept and later factorizations run with ``permc_spec="NATURAL"`` on the
    pre-permuted matrix. Always available; used for complex and indefinite
    matrices.

Every backend solves many right-hand sides at once.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import splu

__all__ = ["Factorizer", "Factor", "available_backends", "default_backend", "SPSOLVE_COLUMNS"]

SPSOLVE_COLUMNS = 3
"""Right-hand sides from which CHOLMOD solves go through ``cholmod.spsolve``.

cvxopt's dense ``cholmod.solve`` runs one triangular solve per column, so
each column reads the factor twice; ``spsolve`` hands CHOLMOD blocks of up
to four columns, one pass over the factor per block (about 1.6 times faster
for three columns at 10⁵ unknowns). For one or two columns the conversions
to and from cvxopt's sparse format cost more than they save.
"""


class Factor(Protocol):
    """A numeric factorization: ``solve(rhs)`` for ``rhs`` of shape (n,) or (n, k).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csc_matrix([[2.0, -1.0], [-1.0, 2.0]])
    >>> factor = Factorizer(A.indptr, A.indices, 2, backend="superlu").factor(A.data)
    >>> factor.backend, np.round(factor.solve(np.array([[1.0, 0.0], [1.0, 3.0]])), 12).tolist()
    ('superlu', [[1.0, 1.0], [1.0, 2.0]])
    """

    backend: str

    def solve(self, rhs: NDArray) -> NDArray: ...


@functools.cache
def available_backends() -> tuple[str, ...]:
    """Backends importable in this environment, fastest first.

    Examples
    --------
    >>> "superlu" in available_backends()
    True
    """
    if importlib.util.find_spec("cvxopt") is not None:
        return ("cholmod", "superlu")
    return ("superlu",)


def default_backend() -> str:
    """The fastest available backend.

    Examples
    --------
    >>> default_backend() == available_backends()[0]  # "cholmod" where cvxopt is installed, else "superlu"
    True
    """
    return available_backends()[0]


@dataclass
class _SuperLUFactor:
    lu: object
    perm: NDArray[np.int64] | None
    backend: str = "superlu"

    def solve(self, rhs: NDArray) -> NDArray:
        rhs = np.asarray(rhs)
        if self.lu is None:  # empty matrix: every potential is fixed by sources
            return np.zeros(rhs.shape, dtype=np.result_type(rhs, np.float64))
        if np.iscomplexobj(rhs) and not np.iscomplexobj(self.lu.L.data):  # e.g. an AC tone on a real Jacobian
            return self.solve(rhs.real) + 1j * self.solve(rhs.imag)
        if self.perm is None:
            return self.lu.solve(rhs)
        x = np.empty_like(rhs, dtype=np.result_type(rhs, self.lu.L.dtype))
        x[self.perm] = self.lu.solve(rhs[self.perm])
        return x


@dataclass
class _CholmodFactor:
    owner: "Factorizer"
    version: int
    backend: str = "cholmod"

    def solve(self, rhs: NDArray) -> NDArray:
        if self.version != self.owner._version:
            raise RuntimeError("this CHOLMOD factor was superseded by a newer factorization of the same pattern")
        if np.iscomplexobj(rhs):  # the factor is real: solve real and imaginary parts
            return self.owner._cholmod_solve(np.real(rhs)) + 1j * self.owner._cholmod_solve(np.imag(rhs))
        return self.owner._cholmod_solve(rhs)


class Factorizer:
    """Factorization cache for one sparsity pattern of a symmetric matrix.

    Parameters
    ----------
    indptr, indices : ndarray
        CSC structure of the (structurally symmetric) matrix.
    n : int
        Matrix size.
    backend : str, optional
        ``"auto"`` (fastest available), ``"cholmod"`` or ``"superlu"``.
        Complex or indefinite matrices always use SuperLU.

    Attributes
    ----------
    factorizations : int
        Numeric factorizations done so far.

    Notes
    -----
    A CHOLMOD factor stays valid until the next :meth:`factor` call of the
    same Factorizer (the numeric factorization is updated in place).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csc_matrix([[2.0, -1.0], [-1.0, 2.0]])
    >>> f = Factorizer(A.indptr, A.indices, 2, backend="superlu")
    >>> f.factor(A.data).solve(np.array([1.0, 1.0]))
    array([1., 1.])
    """

    def __init__(self, indptr: NDArray, indices: NDArray, n: int, backend: str = "auto") -> None:
        if backend == "auto":
            backend = default_backend()
        if backend not in available_backends():
            raise ValueError(f"linear backend {backend!r} is not available here (available: "
                             f"{', '.join(available_backends())}); install cvxopt for CHOLMOD")
        self.backend = backend
        self.n = n
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self._perm: NDArray[np.int64] | None = None  # SuperLU ordering, kept after the first call
        self._perm_data: NDArray[np.int64] | None = None
        self._perm_structure: tuple[NDArray, NDArray] | None = None
        self._cholmod = None  # (lower-triangle selector, cvxopt matrix, symbolic-then-numeric factor)
        self._version = 0
        self.factorizations = 0  # numeric factorizations so far: what tests of factor reuse count

    def _matrix(self, data: NDArray) -> sp.csc_matrix:
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def factor(self, data: NDArray, *, spd: bool = True) -> Factor:
        """Numerically factor the matrix with values ``data`` (CSC order).

        Parameters
        ----------
        data : ndarray
            Values in the pattern's CSC order (float or complex).
        spd : bool, optional
            Whether the matrix is known symmetric positive definite (all
            conductances positive). If not, SuperLU with pivoting is used.
        """
        data = np.asarray(data)
        self.factorizations += 1
        if self.n == 0:
            return _SuperLUFactor(None, None)  # type: ignore[arg-type]
        if np.iscomplexobj(data) or not spd or self.backend == "superlu":
            return self._superlu(data, pivot=not spd)
        return self._cholmod_factor(data)

    # -- SuperLU ---------------------------------------------------------------
    def _superlu(self, data: NDArray, pivot: bool) -> _SuperLUFactor:
        A = self._matrix(data)
        if pivot:
            return _SuperLUFactor(splu(A), None)
        if self._perm is None:
            lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
            # SuperLU factors A[:, perm_c]; the symmetric reordering is its inverse.
            self._perm = np.argsort(lu.perm_c).astype(np.int64)
            # Map data of A to data of A[p][:, p] once, so later calls permute by fancy indexing.
            tagged = self._matrix(np.arange(1, len(data) + 1, dtype=np.float64))
            permuted = tagged[self._perm][:, self._perm].tocsc()
            permuted.sort_indices()
            self._perm_data = permuted.data.astype(np.int64) - 1
            self._perm_structure = (permuted.indices.copy(), permuted.indptr.copy())
            return _SuperLUFactor(lu, None)
        indices, indptr = self._perm_structure
        B = sp.csc_matrix((data[self._perm_data], indices, indptr), shape=(self.n, self.n))
        lu = splu(B, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        return _SuperLUFactor(lu, self._perm)

    # -- CHOLMOD ---------------------------------------------------------------
    def _cholmod_factor(self, data: NDArray) -> _CholmodFactor:
        import cvxopt
        from cvxopt import cholmod

        if self._cholmod is None:
            rows = self.indices
            cols = np.repeat(np.arange(self.n), np.diff(self.indptr))
            lower = np.flatnonzero(rows >= cols)
            A = cvxopt.spmatrix(cvxopt.matrix(np.ascontiguousarray(data[lower], dtype=np.float64)),
                                cvxopt.matrix(rows[lower]), cvxopt.matrix(cols[lower]), (self.n, self.n))
            self._cholmod = (lower, A, cholmod.symbolic(A, uplo="L"))
        else:  # the same pattern: new values in the lower triangle
            lower, A, _ = self._cholmod
            A.V = cvxopt.matrix(np.ascontiguousarray(data[lower], dtype=np.float64))
        _, A, F = self._cholmod
        try:
            cholmod.numeric(A, F)
        except ArithmeticError:
            raise np.linalg.LinAlgError("matrix is not positive definite (CHOLMOD)") from None
        self._version += 1
        return _CholmodFactor(self, self._version)

    def _cholmod_solve(self, rhs: NDArray) -> NDArray:
        import cvxopt
        from cvxopt import cholmod

        rhs = np.asarray(rhs, dtype=np.float64)
        columns = cvxopt.matrix(np.asfortranarray(rhs.reshape(self.n, -1)))
        if columns.size[1] < SPSOLVE_COLUMNS:
            cholmod.solve(self._cholmod[2], columns)  # cvxopt solves dense columns one at a time
            return np.asarray(columns).reshape(rhs.shape)
        solution = cholmod.spsolve(self._cholmod[2], cvxopt.sparse(columns))  # blocks of columns per pass over L
        return np.asarray(cvxopt.matrix(solution)).reshape(rhs.shape)

    def solve(self, data: NDArray, rhs: NDArray, *, spd: bool = True) -> NDArray:
        """Factor and solve in one call (``rhs`` of shape (n,) or (n, k))."""
        return self.factor(data, spd=spd).solve(rhs)
