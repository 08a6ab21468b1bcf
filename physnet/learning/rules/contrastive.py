"""Contrastive rules: a free phase against a nudged (EP) or clamped (coupled learning) phase.

Each edge compares the square of its own voltage drop in two equilibria.

* :class:`EquilibriumPropagation` (Scellier & Bengio 2017): the nudged phase
  adds the error current ``e = -β ∂C/∂v_out`` (evaluated at the free state)
  at the outputs; ``dC/dg ≈ [(ΔV^β)² - (ΔV^0)²] / (2β)`` (bias ``O(β)``),
  or with ``centered=True`` ``[(ΔV^β)² - (ΔV^{-β})²] / (4β)`` (bias ``O(β²)``).
* :class:`CoupledLearning` (Stern, Hexner, Rocks, Liu 2021): the outputs are
  clamped at ``v_F - η ∂C/∂v_out`` (``v_F + η(y - v_F)`` for the squared
  error) and the estimate is ``[(ΔV^C)² - (ΔV^F)²] / η``, so that plain SGD
  with rate ``α`` is Stern's update ``Δg = (α/η)[(ΔV^F)² - (ΔV^C)²]``.
  Clamping a voltage injects the current ``R⁻¹ η (y - v_F)``, with ``R`` the
  transfer resistance between the outputs: for small ``η`` the estimate is
  ``2 × dC'/dg`` of the weighted cost ``C' = ½ (v - y)ᵀ R⁻¹ (v - y)`` (``R``
  held fixed). With one output this is ``2 dC/dg / R`` — the adjoint
  direction exactly; with several, the adjoint direction of ``C'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from physnet.errors import ConvergenceError, NetlistError
from physnet.learning.gradient import free_states, operating_point, small_signal
from physnet.learning.problem import Problem
from physnet.learning.rules.base import (Estimate, output_responses, positive, prefer_output_responses,
                                        resistive_power, rms)
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.linearize import Linearization, linearize

__all__ = ["EquilibriumPropagation", "CoupledLearning", "clamped_states"]


@dataclass(frozen=True)
class EquilibriumPropagation:
    """Equilibrium propagation, two-phase or centered (±β).

    Parameters
    ----------
    beta : float, optional
        Nudging amplitude: the error current is ``-β ∂C/∂v_out`` (A/V for
        the squared error).
    centered : bool, optional
        Use the ``+β`` and ``-β`` phases instead of the free and ``+β``
        phases (three phases, bias ``O(β²)``).
    options : NewtonOptions, optional

    Examples
    --------
    In a linear network EP is exact up to rounding (the drops are affine in β):

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [0.0])
    >>> est = EquilibriumPropagation(beta=1e-4, centered=True).estimate(p, np.array([1.0, 3.0]))
    >>> np.round(est.grad, 9).tolist(), est.phases
    ([0.046875, -0.015625], 3)
    """

    beta: float = 1e-3
    centered: bool = False
    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "ep"

    def __post_init__(self) -> None:
        positive("beta", self.beta)

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """EP estimate of ``dC/dg`` (``rng`` is ignored)."""
        g_all = problem.conductances(g)
        if prefer_output_responses(problem, (2 if self.centered else 1) * problem.batch):
            v, _, X = output_responses(problem, g_all, self.options)  # superposition: v ± X e_out
            shift = -self.beta * problem.cost.grad(v[:, problem.outputs], problem.targets) @ X.T
            v_plus, v_minus = v + shift, v - shift
        else:
            v, shared = operating_point(problem, g_all, options=self.options)
            e = problem.error_currents(v, self.beta)
            v_plus = _nudged(problem, g_all, v, e, shared, self.options)
            v_minus = _nudged(problem, g_all, v, -e, shared, self.options) if self.centered else None
        power = {"free": resistive_power(problem, g_all, v), "nudged": resistive_power(problem, g_all, v_plus)}
        if self.centered:
            reference, scale = v_minus, 4.0 * self.beta
            power["nudged"] = 0.5 * (power["nudged"] + resistive_power(problem, g_all, v_minus))
        else:
            reference, scale = v, 2.0 * self.beta
        drops_plus, drops_ref = problem.drops(v_plus), problem.drops(reference)
        grad = np.mean(drops_plus**2 - drops_ref**2, axis=0) / scale
        phases = 3 if self.centered else 2
        energy = power["free"] + (phases - 1) * power["nudged"]
        amplitudes = {"beta": self.beta, "signal_rms": rms(drops_plus - problem.drops(v))}
        return Estimate(grad, float(np.mean(problem.costs(v))), self.name, phases, power, energy, amplitudes, v,
                        {"centered": self.centered})


@dataclass(frozen=True)
class CoupledLearning:
    """Coupled learning: free phase against outputs clamped a fraction ``η`` of the way to the target.

    Parameters
    ----------
    eta : float, optional
        Nudge factor ``η`` (dimensionless, ``0 < η ≤ 1``).
    tol : float, optional
        Clamp accuracy, relative to the largest clamp shift ``η |∂C/∂v_out|``.
    max_iter : int, optional
        DC solves allowed for the clamp currents in a diode network (a
        linear network needs none).
    options : NewtonOptions, optional

    Examples
    --------
    One output: the estimate is ``2/R`` times the exact gradient, ``R`` the
    output's resistance to ground through the network (here ``1/(1+3)`` Ω).

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> est = CoupledLearning(eta=1e-6).estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]))
    >>> np.round(est.grad / 8.0, 6).tolist()
    [0.046875, -0.015625]
    """

    eta: float = 1e-3
    tol: float = 1e-10
    max_iter: int = 20
    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "coupled"

    def __post_init__(self) -> None:
        positive("eta", self.eta)
        if self.eta > 1:
            raise NetlistError(f"eta = {self.eta!r}: the clamp must lie between the free output and the target "
                               "(0 < eta <= 1)")

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """Coupled-learning estimate ``[(ΔV^C)² - (ΔV^F)²] / η`` (``rng`` is ignored)."""
        g_all = problem.conductances(g)
        if problem.system.has("diode"):
            v, _ = operating_point(problem, g_all, options=self.options)
            responses = None
        else:  # the clamp responses ride along with the free state's solve
            v, _, responses = output_responses(problem, g_all, self.options)
        clamp = v[:, problem.outputs] - self.eta * problem.cost.grad(v[:, problem.outputs], problem.targets)
        v_c, iterations = clamped_states(problem, g_all, v, clamp, tol=self.tol, max_iter=self.max_iter,
                                         options=self.options, responses=responses)
        drops_f, drops_c = problem.drops(v), problem.drops(v_c)
        grad = np.mean(drops_c**2 - drops_f**2, axis=0) / self.eta
        power = {"free": resistive_power(problem, g_all, v), "clamped": resistive_power(problem, g_all, v_c)}
        return Estimate(grad, float(np.mean(problem.costs(v))), self.name, 2, power, sum(power.values()),
                        {"eta": self.eta, "signal_rms": rms(drops_c - drops_f)}, v,
                        {"clamp_iterations": iterations})


def clamped_states(problem: Problem, g_all: NDArray, v_free: NDArray, clamp: NDArray, *, tol: float = 1e-10,
                   max_iter: int = 20, options: NewtonOptions = NewtonOptions(),
                   shared: Linearization | None = None, responses: NDArray | None = None) -> tuple[NDArray, int]:
    """Equilibria with the output potentials held at ``clamp`` (batch, n_out).

    The clamps are enforced by the currents ``μ`` they must inject (the
    Lagrange multipliers of the constraints), found by Newton's method with
    the free state's transfer resistances ``R = Pᵀ J⁻¹ P``: ``μ ← μ +
    R⁻¹ (clamp - v_out(μ))``. Each iteration is one DC solve. A linear
    network needs none: by superposition the clamped state is ``v_F + J⁻¹ P
    μ``, with the responses ``J⁻¹ P`` already computed for ``R`` (on the
    factorization ``shared`` from :func:`~physnet.learning.gradient.operating_point`
    when given, or given directly as ``responses``, shape (n_nodes, n_out),
    from :func:`~physnet.learning.rules.base.output_responses`).

    Returns
    -------
    v : ndarray, shape (batch, n_nodes)
    iterations : int
        DC solves spent on the clamp (0 in a linear network).

    Raises
    ------
    NetlistError
        An output is listed twice (two clamps on one node).
    ConvergenceError
        The clamp residual stays above ``tol`` after ``max_iter`` solves.

    Examples
    --------
    The divider's output, free at 0.25 V, clamped at 0.2 V (nodes: ground, in, out); a linear network
    needs no extra DC solve:

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> p = make_problem(net, ["out"], [0.0])
    >>> v, iterations = clamped_states(p, p.conductances(), np.array([[0.0, 1.0, 0.25]]), np.array([[0.2]]))
    >>> np.round(v, 12).tolist(), iterations
    ([[0.0, 1.0, 0.2]], 0)
    """
    out = problem.outputs
    if len(np.unique(out)) != len(out):
        raise NetlistError("coupled learning clamps each output once: remove the repeated output nodes")
    inject = np.zeros((problem.system.n_nodes, len(out)))
    inject[out, np.arange(len(out))] = 1.0
    if responses is not None and not problem.system.has("diode"):
        X = np.broadcast_to(responses, (problem.batch,) + responses.shape)
    else:
        X = _responses(problem, g_all, v_free, inject, shared)  # J⁻¹ P per sample, (batch, n_nodes, n_out)
    R = X[:, out, :]
    mu = np.linalg.solve(R, (clamp - v_free[:, out])[..., None])
    if not problem.system.has("diode"):
        return v_free + (X @ mu)[..., 0], 0
    mu = mu[..., 0]
    v = v_free
    shift = float(np.max(np.abs(clamp - v_free[:, out]), initial=0.0))
    bound = tol * shift + 1e-14 * float(np.max(np.abs(clamp), initial=0.0))  # rounding floor of a potential
    for iteration in range(1, max_iter + 1):
        v = free_states(problem, g_all, currents=mu @ inject.T, initial=v, options=options)
        residual = float(np.max(np.abs(clamp - v[:, out]), initial=0.0))
        if residual <= bound:
            return v, iteration
        mu = mu + np.linalg.solve(R, (clamp - v[:, out])[..., None])[..., 0]
    raise ConvergenceError(f"coupled learning: outputs not clamped after {max_iter} solves (largest clamp error "
                           f"{residual:.3g} V); lower eta or raise max_iter", max_iter, residual)


def _responses(problem: Problem, g_all: NDArray, v: NDArray, inject: NDArray,
               shared: Linearization | None) -> NDArray:
    """``J⁻¹ P`` at each sample's state, shape (batch, n_nodes, n_out); one factorization if linear."""
    system = problem.system
    if not system.has("diode"):
        X = (shared or linearize(system, v[0], g_all)).respond(inject)
        return np.broadcast_to(X, (problem.batch,) + X.shape)
    return np.stack([linearize(system, v_s, g_all).respond(inject) for v_s in v])


def _nudged(problem: Problem, g_all: NDArray, v: NDArray, currents: NDArray, shared: Linearization | None,
            options: NewtonOptions) -> NDArray:
    """Equilibria with extra node ``currents``: by superposition on the shared factor if linear, else Newton."""
    if shared is not None:
        return v + small_signal(problem, g_all, v, currents, shared)
    return free_states(problem, g_all, currents=currents, initial=v, options=options)
