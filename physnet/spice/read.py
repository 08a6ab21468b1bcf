"""Read a strict subset of SPICE into a :class:`physnet.Netlist`; nothing in a netlist is ever executed.

Accepted, as ngspice reads it:

* the first line is the title (``.title`` replaces it); ``*`` comment lines,
  ``;`` and ``$ `` inline comments, ``+`` continuation lines, blank lines;
  everything but the title and file names is lowercased;
* the elements of :data:`physnet.elements.ELEMENTS` that have a SPICE letter:
  ``R C L V I D``. ``R<name> <n+> <n-> <ohms>`` (or ``r=<ohms>``),
  ``C``/``L`` alike, ``D<name> <anode> <cathode> <model> [<area>]``, sources
  ``V|I<name> <n+> <n-> [[DC] <value>] [AC [<mag> [<phase>]]]
  [SIN(<offset> <amplitude> ...) | PULSE(<v1> <v2> ...)]`` with spaces or
  commas inside the parentheses, ``dc=<value>`` too; ground is ``0`` or
  ``gnd``; numbers in SPICE syntax (:mod:`physnet.spice.units`);
* ``.model <name> D (IS= N= RS=)`` (defined before or after use); ``.op``,
  ``.dc <source> <start> <stop> [<step>]``, ``.ac dec|oct|lin <n> <fstart>
  <fstop>``, ``.tran <tstep> <tstop> [<tstart> [<tmax>]]`` are recorded with
  :meth:`physnet.Netlist.analysis`; ``.temp <celsius>`` sets the circuit
  temperature; ``.end`` stops reading;
* output and option cards (``.options .option .opti .width .print .plot
  .probe .save``) are accepted and ignored, except that ``temp=``/``tnom=``
  in ``.options`` is an error (use ``.temp``);
* ``.include <file>`` / ``.inc``, only for files inside the folder of the
  netlist being read (symlinks resolved; include cycles are an error).

Everything else (``.control`` blocks, ``shell``, ``.lib``, ``.subckt`` and
``X`` instances, ``.param`` and ``{expressions}``, other element letters,
other model or element parameters, unknown dot cards) is a
:class:`physnet.errors.SpiceSyntaxError` naming ``file:line``. The whole file
is checked before a Netlist is returned.

Elements of a kind keep their text order (includes read in place). Nodes are
numbered in order of first appearance when the cards are taken kind by kind in
the order of :data:`~physnet.elements.ELEMENTS` (resistors, diodes, V, I, C,
L), ``n+`` before ``n-``: the order in which physnet writes them, so that any
netlist read, written and read again keeps its node numbering.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from physnet.constants import T_NOMINAL
from physnet.elements.table import ELEMENTS, SOURCE_PARAMS, WAVE_PULSE, WAVE_SIN
from physnet.errors import NetlistError, SpiceSyntaxError
from physnet.netlist import Netlist
from physnet.spice.units import NumberError, conductances, parse_number, parse_numbers

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["parse_spice", "read_spice"]

_KINDS = {spec.letter.lower(): kind for kind, spec in ELEMENTS.items() if spec.letter}
_LETTERS = " ".join(letter.upper() for letter in _KINDS)
_VALUE_FIELD = {"resistor": "r", "diode": "model", "vsource": "dc", "isource": "dc"}
_MODEL_KEYS = {p.name.rstrip("_"): p.name for p in ELEMENTS["diode"].params}
_WAVES = {
    word: (code, tuple(p.name for p in SOURCE_PARAMS if p.name.startswith(word + "_")))
    for word, code in (("sin", WAVE_SIN), ("pulse", WAVE_PULSE))
}
_SOURCE_WORDS = frozenset({"dc", "ac", *_WAVES})
_OTHER_WAVES = frozenset({"exp", "pwl", "sffm", "am", "trnoise", "trrandom", "distof1", "distof2", "port", "z0"})
_PUNCTUATION = frozenset({"(", ")", "="})
_STOP_WORDS = _SOURCE_WORDS | _OTHER_WAVES | _PUNCTUATION
_SPECIAL = "(),={}'\""
_NOT_CSV = _SPECIAL + "\t\v\f\x1c\x1d\x1e\x1f"  # and ASCII blanks other than the space (see _columns)
_NOT_CSV_CODES = list(_NOT_CSV.encode("ascii"))
_COLUMNS_FROM = 5000  # kinds with this many cards are read by Arrow (see _columns)
_BLOCKS = (1 << 16, 1 << 20)  # bytes of cards per Arrow task: one block per core within these (a card is shorter)
_EXPRESSION = re.compile(r"[{}'\"]")
_INLINE_COMMENT = re.compile(r";|(?<!\S)\$(?!\S)")

_NEVER_RUN = "physnet never executes netlist commands; run analyses from Python or the physnet CLI instead"
_IGNORED = frozenset({".options", ".option", ".opti", ".width", ".print", ".plot", ".probe", ".save"})
_REFUSED = {
    ".control": f"'.control' blocks are not accepted: {_NEVER_RUN}",
    ".endc": f"'.endc' (end of a .control block) is not accepted: {_NEVER_RUN}",
    ".exec": f"'.exec' blocks are not accepted: {_NEVER_RUN}",
    ".lib": "'.lib' is not supported: copy the .model cards you need into the netlist",
    ".subckt": "subcircuits ('.subckt') are not supported: flatten the netlist",
    ".ends": "subcircuits ('.ends') are not supported: flatten the netlist",
    ".param": "'.param' is not supported: write plain numbers",
    ".func": "'.func' is not supported: write plain numbers",
}
_COMMANDS = frozenset({"shell"})
_ACCEPTED = ".op .dc .ac .tran .model .include .title .temp .end (and ignores " + " ".join(sorted(_IGNORED)) + ")"


class _CardError(ValueError):
    """A card is malformed; the caller adds file, line and the element's name."""


