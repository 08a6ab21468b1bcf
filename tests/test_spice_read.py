"""Reading the SPICE subset: syntax, elements, analyses, includes, refusals, and real reference netlists."""

import os
from pathlib import Path

import numpy as np
import pytest

from physnet.elements.table import WAVE_DC, WAVE_PULSE, WAVE_SIN
from physnet.errors import NetlistError, SpiceSyntaxError
from physnet.spice import parse_spice, read_spice

DATA = Path(__file__).parent / "data"
NETLISTS = Path(__file__).parent.parent / "netlists"
IBMPG1T = Path(__file__).parent / "data" / "ibmpg" / "ibmpg1t.spice"


def system(text, **kwargs):
    return parse_spice(text, "t.cir", **kwargs).compile()


def refused(text, line, match, path="t.cir", **kwargs):
    """Assert that reading ``text`` fails at ``path:line`` with a message matching ``match``."""
    with pytest.raises(SpiceSyntaxError, match=match) as info:
        parse_spice(text, path, **kwargs)
    assert (info.value.path, info.value.line) == (path, line), str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")
    return str(info.value)


# ------------------------------------------------------------------ syntax
def test_title_comments_continuations_and_case():
    s = system(
        "My Divider\n"
        "* a comment line\n"
        "\n"
        "V1 IN 0 DC 5 ; inline comment\n"
        "R1 in Out\n"
        "* comments may sit between a card and its continuation\n"
        "+ 1k $ another comment\n"
        "   r2 OUT gnd 1K\n"
        ".END\n"
        "anything after .end is ignored, even Q1 c b e\n"
    )
    assert s.title == "My Divider"
    assert s.node_names == ("0", "in", "out")
    assert s["resistor"].names == ("r1", "r2")
    assert s["resistor"]["g"].tolist() == [1e-3, 1e-3]
    assert s["vsource"].names == ("v1",)


def test_title_is_only_the_first_line_and_dot_title_replaces_it():
    assert system("R1 a 0 1k\n").title == "R1 a 0 1k"  # SPICE: the first line is always the title
    assert system("old\n.title New Title\nR1 a 0 1\n").title == "New Title"
    assert system("").title == ""


def test_crlf_and_bom():
    s = system("\ufefftitle\r\nR1 a 0 2\r\n.end\r\n")
    assert s.title == "title" and s["resistor"]["g"].tolist() == [0.5]


def test_nodes_are_numbered_kind_by_kind_in_table_order():
    # resistors first (R1 y x, R2 w 0), then V1 x 0, then C1 z y: the order physnet writes them in
    s = system("t\nV1 x 0 1\nR1 y x 1\nC1 z y 1n\nR2 w 0 1\n")
    assert s.node_names == ("0", "y", "x", "w", "z")


def test_dollar_is_a_comment_only_when_standing_alone():
    s = system("t\nR1 a$b 0 1 $ comment\n")
    assert s.node_names == ("0", "a$b")


def test_temp_and_ignored_output_cards():
    net = parse_spice("t\nR1 a 0 1\n.options noacct reltol=1e-4\n.opti nopage acct\n.width out=512\n"
                      ".print tran v(a) {v(a)/2}\n.plot dc v(a)\n.probe\n.save all\n.option gmin=1e-12\n.temp 50\n")
    assert net.temperature == 50.0
    assert parse_spice("t\nR1 a 0 1\n").temperature == 27.0


@pytest.mark.parametrize("option", ["temp=50", "TNOM = 30"])
def test_temperature_options_are_refused(option):
    refused(f"t\nR1 a 0 1\n.options {option}\n", 3, "use .temp|set the temperature with .temp")


def test_bad_temp():
    refused("t\n.temp -300\n", 2, "absolute zero")
    refused("t\n.temp 27 50\n", 2, "one temperature")


# ------------------------------------------------------------------ elements
def test_resistor_forms():
    s = system("t\nR1 a 0 1k\nR2 a 0 r=2k\nR3 a 0 R = 4k\nR4 a 0 5kohm\n")
    assert s["resistor"]["g"].tolist() == [1e-3, 5e-4, 2.5e-4, 2e-4]


