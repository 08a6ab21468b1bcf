"""The linear perceptron of Werfel, Xie & Seung (2005): gradient descent against node and weight perturbation.

The reference setting for the perturbative rules of
:mod:`physnet.learning.rules.perturbation`. A student ``y = W x`` learns a
teacher ``y* = W* x`` online, one Gaussian input ``x ~ N(0, I/N)`` per step
(so ``E|x|² = 1``), on the error ``E = ½ |y - y*|²``. Only the deviation
``D = W - W*`` matters; ``e = D x`` is the output error. Three updates:

``"gradient"``
    ``ΔW = -η e xᵀ`` (the exact gradient of the sample's error).
``"node"``
    node perturbation: the outputs are jittered, ``y + ψ`` with
    ``ψ ~ N(0, σ² I_M)``; ``ΔE = e·ψ + ½|ψ|²`` is broadcast and
    ``ΔW = -η (ΔE / σ²) ψ xᵀ``. Noise dimension: the ``M`` outputs.
``"weight"``
    weight perturbation: ``W + Ψ`` with ``Ψ_ij ~ N(0, σ²)``;
    ``ΔE = e·(Ψ x) + ½|Ψ x|²`` and ``ΔW = -η (ΔE / σ²) Ψ``. Noise
    dimension: the ``M N`` weights.

All three are unbiased estimates of the same gradient (up to ``O(σ²)``),
so at small ``η`` their mean learning curves coincide; the variance of
the perturbative ones grows with the noise dimension ``d``, and the mean
squared deviation stays bounded only for ``η`` below about
``2N / ((d + 2)(N + 2))`` — the largest stable rate falls as ``1/d``.

The learning curve is the generalisation error ``E_g = ½ ‖D‖²_F / N``
(the error averaged over inputs). Simulations vectorise over learning
rates and independent runs; every method sees the same inputs and initial
students (common random numbers), so differences between curves are the
perturbations' doing.

Examples
--------
>>> curves = learning_curves("gradient", n_in=4, n_out=2, rates=[0.1], steps=200, runs=8, seed=0)
>>> curves.shape, bool(curves[0, -1] < 0.05 * curves[0, 0])
((1, 201), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import NetlistError

__all__ = ["METHODS", "noise_dimension", "step", "learning_curves", "max_stable_rate", "log_growth",
           "stability_bound"]

METHODS = ("gradient", "node", "weight")

_DIVERGED = 1e8  # a run whose error grew this many times is frozen: it has diverged


def noise_dimension(method: str, n_in: int, n_out: int) -> int:
    """Number of independent perturbations the method injects per step (0 for the exact gradient).

    Examples
    --------
    >>> [noise_dimension(m, 4, 3) for m in METHODS]
    [0, 3, 12]
    """
    _check_method(method)
    return {"gradient": 0, "node": n_out, "weight": n_in * n_out}[method]


def stability_bound(method: str, n_in: int, n_out: int) -> float:
    """Small-``σ`` stability limit ``2N / ((d + 2)(N + 2))`` of the mean squared deviation (``d`` = noise dimension).

    For the gradient (``d = 0``) this is the exact limit ``2N / (N + 2)`` of
    online least squares with Gaussian inputs ``N(0, I/N)``.

    Examples
    --------
    >>> round(stability_bound("node", 4, 8), 4)
    0.1333
    """
    d = noise_dimension(method, n_in, n_out)
    spread = d + 2 if d else 1  # E[(e·ψ)² |ψ|²] / σ⁴ = (d + 2) |e|²; the exact gradient has no such factor
    return 2.0 * n_in / (spread * (n_in + 2))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise NetlistError(f"unknown perceptron method {method!r} (known: {', '.join(METHODS)})")


def step(method: str, D: NDArray, x: NDArray, rates: NDArray, sigma: float,
         rng: np.random.Generator) -> NDArray:
    """The deviation ``D`` after one online update of every run.

    Parameters
    ----------
    method : {"gradient", "node", "weight"}
    D : ndarray, shape (..., runs, M, N)
        Deviations ``W - W*``.
    x : ndarray, shape (runs, N)
        This step's input of each run (shared by the leading axes).
    rates : ndarray, shape broadcastable to (..., runs, 1, 1)
        Learning rates ``η``.
    sigma : float
        Perturbation amplitude ``σ``.
    rng : Generator
        Source of the perturbations.

    Returns
    -------
    ndarray, same shape as ``D``

    Examples
    --------
    One gradient step on ``D = [[1]]`` with ``x = [1]`` and ``η = 0.5`` halves it:

    >>> step("gradient", np.ones((1, 1, 1)), np.ones((1, 1)), np.array(0.5), 0.0, np.random.default_rng(0)).tolist()
    [[[0.5]]]
    """
    _check_method(method)
    e = np.einsum("...rmn,rn->...rm", D, x)
    if method == "gradient":
        return D - rates * e[..., None] * x[:, None, :]
    if method == "node":
        psi = sigma * rng.standard_normal(e.shape)
        delta = np.sum(e * psi, axis=-1) + 0.5 * np.sum(psi**2, axis=-1)
        return D - rates * (delta / sigma**2)[..., None, None] * psi[..., None] * x[:, None, :]
    Psi = sigma * rng.standard_normal(D.shape)  # weight perturbation
    moved = np.einsum("...rmn,rn->...rm", Psi, x)
    delta = np.sum(e * moved, axis=-1) + 0.5 * np.sum(moved**2, axis=-1)
    return D - rates * (delta / sigma**2)[..., None, None] * Psi


def _error(D: NDArray) -> NDArray:
    """Generalisation error ``½ ‖D‖²_F / N`` of each run (inputs ``N(0, I/N)``)."""
    return 0.5 * np.sum(D**2, axis=(-2, -1)) / D.shape[-1]


def _simulate(method: str, n_in: int, n_out: int, rates: ArrayLike, steps: int, runs: int, sigma: float,
              seed: int) -> NDArray[np.float64]:
    """Errors of every rate and run at every step, shape (n_rates, runs, steps + 1); diverged runs frozen."""
    _check_method(method)
    rates = np.asarray(rates, dtype=np.float64).reshape(-1)
    if rates.size == 0 or not np.all(np.isfinite(rates) & (rates > 0)):
        raise NetlistError(f"rates = {rates.tolist()!r} must be finite numbers > 0")
    if not (np.isfinite(sigma) and sigma > 0):
        raise NetlistError(f"sigma = {sigma!r} must be a finite number > 0")
    data_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    D = np.broadcast_to(data_rng.standard_normal((runs, n_out, n_in)), (len(rates), runs, n_out, n_in)).copy()
    eta = rates[:, None, None, None]
    errors = np.empty((len(rates), runs, steps + 1))
    errors[..., 0] = _error(D)
    limit = _DIVERGED * errors[..., 0]
    for t in range(1, steps + 1):
        x = data_rng.standard_normal((runs, n_in)) / np.sqrt(n_in)
        moved = step(method, D, x, eta, sigma, noise_rng)
        alive = (errors[..., t - 1] < limit)[..., None, None]
        D = np.where(alive, moved, D)
        errors[..., t] = _error(D)
    return errors


def learning_curves(method: str, *, n_in: int, n_out: int, rates: Sequence[float], steps: int, runs: int = 16,
                    sigma: float = 1e-4, seed: int = 0) -> NDArray[np.float64]:
    """Mean generalisation error over ``runs`` at every step, shape (n_rates, steps + 1).

    The same ``seed`` gives every method the same inputs and initial
    students, so curves of different methods differ only by their
    perturbations.

    Examples
    --------
    >>> setup = dict(n_in=4, n_out=2, rates=[0.05, 0.2], steps=100, runs=4, seed=1)
    >>> node, exact = learning_curves("node", **setup), learning_curves("gradient", **setup)
    >>> node.shape, bool(np.array_equal(node[:, 0], exact[:, 0])), bool(np.all(node[:, -1] < node[:, 0]))
    ((2, 101), True, True)
    """
    return np.mean(_simulate(method, n_in, n_out, rates, steps, runs, sigma, seed), axis=1)


def log_growth(method: str, *, n_in: int, n_out: int, rates: Sequence[float], steps: int, runs: int = 16,
               sigma: float = 1e-4, seed: int = 0) -> NDArray[np.float64]:
    """Mean over runs of ``log(E_T / E_0)`` per rate: negative where learning is stable.

    Examples
    --------
    The gradient's stability limit for ``N = 8`` is ``2N / (N + 2) = 1.6`` (:func:`stability_bound`):

    >>> growth = log_growth("gradient", n_in=8, n_out=1, rates=[0.5, 5.0], steps=100, runs=8)
    >>> (growth < 0).tolist()
    [True, False]
    """
    errors = _simulate(method, n_in, n_out, rates, steps, runs, sigma, seed)
    return np.mean(np.log(errors[..., -1] / errors[..., 0]), axis=1)


def max_stable_rate(method: str, *, n_in: int, n_out: int, rates: Sequence[float], steps: int, runs: int = 16,
                    sigma: float = 1e-4, seed: int = 0) -> float:
    """Largest stable learning rate: where the mean ``log(E_T / E_0)`` first turns positive on the grid ``rates``.

    Interpolated linearly in ``log η`` between the last stable and the first
    unstable rate of the (increasing) grid.

    Raises
    ------
    NetlistError
        The grid does not bracket the limit (all rates stable or all unstable).

    Examples
    --------
    >>> rates = np.geomspace(0.05, 20.0, 25)
    >>> eta = max_stable_rate("gradient", n_in=8, n_out=1, rates=rates, steps=300, runs=16)
    >>> bool(0.7 < eta / stability_bound("gradient", 8, 1) < 1.4)
    True
    """
    rates = np.asarray(rates, dtype=np.float64)
    if np.any(np.diff(rates) <= 0):
        raise NetlistError("rates must increase")
    growth = log_growth(method, n_in=n_in, n_out=n_out, rates=rates, steps=steps, runs=runs, sigma=sigma, seed=seed)
    unstable = np.flatnonzero(growth > 0)
    if unstable.size == 0 or unstable[0] == 0:
        raise NetlistError(f"{method}: the rates {rates[0]:.3g}..{rates[-1]:.3g} do not bracket the largest stable "
                           f"rate (log growth {growth[0]:.3g}..{growth[-1]:.3g}); widen the grid")
    i = unstable[0]
    lo, hi = np.log(rates[i - 1]), np.log(rates[i])
    return float(np.exp(lo + (hi - lo) * (0.0 - growth[i - 1]) / (growth[i] - growth[i - 1])))
