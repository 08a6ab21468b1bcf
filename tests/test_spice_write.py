"""Writing netlists: layout, exact numbers, safe names, what cannot be exported, round trips of real files."""

from pathlib import Path

import numpy as np
import pytest

from physnet import Netlist
from physnet.errors import NetlistError
from physnet.spice import format_spice, parse_spice, read_spice, write_spice
from physnet.system import Analysis

DATA = Path(__file__).parent / "data"


def differences(a, b):
    """Everything that differs between two systems: names, nodes, bit patterns of every array, analyses."""
    out = [f for f in ("title", "node_names", "temperature", "analyses") if getattr(a, f) != getattr(b, f)]
    for kind, table in a.elements.items():
        other = b[kind]
        out += [f"{kind}.{f}" for f in ("names",) if table.names != other.names]
        out += [f"{kind}.{f}" for f in ("a", "b") if getattr(table, f).tobytes() != getattr(other, f).tobytes()]
        out += [f"{kind}.{p}" for p in table.values if table[p].tobytes() != other[p].tobytes()]
    return out


def round_trip(netlist_or_system, **kwargs):
    return parse_spice(format_spice(netlist_or_system), "rt.cir", **kwargs).compile()


def test_layout_is_grouped_by_kind_in_table_order():
    net = Netlist("mixed")
    net.capacitor("c1", "b", "0", 1e-9)
    net.vsource("v1", "a", "0", 2.0)
    net.diode("d1", "a", "b", is_=1e-12)
    net.resistor("r1", "a", "b", r=50.0)
    net.isource("i1", "0", "b", 1e-3)
    net.inductor("l1", "a", "0", 1e-6)
    lines = format_spice(net).splitlines()
    assert lines[0] == "mixed" and lines[-1] == ".end"
    cards = [line for line in lines if not line.startswith("*")][1:-1]
    assert [card.split()[0] for card in cards] == ["r1", "d1", ".model", "v1", "i1", "c1", "l1"]
    assert cards[2] == ".model d_model1 D (IS=1e-12 N=1.0 RS=0.0)"
    assert cards[3] == "v1 a 0 DC 2.0"


def test_text_is_deterministic_and_never_controls():
    net = Netlist("t")
    net.vsource("V1", "in", "0", 1.0, sin=(0.0, 1.0, 1e3))
    net.resistor("R1", "in", "0", r=1e3)
    text = format_spice(net)
    assert text == format_spice(net.compile()) == format_spice(net)
    assert ".control" not in text and "shell" not in text


def test_diode_models_one_per_parameter_set():
    net = Netlist()
    for k, (is_, n) in enumerate([(1e-14, 1.0), (2e-14, 1.0), (1e-14, 1.0), (1e-14, 2.0)]):
        net.diode(f"d{k}", f"n{k}", "0", is_=is_, n=n)
    text = format_spice(net)
    assert [line.split()[-1] for line in text.splitlines() if line.startswith("d")] == [
        "d_model1", "d_model2", "d_model1", "d_model3"]
    assert text.count(".model") == 3
    assert not differences(net.compile(), round_trip(net))


def test_sources_write_dc_ac_and_waveforms():
    net = Netlist()
    net.vsource("V1", "a", "0", 1.5, ac=2.0, ac_phase=-90.0)
    net.vsource("V2", "b", "0", 0.0, pulse=(0, 1, 1e-9, 1e-10, 1e-10, 5e-9, 1e-8))
    net.isource("I1", "0", "c", 0.0, sin=(0.0, 1e-6, 7.3e3))
    net.resistor("R1", "a", "b", r=1.0)
    net.resistor("R2", "b", "c", r=1.0)
    cards = [line for line in format_spice(net).splitlines() if line.startswith(("V", "I"))]
    assert cards == [
        "V1 a 0 DC 1.5 AC 2.0 -90.0",
        "V2 b 0 DC 0.0 PULSE(0.0 1.0 1e-09 1e-10 1e-10 5e-09 1e-08)",
        "I1 0 c DC 0.0 SIN(0.0 1e-06 7300.0 0.0 0.0 0.0)",
    ]
    back = round_trip(net)
    assert differences(net.compile(), back) == ["resistor.names", "vsource.names", "isource.names"]
    assert back["vsource"].names == ("v1", "v2")  # only the case of the names changes: SPICE ignores it


