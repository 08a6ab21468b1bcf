"""SPICE bridge: read a SPICE subset into a Netlist, write a System as an ngspice netlist.

One element table (:data:`physnet.elements.ELEMENTS`) drives both directions:
its SPICE letters name the cards, its parameters are what a card may set.
Reading never executes anything in a netlist; writing sanitises every name so
nothing can be injected through one. :func:`check` runs the same analysis in
physnet and in ngspice (:func:`run_ngspice`) and compares every node;
:mod:`physnet.spice.fp` measures a frequency-propagation step inside ngspice.
"""

from physnet.spice.check import CheckResult, check
from physnet.spice.read import parse_spice, read_spice
from physnet.spice.run import run_ngspice
from physnet.spice.write import format_spice, write_spice

__all__ = ["read_spice", "parse_spice", "write_spice", "format_spice", "check", "CheckResult", "run_ngspice"]
