"""physnet: a simulator for physical learning.

Resistor (with diodes), elastic and flow networks that learn by changing
their own conductances from local signals, with frequency propagation at the
centre and ngspice as the referee.

Examples
--------
>>> import physnet as pn
>>> net = pn.Netlist()
>>> net.vsource("V1", "a", "0", dc=1.0)
>>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1e3, 3e3])
>>> float(pn.solve_dc(net)["b"])
0.75
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

# Public names and the module each comes from, imported on first use (PEP 562) so that
# ``import physnet`` and the ``physnet`` command stay quick; ``generators`` is a module.
_SOURCES = {
    "Netlist": "physnet.netlist",
    "System": "physnet.system",
    "generators": "physnet.generators",
    **dict.fromkeys(["solve_dc", "DCResult", "NewtonOptions", "solve_ac", "ACResult", "solve_transient",
                     "TransientResult", "NoiseSpec", "lockin", "solve_hb", "HBResult", "HBOptions", "solve_elastic",
                     "ElasticResult"], "physnet.solvers"),
    **dict.fromkeys(["read_spice", "write_spice", "check", "CheckResult"], "physnet.spice"),
    **dict.fromkeys(["gradient", "fp_update", "train", "make_rule"], "physnet.learning"),
}
__all__ = [
    "Netlist",
    "System",
    "generators",
    "solve_dc",
    "DCResult",
    "NewtonOptions",
    "solve_ac",
    "ACResult",
    "solve_transient",
    "TransientResult",
    "NoiseSpec",
    "lockin",
    "solve_hb",
    "HBResult",
    "HBOptions",
    "solve_elastic",
    "ElasticResult",
    "read_spice",
    "write_spice",
    "check",
    "CheckResult",
    "gradient",
    "fp_update",
    "train",
    "make_rule",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:  # a subpackage or module, e.g. ``pn.solvers.planner`` or ``pn.tasks``
        if name.startswith("_") or importlib.util.find_spec(f"physnet.{name}") is None:
            raise AttributeError(f"module 'physnet' has no attribute {name!r}")
        return importlib.import_module(f"physnet.{name}")
    module = importlib.import_module(source)
    value = module if source == f"physnet.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})


if TYPE_CHECKING:  # what static tools see
    from physnet import generators
    from physnet.learning import fp_update, gradient, make_rule, train
    from physnet.netlist import Netlist
    from physnet.solvers import (
        ACResult,
        DCResult,
        ElasticResult,
        HBOptions,
        HBResult,
        NewtonOptions,
        NoiseSpec,
        TransientResult,
        lockin,
        solve_ac,
        solve_dc,
        solve_elastic,
        solve_hb,
        solve_transient,
    )
    from physnet.spice import CheckResult, check, read_spice, write_spice
    from physnet.system import System
