"""Voltage-source elimination (supernodes) and floating-node / source-loop detection."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.errors import FloatingNodeError, NetlistError, SourceLoopError
from physnet.reduction import (
    component_roots,
    component_roots_numpy,
    reduce_sources,
    source_paths,
    source_paths_numpy,
)


def source_incidence(system, reduction):
    """Incidence of the eliminated elements (columns in reduction order): +1 at a, -1 at b."""
    B = np.zeros((system.n_nodes, len(reduction.shorts)))
    for col, (kind, i) in enumerate(reduction.shorts):
        B[system[kind].a[i], col] += 1.0
        B[system[kind].b[i], col] -= 1.0
    return B


# ------------------------------------------------------------ supernodes
def test_grounded_chain_and_tree_of_sources():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.vsource("V2", "b", "a", dc=2.0)
    net.vsource("V3", "c", "a", dc=-0.5)
    net.vsource("V4", "d", "c", dc=0.0)  # 0 V short merges d into c
    net.resistor("R1", "d", "e", r=1.0)
    net.resistor("R2", "e", "0", r=1.0)
    s = net.compile()
    red = reduce_sources(s)
    assert red.n_free == 1
    assert red.free[s.node_index("e")] == 0
    assert all(red.free[s.node_index(n)] == -1 for n in "abcd")
    v = red.potentials(np.array([7.0]), s["vsource"]["dc"])
    expected = {"a": 1.0, "b": 3.0, "c": 0.5, "d": 0.5, "e": 7.0, "0": 0.0}
    for name, value in expected.items():
        assert v[s.node_index(name)] == pytest.approx(value, abs=1e-15)


def test_floating_supernode_gets_one_unknown():
    net = pn.Netlist()
    net.vsource("V1", "a", "b", dc=2.0)
    net.vsource("V2", "c", "b", dc=0.0)
    net.resistor("R1", "a", "0", r=1.0)
    net.resistor("R2", "c", "0", r=1.0)
    s = net.compile()
    red = reduce_sources(s)
    assert red.n_free == 1
    ia, ib, ic = (s.node_index(n) for n in "abc")
    assert red.free[ia] == red.free[ib] == red.free[ic] == 0
    v = red.potentials(np.array([10.0]), np.array([2.0, 0.0]))
    assert v[ia] - v[ib] == 2.0 and v[ic] == v[ib]
    # the supernode's root is its lowest node index (a), whose potential is the unknown
    assert v[ia] == 10.0


def test_zero_volt_shorts_merge_nodes_and_inductors_are_shorts_only_at_dc():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    net.vsource("V1", "a", "b", dc=0.0)
    net.inductor("L1", "b", "c", l=1e-3)
    net.resistor("R2", "c", "0", r=1.0)
    s = net.compile()
    dc = reduce_sources(s, "dc")
    assert dc.n_free == 1 and len(set(dc.free[1:].tolist())) == 1
    assert dc.shorts == (("vsource", 0), ("inductor", 0))
    ac = reduce_sources(s, "ac")
    assert ac.n_free == 2 and ac.shorts == (("vsource", 0),)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 25), seed=st.integers(0, 2**32 - 1), grounded=st.booleans())
def test_source_trees_satisfy_every_constraint(n, seed, grounded):
    """Random trees of sources: v = x[free] + S E meets v(a) - v(b) = E for every source, for any x."""
    rng = np.random.default_rng(seed)
    tree = nx.random_labeled_tree(n, seed=seed % 2**31)
    names = [f"n{i}" for i in range(n)]
    if grounded:
        names[0] = "0"
    net = pn.Netlist()
    for k, (p, q) in enumerate(tree.edges()):
        p, q = (p, q) if rng.random() < 0.5 else (q, p)
        net.vsource(f"V{k}", names[p], names[q], dc=float(rng.normal()))
    net.resistor("Rg", names[int(rng.integers(n))] if not grounded else names[1], "0" if not grounded else "x",
                 r=1.0)
    if grounded:
        net.resistor("Rx", "x", "0", r=1.0)
    s = net.compile()
    red = reduce_sources(s)
    E = s["vsource"]["dc"]
    x = rng.normal(size=red.n_free)
    v = red.potentials(x, E)
    B = source_incidence(s, red)
    np.testing.assert_allclose(B.T @ v, E, rtol=0, atol=1e-12 * n)
    np.testing.assert_allclose(B.T @ red.S.toarray(), np.eye(len(E)), atol=0)
    assert v[0] == 0.0
    tree_nodes = [s.node_index(nm) for nm in names]
    assert len({int(red.free[i]) for i in tree_nodes}) == 1  # one supernode
    assert (red.free[tree_nodes] == -1).all() == grounded


def test_restrict_is_transpose_of_prolongation():
    net = pn.Netlist()
    net.vsource("V1", "a", "b", dc=1.0)
    net.vsource("V2", "c", "0", dc=1.0)
    net.resistors(["R1", "R2", "R3", "R4"], ["a", "b", "c", "d"], ["0", "d", "d", "0"], r=[1.0, 2.0, 3.0, 4.0])
    s = net.compile()
    red = reduce_sources(s)
    P = np.zeros((s.n_nodes, red.n_free))
    for node, f in enumerate(red.free):
        if f >= 0:
            P[node, f] = 1.0
    y = np.arange(1.0, s.n_nodes + 1.0)
    np.testing.assert_array_equal(red.restrict(y), P.T @ y)
    np.testing.assert_array_equal(red.restrict(np.stack([y, 2 * y])), np.stack([P.T @ y, 2 * P.T @ y]))
    np.testing.assert_array_equal(red.restrict(1j * y), 1j * (P.T @ y))
    x = np.array([0.25, -0.5])
    np.testing.assert_array_equal(red.potentials(np.zeros(2), np.zeros(2)), np.zeros(s.n_nodes))
    np.testing.assert_array_equal(red.potentials(x, np.zeros(2)), P @ x)
    np.testing.assert_array_equal(red.expand(np.stack([x, 2 * x])), np.stack([P @ x, 2 * P @ x]))


@pytest.mark.parametrize("floating", [False, True])
def test_restrict_gather_and_sparse_paths_equal_the_plain_sum(floating):
    """One node per unknown (a gather) or supernodes of several (the cached sparse ``Pᵀ``): same sums, every shape."""
    net = pn.Netlist()
    net.vsource("V1", "a", "b" if floating else "0", dc=1.0)
    net.resistors(["R1", "R2", "R3"], ["a", "b", "c"], ["b", "c", "0"], r=[1.0, 2.0, 3.0])
    s = net.compile()
    red = reduce_sources(s)
    assert (red._gather is None) == floating
    y = np.random.default_rng(0).normal(size=(3, s.n_nodes))
    expected = np.zeros((3, red.n_free))
    for node, f in enumerate(red.free):
        if f >= 0:
            expected[:, f] += y[:, node]
    for _ in range(2):  # the second call takes the cached matrix or gather
        np.testing.assert_allclose(red.restrict(y), expected, rtol=1e-15)
        np.testing.assert_allclose(red.restrict(y[0]), expected[0], rtol=1e-15)
        np.testing.assert_allclose(red.restrict(y[0] + 1j * y[1]), expected[0] + 1j * expected[1], rtol=1e-15)


def test_short_currents_follow_spice_sign():
    # 1 V source across 10 kOhm (ngspice res_simple): I(V1) = -1e-4 A
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.resistor("R1", "a", "0", r=10e3)
    s = net.compile()
    red = reduce_sources(s)
    leaving = np.zeros(s.n_nodes)
    leaving[s.node_index("a")] = 1e-4  # the resistor draws 0.1 mA out of a
    leaving[0] = -1e-4
    np.testing.assert_allclose(red.short_currents(leaving), [-1e-4], rtol=1e-15)


# ------------------------------------------------------------ floating nodes
def test_floating_single_node_is_named():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=1.0)
    net.resistor("R1", "in", "0", r=1.0)
    net.isource("I1", "0", "h3", dc=1e-3)  # a current source is no DC path
    with pytest.raises(FloatingNodeError, match="node 'h3' is floating") as info:
        reduce_sources(net.compile())
    assert info.value.nodes == ("h3",)
    assert isinstance(info.value, NetlistError) and isinstance(info.value, ValueError)


def test_floating_island_names_every_node():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    net.resistors(["R2", "R3", "R4"], ["p", "q", "r"], ["q", "r", "p"], r=[1.0, 2.0, 3.0])
    net.vsource("V9", "s", "p", dc=1.0)  # still floating: the island has no ground
    with pytest.raises(FloatingNodeError, match="nodes 'p', 'q', 'r', 's' are floating") as info:
        pn.solve_dc(net)
    assert set(info.value.nodes) == {"p", "q", "r", "s"}


def test_node_behind_capacitor_floats_at_dc_but_not_in_ac():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=1.0)
    net.resistor("R1", "in", "0", r=1.0)
    net.capacitor("C1", "in", "mid", c=1e-6)
    net.resistor("R2", "mid", "top", r=1.0)
    s = net.compile()
    with pytest.raises(FloatingNodeError, match="'mid', 'top' are floating"):
        reduce_sources(s, "dc")
    assert reduce_sources(s, "ac").n_free == 2


def test_many_floating_nodes_message_is_truncated():
    net = pn.Netlist()
    net.resistor("R0", "a", "0", r=1.0)
    net.resistors([f"R{i}" for i in range(1, 13)], [f"f{i}" for i in range(12)], [f"f{i + 1}" for i in range(12)],
                  r=1.0)
    with pytest.raises(FloatingNodeError, match="and 5 more") as info:
        reduce_sources(net.compile())
    assert len(info.value.nodes) == 13


# ------------------------------------------------------------ source loops
def test_parallel_sources_form_a_loop():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.vsource("V2", "a", "0", dc=1.0)
    net.resistor("R1", "a", "0", r=1.0)
    with pytest.raises(SourceLoopError, match="vsource 'V2' closes a loop"):
        reduce_sources(net.compile())


def test_triangle_of_sources_and_inductor_loop():
    net = pn.Netlist()
    net.vsource("V1", "a", "b", dc=1.0)
    net.vsource("V2", "b", "c", dc=1.0)
    net.resistor("R1", "a", "0", r=1.0)
    net.inductor("L1", "c", "a", l=1e-3)
    s = net.compile()
    with pytest.raises(SourceLoopError, match="inductor 'L1' closes a loop.*vsource 'V1'"):
        reduce_sources(s, "dc")
    assert reduce_sources(s, "ac").n_free == 1  # no short in AC: one supernode {a, b, c}


def test_source_shorted_to_itself():
    net = pn.Netlist()
    net.vsource("V5", "a", "a", dc=1.0)
    net.resistor("R1", "a", "0", r=1.0)
    with pytest.raises(SourceLoopError, match="vsource 'V5' connects node 'a' to itself"):
        reduce_sources(net.compile())


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), n_edges=st.integers(0, 60), seed=st.integers(0, 2**32 - 1))
def test_component_roots_numba_equals_numpy(n, n_edges, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, size=(2, n_edges)).astype(np.int64)
    fast, ref = component_roots(a, b, n), component_roots_numpy(a, b, n)
    np.testing.assert_array_equal(fast, ref)
    assert np.all(fast <= np.arange(n)) and np.all(fast[fast] == fast)  # each root is its component's lowest node


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), n_sources=st.integers(0, 29), seed=st.integers(0, 2**32 - 1))
def test_source_paths_numba_equals_numpy(n, n_sources, seed):
    """Random source forests (random orientation): the same S, entry for entry."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    edges = [(int(order[i]), int(order[rng.integers(0, i)])) for i in range(1, n)]  # a random spanning tree
    picked = [edges[i] for i in rng.permutation(len(edges))[:n_sources]]
    flip = rng.random(len(picked)) < 0.5
    a = np.array([q if f else p for (p, q), f in zip(picked, flip)], dtype=np.int64)
    b = np.array([p if f else q for (p, q), f in zip(picked, flip)], dtype=np.int64)
    root = component_roots(a, b, n)
    fast, ref = source_paths(a, b, root, n), source_paths_numpy(a, b, root, n)
    assert fast.shape == ref.shape == (n, len(a))
    np.testing.assert_array_equal(fast.toarray(), ref.toarray())
