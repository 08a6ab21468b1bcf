"""Fixed-step transient analysis: companion models, one factorization, diode ports.

Every capacitor and inductor becomes a *companion* conductance plus a
history current (trapezoidal rule ``g = 2C/h``, ``h/(2L)``; BDF2
``g = 3C/(2h)``, ``2h/(3L)``; one backward-Euler step starts BDF2 and any
run from user-given potentials). Voltage sources are eliminated exactly as
in DC (:mod:`physnet.reduction`, analysis ``"tran"``), with their waveforms
(:mod:`physnet.elements.source`) in the right-hand side.

With a fixed step the nodal matrix ``A`` (conductances plus companion
conductances) never changes, so it is factored **once** and every step is a
back-substitution. Diodes enter as ``k`` two-terminal *ports*: with
``Z = A⁻¹U`` (``U`` the diodes' reduced incidence) and ``C0 = UᵀZ`` computed
once, a step solves ``y = A⁻¹b``, then the ``k`` diode voltages from the
small nonlinear system ``d + C0 q(d) = Uᵀy`` by SPICE-limited Newton, then
``x = y - Z q`` — a low-rank (Woodbury) update that never refactors. The
whole time loop runs in a numba kernel (:func:`physnet._numba_signal.advance`,
numpy twin :func:`advance_numpy`). Networks with many diodes use the
general path instead: Newton per step with a numeric refactorization per
iteration (symbolic analysis reused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import splu

from physnet.constants import BOLTZMANN, CELSIUS_TO_KELVIN, thermal_voltage
from physnet.elements.diode import (
    critical_voltage,
    diode_iv,
    junction_current,
    junction_voltages,
    junction_voltages_numpy,
    limit_junction,
)
from physnet.elements.source import source_values
from physnet.errors import ConvergenceError, NetlistError
from physnet.netlist import Netlist
from physnet.solvers.dc import DCResult, NewtonOptions, solve_dc
from physnet.solvers.lockin import lockin
from physnet.solvers.nodal import NodalOperator, edge_weights, nodal_operator
from physnet.solvers.ports import MAX_PORTS
from physnet.system import System

__all__ = ["NoiseSpec", "Tone", "TransientResult", "solve_transient", "advance_numpy", "LOWRANK_MAX_DIODES"]

LOWRANK_MAX_DIODES = MAX_PORTS
"""Above this many diodes the ``"auto"`` engine refactors per Newton iteration instead of using ports."""

_CHUNK_VALUES = 1 << 22  # per-step arrays are processed in chunks of about this many float64 values


# --------------------------------------------------------------------- API types
@dataclass(frozen=True)
class NoiseSpec:
    """Random current sources added to a transient run.

    Each value is a one-sided power spectral density of a current (A²/Hz).
    Node noise is injected from ground into the node; a scalar applies to
    every node, an array gives one value per node (``system.node_names``
    order; ground's entry is ignored). Samples are held for one step, so the
    noise is band-limited to the Nyquist frequency ``1/(2 step)``.

    Attributes
    ----------
    white : float or array_like
        White current noise ``S(f) = white`` (A²/Hz) at each node.
    pink : float or array_like
        Flicker current noise ``S(f) = pink / f`` (``pink`` is the PSD at
        1 Hz, A²/Hz) at each node, between ``1/(stop - start)`` and the
        Nyquist frequency: white noise through a bank of first-order
        filters, three per decade.
    thermal : bool
        Johnson–Nyquist noise ``4kT g`` of every resistor at the circuit
        temperature (a noise current in parallel with each resistor), so an
        ``R ∥ C`` node settles at ``<v²> = kT/C``.

    Examples
    --------
    >>> NoiseSpec(white=1e-24, thermal=True)
    NoiseSpec(white=1e-24, pink=0.0, thermal=True)
    """

    white: float | ArrayLike = 0.0
    pink: float | ArrayLike = 0.0
    thermal: bool = False


@dataclass(frozen=True, eq=False)
class Tone:
    """Node currents ``current · cos(2π freq t + phase)``, an ``extra_currents`` of one frequency.

    The same injection as the callable
    ``lambda t: np.cos(2 * np.pi * freq * t + phase)[:, None] * current``,
    without the (steps, nodes) array it returns: frequency propagation
    injects its error tone this way, at a few output nodes of a large
    network.

    Attributes
    ----------
    current : array_like, shape (n_nodes,)
        Amplitude into each node (A), ``system.node_names`` order.
    freq : float
        Frequency (Hz).
    phase : float
        Phase (rad).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> net.capacitor("C1", "a", "0", c=1e-3)
    >>> res = solve_transient(net, 1e-4, 2e-3, extra_currents=Tone([0.0, 1.0], 50.0))
    >>> float(res["a"][-1]) == float(solve_transient(net, 1e-4, 2e-3, extra_currents=lambda t:
    ...     np.cos(2 * np.pi * 50.0 * t)[:, None] * np.array([0.0, 1.0]))["a"][-1])
    True
    """

    current: ArrayLike
    freq: float
    phase: float = 0.0


@dataclass(frozen=True, eq=False)
class TransientResult:
    """Time-domain solution on a uniform grid.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Times (s), ``start`` to ``stop`` inclusive.
    node_names : tuple of str
        The recorded nodes (columns of ``v``).
    v : ndarray, shape (n_t, n_recorded)
        Node potentials (V).
    source_names : tuple of str
        Voltage sources in table order.
    source_currents : ndarray, shape (n_t, n_sources)
        Current into each voltage source's ``+`` terminal, through it, out
        of ``-`` (SPICE's sign).
    method : str
        Integration method.
    step : float
        Time step (s).
    converged : bool
    iterations : int
        Newton iterations over all steps (one per step for linear networks).
    residual : float
        Largest KCL residual over the free nodes at the last time point (A).
    message : str
        How the run went (engine, factorizations, iterations per step).

    Examples
    --------
    An RC charging through a PULSE source, 70 steps of 0.1 s:

    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("vin", "1", "0", pulse=(0.0, 1.0))
    >>> net.resistor("r", "1", "2", r=1.0); net.capacitor("c", "2", "0", c=1.0)
    >>> res = solve_transient(net, 0.1, 7.0)
    >>> res.t.shape, res.v.shape, res.node_names, res.method, res.converged
    ((71,), (71, 3), ('0', '1', '2'), 'trap', True)
    >>> res.current("vin")[:3].round(4).tolist()  # SPICE's sign: a source delivering power carries a negative current
    [0.0, -0.9524, -0.8617]
    """

    t: NDArray[np.float64]
    node_names: tuple[str, ...]
    v: NDArray[np.float64]
    source_names: tuple[str, ...]
    source_currents: NDArray[np.float64]
    method: str
    step: float
    converged: bool = True
    iterations: int = 0
    residual: float = 0.0
    message: str = ""
    _index: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, node: str) -> NDArray[np.float64]:
        """Waveform of node ``node`` (V), shape (n_t,)."""
        if not self._index:
            self._index.update((n, i) for i, n in enumerate(self.node_names))
        key = "0" if str(node).lower() in ("0", "gnd") else str(node)
        if key == "0" and key not in self._index:
            return np.zeros_like(self.t)
        if key not in self._index:
            raise NetlistError(f"node {node!r} was not recorded (recorded: {', '.join(self.node_names[:8])}"
                               f"{' ...' if len(self.node_names) > 8 else ''})")
        return self.v[:, self._index[key]]

    def current(self, source: str) -> NDArray[np.float64]:
        """Current waveform through voltage source ``source`` (A)."""
        try:
            return self.source_currents[:, self.source_names.index(source)]
        except ValueError:
            raise NetlistError(f"no voltage source named {source!r}") from None

    def lockin(self, freq: float | ArrayLike, *, periods: int | None = None,
               window: float | None = None) -> NDArray[np.complex128]:
        """Phasors of the recorded nodes at ``freq`` (see :func:`physnet.solvers.lockin.lockin`)."""
        return lockin(self.v, self.t, freq, periods=periods, window=window)

    def as_dict(self) -> dict:
        """JSON-ready ``{"analysis": "tran", "time": [...], "nodes": {name: [...]}, "currents": {...}}``."""
        return {
            "analysis": "tran",
            "time": self.t.tolist(),
            "nodes": {n: self.v[:, i].tolist() for i, n in enumerate(self.node_names) if n != "0"},
            "currents": {n: self.source_currents[:, i].tolist() for i, n in enumerate(self.source_names)},
            "converged": self.converged,
            "iterations": self.iterations,
            "residual": self.residual,
        }


Engine = Literal["auto", "lowrank", "numpy", "refactor"]


# ------------------------------------------------------------------- the solver
def solve_transient(
    network: System | Netlist,
    step: float,
    stop: float,
    *,
    method: Literal["trap", "bdf2"] = "trap",
    g: NDArray | None = None,
    k: NDArray | None = None,
    start: float = 0.0,
    initial: DCResult | ArrayLike | None = None,
    extra_currents: Callable[[NDArray], ArrayLike] | ArrayLike | Tone | None = None,
    noise: NoiseSpec | None = None,
    seed: int | np.random.Generator | None = None,
    record: Literal["nodes"] | Sequence[str] = "nodes",
    options: NewtonOptions = NewtonOptions(),
    engine: Engine = "auto",
    backend: str = "auto",
    _schemes: dict | None = None,
) -> TransientResult:
    """Transient analysis with a fixed step from ``start`` to ``stop``.

    Parameters
    ----------
    network : System or Netlist
        The network (a Netlist is compiled first).
    step : float
        Time step ``h`` (s); also SPICE's TSTEP for waveform defaults.
        ``stop - start`` must be a whole number of steps.
    stop : float
        End time (s); also SPICE's TSTOP for waveform defaults.
    method : {"trap", "bdf2"}, optional
        Trapezoidal rule (SPICE's default; energy-conserving, second order)
        or BDF2 (second order, damps stiff modes); both fixed-step.
    g, k : ndarray, optional
        Resistor and pipe conductances, overriding the system's.
    start : float, optional
        Start time (s).
    initial : DCResult or array_like, optional
        Default: the DC operating point with every source at its value at
        ``start`` (as SPICE does). A :class:`DCResult` is used as that
        operating point. An array of node potentials (``system.node_names``
        order) starts from those capacitor voltages with zero inductor
        currents (SPICE's UIC), with a backward-Euler first step.
    extra_currents : callable, array_like or Tone, optional
        Currents injected *into* the nodes (A), besides the sources: an
        array ``(n_t, n_nodes)`` on the time grid, a vectorised callable
        ``f(t) -> (len(t), n_nodes)`` called with chunks of the time grid,
        or a :class:`Tone` (one frequency; frequency propagation injects its
        error tone this way). They act from the first step on; the initial
        operating point does not see them.
    noise : NoiseSpec, optional
        Random current sources (white, 1/f, thermal); see :class:`NoiseSpec`.
    seed : int or numpy.random.Generator, optional
        Seed of the noise.
    record : "nodes" or sequence of str, optional
        Record every node (default) or only the named ones (saves memory on
        long runs of big networks).
    options : NewtonOptions, optional
        Newton tolerances for the diodes (per step) and the DC point.
    engine : {"auto", "lowrank", "numpy", "refactor"}, optional
        ``"lowrank"``: the numba time loop with one factorization and
        diode ports; ``"numpy"``: its plain-numpy twin (slow; a reference);
        ``"refactor"``: Newton with a numeric refactorization per iteration
        (for many diodes). ``"auto"`` picks ``"lowrank"`` up to
        :data:`LOWRANK_MAX_DIODES` diodes.
    backend : str, optional
        Linear backend of the DC point and the refactor engine.

    Returns
    -------
    TransientResult

    Raises
    ------
    NetlistError
        Bad step, window, method, record or extra currents.
    ConvergenceError
        A step's diode Newton did not converge (reduce ``step``).

    Notes
    -----
    Like SPICE's, the trapezoidal rule rings (a slowly decaying
    alternation from step to step) on elements much stiffer than the step,
    e.g. the current of a capacitor driven directly by a voltage source
    whose slope jumps; ``method="bdf2"`` damps it. Node voltages of
    networks whose time constants exceed the step are not affected.

    ``_schemes`` is frequency propagation's lane for a batch: a dict shared
    by runs on systems of one topology with the same conductances, reactive
    values, step, method and engine (they may differ in their sources and
    starting points). The integration schemes (the factored step matrix and
    the diode ports) built by the first run are reused by the others; their
    diode reference conductances are then the first run's, which changes
    nothing but rounding (any positive reference gives the exact answer).

    Examples
    --------
    An RC charging through a PULSE source (ngspice ``general/rc.cir``):

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("vin", "1", "0", pulse=(0.0, 1.0))
    >>> net.resistor("r", "1", "2", r=1.0)
    >>> net.capacitor("c", "2", "0", c=1.0)
    >>> res = solve_transient(net, 0.1, 7.0)
    >>> res["2"][1:4].round(4), res.converged
    (array([0.0476, 0.1383, 0.2204]), True)
    """
    system = network.compile() if isinstance(network, Netlist) else network
    if method not in ("trap", "bdf2"):
        raise NetlistError(f"unknown integration method {method!r} (trap or bdf2)")
    if engine not in ("auto", "lowrank", "numpy", "refactor"):
        raise NetlistError(f"unknown engine {engine!r} (auto, lowrank, numpy or refactor)")
    t = _time_grid(step, stop, start)
    net = _Net.build(system, nodal_operator(system, "tran", backend), g, k)
    if engine == "auto":
        engine = "lowrank" if net.n_diodes <= LOWRANK_MAX_DIODES else "refactor"
    record_idx = _record_indices(system, record)
    Ev = source_values(system["vsource"], t, tstep=step, tstop=stop)
    Ii = source_values(system["isource"], t, tstep=step, tstop=stop)
    state, first_be = _initial_state(net, initial, Ev[0], Ii[0], g, k, options, backend)
    drive = _Drive(net, t, extra_currents, noise, seed)

    n_t = len(t)
    v_out = np.empty((n_t, len(record_idx)))
    i_out = np.empty((n_t, net.n_v))
    v_out[0] = state.v[record_idx]
    i_out[0] = state.source_currents
    rec = _Recording(net.pad(net.op.reduction.free[record_idx]), net.pad(net.ra[net.src_edges]),
                     net.pad(net.rb[net.src_edges]), net.src_reactive)
    S_rec = net.S[record_idx]
    # Backward Euler takes the first step of BDF2 and of any run whose capacitor currents are unknown.
    plan = [(1, min(2, n_t), "be"), (2, n_t, method)] if first_be or method == "bdf2" else [(1, n_t, method)]
    schemes: dict[str, _Scheme] = {} if _schemes is None else _schemes
    iterations = 0
    rows = max(1, _CHUNK_VALUES // (net.n_free + len(record_idx) + 1))  # time rows per chunk
    for lo, hi, name in plan:
        if lo >= hi:
            continue
        if name not in schemes:
            schemes[name] = _Scheme.build(net, name, float(step), state, engine)
        sch = schemes[name]
        for c0 in range(lo, hi, rows):
            c1 = min(c0 + rows, hi)
            E = Ev[c0:c1]
            extra = drive.extra(c0, c1)
            out = _Outputs.empty(c1 - c0, rec, v_out[c0:c1])
            reduced = np.zeros((0, net.n_free)) if extra is None else np.ascontiguousarray(extra.project(net.P))
            chunk = _Chunk(np.hstack([E, Ii[c0:c1]]), reduced, E, t[c0:c1])
            _ENGINES[engine](net, sch, state, chunk, options, rec, out)
            iterations += int(out.iterations.sum())
            if net.n_v:
                v_out[c0:c1] += (S_rec @ E.T).T
                drops = out.drops + (net.T_E[net.src_edges] @ E.T).T
                i_out[c0:c1] = net.source_currents(drops, out.currents, Ii[c0:c1], extra, options.gmin)
            state.v = net.potentials(state.x, E[-1])
            state.extra = None if extra is None else extra.last()
    residual = net.kcl_residual(state, Ii[-1], options.gmin)
    n_steps = n_t - 1
    what = ("linear: one back-substitution per step" if net.n_diodes == 0 else
            f"{net.n_diodes} diodes, {iterations / n_steps:.2f} Newton iterations per step")
    how = ("a numeric refactorization per Newton iteration" if engine == "refactor" and net.n_diodes else
           f"{len(schemes)} factorization{'s' if len(schemes) != 1 else ''}")
    message = f"{method}, {n_steps} steps of {step:g} s, engine {engine}, {how}; {what}"
    return TransientResult(t, tuple(system.node_names[i] for i in record_idx), v_out,
                           tuple(system["vsource"].names), i_out, method, float(step), True, iterations, residual,
                           message)


# ------------------------------------------------------------ argument checks
def _time_grid(step: float, stop: float, start: float) -> NDArray[np.float64]:
    for name, value in (("step", step), ("stop", stop), ("start", start)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            raise NetlistError(f"transient {name} = {value!r} must be a finite number of seconds")
    if step <= 0:
        raise NetlistError(f"transient step = {step!r} s must be > 0")
    if stop <= start:
        raise NetlistError(f"transient stop = {stop!r} s must be later than start = {start!r} s")
    steps = (stop - start) / step
    n = round(steps)
    if n < 1 or abs(steps - n) > 1e-6 * steps:
        raise NetlistError(f"stop - start = {stop - start:g} s is not a whole number of steps of {step:g} s "
                           f"({steps:.6g}): the step is fixed, choose step = (stop - start) / n")
    return start + step * np.arange(n + 1, dtype=np.float64)


def _record_indices(system: System, record) -> NDArray[np.int64]:
    if isinstance(record, str):
        if record != "nodes":
            raise NetlistError(f"record = {record!r}: use 'nodes' (all) or a list of node names")
        return np.arange(system.n_nodes)
    return system.node_indices(list(record))


# ------------------------------------------------------------ network data
_REACTIVE = ("capacitor", "inductor")


@dataclass(frozen=True, eq=False)
class _Net:
    """Step-independent data of one network: reduced incidences, source maps, device parameters.

    Edges are in the ``"tran"`` pattern's order (resistors, diodes, pipes,
    capacitors, inductors), so the reactive edges ``react`` are sorted.
    """

    system: System
    op: NodalOperator
    w_lin: NDArray  # resistor / pipe conductances per edge (0 elsewhere)
    R: sp.csr_matrix  # reduced incidence, n_free x n_edges
    P: sp.csr_matrix  # node -> reduced unknown summation, n_free x n_nodes
    S: sp.csr_matrix  # node potentials per source voltage, n_nodes x n_v
    T_E: sp.csr_matrix  # edge drops per source voltage, n_edges x n_v
    B_I: sp.csr_matrix  # node injections per current-source value, n_nodes x n_i
    react: NDArray[np.int64]  # edge index of every capacitor, then every inductor
    n_caps: int
    diodes: NDArray[np.int64]  # edge index of every diode
    src_edges: NDArray[np.int64]  # edges whose current enters a voltage-source current (sorted)
    Q: sp.csr_matrix  # S^T B restricted to src_edges, n_v x len(src_edges)
    ra: NDArray[np.int64]  # reduced unknown at each edge's ends (-1: potential fixed by sources)
    rb: NDArray[np.int64]

    @classmethod
    def build(cls, system: System, op: NodalOperator, g, k) -> "_Net":
        red = op.reduction
        n, n_nodes = red.n_free, system.n_nodes
        B = _incidence(op.a, op.b, n_nodes)
        mask = red.free >= 0
        P = sp.csr_matrix((np.ones(mask.sum()), (red.free[mask], np.flatnonzero(mask))), shape=(n, n_nodes))
        S = red.S.tocsr()
        table = system["isource"]
        Q_full = (S.T @ B).tocsc()
        Q_full.eliminate_zeros()
        src_edges = np.flatnonzero(np.diff(Q_full.indptr))
        react = np.concatenate([np.arange(*op.pattern.offsets[kind]) for kind in _REACTIVE])
        return cls(system, op, edge_weights(system, op, g, k), (P @ B).tocsr(), P, S, (B.T @ S).tocsr(),
                   -_incidence(table.a, table.b, n_nodes), react, len(system["capacitor"]),
                   np.arange(*op.pattern.offsets["diode"]), src_edges, Q_full[:, src_edges].tocsr(),
                   red.free[op.a], red.free[op.b])

    @property
    def n_free(self) -> int:
        return self.op.reduction.n_free

    @property
    def n_v(self) -> int:
        return self.S.shape[1]

    @property
    def n_diodes(self) -> int:
        return len(self.diodes)

    def pad(self, unknowns: NDArray) -> NDArray[np.int64]:
        """Indices into unknowns padded with a trailing 0: ``-1`` (a source-fixed potential) becomes ``n_free``."""
        return np.ascontiguousarray(np.where(unknowns >= 0, unknowns, self.n_free), dtype=np.int64)

    @property
    def src_reactive(self) -> NDArray[np.int64]:
        """Positions (in ``react``) of the reactive edges among ``src_edges``."""
        return np.flatnonzero(np.isin(self.react, self.src_edges))

    def reactive_values(self) -> NDArray:
        """Capacitances, then inductances, in ``react`` order."""
        return np.r_[self.system["capacitor"]["c"], self.system["inductor"]["l"]]

    def diode_params(self) -> tuple[NDArray, NDArray, NDArray, float]:
        d = self.system["diode"]
        return d["is_"], d["n"], d["rs"], thermal_voltage(self.system.temperature)

    def potentials(self, x: NDArray, E: NDArray) -> NDArray:
        """Node potentials ``x[free] + S E``."""
        return self.op.reduction.potentials(x, E)

    def drops(self, v: NDArray, edges: NDArray) -> NDArray:
        """Voltage ``v_a - v_b`` across ``edges`` from node potentials."""
        return v[..., self.op.a[edges]] - v[..., self.op.b[edges]]

    def reduced_drops(self, y: NDArray, E: NDArray, edges: NDArray) -> NDArray:
        """Voltage across ``edges`` from padded unknowns ``y`` (one row) and source voltages ``E``."""
        d = y[self.pad(self.ra[edges])] - y[self.pad(self.rb[edges])]
        return d + self.T_E[edges] @ E if self.n_v else d

    def flows(self, drops: NDArray, h_i: NDArray, edges: NDArray, gmin: float) -> NDArray:
        """Currents ``a -> b`` through sorted ``edges`` with voltages ``drops``.

        ``h_i`` holds the currents of the reactive edges among ``edges``, in
        order (the companion history makes them unknowable from the drops).
        """
        f = self.w_lin[edges] * drops
        f[..., np.isin(edges, self.react)] = h_i
        diode = np.isin(edges, self.diodes)
        if diode.any():
            is_, n, rs, vt = self.diode_params()
            j = edges[diode] - self.diodes[0]
            f[..., diode] = diode_iv(drops[..., diode], is_[j], n[j], rs[j], vt, gmin)[0]
        return f

    def source_currents(self, drops: NDArray, h_rec: NDArray, I: NDArray, extra: "_Injection | None",
                        gmin: float) -> NDArray:
        """Voltage-source currents (SPICE sign) per time row, ``-Sᵀ(B f - injections)``."""
        f = self.flows(drops, h_rec, self.src_edges, gmin)
        currents = -(self.Q @ f.T).T + (self.S.T @ (self.B_I @ I.T)).T
        return currents if extra is None else currents + extra.project(self.S.T)

    def kcl_residual(self, state: "_State", I: NDArray, gmin: float) -> float:
        """Largest KCL imbalance over the free unknowns at the state's time point (A)."""
        edges = np.arange(self.op.pattern.n_edges)
        f = self.flows(self.drops(state.v, edges), state.h_i, edges, gmin)
        inj = self.B_I @ I if state.extra is None else self.B_I @ I + state.extra
        n = self.system.n_nodes
        leaving = np.bincount(self.op.a, f, n) - np.bincount(self.op.b, f, n)
        return float(np.max(np.abs(self.P @ (leaving - inj)), initial=0.0))


def _incidence(a: NDArray, b: NDArray, n_nodes: int) -> sp.csr_matrix:
    """Node-edge incidence: +1 at ``a``, -1 at ``b``."""
    m = len(a)
    cols = np.r_[np.arange(m), np.arange(m)]
    return sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[a, b], cols)), shape=(n_nodes, m))


