"""Sparse pattern, numba scatter vs its numpy twin, incidence, and the reduced matrix vs Pᵀ L P."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet._numba import csc_pattern
from physnet.assembly import (
    assemble,
    build_pattern,
    csc_pattern_numpy,
    incidence,
    laplacian,
    scatter,
    scatter_numpy,
)
from physnet.reduction import reduce_sources


def prolongation(reduction):
    """Dense P (n_nodes × n_free): P[node, free[node]] = 1."""
    P = np.zeros((len(reduction.free), reduction.n_free))
    for node, f in enumerate(reduction.free):
        if f >= 0:
            P[node, f] = 1.0
    return P


@settings(max_examples=40, deadline=None)
@given(n_slots=st.integers(1, 60), n_edges=st.integers(0, 80), seed=st.integers(0, 2**32 - 1),
       is_complex=st.booleans())
def test_scatter_numba_equals_numpy(n_slots, n_edges, seed, is_complex):
    rng = np.random.default_rng(seed)
    slots = rng.integers(-1, n_slots, size=(4, n_edges)).astype(np.int64)
    w = 10.0 ** rng.uniform(-6, 6, n_edges) * rng.choice([-1.0, 1.0], n_edges)
    if is_complex:
        w = w + 1j * 10.0 ** rng.uniform(-6, 6, n_edges)
    fast, ref = scatter(slots, w, n_slots), scatter_numpy(slots, w, n_slots)
    assert fast.dtype == ref.dtype == (np.complex128 if is_complex else np.float64)
    # Summation order differs (bincount vs edge loop): each slot sums at most 4 n terms whose
    # magnitudes add up to at most 4 Σ|w|, which bounds the rounding of either order.
    bound = 2 * (4 * n_edges) * np.finfo(float).eps * 4 * np.sum(np.abs(w))
    np.testing.assert_allclose(fast, ref, rtol=0, atol=bound)


@settings(max_examples=40, deadline=None)
@given(n_slots=st.integers(1, 30), n_edges=st.integers(0, 80), seed=st.integers(0, 2**32 - 1),
       is_complex=st.booleans())
def test_scatter_numba_equals_numpy_bit_for_bit_on_exact_sums(n_slots, n_edges, seed, is_complex):
    """Small integers sum exactly in any order, so the two kernels must agree to the last bit."""
    rng = np.random.default_rng(seed)
    slots = rng.integers(-1, n_slots, size=(4, n_edges)).astype(np.int64)
    w = rng.integers(-1000, 1000, n_edges).astype(np.float64) / 8.0
    if is_complex:
        w = w + 1j * rng.integers(-1000, 1000, n_edges) / 4.0
    fast, ref = scatter(slots, w, n_slots), scatter_numpy(slots, w, n_slots)
    np.testing.assert_array_equal(fast, ref)
    # and both equal the dense definition
    dense = np.zeros(n_slots, dtype=w.dtype)
    for e in range(n_edges):
        for row, sign in zip(slots[:, e], (1, 1, -1, -1)):
            if row >= 0:
                dense[row] += sign * w[e]
    np.testing.assert_array_equal(fast, dense)


def test_scatter_on_a_real_pattern_is_bit_identical():
    net = pn.Netlist()
    net.resistors(["R1", "R2", "R3"], ["a", "b", "a"], ["b", "0", "0"], g=[1.0, 2.0, 4.0])
    s = net.compile()
    pattern = build_pattern(s, reduce_sources(s))
    w = np.array([0.125, 0.5, 0.25, 0.0, 0.0])[: pattern.n_edges]
    np.testing.assert_array_equal(scatter(pattern.slots, w, pattern.nnz), scatter_numpy(pattern.slots, w, pattern.nnz))


def test_incidence_shape_and_signs():
    net = pn.Netlist()
    net.resistors(["R1", "R2", "R3"], ["a", "b", "0"], ["b", "0", "a"], r=1.0)
    net.pipe("P1", "a", "b", k=1.0)
    s = net.compile()
    B = incidence(s).toarray()
    assert B.shape == (3, 3)
    np.testing.assert_array_equal(B, [[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    np.testing.assert_array_equal(B.sum(axis=0), 0)
    assert incidence(s, ("resistor", "pipe")).shape == (3, 4)
    np.testing.assert_array_equal(incidence(s, ("pipe",)).toarray()[:, 0], [0, 1, -1])


def test_laplacian_is_b_diag_bt():
    net = pn.Netlist()
    net.resistors(["R1", "R2", "R3"], ["a", "b", "a"], ["b", "0", "0"], g=[1.0, 2.0, 4.0])
    L = laplacian(net.compile(), np.array([1.0, 2.0, 4.0])).toarray()
    np.testing.assert_array_equal(L, [[6, -4, -2], [-4, 5, -1], [-2, -1, 3]])


@pytest.mark.parametrize("seed", range(8))
def test_reduced_matrix_equals_pt_l_p(seed, random_network):
    net = random_network(seed, n_nodes=15, extra_edges=12, n_vsources=4, n_isources=0).system
    red = reduce_sources(net)
    pattern = build_pattern(net, red)
    rng = np.random.default_rng(seed)
    n_r = len(net["resistor"])
    w = 10.0 ** rng.uniform(-4, 4, pattern.n_edges)  # only resistors here, so all edges are resistors
    assert pattern.n_edges == n_r
    A = assemble(pattern, w)
    P = prolongation(red)
    expected = P.T @ laplacian(net, w).toarray() @ P
    np.testing.assert_allclose(A.toarray(), expected, rtol=1e-14, atol=1e-14 * w.max())
    # the pattern is symmetric and stores every diagonal entry
    S = A.copy()
    S.data[:] = 1.0
    assert (S != S.T).nnz == 0
    assert np.all(np.diff(pattern.indptr) >= 1)
    np.testing.assert_array_equal(pattern.indices[pattern.diagonal], np.arange(pattern.n))
    # complex admittances scatter into the same pattern
    y = w * (1 + 0.5j)
    np.testing.assert_allclose(assemble(pattern, y).toarray(), P.T @ laplacian(net, y).toarray() @ P, rtol=1e-14,
                               atol=1e-14 * w.max())


@pytest.mark.parametrize("seed", range(5))
def test_reduced_matrix_is_symmetric_positive_definite(seed, random_network):
    net = random_network(100 + seed, n_nodes=20, extra_edges=15, n_vsources=3, decades=6).system
    red = reduce_sources(net)
    A = assemble(build_pattern(net, red), net["resistor"]["g"]).toarray()
    np.testing.assert_array_equal(A, A.T)
    eig = np.linalg.eigvalsh(A)
    assert eig.min() > 0
    # and the full Laplacian is PSD with the all-ones null vector
    L = laplacian(net, net["resistor"]["g"]).toarray()
    np.testing.assert_allclose(L @ np.ones(net.n_nodes), 0, atol=1e-15 * np.abs(L).max() * net.n_nodes)


def test_edges_inside_a_supernode_or_between_fixed_nodes_stamp_nothing():
    net = pn.Netlist()
    net.vsource("V1", "a", "b", dc=1.0)
    net.vsource("V2", "c", "0", dc=1.0)
    net.resistor("Rab", "a", "b", r=1.0)  # both ends in one supernode
    net.resistor("Rc0", "c", "0", r=1.0)  # both ends fixed
    net.resistor("Rbc", "b", "c", r=2.0)  # supernode to fixed node: diagonal only
    s = net.compile()
    pattern = build_pattern(s, reduce_sources(s))
    assert pattern.n == 1
    np.testing.assert_array_equal(pattern.slots[:, 0], -1)
    np.testing.assert_array_equal(pattern.slots[:, 1], -1)
    assert assemble(pattern, s["resistor"]["g"]).toarray().tolist() == [[0.5]]


def test_pattern_kinds_and_offsets_follow_analysis():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    net.diode("D1", "a", "b")
    net.pipe("P1", "b", "0", k=1.0)
    net.capacitor("C1", "a", "0", c=1.0)
    s = net.compile()
    dc = build_pattern(s, reduce_sources(s, "dc"))
    assert dc.kinds == ("resistor", "diode", "pipe")
    assert dc.offsets == {"resistor": (0, 1), "diode": (1, 2), "pipe": (2, 3)}
    ac = build_pattern(s, reduce_sources(s, "ac"))
    assert ac.kinds[-2:] == ("capacitor", "inductor") and ac.n_edges == 4


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 25), n_edges=st.integers(0, 80), seed=st.integers(0, 2**32 - 1))
def test_pattern_numba_equals_numpy(n, n_edges, seed):
    """Random terminals (fixed ones, self-loops, parallel and antiparallel edges): identical structure and slots."""
    rng = np.random.default_rng(seed)
    ra, rb = rng.integers(-1, n, size=(2, n_edges)).astype(np.int64)
    fast, ref = csc_pattern(ra, rb, n), csc_pattern_numpy(ra, rb, n)
    for name, x, y in zip(("indptr", "indices", "diagonal", "slots"), fast, ref):
        assert x.dtype == y.dtype == np.int64, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_pattern_of_a_grid_numba_equals_numpy():
    net = pn.Netlist()
    k = 30
    name = [[f"n{i}_{j}" for j in range(k)] for i in range(k)]
    right = [(name[i][j], name[i][j + 1]) for i in range(k) for j in range(k - 1)]
    down = [(name[i][j], name[i + 1][j]) for i in range(k - 1) for j in range(k)]
    a, b = zip(*(right + down))
    net.resistors([f"R{e}" for e in range(len(a))], a, b, g=1.0)
    net.vsource("V1", name[0][0], "0", dc=1.0)
    net.resistor("RL", name[-1][-1], "0", r=1.0)
    s = net.compile()
    red = reduce_sources(s)
    pattern = build_pattern(s, red)
    a_idx, b_idx = s["resistor"].a, s["resistor"].b
    ref = csc_pattern_numpy(red.free[a_idx], red.free[b_idx], red.n_free)
    for x, y in zip((pattern.indptr, pattern.indices, pattern.diagonal, pattern.slots), ref):
        np.testing.assert_array_equal(x, y)


def test_pattern_numba_equals_numpy_with_a_hub():
    """A column far longer than the insertion-sort cutoff, with parallel copies of some of its edges."""
    rng = np.random.default_rng(7)
    ra = np.r_[np.zeros(500, np.int64), rng.integers(-1, 600, 300)]
    rb = np.r_[rng.permutation(np.arange(1, 501)), rng.integers(-1, 600, 300)]
    ra, rb = np.r_[ra, rb[:50]], np.r_[rb, ra[:50]]  # antiparallel copies of the first 50 hub edges
    for x, y in zip(csc_pattern(ra, rb, 600), csc_pattern_numpy(ra, rb, 600)):
        np.testing.assert_array_equal(x, y)
