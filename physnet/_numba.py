"""numba kernels. Imported lazily (``import physnet`` does not load numba).

Each kernel has a plain-numpy twin next to the code that uses it, and a test
that the two agree.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def scatter_edges(slots, weights, out):  # pragma: no cover - compiled
    """Add ``+w`` at the two diagonal slots and ``-w`` at the two off-diagonal slots of each edge."""
    m = weights.shape[0]
    for e in range(m):
        w = weights[e]
        s = slots[0, e]
        if s >= 0:
            out[s] += w
        s = slots[1, e]
        if s >= 0:
            out[s] += w
        s = slots[2, e]
        if s >= 0:
            out[s] -= w
        s = slots[3, e]
        if s >= 0:
            out[s] -= w


@numba.njit(cache=True, nogil=True)
def junction_voltages(v, is_, n, rs, vt, gmin, out):  # pragma: no cover - compiled
    """Junction voltage ``vd`` of each diode from ``v = vd + rs * i(vd)`` (safeguarded Newton)."""
    for k in range(v.shape[0]):
        if rs[k] == 0.0:
            out[k] = v[k]
        else:
            out[k] = junction_voltage_one(v[k], is_[k], n[k] * vt, rs[k], gmin)


@numba.njit(cache=True, nogil=True)
def junction_voltage_one(v, is_, nvt, rs, gmin):  # pragma: no cover - compiled
    """Junction voltage of one diode with series resistance ``rs > 0``."""
    # f(vd) = vd + rs*(is (e^{vd/nvt} - 1) + gmin vd) - v is increasing and convex.
    # Start right of the root for v > 0 (monotone convergence), at the
    # reverse-bias limit for v < 0.
    if v > 0.0:
        vd = min(v, nvt * np.log1p(v / (rs * is_)))
    else:
        vd = v / (1.0 + rs * gmin)
    for _ in range(200):
        e = np.exp(vd / nvt)
        f = vd + rs * (is_ * (e - 1.0) + gmin * vd) - v
        step = f / (1.0 + rs * (is_ * e / nvt + gmin))
        vd -= step
        if abs(step) <= 1e-15 * (1.0 + abs(vd)):
            break
    return vd
