"""SPICE numbers: SI-suffix parsing, exact formatting and exact resistances.

SPICE writes ``4.7k``, ``100FA``, ``1MEG`` or ``-2.5E+3``: a decimal number,
an optional exponent, then an optional scale factor (``t g meg k m mil u n p
f``, any case). Letters after the number that are not a scale factor are units
and are ignored, as SPICE does (``5V``, ``10kohm`` = 10e3, ``1ms`` = 1e-3).

Numbers are written with :func:`repr`, the shortest text that reads back to
the same float64, so a written netlist reads back bit for bit. A resistor is
stored as a conductance ``g`` but written as a resistance ``1/g``; not every
float64 ``g`` is ``1/r`` of some float64 ``r``, so :func:`resistance_texts`
falls back to a 25-digit decimal that :func:`conductances` inverts exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Context, Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:  # the 'fast' extra: correctly rounded like float(), several times faster on 17-digit decimals
    from fastnumbers import try_array as _fast_floats
except ImportError:  # pragma: no cover - depends on the environment
    _fast_floats = None

__all__ = [
    "NumberError",
    "parse_number",
    "parse_numbers",
    "format_number",
    "conductances",
    "resistance_texts",
]

_SCALES = {"t": 12, "g": 9, "meg": 6, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15}
_MIL = 25.4e-6  # one thousandth of an inch, in metres
_NUMBER = re.compile(r"([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)(?:e([+-]?[0-9]+))?([a-z]*)\Z")
_MAX_EXPONENT = 9999  # beyond it every float64 is 0 or infinite; caps big-int work on hostile input
_EXACT_DIGITS = 20  # resistance tokens with this many significant digits are inverted exactly
_EXACT_LENGTH = 60  # ... when they are no longer than this (the writer's are 30 characters)
_DECIMAL = Context(prec=40)


class NumberError(ValueError):
    """A token is not a SPICE number.

    Attributes
    ----------
    index : int
        Position of the bad token in the sequence given to :func:`parse_numbers`
        (0 for :func:`parse_number`).
    token : str
        The token itself.

    Examples
    --------
    >>> try:
    ...     parse_numbers(["1k", "4.7u", "ten"])
    ... except NumberError as err:
    ...     print(err.index, err.token, "-", err)
    2 ten - 'ten' is not a number (write e.g. 1k, 4.7u, 1e-3, 2.5meg)
    """

    def __init__(self, token: str, reason: str = "is not a number") -> None:
        super().__init__(f"{token!r} {reason} (write e.g. 1k, 4.7u, 1e-3, 2.5meg)")
        self.index = 0
        self.token = token


def _split(token: str) -> tuple[str, str, int, str]:
    """Sign, mantissa, exponent and unit letters of ``token``; raise NumberError if malformed."""
    match = _NUMBER.match(token.lower())
    if match is None:
        raise NumberError(token)
    sign, mantissa, exponent, letters = match.groups()
    if exponent is not None and len(exponent.lstrip("+-0")) > len(str(_MAX_EXPONENT)):
        raise NumberError(token, "is out of the float64 range")
    return sign, mantissa, int(exponent or 0), letters


def _scale(letters: str) -> int:
    """Power of ten of a scale factor; unit letters alone (``v``, ``ohm``) scale by 10**0."""
    if letters.startswith("meg"):
        return _SCALES["meg"]
    return _SCALES.get(letters[:1], 0)


def parse_number(token: str) -> float:
    """Read one SPICE number, SI suffixes and unit letters included.

    The scale factor is folded into the exponent, so ``4.7u`` is the float64
    nearest to 4.7e-6 (one rounding, not a rounded product). ``mil`` (25.4e-6)
    is read too.

    Parameters
    ----------
    token : str
        E.g. ``"4.7k"``, ``"1MEG"``, ``"100FA"``, ``"-2.5E+3"``, ``".5"``.

    Returns
    -------
    float

    Raises
    ------
    NumberError
        The token is not a number, or overflows float64.

    Examples
    --------
    >>> parse_number("4.7k"), parse_number("1MEG"), parse_number("100FA"), parse_number("5V")
    (4700.0, 1000000.0, 1e-13, 5.0)
    >>> parse_number("1m"), parse_number("10kohm"), parse_number(".5"), parse_number("-2.5E+3")
    (0.001, 10000.0, 0.5, -2500.0)
    """
    try:
        value = float(token)
    except ValueError:
        value = math.nan
    # float() also takes "inf", "nan", "1_000" and non-ASCII digits; SPICE takes none of them.
    if math.isfinite(value) and token.isascii() and "_" not in token:
        return value
    sign, mantissa, exponent, letters = _split(token)
    if letters.startswith("mil"):
        value = float(f"{sign}{mantissa}e{exponent}") * _MIL
    else:
        value = float(f"{sign}{mantissa}e{exponent + _scale(letters)}")
    if not math.isfinite(value):
        raise NumberError(token, "is out of the float64 range")
    return value


def parse_numbers(tokens: Sequence[str]) -> NDArray[np.float64]:
    """Read many SPICE numbers at once (fast when they are plain decimals).

    Parameters
    ----------
    tokens : sequence of str

    Returns
    -------
    ndarray of float64

    Raises
    ------
    NumberError
        Naming the first bad token; its ``index`` is the token's position.

    Examples
    --------
    >>> parse_numbers(["1", "2.5e-3", "1k"])
    array([1.0e+00, 2.5e-03, 1.0e+03])
    """
    joined = " ".join(tokens)
    if joined.isascii() and "_" not in joined:
        values = _plain_floats(tokens)
        if values is not None and np.isfinite(values).all():
            return values
    values = {}
    for token in dict.fromkeys(tokens):  # netlists repeat values: read each distinct token once
        try:
            values[token] = parse_number(token)
        except NumberError as err:
            err.index = list(tokens).index(token)
            raise
    return np.fromiter(map(values.__getitem__, tokens), dtype=np.float64, count=len(tokens))


def _plain_floats(tokens: Sequence[str]) -> NDArray[np.float64] | None:
    """The tokens read by Python's float syntax (fastnumbers when installed, else numpy), or None if one is not."""
    try:
        if _fast_floats is not None:
            return _fast_floats(tokens, dtype=np.float64)
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        return None


