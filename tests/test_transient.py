"""Fixed-step transient analysis: exact circuits, integrator order, energy, ngspice, diodes, lock-in vs phasors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

import physnet as pn
from physnet.constants import BOLTZMANN, CELSIUS_TO_KELVIN
from physnet.errors import ConvergenceError, NetlistError
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.lockin import lockin
from physnet.solvers.phasor import solve_ac
from physnet.solvers.transient import NoiseSpec, Tone, solve_transient

DATA = Path(__file__).parent / "data"


def loglog_slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


# ------------------------------------------------------------ RC: exact solution and integrator order
def sine_rc(r=1.0, c=1.0, freq=0.5):
    net = pn.Netlist("sine-driven RC")
    net.vsource("V1", "in", "0", sin=(0.0, 1.0, freq))
    net.resistor("R1", "in", "out", r=r)
    net.capacitor("C1", "out", "0", c=c)
    return net.compile()


def sine_rc_exact(t, tau=1.0, freq=0.5):
    """v' = (sin ωt - v)/τ, v(0) = 0."""
    w = 2 * np.pi * freq
    a = 1.0 / (1.0 + (w * tau) ** 2)
    return a * (np.sin(w * t) - w * tau * np.cos(w * t) + w * tau * np.exp(-t / tau))


@pytest.mark.parametrize("method", ["trap", "bdf2"])
def test_rc_second_order_convergence(method):
    """Both methods are second order (BDF2's backward-Euler first step does not spoil it)."""
    system = sine_rc()
    steps = np.array([0.1, 0.05, 0.025, 0.0125, 0.00625])
    errors = []
    for h in steps:
        res = solve_transient(system, h, 4.0, method=method)
        errors.append(np.max(np.abs(res["out"] - sine_rc_exact(res.t))))
        assert res.converged and res.method == method
    slope = loglog_slope(steps, errors)
    assert abs(slope - 2.0) < 0.15, (slope, errors)


def test_rc_step_response_is_the_exponential():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", pulse=(0.0, 2.0, 0.0, 1e-6, 1e-6, 1.0, 2.0))  # a 1 µs edge at t = 0
    net.resistor("R1", "in", "out", r=1e3)
    net.capacitor("C1", "out", "0", c=1e-6)
    res = solve_transient(net, 1e-6, 5e-3)
    t = res.t[1:] - 0.5e-6  # the ramp's midpoint is the effective step time
    np.testing.assert_allclose(res["out"][1:], 2.0 * (1 - np.exp(-t / 1e-3)), atol=2e-6)
    np.testing.assert_allclose(res.current("V1")[1:], -(res["in"][1:] - res["out"][1:]) / 1e3, rtol=1e-10)


def test_ngspice_rc_reference():
    """ngspice tests/general/rc.cir: R 1 Ω, C 1 F, ``pulse (0 1)``, ``.tran 0.1 7``.

    The pulse rises over TSTEP = 0.1 s. Exact ramp response 0.0484, 0.1389, 0.2209 at
    t = 0.1, 0.2, 0.3 s; ngspice printed 4.830e-02, 1.385e-01, 2.204e-01.
    """
    net = pn.Netlist("Basic RC circuit")
    net.resistor("r", "1", "2", r=1.0)
    net.capacitor("c", "2", "0", c=1.0)
    net.vsource("vin", "1", "0", pulse=(0.0, 1.0))
    res = solve_transient(net, 0.1, 7.0)
    assert len(res.t) == 71
    at = [1, 2, 3]
    np.testing.assert_allclose(res["2"][at], [0.0484, 0.1389, 0.2209], atol=1e-3)
    np.testing.assert_allclose(res["2"][at], [4.830e-02, 1.385e-01, 2.204e-01], atol=1e-3)
    np.testing.assert_allclose(res.current("vin"), -(res["1"] - res["2"]), atol=1e-14)
    spice = solve_transient(pn.read_spice(DATA / "ngspice" / "general" / "rc.cir"), 0.1, 7.0)
    np.testing.assert_array_equal(spice["2"], res["2"])


