"""Frequency propagation run inside ngspice: the physical experiment, refereed.

The activation is the network's own sources: DC (``f_A = 0``), or SIN
sources at ``f_A`` (e.g. current sources ``SIN(0 a f_A)`` at the inputs,
over a DC bias). The error ``e = -β ∂C/∂v_out`` is applied as SIN current
sources ``SIN(0 e f_B)`` from ground into the output nodes, where ``v_out``
is the outputs' activation coefficient: the free DC state for ``f_A = 0``,
or, for ``f_A > 0``, the in-phase amplitude at ``f_A`` measured in a first
run without the error tone (the two-run experiment a lab would do).
ngspice runs ``.tran`` over whole periods of both tones; its waveforms are
resampled (cubic spline) onto a uniform grid and every trainable edge's drop
is demodulated with physnet's lock-in. A coefficient is the mean (DC) or the
amplitude in phase with the source's ``sin(2π f t)``: a phasor ``X``
(``x = Re(X e^{jωt})``) gives ``Re(j X)``. Then

    dC/dg_j ≈ ΔV^A_j ΔV^B_j / β,       Δg_j = -(α/β) ΔV^A_j ΔV^B_j.

:func:`transient_fp_update` runs the very same experiment in physnet's
transient solver and demodulates it the same way, so the three paths
(ngspice, physnet transient, :func:`physnet.fp_update` phasor) can be
compared edge by edge. The network must reach its periodic steady state
early in the record (quasi-static at both tones, or fast time constants)
and, with diodes and ``f_A > 0``, ``f_B`` must avoid the mixing products
``m f_A ± n f_B`` (see :mod:`physnet.solvers.planner`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.elements.table import ELEMENTS
from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.fp import FPUpdate
from physnet.learning.gradient import GradientResult, free_states
from physnet.learning.problem import Problem, make_problem
from physnet.netlist import Netlist
from physnet.solvers.lockin import lockin
from physnet.spice.check import node_voltages
from physnet.spice.run import run_ngspice, validation_deck
from physnet.system import System

__all__ = ["ToneRecord", "tone_network", "ngspice_fp_update", "transient_fp_update", "TONE_OPTIONS",
           "ERROR_SOURCE_PREFIX"]

TONE_OPTIONS = ".options reltol=1e-7 abstol=1e-15 vntol=1e-10 gmin=1e-12 itl1=500 method=trap"
"""ngspice options of the tone run: tight enough that the demodulated ΔV^B is good to ~1e-6."""

ERROR_SOURCE_PREFIX = "IFPB_"
"""Names of the error-tone current sources added to the network (one per output node)."""


@dataclass(frozen=True, eq=False)
class ToneRecord:
    """Node waveforms of a tone run on a uniform grid.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Uniform sample times (s).
    v : ndarray, shape (n_t, n_nodes)
        Node potentials in ``system.node_names`` order (ground column zero).
    seconds : float
        Wall time of the run that produced them.

    Examples
    --------
    The record of a node carrying a 0.1 V sine at 1 kHz on one period, read by lock-in:

    >>> import numpy as np
    >>> from physnet.solvers.lockin import lockin
    >>> t = np.linspace(0.0, 1e-3, 101)
    >>> record = ToneRecord(t, np.column_stack([0.0 * t, 0.1 * np.sin(2 * np.pi * 1e3 * t)]), 0.0)
    >>> record.v.shape, (np.round(lockin(record.v, record.t, 1e3), 12) + 0.0).tolist()
    ((101, 2), [0j, -0.1j])
    """

    t: NDArray[np.float64]
    v: NDArray[np.float64]
    seconds: float


def _rebuild(system: System, g_all: NDArray) -> Netlist:
    """A Netlist holding ``system`` with resistor conductances ``g_all``, nodes in the same order."""
    net = Netlist(system.title, system.temperature)
    net.nodes(list(system.node_names[1:]))
    names = system.node_names
    for kind, spec in ELEMENTS.items():
        if not system.has(kind):
            continue
        table = system[kind]
        values = {p.name: table[p.name] for p in spec.params}
        if kind == "resistor":
            values["g"] = g_all
        net.add_many(kind, list(table.names), [names[i] for i in table.a], [names[i] for i in table.b], **values)
    return net


def _in_phase(record: ToneRecord, x: NDArray, freqs: Sequence[float], window: float) -> NDArray:
    """Coefficients of the columns of ``x`` at each frequency: the mean at 0, else ``Re(j X)``, (n_freq, m)."""
    X = lockin(x, record.t, list(freqs), window=window)
    return np.stack([X[i].real if f == 0 else (1j * X[i]).real for i, f in enumerate(freqs)])


def _error_sources(net: Netlist, system: System, e: NDArray, f_b: float) -> None:
    """Add one ``SIN(0 e f_B)`` current source from ground into every node with a non-zero error current."""
    taken = set(system["isource"].names) | set(system["vsource"].names)
    for k, node in enumerate(np.flatnonzero(e).tolist()):
        name = f"{ERROR_SOURCE_PREFIX}{k}"
        while name in taken:
            name += "_"
        net.isource(name, "0", system.node_names[node], sin=(0.0, float(e[node]), float(f_b)))


def tone_network(problem: Problem, g_all: NDArray, e: NDArray, f_b: float) -> System:
    """The network (conductances ``g_all``) plus the error tone: ``SIN(0 e_k f_B)`` into each node ``k``.

    Parameters
    ----------
    problem : Problem
        One sample; the activation is the network's own sources.
    g_all : ndarray
        Conductances of every resistor (S).
    e : ndarray, shape (n_nodes,)
        Error current amplitude per node (A); zero entries add nothing.
    f_b : float
        Error frequency (Hz).

    Returns
    -------
    System
        The network plus one source ``IFPB_<k>`` per node carrying a non-zero error.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1e3, 1e3])
    >>> problem = make_problem(net, ["out"], [0.2])
    >>> tones = tone_network(problem, problem.system["resistor"]["g"], np.array([0.0, 0.0, 1e-6]), 7.3e3)
    >>> tones["isource"].names, tones["isource"]["sin_amplitude"]
    (('IFPB_0',), array([1.e-06]))
    """
    net = _rebuild(problem.system, g_all)
    _error_sources(net, problem.system, np.asarray(e, dtype=np.float64), f_b)
    return net.compile()


@dataclass(frozen=True)
class _Plan:
    """Tones, record grid and lock-in window of one FP experiment."""

    f_a: float
    f_b: float
    step: float
    stop: float
    window: float

    @classmethod
    def build(cls, system: System, f_a: float, f_b: float, periods: int, points_per_period: int) -> _Plan:
        from physnet.solvers.planner import common_base_frequency

        for name, f in (("f_a", f_a), ("f_b", f_b)):
            if not (math.isfinite(f) and f >= 0) or (name == "f_b" and f == 0):
                raise NetlistError(f"{name} = {f!r} Hz must be a finite number {'> 0' if name == 'f_b' else '>= 0'}")
        if int(periods) != periods or periods < 1 or int(points_per_period) != points_per_period \
                or points_per_period < 8:
            raise NetlistError(f"periods = {periods!r} must be a whole number >= 1 and points_per_period = "
                               f"{points_per_period!r} a whole number >= 8")
        _check_activation(system, f_a)
        try:
            base = common_base_frequency(f_a, f_b, max_multiple=10_000)
        except ValueError as exc:
            raise NetlistError(f"f_a = {f_a:g} Hz and f_b = {f_b:g} Hz: {exc}") from None
        window = periods / base.f0  # whole periods of both tones
        step = 1.0 / (base.f0 * max(base.p, base.q) * points_per_period)
        settle = 1.0 if f_a == 0 else 2.0  # an oscillating activation gets as long again to settle
        return cls(float(f_a), float(f_b), step, settle * window, window)

    @property
    def n_steps(self) -> int:
        return round(self.stop / self.step)


def _check_activation(system: System, f_a: float) -> None:
    """Every SIN source of the network must oscillate at ``f_a`` (none may when ``f_a = 0``)."""
    from physnet.elements.table import WAVE_SIN

    for kind in ("vsource", "isource"):
        table = system[kind]
        for i in np.flatnonzero(table["wave"] == WAVE_SIN).tolist():
            if table["sin_freq"][i] != f_a:
                raise NetlistError(f"{kind} {table.names[i]!r} oscillates at {table['sin_freq'][i]:g} Hz, but the "
                                   f"activation frequency f_a is {f_a:g} Hz: the network's SIN sources are the "
                                   "activation and must all be at f_a (f_a = 0: none)")
    if f_a > 0 and not any(np.any(system[k]["wave"] == WAVE_SIN) for k in ("vsource", "isource")):
        raise NetlistError(f"f_a = {f_a:g} Hz but no source of the network is a SIN: give the inputs "
                           "SIN(offset amplitude f_a) sources, or use f_a = 0 for a DC activation")


def _experiment(problem: Problem, g_all: NDArray, plan: _Plan, beta: float, alpha: float, solver: str,
                run) -> FPUpdate:
    """The FP experiment with ``run(system) -> ToneRecord`` as the simulator (see the module docstring)."""
    if problem.batch != 1:
        raise NetlistError(f"FP as a tone experiment runs one sample at a time; the problem has {problem.batch}")
    if not (math.isfinite(beta) and beta > 0):
        raise NetlistError(f"beta = {beta!r} must be a finite number > 0")
    seconds = 0.0
    if plan.f_a == 0:
        activation = free_states(problem, g_all)[0]
    else:
        free = run(_rebuild(problem.system, g_all).compile())
        activation = _in_phase(free, free.v, [plan.f_a], plan.window)[0]
        seconds += free.seconds
    e = problem.error_currents(activation[None, :], beta)[0]
    record = run(tone_network(problem, g_all, e, plan.f_b))
    table = problem.system["resistor"]
    idx = problem.trainable
    drops = record.v[:, table.a[idx]] - record.v[:, table.b[idx]]
    dv_a, dv_b = (c[None, :] for c in _in_phase(record, drops, [plan.f_a, plan.f_b], plan.window))
    grad = np.mean(dv_a * dv_b, axis=0) / beta
    info = {"solver": solver, "beta": beta, "dv_a": dv_a, "dv_b": dv_b, "f_a": plan.f_a, "f_b": plan.f_b,
            "seconds": seconds + record.seconds, "activation": activation}
    cost = float(problem.costs(activation[None, :])[0])
    result = GradientResult(grad, cost, "fp", problem.edge_names, activation[None, :], info)
    return FPUpdate(-alpha * grad, result, dv_a, dv_b, alpha, beta, solver)


def _setup(network: System | Netlist, g: NDArray | None, outputs: Sequence[str], targets, trainable, cost: Cost
           ) -> tuple[Problem, NDArray]:
    problem = make_problem(network, outputs, targets, trainable=trainable, cost=cost)
    return problem, problem.conductances(g)


def ngspice_fp_update(
    network: System | Netlist,
    g: NDArray | None = None,
    outputs: Sequence[str] = (),
    targets=None,
    *,
    alpha: float = 1e-3,
    beta: float = 1e-3,
    f_a: float = 0.0,
    f_b: float = 1e3,
    periods: int = 4,
    points_per_period: int = 400,
    trainable=None,
    cost: Cost = SQUARED_ERROR,
    engine: str = "batch",
    timeout: float = 600.0,
) -> FPUpdate:
    """One FP step measured in ngspice: ``.tran`` with both tones, then physnet's lock-in.

    Parameters
    ----------
    network : System or Netlist
        Resistors (trainable), diodes, sources (the activation).
    g : ndarray, optional
        Trainable conductances (S).
    outputs, targets, trainable, cost
        As in :func:`physnet.fp_update`.
    alpha, beta : float, optional
        Learning rate and error amplitude.
    f_a, f_b : float, optional
        Activation frequency (0: DC; else every SIN source of the network
        must be at ``f_a``) and error frequency (Hz).
    periods, points_per_period : int, optional
        Lock-in window in periods of the tones' common base frequency (the
        record adds as long again to settle when ``f_a > 0``), and steps per
        period of the faster tone: ngspice's largest step and the resampling grid.
    engine, timeout
        How ngspice runs (:func:`physnet.spice.run.run_ngspice`).

    Returns
    -------
    FPUpdate
        ``solver == "ngspice"``; ``gradient.info["seconds"]`` is ngspice's time.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1e3, 1e3])
    >>> net.diode("D1", "out", "0")
    >>> spice = ngspice_fp_update(net, outputs=["out"], targets=[0.2], beta=1e-6)
    >>> exact = pn.fp_update(net, outputs=["out"], targets=[0.2], beta=1e-6)  # small signal: bias O(β²)
    >>> bool(np.allclose(spice.delta_g, exact.delta_g, rtol=1e-3))
    True
    """
    from scipy.interpolate import CubicSpline

    problem, g_all = _setup(network, g, outputs, targets, trainable, cost)
    plan = _Plan.build(problem.system, f_a, f_b, periods, points_per_period)

    def run(system: System) -> ToneRecord:
        deck = validation_deck(system, [("tran", plan.step, plan.stop, 0.0, plan.step)], options=TONE_OPTIONS)
        result = run_ngspice(deck, engine=engine, timeout=timeout)
        plot = next(p for p in result.plots if p.name.lower().startswith("transient"))
        nodes, columns = node_voltages(system, [plot])
        t = np.linspace(0.0, plan.stop, plan.n_steps + 1)
        v = np.zeros((len(t), system.n_nodes))
        v[:, [system.node_index(n) for n in nodes]] = CubicSpline(plot["time"].real, columns.real, axis=0)(t)
        return ToneRecord(t, v, result.seconds)

    return _experiment(problem, g_all, plan, beta, alpha, "ngspice", run)


def transient_fp_update(
    network: System | Netlist,
    g: NDArray | None = None,
    outputs: Sequence[str] = (),
    targets=None,
    *,
    alpha: float = 1e-3,
    beta: float = 1e-3,
    f_a: float = 0.0,
    f_b: float = 1e3,
    periods: int = 4,
    points_per_period: int = 400,
    trainable=None,
    cost: Cost = SQUARED_ERROR,
) -> FPUpdate:
    """The experiment of :func:`ngspice_fp_update`, run by :func:`physnet.solvers.transient.solve_transient`.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1e3, 1e3])
    >>> step = transient_fp_update(net, outputs=["out"], targets=[0.2], alpha=1.0)
    >>> exact = pn.fp_update(net, outputs=["out"], targets=[0.2], alpha=1.0)
    >>> bool(np.allclose(step.delta_g, exact.delta_g, rtol=1e-9))
    True
    """
    import time

    from physnet.solvers.transient import solve_transient

    problem, g_all = _setup(network, g, outputs, targets, trainable, cost)
    plan = _Plan.build(problem.system, f_a, f_b, periods, points_per_period)

    def run(system: System) -> ToneRecord:
        start = time.perf_counter()
        result = solve_transient(system, plan.step, plan.stop)
        seconds = time.perf_counter() - start
        v = np.zeros((len(result.t), system.n_nodes))
        v[:, [system.node_index(n) for n in result.node_names]] = result.v
        return ToneRecord(result.t, v, seconds)

    return _experiment(problem, g_all, plan, beta, alpha, "transient", run)