@dataclass(eq=False)
class _State:
    """What one step hands the next: potentials and the companion and diode history."""

    v: NDArray  # node potentials at the latest time point
    source_currents: NDArray
    h_d: NDArray  # reactive-edge voltages at t_n and t_{n-1} ...
    h_d1: NDArray
    h_i: NDArray  # ... and currents at t_n and t_{n-1}
    h_i1: NDArray
    p_d: NDArray  # diode terminal and junction voltages at t_n
    p_vj: NDArray
    x: NDArray  # reduced unknowns at t_n
    extra: NDArray | None = None  # node injections besides the sources at t_n, if any


def _initial_state(net: _Net, initial, E0: NDArray, I0: NDArray, g, k, options: NewtonOptions,
                   backend: str) -> tuple[_State, bool]:
    system = net.system
    n_l = len(system["inductor"])
    if initial is None or isinstance(initial, DCResult):
        dc = initial if initial is not None else solve_dc(system, g, k=k, v_sources=E0, i_sources=I0,
                                                          options=options, backend=backend)
        if np.ndim(dc.v) != 1 or len(dc.v) != system.n_nodes:
            raise NetlistError("initial must be one operating point of this network, not a batch")
        v0 = np.asarray(dc.v, dtype=np.float64)
        currents = np.r_[np.zeros(net.n_caps), dc.source_currents[len(dc.source_currents) - n_l:]]
        first_be = False
    else:
        v0 = np.asarray(initial, dtype=np.float64)
        if v0.shape != (system.n_nodes,) or not np.all(np.isfinite(v0)):
            raise NetlistError(f"initial potentials must be {system.n_nodes} finite numbers "
                               f"(system.node_names order), got shape {v0.shape}")
        currents = np.zeros(len(net.react))
        first_be = True
    h_d = net.drops(v0, net.react)
    is_, n, rs, vt = net.diode_params()
    p_d = net.drops(v0, net.diodes)
    source_currents = net.source_currents(net.drops(v0, net.src_edges), currents[net.src_reactive], I0, None,
                                          options.gmin)
    return _State(v0, source_currents, h_d, h_d.copy(), currents, currents.copy(), p_d,
                  junction_voltages(p_d, is_, n, rs, vt, options.gmin), np.zeros(net.n_free)), first_be