def test_negative_resistance_needs_allow_negative():
    refused("t\nR1 a 0 -100\n", 2, "negative: pass allow_negative=True")
    assert system("t\nR1 a 0 -100\n", allow_negative=True)["resistor"]["g"].tolist() == [-0.01]


def test_zero_resistance_is_an_error():
    message = refused("t\nV1 a 0 1\nR1 a 0 0\n", 3, "resistor 'r1': resistance '0' is zero")
    assert "0 V voltage source" in message


@pytest.mark.parametrize(
    "card, word",
    [("R2 2 0 5K ac=15k", "ac"), ("R2 2 0 5k tc1=0.001", "tc1"), ("R2 2 0 5k m=2", "m"),
     ("C1 a 0 1n ic=1", "ic"), ("L1 a 0 1u ic=1m", "ic")],
)
def test_unsupported_element_parameters_are_named(card, word):
    message = refused(f"t\n{card}\n", 2, f"parameter '{word}' is not supported")
    assert f"remove '{word}=" in message and "physnet reads" in message


def test_capacitors_and_inductors():
    s = system("t\nC1 a 0 100n\nL1 a b 1u\nC2 b 0 c=1p\n")
    assert s["capacitor"]["c"].tolist() == [1e-7, 1e-12]
    assert s["inductor"]["l"].tolist() == [1e-6]


def test_diodes_models_after_use_and_area():
    s = system(
        "t\nD1 a 0 dmod\nD2 b 0 DMOD 2\nD3 c 0 plain area=0.5\n"
        ".model dmod D (IS=1e-13 N=1.5 RS=10)\n"
        ".MODEL plain d\n"
    )
    d = s["diode"]
    assert d["is_"].tolist() == [1e-13, 2e-13, 0.5e-14]
    assert d["n"].tolist() == [1.5, 1.5, 1.0]
    assert d["rs"].tolist() == [10.0, 5.0, 0.0]


def test_model_with_continuation_and_without_parentheses():
    s = system("t\nD1 a 0 m1\n.model m1 d is=2e-14\n+ n=1.2\n")
    assert s["diode"]["is_"].tolist() == [2e-14] and s["diode"]["n"].tolist() == [1.2]


@pytest.mark.parametrize("param", ["CJO=1p", "TT=1n", "BV=100", "IBV=1m", "M=0.5", "VJ=0.7", "EG=1.11", "level=1"])
def test_unsupported_diode_parameters_are_named(param):
    key = param.split("=")[0].lower()
    message = refused(f"t\nD1 a 0 dm\n.model dm D (IS=1e-14 {param})\n", 3, f"diode model 'dm': parameter '{key}'")
    assert message.endswith(f"is not supported (remove '{param.lower()}'); physnet's diode takes IS, N, RS")


def test_diode_model_errors():
    refused("t\nD1 a 0 nomodel\n", 2, "model 'nomodel' is not defined")
    refused("t\n.model q1 NPN (BF=100)\n", 2, "model type 'npn' is not supported")
    refused("t\n.model m d\n.model m d\n", 3, r"defined twice \(first at t.cir:2\)")
    refused("t\nD1 a 0 m 0\n.model m d\n", 2, "area 0.0 must be > 0")
    refused("t\nD1 a 0\n", 2, "the model value is missing")


def test_sources_dc_forms():
    s = system("t\nV1 a 0 5\nV2 b 0 DC 3V\nV3 c 0 dc=42\nI1 0 a dc = 42mA\nV4 d 0\nR1 a 0 1\n")
    assert s["vsource"]["dc"].tolist() == [5.0, 3.0, 42.0, 0.0]
    assert s["isource"]["dc"].tolist() == [0.042]