# ------------------------------------------------------------------ files and cards
@dataclass
class _File:
    """One netlist file split into cards.

    Card ``i`` is line ``i + 1`` lowercased, without comments, with its ``+``
    continuation lines appended (those become blank), so that errors name the
    first line of a card. ``body`` holds the cards one a line, ``starts``
    where each begins in it (and ``len(body) + 1`` last), ``index`` the cards
    grouped by first character. ``text`` is the file as written (line ends
    normalised); its lines (:attr:`raw`) are split only when a dot card needs
    its original case. ``data`` is ``body`` as ASCII bytes (None when it is
    not ASCII), for Arrow.
    """

    path: str
    folder: Path | None
    text: str
    body: str
    starts: NDArray[np.int64]
    index: dict[str, NDArray[np.int64]]
    data: bytes | None

    @classmethod
    def from_text(cls, text: str, path: str, folder: Path | None, *, titled: bool) -> _File:
        """Split ``text`` into cards; ``titled`` when its first line is a title rather than a card."""
        text = text.removeprefix("\ufeff")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        body = text.lower()  # lowercasing never adds or removes a newline, so lines stay aligned
        if titled:  # the title line becomes a blank card
            body = body[_line_end(body):]
        if ";" in body or "$" in body:
            body = "\n".join(_strip_comment(card) for card in body.split("\n"))
        starts, index, data = _first_chars(body)
        if any(c.isspace() and c != "\n" for c in index):
            body = "\n".join(card.lstrip() for card in body.split("\n"))
            starts, index, data = _first_chars(body)
        if "+" in index:
            body = "\n".join(_join_continuations(body.split("\n"), path))
            starts, index, data = _first_chars(body)
        return cls(path, folder, text, body, starts, index, data)

    @cached_property
    def raw(self) -> list[str]:
        """The lines as written (original case, comments kept)."""
        return self.text.split("\n")

    def card(self, index: int) -> str:
        """The card at 0-based ``index``."""
        return self.body[self.starts[index]: self.starts[index + 1] - 1]

    def error(self, index: int, message: str) -> SpiceSyntaxError:
        """The error for the card at 0-based ``index``."""
        return SpiceSyntaxError(self.path, int(index) + 1, message)

    def tokens(self, index: int, card: str | None = None) -> list[str]:
        """The tokens of card ``index`` (text ``card``), delimiters ``( ) , =`` split off; expressions are refused."""
        card = self.card(index) if card is None else card
        if _EXPRESSION.search(card):
            raise self.error(index, "expressions ({...} or '...') are not supported: write plain numbers")
        return _split_delimiters(card)

    def argument(self, index: int) -> str:
        """Everything after the keyword of the card, with its original case and quotes removed."""
        parts = _strip_comment(self.raw[index]).split(None, 1)
        text = parts[1].strip() if len(parts) > 1 else ""
        if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
            text = text[1:-1]
        return text


def _join_continuations(cards: list[str], path: str) -> list[str]:
    """Append each ``+`` line to the card before it (skipping comments and blanks); the ``+`` lines become blank."""
    head = None
    for i, card in enumerate(cards):
        if card[:1] == "+":
            if head is None:
                raise SpiceSyntaxError(path, i + 1, "continuation line ('+') has no card before it to continue")
            cards[head] += " " + card[1:]
            cards[i] = ""
        elif card and card[0] != "*":
            head = i
    return cards


def _line_end(text: str) -> int:
    """Where the first line of ``text`` ends (without copying the rest, as ``partition`` would)."""
    end = text.find("\n")
    return len(text) if end < 0 else end


def _split_delimiters(card: str) -> list[str]:
    """Tokens of a card, with ``(``, ``)`` and ``=`` as tokens of their own and ``,`` as a blank."""
    return card.replace("(", " ( ").replace(")", " ) ").replace(",", " ").replace("=", " = ").split()


def _strip_comment(line: str) -> str:
    match = _INLINE_COMMENT.search(line)
    return line if match is None else line[: match.start()]


def _first_chars(body: str) -> tuple[NDArray[np.int64], dict[str, NDArray[np.int64]], bytes | None]:
    """Where each card of ``body`` starts (and ``len(body) + 1``), the cards grouped by first character,
    and ``body`` as ASCII bytes (None unless it is ASCII).

    Blank cards are grouped under ``"\\n"``.
    """
    data = body.encode("ascii") if body.isascii() else None
    if data is not None:
        codes = np.frombuffer(data, dtype=np.uint8)
    else:
        codes = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    breaks = np.flatnonzero(codes == 10)
    starts = np.empty(len(breaks) + 2, dtype=np.int64)
    starts[0], starts[1:-1], starts[-1] = 0, breaks + 1, len(codes) + 1
    first = np.full(len(starts) - 1, 10, dtype=codes.dtype)  # a card after a final newline is blank
    inside = starts[:-1] < len(codes)
    first[inside] = codes[starts[:-1][inside]]
    present = np.flatnonzero(np.bincount(first)) if data is not None else np.unique(first)
    return starts, {chr(c): np.flatnonzero(first == c) for c in present.tolist()}, data