# ------------------------------------------------------------ integration schemes
def _companion(name: str, h: float, values: NDArray, n_caps: int) -> tuple[NDArray, NDArray]:
    """Companion conductance ``w`` and history coefficients ``c`` of every reactive edge.

    The edge current is ``i_{n+1} = w d_{n+1} + J`` with the history current
    ``J = c0 d_n + c1 d_{n-1} + c2 i_n + c3 i_{n-1}`` (``d`` the edge voltage).
    """
    C, L = values[:n_caps], values[n_caps:]
    zc, oc, zl, ol = np.zeros_like(C), np.ones_like(C), np.zeros_like(L), np.ones_like(L)
    if name == "be":
        wc, wl = C / h, h / L
        cc, cl = [-wc, zc, zc, zc], [zl, zl, ol, zl]
    elif name == "trap":
        wc, wl = 2.0 * C / h, h / (2.0 * L)
        cc, cl = [-wc, zc, -oc, zc], [wl, zl, ol, zl]
    else:  # bdf2
        wc, wl = 1.5 * C / h, 2.0 * h / (3.0 * L)
        cc, cl = [-2.0 * C / h, 0.5 * C / h, zc, zc], [zl, zl, 4.0 / 3.0 * ol, -1.0 / 3.0 * ol]
    return np.r_[wc, wl], np.ascontiguousarray(np.r_[np.stack(cc, axis=1), np.stack(cl, axis=1)])


