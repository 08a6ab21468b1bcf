"""Optimizers: SGD, momentum and Adam as frozen configurations with explicit state.

Each optimizer is a pure pair ``state = opt.init(params)`` and
``params, state = opt.step(params, grad, state)``: nothing is mutated, so a
training run is a fold over steps and can be checkpointed by saving the
state. ``grad`` is any rule's :class:`~physnet.learning.rules.Estimate`
``grad`` (an estimate of ``dC/dg``).

Examples
--------
>>> import numpy as np
>>> opt = Adam(lr=0.1)
>>> params, state = np.array([1.0, -1.0]), opt.init(np.zeros(2))
>>> params, state = opt.step(params, np.array([2.0, -0.5]), state)
>>> params.round(6).tolist()  # Adam's first step moves every parameter by lr
[0.9, -0.9]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError

__all__ = ["Optimizer", "SGD", "Momentum", "MomentumState", "Adam", "AdamState", "OPTIMIZERS", "make_optimizer"]


class Optimizer(Protocol):
    """``init(params) -> state`` and ``step(params, grad, state) -> (params, state)``.

    Examples
    --------
    One loop serves every optimizer; here descent on ``θ²`` (gradient ``2θ``) from ``θ = 4``:

    >>> def descend(opt: Optimizer, theta, steps):
    ...     state = opt.init(theta)
    ...     for _ in range(steps):
    ...         theta, state = opt.step(theta, 2 * theta, state)
    ...     return theta.tolist()
    >>> descend(SGD(lr=0.25), np.array([4.0]), 2), descend(Momentum(lr=0.25, momentum=0.5), np.array([4.0]), 2)
    ([1.0], [0.0])
    """

    def init(self, params: NDArray) -> Any: ...

    def step(self, params: NDArray, grad: NDArray, state: Any) -> tuple[NDArray, Any]: ...


def _check_rate(lr: float) -> None:
    if not (np.isfinite(lr) and lr > 0):
        raise NetlistError(f"lr = {lr!r} must be a finite number > 0")


def _check_decay(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise NetlistError(f"{name} = {value!r} must lie in [0, 1)")


@dataclass(frozen=True)
class SGD:
    """Plain gradient descent ``θ ← θ - lr · grad`` (stateless).

    Examples
    --------
    >>> SGD(lr=0.5).step(np.array([1.0]), np.array([4.0]), None)[0].tolist()
    [-1.0]
    """

    lr: float

    def __post_init__(self) -> None:
        _check_rate(self.lr)

    def init(self, params: NDArray) -> None:
        """No state."""
        return None

    def step(self, params: NDArray, grad: NDArray, state: None) -> tuple[NDArray, None]:
        """One step."""
        return params - self.lr * np.asarray(grad), None


@dataclass(frozen=True)
class MomentumState:
    """Velocity of :class:`Momentum`.

    Examples
    --------
    >>> opt = Momentum(lr=0.1, momentum=0.5)
    >>> state = opt.init(np.zeros(2))
    >>> for grad in ([1.0, 0.0], [1.0, 2.0]):
    ...     _, state = opt.step(np.zeros(2), np.array(grad), state)
    >>> state.velocity.tolist()  # 0.5 * [1, 0] + [1, 2]
    [1.5, 2.0]
    """

    velocity: NDArray[np.float64]


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball momentum ``u ← μ u + grad``, ``θ ← θ - lr u`` (Nesterov: ``θ ← θ - lr (grad + μ u)``).

    Examples
    --------
    >>> opt = Momentum(lr=1.0, momentum=0.5)
    >>> p, s = opt.step(np.array([0.0]), np.array([1.0]), opt.init(np.zeros(1)))
    >>> p, s = opt.step(p, np.array([1.0]), s)
    >>> p.tolist(), s.velocity.tolist()
    ([-2.5], [1.5])
    """

    lr: float
    momentum: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        _check_rate(self.lr)
        _check_decay("momentum", self.momentum)

    def init(self, params: NDArray) -> MomentumState:
        """Zero velocity."""
        return MomentumState(np.zeros_like(params, dtype=np.float64))

    def step(self, params: NDArray, grad: NDArray, state: MomentumState) -> tuple[NDArray, MomentumState]:
        """One step."""
        grad = np.asarray(grad)
        velocity = self.momentum * state.velocity + grad
        direction = grad + self.momentum * velocity if self.nesterov else velocity
        return params - self.lr * direction, MomentumState(velocity)


@dataclass(frozen=True)
class AdamState:
    """Moment estimates and step count of :class:`Adam`.

    Examples
    --------
    >>> opt = Adam(lr=0.1)
    >>> _, state = opt.step(np.zeros(2), np.array([2.0, -0.5]), opt.init(np.zeros(2)))
    >>> state.t, state.m.round(6).tolist(), state.v.round(6).tolist()  # (1-β₁) g and (1-β₂) g²
    (1, [0.2, -0.05], [0.004, 0.00025])
    """

    m: NDArray[np.float64]
    v: NDArray[np.float64]
    t: int


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015) with bias-corrected moments.

    ``m ← β₁ m + (1-β₁) g``, ``v ← β₂ v + (1-β₂) g²``,
    ``θ ← θ - lr m̂ / (√v̂ + ε)`` with ``m̂ = m / (1-β₁ᵗ)``, ``v̂ = v / (1-β₂ᵗ)``.

    Notes
    -----
    Conductances span decades; Adam's per-parameter scaling makes one ``lr``
    (in siemens) move every edge by about the same absolute amount, so pick
    ``lr`` well below the smallest conductance or bound the conductances.

    Examples
    --------
    Gradients a thousand times apart move their parameters by the same ``lr`` per step:

    >>> opt = Adam(lr=0.1)
    >>> params, state = np.array([1.0, 1.0]), opt.init(np.zeros(2))
    >>> for _ in range(2):
    ...     params, state = opt.step(params, np.array([10.0, 0.01]), state)
    >>> params.round(6).tolist(), state.t
    ([0.8, 0.8], 2)
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _check_rate(self.lr)
        _check_decay("beta1", self.beta1)
        _check_decay("beta2", self.beta2)
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise NetlistError(f"eps = {self.eps!r} must be a finite number > 0")

    def init(self, params: NDArray) -> AdamState:
        """Zero moments, step 0."""
        zeros = np.zeros_like(params, dtype=np.float64)
        return AdamState(zeros, zeros, 0)

    def step(self, params: NDArray, grad: NDArray, state: AdamState) -> tuple[NDArray, AdamState]:
        """One step."""
        grad = np.asarray(grad)
        t = state.t + 1
        m = self.beta1 * state.m + (1.0 - self.beta1) * grad
        v = self.beta2 * state.v + (1.0 - self.beta2) * grad**2
        m_hat = m / (1.0 - self.beta1**t)
        v_hat = v / (1.0 - self.beta2**t)
        return params - self.lr * m_hat / (np.sqrt(v_hat) + self.eps), AdamState(m, v, t)


OPTIMIZERS: dict[str, type] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, **options: Any) -> Optimizer:
    """The optimizer registered as ``name`` (``"sgd"``, ``"momentum"``, ``"adam"``).

    Examples
    --------
    >>> make_optimizer("momentum", lr=0.1)
    Momentum(lr=0.1, momentum=0.9, nesterov=False)
    """
    if name not in OPTIMIZERS:
        raise NetlistError(f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)})")
    try:
        return OPTIMIZERS[name](**options)
    except TypeError as error:
        raise NetlistError(f"optimizer {name!r}: {error}") from None
