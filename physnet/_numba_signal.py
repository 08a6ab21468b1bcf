"""numba kernels of the time-domain solvers: lock-in demodulation and transient stepping.

Imported lazily (``import physnet`` does not load numba). Each kernel has a
plain-numpy twin next to the code that uses it (:mod:`physnet.solvers.lockin`,
:mod:`physnet.solvers.transient`) and a test that the two agree.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from physnet._numba import junction_voltage_one


@numba.njit(cache=True, nogil=True)
def demodulate(x, t, weights, omega, out):  # pragma: no cover - compiled
    """``out[f, i] += Σ_k weights[f, k] e^{-j omega[f] t[k]} x[k, i]`` in one pass over ``x``."""
    n_t, m = x.shape
    n_f = omega.shape[0]
    re = np.zeros((n_f, m))
    im = np.zeros((n_f, m))
    for k in range(n_t):
        row = x[k]
        for f in range(n_f):
            w = weights[f, k]
            if w == 0.0:
                continue
            c = w * math.cos(omega[f] * t[k])
            s = -w * math.sin(omega[f] * t[k])
            ref, imf = re[f], im[f]
            for i in range(m):
                ref[i] += c * row[i]
                imf[i] += s * row[i]
    for f in range(n_f):
        for i in range(m):
            out[f, i] += re[f, i] + 1j * im[f, i]


# ----------------------------------------------------------------- transient
@numba.njit(cache=True, nogil=True, inline="always")
def _row_dot(indptr, indices, data, x, i):  # pragma: no cover - compiled
    # four accumulators break the floating-point dependency chain of the sparse dot product
    s0 = s1 = s2 = s3 = 0.0
    p, end = indptr[i], indptr[i + 1]
    while p + 3 < end:
        s0 += data[p] * x[indices[p]]
        s1 += data[p + 1] * x[indices[p + 1]]
        s2 += data[p + 2] * x[indices[p + 2]]
        s3 += data[p + 3] * x[indices[p + 3]]
        p += 4
    while p < end:
        s0 += data[p] * x[indices[p]]
        p += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(cache=True, nogil=True)
def lu_solve(l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv, perm_r, perm_c, b, work,
             x):  # pragma: no cover - compiled
    """Solve ``A x = b`` given ``Pr A Pc = L U`` (SuperLU's factors as CSR rows without their diagonals).

    ``L`` has a unit diagonal; ``u_inv`` holds the reciprocals of ``U``'s.
    Both triangular solves are row-oriented (sparse dot products). Only the
    first ``n = len(work)`` entries of ``b`` and ``x`` are used.
    """
    n = work.shape[0]
    for i in range(n):
        work[perm_r[i]] = b[i]
    for i in range(n):
        work[i] -= _row_dot(l_indptr, l_indices, l_data, work, i)
    for i in range(n - 1, -1, -1):
        work[i] = (work[i] - _row_dot(u_indptr, u_indices, u_data, work, i)) * u_inv[i]
    for i in range(n):
        x[i] = work[perm_c[i]]


@numba.njit(cache=True, nogil=True)
def _pnjlim(vnew, vold, nvt, vcrit):  # pragma: no cover - compiled
    """SPICE's junction limiting, scalar twin of :func:`physnet.elements.diode.limit_junction`."""
    if vnew > vcrit and abs(vnew - vold) > 2.0 * nvt:
        if vold > 0.0:
            arg = 1.0 + (vnew - vold) / nvt
            if arg > 0.0:
                return vold + nvt * math.log(max(arg, 1e-300))
            return vcrit
        return nvt * math.log(vnew / nvt)
    return vnew


@numba.njit(cache=True, nogil=True)
def _solve_small(M, r):  # pragma: no cover - compiled
    """Solve the small dense system ``M y = r`` in place (Gaussian elimination, partial pivoting)."""
    k = r.shape[0]
    for c in range(k):
        p = c
        for i in range(c + 1, k):
            if abs(M[i, c]) > abs(M[p, c]):
                p = i
        if p != c:
            for j in range(k):
                M[c, j], M[p, j] = M[p, j], M[c, j]
            r[c], r[p] = r[p], r[c]
        for i in range(c + 1, k):
            f = M[i, c] / M[c, c]
            if f != 0.0:
                for j in range(c, k):
                    M[i, j] -= f * M[c, j]
                r[i] -= f * r[c]
    for i in range(k - 1, -1, -1):
        s = r[i]
        for j in range(i + 1, k):
            s -= M[i, j] * r[j]
        r[i] = s / M[i, i]


@numba.njit(cache=True, nogil=True)
def port_newton(o, C0, g_ref, is_, nvt, rs, vcrit, gmin, d, vj, reltol, vntol, max_iter,
                q):  # pragma: no cover - compiled
    """Solve the diode ports ``d + C0 (i(d) - g_ref d) = o`` by SPICE-limited Newton.

    ``d`` (terminal voltages) and ``vj`` (junction voltages) hold the previous
    solution on entry and the new one on exit; ``q`` receives
    ``i(d) - g_ref d`` linearised at the last iterate (the companion current
    that enters the nodal equations). Returns the iterations used, or
    ``-iterations`` when Newton did not converge.
    """
    k = d.shape[0]
    M = np.empty((k, k))
    r = np.empty(k)
    i_lin = np.empty(k)
    g_lin = np.empty(k)
    for it in range(1, max_iter + 1):
        limited = False
        for j in range(k):
            vj_raw = d[j] if rs[j] == 0.0 else junction_voltage_one(d[j], is_[j], nvt[j], rs[j], gmin)
            v_lim = _pnjlim(vj_raw, vj[j], nvt[j], vcrit[j])
            if v_lim != vj_raw:
                limited = True
            vj[j] = v_lim
            e = math.exp(v_lim / nvt[j])
            cur = is_[j] * (e - 1.0) + gmin * v_lim
            gd = is_[j] * e / nvt[j] + gmin
            gd = gd / (1.0 + rs[j] * gd)
            # i(d) ≈ cur + gd (d - d_lim), d_lim = v_lim + rs cur:  q = (gd - g_ref) d + (cur - gd d_lim)
            g_lin[j] = gd - g_ref[j]
            i_lin[j] = cur - gd * (v_lim + rs[j] * cur)
        for a in range(k):
            s = o[a]
            for b in range(k):
                M[a, b] = C0[a, b] * g_lin[b]
                s -= C0[a, b] * i_lin[b]
            M[a, a] += 1.0
            r[a] = s
        _solve_small(M, r)
        step = 0.0
        scale = 0.0
        for j in range(k):
            step = max(step, abs(r[j] - d[j]))
            scale = max(scale, abs(r[j]))
            d[j] = r[j]
        for j in range(k):
            q[j] = g_lin[j] * d[j] + i_lin[j]
        if not limited and step <= vntol + reltol * scale:
            return it
    return -max_iter


@numba.njit(cache=True, nogil=True)
def advance(
    # factorization of the constant matrix A (Pr A Pc = L U, see lu_solve)
    l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv, perm_r, perm_c,
    # reactive (companion) edges: padded reduced ends, weight, history coefficients, state (in/out)
    h_a, h_b, h_w, h_c, h_d, h_d1, h_i, h_i1, h_src,
    # diode ports: padded reduced ends, Z = A^-1 U, C0 = U^T Z, device data, state (in/out)
    p_a, p_b, Z, C0, g_ref, is_, nvt, rs, vcrit, gmin, p_d, p_vj, p_src, reltol, vntol, max_iter,
    # right-hand side per step: K @ src[s] (+ rhs[s] when rhs has rows); what to record; the last solution (out)
    k_indptr, k_indices, k_data, src, rhs, gather, e_a, e_b, hi_sel, out_v, out_e, out_hi, out_iter, x_last,
):  # pragma: no cover - compiled
    """Advance the companion-model network ``src.shape[0]`` fixed steps.

    Per step: the sources (``K`` maps their values to the reduced
    right-hand side) and the history currents ``J = c0 d_n + c1 d_{n-1} + c2 i_n + c3 i_{n-1}``
    of the reactive edges join the right-hand side, one sparse
    back-substitution gives the diode-free solution ``y``, Newton on the
    small system ``d + C0 q(d) = Uᵀy + src`` gives the diode voltages, and
    ``x = y - Z q``. Reduced unknowns are padded with a trailing 0, so index
    ``n`` stands for a node whose potential the sources fix. Records
    ``x[gather]`` in ``out_v``, ``x[e_a] - x[e_b]`` in ``out_e`` and the
    currents of reactive edges ``hi_sel`` in ``out_hi``. Returns the number
    of steps done (fewer than requested when a port Newton failed).
    """
    n = x_last.shape[0]
    n_h = h_w.shape[0]
    k = p_a.shape[0]
    b = np.zeros(n + 1)
    y = np.zeros(n + 1)
    work = np.empty(n)
    J = np.empty(n_h)
    o = np.empty(k)
    q = np.empty(k)
    for s in range(src.shape[0]):
        for i in range(n):
            acc = rhs[s, i] if rhs.shape[0] else 0.0
            for p in range(k_indptr[i], k_indptr[i + 1]):
                acc += k_data[p] * src[s, k_indices[p]]
            b[i] = acc
        for e in range(n_h):
            J[e] = h_c[e, 0] * h_d[e] + h_c[e, 1] * h_d1[e] + h_c[e, 2] * h_i[e] + h_c[e, 3] * h_i1[e]
            b[h_a[e]] -= J[e]
            b[h_b[e]] += J[e]
        lu_solve(l_indptr, l_indices, l_data, u_indptr, u_indices, u_data, u_inv, perm_r, perm_c, b, work, y)
        if k:
            for j in range(k):
                o[j] = y[p_a[j]] - y[p_b[j]] + p_src[s, j]
            it = port_newton(o, C0, g_ref, is_, nvt, rs, vcrit, gmin, p_d, p_vj, reltol, vntol, max_iter, q)
            out_iter[s] = it
            if it < 0:
                return s
            for i in range(n):
                acc = y[i]
                for j in range(k):
                    acc -= Z[i, j] * q[j]
                y[i] = acc
        else:
            out_iter[s] = 1
        for e in range(n_h):
            d = y[h_a[e]] - y[h_b[e]]
            if h_src.shape[0]:
                d += h_src[s, e]
            h_d1[e] = h_d[e]
            h_i1[e] = h_i[e]
            h_d[e] = d
            h_i[e] = h_w[e] * d + J[e]
        for j in range(gather.shape[0]):
            out_v[s, j] = y[gather[j]]
        for j in range(e_a.shape[0]):
            out_e[s, j] = y[e_a[j]] - y[e_b[j]]
        for j in range(hi_sel.shape[0]):
            out_hi[s, j] = h_i[hi_sel[j]]
    for i in range(n):
        x_last[i] = y[i]
    return src.shape[0]