@dataclass(frozen=True, eq=False)
class _Scheme:
    """One integration formula at one step: the constant matrix, its factors and the diode ports."""

    name: str
    w: NDArray  # edge weights: conductances, companion conductances, diode reference conductances
    h_w: NDArray
    h_c: NDArray
    K: sp.csr_matrix  # reduced right-hand side per source value (voltage sources, then current sources)
    lu: object | None
    factors: tuple  # the SuperLU factors as plain arrays, for the numba kernel
    g_ref: NDArray
    Z: NDArray  # A⁻¹U, n_free x k
    C0: NDArray  # UᵀA⁻¹U, k x k

    @classmethod
    def build(cls, net: _Net, name: str, h: float, state: _State, engine: str) -> "_Scheme":
        w = net.w_lin.copy()
        h_w, h_c = _companion(name, h, net.reactive_values(), net.n_caps)
        w[net.react] = h_w
        g_ref = _reference_conductance(net, state, w)
        w[net.diodes] = g_ref
        # a source voltage drives currents through the base potentials S E; a current source injects directly
        K = sp.hstack([-(net.R @ sp.diags(w) @ net.T_E), net.P @ net.B_I], format="csr")
        K.sort_indices()
        k = net.n_diodes
        lu, factors, Z, C0 = None, (), np.zeros((net.n_free, k)), np.zeros((k, k))
        if engine != "refactor":
            lu, factors = _factorize(net, w)
            if k and lu is not None:
                U = net.R[:, net.diodes].toarray()
                Z = np.ascontiguousarray(lu.solve(U).reshape(U.shape))
                C0 = np.ascontiguousarray(U.T @ Z)
        return cls(name, w, h_w, h_c, K, lu, factors, g_ref, Z, C0)


