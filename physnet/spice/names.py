"""Safe SPICE names for export: no netlist injection through a name.

A name is *safe* when it is made of ASCII letters, digits, ``_`` and ``.``
(not leading): such a name cannot start a comment (``*``, ``;``, ``$``), a
dot card or a continuation (``+``), cannot hide a delimiter (``( ) , = { }``)
or a line break, and reads as the same name in ngspice's vectors
(``v(name)``). Safe names are written unchanged; any other name gets a
deterministic escaped form, each unsafe character becoming ``_x<hex>_``
(``"α"`` -> ``"_x3b1_"``).

SPICE is case-insensitive and physnet's reader lowercases, so names must stay
distinct after lowercasing: when two would collide, the later one gets a
``_2``, ``_3``... suffix. Element names must start with their kind's SPICE
letter; other names get the letter in front (resistor ``"e1"`` -> ``"Re1"``).
Ground is always written ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["is_safe", "escape", "node_names", "element_names", "title_line"]

_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*\Z")
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_GROUND = "0"
_GROUND_NAMES = frozenset({"0", "gnd"})


def is_safe(name: str) -> bool:
    """Whether ``name`` can be written into a netlist unchanged.

    Examples
    --------
    >>> is_safe("n1_2"), is_safe("out.3"), is_safe("a b"), is_safe(".end"), is_safe("x;y")
    (True, True, False, False, False)
    """
    return _SAFE.match(name) is not None


def escape(name: str) -> str:
    """Deterministic safe form of ``name``: every character but ``[A-Za-z0-9_]`` becomes ``_x<hex>_``.

    Examples
    --------
    >>> escape("in+"), escape("α"), escape("a\\nR2 x 0 1")
    ('in_x2b_', '_x3b1_', 'a_xa_R2_x20_x_x20_0_x20_1')
    """
    return "".join(c if c in _PLAIN else f"_x{ord(c):x}_" for c in name)


def _unique(names: Sequence[str], safe: Iterable[bool], rewrite, taken: set[str]) -> list[str]:
    """Keep safe names whose lowercase form is free, rewrite the others and make them unique."""
    out = list(names)
    pending = []
    for i, (name, ok) in enumerate(zip(names, safe)):
        if ok and name.lower() not in taken:
            taken.add(name.lower())
        else:
            pending.append(i)
    for i in pending:
        base = candidate = rewrite(names[i])
        suffix = 1
        while candidate.lower() in taken:
            suffix += 1
            candidate = f"{base}_{suffix}"
        taken.add(candidate.lower())
        out[i] = candidate
    return out


def node_names(names: Sequence[str]) -> list[str]:
    """SPICE names for a system's nodes (index 0 is ground, written ``0``).

    Parameters
    ----------
    names : sequence of str
        :attr:`physnet.System.node_names`, ground first.

    Returns
    -------
    list of str
        Safe, distinct after lowercasing, never ``0`` or ``gnd`` except ground.

    Examples
    --------
    >>> node_names(["0", "in", "IN", "a;b", "α"])
    ['0', 'in', 'IN_2', 'a_x3b_b', '_x3b1_']
    """
    safe = [is_safe(n) for n in names[1:]]
    return [_GROUND] + _unique(names[1:], safe, escape, set(_GROUND_NAMES))


def element_names(names: Sequence[str], letter: str) -> list[str]:
    """SPICE names for elements of one SPICE letter (e.g. all resistors and pipes for ``"R"``).

    Parameters
    ----------
    names : sequence of str
        Element names, unique.
    letter : str
        The SPICE letter every written name must start with.

    Returns
    -------
    list of str
        Safe, distinct after lowercasing, each starting with ``letter`` (any case).

    Examples
    --------
    >>> element_names(["R1", "load", "r1", "R(2)"], "R")
    ['R1', 'Rload', 'r1_2', 'R_x28_2_x29_']
    """
    def rewrite(name: str) -> str:
        text = escape(name)
        return text if text[:1].lower() == letter.lower() else letter + text

    safe = [is_safe(n) and n[:1].lower() == letter.lower() for n in names]
    return _unique(names, safe, rewrite, set())


def title_line(title: str) -> str:
    """The title as written on a netlist's first line: one line, printable, stripped.

    Examples
    --------
    >>> title_line("  my net\\n.control\\tshell  ")
    'my net .control shell'
    """
    return "".join(c if c.isprintable() else " " for c in title).strip()
