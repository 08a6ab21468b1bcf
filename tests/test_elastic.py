"""Elastic spring networks: stiffness matrix structure, linear and geometrically nonlinear equilibria."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.spatial import Delaunay

import physnet as pn
from physnet.elements.spring import bond_vectors, extensions, spring_forces, stiffness_matrix
from physnet.errors import NetlistError
from physnet.solvers.elastic import solve_elastic


def network(points, springs, rest=None):
    """Netlist of named points ``{name: xy}`` and springs ``[(a, b, k), ...]``, compiled."""
    net = pn.Netlist()
    for name, xy in points.items():
        net.node(name, xy)
    for j, (a, b, k) in enumerate(springs):
        net.spring(f"S{j}", a, b, k=k, rest=None if rest is None else rest[j])
    return net.compile()


def energy(system, u, k=None):
    k = system["spring"]["k"] if k is None else k
    return 0.5 * np.sum(k * extensions(system, u, linear=False) ** 2)


def node_dofs(system):
    """Rows of the stiffness matrix that belong to positioned nodes (not ground)."""
    d = system.positions.shape[1]
    return np.arange(d, system.n_nodes * d)


# ------------------------------------------------------------ stiffness matrix
def test_unpinned_triangle_has_exactly_the_rigid_motions_as_null_space():
    pts = {"a": (0.0, 0.0), "b": (1.3, 0.2), "c": (0.4, 0.9)}
    s = network(pts, [("a", "b", 1.0), ("b", "c", 2.5), ("c", "a", 0.7)])
    K = stiffness_matrix(s).toarray()[np.ix_(node_dofs(s), node_dofs(s))]
    np.testing.assert_array_equal(K, K.T)
    eig = np.linalg.eigvalsh(K)
    tol = 1e-12 * eig.max()
    assert np.sum(np.abs(eig) <= tol) == 3  # two translations and one rotation
    assert eig.min() >= -tol
    x = s.positions[1:]
    for motion in (np.tile([1.0, 0.0], 3), np.tile([0.0, 1.0], 3), np.column_stack([-x[:, 1], x[:, 0]]).ravel()):
        np.testing.assert_allclose(K @ motion, 0.0, atol=1e-14)


def test_tetrahedron_in_3d_has_six_rigid_motions():
    pts = {"a": (0.0, 0.0, 0.0), "b": (1.0, 0.1, 0.0), "c": (0.2, 1.1, 0.1), "d": (0.3, 0.2, 0.9)}
    names = list(pts)
    springs = [(names[i], names[j], 1.0 + i + j) for i in range(4) for j in range(i + 1, 4)]
    s = network(pts, springs)
    K = stiffness_matrix(s).toarray()[np.ix_(node_dofs(s), node_dofs(s))]
    eig = np.linalg.eigvalsh(K)
    assert np.sum(np.abs(eig) <= 1e-12 * eig.max()) == 6
    assert eig.min() >= -1e-12 * eig.max()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 12))
def test_stiffness_is_sum_of_bond_projectors(seed, n):
    rng = np.random.default_rng(seed)
    pts = {f"p{i}": tuple(rng.uniform(0, 1, 2)) for i in range(n)}
    names = list(pts)
    springs = [(names[i], names[(i + 1) % n], float(10 ** rng.uniform(-2, 2))) for i in range(n)]
    s = network(pts, springs)
    K = stiffness_matrix(s).toarray()
    ref = np.zeros_like(K)
    for (a, b, k) in springs:
        ia, ib = s.node_index(a), s.node_index(b)
        e = s.positions[ia] - s.positions[ib]
        e /= np.linalg.norm(e)
        block = k * np.outer(e, e)
        for p, q, sign in ((ia, ia, 1), (ib, ib, 1), (ia, ib, -1), (ib, ia, -1)):
            ref[2 * p:2 * p + 2, 2 * q:2 * q + 2] += sign * block
    np.testing.assert_allclose(K, ref, rtol=1e-13, atol=1e-13 * K.max())
    np.testing.assert_array_equal(K, K.T)
    assert np.linalg.eigvalsh(K).min() >= -1e-12 * np.abs(K).max()


# ------------------------------------------------------------ linear equilibria
def test_two_springs_at_an_angle_hand_solution():
    theta = np.deg2rad(50.0)
    k1, k2 = 3.0, 5.0
    pts = {"r": (0.0, 0.0), "p": (-2.0, 0.0), "q": (-np.cos(theta), -np.sin(theta))}
    s = network(pts, [("r", "p", k1), ("r", "q", k2)])
    e1, e2 = np.array([1.0, 0.0]), np.array([np.cos(theta), np.sin(theta)])
    K = k1 * np.outer(e1, e1) + k2 * np.outer(e2, e2)
    force = np.array([0.7, -1.9])
    f = np.zeros((s.n_nodes, 2))
    f[s.node_index("r")] = force
    res = solve_elastic(s, f, pinned=["p", "q"])
    np.testing.assert_allclose(res.u[s.node_index("r")], np.linalg.solve(K, force), rtol=1e-13)
    np.testing.assert_array_equal(res.u[s.node_index("p")], 0.0)
    assert res.converged and res.iterations == 1


def test_springs_in_series_and_parallel():
    # pinned -- k1 -- a -- k2 -- b (chain along x), plus a parallel spring k3 from pinned to b
    pts = {"p": (0.0, 0.0), "a": (1.0, 0.0), "b": (2.0, 0.0), "t": (2.0, 1.0), "t2": (1.0, 1.0)}
    k1, k2, k3 = 2.0, 6.0, 1.0
    s = network(pts, [("p", "a", k1), ("a", "b", k2), ("t", "b", 1e3), ("t2", "a", 1e3), ("p", "b", k3)])
    # the two vertical springs hold the transverse directions; they do not act along x to first order
    F = 0.3
    f = np.zeros((s.n_nodes, 2))
    f[s.node_index("b")] = (F, 0.0)
    u = solve_elastic(s, f, pinned=["p", "t", "t2"]).u
    # along x: b sees k3 in parallel with (k1 series k2)
    k_eff = k3 + k1 * k2 / (k1 + k2)
    ub = F / k_eff
    np.testing.assert_allclose(u[s.node_index("b"), 0], ub, rtol=1e-13)
    np.testing.assert_allclose(u[s.node_index("a"), 0], ub * k2 / (k1 + k2), rtol=1e-13)
    np.testing.assert_allclose(u[:, 1], 0.0, atol=1e-16)


def test_linear_solution_balances_forces_on_random_rigid_network():
    rng = np.random.default_rng(3)
    n = 5
    pts = {f"p{i}{j}": (i + 0.1 * rng.normal(), j + 0.1 * rng.normal()) for i in range(n) for j in range(n)}
    springs = []
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1), (1, 1)):
                if i + di < n and j + dj < n:
                    springs.append((f"p{i}{j}", f"p{i + di}{j + dj}", float(10 ** rng.uniform(-3, 3))))
    s = network(pts, springs)
    f = rng.normal(size=(s.n_nodes, 2))
    f[0] = 0.0
    pinned = ["p00", "p01"]
    res = solve_elastic(s, f, pinned)
    K = stiffness_matrix(s)
    residual = (K @ res.u.reshape(-1)).reshape(-1, 2) - f
    free = [s.node_index(nm) for nm in pts if nm not in pinned]
    assert np.abs(residual[free]).max() <= 1e-9 * np.abs(f).max()
    # overriding k scales the answer inversely
    np.testing.assert_allclose(solve_elastic(s, f, pinned, k=2 * s["spring"]["k"]).u, res.u / 2, rtol=1e-10,
                               atol=1e-14)


# ------------------------------------------------------------ floppy networks
def test_unpinned_triangle_is_floppy():
    s = network({"a": (0.0, 0.0), "b": (1.0, 0.0), "c": (0.3, 0.7)}, [("a", "b", 1.0), ("b", "c", 1.0),
                                                                      ("c", "a", 1.0)])
    with pytest.raises(NetlistError, match="floppy"):
        solve_elastic(s, np.zeros((4, 2)), pinned=[])


@pytest.mark.parametrize("seed", range(10))
def test_four_bar_linkage_is_floppy(seed):
    """A generic four-bar loop pinned at two nodes keeps one mechanism, never an exact zero pivot."""
    rng = np.random.default_rng(seed)
    pts = {f"n{i}": tuple(rng.random(2)) for i in range(4)}
    s = network(pts, [(f"n{i}", f"n{(i + 1) % 4}", float(rng.uniform(0.5, 2))) for i in range(4)])
    f = rng.normal(size=(5, 2))
    with pytest.raises(NetlistError, match="floppy"):
        solve_elastic(s, f, pinned=["n0", "n1"])


def test_fully_pinned_network_does_not_move():
    s = network({"a": (0.0, 0.0), "b": (1.0, 0.0)}, [("a", "b", 1.0)])
    res = solve_elastic(s, np.ones((3, 2)), pinned=["a", "b"])
    np.testing.assert_array_equal(res.u, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_stiffness_span_of_twelve_decades_is_not_mistaken_for_floppy(seed):
    rng = np.random.default_rng(seed)
    n = 30
    xy = rng.random((n, 2))
    pts = {f"p{i}": tuple(xy[i]) for i in range(n)}
    edges = set()
    for tri in Delaunay(xy).simplices:
        for i in range(3):
            edges.add(tuple(sorted((int(tri[i]), int(tri[(i + 1) % 3])))))
    springs = [(f"p{p}", f"p{q}", float(10 ** rng.uniform(-6, 6))) for p, q in sorted(edges)]
    s = network(pts, springs)
    f = rng.normal(size=(s.n_nodes, 2))
    f[0] = 0.0
    res = solve_elastic(s, f, pinned=["p0", "p1"])
    residual = (stiffness_matrix(s) @ res.u.reshape(-1)).reshape(-1, 2) - f
    free = [s.node_index(nm) for nm in pts if nm not in ("p0", "p1")]
    assert np.abs(residual[free]).max() <= 1e-6 * np.abs(f).max()


# ------------------------------------------------------------ nonlinear springs
def test_energy_gradient_is_minus_the_internal_force():
    rng = np.random.default_rng(1)
    pts = {"a": (0.0, 0.0), "b": (1.0, 0.2), "c": (0.4, 1.0), "d": (1.5, 1.1)}
    springs = [("a", "b", 1.0), ("b", "c", 2.0), ("c", "a", 0.5), ("b", "d", 3.0), ("c", "d", 1.5)]
    s = network(pts, springs, rest=[0.8, 1.3, 1.0, 1.1, 0.9])  # pre-stressed
    u = 0.2 * rng.normal(size=(s.n_nodes, 2))
    u[0] = 0.0
    force = spring_forces(s, u)
    h = 1e-6
    for node in range(1, s.n_nodes):
        for c in range(2):
            up, um = u.copy(), u.copy()
            up[node, c] += h
            um[node, c] -= h
            grad = (energy(s, up) - energy(s, um)) / (2 * h)
            assert grad == pytest.approx(-force[node, c], rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(force.sum(axis=0), 0.0, atol=1e-14)  # internal forces balance


def test_tangent_stiffness_is_the_force_jacobian():
    rng = np.random.default_rng(2)
    pts = {"a": (0.0, 0.0), "b": (1.0, 0.2), "c": (0.4, 1.0)}
    s = network(pts, [("a", "b", 1.0), ("b", "c", 2.0), ("c", "a", 0.5)], rest=[0.9, 1.2, 1.0])
    u = 0.1 * rng.normal(size=(s.n_nodes, 2))
    u[0] = 0.0
    Kt = stiffness_matrix(s, u=u, geometric=True).toarray()
    np.testing.assert_allclose(Kt, Kt.T, atol=1e-14)
    h = 1e-6
    fd = np.zeros_like(Kt)
    for j in range(2, Kt.shape[0]):
        up, um = u.copy().reshape(-1), u.copy().reshape(-1)
        up[j] += h
        um[j] -= h
        fd[:, j] = -(spring_forces(s, up.reshape(-1, 2)) - spring_forces(s, um.reshape(-1, 2))).reshape(-1) / (2 * h)
    np.testing.assert_allclose(Kt[2:, 2:], fd[2:, 2:], rtol=1e-6, atol=1e-8)


def test_single_spring_large_stretch_along_and_off_axis():
    """A spring pinned at p with a pull F at q settles at ℓ = ℓ0 + F/k along the force, however large.

    A single spring has no transverse stiffness at rest, so a second spring from r holds q; r is
    placed equidistant from q's start and its exact end point, so that spring is at rest length
    (force-free) in the final state and the single-spring answer is exact.
    """
    k, ell0 = 2.0, 1.0
    for magnitude, angle in ((3.0, 0.0), (3.0, 60.0), (0.5, -30.0), (10.0, 20.0)):
        direction = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
        q0, q_star = np.array([ell0, 0.0]), (ell0 + magnitude / k) * direction
        mid, along = (q0 + q_star) / 2, q_star - q0
        perp = np.array([-along[1], along[0]]) / np.linalg.norm(along)
        r = mid + 1.5 * perp if angle <= 0 else mid - 1.5 * perp
        s = network({"p": (0.0, 0.0), "q": tuple(q0), "r": tuple(r)}, [("p", "q", k), ("r", "q", 0.3)])
        f = np.zeros((s.n_nodes, 2))
        iq = s.node_index("q")
        f[iq] = magnitude * direction
        res = solve_elastic(s, f, pinned=["p", "r"], geometric=True)
        assert res.converged
        np.testing.assert_allclose(q0 + res.u[iq], q_star, rtol=1e-10, atol=1e-12)
        _, length = bond_vectors(s, res.u)
        np.testing.assert_allclose(length, [ell0 + magnitude / k, np.linalg.norm(r - q0)], rtol=1e-10)


@pytest.mark.parametrize("force", [0.1, 2.0, 20.0])
def test_two_bar_truss_exact_large_deformation(force):
    """Symmetric two-bar truss pulled along its axis: a scalar equilibrium, solved here by bracketing."""
    a, b, k = 1.0, 0.5, 4.0
    s = network({"q": (0.0, 0.0), "p1": (-a, b), "p2": (-a, -b)}, [("p1", "q", k), ("p2", "q", k)])
    ell0 = np.hypot(a, b)
    f = np.zeros((s.n_nodes, 2))
    f[s.node_index("q")] = (force, 0.0)
    res = solve_elastic(s, f, pinned=["p1", "p2"], geometric=True)

    def balance(x):
        ell = np.hypot(a + x, b)
        return 2 * k * (ell - ell0) * (a + x) / ell - force

    x = brentq(balance, 0.0, 10.0 * force / k + 1.0, xtol=1e-15, rtol=1e-15)
    np.testing.assert_allclose(res.u[s.node_index("q")], [x, 0.0], rtol=1e-10, atol=1e-12)
    assert res.residual <= 1e-12 * (1 + force)
    lin = solve_elastic(s, f, pinned=["p1", "p2"]).u[s.node_index("q"), 0]
    np.testing.assert_allclose(lin, force / (2 * k * (a / ell0) ** 2), rtol=1e-13)  # small-strain truss


def test_geometric_newton_departs_from_linear_at_second_order():
    rng = np.random.default_rng(4)
    n = 4
    pts = {f"p{i}{j}": (i + 0.1 * rng.normal(), j + 0.1 * rng.normal()) for i in range(n) for j in range(n)}
    springs = [(f"p{i}{j}", f"p{i + di}{j + dj}", float(rng.uniform(0.5, 2.0)))
               for i in range(n) for j in range(n) for di, dj in ((1, 0), (0, 1), (1, 1)) if i + di < n and j + dj < n]
    s = network(pts, springs)
    f = rng.normal(size=(s.n_nodes, 2))
    f[0] = 0.0
    gaps = []
    for scale in (1e-3, 1e-4):
        lin = solve_elastic(s, scale * f, pinned=["p00", "p01"])
        geo = solve_elastic(s, scale * f, pinned=["p00", "p01"], geometric=True)
        assert geo.converged and geo.iterations > 1
        gaps.append(np.abs(geo.u - lin.u).max() / np.abs(lin.u).max())
    assert gaps[0] < 0.05
    assert 5 < gaps[0] / gaps[1] < 20  # relative gap is O(force): the linear answer is the first-order term