def _reference_conductance(net: _Net, state: _State, w: NDArray) -> NDArray:
    """Diode conductances built into the constant matrix: the initial small-signal ones, floored.

    Any positive value gives the exact answer (the ports carry the
    difference to the actual conductance); values near the actual one keep
    the low-rank correction small, and the floor keeps nodes reached only
    through reverse-biased diodes well conditioned.
    """
    if not net.n_diodes:
        return np.zeros(0)
    is_, n, rs, vt = net.diode_params()
    positive = w[w > 0]
    floor = 1e-3 * float(np.median(positive)) if positive.size else 1e-3
    return np.maximum(diode_iv(state.p_d, is_, n, rs, vt)[1], floor)


def _factorize(net: _Net, w: NDArray):
    """SuperLU of the constant matrix and its factors as arrays for :func:`physnet._numba_signal.lu_solve`."""
    n = net.n_free
    if n == 0:
        z_i, z_f = np.zeros(1, np.int64), np.zeros(0)
        return None, (z_i, z_i[:0], z_f, z_i, z_i[:0], z_f, z_f, z_i[:0], z_i[:0])
    A = sp.csc_matrix((net.op.matrix_data(w), net.op.pattern.indices, net.op.pattern.indptr), shape=(n, n))
    try:
        if np.all(w >= 0):  # passive: symmetric positive definite, a symmetric ordering and no pivoting
            lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        else:
            lu = splu(A)
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise NetlistError(f"the transient nodal matrix is singular ({exc}): negative resistances cancel the "
                           "rest of the network at this step") from None
    L = sp.tril(lu.L, k=-1, format="csr")
    U = sp.triu(lu.U, k=1, format="csr")
    as_int = np.int64
    return lu, (L.indptr.astype(as_int), L.indices.astype(as_int), L.data, U.indptr.astype(as_int),
                U.indices.astype(as_int), U.data, 1.0 / lu.U.diagonal(), lu.perm_r.astype(as_int),
                lu.perm_c.astype(as_int))


