"""Cost of one frequency-propagation step, side by side with the DC solve it builds on.

On an n×n resistor grid (conductances uniform in [0.5, 1.5] mS) with
antiparallel diode pairs from a few interior nodes to ground, two voltage
inputs at opposite corners and two outputs, measured warm (median of
``--repeat`` runs after one untimed run):

* one Newton DC solve (:func:`physnet.solve_dc`) vs one FP step by the
  phasor path (Newton + error tone + update; target ratio <= 1.5);
* an FP step on a batch of 64 samples vs 1 sample (target <= 10x), on the
  diode grid (one Newton per sample: its Jacobian is its own) and on the
  same grid without diodes (one factorization, multi-right-hand-side);
* FP by transient + lock-in, per simulated common period, vs the phasor
  step; FP by harmonic balance.

All cases run interleaved, round by round (see :func:`timed`), so a busy
machine slows them alike; the JSON also holds the median CPU times.

Usage::

    python benchmarks/fp_step.py                   # 100x100 grid, writes benchmarks/out/fp_step.json
    python benchmarks/fp_step.py --n 30 --repeat 3  # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import physnet as pn
from physnet.solvers.linear import default_backend

OUT = Path(__file__).parent / "out" / "fp_step.json"


def grid(n: int, diode_pairs: int, seed: int = 0) -> tuple[pn.System, dict[str, Any]]:
    """The benchmark network and the keyword arguments of an FP step on it (single sample)."""
    rng = np.random.default_rng(seed)
    net = pn.generators.square_lattice(n, n, g=(0.5e-3, 1.5e-3), seed=rng)
    net.vsource("Vin1", "n0_0", "0", dc=0.0)
    net.vsource("Vin2", f"n{n - 1}_{n - 1}", "0", dc=0.0)
    interior = rng.choice(np.arange(1, n - 1), size=(diode_pairs, 2), replace=True)
    for k, (i, j) in enumerate(interior):
        net.diode(f"D{k}f", f"n{i}_{j}", "0", is_=1e-12)
        net.diode(f"D{k}r", "0", f"n{i}_{j}", is_=1e-12)
    system = net.compile()
    kwargs = dict(outputs=[f"n0_{n - 1}", f"n{n - 1}_0"], targets=[0.2, -0.1], inputs={"v_sources": [1.0, -0.8]})
    return system, kwargs


def batched(kwargs: dict[str, Any], batch: int, seed: int = 1) -> dict[str, Any]:
    """The same step on ``batch`` random samples (inputs and targets)."""
    rng = np.random.default_rng(seed)
    return dict(kwargs, inputs={"v_sources": rng.uniform(-1, 1, (batch, 2))},
                targets=rng.uniform(-0.3, 0.3, (batch, 2)))


def timed(cases: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU time (s) of each case over ``repeat`` rounds, after one untimed warm-up round.

    The cases run interleaved, round after round, so that load from other
    processes on a shared machine affects every case alike and the ratios
    stay meaningful.
    """
    for fn in cases.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    return {name: {"wall": statistics.median(wall[name]), "cpu": statistics.median(cpu[name])} for name in cases}


def measure(n: int, diode_pairs: int, repeat: int, periods: int) -> dict[str, Any]:
    """Every figure of the table: median wall times (s), their ratios, and the CPU times."""
    system, kw = grid(n, diode_pairs)
    linear, _ = grid(n, 0)
    v_in = np.asarray(kw["inputs"]["v_sources"])
    batch = batched(kw, 64)
    settle = 1
    cases = {
        "newton": lambda: pn.solve_dc(system, v_sources=v_in),
        "fp_phasor": lambda: pn.fp_update(system, **kw),
        "fp_batch64": lambda: pn.fp_update(system, **batch),
        "linear_dc": lambda: pn.solve_dc(linear, v_sources=v_in),
        "linear_fp": lambda: pn.fp_update(linear, **kw),
        "linear_fp_batch64": lambda: pn.fp_update(linear, **batch),
        "fp_transient": lambda: pn.fp_update(system, **kw, solver="transient", periods=periods, settle=settle),
        "fp_hb": lambda: pn.fp_update(system, **kw, solver="hb"),
    }
    t = timed(cases, repeat)
    s = {name: v["wall"] for name, v in t.items()}
    return {
        "grid": f"{n}x{n}", "nodes": system.n_nodes, "resistors": len(system["resistor"]),
        "diodes": len(system["diode"]), "backend": default_backend(), "repeat": repeat,
        "newton_iterations": pn.solve_dc(system, v_sources=v_in).iterations,
        "newton_s": s["newton"], "fp_phasor_s": s["fp_phasor"], "fp_over_newton": s["fp_phasor"] / s["newton"],
        "fp_batch64_s": s["fp_batch64"], "batch64_over_1": s["fp_batch64"] / s["fp_phasor"],
        "linear_dc_s": s["linear_dc"], "linear_fp_s": s["linear_fp"],
        "linear_fp_over_dc": s["linear_fp"] / s["linear_dc"],
        "linear_fp_batch64_s": s["linear_fp_batch64"], "linear_batch64_over_1": s["linear_fp_batch64"] / s["linear_fp"],
        "fp_transient_s": s["fp_transient"], "transient_common_periods": settle + periods,
        "transient_per_period_s": s["fp_transient"] / (settle + periods),
        "transient_per_period_over_phasor": s["fp_transient"] / (settle + periods) / s["fp_phasor"],
        "fp_hb_s": s["fp_hb"], "hb_over_phasor": s["fp_hb"] / s["fp_phasor"],
        "cpu_s": {name: v["cpu"] for name, v in t.items()},
    }


ROWS = [
    ("one Newton DC solve (diode grid)", "newton_s", None, None),
    ("FP step, phasor path", "fp_phasor_s", "fp_over_newton", 1.5),
    ("FP step, batch of 64 (diode grid)", "fp_batch64_s", "batch64_over_1", 10.0),
    ("linear grid: one DC solve", "linear_dc_s", None, None),
    ("linear grid: FP step, phasor path", "linear_fp_s", "linear_fp_over_dc", 1.5),
    ("linear grid: FP step, batch of 64", "linear_fp_batch64_s", "linear_batch64_over_1", 10.0),
    ("FP by transient + lock-in, per common period", "transient_per_period_s", "transient_per_period_over_phasor",
     None),
    ("FP by harmonic balance", "fp_hb_s", "hb_over_phasor", None),
]


def table(r: dict[str, Any]) -> str:
    """The figures as a plain-text table (ratios against the row's reference; targets where set)."""
    head = (f"FP step on a {r['grid']} grid: {r['nodes']} nodes, {r['resistors']} resistors, {r['diodes']} diodes, "
            f"backend {r['backend']}, Newton {r['newton_iterations']} iterations")
    lines = [head, f"{'case':48s} {'time':>10s} {'ratio':>8s} {'target':>8s}"]
    for label, key, ratio, target in ROWS:
        rt = f"{r[ratio]:8.2f}" if ratio else " " * 8
        tg = f"{'<= ' + format(target, 'g'):>8s}" if target else " " * 8
        lines.append(f"{label:48s} {r[key] * 1e3:8.2f}ms {rt} {tg}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="grid side (default 100)")
    parser.add_argument("--diode-pairs", type=int, default=16, help="antiparallel diode pairs to ground")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats (median reported)")
    parser.add_argument("--periods", type=int, default=8, help="lock-in periods of the transient FP step")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON output file")
    args = parser.parse_args(argv)
    result = measure(args.n, args.diode_pairs, args.repeat, args.periods)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
