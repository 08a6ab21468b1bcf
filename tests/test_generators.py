"""Tests of physnet.generators: counts vs closed forms, connectivity, determinism, geometry, errors."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physnet.errors import NetlistError
from physnet.generators import (
    crossbar,
    erdos_renyi,
    from_networkx,
    layered,
    random_regular,
    square_lattice,
    triangular_lattice,
)

ELEMENT = {"resistor": "resistor", "flow": "pipe", "elastic": "spring"}


def edges_of(system, kind="resistor"):
    table = system[ELEMENT.get(kind, kind)]
    return table.a, table.b


def graph_of(system, kinds=("resistor", "pipe", "spring", "diode")):
    """Multigraph on node indices from every two-terminal element of ``kinds``."""
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(1, system.n_nodes))
    for kind in kinds:
        table = system[kind]
        graph.add_edges_from(zip(table.a.tolist(), table.b.tolist()))
    return graph


def assert_simple(system, kind="resistor"):
    """No self-loops and no repeated node pair."""
    a, b = edges_of(system, kind)
    assert (a != b).all()
    pairs = {frozenset(p) for p in zip(a.tolist(), b.tolist())}
    assert len(pairs) == len(a)


# ----------------------------------------------------------------- lattices
@pytest.mark.parametrize("nx_, ny", [(2, 2), (3, 5), (6, 4)])
@pytest.mark.parametrize("diagonals", [False, True])
def test_square_lattice_counts_open(nx_, ny, diagonals):
    s = square_lattice(nx_, ny, diagonals=diagonals).compile()
    expected = 2 * nx_ * ny - nx_ - ny + (2 * (nx_ - 1) * (ny - 1) if diagonals else 0)
    assert s.n_nodes == nx_ * ny + 1  # + ground, unused
    assert len(s["resistor"]) == expected
    assert_simple(s)
    assert nx.is_connected(graph_of(s))


@pytest.mark.parametrize("nx_, ny", [(3, 3), (4, 5)])
@pytest.mark.parametrize("diagonals", [False, True])
def test_square_lattice_counts_periodic(nx_, ny, diagonals):
    s = square_lattice(nx_, ny, periodic=True, diagonals=diagonals).compile()
    assert len(s["resistor"]) == (4 if diagonals else 2) * nx_ * ny
    assert_simple(s)
    degrees = {d for _, d in graph_of(s).degree()}
    assert degrees == {8 if diagonals else 4}


def test_square_lattice_names_positions_and_order():
    s = square_lattice(3, 2).compile()
    assert s.node_names == ("0", "n0_0", "n0_1", "n1_0", "n1_1", "n2_0", "n2_1")
    assert s.positions.shape == (7, 2)
    assert np.isnan(s.positions[0]).all()
    np.testing.assert_array_equal(s.positions[s.node_index("n2_1")], [2.0, 1.0])
    t = s["resistor"]
    assert t.names[:3] == ("R0", "R1", "R2")
    # x-bonds first, in node order
    first = (s.node_names[t.a[0]], s.node_names[t.b[0]])
    assert first == ("n0_0", "n1_0")
    # every bond has unit length
    lengths = np.linalg.norm(s.positions[t.a] - s.positions[t.b], axis=1)
    np.testing.assert_allclose(lengths, 1.0)


@pytest.mark.parametrize("nx_, ny", [(2, 2), (3, 3), (5, 4), (4, 7)])
def test_triangular_lattice_counts_and_unit_bonds(nx_, ny):
    s = triangular_lattice(nx_, ny, kind="elastic").compile()
    assert len(s["spring"]) == 3 * nx_ * ny - 2 * nx_ - 2 * ny + 1
    assert_simple(s, "spring")
    np.testing.assert_allclose(s["spring"]["rest"], 1.0, atol=1e-12)
    graph = graph_of(s)
    assert nx.is_connected(graph)
    assert max(d for _, d in graph.degree()) <= 6


@pytest.mark.parametrize("nx_, ny", [(3, 4), (5, 6)])
def test_triangular_lattice_periodic(nx_, ny):
    s = triangular_lattice(nx_, ny, periodic=True).compile()
    assert len(s["resistor"]) == 3 * nx_ * ny
    assert_simple(s)
    assert {d for _, d in graph_of(s).degree()} == {6}


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 15), st.integers(2, 15))
def test_square_lattice_edge_count_property(nx_, ny):
    net = square_lattice(nx_, ny)
    assert len(net.compile()["resistor"]) == 2 * nx_ * ny - nx_ - ny


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12))
def test_triangular_lattice_edge_count_property(nx_, ny):
    s = triangular_lattice(nx_, ny).compile()
    assert len(s["resistor"]) == 3 * nx_ * ny - 2 * nx_ - 2 * ny + 1
    assert nx.is_connected(graph_of(s))


# ------------------------------------------------------------------ kinds
def test_flow_kind_produces_pipes():
    s = square_lattice(3, 3, kind="flow", g=2e-9).compile()
    assert not s.has("resistor") and len(s["pipe"]) == 12
    np.testing.assert_array_equal(s["pipe"]["k"], 2e-9)
    assert s["pipe"].names[0] == "P0"
    assert s.domains == frozenset({"flow"})


@pytest.mark.parametrize(
    "make",
    [
        lambda: square_lattice(4, 3, kind="elastic", diagonals=True, g=(1.0, 2.0), seed=3),
        lambda: triangular_lattice(4, 4, kind="elastic"),
        lambda: erdos_renyi(15, 0.4, kind="elastic", seed=2),
        lambda: random_regular(12, 3, kind="elastic", dim=3, seed=2),
        lambda: layered([2, 3, 2], kind="elastic"),
    ],
)
def test_elastic_rest_lengths_equal_node_distances(make):
    s = make().compile()
    t = s["spring"]
    assert len(t) > 0 and t.names[0].startswith("S")
    distance = np.linalg.norm(s.positions[t.a] - s.positions[t.b], axis=1)
    np.testing.assert_allclose(t["rest"], distance, rtol=1e-12)
    assert np.isfinite(s.positions[1:]).all()


# ---------------------------------------------------------------- g spec
def test_g_scalar_array_and_range():
    n_edges = 7  # 3 x 2 lattice
    np.testing.assert_array_equal(square_lattice(3, 2, g=0.5).compile()["resistor"]["g"], 0.5)
    values = np.arange(1.0, n_edges + 1)
    np.testing.assert_array_equal(square_lattice(3, 2, g=values).compile()["resistor"]["g"], values)
    np.testing.assert_array_equal(square_lattice(3, 2, g=list(values)).compile()["resistor"]["g"], values)
    drawn = square_lattice(30, 30, g=(1e-3, 2e-3), seed=1).compile()["resistor"]["g"]
    assert drawn.min() >= 1e-3 and drawn.max() < 2e-3 and drawn.std() > 1e-4


def test_two_element_tuple_is_a_range_but_list_is_per_edge():
    net_range = crossbar(1, 2, g=(1.0, 3.0), seed=0).compile()["resistor"]["g"]
    net_list = crossbar(1, 2, g=[1.0, 3.0]).compile()["resistor"]["g"]
    np.testing.assert_array_equal(net_list, [1.0, 3.0])
    assert ((net_range >= 1.0) & (net_range < 3.0)).all() and not np.array_equal(net_range, [1.0, 3.0])


# ----------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "make",
    [
        lambda seed: square_lattice(5, 5, g=(0.1, 1.0), seed=seed),
        lambda seed: triangular_lattice(5, 4, kind="flow", g=(0.1, 1.0), seed=seed),
        lambda seed: erdos_renyi(25, 0.2, g=(0.1, 1.0), seed=seed),
        lambda seed: erdos_renyi(25, 0.05, connected="largest", seed=seed),
        lambda seed: random_regular(20, 3, g=(0.1, 1.0), seed=seed),
        lambda seed: layered([3, 4, 2], g=(0.1, 1.0), seed=seed),
        lambda seed: from_networkx(nx.cycle_graph(6), g=(0.1, 1.0), seed=seed),
    ],
)
def test_deterministic_per_seed_and_different_across_seeds(make):
    def snapshot(net):
        s = net.compile()
        kind = next(k for k in ("resistor", "pipe") if s.has(k))
        t = s[kind]
        return s.node_names, t.a.tolist(), t.b.tolist(), t[t.spec.params[0].name].tolist(), s.positions

    first, again, other = snapshot(make(7)), snapshot(make(7)), snapshot(make(8))
    assert first[:4] == again[:4]
    np.testing.assert_array_equal(first[4], again[4])
    assert first[:4] != other[:4] or not np.array_equal(first[4], other[4], equal_nan=True)
    # a Generator is accepted as well, and its state is consumed deterministically
    gen_a = snapshot(make(np.random.default_rng(11)))
    gen_b = snapshot(make(np.random.default_rng(11)))
    assert gen_a[:4] == gen_b[:4]


# ---------------------------------------------------------- random graphs
def test_erdos_renyi_connected_with_layout():
    s = erdos_renyi(40, 0.1, seed=0).compile()
    assert s.node_names[1:4] == ("n0", "n1", "n2")
    assert s.n_nodes == 41
    assert nx.is_connected(graph_of(s))
    assert_simple(s)
    assert s.positions.shape == (41, 2) and np.isfinite(s.positions[1:]).all()
    s3 = erdos_renyi(10, 0.5, seed=0, dim=3).compile()
    assert s3.positions.shape == (11, 3)


def test_erdos_renyi_complete_graph_at_p_one():
    assert len(erdos_renyi(7, 1.0, seed=0).compile()["resistor"]) == 21


def test_erdos_renyi_largest_component():
    s = erdos_renyi(60, 0.02, connected="largest", seed=4).compile()
    assert 2 < s.n_nodes - 1 < 60
    assert s.node_names[1:] == tuple(f"n{i}" for i in range(s.n_nodes - 1))
    assert nx.is_connected(graph_of(s))


def test_erdos_renyi_too_sparse_is_a_clear_error():
    with pytest.raises(NetlistError, match=r"no connected sample .*ln\(n\)/n.*connected='largest'"):
        erdos_renyi(200, 0.001, seed=0, max_tries=5)
    with pytest.raises(NetlistError, match="no edges"):
        erdos_renyi(20, 1e-9, connected="largest", seed=0)


def test_random_regular_degrees_and_connectivity():
    s = random_regular(30, 3, seed=5).compile()
    graph = graph_of(s)
    assert len(s["resistor"]) == 45
    assert {d for _, d in graph.degree()} == {3}
    assert nx.is_connected(graph)
    assert_simple(s)
    cycle = random_regular(12, 2, seed=1, max_tries=1000).compile()
    assert nx.is_connected(graph_of(cycle))
    assert len(random_regular(2, 1).compile()["resistor"]) == 1


# -------------------------------------------------------------- layered
def test_layered_counts_names_positions():
    s = layered([3, 4, 2]).compile()
    assert len(s["resistor"]) == 3 * 4 + 4 * 2
    assert s.node_names[1:] == tuple(f"l{l}_{k}" for l, n in enumerate([3, 4, 2]) for k in range(n))
    assert s["resistor"].names[0] == "R0_0_0" and s["resistor"].names[-1] == "R1_3_1"
    np.testing.assert_array_equal(s.positions[s.node_index("l1_0")], [1.0, -1.5])
    np.testing.assert_array_equal(s.positions[s.node_index("l2_1")], [2.0, 0.5])
    assert not s.has("diode")
    a = [s.node_names[i] for i in s["resistor"].a]
    b = [s.node_names[i] for i in s["resistor"].b]
    assert all(x[1] == str(int(y[1]) - 1) for x, y in zip(a, b))  # only consecutive layers


def test_layered_shunt_diodes_at_hidden_nodes():
    s = layered([2, 3, 4, 1], diodes="shunt", diode_params={"is_": 1e-12, "n": 1.5}).compile()
    d = s["diode"]
    assert len(d) == 2 * (3 + 4)
    hidden = {f"l{l}_{k}" for l, n in ((1, 3), (2, 4)) for k in range(n)}
    anodes = [s.node_names[i] for i in d.a]
    cathodes = [s.node_names[i] for i in d.b]
    forward = {x for x, y in zip(anodes, cathodes) if y == "0"}
    backward = {y for x, y in zip(anodes, cathodes) if x == "0"}
    assert forward == hidden and backward == hidden
    np.testing.assert_array_equal(d["is_"], 1e-12)
    np.testing.assert_array_equal(d["n"], 1.5)
    assert layered([2, 3, 1], diodes=True).compile()["diode"].names[:2] == ("D1_0p", "D1_1p")


def test_layered_series_diodes():
    s = layered([2, 3], diodes="series").compile()
    assert len(s["resistor"]) == 6 and len(s["diode"]) == 6
    assert s.n_nodes == 1 + 5 + 6
    i = s["diode"].index("D0_1_2")
    assert s.node_names[s["diode"].a[i]] == "m0_1_2" and s.node_names[s["diode"].b[i]] == "l1_2"
    r = s["resistor"].index("R0_1_2")
    assert s.node_names[s["resistor"].a[r]] == "l0_1" and s.node_names[s["resistor"].b[r]] == "m0_1_2"
    np.testing.assert_allclose(s.positions[s.node_index("m0_1_2")], [0.5, (0.5 + 1.0) / 2])
    assert nx.is_connected(graph_of(s))


def test_crossbar_is_two_layers():
    s = crossbar(4, 3, g=(1.0, 2.0), seed=0).compile()
    ref = layered([4, 3], g=(1.0, 2.0), seed=0).compile()
    assert s.node_names == ref.node_names
    np.testing.assert_array_equal(s["resistor"]["g"], ref["resistor"]["g"])
    assert len(s["resistor"]) == 12


# ---------------------------------------------------------------- ground
def test_ground_option_replaces_one_node():
    s = square_lattice(3, 3, ground="n0_0").compile()
    assert "n0_0" not in s.node_names and s.n_nodes == 9
    a, b = edges_of(s)
    assert int(((a == 0) | (b == 0)).sum()) == 2
    assert len(a) == 12 and np.isnan(s.positions[0]).all()
    assert nx.is_connected(graph_of(s))
    # without the option nothing touches ground
    a, b = edges_of(square_lattice(3, 3).compile())
    assert not ((a == 0) | (b == 0)).any()


def test_ground_option_on_graphs_and_layered():
    s = erdos_renyi(10, 0.5, seed=0, ground="n3").compile()
    assert "n3" not in s.node_names
    s = layered([2, 3, 1], diodes="shunt", ground="l1_1").compile()
    assert len(s["diode"]) == 4 and "l1_1" not in s.node_names
    s = layered([2, 2], diodes="series", ground="l1_0").compile()
    assert sum(s.node_names[i] == "0" for i in s["diode"].b) == 2


# ------------------------------------------------------------- networkx
def test_from_networkx_round_trip_of_weights():
    rng = np.random.default_rng(0)
    graph = nx.gnm_random_graph(15, 30, seed=3)
    weights = {e: float(w) for e, w in zip(graph.edges, rng.uniform(1e-3, 1e-2, graph.number_of_edges()))}
    nx.set_edge_attributes(graph, weights, "weight")
    s = from_networkx(graph, seed=0).compile()
    t = s["resistor"]
    assert len(t) == graph.number_of_edges()
    for a, b, g in zip(t.a, t.b, t["g"]):
        u, v = (int(s.node_names[i][1:]) for i in (a, b))
        assert graph.edges[u, v]["weight"] == g
    # and back: the compiled network has the graph's topology
    back = nx.relabel_nodes(nx.Graph(graph_of(s)), lambda i: int(s.node_names[i][1:]))
    assert nx.utils.graphs_equal(nx.Graph(back.edges), nx.Graph(graph.edges))


def test_from_networkx_names_never_ground_by_accident():
    graph = nx.path_graph(3)
    s = from_networkx(graph, g=1.0).compile()
    assert s.node_names == ("0", "n0", "n1", "n2")
    a, b = edges_of(s)
    assert not ((a == 0) | (b == 0)).any()
    s = from_networkx(graph, g=1.0, ground=0).compile()
    assert s.node_names == ("0", "n1", "n2")
    s = from_networkx(graph, g=1.0, ground="n2").compile()
    assert s.node_names == ("0", "n0", "n1")
    labelled = nx.relabel_nodes(graph, {0: "0", 1: "in", 2: "out"})
    with pytest.raises(NetlistError, match=r"graph node '0' would be the ground node; pass ground='0'"):
        from_networkx(labelled, g=1.0)
    assert from_networkx(labelled, g=1.0, ground="0").compile().node_names == ("0", "in", "out")


def test_from_networkx_positions_and_tuple_names():
    grid = nx.grid_2d_graph(3, 2)
    nx.set_node_attributes(grid, {v: (float(v[0]), float(v[1])) for v in grid}, "pos")
    s = from_networkx(grid, kind="elastic", g=5.0).compile()
    ref = square_lattice(3, 2).compile()
    assert set(s.node_names) == set(ref.node_names)
    for name in ref.node_names[1:]:
        np.testing.assert_array_equal(s.positions[s.node_index(name)], ref.positions[ref.node_index(name)])
    np.testing.assert_allclose(s["spring"]["rest"], 1.0)
    # no positions at all -> seeded layout
    s = from_networkx(nx.path_graph(4), g=1.0, seed=1).compile()
    assert s.positions.shape == (5, 2) and np.isfinite(s.positions[1:]).all()
    # a mapping works too
    s = from_networkx(nx.path_graph(2), g=1.0, positions={0: (0, 0, 0), 1: (0, 0, 2)}, kind="elastic").compile()
    np.testing.assert_array_equal(s["spring"]["rest"], [2.0])


def test_from_networkx_errors():
    partial = nx.path_graph(3)
    partial.nodes[0]["pos"] = (0.0, 0.0)
    with pytest.raises(NetlistError, match=r"graph node 1 has no node attribute 'pos'"):
        from_networkx(partial, g=1.0)
    with pytest.raises(NetlistError, match=r"has no 'weight' attribute.*pass g="):
        from_networkx(nx.path_graph(3))
    loop = nx.path_graph(3)
    loop.add_edge(1, 1)
    with pytest.raises(NetlistError, match="self-loop"):
        from_networkx(loop, g=1.0)
    clash = nx.Graph([(0, "n0")])
    with pytest.raises(NetlistError, match="both map to the name 'n0'"):
        from_networkx(clash, g=1.0)
    with pytest.raises(NetlistError, match="whitespace"):
        from_networkx(nx.Graph([("a b", "c")]), g=1.0)
    with pytest.raises(NetlistError, match="at least one edge"):
        from_networkx(nx.empty_graph(3), g=1.0)
    with pytest.raises(NetlistError, match="networkx graph"):
        from_networkx([(0, 1)], g=1.0)
    bad_weight = nx.path_graph(3)
    nx.set_edge_attributes(bad_weight, -1.0, "weight")
    with pytest.raises(NetlistError, match=r"edge attribute 'weight' = -1.0 at edge 0 is invalid"):
        from_networkx(bad_weight)
    with pytest.raises(NetlistError, match=r"ground = 'x'"):
        from_networkx(nx.path_graph(3), g=1.0, ground="x")


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: square_lattice(1, 3), r"nx = 1 is too small \(must be an integer >= 2\)"),
        (lambda: square_lattice(3, 0), r"ny = 0 is too small"),
        (lambda: square_lattice(2.5, 3), r"nx = 2.5 must be an integer"),
        (lambda: square_lattice(True, 3), r"nx = True must be an integer"),
        (lambda: square_lattice(2, 3, periodic=True), r"nx = 2 is too small \(must be an integer >= 3\)"),
        (lambda: square_lattice(3, 3, kind="electric"), r"kind = 'electric' is not supported \(allowed: 'resistor'"),
        (lambda: square_lattice(3, 3, kind="elastic", periodic=True), r"periodic=True is not available"),
        (lambda: square_lattice(3, 3, g=-1.0), r"g = -1.0 is invalid \(must be a finite number > 0\)"),
        (lambda: square_lattice(3, 3, g=0.0), r"g = 0.0 is invalid"),
        (lambda: square_lattice(3, 3, g=float("nan")), r"g = nan is invalid"),
        (lambda: square_lattice(3, 3, g=[1.0, 2.0, 3.0]), r"g has shape \(3,\) but the network has 12 edges"),
        (lambda: square_lattice(2, 2, g=[1.0, np.nan, 1.0, 1.0]), r"g = nan at edge 1 is invalid"),
        (lambda: square_lattice(3, 3, g=(2.0, 1.0)), r"g = \(2.0, 1.0\) is an invalid range"),
        (lambda: square_lattice(3, 3, g=(0.0, 1.0)), r"invalid range \(need finite 0 < low <= high\)"),
        (lambda: square_lattice(3, 3, g="big"), r"g = 'big' is not numeric"),
        (lambda: square_lattice(3, 3, seed="x"), r"seed = 'x' must be None"),
        (lambda: square_lattice(3, 3, seed=-1), r"seed = -1 must be None"),
        (lambda: square_lattice(3, 3, ground="n9_9"), r"ground = 'n9_9' is not a node of this network"),
        (lambda: square_lattice(3, 3, kind="elastic", ground="n0_0"), r"ground is not available for kind='elastic'"),
        (lambda: square_lattice(3, 3, prefix="R x"), r"prefix = 'R x' must be a non-empty string"),
        (lambda: triangular_lattice(3, 5, periodic=True), r"ny = 5 must be even"),
        (lambda: triangular_lattice(3, 2, periodic=True), r"ny = 2 is too small \(must be an integer >= 4\)"),
        (lambda: erdos_renyi(1, 0.5), r"n = 1 is too small"),
        (lambda: erdos_renyi(10, 0.0), r"p = 0.0 is outside \(0, 1\]"),
        (lambda: erdos_renyi(10, 1.5), r"p = 1.5 is outside \(0, 1\]"),
        (lambda: erdos_renyi(10, "a"), r"p = 'a' must be a number in \(0, 1\]"),
        (lambda: erdos_renyi(10, 0.5, connected="yes"), r"connected = 'yes' is not supported"),
        (lambda: erdos_renyi(10, 0.5, dim=4), r"dim = 4 is not supported"),
        (lambda: random_regular(5, 3), r"n \* degree = 5 \* 3 is odd"),
        (lambda: random_regular(4, 4), r"degree = 4 must be smaller than n = 4"),
        (lambda: random_regular(6, 1), r"perfect matching, never connected"),
        (lambda: random_regular(6, 0), r"degree = 0 is too small"),
        (lambda: layered([3]), r"needs at least two layers"),
        (lambda: layered([3, 0, 2]), r"sizes\[1\] = 0 is too small"),
        (lambda: layered(5), r"sizes = 5 must be a sequence"),
        (lambda: layered([2, 2], diodes="shunt"), r"no hidden layer"),
        (lambda: layered([2, 2, 2], diodes="both"), r"diodes = 'both' is not supported"),
        (lambda: layered([2, 2, 2], kind="flow", diodes=True), r"needs kind='resistor'"),
        (lambda: layered([2, 2, 2], diode_params={"n": 2.0}), r"diode_params is given but diodes=False"),
        (lambda: layered([2, 2, 2], diodes=True, diode_params={"vj": 1.0}), r"diode_params: .*unknown parameter 'vj'"),
        (lambda: layered([2, 2, 2], diodes=True, diode_params={"n": -1.0}), r"diode_params: .*n = .*-1.0.* is invalid"),
        (lambda: crossbar(0, 2), r"sizes\[0\] = 0 is too small"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(NetlistError, match=message):
        call()


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        square_lattice(1, 1)


def test_sources_can_be_added_afterwards():
    net = square_lattice(3, 3, ground="n0_0")
    net.vsource("V1", "n2_2", "0", dc=1.0)
    s = net.compile()
    assert s.has("vsource") and s.node_names[s["vsource"].a[0]] == "n2_2"
    assert math.isfinite(float(s["resistor"]["g"].sum()))


@pytest.mark.parametrize("layout", ["spring", "spectral", "random"])
def test_graph_layouts_are_seeded(layout):
    make = lambda: erdos_renyi(30, 0.3, seed=3, layout=layout, dim=3).compile()  # noqa: E731
    first, again = make(), make()
    assert first.positions.shape == (31, 3)
    np.testing.assert_array_equal(first.positions, again.positions)
    assert np.abs(first.positions[1:]).max() <= 1.0 + 1e-12


def test_auto_layout_switches_to_random_for_large_graphs():
    import physnet.generators as gen

    n = gen.SPRING_LAYOUT_MAX_NODES + 2  # n * degree must be even
    auto = random_regular(n, 3, seed=0).compile()
    explicit = random_regular(n, 3, seed=0, layout="random").compile()
    np.testing.assert_array_equal(auto.positions, explicit.positions)
    small = random_regular(20, 3, seed=0).compile()
    np.testing.assert_array_equal(small.positions, random_regular(20, 3, seed=0, layout="spring").compile().positions)
    with pytest.raises(NetlistError, match=r"layout = 'circle' is not supported \(allowed: 'auto'"):
        random_regular(20, 3, layout="circle")
