"""Learning in elastic spring networks: exact gradient, frequency propagation and coupled learning.

An elastic network of springs (stiffness ``k_j``, unit bond vector ``b̂_j``)
between positioned nodes, some of them pinned, responds to node forces ``f``
with displacements ``u``: ``K u = f`` with ``K = Σ k_j b̂_j b̂_jᵀ`` (linear,
stamped like a conductance into d×d blocks). The edge "voltage drop" is the
bond extension ``ΔE_j = b̂_j·(u_a - u_b)``.

Outputs
    What the cost reads is an :class:`ElasticOutputs`: *pair* outputs, the
    change of distance between two nodes ``b̂·(u_a - u_b)`` (``b̂`` the unit
    vector from ``b`` to ``a``; the standard allostery target), and/or *node*
    outputs, one displacement component ``u_a[axis]``. A plain list of tagged
    tuples ``[("pair", a, b), ("node", a, axis)]`` is accepted wherever an
    :class:`ElasticOutputs` is. Every output is linear in ``u``: ``y = R u``.

Exact gradient (:func:`elastic_gradient`)
    With the adjoint ``K λ = Rᵀ ∂C/∂y`` (pinned nodes held),
    ``dC/dk_j = -(b̂_j·(λ_a - λ_b)) (b̂_j·(u_a - u_b))``.

Coupled learning (:func:`elastic_coupled_estimate`)
    Stern, Hexner, Rocks & Liu (PRX 2021): the free state ``u^F`` against a
    clamped state whose outputs are held at ``y^C = y^F - η ∂C/∂y``
    (``y^F + η(y* - y^F)`` for the squared error). The clamp exerts the
    forces ``Rᵀ μ`` with ``μ = G⁻¹ (y^C - y^F)``, ``G = R K⁻¹ Rᵀ`` the
    outputs' compliance; each spring compares its elastic energy in the two
    states, and the estimate ``½[(ΔE^C_j)² - (ΔE^F_j)²] / η`` tends, as
    ``η → 0``, to ``dC'/dk_j`` of the compliance-weighted cost
    ``C' = ½ (y - y*)ᵀ G⁻¹ (y - y*)`` (``G`` held fixed), with an ``O(η)``
    remainder. One output: ``dC/dk / G``, the adjoint direction exactly.

Frequency propagation (:func:`elastic_fp_update`)
    The activation forces ``F_A cos(ω_A t)`` (``ω_A = 0``: static) and the
    error forces ``F_B cos(ω_B t)`` drive the same network, with
    ``F_B = Rᵀ e`` and ``e = -β ∂C/∂y`` evaluated at the activation's
    output coefficient: a node output gets the force ``e`` along its axis, a
    pair output equal and opposite forces ``±e b̂`` on its two nodes. Each
    spring reads the *in-phase* coefficient of its own extension at each
    frequency, ``ΔE_j = (2/T) ∫ ΔE_j(t) cos(ωt) dt`` (the mean at ``ω = 0``),
    and updates ``Δk_j = -(α/β) ΔE^A_j ΔE^B_j``. With masses ``M`` and
    damping ``Γ`` the network obeys ``M ü + Γ u̇ + K u = f(t)``, so the
    coefficients are ``Re[(K - ω²M + jωΓ)⁻¹ F]``; at ``ω = 0`` this is
    ``K⁻¹ F`` and the update is exactly ``-α dC/dk``, and below the lowest
    eigenfrequency ``ω_min`` the relative bias is ``O((ω/ω_min)²)``.
    :func:`elastic_fp_update` warns with :class:`QuasiStaticWarning` when a
    drive frequency exceeds ``QUASI_STATIC_RATIO · ω_min`` (0.1: bias up to
    about 1 %).

Batches
    Every function here takes one sample (forces (n_nodes, d), targets
    (n_outputs,)) or a batch (forces (batch, n_nodes, d), targets
    (batch, n_outputs)) and then returns the batch-mean estimate and cost,
    with the per-sample states on a leading batch axis. The factorization
    of ``K`` is cached with the system's topology and pinned nodes
    (:func:`~physnet.solvers.elastic_operator.elastic_operator`): one
    numeric factorization per new ``k``, and the samples of a batch are the
    columns of multi-right-hand-side solves (the transient FP solver steps
    all of them together).

Frequencies here are *angular* (rad/s); masses in kg, stiffnesses in N/m,
dashpots and drag in N·s/m.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import eigsh

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.fp import FPUpdate
from physnet.learning.gradient import GradientResult, central_differences
from physnet.solvers.elastic_operator import ElasticOperator, elastic_operator
from physnet.solvers.lockin import lockin
from physnet.system import System

__all__ = [
    "ElasticOutputs",
    "QuasiStaticWarning",
    "QUASI_STATIC_RATIO",
    "ELASTIC_SOLVERS",
    "check_fp_args",
    "elastic_gradient",
    "elastic_coupled_estimate",
    "elastic_modes",
    "elastic_fp_update",
]

QUASI_STATIC_RATIO = 0.1
"""Drive frequencies above this fraction of the lowest eigenfrequency trigger :class:`QuasiStaticWarning`."""

ELASTIC_SOLVERS = ("phasor", "transient")
_DENSE_MODES_MAX = 600  # free dofs up to which modes come from a dense generalized eigensolver
_FLOPPY_RATIO = 1e-12  # ω_min² below this fraction of max(K_ii / M_ii) is a mechanism (zero mode)
_AXES = {"x": 0, "y": 1, "z": 2}
_FLOPPY = ("the elastic network is floppy (a zero-frequency mode: stiffness matrix singular): pin more nodes or add "
           "springs so that no free node or rigid motion is unconstrained")


class QuasiStaticWarning(UserWarning):
    """A drive frequency is not well below the network's lowest eigenfrequency, so FP is biased.

    Examples
    --------
    An error tone at 1 rad/s on a mass held by two springs (lowest eigenfrequency √2 rad/s):

    >>> import warnings, numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "m", "p", k=2.0); net.spring("S2", "m", "q", k=5.0)
    >>> f = np.zeros((4, 2)); f[3] = (1.0, 1.0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", QuasiStaticWarning)
    ...     try:
    ...         elastic_fp_update(net.compile(), forces=f, pinned=["p", "q"], outputs=[("node", "m", "x")],
    ...                           targets=[0.0], alpha=0.1, beta=1e-3, omega_a=0.0, omega_b=1.0)
    ...     except QuasiStaticWarning as w:
    ...         print(str(w).split(":")[0])
    omega_b = 1 rad/s is 0.707 × the lowest eigenfrequency 1.414 rad/s (quasi-static threshold 0.1)
    """


# ------------------------------------------------------------------ outputs
@dataclass(frozen=True)
class ElasticOutputs:
    """The output quantities of an elastic network: pair extensions and node displacement components.

    Parameters
    ----------
    terms : tuple of tuple
        ``("pair", a, b)``: change of the distance between nodes ``a`` and
        ``b``, linearised as ``b̂·(u_a - u_b)`` with ``b̂`` the unit vector
        from ``b`` to ``a`` (m); ``("node", a, axis)``: displacement of ``a``
        along ``axis`` (0, 1, 2 or ``"x"``, ``"y"``, ``"z"``) (m).

    Examples
    --------
    >>> out = ElasticOutputs.pairs([("a", "b")]) + ElasticOutputs.nodes([("c", "y")])
    >>> out.terms
    (('pair', 'a', 'b'), ('node', 'c', 'y'))
    >>> ElasticOutputs.parse([("pair", "a", "b")]) == ElasticOutputs.pairs([("a", "b")])
    True
    """

    terms: tuple[tuple[str, str, Any], ...]

    @classmethod
    def pairs(cls, pairs: Iterable[tuple[str, str]]) -> ElasticOutputs:
        """Pair outputs: the change of distance of each ``(a, b)``."""
        return cls.parse([("pair", *p) for p in pairs])

    @classmethod
    def nodes(cls, nodes: Iterable[tuple[str, int | str]]) -> ElasticOutputs:
        """Node outputs: the displacement component of each ``(node, axis)``."""
        return cls.parse([("node", *n) for n in nodes])

    @classmethod
    def parse(cls, spec: ElasticOutputs | Iterable[tuple]) -> ElasticOutputs:
        """An :class:`ElasticOutputs` from itself or a list of tagged tuples (checks the shape of each)."""
        if isinstance(spec, ElasticOutputs):
            return spec
        if isinstance(spec, (str, bytes)):
            raise NetlistError(f"outputs = {spec!r}: give a list like [('pair', a, b), ('node', a, axis)]")
        terms = tuple(tuple(t) if isinstance(t, (tuple, list)) else (t,) for t in spec)
        for t in terms:
            if len(t) != 3 or t[0] not in ("pair", "node"):
                raise NetlistError(f"output {t!r} is not ('pair', a, b) or ('node', a, axis) (untagged pairs: "
                                   "ElasticOutputs.pairs([(a, b), ...]))")
        if not terms:
            raise NetlistError("outputs is empty: name at least one ('pair', a, b) or ('node', a, axis)")
        return cls(terms)

    def __add__(self, other: ElasticOutputs) -> ElasticOutputs:
        return ElasticOutputs(self.terms + ElasticOutputs.parse(other).terms)

    def __len__(self) -> int:
        return len(self.terms)

    def readout(self, system: System) -> sp.csr_matrix:
        """Matrix ``R`` (n_outputs × n_nodes·d, node-major dofs) with outputs ``y = R u``.

        Raises
        ------
        NetlistError
            An unknown node, a node without a position, a pair of one node
            (or two coincident nodes), or an axis out of range.

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.nodes(["a", "b"], [(0.0, 0.0), (0.0, 2.0)]).tolist()
        [1, 2]
        >>> net.spring("S", "a", "b", k=1.0)
        >>> R = ElasticOutputs.parse([("pair", "b", "a"), ("node", "a", "x")]).readout(net.compile())
        >>> R.toarray()
        array([[ 0.,  0.,  0., -1.,  0.,  1.],
               [ 0.,  0.,  1.,  0.,  0.,  0.]])
        """
        positions = _positions(system)
        d = positions.shape[1]
        rows, cols, vals = [], [], []
        for r, (kind, a, b) in enumerate(self.terms):
            ia = _positioned_node(system, a)
            if kind == "node":
                rows.append([r])
                cols.append([ia * d + _axis(b, d, a)])
                vals.append([1.0])
                continue
            ib = _positioned_node(system, b)
            bond = positions[ia] - positions[ib]
            length = float(np.linalg.norm(bond))
            if length == 0.0:
                raise NetlistError(f"output pair ({a!r}, {b!r}): the two nodes sit at the same position, so the "
                                   "pair has no direction (name two distinct nodes)")
            rows.append([r] * 2 * d)
            cols.append(list(ia * d + np.arange(d)) + list(ib * d + np.arange(d)))
            vals.append(list(bond / length) + list(-bond / length))
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(self.terms), system.n_nodes * d))


def _positions(system: System) -> NDArray[np.float64]:
    if system.positions is None:
        raise NetlistError("this system has no node positions; elastic networks need Netlist.node(name, position)")
    return system.positions


def _positioned_node(system: System, name: str) -> int:
    i = system.node_index(name)
    if i == 0 or np.isnan(system.positions[i]).any():
        raise NetlistError(f"node {name!r} has no position, so it has no displacement (give it one with "
                           "Netlist.node(name, position) or name another node)")
    return i


def _axis(axis: Any, d: int, node: str) -> int:
    index = _AXES.get(axis, axis) if isinstance(axis, str) else axis
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < d:
        raise NetlistError(f"output ('node', {node!r}, {axis!r}): axis must be 0..{d - 1} or one of "
                           f"{', '.join(repr(k) for k in list(_AXES)[:d])}")
    return int(index)


# ---------------------------------------------------------------- problem
@dataclass(frozen=True, eq=False)
class _Problem:
    """A validated elastic learning problem over the free degrees of freedom; the samples are columns.

    Arrays over the free dofs hold one column per sample, shape
    (n_free, batch); a single sample is a batch of one whose results drop
    the batch axis again (``batched`` is False).
    """

    system: System
    op: ElasticOperator
    k: NDArray[np.float64]
    forces: NDArray[np.float64]  # input forces on the free dofs (n_free, batch)
    batched: bool  # the forces came with a batch axis, so results keep it
    E: sp.csr_matrix  # spring extensions from free displacements (n_springs × n_free)
    R: sp.csr_matrix  # outputs from free displacements (n_out × n_free)
    targets: NDArray[np.float64]  # (batch, n_out)
    cost: Cost

    def samples(self, a: NDArray) -> NDArray:
        """``a`` (batch, ...) as returned to the caller: unchanged for a batch, ``a[0]`` for one sample."""
        return a if self.batched else a[0]

    def fields(self, x: NDArray) -> NDArray:
        """Free-dof columns (n_free, batch) as node fields (batch, n_nodes, d), zero at fixed dofs."""
        return self.samples(self.op.full(x.T))

    def outputs(self, u: NDArray) -> NDArray:
        """Outputs (batch, n_out) of free displacements (n_free, batch)."""
        return (self.R @ u).T

    def cost_value(self, y: NDArray) -> float:
        """Mean cost over the samples of the outputs ``y`` (batch, n_out)."""
        return float(np.mean(self.cost.value(self.samples(y), self.samples(self.targets))))

    def cost_grad(self, y: NDArray) -> NDArray:
        """``∂C/∂y`` (batch, n_out) of each sample's outputs ``y`` (batch, n_out)."""
        grad = self.cost.grad(self.samples(y), self.samples(self.targets))
        return np.asarray(grad, dtype=np.float64).reshape(y.shape)

    def error_signal(self, y: NDArray, beta: float) -> NDArray:
        """``e = -β ∂C/∂y`` (n_out, batch) of each sample's outputs ``y`` (batch, n_out)."""
        return (-beta * self.cost_grad(y)).T

    def on_outputs(self, solve: Callable[[NDArray], NDArray], e: NDArray) -> NDArray:
        """``solve(Rᵀ e)``: the response (n_free, batch) to forces ``e`` (n_out, batch) on the outputs.

        The solve is linear, so when a batch has more than twice as many
        samples as there are outputs, ``solve(Rᵀ) e`` (one column per
        output) replaces one column per sample. Smaller batches, where
        that saves little, solve their own columns, so each sample's
        result is the one it gets alone.
        """
        if e.shape[1] <= 2 * e.shape[0]:
            return solve(self.R.T @ e)
        return solve(self.R.T.toarray()) @ e


def _per_element(values: ArrayLike | None, count: int, default: float, what: str, names: Sequence[str],
                 strict: bool) -> NDArray[np.float64]:
    """One finite value per element (``> 0`` if ``strict`` else ``>= 0``), from a scalar or an array."""
    arr = np.full(count, default) if values is None else np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(count, float(arr))
    if arr.shape != (count,):
        raise NetlistError(f"{what}: expected one value or {count} values, got shape {arr.shape}")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(arr) | ((arr <= 0) if strict else (arr < 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise NetlistError(f"{what} of {names[i]!r} = {float(arr[i])!r} is invalid (must be finite and "
                           f"{'> 0' if strict else '>= 0'})")
    return arr


def _sample_forces(system: System, forces: ArrayLike, d: int) -> NDArray[np.float64]:
    """Forces of shape (n_nodes, d) or (batch, n_nodes, d), checked, with the batch axis (batch, n_nodes, d)."""
    n = system.n_nodes
    try:
        f = np.asarray(forces, dtype=np.float64)
    except (TypeError, ValueError):
        raise NetlistError(f"forces must be a numeric array of shape ({n}, {d}) or (batch, {n}, {d})") from None
    if f.ndim not in (2, 3) or f.shape[-2:] != (n, d):
        raise NetlistError(f"forces: expected shape ({n}, {d}) (one row per node, ground first) or "
                           f"(batch, {n}, {d}), got {f.shape}")
    if f.ndim == 3 and len(f) == 0:
        raise NetlistError(f"forces: the batch is empty (shape {f.shape}); give at least one sample")
    bad = ~np.isfinite(f).all(axis=-1).reshape(-1)
    if bad.any():
        sample, node = divmod(int(np.argmax(bad)), n)
        where = f" in sample {sample}" if f.ndim == 3 else ""
        raise NetlistError(f"forces on node {system.node_names[node]!r}{where} must be finite")
    return f.reshape(-1, n, d)


def _sample_targets(targets: ArrayLike, n_out: int, forces_shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Targets with the batch axis (batch, n_out), matching forces of shape ``forces_shape``."""
    y = np.asarray(targets, dtype=np.float64)
    if len(forces_shape) == 2:
        if y.size != n_out:
            raise NetlistError(f"targets: expected {n_out} values (one per output), got {np.shape(targets)}")
        return y.reshape(1, n_out)
    batch = forces_shape[0]
    if y.shape != (batch, n_out):
        raise NetlistError(f"targets: forces of shape {forces_shape} hold a batch of {batch} samples, so targets "
                           f"must have shape ({batch}, {n_out}) (one row of {n_out} output values per sample), "
                           f"got {y.shape}")
    return y


def _prepare(system: System, k: ArrayLike | None, forces: ArrayLike, pinned: Sequence[str],
             outputs: ElasticOutputs | Iterable[tuple], targets: ArrayLike, cost: Cost) -> _Problem:
    positions = _positions(system)
    springs = system["spring"]
    if len(springs) == 0:
        raise NetlistError("the system has no springs: elastic learning trains spring stiffnesses")
    d = positions.shape[1]
    k = _per_element(springs["k"] if k is None else k, len(springs), 1.0, "stiffness k", springs.names, True)
    f = _sample_forces(system, forces, d)
    op = elastic_operator(system, pinned)
    if op.free.size == 0:
        raise NetlistError("every node is pinned: nothing can move (unpin some nodes)")
    out = ElasticOutputs.parse(outputs)
    R = out.readout(system).tocsc()[:, op.free].tocsr()
    y = _sample_targets(targets, len(out), np.shape(forces))
    unit = _unit_bonds(positions, springs.a, springs.b)
    E = _pair_operator(springs.a, springs.b, unit, system.n_nodes * d).tocsc()[:, op.free].tocsr()
    return _Problem(system, op, k, op.restrict(f).T, np.ndim(forces) == 3, E, R, y, cost)


def _unit_bonds(positions: NDArray, a: NDArray, b: NDArray) -> NDArray:
    bond = positions[a] - positions[b]
    return bond / np.linalg.norm(bond, axis=1)[:, None]


def _pair_operator(a: NDArray, b: NDArray, unit: NDArray, n: int) -> sp.csr_matrix:
    """Rows ``b̂_j·(u_a - u_b)`` over node-major dofs."""
    m, d = unit.shape
    comp = np.arange(d)
    rows = np.repeat(np.arange(m), 2 * d)
    cols = np.concatenate([a[:, None] * d + comp, b[:, None] * d + comp], axis=1).reshape(-1)
    vals = np.concatenate([unit, -unit], axis=1).reshape(-1)
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, n))


def _static(problem: _Problem, forces: NDArray) -> NDArray:
    """``K⁻¹ forces`` for free-dof force columns (n_free, batch), on the cached factor (raises if floppy)."""
    return problem.op.solve(problem.k, forces)


# -------------------------------------------------------------- gradients
def elastic_gradient(
    system: System,
    k: ArrayLike | None = None,
    *,
    forces: ArrayLike,
    pinned: Sequence[str],
    outputs: ElasticOutputs | Iterable[tuple],
    targets: ArrayLike,
    cost: Cost = SQUARED_ERROR,
    method: str = "adjoint",
    fd_step: float = 1e-6,
) -> GradientResult:
    """``dC/dk`` of an elastic network's cost with respect to every spring stiffness.

    Parameters
    ----------
    system : System
        Elastic network (springs between positioned nodes).
    k : array_like, optional
        Spring stiffnesses (N/m), one per spring; default the netlist's.
    forces : array_like, shape (n_nodes, d) or (batch, n_nodes, d)
        Static input forces on the nodes (N), of one sample or of a batch;
        rows of pinned nodes are reactions and ignored.
    pinned : sequence of str
        Nodes held fixed (enough to remove rigid motions).
    outputs : ElasticOutputs or list of tagged tuples
        What the cost reads (see :class:`ElasticOutputs`).
    targets : array_like, shape (n_outputs,) or (batch, n_outputs)
        Desired output values (m), one row per sample for a batch.
    cost : Cost, optional
        Default ``½‖y - targets‖²``.
    method : {"adjoint", "fd"}
        Exact adjoint (two linear solves) or central finite differences
        with relative step ``fd_step`` (two solves per spring; for tests).

    Returns
    -------
    GradientResult
        ``grad`` per spring (cost per N/m; the batch mean), ``cost`` (the
        batch mean), ``states`` the displacements (n_nodes, d), or
        (batch, n_nodes, d) for a batch, ``edges`` the spring names.

    Raises
    ------
    NetlistError
        Unknown or unpositioned nodes, bad shapes (also forces and targets
        of different batch sizes), non-positive stiffnesses, a floppy
        network, an unknown method.

    Examples
    --------
    Node ``m`` hangs from two pinned nodes by perpendicular springs; a force
    (1, 1) N moves it by ``(1/k₁, 1/k₂)``, so with target 0 for both
    components ``dC/dk_j = -1/k_j³``:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "m", "p", k=2.0); net.spring("S2", "m", "q", k=5.0)
    >>> system = net.compile()
    >>> f = np.zeros((4, 2)); f[3] = (1.0, 1.0)
    >>> task = dict(forces=f, pinned=["p", "q"], outputs=[("node", "m", "x"), ("node", "m", "y")], targets=[0, 0])
    >>> r = elastic_gradient(system, **task)
    >>> r.edges, np.round(r.grad, 12).tolist(), round(r.cost, 12)
    (('S1', 'S2'), [-0.125, -0.008], 0.145)
    >>> bool(np.allclose(elastic_gradient(system, **task, method="fd").grad, r.grad, atol=1e-9))
    True

    A batch of two samples (the second force doubled) on one factorization:
    the gradient is the mean of the two samples' gradients (``× 1`` and
    ``× 4``):

    >>> batch = dict(task, forces=np.stack([f, 2 * f]), targets=np.zeros((2, 2)))
    >>> b = elastic_gradient(system, **batch)
    >>> bool(np.allclose(b.grad, 2.5 * r.grad, rtol=1e-13)), b.states.shape, round(b.cost, 12)
    (True, (2, 4, 2), 0.3625)
    """
    problem = _prepare(system, k, forces, pinned, outputs, targets, cost)
    u = _static(problem, problem.forces)
    y = problem.outputs(u)
    value = problem.cost_value(y)
    if method == "adjoint":
        lam = problem.on_outputs(partial(_static, problem), problem.error_signal(y, -1.0))  # K λ = Rᵀ ∂C/∂y
        grad = -np.mean((problem.E @ lam) * (problem.E @ u), axis=1)
        info: dict[str, Any] = {"solves": 2}
    elif method == "fd":
        grad = central_differences(
            lambda k: problem.cost_value(problem.outputs(_static(replace(problem, k=k), problem.forces))),
            problem.k, range(len(problem.k)), fd_step)
        info = {"relative_step": fd_step, "solves": 2 * len(problem.k) + 1}
    else:
        raise NetlistError(f"unknown elastic gradient method {method!r} (known: 'adjoint', 'fd')")
    return GradientResult(grad, value, method, tuple(system["spring"].names), problem.fields(u), info)


def elastic_coupled_estimate(
    system: System,
    k: ArrayLike | None = None,
    *,
    forces: ArrayLike,
    pinned: Sequence[str],
    outputs: ElasticOutputs | Iterable[tuple],
    targets: ArrayLike,
    eta: float = 1e-3,
    cost: Cost = SQUARED_ERROR,
) -> GradientResult:
    """Coupled-learning estimate of ``dC/dk``: free state against outputs clamped a fraction ``η`` to the target.

    Parameters
    ----------
    system, k, forces, pinned, outputs, targets, cost
        As in :func:`elastic_gradient`.
    eta : float, optional
        Nudge factor ``η`` (``0 < η ≤ 1``): the outputs are clamped at
        ``y^C = y^F - η ∂C/∂y``, i.e. ``y^F + η(y* - y^F)`` for the squared
        error.

    Returns
    -------
    GradientResult
        ``grad = ½[(ΔE^C)² - (ΔE^F)²] / η`` per spring (the batch mean), so
        that a gradient step ``Δk = -α grad`` is Stern's update
        ``(α/2η)[(ΔE^F)² - (ΔE^C)²]``; as ``η → 0`` it tends to the
        gradient of the compliance-weighted cost (module docstring): for one
        output ``dC/dk / G``. ``states`` are the free displacements
        (n_nodes, d); ``info`` holds ``eta``, the ``clamp`` values
        ``y^C``, the ``clamped_states`` (n_nodes, d), the ``clamp_forces``
        ``Rᵀ μ`` (n_nodes, d) and the ``compliance`` ``G``
        (n_outputs, n_outputs, m/N). For a batch, states, clamps and clamp
        forces carry a leading batch axis.

    Raises
    ------
    NetlistError
        As :func:`elastic_gradient`; ``eta`` outside ``(0, 1]``; an output
        that cannot be clamped on its own (its nodes pinned, or repeated or
        fixed by the other outputs).

    Examples
    --------
    Node ``m`` hangs from two pinned nodes by perpendicular springs; its x
    displacement, ``1/k₁`` under a unit force, should be 0. The compliance
    is ``G = 1/k₁ = 0.5`` and ``dC/dk₁ = -1/k₁³ = -0.125``, so the estimate
    is ``-0.125 / 0.5 = -0.25`` up to ``η/8``:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "m", "p", k=2.0); net.spring("S2", "m", "q", k=5.0)
    >>> f = np.zeros((4, 2)); f[3] = (1.0, 1.0)
    >>> r = elastic_coupled_estimate(net.compile(), forces=f, pinned=["p", "q"], outputs=[("node", "m", "x")],
    ...                              targets=[0.0], eta=1e-3)
    >>> np.round(r.grad, 12).tolist(), r.info["compliance"].round(12).tolist(), r.info["clamp"].round(12).tolist()
    ([-0.249875, 0.0], [[0.5]], [0.4995])
    """
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and 0 < eta <= 1):
        raise NetlistError(f"eta = {eta!r} must be a number in (0, 1]: the clamp lies between the free output "
                           "and its target")
    problem = _prepare(system, k, forces, pinned, outputs, targets, cost)
    u = _static(problem, problem.forces)
    y = problem.outputs(u)
    X = _static(problem, problem.R.T.toarray())  # K⁻¹ Rᵀ: the response to a unit force on each output
    G = problem.R @ X
    if np.linalg.matrix_rank(G) < G.shape[0]:
        raise NetlistError("coupled learning clamps every output on its own, but these cannot be: an output's nodes "
                           "are pinned, or an output is repeated or fixed by the others (remove it)")
    clamp = y - eta * problem.cost_grad(y)
    mu = np.linalg.solve(G, (clamp - y).T)  # clamp forces on the outputs, one column per sample
    u_c = u + X @ mu
    e_f, e_c = problem.E @ u, problem.E @ u_c
    grad = np.mean(0.5 * (e_c**2 - e_f**2) / eta, axis=1)
    info = {"eta": eta, "clamp": problem.samples(clamp), "clamped_states": problem.fields(u_c),
            "clamp_forces": problem.fields(problem.R.T @ mu), "compliance": G, "solves": 2}
    return GradientResult(grad, problem.cost_value(y), "coupled", tuple(system["spring"].names),
                          problem.fields(u), info)


# --------------------------------------------------------------- dynamics
@dataclass(frozen=True, eq=False)
class _Dynamics:
    """``M ü + Γ u̇ + K u = f`` over the free dofs (``M`` diagonal); ``K`` and ``Γ`` on the operator's pattern."""

    op: ElasticOperator
    k: NDArray[np.float64]  # spring stiffnesses: K's factor is the operator's cached one
    K: sp.csc_matrix
    M: NDArray[np.float64]
    C: sp.csc_matrix
    _factors: dict = field(default_factory=dict, repr=False)

    def respond(self, f: NDArray, omega: float) -> NDArray:
        """Steady-state amplitude ``(K - ω²M + jωΓ)⁻¹ f`` (complex; real ``K⁻¹ f`` at ω = 0).

        ``f`` is (n_free,) or (n_free, batch): every sample on one factorization.
        """
        if omega == 0.0:
            return self.op.solve(self.k, f)
        if omega not in self._factors:  # one factorization per frequency, shared by both tones
            self._factors[omega] = self.op.factor_data(self.shifted(-omega**2, 1j * omega * self.C.data), spd=False)
        return self._factors[omega].solve(f.astype(np.complex128))

    def shifted(self, mass: float, extra: NDArray) -> NDArray:
        """Data of ``K + mass·M + extra`` on the pattern (``extra``: data of a matrix on the same pattern)."""
        data = self.K.data + extra
        data[self.op.diagonal] += mass * self.M
        return data


def _node_values(system: System, values: ArrayLike | None, default: float, what: str, free: NDArray,
                 strict: bool) -> NDArray[np.float64]:
    """Per-node values (scalar or shape (n_nodes,)) checked at the free nodes only."""
    arr = np.full(system.n_nodes, default) if values is None else np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(system.n_nodes, float(arr))
    if arr.shape != (system.n_nodes,):
        raise NetlistError(f"{what}: expected one value or {system.n_nodes} values (one per node, ground first), "
                           f"got shape {arr.shape}")
    nodes = np.unique(free // system.positions.shape[1])
    names = [system.node_names[i] for i in nodes]
    _per_element(arr[nodes], len(nodes), default, what, names, strict)
    return arr


def _dynamics(system: System, op: ElasticOperator, k: NDArray, masses: ArrayLike | None,
              damping: ArrayLike | None, drag: ArrayLike | None) -> _Dynamics:
    springs = system["spring"]
    d = op.shape[1]
    m = _node_values(system, masses, 1.0, "mass", op.free, strict=True)
    eta = _node_values(system, drag, 0.0, "drag", op.free, strict=False)
    gamma = _per_element(damping, len(springs), 0.0, "dashpot damping", springs.names, strict=False)
    c_data = op.stiffness_data(gamma)  # dashpots stamp like springs
    c_data[op.diagonal] += np.repeat(eta, d)[op.free]
    return _Dynamics(op, k, op.matrix(op.stiffness_data(k)), np.repeat(m, d)[op.free], op.matrix(c_data))


def _lowest_squared(dyn: _Dynamics, n_modes: int) -> NDArray[np.float64]:
    """The ``n_modes`` smallest eigenvalues ω² of ``K φ = ω² M φ``, ascending."""
    n = dyn.K.shape[0]
    if n <= _DENSE_MODES_MAX or n_modes >= n - 1:
        scale = 1.0 / np.sqrt(dyn.M)  # M⁻½ K M⁻½ is symmetric with the same eigenvalues
        A = (sp.diags(scale) @ dyn.K @ sp.diags(scale)).toarray()
        return scipy.linalg.eigh(A, eigvals_only=True, subset_by_index=[0, n_modes - 1])
    shift = -1e-6 * float(np.median(dyn.K.diagonal() / dyn.M))  # just below 0: finds zero modes too
    lam = eigsh(dyn.K, k=n_modes, M=sp.diags(dyn.M).tocsc(), sigma=shift, which="LM", return_eigenvectors=False)
    return np.sort(lam)


def elastic_modes(
    system: System,
    k: ArrayLike | None = None,
    *,
    pinned: Sequence[str],
    masses: ArrayLike | None = None,
    n_modes: int | None = None,
) -> NDArray[np.float64]:
    """Undamped eigenfrequencies ``ω`` (rad/s) of ``K φ = ω² M φ`` with ``pinned`` nodes held, lowest first.

    Parameters
    ----------
    system : System
        Elastic network.
    k : array_like, optional
        Spring stiffnesses (N/m), default the netlist's.
    pinned : sequence of str
        Nodes held fixed.
    masses : float or array_like of shape (n_nodes,), optional
        Node masses (kg), default 1; entries of ground and pinned nodes are
        ignored.
    n_modes : int, optional
        How many of the lowest modes (default all). Up to 600 free degrees
        of freedom (or when nearly all modes are asked for) a dense
        symmetric eigensolver is used, above that ARPACK (``eigsh``) in
        shift-invert mode just below zero.

    Returns
    -------
    ndarray, shape (n_modes,)
        Angular eigenfrequencies, ascending; a zero marks a mechanism
        (floppy mode).

    Examples
    --------
    A mass on a spring of stiffness 4 N/m, sideways held by a second spring:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "m", "p", k=4.0); net.spring("S2", "m", "q", k=9.0)
    >>> elastic_modes(net.compile(), pinned=["p", "q"], masses=0.25)
    array([4., 6.])
    """
    _positions(system)  # a clear error when the system has none
    if len(system["spring"]) == 0:
        raise NetlistError("the system has no springs, so it has no elastic modes")
    op = elastic_operator(system, pinned)
    free = op.free
    if free.size == 0:
        raise NetlistError("every node is pinned: the network has no modes (unpin some nodes)")
    springs = system["spring"]
    k = _per_element(springs["k"] if k is None else k, len(springs), 1.0, "stiffness k", springs.names, True)
    n = free.size if n_modes is None else n_modes
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= free.size:
        raise NetlistError(f"n_modes = {n_modes!r} must be an integer in 1..{free.size} (free degrees of freedom)")
    lam = _lowest_squared(_dynamics(system, op, k, masses, None, None), int(n))
    return np.sqrt(np.clip(lam, 0.0, None))


def _lowest_frequency(dyn: _Dynamics) -> float:
    """ω_min of the network; raises NetlistError if it is a mechanism (zero mode)."""
    lam = float(_lowest_squared(dyn, 1)[0])
    if lam <= _FLOPPY_RATIO * float(np.max(dyn.K.diagonal() / dyn.M)):
        raise NetlistError(_FLOPPY)
    return math.sqrt(lam)


def _warn_if_dynamic(omega_a: float, omega_b: float, omega_min: float) -> float:
    ratio = max(omega_a, omega_b) / omega_min
    if ratio > QUASI_STATIC_RATIO:
        which = "omega_a" if omega_a >= omega_b else "omega_b"
        warnings.warn(
            f"{which} = {max(omega_a, omega_b):.4g} rad/s is {ratio:.3g} × the lowest eigenfrequency "
            f"{omega_min:.4g} rad/s (quasi-static threshold {QUASI_STATIC_RATIO}): the elastic FP update is "
            f"biased by O(ratio²); lower the drive frequencies below {QUASI_STATIC_RATIO * omega_min:.4g} rad/s",
            QuasiStaticWarning, stacklevel=3)
    return ratio


# --------------------------------------------------------------- transient
def _lockin_window(omega_a: float, omega_b: float, steps_per_period: int) -> tuple[float, int]:
    """Common period ``T`` of both tones and the time steps in it (``steps_per_period`` per fastest period)."""
    fast, slow = max(omega_a, omega_b), min(omega_a, omega_b)
    if slow == 0.0:
        return 2.0 * math.pi / fast, steps_per_period
    ratio = Fraction(fast / slow).limit_denominator(64)
    if abs(float(ratio) - fast / slow) > 1e-9 * fast / slow:
        raise NetlistError(f"omega_a = {omega_a!r} and omega_b = {omega_b!r} rad/s: their ratio must be a fraction "
                           "p/q with q <= 64 so that one lock-in window holds whole periods of both (e.g. omega_b = "
                           "2 * omega_a)")
    return 2.0 * math.pi * ratio.denominator / slow, steps_per_period * ratio.numerator


def _transient(dyn: _Dynamics, f_a: NDArray, f_b: NDArray, omega_a: float, omega_b: float,
               readout: sp.csr_matrix, periods: int, settle: int, steps_per_period: int) -> NDArray:
    """Lock-in coefficients ``(2, n_readout, batch)`` at ``(ω_A, ω_B)`` of ``readout @ u(t)`` from time stepping.

    Newmark's average-acceleration (trapezoidal) scheme, second order and
    unconditionally stable, starts from static equilibrium under the forces
    at ``t = 0`` at rest; ``settle`` common periods let the start-up
    transient decay before ``periods`` common periods are demodulated. The
    force amplitudes ``f_a``, ``f_b`` are free-dof columns (n_free, batch):
    all samples advance together, one multi-right-hand-side solve per time
    step on one factorization of the Newmark matrix (SuperLU with pivoting,
    on the operator's pattern).
    """
    T, n_window = _lockin_window(omega_a, omega_b, steps_per_period)
    dt = T / n_window
    lu = dyn.op.factor_data(dyn.shifted(4.0 / dt**2, (2.0 / dt) * dyn.C.data), spd=False)
    u = dyn.respond(f_a + f_b, 0.0)
    v = np.zeros_like(u)
    a = np.zeros_like(u)
    mass = dyn.M[:, None]
    start, total = settle * n_window, (settle + periods) * n_window
    record = np.empty((total - start + 1, readout.shape[0], u.shape[1]))
    if start == 0:
        record[0] = readout @ u
    for n in range(1, total + 1):
        t = n * dt
        f = f_a * math.cos(omega_a * t) + f_b * math.cos(omega_b * t)
        rhs = f + mass * ((4.0 / dt**2) * u + (4.0 / dt) * v + a) + dyn.C @ ((2.0 / dt) * u + v)
        u_new = lu.solve(rhs)
        a = (4.0 / dt**2) * (u_new - u) - (4.0 / dt) * v - a
        v = (2.0 / dt) * (u_new - u) - v
        u = u_new
        if n >= start:
            record[n - start] = readout @ u
    t = (start + np.arange(len(record))) * dt
    return lockin(record, t, [omega_a / (2.0 * math.pi), omega_b / (2.0 * math.pi)], window=periods * T)


# -------------------------------------------------------------------- FP
def _count(value: Any, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise NetlistError(f"{name} = {value!r} must be an integer >= {least}")
    return int(value)


def check_fp_args(alpha: float, beta: float, omega_a: float, omega_b: float, solver: str) -> None:
    """Raise :class:`~physnet.errors.NetlistError` unless :func:`elastic_fp_update` accepts these settings.

    Lets callers (experiment configs) reject a setting before any network is
    solved.

    Examples
    --------
    >>> check_fp_args(0.1, 1e-3, 0.0, 0.0, "phasor")
    >>> check_fp_args(0.1, 1e-3, 0.0, 0.0, "transient")
    Traceback (most recent call last):
    ...
    physnet.errors.NetlistError: omega_a = omega_b = 0.0 rad/s: the transient experiment separates the two \
signals by frequency, so they must differ (e.g. omega_b = 2 * omega_a, or omega_a = 0)
    """
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise NetlistError(f"beta = {beta!r} must be a finite number > 0 (the error-force amplitude)")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha)):
        raise NetlistError(f"alpha = {alpha!r} must be a finite number (the learning rate)")
    for name, omega in (("omega_a", omega_a), ("omega_b", omega_b)):
        if not (isinstance(omega, (int, float)) and math.isfinite(omega) and omega >= 0):
            raise NetlistError(f"{name} = {omega!r} must be a finite angular frequency >= 0 (rad/s; 0 = static)")
    if solver not in ELASTIC_SOLVERS:
        raise NetlistError(f"unknown elastic FP solver {solver!r} (available: {', '.join(ELASTIC_SOLVERS)})")
    if solver == "transient" and omega_a == omega_b:
        raise NetlistError(f"omega_a = omega_b = {omega_a!r} rad/s: the transient experiment separates the two "
                           "signals by frequency, so they must differ (e.g. omega_b = 2 * omega_a, or omega_a = 0)")
    if solver == "transient":
        _lockin_window(omega_a, omega_b, 1)  # the two tones must share a lock-in window


def elastic_fp_update(
    system: System,
    k: ArrayLike | None = None,
    *,
    forces: ArrayLike,
    pinned: Sequence[str],
    outputs: ElasticOutputs | Iterable[tuple],
    targets: ArrayLike,
    alpha: float,
    beta: float,
    omega_a: float,
    omega_b: float,
    solver: str = "phasor",
    masses: ArrayLike | None = None,
    damping: ArrayLike | None = None,
    drag: ArrayLike | None = None,
    cost: Cost = SQUARED_ERROR,
    periods: int = 1,
    settle: int = 4,
    steps_per_period: int = 128,
) -> FPUpdate:
    """One elastic frequency-propagation step: extension coefficients per spring and the stiffness update.

    Parameters
    ----------
    system : System
        Elastic network.
    k : array_like, optional
        Spring stiffnesses (N/m), default the netlist's.
    forces : array_like, shape (n_nodes, d) or (batch, n_nodes, d)
        Activation force amplitudes (N), applied as ``forces cos(ω_A t)``;
        a batch gives the batch-mean update (targets (batch, n_outputs)).
    pinned, outputs, targets, cost
        As in :func:`elastic_gradient`.
    alpha : float
        Learning rate: ``Δk = -α dC/dk`` when FP is exact.
    beta : float
        Error-force amplitude per unit ``∂C/∂y`` (N/m for the squared
        error), > 0. The network is linear, so β only scales the error
        signal.
    omega_a, omega_b : float
        Angular frequencies (rad/s) of the activation and the error
        (0 = static). The phasor path accepts equal values (it solves each
        tone on its own); the transient experiment needs them distinct, in
        a ratio ``p/q`` with ``q <= 64``.
    solver : {"phasor", "transient"}
        ``"phasor"``: the complex steady state ``(K - ω²M + jωΓ)⁻¹ F`` of
        each tone, whose real part is the in-phase coefficient.
        ``"transient"``: integrate the dynamics with both tones (Newmark
        average acceleration, from static equilibrium at rest) and
        lock-in demodulate every spring's extension; the activation output
        coefficient that sets the error forces comes from a first run with
        the activation alone. Needs damping for the start-up transient to
        decay within ``settle`` periods. The samples of a batch are
        integrated together (one multi-right-hand-side solve per step).
    masses : float or array_like of shape (n_nodes,), optional
        Node masses (kg), default 1.
    damping : float or array_like of shape (n_springs,), optional
        Dashpot coefficient in parallel with each spring (N·s/m), default 0.
    drag : float or array_like of shape (n_nodes,), optional
        Drag of each node against the fixed frame (N·s/m), default 0.
    periods, settle : int, optional
        Transient only: common periods of the two tones demodulated, and
        discarded before.
    steps_per_period : int, optional
        Transient only: time steps per period of the faster tone.

    Returns
    -------
    FPUpdate
        ``delta_g`` is the stiffness update ``Δk`` (N/m) per spring;
        ``dv_a``/``dv_b`` (shape (batch, n_springs), batch 1 for one
        sample) the extension coefficients ``ΔE^A``, ``ΔE^B`` (m);
        ``gradient.grad = ⟨ΔE^A ΔE^B⟩ / β`` (mean over the batch);
        ``gradient.states`` the in-phase activation displacements
        (n_nodes, d) from the phasor solve; ``gradient.cost`` the (mean)
        cost of the activation's output coefficients; ``gradient.info``
        holds ``omega_min`` (lowest eigenfrequency),
        ``frequency_ratio`` (``max(ω_A, ω_B)/ω_min``), the activation
        ``outputs`` and the ``error_forces``. For a batch, states,
        outputs and error forces carry a leading batch axis.

    Warns
    -----
    QuasiStaticWarning
        ``max(ω_A, ω_B) > QUASI_STATIC_RATIO · ω_min``.

    Raises
    ------
    NetlistError
        Bad arguments (``beta <= 0``, negative frequencies, unknown nodes,
        ...) or a floppy network.

    Examples
    --------
    A static activation and a slow error tone give the exact gradient up
    to ``O((ω_B/ω_min)²)``:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]).tolist()
    [1, 2, 3]
    >>> net.spring("S1", "m", "p", k=2.0); net.spring("S2", "m", "q", k=5.0)
    >>> system = net.compile()
    >>> f = np.zeros((4, 2)); f[3] = (1.0, 1.0)
    >>> task = dict(forces=f, pinned=["p", "q"], outputs=[("node", "m", "x")], targets=[0.0])
    >>> step = elastic_fp_update(system, **task, alpha=0.1, beta=1e-3, omega_a=0.0, omega_b=1e-3)
    >>> exact = elastic_gradient(system, **task).grad
    >>> bool(np.allclose(step.delta_g, -0.1 * exact, rtol=1e-6)), round(step.gradient.info["omega_min"], 6)
    (True, 1.414214)
    """
    check_fp_args(alpha, beta, omega_a, omega_b, solver)
    periods = _count(periods, "periods", 1)
    settle = _count(settle, "settle", 0)
    steps_per_period = _count(steps_per_period, "steps_per_period", 8)
    problem = _prepare(system, k, forces, pinned, outputs, targets, cost)
    dyn = _dynamics(system, problem.op, problem.k, masses, damping, drag)
    omega_min = _lowest_frequency(dyn)
    ratio = _warn_if_dynamic(omega_a, omega_b, omega_min)
    f_a = problem.forces  # free-dof columns, one per sample
    if solver == "phasor":
        u_a = dyn.respond(f_a, omega_a).real  # in-phase coefficient of the cos(ω_A t) drive
        y = problem.outputs(u_a)
        e = problem.error_signal(y, beta)
        f_b = problem.R.T @ e
        u_b = problem.on_outputs(partial(dyn.respond, omega=omega_b), e).real
        de_a, de_b = problem.E @ u_a, problem.E @ u_b
    else:
        zero = np.zeros_like(f_a)
        y = _transient(dyn, f_a, zero, omega_a, omega_b, problem.R, periods, settle, steps_per_period)[0].real.T
        f_b = problem.R.T @ problem.error_signal(y, beta)
        de_a, de_b = _transient(dyn, f_a, f_b, omega_a, omega_b, problem.E, periods, settle, steps_per_period).real
        u_a = dyn.respond(f_a, omega_a).real
    grad = np.mean(de_a * de_b, axis=1) / beta
    info = {"solver": solver, "beta": beta, "omega_a": omega_a, "omega_b": omega_b, "omega_min": omega_min,
            "frequency_ratio": ratio, "outputs": problem.samples(y), "error_forces": problem.fields(f_b),
            "dv_a": de_a.T, "dv_b": de_b.T}
    estimate = GradientResult(grad, problem.cost_value(y), "fp", tuple(system["spring"].names),
                              problem.fields(u_a), info)
    return FPUpdate(-alpha * grad, estimate, de_a.T, de_b.T, alpha, beta, solver)