def test_negative_zero_survives():
    net = Netlist()
    net.add("vsource", "v1", "a", "0", dc=-0.0, ac_mag=-0.0)
    net.resistor("r1", "a", "0", r=1.0)
    assert "AC -0.0 0.0" in format_spice(net)
    assert not differences(net.compile(), round_trip(net))


def test_resistances_round_trip_exactly_even_when_no_float_resistance_exists():
    g = np.exp(np.random.default_rng(7).uniform(-25, 25, 2000))
    net = Netlist()
    net.add_many("resistor", [f"r{k}" for k in range(len(g))], [f"n{k}" for k in range(len(g))],
                 ["0"] * len(g), g=g)
    text = format_spice(net)
    assert any(len(line.split()[-1]) > 24 for line in text.splitlines() if line.startswith("r"))
    assert np.array_equal(round_trip(net)["resistor"]["g"], g)


def test_conductances_too_small_to_invert_are_refused():
    net = Netlist()
    net.resistor("R1", "a", "0", g=1e-310)
    with pytest.raises(NetlistError, match="resistor 'R1': g = 1e-310 is too small"):
        format_spice(net)
    net = Netlist()
    net.resistor("R1", "a", "0", g=1e-300)
    net.resistor("R2", "a", "0", g=1.7e308)
    assert round_trip(net)["resistor"]["g"].tolist() == [1e-300, 1.7e308]


def test_negative_resistors_need_allow_negative_to_read_back():
    net = Netlist()
    net.resistor("R1", "a", "0", r=-100.0, allow_negative=True)
    text = format_spice(net)
    assert "R1 a 0 -100.0" in text
    with pytest.raises(NetlistError, match="allow_negative"):
        parse_spice(text)
    assert round_trip(net, allow_negative=True)["resistor"]["g"].tolist() == [-0.01]


def test_pipes_are_written_as_resistors_with_a_note():
    net = Netlist("flow")
    net.vsource("P1", "in", "0", 1e3)
    net.pipe("p1", "in", "out", k=2e-9)
    net.pipe("R1", "out", "0", k=1e-9)
    net.resistor("r1", "out", "0", r=5.0)
    text = format_spice(net)
    assert "hydraulic-electric analogy" in text
    s = parse_spice(text).compile()
    assert s["resistor"].names == ("r1", "rp1", "r1_2")
    assert s["resistor"]["g"].tolist() == [0.2, 2e-9, 1e-9]
    assert not s.has("pipe")


def test_springs_cannot_be_exported():
    net = Netlist()
    net.node("a", (0.0, 0.0))
    net.node("b", (1.0, 0.0))
    net.spring("s1", "a", "b", k=1.0)
    with pytest.raises(NetlistError, match="spring elements cannot be exported to SPICE"):
        format_spice(net)


def test_positions_and_temperature():
    net = Netlist("hot", temperature=85.0)
    net.node("a", (0.0, 1.0))
    net.resistor("R1", "a", "0", r=1.0)
    text = format_spice(net)
    assert "* node positions are not part of SPICE" in text and ".temp 85.0" in text
    assert parse_spice(text).temperature == 85.0
    assert ".temp" not in format_spice(Netlist("cool"))


def test_unsafe_names_are_escaped_and_listed():
    net = Netlist("inject\n.control\nshell touch /tmp/x\n.endc")
    net.vsource("V1", "in;x", "0", 1.0)
    net.resistor("R(.end)", "in;x", ".include", r=1.0)
    net.resistor("R2", ".include", "*star", r=1.0)
    net.resistor("load", "*star", "0", r=1.0)
    text = format_spice(net)
    assert text.splitlines()[0] == "inject .control shell touch /tmp/x .endc"
    cards = [line for line in text.splitlines()[1:] if not line.startswith("*")]
    assert cards == [
        "R_x28__x2e_end_x29_ in_x3b_x _x2e_include 1.0",
        "R2 _x2e_include _x2a_star 1.0",
        "Rload _x2a_star 0 1.0",
        "V1 in_x3b_x 0 DC 1.0",
        ".end",
    ]
    assert "* 'in;x' is written as in_x3b_x" in text
    assert "* 'R(.end)' is written as R_x28__x2e_end_x29_" in text
    assert "load" not in [line.split()[1] for line in text.splitlines() if line.startswith("* ")]
    s = parse_spice(text).compile()
    assert s.n_nodes == 4 and len(s["resistor"]) == 3


