"""Small-signal phasor (AC) analysis at one or many frequencies.

Every element becomes a complex admittance edge: resistors ``g``,
capacitors ``jωC``, inductors ``1/(jωL)`` and diodes their small-signal
conductance ``di/dv`` at the DC operating point (the same linearisation the
DC Newton solver stamps). Voltage sources are eliminated as shorts carrying
their AC phasor, current sources inject theirs, and callers may add node
current phasors of their own (frequency propagation's error tone). The
convention is ``x(t) = Re(X e^{jωt})``.

The sparsity pattern and its fill-reducing ordering are computed once per
system; each frequency refactors numerically. A network without capacitors
and inductors has one real matrix for all frequencies: it is factored once
and all frequencies are one multi-right-hand-side solve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.constants import thermal_voltage
from physnet.elements.diode import diode_iv
from physnet.elements.source import ac_phasors
from physnet.errors import NetlistError
from physnet.netlist import Netlist
from physnet.solvers.dc import DCResult, NewtonOptions, solve_dc
from physnet.solvers.linear import Factor
from physnet.solvers.nodal import NodalOperator, edge_weights, leaving, nodal_operator, short_values
from physnet.solvers.nodal import injections as source_injections
from physnet.system import System

__all__ = ["ACResult", "solve_ac", "ac_weights"]


@dataclass(frozen=True, eq=False)
class ACResult:
    """Phasor solution, frequency first (as in scikit-rf).

    Attributes
    ----------
    freqs : ndarray, shape (n_freq,)
        Frequencies (Hz).
    node_names : tuple of str
        Node names by index (ground first).
    v : ndarray of complex, shape (n_freq, n_nodes)
        Node voltage phasors (V): ``v(t) = Re(V e^{jωt})``.
    source_names : tuple of str
        Voltage sources in table order.
    source_currents : ndarray of complex, shape (n_freq, n_sources)
        Current phasor into each source's ``+`` terminal, through it, out of
        ``-`` (SPICE's sign).
    operating_point : DCResult or None
        The DC point the diodes were linearised at (None without diodes).
    converged : bool
    iterations : int
        Numeric factorizations performed.
    residual : float
        Largest KCL residual over the free nodes and frequencies (A).
    message : str

    Examples
    --------
    An RC low-pass at its corner frequency ``1/(2πRC)``: half the power, 45° behind:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", ac=1.0)
    >>> net.resistor("R1", "in", "out", r=1e3); net.capacitor("C1", "out", "0", c=1e-6)
    >>> res = solve_ac(net, 1 / (2 * np.pi * 1e-3))
    >>> res.v.shape, round(float(abs(res["out"][0])) ** 2, 12), round(float(np.angle(res["out"][0], deg=True)), 9)
    ((1, 3), 0.5, -45.0)
    """

    freqs: NDArray[np.float64]
    node_names: tuple[str, ...]
    v: NDArray[np.complex128]
    source_names: tuple[str, ...]
    source_currents: NDArray[np.complex128]
    operating_point: DCResult | None = None
    converged: bool = True
    iterations: int = 1
    residual: float = 0.0
    message: str = ""
    _index: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, node: str) -> NDArray[np.complex128]:
        """Phasors of node ``node`` at every frequency, shape (n_freq,)."""
        if not self._index:
            self._index.update((n, i) for i, n in enumerate(self.node_names))
        key = "0" if str(node).lower() in ("0", "gnd") else str(node)
        if key not in self._index:
            raise NetlistError(f"unknown node {node!r}: the network has no node of that name")
        return self.v[:, self._index[key]]

    def current(self, source: str) -> NDArray[np.complex128]:
        """Current phasors through voltage source ``source``, shape (n_freq,)."""
        try:
            return self.source_currents[:, self.source_names.index(source)]
        except ValueError:
            raise NetlistError(f"no voltage source named {source!r}") from None

    def as_dict(self) -> dict:
        """JSON-ready ``{"analysis": "ac", "freqs": [...], "nodes": {...}, "currents": {...}}``.

        Each value is ``{"re": .., "im": ..}`` for a single frequency and a
        list of those (one per frequency) for several.
        """
        single = len(self.freqs) == 1

        def value(column: NDArray) -> dict | list:
            pairs = [{"re": float(z.real), "im": float(z.imag)} for z in column]
            return pairs[0] if single else pairs

        return {
            "analysis": "ac",
            "freqs": [float(f) for f in self.freqs],
            "nodes": {n: value(self.v[:, i]) for i, n in enumerate(self.node_names) if n != "0"},
            "currents": {n: value(self.source_currents[:, i]) for i, n in enumerate(self.source_names)},
            "converged": self.converged,
            "iterations": self.iterations,
            "residual": self.residual,
        }


def ac_weights(system: System, op: NodalOperator, freq: float, linear: NDArray) -> NDArray:
    """Complex admittance of every edge of an ``"ac"`` operator at ``freq`` (Hz).

    ``linear`` holds the frequency-independent weights (resistors, pipes,
    diode small-signal conductances); capacitors get ``jωC`` and inductors
    ``1/(jωL)``.

    Examples
    --------
    At ``f = 1/(2π)`` Hz (ω = 1 rad/s) a 1 µF capacitor admits ``1e-6 j`` S:

    >>> import numpy as np, physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist(); net.resistor("R1", "a", "0", r=1e3); net.capacitor("C1", "a", "0", c=1e-6)
    >>> system = net.compile(); op = nodal_operator(system, "ac")
    >>> w = ac_weights(system, op, 1 / (2 * np.pi), edge_weights(system, op))
    >>> w[op.edge_slice("resistor")].tolist(), w[op.edge_slice("capacitor")].round(18).tolist()
    ([(0.001+0j)], [1e-06j])
    """
    omega = 2.0 * np.pi * freq
    w = linear.astype(np.complex128)
    w[op.edge_slice("capacitor")] = 1j * omega * system["capacitor"]["c"]
    w[op.edge_slice("inductor")] = 1.0 / (1j * omega * system["inductor"]["l"])
    return w


def solve_ac(
    network: System | Netlist,
    freqs: float | ArrayLike,
    *,
    g: NDArray | None = None,
    k: NDArray | None = None,
    operating_point: DCResult | None = None,
    injections: ArrayLike | None = None,
    sources: bool = True,
    options: NewtonOptions = NewtonOptions(),
    backend: str = "auto",
) -> ACResult:
    """Small-signal phasor analysis at one or many frequencies.

    Parameters
    ----------
    network : System or Netlist
        The network (a Netlist is compiled first).
    freqs : float or array_like
        Frequencies (Hz, > 0). The result is frequency-first even for one.
    g, k : ndarray, optional
        Resistor and pipe conductances, overriding the system's.
    operating_point : DCResult, optional
        DC point to linearise diodes at; computed with :func:`solve_dc` (same
        ``g``, ``k``) when the network has diodes and none is given.
    injections : array_like of complex, shape (n_nodes,) or (n_freq, n_nodes), optional
        Extra current phasors (A) injected *into* each node (index order of
        ``system.node_names``; the ground entry is ignored). One row per
        frequency, or one row for all.
    sources : bool, optional
        Whether the AC values of the voltage and current sources excite the
        network. ``False`` leaves ``injections`` as the only excitation
        (voltage sources still act as AC shorts), which is how frequency
        propagation applies its error current.
    options : NewtonOptions, optional
        Settings of the DC solve when an operating point is computed.
    backend : str, optional
        Linear backend (see :mod:`physnet.solvers.linear`).

    Returns
    -------
    ACResult

    Raises
    ------
    NetlistError
        Non-positive frequencies, bad ``injections`` shape, or a matrix that
        is singular at some frequency (an undamped LC resonance).

    Examples
    --------
    The ngspice ``lowpass`` circuit, ``V(2) = 0.5 / (1 + j 2πf 5 µs)``:

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "1", "0", ac=1.0)
    >>> net.resistors(["R1", "R2"], ["1", "2"], ["2", "0"], r=[10e3, 10e3])
    >>> net.capacitor("C1", "2", "0", c=1e-9)
    >>> res = solve_ac(net, [1e3, 1e6])
    >>> res["2"].round(7)
    array([0.499507 -0.0156925j, 0.0005061-0.0158994j])
    """
    system = network.compile() if isinstance(network, Netlist) else network
    freqs = _frequencies(freqs)
    op = nodal_operator(system, "ac", backend)
    n_freq = len(freqs)
    extra = _injections(injections, n_freq, system.n_nodes)

    linear = edge_weights(system, op, g, k)
    dc = None
    if system.has("diode"):
        dc = operating_point if operating_point is not None else solve_dc(system, g, k=k, options=options,
                                                                        backend=backend)
        linear[op.edge_slice("diode")] = _diode_conductance(system, op, dc.v, options.gmin)

    if sources:
        E = np.broadcast_to(short_values(system, op.reduction, ac_phasors(system["vsource"])),
                            (n_freq, len(op.reduction.shorts)))
        inj = extra + source_injections(system, ac_phasors(system["isource"]))
    else:
        E = np.zeros((n_freq, len(op.reduction.shorts)), dtype=np.complex128)
        inj = extra
    inj = np.broadcast_to(inj, (n_freq, system.n_nodes))

    spd = bool(np.all(linear[linear != 0] > 0))
    reactive = system.has("capacitor") or system.has("inductor")
    if reactive:
        v = np.empty((n_freq, system.n_nodes), dtype=np.complex128)
        weights = np.empty((n_freq, op.pattern.n_edges), dtype=np.complex128)
        for i, f in enumerate(freqs):
            weights[i] = ac_weights(system, op, f, linear)
            # Inductors make the imaginary part indefinite: pivot then. RC networks keep the cached ordering.
            factor = _factor(op, weights[i], spd=spd and not system.has("inductor"), freq=f)
            v[i] = _solve(op, factor, weights[i], E[i], inj[i])
        iterations, message = n_freq, f"{n_freq} complex factorizations (one per frequency)"
    else:
        weights = np.broadcast_to(linear, (n_freq, op.pattern.n_edges))
        factor = _factor(op, linear, spd=spd, freq=freqs[0])
        v = _solve(op, factor, linear, E, inj)
        iterations, message = 1, "one real factorization for all frequencies (no reactive elements)"

    kcl = _kcl(system, op, weights, v, inj)
    residual = float(np.max(np.abs(op.reduction.restrict(kcl)), initial=0.0))
    currents = op.reduction.short_currents(kcl)
    return ACResult(freqs, system.node_names, v, tuple(system["vsource"].names), currents, dc, True, iterations,
                    residual, message)


def _frequencies(freqs: float | ArrayLike) -> NDArray[np.float64]:
    try:
        out = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
    except (TypeError, ValueError):
        raise NetlistError(f"freqs = {freqs!r} must be numbers (Hz)") from None
    if out.ndim != 1 or out.size == 0:
        raise NetlistError(f"freqs must be one frequency or a 1-D list of them, got shape {out.shape}")
    bad = ~(np.isfinite(out) & (out > 0))
    if bad.any():
        raise NetlistError(f"frequency {out[np.argmax(bad)]!r} Hz is invalid: AC analysis needs finite "
                           "frequencies > 0 (use solve_dc for DC)")
    return out


def _injections(injections: ArrayLike | None, n_freq: int, n_nodes: int) -> NDArray[np.complex128]:
    if injections is None:
        return np.zeros((1, n_nodes), dtype=np.complex128)
    out = np.asarray(injections, dtype=np.complex128)
    if out.ndim == 1:
        out = out[None, :]
    if out.ndim != 2 or out.shape[1] != n_nodes or out.shape[0] not in (1, n_freq):
        raise NetlistError(f"injections must have shape ({n_nodes},) or ({n_freq}, {n_nodes}) "
                           f"(nodes in system.node_names order), got {np.shape(injections)}")
    return out


def _diode_conductance(system: System, op: NodalOperator, v: NDArray, gmin: float) -> NDArray:
    """Small-signal conductance ``di/dv`` of every diode at node potentials ``v``."""
    d = system["diode"]
    sl = op.edge_slice("diode")
    vt = thermal_voltage(system.temperature)
    return diode_iv(v[op.a[sl]] - v[op.b[sl]], d["is_"], d["n"], d["rs"], vt, gmin)[1]


def _factor(op: NodalOperator, weights: NDArray, *, spd: bool, freq: float) -> Factor:
    try:
        return op.factorizer.factor(op.matrix_data(weights), spd=spd)
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise NetlistError(f"the AC nodal matrix is singular at {freq:g} Hz ({exc}): an undamped LC resonance, "
                           "or nodes held only by elements that vanish there — add a series or shunt "
                           "resistance") from None


def _solve(op: NodalOperator, factor: Factor, weights: NDArray, E: NDArray, inj: NDArray) -> NDArray:
    """Node potentials for source phasors ``E`` and injections ``inj`` (leading frequency axis optional)."""
    red = op.reduction
    base = red.potentials(np.zeros(E.shape[:-1] + (red.n_free,), dtype=np.complex128), E)
    flows = op.edge_flows(weights, base)
    rhs = red.restrict(inj - leaving(len(red.free), op.a, op.b, flows))
    x = factor.solve(rhs.T).T if rhs.ndim > 1 else factor.solve(rhs)
    return red.potentials(x, E)


def _kcl(system: System, op: NodalOperator, weights: NDArray, v: NDArray, inj: NDArray) -> NDArray:
    """Current leaving each node through every element but the eliminated sources, per frequency."""
    return leaving(system.n_nodes, op.a, op.b, op.edge_flows(weights, v)) - inj
