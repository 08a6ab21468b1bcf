"""Linear DC operating points: exact circuits, SPICE sign conventions, invariants, flow networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.solvers.nodal import nodal_operator


def close(actual, expected, rel=1e-13, abs_=1e-15):
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=abs_)


# ------------------------------------------------------------ exact circuits
@pytest.mark.parametrize("r1, r2, v", [(1e3, 1e3, 1.0), (4.7e3, 10e3, 5.0), (1.0, 1e6, -3.3), (1e-3, 2e-3, 1e-3)])
def test_divider(r1, r2, v):
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=v)
    net.resistor("R1", "in", "out", r=r1)
    net.resistor("R2", "out", "0", r=r2)
    op = pn.solve_dc(net)
    close(op["out"], v * r2 / (r1 + r2))
    close(op["in"], v)
    close(op.current("V1"), -v / (r1 + r2))
    assert op.iterations == 1 and op.message == "linear solve" and op.converged


def test_res_simple_source_current_sign():
    """ngspice tests/resistance/res_simple: 1 V across 10 kOhm prints I(V1) = -1.000000e-04."""
    net = pn.Netlist()
    net.resistor("R1", "1", "0", r=10e3)
    net.vsource("V1", "1", "0", dc=1.0)
    op = pn.solve_dc(net)
    close(op.current("V1"), -1e-4)
    assert op.as_dict() == {"analysis": "op", "nodes": {"1": 1.0}, "currents": {"V1": op.current("V1")},
                            "converged": True, "iterations": 1, "residual": op.residual}


def test_res_partition_operating_point():
    """ngspice tests/resistance/res_partition: 5k/5k divider, V(2) = 0.5 V, I(vin) = -1e-4 A."""
    net = pn.Netlist()
    net.vsource("vin", "1", "0", dc=1.0)
    net.resistor("r1", "1", "2", r=5e3)
    net.resistor("r2", "2", "0", r=5e3)
    op = pn.solve_dc(net)
    close(op["2"], 0.5)
    close(op.current("vin"), -1e-4)


def bridge(r1, r2, r3, r4, r5, v):
    net = pn.Netlist("wheatstone")
    net.vsource("V1", "t", "0", dc=v)
    net.resistor("R1", "t", "a", r=r1)
    net.resistor("R2", "a", "0", r=r2)
    net.resistor("R3", "t", "b", r=r3)
    net.resistor("R4", "b", "0", r=r4)
    net.resistor("R5", "a", "b", r=r5)
    return pn.solve_dc(net)


@pytest.mark.parametrize("r", [(100.0, 200.0, 300.0, 400.0, 50.0), (1e3, 1.0, 1.0, 1e3, 1e6), (5.0, 7.0, 11.0, 13.0, 1e-2)])
def test_wheatstone_unbalanced_thevenin_closed_form(r):
    r1, r2, r3, r4, r5 = r
    v = 10.0
    op = bridge(r1, r2, r3, r4, r5, v)
    va0, vb0 = v * r2 / (r1 + r2), v * r4 / (r3 + r4)  # open-circuit (R5 removed)
    p12, p34 = r1 * r2 / (r1 + r2), r3 * r4 / (r3 + r4)  # Thevenin resistances seen by R5
    i5 = (va0 - vb0) / (p12 + p34 + r5)
    close(op["a"], va0 - i5 * p12, rel=1e-12)
    close(op["b"], vb0 + i5 * p34, rel=1e-12)
    i_total = (v - op["a"]) / r1 + (v - op["b"]) / r3
    close(op.current("V1"), -i_total, rel=1e-12)


def test_wheatstone_balanced_carries_no_bridge_current():
    op = bridge(100.0, 300.0, 1e3, 3e3, 47.0, 12.0)
    close(op["a"], 9.0)
    close(op["b"], 9.0)
    assert abs(op["a"] - op["b"]) <= 4e-15 * 12.0
    close(op.current("V1"), -(12.0 / 400.0 + 12.0 / 4000.0))


@pytest.mark.parametrize("n, r", [(1, 1e3), (8, 1e3), (30, 10.0)])
def test_r2r_ladder_halves_at_every_node(n, r):
    net = pn.Netlist("R-2R")
    net.vsource("VREF", "x0", "0", dc=1.0)
    for k in range(1, n + 1):
        net.resistor(f"RS{k}", f"x{k - 1}", f"x{k}", r=r)
        net.resistor(f"RP{k}", f"x{k}", "0", r=2 * r)
    net.resistor("RT", f"x{n}", "0", r=2 * r)  # termination: the last node sees R to ground
    op = pn.solve_dc(net)
    expected = 0.5 ** np.arange(n + 1)
    close(np.array([op[f"x{k}"] for k in range(n + 1)]), expected, rel=1e-13, abs_=0)
    close(op.current("VREF"), -1.0 / (2 * r))


@pytest.mark.parametrize("n", [1, 5, 20])
def test_rr_ladder_fibonacci(n):
    """Ladder of equal series and shunt resistors: node voltages are ratios of Fibonacci numbers."""
    net = pn.Netlist()
    net.vsource("V1", "x0", "0", dc=1.0)
    for k in range(1, n + 1):
        net.resistor(f"RS{k}", f"x{k - 1}", f"x{k}", r=1.0)
        net.resistor(f"RP{k}", f"x{k}", "0", r=1.0)
    op = pn.solve_dc(net)
    fib = [1, 1]
    while len(fib) < 2 * n + 3:
        fib.append(fib[-1] + fib[-2])
    # counting from the far end, node n-j sits at F(2j+1) / F(2n+1) (F1 = F2 = 1)
    for k in range(n + 1):
        j = n - k
        close(op[f"x{k}"], fib[2 * j] / fib[2 * n], rel=1e-13)


def test_current_source_spice_sign():
    """``I a b`` draws its current out of a and pushes it into b."""
    net = pn.Netlist()
    net.isource("I1", "a", "0", dc=1e-3)
    net.resistor("R1", "a", "0", r=1e3)
    net.isource("I2", "0", "b", dc=2e-3)
    net.resistor("R2", "b", "0", r=1e3)
    net.isource("I3", "c", "d", dc=1e-3)
    net.resistor("R3", "c", "0", r=1e3)
    net.resistor("R4", "d", "0", r=2e3)
    op = pn.solve_dc(net)
    close(op["a"], -1.0)
    close(op["b"], 2.0)
    close(op["c"], -1.0)
    close(op["d"], 2.0)


def test_source_between_two_non_ground_nodes():
    net = pn.Netlist()
    net.vsource("V1", "a", "b", dc=2.0)
    net.resistor("R1", "a", "0", r=1e3)
    net.resistor("R2", "b", "0", r=3e3)
    op = pn.solve_dc(net)
    # supernode {a, b}: v_a - v_b = 2 and v_a/1k + v_b/3k = 0
    close(op["a"], 0.5)
    close(op["b"], -1.5)
    close(op.current("V1"), -0.5e-3)  # 0.5 mA leaves a through R1, so it arrives at a through V1


def test_chain_and_tree_of_sources_with_zero_volt_shorts():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.vsource("V2", "b", "a", dc=2.0)
    net.vsource("V3", "c", "a", dc=-0.5)
    net.vsource("VSH", "d", "c", dc=0.0)  # ammeter
    net.resistor("R1", "d", "e", r=100.0)
    net.resistor("R2", "e", "0", r=100.0)
    net.resistor("R3", "b", "0", r=30.0)
    # floating supernode f-g-h held by resistors only
    net.vsource("V4", "f", "g", dc=1.0)
    net.vsource("V5", "h", "g", dc=0.0)
    net.resistor("R4", "f", "b", r=10.0)
    net.resistor("R5", "h", "0", r=10.0)
    op = pn.solve_dc(net)
    for name, value in {"a": 1.0, "b": 3.0, "c": 0.5, "d": 0.5, "e": 0.25}.items():
        close(op[name], value)
    # supernode: (3 - v_f)/10 = v_h/10 with v_f = v_h + 1  ->  v_h = 1
    close(op["h"], 1.0)
    close(op["g"], 1.0)
    close(op["f"], 2.0)
    # VSH is "d c", + at d. R1's current leaves d, so it reaches d through VSH from c:
    # the current into + (d), through the source, out of - (c) is minus R1's current.
    close(op.current("VSH"), -(0.5 - 0.25) / 100.0)
    # floating supernode: R4 brings 0.1 A into f, which leaves through V4 (f -> g) and V5 (g -> h)
    close(op.current("V4"), 0.1)
    close(op.current("V5"), -0.1)


def test_inductor_is_a_dc_short_and_reports_its_current():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.resistor("R1", "a", "b", r=100.0)
    net.inductor("L1", "b", "0", l=1e-3)
    op = pn.solve_dc(net)
    close(op["b"], 0.0)
    close(op.current("L1"), 1e-2)  # into + (b), through the inductor, out at ground
    close(op.current("V1"), -1e-2)
    assert op.source_names == ("V1", "L1")


def test_capacitor_is_a_dc_open():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.resistor("R1", "a", "b", r=1e3)
    net.capacitor("C1", "b", "0", c=1e-6)
    net.resistor("R2", "b", "0", r=1e3)
    net.capacitor("C2", "a", "b", c=1.0)
    close(pn.solve_dc(net)["b"], 0.5)


@pytest.mark.parametrize("v", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
def test_xyce_resistor_neg(v):
    """Xyce RESISTOR/resistor_neg: R = -100 Ohm across V1 gives I(V1) = +V/100."""
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=v)
    net.resistor("R1", "a", "0", r=-100.0, allow_negative=True)
    close(pn.solve_dc(net).current("V1"), v / 100.0)


def test_negative_resistance_with_free_node_uses_pivoting(monkeypatch):
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=1.0)
    net.resistor("R1", "in", "m", r=50.0)
    net.resistor("R2", "m", "0", r=-100.0, allow_negative=True)
    system = net.compile()
    seen = []
    factorizer = nodal_operator(system, "dc", "superlu").factorizer
    original = factorizer.factor

    def spy(data, *, spd=True):
        seen.append(spd)
        return original(data, spd=spd)

    monkeypatch.setattr(factorizer, "factor", spy)
    op = pn.solve_dc(system, backend="superlu")
    assert seen == [False]
    # (1 - v)/50 = v/(-100)  ->  v = 2,  I(V1) = -(1 - 2)/50
    close(op["m"], 2.0)
    close(op.current("V1"), 1.0 / 50.0)
    close(pn.solve_dc(system)["m"], 2.0)  # the default (Cholesky) backend must hand it to SuperLU too


def test_conductance_override_and_netlist_input():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=1.0)
    net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1.0, 1.0])
    system = net.compile()
    close(pn.solve_dc(net)["out"], 0.5)
    close(pn.solve_dc(system, g=np.array([1.0, 3.0]))["out"], 0.25)
    close(pn.solve_dc(system, v_sources=np.array([4.0]))["out"], 2.0)
    close(pn.solve_dc(system)["out"], 0.5)  # overrides do not stick


# ------------------------------------------------------------ invariants
@pytest.mark.parametrize("seed", range(6))
def test_random_networks_match_dense_mna(seed, random_network, mna):
    net = random_network(seed, n_nodes=25, extra_edges=30, n_vsources=4, n_isources=4, decades=6).system
    v_ref, i_ref = mna(net)
    op = pn.solve_dc(net)
    np.testing.assert_allclose(op.v, v_ref, rtol=1e-10, atol=1e-11 * np.abs(v_ref).max())
    np.testing.assert_allclose(op.source_currents, i_ref, rtol=1e-8, atol=1e-10 * np.abs(i_ref).max())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 60), n_v=st.integers(0, 5), n_i=st.integers(0, 5),
       decades=st.floats(0.0, 8.0))
def test_kcl_residual_on_random_networks(random_network, kcl, seed, n, n_v, n_i, decades):
    net = random_network(seed, n_nodes=n, extra_edges=n, n_vsources=min(n_v, n - 1), n_isources=n_i,
                               decades=decades).system
    if not (net.has("vsource") or net.has("isource")):
        return
    op = pn.solve_dc(net)
    assert kcl(net, op) <= 1e-12
    # every source constraint holds, to the rounding of the potentials themselves
    vs = net["vsource"]
    error = np.abs(op.v[vs.a] - op.v[vs.b] - vs["dc"])
    assert np.all(error <= 4 * np.finfo(float).eps * (np.abs(op.v[vs.a]) + np.abs(op.v[vs.b]) + np.abs(vs["dc"])))
    g_v = np.abs(net["resistor"]["g"]).max() * max(np.abs(op.v).max(), 1.0)  # amperes a rounding of v can move
    assert 0.0 <= op.residual <= 1e-12 * g_v * net.n_nodes


@pytest.mark.parametrize("seed", range(4))
def test_superposition(seed, random_network):
    net = random_network(seed, n_nodes=20, extra_edges=20, n_vsources=3, n_isources=3).system
    E, Isrc = net["vsource"]["dc"], net["isource"]["dc"]
    both = pn.solve_dc(net)
    parts = []
    for k in range(len(E)):
        e = np.zeros_like(E)
        e[k] = E[k]
        parts.append(pn.solve_dc(net, v_sources=e, i_sources=np.zeros_like(Isrc)))
    for k in range(len(Isrc)):
        i = np.zeros_like(Isrc)
        i[k] = Isrc[k]
        parts.append(pn.solve_dc(net, v_sources=np.zeros_like(E), i_sources=i))
    scale = np.abs(both.v).max()
    np.testing.assert_allclose(sum(p.v for p in parts), both.v, rtol=1e-11, atol=1e-12 * scale)
    np.testing.assert_allclose(sum(p.source_currents for p in parts), both.source_currents, rtol=1e-9,
                               atol=1e-12 * np.abs(both.source_currents).max())


@pytest.mark.parametrize("seed", range(4))
def test_reciprocity_of_transfer_resistance(seed, random_network):
    rng = np.random.default_rng(seed)
    rn = random_network(seed, n_nodes=20, extra_edges=25, n_vsources=2, n_isources=0, decades=5)
    i, j = (f"n{k}" for k in rng.choice(np.arange(1, 20), 2, replace=False))
    rn.netlist.isource("TI", "0", i, dc=0.0)
    rn.netlist.isource("TJ", "0", j, dc=0.0)
    net = rn.netlist.compile()
    op = pn.solve_dc(net, v_sources=np.zeros(2), i_sources=np.eye(2))  # two samples, one multi-RHS solve
    assert op.v.shape == (2, net.n_nodes)
    r_ij, r_ji = op.v[0, net.node_index(j)], op.v[1, net.node_index(i)]
    np.testing.assert_allclose(r_ij, r_ji, rtol=1e-12, atol=1e-15 * op.v.max())
    assert op.v[0, net.node_index(i)] >= abs(r_ij) - 1e-12  # driving-point dominates transfer


@pytest.mark.parametrize("seed", range(4))
def test_energy_balance(seed, random_network):
    """Power delivered by all sources equals Σ g ΔV² dissipated in the resistors."""
    net = random_network(seed, n_nodes=30, extra_edges=30, n_vsources=4, n_isources=4, decades=6).system
    op = pn.solve_dc(net)
    r, vs, cs = net["resistor"], net["vsource"], net["isource"]
    dissipated = np.sum(r["g"] * (op.v[r.a] - op.v[r.b]) ** 2)
    delivered = -np.sum(vs["dc"] * op.source_currents) + np.sum(cs["dc"] * (op.v[cs.b] - op.v[cs.a]))
    scale = np.sum(np.abs(r["g"] * (op.v[r.a] - op.v[r.b]) ** 2))
    assert abs(delivered - dissipated) <= 1e-11 * scale
    assert dissipated > 0


def test_batch_equals_per_sample_and_mna(random_network, mna):
    net = random_network(42, n_nodes=15, extra_edges=10, n_vsources=2, n_isources=2).system
    rng = np.random.default_rng(1)
    E, I = rng.normal(size=(6, 2)), 1e-3 * rng.normal(size=(6, 2))
    batch = pn.solve_dc(net, v_sources=E, i_sources=I)
    assert batch.v.shape == (6, net.n_nodes) and batch.source_currents.shape == (6, 2)
    for s in range(6):
        one = pn.solve_dc(net, v_sources=E[s], i_sources=I[s])
        np.testing.assert_allclose(batch.v[s], one.v, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(batch.source_currents[s], one.source_currents, rtol=1e-11, atol=1e-16)
        v_ref, i_ref = mna(net, v_sources=E[s], i_sources=I[s])
        np.testing.assert_allclose(one.v, v_ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="single operating point"):
        batch.as_dict()
    # broadcasting a batch of voltage sources against fixed current sources
    only_e = pn.solve_dc(net, v_sources=E)
    np.testing.assert_allclose(only_e.v[3], pn.solve_dc(net, v_sources=E[3]).v, rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------ flow networks
MU = 1e-3


def poiseuille(radius, length, mu=MU):
    return math.pi * radius**4 / (8.0 * mu * length)


def test_pipes_in_series_and_parallel():
    p_in = 2e3  # Pa
    radii, lengths = (1e-3, 0.5e-3, 2e-3), (0.1, 0.05, 0.3)
    net = pn.Netlist("series")
    net.vsource("P", "in", "0", dc=p_in)  # pressure reservoir
    nodes = ["in", "j1", "j2", "0"]
    for k, (r, ell) in enumerate(zip(radii, lengths)):
        net.pipe(f"T{k}", nodes[k], nodes[k + 1], radius=r, length=ell, viscosity=MU)
    op = pn.solve_dc(net)
    resist = [1.0 / poiseuille(r, ell) for r, ell in zip(radii, lengths)]
    q = p_in / sum(resist)
    close(-op.current("P"), q, rel=1e-12)  # the reservoir delivers q
    close(op["j1"], p_in - q * resist[0], rel=1e-12)
    close(op["j2"], q * resist[2], rel=1e-12)

    par = pn.Netlist("parallel")
    par.vsource("P", "in", "0", dc=p_in)
    for k, (r, ell) in enumerate(zip(radii, lengths)):
        par.pipe(f"T{k}", "in", "0", radius=r, length=ell, viscosity=MU)
    close(-pn.solve_dc(par).current("P"), p_in * sum(1.0 / x for x in resist), rel=1e-12)


def test_pipe_conductance_override_and_pump():
    net = pn.Netlist()
    net.isource("PUMP", "0", "a", dc=1e-6)  # pushes 1e-6 m^3/s into a
    net.pipe("T1", "a", "b", k=1e-9)
    net.pipe("T2", "b", "0", k=3e-9)
    system = net.compile()
    op = pn.solve_dc(system)
    close(op["b"], 1e-6 / 3e-9, rel=1e-12)
    close(op["a"], 1e-6 / 3e-9 + 1e-6 / 1e-9, rel=1e-12)
    op2 = pn.solve_dc(system, k=np.array([2e-9, 1e-9]))
    close(op2["a"], 1e-6 / 1e-9 + 1e-6 / 2e-9, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_flow_conservation_in_random_pipe_network(seed):
    rng = np.random.default_rng(seed)
    n = 30
    names = ["0"] + [f"j{i}" for i in range(1, n)]
    edges = [(i, int(rng.integers(i))) for i in range(1, n)]
    edges += [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(30)]
    net = pn.Netlist()
    radii = 10.0 ** rng.uniform(-4, -2.5, len(edges))
    for k, (p, q) in enumerate(edges):
        net.pipe(f"T{k}", names[p], names[q], radius=float(radii[k]), length=float(rng.uniform(0.01, 1.0)))
    net.vsource("PIN", "j1", "0", dc=1e4)
    net.vsource("PMID", "j2", "0", dc=3e3)
    system = net.compile()
    op = pn.solve_dc(system)
    t = system["pipe"]
    flow = t["k"] * (op.v[t.a] - op.v[t.b])
    net_out = np.zeros(n)
    np.add.at(net_out, t.a, flow)
    np.add.at(net_out, t.b, -flow)
    interior = [i for i in range(3, n)]
    scale = np.abs(flow).max()
    assert np.abs(net_out[interior]).max() <= 1e-12 * scale
    # what the reservoirs deliver leaves through the outlet (ground)
    close(-op.source_currents.sum(), -net_out[0], rel=1e-10, abs_=1e-12 * scale)
    # pressures lie between the lowest and highest imposed pressure (maximum principle)
    assert op.v.min() >= -1e-9 and op.v.max() <= 1e4 + 1e-9