def test_names_that_collide_after_lowercasing_are_made_distinct():
    net = Netlist()
    net.resistor("R1", "A", "a", r=1.0)
    net.resistor("r1", "a", "0", r=2.0)
    s = round_trip(net)
    assert s["resistor"].names == ("r1", "r1_2")
    assert s.node_names == ("0", "a", "a_2")


def test_analyses_are_written_with_written_source_names():
    net = Netlist()
    net.vsource("Vin", "a", "0", 1.0)
    net.isource("load", "a", "0", 1e-3)
    net.resistor("R1", "a", "0", r=1.0)
    net.analysis("op")
    net.analysis("dc", "Vin", 0.0, 5.0, 1.0)
    net.analysis("dc", "load", 0.0, 1e-3)
    net.analysis("ac", "dec", 10, 1.0, 1e6)
    net.analysis("tran", 1e-9, 1e-6)
    text = format_spice(net)
    assert [line for line in text.splitlines() if line.startswith(".") and line != ".end"] == [
        ".op", ".dc Vin 0.0 5.0 1.0", ".dc Iload 0.0 0.001", ".ac dec 10 1.0 1000000.0", ".tran 1e-09 1e-06"]
    assert [a.args[0] for a in parse_spice(text).analyses if a.kind == "dc"] == ["vin", "iload"]


def test_analyses_argument_overrides_and_checks():
    net = Netlist()
    net.vsource("V1", "a", "0", 1.0)
    net.resistor("R1", "a", "0", r=1.0)
    net.analysis("op")
    text = format_spice(net, analyses=[Analysis("tran", (1e-3, 1.0)), ("ac", "lin", 5, 0.0, 10.0)])
    assert ".op" not in text and ".tran 0.001 1.0" in text and ".ac lin 5 0.0 10.0" in text
    for bad in [("dc", "V9", 0, 1), ("ac", "dec\n.control", 10, 1, 2), ("ac", "dec", 2.5, 1, 2),
                ("tran", float("inf"), 1.0), ("noise",), ("op", 1)]:
        with pytest.raises(NetlistError, match="cannot be written"):
            format_spice(net, analyses=[bad])


def test_wrong_input_type():
    with pytest.raises(TypeError, match="Netlist or System"):
        format_spice("R1 a 0 1k")


def test_unknown_waveform_code_is_refused():
    net = Netlist()
    net.add("vsource", "v1", "a", "0", wave=7.0)
    with pytest.raises(NetlistError, match="wave = 7.0"):
        format_spice(net)


def test_write_spice_returns_the_path(tmp_path):
    net = Netlist("t")
    net.resistor("R1", "a", "0", r=1.0)
    path = write_spice(net, tmp_path / "out.cir")
    assert path == tmp_path / "out.cir" and path.read_text(encoding="utf-8") == format_spice(net)


@pytest.mark.parametrize("name", ["xyce/bug204.cir", "xyce/diode.cir", "ngspice/general/rc.cir"])
def test_reference_netlists_round_trip(name):
    s = read_spice(DATA / name).compile()
    assert not differences(s, round_trip(s))


def test_ibmpg1_round_trips_bit_for_bit(tmp_path):
    s = read_spice(DATA / "ibmpg" / "ibmpg1.spice").compile()
    path = write_spice(s, tmp_path / "ibmpg1.cir")
    again = read_spice(path).compile()
    assert not differences(s, again)
    assert path.read_text() == format_spice(again)  # writing is idempotent
