"""The netlist builder: named nodes and elements in, a frozen System out.

Nodes are created on first use, as in SPICE; ``"0"`` and ``"gnd"`` (any case)
are ground. Element names are unique across the whole netlist. Every value is
checked when it is added, so an error points at the line of user code that
caused it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.constants import T_NOMINAL
from physnet.elements.pipe import hydraulic_conductance
from physnet.elements.table import ELEMENTS, WAVE_PULSE, WAVE_SIN, ElementSpec, ElementTable
from physnet.errors import NetlistError
from physnet.system import Analysis, System

__all__ = ["Netlist", "GROUND"]

GROUND = "0"
_GROUND_ALIASES = frozenset({"0", "gnd"})
_RULES = {
    "positive": (lambda x: x > 0, "a finite number > 0"),
    "nonnegative": (lambda x: x >= 0, "a finite number >= 0"),
    "finite": (lambda x: np.ones_like(x, dtype=bool), "a finite number"),
    "nonzero": (lambda x: x != 0, "a finite non-zero number"),
}


_WHITESPACE = re.compile(r"\s")
_GROUND_ALIASES = frozenset("".join(c) for c in itertools.product("gG", "nN", "dD"))  # and "0", ground's name


def _node_name(name: Any) -> str:
    if not isinstance(name, (str, int, np.integer)) or isinstance(name, bool):
        raise NetlistError(f"node name {name!r} must be a string")
    return str(name)


def _as_strings(items: Sequence[Any], convert) -> list[str]:
    """``items`` as a list of str, converting only when some item is not a str (one C-level check)."""
    try:
        "".join(items)  # TypeError unless every item is a str
        return list(items)
    except TypeError:
        return [n if isinstance(n, str) else convert(n) for n in items]


def _bad_name(names: Collection[str]) -> str | None:
    """The first empty name or name containing whitespace, if any (one C-level pass over all)."""
    if not names:
        return None
    joined = "\x00".join(names)
    if joined.split(None, 1) == [joined] and "" not in names:  # str.split and regex \s agree on whitespace
        return None
    return next(n for n in names if not n or _WHITESPACE.search(n))


class Netlist:
    """Mutable builder of a network; :meth:`compile` freezes it into a System.

    Parameters
    ----------
    title : str, optional
        Free text, written as the first line of an exported SPICE netlist.
    temperature : float, optional
        Circuit temperature in degrees Celsius (SPICE default 27).

    Examples
    --------
    A voltage divider:

    >>> import physnet as pn
    >>> net = pn.Netlist("divider")
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "out", r=1e3)
    >>> net.resistor("R2", "out", "0", r=1e3)
    >>> float(pn.solve_dc(net.compile())["out"])
    0.5
    """

    def __init__(self, title: str = "", temperature: float = T_NOMINAL) -> None:
        self.title = title
        self.temperature = float(temperature)
        self._nodes: dict[str, int] = {GROUND: 0}
        self._position_chunks: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = []
        self._names: set[str] = set()
        self._vouched: list[list[str]] = []  # names added with _new_names, not yet in _names
        self._chunks: dict[str, list[tuple[list[str], NDArray, NDArray, dict[str, NDArray]]]] = {
            kind: [] for kind in ELEMENTS
        }
        self.analyses: list[Analysis] = []

    # ------------------------------------------------------------------ nodes
    def node(self, name: str, position: Sequence[float] | None = None) -> int:
        """Declare (or look up) node ``name``, optionally with a position; return its index."""
        return int(self.nodes([name], None if position is None else [position])[0])

    def nodes(self, names: Sequence[str], positions: ArrayLike | None = None, *,
              _words: bool = False) -> NDArray[np.int64]:
        """Declare (or look up) many nodes at once; return their indices.

        Parameters
        ----------
        names : sequence of str
            Node names (no whitespace); ``"0"`` and ``"gnd"`` (any case) are ground.
        positions : array_like, shape (len(names), d), optional
            Coordinates (d = 2 or 3) for elastic networks and drawings.

        Notes
        -----
        ``_words=True`` is the SPICE reader's lane: the names are words split
        out of a netlist (strings, non-empty, free of whitespace), so they are
        not checked again.

        Examples
        --------
        >>> net = Netlist()
        >>> net.nodes(["a", "b", "GND", "a"]).tolist()
        [1, 2, 0, 1]
        """
        if not _words:
            names = _as_strings(names, _node_name)
            bad = _bad_name(names)
            if bad is not None:
                raise NetlistError(f"node name {bad!r} must be non-empty and contain no whitespace")
        index = self._many_nodes(names) if len(names) > len(self._nodes) else None
        if index is None:  # fewer names than the table holds, or some names repeat
            index = self._looked_up_nodes(names)
        if positions is not None:
            self._set_positions(names, index, positions)
        return index

    def _many_nodes(self, names: list[str]) -> NDArray[np.int64] | None:
        """:meth:`nodes` of more valid names than the table holds; None, declaring nothing, if some repeat.

        All go into the table in one pass, numbered by position, and the few
        known ones (declared before, or an alias of ground) are then taken
        out again, renumbering the names after the first of them: a SPICE
        reader's table of thousands of new node names costs one pass of dict
        inserts.
        """
        table = self._nodes
        start = len(table)
        before = table.copy()
        table.update(zip(names, range(start, start + len(names))))
        known = {table[n] - start: n for n in before if table[n] >= start}
        if len(table) != start + len(names) - len(known):
            self._nodes = before
            return None
        known.update((table[n] - start, n) for n in _GROUND_ALIASES if n in table)
        for n in known.values():
            if n in before:
                table[n] = before[n]
            else:
                del table[n]
        where = sorted(known)
        keep = np.ones(len(names), dtype=bool)
        keep[where] = False
        new = list(itertools.compress(names, keep)) if where else names
        renumber = where[0] if where else len(names)
        table.update(zip(new[renumber:], range(start + renumber, start + len(new))))
        index = np.empty(len(names), dtype=np.int64)
        index[keep] = np.arange(start, start + len(new))
        index[where] = [table.get(known[i], table[GROUND]) for i in where]  # an alias of ground is not in the table
        return index

    def _looked_up_nodes(self, names: list[str]) -> NDArray[np.int64]:
        """:meth:`nodes` of valid names, looked up one by one in C; the missing ones are declared in order."""
        table = self._nodes
        index = np.fromiter(map(table.get, names, itertools.repeat(-1)), dtype=np.int64, count=len(names))
        missing = np.flatnonzero(index < 0).tolist()
        if missing:
            absent = [names[i] for i in missing]
            new = [n for n in dict.fromkeys(absent) if n not in _GROUND_ALIASES]
            table.update(zip(new, range(len(table), len(table) + len(new))))
            index[missing] = [table.get(n, table[GROUND]) for n in absent]  # an alias of ground is not in the table
        return index

    def _set_positions(self, names: list[str], index: NDArray[np.int64], positions: ArrayLike) -> None:
        try:
            pos = np.array(positions, dtype=np.float64, ndmin=2)
        except (TypeError, ValueError):
            raise NetlistError(f"node {names[0]!r}: positions must be numbers") from None
        if pos.shape[0] != len(names) or pos.shape[1] not in (2, 3):
            raise NetlistError(f"node {names[0]!r}: positions must have shape ({len(names)}, 2 or 3), got {pos.shape}")
        bad = ~np.isfinite(pos).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise NetlistError(f"node {names[i]!r}: position {pos[i].tolist()} must be 2 or 3 finite numbers")
        if (index == 0).any():
            raise NetlistError("ground node '0' cannot have a position; pin a real node instead")
        self._position_chunks.append((index, pos))

    def _node_indices(self, nodes: Sequence[str] | NDArray[np.integer]) -> NDArray[np.int64]:
        if isinstance(nodes, np.ndarray) and np.issubdtype(nodes.dtype, np.integer):
            if nodes.size and (nodes.min() < 0 or nodes.max() >= len(self._nodes)):
                raise NetlistError(f"node index out of range 0..{len(self._nodes) - 1} (declare nodes with nodes())")
            return nodes.astype(np.int64, copy=False)
        return self.nodes(nodes)

    @property
    def node_names(self) -> tuple[str, ...]:
        """Node names in index order (ground first)."""
        return tuple(self._nodes)

    # --------------------------------------------------------------- elements
    def add(self, kind: str, name: str, a: str, b: str, **params: float) -> None:
        """Add one element of ``kind`` (a key of :data:`physnet.elements.ELEMENTS`).

        Parameters not given take the kind's defaults; unknown parameters are
        an error.
        """
        self.add_many(kind, [name], [a], [b], **{k: [v] for k, v in params.items()})

    def add_many(
        self,
        kind: str,
        names: Sequence[str],
        a: Sequence[str],
        b: Sequence[str],
        *,
        _rules: dict[str, str] | None = None,
        _new_names: bool = False,
        **params: ArrayLike,
    ) -> None:
        """Add many elements of one kind at once (vectorised validation).

        Parameters
        ----------
        kind : str
            Element kind.
        names : sequence of str
            Unique element names.
        a, b : sequence of str or ndarray of int
            Terminal node names (``a`` is the ``+`` terminal), or node
            indices returned by :meth:`nodes` (the fast path for big networks).
        **params : array_like
            One value or one array (same length as ``names``) per parameter.

        Notes
        -----
        ``_new_names=True`` is the SPICE reader's bulk lane: the caller vouches
        that ``names`` are distinct, non-empty, free of whitespace and not in
        the netlist yet (it has checked them in bulk), so they are not hashed
        here; they join the set of known names when a later call needs it.

        Examples
        --------
        >>> net = Netlist()
        >>> net.add_many("resistor", ["R1", "R2"], ["a", "a"], ["0", "0"], g=[1.0, 2.0])
        >>> net.compile()["resistor"]["g"]
        array([1., 2.])
        """
        if kind not in ELEMENTS:
            raise NetlistError(f"unknown element kind {kind!r} (known: {', '.join(ELEMENTS)})")
        spec = ELEMENTS[kind]
        names = _as_strings(names, str)
        count = len(names)
        if len(a) != count or len(b) != count:
            raise NetlistError(f"{kind}: {count} names but {len(a)} a-nodes and {len(b)} b-nodes")
        values = self._check_values(spec, names, params, _rules or {})
        unique = None if _new_names else self._check_names(names)
        a_idx, b_idx = self._node_indices(a), self._node_indices(b)
        if unique is None:
            self._vouched.append(names)
        else:
            self._names |= unique
        self._chunks[kind].append((names, a_idx, b_idx, values))

    def _check_names(self, names: list[str]) -> set[str]:
        """The set of ``names``, after checking they are new, distinct, non-empty and without whitespace."""
        for vouched in self._vouched:
            self._names.update(vouched)
        self._vouched.clear()
        unique = set(names)
        if len(unique) != len(names):
            seen: set[str] = set()
            dup = next(n for n in names if n in seen or seen.add(n))
            raise NetlistError(f"duplicate element name {dup!r}: names must be unique")
        if not self._names.isdisjoint(unique):
            raise NetlistError(f"duplicate element name {sorted(self._names & unique)[0]!r}: names must be unique")
        bad = _bad_name(names)
        if bad is not None:
            raise NetlistError(f"element name {bad!r} must be non-empty and contain no whitespace")
        return unique

    @staticmethod
    def _check_values(
        spec: ElementSpec, names: list[str], params: dict[str, ArrayLike], rules: dict[str, str]
    ) -> dict[str, NDArray]:
        known = {p.name for p in spec.params}
        unknown = set(params) - known
        if unknown:
            raise NetlistError(
                f"{spec.kind} {names[0]!r}: unknown parameter {sorted(unknown)[0]!r} "
                f"(allowed: {', '.join(sorted(known))})"
            )
        values = {}
        for p in spec.params:
            raw = params.get(p.name)
            if raw is None:
                if p.default is None:
                    raise NetlistError(f"{spec.kind} {names[0]!r}: parameter {p.name!r} ({p.unit}) is required")
                raw = p.default
            try:
                arr = np.broadcast_to(np.asarray(raw, dtype=np.float64), (len(names),)).copy()
            except (TypeError, ValueError):
                raise NetlistError(
                    f"{spec.kind} {names[0]!r}: {p.name} = {raw!r} is not a number (or one per element)"
                ) from None
            test, allowed = _RULES[rules.get(p.name, p.rule)]
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(arr) & test(arr))
                if p.default is not None and np.isnan(p.default):
                    bad &= ~np.isnan(arr)  # NaN = "fill in at compile time"
            if bad.any():
                i = int(np.argmax(bad))
                unit = f" {p.unit}" if p.unit else ""
                raise NetlistError(
                    f"{spec.kind} {names[i]!r}: {p.name} = {float(arr[i])!r}{unit} is invalid (must be {allowed})"
                )
            values[p.name] = arr
        return values

    def resistor(
        self, name: str, a: str, b: str, r: float | None = None, *, g: float | None = None, allow_negative: bool = False
    ) -> None:
        """Add a resistor given by resistance ``r`` (ohm) or conductance ``g`` (S).

        Negative values are an error unless ``allow_negative`` (SPICE permits
        them; the network is then no longer passive).
        """
        self.resistors([name], [a], [b], r=None if r is None else [r], g=None if g is None else [g],
                       allow_negative=allow_negative)

    def resistors(
        self,
        names: Sequence[str],
        a: Sequence[str],
        b: Sequence[str],
        r: ArrayLike | None = None,
        *,
        g: ArrayLike | None = None,
        allow_negative: bool = False,
        _new_names: bool = False,
    ) -> None:
        """Add many resistors at once (see :meth:`resistor`; ``_new_names`` as in :meth:`add_many`)."""
        if (r is None) == (g is None):
            raise NetlistError(f"resistor {names[0] if len(names) else ''!r}: give exactly one of r (ohm) or g (S)")
        if r is not None:
            r = np.asarray(r, dtype=np.float64)
            bad = ~np.isfinite(r) | (r == 0)
            if bad.any():
                i = int(np.argmax(np.broadcast_to(bad, (len(names),))))
                raise NetlistError(
                    f"resistor {names[i]!r}: r = {float(np.broadcast_to(r, (len(names),))[i])!r} ohm is invalid "
                    "(must be a finite non-zero number)"
                )
            g = 1.0 / r
        rules = {"g": "nonzero"} if allow_negative else {}
        self.add_many("resistor", names, a, b, g=g, _rules=rules, _new_names=_new_names)

    def diode(self, name: str, a: str, b: str, *, is_: float = 1e-14, n: float = 1.0, rs: float = 0.0) -> None:
        """Add a Shockley diode, anode ``a``, cathode ``b``.

        ``I = is_ * (exp(V / (n Vt)) - 1)`` through the junction, with optional
        series resistance ``rs`` (ohm) and SPICE's GMIN across the junction.
        """
        self.add("diode", name, a, b, is_=is_, n=n, rs=rs)

    def _source(self, kind: str, name: str, a: str, b: str, dc: float, ac: float, ac_phase: float,
                sin: Sequence[float] | None, pulse: Sequence[float] | None) -> None:
        params: dict[str, float] = {"dc": dc, "ac_mag": ac, "ac_phase": ac_phase}
        if sin is not None and pulse is not None:
            raise NetlistError(f"{kind} {name!r}: give sin or pulse, not both")
        for wave, shape, keys, least in (
            (WAVE_SIN, sin, ("sin_offset", "sin_amplitude", "sin_freq", "sin_delay", "sin_damping", "sin_phase"), 2),
            (WAVE_PULSE, pulse, ("pulse_v1", "pulse_v2", "pulse_delay", "pulse_rise", "pulse_fall", "pulse_width",
                                 "pulse_period"), 2),
        ):
            if shape is not None:
                if not least <= len(shape) <= len(keys):
                    raise NetlistError(f"{kind} {name!r}: waveform needs {least} to {len(keys)} values "
                                       f"({', '.join(keys)}), got {len(shape)}")
                params.update(zip(keys, shape))
                params["wave"] = wave
        self.add(kind, name, a, b, **params)

    def vsource(self, name: str, a: str, b: str, dc: float = 0.0, *, ac: float = 0.0, ac_phase: float = 0.0,
                sin: Sequence[float] | None = None, pulse: Sequence[float] | None = None) -> None:
        """Add an independent voltage source, ``v(a) - v(b) = dc``.

        ``ac``/``ac_phase`` (degrees) give the small-signal phasor; ``sin`` is
        SPICE's ``SIN(offset amplitude freq delay damping phase)`` and
        ``pulse`` SPICE's ``PULSE(v1 v2 delay rise fall width period)`` for
        transient analysis. A 0 V source is an ideal short (an ammeter).
        """
        self._source("vsource", name, a, b, dc, ac, ac_phase, sin, pulse)

    def isource(self, name: str, a: str, b: str, dc: float = 0.0, *, ac: float = 0.0, ac_phase: float = 0.0,
                sin: Sequence[float] | None = None, pulse: Sequence[float] | None = None) -> None:
        """Add an independent current source pushing ``dc`` amperes from ``a`` through itself into ``b``.

        As in SPICE, ``I1 a b 1m`` draws 1 mA out of node ``a`` and injects it
        into node ``b``. Waveforms as in :meth:`vsource`.
        """
        self._source("isource", name, a, b, dc, ac, ac_phase, sin, pulse)

    def capacitor(self, name: str, a: str, b: str, c: float) -> None:
        """Add a capacitor of ``c`` farads (open at DC, ``jωC`` in AC)."""
        self.add("capacitor", name, a, b, c=c)

    def inductor(self, name: str, a: str, b: str, l: float) -> None:  # noqa: E741 - SPICE's symbol
        """Add an inductor of ``l`` henries (a short at DC, ``1/(jωL)`` in AC)."""
        self.add("inductor", name, a, b, l=l)

    def spring(self, name: str, a: str, b: str, k: float, rest: float | None = None) -> None:
        """Add a spring of stiffness ``k`` (N/m) between two positioned nodes.

        ``rest`` (m) defaults to the distance between the nodes at compile time.
        """
        self.add("spring", name, a, b, k=k, rest=np.nan if rest is None else rest)

    def pipe(self, name: str, a: str, b: str, k: float | None = None, *, radius: float | None = None,
             length: float | None = None, viscosity: float = 1e-3) -> None:
        """Add a pipe given by hydraulic conductance ``k`` or by Poiseuille geometry.

        ``k = π r⁴ / (8 μ ℓ)`` from ``radius`` (m), ``length`` (m) and
        ``viscosity`` (Pa·s, water by default). Pressure plays the role of
        voltage: use :meth:`vsource` as a pressure reservoir and
        :meth:`isource` as a pump.
        """
        if k is None:
            if radius is None or length is None:
                raise NetlistError(f"pipe {name!r}: give k, or both radius and length")
            k = hydraulic_conductance(radius, length, viscosity, name=name)
        elif radius is not None or length is not None:
            raise NetlistError(f"pipe {name!r}: give k or (radius, length), not both")
        self.add("pipe", name, a, b, k=k)

    def analysis(self, kind: str, *args: Any) -> None:
        """Record an analysis card (``"op"``, ``"dc"``, ``"ac"`` or ``"tran"``)."""
        if kind not in ("op", "dc", "ac", "tran"):
            raise NetlistError(f"unknown analysis {kind!r} (op, dc, ac and tran are recorded)")
        self.analyses.append(Analysis(kind, tuple(args)))

    # ---------------------------------------------------------------- compile
    def compile(self) -> System:
        """Freeze the netlist into a :class:`physnet.System`.

        Raises
        ------
        NetlistError
            A spring touches a node without a position, or positions mix
            2-D and 3-D.
        """
        n_nodes = len(self._nodes)
        positions = self._compile_positions(n_nodes)
        tables = {}
        for kind, chunks in self._chunks.items():
            spec = ELEMENTS[kind]
            if chunks:
                names = tuple(itertools.chain.from_iterable(c[0] for c in chunks))
                a = np.concatenate([c[1] for c in chunks])
                b = np.concatenate([c[2] for c in chunks])
                values = {p.name: np.concatenate([c[3][p.name] for c in chunks]) for p in spec.params}
            else:
                names, a, b = (), np.zeros(0, np.int64), np.zeros(0, np.int64)
                values = {p.name: np.zeros(0) for p in spec.params}
            if kind == "spring" and names:
                values["rest"] = self._rest_lengths(names, a, b, values["rest"], positions)
            tables[kind] = ElementTable.build(spec, names, a, b, values)
        return System(
            title=self.title,
            node_names=tuple(self._nodes),
            elements=tables,
            positions=positions,
            temperature=self.temperature,
            analyses=tuple(self.analyses),
        )

    def _compile_positions(self, n_nodes: int) -> NDArray[np.float64] | None:
        if not self._position_chunks:
            return None
        dims = {pos.shape[1] for _, pos in self._position_chunks}
        if len(dims) > 1:
            raise NetlistError("node positions mix 2-D and 3-D coordinates")
        positions = np.full((n_nodes, dims.pop()), np.nan)
        for index, pos in self._position_chunks:  # later declarations win
            positions[index] = pos
        positions.flags.writeable = False
        return positions

    def _rest_lengths(self, names, a, b, rest, positions) -> NDArray[np.float64]:
        node_names = tuple(self._nodes)
        if positions is None:
            raise NetlistError(f"spring {names[0]!r}: springs need node positions (use Netlist.node(name, position))")
        missing = np.isnan(positions[a]).any(axis=1) | np.isnan(positions[b]).any(axis=1)
        if missing.any():
            i = int(np.argmax(missing))
            node = node_names[a[i]] if np.isnan(positions[a[i]]).any() else node_names[b[i]]
            raise NetlistError(f"spring {names[i]!r}: node {node!r} has no position")
        length = np.linalg.norm(positions[a] - positions[b], axis=1)
        if (length == 0).any():
            i = int(np.argmax(length == 0))
            raise NetlistError(f"spring {names[i]!r}: its two nodes sit at the same position")
        return np.where(np.isnan(rest), length, rest)
