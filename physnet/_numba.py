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
def component_roots(a, b, n):  # pragma: no cover - compiled
    """Lowest node of the connected component of every node of the graph with edges ``(a[e], b[e])``.

    Union-find that always links the larger root under the smaller one, so
    ``parent[i] <= i`` holds throughout and one ascending pass at the end
    flattens every path.
    """
    parent = np.arange(n)
    for e in range(a.shape[0]):
        x = a[e]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[e]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    for i in range(n):
        parent[i] = parent[parent[i]]
    return parent


@numba.njit(cache=True, nogil=True)
def source_paths(a, b, root, n):  # pragma: no cover - compiled
    """COO entries ``(node, source, ±1)`` of the source-path matrix ``S`` (see ``physnet.reduction``).

    The sources ``(a[k], b[k])`` form a forest whose trees hang from the
    nodes with ``root[i] == i``; a breadth-first search from those roots
    finds each node's parent edge, then every node lists the edges on its
    path up to the root.
    """
    m = a.shape[0]
    start = np.zeros(n + 1, np.int64)  # adjacency of the forest, counting-sorted by node
    for k in range(m):
        start[a[k] + 1] += 1
        start[b[k] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    neighbour = np.empty(2 * m, np.int64)
    via = np.empty(2 * m, np.int64)
    for k in range(m):
        neighbour[fill[a[k]]], via[fill[a[k]]] = b[k], k
        fill[a[k]] += 1
        neighbour[fill[b[k]]], via[fill[b[k]]] = a[k], k
        fill[b[k]] += 1
    parent = np.full(n, -1, np.int64)
    edge = np.full(n, -1, np.int64)
    depth = np.zeros(n, np.int64)
    queue = np.empty(n, np.int64)
    head, tail = 0, 0
    for i in range(n):
        if root[i] == i and start[i + 1] > start[i]:
            queue[tail] = i
            tail += 1
            while head < tail:
                u = queue[head]
                head += 1
                for j in range(start[u], start[u + 1]):
                    v = neighbour[j]
                    if v != root[v] and edge[v] < 0:
                        parent[v], edge[v], depth[v] = u, via[j], depth[u] + 1
                        queue[tail] = v
                        tail += 1
    total = depth.sum()
    rows = np.empty(total, np.int64)
    cols = np.empty(total, np.int64)
    signs = np.empty(total, np.float64)
    k = 0
    for v in range(n):
        u = v
        while edge[u] >= 0:
            rows[k], cols[k] = v, edge[u]
            signs[k] = -1.0 if a[edge[u]] == parent[u] else 1.0  # v(b) = v(a) - E below a '+' parent
            k += 1
            u = parent[u]
    return rows, cols, signs


_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@numba.njit(cache=True, nogil=True)
def _same_bytes(x, x0, x1, y, y0, y1):  # pragma: no cover - compiled
    """Whether ``x[x0:x1]`` and ``y[y0:y1]`` hold the same bytes."""
    if x1 - x0 != y1 - y0:
        return False
    for k in range(x1 - x0):
        if x[x0 + k] != y[y0 + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def factorize_strings(offsets, data):  # pragma: no cover - compiled
    """Codes of the strings of ``k`` columns in order of first appearance, row by row.

    Column ``c`` holds the strings ``data[c][offsets[c][i]:offsets[c][i + 1]]``
    (Arrow's layout of a string array); all columns have the same number of
    rows. The strings are taken in the order row 0 column 0, row 0 column 1,
    ..., and numbered from 0 as they first appear; equal bytes are equal
    strings. An open-addressing table on FNV-1a hashes finds each one.
    Returns ``codes`` of shape (rows, k) and ``first``, the position
    ``row * k + column`` of each distinct string's first appearance (up to
    2³¹ strings). The twin of ``physnet.spice.read._factorize``, which does
    this on str.
    """
    k = len(offsets)
    rows = offsets[0].shape[0] - 1
    size = 2
    while size < 2 * rows * k:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int32)  # the code in each slot (int32: half the memory to touch)
    codes = np.empty((rows, k), np.int64)
    first = np.empty(rows * k, np.int32)
    distinct = 0
    for i in range(rows):
        for c in range(k):
            text, start, stop = data[c], offsets[c][i], offsets[c][i + 1]
            h = _FNV_OFFSET
            for j in range(start, stop):
                h = (h ^ np.uint64(text[j])) * _FNV_PRIME
            slot = h & mask
            while True:
                code = table[slot]
                if code < 0:
                    table[slot] = distinct
                    first[distinct] = i * k + c
                    codes[i, c] = distinct
                    distinct += 1
                    break
                row, column = first[code] // k, first[code] % k
                if _same_bytes(text, start, stop, data[column], offsets[column][row], offsets[column][row + 1]):
                    codes[i, c] = code
                    break
                slot = (slot + np.uint64(1)) & mask
    return codes, first[:distinct].astype(np.int64)


_SHORT_COLUMN = 32  # columns up to this length are sorted by insertion, longer ones by argsort


@numba.njit(cache=True, nogil=True)
def _sort_segment(row, tag, lo, hi):  # pragma: no cover - compiled
    """Sort ``row[lo:hi]`` ascending, carrying ``tag`` along."""
    if hi - lo > _SHORT_COLUMN:
        order = np.argsort(row[lo:hi]) + lo
        row[lo:hi] = row[order]
        tag[lo:hi] = tag[order]
        return
    for i in range(lo + 1, hi):
        r, t = row[i], tag[i]
        k = i - 1
        while k >= lo and row[k] > r:
            row[k + 1], tag[k + 1] = row[k], tag[k]
            k -= 1
        row[k + 1], tag[k + 1] = r, t


@numba.njit(cache=True, nogil=True)
def csc_pattern(ra, rb, n):  # pragma: no cover - compiled
    """CSC structure and edge slots of the reduced matrix (see ``physnet.assembly.csc_pattern_numpy``).

    Every column holds its diagonal and, for each edge between two distinct
    unknowns, the edge's other end: one counting sort puts the entries into
    their columns, a sort per (short) column orders the rows, and parallel
    edges then share the entry of their first copy. Each entry carries a tag
    (``-1 - j`` for diagonal ``j``, ``2e`` and ``2e + 1`` for the ``(a, b)``
    and ``(b, a)`` entries of edge ``e``) that tells which slot it fills.
    """
    m = ra.shape[0]
    pair = (ra >= 0) & (rb >= 0) & (ra != rb)
    start = np.zeros(n + 1, np.int64)
    start[1:] = 1
    for e in range(m):
        if pair[e]:
            start[ra[e] + 1] += 1
            start[rb[e] + 1] += 1
    for j in range(n):
        start[j + 1] += start[j]
    row = np.empty(start[n], np.int64)
    tag = np.empty(start[n], np.int64)
    row[start[:n]] = np.arange(n)
    tag[start[:n]] = -1 - np.arange(n)
    fill = start[:n] + 1
    for e in range(m):
        if pair[e]:
            a, b = ra[e], rb[e]
            row[fill[b]], tag[fill[b]] = a, 2 * e  # (a, b): row a of column b
            fill[b] += 1
            row[fill[a]], tag[fill[a]] = b, 2 * e + 1
            fill[a] += 1
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(start[n], np.int64)
    diagonal = np.empty(n, np.int64)
    slots = np.full((4, m), -1, np.int64)
    nnz = 0
    for j in range(n):
        _sort_segment(row, tag, start[j], start[j + 1])
        for i in range(start[j], start[j + 1]):
            if nnz == indptr[j] or row[i] != indices[nnz - 1]:
                indices[nnz] = row[i]
                nnz += 1
            if tag[i] < 0:
                diagonal[-1 - tag[i]] = nnz - 1
            else:
                slots[2 + tag[i] % 2, tag[i] // 2] = nnz - 1
        indptr[j + 1] = nnz
    for e in range(m):
        if ra[e] >= 0 and ra[e] != rb[e]:
            slots[0, e] = diagonal[ra[e]]
        if rb[e] >= 0 and ra[e] != rb[e]:
            slots[1, e] = diagonal[rb[e]]
    return indptr, indices[:nnz].copy(), diagonal, slots


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