# ------------------------------------------------------------ energy and steady states
def lc_tank():
    net = pn.Netlist("LC tank")
    net.capacitor("C1", "a", "0", c=1e-6)
    net.vsource("VM", "a", "b", dc=0.0)  # an ammeter for the inductor current
    net.inductor("L1", "b", "0", l=1e-3)
    return net.compile()


def lc_energy(res):
    return 0.5 * 1e-6 * res["a"] ** 2 + 0.5 * 1e-3 * res.current("VM") ** 2


def test_lc_oscillator_conserves_energy_with_trap():
    system = lc_tank()
    period = 2 * np.pi * np.sqrt(1e-9)
    h = period / 100
    res = solve_transient(system, h, 2000 * h, initial=[0.0, 1.0, 1.0])
    energy = lc_energy(res)[1:]  # after the backward-Euler start
    assert np.max(np.abs(energy / energy[0] - 1)) < 1e-12
    freq = np.fft.rfftfreq(len(res.t) - 1, h)[np.argmax(np.abs(np.fft.rfft(res["a"][1:])))]
    assert freq == pytest.approx(1 / period, rel=0.02)
    damped = lc_energy(solve_transient(system, h, 2000 * h, initial=[0.0, 1.0, 1.0], method="bdf2"))
    assert np.all(np.diff(damped[1:]) < 0) and damped[-1] < 0.99 * damped[1]  # BDF2 dissipates


def mixed_network():
    """Every element kind, constant sources: V, I, R, C, L, diodes (one across a source)."""
    net = pn.Netlist("mixed")
    net.vsource("V1", "in", "0", dc=3.0)
    net.resistor("R1", "in", "a", r=1e3)
    net.diode("D1", "a", "b", is_=1e-14, rs=10.0)
    net.inductor("L1", "b", "c", l=1e-3)
    net.resistor("R2", "c", "0", r=2e3)
    net.capacitor("C1", "b", "0", c=1e-7)
    net.capacitor("C2", "a", "c", c=2e-7)
    net.diode("D2", "in", "d", is_=1e-12)
    net.resistor("R3", "d", "0", r=5e3)
    net.vsource("V2", "d", "e", dc=0.5)
    net.resistor("R4", "e", "0", r=1e3)
    net.isource("I1", "0", "c", dc=1e-4)
    return net.compile()


@pytest.mark.parametrize("method", ["trap", "bdf2"])
def test_dc_operating_point_is_a_steady_state(method):
    system = mixed_network()
    op = pn.solve_dc(system)
    res = solve_transient(system, 1e-6, 2e-4, method=method)
    np.testing.assert_allclose(res.v, np.broadcast_to(op.v, res.v.shape), atol=1e-10)
    np.testing.assert_allclose(res.source_currents, np.broadcast_to(op.source_currents[:2], (len(res.t), 2)),
                               atol=1e-12)
    assert res.residual < 1e-12


# ------------------------------------------------------------ diodes and engines
def rectifier():
    net = pn.Netlist("half-wave rectifier")
    net.vsource("V1", "in", "0", sin=(0.0, 5.0, 50.0))
    net.diode("D1", "in", "out", is_=1e-14, rs=2.0)
    net.resistor("RL", "out", "0", r=1e3)
    net.capacitor("C1", "out", "0", c=10e-6)
    return net.compile()


def test_rectifier_converges_to_a_fine_step_reference():
    system = rectifier()
    fine = solve_transient(system, 2.5e-6, 0.04)
    errors = []
    for h in (2e-5, 1e-5, 5e-6):
        res = solve_transient(system, h, 0.04)
        stride = round(h / 2.5e-6)
        errors.append(np.max(np.abs(res.v - fine.v[::stride])))
    assert errors[0] < 1e-3 and errors[2] < errors[1] < errors[0]
    peak = np.max(fine["out"])
    assert 4.0 < peak < 4.5  # 5 V minus a diode drop and the series resistance
    # while the input is negative the diode is off and C discharges through RL: exp(-t / 10 ms)
    i30, i40 = round(0.03 / 2.5e-6), round(0.04 / 2.5e-6)
    assert fine["out"][i40] / fine["out"][i30] == pytest.approx(np.exp(-1.0), rel=1e-4)


