"""Property tests of the SPICE bridge.

* random valid netlists -> format_spice -> parse_spice give back the same System, bit for bit;
* random text, SPICE-like token soup and mutated netlists either read or raise a SpiceSyntaxError
  naming ``path:line`` -- never any other exception;
* arbitrary (unicode, hostile) names are sanitised on export: the text reads back with the same
  number of nodes and elements and no card that physnet did not write.
"""

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from physnet import Netlist
from physnet.elements.table import ELEMENTS, SOURCE_PARAMS, WAVE_DC, WAVE_PULSE, WAVE_SIN
from physnet.errors import NetlistError, SpiceSyntaxError
from physnet.spice import format_spice, parse_spice
from physnet.spice.names import is_safe, title_line

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = [kind for kind, spec in ELEMENTS.items() if spec.letter]  # the kinds SPICE reads back as themselves
WAVE_KEYS = {code: [p.name for p in SOURCE_PARAMS if p.name.startswith(prefix)]
             for code, prefix in ((WAVE_SIN, "sin_"), (WAVE_PULSE, "pulse_"))}
PATH_LINE = re.compile(r"^g\.cir:\d+: ")


def differences(a, b):
    """Everything that differs between two systems: names, nodes, bit patterns of every array, analyses."""
    out = [f for f in ("title", "node_names", "temperature", "analyses") if getattr(a, f) != getattr(b, f)]
    for kind, table in a.elements.items():
        other = b[kind]
        out += [f"{kind}.{f}" for f in ("names",) if table.names != other.names]
        out += [f"{kind}.{f}" for f in ("a", "b") if getattr(table, f).tobytes() != getattr(other, f).tobytes()]
        out += [f"{kind}.{p}" for p in table.values if table[p].tobytes() != other[p].tobytes()]
    return out


# ------------------------------------------------------------------ valid netlists
def value(rule):
    """Floats that satisfy an element-table validity rule, the whole float64 range included."""
    finite = st.floats(allow_nan=False, allow_infinity=False)
    return {"finite": finite, "nonnegative": st.floats(min_value=0.0, allow_infinity=False),
            "positive": st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)}[rule]


conductance = st.floats(min_value=1e-300, max_value=1e300) | st.floats(min_value=-1e300, max_value=-1e-300)
node_name = st.from_regex(r"[a-z0-9_][a-z0-9_.]{0,5}", fullmatch=True).filter(lambda n: n not in ("0", "gnd"))


@st.composite
def source_params(draw):
    params = {p.name: draw(value(p.rule)) for p in SOURCE_PARAMS if p.name in ("dc", "ac_mag", "ac_phase")}
    wave = draw(st.sampled_from([WAVE_DC, WAVE_SIN, WAVE_PULSE]))
    params["wave"] = float(wave)
    for key in WAVE_KEYS.get(wave, []):
        params[key] = draw(value(ELEMENTS["vsource"].param(key).rule))
    return params


def element_params(draw, kind):
    if kind == "resistor":
        return {"g": draw(conductance)}
    if kind in ("vsource", "isource"):
        return draw(source_params())
    return {p.name: draw(value(p.rule)) for p in ELEMENTS[kind].params}


@st.composite
def analyses(draw, sources):
    kind = draw(st.sampled_from(["op", "ac", "tran"] + (["dc"] if sources else [])))
    positive = st.floats(min_value=1e-12, max_value=1e12)
    if kind == "op":
        return ("op",)
    if kind == "dc":
        start, stop = draw(st.floats(-1e3, 1e3)), draw(st.floats(-1e3, 1e3))
        return ("dc", draw(st.sampled_from(sources)), start, stop, *draw(st.lists(positive, max_size=1)))
    if kind == "ac":
        start, stop = sorted([draw(positive), draw(positive)])
        return ("ac", draw(st.sampled_from(["dec", "oct", "lin"])), draw(st.integers(1, 10**6)), start, stop)
    stop = draw(positive)
    start = st.floats(0.0, stop, exclude_max=True)
    return ("tran", draw(st.floats(0.0, stop)), stop, *draw(st.lists(start, max_size=1)))


@st.composite
def netlists(draw):
    """Valid netlists with canonical (lowercase, safe) names, built kind by kind in table order."""
    title = title_line(draw(st.text(max_size=30)))  # the title as written: one printable line
    net = Netlist(title, draw(st.floats(min_value=-273.0, max_value=1e4)))
    nodes = ["0"] + draw(st.lists(node_name, min_size=1, max_size=6, unique=True))
    for kind in KINDS:
        letter = ELEMENTS[kind].letter.lower()
        for suffix in draw(st.lists(st.from_regex(r"[a-z0-9_]{1,4}", fullmatch=True), max_size=4, unique=True)):
            a, b = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
            params = element_params(draw, kind)
            if kind == "resistor":
                net.resistor(letter + suffix, a, b, g=params["g"], allow_negative=True)
            else:
                net.add(kind, letter + suffix, a, b, **params)
    sources = [n for kind in ("vsource", "isource") for n in net.compile()[kind].names]
    for args in draw(st.lists(analyses(sources), max_size=3)):
        net.analysis(*args)
    return net