# ------------------------------------------------------------ right-hand sides
class _Drive:
    """Per-step node injections besides the sources: extra currents and noise, chunk by chunk."""

    def __init__(self, net: _Net, t: NDArray, extra, noise: NoiseSpec | None, seed) -> None:
        self.net, self.t = net, t
        n_nodes = net.system.n_nodes
        if isinstance(extra, Tone):
            extra = _checked_tone(extra, n_nodes)
        elif extra is not None and not callable(extra):
            extra = np.asarray(extra, dtype=np.float64)
            if extra.shape != (len(t), n_nodes):
                raise NetlistError(f"extra_currents must have shape (n_t, n_nodes) = ({len(t)}, {n_nodes}) on the "
                                   f"time grid, or be a callable f(t) -> (len(t), n_nodes); got {extra.shape}")
        self.extra_currents = extra
        self.noise = None if noise is None else _NoiseSource(net, noise, seed, float(t[1] - t[0]),
                                                             float(t[-1] - t[0]))

    def extra(self, c0: int, c1: int) -> _Injection | None:
        """Node injections besides the sources (extra currents, noise) of the chunk's rows, or None."""
        extra = self.extra_currents
        if extra is None and self.noise is None:
            return None
        dense = None if self.noise is None else self.noise.draw(c1 - c0)
        if isinstance(extra, Tone):
            wave = np.cos(2.0 * np.pi * extra.freq * self.t[c0:c1] + extra.phase)
            return _Injection(dense, wave, extra.current)
        if extra is not None:
            rows = self._call_extra(c0, c1) if callable(extra) else extra[c0:c1]
            dense = rows if dense is None else dense + rows
        return _Injection(dense, None, None)

    def _call_extra(self, c0: int, c1: int) -> NDArray:
        out = np.asarray(self.extra_currents(self.t[c0:c1]), dtype=np.float64)
        expected = (c1 - c0, self.net.system.n_nodes)
        if out.shape != expected:
            raise NetlistError(f"extra_currents(t) returned shape {out.shape} for {c1 - c0} times; it must return "
                               f"{expected}, one row of node currents per time")
        return out


def _checked_tone(tone: Tone, n_nodes: int) -> Tone:
    """``tone`` with float arrays, or a NetlistError saying what is wrong with it."""
    try:
        current = np.asarray(tone.current, dtype=np.float64)
        freq, phase = float(tone.freq), float(tone.phase)
    except (TypeError, ValueError):
        raise NetlistError(f"Tone: current, freq and phase must be real numbers, got {tone!r}") from None
    if current.shape != (n_nodes,) or not np.all(np.isfinite(current)):
        raise NetlistError(f"Tone.current must be {n_nodes} finite amplitudes, one per node; got shape {current.shape}")
    if not (math.isfinite(freq) and freq >= 0.0 and math.isfinite(phase)):
        raise NetlistError(f"Tone: freq = {freq!r} Hz must be finite and >= 0, phase = {phase!r} rad finite")
    return Tone(current, freq, phase)


@dataclass(frozen=True)
class _Injection:
    """Node currents of a chunk's rows besides the sources, ``dense + wave ⊗ vector`` (either part absent)."""

    dense: NDArray | None  # (rows, n_nodes)
    wave: NDArray | None  # (rows,) ...
    vector: NDArray | None  # ... times (n_nodes,)

    def project(self, M) -> NDArray:
        """``M`` (a matrix on node vectors) applied to every row: (rows, M.shape[0])."""
        if self.wave is None:
            return (M @ self.dense.T).T
        out = np.outer(self.wave, M @ self.vector)
        return out if self.dense is None else out + (M @ self.dense.T).T

    def last(self) -> NDArray:
        """The last row, (n_nodes,)."""
        if self.wave is None:
            return self.dense[-1]
        row = self.wave[-1] * self.vector
        return row if self.dense is None else row + self.dense[-1]


