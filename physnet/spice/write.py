"""Write a network as an ngspice netlist: deterministic text, safe names, exact numbers.

The text is: the title line, a comment header, the elements grouped by kind
in the order of :data:`physnet.elements.ELEMENTS` (each kind's SPICE letter
and parameters come from that table), one ``.model`` card per distinct diode
parameter set (``d_model1``, ``d_model2``... in order of first use), ``.temp``
when the temperature is not 27 °C, the recorded analyses and ``.end``. Never
a ``.control`` block: the netlist describes the circuit, it runs nothing.

Every number is written so that :func:`physnet.spice.read_spice` reads back
the same float64 (resistors are written as ``1/g`` with
:func:`physnet.spice.units.resistance_texts`). Names go through
:mod:`physnet.spice.names`. Pipes are written as resistors by the
hydraulic-electric analogy (``R = 1/k``) and read back as resistors; springs
have no SPICE equivalent and are an error. Node positions and nodes that no
element touches are not part of SPICE and are not written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from physnet.constants import T_NOMINAL
from physnet.elements.table import ELEMENTS, SOURCE_PARAMS, WAVE_DC, WAVE_PULSE, WAVE_SIN, ElementTable
from physnet.errors import NetlistError
from physnet.netlist import Netlist
from physnet.spice.names import element_names, node_names, title_line
from physnet.spice.units import format_number, resistance_texts
from physnet.system import Analysis, System

__all__ = ["format_spice", "write_spice"]

_WAVES = {
    code: (word.upper(), tuple(p.name for p in SOURCE_PARAMS if p.name.startswith(word + "_")))
    for word, code in (("sin", WAVE_SIN), ("pulse", WAVE_PULSE))
}
_PIPE_NOTE = ("* pipes below are written as resistors by the hydraulic-electric analogy (R = 1/k; pressure <-> "
              "voltage, flow <-> current): they read back as resistors")


def _letter(kind: str) -> str:
    """SPICE letter a kind is written with (pipes as resistors); raise for kinds SPICE cannot hold."""
    letter = ELEMENTS[kind].letter or ("R" if kind == "pipe" else None)
    if letter is None:
        raise NetlistError(f"{kind} elements cannot be exported to SPICE: the {ELEMENTS[kind].domain} domain has "
                           "no SPICE equivalent (remove them, or export the electric part of the network)")
    return letter


def _system(netlist_or_system: Netlist | System) -> System:
    if isinstance(netlist_or_system, Netlist):
        return netlist_or_system.compile()
    if isinstance(netlist_or_system, System):
        return netlist_or_system
    raise TypeError(f"expected a physnet Netlist or System, got {type(netlist_or_system).__name__}")


def _written_names(system: System) -> dict[str, list[str]]:
    """Safe element names per kind, distinct across kinds that share a letter."""
    kinds = [kind for kind in ELEMENTS if system.has(kind)]
    out = {}
    for letter in dict.fromkeys(_letter(kind) for kind in kinds):
        group = [kind for kind in kinds if _letter(kind) == letter]
        written = iter(element_names([n for kind in group for n in system[kind].names], letter))
        for kind in group:
            out[kind] = [next(written) for _ in system[kind].names]
    return out


def _renamed(originals: Iterable[str], written: Iterable[str], letter: str = "") -> list[str]:
    """Comment lines for names that were escaped or de-duplicated (not merely prefixed or lowercased)."""
    return [
        f"* {ascii(old)} is written as {new}"
        for old, new in zip(originals, written)
        if new.lower() not in (old.lower(), (letter + old).lower())
    ]


def _header(system: System, nodes: list[str], names: dict[str, list[str]]) -> list[str]:
    lines = [f"* physnet netlist: {system.summary()}",
             "* written by physnet.spice.write_spice; physnet.read_spice reads every value back exactly"]
    if system.positions is not None:
        lines.append("* node positions are not part of SPICE and are not written")
    lines += _renamed(system.node_names, nodes)
    for kind, written in names.items():
        lines += _renamed(system[kind].names, written, _letter(kind))
    return lines


def _is_zero(value: float) -> bool:
    """Whether ``value`` is +0.0 (a -0.0 is written, so that it reads back bit for bit)."""
    return value == 0.0 and math.copysign(1.0, value) > 0


def _value_cards(table: ElementTable, names: list[str], nodes: list[str], values: Iterable[str]) -> list[str]:
    a, b = table.a.tolist(), table.b.tolist()
    return [f"{name} {nodes[i]} {nodes[j]} {value}" for name, i, j, value in zip(names, a, b, values)]


def _source_cards(table: ElementTable, names: list[str], nodes: list[str]) -> list[str]:
    """``<name> <n+> <n-> DC <v> [AC <mag> <phase>] [SIN(...) | PULSE(...)]``, every number exact."""
    column = {p.name: table[p.name].tolist() for p in SOURCE_PARAMS}
    texts = []
    for i, card in enumerate(_value_cards(table, names, nodes, [f"DC {format_number(v)}" for v in column["dc"]])):
        parts = [card]
        mag, phase = column["ac_mag"][i], column["ac_phase"][i]
        if not (_is_zero(mag) and _is_zero(phase)):
            parts.append(f"AC {format_number(mag)} {format_number(phase)}")
        wave = column["wave"][i]
        if wave in _WAVES:
            word, keys = _WAVES[wave]
            parts.append(f"{word}({' '.join(format_number(column[key][i]) for key in keys)})")
        elif wave != WAVE_DC:
            raise NetlistError(f"{table.spec.kind} {table.names[i]!r}: wave = {wave!r} is not "
                               f"{WAVE_DC} (DC), {WAVE_SIN} (SIN) or {WAVE_PULSE} (PULSE)")
        texts.append(" ".join(parts))
    return texts


def _diode_cards(table: ElementTable, names: list[str], nodes: list[str]) -> list[str]:
    """Diode cards, then one ``.model`` per distinct parameter set (compared bit for bit)."""
    params = ELEMENTS["diode"].params
    rows = list(zip(*(table[p.name].tolist() for p in params)))
    models = {key: f"d_model{k + 1}" for k, key in enumerate(dict.fromkeys(tuple(map(float.hex, r)) for r in rows))}
    used = [models[tuple(map(float.hex, r))] for r in rows]
    cards = _value_cards(table, names, nodes, used)
    for key, model in models.items():
        values = " ".join(f"{p.name.rstrip('_').upper()}={format_number(float.fromhex(x))}"
                          for p, x in zip(params, key))
        cards.append(f".model {model} D ({values})")
    return cards


def _resistance_texts(table: ElementTable) -> list[str]:
    """Resistances ``1/g`` (or ``1/k`` for pipes), refusing conductances whose reciprocal overflows float64."""
    param = table.spec.params[0].name
    g = table[param]
    with np.errstate(over="ignore"):
        tiny = ~np.isfinite(1.0 / g)
    if tiny.any():
        i = int(np.argmax(tiny))
        raise NetlistError(f"{table.spec.kind} {table.names[i]!r}: {param} = {float(g[i])!r} is too small to write "
                           f"as a SPICE resistance (1/{param} overflows float64); raise it or remove the element")
    return resistance_texts(g)


def _element_cards(kind: str, table: ElementTable, names: list[str], nodes: list[str]) -> list[str]:
    if kind in ("resistor", "pipe"):
        cards = _value_cards(table, names, nodes, _resistance_texts(table))
        return [_PIPE_NOTE, *cards] if kind == "pipe" else cards
    if kind == "diode":
        return _diode_cards(table, names, nodes)
    if kind in ("vsource", "isource"):
        return _source_cards(table, names, nodes)
    return _value_cards(table, names, nodes, map(format_number, table[table.spec.params[0].name].tolist()))


def _analysis_card(analysis: Analysis | Sequence, sources: dict[str, str]) -> str:
    """One analysis card; a ``.dc`` source is looked up among the written source names."""
    kind, args = (analysis.kind, analysis.args) if isinstance(analysis, Analysis) else (analysis[0], analysis[1:])
    shapes = {"op": (0, 0), "dc": (3, 4), "ac": (4, 4), "tran": (2, 4)}
    if kind not in shapes or not shapes[kind][0] <= len(args) <= shapes[kind][1]:
        raise NetlistError(f"analysis {kind!r} with arguments {tuple(args)!r} cannot be written: expected "
                           "op (), dc (source, start, stop[, step]), ac (dec|oct|lin, points, fstart, fstop) "
                           "or tran (tstep, tstop[, tstart[, tmax]])")
    try:
        if kind == "dc":
            source = sources.get(args[0]) or sources[str(args[0]).lower()]
            return " ".join([".dc", source, *map(format_number, args[1:])])
        if kind == "ac":
            if args[0] not in ("dec", "oct", "lin") or int(args[1]) != args[1]:
                raise ValueError("sweep must be dec, oct or lin with a whole number of points")
            return f".ac {args[0]} {int(args[1])} {format_number(args[2])} {format_number(args[3])}"
        return " ".join([f".{kind}", *map(format_number, args)])
    except (KeyError, TypeError, ValueError) as err:
        raise NetlistError(f"analysis {kind} {tuple(args)!r} cannot be written: {err}") from None


def format_spice(netlist_or_system: Netlist | System, *, analyses: Iterable[Analysis | Sequence] | None = None) -> str:
    """The ngspice netlist text of a network (see the module docstring for its layout).

    Parameters
    ----------
    netlist_or_system : Netlist or System
        A Netlist is compiled first.
    analyses : iterable, optional
        Analyses to write instead of the system's own: :class:`physnet.system.Analysis`
        objects or tuples such as ``("ac", "dec", 10, 1.0, 1e6)``.

    Returns
    -------
    str

    Raises
    ------
    NetlistError
        The network holds springs, or an analysis cannot be written.

    Examples
    --------
    >>> from physnet import Netlist
    >>> net = Netlist("divider")
    >>> net.vsource("V1", "in", "0", dc=1.0, ac=1.0)
    >>> net.resistor("R1", "in", "out", r=1e3)
    >>> net.resistor("R2", "out", "0", r=3e3)
    >>> print(format_spice(net, analyses=[("op",), ("ac", "dec", 10, 1.0, 1e6)]))
    divider
    * physnet netlist: 3 nodes, resistor: 2, vsource: 1
    * written by physnet.spice.write_spice; physnet.read_spice reads every value back exactly
    R1 in out 1000.0
    R2 out 0 3000.0
    V1 in 0 DC 1.0 AC 1.0 0.0
    .op
    .ac dec 10 1.0 1000000.0
    .end
    <BLANKLINE>
    """
    system = _system(netlist_or_system)
    names = _written_names(system)
    nodes = node_names(system.node_names)
    lines = [title_line(system.title), *_header(system, nodes, names)]
    for kind in ELEMENTS:
        if kind in names:
            lines += _element_cards(kind, system[kind], names[kind], nodes)
    if system.temperature != T_NOMINAL:
        lines.append(f".temp {format_number(system.temperature)}")
    sources = {old: new for kind in ("vsource", "isource") for old, new in zip(system[kind].names, names.get(kind, []))}
    sources.update({old.lower(): new for old, new in list(sources.items())})
    lines += [_analysis_card(a, sources) for a in (system.analyses if analyses is None else analyses)]
    lines.append(".end")
    return "\n".join(lines) + "\n"


def write_spice(netlist_or_system: Netlist | System, path: str | os.PathLike) -> Path:
    """Write :func:`format_spice` text to ``path`` (UTF-8) and return the path.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from physnet import Netlist
    >>> from physnet.spice import read_spice
    >>> net = Netlist("rc")
    >>> net.isource("I1", "0", "a", dc=1e-3)
    >>> net.resistor("R1", "a", "0", r=1e3)
    >>> net.capacitor("C1", "a", "0", c=1e-9)
    >>> path = write_spice(net, pathlib.Path(tempfile.mkdtemp()) / "rc.cir")
    >>> read_spice(path).compile()["capacitor"]["c"]
    array([1.e-09])
    """
    path = Path(path)
    path.write_text(format_spice(netlist_or_system), encoding="utf-8")
    return path
