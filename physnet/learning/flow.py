"""Flow networks that learn by chemical error signalling (Anisetti, Scellier, Schwarz 2023).

Pressures ``p`` solve the flow network (Phys. Rev. Research 5, 023024): pipes
of hydraulic conductance ``k_j`` carry ``Q_j = k_j (p_a - p_b)`` from ``a`` to
``b``; pressure reservoirs are voltage sources (``vsource``), pumps are
current sources (``isource``); ground is the ambient reservoir. The cost
``C(p_out)`` (default ``½‖p_out - y‖²``) reads output pressures.

The error travels as a chemical. At every output node a source injects
chemical at the rate ``s = -β ∂C/∂p_out``; the chemical diffuses along
every pipe with diffusivity proportional to its conductance, ``D_j = κ k_j``
(the diffusive flux along pipe ``j`` is ``D_j (c_a - c_b)``), and is absorbed
at the reservoirs, where ``c = 0`` (so is ground). Its steady state solves

    κ L(k) c = s,       c = 0 at every reservoir,

the same weighted Laplacian with the same boundary as the adjoint of the
pressures, ``L(k) λ = ∂C/∂p``. Hence ``c = -(β/κ) λ`` and the local rule

    Δk_j = -(α κ / β) Δp_j Δc_j,     Δp_j = p_a - p_b,  Δc_j = c_a - c_b,

is exactly ``-α dC/dk_j`` (``dC/dk_j = -Δλ_j Δp_j``). ``c`` is measured
relative to the background concentration of the reservoirs: a uniform
background cancels in ``Δc``, so negative values mean "below background".
A source of a given sign means chemical injected (``s > 0``) or taken up.

``advection=True`` is a documented departure from the ideal rule: the
chemical is also carried by the flow (upwind: a pipe with ``Q_j > 0`` carries
``Q_j c_a`` from ``a`` to ``b``; pumps carry their flow likewise; fluid
leaving into a reservoir takes its chemical with it, fluid coming out of one
brings none). The steady state then solves a non-symmetric operator, so
``c`` is no longer proportional to the adjoint and the update is not exactly
the gradient; it stays close when the Péclet number ``|Q_j| / D_j =
|Δp_j| / κ`` is small (``info["peclet"]`` reports its largest value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import splu

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.fp import FPUpdate
from physnet.learning.gradient import GradientResult, central_differences
from physnet.solvers.dc import solve_dc
from physnet.solvers.linearize import linearize
from physnet.solvers.nodal import nodal_operator
from physnet.system import System

__all__ = ["flow_gradient", "chemical_update", "chemical_concentration", "FLOW_KINDS"]

FLOW_KINDS = ("pipe", "vsource", "isource")
"""Element kinds a flow network for chemical learning may hold."""


# ---------------------------------------------------------------- problem
@dataclass(frozen=True, eq=False)
class _FlowProblem:
    """A validated flow learning problem (batch of input samples)."""

    system: System
    k: NDArray[np.float64]
    outputs: NDArray[np.int64]
    targets: NDArray[np.float64]  # (batch, n_out)
    v_sources: NDArray[np.float64] | None  # (batch, n_v) or None: the netlist's
    i_sources: NDArray[np.float64] | None
    cost: Cost

    def pressures(self) -> NDArray[np.float64]:
        """Node pressures of every sample, shape (batch, n_nodes)."""
        p = solve_dc(self.system, k=self.k, v_sources=self.v_sources, i_sources=self.i_sources).v
        return np.broadcast_to(p, (len(self.targets), self.system.n_nodes)).copy()

    def pump_rates(self) -> NDArray[np.float64]:
        """Flow through every pump, per sample (batch, n_pumps)."""
        rates = self.system["isource"]["dc"] if self.i_sources is None else self.i_sources
        return np.broadcast_to(rates, (len(self.targets), len(self.system["isource"])))

    def drops(self, x: NDArray) -> NDArray:
        """``x_a - x_b`` across every pipe (batch, n_pipes)."""
        pipes = self.system["pipe"]
        return x[..., pipes.a] - x[..., pipes.b]

    def cost_gradient(self, p: NDArray) -> NDArray:
        """``∂C/∂p`` as a node array (batch, n_nodes); repeated outputs add up."""
        grad = np.asarray(self.cost.grad(p[:, self.outputs], self.targets), dtype=np.float64)
        out = np.zeros_like(p)
        for i, node in enumerate(self.outputs):
            out[:, node] += grad[:, i]
        return out

    def mean_cost(self, p: NDArray) -> float:
        return float(np.mean(self.cost.value(p[:, self.outputs], self.targets)))


def _check_flow_network(system: System) -> None:
    other = [kind for kind, table in system.elements.items() if len(table) and kind not in FLOW_KINDS]
    if other:
        kind = other[0]
        raise NetlistError(f"{kind} {system[kind].names[0]!r}: chemical learning needs a pure flow network "
                           f"({', '.join(FLOW_KINDS)}); remove the {kind}s")
    if not system.has("pipe"):
        raise NetlistError("the system has no pipes: flow learning trains pipe conductances")


def _conductances(system: System, k: ArrayLike | None) -> NDArray[np.float64]:
    pipes = system["pipe"]
    values = np.array(pipes["k"] if k is None else k, dtype=np.float64)
    if values.shape != (len(pipes),):
        raise NetlistError(f"k: expected {len(pipes)} pipe conductances, got shape {values.shape}")
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise NetlistError(f"pipe {pipes.names[i]!r}: k = {float(values[i])!r} is invalid (must be finite and > 0); "
                           "clip trained conductances to bounds")
    return values


def _batched(values: ArrayLike | None, width: int, what: str) -> NDArray[np.float64] | None:
    if values is None:
        return None
    arr = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 2 or arr.shape[-1] != width:
        raise NetlistError(f"{what}: expected {width} values per sample, got shape {np.shape(values)}")
    return arr


def _prepare(system: System, k: ArrayLike | None, inputs: Mapping[str, ArrayLike] | None,
             outputs: Sequence[str], targets: ArrayLike, cost: Cost) -> _FlowProblem:
    _check_flow_network(system)
    k = _conductances(system, k)
    inputs = dict(inputs or {})
    unknown = set(inputs) - {"v_sources", "i_sources"}
    if unknown:
        raise NetlistError(f"unknown input key {sorted(unknown)[0]!r} (allowed: v_sources = reservoir pressures, "
                           "i_sources = pump rates)")
    v_in = _batched(inputs.get("v_sources"), len(system["vsource"]), "v_sources")
    i_in = _batched(inputs.get("i_sources"), len(system["isource"]), "i_sources")
    if isinstance(outputs, str):
        raise NetlistError(f"outputs = {outputs!r} must be a list of node names, e.g. [{outputs!r}]")
    out = system.node_indices(outputs)
    if out.size == 0:
        raise NetlistError("outputs is empty: name at least one output node")
    free = nodal_operator(system, "dc").reduction.free
    held = out[free[out] < 0]
    if held.size:
        raise NetlistError(f"output node {system.node_names[held[0]]!r} is held by a pressure reservoir (or is "
                           "ground): its pressure cannot change, so it cannot be trained (choose another node)")
    y = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    if y.ndim != 2 or y.shape[-1] != len(out):
        raise NetlistError(f"targets: expected {len(out)} values per sample (one per output), got shape "
                           f"{np.shape(targets)}")
    batch = max(len(a) for a in (y, v_in, i_in) if a is not None)
    for what, arr in (("targets", y), ("v_sources", v_in), ("i_sources", i_in)):
        if arr is not None and len(arr) not in (1, batch):
            raise NetlistError(f"{what}: {len(arr)} samples, but other inputs have {batch}")
    y = np.broadcast_to(y, (batch, len(out)))
    v_in = None if v_in is None else np.broadcast_to(v_in, (batch, v_in.shape[1]))
    i_in = None if i_in is None else np.broadcast_to(i_in, (batch, i_in.shape[1]))
    return _FlowProblem(system, k, out, y, v_in, i_in, cost)


# ------------------------------------------------------------- chemistry
def _upwind(a: NDArray, b: NDArray, q: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Triplets of the advective outflow of flows ``q`` (a → b): upstream concentration leaves, enters downstream."""
    qp, qm = np.maximum(q, 0.0), np.minimum(q, 0.0)
    return (np.concatenate([a, a, b, b]), np.concatenate([a, b, a, b]), np.concatenate([qp, qm, -qp, -qm]))


