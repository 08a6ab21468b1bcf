"""Hardware constraints on trainable conductances, composable and usable with every learning rule.

A real learning machine does not hold ideal float conductances. This module
models what it holds instead, as pure functions over arrays plus small
frozen dataclasses, and one composition object, :class:`Hardware`:

:class:`Bounds`
    Every device lies in ``[low, high]`` (S); updates are clipped.
:class:`Quantization`
    Devices take one of a few levels (``n`` uniform levels between the
    bounds, or given levels). Training keeps a float *shadow copy* ``w``;
    the physics sees ``q(w)`` and the update computed there is applied to
    ``w`` (straight-through / coarse gradient, BinaryConnect). With
    ``blend = ρ > 0`` it is blended coarse gradient descent (BCGD, Yin et
    al. 2019): ``w ← (1-ρ) w + ρ q(w) + Δ``.
:class:`Sparsity`
    Relaxed variable splitting (RVSM, Dinh & Xin 2020) for the penalty
    ``λ P(u)``, ``P`` one of L1, L0 or transformed-L1 (TL1, Zhang & Xin
    2017): ``u = prox_{(λ/β) P}(w)`` (the thresholding operators below),
    then ``w ← w + Δ - η β (w - u)``. The physics sees the relaxed ``w``
    during training; :meth:`Hardware.deployed` gives the sparse ``u``.
    Conductances are positive, so "zero" is the *off* state: the operators
    act on ``w - floor`` with ``floor`` the lower bound (0 without bounds).
:class:`Variation`
    Fixed device-to-device variation: device ``i`` realises
    ``ν_i × programmed_i`` with ``log ν_i ~ N(0, σ²)`` (median 1), drawn
    once per chip (from its own ``seed`` if given).
:class:`Noise`
    Read noise (every time the physics reads the devices) and write noise
    (every update): a zero-mean Gaussian of standard deviation
    ``sqrt((relative·|x|)² + absolute²)`` per entry, where ``x`` is the
    conductance (read) or the update (write).

Protocol (what a training loop does; every constraint is optional, and
``Hardware()`` is the ideal machine, for which ``device(state)`` is the
plain float conductance vector)::

    hw = Hardware(bounds=Bounds(1e-6, 1e-2), quantization=Quantization(16))
    rng = np.random.default_rng(seed)
    state = hw.init(g0, rng)                  # HardwareState: shadow copy + chip
    for step in range(steps):
        g = hw.read(hw.device(state), rng)    # conductances the physics sees (one read per step)
        grad = rule(system, g, batch).grad    # any rule's dC/dg estimate at g
        delta = optimizer(grad)               # e.g. -lr * grad; SGD, Adam, ...
        state = hw.apply_update(state, delta, rng)
    g_final = hw.deployed(state)              # sparse, quantized, with variation

``apply_update`` is one pure function of ``(state, delta)`` (and ``rng`` for
write noise):

    w' = clip( w + Δ̃  + ρ (q(w) - w) - η β (w - u(w)) ),   Δ̃ = Δ + write noise,

with the pulls present only when quantization (``ρ = blend``) or sparsity
is configured. The update ``Δ`` is applied to the shadow as is
(straight-through past quantization, variation and read noise): the rule's
estimate is computed at what the physics saw. All random draws come from
the ``numpy.random.Generator`` passed in, in a fixed order, so one seed
gives one training run bit for bit.

Examples
--------
>>> import numpy as np
>>> hw = Hardware(bounds=Bounds(0.0, 1.0), quantization=Quantization(5))
>>> state = hw.init(np.array([0.1, 0.5, 0.93]))
>>> hw.device(state)
array([0. , 0.5, 1. ])
>>> state = hw.apply_update(state, np.array([0.1, -0.2, 0.2]))
>>> state.shadow, hw.device(state)
(array([0.2, 0.3, 1. ]), array([0.25, 0.25, 1.  ]))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import PhysnetError

__all__ = [
    "HardwareError",
    "PENALTIES",
    "soft_threshold",
    "hard_threshold",
    "tl1_threshold",
    "threshold",
    "penalty",
    "clip",
    "uniform_levels",
    "quantize",
    "lognormal_factors",
    "gaussian_noise",
    "Bounds",
    "Quantization",
    "Sparsity",
    "Variation",
    "Noise",
    "HardwareState",
    "Hardware",
]

PENALTIES = ("l1", "l0", "tl1")
"""Sparsity penalties with closed-form thresholding operators."""

Penalty = Literal["l1", "l0", "tl1"]


class HardwareError(PhysnetError, ValueError):
    """A hardware model is invalid (bounds, levels, penalty or noise parameters).

    Examples
    --------
    >>> try:
    ...     Bounds(low=2.0, high=1.0)
    ... except HardwareError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError), exc)
    HardwareError True bounds.high = 1.0 is invalid (must be a number > 2)
    """


def _number(name: str, value: Any, *, least: float = -math.inf, strict: bool = False,
            finite: bool = True) -> float:
    """``value`` as a float that is (strictly) above ``least``; a HardwareError names ``name`` otherwise."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not ok or math.isnan(number) or (finite and not math.isfinite(number)) or (
            number <= least if strict else number < least):
        bound = f"{'>' if strict else '>='} {least:g}" if least > -math.inf else "a number"
        raise HardwareError(f"{name} = {value!r} is invalid (must be a {'finite ' if finite else ''}number {bound})")
    return number


