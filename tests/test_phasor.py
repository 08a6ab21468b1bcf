"""Small-signal phasor analysis: ngspice reference, closed forms, diode linearisation, invariants."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.constants import thermal_voltage
from physnet.elements.diode import diode_iv
from physnet.errors import NetlistError
from physnet.solvers.phasor import solve_ac

DATA = Path(__file__).parent / "data"


def lowpass():
    """ngspice tests/filters/lowpass.cir: V1 1 0 AC 1, R1 1 2 10k, R2 2 0 10k, C1 2 0 1n."""
    net = pn.Netlist("lowpass")
    net.vsource("V1", "1", "0", ac=1.0)
    net.resistor("R1", "1", "2", r=10e3)
    net.resistor("R2", "2", "0", r=10e3)
    net.capacitor("C1", "2", "0", c=1e-9)
    return net


def ngspice_lowpass():
    """(freqs, V(2)) from the 31-row ``.ac dec 10 1k 1Meg`` table of lowpass.out."""
    row = re.compile(r"^\d+\s+([-+.\deE]+),\s+[-+.\deE]+\s+([-+.\deE]+),\s+([-+.\deE]+)")
    rows = [m.groups() for line in (DATA / "ngspice" / "filters" / "lowpass.out").read_text().splitlines()
            if (m := row.match(line))]
    data = np.array(rows, dtype=float)
    return data[:, 0], data[:, 1] + 1j * data[:, 2]


# ------------------------------------------------------------ references
def test_lowpass_matches_ngspice_and_closed_form():
    freqs, expected = ngspice_lowpass()
    assert len(freqs) == 31
    np.testing.assert_allclose(freqs, np.logspace(3, 6, 31), rtol=1e-6)  # .ac dec 10 1k 1Meg
    res = solve_ac(lowpass(), freqs)
    assert res.v.shape == (31, 3) and res.freqs.shape == (31,)
    closed = 0.5 / (1 + 2j * np.pi * freqs * 5e-6)
    np.testing.assert_allclose(res["2"], closed, rtol=1e-13)
    # the .out file prints 7 significant digits of each part
    np.testing.assert_allclose(res["2"].real, expected.real, rtol=1e-6)
    np.testing.assert_allclose(res["2"].imag, expected.imag, rtol=1e-6)
    np.testing.assert_allclose(res["1"], 1.0)
    np.testing.assert_allclose(res.current("V1"), -(1.0 - closed) / 10e3, rtol=1e-12)  # SPICE sign
    assert res.converged and res.residual < 1e-18


def series_rlc(r=10.0, l=1e-3, c=1e-6):
    net = pn.Netlist("series RLC")
    net.vsource("V1", "in", "0", ac=1.0)
    net.resistor("R1", "in", "a", r=r)
    net.inductor("L1", "a", "b", l=l)
    net.capacitor("C1", "b", "0", c=c)
    return net


def test_series_rlc_resonance():
    r, l, c = 10.0, 1e-3, 1e-6
    f0 = 1.0 / (2 * np.pi * np.sqrt(l * c))
    freqs = f0 * np.array([0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 10.0])
    res = solve_ac(series_rlc(r, l, c), freqs)
    w = 2 * np.pi * freqs
    current = 1.0 / (r + 1j * w * l + 1.0 / (1j * w * c))
    np.testing.assert_allclose(res.current("V1"), -current, rtol=1e-12)
    np.testing.assert_allclose(res["b"], current / (1j * w * c), rtol=1e-12)
    at = np.flatnonzero(freqs == f0)[0]
    q = np.sqrt(l / c) / r
    assert abs(res.current("V1")[at] + 1.0 / r) < 1e-12  # purely resistive at resonance
    np.testing.assert_allclose(abs(res["b"][at]), q, rtol=1e-12)  # the capacitor sees Q times the drive


def test_undamped_lc_at_resonance_is_a_clear_error():
    net = pn.Netlist()
    net.isource("I1", "0", "a", ac=1.0)
    net.inductor("L1", "a", "0", l=1e-3)
    net.capacitor("C1", "a", "0", c=1e-6)
    f0 = 1.0 / (2 * np.pi * np.sqrt(1e-9))
    with pytest.raises(NetlistError, match="singular at .* Hz"):
        solve_ac(net, f0)


# ------------------------------------------------------------ diodes
def diode_network(rc_branch=True):
    net = pn.Netlist("diode small signal")
    net.vsource("V1", "in", "0", dc=2.0)
    net.resistor("R1", "in", "a", r=1e3)
    net.diode("D1", "a", "b", is_=1e-14, rs=5.0)
    net.resistor("R2", "b", "0", r=500.0)
    net.diode("D2", "a", "0", is_=1e-12, n=1.5)
    if rc_branch:
        net.resistor("R3", "a", "c", r=2e3)
        net.capacitor("C1", "c", "0", c=1e-7)
    net.isource("I1", "0", "b", dc=1e-4)
    return net.compile()


def test_diode_conductance_is_the_derivative_of_the_dc_solution():
    """A small-signal current at low frequency moves the DC point by J⁻¹ e, J the DC Newton Jacobian."""
    system = diode_network()
    op = pn.solve_dc(system)
    e = np.zeros(system.n_nodes, dtype=complex)
    b = system.node_index("b")
    e[b] = 1.0
    res = solve_ac(system, 1e-3, injections=e, sources=False, operating_point=op)  # C1 is open at 1 mHz
    delta = 1e-9
    up = pn.solve_dc(system, i_sources=np.array([1e-4 + delta]))
    down = pn.solve_dc(system, i_sources=np.array([1e-4 - delta]))
    sensitivity = (up.v - down.v) / (2 * delta)
    np.testing.assert_allclose(res.v[0].real, sensitivity, rtol=2e-6, atol=1e-9)
    assert np.max(np.abs(res.v[0].imag)) < 1e-6 * np.max(np.abs(res.v[0]))


def test_diode_conductance_equals_the_jacobian_of_kcl():
    """The admittance matrix is the finite-difference Jacobian of the nonlinear KCL at the operating point."""
    system = diode_network(rc_branch=False)
    op = pn.solve_dc(system)
    d = system["diode"]
    vt = thermal_voltage(system.temperature)
    free = [system.node_index(n) for n in ("a", "b")]

    def kcl(v):
        leaving = np.zeros(system.n_nodes)
        for table, current in ((system["resistor"], lambda dv: system["resistor"]["g"] * dv),
                               (d, lambda dv: diode_iv(dv, d["is_"], d["n"], d["rs"], vt)[0])):
            flows = current(v[table.a] - v[table.b])
            np.add.at(leaving, table.a, flows)
            np.add.at(leaving, table.b, -flows)
        return leaving[free]

    J = np.empty((2, 2))
    for j, node in enumerate(free):
        dv = np.zeros(system.n_nodes)
        dv[node] = 1e-7
        J[:, j] = (kcl(op.v + dv) - kcl(op.v - dv)) / 2e-7
    for node in free:
        e = np.zeros(system.n_nodes, dtype=complex)
        e[node] = 1e-3
        res = solve_ac(system, 1e-6, injections=e, sources=False, operating_point=op)
        np.testing.assert_allclose(res.v[0, free].real, np.linalg.solve(J, e[free].real), rtol=1e-6)


def test_operating_point_is_computed_when_not_given():
    system = diode_network()
    res = solve_ac(system, 1e3, injections=np.eye(system.n_nodes)[2], sources=False)
    assert res.operating_point is not None and res.operating_point.converged
    given_op = solve_ac(system, 1e3, injections=np.eye(system.n_nodes)[2], sources=False,
                        operating_point=pn.solve_dc(system))
    np.testing.assert_allclose(res.v, given_op.v, rtol=1e-12)


# ------------------------------------------------------------ invariants on random RLC networks
def random_rlc(seed, n_nodes=9):
    rng = np.random.default_rng(seed)
    net = pn.Netlist("random RLC")
    names = ["0"] + [f"n{i}" for i in range(1, n_nodes)]
    edges = [(i, int(rng.integers(i))) for i in range(1, n_nodes)]
    edges += [tuple(int(x) for x in rng.choice(n_nodes, 2, replace=False)) for _ in range(n_nodes)]
    for k, (p, q) in enumerate(edges):
        kind = rng.choice(["R", "R", "C", "L"])
        if kind == "R":
            net.resistor(f"R{k}", names[p], names[q], r=float(10 ** rng.uniform(1, 4)))
        elif kind == "C":
            net.capacitor(f"C{k}", names[p], names[q], c=float(10 ** rng.uniform(-9, -6)))
        else:
            net.inductor(f"L{k}", names[p], names[q], l=float(10 ** rng.uniform(-5, -2)))
    for k in range(1, n_nodes):  # a leak keeps every node grounded through a resistor
        net.resistor(f"RG{k}", names[k], "0", r=1e5)
    net.vsource("V1", "n1", "0", ac=1.0, ac_phase=30.0)
    net.isource("I1", "n2", "n3", ac=1e-3, ac_phase=-60.0)
    return net.compile()


def dense_mna(system, freq):
    """Textbook complex MNA (one extra unknown per voltage source), dense."""
    n = system.n_nodes
    w = 2 * np.pi * freq
    vs = system["vsource"]
    A = np.zeros((n + len(vs), n + len(vs)), dtype=complex)
    z = np.zeros(n + len(vs), dtype=complex)
    for kind, y in (("resistor", system["resistor"]["g"]), ("capacitor", 1j * w * system["capacitor"]["c"]),
                    ("inductor", 1 / (1j * w * system["inductor"]["l"]))):
        t = system[kind]
        for a, b, yk in zip(t.a, t.b, y):
            A[a, a] += yk
            A[b, b] += yk
            A[a, b] -= yk
            A[b, a] -= yk
    for k, (a, b) in enumerate(zip(vs.a, vs.b)):
        A[a, n + k] += 1
        A[b, n + k] -= 1
        A[n + k, a] += 1
        A[n + k, b] -= 1
        z[n + k] = vs["ac_mag"][k] * np.exp(1j * np.deg2rad(vs["ac_phase"][k]))
    cs = system["isource"]
    for a, b, m, ph in zip(cs.a, cs.b, cs["ac_mag"], cs["ac_phase"]):
        z[a] -= m * np.exp(1j * np.deg2rad(ph))
        z[b] += m * np.exp(1j * np.deg2rad(ph))
    keep = np.r_[1:n + len(vs)]
    sol = np.linalg.solve(A[np.ix_(keep, keep)], z[keep])
    return np.r_[0, sol[:n - 1]], sol[n - 1:]


@pytest.mark.parametrize("seed", range(4))
def test_random_rlc_matches_dense_mna(seed):
    system = random_rlc(seed)
    freqs = np.array([10.0, 1e3, 3.3e4, 1e6])
    res = solve_ac(system, freqs)
    for i, f in enumerate(freqs):
        v, i_src = dense_mna(system, f)
        np.testing.assert_allclose(res.v[i], v, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.source_currents[i], i_src, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_kcl_residual_of_complex_solution(seed):
    """Sum every element's current at every node, the reported source currents included."""
    system = random_rlc(seed)
    freqs = np.array([50.0, 2e4])
    res = solve_ac(system, freqs)
    for i, f in enumerate(freqs):
        w = 2 * np.pi * f
        v = res.v[i]
        leaving = np.zeros(system.n_nodes, dtype=complex)
        scale = np.zeros(system.n_nodes)
        parts = [("resistor", system["resistor"]["g"]), ("capacitor", 1j * w * system["capacitor"]["c"]),
                 ("inductor", 1 / (1j * w * system["inductor"]["l"]))]
        for kind, y in parts:
            t = system[kind]
            flow = y * (v[t.a] - v[t.b])
            np.add.at(leaving, t.a, flow)
            np.add.at(leaving, t.b, -flow)
            np.add.at(scale, t.a, np.abs(y) * (np.abs(v[t.a]) + np.abs(v[t.b])))
        cs, vs = system["isource"], system["vsource"]
        i_src = cs["ac_mag"] * np.exp(1j * np.deg2rad(cs["ac_phase"]))
        np.add.at(leaving, cs.a, i_src)
        np.add.at(leaving, cs.b, -i_src)
        np.add.at(leaving, vs.a, res.source_currents[i])
        np.add.at(leaving, vs.b, -res.source_currents[i])
        assert np.max(np.abs(leaving[1:])) <= 1e-13 * np.max(scale)
        assert res.residual <= 1e-13 * np.max(scale)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), f=st.floats(1.0, 1e6), i=st.integers(1, 8), j=st.integers(1, 8))
