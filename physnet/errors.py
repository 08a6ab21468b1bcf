"""Exceptions raised by physnet.

Every exception names the culprit (a node, an element, a file and line, a
config key) and, where there is one, the fix. Bad input raises a subclass of
:class:`ValueError`, so callers that only know the standard library can still
catch it.
"""

from __future__ import annotations

__all__ = [
    "PhysnetError",
    "NetlistError",
    "FloatingNodeError",
    "SourceLoopError",
    "SpiceSyntaxError",
    "ConvergenceError",
    "NgspiceError",
]


class PhysnetError(Exception):
    """Base class of every error physnet raises on purpose."""


class NetlistError(PhysnetError, ValueError):
    """A network description is invalid (names, nodes or parameter values)."""


class FloatingNodeError(NetlistError):
    """Some nodes have no conductive path to ground or to a voltage source.

    Attributes
    ----------
    nodes : tuple of str
        The floating nodes, every one of them.
    """

    def __init__(self, message: str, nodes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.nodes = nodes


class SourceLoopError(NetlistError):
    """Voltage sources (or DC shorts such as inductors) form a closed loop."""


class SpiceSyntaxError(NetlistError):
    """A SPICE netlist cannot be read; the message starts with ``file:line``.

    Attributes
    ----------
    path : str
        The file (or ``"<string>"``).
    line : int
        1-based line number of the offending card.
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


class ConvergenceError(PhysnetError, RuntimeError):
    """An iterative solver did not converge.

    Attributes
    ----------
    iterations : int
        Iterations spent.
    residual : float
        Final residual norm (amperes for KCL).
    """

    def __init__(self, message: str, iterations: int, residual: float) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual


class NgspiceError(PhysnetError, RuntimeError):
    """ngspice is missing, failed, or timed out."""
