"""DC solve of random n×n resistor grids: physnet vs scipy spsolve vs ngspice, side by side.

Every grid size runs in a fresh subprocess (so its peak memory is its own;
the netlist file is written by another one), which first warms physnet up on a
60×60 grid (imports, numba's on-disk cache, cvxopt, pyarrow's CSV reader), as a user's session would
be. Then, on that netlist file:

* **parse + solve**: ``read_spice`` + ``solve_dc``, the figure compared with
  ngspice; each repeat reads the file anew, so every repeat builds its System,
  source reduction, pattern and symbolic factorization from scratch;
* **stages** of that run, each timed on its own: ``parse`` (read_spice),
  ``compile`` (Netlist -> System), ``reduce`` (source elimination and the
  floating-node check), ``pattern`` (CSC structure and edge slots),
  ``assemble`` (scatter of the conductances), ``factor`` (CHOLMOD symbolic +
  numeric, of which ``refactor`` is the numeric part a training step pays)
  and ``backsolve``;
* **scipy**: a plain ``scipy.sparse.linalg.spsolve`` on a Laplacian built from
  the same arrays (the baseline for the solve);
* **ngspice**: ``ngspice -b -r out.raw`` with ``.op`` on the same text (sizes
  up to ``--ngspice-max``; ``--ngspice-runs`` runs, each followed by an equal
  share of physnet's parse + solve repeats, so that both sides see the same
  drifts of the machine), whose node voltages are compared with physnet's.

Figures are means over repeats (min alongside); the machine's load average is
recorded, since timings on a shared machine are noisy. The scaling exponent is
the slope of log(time) against log(nodes) from 10⁴ nodes up.

Usage::

    python benchmarks/dc_grid.py                  # all sizes, writes benchmarks/out/dc_grid.json
    python benchmarks/dc_grid.py --sizes 30 100   # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out" / "dc_grid.json"
STAGES = ("parse", "compile", "reduce", "pattern", "assemble", "factor", "backsolve")
EXTRA = ("refactor", "solve")  # the numeric part of "factor"; solve_dc on a new System (all stages after compile)


def grid_netlist(n: int, seed: int = 0) -> str:
    """SPICE text of an n×n grid with conductances uniform in [0.5, 1.5] mS, 1 V at one corner."""
    rng = np.random.default_rng(seed)
    lines = [f"random {n}x{n} resistor grid (seed {seed})"]
    k = 0
    names = [[f"n{i}_{j}" for j in range(n)] for i in range(n)]
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < n and j + dj < n:
                    k += 1
                    lines.append(f"R{k} {names[i][j]} {names[i + di][j + dj]} {1.0 / rng.uniform(0.5e-3, 1.5e-3)!r}")
    lines += [f"V1 {names[0][0]} 0 1", f"RL {names[n - 1][n - 1]} 0 1000", ".op", ".end", ""]
    return "\n".join(lines)


def _timed(fn, repeat: int) -> tuple[list[float], object]:
    """Wall times of ``repeat`` calls of ``fn`` and its last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def _summary(times: list[float]) -> dict[str, float]:
    return {"mean_s": float(np.mean(times)), "min_s": float(np.min(times)), "repeats": len(times),
            "all_s": [float(t) for t in times]}


