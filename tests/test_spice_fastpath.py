"""The SPICE reader's fast paths give what the card-by-card reader gives.

Kinds with many cards are read column-wise by Arrow's CSV reader
(``physnet.spice.read._columns``, from ``_COLUMNS_FROM`` cards on); the rest
column-wise by ``str.split`` or card by card. Each text here is read with the
Arrow path forced on every kind and with it switched off: both must give the
same System bit for bit, or the same error (file, line and culprit). The
netlist's bulk lane for names (``_new_names``) and its node declaration are
checked on their own.
"""

import re
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physnet import Netlist
from physnet.errors import NetlistError, SpiceSyntaxError
from physnet.spice import parse_spice, read_spice
from physnet.spice import read as reader

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def arrow(on: bool):
    """Read every kind with Arrow (``on``) or never."""
    with mock.patch.object(reader, "_COLUMNS_FROM", 0 if on else 10**9):
        yield


def outcome(read, on: bool):
    """``("ok", system)`` or ``("error", type, message)`` of ``read()`` with Arrow on or off."""
    with arrow(on):
        try:
            return ("ok", read().compile())
        except (SpiceSyntaxError, NetlistError) as err:
            return ("error", type(err).__name__, str(err))


def differences(a, b):
    """Everything that differs between two systems: names, nodes, bit patterns of every array, analyses."""
    out = [f for f in ("title", "node_names", "temperature", "analyses") if getattr(a, f) != getattr(b, f)]
    for kind, table in a.elements.items():
        other = b[kind]
        out += [f"{kind}.names"] if table.names != other.names else []
        out += [f"{kind}.{f}" for f in ("a", "b") if getattr(table, f).tobytes() != getattr(other, f).tobytes()]
        out += [f"{kind}.{p}" for p in table.values if table[p].tobytes() != other[p].tobytes()]
    return out


def assert_same(read):
    fast, slow = outcome(read, True), outcome(read, False)
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "ok":
        assert differences(fast[1], slow[1]) == []
    else:
        assert fast == slow
    return fast


def grid(n: int = 6) -> list[str]:
    """The resistor cards of an n x n grid, values as physnet writes them (plain decimals)."""
    cards = []
    for i in range(n):
        for j in range(n - 1):
            cards.append(f"R{len(cards) + 1} n{i}_{j} n{i}_{j + 1} {1000.0 + len(cards) / 7!r}")
            cards.append(f"R{len(cards) + 1} n{j}_{i} n{j + 1}_{i} {1 / (1e-3 + len(cards) / 7e4)!r}")
    return cards


def netlist(cards: list[str], tail: str = "V1 n0_0 0 1\n.op\n.end\n") -> str:
    return "grid\n" + "\n".join(cards) + "\n" + tail


def test_arrow_reads_a_plain_grid(monkeypatch):
    taken = []
    columns = reader._columns
    monkeypatch.setattr(reader, "_columns", lambda kind, blocks: taken.append(columns(kind, blocks)) or taken[-1])
    text = netlist(grid())
    assert assert_same(lambda: parse_spice(text, "g.cir"))[0] == "ok"
    assert [rows.kind for rows in taken] == ["resistor", "vsource"]  # both went through Arrow
    assert list(taken[0].numbers) == ["r"]  # and Arrow read the resistances


def _read_in_child(text, queue):
    queue.put(parse_spice(text, "g.cir").compile().node_names)


def test_a_forked_child_reads_with_a_worker_of_its_own():
    """The reader's worker thread does not survive a fork: a child that reads starts its own (no deadlock)."""
    import multiprocessing

    text = netlist(grid(60))  # 7080 cards: the Arrow path, which numbers the nodes on the worker
    expected = parse_spice(text, "g.cir").compile().node_names  # the parent's worker is running now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(text, queue))
    child.start()
    assert queue.get(timeout=60) == expected
    child.join(timeout=60)
    assert child.exitcode == 0


def test_arrow_reads_the_ascii_cards_of_a_file_with_non_ascii_comments(monkeypatch):
    taken = []
    columns = reader._columns
    monkeypatch.setattr(reader, "_columns", lambda kind, blocks: taken.append(columns(kind, blocks)) or taken[-1])
    cards = grid()
    text = netlist(cards[:3] + ["* résistances en ohms (Ω)"] + cards[3:])
    assert assert_same(lambda: parse_spice(text, "g.cir"))[0] == "ok"
    assert taken[0] is not None and list(taken[0].numbers) == ["r"]