def _transport_matrix(system: System, k: NDArray, kappa: float, pressures: NDArray | None,
                      pumps: NDArray | None) -> sp.csr_matrix:
    """Net chemical outflow per node per unit concentration (n_nodes square): diffusion plus upwind advection.

    Flows through reservoir sources need no stamp: they start or end at a
    node whose concentration is fixed (its row is dropped, its column is
    zero), or join two nodes of one supernode, where their flux cancels.
    """
    pipes = system["pipe"]
    a, b, D = pipes.a, pipes.b, kappa * k
    rows, cols, vals = [np.concatenate([a, b, a, b])], [np.concatenate([a, b, b, a])], [np.concatenate([D, D, -D, -D])]
    if pressures is not None:
        for ea, eb, q in ((a, b, k * (pressures[a] - pressures[b])),
                          (system["isource"].a, system["isource"].b, pumps)):
            r, c, v = _upwind(ea, eb, q)
            rows.append(r)
            cols.append(c)
            vals.append(v)
    n = system.n_nodes
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def chemical_concentration(
    system: System,
    sources: ArrayLike,
    k: ArrayLike | None = None,
    *,
    kappa: float = 1.0,
    pressures: ArrayLike | None = None,
    i_sources: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Steady chemical concentration for node sources, absorbed at the reservoirs.

    Parameters
    ----------
    system : System
        Flow network (pipes, reservoirs, pumps).
    sources : array_like, shape (n_nodes,) or (batch, n_nodes)
        Chemical injected into each node per unit time.
    k : array_like, optional
        Pipe conductances, default the netlist's; diffusivities are
        ``κ k``.
    kappa : float, optional
        Diffusivity per unit hydraulic conductance, > 0.
    pressures : array_like, shape like ``sources``, optional
        If given, the chemical is also carried by the flow these pressures
        drive (upwind advection); otherwise diffusion only.
    i_sources : array_like, optional
        Pump rates for the advection through pumps (default the netlist's).

    Returns
    -------
    ndarray, shape like ``sources``
        Concentration relative to the reservoirs' (zero there and at ground).

    Examples
    --------
    A pipe of conductance 2 from node ``a`` to a reservoir: the source 1
    diffuses away with ``D = κ k = 2``, so ``c_a = 0.5``; a flow of 2 from
    ``a`` into the reservoir (pressure 1 at ``a``) doubles the outflow:

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.pipe("P1", "a", "0", k=2.0)
    >>> net.isource("I1", "0", "a", dc=2.0)
    >>> system = net.compile()
    >>> chemical_concentration(system, [0.0, 1.0])
    array([0. , 0.5])
    >>> chemical_concentration(system, [0.0, 1.0], pressures=[0.0, 1.0])
    array([0.  , 0.25])
    """
    _check_flow_network(system)
    k = _conductances(system, k)
    if not (isinstance(kappa, (int, float)) and math.isfinite(kappa) and kappa > 0):
        raise NetlistError(f"kappa = {kappa!r} must be a finite number > 0 (diffusivity per unit conductance)")
    s = np.asarray(sources, dtype=np.float64)
    if s.shape[-1:] != (system.n_nodes,) or s.ndim > 2:
        raise NetlistError(f"sources: expected shape ({system.n_nodes},) or (batch, {system.n_nodes}), got {s.shape}")
    s2 = np.atleast_2d(s)
    red = nodal_operator(system, "dc").reduction
    mask = red.free >= 0
    P = sp.csr_matrix((np.ones(mask.sum()), (np.flatnonzero(mask), red.free[mask])), shape=(system.n_nodes, red.n_free))
    if pressures is None:
        A = sp.csc_matrix(P.T @ _transport_matrix(system, k, kappa, None, None) @ P)
        c = (P @ splu(A).solve(np.ascontiguousarray((P.T @ s2.T)))).T
    else:
        rates = system["isource"]["dc"] if i_sources is None else i_sources
        try:
            p = np.broadcast_to(np.asarray(pressures, dtype=np.float64), s2.shape)
            rates = np.broadcast_to(np.asarray(rates, dtype=np.float64), (len(s2), len(system["isource"])))
        except ValueError:
            raise NetlistError(f"pressures (shape {np.shape(pressures)}) and i_sources (shape {np.shape(rates)}) "
                               f"must match sources: one pressure per node and one rate per pump, per sample") from None
        c = np.stack([P @ splu(sp.csc_matrix(P.T @ _transport_matrix(system, k, kappa, p[i], rates[i]) @ P))
                      .solve(P.T @ s2[i]) for i in range(len(s2))])
    return c.reshape(s.shape)


# -------------------------------------------------------------- learning
def flow_gradient(
    system: System,
    k: ArrayLike | None = None,
    *,
    inputs: Mapping[str, ArrayLike] | None = None,
    outputs: Sequence[str],
    targets: ArrayLike,
    cost: Cost = SQUARED_ERROR,
    method: str = "adjoint",
    fd_step: float = 1e-6,
) -> GradientResult:
    """``dC/dk`` of a flow network's cost with respect to every pipe conductance, mean over samples.

    Parameters
    ----------
    system : System
        Flow network: pipes, ``vsource`` reservoirs, ``isource`` pumps.
    k : array_like, optional
        Pipe conductances (m³/(Pa·s)), default the netlist's.
    inputs : mapping, optional
        ``{"v_sources": (batch, n_v), "i_sources": (batch, n_i)}``:
        reservoir pressures and pump rates per sample; default the
        netlist's values.
    outputs : sequence of str
        Output nodes (not held by a reservoir).
    targets : array_like, shape (n_out,) or (batch, n_out)
        Target pressures (Pa).
    cost : Cost, optional
        Default ``½‖p_out - y‖²``.
    method : {"adjoint", "fd"}
        Exact adjoint ``dC/dk_j = -Δλ_j Δp_j`` with ``L(k) λ = ∂C/∂p``
        (reservoirs held), or central finite differences with relative step
        ``fd_step`` (two solves per pipe; for tests).

    Returns
    -------
    GradientResult
        ``grad`` per pipe, ``states`` the pressures (batch, n_nodes),
        ``edges`` the pipe names.

    Examples
    --------
    Two pipes in series between a reservoir at 1 Pa and ground: the middle
    pressure is ``k₁ / (k₁ + k₂)``.

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.pipe("P1", "in", "m", k=1.0); net.pipe("P2", "m", "0", k=3.0)
    >>> r = flow_gradient(net.compile(), outputs=["m"], targets=[0.0])
    >>> np.round(r.grad, 12).tolist(), float(r.states[0, 2])
    ([0.046875, -0.015625], 0.25)
    """
    problem = _prepare(system, k, inputs, outputs, targets, cost)
    p = problem.pressures()
    if method == "adjoint":
        lam = linearize(system, p[0], k=problem.k).respond(problem.cost_gradient(p).T).T
        grad = -np.mean(problem.drops(lam) * problem.drops(p), axis=0)
        info: dict[str, Any] = {"solves": 2}
    elif method == "fd":
        def cost_at(k: NDArray) -> float:
            shifted = replace(problem, k=k)
            return shifted.mean_cost(shifted.pressures())

        grad = central_differences(cost_at, problem.k, range(len(problem.k)), fd_step)
        info = {"relative_step": fd_step, "solves": 2 * len(problem.k) + 1}
    else:
        raise NetlistError(f"unknown flow gradient method {method!r} (known: 'adjoint', 'fd')")
    return GradientResult(grad, problem.mean_cost(p), method, tuple(system["pipe"].names), p, info)


def chemical_update(
    system: System,
    k: ArrayLike | None = None,
    *,
    inputs: Mapping[str, ArrayLike] | None = None,
    outputs: Sequence[str],
    targets: ArrayLike,
    alpha: float,
    beta: float,
    kappa: float = 1.0,
    advection: bool = False,
    cost: Cost = SQUARED_ERROR,
) -> FPUpdate:
    """One learning step by chemical error signalling: ``Δk_j = -(α κ / β) ⟨Δp_j Δc_j⟩``.

    Parameters
    ----------
    system, k, inputs, outputs, targets, cost
        As in :func:`flow_gradient`.
    alpha : float
        Learning rate (``Δk = -α dC/dk`` without advection).
    beta : float
        Chemical source per unit ``∂C/∂p_out``, > 0: ``s = -β ∂C/∂p_out``.
    kappa : float, optional
        Diffusivity per unit conductance, ``D_j = κ k_j``, > 0.
    advection : bool, optional
        Also carry the chemical with the flow (upwind); a departure from
        the ideal rule (see the module docstring).

    Returns
    -------
    FPUpdate
        ``delta_g`` is the conductance update ``Δk`` per pipe; ``dv_a`` the
        pressure drops ``Δp`` and ``dv_b`` the concentration differences
        ``Δc`` (batch, n_pipes); ``gradient.grad = κ ⟨Δp Δc⟩ / β`` with
        ``gradient.info`` holding the ``concentration`` (batch, n_nodes)
        and the largest Péclet number ``peclet`` (0 without advection).

    Raises
    ------
    NetlistError
        Bad arguments (``beta <= 0``, ``kappa <= 0``, unknown nodes, outputs
        held by reservoirs, non-flow elements).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.pipe("P1", "in", "m", k=1.0); net.pipe("P2", "m", "0", k=3.0)
    >>> system = net.compile()
    >>> step = chemical_update(system, outputs=["m"], targets=[0.0], alpha=0.1, beta=1e-2, kappa=0.5)
    >>> exact = flow_gradient(system, outputs=["m"], targets=[0.0]).grad
    >>> bool(np.allclose(step.delta_g, -0.1 * exact, rtol=1e-12)), step.solver
    (True, 'diffusion')
    """
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise NetlistError(f"beta = {beta!r} must be a finite number > 0 (chemical source per unit dC/dp)")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha)):
        raise NetlistError(f"alpha = {alpha!r} must be a finite number (the learning rate)")
    problem = _prepare(system, k, inputs, outputs, targets, cost)
    p = problem.pressures()
    sources = -beta * problem.cost_gradient(p)
    c = chemical_concentration(system, sources, problem.k, kappa=kappa, pressures=p if advection else None,
                               i_sources=problem.pump_rates() if advection else None)
    dp, dc = problem.drops(p), problem.drops(c)
    grad = kappa * np.mean(dp * dc, axis=0) / beta
    peclet = float(np.max(np.abs(dp))) / kappa if advection else 0.0
    info = {"beta": beta, "kappa": kappa, "advection": advection, "concentration": c, "peclet": peclet,
            "dv_a": dp, "dv_b": dc}
    estimate = GradientResult(grad, problem.mean_cost(p), "chemical", tuple(system["pipe"].names), p, info)
    return FPUpdate(-alpha * grad, estimate, dp, dc, alpha, beta, "advection" if advection else "diffusion")