# ------------------------------------------------------------------ the deck being read
@dataclass
class _Block:
    """Element cards of one kind from one stretch of one file (between includes)."""

    file: _File
    lines: NDArray[np.int64]

    def spans(self) -> list[tuple[int, int]]:
        """Where each run of consecutive cards of the block begins and ends in the file's body."""
        lines = self.lines
        cuts = np.flatnonzero(np.diff(lines) != 1) + 1
        first = lines[np.concatenate(([0], cuts))]
        last = lines[np.concatenate((cuts - 1, [len(lines) - 1]))]
        starts = self.file.starts
        return list(zip(starts[first].tolist(), (starts[last + 1] - 1).tolist()))

    def text(self) -> str:
        """The block's cards, one a line: a slice of the file's body per run of consecutive cards."""
        body = self.file.body
        return "\n".join(body[a:b] for a, b in self.spans())


@dataclass
class _Deck:
    """Everything read so far, over the top file and its includes."""

    root: Path | None
    stack: list[Path]
    title: str = ""
    temperature: float = T_NOMINAL
    blocks: dict[str, list[_Block]] = field(default_factory=lambda: {kind: [] for kind in _KINDS.values()})
    models: dict[str, tuple[_File, int, dict[str, float]]] = field(default_factory=dict)
    analyses: list[tuple[_File, int, str, tuple]] = field(default_factory=list)


def _scan(file: _File, deck: _Deck) -> None:
    """Sort the file's cards into the deck; read its dot cards and includes in text order."""
    index = dict(file.index)
    dots = index.pop(".", np.zeros(0, np.int64)).tolist()
    keywords = {i: file.card(i).split(None, 1)[0] for i in dots}
    end = next((i for i in dots if keywords[i] == ".end"), len(file.starts) - 1)
    _refuse_strangers(file, index, [i for i in dots if keywords[i] in _REFUSED], end)
    includes = [i for i in dots if i < end and keywords[i] in (".include", ".inc")]
    low = 0
    for stop in [*includes, end]:
        for letter, kind in _KINDS.items():
            lines = index.get(letter)
            if lines is not None:
                lines = lines[np.searchsorted(lines, low): np.searchsorted(lines, stop)]
                if lines.size:
                    deck.blocks[kind].append(_Block(file, lines))
        for i in dots:
            if low <= i < stop:
                _dot_card(file, i, keywords[i], deck)
        if stop != end:
            _include(file, stop, deck)
            low = stop + 1


def _refuse_strangers(file: _File, index: dict[str, NDArray[np.int64]], refused: list[int], end: int) -> None:
    """Raise for the first line before ``end`` that physnet refuses to read.

    Those are refused dot cards (``.control``...) and lines that start with
    neither an element letter, ``.`` nor ``*``. Checking them before anything
    else reports a ``.control`` block rather than the commands inside it.
    """
    first = [lines[0] for c, lines in index.items() if c not in _KINDS and c not in "\n*"] + refused[:1]
    i = min(first, default=end)
    if i >= end:
        return
    word = file.card(i).split(None, 1)[0]
    char = word[0]
    if word in _REFUSED:
        raise file.error(i, _REFUSED[word])
    if word in _COMMANDS:
        raise file.error(i, f"{word!r} commands are not accepted: {_NEVER_RUN}")
    if char.isalpha():
        raise file.error(i, f"element type {char.upper()!r} is not supported ({_LETTERS} are)")
    raise file.error(i, f"cannot read {word!r}: a card starts with an element letter ({_LETTERS}), '.' or '*'")


# ------------------------------------------------------------------ dot cards
def _dot_card(file: _File, i: int, keyword: str, deck: _Deck) -> None:
    if keyword == ".title":
        deck.title = file.argument(i)
    elif keyword in _IGNORED:
        words = set(_split_delimiters(file.card(i))[1:])
        for word in ("temp", "tnom"):
            if word in words:
                raise file.error(i, f"option {word!r} is not supported in {keyword}: set the temperature with .temp")
    elif keyword == ".model":
        _model(file, i, deck)
    elif keyword == ".temp":
        _temperature(file, i, deck)
    elif keyword in (".op", ".dc", ".ac", ".tran"):
        deck.analyses.append((file, i, keyword[1:], _analysis(file, i)))
    else:
        raise file.error(i, f"dot card {keyword!r} is not supported (physnet reads {_ACCEPTED})")


def _number(file: _File, i: int, token: str, what: str) -> float:
    try:
        return parse_number(token)
    except NumberError as err:
        raise file.error(i, f"{what}: {err}") from None


def _model(file: _File, i: int, deck: _Deck) -> None:
    tokens = [t for t in file.tokens(i) if t not in ("(", ")")]
    keys = ", ".join(k.upper() for k in _MODEL_KEYS)
    if len(tokens) < 3:
        raise file.error(i, f".model needs a name and a type: .model <name> D ({keys} as key=value)")
    name, kind = tokens[1], tokens[2]
    if kind != "d":
        raise file.error(i, f"model type {kind!r} is not supported (D is)")
    try:
        given = _fields(tokens[3:], (), frozenset(_MODEL_KEYS))
    except _CardError as err:
        raise file.error(i, f"diode model {name!r}: {err}; physnet's diode takes {keys}") from None
    if name in deck.models:
        first, line, _ = deck.models[name]
        raise file.error(i, f"model {name!r} is defined twice (first at {first.path}:{line + 1})")
    values = {p.name: p.default for p in ELEMENTS["diode"].params}
    for key, token in given.items():
        values[_MODEL_KEYS[key]] = _number(file, i, token, f"diode model {name!r}, {key.upper()}")
    deck.models[name] = (file, i, values)


def _temperature(file: _File, i: int, deck: _Deck) -> None:
    tokens = file.tokens(i)
    if len(tokens) != 2:
        raise file.error(i, ".temp takes one temperature in degrees Celsius: .temp <celsius>")
    value = _number(file, i, tokens[1], ".temp")
    if value <= -273.15:
        raise file.error(i, f".temp {value!r} is at or below absolute zero (-273.15 Celsius)")
    deck.temperature = value


