"""Multiplexed gradient descent (Oripov, McCaughan et al. 2023/2024).

All trainable conductances are perturbed at once with distinguishable codes
``θ̃_i(t) = a g_i c_i(t)`` (``|c| ≤ 1``); a single global cost ``C(t)`` is
read at every time step, its baseline ``C_0`` (unperturbed network) removed,
and each edge demodulates the common signal with its own code — the same
homodyne detection a radio receiver does:

    dC/dg_i ≈ Σ_t (C(t) - C_0) c_i(t) / (a g_i Σ_t c_i(t)²).

Time is counted in steps of one network settling. Each code value is held
for ``tau_p`` steps and the products are integrated over ``tau_theta``
steps before the estimate is handed to the optimizer (the paper's discrete
update mode; its ``G_int`` is this estimate times ``τ_θ a²/‖θ̃‖²``, here
normalised so the learning rate does not depend on the window). Codes:

``"fdma"``
    sinusoids ``sin(2π k_i m / M + φ_i)`` over the ``M`` chips of the window,
    distinct integer ``k_i`` where possible: exactly orthogonal when
    ``M > 2 n_params``, otherwise some parameters share a frequency.
``"tdma"``
    one parameter at a time, in a random order (finite differences; a
    parameter never reached in the window gets 0).
``"cdma"``
    independent random ``±1`` chips (orthogonal on average).

Readings carry optional Gaussian noise ``cost_noise`` per step; holding a
chip longer (``tau_p``) averages it, as in hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.learning.gradient import operating_point
from physnet.learning.problem import Problem
from physnet.learning.rules.base import (Estimate, equilibrium, positive, require_rng, resistive_power,
                                        rms)
from physnet.solvers.dc import NewtonOptions

__all__ = ["MultiplexedGradientDescent", "CODES", "codes"]

CODES = ("fdma", "tdma", "cdma")


def codes(kind: str, n_chips: int, n_params: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Perturbation codes ``c[m, i]`` of each parameter in each chip, shape (n_chips, n_params).

    Examples
    --------
    >>> c = codes("fdma", 9, 4, np.random.default_rng(0))
    >>> np.allclose(c.T @ c, 4.5 * np.eye(4))  # orthogonal over the window
    True
    >>> codes("tdma", 3, 3, np.random.default_rng(0)).sum(axis=1).tolist()
    [1.0, 1.0, 1.0]
    """
    if kind == "cdma":
        return rng.choice([-1.0, 1.0], size=(n_chips, n_params))
    if kind == "tdma":
        order = rng.permutation(n_params)
        c = np.zeros((n_chips, n_params))
        c[np.arange(n_chips), order[np.arange(n_chips) % n_params]] = 1.0
        return c
    if kind == "fdma":
        k_max = max(1, (n_chips - 1) // 2)  # below Nyquist, so sin(k m) and sin(k' m) stay orthogonal
        k = 1 + rng.permutation(n_params) % k_max
        phase = rng.uniform(0.0, 2.0 * np.pi, n_params)
        return np.sin(2.0 * np.pi * np.outer(np.arange(n_chips), k) / n_chips + phase)
    raise NetlistError(f"unknown MGD code {kind!r} (known: {', '.join(CODES)})")


@dataclass(frozen=True)
class MultiplexedGradientDescent:
    """Multiplexed gradient descent: coded simultaneous perturbations, one broadcast cost.

    Parameters
    ----------
    amplitude : float, optional
        Relative perturbation amplitude ``a`` (``g → g (1 + a c)``).
    code : {"fdma", "tdma", "cdma"}, optional
    tau_p : int, optional
        Steps each code value is held.
    tau_theta : int, optional
        Steps integrated per estimate (the window).
    cost_noise : float, optional
        Standard deviation of the noise of each cost reading (cost units).
    options : NewtonOptions, optional

    Examples
    --------
    FDMA over a window longer than twice the parameter count separates the
    parameters exactly; in a linear network with a small amplitude the
    estimate is the gradient up to ``O(a)``:

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> rule = MultiplexedGradientDescent(amplitude=1e-5, code="fdma", tau_theta=5)
    >>> est = rule.estimate(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), rng=np.random.default_rng(0))
    >>> np.round(est.grad / [0.046875, -0.015625], 4).tolist(), est.phases
    ([1.0, 1.0], 6)
    """

    amplitude: float = 1e-3
    code: str = "cdma"
    tau_p: int = 1
    tau_theta: int = 64
    cost_noise: float = 0.0
    options: NewtonOptions = NewtonOptions()
    name: ClassVar[str] = "mgd"

    def __post_init__(self) -> None:
        positive("amplitude", self.amplitude)
        if self.code not in CODES:
            raise NetlistError(f"unknown MGD code {self.code!r} (known: {', '.join(CODES)})")
        for key in ("tau_p", "tau_theta"):
            value = getattr(self, key)
            if int(value) != value or value < 1:
                raise NetlistError(f"{key} = {value!r} must be an integer number of steps >= 1")
        if not (np.isfinite(self.cost_noise) and self.cost_noise >= 0):
            raise NetlistError(f"cost_noise = {self.cost_noise!r} must be a finite number >= 0")

    def estimate(self, problem: Problem, g: NDArray, *, rng: np.random.Generator | None = None) -> Estimate:
        """MGD estimate of ``dC/dg`` from one window of ``tau_theta`` steps (needs ``rng``)."""
        rng = require_rng(self.name, rng)
        g_all = problem.conductances(g)
        g_train = g_all[problem.trainable]
        v, _ = operating_point(problem, g_all, options=self.options)
        costs = problem.costs(v)
        n_chips = -(-self.tau_theta // self.tau_p)
        hold = np.full(n_chips, self.tau_p)
        hold[-1] = self.tau_theta - self.tau_p * (n_chips - 1)
        c = codes(self.code, n_chips, len(g_train), rng)
        baseline = float(np.mean(costs)) + self.cost_noise * rng.standard_normal()
        signal = np.empty(n_chips)  # Σ over the chip's steps of C(t) - C_0
        power, moved = np.empty(n_chips), []
        for m in range(n_chips):
            g_m = g_all.copy()
            g_m[problem.trainable] = g_train * (1.0 + self.amplitude * c[m])
            v_m = equilibrium(problem, g_m, v, self.options)
            readings = float(np.mean(problem.costs(v_m))) + self.cost_noise * rng.standard_normal(hold[m])
            signal[m] = np.sum(readings - baseline)
            power[m] = resistive_power(problem, g_m, v_m)
            moved.append(problem.drops(v_m) - problem.drops(v))
        weight = hold @ c**2
        grad = np.divide(signal @ c, self.amplitude * g_train * weight, out=np.zeros(len(g_train)),
                         where=weight > 0)
        free = resistive_power(problem, g_all, v)
        return Estimate(grad, float(np.mean(costs)), self.name, 1 + n_chips,
                        {"free": free, "perturbed": float(hold @ power / self.tau_theta)}, free + float(hold @ power),
                        {"amplitude": self.amplitude, "signal_rms": rms(np.stack(moved))}, v,
                        {"code": self.code, "chips": n_chips, "steps": self.tau_theta,
                         "unreached": int(np.sum(weight == 0))})
