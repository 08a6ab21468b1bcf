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
    """Base class of every error physnet raises on purpose.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "a", "0", dc=1.0); net.resistor("R1", "a", "0", r=1.0)
    >>> try:
    ...     pn.solve_dc(net)["b"]
    ... except PhysnetError as err:  # the base class catches every physnet error
    ...     print(type(err).__name__, "-", err)
    NetlistError - unknown node 'b': the network has no node of that name
    """


class NetlistError(PhysnetError, ValueError):
    """A network description is invalid (names, nodes or parameter values).

    Examples
    --------
    >>> import physnet as pn
    >>> try:
    ...     pn.Netlist().resistor("R1", "a", "0", r=-1.0)
    ... except NetlistError as err:
    ...     print(err, isinstance(err, ValueError))
    resistor 'R1': g = -1.0 S is invalid (must be a finite number > 0) True
    """


class FloatingNodeError(NetlistError):
    """Some nodes have no conductive path to ground or to a voltage source.

    Attributes
    ----------
    nodes : tuple of str
        The floating nodes, every one of them.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "a", "0", dc=1.0); net.resistor("R1", "a", "0", r=1.0)
    >>> net.resistor("R2", "b", "c", r=1.0)  # b and c are joined only to each other
    >>> try:
    ...     pn.solve_dc(net)
    ... except FloatingNodeError as err:
    ...     print(err.nodes)
    ('b', 'c')
    """

    def __init__(self, message: str, nodes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.nodes = nodes


class SourceLoopError(NetlistError):
    """Voltage sources (or DC shorts such as inductors) form a closed loop.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "a", "0", dc=1.0); net.vsource("V2", "a", "0", dc=2.0)
    >>> try:
    ...     pn.solve_dc(net)
    ... except SourceLoopError as err:
    ...     print(type(err).__name__)
    SourceLoopError
    """


class SpiceSyntaxError(NetlistError):
    """A SPICE netlist cannot be read; the message starts with ``file:line``.

    Attributes
    ----------
    path : str
        The file (or ``"<string>"``).
    line : int
        1-based line number of the offending card.

    Examples
    --------
    >>> from physnet.spice import parse_spice
    >>> try:
    ...     parse_spice("amplifier\\nQ1 c b e npn\\n", "amp.cir")
    ... except SpiceSyntaxError as err:
    ...     print(err.line, err)
    2 amp.cir:2: element type 'Q' is not supported (R D V I C L are)
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

    Examples
    --------
    A diode network allowed three Newton iterations and no fallbacks:

    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", dc=5.0)
    >>> net.resistor("R1", "in", "a", r=2e3); net.diode("D1", "a", "0", is_=1e-13)
    >>> try:
    ...     pn.solve_dc(net, options=pn.NewtonOptions(max_iter=3, gmin_steps=0, source_steps=0))
    ... except ConvergenceError as err:
    ...     print(type(err).__name__, err.iterations, err.residual > 0)
    ConvergenceError 3 True
    """

    def __init__(self, message: str, iterations: int, residual: float) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual


class NgspiceError(PhysnetError, RuntimeError):
    """ngspice is missing, failed, or timed out.

    Examples
    --------
    >>> from physnet.spice.run import run_ngspice
    >>> try:
    ...     run_ngspice("bad\\nX1 a b nowhere\\n.op\\n.end\\n")  # a subcircuit that is never defined
    ... except NgspiceError as err:
    ...     print(str(err).startswith("ngspice failed"))
    True
    """