def test_sources_ac_sin_pulse():
    s = system(
        "t\n"
        "V1 a 0 DC 1 AC 2 45\n"
        "V2 b 0 AC\n"
        "V3 c 0 SIN(0 1 1k 1m 10 90)\n"
        "V4 d 0 0 sin 0.5 2 50\n"
        "I1 0 e 2.18725e-5 pulse(2.18725e-05, 0.0546813, 2e-10,  1e-10,  1e-10,  1e-11,  3e-09)\n"
        "V5 f 0 pulse (0 1) ac 1\n"
    )
    v, i = s["vsource"], s["isource"]
    assert v["ac_mag"].tolist() == [2.0, 1.0, 0.0, 0.0, 1.0] and v["ac_phase"].tolist()[0] == 45.0
    assert v["wave"].tolist() == [WAVE_DC, WAVE_DC, WAVE_SIN, WAVE_SIN, WAVE_PULSE]
    assert [v[k][2] for k in ("sin_offset", "sin_amplitude", "sin_freq", "sin_delay", "sin_damping", "sin_phase")] == [
        0.0, 1.0, 1e3, 1e-3, 10.0, 90.0]
    assert (v["sin_amplitude"][3], v["sin_freq"][3]) == (2.0, 50.0)
    assert i["dc"][0] == 2.18725e-5 and i["wave"][0] == WAVE_PULSE
    assert [i[k][0] for k in ("pulse_v1", "pulse_v2", "pulse_delay", "pulse_rise", "pulse_fall", "pulse_width",
                              "pulse_period")] == [2.18725e-05, 0.0546813, 2e-10, 1e-10, 1e-10, 1e-11, 3e-09]
    assert (v["pulse_v1"][4], v["pulse_v2"][4], v["pulse_rise"][4]) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    "card, match",
    [
        ("V1 a 0 PWL(0 0 1 1)", "'pwl' is not supported"),
        ("V1 a 0 EXP(0 1)", "'exp' is not supported"),
        ("V1 a 0 SIN(0)", "SIN takes 2 to 6 values"),
        ("V1 a 0 SIN(0 1 2 3 4 5 6)", "SIN takes 2 to 6 values"),
        ("V1 a 0 PULSE(0 1 2", r"PULSE\( is not closed"),
        ("V1 a 0 SIN(0 1) PULSE(0 1)", "one waveform"),
        ("V1 a 0 DC 1 DC 2", "one DC value"),
        ("V1 a 0 1 AC 1 2 3", "one AC magnitude"),
        ("V1 a 0 1 foo", "unexpected 'foo'"),
        ("V1 a 0 DC x", "dc = 'x' is not a number"),
        ("V1 a 0 SIN(0 1 -5)", "sin_freq = -5.0"),
    ],
)
def test_source_errors(card, match):
    refused(f"t\n{card}\n", 2, match)


def test_ground_names():
    s = system("t\nR1 a GND 1\nR2 a 0 1\nR3 a gnd 1\n")
    assert s.node_names == ("0", "a") and s["resistor"].b.tolist() == [0, 0, 0]


# ------------------------------------------------------------------ analyses
def test_analyses_are_recorded_in_order():
    net = parse_spice("t\nV1 a 0 1\nR1 a 0 1\n.op\n.DC V1 0 5V 1V\n.ac DEC 10 1k 1Meg\n.tran 1ns 6ns\n"
                      ".tran 0 0.5ms 0.1ms 1u\n.dc v1 5 5\n")
    assert [(a.kind, a.args) for a in net.analyses] == [
        ("op", ()), ("dc", ("v1", 0.0, 5.0, 1.0)), ("ac", ("dec", 10, 1e3, 1e6)), ("tran", (1e-9, 6e-9)),
        ("tran", (0.0, 5e-4, 1e-4, 1e-6)), ("dc", ("v1", 5.0, 5.0))]


@pytest.mark.parametrize(
    "card, match",
    [
        (".op 1", "takes no arguments"),
        (".dc R1 0 1 0.1", "sweeps V and I sources only"),
        (".dc V1 0 1 0.1 V2 0 1 1", "no nested sweeps"),
        (".dc V9 0 1", "'v9', which is not a V or I source"),
        (".ac dec 10 1k", "dec|oct|lin"),
        (".ac log 10 1 2", "dec|oct|lin"),
        (".ac dec 2.5 1 10", "whole number"),
        (".ac dec 10 0 10", "0 < fstart <= fstop"),
        (".tran 1n", "tstep"),
        (".tran 1n 1u uic", "'uic' is not supported"),
        (".tran 1n 0", "tstop > 0"),
        (".tran 1n 1u 2u", "tstart < tstop"),
        (".tran x1 1u", "'x1' is not a number"),
    ],
)
def test_analysis_errors(card, match):
    refused(f"t\nV1 a 0 1\nR1 a 0 1\n{card}\n", 4, match)