def _analysis(file: _File, i: int) -> tuple:
    """Arguments of ``.op``, ``.dc``, ``.ac`` or ``.tran``, checked."""
    keyword, *args = file.tokens(i)

    def numbers(tokens: list[str]) -> list[float]:
        return [_number(file, i, token, keyword) for token in tokens]

    if keyword == ".op":
        if args:
            raise file.error(i, ".op takes no arguments")
        return ()
    if keyword == ".dc":
        if not 3 <= len(args) <= 4:
            raise file.error(i, ".dc sweeps one source: .dc <source> <start> <stop> [<step>] (no nested sweeps)")
        if args[0][:1] not in ("v", "i"):
            raise file.error(i, f".dc sweeps V and I sources only, and {args[0]!r} is not one")
        return (args[0], *numbers(args[1:]))
    if keyword == ".ac":
        if len(args) != 4 or args[0] not in ("dec", "oct", "lin"):
            raise file.error(i, ".ac needs: .ac dec|oct|lin <points> <fstart> <fstop>")
        points, start, stop = numbers(args[1:])
        if points != int(points) or points < 1:
            raise file.error(i, f".ac: the number of points {args[1]!r} must be a whole number >= 1")
        if not (0 < start <= stop or (args[0] == "lin" and 0 <= start <= stop)):
            raise file.error(i, f".ac: frequencies {args[2]!r} to {args[3]!r} must satisfy 0 < fstart <= fstop")
        return (args[0], int(points), start, stop)
    if "uic" in args:
        raise file.error(i, ".tran: 'uic' is not supported (physnet starts from the DC operating point)")
    if not 2 <= len(args) <= 4:
        raise file.error(i, ".tran needs: .tran <tstep> <tstop> [<tstart> [<tmax>]]")
    values = numbers(args)
    step, stop = values[:2]
    start = values[2] if len(values) > 2 else 0.0
    most = values[3] if len(values) > 3 else stop
    if not (step >= 0 and stop > 0 and 0 <= start < stop and most > 0):
        raise file.error(i, ".tran: need tstep >= 0, tstop > 0, 0 <= tstart < tstop and tmax > 0")
    return tuple(values)


def _include(file: _File, i: int, deck: _Deck) -> None:
    """Read an included file in place, if it lies inside the top netlist's folder."""
    name = file.argument(i)
    if not name:
        raise file.error(i, ".include needs a file name")
    if file.folder is None or deck.root is None:
        raise file.error(i, f"cannot include {name!r}: the netlist was given as text without a folder "
                            "(use read_spice(path), or parse_spice(text, base_dir=folder))")
    try:
        target = Path(os.path.realpath(file.folder / name))
        inside = target.is_relative_to(deck.root)
        regular = inside and target.is_file()
    except (OSError, ValueError) as err:
        raise file.error(i, f"cannot include {name!r}: {err}") from None
    if not inside:
        raise file.error(i, f"cannot include {name!r}: it resolves to {str(target)!r}, outside the netlist's "
                            f"folder {str(deck.root)!r}; only files inside that folder may be included")
    if target in deck.stack:
        chain = " -> ".join(p.name for p in [*deck.stack[deck.stack.index(target):], target])
        raise file.error(i, f"include cycle: {chain}")
    if not regular:
        raise file.error(i, f"cannot include {name!r}: {str(target)!r} is not a file")
    try:
        text = target.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise file.error(i, f"cannot include {name!r}: {err}") from None
    deck.stack.append(target)
    _scan(_File.from_text(text, str(target), target.parent, titled=False), deck)
    deck.stack.pop()


# ------------------------------------------------------------------ element cards
def _syntax(kind: str) -> str:
    """The card syntax physnet reads for ``kind``, for error messages."""
    letter = ELEMENTS[kind].letter
    if kind == "resistor":
        return f"{letter}<name> <n+> <n-> <ohms> (or r=<ohms>)"
    if kind == "diode":
        return f"{letter}<name> <anode> <cathode> <model> [<area>]"
    if kind in ("vsource", "isource"):
        return (f"{letter}<name> <n+> <n-> [[DC] <value>] [AC [<mag> [<phase>]]] "
                "[SIN(<offset> <amplitude> [<freq> <delay> <damping> <phase>]) | PULSE(<v1> <v2> [...])]")
    param = ELEMENTS[kind].params[0]
    return f"{letter}<name> <n+> <n-> <{param.unit}>"


def _value_field(kind: str) -> str:
    """The field a kind's single positional value fills (``r`` for a resistor: SPICE writes ohms)."""
    return _VALUE_FIELD.get(kind, ELEMENTS[kind].params[0].name)


def _fields(rest: list[str], positional: tuple[str, ...], keys: frozenset[str]) -> dict[str, str]:
    """Positional values, then ``key = value`` triples: a dict of field to token."""
    out: dict[str, str] = {}
    i = 0
    while (i < len(rest) and len(out) < len(positional) and rest[i] not in _PUNCTUATION
           and rest[i + 1: i + 2] != ["="]):
        out[positional[len(out)]] = rest[i]
        i += 1
    while i < len(rest):
        key = rest[i]
        if rest[i + 1: i + 2] != ["="]:
            raise _CardError(f"unexpected {key!r}")
        if key not in keys:
            raise _CardError(f"parameter {key!r} is not supported (remove '{key}={''.join(rest[i + 2: i + 3])}')")
        if i + 2 >= len(rest) or rest[i + 2] in _PUNCTUATION:
            raise _CardError(f"{key}= has no value")
        if key in out:
            raise _CardError(f"{key!r} is given twice")
        out[key] = rest[i + 2]
        i += 3
    return out


