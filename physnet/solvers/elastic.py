"""Static equilibrium of elastic spring networks (linear or geometrically nonlinear).

The linear equilibrium ``K u = f`` over the free degrees of freedom goes
through the cached :func:`~physnet.solvers.elastic_operator.elastic_operator`
of the system's topology and pinned nodes: the pattern and the symbolic
factorization are built once, a new stiffness vector costs one numeric
factorization, and a batch of force patterns is one multi-right-hand-side
solve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.elements.spring import spring_forces, stiffness_blocks
from physnet.errors import ConvergenceError, NetlistError
from physnet.solvers.elastic_operator import ElasticOperator, elastic_operator
from physnet.system import System

__all__ = ["ElasticResult", "solve_elastic"]


@dataclass(frozen=True, eq=False)
class ElasticResult:
    """Displacements of an elastic network at equilibrium.

    Attributes
    ----------
    u : ndarray, shape (n_nodes, d) or (batch, n_nodes, d)
        Node displacements (m); zero at pinned nodes and ground. A batch of
        force patterns gives a leading batch axis.
    converged : bool
    iterations : int
        Newton iterations (1 for a linear solve); the most of any sample
        in a batch.
    residual : float
        Largest force imbalance at a free degree of freedom (N), over the
        whole batch.

    Examples
    --------
    Node ``r`` hangs from a vertical spring (k = 4) and a horizontal one
    (k = 2); a small force (0.01, 0.02) N, solved exactly (geometrically
    nonlinear), moves it by nearly the linear (0.01/2, 0.02/4) m:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "r"], [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "r", "p", k=4.0); net.spring("S2", "r", "q", k=2.0)
    >>> f = np.zeros((4, 2)); f[3] = (0.01, 0.02)
    >>> res = solve_elastic(net.compile(), f, pinned=["p", "q"], geometric=True)
    >>> res.converged, bool(res.residual < 1e-12), res.u.shape, np.round(res.u[3], 6).tolist()
    (True, True, (4, 2), [0.004963, 0.005])
    """

    u: NDArray[np.float64]
    converged: bool
    iterations: int
    residual: float


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
    forces : ndarray, shape (n_nodes, d) or (batch, n_nodes, d)
        External force on every node (N); rows of pinned nodes are
        reactions and ignored. A batch of force patterns is solved as one
        multi-right-hand-side solve (geometric Newton: one run per sample).
    pinned : sequence of str
        Nodes held at their reference position. Enough must be pinned to
        remove rigid motions (two in 2-D, three non-collinear in 3-D).
    k : ndarray, optional
        Spring stiffnesses, overriding the system's.
    geometric : bool, optional
        Solve the exact (geometrically nonlinear) equilibrium by Newton;
        otherwise one linear solve with ``K = Σ k b̂ b̂ᵀ``.
    tol, max_iter : optional
        Newton's force tolerance (relative to ``1 + max|f|``) and iteration
        limit.

    Notes
    -----
    The factorization of ``K`` is cached with the system's topology and
    pinned nodes (:func:`~physnet.solvers.elastic_operator.elastic_operator`):
    calls with unchanged ``k`` reuse it.

    Raises
    ------
    NetlistError
        The free part of the stiffness matrix is singular (floppy modes);
        ``forces`` of the wrong shape.
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

    A batch of force patterns, one multi-right-hand-side solve:

    >>> batch = np.stack([f, -2 * f])
    >>> np.round(solve_elastic(system, batch, pinned=["p", "q"]).u[:, system.node_index("r")], 12).tolist()
    [[0.5, 0.5], [-1.0, -1.0]]
    """
    op = elastic_operator(system, pinned)
    n_nodes, d = op.shape
    f = np.asarray(forces, dtype=np.float64)
    if f.ndim not in (2, 3) or f.shape[-2:] != (n_nodes, d):
        raise NetlistError(f"forces: expected shape ({n_nodes}, {d}) (one row per node, ground first) or "
                           f"(batch, {n_nodes}, {d}), got {f.shape}")
    k = system["spring"]["k"] if k is None else np.asarray(k, dtype=np.float64)
    x = op.solve(k, op.restrict(f).T).T  # one multi-right-hand-side solve: the columns are the samples
    if not geometric:
        return ElasticResult(op.full(x), True, 1, 0.0)
    if f.ndim == 2:
        return _newton(system, op, f, k, x, tol, max_iter)
    runs = [_newton(system, op, fi, k, xi, tol, max_iter) for fi, xi in zip(f, x)]  # each sample its own tangent
    return ElasticResult(np.stack([r.u for r in runs]), True, max(r.iterations for r in runs),
                         max(r.residual for r in runs))


def _newton(system: System, op: ElasticOperator, f: NDArray, k: NDArray, x: NDArray, tol: float,
            max_iter: int) -> ElasticResult:
    """Geometrically nonlinear equilibrium under forces ``f`` (n_nodes, d) by Newton from free dofs ``x``.

    Each tangent stiffness is its own matrix: it is assembled on the
    operator's pattern and factored by SuperLU with pivoting (a tangent
    under compression may be indefinite).
    """
    scale = tol * (1.0 + np.max(np.abs(f), initial=0.0))
    for it in range(1, max_iter + 1):
        U = op.full(x)
        residual = op.restrict(f + spring_forces(system, np.nan_to_num(U), k))
        norm = float(np.max(np.abs(residual), initial=0.0))
        if norm <= scale:
            return ElasticResult(U, True, it, norm)
        tangent = op.block_data(stiffness_blocks(system, k, np.nan_to_num(U), geometric=True))
        x = x + op.factor_data(tangent, spd=False).solve(residual)
    raise ConvergenceError(f"elastic Newton did not converge in {max_iter} iterations "
                           f"(force residual {norm:.3g} N)", max_iter, norm)
