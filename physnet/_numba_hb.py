"""numba kernels of harmonic balance. Imported lazily (``import physnet`` does not load numba).

The numpy twin of each kernel lives in :mod:`physnet.solvers.harmonic_balance`
next to the code that uses it; ``tests/test_harmonic_balance.py`` checks that
the two agree.
"""

from __future__ import annotations

import numba
import numpy as np

from physnet._numba import junction_voltage_one


@numba.njit(cache=True, nogil=True)
def diode_waveforms(v, is_, n, rs, vt, gmin, i_out, g_out):  # pragma: no cover - compiled
    """Current and terminal conductance of every diode at every time sample.

    ``v`` has shape (n_diodes, n_time); the parameters one value per diode.
    One fused pass: junction voltage (scalar Newton when ``rs > 0``), then
    ``i = Is (e^{vd/nVt} - 1) + gmin vd`` and ``g = gd / (1 + rs gd)``.
    """
    for d in range(v.shape[0]):
        nvt = n[d] * vt
        isd = is_[d]
        r = rs[d]
        for s in range(v.shape[1]):
            x = v[d, s]
            vd = x if r == 0.0 else junction_voltage_one(x, isd, nvt, r, gmin)
            e = np.exp(vd / nvt)
            gd = isd * e / nvt + gmin
            i_out[d, s] = isd * (e - 1.0) + gmin * vd
            g_out[d, s] = gd / (1.0 + r * gd)
