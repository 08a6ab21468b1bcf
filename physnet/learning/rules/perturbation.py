"""Perturbative rules (Werfel, Xie, Seung 2005): correlate random perturbations with the cost change.

Only a scalar — each sample's change of cost — is broadcast to the edges;
every edge correlates it with the noise it can see locally.

* :class:`WeightPerturbation` perturbs every trainable conductance at once,
  ``g → g (1 + σ z)`` with ``z ~ N(0, I)``, and estimates ``dC/dg_j ≈
  ⟨ΔC z_j⟩ / (σ g_j)``. Its noise dimension is the number of trainable edges.
* :class:`NodePerturbation` injects random currents ``ψ ~ N(0, σ² I)`` into
  the free nodes. ``⟨ΔC ψ⟩ / σ²`` estimates ``∂C/∂i = J⁻¹ ∂C/∂v = λ`` (the
  Jacobian is symmetric), and each edge combines the estimate at its two
  terminals with its own free-state drop: ``dC/dg_j ≈ -Δλ̂_j ΔV_j``, the
  adjoint formula. Its noise dimension is the number of free nodes.

Both average ``samples`` perturbations, shared by all samples of the batch
(the perturbation is held while the batch is presented). With Gaussian noise
both are unbiased up to ``O(σ²)``; ``centered=True`` uses ``[C(+δ) -
C(-δ)] / 2`` for ``ΔC``, antithetic pairs that cancel the curvature term
``½ δᵀ H δ`` of the cost change and with it that part of the variance. Input
decorrelation (Dalm et al.) acts on the data, not on the rule: see
:class:`physnet.learning.train.Decorrelation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.learning.gradient import free_states, operating_point
from physnet.learning.problem import Problem
from physnet.learning.rules.base import (Estimate, equilibrium, positive, require_rng, resistive_power,
                                        rms)
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.linearize import Linearization
from physnet.solvers.nodal import nodal_operator

__all__ = ["NodePerturbation", "WeightPerturbation"]


def _check(sigma: float, samples: int) -> None:
    positive("sigma", sigma)
    if int(samples) != samples or samples < 1:
        raise NetlistError(f"samples = {samples!r} must be an integer >= 1")


def _signs(centered: bool) -> tuple[float, ...]:
    return (1.0, -1.0) if centered else (1.0,)


@dataclass(frozen=True)
class NodePerturbation:
    """Node perturbation: random node currents, cost change correlated with the noise at each edge's ends.

    Parameters
    ----------
    sigma : float, optional
        Standard deviation of the injected current at each node (A).
    samples : int, optional
        Perturbations averaged per estimate.
    centered : bool, optional
        Antithetic ``±ψ`` pairs.
    options : NewtonOptions, optional

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> rule = NodePerturbation(sigma=1e-3, samples=2000, centered=True)
    >>> est = rule.estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), rng=np.random.default_rng(0))
    >>> np.round(est.grad / [0.046875, -0.015625], 1).tolist()  # noisy, unbiased
    [1.0, 1.0]
    """

    sigma: float = 1e-6
    samples: int = 16
    centered: bool = False
    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "node_perturbation"

    def __post_init__(self) -> None:
        _check(self.sigma, self.samples)

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """Node-perturbation estimate of ``dC/dg`` (needs ``rng``)."""
        rng = require_rng(self.name, rng)
        g_all = problem.conductances(g)
        v, shared = operating_point(problem, g_all, options=self.options)
        costs = problem.costs(v)
        nodes = np.flatnonzero(nodal_operator(problem.system).reduction.free >= 0)  # not held by a source
        psi = np.zeros((self.samples, problem.system.n_nodes))
        psi[:, nodes] = self.sigma * rng.standard_normal((self.samples, len(nodes)))
        delta = np.zeros((self.samples, problem.batch))  # ΔC per perturbation and sample
        power, moved = [], []
        for sign in _signs(self.centered):
            v_k = _settle(problem, g_all, v, sign * psi, shared, self.options)  # (samples, batch, n_nodes)
            delta += sign * (problem.costs(v_k) - costs) / len(_signs(self.centered))
            power.append(resistive_power(problem, g_all, v_k))
            moved.append(problem.drops(v_k) - problem.drops(v))
        lam = np.einsum("ks,kn->sn", delta, psi) / (self.samples * self.sigma**2)  # λ̂ per sample
        grad = -np.mean(problem.drops(lam) * problem.drops(v), axis=0)
        return _estimate(self, problem, g_all, v, grad, costs, power, moved, {"sigma": self.sigma},
                         {"nodes": len(nodes)})


@dataclass(frozen=True)
class WeightPerturbation:
    """Weight perturbation: all trainable conductances jittered at once, cost change correlated with each jitter.

    Parameters
    ----------
    sigma : float, optional
        Relative standard deviation of the jitter, ``g → g (1 + σ z)``
        (keep ``σ ≲ 0.1`` so no conductance crosses zero).
    samples : int, optional
        Perturbations averaged per estimate.
    centered : bool, optional
        Antithetic ``±σ z`` pairs.
    options : NewtonOptions, optional

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> rule = WeightPerturbation(sigma=1e-4, samples=400, centered=True)
    >>> est = rule.estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), rng=np.random.default_rng(0))
    >>> np.round(est.grad / [0.046875, -0.015625], 1).tolist()
    [1.0, 1.0]
    """

    sigma: float = 1e-3
    samples: int = 16
    centered: bool = False
    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "weight_perturbation"

    def __post_init__(self) -> None:
        _check(self.sigma, self.samples)

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """Weight-perturbation estimate of ``dC/dg`` (needs ``rng``)."""
        rng = require_rng(self.name, rng)
        g_all = problem.conductances(g)
        v, _ = operating_point(problem, g_all, options=self.options)
        costs = problem.costs(v)
        z = rng.standard_normal((self.samples, len(problem.trainable)))
        delta = np.zeros(self.samples)  # batch-mean ΔC per perturbation
        power, moved = [], []
        for sign in _signs(self.centered):
            for k in range(self.samples):
                g_k = g_all.copy()
                g_k[problem.trainable] *= 1.0 + sign * self.sigma * z[k]
                v_k = equilibrium(problem, g_k, v, self.options)
                delta[k] += sign * float(np.mean(problem.costs(v_k) - costs)) / len(_signs(self.centered))
                power.append(resistive_power(problem, g_k, v_k))
                moved.append(problem.drops(v_k) - problem.drops(v))
        grad = delta @ z / (self.samples * self.sigma * g_all[problem.trainable])
        return _estimate(self, problem, g_all, v, grad, costs, power, moved, {"sigma": self.sigma}, {})


def _settle(problem: Problem, g_all: NDArray, v: NDArray, currents: NDArray, shared: Linearization | None,
            options: NewtonOptions) -> NDArray:
    """Equilibria with extra node ``currents`` (k, n_nodes) for every sample: shape (k, batch, n_nodes).

    A linear network superposes one multi-right-hand-side response, on the
    free state's factorization ``shared``, on the free states; with diodes
    each perturbed equilibrium is a Newton solve warm-started from the free
    state.
    """
    if shared is not None:
        response = shared.respond(np.ascontiguousarray(currents.T)).T
        return v[None, :, :] + response[:, None, :]
    return np.stack([free_states(problem, g_all, currents=np.broadcast_to(c, v.shape), initial=v, options=options)
                     for c in currents])


def _estimate(rule, problem: Problem, g_all: NDArray, v: NDArray, grad: NDArray, costs: NDArray, power: list,
              moved: list, amplitudes: dict, info: dict) -> Estimate:
    perturbed = float(np.mean(power))
    phases = 1 + rule.samples * len(_signs(rule.centered))
    free = resistive_power(problem, g_all, v)
    return Estimate(grad, float(np.mean(costs)), rule.name, phases, {"free": free, "perturbed": perturbed},
                    free + (phases - 1) * perturbed, {**amplitudes, "signal_rms": rms(np.stack(moved))}, v,
                    {"samples": rule.samples, "centered": rule.centered, **info})