# ------------------------------------------------------------ thresholding
def soft_threshold(x: ArrayLike, lam: float) -> NDArray[np.float64]:
    """Proximal operator of ``lam |u|`` (L1): ``sign(x) max(|x| - lam, 0)``.

    The minimiser of ``½ (u - x)² + lam |u|``.

    Examples
    --------
    >>> soft_threshold([2.5, -0.8, 0.3], 1.0)
    array([ 1.5, -0. ,  0. ])
    """
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.maximum(np.abs(x) - lam, 0.0)


def hard_threshold(x: ArrayLike, lam: float) -> NDArray[np.float64]:
    """Proximal operator of ``lam [u ≠ 0]`` (L0): keep ``x`` where ``|x| > sqrt(2 lam)``, else 0.

    The minimiser of ``½ (u - x)² + lam [u ≠ 0]``: keeping ``x`` costs
    ``lam``, zeroing it costs ``x²/2``. At ``|x| = sqrt(2 lam)`` both are
    minimisers; this operator returns 0.

    Examples
    --------
    >>> hard_threshold([2.5, -0.8, 1.5], 1.0)
    array([2.5, 0. , 1.5])
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.abs(x) > math.sqrt(2.0 * lam), x, 0.0)


def tl1_threshold(x: ArrayLike, lam: float, a: float = 1.0) -> NDArray[np.float64]:
    """Proximal operator of the transformed-L1 penalty (Zhang & Xin 2017, closed form).

    The minimiser of ``½ (u - x)² + lam ρ_a(u)`` with
    ``ρ_a(u) = (a + 1)|u| / (a + |u|)``, ``a > 0`` (``a → 0``: L0,
    ``a → ∞``: L1):

        u = sign(x) [ (2/3)(a + |x|) cos(φ/3) - 2a/3 + |x|/3 ]   if |x| > t, else 0,
        φ = arccos(1 - 27 lam a (a + 1) / (2 (a + |x|)³)),

    with the threshold ``t = lam (a + 1) / a`` when
    ``lam <= a² / (2(a + 1))`` (the continuous, "subcritical" case) and
    ``t = sqrt(2 lam (a + 1)) - a/2`` otherwise (a jump at ``t``).

    Examples
    --------
    >>> tl1_threshold([3.0, -0.5, 0.1], 0.2, a=1.0).round(6)
    array([ 2.97468 , -0.239749,  0.      ])
    """
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(x)
    if lam <= a * a / (2.0 * (a + 1.0)):
        t = lam * (a + 1.0) / a
    else:
        t = math.sqrt(2.0 * lam * (a + 1.0)) - a / 2.0
    with np.errstate(invalid="ignore"):  # arccos of entries below the threshold, discarded by where
        phi = np.arccos(np.clip(1.0 - 27.0 * lam * a * (a + 1.0) / (2.0 * (a + mag) ** 3), -1.0, 1.0))
        h = (2.0 / 3.0) * (a + mag) * np.cos(phi / 3.0) - 2.0 * a / 3.0 + mag / 3.0
    return np.where(mag > t, np.sign(x) * h, 0.0)


def penalty(u: ArrayLike, kind: Penalty, a: float = 1.0) -> NDArray[np.float64]:
    """Elementwise sparsity penalty: ``|u|`` (l1), ``[u ≠ 0]`` (l0) or ``(a+1)|u|/(a+|u|)`` (tl1).

    Examples
    --------
    >>> penalty([0.0, 1.0, -3.0], "tl1", a=1.0)
    array([0. , 1. , 1.5])
    """
    u = np.abs(np.asarray(u, dtype=np.float64))
    if kind == "l1":
        return u
    if kind == "l0":
        return (u != 0).astype(np.float64)
    if kind == "tl1":
        return (a + 1.0) * u / (a + u)
    raise HardwareError(f"penalty = {kind!r} is not supported (allowed: {', '.join(PENALTIES)})")


def threshold(x: ArrayLike, kind: Penalty, lam: float, a: float = 1.0) -> NDArray[np.float64]:
    """The thresholding operator ``prox_{lam P}(x)`` of penalty ``kind`` (see :func:`penalty`).

    Examples
    --------
    >>> threshold([2.0, 0.5], "l1", 1.0), threshold([2.0, 0.5], "l0", 1.0)
    (array([1., 0.]), array([2., 0.]))
    """
    if kind == "l1":
        return soft_threshold(x, lam)
    if kind == "l0":
        return hard_threshold(x, lam)
    if kind == "tl1":
        return tl1_threshold(x, lam, a)
    raise HardwareError(f"penalty = {kind!r} is not supported (allowed: {', '.join(PENALTIES)})")


# -------------------------------------------------------- device functions
def clip(g: ArrayLike, low: float, high: float) -> NDArray[np.float64]:
    """Conductances clipped into ``[low, high]``.

    Examples
    --------
    >>> clip([-1.0, 0.5, 3.0], 0.0, 1.0)
    array([0. , 0.5, 1. ])
    """
    return np.clip(np.asarray(g, dtype=np.float64), low, high)


def uniform_levels(n: int, low: float, high: float) -> NDArray[np.float64]:
    """``n >= 2`` equally spaced levels from ``low`` to ``high`` inclusive.

    Examples
    --------
    >>> uniform_levels(3, 1.0, 2.0)
    array([1. , 1.5, 2. ])
    """
    return np.linspace(low, high, n)


def quantize(w: ArrayLike, levels: ArrayLike) -> NDArray[np.float64]:
    """Each entry of ``w`` replaced by the nearest of the sorted ``levels`` (ties go to the lower level).

    Examples
    --------
    >>> quantize([0.1, 0.25, 0.6, 7.0], [0.0, 0.5, 1.0])
    array([0. , 0. , 0.5, 1. ])
    """
    w = np.asarray(w, dtype=np.float64)
    grid = np.asarray(levels, dtype=np.float64)
    upper = np.clip(np.searchsorted(grid, w), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(w.shape, int)
    lower = np.maximum(upper - 1, 0)
    pick_upper = np.abs(grid[upper] - w) < np.abs(w - grid[lower])
    return np.where(pick_upper, grid[upper], grid[lower])


def lognormal_factors(shape: int | tuple[int, ...], sigma: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Multiplicative device factors ``exp(σ ξ)``, ``ξ ~ N(0, 1)``: median 1, log-standard deviation σ.

    Examples
    --------
    >>> lognormal_factors(3, 0.0, np.random.default_rng(0))
    array([1., 1., 1.])
    """
    return np.exp(sigma * rng.standard_normal(shape))


