"""Shockley diodes: current, conductance and junction-voltage limiting.

Each diode carries ``i = Is (exp(vd / (n Vt)) - 1) + gmin vd`` through its
junction (SPICE places GMIN across every junction) and, optionally, a series
resistance ``rs``. The series resistance is solved *inside* the element (a
scalar Newton per diode for ``v = vd + rs i(vd)``) instead of adding an
internal node, so diodes keep the network's topology and sparsity pattern.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from physnet.constants import GMIN

__all__ = [
    "junction_voltages",
    "junction_voltages_numpy",
    "junction_current",
    "diode_iv",
    "critical_voltage",
    "limit_junction",
]


def junction_voltages_numpy(v: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float,
                            gmin: float = GMIN) -> NDArray:
    """Numpy twin of :func:`junction_voltages` (vectorised Newton).

    Examples
    --------
    >>> import numpy as np
    >>> v, is_, n, rs = np.array([-1.0, 0.5, 1.0]), np.full(3, 1e-14), np.ones(3), np.array([100.0, 0.0, 100.0])
    >>> vd = junction_voltages_numpy(v, is_, n, rs, 0.025864917)
    >>> np.round(vd, 4).tolist(), bool(np.allclose(vd, junction_voltages(v, is_, n, rs, 0.025864917), rtol=1e-12))
    ([-1.0, 0.5, 0.6848], True)
    """
    v = np.asarray(v, dtype=np.float64)
    series = rs > 0
    if not series.any():
        return v.copy()
    nvt = n * vt
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = nvt * np.log1p(np.maximum(v, 0.0) / np.where(series, rs * is_, 1.0))
    vd = np.where(v > 0, np.minimum(v, upper), v / (1.0 + rs * gmin))
    for _ in range(200):
        e = np.exp(vd / nvt)
        f = vd + rs * (is_ * (e - 1.0) + gmin * vd) - v
        step = np.where(series, f / (1.0 + rs * (is_ * e / nvt + gmin)), 0.0)
        vd = vd - step
        if np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(vd))):
            break
    return np.where(series, vd, v)


def junction_voltages(v: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float, gmin: float = GMIN) -> NDArray:
    """Junction voltage of each diode given its terminal voltage (numba kernel).

    Solves ``v = vd + rs * i(vd)``; equals ``v`` where ``rs == 0``.

    Examples
    --------
    >>> import numpy as np
    >>> vd = junction_voltages(np.array([1.0]), np.array([1e-14]), np.array([1.0]), np.array([100.0]), 0.025864917)
    >>> i, _ = junction_current(vd, np.array([1e-14]), np.array([1.0]), np.array([100.0]), 0.025864917)
    >>> bool(np.isclose(vd[0] + 100.0 * i[0], 1.0, rtol=1e-14))
    True
    """
    from physnet._numba import junction_voltages as kernel

    v = np.asarray(v, dtype=np.float64)
    shape = v.shape
    params = [np.ascontiguousarray(np.broadcast_to(p, shape).reshape(-1), dtype=np.float64) for p in (is_, n, rs)]
    flat = np.ascontiguousarray(v.reshape(-1))
    out = np.empty_like(flat)
    kernel(flat, *params, float(vt), float(gmin), out)
    return out.reshape(shape)


def junction_current(vd: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float,
                     gmin: float = GMIN) -> tuple[NDArray, NDArray]:
    """Current and terminal conductance ``di/dv`` of diodes at junction voltages ``vd``.

    The conductance includes the series resistance: ``g = gd / (1 + rs gd)``.

    Examples
    --------
    >>> import numpy as np
    >>> vd, rs = np.array([0.8, 0.8]), np.array([0.0, 10.0])  # the same junction with and without 10 ohm in series
    >>> i, g = junction_current(vd, np.full(2, 1e-14), np.ones(2), rs, 0.025864917)
    >>> np.round(i, 4).tolist(), np.round(g, 4).tolist()  # rs caps g below 1/rs = 0.1 S
    ([0.2708, 0.2708], [10.4709, 0.0991])
    """
    nvt = n * vt
    e = np.exp(vd / nvt)
    i = is_ * (e - 1.0) + gmin * vd
    gd = is_ * e / nvt + gmin
    return i, gd / (1.0 + rs * gd)


def diode_iv(v: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float,
             gmin: float = GMIN) -> tuple[NDArray, NDArray]:
    """Current (anode to cathode, A) and small-signal conductance (S) at terminal voltages ``v``.

    Parameters
    ----------
    v : ndarray
        Anode-to-cathode voltage of each diode (V).
    is_, n, rs : ndarray
        Saturation current (A), emission coefficient, series resistance (ohm).
    vt : float
        Thermal voltage kT/q (V).
    gmin : float, optional
        Shunt conductance across each junction (S), SPICE's GMIN.

    Examples
    --------
    >>> import numpy as np
    >>> i, g = diode_iv(np.array([0.6]), np.array([1e-14]), np.array([1.0]), np.array([0.0]), 0.025864917)
    >>> bool(np.isclose(i[0], 1e-14 * np.expm1(0.6 / 0.025864917) + 0.6e-12))
    True
    """
    return junction_current(junction_voltages(v, is_, n, rs, vt, gmin), is_, n, rs, vt, gmin)


def critical_voltage(is_: NDArray, n: NDArray, vt: float) -> NDArray:
    """SPICE's ``vcrit = n Vt ln(n Vt / (√2 Is))``, where the diode curve bends.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(critical_voltage(np.array([1e-14, 1e-14]), np.array([1.0, 2.0]), 0.025864917), 4).tolist()
    [0.7303, 1.4964]
    """
    nvt = n * vt
    return nvt * np.log(nvt / (np.sqrt(2.0) * is_))


def limit_junction(vd_new: NDArray, vd_old: NDArray, is_: NDArray, n: NDArray, vt: float) -> NDArray:
    """Limit a Newton update of junction voltages (SPICE's ``pnjlim``).

    Above the critical voltage the exponential makes plain Newton overshoot;
    the step is replaced by a logarithmic one, so the diode current changes by
    a bounded factor per iteration.

    Examples
    --------
    >>> import numpy as np
    >>> out = limit_junction(np.array([5.0]), np.array([0.6]), np.array([1e-14]), np.array([1.0]), 0.025864917)
    >>> bool(0.6 < out[0] < 1.0)
    True
    """
    nvt = n * vt
    vcrit = critical_voltage(is_, n, vt)
    big = (vd_new > vcrit) & (np.abs(vd_new - vd_old) > 2.0 * nvt)
    out = np.array(vd_new, dtype=np.float64, copy=True)
    if big.any():
        vo, vn, t = vd_old[big], vd_new[big], nvt[big]
        arg = 1.0 + (vn - vo) / t
        with np.errstate(invalid="ignore", divide="ignore"):
            limited = np.where(vo > 0, np.where(arg > 0, vo + t * np.log(np.maximum(arg, 1e-300)), vcrit[big]),
                               t * np.log(vn / t))
        out[big] = limited
    return out