def _values(rest: list[str], i: int) -> tuple[list[str], int]:
    """The value tokens from ``rest[i]`` up to the next source keyword or parenthesis; the index after them."""
    start = i
    while i < len(rest) and rest[i] not in _STOP_WORDS:
        i += 1
    return rest[start:i], i


def _source_fields(rest: list[str]) -> dict[str, str]:
    """Fields of a V or I source after its nodes (syntax in the module docstring)."""
    out: dict[str, str] = {}
    i = 0
    if rest and rest[0] not in _STOP_WORDS:
        out["dc"], i = rest[0], 1
    while i < len(rest):
        word = rest[i]
        i += 2 if rest[i + 1: i + 2] == ["="] else 1
        if word == "dc":
            values, i = _values(rest, i)
            if len(values) != 1 or "dc" in out:
                raise _CardError("give one DC value")
            out["dc"] = values[0]
        elif word == "ac":
            values, i = _values(rest, i)
            if len(values) > 2 or "ac_mag" in out:
                raise _CardError("give one AC magnitude and at most one phase in degrees")
            out.update(zip(("ac_mag", "ac_phase"), values or ["1"]))
        elif word in _WAVES:
            if "wave" in out:
                raise _CardError("give one waveform (SIN or PULSE)")
            i = _waveform(rest, i, word, out)
        elif word in _OTHER_WAVES:
            raise _CardError(f"{word!r} is not supported (DC, AC, SIN and PULSE are)")
        else:
            raise _CardError(f"unexpected {word!r}")
    return out


def _waveform(rest: list[str], i: int, word: str, out: dict[str, str]) -> int:
    """Read ``SIN(...)`` or ``PULSE(...)`` (parentheses optional) into ``out``; return the next index."""
    code, keys = _WAVES[word]
    opened = rest[i: i + 1] == ["("]
    values, i = _values(rest, i + opened)
    if opened:
        if rest[i: i + 1] != [")"]:
            raise _CardError(f"{word.upper()}( is not closed by ')'")
        i += 1
    if not 2 <= len(values) <= len(keys):
        raise _CardError(f"{word.upper()} takes 2 to {len(keys)} values ({', '.join(keys)}), got {len(values)}")
    out["wave"] = str(code)
    out.update(zip(keys, values))
    return i


def _row_fields(kind: str, rest: list[str]) -> dict[str, str]:
    """Fields of one element card after its nodes; raise _CardError when malformed."""
    if kind in ("vsource", "isource"):
        return _source_fields(rest)
    if kind == "diode":
        given = _fields(rest, ("model", "area"), frozenset({"area"}))
    else:
        given = _fields(rest, (_value_field(kind),), frozenset({_value_field(kind)}))
    if _value_field(kind) not in given:
        raise _CardError(f"the {_value_field(kind)} value is missing")
    return given


@dataclass
class _Rows:
    """The element cards of one kind, in text order: names, nodes, and per field the tokens given.

    Terminals are factorised: ``nodes`` holds the distinct node names in order
    of first appearance (card by card, n+ before n-) and ``pins[i]`` card
    ``i``'s n+ and n- as indices into ``nodes``.
    """

    kind: str
    blocks: list[_Block]
    names: list[str]
    nodes: list[str]
    pins: NDArray[np.int64]  # shape (len(names), 2)
    fields: dict[str, tuple[NDArray[np.int64], Sequence[str]]]
    checked: bool = False  # the names are known to be distinct (Arrow checked them)
    numbers: dict[str, NDArray[np.float64]] = field(default_factory=dict)  # fields Arrow read (plain decimals)
    lengths: dict[str, NDArray[np.int32]] = field(default_factory=dict)  # their tokens' lengths
    values: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    terminals: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None  # node indices, once declared

    def __len__(self) -> int:
        return len(self.names)

    def distinct(self) -> bool:
        """Whether no two cards share a name."""
        return self.checked or len(set(self.names)) == len(self.names)

    def node_names(self, count: int) -> tuple[list[str], list[str]]:
        """The n+ and the n- names of the first ``count`` cards."""
        pins = self.pins[:count].T.tolist()
        return [self.nodes[i] for i in pins[0]], [self.nodes[i] for i in pins[1]]

    def where(self, row: int) -> tuple[_File, int]:
        """File and 0-based line of row ``row``."""
        for block in self.blocks:
            if row < len(block.lines):
                return block.file, int(block.lines[row])
            row -= len(block.lines)
        raise IndexError(row)

    def error(self, row: int, message: str) -> SpiceSyntaxError:
        file, line = self.where(row)
        return file.error(line, f"{self.kind} {self.names[row]!r}: {message}")

    def column(self, name: str, default: float | None = None) -> NDArray[np.float64]:
        """Field ``name`` as numbers, one per row (``default`` where a row does not give it).

        The resistance field ``r`` comes back as conductances.
        """
        out = np.full(len(self), np.nan if default is None else default)
        if name in self.fields:
            rows, tokens = self.fields[name]
            numbers = self.numbers.get(name)
            try:
                if name == "r":
                    out[rows] = conductances(tokens, numbers, self.lengths.get(name))
                else:
                    out[rows] = parse_numbers(tokens) if numbers is None else numbers
            except NumberError as err:
                raise self.error(int(rows[err.index]), f"{name} = {err}") from None
        return out


