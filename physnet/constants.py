"""Physical constants, identical to ngspice's (``src/include/ngspice/const.h``).

Using ngspice's values rather than CODATA 2018 makes a netlist give
ngspice's answer unchanged (the thermal voltage differs in the 8th digit).
"""

from __future__ import annotations

__all__ = ["BOLTZMANN", "CHARGE", "CELSIUS_TO_KELVIN", "T_NOMINAL", "GMIN", "thermal_voltage"]

BOLTZMANN = 1.38064852e-23
"""Boltzmann constant in J/K (ngspice's value)."""

CHARGE = 1.6021766208e-19
"""Elementary charge in C (ngspice's value)."""

CELSIUS_TO_KELVIN = 273.15

T_NOMINAL = 27.0
"""SPICE's default circuit and nominal temperature in degrees Celsius."""

GMIN = 1e-12
"""Conductance SPICE places across every junction (siemens)."""


def thermal_voltage(temperature: float = T_NOMINAL) -> float:
    """Thermal voltage ``kT/q`` in volts at ``temperature`` degrees Celsius.

    Examples
    --------
    >>> round(thermal_voltage(), 9)
    0.025864917
    """
    return BOLTZMANN * (temperature + CELSIUS_TO_KELVIN) / CHARGE