@pytest.mark.parametrize("change", [
    lambda c: c,
    lambda c: [card.rsplit(" ", 1)[0] + " 4.7k" if i % 3 == 0 else card for i, card in enumerate(c)],
    lambda c: [card.upper() for card in c],
    lambda c: [card.replace(" ", "\t", 1) if i == 3 else card for i, card in enumerate(c)],
    lambda c: [card.replace(" ", "  ", 1) if i == 3 else card for i, card in enumerate(c)],
    lambda c: [card + " " if i == 3 else card for i, card in enumerate(c)],
    lambda c: [" " + card if i == 3 else card for i, card in enumerate(c)],
    lambda c: [card + " ; ohms" if i == 3 else card for i, card in enumerate(c)],
    lambda c: [card.rsplit(" ", 1)[0] + "\n+ " + card.rsplit(" ", 1)[1] if i == 3 else card
               for i, card in enumerate(c)],
    lambda c: [card.rsplit(" ", 1)[0] + " r=" + card.rsplit(" ", 1)[1] if i == 3 else card
               for i, card in enumerate(c)],
    lambda c: c[:3] + ["* a comment", "", "C1 n0_0 n1_1 1u"] + c[3:],  # interleaved kinds: non-consecutive runs
    lambda c: [card.replace("n1_1", "gnd") for card in c],
    lambda c: [card.replace("n1_1", "GND").replace("n2_2", "1") for card in c],
    lambda c: [card.replace("n1_1", "nœud") for card in c],
    lambda c: [card.replace("n1_1", "a\x00b") for card in c],
    lambda c: [card + "2" if i == 4 else card for i, card in enumerate(c)],
    lambda c: [card.rsplit(" ", 1)[0] + " 1.000000000000000000000001" if i == 5 else card
               for i, card in enumerate(c)],
], ids=["plain", "scale-factors", "upper", "tab", "two-spaces", "trailing-space", "leading-space", "comment",
        "continuation", "keyword", "interleaved", "gnd", "GND-and-numeric-nodes", "non-ascii", "nul", "longer-value",
        "25-digit-resistance"])
def test_variants_read_the_same(change):
    text = netlist(change(grid()))
    assert assert_same(lambda: parse_spice(text, "g.cir"))[0] == "ok"


@pytest.mark.parametrize("change, message", [
    (lambda c: c + [c[4].replace("1k", "2k")], r"g\.cir:\d+: duplicate element name 'r5'.*first defined at g\.cir:6\)"),
    (lambda c: [card.rsplit(" ", 1)[0] + " 1q?" if i == 7 else card for i, card in enumerate(c)],
     r"g\.cir:9: resistor 'r8': r = '1q\?' is not a number"),
    (lambda c: [card.rsplit(" ", 1)[0] + " 0" if i == 7 else card for i, card in enumerate(c)],
     r"g\.cir:9: resistor 'r8': resistance '0' is zero"),
    (lambda c: [card.rsplit(" ", 1)[0] + " -5" if i == 7 else card for i, card in enumerate(c)],
     r"g\.cir:9: resistor 'r8': resistance '-5' is negative"),
    (lambda c: [card.rsplit(" ", 1)[0] + " inf" if i == 7 else card for i, card in enumerate(c)],
     r"g\.cir:9: resistor 'r8': r = 'inf' is not a number"),
    (lambda c: [card.rsplit(" ", 1)[0] if i == 7 else card for i, card in enumerate(c)],
     r"g\.cir:9: resistor 'r8': the r value is missing"),
    (lambda c: [card + " 3" if i == 7 else card for i, card in enumerate(c)], r"g\.cir:9: resistor 'r8': unexpected"),
    (lambda c: [card.replace("n1_1", "{x}") for card in c], r"g\.cir:\d+: expressions"),
    (lambda c: c + [".control", "shell rm -rf /"], r"g\.cir:\d+: '\.control' blocks are not accepted"),
    (lambda c: [c[0], ".control"] + c[1:], r"g\.cir:3: '\.control' blocks are not accepted"),
    (lambda c: c + ["Q1 a b c npn"], r"g\.cir:\d+: element type 'Q' is not supported"),
])
def test_errors_are_the_same(change, message):
    text = netlist(change(grid()))
    result = assert_same(lambda: parse_spice(text, "g.cir"))
    assert result[0] == "error" and result[1] == "SpiceSyntaxError"
    assert re.match(message, result[2]), result[2]