def gaussian_noise(x: ArrayLike, relative: float, absolute: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """``x`` plus zero-mean Gaussian noise of standard deviation ``sqrt((relative·|x|)² + absolute²)`` per entry.

    Examples
    --------
    >>> gaussian_noise([1.0, 2.0], 0.0, 0.0, np.random.default_rng(0))
    array([1., 2.])
    """
    x = np.asarray(x, dtype=np.float64)
    return x + np.hypot(relative * x, absolute) * rng.standard_normal(x.shape)


# ------------------------------------------------------------------ models
@dataclass(frozen=True)
class Bounds:
    """Every device conductance lies in ``[low, high]`` (S).

    Examples
    --------
    >>> Bounds(1e-6, 1e6).apply([0.0, 2.0])
    array([1.e-06, 2.e+00])
    """

    low: float = 0.0
    high: float = math.inf

    def __post_init__(self) -> None:
        low = _number("bounds.low", self.low, least=0.0)
        high = _number("bounds.high", self.high, least=low, strict=True, finite=False)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def apply(self, g: ArrayLike) -> NDArray[np.float64]:
        """``g`` clipped into the bounds."""
        return clip(g, self.low, self.high)


@dataclass(frozen=True)
class Quantization:
    """Devices hold one of a few conductance levels; training uses a float shadow copy (BCGD).

    Parameters
    ----------
    levels : int or sequence of float
        ``n >= 2`` uniform levels between the hardware's bounds (which must
        then be finite), or the levels themselves (S, sorted on
        construction).
    blend : float, optional
        BCGD blending ``ρ`` in ``[0, 1)``: each update also pulls the
        shadow towards its quantized value, ``w ← (1-ρ) w + ρ q(w) + Δ``.
        ``0`` is plain straight-through training (BinaryConnect).

    Examples
    --------
    >>> Quantization([0.3, 0.1, 0.2]).grid(None)
    array([0.1, 0.2, 0.3])
    >>> Quantization(3).grid(Bounds(0.0, 1.0))
    array([0. , 0.5, 1. ])
    """

    levels: int | tuple[float, ...]
    blend: float = 0.0

    def __post_init__(self) -> None:
        levels = self.levels
        if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
            if levels < 2:
                raise HardwareError(f"quantization.levels = {levels!r} must be at least 2")
            levels = int(levels)
        else:
            try:
                grid = np.sort(np.asarray(levels, dtype=np.float64).reshape(-1))
            except (TypeError, ValueError):
                raise HardwareError(f"quantization.levels = {levels!r} must be an integer n >= 2 or a list of "
                                    "conductance levels") from None
            if grid.size < 2 or not np.isfinite(grid).all() or (grid < 0).any() or (np.diff(grid) == 0).any():
                raise HardwareError(f"quantization.levels = {levels!r} must hold at least 2 distinct finite "
                                    "levels >= 0")
            levels = tuple(grid.tolist())
        object.__setattr__(self, "levels", levels)
        blend = _number("quantization.blend", self.blend, least=0.0)
        if blend >= 1.0:
            raise HardwareError(f"quantization.blend = {blend!r} must be in [0, 1) (BCGD uses a small ρ, e.g. 1e-4)")
        object.__setattr__(self, "blend", blend)

    def grid(self, bounds: Bounds | None) -> NDArray[np.float64]:
        """The sorted levels (S); uniform levels need finite ``bounds``."""
        if isinstance(self.levels, tuple):
            return np.array(self.levels)
        if bounds is None or not math.isfinite(bounds.high):
            raise HardwareError(f"quantization.levels = {self.levels} uniform levels need finite bounds "
                                "(give bounds=Bounds(low, high), or the levels themselves)")
        return uniform_levels(self.levels, bounds.low, bounds.high)


@dataclass(frozen=True)
class Sparsity:
    """Sparsity by relaxed variable splitting (RVSM) with a thresholding operator.

    RVSM minimises ``f(w) + λ P(u) + (β/2)‖w - u‖²`` by alternating
    ``u = prox_{(λ/β) P}(w)`` and a gradient step on ``w`` with the extra
    pull ``-η β (w - u)``.

    Parameters
    ----------
    penalty : {"l1", "l0", "tl1"}
        Penalty ``P`` (see :func:`penalty`).
    lam : float
        Penalty weight ``λ >= 0`` (cost units per S for L1).
    beta : float
        Splitting strength ``β > 0``; the threshold acts with ``λ/β``.
    lr : float
        Step ``η >= 0`` of the pull; use the learning rate of the update
        ``Δ`` so both act on the same scale (``η β < 1``).
    a : float, optional
        TL1 shape parameter ``a > 0``.

    Examples
    --------
    >>> s = Sparsity("l1", lam=0.1, beta=1.0, lr=0.5)
    >>> s.split([0.05, 0.3], floor=0.0)
    array([0. , 0.2])
    """

    penalty: Penalty = "l1"
    lam: float = 0.0
    beta: float = 1.0
    lr: float = 0.0
    a: float = 1.0

    def __post_init__(self) -> None:
        if self.penalty not in PENALTIES:
            raise HardwareError(f"sparsity.penalty = {self.penalty!r} is not supported (allowed: "
                                f"{', '.join(PENALTIES)})")
        object.__setattr__(self, "lam", _number("sparsity.lam", self.lam, least=0.0))
        object.__setattr__(self, "beta", _number("sparsity.beta", self.beta, least=0.0, strict=True))
        object.__setattr__(self, "lr", _number("sparsity.lr", self.lr, least=0.0))
        object.__setattr__(self, "a", _number("sparsity.a", self.a, least=0.0, strict=True))
        if self.lr * self.beta >= 1.0:
            raise HardwareError(f"sparsity.lr * sparsity.beta = {self.lr * self.beta:g} must be < 1 (the pull "
                                "towards the sparse copy would overshoot)")

    def split(self, w: ArrayLike, floor: float) -> NDArray[np.float64]:
        """The sparse variable ``u = floor + prox_{(λ/β) P}(w - floor)``."""
        w = np.asarray(w, dtype=np.float64)
        return floor + threshold(w - floor, self.penalty, self.lam / self.beta, self.a)


@dataclass(frozen=True)
class Variation:
    """Fixed device-to-device variation: factors ``ν_i = exp(σ ξ_i)`` (median 1), one per device.

    Parameters
    ----------
    sigma : float
        Standard deviation of ``log ν`` (>= 0).
    seed : int, optional
        Seed of the chip: the same seed gives the same factors whatever
        the training seed. ``None``: drawn from the ``rng`` given to
        :meth:`Hardware.init`.

    Examples
    --------
    >>> chip = Variation(0.1, seed=7)
    >>> f = chip.factors(3, np.random.default_rng(0))
    >>> bool(np.allclose(f, chip.factors(3, np.random.default_rng(1))))  # the chip's seed, not the rng, decides
    True
    >>> Variation(0.0).factors(2, np.random.default_rng(0))  # sigma 0: identical devices
    array([1., 1.])
    """

    sigma: float
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _number("variation.sigma", self.sigma, least=0.0))
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))
                                      or self.seed < 0):
            raise HardwareError(f"variation.seed = {self.seed!r} must be None or an integer >= 0")

    def factors(self, n: int, rng: np.random.Generator | None) -> NDArray[np.float64]:
        """The ``n`` device factors."""
        if self.seed is not None:
            rng = np.random.default_rng(self.seed)
        elif rng is None:
            raise HardwareError("variation without a seed needs an rng: pass a numpy.random.Generator to "
                                "Hardware.init, or set Variation(sigma, seed=...)")
        return lognormal_factors(n, self.sigma, rng)