class _NoiseSource:
    """Seeded white, 1/f and thermal current noise, drawn chunk by chunk (filter state carried across)."""

    POLES_PER_DECADE = 3

    def __init__(self, net: _Net, spec: NoiseSpec, seed, h: float, duration: float) -> None:
        n_nodes = net.system.n_nodes
        white, pink = (_per_node(value, name, n_nodes) for value, name in ((spec.white, "white"),
                                                                           (spec.pink, "pink")))
        self.n_nodes = n_nodes
        self.rng_white, self.rng_pink, self.rng_thermal = np.random.default_rng(seed).spawn(3)
        self.white_nodes = np.flatnonzero(white)
        self.white_std = np.sqrt(white[self.white_nodes] / (2.0 * h))  # PSD S over the band 0..1/(2h)
        self.pink_nodes = np.flatnonzero(pink)
        self.pink_scale = np.sqrt(pink[self.pink_nodes])
        # 1/f as a sum of Ornstein-Uhlenbeck processes with log-spaced corners f_p, all of variance ln(ratio):
        # Σ_p 2 var / (π f_p (1 + (f/f_p)²)) ≈ 1/f between the lowest and highest corner.
        lo, hi = 1.0 / duration, 0.5 / h
        n_poles = max(1, math.ceil(self.POLES_PER_DECADE * math.log10(hi / lo)) + 1)
        ratio = 10.0 ** (1.0 / self.POLES_PER_DECADE)
        self.decay = np.exp(-2.0 * np.pi * lo * ratio ** np.arange(n_poles) * h)
        self.var = math.log(ratio)
        self.last = self.rng_pink.standard_normal((n_poles, self.pink_nodes.size)) * math.sqrt(self.var)
        self.thermal = None
        if spec.thermal:
            table = net.system["resistor"]
            g = np.abs(net.w_lin[net.op.edge_slice("resistor")])
            kelvin = net.system.temperature + CELSIUS_TO_KELVIN
            self.thermal_std = np.sqrt(4.0 * BOLTZMANN * kelvin * g / (2.0 * h))
            self.thermal = -_incidence(table.a, table.b, n_nodes)  # a source in parallel with each resistor

    def draw(self, m: int) -> NDArray:
        """Node noise currents for the next ``m`` steps, (m, n_nodes)."""
        out = np.zeros((m, self.n_nodes))
        if self.white_nodes.size:
            out[:, self.white_nodes] += self.rng_white.standard_normal((m, self.white_nodes.size)) * self.white_std
        if self.pink_nodes.size:
            from scipy.signal import lfilter  # scipy.signal is slow to import: only when 1/f noise is asked for

            total = np.zeros((m, self.pink_nodes.size))
            gain = np.sqrt(self.var * (1.0 - self.decay ** 2))
            for p, a in enumerate(self.decay):
                kick = self.rng_pink.standard_normal((m, self.pink_nodes.size))
                y, _ = lfilter([gain[p]], [1.0, -a], kick, axis=0, zi=(a * self.last[p])[None, :])
                self.last[p] = y[-1]
                total += y
            out[:, self.pink_nodes] += total * self.pink_scale
        if self.thermal is not None:
            currents = self.rng_thermal.standard_normal((m, self.thermal.shape[1])) * self.thermal_std
            out += (self.thermal @ currents.T).T
        return out


def _per_node(value, name: str, n_nodes: int) -> NDArray:
    try:
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_nodes,)).copy()
    except (TypeError, ValueError):
        raise NetlistError(f"noise {name} must be one PSD (A²/Hz) or one per node ({n_nodes})") from None
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise NetlistError(f"noise {name} must be power spectral densities >= 0 (A²/Hz)")
    arr[0] = 0.0  # ground
    return arr


# ------------------------------------------------------------ engines
@dataclass(frozen=True)
class _Recording:
    """What the engines record per step, as indices into the padded reduced unknowns."""

    gather: NDArray[np.int64]  # recorded nodes
    e_a: NDArray[np.int64]  # ends of the edges whose voltages are recorded (the source edges)
    e_b: NDArray[np.int64]
    hi_sel: NDArray[np.int64]  # reactive edges (positions in react) whose currents are recorded


@dataclass(frozen=True)
class _Chunk:
    """The inputs of a run of steps."""

    src: NDArray  # (m, n_v + n_i) source values, voltage sources first
    rhs: NDArray  # (m, n_free) reduced extra injections, or (0, n_free) when there are none
    E: NDArray  # (m, n_v) voltage-source values
    t: NDArray  # (m,) times

    def b(self, sch: "_Scheme", s: int) -> NDArray:
        """The reduced right-hand side of step ``s`` before history currents."""
        b = sch.K @ self.src[s]
        return b + self.rhs[s] if len(self.rhs) else b


@dataclass(frozen=True)
class _Outputs:
    v: NDArray  # (m, n_recorded): reduced part of the recorded potentials
    drops: NDArray  # (m, n_edges recorded): reduced part of their voltages
    currents: NDArray  # (m, n_reactive recorded)
    iterations: NDArray  # (m,) Newton iterations per step

    @classmethod
    def empty(cls, m: int, rec: _Recording, v: NDArray) -> "_Outputs":
        return cls(v, np.empty((m, len(rec.e_a))), np.empty((m, len(rec.hi_sel))), np.zeros(m, dtype=np.int64))


# Each engine advances ``state`` over the steps of ``chunk`` and fills ``out``.
def _lowrank(net: _Net, sch: _Scheme, state: _State, chunk: _Chunk, options: NewtonOptions, rec: _Recording,
             out: _Outputs) -> None:
    """The numba time loop: one factorization, diode ports."""
    from physnet._numba_signal import advance

    m, k, E = len(chunk.t), net.n_diodes, chunk.E
    h_src = (net.T_E[net.react] @ E.T).T if net.n_v else np.zeros((0, len(net.react)))
    p_src = (net.T_E[net.diodes] @ E.T).T if net.n_v else np.zeros((m, k))
    is_, n, rs, vt = net.diode_params()
    done = advance(*sch.factors, net.pad(net.ra[net.react]), net.pad(net.rb[net.react]), sch.h_w, sch.h_c,
                   state.h_d, state.h_d1, state.h_i, state.h_i1, np.ascontiguousarray(h_src),
                   net.pad(net.ra[net.diodes]), net.pad(net.rb[net.diodes]), sch.Z, sch.C0, sch.g_ref,
                   np.ascontiguousarray(is_), np.ascontiguousarray(n * vt), np.ascontiguousarray(rs),
                   critical_voltage(is_, n, vt), options.gmin, state.p_d, state.p_vj, np.ascontiguousarray(p_src),
                   options.reltol, options.vntol, options.max_iter,
                   sch.K.indptr.astype(np.int64), sch.K.indices.astype(np.int64), sch.K.data,
                   np.ascontiguousarray(chunk.src), chunk.rhs,
                   rec.gather, rec.e_a, rec.e_b, rec.hi_sel, out.v, out.drops, out.currents, out.iterations, state.x)
    if done < m:
        _fail(float(chunk.t[done]), options.max_iter)