def _factorize(*columns: list[str]) -> tuple[list[str], NDArray[np.int64]]:
    """The distinct strings of ``columns`` in order of first appearance, row by row, and each one's code.

    With each card's n+ and n- names, the ``nodes`` and ``pins`` of
    :class:`_Rows`. The plain-Python twin of
    :func:`physnet._numba.factorize_strings`.

    Examples
    --------
    >>> _factorize(["a", "b", "a"], ["0", "a", "c"])
    (['a', '0', 'b', 'c'], array([[0, 1],
           [2, 0],
           [0, 3]]))
    """
    k = len(columns)
    entries = [""] * (k * len(columns[0]))
    for c, column in enumerate(columns):
        entries[c::k] = column
    first = {name: i for i, name in enumerate(dict.fromkeys(entries))}
    codes = np.fromiter(map(first.__getitem__, entries), dtype=np.int64, count=len(entries)).reshape(-1, k)
    return list(first), codes


def _cards_text(blocks: list[_Block]) -> str:
    """The blocks' cards, one a line."""
    return "\n".join(block.text() for block in blocks)


def _csv_data(blocks: list[_Block]) -> bytes | memoryview | None:
    """The blocks' cards, one a line, as ASCII bytes (a view of the file when one run).

    None unless every card is ASCII and free of the characters of
    ``_NOT_CSV`` (each looked for by ``memchr``, without copying the cards;
    the cards of a file with non-ASCII text elsewhere, a comment say, are
    copied and checked as text).
    """
    if any(block.file.data is None for block in blocks):
        text = _cards_text(blocks)
        if not text.isascii() or any(c in text for c in _NOT_CSV):
            return None
        return text.encode("ascii")
    spans = [(block.file.data, a, b) for block in blocks for a, b in block.spans()]
    if any(data.find(c, a, b) >= 0 for data, a, b in spans for c in _NOT_CSV_CODES):
        return None
    parts = [memoryview(data)[a:b] for data, a, b in spans]
    return parts[0] if len(parts) == 1 else b"\n".join(parts)


def _uniform(kind: str, blocks: list[_Block]) -> _Rows | None:
    """Rows of ``<name> <node> <node> <value>`` cards read column-wise, or None unless all cards are so."""
    count = sum(len(block.lines) for block in blocks)
    joined = _cards_text(blocks).replace("\n", " \0 ")
    if any(c in joined for c in _SPECIAL) or joined.count("\0") != count - 1:
        return None
    tokens = joined.split()
    if len(tokens) != 5 * count - 1 or tokens[4::5].count("\0") != count - 1:
        return None
    nodes, pins = _factorize(tokens[1::5], tokens[2::5])
    return _Rows(kind, blocks, tokens[0::5], nodes, pins, {_value_field(kind): (np.arange(count), tokens[3::5])})


