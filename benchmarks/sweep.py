"""Sweep machinery: parallel speed-up with 2 workers vs 1, and the overhead it adds per run.

Speed-up
    A 16-run sweep (``train.seed`` = 0..15) of a CPU-bound, single-threaded
    run: FP training of a layered resistor network (linear regression from a
    teacher, ``--epochs`` epochs, about 1-2 s per run). The same sweep with
    ``workers=1`` and ``workers=2``, each into a fresh folder, interleaved
    round by round (``--repeat`` rounds, the best round counts); target
    ``t(1) / t(2) >= 1.8``. Workers run with ``OMP_NUM_THREADS`` and friends
    at 1 (set by :func:`physnet.experiments.sweep.sweep`).
Overhead
    16 trivial runs (``epochs = 0``: build the task, evaluate once) three
    ways: direct :func:`~physnet.experiments.run.execute` calls in this
    process (no files), :func:`~physnet.experiments.run.run_config` calls
    (plus config.toml, metrics.csv, params.npz, summary.json and the atomic
    rename), both warm, and one ``sweep(workers=1)``, which runs in this
    process (plus expansion and validation, the progress bar and
    results.parquet). The per-run overhead of the sweep machinery is
    ``(t_sweep - t_direct) / 16``. Starting a pool of worker processes is a
    fixed cost per sweep (``pool_start_s``: a one-run sweep with
    ``workers=2`` beyond the run itself).

The machine may be shared: the JSON records the load average before and
after and the sum of the runs' own wall times (``wall_s``): if each run
takes longer with 2 workers than with 1 (``run_slowdown_with_2_workers``
well above 1), the second core was busy with other work, not with the
sweep machinery.

Usage::

    python benchmarks/sweep.py                 # writes benchmarks/out/sweep.json
    python benchmarks/sweep.py --epochs 50 --repeat 1    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from physnet.experiments.config import expand
from physnet.experiments.run import execute, run_config
from physnet.experiments.sweep import sweep

OUT = Path(__file__).parent / "out" / "sweep.json"
RUNS = 16


def work_config(epochs: int) -> dict[str, Any]:
    """The 16-run sweep: FP on a layered linear network, one run per training seed."""
    return {"task": {"name": "linear_regression", "sizes": [3, 8, 2], "n_train": 64, "n_test": 32},
            "rule": {"name": "fp"}, "optimizer": {"name": "adam", "lr": 2e-5},
            "hardware": {"bounds": [1e-6, 1e-2]}, "train": {"epochs": epochs, "batch_size": 16},
            "output": {"name": "bench"}, "sweep": {"train.seed": list(range(RUNS))}}


def timed_sweep(config: dict[str, Any], workers: int) -> dict[str, float]:
    """Wall time of one sweep into a fresh folder, and the sums of its runs' own wall and CPU times."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        table = sweep(config, out, workers=workers, progress=False)
        wall = time.perf_counter() - start
    if not (table["status"] == "ok").all():
        raise RuntimeError(f"benchmark runs failed: {table['error'].dropna().tolist()}")
    return {"wall_s": wall, "runs_wall_s": float(table["wall_s"].sum()), "runs_cpu_s": float(table["cpu_s"].sum())}


def speedup(epochs: int, repeat: int) -> dict[str, Any]:
    config = work_config(epochs)
    rounds = [{f"workers_{w}": timed_sweep(config, w) for w in (1, 2)} for _ in range(repeat)]
    best = {key: min(r[key]["wall_s"] for r in rounds) for key in ("workers_1", "workers_2")}
    runs = {key: min(r[key]["runs_wall_s"] for r in rounds) for key in ("workers_1", "workers_2")}
    return {"runs": RUNS, "epochs": epochs, "rounds": rounds, "best_wall_s": best,
            "speedup": best["workers_1"] / best["workers_2"], "target": 1.8,
            "mean_run_s": runs["workers_1"] / RUNS,
            # ~1 when each worker had a core to itself; ~2 when the second core was busy with other work
            "run_slowdown_with_2_workers": runs["workers_2"] / runs["workers_1"],
            # CPU time per run does not depend on the machine's load: ~1 means 2 workers add no work
            "run_cpu_ratio_2_vs_1": min(r["workers_2"]["runs_cpu_s"] for r in rounds)
            / min(r["workers_1"]["runs_cpu_s"] for r in rounds)}


def overhead() -> dict[str, Any]:
    config = work_config(0)
    points = expand(config)
    execute(points[0].config)  # warm: imports, numba compilation, data set loading
    start = time.perf_counter()
    for point in points:
        execute(point.config)
    direct = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        for point in points:
            run_config(point.config, out)
        files = time.perf_counter() - start
    in_process = timed_sweep(config, 1)["wall_s"]
    one_run_pool = timed_sweep({**config, "sweep": {"train.seed": [0]}}, 2)["wall_s"]
    return {"runs": RUNS, "direct_s": direct, "run_config_s": files, "sweep_s": in_process,
            "per_run_overhead_s": (in_process - direct) / RUNS, "per_run_files_s": (files - direct) / RUNS,
            # a one-run sweep on a 2-process pool, beyond the run itself: spawning and importing in workers
            "pool_start_s": one_run_pool - direct / RUNS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=500, help="epochs per run of the speed-up sweep")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the speed-up comparison")
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_before": load_before},
              "speedup": speedup(args.epochs, args.repeat), "overhead": overhead()}
    result["machine"]["load_after"] = os.getloadavg()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    s, o = result["speedup"], result["overhead"]
    print(f"16-run sweep ({s['mean_run_s']:.2f} s per run): 1 worker {s['best_wall_s']['workers_1']:.1f} s, "
          f"2 workers {s['best_wall_s']['workers_2']:.1f} s, speed-up {s['speedup']:.2f}x (target 1.8x); "
          f"each run {s['run_slowdown_with_2_workers']:.2f}x slower with 2 workers (1.0: a free core each), CPU time "
          f"per run {s['run_cpu_ratio_2_vs_1']:.2f}x")
    print(f"overhead per run: {1e3 * o['per_run_overhead_s']:.0f} ms (of which files and atomic rename "
          f"{1e3 * o['per_run_files_s']:.0f} ms); starting a 2-process pool {o['pool_start_s']:.2f} s once per sweep; "
          f"16 trivial runs: direct {o['direct_s']:.2f} s, run_config {o['run_config_s']:.2f} s, "
          f"sweep {o['sweep_s']:.2f} s")
    print(f"load average before {load_before[0]:.2f}, after {result['machine']['load_after'][0]:.2f} "
          f"on {os.cpu_count()} CPUs; wrote {OUT}")


if __name__ == "__main__":
    main()