@dataclass(frozen=True)
class Noise:
    """Zero-mean Gaussian noise of standard deviation ``sqrt((relative·|x|)² + absolute²)`` per entry.

    Used for read noise (``x`` = the conductance read) and write noise
    (``x`` = the update written; every device is written at every update).

    Examples
    --------
    10 % relative noise on reads of 2 S has a standard deviation of 0.2 S:

    >>> x = Noise(relative=0.1).apply(np.full(100_000, 2.0), np.random.default_rng(0), "read noise")
    >>> round(float(x.mean()), 2), round(float(x.std()), 2)
    (2.0, 0.2)
    """

    relative: float = 0.0
    absolute: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "relative", _number("noise.relative", self.relative, least=0.0))
        object.__setattr__(self, "absolute", _number("noise.absolute", self.absolute, least=0.0))

    def apply(self, x: ArrayLike, rng: np.random.Generator | None, what: str) -> NDArray[np.float64]:
        """``x`` with noise drawn from ``rng`` (``what`` names the noise in errors)."""
        if rng is None:
            raise HardwareError(f"{what} needs an rng: pass a numpy.random.Generator")
        return gaussian_noise(x, self.relative, self.absolute, rng)


@dataclass(frozen=True, eq=False)
class HardwareState:
    """What a hardware model carries between updates.

    Attributes
    ----------
    shadow : ndarray, shape (n,)
        The float weights ``w`` training updates (the conductances
        themselves on an ideal or unquantized machine), within the bounds.
    variation : ndarray, shape (n,)
        Device factors ``ν`` (ones without variation).

    Examples
    --------
    >>> state = Hardware(bounds=Bounds(0.0, 1.0)).init(np.array([0.5, 2.0]))
    >>> state.shadow, state.variation  # the shadow starts clipped into the bounds; no variation
    (array([0.5, 1. ]), array([1., 1.]))
    """

    shadow: NDArray[np.float64]
    variation: NDArray[np.float64]


