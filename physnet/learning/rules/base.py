"""What every learning rule returns, and the helpers the rules share.

A rule is a small frozen object holding its hyperparameters (nudge
amplitudes, perturbation sizes, codes). Its :meth:`Rule.estimate` turns a
:class:`~physnet.learning.problem.Problem` (network, outputs, targets and a
batch of inputs) and the trainable conductances ``g`` into an
:class:`Estimate` of ``dC/dg``, averaged over the batch, plus what the
estimate cost physically: how many network states had to settle and how much
power the network dissipated in each of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.learning.gradient import free_states, operating_point
from physnet.learning.problem import Problem
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.linearize import Linearization, linearize
from physnet.solvers.nodal import injections, leaving, short_values

__all__ = ["Estimate", "Rule", "resistive_power", "cosine"]


@dataclass(frozen=True, eq=False)
class Estimate:
    """A gradient estimate ``dC/dg`` with its physical cost.

    Attributes
    ----------
    grad : ndarray, shape (n_trainable,)
        Estimate of ``dC/dg`` for every trainable conductance, mean over the
        batch; a descent direction, so ``g - lr * grad`` lowers the cost.
    cost : float
        Mean cost of the free state.
    rule : str
        Registered name of the rule.
    phases : int
        Network states settled per sample (free state included).
    power : mapping of str to float
        Mean resistive power ``Σ g ΔV²`` (W) over all resistors in each kind
        of phase (``"free"``, ``"nudged"``, ``"perturbed"``, ...), averaged over
        samples (and over perturbations).
    energy : float
        Sum of the power of every phase solved, per sample (J per unit phase
        duration): the dissipation of one estimate.
    amplitudes : mapping of str to float
        The rule's signal amplitudes (``beta``, ``eta``, ``sigma``, ...) and
        ``signal_rms``, the RMS change of the trainable edges' voltage drops
        the rule reads (V).
    states : ndarray, shape (batch, n_nodes)
        Free-state node potentials.
    info : mapping
        Rule-specific diagnostics.

    Examples
    --------
    EP on the divider ``v_out = g1 / (g1 + g2) = 0.25`` V: 1 V across ``4/3`` Ω dissipates 0.75 W.

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> from physnet.learning.rules import EquilibriumPropagation
    >>> est = EquilibriumPropagation(beta=1e-3).estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]))
    >>> est.rule, est.phases, round(est.cost, 12), round(est.power["free"], 12)
    ('ep', 2, 0.03125, 0.75)
    """

    grad: NDArray[np.float64]
    cost: float
    rule: str
    phases: int
    power: Mapping[str, float]
    energy: float
    amplitudes: Mapping[str, float]
    states: NDArray[np.float64]
    info: Mapping[str, Any] = field(default_factory=dict)


class Rule(Protocol):
    """A learning rule: hyperparameters plus ``estimate``.

    Deterministic rules ignore ``rng``; perturbative rules require it.

    Examples
    --------
    Every rule, e.g. :class:`~physnet.learning.rules.Adjoint` and
    :class:`~physnet.learning.rules.EquilibriumPropagation`, is used the same way:

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> from physnet.learning.rules import Adjoint, EquilibriumPropagation
    >>> p, g = make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0])
    >>> for rule in (Adjoint(), EquilibriumPropagation(beta=1e-6)):
    ...     print(rule.name, np.round(rule.estimate(p, g).grad, 6).tolist())
    adjoint [0.046875, -0.015625]
    ep [0.046875, -0.015625]
    """

    name: ClassVar[str]

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate: ...


def resistive_power(problem: Problem, g_all: NDArray, v: NDArray) -> float:
    """Power ``Σ_j g_j ΔV_j²`` dissipated in all resistors (W), mean over the leading axes of ``v``.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 1.0])
    >>> p = make_problem(net, ["out"], [0.0])
    >>> resistive_power(p, np.array([1.0, 1.0]), np.array([[0.0, 1.0, 0.5]]))
    0.5
    """
    table = problem.system["resistor"]
    drops = v[..., table.a] - v[..., table.b]
    return float(np.mean(np.sum(g_all * drops**2, axis=-1)))


def cosine(a: NDArray, b: NDArray) -> float:
    """Cosine of the angle between two gradient vectors (0 if either is zero).

    Examples
    --------
    >>> cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    0.7071067811865475
    """
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0


def rms(x: NDArray) -> float:
    """Root mean square of an array (0 for an empty one).

    Examples
    --------
    >>> rms(np.array([3.0, -3.0, 3.0, -3.0])), rms(np.array([1.0, 7.0])), rms(np.zeros(0))
    (3.0, 5.0, 0.0)
    """
    return float(np.sqrt(np.mean(np.square(x)))) if np.size(x) else 0.0


def positive(name: str, value: float) -> None:
    """Raise unless ``value`` is a finite number > 0 (hyperparameter check).

    Examples
    --------
    >>> positive("beta", 1e-3)  # fine: returns None
    >>> try:
    ...     positive("beta", 0.0)
    ... except NetlistError as exc:
    ...     print(type(exc).__name__, exc)
    NetlistError beta = 0.0 must be a finite number > 0
    """
    if not (np.isfinite(value) and value > 0):
        raise NetlistError(f"{name} = {value!r} must be a finite number > 0")


def require_rng(rule: str, rng: np.random.Generator | None) -> np.random.Generator:
    """The generator a perturbative rule draws from; refusing ``None`` keeps runs reproducible.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> require_rng("node_perturbation", rng) is rng
    True
    >>> try:
    ...     require_rng("node_perturbation", None)
    ... except NetlistError as exc:
    ...     print(exc)
    rule 'node_perturbation' draws random perturbations: pass rng=np.random.default_rng(seed)
    """
    if rng is None:
        raise NetlistError(f"rule {rule!r} draws random perturbations: pass rng=np.random.default_rng(seed)")
    return rng


def equilibrium(problem: Problem, g_all: NDArray, initial: NDArray, options: NewtonOptions) -> NDArray:
    """Free states (batch, n_nodes) at conductances ``g_all``: Newton warm-started from ``initial`` with diodes.

    A linear network takes one factorization and one multi-right-hand-side
    solve (:func:`~physnet.learning.gradient.operating_point`).

    Examples
    --------
    The divider ``v_out = g1 / (g1 + g2)`` (nodes: ground, in, out):

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> v = equilibrium(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), np.zeros((1, 3)), pn.NewtonOptions())
    >>> np.round(v, 12).tolist()
    [[0.0, 1.0, 0.25]]
    """
    if problem.system.has("diode"):
        return free_states(problem, g_all, initial=initial, options=options)
    return operating_point(problem, g_all, options=options)[0]


def output_responses(problem: Problem, g_all: NDArray,
                     options: NewtonOptions = NewtonOptions()) -> tuple[NDArray, Linearization, NDArray]:
    """Free states, factorization and output responses of a **linear** network from one multi-RHS solve.

    The responses ``X = J⁻¹ P`` to a unit current at each output (``P``
    the output indicator columns) do not depend on the free state, so they
    ride along with the source terms in the same back-substitution: a
    contrastive or adjoint step on a linear network costs one numeric
    factorization and one solve. Every later phase is a superposition,
    ``v + X μ``, for output currents ``μ``.

    Returns
    -------
    v : ndarray, shape (batch, n_nodes)
        Free states.
    lin : Linearization
        The factorised network (valid until the next factorization of the
        same system).
    X : ndarray, shape (n_nodes, n_out)
        Potential responses to a unit current into each output.

    Examples
    --------
    A divider with ``R = 1/(1 + 3)`` Ω seen from its output:

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> v, lin, X = output_responses(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]))
    >>> v.round(12).tolist(), X[:, 0].round(12).tolist()
    ([[0.0, 1.0, 0.25]], [0.0, 0.0, 0.25])
    """
    system = problem.system
    if system.has("diode"):
        raise NetlistError("output_responses: the network has diodes; each sample has its own Jacobian")
    lin = linearize(system, np.zeros(system.n_nodes), g_all, gmin=options.gmin)
    op = lin.op
    E = short_values(system, op.reduction, problem.v_sources)
    held = op.reduction.potentials(np.zeros(E.shape[:-1] + (op.reduction.n_free,)), E)  # sources on, free nodes 0
    currents = injections(system, problem.i_sources) - leaving(system.n_nodes, op.a, op.b,
                                                               op.edge_flows(lin.weights, held))
    currents = np.broadcast_to(currents, (problem.batch, system.n_nodes))
    inject = np.zeros((len(problem.outputs), system.n_nodes))
    inject[np.arange(len(problem.outputs)), problem.outputs] = 1.0
    both = lin.respond(np.ascontiguousarray(np.concatenate([currents, inject]).T))
    v = np.broadcast_to(held, (problem.batch, system.n_nodes)) + both[:, :problem.batch].T
    return v, lin, both[:, problem.batch:]


def prefer_output_responses(problem: Problem, later_columns: int) -> bool:
    """Whether :func:`output_responses` beats solving the later phases separately on a linear network.

    Back-substitutions cost about in proportion to their right-hand sides
    (CHOLMOD shares one pass over the factor among at most four columns,
    see :data:`physnet.solvers.linear.SPSOLVE_COLUMNS`), so the output
    responses pay off when there are fewer outputs than the
    ``later_columns`` the phases after the free state would solve
    (``batch`` for an adjoint or a nudged phase, ``2 × batch`` for EP's
    ±β phases). Never with diodes.

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [[0.0], [0.1], [0.2]])
    >>> prefer_output_responses(p, p.batch), prefer_output_responses(p, 1)
    (True, False)
    """
    return not problem.system.has("diode") and len(problem.outputs) < later_columns
