"""physnet against ngspice, which really runs (never skipped): random networks and the reference netlists.

Random R/D/V/I networks (plus C for AC and transient) are written by
physnet, run by ngspice with tight options and solved by physnet:

* DC node voltages agree within 1 µV (ngspice at RELTOL = 1e-9);
* AC phasors within 1e-6 of the largest phasor at each frequency;
* transient waveforms within ngspice's own default accuracy (RELTOL = 1e-3
  of each node's peak + VNTOL = 1 µV) at ngspice's time points.

A netlist carrying ``.control`` or ``shell`` is refused before anything runs.
The reference netlists of tests/data with documented answers are checked
against those answers *and* against ngspice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.errors import SpiceSyntaxError
from physnet.solvers.transient import solve_transient
from physnet.spice.check import check
from physnet.spice.run import ngspice_names, run_ngspice, validation_deck

DATA = Path(__file__).parent / "data"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_network(seed: int, *, capacitors: bool, sin: bool = False) -> pn.System:
    """A connected network of resistors to ground and between nodes, V and I sources, diodes, optional C.

    Voltage sources go from distinct nodes to ground (no loops); every node
    has a resistor path to ground, so the network is never floating.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    nodes = [f"n{k}" for k in range(1, n + 1)]
    net = pn.Netlist(f"random {seed}")
    parents = ["0"] + nodes
    a = [nodes[k] for k in range(n)]
    b = [parents[int(rng.integers(0, k + 1))] for k in range(n)]  # a spanning tree rooted at ground
    extra = int(rng.integers(0, n + 1))
    for _ in range(extra):
        i, j = rng.choice(n + 1, 2, replace=False)
        a.append(parents[i])
        b.append(parents[j])
    net.resistors([f"R{k}" for k in range(len(a))], a, b, r=10 ** rng.uniform(2, 5, len(a)))
    for k, node in enumerate(rng.choice(nodes, int(rng.integers(0, min(n, 3))), replace=False).tolist()):
        wave = {"sin": (float(rng.uniform(-1, 1)), float(rng.uniform(0.1, 1)), 1e3)} if sin else {}
        net.vsource(f"V{k}", node, "0", dc=float(rng.uniform(-2, 2)), ac=float(rng.uniform(0.5, 1.5)),
                    ac_phase=float(rng.uniform(-90, 90)), **wave)
    for k in range(int(rng.integers(1, 3))):
        i, j = rng.choice(n + 1, 2, replace=False)
        wave = {"sin": (0.0, float(rng.uniform(1e-4, 1e-3)), 2e3)} if sin else {}
        net.isource(f"I{k}", parents[i], parents[j], dc=float(rng.uniform(-1e-3, 1e-3)),
                    ac=float(rng.uniform(1e-4, 1e-3)), **wave)
    for k in range(int(rng.integers(0, 3))):
        i, j = rng.choice(n + 1, 2, replace=False)
        net.diode(f"D{k}", parents[i], parents[j], is_=float(10 ** rng.uniform(-15, -12)),
                  n=float(rng.uniform(1, 2)), rs=float(rng.uniform(0, 10)))
    if capacitors:
        for k, node in enumerate(nodes):
            net.capacitor(f"C{k}", node, parents[int(rng.integers(0, n + 1))] if k else "0",
                          c=float(10 ** rng.uniform(-8, -7)))
    return net.compile()


# ------------------------------------------------------------------ random networks
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_random_dc_within_a_microvolt(seed):
    result = check(random_network(seed, capacitors=False), "op", engine="shared")
    assert result.ok, result.summary()
    assert result.max_abs <= 1e-6


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_random_ac_within_1e6_relative(seed):
    system = random_network(seed, capacitors=True)
    result = check(system, "ac", freqs=[10.0, 1.3e3, 2.1e5], engine="shared")
    assert result.ok, result.summary()
    assert result.max_rel <= 1e-6


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_random_transient_within_ngspice_tolerance(seed):
    system = random_network(seed, capacitors=True, sin=True)
    result = check(system, "tran", step=2e-7, stop=1e-3, engine="shared")
    assert result.ok, result.summary()
    assert len(result.axis) == 5001  # physnet's grid, where the waveforms are compared


def test_a_mismatch_is_reported_not_hidden():
    """Tolerances of zero fail on the transient (two integrators never agree bit for bit)."""
    system = random_network(7, capacitors=True, sin=True)
    result = check(system, "tran", step=2e-7, stop=2e-4, atol=0.0, rtol=0.0)
    assert not result.ok and result.summary().startswith("FAIL")
    assert result.max_abs > 0 and result.worst in result.nodes


