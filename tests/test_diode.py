"""Diodes: element kernels, closed forms (Lambert W), Xyce/ngspice reference numbers, Newton and its fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import lambertw

import physnet as pn
from physnet import NewtonOptions
from physnet.constants import BOLTZMANN, CELSIUS_TO_KELVIN, CHARGE, GMIN, thermal_voltage
from physnet.elements.diode import (
    critical_voltage,
    diode_iv,
    junction_current,
    junction_voltages,
    junction_voltages_numpy,
    limit_junction,
)
from physnet.errors import ConvergenceError

VT = thermal_voltage()


def lambert_junction(v_in, r, is_, n, vt=VT, gmin=GMIN):
    """Exact junction voltage of ``V_in -- R -- diode -- ground`` (GMIN across the junction included).

    ``V_in = R (Is (e^{Vd/m} - 1) + gmin Vd) + Vd`` is ``Vd = c - b e^{Vd/m}`` with
    ``a = 1 + R gmin``, ``c = (V_in + R Is)/a``, ``b = R Is / a``, so
    ``Vd = c - m W((b/m) e^{c/m})``.
    """
    a = 1.0 + r * gmin
    c = (v_in + r * is_) / a
    b = r * is_ / a
    m = n * vt
    y = lambertw(np.exp(np.log(b / m) + c / m)).real
    return c - m * y


def diode_current(vd, is_, n, vt=VT, gmin=GMIN):
    return is_ * np.expm1(vd / (n * vt)) + gmin * vd


def single_diode(v_in, r, is_=1e-14, n=1.0, rs=0.0, temperature=27.0):
    net = pn.Netlist(temperature=temperature)
    net.vsource("V1", "in", "0", dc=v_in)
    net.resistor("R1", "in", "d", r=r)
    net.diode("D1", "d", "0", is_=is_, n=n, rs=rs)
    return net.compile()


# ------------------------------------------------------------ element kernels
@settings(max_examples=150, deadline=None)
@given(
    v=st.floats(-50.0, 50.0),
    log_is=st.floats(-20.0, -6.0),
    n=st.floats(0.5, 3.0),
    rs=st.one_of(st.just(0.0), st.floats(1e-4, 1e5)),
)
def test_junction_voltages_numba_equals_numpy(v, log_is, n, rs):
    args = (np.array([v]), np.array([10.0**log_is]), np.array([n]), np.array([rs]), VT)
    fast, ref = junction_voltages(*args), junction_voltages_numpy(*args)
    # The root of f(vd) = vd + rs i(vd) - v is defined only to the rounding of f's terms (numba's
    # and numpy's exp may differ by an ulp): allow a few ulps of those terms.
    with np.errstate(over="ignore", invalid="ignore"):
        terms = abs(v) + rs * 10.0**log_is * (np.exp(ref / (n * VT)) + 1.0) + rs * GMIN * np.abs(ref)
    np.testing.assert_allclose(fast, ref, rtol=1e-14, atol=8 * np.finfo(float).eps * float(np.nan_to_num(terms[0])))
    if rs == 0.0:
        assert fast[0] == v
    else:  # both solve v = vd + rs i(vd)
        i = diode_current(fast, 10.0**log_is, n)
        np.testing.assert_allclose(fast + rs * i, v, rtol=1e-13, atol=1e-14)


def test_junction_voltages_vectorised_and_shaped():
    rng = np.random.default_rng(0)
    v = rng.uniform(-2, 3, size=(4, 5))
    is_, n, rs = 1e-14, np.full((4, 5), 1.3), rng.choice([0.0, 10.0], size=(4, 5))
    out = junction_voltages(v, is_, n, rs, VT)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out, junction_voltages_numpy(v, np.full((4, 5), is_), n, rs, VT), rtol=1e-14)


@pytest.mark.parametrize("rs", [0.0, 0.5, 100.0])
@pytest.mark.parametrize("v", [-3.0, -1e-3, 0.0, 0.3, 0.65, 0.8, 2.0])
def test_diode_iv_conductance_is_the_derivative(v, rs):
    is_, n = np.array([2e-14]), np.array([1.2])
    i, g = diode_iv(np.array([v]), is_, n, np.array([rs]), VT)
    h = 1e-6
    ip, _ = diode_iv(np.array([v + h]), is_, n, np.array([rs]), VT)
    im, _ = diode_iv(np.array([v - h]), is_, n, np.array([rs]), VT)
    fd = (ip - im) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=2e-6)
    if rs == 0.0:
        np.testing.assert_allclose(i, diode_current(v, is_, n), rtol=1e-14)
    assert g[0] > 0  # GMIN keeps it positive even in deep reverse bias


def test_junction_current_includes_gmin_and_series_conductance():
    vd = np.array([-2.0, 0.7])
    i, g = junction_current(vd, np.array([1e-14] * 2), np.array([1.0] * 2), np.array([5.0] * 2), VT)
    gd = 1e-14 * np.exp(vd / VT) / VT + GMIN
    np.testing.assert_allclose(i, diode_current(vd, 1e-14, 1.0), rtol=1e-14)
    np.testing.assert_allclose(g, gd / (1 + 5.0 * gd), rtol=1e-14)


def test_limit_junction_is_pnjlim():
    is_, n = np.array([1e-14] * 4), np.array([1.0] * 4)
    vcrit = critical_voltage(is_, n, VT)
    np.testing.assert_allclose(vcrit, VT * np.log(VT / (np.sqrt(2) * 1e-14)), rtol=1e-15)
    old = np.array([0.6, 0.6, 0.75, -1.0])
    new = np.array([0.61, 5.0, 3.0, 4.0])
    out = limit_junction(new, old, is_, n, VT)
    assert out[0] == new[0]  # below vcrit: untouched
    np.testing.assert_allclose(out[1], 0.6 + VT * np.log(1 + (5.0 - 0.6) / VT), rtol=1e-15)
    np.testing.assert_allclose(out[2], 0.75 + VT * np.log(1 + (3.0 - 0.75) / VT), rtol=1e-15)
    np.testing.assert_allclose(out[3], VT * np.log(4.0 / VT), rtol=1e-15)  # from reverse bias
    assert np.all(out <= new)


# ------------------------------------------------------------ closed forms
@pytest.mark.parametrize("is_", [1e-16, 1e-14, 1e-9])
@pytest.mark.parametrize("n", [1.0, 1.8])
@pytest.mark.parametrize("r", [10.0, 1e3, 1e5])
@pytest.mark.parametrize("v_in", [-5.0, -0.2, 0.3, 0.7, 2.0, 10.0])
def test_diode_resistor_lambert_w(v_in, r, n, is_):
    op = pn.solve_dc(single_diode(v_in, r, is_, n))
    vd = lambert_junction(v_in, r, is_, n)
    np.testing.assert_allclose(op["d"], vd, rtol=1e-9)
    i = diode_current(vd, is_, n)
    np.testing.assert_allclose(op.current("V1"), -i, rtol=1e-9, atol=1e-14 * abs(v_in) / r)
    assert op.residual <= 1e-12 + 1e-9 * abs(i)


@settings(max_examples=40, deadline=None)
@given(
    v_in=st.floats(-8.0, 8.0).filter(lambda x: abs(x) > 1e-3),
    log_r=st.floats(0.0, 6.0),
    log_is=st.floats(-17.0, -8.0),
    n=st.floats(0.8, 2.5),
    rs=st.one_of(st.just(0.0), st.floats(0.01, 1e3)),
)
def test_diode_series_resistance_adds_to_r(v_in, log_r, log_is, n, rs):
    r, is_ = 10.0**log_r, 10.0**log_is
    op = pn.solve_dc(single_diode(v_in, r, is_, n, rs))
    vd = lambert_junction(v_in, r + rs, is_, n)  # rs just adds to R
    i = diode_current(vd, is_, n)
    # the anode node sits at the junction plus the drop across rs
    np.testing.assert_allclose(op["d"], v_in - r * i, rtol=1e-9, atol=1e-15 * abs(v_in))
    np.testing.assert_allclose(op.current("V1"), -i, rtol=1e-9, atol=1e-14 * abs(v_in) / r)


def test_ten_volts_across_bare_diode_through_one_ohm_needs_limiting():
    op = pn.solve_dc(single_diode(10.0, 1.0))
    np.testing.assert_allclose(op["d"], lambert_junction(10.0, 1.0, 1e-14, 1.0), rtol=1e-12)
    assert op.iterations > 2 and op.message.startswith("newton converged")


def test_diode_directly_across_a_source():
    """No free node at all: the source current is the diode's current."""
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=0.65)
    net.diode("D1", "a", "0", is_=1e-14)
    op = pn.solve_dc(net)
    np.testing.assert_allclose(op.current("V1"), -diode_current(0.65, 1e-14, 1.0), rtol=1e-12)


