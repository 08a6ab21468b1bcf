"""Frequency planning for frequency propagation (FP): mixing products, collisions, safe tones.

In FP the activation tone ``f_A`` (0 = DC) and the error tone ``f_B`` travel
through the same network and every edge reads both back by lock-in. A
nonlinear element (a diode) turns the two tones into harmonics and mixing
products ``|m f_A + n f_B|`` of order ``|m| + |n|``. A lock-in at ``f_B``
also reads any product that lands within its resolution bandwidth (about
``1/T`` for a record of length ``T``), so the update is biased whenever
``f_B`` coincides with such a product — ``f_B = 2 f_A`` puts the activation's
second harmonic, an ``O(1)`` signal, onto the ``O(β)`` error coefficient.
The same holds for the activation read-out at ``f_A``.

A coincidence needs ``f_B / f_A`` to be a ratio of small integers, so a tone
ratio far from every low-order rational is safe: the golden ratio is the
classic choice and :func:`suggest_error_frequency` starts there. With a DC
activation every ``f_B`` above the bandwidth is safe (the activation has no
harmonics). To run both tones through :func:`physnet.solvers.harmonic_balance.solve_hb`
they must share a base frequency: :func:`common_base_frequency`.

Examples
--------
>>> from physnet.solvers.planner import check_frequencies
>>> report = check_frequencies(1e3, 2e3, order=2)
>>> report.ok, [c.product.label for c in report.collisions]
(False, ['2·f_A', 'f_B − f_A'])
>>> print(report)
f_B = 2 kHz coincides with 2·f_A (order 2)
f_A = 1 kHz coincides with f_B − f_A (order 2)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FrequencyCollisionWarning",
    "MixingProduct",
    "Collision",
    "FrequencyReport",
    "CommonBase",
    "mixing_products",
    "check_frequencies",
    "suggest_error_frequency",
    "warn_if_colliding",
    "common_base_frequency",
    "format_frequency",
]

GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0
"""Default ratio ``f_B / f_A``: the number worst approximated by ratios of small integers."""

_DEFAULT_ORDER = 4
_EXACT = 1e-9  # relative tolerance of an exact coincidence (float rounding of the tones)


class FrequencyCollisionWarning(UserWarning):
    """An FP tone coincides with a harmonic or mixing product of the tones.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = warn_if_colliding(1e3, 3e3)  # f_B = 3·f_A
    >>> caught[0].category.__name__, str(caught[0].message).split(";")[0]
    ('FrequencyCollisionWarning', 'f_B = 3 kHz coincides with 3·f_A (order 3)')
    """


@dataclass(frozen=True)
class MixingProduct:
    """The product ``|m f_A + n f_B|`` of two tones.

    Attributes
    ----------
    m, n : int
        Multiples of ``f_A`` and ``f_B``, signed so that ``m f_A + n f_B >= 0``
        (``f_B − f_A`` rather than ``f_A − f_B`` when ``f_B > f_A``); ``(0, 0)``
        is DC.
    frequency : float
        ``|m f_A + n f_B|`` in hertz.

    Examples
    --------
    >>> p = MixingProduct(2, -1, 500.0)
    >>> p.label, p.order
    ('2·f_A − f_B', 3)
    """

    m: int
    n: int
    frequency: float

    @property
    def order(self) -> int:
        """``|m| + |n|``."""
        return abs(self.m) + abs(self.n)

    @property
    def label(self) -> str:
        """Readable name: ``"2·f_A"``, ``"f_B − f_A"``, ``"3·f_A + 2·f_B"``, ``"DC"``."""
        terms = [(c, name) for c, name in ((self.m, "f_A"), (self.n, "f_B")) if c]
        if not terms:
            return "DC"
        terms.sort(key=lambda t: t[0] < 0)  # lead with the positive term: f_B − f_A
        out = ""
        for i, (c, name) in enumerate(terms):
            body = name if abs(c) == 1 else f"{abs(c)}·{name}"
            out += body if i == 0 else (f" + {body}" if c > 0 else f" − {body}")
        return out


@dataclass(frozen=True)
class Collision:
    """A tone that coincides with a mixing product.

    Attributes
    ----------
    tone : {"f_A", "f_B"}
        The tone whose lock-in read-out is contaminated.
    frequency : float
        The tone's frequency (Hz).
    product : MixingProduct
        The product landing on it.
    distance : float
        ``|product.frequency - frequency|`` (Hz), at most the bandwidth.

    Examples
    --------
    >>> c = check_frequencies(1e3, 1.999e3, order=2, bandwidth=5.0).collisions[0]
    >>> c.tone, c.product.label, round(c.distance, 9)
    ('f_B', '2·f_A', 1.0)
    >>> print(c)
    f_B = 2 kHz is within the bandwidth of 2·f_A (order 2)
    """

    tone: str
    frequency: float
    product: MixingProduct
    distance: float

    def __str__(self) -> str:
        what = "DC" if self.product.order == 0 else f"{self.product.label} (order {self.product.order})"
        exact = self.distance <= _EXACT * self.frequency
        near = "coincides with" if exact else "is within the bandwidth of"
        return f"{self.tone} = {format_frequency(self.frequency)} {near} {what}"


@dataclass(frozen=True)
class FrequencyReport:
    """Result of :func:`check_frequencies`.

    Attributes
    ----------
    f_a, f_b : float
        The activation and error tones (Hz).
    order : int
        Largest product order ``|m| + |n|`` checked.
    bandwidth : float
        Resolution bandwidth of the lock-in (Hz).
    collisions : tuple of Collision
        Every coincidence: ``f_B``'s first, then ``f_A``'s, each lowest order first.

    Examples
    --------
    >>> report = check_frequencies(1e3, 1.62e3)
    >>> report.ok, report.order, report.collisions
    (True, 4, ())
    >>> print(report)
    f_A = 1 kHz, f_B = 1.62 kHz: no collision up to order 4
    """

    f_a: float
    f_b: float
    order: int
    bandwidth: float
    collisions: tuple[Collision, ...]

    @property
    def ok(self) -> bool:
        """Whether no tone collides with a product."""
        return not self.collisions

    def __str__(self) -> str:
        if self.ok:
            return (f"f_A = {format_frequency(self.f_a)}, f_B = {format_frequency(self.f_b)}: no collision up to "
                    f"order {self.order}")
        return "\n".join(str(c) for c in self.collisions)


class CommonBase(NamedTuple):
    """Base frequency of two commensurate tones: ``f_A = p f0``, ``f_B = q f0``.

    Examples
    --------
    >>> base = CommonBase(500.0, 2, 3)
    >>> base.n_harmonics(3)
    9
    """

    f0: float
    p: int
    q: int

    def n_harmonics(self, order: int) -> int:
        """Harmonics of ``f0`` needed to hold every product up to ``order``: ``order · max(p, q)``."""
        return int(order) * max(self.p, self.q)


def format_frequency(f: float) -> str:
    """A frequency with an SI prefix and three significant digits.

    Examples
    --------
    >>> format_frequency(2000.0), format_frequency(1370.0), format_frequency(0.5), format_frequency(0.0)
    ('2 kHz', '1.37 kHz', '500 mHz', '0 Hz')
    """
    f = float(f)
    if f == 0.0 or not math.isfinite(f):
        return f"{f:g} Hz"
    exponent = min(max(int(math.floor(math.log10(abs(f)) / 3)), -4), 4)
    scaled = f / 10.0 ** (3 * exponent)
    if abs(float(f"{scaled:.3g}")) >= 1000 and exponent < 4:  # 999.96 rounds up to the next prefix
        exponent += 1
        scaled = f / 10.0 ** (3 * exponent)
    prefix = {-4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T"}[exponent]
    return f"{scaled:.3g} {prefix}Hz"


def _check_tone(name: str, f: float) -> float:
    f = float(f)
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"{name} = {f!r} Hz is invalid: tones are finite frequencies >= 0 (0 = DC)")
    return f


def _check_order(order: int) -> int:
    if isinstance(order, bool) or int(order) != order or order < 1:
        raise ValueError(f"order = {order!r} is invalid: the largest |m| + |n| to check, an integer >= 1")
    return int(order)


def _pairs(order: int, dc_a: bool, dc_b: bool) -> NDArray[np.int64]:
    """Canonical ``(m, n)`` with ``1 <= |m| + |n| <= order``; a DC tone contributes no multiples."""
    pairs = [(m, n) for m in range(0, order + 1) for n in range(-order, order + 1)
             if 1 <= m + abs(n) <= order and (m > 0 or n > 0)]
    pairs = [(m, n) for m, n in pairs if not (dc_a and m) and not (dc_b and n)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def mixing_products(f_a: float, f_b: float, order: int, *, include_tones: bool = False) -> tuple[MixingProduct, ...]:
    """Harmonics and mixing products ``|m f_A + n f_B|`` with ``0 < |m| + |n| <= order``.

    Parameters
    ----------
    f_a, f_b : float
        The two tones (Hz, >= 0). A DC tone (0) has no harmonics: its
        multiples are left out rather than listed as copies of the others.
    order : int
        Largest ``|m| + |n|``.
    include_tones : bool, optional
        Also list ``f_A`` and ``f_B`` themselves (``(1, 0)`` and ``(0, 1)``).

    Returns
    -------
    tuple of MixingProduct
        Sorted by frequency, then order. Different ``(m, n)`` may share a
        frequency (``2 f_A`` and ``f_B`` when ``f_B = 2 f_A``): that is a
        collision, see :func:`check_frequencies`.

    Examples
    --------
    >>> sorted({p.frequency for p in mixing_products(1e3, 1.5e3, 2)})
    [500.0, 2000.0, 2500.0, 3000.0]
    >>> [p.label for p in mixing_products(0.0, 1e3, 3)]
    ['2·f_B', '3·f_B']
    """
    f_a, f_b = _check_tone("f_a", f_a), _check_tone("f_b", f_b)
    pairs = _pairs(_check_order(order), f_a == 0.0, f_b == 0.0)
    if not include_tones:
        pairs = pairs[~(((pairs[:, 0] == 1) & (pairs[:, 1] == 0)) | ((pairs[:, 0] == 0) & (pairs[:, 1] == 1)))]
    signed = pairs[:, 0] * f_a + pairs[:, 1] * f_b
    pairs = np.where(signed[:, None] < 0, -pairs, pairs)
    freq = np.abs(signed)
    order_of = np.abs(pairs).sum(axis=1)
    keep = np.lexsort((order_of, freq))
    return tuple(MixingProduct(int(pairs[i, 0]), int(pairs[i, 1]), float(freq[i])) for i in keep)


def _tolerance(bandwidth: float, *tones: float) -> float:
    return max(float(bandwidth), _EXACT * max(tones))


def check_frequencies(f_a: float, f_b: float, *, order: int = _DEFAULT_ORDER,
                      bandwidth: float = 0.0) -> FrequencyReport:
    """Find where the FP tones coincide with their harmonics and mixing products.

    A tone collides with a product of order ``<= order`` other than itself
    when the two lie within ``bandwidth`` of each other (exact coincidence up
    to float rounding when ``bandwidth`` is 0), and with DC when the tone is
    within ``bandwidth`` of 0.

    Parameters
    ----------
    f_a : float
        Activation tone (Hz); 0 is a DC activation.
    f_b : float
        Error tone (Hz).
    order : int, optional
        Largest product order ``|m| + |n|`` (default 4). Diodes make every
        order; the amplitude falls with the order.
    bandwidth : float, optional
        Lock-in resolution bandwidth (Hz), about ``1/T`` for a record of
        length ``T``.

    Returns
    -------
    FrequencyReport

    Examples
    --------
    >>> check_frequencies(1e3, 1.618e3).ok
    True
    >>> check_frequencies(0.0, 5.0).ok  # DC activation: any f_B > 0 is fine
    True
    >>> check_frequencies(1e3, 1.501e3, order=4, bandwidth=2.0).collisions[0].product.label
    '3·f_A − f_B'
    """
    f_a, f_b = _check_tone("f_a", f_a), _check_tone("f_b", f_b)
    order = _check_order(order)
    if not (math.isfinite(bandwidth) and bandwidth >= 0):
        raise ValueError(f"bandwidth = {bandwidth!r} Hz is invalid (a number >= 0; about 1/T of the lock-in record)")
    tol = _tolerance(bandwidth, f_a, f_b)
    products = mixing_products(f_a, f_b, order, include_tones=True)
    found = []
    for tone, frequency, own in (("f_B", f_b, (0, 1)), ("f_A", f_a, (1, 0))):
        if frequency == 0.0:  # a DC read-out has no harmonics to be confused with
            continue
        if frequency <= tol:
            found.append(Collision(tone, frequency, MixingProduct(0, 0, 0.0), frequency))
        for p in products:
            if (p.m, p.n) != own and abs(p.frequency - frequency) <= tol:
                found.append(Collision(tone, frequency, p, abs(p.frequency - frequency)))
    found.sort(key=lambda c: (c.tone != "f_B", c.product.order, c.distance))
    return FrequencyReport(f_a, f_b, order, float(bandwidth), tuple(found))


def _clearance(f_a: float, candidates: NDArray, order: int) -> NDArray:
    """Distance (Hz) from each candidate ``f_B`` and from ``f_A`` to the nearest colliding product."""
    pairs = _pairs(order, False, False)
    m, n = pairs[:, :1], pairs[:, 1:]
    freq = np.abs(m * f_a + n * candidates[None, :])  # (n_pairs, n_candidates)
    own_b = (m == 0) & (n == 1)
    own_a = (m == 1) & (n == 0)
    to_b = np.where(own_b, np.inf, np.abs(freq - candidates[None, :])).min(axis=0)
    to_a = np.where(own_a, np.inf, np.abs(freq - f_a)).min(axis=0)
    return np.minimum(np.minimum(to_b, to_a), candidates)  # the last term: distance to DC


def _round_candidates(low: float, high: float, digits: int) -> NDArray:
    """Every number with ``digits`` significant digits in ``[low, high]``."""
    out = []
    for e in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1):
        step = 10.0 ** (e - digits + 1)
        mantissa = np.arange(10 ** (digits - 1), 10 ** digits)
        out.append(mantissa * step)
    values = np.round(np.concatenate(out), 12 - math.floor(math.log10(high)))
    return values[(values >= low) & (values <= high)]


def suggest_error_frequency(
    f_a: float,
    order: int = _DEFAULT_ORDER,
    *,
    bandwidth: float = 0.0,
    near: float | None = None,
    margin: float | None = None,
    digits: int = 3,
) -> float:
    """A collision-free error tone ``f_B`` for the activation tone ``f_A``.

    Among the frequencies with ``digits`` significant digits between
    ``near/2`` and ``2 near``, returns the one closest to ``near`` whose
    nearest colliding product (for either tone's read-out) is at least
    ``margin`` away; when none is, the one with the most clearance.

    Parameters
    ----------
    f_a : float
        Activation tone (Hz); 0 is a DC activation.
    order : int, optional
        Largest product order to keep clear of (default 4).
    bandwidth : float, optional
        Lock-in resolution bandwidth (Hz).
    near : float, optional
        Preferred ``f_B`` (Hz). Default ``φ f_A`` (golden ratio). Required
        with a DC activation, where it is returned as is (any ``f_B`` above
        the bandwidth is safe).
    margin : float, optional
        Wanted clearance (Hz). Default ``max(4 bandwidth, 0.05 f_A)``: a
        product at an ``O(1)`` amplitude leaks into the lock-in through its
        window's side lobes, so "just outside the bandwidth" is not enough.
    digits : int, optional
        Significant digits of the answer.

    Returns
    -------
    float
        ``f_B`` in hertz.

    Raises
    ------
    ValueError
        No frequency in the window is clear of every product (lower ``order``
        or ``bandwidth``, or move ``near``); or a DC activation without ``near``.

    Examples
    --------
    >>> suggest_error_frequency(1e3)
    1620.0
    >>> suggest_error_frequency(1e3, near=2e3)  # 2 kHz = 2·f_A collides; 5 % of f_A away is clear
    2050.0
    >>> suggest_error_frequency(0.0, near=37.0)
    37.0
    """
    f_a = _check_tone("f_a", f_a)
    order = _check_order(order)
    if near is not None and not (math.isfinite(near) and near > 0):
        raise ValueError(f"near = {near!r} Hz is invalid (a frequency > 0)")
    if f_a == 0.0:
        if near is None:
            raise ValueError("with a DC activation (f_a = 0) every f_b above the bandwidth is collision-free: "
                             "pass near= (the error frequency you want)")
        if near <= bandwidth:
            raise ValueError(f"near = {format_frequency(near)} is within the bandwidth "
                             f"({format_frequency(bandwidth)}) of DC: choose a higher error frequency")
        return float(near)
    near = GOLDEN * f_a if near is None else float(near)
    margin = max(4.0 * bandwidth, 0.05 * f_a) if margin is None else float(margin)
    candidates = _round_candidates(near / 2.0, 2.0 * near, int(digits))
    clear = _clearance(f_a, candidates, order)
    good = np.flatnonzero(clear >= margin)
    if good.size:
        best = good[np.argmin(np.abs(np.log(candidates[good] / near)))]
    else:
        best = int(np.argmax(clear))
        if clear[best] <= _tolerance(bandwidth, f_a, candidates[best]):
            raise ValueError(
                f"no error frequency between {format_frequency(near / 2)} and {format_frequency(2 * near)} is clear "
                f"of the mixing products of order <= {order} with f_A = {format_frequency(f_a)} and bandwidth "
                f"{format_frequency(bandwidth)}: lower order or bandwidth, or move near"
            )
    return float(candidates[best])


def warn_if_colliding(
    f_a: float, f_b: float, *, order: int = _DEFAULT_ORDER, bandwidth: float = 0.0, stacklevel: int = 2
) -> FrequencyReport:
    """Warn (:class:`FrequencyCollisionWarning`) when an FP tone collides, suggesting a safe ``f_B``.

    Parameters
    ----------
    f_a, f_b, order, bandwidth
        As in :func:`check_frequencies`.
    stacklevel : int, optional
        As in :func:`warnings.warn`, counted from this function: 2 blames
        its caller; a library function calling it passes 3 to blame *its*
        caller.

    Returns
    -------
    FrequencyReport
        The report, collisions or not.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report = warn_if_colliding(1e3, 2e3)
    >>> print(caught[0].message)
    f_B = 2 kHz coincides with 2·f_A (order 2); f_A = 1 kHz coincides with f_B − f_A (order 2): choose f_B = 2.05 kHz
    """
    report = check_frequencies(f_a, f_b, order=order, bandwidth=bandwidth)
    if report.ok:
        return report
    worst = {c.tone: c for c in reversed(report.collisions)}  # the lowest-order collision of each tone
    message = "; ".join(str(worst[tone]) for tone in ("f_B", "f_A") if tone in worst)
    try:
        safe = suggest_error_frequency(f_a, order, bandwidth=bandwidth, near=f_b if f_b > 0 else None)
        message += f": choose f_B = {format_frequency(safe)}"
    except ValueError as exc:
        message += f" ({exc})"
    warnings.warn(FrequencyCollisionWarning(message), stacklevel=stacklevel)
    return report


def common_base_frequency(f_a: float, f_b: float, *, max_multiple: int = 64, rtol: float = 1e-9) -> CommonBase:
    """The largest ``f0`` with ``f_A = p f0`` and ``f_B = q f0`` for integers ``p, q <= max_multiple``.

    Harmonic balance represents periodic signals: two tones can run together
    only as harmonics of one base frequency.

    Parameters
    ----------
    f_a, f_b : float
        The tones (Hz, >= 0, not both 0). A DC tone has multiple 0.
    max_multiple : int, optional
        Largest ``p`` or ``q`` accepted (the HB cost grows with them).
    rtol : float, optional
        Relative mismatch allowed between ``q f0`` and ``f_B``.

    Returns
    -------
    CommonBase
        ``(f0, p, q)``, ``p`` and ``q`` coprime.

    Raises
    ------
    ValueError
        The tones are not commensurate with multiples ``<= max_multiple``.

    Examples
    --------
    >>> common_base_frequency(1e3, 1.5e3)
    CommonBase(f0=500.0, p=2, q=3)
    >>> common_base_frequency(0.0, 1.2e3)
    CommonBase(f0=1200.0, p=0, q=1)
    """
    f_a, f_b = _check_tone("f_a", f_a), _check_tone("f_b", f_b)
    if f_a == 0.0 and f_b == 0.0:
        raise ValueError("both tones are DC: there is no base frequency")
    if f_a == 0.0 or f_b == 0.0:
        return CommonBase(max(f_a, f_b), int(f_a > 0), int(f_b > 0))
    small, large = sorted((f_a, f_b))
    ratio = Fraction(small / large).limit_denominator(int(max_multiple))
    lo, hi = ratio.numerator, ratio.denominator
    p, q = (lo, hi) if f_a <= f_b else (hi, lo)
    f0 = f_a / p
    if lo == 0 or abs(q * f0 - f_b) > rtol * f_b:
        raise ValueError(
            f"f_A = {format_frequency(f_a)} and f_B = {format_frequency(f_b)} are not commensurate with multiples "
            f"<= {max_multiple} (closest: {p}:{q}, off by {abs(q * f0 - f_b) if lo else f_b:.3g} Hz): pick tones "
            "with a small-integer ratio, or raise max_multiple"
        )
    return CommonBase(float(f0), int(p), int(q))