def _stages(path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Each stage of parse + solve timed on its own, on fresh objects every repeat."""
    import physnet as pn
    from physnet.assembly import build_pattern, scatter
    from physnet.reduction import reduce_sources
    from physnet.solvers.linear import Factorizer
    from physnet.spice import read_spice
    from physnet.system import Topology

    times: dict[str, list[float]] = {name: [] for name in (*STAGES, *EXTRA)}

    def clock(name, fn):
        start = time.perf_counter()
        out = fn()
        times[name].append(time.perf_counter() - start)
        return out

    for _ in range(repeat):
        netlist = clock("parse", lambda: read_spice(path))
        system = clock("compile", netlist.compile)
        reduction = clock("reduce", lambda: reduce_sources(system))
        pattern = clock("pattern", lambda: build_pattern(system, reduction))
        g = np.array(system["resistor"]["g"])
        data = clock("assemble", lambda: scatter(pattern.slots, g, pattern.nnz))
        factorizer = Factorizer(pattern.indptr, pattern.indices, pattern.n)
        clock("factor", lambda: factorizer.factor(data))
        factor = clock("refactor", lambda: factorizer.factor(data))
        rhs = np.ones(pattern.n)
        clock("backsolve", lambda: factor.solve(rhs))
        fresh = dataclasses.replace(system, topology=Topology())  # a new topology: no cached operator or analysis
        clock("solve", lambda: pn.solve_dc(fresh))
    return {name: _summary(t) for name, t in times.items()}


def _scipy_baseline(system) -> tuple[float, np.ndarray]:
    """Laplacian from the System's arrays, ground and the source node eliminated by hand, then spsolve."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    res, vs = system["resistor"], system["vsource"]
    fixed = np.zeros(system.n_nodes, bool)
    fixed[[0, vs.a[0]]] = True
    v_fixed = np.zeros(system.n_nodes)
    v_fixed[vs.a[0]] = vs["dc"][0]
    start = time.perf_counter()
    m = len(res)
    B = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[res.a, res.b], np.r_[np.arange(m), np.arange(m)])),
                      shape=(system.n_nodes, m))
    L = (B @ sp.diags(res["g"]) @ B.T).tocsr()
    free = ~fixed
    x = spsolve(L[free][:, free].tocsc(), -(L[free][:, fixed] @ v_fixed[fixed]))
    seconds = time.perf_counter() - start
    v = v_fixed.copy()
    v[free] = x
    return seconds, v


