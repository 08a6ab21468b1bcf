"""Static equilibrium of elastic spring networks (linear or geometrically nonlinear)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import splu

from physnet.elements.spring import spring_forces, stiffness_matrix
from physnet.errors import ConvergenceError, NetlistError
from physnet.system import System

__all__ = ["ElasticResult", "solve_elastic"]


@dataclass(frozen=True, eq=False)
class ElasticResult:
    """Displacements of an elastic network at equilibrium.

    Attributes
    ----------
    u : ndarray, shape (n_nodes, d)
        Node displacements (m); zero at pinned nodes and ground.
    converged : bool
    iterations : int
    residual : float
        Largest force imbalance at a free degree of freedom (N).
    """

    u: NDArray[np.float64]
    converged: bool
    iterations: int
    residual: float


def _free_dofs(system: System, pinned: Sequence[str]) -> NDArray[np.int64]:
    d = system.positions.shape[1]
    fixed = np.zeros((system.n_nodes, d), dtype=bool)
    fixed[0] = True  # ground carries no position in an elastic network
    fixed[np.isnan(system.positions).any(axis=1)] = True
    for name in pinned:
        fixed[system.node_index(name)] = True
    return np.flatnonzero(~fixed.reshape(-1))


def _factor_stiffness(K: sp.csc_matrix):
    """LU factors of the free stiffness matrix; raises NetlistError if the network is floppy.

    A mechanism seldom produces an exactly zero pivot in floating point (the
    bond directions are rounded), so SuperLU alone would return a huge
    meaningless displacement. The smallest eigenvalue of the Jacobi-scaled
    matrix ``D^-1/2 K D^-1/2`` is therefore estimated by three steps of
    inverse iteration with the same factors: it is ~1e-16 for a mechanism and
    stays above ~1e-11 for rigid networks whose stiffnesses span twelve decades.
    """
    floppy = NetlistError("the elastic network is floppy (stiffness matrix singular to working precision): pin "
                          "more nodes or add springs so that no free node or rigid motion is unconstrained")
    try:
        lu = splu(K)
    except RuntimeError:
        raise floppy from None
    scale = np.sqrt(np.abs(K.diagonal()))
    scale[scale == 0] = 1.0
    y = np.random.default_rng(0).standard_normal(K.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(3):
            y = scale * lu.solve(scale * y)
            y /= np.linalg.norm(y)
        smallest = y @ ((K @ (y / scale)) / scale)
    if not np.isfinite(smallest) or abs(smallest) < 1e-13:
        raise floppy
    return lu


def solve_elastic(
    system: System,
    forces: NDArray,
    pinned: Sequence[str],
    k: NDArray | None = None,
    *,
    geometric: bool = False,
    tol: float = 1e-12,
    max_iter: int = 50,
) -> ElasticResult:
    """Displacements under external ``forces`` with ``pinned`` nodes held fixed.

    Parameters
    ----------
    system : System
        Elastic network (springs between positioned nodes).
    forces : ndarray, shape (n_nodes, d)
        External force on every node (N).
    pinned : sequence of str
        Nodes held at their reference position. Enough must be pinned to
        remove rigid motions (two in 2-D, three non-collinear in 3-D).
    k : ndarray, optional
        Spring stiffnesses, overriding the system's.
    geometric : bool, optional
        Solve the exact (geometrically nonlinear) equilibrium by Newton;
        otherwise one linear solve with ``K = Σ k b̂ b̂ᵀ``.

    Raises
    ------
    NetlistError
        The free part of the stiffness matrix is singular (floppy modes).
    ConvergenceError
        Nonlinear Newton did not converge.

    Examples
    --------
    Two perpendicular springs hold node ``r``; a force (1, 2) N moves it by
    (1/k₁, 2/k₂):

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> for name, xy in (("p", (0.0, 0.0)), ("q", (1.0, 1.0)), ("r", (0.0, 1.0))):
    ...     _ = net.node(name, xy)
    >>> net.spring("S1", "r", "p", k=4.0); net.spring("S2", "r", "q", k=2.0)
    >>> system = net.compile()
    >>> f = np.zeros((4, 2)); f[system.node_index("r")] = (1.0, 2.0)
    >>> solve_elastic(system, f, pinned=["p", "q"]).u[system.node_index("r")]
    array([0.5, 0.5])
    """
    d = system.positions.shape[1]
    free = _free_dofs(system, pinned)
    f_ext = np.asarray(forces, dtype=np.float64).reshape(-1)
    u = np.zeros(system.n_nodes * d)
    K = sp.csc_matrix(stiffness_matrix(system, k).tocsc()[free][:, free])
    if free.size:  # everything pinned: nothing to solve
        u[free] = _factor_stiffness(K).solve(f_ext[free])
    if not geometric:
        return ElasticResult(u.reshape(-1, d), True, 1, 0.0)
    for it in range(1, max_iter + 1):
        U = u.reshape(-1, d)
        residual = (f_ext + spring_forces(system, np.nan_to_num(U), k).reshape(-1))[free]
        norm = float(np.max(np.abs(residual), initial=0.0))
        if norm <= tol * (1.0 + np.max(np.abs(f_ext), initial=0.0)):
            return ElasticResult(U, True, it, norm)
        Kt = stiffness_matrix(system, k, np.nan_to_num(U), geometric=True).tocsc()[free][:, free]
        u[free] += splu(sp.csc_matrix(Kt)).solve(residual)
    raise ConvergenceError(f"elastic Newton did not converge in {max_iter} iterations "
                           f"(force residual {norm:.3g} N)", max_iter, norm)