def _columns(kind: str, blocks: list[_Block]) -> _Rows | None:
    """The rows of :func:`_uniform`, read by Arrow's CSV reader; None unless all cards suit it.

    For kinds with thousands of cards, where ``str.split`` and hashing
    Python strings take most of a read: Arrow splits the cards, on every
    core (one block of cards per core, up to ``_BLOCKS[1]`` bytes), and
    :func:`physnet._numba.factorize_strings` checks that the names are
    distinct and numbers the nodes, both on the bytes. It takes ASCII
    cards of four tokens separated by single spaces (the CSV delimiter) with
    distinct names; anything else, valid or not, goes to :func:`_uniform` or
    :func:`_card_by_card`, which also word the errors.
    """
    import pyarrow as pa  # imported here (~0.1 s) since only large netlists need it
    import pyarrow.compute as pc
    import pyarrow.csv as csv

    from physnet._numba import factorize_strings

    count = sum(len(block.lines) for block in blocks)
    data = _csv_data(blocks)
    if data is None:
        return None
    columns = ["name", "a", "b", "value"]
    # Arrow allocates from the C library's allocator rather than its default (mimalloc): the same speed on
    # repeated reads, but a first read of 10⁴ cards after one of 3600 took 14-20 ms instead of 16-86 ms.
    pool = pa.system_memory_pool()
    block = int(np.clip(len(data) // pa.cpu_count() + 1, *_BLOCKS))
    try:
        table = csv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=csv.ReadOptions(column_names=columns, block_size=block),
            parse_options=csv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False, escape_char=False),
            convert_options=csv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string())),
            memory_pool=pool,
        )
        name, a, b, values = (pa.concat_arrays(table[column].chunks, memory_pool=pool) for column in columns)
    except pa.ArrowInvalid:  # a card of more or fewer than four fields (or a column of over 2 GiB)
        return None
    if any(np.diff(_offsets(column)).min() == 0 for column in (name, a, b, values)):
        return None  # an empty field (two spaces in a row, or a trailing space)
    # The kernel releases the GIL: the nodes are numbered on another core while the names become Python strings.
    numbering = _worker().submit(factorize_strings, (_offsets(a), _offsets(b)), (_bytes(a), _bytes(b)))
    if len(factorize_strings((_offsets(name),), (_bytes(name),))[1]) != count:
        return None  # a name given twice
    names = name.to_pylist()
    key = _value_field(kind)
    numbers = None
    if kind != "diode":  # whose field is a model name
        try:  # Arrow reads plain decimals only (no scale factors), correctly rounded, as parse_numbers does
            numbers = _numbers(values.cast(pa.float64(), memory_pool=pool), np.float64)
        except pa.ArrowInvalid:
            pass
    pins, first = numbering.result()
    where = pa.Array.from_buffers(pa.int64(), len(first), [None, pa.py_buffer(first // 2 + count * (first % 2))])
    both = pa.concat_arrays([a, b], memory_pool=pool)  # a0 a1 ... b0 b1 ...: where a card's n- is
    nodes = pc.take(both, where, memory_pool=pool).to_pylist()
    rows = _Rows(kind, blocks, names, nodes, pins, {}, checked=True)
    if numbers is not None and np.isfinite(numbers).all():  # parse_numbers refuses inf, nan and overflows
        rows.fields[key] = (np.arange(count), _ArrowStrings(values))  # the tokens, for error messages only
        rows.numbers[key] = numbers
        rows.lengths[key] = np.diff(_offsets(values))  # in characters, since the cards are ASCII
    else:
        rows.fields[key] = (np.arange(count), values.to_pylist())
    return rows


@cache
def _worker() -> ThreadPoolExecutor:
    """The thread that runs :func:`_columns`' GIL-free kernels, started on first use (anew in a forked child)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="physnet-read")


os.register_at_fork(after_in_child=_worker.cache_clear)


class _ArrowStrings(Sequence[str]):
    """An Arrow string array as a read-only sequence of str, converting an item only when it is read."""

    def __init__(self, array) -> None:
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._array[index].to_pylist()
        return self._array[index].as_py()


def _offsets(array) -> NDArray[np.int32]:
    """Where each string of an Arrow string array begins in its data buffer (and where the last ends)."""
    return np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)


def _bytes(array) -> NDArray[np.uint8]:
    """The data buffer of an Arrow string array, which :func:`_offsets` index."""
    return np.frombuffer(array.buffers()[2], dtype=np.uint8)


def _numbers(array, dtype: type) -> NDArray:
    """The values of an Arrow array of numbers without nulls, as NumPy's ``dtype``, read from its data buffer.

    (``Array.to_numpy`` would do the same, but imports pandas, ~0.3 s, on first use.)
    """
    size = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * size)


def _card_by_card(kind: str, blocks: list[_Block]) -> _Rows:
    """Rows of any cards, parsed one by one; the first malformed card raises."""
    names: list[str] = []
    a: list[str] = []
    b: list[str] = []
    given = []
    for block in blocks:
        file = block.file
        for line, card in zip(block.lines.tolist(), block.text().split("\n")):
            tokens = file.tokens(line, card)
            try:
                if len(tokens) < 3 or tokens[1] in _PUNCTUATION or tokens[2] in _PUNCTUATION:
                    raise _CardError("needs two node names")
                given.append(_row_fields(kind, tokens[3:]))
            except _CardError as err:
                raise file.error(line, f"{kind} {tokens[0]!r}: {err}; physnet reads {_syntax(kind)}") from None
            names.append(tokens[0])
            a.append(tokens[1])
            b.append(tokens[2])
    rows = _Rows(kind, blocks, names, *_factorize(a, b), {})
    for key in dict.fromkeys(key for fields in given for key in fields):
        which = [row for row, fields in enumerate(given) if key in fields]
        rows.fields[key] = (np.array(which, dtype=np.int64), [given[row][key] for row in which])
    return rows


def _element_values(rows: _Rows, deck: _Deck, allow_negative: bool) -> dict[str, NDArray[np.float64]]:
    """Parameter arrays of the kind's table entry, from the rows' fields."""
    if rows.kind == "resistor":
        return {"g": _conductances(rows, allow_negative)}
    if rows.kind == "diode":
        return _diode_values(rows, deck)
    return {p.name: rows.column(p.name, p.default) for p in ELEMENTS[rows.kind].params}


def _conductances(rows: _Rows, allow_negative: bool) -> NDArray[np.float64]:
    g = rows.column("r")
    tokens = rows.fields["r"][1]
    zero = ~np.isfinite(g)
    if zero.any():
        row = int(np.argmax(zero))
        raise rows.error(row, f"resistance {tokens[row]!r} is zero (or too small for float64): SPICE has no R = 0; "
                              "use a 0 V voltage source as a short, or a small resistance")
    if not allow_negative and (g < 0).any():
        row = int(np.argmax(g < 0))
        raise rows.error(row, f"resistance {tokens[row]!r} is negative: pass allow_negative=True to "
                              "read_spice/parse_spice to accept it (the network is then not passive)")
    return g


def _diode_values(rows: _Rows, deck: _Deck) -> dict[str, NDArray[np.float64]]:
    """Diode parameters from each card's model, scaled by its area (IS * area, RS / area)."""
    models = rows.fields["model"][1]
    for row, model in enumerate(models):
        if model not in deck.models:
            raise rows.error(row, f"model {model!r} is not defined by any .model card (add .model {model} D (IS=...))")
    values = {p.name: np.array([deck.models[m][2][p.name] for m in models]) for p in ELEMENTS["diode"].params}
    area = rows.column("area", 1.0)
    if (area <= 0).any():
        row = int(np.argmax(area <= 0))
        raise rows.error(row, f"area {float(area[row])!r} must be > 0")
    with np.errstate(over="ignore"):  # an infinite product is refused, with its line, by the netlist builder
        values["is_"] = values["is_"] * area
        values["rs"] = values["rs"] / area
    return values


def _read_kind(kind: str, blocks: list[_Block], deck: _Deck, allow_negative: bool) -> _Rows:
    """Parse one kind: column-wise when every card is plain (by Arrow when there are many), else card by card.

    Reading card by card names any bad card.
    """
    rows = None
    if sum(len(block.lines) for block in blocks) >= _COLUMNS_FROM:
        rows = _columns(kind, blocks)
    if rows is None:
        rows = _uniform(kind, blocks)
    if rows is not None:
        try:
            rows.values = _element_values(rows, deck, allow_negative)
            return rows
        except SpiceSyntaxError:
            pass  # a source such as "V1 a b ac" is valid but not plain: read it card by card
    rows = _card_by_card(kind, blocks)
    rows.values = _element_values(rows, deck, allow_negative)
    return rows


# ------------------------------------------------------------------ into the Netlist
def _add(net: Netlist, rows: _Rows, allow_negative: bool, count: int | None = None) -> None:
    """Add the first ``count`` rows (all by default) to ``net`` with one vectorised call.

    Adding everything, terminals go in as the node indices of
    :func:`_declare_nodes` and distinct names through the netlist's bulk lane
    (names of different kinds differ in their first letter, so no name is in
    ``net`` yet); probing prefixes on a fresh netlist, everything goes in by
    name and is checked.
    """
    part = slice(count)
    values = {name: array[part] for name, array in rows.values.items()}
    if count is None:
        (a, b), new_names = rows.terminals, rows.distinct()
    else:
        (a, b), new_names = rows.node_names(count), False
    names = rows.names[part]
    if rows.kind == "resistor":
        net.resistors(names, a, b, g=values["g"], allow_negative=allow_negative, _new_names=new_names)
    else:
        net.add_many(rows.kind, names, a, b, _new_names=new_names, **values)


def _add_located(net: Netlist, rows: _Rows, allow_negative: bool) -> None:
    """Add all rows; a builder error is re-raised at the line of the first card that causes it."""
    try:
        _add(net, rows, allow_negative)
    except NetlistError as err:
        message = str(err)
        low, high = 0, len(rows)  # the first `high` rows fail on a fresh netlist, the first `low` do not
        while high - low > 1:
            middle = (low + high) // 2
            try:
                _add(Netlist(), rows, allow_negative, middle)
                low = middle
            except NetlistError as smaller:
                high, message = middle, str(smaller)
        row = high - 1
        first = rows.names.index(rows.names[row])
        if first < row:
            file, line = rows.where(first)
            message += f" (first defined at {file.path}:{line + 1})"
        file, line = rows.where(row)
        raise file.error(line, message) from None


def _declare_nodes(net: Netlist, all_rows: list[_Rows]) -> None:
    """Create the nodes in order of first appearance, kind by kind, n+ before n- (see the module docstring)."""
    for rows in all_rows:
        index = net.nodes(rows.nodes, _words=True)
        rows.terminals = index[rows.pins[:, 0]], index[rows.pins[:, 1]]


def _build(deck: _Deck, allow_negative: bool) -> Netlist:
    all_rows = [_read_kind(kind, deck.blocks[kind], deck, allow_negative) for kind in ELEMENTS
                if deck.blocks.get(kind)]
    net = Netlist(deck.title, deck.temperature)
    _declare_nodes(net, all_rows)
    for rows in all_rows:
        _add_located(net, rows, allow_negative)
    sources = [rows.names for rows in all_rows if rows.kind in ("vsource", "isource")]
    for file, i, kind, args in deck.analyses:
        if kind == "dc" and not any(args[0] in names for names in sources):
            raise file.error(i, f".dc sweeps {args[0]!r}, which is not a V or I source of this netlist")
        net.analysis(kind, *args)
    return net


def _parse(text: str, path: str, folder: Path | None, stack: list[Path], allow_negative: bool) -> Netlist:
    root = None if folder is None else Path(os.path.realpath(folder))
    deck = _Deck(root, stack)
    top = _File.from_text(text, path, root, titled=True)
    deck.title = top.text[:_line_end(top.text)].strip()
    _scan(top, deck)
    return _build(deck, allow_negative)


def parse_spice(
    text: str, path: str = "<string>", *, base_dir: str | os.PathLike | None = None, allow_negative: bool = False
) -> Netlist:
    """Read SPICE netlist text into a :class:`physnet.Netlist` (the subset in the module docstring).

    Parameters
    ----------
    text : str
        The netlist; its first line is the title.
    path : str, optional
        Name used in error messages.
    base_dir : path-like, optional
        Folder that ``.include`` files are looked up in and must stay inside;
        without it ``.include`` is an error.
    allow_negative : bool, optional
        Accept negative resistances (SPICE does; the network is then active).

    Returns
    -------
    Netlist
        Title, temperature, elements and recorded analyses.

    Raises
    ------
    SpiceSyntaxError
        Anything outside the subset, or an invalid value; the message starts
        with ``path:line``.

    Examples
    --------
    >>> net = parse_spice('''divider
    ... V1 in 0 DC 5
    ... R1 in out 1k
    ... R2 out 0 r=1k ; the bottom half
    ... .op
    ... .end''')
    >>> system = net.compile()
    >>> net.title, system.node_names, system["resistor"]["g"], system.analyses[0].kind
    ('divider', ('0', 'in', 'out'), array([0.001, 0.001]), 'op')
    >>> parse_spice("t\\nQ1 c b e npn", "amp.cir")
    Traceback (most recent call last):
    ...
    physnet.errors.SpiceSyntaxError: amp.cir:2: element type 'Q' is not supported (R D V I C L are)
    """
    return _parse(text, str(path), None if base_dir is None else Path(base_dir), [], allow_negative)


def read_spice(path: str | os.PathLike, *, allow_negative: bool = False) -> Netlist:
    """Read a SPICE netlist file into a :class:`physnet.Netlist` (see :func:`parse_spice`).

    ``.include`` files are read relative to the including file and must lie
    inside this file's folder. The file is read as UTF-8 (undecodable bytes
    become U+FFFD).

    Parameters
    ----------
    path : path-like
        The netlist file.
    allow_negative : bool, optional
        Accept negative resistances.

    Returns
    -------
    Netlist

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "load.inc").write_text("R2 out 0 1k\\n")
    >>> _ = (folder / "top.cir").write_text('divider\\nV1 in 0 1\\nR1 in out 1k\\n.include "load.inc"\\n.end\\n')
    >>> read_spice(folder / "top.cir").compile().summary()
    '3 nodes, resistor: 2, vsource: 1'
    """
    real = Path(os.path.realpath(path))
    text = real.read_text(encoding="utf-8", errors="replace")
    return _parse(text, str(path), real.parent, [real], allow_negative)