def test_inductor_in_series_with_a_diode_reports_the_diode_current():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=3.0)
    net.resistor("R1", "in", "a", r=1e3)
    net.inductor("L1", "a", "d", l=1e-3)
    net.diode("D1", "d", "0", is_=1e-14, rs=20.0)
    op = pn.solve_dc(net)
    vd = lambert_junction(3.0, 1e3 + 20.0, 1e-14, 1.0)
    np.testing.assert_allclose(op.current("L1"), diode_current(vd, 1e-14, 1.0), rtol=1e-9)
    np.testing.assert_allclose(op["a"], op["d"], rtol=0, atol=0)
    np.testing.assert_allclose(op.current("V1"), -op.current("L1"), rtol=1e-12)


@pytest.mark.parametrize("k", [2, 5, 12])
def test_string_of_identical_diodes_is_one_diode_with_k_times_n(k):
    v_in, r = 20.0, 50.0
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=v_in)
    net.resistor("R1", "in", "d0", r=r)
    for j in range(k):
        net.diode(f"D{j}", f"d{j}", f"d{j + 1}" if j < k - 1 else "0")
    op = pn.solve_dc(net)
    total = lambert_junction(v_in, r, 1e-14, float(k), gmin=GMIN / k)  # k in series: n -> k n, gmin -> gmin/k
    np.testing.assert_allclose(op["d0"], total, rtol=1e-10)
    np.testing.assert_allclose([op[f"d{j}"] for j in range(k)], total * (1 - np.arange(k) / k), rtol=1e-10)


