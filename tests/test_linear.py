"""Linear backends and the factorization cache: agreement, multi-RHS, refactoring, complex, indefinite."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import physnet as pn
from physnet.assembly import build_pattern, scatter
from physnet.reduction import reduce_sources
from physnet.solvers.linear import Factorizer, available_backends, default_backend

BACKENDS = available_backends()


def random_pattern(seed, n_nodes=40, extra_edges=60):
    """A reduced nodal pattern of a random connected network (via the real assembly path)."""
    rng = np.random.default_rng(seed)
    net = pn.Netlist()
    names = ["0"] + [f"n{i}" for i in range(1, n_nodes)]
    edges = [(i, int(rng.integers(i))) for i in range(1, n_nodes)]  # random tree
    edges += [tuple(int(x) for x in rng.choice(n_nodes, 2, replace=False)) for _ in range(extra_edges)]
    net.resistors([f"R{k}" for k in range(len(edges))], [names[p] for p, _ in edges], [names[q] for _, q in edges],
                  g=1.0)
    system = net.compile()
    return build_pattern(system, reduce_sources(system))


def dense(pattern, data):
    return sp.csc_matrix((data, pattern.indices, pattern.indptr), shape=(pattern.n, pattern.n)).toarray()


def weights(seed, n, decades=6.0):
    return 10.0 ** np.random.default_rng(seed).uniform(-decades / 2, decades / 2, n)


def test_superlu_always_available_and_default_is_first():
    assert BACKENDS[-1] == "superlu"
    assert default_backend() == BACKENDS[0]


def test_unavailable_backend_is_a_clear_error():
    A = sp.csc_matrix(np.eye(2))
    with pytest.raises(ValueError, match="'nonsense' is not available.*superlu"):
        Factorizer(A.indptr, A.indices, 2, backend="nonsense")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(3))
def test_backend_solves_single_and_multi_rhs(backend, seed):
    pattern = random_pattern(seed)
    data = scatter(pattern.slots, weights(seed, pattern.n_edges), pattern.nnz)
    A = dense(pattern, data)
    rng = np.random.default_rng(seed)
    b = rng.normal(size=pattern.n)
    B = rng.normal(size=(pattern.n, 5))
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    factor = f.factor(data)
    assert factor.backend == backend
    x_ref, X_ref = np.linalg.solve(A, b), np.linalg.solve(A, B)
    np.testing.assert_allclose(factor.solve(b), x_ref, rtol=1e-10, atol=1e-10 * np.abs(x_ref).max())
    X = factor.solve(B)
    assert X.shape == (pattern.n, 5)
    np.testing.assert_allclose(X, X_ref, rtol=1e-10, atol=1e-10 * np.abs(X_ref).max())
    # multi-RHS equals column by column
    for j in range(5):
        np.testing.assert_allclose(X[:, j], factor.solve(B[:, j]), rtol=1e-13, atol=1e-13 * np.abs(X_ref).max())


@pytest.mark.parametrize("seed", range(3))
def test_backends_agree_with_each_other(seed):
    pattern = random_pattern(10 + seed, n_nodes=80, extra_edges=150)
    data = scatter(pattern.slots, weights(seed, pattern.n_edges, decades=8), pattern.nnz)
    rhs = np.random.default_rng(seed).normal(size=(pattern.n, 3))
    sols = {b: Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=b).solve(data, rhs) for b in BACKENDS}
    ref = sols["superlu"]
    for b, x in sols.items():
        np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max(), err_msg=b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_refactor_with_new_values_reuses_symbolic_analysis(backend):
    pattern = random_pattern(3)
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    rng = np.random.default_rng(0)
    rhs = rng.normal(size=pattern.n)
    for step in range(4):
        data = scatter(pattern.slots, weights(step, pattern.n_edges), pattern.nnz)
        x = f.factor(data).solve(rhs)
        np.testing.assert_allclose(dense(pattern, data) @ x, rhs, rtol=0, atol=1e-10 * np.abs(rhs).max())
        if backend == "superlu":
            if step == 0:
                perm, perm_data = f._perm, f._perm_data
                assert perm is not None
                assert sorted(perm.tolist()) == list(range(pattern.n))
            assert f._perm is perm and f._perm_data is perm_data  # ordering computed once
        if backend == "cholmod":
            if step == 0:
                symbolic = f._cholmod[2]
            assert f._cholmod[2] is symbolic and f._version == step + 1  # analysed once, refactored in place


def test_superlu_reordering_actually_reduces_fill():
    """The kept ordering is a real fill-reducing one, not the identity (an arrowhead matrix shows it)."""
    n = 60
    A = sp.lil_matrix((n, n))
    A.setdiag(n + 1.0)
    A[0, 1:] = -1.0
    A[1:, 0] = -1.0
    A = A.tocsc()
    A.sort_indices()
    f = Factorizer(A.indptr, A.indices, n, backend="superlu")
    f.factor(A.data)
    second = f.factor(A.data * 2.0)
    assert second.lu.L.nnz + second.lu.U.nnz < 4 * n  # the natural order would fill in completely
    x = second.solve(np.ones(n))
    np.testing.assert_allclose((2.0 * A) @ x, np.ones(n), atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_factor_is_never_silently_wrong(backend):
    """After a refactor, an older factor either still solves its own matrix or refuses (in-place backends)."""
    pattern = random_pattern(4)
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    d0 = scatter(pattern.slots, weights(0, pattern.n_edges), pattern.nnz)
    first = f.factor(d0)
    f.factor(scatter(pattern.slots, weights(1, pattern.n_edges), pattern.nnz))
    rhs = np.ones(pattern.n)
    try:
        x = first.solve(rhs)
    except RuntimeError as err:
        assert "superseded" in str(err)
    else:
        np.testing.assert_allclose(dense(pattern, d0) @ x, rhs, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_rhs_on_a_real_factor(backend):
    """An AC tone solved with a real (e.g. Newton Jacobian) factorization keeps its imaginary part."""
    pattern = random_pattern(6)
    data = scatter(pattern.slots, weights(6, pattern.n_edges), pattern.nnz)
    rng = np.random.default_rng(6)
    rhs = rng.normal(size=(pattern.n, 2)) + 1j * rng.normal(size=(pattern.n, 2))
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    for _ in range(2):
        factor = f.factor(data)
        for b in (rhs, rhs[:, 0]):
            x = factor.solve(b)
            assert np.iscomplexobj(x)
            np.testing.assert_allclose(dense(pattern, data) @ x, b, atol=1e-10 * np.abs(b).max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_matrices_go_through_superlu(backend):
    pattern = random_pattern(5)
    rng = np.random.default_rng(5)
    w = weights(5, pattern.n_edges) * (1.0 + 1j * rng.uniform(-2, 2, pattern.n_edges))
    data = scatter(pattern.slots, w, pattern.nnz)
    assert np.iscomplexobj(data)
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    rhs = rng.normal(size=(pattern.n, 2)) + 1j * rng.normal(size=(pattern.n, 2))
    for _ in range(2):  # first and cached-ordering factorizations
        factor = f.factor(data)
        assert factor.backend == "superlu"
        x = factor.solve(rhs)
        np.testing.assert_allclose(dense(pattern, data) @ x, rhs, atol=1e-10 * np.abs(rhs).max())
    # a real right-hand side against a complex matrix still gives the complex answer
    xr = f.factor(data).solve(rhs.real[:, 0])
    np.testing.assert_allclose(xr, np.linalg.solve(dense(pattern, data), rhs.real[:, 0]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_indefinite_matrix_uses_pivoting(backend):
    # zero on the diagonal: an unpivoted symmetric factorization would break down
    A = sp.csc_matrix(np.array([[0.0, 2.0, 0.0], [2.0, 1.0, -1.0], [0.0, -1.0, -3.0]]))
    A.sort_indices()
    f = Factorizer(A.indptr, A.indices, 3, backend=backend)
    b = np.array([1.0, 2.0, 3.0])
    x = f.factor(A.data, spd=False).solve(b)
    np.testing.assert_allclose(A @ x, b, atol=1e-14)


def test_empty_system_solves_to_empty():
    f = Factorizer(np.zeros(1, np.int64), np.zeros(0, np.int64), 0, backend="superlu")
    assert f.factor(np.zeros(0)).solve(np.zeros(0)).shape == (0,)
    assert f.factor(np.zeros(0)).solve(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_solve_dc_identical_across_backends(backend, random_network, mna):
    net = random_network(7, n_nodes=30, extra_edges=40, n_vsources=3, n_isources=3, decades=6).system
    v_ref, i_ref = mna(net)
    op = pn.solve_dc(net, backend=backend)
    np.testing.assert_allclose(op.v, v_ref, rtol=1e-10, atol=1e-10 * np.abs(v_ref).max())
    np.testing.assert_allclose(op.source_currents, i_ref, rtol=1e-9, atol=1e-10 * np.abs(i_ref).max())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("columns", [1, 2, 3, 4, 9])
def test_every_column_count_and_sparse_or_zero_columns_solve_alike(backend, columns):
    """Few columns (dense CHOLMOD solve) and many (blocked spsolve) agree with column-by-column solves."""
    pattern = random_pattern(5)
    data = scatter(pattern.slots, weights(5, pattern.n_edges), pattern.nnz)
    factor = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend).factor(data)
    B = np.zeros((pattern.n, columns))
    B[3, 0] = 1.0  # a unit current, a dense column and (from 3 columns on) an all-zero one
    if columns > 1:
        B[:, 1] = np.random.default_rng(1).normal(size=pattern.n)
    X = factor.solve(B)
    X_ref = np.linalg.solve(dense(pattern, data), B)
    np.testing.assert_allclose(X, X_ref, rtol=1e-10, atol=1e-12 * np.abs(X_ref).max())
    for j in range(columns):
        np.testing.assert_allclose(X[:, j], factor.solve(B[:, j]), rtol=1e-13, atol=1e-13 * np.abs(X_ref).max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_factorizations_are_counted(backend):
    pattern = random_pattern(2)
    data = scatter(pattern.slots, weights(2, pattern.n_edges), pattern.nnz)
    f = Factorizer(pattern.indptr, pattern.indices, pattern.n, backend=backend)
    assert f.factorizations == 0
    factor = f.factor(data)
    factor.solve(np.ones((pattern.n, 5)))
    assert f.factorizations == 1  # solving never refactors
    f.factor(2.0 * data)
    assert f.factorizations == 2
