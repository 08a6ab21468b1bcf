"""The two tones of frequency propagation: validation, defaults, common base, collision warning.

Harmonic balance and the lock-in both need the activation ``f_A`` and the
error ``f_B`` to be whole multiples of one base ``f0`` (``f_A = p f0``,
``f_B = q f0``), and ``f_B`` must stay clear of the harmonics and mixing
products ``|m f_A + n f_B|`` that diodes create.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from physnet.errors import NetlistError
from physnet.solvers.planner import CommonBase, common_base_frequency, format_frequency, warn_if_colliding

__all__ = ["FPTones", "fp_tones", "check_frequency", "DEFAULT_F_B", "DEFAULT_RATIO", "PRODUCT_ORDER"]

DEFAULT_F_B = 1e3
"""Error frequency (Hz) used with a DC activation when ``f_b`` is not given."""

DEFAULT_RATIO = 5.0 / 3.0
"""``f_b / f_a`` used with an oscillating activation when ``f_b`` is not given: a Fibonacci ratio near the
golden one, clear of every mixing product up to order 6 and commensurate (``f0 = f_a / 3``)."""

PRODUCT_ORDER = 4
"""Mixing products up to this order ``|m| + |n|`` are checked and, by default, kept by harmonic balance."""


@dataclass(frozen=True)
class FPTones:
    """The two FP tones and their common base: ``f_A = p f0``, ``f_B = q f0``.

    Attributes
    ----------
    f_a, f_b : float
        Activation (0 = DC) and error frequencies (Hz).
    base : CommonBase
        ``(f0, p, q)`` from :func:`physnet.solvers.planner.common_base_frequency`.

    Examples
    --------
    >>> tones = fp_tones(600.0, 1e3)
    >>> tones.base, tones.period, tones.fastest
    (CommonBase(f0=200.0, p=3, q=5), 0.005, 5)
    """

    f_a: float
    f_b: float
    base: CommonBase

    @property
    def period(self) -> float:
        """Common period ``1/f0`` (s): both tones complete whole cycles in it."""
        return 1.0 / self.base.f0

    @property
    def fastest(self) -> int:
        """Cycles of the faster tone per common period, ``max(p, q)``."""
        return max(self.base.p, self.base.q)


def fp_tones(f_a: float = 0.0, f_b: float | None = None, *, bandwidth: float = 0.0, stacklevel: int = 2) -> FPTones:
    """Validate the FP tones, pick a default ``f_b``, and warn if ``f_b`` collides with a mixing product.

    Parameters
    ----------
    f_a : float, optional
        Activation frequency (Hz); 0 (default) is a DC activation.
    f_b : float, optional
        Error frequency (Hz, > 0, ≠ ``f_a``). Default :data:`DEFAULT_F_B`
        with a DC activation, else ``DEFAULT_RATIO · f_a``.
    bandwidth : float, optional
        Lock-in resolution bandwidth (Hz) for the collision check.
    stacklevel : int, optional
        As in :func:`warnings.warn`: 2 blames the caller of ``fp_tones``.

    Returns
    -------
    FPTones

    Raises
    ------
    NetlistError
        Negative or non-finite frequencies, ``f_b <= 0``, ``f_b == f_a``, or
        tones without a common base of small multiples.

    Warns
    -----
    FrequencyCollisionWarning
        ``f_b`` (or ``f_a``) coincides with a harmonic or mixing product of
        order <= :data:`PRODUCT_ORDER`; the message suggests a safe ``f_b``.

    Examples
    --------
    >>> fp_tones().f_b, fp_tones(0.0, 37.0).base
    (1000.0, CommonBase(f0=37.0, p=0, q=1))
    >>> fp_tones(600.0)
    FPTones(f_a=600.0, f_b=1000.0, base=CommonBase(f0=200.0, p=3, q=5))
    """
    f_a = check_frequency("f_a", f_a)
    if f_b is None:
        f_b = DEFAULT_F_B if f_a == 0.0 else DEFAULT_RATIO * f_a
    f_b = check_frequency("f_b", f_b)
    if f_b == 0.0:
        raise NetlistError("f_b = 0: the error tone must oscillate (f_b > 0) so each edge can tell it from the "
                           "activation; e.g. f_b = 1e3")
    if f_b == f_a:
        raise NetlistError(f"f_b = f_a = {format_frequency(f_a)}: the two tones must differ, or no edge can "
                           "separate activation from error; choose another f_b")
    try:
        base = common_base_frequency(f_a, f_b)
    except ValueError as exc:
        raise NetlistError(f"FP tones: {exc}") from None
    warn_if_colliding(f_a, f_b, order=PRODUCT_ORDER, bandwidth=bandwidth, stacklevel=stacklevel + 1)
    return FPTones(f_a, f_b, base)


def check_frequency(name: str, f: float) -> float:
    """``f`` as a float if it is a finite frequency >= 0 (Hz), else a :class:`NetlistError` naming ``name``.

    Examples
    --------
    >>> check_frequency("f_a", 0)
    0.0
    """
    try:
        f = float(f)
    except (TypeError, ValueError):
        raise NetlistError(f"{name} = {f!r} must be a frequency in Hz") from None
    if not math.isfinite(f) or f < 0.0:
        raise NetlistError(f"{name} = {f!r} Hz is invalid: frequencies are finite and >= 0 (0 = DC)")
    return f
