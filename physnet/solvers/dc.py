"""DC operating point: one sparse solve for linear networks, Newton for diodes.

A batch of samples on a network with few diodes is solved through the diode
ports of :mod:`physnet.solvers.ports` (one factorization for the batch).

Newton follows SPICE: each diode is linearised at a *limited* junction
voltage (``pnjlim``) into a conductance plus a companion current source, the
reduced nodal system is refactored numerically (same pattern, same symbolic
analysis) and solved for the new potentials. When plain Newton fails, GMIN
stepping (a shunt from every unknown to ground, swept down to zero) and then
source stepping (sources ramped from zero) are tried, each warm-started from
the last solution. Results carry ``converged``, ``iterations``, ``residual``
and a message; failure raises :class:`physnet.errors.ConvergenceError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from physnet.constants import GMIN, thermal_voltage
from physnet.elements.diode import critical_voltage, diode_iv, junction_current, junction_voltages, limit_junction
from physnet.errors import ConvergenceError, NetlistError
from physnet.netlist import Netlist
from physnet.solvers.nodal import NodalOperator, edge_weights, injections, leaving, nodal_operator, short_values
from physnet.solvers.ports import MAX_PORTS, port_network, port_newton
from physnet.system import System

__all__ = ["DCResult", "NewtonOptions", "solve_dc"]


@dataclass(frozen=True)
class NewtonOptions:
    """Convergence settings of the DC Newton solver.

    Attributes
    ----------
    reltol, vntol : float
        A step converges when ``max|Δv| <= vntol + reltol * max|v|`` (V)
        and no junction was limited. Tighter than SPICE's defaults
        (1e-3, 1e-6) because physnet is used to check gradients.
    abstol : float
        KCL residual (A) above which a converged step is still refused.
    max_iter : int
        Newton iterations per attempt (SPICE's ITL1 is 100).
    gmin : float
        Conductance across every junction (S), SPICE's GMIN.
    gmin_steps, source_steps : int
        Homotopy steps of the fallbacks (0 disables one).

    Examples
    --------
    SPICE's default tolerances still give the diode's operating point to a microvolt:

    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", dc=5.0)
    >>> net.resistor("R1", "in", "a", r=2e3); net.diode("D1", "a", "0", is_=1e-13)
    >>> op = pn.solve_dc(net, options=NewtonOptions(reltol=1e-3, vntol=1e-6))
    >>> round(float(op["a"]), 6), op.converged
    (0.615862, True)
    """

    reltol: float = 1e-10
    vntol: float = 1e-12
    abstol: float = 1e-12
    max_iter: int = 100
    gmin: float = GMIN
    gmin_steps: int = 10
    source_steps: int = 10


@dataclass(frozen=True, eq=False)
class DCResult:
    """DC operating point.

    Attributes
    ----------
    node_names : tuple of str
        Node names by index (ground first).
    v : ndarray, shape (n_nodes,) or (batch, n_nodes)
        Node potentials (V).
    source_names : tuple of str
        Voltage sources, then inductors (DC shorts), in table order.
    source_currents : ndarray, shape (n_sources,) or (batch, n_sources)
        Current into each source's ``+`` terminal, through it, out of ``-``
        (SPICE's sign: a source delivering power has a negative current).
    converged : bool
    iterations : int
        Newton iterations (1 for a linear network).
    residual : float
        Largest KCL residual over the free nodes (A).
    message : str
        How the solution was reached.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1e3, 3e3])
    >>> op = pn.solve_dc(net)
    >>> op.node_names, op.v.tolist(), round(float(op.current("V1")), 12)
    (('0', 'a', 'b'), [0.0, 1.0, 0.75], -0.00025)
    >>> op.converged, op.iterations, op.message
    (True, 1, 'linear solve')
    """

    node_names: tuple[str, ...]
    v: NDArray[np.float64]
    source_names: tuple[str, ...]
    source_currents: NDArray[np.float64]
    converged: bool = True
    iterations: int = 1
    residual: float = 0.0
    message: str = "linear solve"
    _index: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, node: str) -> float | NDArray:
        """Potential of node ``node`` (V)."""
        if not self._index:
            self._index.update((n, i) for i, n in enumerate(self.node_names))
        key = "0" if str(node).lower() in ("0", "gnd") else str(node)  # integer names are stored as text
        if key not in self._index:
            raise NetlistError(f"unknown node {node!r}: the network has no node of that name")
        return self.v[..., self._index[key]]

    def current(self, source: str) -> float | NDArray:
        """Current through voltage source (or DC inductor) ``source`` (A)."""
        try:
            return self.source_currents[..., self.source_names.index(source)]
        except ValueError:
            raise NetlistError(f"no voltage source or inductor named {source!r}") from None

    def sample(self, index: int) -> DCResult:
        """The operating point of sample ``index`` of a batch (convergence fields are the batch's).

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist()
        >>> net.vsource("V1", "a", "0", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
        >>> batch = pn.solve_dc(net, v_sources=[[1.0], [4.0]])
        >>> round(float(batch.sample(1)["b"]), 12), batch.sample(1).as_dict()["currents"]
        (2.0, {'V1': -2.0})
        """
        if self.v.ndim != 2:
            raise ValueError("sample() needs a batch of operating points")
        return DCResult(self.node_names, self.v[index], self.source_names, self.source_currents[index],
                        self.converged, self.iterations, self.residual, self.message)

    def as_dict(self) -> dict:
        """JSON-ready ``{"analysis": "op", "nodes": {...}, "currents": {...}}`` (single sample)."""
        if self.v.ndim != 1:
            raise ValueError("as_dict() needs a single operating point, not a batch")
        return {
            "analysis": "op",
            "nodes": {n: float(x) for n, x in zip(self.node_names, self.v) if n != "0"},
            "currents": {n: float(x) for n, x in zip(self.source_names, self.source_currents)},
            "converged": self.converged,
            "iterations": self.iterations,
            "residual": self.residual,
        }


def solve_dc(
    network: System | Netlist,
    g: NDArray | None = None,
    *,
    k: NDArray | None = None,
    v_sources: NDArray | None = None,
    i_sources: NDArray | None = None,
    currents: NDArray | None = None,
    initial: NDArray | None = None,
    options: NewtonOptions = NewtonOptions(),
    backend: str = "auto",
) -> DCResult:
    """DC operating point of a resistor / diode / flow network.

    Parameters
    ----------
    network : System or Netlist
        The network (a Netlist is compiled first).
    g : ndarray, optional
        Resistor conductances (S), overriding the system's.
    k : ndarray, optional
        Pipe conductances, overriding the system's.
    v_sources, i_sources : ndarray, optional
        DC source values, shape ``(n,)`` or ``(batch, n)``. A batch is one
        multi-right-hand-side solve for linear networks; with up to
        :data:`physnet.solvers.ports.MAX_PORTS` diodes, one factorization
        and a Newton on the diode ports for all samples at once
        (:mod:`physnet.solvers.ports`; a sample it does not settle is solved
        on its own), else Newton per sample.
    currents : ndarray, optional
        Extra current injected into each node (A), shape ``(n_nodes,)`` or
        ``(batch, n_nodes)`` — how learning rules nudge the outputs.
    initial : ndarray, optional
        Node potentials to warm-start Newton from (e.g. the previous
        training step's solution).
    options : NewtonOptions, optional
        Tolerances and fallbacks.
    backend : str, optional
        Linear solver backend (see :mod:`physnet.solvers.linear`).

    Returns
    -------
    DCResult

    Raises
    ------
    FloatingNodeError
        A node has no DC path to ground.
    ConvergenceError
        Newton, GMIN stepping and source stepping all failed.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=5.0)
    >>> net.resistor("R1", "in", "a", r=2e3)
    >>> net.diode("D1", "a", "0", is_=1e-13)
    >>> op = pn.solve_dc(net)
    >>> round(float(op["a"]), 6), op.converged
    (0.615862, True)
    """
    system = network.compile() if isinstance(network, Netlist) else network
    op = nodal_operator(system, "dc", backend)
    w = edge_weights(system, op, g, k)
    E = short_values(system, op.reduction, v_sources)
    inj = injections(system, i_sources)
    if currents is not None:
        inj = inj + np.asarray(currents, dtype=np.float64)
    names = tuple(system["vsource"].names) + tuple(system["inductor"].names)
    if not system.has("diode"):
        v = _linear(op, w, E, inj)
        return _result(system, op, w, v, E, inj, names, 1, "linear solve", options)
    batch = np.broadcast_shapes(E.shape[:-1], inj.shape[:-1])
    if not batch:
        v, iterations, message = _solve_nonlinear(system, op, w, E, inj, initial, options)
        return _result(system, op, w, v, E, inj, names, iterations, message, options)
    E = np.broadcast_to(E, batch + E.shape[-1:])
    inj = np.broadcast_to(inj, batch + inj.shape[-1:])
    starts = None if initial is None else np.broadcast_to(initial, batch + (system.n_nodes,))
    if len(system["diode"]) <= MAX_PORTS:
        v, iterations, message = _solve_by_ports(system, op, w, E, inj, starts, options)
        return _result(system, op, w, v, E, inj, names, iterations, message, options)
    # Many diodes: one Newton per sample, each on the shared factorization cache.
    starts = [None] * batch[0] if starts is None else starts
    solved = [_solve_nonlinear(system, op, w, E[i], inj[i], starts[i], options) for i in range(batch[0])]
    v = np.stack([s[0] for s in solved])
    message = f"newton per sample ({batch[0]} samples)"
    return _result(system, op, w, v, E, inj, names, sum(s[1] for s in solved), message, options)


def _solve_by_ports(system: System, op: NodalOperator, w: NDArray, E: NDArray, inj: NDArray,
                    starts: NDArray | None, options: NewtonOptions) -> tuple[NDArray, int, str]:
    """Every sample of a batch through the diode ports (:mod:`physnet.solvers.ports`): one factorization.

    A sample is accepted as :func:`_newton` accepts a step (converged, KCL
    residual within ``abstol + 1e-9 * scale``); the others are solved by
    :func:`_solve_nonlinear` on their own (GMIN and source stepping too).
    """
    red = op.reduction
    ports = port_network(system, op, w)
    held = red.potentials(np.zeros(E.shape[:-1] + (red.n_free,)), E)  # sources on, free nodes at 0
    rhs = red.restrict(inj - leaving(system.n_nodes, op.a, op.b, op.edge_flows(ports.base.weights, held)))
    y = red.potentials(ports.base.factor.solve(np.ascontiguousarray(rhs.T)).T, E)
    d, converged, iterations = port_newton(ports, system, ports.drops(y), options,
                                           None if starts is None else ports.drops(starts))
    table = system["diode"]
    current = diode_iv(d, table["is_"], table["n"], table["rs"], thermal_voltage(system.temperature), options.gmin)[0]
    v = y - (current - ports.g_ref * d) @ ports.Z
    kcl = red.restrict(_kcl(system, op, w, v, inj, options.gmin))
    scale = (np.max(np.abs(op.edge_flows(w, v)), axis=-1, initial=0.0) + np.max(np.abs(current), axis=-1)
             + np.max(np.abs(inj), axis=-1, initial=0.0))
    accepted = converged & (np.max(np.abs(kcl), axis=-1, initial=0.0) <= options.abstol + 1e-9 * scale)
    rest = np.flatnonzero(~accepted)
    for s in rest:
        v[s], more, _ = _solve_nonlinear(system, op, w, E[s], inj[s], None if starts is None else starts[s], options)
        iterations[s] += more
    message = f"newton on {len(table)} diode ports, one factorization for {len(v)} samples"
    if rest.size:
        message += f" ({rest.size} solved on their own)"
    return v, int(iterations.sum()), message


def _linear(op: NodalOperator, w: NDArray, E: NDArray, inj: NDArray) -> NDArray:
    red = op.reduction
    batch = np.broadcast_shapes(E.shape[:-1], inj.shape[:-1])
    E = np.broadcast_to(E, batch + E.shape[-1:])
    base = red.potentials(np.zeros(batch + (red.n_free,)), E)
    rhs = red.restrict(inj - leaving(len(red.free), op.a, op.b, op.edge_flows(w, base)))
    factor = op.factorizer.factor(op.matrix_data(w), spd=bool(np.all(w > 0)))
    x = factor.solve(rhs.T).T if rhs.ndim > 1 else factor.solve(rhs)
    return red.potentials(x, E)


def _diode_currents(system: System, vb: NDArray, gmin: float) -> tuple[NDArray, NDArray]:
    d = system["diode"]
    vt = thermal_voltage(system.temperature)
    vd = junction_voltages(vb, d["is_"], d["n"], d["rs"], vt, gmin)
    return junction_current(vd, d["is_"], d["n"], d["rs"], vt, gmin)


def _kcl(system: System, op: NodalOperator, w: NDArray, v: NDArray, inj: NDArray, gmin: float) -> NDArray:
    """Current leaving each node through every element except the eliminated sources.

    Zero at free nodes for an exact solution; at a source's terminals it is
    the current the source must supply.
    """
    flows = op.edge_flows(w, v)
    if system.has("diode"):
        dsl = op.edge_slice("diode")
        flows[..., dsl] = _diode_currents(system, v[..., op.a[dsl]] - v[..., op.b[dsl]], gmin)[0]
    return leaving(system.n_nodes, op.a, op.b, flows) - inj


def _newton(system, op, w_lin, E, inj, initial, options, shunt=0.0):
    """One Newton attempt; returns (v, iterations, converged)."""
    red = op.reduction
    d = system["diode"]
    is_, n, rs = d["is_"], d["n"], d["rs"]
    vt = thermal_voltage(system.temperature)
    dsl = op.edge_slice("diode")
    da, db = op.a[dsl], op.b[dsl]
    base = red.potentials(np.zeros(red.n_free), E)
    if initial is None:
        v = base
        vd_prev = critical_voltage(is_, n, vt)
    else:
        v = np.asarray(initial, dtype=np.float64)
        vd_prev = junction_voltages(v[da] - v[db], is_, n, rs, vt, options.gmin)
    w = w_lin.copy()
    for it in range(1, options.max_iter + 1):
        if it == 1 and initial is None:
            vd = vd_prev  # SPICE's MODEINITJCT: start every junction at vcrit
            limited = True
        else:
            vd_raw = junction_voltages(v[da] - v[db], is_, n, rs, vt, options.gmin)
            vd = limit_junction(vd_raw, vd_prev, is_, n, vt)
            limited = bool(np.any(vd != vd_raw))
        i, gd = junction_current(vd, is_, n, rs, vt, options.gmin)
        w[dsl] = gd
        flows = op.edge_flows(w, base)
        flows[dsl] += i - gd * (vd + rs * i)  # companion current source of each diode
        rhs = red.restrict(inj - leaving(system.n_nodes, op.a, op.b, flows))
        x = op.factorizer.factor(op.matrix_data(w, shunt), spd=bool(np.all(w_lin[w_lin != 0] > 0))).solve(rhs)
        v_new = red.potentials(x, E)
        if not np.all(np.isfinite(v_new)):
            return v, it, False
        step = np.max(np.abs(v_new - v), initial=0.0)
        v, vd_prev = v_new, vd
        if not limited and step <= options.vntol + options.reltol * np.max(np.abs(v), initial=0.0):
            residual = np.max(np.abs(red.restrict(_kcl(system, op, w_lin, v, inj, options.gmin))), initial=0.0)
            scale = np.max(np.abs(op.edge_flows(w, v)), initial=0.0) + np.max(np.abs(inj), initial=0.0)
            if shunt or residual <= options.abstol + 1e-9 * scale:
                return v, it, True
    return v, options.max_iter, False


def _solve_nonlinear(system, op, w, E, inj, initial, options):
    v, iters, ok = _newton(system, op, w, E, inj, initial, options)
    total = iters
    if ok:
        return v, total, f"newton converged in {iters} iterations"
    if options.gmin_steps:
        guess = None
        for shunt in np.logspace(-2, -2 - options.gmin_steps, options.gmin_steps + 1):
            guess, iters, ok = _newton(system, op, w, E, inj, guess, options, shunt=shunt)
            total += iters
            if not ok:
                break
        if ok:
            v, iters, ok = _newton(system, op, w, E, inj, guess, options)
            total += iters
            if ok:
                return v, total, f"converged by gmin stepping ({total} iterations in all)"
    if options.source_steps:
        guess = None
        for scale in np.linspace(0.0, 1.0, options.source_steps + 1)[1:]:
            guess, iters, ok = _newton(system, op, w, scale * E, scale * inj, guess, options)
            total += iters
            if not ok:
                break
        if ok:
            return guess, total, f"converged by source stepping ({total} iterations in all)"
    with np.errstate(over="ignore", invalid="ignore"):  # the last iterate may be wild: report inf, not warnings
        residual = float(np.max(np.abs(op.reduction.restrict(_kcl(system, op, w, v, inj, options.gmin))),
                                initial=0.0))
    raise ConvergenceError(
        f"DC operating point did not converge: Newton, gmin stepping and source stepping all failed after "
        f"{total} iterations (largest KCL residual {residual:.3g} A). Check for diodes forced into huge "
        "forward currents or extreme parameter values, or raise NewtonOptions.max_iter",
        total,
        residual,
    )


def _result(system, op, w, v, E, inj, names, iterations, message, options) -> DCResult:
    kcl = _kcl(system, op, w, v, inj, options.gmin)
    residual = float(np.max(np.abs(op.reduction.restrict(kcl)), initial=0.0))
    return DCResult(
        node_names=system.node_names,
        v=v,
        source_names=names,
        source_currents=op.reduction.short_currents(kcl),
        converged=True,
        iterations=iterations,
        residual=residual,
        message=message,
    )