def _history(sch: _Scheme, state: _State) -> NDArray:
    """History currents ``J`` of the reactive edges for the next step."""
    c = sch.h_c
    return c[:, 0] * state.h_d + c[:, 1] * state.h_d1 + c[:, 2] * state.h_i + c[:, 3] * state.h_i1


def _finish_step(net: _Net, sch: _Scheme, state: _State, x: NDArray, J: NDArray, E_row: NDArray,
                 rec: _Recording, out: _Outputs, s: int) -> None:
    """Update the companion history with the step's solution ``x`` and record it (numpy engines)."""
    y = np.r_[x, 0.0]
    d = net.reduced_drops(y, E_row, net.react)
    state.h_d1, state.h_i1 = state.h_d, state.h_i
    state.h_d, state.h_i = d, sch.h_w * d + J
    state.x = x
    out.v[s] = y[rec.gather]
    out.drops[s] = y[rec.e_a] - y[rec.e_b]
    out.currents[s] = state.h_i[rec.hi_sel]


def _linearize(net: _Net, sch: _Scheme, state: _State, gmin: float) -> tuple[bool, NDArray, NDArray]:
    """SPICE-limited linearisation ``q(d) ≈ g_lin d + i_lin`` of the port currents ``q = i(d) - g_ref d``."""
    is_, n, rs, vt = net.diode_params()
    raw = junction_voltages_numpy(state.p_d, is_, n, rs, vt, gmin)
    vj = limit_junction(raw, state.p_vj, is_, n, vt)
    cur, gd = junction_current(vj, is_, n, rs, vt, gmin)
    state.p_vj = vj
    return bool(np.any(vj != raw)), gd - sch.g_ref, cur - gd * (vj + rs * cur)


def _converged(limited: bool, d: NDArray, previous: NDArray, options: NewtonOptions) -> bool:
    return not limited and np.max(np.abs(d - previous)) <= options.vntol + options.reltol * np.max(np.abs(d))


def advance_numpy(net: _Net, sch: _Scheme, state: _State, chunk: _Chunk, options: NewtonOptions,
                  rec: _Recording, out: _Outputs) -> None:
    """Numpy twin of the numba time loop :func:`physnet._numba_signal.advance` (same algorithm, step by step).

    Its arguments are the solver's internal state; it runs as
    ``solve_transient(..., engine="numpy")``, the kernel as ``engine="lowrank"``.

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", sin=(0.0, 1.0, 1e3))
    >>> net.resistor("R1", "in", "a", r=1e3); net.diode("D1", "a", "0"); net.capacitor("C1", "a", "0", c=1e-7)
    >>> twin, kernel = (solve_transient(net, 1e-5, 1e-3, engine=engine) for engine in ("numpy", "lowrank"))
    >>> bool(np.allclose(twin.v, kernel.v, rtol=1e-9, atol=1e-12)), twin.iterations == kernel.iterations
    (True, True)
    """
    k, E, t = net.n_diodes, chunk.E, chunk.t
    R_react = net.R[:, net.react]
    for s in range(len(t)):
        J = _history(sch, state)
        y = sch.lu.solve(chunk.b(sch, s) - R_react @ J) if sch.lu is not None else np.zeros(0)
        out.iterations[s] = 1
        if k:
            o = net.reduced_drops(np.r_[y, 0.0], E[s], net.diodes)
            for it in range(1, options.max_iter + 1):
                limited, g_lin, i_lin = _linearize(net, sch, state, options.gmin)
                d = np.linalg.solve(np.eye(k) + sch.C0 * g_lin, o - sch.C0 @ i_lin)
                done = _converged(limited, d, state.p_d, options)
                state.p_d = d
                if done:
                    break
            else:
                _fail(float(t[s]), options.max_iter)
            out.iterations[s] = it
            y = y - sch.Z @ (g_lin * d + i_lin)
        _finish_step(net, sch, state, y, J, E[s], rec, out, s)


def _refactor(net: _Net, sch: _Scheme, state: _State, chunk: _Chunk, options: NewtonOptions, rec: _Recording,
              out: _Outputs) -> None:
    """General engine: Newton per step with a numeric refactorization (symbolic reused) per iteration."""
    k, E, t = net.n_diodes, chunk.E, chunk.t
    factorizer = net.op.factorizer
    passive = bool(np.all(sch.w >= 0))
    R_react, U = net.R[:, net.react], net.R[:, net.diodes]
    constant = factorizer.factor(net.op.matrix_data(sch.w), spd=passive) if not k else None
    w = sch.w.copy()
    for s in range(len(t)):
        J = _history(sch, state)
        b = chunk.b(sch, s) - R_react @ J
        out.iterations[s] = 1
        if not k:
            x = constant.solve(b)
        else:
            p_src = net.T_E[net.diodes] @ E[s] if net.n_v else 0.0
            for it in range(1, options.max_iter + 1):
                limited, g_lin, i_lin = _linearize(net, sch, state, options.gmin)
                w[net.diodes] = sch.g_ref + g_lin  # the diodes' linearised conductances
                factor = factorizer.factor(net.op.matrix_data(w), spd=passive)
                x = factor.solve(b - U @ (g_lin * p_src + i_lin))
                d = net.reduced_drops(np.r_[x, 0.0], E[s], net.diodes)
                done = _converged(limited, d, state.p_d, options)
                state.p_d = d
                if done:
                    break
            else:
                _fail(float(t[s]), options.max_iter)
            out.iterations[s] = it
        _finish_step(net, sch, state, x, J, E[s], rec, out, s)


def _fail(time: float, max_iter: int) -> None:
    raise ConvergenceError(
        f"transient: the diode Newton iteration did not converge within {max_iter} iterations at t = {time:.6g} s; "
        "reduce the step, or raise NewtonOptions.max_iter",
        max_iter,
        float("nan"),
    )


_ENGINES = {"lowrank": _lowrank, "numpy": advance_numpy, "refactor": _refactor}
