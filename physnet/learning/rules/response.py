"""Rules that read a linear response to an error current: the exact adjoint and frequency propagation.

* :class:`Adjoint` — the reference. With the Jacobian ``J`` at the free
  state and ``λ = J⁻¹ ∂C/∂v``, ``dC/dg_j = -Δλ_j ΔV_j``: a free state plus
  one back-substitution on the same factorization (a batch of a linear
  network is one multi-right-hand-side solve).
* :class:`FrequencyPropagation` — the FP engine of
  :func:`physnet.learning.fp.fp_estimate`: activation and error tones settle
  together (one phase), each edge multiplies its two lock-in coefficients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from physnet.learning.fp import fp_estimate
from physnet.learning.gradient import operating_point, small_signal
from physnet.learning.problem import Problem
from physnet.learning.rules.base import (Estimate, output_responses, positive, prefer_output_responses,
                                        resistive_power, rms)
from physnet.solvers.dc import NewtonOptions

__all__ = ["Adjoint", "FrequencyPropagation"]


@dataclass(frozen=True)
class Adjoint:
    """Exact gradient by the adjoint (backpropagation through the physics).

    Parameters
    ----------
    options : NewtonOptions, optional
        DC solver settings.

    Examples
    --------
    A divider ``v_out = g1 / (g1 + g2)``: ``dC/dg1 = (v_out - y) g2 / (g1 + g2)²``.

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> est = Adjoint().estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]))
    >>> np.round(est.grad, 12).tolist(), est.phases
    ([0.046875, -0.015625], 2)
    """

    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "adjoint"

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """Exact ``dC/dg`` (``rng`` is ignored)."""
        g_all = problem.conductances(g)
        if prefer_output_responses(problem, problem.batch):  # ∂C/∂v lives on the outputs: λ = X ∂C/∂v_out
            v, _, X = output_responses(problem, g_all, self.options)
            lam = problem.cost.grad(v[:, problem.outputs], problem.targets) @ X.T
        else:  # linear: one factorization for all samples and both solves
            v, shared = operating_point(problem, g_all, options=self.options)
            lam = small_signal(problem, g_all, v, -problem.error_currents(v, 1.0), shared)  # λ = J⁻¹ ∂C/∂v
        grad = -np.mean(problem.drops(lam) * problem.drops(v), axis=0)
        power = resistive_power(problem, g_all, v)
        return Estimate(grad, float(np.mean(problem.costs(v))), self.name, 2, {"free": power}, power, {}, v)


@dataclass(frozen=True)
class FrequencyPropagation:
    """Frequency propagation: ``dC/dg ≈ ⟨ΔV^A ΔV^B⟩ / β`` from one two-tone phase.

    Parameters
    ----------
    beta : float, optional
        Error-current amplitude per unit ``∂C/∂v_out`` (A/V for the squared
        error).
    solver : str, optional
        How :func:`physnet.learning.fp.fp_estimate` reads the coefficients
        (``"phasor"`` is the fast small-signal path).
    options : NewtonOptions, optional
    solver_options : mapping, optional
        Further keywords of :func:`~physnet.learning.fp.fp_estimate` (tones,
        periods, noise, ...). A noisy ``"transient"`` run draws from the
        ``rng`` given to :meth:`estimate` unless a ``seed`` is set here.

    Notes
    -----
    ``power["error"]`` is the mean power of the error tone, ``½ Σ g (ΔV^B)²``
    over the trainable edges (the only drops the FP engine reports).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> est = FrequencyPropagation(beta=1e-2).estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]))
    >>> np.round(est.grad, 12).tolist(), est.phases
    ([0.046875, -0.015625], 1)
    """

    beta: float = 1e-3
    solver: str = "phasor"
    options: NewtonOptions = NewtonOptions()
    solver_options: Mapping[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "fp"

    def __post_init__(self) -> None:
        positive("beta", self.beta)

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """FP estimate of ``dC/dg`` (``rng`` feeds the noise of a transient run)."""
        g_all = problem.conductances(g)
        extra = dict(self.solver_options)
        if self.solver == "transient" and rng is not None:
            extra.setdefault("seed", rng)
        result = fp_estimate(problem, g_all, beta=self.beta, solver=self.solver, options=self.options, **extra)
        power = {"activation": resistive_power(problem, g_all, result.states)}
        amplitudes = {"beta": self.beta}
        dv_b = result.info.get("dv_b")
        if dv_b is not None:
            power["error"] = float(0.5 * np.mean(np.sum(g_all[problem.trainable] * np.abs(dv_b) ** 2, axis=-1)))
            amplitudes["signal_rms"] = rms(np.abs(dv_b))
        return Estimate(result.grad, result.cost, self.name, 1, power, sum(power.values()), amplitudes,
                        result.states, {"solver": self.solver, **result.info})
