"""Frequency propagation (Anisetti, Kandala, Scellier, Schwarz 2024).

The activation (the input sources, at ``f_A``; 0 = DC) and an error current
``e = -β ∂C/∂v_out`` at the outputs (at ``f_B``) drive the same network.
Every edge reads the two coefficients of its own voltage drop, ``ΔV^A`` and
``ΔV^B``, and updates its conductance by their product:

    dC/dg_j ≈ ΔV^A_j ΔV^B_j / β,        Δg_j = -(α/β) ΔV^A_j ΔV^B_j.

Three solvers read the coefficients and must agree:

``"phasor"`` (the fast path)
    ``ΔV^B`` is the small-signal response ``J⁻¹ e`` at the DC operating
    point. Up to :data:`physnet.learning.fp_ports.MAX_PORTS` diodes, the
    network is factored **once** per step for the whole batch: the diodes
    are ports of that factor (Newton on the diode voltages only, then
    Woodbury for the error tone) and, by superposition, a batch needs no
    more back-substitutions than sources + diodes + outputs (see
    :mod:`physnet.learning.fp_ports`). With more diodes: Newton per sample,
    then one factorization of its Jacobian. It equals the exact adjoint
    gradient for every β (the error tone is treated as infinitesimal) and
    is quasi-static (``f_B → 0``; capacitors open).
``"hb"``
    Harmonic balance of the whole network driven by both tones at once, at
    harmonics ``p, q`` of a common base ``f0`` (``f_A = p f0``, ``f_B = q
    f0``): the finite-amplitude experiment, bias ``O(β²)`` in diode networks.
``"transient"``
    Time stepping of the same experiment, then lock-in demodulation of every
    trainable edge's drop over whole common periods (the DC coefficient is
    the mean): what a laboratory measures, noise included if asked.

Phase convention: with an oscillating activation every source value ``x``
becomes the tone ``x cos(2π f_A t)``; the error current is ``e cos(2π f_B
t)``. Each coefficient is the in-phase part ``Re X`` of the lock-in phasor
``X`` (``ΔV(t) ≈ Re(X e^{jωt})``), so a quasi-static network reads exactly
the DC rule. With an oscillating activation the cost is evaluated on the
outputs' ``f_A`` coefficients (measured in a first, activation-only run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.learning.costs import SQUARED_ERROR, Cost
from physnet.learning.fp_hb import hb_coefficients
from physnet.learning.fp_ports import MAX_PORTS, phasor_coefficients
from physnet.learning.fp_tones import PRODUCT_ORDER, FPTones, check_frequency, fp_tones
from physnet.learning.fp_transient import transient_coefficients
from physnet.learning.gradient import GradientResult, operating_point, small_signal
from physnet.learning.problem import Problem, make_problem
from physnet.netlist import Netlist
from physnet.solvers.dc import NewtonOptions
from physnet.solvers.harmonic_balance import HBOptions
from physnet.solvers.planner import format_frequency
from physnet.solvers.transient import NoiseSpec
from physnet.system import System

__all__ = ["FPUpdate", "fp_update", "fp_estimate", "SOLVERS"]

SOLVERS = ("phasor", "hb", "transient")
"""How :func:`fp_update` reads the coefficients (see the module notes)."""

_STACKLEVEL = 4  # a collision warning from fp_tones <- fp_estimate <- fp_update / gradient blames the user


@dataclass(frozen=True, eq=False)
class FPUpdate:
    """One frequency-propagation step.

    Attributes
    ----------
    delta_g : ndarray, shape (n_trainable,)
        Conductance update ``-(α/β) ⟨ΔV^A ΔV^B⟩`` (S), mean over samples.
    gradient : GradientResult
        The gradient estimate ``⟨ΔV^A ΔV^B⟩ / β`` with diagnostics.
    dv_a, dv_b : ndarray, shape (batch, n_trainable)
        Activation and error coefficients of each trainable edge's drop (V).
    alpha, beta : float
        Learning rate and error amplitude.
    solver : str

    Examples
    --------
    The divider ``v_out = g1 / (g1 + g2)`` at ``g = (1, 3)`` S: drops 0.75 V and 0.25 V, and the error current
    ``-β v_out`` sees ``1/(1 + 3)`` Ω at the output:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> step = pn.fp_update(net, outputs=["out"], targets=[0.0], alpha=0.1, beta=1e-2)
    >>> np.round(step.dv_a, 12).tolist(), np.round(step.dv_b, 12).tolist(), step.solver
    ([[0.75, 0.25]], [[0.000625, -0.000625]], 'phasor')
    >>> np.round(step.delta_g, 12).tolist(), step.gradient.method
    ([-0.0046875, 0.0015625], 'fp')
    """

    delta_g: NDArray[np.float64]
    gradient: GradientResult
    dv_a: NDArray[np.float64]
    dv_b: NDArray[np.float64]
    alpha: float
    beta: float
    solver: str


def _positive_int(name: str, value: int, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise NetlistError(f"{name} = {value!r} is invalid: a whole number >= {least}")
    return int(value)


def _phasor(problem: Problem, g_all: NDArray, beta: float, f_a: float, f_b: float | None,
            options: NewtonOptions) -> tuple[NDArray, NDArray, NDArray, dict]:
    """Small-signal coefficients: the DC states, then the error tone on the same factorization."""
    if check_frequency("f_a", f_a) != 0.0:
        raise NetlistError(f"solver='phasor' linearises at the DC operating point, so f_a must be 0 (got "
                           f"{format_frequency(f_a)}); use solver='hb' or 'transient' for an oscillating activation")
    if f_b is not None and check_frequency("f_b", f_b) == 0.0:
        raise NetlistError("f_b = 0: the error tone must oscillate (f_b > 0)")
    quasi_static = {"f_a": 0.0, "f_b": 0.0}  # the phasor path is the f_B -> 0 limit
    if len(problem.system["diode"]) > MAX_PORTS:  # many diodes: Newton per sample, then its Jacobian
        v, shared = operating_point(problem, g_all, options=options)
        v_b = small_signal(problem, g_all, v, problem.error_currents(v, beta), shared, gmin=options.gmin)
        return v, problem.drops(v), problem.drops(v_b), {"solves": "newton + 1 factorization per sample",
                                                         **quasi_static}
    v, dv_a, dv_b, info = phasor_coefficients(problem, g_all, beta, options)
    return v, dv_a, dv_b, {"solves": "one factorization", **info, **quasi_static}


def _harmonics(tones: FPTones, n_harmonics: int | None) -> int:
    """Harmonics of ``f0`` kept by harmonic balance: default every product up to :data:`PRODUCT_ORDER`."""
    if n_harmonics is None:
        return tones.base.n_harmonics(PRODUCT_ORDER)
    if _positive_int("n_harmonics", n_harmonics, 1) < tones.fastest:
        raise NetlistError(f"n_harmonics = {n_harmonics} is too small: f_A and f_B are harmonics {tones.base.p} and "
                           f"{tones.base.q} of f0 = {format_frequency(tones.base.f0)}; use n_harmonics >= "
                           f"{tones.fastest}")
    return int(n_harmonics)


def fp_estimate(
    problem: Problem,
    g_all: NDArray,
    *,
    beta: float = 1e-3,
    solver: str = "phasor",
    f_a: float = 0.0,
    f_b: float | None = None,
    n_harmonics: int | None = None,
    periods: int = 4,
    settle: int = 1,
    steps_per_period: int = 32,
    noise: NoiseSpec | None = None,
    seed: int | np.random.Generator | None = None,
    options: NewtonOptions = NewtonOptions(),
    hb_options: HBOptions = HBOptions(),
) -> GradientResult:
    """The FP gradient estimate ``⟨ΔV^A ΔV^B⟩ / β`` for a prepared problem.

    Arguments as in :func:`fp_update` (``g_all`` holds *every* resistor's
    conductance). ``info`` of the result holds ``dv_a``, ``dv_b``, the tones
    and what the solver did.

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> problem = make_problem(net, ["out"], [0.0])
    >>> est = fp_estimate(problem, problem.system["resistor"]["g"], solver="hb", beta=1e-2)
    >>> est.grad.round(12).tolist(), est.info["f_b"]
    ([0.046875, -0.015625], 1000.0)
    """
    if not (isinstance(beta, (int, float, np.floating)) and math.isfinite(beta) and beta > 0):
        raise NetlistError(f"beta = {beta!r} must be a finite number > 0")
    if solver == "phasor":
        v, dv_a, dv_b, info = _phasor(problem, g_all, beta, f_a, f_b, options)
    elif solver == "hb":
        tones = fp_tones(f_a, f_b, stacklevel=_STACKLEVEL)
        v, dv_a, dv_b, info = hb_coefficients(problem, g_all, beta, tones, _harmonics(tones, n_harmonics), options,
                                              hb_options)
    elif solver == "transient":
        periods, settle = _positive_int("periods", periods, 1), _positive_int("settle", settle, 0)
        steps = _positive_int("steps_per_period", steps_per_period, 4)
        tones = fp_tones(f_a, f_b, stacklevel=_STACKLEVEL)
        v, dv_a, dv_b, info = transient_coefficients(problem, g_all, beta, tones, periods, settle, steps, noise,
                                                     seed, options)
    else:
        raise NetlistError(f"unknown FP solver {solver!r} (available: {', '.join(SOLVERS)})")
    if solver != "phasor":
        info |= {"f_a": tones.f_a, "f_b": tones.f_b, "f0": tones.base.f0}
    grad = np.mean(dv_a * dv_b, axis=0) / beta
    return GradientResult(grad, float(np.mean(problem.costs(v))), "fp", problem.edge_names, v,
                          {"solver": solver, "beta": beta, "dv_a": dv_a, "dv_b": dv_b, **info})


def fp_update(
    network: System | Netlist,
    g: NDArray | None = None,
    inputs: Mapping[str, NDArray] | None = None,
    outputs: Sequence[str] = (),
    targets=None,
    *,
    alpha: float = 1e-3,
    beta: float = 1e-3,
    solver: str = "phasor",
    f_a: float = 0.0,
    f_b: float | None = None,
    n_harmonics: int | None = None,
    periods: int = 4,
    settle: int = 1,
    steps_per_period: int = 32,
    noise: NoiseSpec | None = None,
    seed: int | np.random.Generator | None = None,
    cost: Cost = SQUARED_ERROR,
    trainable=None,
    options: NewtonOptions = NewtonOptions(),
    hb_options: HBOptions = HBOptions(),
) -> FPUpdate:
    """One FP learning step: coefficients per edge and the conductance update.

    Parameters
    ----------
    network : System or Netlist
    g : ndarray, optional
        Trainable conductances (S).
    inputs, outputs, targets, cost, trainable
        As in :func:`physnet.gradient`. The activation is the network's own
        sources (or ``inputs``), at DC or as tones at ``f_a``.
    alpha : float, optional
        Learning rate: ``Δg = -α dC/dg``.
    beta : float, optional
        Error-current amplitude per unit ``∂C/∂v_out`` (A/V for the
        squared error).
    solver : {"phasor", "hb", "transient"}, optional
        How the coefficients are read (see the module notes).
    f_a : float, optional
        Activation frequency (Hz); 0 (default) is DC. ``"phasor"`` needs 0.
    f_b : float, optional
        Error frequency (Hz) of ``"hb"`` and ``"transient"`` (the phasor path
        is quasi-static). Default 1 kHz for a DC activation, else ``5/3
        f_a`` (collision-free; see :func:`physnet.learning.fp_tones.fp_tones`);
        a colliding choice warns
        (:class:`physnet.solvers.planner.FrequencyCollisionWarning`).
    n_harmonics : int, optional
        Harmonics of ``f0`` kept by ``"hb"``; default enough for every
        mixing product up to order 4.
    periods : int, optional
        ``"transient"``: common periods ``1/f0`` demodulated by the lock-in.
    settle : int, optional
        ``"transient"``: common periods simulated and discarded first.
    steps_per_period : int, optional
        ``"transient"``: time steps per period of the faster tone.
    noise : NoiseSpec, optional
        ``"transient"``: random current sources (see
        :class:`physnet.NoiseSpec`); ``seed`` seeds them.
    seed : int or numpy.random.Generator, optional
    options : NewtonOptions, optional
        DC Newton and transient tolerances.
    hb_options : HBOptions, optional
        Harmonic-balance tolerances.

    Returns
    -------
    FPUpdate

    Raises
    ------
    NetlistError
        Unknown solver, bad ``beta``, tones or integration settings.

    Examples
    --------
    On a linear network every solver gives the exact gradient:

    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> exact = -0.1 * pn.gradient(net, outputs=["out"], targets=[0.0]).grad
    >>> step = pn.fp_update(net, outputs=["out"], targets=[0.0], alpha=0.1, beta=1e-2)
    >>> np.allclose(step.delta_g, exact, rtol=1e-12)
    True
    >>> step = pn.fp_update(net, outputs=["out"], targets=[0.0], alpha=0.1, beta=1e-2, solver="transient",
    ...                     f_a=600.0)
    >>> np.allclose(step.delta_g, exact, rtol=1e-9)
    True
    """
    problem = make_problem(network, outputs, targets, inputs=inputs, trainable=trainable, cost=cost)
    estimate = fp_estimate(problem, problem.conductances(g), beta=beta, solver=solver, f_a=f_a, f_b=f_b,
                           n_harmonics=n_harmonics, periods=periods, settle=settle,
                           steps_per_period=steps_per_period, noise=noise, seed=seed, options=options,
                           hb_options=hb_options)
    return FPUpdate(-alpha * estimate.grad, estimate, estimate.info["dv_a"], estimate.info["dv_b"], alpha, beta,
                    solver)