@pytest.mark.parametrize("network", [rectifier, mixed_network])
def test_engines_agree(network):
    """The numba time loop, its numpy twin and the refactoring engine compute the same run."""
    system = network()
    if network is mixed_network:  # drive it: a sine on top of V1's DC value
        net = pn.Netlist()
        for kind, table in system.elements.items():
            for i, name in enumerate(table.names):
                params = {p.name: float(table[p.name][i]) for p in table.spec.params}
                net.add(kind, name, system.node_names[table.a[i]], system.node_names[table.b[i]], **params)
        net.vsource("V3", "f", "in", sin=(0.0, 2.0, 5e3))
        net.resistor("R9", "f", "0", r=100.0)
        system = net.compile()
    runs = {engine: solve_transient(system, 2e-6, 1e-3, engine=engine) for engine in ("lowrank", "numpy", "refactor")}
    for engine in ("numpy", "refactor"):
        np.testing.assert_allclose(runs[engine].v, runs["lowrank"].v, rtol=0, atol=1e-11)
        np.testing.assert_allclose(runs[engine].source_currents, runs["lowrank"].source_currents, rtol=0, atol=1e-13)
        assert runs[engine].iterations == runs["lowrank"].iterations
    assert "diodes" in runs["lowrank"].message and runs["lowrank"].residual < 1e-12


def test_newton_failure_is_reported_with_the_time():
    system = rectifier()
    op = pn.solve_dc(system, v_sources=np.array([0.0]))  # the sine's value at t = 0
    with pytest.raises(ConvergenceError, match=r"did not converge within 1 iterations at t = 0.0001 s"):
        solve_transient(system, 1e-4, 0.02, initial=op, options=NewtonOptions(max_iter=1))


# ------------------------------------------------------------ transient + lock-in = phasors
F_A, F_B = 1e3, 7.3e3


def two_tone_network():
    net = pn.Netlist("two tones")
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    net.resistors(["R1", "R2", "R3", "R4", "R5"], ["n1", "n2", "n3", "n4", "n1"], ["n2", "n3", "n4", "n5", "n3"],
                  r=[2e3, 1.5e3, 3e3, 1e3, 4.7e3])
    net.resistors([f"RG{k}" for k in range(5)], nodes, ["0"] * 5, r=[1e3, 2.2e3, 1.5e3, 1e3, 3.3e3])
    net.add_many("capacitor", ["C1", "C2", "C3", "C4"], ["n1", "n2", "n3", "n4"], ["0", "0", "n5", "0"],
                 c=[22e-9, 47e-9, 10e-9, 33e-9])
    net.isource("IA", "0", "n1", sin=(0.0, 1e-3, F_A))
    net.isource("IB", "0", "n4", sin=(0.0, 1e-4, F_B))
    return net.compile()


def two_tone_phasors(system):
    """solve_ac with the tones as injections: a SIN current A sin(ωt) is the phasor -jA."""
    inj = np.zeros((2, system.n_nodes), dtype=complex)
    inj[0, system.node_index("n1")] = -1e-3j
    inj[1, system.node_index("n4")] = -1e-4j
    return solve_ac(system, [F_A, F_B], injections=inj, sources=False).v


def test_transient_lockin_reproduces_the_phasors():
    system = two_tone_network()
    ac = two_tone_phasors(system)
    res = solve_transient(system, 1 / F_B / 400, 11e-3)  # 1 ms to settle, then 10 ms = 10 and 73 periods
    X = res.lockin([F_A, F_B], window=10e-3)
    resistors = system["resistor"]
    drops = res.v[:, resistors.a] - res.v[:, resistors.b]
    D = lockin(drops, res.t, [F_A, F_B], window=10e-3)
    for i in range(2):
        assert np.max(np.abs(X[i] - ac[i])) <= 1e-4 * np.max(np.abs(ac[i]))
        edge = ac[i][resistors.a] - ac[i][resistors.b]
        assert np.max(np.abs(D[i] - edge)) <= 1e-4 * np.max(np.abs(edge))