@pytest.mark.parametrize("v_in", [0.3, 1.0, 5.0])
def test_antiparallel_pair_is_odd_and_matches_scalar_root(v_in):
    r, is_ = 100.0, 1e-14

    def solve(v):
        net = pn.Netlist()
        net.vsource("V1", "in", "0", dc=v)
        net.resistor("R1", "in", "a", r=r)
        net.diode("DF", "a", "0", is_=is_)
        net.diode("DR", "0", "a", is_=is_)
        return pn.solve_dc(net)

    def f(x):  # KCL at a, with a = 2 Is sinh(x/Vt) + 2 gmin x through the pair
        return (v_in - x) / r - (2 * is_ * np.sinh(x / VT) + 2 * GMIN * x)

    x = brentq(f, 0.0, v_in, xtol=1e-16, rtol=1e-15, maxiter=500)
    up, down = solve(v_in), solve(-v_in)
    np.testing.assert_allclose(up["a"], x, rtol=1e-10)
    np.testing.assert_allclose(down["a"], -x, rtol=1e-10)


# ------------------------------------------------------------ reference numbers
def bug204(temperature=27.0):
    """Xyce BUG_204 / ngspice-style diode test: VIN 1 0 5, R1 1 2 2k, D1 3 0 (IS=100f), VMON 2 3 0."""
    net = pn.Netlist("bug204", temperature=temperature)
    net.vsource("VIN", "1", "0", dc=5.0)
    net.resistor("R1", "1", "2", r=2e3)
    net.diode("D1", "3", "0", is_=100e-15, n=1.0)
    net.vsource("VMON", "2", "3", dc=0.0)
    return pn.solve_dc(net)


