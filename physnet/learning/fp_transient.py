"""Frequency propagation in the time domain: the laboratory experiment, then lock-in.

For every sample the sources carry the activation (their values at DC, or
``x cos(2π f_A t)``), the error current ``e cos(2π f_B t)`` is injected at
the outputs through :func:`physnet.solvers.transient.solve_transient`'s
``extra_currents``, the network is integrated for ``settle + periods``
common periods ``1/f0`` with ``steps_per_period`` steps per period of the
faster tone, and every trainable edge's drop is demodulated
(:func:`physnet.solvers.lockin.lockin`) over the last ``periods`` common
periods: a whole number of periods of *both* tones, so the two separate
exactly (up to the network's own transients and noise). The DC coefficient
is the mean. Only the edges' terminals (and the outputs) are recorded.

The runs of a batch share one integration scheme (built by the first run)
and, with the diode-port engine, run on as many threads as numba may use
(``numba.config.NUMBA_NUM_THREADS``; the time loop releases the GIL). Each
run draws its noise from a generator of its own, spawned from ``seed``, so
results do not depend on the order the threads finish in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from physnet.elements.table import WAVE_DC, WAVE_SIN, ElementTable
from physnet.learning.fp_tones import FPTones
from physnet.learning.fp_hb import sample_sources
from physnet.learning.problem import Problem
from physnet.solvers.dc import DCResult, NewtonOptions, solve_dc
from physnet.solvers.lockin import lockin
from physnet.solvers.transient import LOWRANK_MAX_DIODES, NoiseSpec, Tone, TransientResult, solve_transient
from physnet.system import System

__all__ = ["transient_coefficients", "driven_system"]


def _driven_table(table: ElementTable, values: NDArray, f_a: float) -> ElementTable:
    columns = {name: np.array(column) for name, column in table.values.items()}
    if f_a == 0.0:
        columns["wave"][:] = WAVE_DC
        columns["dc"][:] = values
    else:  # x cos(2π f_A t) = SIN(0, x, f_A, 0, 0, 90°)
        columns["wave"][:] = WAVE_SIN
        columns["dc"][:] = 0.0
        for name, value in (("sin_offset", 0.0), ("sin_amplitude", values), ("sin_freq", f_a), ("sin_delay", 0.0),
                            ("sin_damping", 0.0), ("sin_phase", 90.0)):
            columns[name][:] = value
    return ElementTable.build(table.spec, table.names, table.a, table.b, columns)


def driven_system(system: System, v_sources: NDArray, i_sources: NDArray, f_a: float) -> System:
    """``system`` with its sources set to the activation: DC values, or ``x cos(2π f_a t)``.

    Returns ``system`` itself when it already is (so its cached operators
    are reused).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> system = net.compile()
    >>> driven_system(system, np.array([1.0]), np.zeros(0), 0.0) is system
    True
    >>> table = driven_system(system, np.array([2.0]), np.zeros(0), 50.0)["vsource"]
    >>> table["sin_amplitude"], table["sin_freq"], table["sin_phase"]
    (array([2.]), array([50.]), array([90.]))
    """
    tables = dict(system.elements)
    changed = False
    for kind, values in (("vsource", v_sources), ("isource", i_sources)):
        table = system[kind]
        if not len(table):
            continue
        if f_a == 0.0 and np.all(table["wave"] == WAVE_DC) and np.array_equal(table["dc"], values):
            continue
        tables[kind] = _driven_table(table, values, f_a)
        changed = True
    return replace(system, elements=MappingProxyType(tables)) if changed else system


def _run(system: System, g_all: NDArray, tones: FPTones, periods: int, settle: int, steps: int,
         record: str | Sequence[str], extra: Tone | None, noise: NoiseSpec | None,
         rng: np.random.Generator, options: NewtonOptions, initial: DCResult, schemes: dict) -> TransientResult:
    """Integrate ``settle + periods`` common periods, ``steps`` per period of the faster tone, from ``initial``.

    ``schemes`` is shared by the runs of one batch: they factor the step matrix once.
    """
    n = steps * tones.fastest  # time steps per common period
    step = tones.period / n
    return solve_transient(system, step, (settle + periods) * n * step, g=g_all, initial=initial,
                           extra_currents=extra, noise=noise, seed=rng, record=record, options=options,
                           _schemes=schemes)


def transient_coefficients(problem: Problem, g_all: NDArray, beta: float, tones: FPTones, periods: int, settle: int,
                           steps: int, noise: NoiseSpec | None, seed: int | np.random.Generator | None,
                           options: NewtonOptions) -> tuple[NDArray, NDArray, NDArray, dict]:
    """Activation states and per-edge coefficients ``(v, ΔV^A, ΔV^B, info)`` from transient runs and lock-in.

    ``v`` (batch, n_nodes): the DC operating points (DC activation) or the
    in-phase ``f_A`` coefficients of every node from an activation-only run.

    Examples
    --------
    A DC activation and the default error tone on the divider ``v_out = g1 / (g1 + g2)``, one settling and one
    demodulated period of 32 steps: ``ΔV^A ΔV^B / β`` is the exact gradient.

    >>> import numpy as np, physnet as pn
    >>> from physnet.learning.fp_tones import fp_tones
    >>> from physnet.learning.problem import make_problem
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> v, dv_a, dv_b, info = transient_coefficients(make_problem(net, ["out"], [0.0]), np.array([1.0, 3.0]), 1e-2,
    ...                                              fp_tones(), 1, 1, 32, None, 0, pn.NewtonOptions())
    >>> np.round(dv_a * dv_b / 1e-2, 9).tolist(), info["time_steps"]
    ([[0.046875, -0.015625]], 64)
    """
    system = problem.system
    rng = np.random.default_rng(seed)
    window = periods * tones.period
    freqs = [tones.f_a, tones.f_b]
    drives = [driven_system(system, *sample_sources(problem, s), tones.f_a) for s in range(problem.batch)]
    # Every run starts at its sample's DC point (the sources at t = 0 carry the sample's values, cos 0 = 1):
    # one batched solve for all of them.
    start = solve_dc(system, g_all, v_sources=problem.v_sources, i_sources=problem.i_sources, options=options)
    starts = [start.sample(s) for s in range(problem.batch)] if start.v.ndim == 2 else [start] * problem.batch
    schemes: dict = {}  # every run integrates with the step matrix factored by the first
    rngs = rng.spawn(2 * problem.batch)  # a noise generator per run, whichever thread runs it
    n_t = (settle + periods) * steps * tones.fastest + 1  # time points of a run
    workers = _workers(system, problem.batch, n_t * system.n_nodes)
    if tones.f_a == 0.0:
        v = np.stack([dc.v for dc in starts])
    else:
        def free(s: int) -> NDArray:
            res = _run(drives[s], g_all, tones, periods, settle, steps, "nodes", None, noise, rngs[s], options,
                       starts[s], schemes)
            return lockin(res.v, res.t, tones.f_a, window=window).real

        v = np.stack(_map(free, problem.batch, workers, schemes))
    errors = problem.error_currents(v, beta)
    table = system["resistor"]
    a, b = table.a[problem.trainable], table.b[problem.trainable]
    nodes = np.unique(np.concatenate([a, b]))
    column = np.zeros(system.n_nodes, dtype=np.int64)
    column[nodes] = np.arange(len(nodes))
    record = [system.node_names[i] for i in nodes]

    def driven(s: int) -> tuple[NDArray, int, float]:
        res = _run(drives[s], g_all, tones, periods, settle, steps, record, Tone(errors[s], tones.f_b), noise,
                   rngs[problem.batch + s], options, starts[s], schemes)
        X = lockin(res.v, res.t, freqs, window=window)  # lock-in is linear: each edge's drop demodulates to
        return (X[:, column[a]] - X[:, column[b]]).real, len(res.t) - 1, res.step  # its nodes' difference

    coefficients, time_steps, step_sizes = zip(*_map(driven, problem.batch, workers, schemes))
    dv = np.stack(coefficients)  # (batch, 2 tones, trainable edges)
    return v, dv[:, 0], dv[:, 1], {"periods": periods, "settle": settle, "steps_per_period": steps,
                                   "step": float(step_sizes[-1]), "time_steps": sum(time_steps)}


_RECORD_BUDGET = 1 << 27  # float64 values the concurrent runs may record at once (1 GiB)


def _workers(system: System, batch: int, values: int) -> int:
    """Threads for a batch's runs, each recording up to ``values`` numbers: numba's thread count, within
    :data:`_RECORD_BUDGET`, with the diode-port engine; 1 with the engine for many diodes (it refactors the
    topology's shared factorization, which one thread at a time may use).
    """
    import numba

    if len(system["diode"]) > LOWRANK_MAX_DIODES:
        return 1
    return max(1, min(numba.config.NUMBA_NUM_THREADS, batch, _RECORD_BUDGET // max(values, 1)))


def _map(run: Callable[[int], object], batch: int, workers: int, schemes: dict) -> list:
    """``run(s)`` for every sample, in order, on ``workers`` threads once the first run has built the schemes."""
    out = [run(0)] if not schemes else []
    rest = range(len(out), batch)
    if workers < 2 or len(rest) < 2:
        return out + [run(s) for s in rest]
    with ThreadPoolExecutor(workers, thread_name_prefix="physnet-fp") as pool:
        return out + list(pool.map(run, rest))