def test_negative_resistances_when_allowed():
    text = netlist([card.rsplit(" ", 1)[0] + " -5" if i == 7 else card for i, card in enumerate(grid())])
    fast = assert_same(lambda: parse_spice(text, "g.cir", allow_negative=True))
    assert fast[0] == "ok" and fast[1]["resistor"]["g"][7] == -0.2


def test_diodes_capacitors_and_sources_through_arrow():
    cards = grid(3) + [f"D{i} n{i}_0 n{i}_1 dm" for i in range(3)] + [f"C{i} n{i}_1 0 {i + 1}p" for i in range(3)]
    cards += ["I1 0 n2_2 1m", "L1 n0_2 n1_2 1u", ".model dm D (IS=1e-12 N=1.5)"]
    assert assert_same(lambda: parse_spice(netlist(cards), "g.cir"))[0] == "ok"
    missing = netlist(cards[:-1])
    result = assert_same(lambda: parse_spice(missing, "g.cir"))
    assert result[0] == "error" and "model 'dm' is not defined" in result[2]


def test_sources_that_are_not_plain_fall_back():
    text = netlist(grid(3), tail="V1 n0_0 0 ac\nV2 n1_0 0 dc 1\nI1 0 n2_2 sin(0 1 1k)\n.op\n.end\n")
    assert assert_same(lambda: parse_spice(text, "g.cir"))[0] == "ok"


def test_includes(tmp_path):
    cards = grid(4)
    (tmp_path / "part.inc").write_text("\n".join(cards[10:]) + "\n")
    (tmp_path / "top.cir").write_text(netlist(cards[:10], tail='.include "part.inc"\nR99 n0_0 n3_3 5\n.end\n'))
    assert assert_same(lambda: read_spice(tmp_path / "top.cir"))[0] == "ok"
    (tmp_path / "part.inc").write_text("\n".join(cards[10:] + [cards[2]]) + "\n")  # r3 again, in the include
    result = assert_same(lambda: read_spice(tmp_path / "top.cir"))
    assert result[0] == "error" and "part.inc" in result[2] and "first defined at" in result[2]


# ------------------------------------------------------------------ random netlists
def rarely(common, rare, weight=30):
    """Mostly one of ``common``, now and then one of ``rare``."""
    return st.sampled_from(common * weight + rare)


node = rarely(["a", "b", "c", "n1", "N2", "0", "gnd", "1", "x_y"], ["(", "'", "\u00e9", "r=1", "a\x00"])
number = rarely(["1", "2k", "3.3", "1e-3", "47u", "1meg", "10kohm", "-1", "0"],
                ["nan", "1q", "1.0000000000000000000002", "(", "r=1"])
blank = rarely([" "], ["  ", "\t", " \t"])


