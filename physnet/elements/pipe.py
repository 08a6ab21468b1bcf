"""Pipes of a flow network: Poiseuille's hydraulic conductance.

Pressure ``p`` plays the role of voltage and volume flow the role of current,
so a flow network is solved by the same Laplacian as a resistor network.
"""

from __future__ import annotations

import math

from physnet.errors import NetlistError

__all__ = ["hydraulic_conductance"]


def hydraulic_conductance(radius: float, length: float, viscosity: float = 1e-3, *, name: str = "pipe") -> float:
    """Poiseuille conductance ``k = π r⁴ / (8 μ ℓ)`` of a cylindrical pipe, in m³/(Pa·s).

    Parameters
    ----------
    radius, length : float
        Pipe radius and length in metres.
    viscosity : float, optional
        Dynamic viscosity in Pa·s (water at 20 °C: 1e-3).
    name : str, optional
        Element name used in error messages.

    Examples
    --------
    >>> k = hydraulic_conductance(1e-3, 1.0)
    >>> round(k / (math.pi * 1e-12 / 8e-3), 12)
    1.0
    """
    for label, value in (("radius", radius), ("length", length), ("viscosity", viscosity)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise NetlistError(f"pipe {name!r}: {label} = {value!r} is invalid (must be a finite number > 0)")
    return math.pi * radius**4 / (8.0 * viscosity * length)