def format_number(value: float) -> str:
    """The shortest text that reads back to exactly ``value``.

    Examples
    --------
    >>> format_number(1e3), format_number(0.1), format_number(-0.0)
    ('1000.0', '0.1', '-0.0')
    >>> parse_number(format_number(1 / 3)) == 1 / 3
    True
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written to a netlist: SPICE numbers are finite")
    return repr(value)


def _exact_reciprocal(token: str) -> float | None:
    """``1/token`` rounded once, for a long plain-decimal token; ``None`` for any other token."""
    if not _EXACT_DIGITS <= len(token) <= _EXACT_LENGTH:
        return None
    sign, mantissa, exponent, letters = _split(token)
    if len(mantissa.replace(".", "").lstrip("0")) < _EXACT_DIGITS or letters.startswith("mil"):
        return None
    value = Fraction(f"{sign}{mantissa}e{exponent + _scale(letters)}")
    return float(1 / value) if value else None


def conductances(
    tokens: Sequence[str], numbers: NDArray[np.float64] | None = None, lengths: NDArray[np.integer] | None = None
) -> NDArray[np.float64]:
    """Conductances ``g = 1/r`` of resistance tokens.

    A token of up to 19 significant digits is read as float64 first, as SPICE
    does, so ``g = 1.0 / float(r)``. A longer one is more precise than a
    float64 and is inverted exactly, with a single rounding. physnet's writer
    emits such a token only when no float64 ``r`` has ``1.0 / r == g``, so
    every conductance survives a write and a read bit for bit.

    Parameters
    ----------
    tokens : sequence of str
        Resistances in ohms, SPICE syntax.
    numbers : ndarray of float64, optional
        The tokens already read, when all are plain decimals read with
        correct rounding (as :func:`parse_numbers` and Arrow's reader read
        them); saves reading them again.
    lengths : ndarray of int, optional
        The tokens' lengths, when known; saves measuring them.

    Returns
    -------
    ndarray of float64
        ``inf`` where a resistance is zero.

    Raises
    ------
    NumberError
        A token is not a number.

    Examples
    --------
    >>> conductances(["1k", "2"])
    array([0.001, 0.5  ])
    >>> g = 0.7071067811865476
    >>> float(conductances(resistance_texts([g]))[0]) == g
    True
    """
    with np.errstate(divide="ignore"):
        g = 1.0 / (parse_numbers(tokens) if numbers is None else numbers)
    if lengths is None:
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    for i in np.flatnonzero(lengths >= _EXACT_DIGITS).tolist():
        exact = _exact_reciprocal(tokens[i])
        if exact is not None:
            g[i] = exact
    return g


def resistance_texts(g: ArrayLike) -> list[str]:
    """Resistance texts that :func:`conductances` reads back to exactly ``g``.

    The shortest float64 text when some float64 ``r`` within two ulps of
    ``1/g`` has ``1.0 / r == g`` (nearly always); else ``1/g`` as a 25-digit
    decimal.

    Parameters
    ----------
    g : array_like
        Finite, non-zero conductances in siemens.

    Returns
    -------
    list of str

    Examples
    --------
    >>> resistance_texts([1e-3, 0.5, -0.01])
    ['1000.0', '2.0', '-100.0']
    """
    g = np.asarray(g, dtype=np.float64).ravel()
    r = 1.0 / g
    found = 1.0 / r == g
    for direction in (np.inf, -np.inf):
        candidate = r
        for _ in range(2):
            candidate = np.nextafter(candidate, direction)
            hit = ~found & (1.0 / candidate == g)
            r = np.where(hit, candidate, r)
            found |= hit
    texts = [repr(x) for x in r.tolist()]
    for i in np.flatnonzero(~found).tolist():
        texts[i] = f"{_DECIMAL.divide(1, Decimal(g[i].item())):.24e}"
    return texts