_MODEL_TYPES = {"bounds": Bounds, "quantization": Quantization, "sparsity": Sparsity, "variation": Variation,
                "read_noise": Noise, "write_noise": Noise}


@dataclass(frozen=True)
class Hardware:
    """A composition of hardware constraints; every part is optional (``Hardware()`` is ideal).

    See the module docstring for the training protocol.

    Parameters
    ----------
    bounds : Bounds, optional
    quantization : Quantization, optional
    sparsity : Sparsity, optional
    variation : Variation, optional
    read_noise, write_noise : Noise, optional

    Examples
    --------
    >>> import numpy as np
    >>> hw = Hardware(bounds=Bounds(0.0, 1.0), variation=Variation(0.1, seed=3))
    >>> rng = np.random.default_rng(0)
    >>> state = hw.init(np.full(4, 0.5), rng)
    >>> g = hw.device(state)
    >>> bool(np.all(g != 0.5)), bool(np.allclose(g / state.variation, 0.5))
    (True, True)
    """

    bounds: Bounds | None = None
    quantization: Quantization | None = None
    sparsity: Sparsity | None = None
    variation: Variation | None = None
    read_noise: Noise | None = None
    write_noise: Noise | None = None
    _grid: NDArray[np.float64] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, kind in _MODEL_TYPES.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise HardwareError(f"{name} = {value!r} must be a {kind.__name__} (or None)")
        if self.quantization is not None:
            grid = self.quantization.grid(self.bounds)
            if self.bounds is not None and (grid[0] < self.bounds.low or grid[-1] > self.bounds.high):
                raise HardwareError(f"quantization levels {grid[0]:g}..{grid[-1]:g} reach outside the bounds "
                                    f"[{self.bounds.low:g}, {self.bounds.high:g}] (levels must lie between them)")
            object.__setattr__(self, "_grid", grid)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Hardware:
        """A hardware model from a config mapping (e.g. a TOML ``[hardware]`` table).

        Keys are the constructor's; each value is a mapping of the part's
        fields, or for ``bounds`` a pair ``[low, high]``.

        Examples
        --------
        >>> hw = Hardware.from_dict({"bounds": [1e-6, 1.0], "quantization": {"levels": 8, "blend": 1e-4},
        ...                          "read_noise": {"relative": 0.01}})
        >>> hw.quantization, hw.bounds.high
        (Quantization(levels=8, blend=0.0001), 1.0)
        """
        unknown = set(config) - set(_MODEL_TYPES)
        if unknown:
            raise HardwareError(f"unknown hardware key {sorted(unknown)[0]!r} (allowed: {', '.join(_MODEL_TYPES)})")
        parts = {}
        for name, value in config.items():
            kind = _MODEL_TYPES[name]
            if name == "bounds" and isinstance(value, Sequence) and not isinstance(value, str):
                value = dict(zip(("low", "high"), value))
            if not isinstance(value, Mapping):
                raise HardwareError(f"hardware.{name} = {value!r} must be a table of {kind.__name__} fields")
            try:
                parts[name] = kind(**value)
            except TypeError as exc:
                raise HardwareError(f"hardware.{name}: {exc}") from None
        return cls(**parts)

    # ------------------------------------------------------------ helpers
    @property
    def floor(self) -> float:
        """The *off* conductance sparsity thresholds towards: the lower bound (0 without bounds)."""
        return 0.0 if self.bounds is None else self.bounds.low

    def _project(self, w: NDArray) -> NDArray[np.float64]:
        return w if self.bounds is None else self.bounds.apply(w)

    def _quantize(self, w: NDArray) -> NDArray[np.float64]:
        return w if self._grid is None else quantize(w, self._grid)

    # --------------------------------------------------------------- protocol
    def init(self, g: ArrayLike, rng: np.random.Generator | None = None) -> HardwareState:
        """The starting state: shadow ``w = clip(g)`` and the chip's variation factors.

        ``rng`` is needed only for a :class:`Variation` without its own seed.
        """
        w = np.array(g, dtype=np.float64).reshape(-1)
        if not np.isfinite(w).all():
            raise HardwareError(f"initial conductance {float(w[~np.isfinite(w)][0])!r} is not finite")
        factors = np.ones_like(w) if self.variation is None else self.variation.factors(len(w), rng)
        return HardwareState(self._project(w), factors)

    def programmed(self, state: HardwareState) -> NDArray[np.float64]:
        """The values written to the devices: the shadow quantized (within the bounds)."""
        return self._quantize(state.shadow)

    def device(self, state: HardwareState) -> NDArray[np.float64]:
        """The conductances the devices realise: ``ν × programmed`` (before read noise)."""
        return state.variation * self.programmed(state)

    def read(self, g: ArrayLike, rng: np.random.Generator | None = None) -> NDArray[np.float64]:
        """One read of conductances ``g`` (a new draw per call): ``g`` plus read noise.

        With bounds, a read never falls below the lower bound (a device
        cannot conduct less than its off state); without bounds, large
        relative noise can give non-positive values. Without read noise
        ``g`` is returned unchanged (``rng`` unused).
        """
        g = np.asarray(g, dtype=np.float64)
        if self.read_noise is None:
            return g
        noisy = self.read_noise.apply(g, rng, "read noise")
        return noisy if self.bounds is None else np.maximum(noisy, self.bounds.low)

    def sparse(self, state: HardwareState) -> NDArray[np.float64]:
        """RVSM's sparse variable ``u`` of the current shadow (the shadow itself without sparsity)."""
        if self.sparsity is None:
            return state.shadow
        return self.sparsity.split(state.shadow, self.floor)

    def apply_update(self, state: HardwareState, delta: ArrayLike,
                     rng: np.random.Generator | None = None) -> HardwareState:
        """The state after one update ``delta`` (S per device), computed at :meth:`device` / :meth:`read`.

        ``w' = clip(w + Δ̃ + ρ (q(w) - w) - η β (w - u(w)))`` with ``Δ̃`` the
        update with write noise (``rng`` needed then).
        """
        w = state.shadow
        delta = np.asarray(delta, dtype=np.float64)
        if delta.shape != w.shape:
            raise HardwareError(f"update has shape {delta.shape} but the hardware holds {w.shape[0]} devices")
        if self.write_noise is not None:
            delta = self.write_noise.apply(delta, rng, "write noise")
        new = w + delta
        if self.quantization is not None and self.quantization.blend:
            new = new + self.quantization.blend * (self._quantize(w) - w)
        if self.sparsity is not None:
            new = new - self.sparsity.lr * self.sparsity.beta * (w - self.sparse(state))
        return HardwareState(self._project(new), state.variation)

    def deployed(self, state: HardwareState) -> NDArray[np.float64]:
        """The conductances at the end of training: the sparse copy, quantized, times the device factors."""
        return state.variation * self._quantize(self._project(self.sparse(state)))