def test_bug204_with_ngspice_constants():
    op = bug204()
    vd = lambert_junction(5.0, 2e3, 100e-15, 1.0)
    np.testing.assert_allclose(op["3"], vd, rtol=1e-10)
    assert abs(op["3"] - 0.615861698) <= 1e-9  # the documented value with ngspice's k and q
    np.testing.assert_allclose(op.current("VMON"), 2.19207e-3, rtol=1e-5)
    np.testing.assert_allclose(op.current("VMON"), (5.0 - vd) / 2e3, rtol=1e-12)
    np.testing.assert_allclose(op.current("VIN"), -op.current("VMON"), rtol=1e-12)
    # against Xyce's gold output (other constants): the documented 3e-5 V
    assert abs(op["3"] - 0.615844967) <= 3e-5
    np.testing.assert_allclose(op.current("VMON"), 2.19207752e-03, rtol=1e-4)


def test_bug204_with_xyce_constants_via_temperature():
    """Xyce's k and q give Vt = 0.025864186 V at 300.15 K; reach it through the circuit temperature."""
    vt_xyce = 1.3806226e-23 * 300.15 / 1.6021918e-19
    assert abs(vt_xyce - 0.025864186) < 5e-10
    temperature = vt_xyce * CHARGE / BOLTZMANN - CELSIUS_TO_KELVIN
    assert thermal_voltage(temperature) == pytest.approx(vt_xyce, rel=1e-14)
    op = bug204(temperature)
    assert abs(op["3"] - 0.615844403) <= 1e-6  # hand solution with Xyce's constants
    np.testing.assert_allclose(op.current("VMON"), 2.192077798e-3, rtol=1e-6)
    assert abs(op["3"] - 0.615844967) <= 1e-6  # Xyce's DC gold row (its Newton stopped 5.6e-7 V short)
    np.testing.assert_allclose(op["3"], lambert_junction(5.0, 2e3, 100e-15, 1.0, vt=vt_xyce), rtol=1e-10)


def test_reverse_biased_diode_leaks_is_plus_gmin():
    """Xyce DIODE/diode.cir at -1 V: I(VMON) = -(IS + GMIN * 1 V) = -1.09999767e-12 A (to its print precision)."""
    net = pn.Netlist()
    net.vsource("VIN", "1", "0", dc=-1.0)
    net.resistor("R1", "1", "2", r=2e3)
    net.diode("D1", "3", "0", is_=100e-15)
    net.vsource("VMON", "2", "3", dc=0.0)
    op = pn.solve_dc(net)
    vd = lambert_junction(-1.0, 2e3, 100e-15, 1.0)
    np.testing.assert_allclose(op.current("VMON"), diode_current(vd, 100e-15, 1.0), rtol=1e-9)
    np.testing.assert_allclose(op.current("VMON"), -1.09999767e-12, rtol=1e-5)  # Xyce's transient row


# ------------------------------------------------------------ networks and Newton
def random_diode_network(seed, n=25):
    rng = np.random.default_rng(seed)
    names = ["0"] + [f"n{i}" for i in range(1, n)]
    net = pn.Netlist()
    edges = [(i, int(rng.integers(i))) for i in range(1, n)]
    edges += [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(n)]
    diode = rng.random(len(edges)) < 0.4
    for k, (p, q) in enumerate(edges):
        if diode[k]:
            net.diode(f"D{k}", names[p], names[q], is_=float(10.0 ** rng.uniform(-16, -12)),
                      n=float(rng.uniform(1.0, 2.0)), rs=float(rng.choice([0.0, rng.uniform(0.1, 10.0)])))
        else:
            net.resistor(f"R{k}", names[p], names[q], r=float(10.0 ** rng.uniform(1, 5)))
    net.resistor("RLEAK", names[1], "0", r=1e6)  # keep every node grounded through a resistor path
    for k in range(1, n):
        net.resistor(f"RG{k}", names[k], "0", r=1e7)
    net.vsource("V1", names[1], "0", dc=float(rng.uniform(1, 5)))
    net.vsource("V2", names[2], names[3], dc=float(rng.uniform(-2, 2)))
    net.isource("I1", "0", names[4], dc=float(rng.uniform(-1e-3, 1e-3)))
    return net.compile()