def test_lockin_error_falls_with_integration_time():
    """Integrating from t = 0 includes the start-up transient, whose weight falls as 1/T."""
    system = two_tone_network()
    ac = two_tone_phasors(system)
    h = 1 / F_B / 200
    res = solve_transient(system, h, 40e-3)
    windows = np.array([10e-3, 20e-3, 40e-3])
    errors = []
    for T in windows:
        n = round(T / h)
        X = lockin(res.v[:n + 1], res.t[:n + 1], [F_A, F_B])
        errors.append([np.max(np.abs(X[i] - ac[i])) / np.max(np.abs(ac[i])) for i in range(2)])
    errors = np.array(errors)
    assert np.all(np.diff(errors, axis=0) < 0)
    for i in range(2):
        assert abs(loglog_slope(windows, errors[:, i]) + 1.0) < 0.1


def test_extra_currents_equal_a_current_source():
    system = two_tone_network()
    n1 = system.node_index("n1")
    net = pn.Netlist()
    for kind, table in system.elements.items():
        for i, name in enumerate(table.names):
            if name != "IA":
                params = {p.name: float(table[p.name][i]) for p in table.spec.params}
                net.add(kind, name, system.node_names[table.a[i]], system.node_names[table.b[i]], **params)
    reduced = net.compile()
    assert reduced.node_names == system.node_names

    def tone(t):
        out = np.zeros((len(t), system.n_nodes))
        out[:, n1] = 1e-3 * np.sin(2 * np.pi * F_A * t)
        return out

    h, stop = 1 / F_B / 50, 3e-3
    ref = solve_transient(system, h, stop)
    called = solve_transient(reduced, h, stop, extra_currents=tone)
    array = solve_transient(reduced, h, stop, extra_currents=tone(ref.t))
    np.testing.assert_allclose(called.v, ref.v, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(array.v, called.v)


@pytest.mark.parametrize("noise", [None, NoiseSpec(white=1e-16)])
def test_a_tone_equals_its_dense_callable(noise):
    """Tone(current, f, phase) injects what the callable cos(2π f t + phase) current does, noise or not:
    same node voltages and source currents (a network with every element kind, sources eliminated)."""
    system = mixed_network()
    current = np.zeros(system.n_nodes)
    current[system.node_indices(["b", "c", "e"])] = [2e-4, -1e-4, 5e-5]
    f, phase, h = 3e3, 0.4, 2e-6

    def dense(t):
        return np.cos(2 * np.pi * f * t + phase)[:, None] * current

    runs = [solve_transient(system, h, 400 * h, extra_currents=extra, noise=noise, seed=3)
            for extra in (Tone(current, f, phase), dense)]
    scale = np.max(np.abs(runs[1].v))
    np.testing.assert_allclose(runs[0].v, runs[1].v, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(runs[0].source_currents, runs[1].source_currents, rtol=0,
                               atol=1e-13 * np.max(np.abs(runs[1].source_currents)))
    assert runs[0].residual < 1e-12 and np.ptp(runs[0]["b"]) > 1e-3  # the tone does move the network


def test_runs_sharing_their_schemes_give_what_each_gives_alone():
    """FP's batch lane: runs from different operating points, with different source values, reuse the first run's
    factored step matrix and diode ports (its reference conductances) and still give their own answers."""
    base = mixed_network()
    systems = [base.with_values("vsource", dc=[dc, 0.5]) for dc in (3.0, 1.2)]
    runs = [(system, pn.solve_dc(system)) for system in systems]
    h, stop, shared = 2e-6, 200 * 2e-6, {}
    for system, op in runs:
        alone = solve_transient(system, h, stop, initial=op)
        together = solve_transient(system, h, stop, initial=op, _schemes=shared)
        np.testing.assert_allclose(together.v, alone.v, rtol=0, atol=1e-12 * np.max(np.abs(alone.v)))
        assert together.iterations == alone.iterations
    assert list(shared) == ["trap"]
    assert not np.array_equal(runs[0][1].v, runs[1][1].v)  # the two runs did start apart


# ------------------------------------------------------------ noise
def test_thermal_noise_gives_kt_over_c():
    """Johnson noise of R charging C: equipartition, <v²> = kT/C, whatever R."""
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1e3)
    net.capacitor("C1", "a", "0", c=1e-9)
    res = solve_transient(net, 5e-8, 1e-2, noise=NoiseSpec(thermal=True), seed=1)
    kt_c = BOLTZMANN * (27.0 + CELSIUS_TO_KELVIN) / 1e-9
    assert res["a"][200:].var() == pytest.approx(kt_c, rel=0.06)
    again = solve_transient(net, 5e-8, 1e-2, noise=NoiseSpec(thermal=True), seed=1)
    np.testing.assert_array_equal(again.v, res.v)  # seeded
    other = solve_transient(net, 5e-8, 1e-2, noise=NoiseSpec(thermal=True), seed=2)
    assert not np.array_equal(other.v, res.v)


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_spectra(kind):
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1e3)
    h, n = 1e-5, 2**17
    res = solve_transient(net, h, n * h, noise=NoiseSpec(**{kind: 1e-12}), seed=3)
    f, psd = welch(res["a"], fs=1 / h, nperseg=2**13)
    band = (f > 100 / (n * h)) & (f < 0.05 / h)
    expected = 1e-12 * 1e6 / (f[band] if kind == "pink" else 1.0)  # R² S_I
    assert abs(loglog_slope(f[band], psd[band]) - (-1.0 if kind == "pink" else 0.0)) < 0.15
    assert np.median(psd[band] / expected) == pytest.approx(1.0, rel=0.15)


