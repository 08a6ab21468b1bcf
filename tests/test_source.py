"""Source waveforms (SPICE DC / SIN / PULSE semantics) and AC phasors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.elements.source import ac_phasors, source_values
from physnet.elements.table import ELEMENTS, ElementTable

DATA = Path(__file__).parent / "data"


def table(**sources):
    """A vsource table: ``name=dict(dc=..., sin=(...), pulse=(...), ac=..., ac_phase=...)``."""
    net = pn.Netlist()
    for k, (name, kwargs) in enumerate(sources.items()):
        net.vsource(name, f"n{k}", "0", **kwargs)
        net.resistor(f"R{k}", f"n{k}", "0", r=1.0)
    return net.compile()["vsource"]


def values(tab, t, tstep=0.1, tstop=1.0):
    return source_values(tab, np.atleast_1d(t), tstep=tstep, tstop=tstop)


# ------------------------------------------------------------------- DC
def test_dc_source_is_constant_and_time_first():
    out = values(table(V1=dict(dc=2.5), V2=dict(dc=-1.0)), np.linspace(0, 1, 7))
    assert out.shape == (7, 2)
    np.testing.assert_array_equal(out, np.tile([2.5, -1.0], (7, 1)))


def test_waveform_replaces_the_dc_value_in_transient():
    """SPICE: a SIN/PULSE source follows its waveform in .tran, whatever its DC value."""
    out = values(table(V1=dict(dc=3.0, sin=(0.0, 1.0, 1.0))), [0.0])
    assert out[0, 0] == 0.0


# ------------------------------------------------------------------- SIN
def sin_reference(t, vo, va, freq, td=0.0, theta=0.0, phase=0.0):
    """ngspice vsrcload.c, written out independently."""
    phi = np.deg2rad(phase)
    tau = t - td
    running = vo + va * np.exp(-tau * theta) * np.sin(2 * np.pi * freq * tau + phi)
    return np.where(tau <= 0, vo + va * np.sin(phi), running)


@pytest.mark.parametrize("params", [(0.0, 1.0, 1e3), (0.5, 2.0, 50.0, 1e-3), (0.0, 1.0, 1e3, 2e-4, 300.0),
                                    (1.0, -0.3, 7.3e3, 1e-4, 0.0, 45.0), (0.0, 1.0, 2e3, 0.0, 0.0, -90.0)])
def test_sin_matches_spice_formula(params):
    t = np.linspace(0.0, 3e-3, 301)
    out = values(table(V1=dict(sin=params)), t, tstep=1e-5, tstop=3e-3)[:, 0]
    np.testing.assert_allclose(out, sin_reference(t, *params), rtol=0, atol=1e-15)


def test_sin_before_delay_holds_offset_plus_phase():
    out = values(table(V1=dict(sin=(1.0, 2.0, 10.0, 0.5, 0.0, 30.0))), [0.0, 0.25, 0.5])[:, 0]
    np.testing.assert_allclose(out, 1.0 + 2.0 * np.sin(np.pi / 6), rtol=1e-15)


def test_sin_zero_frequency_means_one_over_tstop():
    out = values(table(V1=dict(sin=(0.0, 1.0))), [0.25, 0.5], tstop=2.0)[:, 0]  # period 2 s
    np.testing.assert_allclose(out, [np.sin(np.pi / 4), 1.0], atol=1e-15)


@settings(max_examples=50, deadline=None)
@given(freq=st.floats(1.0, 1e4), t=st.floats(0.0, 1.0), phase=st.floats(-180, 180))
def test_undamped_sin_is_periodic(freq, t, phase):
    tab = table(V1=dict(sin=(0.2, 1.0, freq, 0.0, 0.0, phase)))
    a, b = values(tab, [t, t + 1.0 / freq], tstop=2.0)[:, 0]
    assert abs(a - b) <= 1e-9 * (1.0 + t * freq)


# ------------------------------------------------------------------- PULSE
def test_pulse_by_hand():
    """PULSE(0 5 1 0.5 0.25 2 4): delay 1, rise 0.5, high 2, fall 0.25, period 4."""
    tab = table(V1=dict(pulse=(0.0, 5.0, 1.0, 0.5, 0.25, 2.0, 4.0)))
    t = [0.0, 1.0, 1.25, 1.5, 2.0, 3.5, 3.625, 3.75, 4.5, 5.0, 5.25, 7.0, 9.25]
    want = [0.0, 0.0, 2.5, 5.0, 5.0, 5.0, 2.5, 0.0, 0.0, 0.0, 2.5, 5.0, 2.5]
    np.testing.assert_allclose(values(tab, t, tstep=0.1, tstop=20.0)[:, 0], want, atol=1e-12)


def test_pulse_defaults_follow_spice():
    """TR = TF = TSTEP, PW = PER = TSTOP when zero or absent (ngspice general/rc.cir: ``pulse (0 1)``)."""
    tab = table(V1=dict(pulse=(0.0, 1.0)))
    out = values(tab, [0.0, 0.05, 0.1, 0.5, 7.0], tstep=0.1, tstop=7.0)[:, 0]
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0, 1.0, 1.0], atol=1e-15)
    explicit = table(V1=dict(pulse=(0.0, 1.0, 0.0, 0.1, 0.1, 7.0, 7.0)))
    t = np.linspace(0, 7, 141)
    np.testing.assert_array_equal(values(tab, t, tstep=0.1, tstop=7.0), values(explicit, t, tstep=0.1, tstop=7.0))


def test_pulse_falls_from_v1_when_v2_is_lower():
    tab = table(V1=dict(pulse=(1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 10.0)))
    np.testing.assert_allclose(values(tab, [0.5, 1.5, 2.5, 3.5], tstop=10.0)[:, 0], [0.0, -1.0, 0.0, 1.0])


def test_rc_netlist_source_reads_the_same_waveform():
    """The SPICE reader and the builder give the same PULSE source for ngspice's rc.cir."""
    system = pn.read_spice(DATA / "ngspice" / "general" / "rc.cir").compile()
    t = np.linspace(0, 7, 71)
    np.testing.assert_array_equal(source_values(system["vsource"], t, tstep=0.1, tstop=7.0),
                                  values(table(vin=dict(pulse=(0.0, 1.0))), t, tstep=0.1, tstop=7.0))


def test_current_sources_use_the_same_waveforms():
    net = pn.Netlist()
    net.isource("I1", "0", "a", sin=(0.0, 1e-3, 1e3))
    net.resistor("R1", "a", "0", r=1.0)
    out = source_values(net.compile()["isource"], [0.25e-3], tstep=1e-5, tstop=1e-3)
    np.testing.assert_allclose(out, [[1e-3]], rtol=1e-15)


def test_unknown_waveform_code_is_an_error():
    spec = ELEMENTS["vsource"]
    vals = {p.name: [p.default] for p in spec.params}
    vals["wave"] = [7.0]
    tab = ElementTable.build(spec, ("V9",), [1], [0], vals)
    with pytest.raises(ValueError, match="V9.*unknown waveform code"):
        source_values(tab, [0.0], tstep=1.0, tstop=1.0)


# ------------------------------------------------------------------- AC phasors
def test_ac_phasors_magnitude_and_degrees():
    tab = table(V1=dict(ac=1.0), V2=dict(ac=2.0, ac_phase=90.0), V3=dict(ac=0.5, ac_phase=-45.0), V4=dict(dc=1.0))
    np.testing.assert_allclose(ac_phasors(tab), [1.0, 2.0j, 0.5 * np.exp(-1j * np.pi / 4), 0.0], atol=1e-15)
