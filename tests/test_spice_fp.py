"""Frequency propagation measured inside ngspice (which really runs) against physnet's own FP."""

from __future__ import annotations

import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.learning.problem import make_problem
from physnet.spice.fp import ERROR_SOURCE_PREFIX, ngspice_fp_update, tone_network, transient_fp_update


def diode_network() -> pn.Netlist:
    net = pn.Netlist("fp diodes")
    net.vsource("V1", "in", "0", dc=1.0)
    net.resistors(["R1", "R2", "R3", "R4", "R5"], ["in", "a", "a", "b", "b"], ["a", "out", "b", "0", "out"],
                  r=[1e3, 2e3, 1.5e3, 3e3, 4.7e3])
    net.diode("D1", "out", "0")
    net.diode("D2", "a", "b", is_=1e-12, n=1.3)
    net.isource("I1", "0", "b", dc=1e-4)
    return net


STEP = dict(outputs=["out"], targets=[0.2], alpha=1.0, beta=1e-6, f_b=1e3)


def relative(x, ref) -> float:
    return float(np.max(np.abs(x - ref)) / np.max(np.abs(ref)))


@pytest.fixture(scope="module")
def phasor():
    return pn.fp_update(diode_network(), **{k: v for k, v in STEP.items() if k != "f_b"})


@pytest.fixture(scope="module")
def spice():
    return ngspice_fp_update(diode_network(), **STEP)


def test_ngspice_fp_agrees_with_the_phasor_path(spice, phasor):
    assert spice.solver == "ngspice"
    assert relative(spice.delta_g, phasor.delta_g) <= 1e-3
    assert relative(spice.dv_a, phasor.dv_a) <= 1e-6  # the DC activation: ngspice's and physnet's operating point
    assert relative(spice.dv_b, phasor.dv_b) <= 1e-3


def test_ngspice_fp_agrees_with_physnet_transient_and_lockin(spice):
    physnet = transient_fp_update(diode_network(), **STEP)
    assert physnet.solver == "transient"
    assert relative(spice.delta_g, physnet.delta_g) <= 1e-3
    assert spice.gradient.edges == physnet.gradient.edges == ("R1", "R2", "R3", "R4", "R5")


def test_the_finite_error_amplitude_bias_shrinks_as_beta_squared(phasor):
    """The tone network is the physical experiment: its bias against the exact gradient is O(β²)."""
    errors = [relative(transient_fp_update(diode_network(), **{**STEP, "beta": b}).gradient.grad,
                       phasor.gradient.grad) for b in (1e-4, 1e-5)]
    assert errors[0] > 10 * errors[1]
    assert np.log10(errors[0] / errors[1]) == pytest.approx(2.0, abs=0.2)


def test_linear_network_is_exact_at_any_amplitude():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", dc=2.0)
    net.resistors(["R1", "R2", "R3"], ["in", "m", "m"], ["m", "out", "0"], r=[1e3, 2e3, 3e3])
    net.resistor("R4", "out", "0", r=1e3)
    kw = dict(outputs=["out"], targets=[0.1], alpha=1.0, beta=1e-2)
    exact = pn.fp_update(net, **kw)
    assert relative(ngspice_fp_update(net, **kw).delta_g, exact.delta_g) <= 1e-5


def sin_activation_network(amplitude: float | None) -> pn.Netlist:
    """A linear network driven by a current at an input: SIN(0 a 1 kHz), or DC a when ``amplitude`` is None."""
    net = pn.Netlist()
    wave = {"dc": 1e-3} if amplitude is None else {"sin": (0.0, amplitude, 1e3)}
    net.isource("IIN", "0", "in", **wave)
    net.resistors(["R1", "R2", "R3", "R4"], ["in", "m", "m", "out"], ["m", "out", "0", "0"], r=[1e3, 2e3, 3e3, 1e3])
    net.resistor("RIN", "in", "0", r=5e3)
    return net


@pytest.mark.parametrize("measure", [ngspice_fp_update, transient_fp_update])
def test_oscillating_activation_on_a_linear_network_equals_the_dc_problem(measure):
    """Quasi-static and linear: the f_A amplitudes are the DC solution for DC inputs equal to the amplitudes."""
    kw = dict(outputs=["out"], targets=[0.1], alpha=1.0, beta=1e-3)
    exact = pn.fp_update(sin_activation_network(None), **kw)
    tones = measure(sin_activation_network(1e-3), **kw, f_a=1e3, f_b=1.5e3, points_per_period=100)
    assert tones.gradient.info["f_a"] == 1e3
    assert relative(tones.dv_a, exact.dv_a) <= 1e-4
    assert relative(tones.delta_g, exact.delta_g) <= 1e-3


def test_tone_network_adds_one_sin_source_per_erring_node():
    problem = make_problem(diode_network(), ["out", "a"], [0.2, 0.5])
    e = np.zeros(problem.system.n_nodes)
    e[problem.outputs] = [2e-6, -3e-6]
    tones = tone_network(problem, problem.system["resistor"]["g"], e, 2e3)
    added = [n for n in tones["isource"].names if n.startswith(ERROR_SOURCE_PREFIX)]
    assert len(added) == 2 and tones.node_names == problem.system.node_names
    np.testing.assert_allclose(tones["isource"]["sin_freq"][-2:], 2e3)
    np.testing.assert_allclose(sorted(tones["isource"]["sin_amplitude"][-2:]), [-3e-6, 2e-6])


def test_bad_tone_settings_are_named():
    with pytest.raises(NetlistError, match="f_b"):
        transient_fp_update(diode_network(), **{**STEP, "f_b": 0.0})
    with pytest.raises(NetlistError, match="points_per_period"):
        transient_fp_update(diode_network(), **STEP, points_per_period=3)
    with pytest.raises(NetlistError, match="beta"):
        transient_fp_update(diode_network(), **{**STEP, "beta": -1.0})
    with pytest.raises(NetlistError, match="'IIN' oscillates at 1000 Hz, but the activation frequency f_a is 0 Hz"):
        transient_fp_update(sin_activation_network(1e-3), outputs=["out"], targets=[0.1])
    with pytest.raises(NetlistError, match="no source of the network is a SIN"):
        transient_fp_update(diode_network(), **STEP, f_a=500.0)


def test_oscillating_activation_through_diodes_ngspice_equals_physnet_transient():
    """f_A = 1 kHz over a DC bias, f_B = 7.3 kHz (clear of the low mixing products): the same experiment."""
    net = diode_network()
    net.isource("IA", "0", "a", sin=(0.0, 2e-5, 1e3))
    kw = dict(outputs=["out"], targets=[0.2], alpha=1.0, beta=1e-6, f_a=1e3, f_b=7.3e3, periods=1,
              points_per_period=100)
    spice, physnet = ngspice_fp_update(net, **kw), transient_fp_update(net, **kw)
    assert relative(spice.gradient.info["activation"], physnet.gradient.info["activation"]) <= 1e-3
    assert relative(spice.delta_g, physnet.delta_g) <= 1e-3