# ------------------------------------------------------------------ refusals
def test_control_block_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    netlist = tmp_path / "evil.cir"
    netlist.write_text(f"evil\nR1 a 0 1k\n.control\nshell touch {marker}\nrun\n.endc\n.end\n")
    with pytest.raises(SpiceSyntaxError, match="'.control' blocks are not accepted: physnet never executes") as info:
        read_spice(netlist)
    assert info.value.line == 3 and str(info.value).startswith(f"{netlist}:3: ")
    assert not marker.exists()


@pytest.mark.parametrize(
    "card, match",
    [
        ("shell rm -rf /", "'shell' commands are not accepted: physnet never executes"),
        (".exec", "'.exec' blocks are not accepted"),
        (".endc", "not accepted"),
        (".lib models.lib tt", "'.lib' is not supported"),
        (".subckt amp in out", "subcircuits"),
        ("X1 a b amp", "element type 'X' is not supported"),
        (".param rval=1k", "'.param' is not supported"),
        ("R2 a 0 {rval}", r"expressions \(\{...\}"),
        ("R2 a 0 '1k*2'", "expressions"),
        ("Q1 c b e npn", r"element type 'Q' is not supported \(R D V I C L are\)"),
        ("M1 d g s b nmos", "element type 'M' is not supported"),
        ("E1 a 0 b 0 2", "element type 'E' is not supported"),
        ("B1 a 0 v=1", "element type 'B' is not supported"),
        (".four 1k v(a)", r"dot card '.four' is not supported \(physnet reads .op"),
        (".pz 1 0 2 0 vol pz", "dot card '.pz' is not supported"),
        ("12 a b", "cannot read '12'"),
        ("#include x", "cannot read"),
    ],
)
def test_refused_cards(card, match):
    refused(f"t\nR1 a 0 1k\n{card}\n", 3, match)


def test_the_first_refused_line_is_reported():
    refused("t\nR1 a 0 1k\nQ1 c b e npn\n.control\nshell ls\n.endc\n", 3, "element type 'Q'")
    refused("t\n.control\nlet x = 1\nop\n.endc\nQ1 c b e npn\n", 2, "'.control' blocks")


@pytest.mark.parametrize(
    "text, line, match",
    [
        ("t\nR1 a 0 1x2\n", 2, r"resistor 'r1': r = '1x2' is not a number \(write e.g. 1k"),
        ("t\nR1 a 0 1k\nR2 b\n", 3, "resistor 'r2': needs two node names"),
        ("t\nR1 a 0\n", 2, "the r value is missing"),
        ("t\nR1 a 0 1 2\n", 2, "unexpected '2'"),
        ("t\nR1 a = 0 1\n", 2, "needs two node names"),
        ("t\nC1 a 0 -1n\n", 2, r"c = -1e-09 F is invalid"),
        ("t\nL1 a 0 0\n", 2, "l = 0.0 H is invalid"),
        ("t\n+ 1k\nR1 a 0 1\n", 2, "continuation line"),
        ("t\nR1 a 0 1k\nR2 a b 1k\nr1 b 0 2k\n", 4, r"duplicate element name 'r1'.*first defined at t.cir:2"),
    ],
)
def test_malformed_cards(text, line, match):
    refused(text, line, match)


def test_builder_errors_name_the_card_among_many():
    lines = [f"R{k} n{k} n{k + 1} 1k" for k in range(500)]
    lines[321] = "R7 n321 n322 1k"  # duplicate of line 9 (R7), at line 323
    message = refused("grid\n" + "\n".join(lines) + "\n", 323, "duplicate element name 'r7'")
    assert "first defined at t.cir:9" in message


def test_errors_in_continued_cards_name_the_first_line():
    refused("t\nR1 a 0\n+ 1k\n+ ac=2k\n", 2, "parameter 'ac'")


# ------------------------------------------------------------------ includes
def test_include_reads_in_place(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "load.inc").write_text("R2 out 0 1k\n.include 'more.inc'\n")
    (tmp_path / "sub" / "more.inc").write_text("R3 out 0 2k ; from the nested include\n.model dm d is=1e-12\n")
    (tmp_path / "top.cir").write_text('t\nV1 in 0 1\nR1 in out 1k\n.inc "sub/load.inc"\nR4 out 0 4k\nD1 out 0 dm\n')
    s = read_spice(tmp_path / "top.cir").compile()
    assert s["resistor"].names == ("r1", "r2", "r3", "r4")
    assert s["diode"]["is_"].tolist() == [1e-12]