def run_case(path: Path, repeat: int, with_ngspice: bool, with_scipy: bool, ngspice_runs: int = 3) -> dict:
    """Measure one netlist file (runs in a subprocess of its own)."""
    import physnet as pn
    from physnet.solvers.linear import default_backend
    from physnet.spice import read_spice

    warm = Path(tempfile.mkdtemp(prefix="physnet-bench-")) / "warm.cir"
    warm.write_text(grid_netlist(60))  # 7080 cards: the reader's large-block path (pyarrow) too
    pn.solve_dc(read_spice(warm))  # imports, numba's on-disk cache, cvxopt, pyarrow's CSV reader
    rss_warm_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # With ngspice, its runs are interleaved with physnet's repeats (rounds of one ngspice run and
    # repeat / ngspice_runs physnet runs), so that both see the same drifts of this shared machine.
    rounds = ngspice_runs if with_ngspice else 1
    e2e, result, spice_runs, per_round = [], None, [], []
    for _ in range(rounds):
        if with_ngspice:
            from physnet.spice.run import run_ngspice

            spice_runs.append(run_ngspice(path.read_text(), timeout=3600))
        times, result = _timed(lambda: pn.solve_dc(read_spice(path)), max(1, repeat // rounds))
        e2e += times
        per_round.append(float(np.mean(times)))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # parse + solve only, so far
    system = read_spice(path).compile()
    out = {
        "nodes": system.n_nodes - 1, "resistors": len(system["resistor"]), "backend": default_backend(),
        "parse_solve": _summary(e2e), "first_parse_solve_s": e2e[0], "peak_rss_mb": peak_rss_mb,
        "rss_after_warmup_mb": rss_warm_mb, "stages": _stages(path, repeat),
    }
    if with_scipy:
        seconds, v_scipy = _scipy_baseline(system)
        out["scipy_spsolve_s"] = seconds
        out["max_dv_vs_scipy"] = float(np.max(np.abs(result.v - v_scipy)))
        out["scipy_over_physnet_solve"] = seconds / out["stages"]["solve"]["mean_s"]
    if with_ngspice:
        ours = dict(zip(system.node_names, result.v))
        seconds = [run.seconds for run in spice_runs]
        out["ngspice_s"] = float(np.mean(seconds))
        out["ngspice_runs_s"] = seconds
        out["max_dv_vs_ngspice"] = max(
            float(max(abs(ours[name] - volts[name][0]) for name in ours if name != "0"))
            for volts in (run.plots[0].node_voltages() for run in spice_runs))
        out["ngspice_over_physnet"] = out["ngspice_s"] / out["parse_solve"]["mean_s"]
        # Each round's ngspice run over the physnet repeats right after it: how far the ratio moves with the machine.
        out["ngspice_over_physnet_rounds"] = [spice / ours for spice, ours in zip(seconds, per_round)]
    return out


def _fit(rows: list[dict], key) -> float | None:
    """Slope of log(time) against log(nodes) over the sizes with at least 10⁴ nodes."""
    big = [r for r in rows if r["nodes"] >= 9000]
    if len(big) < 2:
        return None
    return float(np.polyfit(np.log([r["nodes"] for r in big]), np.log([key(r) for r in big]), 1)[0])


def _row(r: dict) -> str:
    """One size's figures on one line."""
    ms = {name: r["stages"][name]["mean_s"] * 1e3 for name in (*STAGES, *EXTRA)}
    stages = " + ".join(f"{k} {ms[k]:.2f}" for k in STAGES)
    text = (f"n={r['n']:4d} nodes={r['nodes']:7d} [{r['backend']}] "
            f"parse+solve {r['parse_solve']['mean_s'] * 1e3:.2f} ms (first {r['first_parse_solve_s'] * 1e3:.2f}; "
            f"stages: {stages}; refactor {ms['refactor']:.2f}; solve_dc {ms['solve']:.2f}) "
            f"| peak RSS {r['peak_rss_mb']:.0f} MB")
    if "scipy_spsolve_s" in r:
        text += (f" | scipy spsolve {r['scipy_spsolve_s'] * 1e3:.1f} ms ({r['scipy_over_physnet_solve']:.1f}x"
                 f" physnet's solve_dc), max|dv| {r['max_dv_vs_scipy']:.1e}")
    if "ngspice_s" in r:
        text += (f" | ngspice {r['ngspice_s'] * 1e3:.0f} ms (mean of {len(r['ngspice_runs_s'])}; "
                 f"{r['ngspice_over_physnet']:.0f}x; rounds "
                 f"{', '.join(f'{x:.0f}x' for x in r['ngspice_over_physnet_rounds'])}), "
                 f"max|dv| {r['max_dv_vs_ngspice']:.1e}")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[30, 100, 200, 316, 600, 1000])
    parser.add_argument("--repeat", type=int, default=12, help="repeats per size up to 316 (larger: --repeat-big)")
    parser.add_argument("--repeat-big", type=int, default=3)
    parser.add_argument("--ngspice-max", type=int, default=100, help="largest n also run in ngspice")
    parser.add_argument("--ngspice-runs", type=int, default=3, help="ngspice runs per size, between physnet's")
    parser.add_argument("--scipy-max", type=int, default=1000, help="largest n also solved by scipy spsolve")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON file to write")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--write", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write is not None:
        args.file.write_text(grid_netlist(args.write))
        return
    if args.case is not None:
        n = args.case
        repeat = args.repeat if n <= 316 else args.repeat_big
        print(json.dumps({"n": n, **run_case(args.file, repeat, n <= args.ngspice_max, n <= args.scipy_max,
                                             args.ngspice_runs)}))
        return
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="physnet-bench-"))
    rows = []
    for n in args.sizes:
        path = folder / f"grid{n}.cir"
        # Written by a process of its own: a child inherits its parent's peak RSS, which must stay small.
        subprocess.run([sys.executable, __file__, "--write", str(n), "--file", str(path)], check=True)
        command = [sys.executable, __file__, "--case", str(n), "--file", str(path), "--repeat", str(args.repeat),
                   "--repeat-big", str(args.repeat_big), "--ngspice-max", str(args.ngspice_max),
                   "--scipy-max", str(args.scipy_max), "--ngspice-runs", str(args.ngspice_runs)]
        proc = subprocess.run(command, capture_output=True, text=True, check=True)
        path.unlink()
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(_row(rows[-1]), flush=True)
    fits = {"parse_solve": _fit(rows, lambda r: r["parse_solve"]["mean_s"]),
            "solve": _fit(rows, lambda r: r["stages"]["solve"]["mean_s"]),
            "factor": _fit(rows, lambda r: r["stages"]["factor"]["mean_s"])}
    if fits["parse_solve"] is not None:
        print("scaling exponents from 10^4 nodes up: " + ", ".join(f"{k} {v:.2f}" for k, v in fits.items()))
    report = {
        "benchmark": "dc_grid", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "scaling_exponents": fits, "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