def test_batch_and_shared_library_give_the_same_numbers():
    deck = validation_deck(random_network(3, capacitors=True), [("op",), ("ac", "dec", 3, 10.0, 1e5)])
    batch, shared = run_ngspice(deck, engine="batch"), run_ngspice(deck, engine="shared")
    assert [p.name for p in batch.plots] == [p.name for p in shared.plots]
    for ours, theirs in zip(batch.plots, shared.plots):
        assert ours.variables == theirs.variables
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_shared_library_timeout_is_an_error():
    from physnet.errors import NgspiceError

    deck = validation_deck(random_network(5, capacitors=True, sin=True), [("tran", 1e-9, 1.0, 0.0, 1e-9)])
    with pytest.raises(NgspiceError, match="timed out after 0.2 s"):
        run_ngspice(deck, engine="shared", timeout=0.2)
    assert check(random_network(5, capacitors=False), engine="shared").ok  # the library is usable again


def test_missing_ngspice_names_the_install_command(monkeypatch):
    import ctypes.util

    import physnet.spice.shared as shared
    from physnet.errors import NgspiceError

    deck = validation_deck(random_network(1, capacitors=False), [("op",)])
    monkeypatch.setattr(shared, "_ENGINE", [])  # as in a fresh process
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(NgspiceError, match="apt-get install libngspice0"):
        run_ngspice(deck, engine="shared")
    assert not shared.shared_available()
    assert run_ngspice(deck, engine="auto").plots[0].name == "Operating Point"  # "auto" falls back to batch...
    monkeypatch.setenv("PATH", "")
    with pytest.raises(NgspiceError, match="apt-get install ngspice"):  # ... which needs the program
        run_ngspice(deck, engine="auto")


def test_flow_network_through_the_hydraulic_electric_analogy():
    net = pn.generators.square_lattice(4, 4, kind="flow", g=(1e-10, 1e-9), seed=2)
    net.vsource("PUMP", "n0_0", "0", dc=1e3)
    net.isource("DRAIN", "n3_3", "0", dc=1e-7)
    net.pipe("KOUT", "n3_0", "0", k=5e-10)
    for analysis in ("op", "ac"):
        result = check(net, analysis, freqs=[1.0])
        assert result.ok, result.summary()
        assert len(result.nodes) == 16
    assert check(net).max_abs <= 1e-6 * 1e3


# ------------------------------------------------------------------ nothing in a netlist runs
@pytest.mark.parametrize("body", [".control\nshell touch {marker}\n.endc\n", "shell touch {marker}\n"])
def test_control_and_shell_are_refused_before_anything_runs(tmp_path, body):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.cir"
    path.write_text("evil\nV1 a 0 1\nR1 a 0 1k\n" + body.format(marker=marker) + ".op\n.end\n")
    with pytest.raises(SpiceSyntaxError, match="evil.cir:4"):
        check(path)
    assert not marker.exists()


def test_names_and_title_cannot_inject_commands(tmp_path):
    marker = tmp_path / "executed"
    net = pn.Netlist(f"names\n.control\nshell touch {marker}\n.endc")
    nodes = [".control", "shell", "+touch", f"{marker}"]
    net.vsource("V1", nodes[0], "0", dc=1.0)
    net.resistors(["R1", "R2", "R3", "R4"], nodes, nodes[1:] + ["0"], r=[1e3, 2e3, 3e3, 4e3])
    result = check(net)
    assert result.ok and result.nodes == tuple(nodes)
    np.testing.assert_allclose(result.ngspice[0], [1.0, 0.9, 0.7, 0.4], rtol=1e-12)
    assert not marker.exists()


# ------------------------------------------------------------------ reference netlists
def test_xyce_bug204_diode_against_ngspice_and_its_documented_answer():
    """VIN 5 V, R 2k, D (IS = 100 fA): with ngspice's constants V(3) = 0.615861698 V."""
    result = check(DATA / "xyce" / "bug204.cir")
    assert result.ok, result.summary()
    v3 = result.ngspice[0, result.nodes.index("3")]
    assert abs(v3 - 0.615861698) <= 1e-8
    assert abs(result.physnet[0, result.nodes.index("3")] - 0.615861698) <= 1e-8