def kcl_with_diodes(system, op):
    v = op.v
    r, d, cs = system["resistor"], system["diode"], system["isource"]
    leaving = np.zeros(system.n_nodes)
    flows = [r["g"] * (v[r.a] - v[r.b])]
    vt = thermal_voltage(system.temperature)
    vterm = v[d.a] - v[d.b]
    # junction voltage from v = vd + rs i(vd), solved here by bracketing (independent of physnet's kernel)
    vd = np.array([brentq(lambda x, k=k: x + d["rs"][k] * diode_current(x, d["is_"][k], d["n"][k], vt) - vterm[k],
                          min(vterm[k], 0.0) - 1.0, max(vterm[k], 0.0) + 1.0, xtol=1e-15, rtol=1e-15)
                   for k in range(len(d))])
    flows.append(diode_current(vd, d["is_"], d["n"], vt))
    for (a, b), f in zip(((r.a, r.b), (d.a, d.b)), flows):
        np.add.at(leaving, a, f)
        np.add.at(leaving, b, -f)
    np.add.at(leaving, cs.a, cs["dc"])
    np.add.at(leaving, cs.b, -cs["dc"])
    vs = system["vsource"]
    np.add.at(leaving, vs.a, op.source_currents)
    np.add.at(leaving, vs.b, -op.source_currents)
    scale = max(np.abs(np.concatenate(flows)).max(), np.abs(op.source_currents).max())
    return np.abs(leaving[1:]).max() / scale


@pytest.mark.parametrize("seed", range(6))
def test_random_diode_networks_satisfy_kcl(seed):
    system = random_diode_network(seed)
    op = pn.solve_dc(system)
    assert op.converged
    assert kcl_with_diodes(system, op) <= 1e-9
    vs = system["vsource"]
    np.testing.assert_allclose(op.v[vs.a] - op.v[vs.b], vs["dc"], rtol=1e-14, atol=1e-15)


