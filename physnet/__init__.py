"""physnet: a simulator for physical learning.

Resistor (with diodes), elastic and flow networks that learn by changing
their own conductances from local signals, with frequency propagation at the
centre and ngspice as the referee.
"""

from physnet.netlist import Netlist
from physnet.solvers.dc import DCResult, NewtonOptions, solve_dc
from physnet.system import System

__all__ = ["Netlist", "System", "solve_dc", "DCResult", "NewtonOptions"]
__version__ = "0.1.0"