@SETTINGS
@given(netlists())
def test_valid_netlists_round_trip_bit_for_bit(net):
    system = net.compile()
    text = format_spice(system)
    back = parse_spice(text, "g.cir", allow_negative=True).compile()
    assert differences(system, back) == []
    assert format_spice(back) == text


# ------------------------------------------------------------------ garbage in
def assert_reads_or_names_the_line(text):
    try:
        parse_spice(text, "g.cir").compile()
    except SpiceSyntaxError as err:
        assert PATH_LINE.match(str(err)), str(err)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1  # a lone CR ends a line too
        assert err.path == "g.cir" and type(err.line) is int and 1 <= err.line <= lines
    except NetlistError as err:  # pragma: no cover - would be a bug: every builder error is located
        raise AssertionError(f"NetlistError without path:line: {err}") from err


VOCABULARY = [
    "r1", "R2", "c1", "l1", "d1", "v1", "i1", "q1", "x1", "e1", "shell", "0", "gnd", "a", "b", "n1_2",
    "1k", "-1", "0", "1e-3", "2.5meg", "1x", "inf", "nan", "1_0", "1e999", "", "dc", "DC", "ac", "sin", "pulse",
    "pwl", "(", ")", ",", "=", "r=", "r=1k", "ac=15k", "sin(0", "1)", "{x}", "'1k'", '"f"', ";", "$", "*", "+",
    ".model", "dm", "d", "npn", "is=1e-14", "cjo=1p", ".op", ".dc", ".ac", "dec", ".tran", ".end", ".ends",
    ".control", ".endc", ".include", ".inc", "/etc/passwd", "..", ".title", ".temp", ".options", "temp=1",
    ".param", ".subckt", ".lib", ".print", "\t", "\u00e9", "\u0130", "\u2028", "\x00", "\ufeff", "\r",
]


@SETTINGS
@given(st.text())
def test_random_text_reads_or_names_the_line(text):
    assert_reads_or_names_the_line(text)


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(VOCABULARY), max_size=8).map(" ".join), max_size=12).map("\n".join))
def test_token_soup_reads_or_names_the_line(text):
    assert_reads_or_names_the_line(text)


@SETTINGS
@given(netlists(), st.data())
def test_mutated_netlists_read_or_name_the_line(net, data):
    lines = format_spice(net).splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        tokens = lines[i].split()
        mutation = data.draw(st.sampled_from(["delete", "duplicate", "insert", "token", "drop-token"]))
        if mutation == "delete":
            del lines[i]
        elif mutation == "duplicate":
            lines.insert(i, lines[i])
        elif mutation == "insert":
            lines.insert(i, " ".join(data.draw(st.lists(st.sampled_from(VOCABULARY), max_size=6))))
        elif tokens:
            j = data.draw(st.integers(0, len(tokens) - 1))
            tokens[j: j + 1] = [data.draw(st.sampled_from(VOCABULARY))] if mutation == "token" else []
            lines[i] = " ".join(tokens)
        if not lines:
            lines = [""]
    assert_reads_or_names_the_line("\n".join(lines))


# ------------------------------------------------------------------ hostile names
name = st.text(min_size=1, max_size=8).filter(lambda n: not any(c.isspace() for c in n))


@SETTINGS
@given(st.lists(name, min_size=1, max_size=6, unique=True), st.lists(name, min_size=1, max_size=8, unique=True),
       st.data())
def test_any_names_are_sanitised_on_export(node_pool, element_names, data):
    assume(not {n.lower() for n in node_pool} & {"0", "gnd"})
    net = Netlist("names")
    kinds = data.draw(st.lists(st.sampled_from(KINDS), min_size=len(element_names), max_size=len(element_names)))
    for element, kind in zip(element_names, kinds):
        a, b = data.draw(st.sampled_from(node_pool + ["0"])), data.draw(st.sampled_from(node_pool))
        net.add(kind, element, a, b, **{p.name: 1.0 for p in ELEMENTS[kind].params})
    system = net.compile()
    text = format_spice(system)
    back = parse_spice(text, "g.cir").compile()
    assert back.n_nodes == system.n_nodes
    assert {k: len(t) for k, t in back.elements.items()} == {k: len(t) for k, t in system.elements.items()}
    cards = [line for line in text.splitlines()[1:] if not line.startswith("*")]
    letters = tuple(ELEMENTS[kind].letter for kind in kinds)
    elements = [c for c in cards if not c.startswith(".")]
    assert len(elements) == len(element_names) and all(c.upper().startswith(letters) for c in elements)
    assert all(is_safe(token) for card in elements for token in card.split()[:3])
    assert {c.split()[0] for c in cards if c.startswith(".")} <= {".model", ".end"}
    assert text.isascii() and cards[-1] == ".end"
