"""Cross-check physnet against ngspice: the same analysis by both, node by node.

The network is written by :func:`physnet.spice.format_spice` (so a netlist
with ``.control`` or ``shell`` never gets this far: reading it already
failed), ngspice runs it with tight options, and physnet solves the same
System. Flow networks are compared through the hydraulic–electric analogy
(pipes are written as resistors ``R = 1/k``; pressure is voltage).

* ``"op"``: node voltages, tolerance ``|Δv| <= atol + rtol |v_ngspice|``
  (default 1 µV + 1e-6 relative) with ngspice at ``RELTOL = 1e-9``;
* ``"ac"``: node phasors at ngspice's own frequencies (those of the
  netlist's ``.ac`` card, or the ones given), ``|ΔV| <= atol + rtol
  max_node |V|`` per frequency (default 1e-6 relative);
* ``"tran"``: ngspice with ``RELTOL = 1e-6`` and its step capped at
  TSTEP/4 is the reference; physnet steps at TSTEP (trapezoidal, the
  netlist's own TSTEP, so that PULSE defaults agree) and the two are
  compared at physnet's time points, ngspice's denser, adaptive waveform
  interpolated linearly onto them (interpolating physnet's coarser one
  instead would add an ``O(TSTEP²)`` error at every PULSE corner, where
  ngspice refines its step and physnet cannot); the tolerance is
  ngspice's own default accuracy, ``RELTOL = 1e-3`` of each node's peak
  plus ``VNTOL = 1 µV``. Choose TSTEP small against the network's time
  constants: physnet's error is ``O(TSTEP²)``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import NetlistError, NgspiceError
from physnet.netlist import Netlist
from physnet.spice.raw import RawPlot
from physnet.spice.run import ngspice_names, run_ngspice, validation_deck
from physnet.system import System

__all__ = ["CheckResult", "check", "node_voltages", "ANALYSES", "TOLERANCES", "TRAN_OPTIONS", "NGSPICE_SUBSTEPS"]

ANALYSES = ("op", "ac", "tran")

TOLERANCES = {"op": (1e-6, 1e-6), "ac": (1e-12, 1e-6), "tran": (1e-6, 1e-3)}
"""Default ``(atol, rtol)`` per analysis (see the module docstring for what each is relative to)."""

NGSPICE_SUBSTEPS = 4
"""The transient reference caps ngspice's step at TSTEP / NGSPICE_SUBSTEPS."""

TRAN_OPTIONS = ".options reltol=1e-6 abstol=1e-15 vntol=1e-9 gmin=1e-12 itl1=500 method=trap"
"""ngspice options of the transient reference run."""


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The same analysis by physnet and by ngspice.

    Attributes
    ----------
    analysis : {"op", "ac", "tran"}
    nodes : tuple of str
        Compared nodes (physnet names, ground excluded): the columns below.
    axis : ndarray, shape (n_points,)
        Frequencies (Hz) for ``"ac"``, physnet's time grid (s) for
        ``"tran"``, ``[0.0]`` for ``"op"``.
    physnet, ngspice : ndarray, shape (n_points, n_nodes)
        Node voltages (complex phasors for ``"ac"``).
    atol, rtol : float
        Tolerances: a difference is accepted when ``<= atol + rtol * scale``.
    scale : ndarray, shape (n_points, n_nodes)
        What ``rtol`` is relative to: ``|v_ngspice|`` at the point (op), the
        largest node phasor at that frequency (ac), or the node's peak over
        the run (tran).
    seconds : dict
        Wall time of ``"physnet"`` and ``"ngspice"`` (s).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist("divider"); net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1e3, 3e3])
    >>> result = check(net)
    >>> result.analysis, result.nodes, result.ngspice.tolist(), result.physnet.round(12).tolist(), result.ok
    ('op', ('a', 'b'), [[1.0, 0.75]], [[1.0, 0.75]], True)
    """

    analysis: str
    nodes: tuple[str, ...]
    axis: NDArray[np.float64]
    physnet: NDArray
    ngspice: NDArray
    atol: float
    rtol: float
    scale: NDArray[np.float64]
    seconds: dict = field(default_factory=dict)

    @property
    def difference(self) -> NDArray[np.float64]:
        """``|physnet - ngspice|`` at every point and node."""
        return np.abs(self.physnet - self.ngspice)

    @property
    def max_abs(self) -> float:
        """Largest absolute difference (V)."""
        return float(np.max(self.difference, initial=0.0))

    @property
    def allowed(self) -> NDArray[np.float64]:
        """Largest difference accepted at each point, ``atol + rtol * scale``."""
        return self.atol + self.rtol * self.scale

    @property
    def max_rel(self) -> float:
        """Largest difference relative to ``scale`` (0 where both vanish, inf where only the scale does)."""
        diff = self.difference
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(self.scale > 0, diff / self.scale, np.where(diff > 0, np.inf, 0.0))
        return float(np.max(rel, initial=0.0))

    @property
    def ok(self) -> bool:
        """Whether every difference is within its tolerance."""
        return bool(np.all(self.difference <= self.allowed))

    @property
    def per_node(self) -> dict[str, float]:
        """Largest absolute difference of each node (V)."""
        return {name: float(d) for name, d in zip(self.nodes, np.max(self.difference, axis=0, initial=0.0))}

    @property
    def worst(self) -> str:
        """The node furthest outside (or least inside) its tolerance, ties broken by difference ('' without nodes)."""
        if not self.nodes:
            return ""
        diff, allowed = self.difference, self.allowed
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
        order = np.lexsort((np.max(diff, axis=0), np.max(ratio, axis=0)))
        return self.nodes[int(order[-1])]

    def summary(self) -> str:
        """One line: verdict, analysis, sizes, largest differences and the worst node.

        Examples
        --------
        >>> import physnet as pn
        >>> net = pn.Netlist("divider")
        >>> net.vsource("V1", "a", "0", dc=1.0)
        >>> net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1e3, 3e3])
        >>> check(net).summary().split(";")[0]
        'OK op: 2 nodes x 1 point'
        """
        verdict = "OK" if self.ok else "FAIL"
        points = f"{len(self.axis)} point{'s' if len(self.axis) != 1 else ''}"
        text = (f"{verdict} {self.analysis}: {len(self.nodes)} nodes x {points}; max |diff| = {self.max_abs:.3g} V, "
                f"max rel = {self.max_rel:.3g} (atol {self.atol:g}, rtol {self.rtol:g})")
        return text + (f"; worst node {self.worst!r}" if self.nodes else "")

    def as_dict(self) -> dict:
        """JSON-ready summary: verdict, tolerances, largest differences, per-node maxima, timings."""
        return {"analysis": self.analysis, "ok": self.ok, "max_abs": self.max_abs, "max_rel": self.max_rel,
                "atol": self.atol, "rtol": self.rtol, "points": len(self.axis), "worst": self.worst,
                "nodes": self.per_node, "seconds": dict(self.seconds), "summary": self.summary()}


def _as_system(network: Netlist | System | str | os.PathLike) -> System:
    if isinstance(network, System):
        return network
    if isinstance(network, Netlist):
        return network.compile()
    if isinstance(network, (str, os.PathLike)):
        from physnet.spice.read import read_spice

        return read_spice(Path(network)).compile()
    raise TypeError(f"expected a Netlist, System or netlist path, got {type(network).__name__}")


def _recorded(system: System, kind: str):
    """Arguments of the system's first recorded analysis of ``kind``, or None."""
    return next((a.args for a in system.analyses if a.kind == kind), None)