def test_include_errors_name_the_included_file_and_line(tmp_path):
    (tmp_path / "bad.inc").write_text("R2 out 0 1k\n\nR3 out 0 1q2\n")
    (tmp_path / "top.cir").write_text("t\nR1 in out 1k\n.include bad.inc\n")
    with pytest.raises(SpiceSyntaxError) as info:
        read_spice(tmp_path / "top.cir")
    assert info.value.path == str(tmp_path / "bad.inc") and info.value.line == 3


def test_include_outside_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.inc").write_text("R9 a 0 1\n")
    (tmp_path / "net").mkdir()
    top = tmp_path / "net" / "top.cir"
    for target in ("../secret.inc", str(tmp_path / "secret.inc"), "/etc/passwd"):
        top.write_text(f"t\nR1 a 0 1\n.include {target}\n")
        with pytest.raises(SpiceSyntaxError, match="outside the netlist's folder") as info:
            read_spice(top)
        assert info.value.line == 3


def test_include_through_a_symlink_that_escapes_is_refused(tmp_path):
    (tmp_path / "secret.inc").write_text("R9 a 0 1\n")
    (tmp_path / "net").mkdir()
    os.symlink(tmp_path / "secret.inc", tmp_path / "net" / "link.inc")
    (tmp_path / "net" / "top.cir").write_text("t\n.include link.inc\n")
    with pytest.raises(SpiceSyntaxError, match="outside the netlist's folder"):
        read_spice(tmp_path / "net" / "top.cir")


def test_include_cycles_are_refused(tmp_path):
    (tmp_path / "a.inc").write_text("R1 a 0 1\n.include b.inc\n")
    (tmp_path / "b.inc").write_text("R2 a 0 1\n.include a.inc\n")
    (tmp_path / "top.cir").write_text("t\n.include a.inc\n")
    with pytest.raises(SpiceSyntaxError, match=r"include cycle: a.inc -> b.inc -> a.inc") as info:
        read_spice(tmp_path / "top.cir")
    assert (info.value.path, info.value.line) == (str(tmp_path / "b.inc"), 2)
    (tmp_path / "self.cir").write_text("t\n.include self.cir\n")
    with pytest.raises(SpiceSyntaxError, match="include cycle: self.cir -> self.cir"):
        read_spice(tmp_path / "self.cir")


def test_include_missing_or_not_a_file(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "top.cir").write_text("t\n.include nothere.inc\n")
    with pytest.raises(SpiceSyntaxError, match="is not a file"):
        read_spice(tmp_path / "top.cir")
    (tmp_path / "top.cir").write_text("t\n.include dir\n")
    with pytest.raises(SpiceSyntaxError, match="is not a file"):
        read_spice(tmp_path / "top.cir")


def test_include_from_text_needs_a_folder(tmp_path):
    (tmp_path / "r.inc").write_text("R1 a 0 1\n")
    refused("t\n.include r.inc\n", 2, "without a folder")
    assert len(parse_spice("t\n.include r.inc\n", base_dir=tmp_path).compile()["resistor"]) == 1


# ------------------------------------------------------------------ real reference netlists
def test_xyce_bug204():
    s = read_spice(DATA / "xyce" / "bug204.cir").compile()
    assert len(s["vsource"]) == 2 and len(s["resistor"]) == 1 and len(s["diode"]) == 1
    assert s["diode"]["is_"].tolist() == [1e-13] and s["diode"]["n"].tolist() == [1.0]
    assert s["vsource"].names == ("vin", "vmon") and s["vsource"]["dc"].tolist() == [5.0, 0.0]
    assert [(a.kind, a.args) for a in s.analyses] == [("dc", ("vin", 5.0, 5.0))]


def test_xyce_diode_transient_and_resistors():
    s = read_spice(DATA / "xyce" / "diode.cir").compile()
    v = s["vsource"]
    assert v["wave"][0] == WAVE_PULSE and v["pulse_v2"][0] == -1.0 and v["pulse_period"][0] == 2e-4
    assert s.analyses[0].args == (0.0, 5e-4)
    assert read_spice(DATA / "xyce" / "resistor.cir").compile()["resistor"]["g"].tolist() == [1e-3]
    assert len(read_spice(DATA / "xyce" / "bug347_diode_dc.cir").compile()["diode"]) == 1


