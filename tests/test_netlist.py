"""Netlist builder and compiled System: structure, defaults, and one test per kind of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import physnet as pn
from physnet.constants import thermal_voltage
from physnet.errors import NetlistError


# ------------------------------------------------------------------ structure
def test_nodes_created_on_first_use_and_ground_aliases():
    net = pn.Netlist()
    net.resistor("R1", "a", "gnd", r=1.0)
    net.resistor("R2", "a", "GND", r=1.0)
    net.resistor("R3", "b", 0, r=1.0)
    net.resistor("R4", "b", "Gnd", r=1.0)
    s = net.compile()
    assert s.node_names == ("0", "a", "b")
    assert s["resistor"].b.tolist() == [0, 0, 0, 0]
    assert s.node_index("gnd") == s.node_index("GND") == s.node_index("0") == 0


def test_resistor_r_becomes_conductance_and_tables_are_read_only():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=4.0)
    net.resistor("R2", "a", "b", g=0.5)
    s = net.compile()
    t = s["resistor"]
    assert t.names == ("R1", "R2")
    np.testing.assert_array_equal(t["g"], [0.25, 0.5])
    assert t.a.tolist() == [1, 1] and t.b.tolist() == [0, 2]
    for array in (t["g"], t.a, t.b):
        with pytest.raises(ValueError):
            array[0] = 1
    assert t.index("R2") == 1
    assert s.element_kind["R2"] == "resistor"


def test_compile_snapshot_is_independent_of_later_edits():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    first = net.compile()
    net.resistor("R2", "a", "b", r=1.0)
    assert len(first["resistor"]) == 1 and first.n_nodes == 2
    assert len(net.compile()["resistor"]) == 2


def test_add_many_broadcasts_scalars_and_defaults():
    net = pn.Netlist()
    net.add_many("diode", ["D1", "D2", "D3"], ["a", "b", "c"], ["0", "0", "0"], n=[1.0, 1.5, 2.0])
    t = net.compile()["diode"]
    np.testing.assert_array_equal(t["is_"], [1e-14] * 3)  # SPICE default IS
    np.testing.assert_array_equal(t["n"], [1.0, 1.5, 2.0])
    np.testing.assert_array_equal(t["rs"], [0.0] * 3)


def test_every_kind_lands_in_its_table_with_values():
    net = pn.Netlist("all kinds", temperature=50.0)
    net.vsource("V1", "in", "0", dc=2.0, ac=1.0, ac_phase=30.0)
    net.isource("I1", "0", "in", dc=1e-3)
    net.resistor("R1", "in", "m", r=10.0)
    net.diode("D1", "m", "0", is_=2e-14, n=1.2, rs=3.0)
    net.capacitor("C1", "m", "0", c=1e-9)
    net.inductor("L1", "m", "x", l=1e-3)
    net.pipe("P1", "x", "0", k=5.0)
    net.analysis("op")
    s = net.compile()
    assert s.title == "all kinds" and s.temperature == 50.0
    assert s.analyses[0].kind == "op"
    assert s["vsource"]["dc"][0] == 2.0 and s["vsource"]["ac_phase"][0] == 30.0
    assert s["isource"]["dc"][0] == 1e-3
    assert s["diode"]["rs"][0] == 3.0 and s["diode"]["n"][0] == 1.2
    assert s["capacitor"]["c"][0] == 1e-9 and s["inductor"]["l"][0] == 1e-3
    assert s["pipe"]["k"][0] == 5.0
    assert s.domains == frozenset({"electric", "flow"})
    assert "resistor: 1" in s.summary() and "6 nodes" not in s.summary()
    assert s.has("diode") and not s.has("spring")


def test_pipe_geometry_gives_poiseuille_conductance():
    r, length, mu = 2e-3, 0.5, 1.8e-5
    net = pn.Netlist()
    net.pipe("P1", "a", "0", radius=r, length=length, viscosity=mu)
    assert net.compile()["pipe"]["k"][0] == pytest.approx(math.pi * r**4 / (8 * mu * length), rel=1e-15)


def test_spring_rest_length_defaults_to_distance():
    net = pn.Netlist()
    net.node("p", (0.0, 0.0, 0.0))
    net.node("q", (1.0, 2.0, 2.0))
    net.spring("S1", "p", "q", k=1.0)
    net.spring("S2", "p", "q", k=1.0, rest=1.5)
    s = net.compile()
    np.testing.assert_allclose(s["spring"]["rest"], [3.0, 1.5], rtol=1e-15)
    assert s.positions.shape == (3, 3) and np.isnan(s.positions[0]).all()
    assert s.domains == frozenset({"elastic"})


def test_temperature_sets_thermal_voltage():
    assert thermal_voltage() == pytest.approx(1.38064852e-23 * 300.15 / 1.6021766208e-19, rel=1e-15)
    assert thermal_voltage(100.0) == pytest.approx(1.38064852e-23 * 373.15 / 1.6021766208e-19, rel=1e-15)


def test_negative_resistance_only_when_allowed():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=-100.0, allow_negative=True)
    assert net.compile()["resistor"]["g"][0] == -0.01
    with pytest.raises(NetlistError, match="'R2'"):
        net.resistor("R2", "a", "0", r=-100.0)
    with pytest.raises(NetlistError, match="'R3'"):
        net.resistor("R3", "a", "0", g=-1.0)


# ------------------------------------------------------------------ bad input
def test_duplicate_element_name_across_kinds():
    net = pn.Netlist()
    net.resistor("X1", "a", "0", r=1.0)
    with pytest.raises(NetlistError, match="duplicate element name 'X1'"):
        net.capacitor("X1", "a", "0", c=1e-6)


def test_duplicate_element_name_within_one_call():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="duplicate element name 'R2'"):
        net.resistors(["R1", "R2", "R2"], ["a", "b", "c"], ["0", "0", "0"], r=[1.0, 2.0, 3.0])
    assert net.compile().n_nodes == 1  # nothing was added by the failed call


@pytest.mark.parametrize("r", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_resistance(r):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'Rbad'.*invalid"):
        net.resistor("Rbad", "a", "0", r=r)


@pytest.mark.parametrize("g", [0.0, -2.0, math.nan, math.inf])
def test_bad_conductance(g):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'Gbad'.*invalid"):
        net.resistor("Gbad", "a", "0", g=g)


def test_bad_value_in_a_vector_names_that_element():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'R3'"):
        net.resistors(["R1", "R2", "R3"], ["a", "b", "c"], ["0", "0", "0"], r=[1.0, 2.0, 0.0])
    with pytest.raises(NetlistError, match="'R2'"):
        net.resistors(["R1", "R2", "R3"], ["a", "b", "c"], ["0", "0", "0"], g=[1.0, math.nan, 1.0])


def test_resistor_needs_exactly_one_of_r_and_g():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'R1'.*exactly one"):
        net.resistor("R1", "a", "0", r=1.0, g=1.0)
    with pytest.raises(NetlistError, match="'R1'.*exactly one"):
        net.resistor("R1", "a", "0")


@pytest.mark.parametrize("is_", [0.0, -1e-14, math.nan, math.inf])
def test_bad_diode_saturation_current(is_):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'D7'.*is_"):
        net.diode("D7", "a", "0", is_=is_)


@pytest.mark.parametrize("kw", [{"n": 0.0}, {"n": -1.0}, {"rs": -1.0}, {"rs": math.nan}])
def test_bad_diode_n_or_rs(kw):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match=f"'D1'.*{next(iter(kw))}"):
        net.diode("D1", "a", "0", **kw)


@pytest.mark.parametrize("c", [0.0, -1e-9, math.nan, math.inf])
def test_bad_capacitance(c):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'C9'.*c ="):
        net.capacitor("C9", "a", "0", c=c)


@pytest.mark.parametrize("l", [0.0, -1e-3, math.inf])
def test_bad_inductance(l):  # noqa: E741
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'L2'.*l ="):
        net.inductor("L2", "a", "0", l=l)


@pytest.mark.parametrize("dc", [math.nan, math.inf])
def test_bad_source_value(dc):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'V1'.*dc"):
        net.vsource("V1", "a", "0", dc=dc)
    with pytest.raises(NetlistError, match="'I1'.*dc"):
        net.isource("I1", "a", "0", dc=dc)


def test_non_numeric_value():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'C1'.*not a number"):
        net.add("capacitor", "C1", "a", "0", c="big")


def test_unknown_parameter():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'R1'.*unknown parameter 'tc1'"):
        net.add("resistor", "R1", "a", "0", g=1.0, tc1=0.01)


def test_missing_required_parameter():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'C1'.*parameter 'c'.*required"):
        net.add("capacitor", "C1", "a", "0")


def test_unknown_element_kind():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="unknown element kind 'transistor'"):
        net.add("transistor", "Q1", "a", "0")


@pytest.mark.parametrize("name", ["", "a b", " a", "x\t"])
def test_bad_node_name(name):
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="node name"):
        net.resistor("R1", name, "0", r=1.0)


def test_bad_element_name():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="element name 'R 1'"):
        net.resistor("R 1", "a", "0", r=1.0)


def test_mismatched_vector_lengths():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="2 names but 1 a-nodes"):
        net.add_many("resistor", ["R1", "R2"], ["a"], ["0", "0"], g=1.0)


def test_pipe_needs_k_or_geometry():
    net = pn.Netlist()
    with pytest.raises(NetlistError, match="'P1'.*radius and length"):
        net.pipe("P1", "a", "0", radius=1e-3)
    with pytest.raises(NetlistError, match="'P2'.*not both"):
        net.pipe("P2", "a", "0", k=1.0, radius=1e-3, length=1.0)
    with pytest.raises(NetlistError, match="'P3'.*radius"):
        net.pipe("P3", "a", "0", radius=-1e-3, length=1.0)


def test_unknown_analysis():
    with pytest.raises(NetlistError, match="unknown analysis 'noise'"):
        pn.Netlist().analysis("noise")


def test_spring_node_without_position():
    net = pn.Netlist()
    net.node("p", (0.0, 0.0))
    net.spring("S1", "p", "q", k=1.0)
    with pytest.raises(NetlistError, match="'S1'.*node 'q' has no position"):
        net.compile()


def test_spring_without_any_positions():
    net = pn.Netlist()
    net.spring("S1", "p", "q", k=1.0)
    with pytest.raises(NetlistError, match="'S1'.*positions"):
        net.compile()


def test_spring_with_coincident_nodes():
    net = pn.Netlist()
    net.node("p", (1.0, 1.0))
    net.node("q", (1.0, 1.0))
    net.spring("S1", "p", "q", k=1.0)
    with pytest.raises(NetlistError, match="'S1'.*same position"):
        net.compile()


def test_mixed_2d_3d_positions():
    net = pn.Netlist()
    net.node("p", (0.0, 0.0))
    net.node("q", (1.0, 0.0, 0.0))
    with pytest.raises(NetlistError, match="2-D and 3-D"):
        net.compile()


@pytest.mark.parametrize("position", [(0.0,), (0.0, 1.0, 2.0, 3.0), (0.0, math.nan)])
def test_bad_position(position):
    with pytest.raises(NetlistError, match="node 'p'"):
        pn.Netlist().node("p", position)


def test_ground_cannot_have_a_position():
    with pytest.raises(NetlistError, match="ground"):
        pn.Netlist().node("gnd", (0.0, 0.0))


def test_unknown_node_lookup_in_system():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    s = net.compile()
    with pytest.raises(NetlistError, match="unknown node 'zz'"):
        s.node_index("zz")
    with pytest.raises(NetlistError, match="unknown node 'q'"):
        s.node_indices(["a", "q"])


def test_integer_node_names_are_looked_up_as_text():
    net = pn.Netlist()
    net.vsource("V1", 1, 0, dc=2.0)
    net.resistors(["R1", "R2"], [1, 2], [2, 0], r=[1.0, 1.0])
    s = net.compile()
    assert s.node_names == ("0", "1", "2")
    assert s.node_index(2) == s.node_index("2") == 2
    op = pn.solve_dc(s)
    assert op[2] == op["2"] == pytest.approx(1.0, rel=1e-15)


def test_unknown_node_and_source_lookup_in_result():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.resistor("R1", "a", "0", r=1.0)
    op = pn.solve_dc(net)
    assert op["GND"] == 0.0
    with pytest.raises(NetlistError, match="unknown node 'b'"):
        op["b"]
    with pytest.raises(NetlistError, match="'R1'"):
        op.current("R1")  # a resistor is not a voltage source