def node_voltages(system: System, plots: list[RawPlot]) -> tuple[tuple[str, ...], NDArray]:
    """ngspice's node voltages as columns: the nodes (physnet names, ground left out) and one row per point.

    Rows of several plots are stacked in plot order.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist("divider"); net.vsource("V1", "In", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["In", "v+"], ["v+", "0"], r=[1e3, 3e3])
    >>> system = net.compile()
    >>> nodes, v = node_voltages(system, run_ngspice(validation_deck(system, [("op",)])).plots)
    >>> nodes, v.tolist()
    (('In', 'v+'), [[1.0, 0.75]])
    """
    spice = ngspice_names(system)
    nodes = tuple(n for n in system.node_names if n != "0")
    rows = []
    for plot in plots:
        voltages = plot.node_voltages()
        missing = [n for n in nodes if spice[n] not in voltages]
        if missing:
            raise NgspiceError(f"ngspice reported no voltage for node {missing[0]!r} (as {spice[missing[0]]!r})")
        rows.append(np.stack([voltages[spice[n]] for n in nodes], axis=-1) if nodes else
                    np.zeros((len(plot.data), 0)))
    return nodes, np.concatenate(rows)


def _plots(run, name: str) -> list[RawPlot]:
    found = [p for p in run.plots if p.name.lower().startswith(name)]
    if not found:
        raise NgspiceError(f"ngspice wrote no {name!r} plot (plots: {[p.name for p in run.plots]})")
    return found


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _op(system: System, engine: str, timeout: float):
    from physnet.solvers.dc import solve_dc

    run = run_ngspice(validation_deck(system, [("op",)]), engine=engine, timeout=timeout)
    nodes, ng = node_voltages(system, _plots(run, "operating point"))
    result, seconds = _timed(solve_dc, system)
    ours = np.stack([result.v[system.node_index(n)] for n in nodes])[None, :] if nodes else np.zeros((1, 0))
    return nodes, np.zeros(1), ours, ng.real, run.seconds, seconds


def _ac_cards(system: System, freqs: ArrayLike | None) -> list[tuple]:
    if freqs is not None:
        values = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
        if values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
            raise NetlistError(f"AC check frequencies {freqs!r} must be finite numbers > 0 (Hz)")
        return [("ac", "lin", 1, float(f), float(f)) for f in values]
    recorded = _recorded(system, "ac")
    if recorded is None:
        raise NetlistError("the network records no .ac analysis: give the frequencies to check (freqs=..., or "
                           "--freqs HZ... on the command line)")
    return [("ac", *recorded)]