def test_xyce_resistor_sweep_gold():
    """Xyce RESISTOR/resistor.cir: R 1k across V1 swept 0..5 V, I(V1) = -V/1000 (resistor.cir.prn)."""
    rows = [line.split() for line in (DATA / "xyce" / "resistor.cir.prn").read_text().splitlines()[1:]
            if line.split() and line.split()[0].isdigit()]
    system = pn.read_spice(DATA / "xyce" / "resistor.cir").compile()
    sweep = np.array([float(r[1]) for r in rows])
    op = pn.solve_dc(system, v_sources=sweep[:, None])
    np.testing.assert_allclose(op.current("v1"), [float(r[2]) for r in rows], rtol=1e-12, atol=1e-15)


def test_xyce_negative_resistor_against_ngspice():
    """Xyce resistor_neg.cir: R = -100 Ω across V1 = 5 V, I(V1) = +V/100 (not a short)."""
    system = pn.read_spice(DATA / "xyce" / "resistor_neg.cir", allow_negative=True).compile()
    spice = run_ngspice(validation_deck(system, [("op",)]))
    assert spice.plots[0].source_currents()["v1"][0] == pytest.approx(0.05, rel=1e-12)
    assert pn.solve_dc(system).current("v1") == pytest.approx(0.05, rel=1e-12)


def test_ngspice_rc_transient_against_ngspice():
    """ngspice general/rc.cir (R 1 Ω, C 1 F, PULSE with TR = TSTEP = 0.1 s): v(2)(0.1) = 0.0484 (exact ramp)."""
    result = check(DATA / "ngspice" / "general" / "rc.cir", "tran", step=0.01, stop=7.0)
    assert result.ok, result.summary()


def test_ngspice_ac_resistance_documented_answers():
    """regression/pz/ac-resistance.cir: OP V(2) = 5·4k/5k = 4 V; AC (R1's ac=4k) V(2) = 1.5/(1 + s·2 µs).

    The netlist itself is refused (``.control``); it is rebuilt by hand, with
    R1 = 4k for the AC part (ngspice's AC-only resistance), and run by both.
    """
    def network(r1: float) -> pn.Netlist:
        net = pn.Netlist("ac-resistance")
        net.vsource("Vin", "1", "0", dc=5.0, ac=3.0)
        net.resistor("R1", "1", "2", r=r1)
        net.capacitor("C2", "2", "0", c=1e-9)
        net.resistor("R2", "2", "0", r=4e3)
        return net

    op = check(network(1e3))
    assert op.ok and abs(op.ngspice[0, op.nodes.index("2")] / 4.0 - 1) <= 1e-12
    f = np.array([100e3, 150e3, 200e3])  # .ac lin 3 100kHz 200kHz
    ac = check(network(4e3), "ac", freqs=f)
    gold = 1.5 / (1 + 2j * np.pi * f * 2e-6)
    assert ac.ok
    np.testing.assert_allclose(ac.physnet[:, ac.nodes.index("2")], gold, rtol=1e-12)
    np.testing.assert_allclose(ac.ngspice[:, ac.nodes.index("2")], gold, rtol=1e-9)


def test_ngspice_filt_rc_pole():
    """polezero/filt_rc.cir: R 1k, C 10p, one pole at -1e8 rad/s, so |H| = 1/√2 and phase -45° there."""
    net = pn.Netlist("filt_rc")
    net.vsource("V1", "1", "0", ac=1.0)
    net.resistor("R1", "1", "2", r=1e3)
    net.capacitor("C1", "2", "0", c=10e-12)
    result = check(net, "ac", freqs=[1e8 / (2 * np.pi)])
    assert result.ok
    np.testing.assert_allclose(result.physnet[0, result.nodes.index("2")], 1 / (1 + 1j), rtol=1e-12)


def test_ibmpg1t_waveforms_within_the_documented_tolerance():
    """IBM ibmpg1t: the 20 printed waveforms (1001 points, 10 ps) within 1e-4 V with trapezoidal h = 10 ps."""
    system = pn.read_spice(DATA / "ibmpg" / "ibmpg1t.spice").compile()
    blocks = (DATA / "ibmpg" / "ibmpg1t.output").read_text().split("Node: ")[1:]
    waves = {}
    for block in blocks:
        lines = block.splitlines()
        values = np.array([line.split() for line in lines[1:] if line.strip() and not line.startswith("END")],
                          dtype=float)
        waves[lines[0].strip().lower()] = values
    assert len(waves) == 20
    result = solve_transient(system, 1e-11, 1e-8, record=list(waves))
    for name, values in waves.items():
        np.testing.assert_allclose(result.t, values[:, 0], atol=1e-15)
        assert np.max(np.abs(result[name] - values[:, 1])) <= 1e-4, name


def test_ngspice_names_map_every_node():
    system = random_network(11, capacitors=False)
    assert set(ngspice_names(system)) == set(system.node_names)
