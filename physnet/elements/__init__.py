"""Element families and the one declarative table that describes them.

:data:`ELEMENTS` lists every element kind with its SPICE letter and its
parameters (name, unit, default, validity rule). The netlist builder validates
against it, :mod:`physnet.system` stores one :class:`ElementTable` per kind,
and :mod:`physnet.spice` reads and writes through it. The physics of each
family lives in its own module (``resistor``, ``diode``, ``source``,
``reactive``, ``spring``, ``pipe``).
"""

from physnet.elements.table import ELEMENTS, ElementSpec, ElementTable, Param

__all__ = ["ELEMENTS", "ElementSpec", "ElementTable", "Param"]