def _ac(system: System, freqs: ArrayLike | None, engine: str, timeout: float):
    from physnet.solvers.phasor import solve_ac

    run = run_ngspice(validation_deck(system, _ac_cards(system, freqs)), engine=engine, timeout=timeout)
    plots = _plots(run, "ac analysis")
    nodes, ng = node_voltages(system, plots)
    f = np.concatenate([p["frequency"].real for p in plots])
    order = np.argsort(f, kind="stable")
    f, ng = f[order], ng[order]
    result, seconds = _timed(solve_ac, system, f)
    ours = result.v[:, [system.node_index(n) for n in nodes]]
    return nodes, f, ours, ng, run.seconds, seconds


def _tran(system: System, step: float | None, stop: float | None, engine: str, timeout: float):
    from physnet.solvers.transient import solve_transient

    if step is None or stop is None:
        recorded = _recorded(system, "tran")
        if recorded is None:
            raise NetlistError("the network records no .tran analysis: give step and stop (or --tran STEP STOP)")
        if len(recorded) > 2 and recorded[2] != 0:
            raise NetlistError(f".tran {recorded!r}: a start time other than 0 is not supported by the check")
        step, stop = (float(x) for x in recorded[:2])
    deck = validation_deck(system, [("tran", step, stop, 0.0, step / NGSPICE_SUBSTEPS)], options=TRAN_OPTIONS)
    run = run_ngspice(deck, engine=engine, timeout=timeout)
    plots = _plots(run, "transient analysis")
    nodes, ng = node_voltages(system, plots)
    t_ng = np.concatenate([p["time"].real for p in plots])
    if t_ng[-1] < stop * (1 - 1e-9):
        raise NgspiceError(f"ngspice's transient ended at t = {t_ng[-1]:.6g} s, before stop = {stop:.6g} s")
    result, seconds = _timed(solve_transient, system, step, stop)
    ours = result.v[:, [result.node_names.index(n) for n in nodes]]
    theirs = np.stack([np.interp(result.t, t_ng, ng[:, k].real) for k in range(len(nodes))], axis=1) if nodes \
        else np.zeros((len(result.t), 0))
    return nodes, result.t, ours, theirs, run.seconds, seconds


def check(
    network: Netlist | System | str | os.PathLike,
    analysis: str = "op",
    *,
    freqs: ArrayLike | None = None,
    step: float | None = None,
    stop: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    engine: str = "batch",
    timeout: float = 600.0,
) -> CheckResult:
    """Run one analysis in physnet and in ngspice and compare every node.

    Parameters
    ----------
    network : Netlist, System or path
        The network, or a SPICE netlist file (read with :func:`physnet.read_spice`).
    analysis : {"op", "ac", "tran"}, optional
        Which analysis (see the module docstring for the tolerances).
    freqs : array_like, optional
        AC frequencies (Hz); default: the network's recorded ``.ac`` sweep.
    step, stop : float, optional
        Transient TSTEP and TSTOP (s); default: the recorded ``.tran``.
    atol, rtol : float, optional
        Tolerances overriding :data:`TOLERANCES`.
    engine : {"batch", "shared", "auto"}, optional
        How ngspice runs (:func:`physnet.spice.run.run_ngspice`).
    timeout : float, optional
        Seconds ngspice may take.

    Returns
    -------
    CheckResult

    Raises
    ------
    NetlistError
        Unknown analysis, nothing to sweep, or a network SPICE cannot hold.
    NgspiceError
        ngspice is missing, failed or timed out.

    Examples
    --------
    A pipe network checked through the hydraulic–electric analogy:

    >>> import physnet as pn
    >>> net = pn.Netlist("pipes")
    >>> net.vsource("P1", "in", "0", dc=2.0)
    >>> net.pipe("K1", "in", "mid", k=3e-9)
    >>> net.pipe("K2", "mid", "0", k=1e-9)
    >>> result = check(net)
    >>> result.ok, round(float(result.ngspice[0, 1]), 12)
    (True, 1.5)
    """
    if analysis not in ANALYSES:
        raise NetlistError(f"unknown analysis {analysis!r} (op, ac or tran)")
    system = _as_system(network)
    if analysis == "op":
        nodes, axis, ours, theirs, t_ng, t_pn = _op(system, engine, timeout)
    elif analysis == "ac":
        nodes, axis, ours, theirs, t_ng, t_pn = _ac(system, freqs, engine, timeout)
    else:
        nodes, axis, ours, theirs, t_ng, t_pn = _tran(system, step, stop, engine, timeout)
    default_atol, default_rtol = TOLERANCES[analysis]
    atol = default_atol if atol is None else float(atol)
    rtol = default_rtol if rtol is None else float(rtol)
    scale = np.abs(theirs)
    if analysis == "ac":
        scale = np.broadcast_to(np.max(scale, axis=1, keepdims=True, initial=0.0), scale.shape)
    elif analysis == "tran":
        scale = np.broadcast_to(np.max(scale, axis=0, keepdims=True, initial=0.0), scale.shape)
    return CheckResult(analysis, nodes, np.asarray(axis, dtype=np.float64), ours, theirs, atol, rtol, scale,
                       {"physnet": t_pn, "ngspice": t_ng})

