"""SPICE bridge: read a SPICE subset into a Netlist, write a System as an ngspice netlist.

One element table (:data:`physnet.elements.ELEMENTS`) drives both directions:
its SPICE letters name the cards, its parameters are what a card may set.
Reading never executes anything in a netlist; writing sanitises every name so
nothing can be injected through one.
"""

from physnet.spice.read import parse_spice, read_spice
from physnet.spice.write import format_spice, write_spice

__all__ = ["read_spice", "parse_spice", "write_spice", "format_spice"]