@st.composite
def cards(draw):
    """Mostly well-formed R and C cards, with now and then a stray token, blank, comment or duplicate name."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        letter = draw(st.sampled_from("RRRC"))
        index = draw(rarely([len(out) + 1], [1, 2]))  # now and then a name given twice
        fields = [letter + str(index), draw(node), draw(node), draw(number)]
        fields = draw(rarely([fields], [fields[:3], fields + ["5"]]))
        card = fields[0] + "".join(draw(blank) + f for f in fields[1:])
        out.append(card + draw(rarely([""], [" ", " ; note"])))
        out += draw(rarely([[]], [["* comment"], [""], ["+ 5"]]))
    return out


@SETTINGS
@given(cards(), st.booleans())
def test_random_netlists_read_the_same(body, allow_negative):
    text = "random\n" + "\n".join(body) + "\nV1 a 0 1\n.end\n"
    assert_same(lambda: parse_spice(text, "g.cir", allow_negative=allow_negative))


@SETTINGS
@given(st.integers(1, 3).flatmap(lambda k: st.lists(
    st.tuples(*[st.sampled_from(["", "a", "b", "ab", "ba", "n1_2", "n12_", "\u00e9", "0"]) | st.text(max_size=4)] * k),
    min_size=1, max_size=40)))
def test_factorize_kernel_equals_its_python_twin(rows):
    """factorize_strings on Arrow's buffers numbers strings as reader._factorize does on Python strings."""
    import pyarrow as pa

    from physnet._numba import factorize_strings

    columns = [list(column) for column in zip(*rows)]
    arrays = [pa.array(column, pa.string()) for column in columns]
    arrays = [array.slice(1) if len(array) > 1 else array for array in arrays]  # an offset into the buffers too
    columns = [column[1:] if len(column) > 1 else column for column in columns]
    codes, first = factorize_strings(tuple(reader._offsets(a) for a in arrays), tuple(reader._bytes(a) for a in arrays))
    names, expected = reader._factorize(*columns)
    assert np.array_equal(codes, expected)
    k = len(columns)
    assert [columns[p % k][p // k] for p in first.tolist()] == names


def test_factorize_kernel_probes_past_shared_slots():
    """Thousands of strings, so that many land in a taken slot of the table, each seen twice, keep their codes."""
    import pyarrow as pa

    from physnet._numba import factorize_strings

    words = [f"n{i}" for i in range(2000)] * 2
    array = pa.array(words)
    codes, first = factorize_strings((reader._offsets(array),), (reader._bytes(array),))
    assert codes[:, 0].tolist() == list(range(2000)) * 2 and first.tolist() == list(range(2000))


# ------------------------------------------------------------------ the netlist side
def test_new_names_lane_still_refuses_a_duplicate_later():
    net = parse_spice(netlist(grid(3)))
    with pytest.raises(NetlistError, match="duplicate element name 'r2'"):
        net.resistor("r2", "a", "b", r=1.0)
    net.resistor("r999", "a", "b", r=1.0)
    assert len(net.compile()["resistor"]) == 13


def test_nodes_numbering_with_and_without_lookups():
    net = Netlist()
    assert net.nodes(["a", "b", "c"]).tolist() == [1, 2, 3]  # all new: numbered in a row
    assert net.nodes(["d", "a", "d", "GND", "e"]).tolist() == [4, 1, 4, 0, 5]
    assert net.nodes(["gNd", "f"]).tolist() == [0, 6]
    assert net.node_names == ("0", "a", "b", "c", "d", "e", "f")


def _one_by_one(declared, names):
    """Node indices of ``names`` and the node table, declaring every name on its own (the reference)."""
    table = {"0": 0}
    for name in [*declared, *names]:
        table.setdefault("0" if name.lower() in ("0", "gnd") else name, len(table))
    return [table["0" if name.lower() in ("0", "gnd") else name] for name in names], tuple(table)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "0", "gnd"]), max_size=4),
       st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h", "0", "gnd", "GnD", "gNd"]), max_size=14))
def test_bulk_nodes_number_as_one_by_one(declared, names):
    """Many names at once (one pass into the table, then the known ones taken out) = one at a time."""
    net = Netlist()
    net.nodes(declared)
    assert (net.nodes(names).tolist(), net.node_names) == _one_by_one(declared, names)


def test_a_bad_node_name_leaves_the_table_untouched():
    net = Netlist()
    net.nodes(["a", "b"])
    with pytest.raises(NetlistError, match="node name 'c d'"):
        net.nodes(["x", "y", "z", "c d"])
    assert net.node_names == ("0", "a", "b")


@pytest.mark.parametrize("name", ["a b", "a\tb", "a\u00a0b", "a\u2003b", "a\x1cb", "", " a", "a\n"])
def test_bad_names_are_still_refused(name):
    with pytest.raises(NetlistError, match="must be non-empty and contain no whitespace"):
        Netlist().nodes(["x", name])
    with pytest.raises(NetlistError, match="must be non-empty and contain no whitespace"):
        Netlist().add_many("resistor", ["r0", name], ["a", "a"], ["b", "b"], g=[1.0, 1.0])


def test_names_with_odd_but_legal_characters_pass():
    net = Netlist()
    net.add_many("resistor", ["r\u200b1", "r\x002"], ["a\u200bb", "a"], ["b", "c\x00"], g=[1.0, 2.0])
    assert net.compile()["resistor"].names == ("r\u200b1", "r\x002")
    assert np.array_equal(net.nodes(["a\u200bb", "c\x00"]), [1, 4])


@SETTINGS
@given(st.lists(st.text("0123456789.e+-_xinfaINF ", min_size=1, max_size=12)
                | st.floats(allow_nan=False, allow_infinity=False).map(repr), min_size=1, max_size=20))
def test_arrow_reads_numbers_as_spice_does_or_not_at_all(tokens):
    """The Arrow path relies on this: a finite number Arrow reads is the one parse_number reads."""
    import pyarrow as pa

    from physnet.spice.units import NumberError, parse_number

    for token in tokens:
        try:
            number = pa.array([token]).cast(pa.float64())[0].as_py()
        except pa.ArrowInvalid:
            continue
        if np.isfinite(number):
            try:
                assert np.float64(parse_number(token)).tobytes() == np.float64(number).tobytes()
            except NumberError:
                pytest.fail(f"Arrow reads {token!r} as {number!r}, SPICE refuses it")