# ------------------------------------------------------------ results and errors
def test_record_subset_and_as_dict():
    system = sine_rc()
    full = solve_transient(system, 0.1, 1.0)
    part = solve_transient(system, 0.1, 1.0, record=["out"])
    assert part.node_names == ("out",) and part.v.shape == (11, 1)
    np.testing.assert_array_equal(part["out"], full["out"])
    np.testing.assert_array_equal(part["0"], 0.0)
    with pytest.raises(NetlistError, match="not recorded"):
        part["in"]
    payload = part.as_dict()
    assert payload["analysis"] == "tran" and len(payload["time"]) == 11
    assert set(payload["nodes"]) == {"out"} and set(payload["currents"]) == {"V1"}
    assert json.loads(json.dumps(payload)) == payload


@pytest.mark.parametrize("kwargs, match", [
    (dict(step=0.3, stop=1.0), "not a whole number of steps"),
    (dict(step=-0.1, stop=1.0), "step = -0.1 s must be > 0"),
    (dict(step=0.1, stop=0.0), "must be later than start"),
    (dict(step=0.1, stop=1.0, method="euler"), "unknown integration method 'euler'"),
    (dict(step=0.1, stop=1.0, engine="gpu"), "unknown engine 'gpu'"),
    (dict(step=0.1, stop=1.0, record="all"), "record = 'all'"),
    (dict(step=0.1, stop=1.0, record=["nope"]), "unknown node 'nope'"),
    (dict(step=0.1, stop=1.0, initial=[0.0, 1.0]), "initial potentials must be 3 finite numbers"),
    (dict(step=0.1, stop=1.0, extra_currents=np.zeros((10, 3))), r"extra_currents must have shape \(n_t, n_nodes\)"),
    (dict(step=0.1, stop=1.0, extra_currents=lambda t: np.zeros(3)), r"extra_currents\(t\) returned shape"),
    (dict(step=0.1, stop=1.0, extra_currents=Tone([1.0, 2.0], 1.0)), r"Tone.current must be 3 finite amplitudes"),
    (dict(step=0.1, stop=1.0, extra_currents=Tone([0.0, np.nan, 0.0], 1.0)), r"Tone.current must be 3 finite"),
    (dict(step=0.1, stop=1.0, extra_currents=Tone([0.0, 1j, 0.0], 1.0)), r"Tone: current, freq and phase must be"),
    (dict(step=0.1, stop=1.0, extra_currents=Tone([0.0, 1.0, 0.0], -5.0)), r"Tone: freq = -5.0 Hz must be"),
    (dict(step=0.1, stop=1.0, noise=NoiseSpec(white=-1.0)), "noise white must be power spectral densities"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(NetlistError, match=match):
        solve_transient(sine_rc(), **kwargs)