def test_warm_start_converges_in_fewer_iterations():
    system = random_diode_network(3)
    cold = pn.solve_dc(system)
    E = system["vsource"]["dc"] * 1.01
    fresh = pn.solve_dc(system, v_sources=E)
    warm = pn.solve_dc(system, v_sources=E, initial=cold.v)
    assert warm.iterations < fresh.iterations
    np.testing.assert_allclose(warm.v, fresh.v, rtol=1e-10, atol=1e-12)
    again = pn.solve_dc(system, initial=cold.v)  # starting at the answer
    assert again.iterations <= 2
    np.testing.assert_allclose(again.v, cold.v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ports", [True, False], ids=["diode-ports", "newton-per-sample"])
def test_nonlinear_batch_equals_per_sample(ports, monkeypatch):
    import physnet.solvers.dc as dc

    system = random_diode_network(1)
    if not ports:
        monkeypatch.setattr(dc, "MAX_PORTS", 0)  # as if the network had more diodes than ports are worth
    rng = np.random.default_rng(0)
    E = rng.uniform(-3, 3, size=(4, 2))
    batch = pn.solve_dc(system, v_sources=E)
    assert batch.v.shape == (4, system.n_nodes)
    k = len(system["diode"])
    assert batch.message == (f"newton on {k} diode ports, one factorization for 4 samples" if ports
                             else "newton per sample (4 samples)")
    # The ports solve the same equations by another elimination (Woodbury): states agree to rounding
    # amplified by the conditioning (1.5e-13 here), and the KCL residual is at machine precision.
    rtol = 1e-12 if ports else 1e-13
    for s in range(4):
        one = pn.solve_dc(system, v_sources=E[s])
        np.testing.assert_allclose(batch.v[s], one.v, rtol=rtol, atol=1e-15)
        np.testing.assert_allclose(batch.source_currents[s], one.source_currents, rtol=1e-9, atol=1e-15)
    assert batch.residual <= 1e-12 * np.max(np.abs(batch.source_currents))


def test_batch_samples_the_ports_miss_are_solved_on_their_own(monkeypatch):
    import physnet.solvers.dc as dc

    system = random_diode_network(2)
    E = np.random.default_rng(3).uniform(-3, 3, size=(5, 2))
    solve = dc.port_newton

    def miss_sample_one(*args, **kwargs):
        d, converged, iterations = solve(*args, **kwargs)
        converged[1] = False
        return d, converged, iterations

    monkeypatch.setattr(dc, "port_newton", miss_sample_one)
    batch = pn.solve_dc(system, v_sources=E)
    assert batch.message.endswith("(1 solved on their own)")
    for s in range(5):  # sample 1 by Newton as a single sample would be; the rest through the ports
        np.testing.assert_allclose(batch.v[s], pn.solve_dc(system, v_sources=E[s]).v, rtol=1e-13 if s == 1 else 1e-12,
                                   atol=1e-15)


def test_batch_warm_start_through_the_ports():
    system = random_diode_network(3)
    E = np.random.default_rng(4).uniform(-2, 2, size=(6, 2))
    cold = pn.solve_dc(system, v_sources=E)
    warm = pn.solve_dc(system, v_sources=E * 1.001, initial=cold.v)
    fresh = pn.solve_dc(system, v_sources=E * 1.001)
    assert "diode ports" in warm.message and warm.iterations < fresh.iterations
    options = pn.NewtonOptions()  # two Newton runs agree to their convergence tolerance, vntol + reltol max|v|
    np.testing.assert_allclose(warm.v, fresh.v, rtol=0, atol=options.vntol + options.reltol * np.abs(fresh.v).max())


def test_gmin_stepping_rescues_a_starved_newton():
    # 0.5 V through 1 kOhm: Newton walks down from vcrit ~0.73 V by about Vt per step, which
    # takes more than 8 iterations; the GMIN-shunted problems are nearly linear and each
    # converge within the budget.
    system = single_diode(0.5, 1e3)
    ref = lambert_junction(0.5, 1e3, 1e-14, 1.0)
    with pytest.raises(ConvergenceError):
        pn.solve_dc(system, options=NewtonOptions(max_iter=8, gmin_steps=0, source_steps=0))
    op = pn.solve_dc(system, options=NewtonOptions(max_iter=8, gmin_steps=10, source_steps=0))
    assert op.message.startswith("converged by gmin stepping")
    assert op.iterations > 8
    np.testing.assert_allclose(op["d"], ref, rtol=1e-9)


def test_source_stepping_rescues_a_starved_newton():
    # 1 V through 1 mOhm: ~1 kA through the junction, out of reach in 8 limited steps from vcrit,
    # but within reach from each previous source step (GMIN stepping does not help here).
    system = single_diode(1.0, 1e-3)
    ref = lambert_junction(1.0, 1e-3, 1e-14, 1.0)
    with pytest.raises(ConvergenceError):
        pn.solve_dc(system, options=NewtonOptions(max_iter=8, gmin_steps=10, source_steps=0))
    for gmin_steps in (0, 10):
        op = pn.solve_dc(system, options=NewtonOptions(max_iter=8, gmin_steps=gmin_steps, source_steps=10))
        assert op.message.startswith("converged by source stepping")
        np.testing.assert_allclose(op["d"], ref, rtol=1e-9)


def test_convergence_error_reports_iterations_and_residual():
    system = single_diode(10.0, 1.0)
    with pytest.raises(ConvergenceError, match="did not converge.*after 2 iterations") as info:
        pn.solve_dc(system, options=NewtonOptions(max_iter=2, gmin_steps=0, source_steps=0))
    assert info.value.iterations == 2
    assert info.value.residual > 1e-3
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(ConvergenceError) as info:
        pn.solve_dc(system, options=NewtonOptions(max_iter=2))
    assert info.value.iterations > 2  # fallbacks were tried and counted