def test_reciprocity(seed, f, i, j):
    """Passive RLC networks are reciprocal: the transfer impedance Z_ij equals Z_ji."""
    system = random_rlc(seed)
    eye = np.eye(system.n_nodes)
    zij = solve_ac(system, f, injections=eye[j], sources=False).v[0, i]
    zji = solve_ac(system, f, injections=eye[i], sources=False).v[0, j]
    assert abs(zij - zji) <= 1e-9 * max(abs(zij), 1e-12)


def test_multi_frequency_equals_single_solves():
    system = random_rlc(7)
    freqs = np.logspace(1, 6, 9)
    rng = np.random.default_rng(0)
    inj = rng.standard_normal((9, system.n_nodes)) + 1j * rng.standard_normal((9, system.n_nodes))
    many = solve_ac(system, freqs, injections=inj * 1e-3)
    assert many.iterations == 9
    for i, f in enumerate(freqs):
        one = solve_ac(system, f, injections=inj[i] * 1e-3)
        np.testing.assert_allclose(many.v[i], one.v[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(many.source_currents[i], one.source_currents[0], rtol=1e-12, atol=1e-18)


def test_resistive_network_factors_once_and_equals_dc():
    """Without C and L the AC solution is the DC solution of the AC values, at every frequency."""
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.5, ac=1.5)
    net.resistors(["R1", "R2", "R3"], ["a", "b", "b"], ["b", "0", "c"], r=[1e3, 2e3, 3e3])
    net.resistor("R4", "c", "0", r=4e3)
    net.isource("I1", "0", "c", dc=2e-4, ac=2e-4)
    system = net.compile()
    res = solve_ac(system, [1.0, 1e3, 1e9])
    assert res.iterations == 1 and "one real factorization" in res.message
    dc = pn.solve_dc(system)
    for row in res.v:
        np.testing.assert_allclose(row, dc.v, rtol=1e-13)
    np.testing.assert_allclose(res.source_currents, np.broadcast_to(dc.source_currents, (3, 1)), rtol=1e-13)


def test_sources_false_leaves_only_the_injections():
    net = lowpass()
    system = net.compile()
    e = np.zeros(system.n_nodes, dtype=complex)
    e[system.node_index("2")] = 1e-3j
    res = solve_ac(system, 1e3, injections=e, sources=False)
    assert res["1"][0] == 0.0  # the voltage source is an AC short
    z = 1.0 / (2e-4 + 2j * np.pi * 1e3 * 1e-9)  # 10k || 10k || C
    np.testing.assert_allclose(res["2"][0], 1e-3j * z, rtol=1e-13)
    both = solve_ac(system, 1e3, injections=e)
    alone = solve_ac(system, 1e3)
    np.testing.assert_allclose(both.v, alone.v + res.v, rtol=1e-13, atol=1e-16)  # superposition


def test_per_frequency_injection_rows():
    system = lowpass().compile()
    e = np.zeros((2, system.n_nodes), dtype=complex)
    e[0, 2], e[1, 2] = 1.0, 2.0
    res = solve_ac(system, [1e3, 1e3], injections=e, sources=False)
    np.testing.assert_allclose(res.v[1], 2 * res.v[0], rtol=1e-14)


# ------------------------------------------------------------ results and errors
def test_as_dict_single_and_many_frequencies_are_json_ready():
    one = solve_ac(lowpass(), 1e3).as_dict()
    assert one["analysis"] == "ac" and one["freqs"] == [1e3]
    assert set(one["nodes"]) == {"1", "2"} and set(one["currents"]) == {"V1"}
    assert one["nodes"]["2"] == pytest.approx({"re": 4.995070e-01, "im": -1.569248e-02}, rel=1e-6)
    many = solve_ac(lowpass(), [1e3, 1e4]).as_dict()
    assert isinstance(many["nodes"]["2"], list) and len(many["nodes"]["2"]) == 2
    assert json.loads(json.dumps(many)) == many


def test_result_lookup():
    res = solve_ac(lowpass(), [1e3, 2e3])
    assert res["gnd"].tolist() == [0, 0]
    with pytest.raises(NetlistError, match="unknown node 'nope'"):
        res["nope"]
    with pytest.raises(NetlistError, match="no voltage source named 'V9'"):
        res.current("V9")


@pytest.mark.parametrize("freqs", [0.0, -1.0, [1e3, np.inf], [], [[1.0]], "abc"])
def test_bad_frequencies(freqs):
    with pytest.raises(NetlistError, match="freq"):
        solve_ac(lowpass(), freqs)


def test_bad_injection_shape():
    with pytest.raises(NetlistError, match=r"injections must have shape \(3,\) or \(2, 3\)"):
        solve_ac(lowpass(), [1e3, 2e3], injections=np.zeros(5))