def test_xyce_negative_resistor():
    with pytest.raises(SpiceSyntaxError, match="allow_negative"):
        read_spice(DATA / "xyce" / "resistor_neg.cir")
    s = read_spice(DATA / "xyce" / "resistor_neg.cir", allow_negative=True).compile()
    assert s["resistor"]["g"].tolist() == [-0.01]
    assert s.node_names == ("0", "a")


def test_ngspice_netlists_that_read():
    s = read_spice(DATA / "ngspice" / "resistance" / "res_simple.cir").compile()
    assert s.title == "A simple resistor with a voltage source"
    assert s["resistor"]["g"].tolist() == [1e-4] and s.analyses[0].args == (1e-9, 6e-9)
    rc = read_spice(DATA / "ngspice" / "general" / "rc.cir").compile()
    assert rc["vsource"]["wave"][0] == WAVE_PULSE and rc["vsource"]["ac_mag"][0] == 1.0
    assert rc["capacitor"]["c"].tolist() == [1.0]


@pytest.mark.parametrize(
    "name, line, match",
    [
        ("resistance/res_partition.cir", 5, "resistor 'r2': parameter 'ac' is not supported"),
        ("filters/lowpass.cir", 8, "'distof1' is not supported"),
        ("polezero/filt_rc.cir", 6, "'.pz' is not supported"),
        ("regression/pz/ac-resistance.cir", 12, "'.control' blocks are not accepted"),
        ("regression/sens/sens-dc-1.cir", 19, "'.control' blocks are not accepted"),
    ],
)
def test_ngspice_netlists_that_are_refused(name, line, match):
    with pytest.raises(SpiceSyntaxError, match=match) as info:
        read_spice(DATA / "ngspice" / name)
    assert info.value.line == line


def test_ibmpg1():
    net = read_spice(DATA / "ibmpg" / "ibmpg1.spice")
    s = net.compile()
    assert (len(s["resistor"]), len(s["vsource"]), len(s["isource"])) == (30027, 14308, 10774)
    assert s.n_nodes == 30636  # 30635 nodes + ground "0", as in ibmpg1.solution's 30636 lines
    assert [a.kind for a in s.analyses] == ["op"]
    vdd = s["vsource"]["dc"]
    assert (vdd == 0).sum() == 14208 and (vdd == 1.8).sum() == 100
    solution = {line.split()[0] for line in (DATA / "ibmpg" / "ibmpg1.solution").read_text().splitlines()}
    assert set(s.node_names[1:]) | {"g"} == {name.lower() for name in solution}
    i = s["isource"].index("ib33_0_g")
    assert s["isource"].a[i] == 0  # "iB33_0_g 0 n0_... I" injects into the ground grid


def test_ibmpg1t_pulse_sources():
    s = read_spice(IBMPG1T).compile()
    i = s["isource"]
    assert len(i) == 10774 and (i["wave"] == WAVE_PULSE).all()
    # the DC value equals v1 of the pulse (the file prints some with other digits: 1.7484199999999998e-5)
    np.testing.assert_allclose(i["dc"], i["pulse_v1"], rtol=1e-15)
    assert (len(s["capacitor"]), len(s["inductor"])) == (10774, 277)
    assert s.analyses[0].kind == "tran" and s.analyses[0].args[1] == 1e-8


def test_example_netlists_read():
    paths = sorted(NETLISTS.glob("*.cir"))
    assert {p.name for p in paths} >= {"divider.cir", "diode_clipper.cir", "rc_lowpass.cir", "two_tone_diode.cir"}
    for path in paths:
        read_spice(path).compile()
    tones = read_spice(NETLISTS / "two_tone_diode.cir").compile()["isource"]["sin_freq"]
    assert sorted(tones.tolist()) == [1e3, 7.3e3]


def test_netlist_errors_are_value_errors():
    with pytest.raises(ValueError):
        parse_spice("t\nR1 a 0 0\n")
    assert issubclass(SpiceSyntaxError, NetlistError)
