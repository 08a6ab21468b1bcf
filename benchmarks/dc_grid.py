"""DC solve of random n×n resistor grids: physnet vs scipy spsolve vs ngspice, side by side.

Every case runs in a fresh subprocess (so peak memory is per case). For each
grid size the same netlist text is

* parsed and solved by physnet (``read_spice`` + ``solve_dc``: the
  end-to-end figure compared with ngspice),
* solved by physnet from an already built System (``solve_dc`` cold:
  source reduction, pattern, symbolic analysis, numeric factorization),
* solved by a plain ``scipy.sparse.linalg.spsolve`` on a Laplacian built
  from the same arrays (the baseline),
* run through ``ngspice -b -r out.raw`` with ``.op`` (sizes up to
  ``--ngspice-max``), and the node voltages of all three are compared.

Usage::

    python benchmarks/dc_grid.py                 # the figures in benchmarks/README.md
    python benchmarks/dc_grid.py --sizes 30 60   # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


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


def _time(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_case(n: int, with_ngspice: bool) -> dict:
    """Measure one grid size (called in a subprocess)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    import physnet as pn
    from physnet.solvers.linear import default_backend
    from physnet.spice import read_spice
    from physnet.spice.run import run_ngspice

    warm = Path(tempfile.mkdtemp()) / "warm.cir"
    warm.write_text(grid_netlist(3))
    pn.solve_dc(read_spice(warm))  # load numba kernels from the on-disk cache

    text = grid_netlist(n)
    path = Path(tempfile.mkdtemp()) / f"grid{n}.cir"
    path.write_text(text)
    repeat = 3 if n <= 300 else 1
    t_e2e, result = _time(lambda: pn.solve_dc(read_spice(path)), repeat)
    t_parse, netlist = _time(lambda: read_spice(path), repeat)
    system = netlist.compile()
    # A fresh copy of the System has an empty factorization cache: the full cold cost.
    t_solve, _ = _time(lambda: pn.solve_dc(dataclasses.replace(system)), repeat)
    t_warm, _ = _time(lambda: pn.solve_dc(system), repeat)  # factorization cache warm: numeric only

    # Plain scipy baseline from the same arrays (ground and the source node eliminated by hand).
    res, vs = system["resistor"], system["vsource"]
    fixed = np.zeros(system.n_nodes, bool)
    fixed[0] = True
    fixed[vs.a[0]] = True
    v_fixed = np.zeros(system.n_nodes)
    v_fixed[vs.a[0]] = vs["dc"][0]

    def baseline():
        m = len(res)
        B = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[res.a, res.b], np.r_[np.arange(m), np.arange(m)])),
                          shape=(system.n_nodes, m))
        L = (B @ sp.diags(res["g"]) @ B.T).tocsr()
        free = ~fixed
        x = spsolve(L[free][:, free].tocsc(), -(L[free][:, fixed] @ v_fixed[fixed]))
        v = v_fixed.copy()
        v[free] = x
        return v

    t_scipy, v_scipy = _time(baseline, repeat)
    out = {
        "n": n, "nodes": system.n_nodes - 1, "resistors": len(res), "backend": default_backend(),
        "physnet_parse_solve_s": t_e2e, "physnet_parse_s": t_parse, "physnet_solve_cold_s": t_solve,
        "physnet_solve_warm_s": t_warm, "scipy_spsolve_s": t_scipy,
        "max_dv_vs_scipy": float(np.max(np.abs(result.v - v_scipy))),
    }
    if with_ngspice:
        run = run_ngspice(text, timeout=3600)
        volts = run.plots[0].node_voltages()
        ours = {name: result.v[i] for i, name in enumerate(system.node_names) if name != "0"}
        out["ngspice_s"] = run.seconds
        out["max_dv_vs_ngspice"] = float(max(abs(ours[k] - volts[k][0]) for k in ours))
        out["speedup_vs_ngspice"] = run.seconds / t_e2e
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[30, 60, 100, 200, 316, 600, 1000])
    parser.add_argument("--ngspice-max", type=int, default=100, help="largest n also run in ngspice")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.case <= args.ngspice_max)))
        return
    rows = []
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--case", str(n), "--ngspice-max", str(args.ngspice_max)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(_row(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    big = [r for r in rows if r["nodes"] >= 9000]
    if len(big) >= 2:
        x = np.log([r["nodes"] for r in big])
        y = np.log([r["physnet_solve_cold_s"] for r in big])
        print(f"scaling exponent of the cold solve from {big[0]['nodes']} to {big[-1]['nodes']} nodes: "
              f"{np.polyfit(x, y, 1)[0]:.2f}")


def _row(r: dict) -> str:
    text = (f"n={r['n']:5d} nodes={r['nodes']:8d} [{r['backend']}] parse+solve {r['physnet_parse_solve_s'] * 1e3:9.2f} ms"
            f" | solve cold {r['physnet_solve_cold_s'] * 1e3:9.2f} ms warm {r['physnet_solve_warm_s'] * 1e3:9.2f} ms"
            f" | scipy spsolve {r['scipy_spsolve_s'] * 1e3:9.2f} ms | peak RSS {r['peak_rss_mb']:7.0f} MB"
            f" | max|dv| vs scipy {r['max_dv_vs_scipy']:.1e}")
    if "ngspice_s" in r:
        text += (f" | ngspice {r['ngspice_s'] * 1e3:9.1f} ms ({r['speedup_vs_ngspice']:.0f}x), "
                 f"max|dv| {r['max_dv_vs_ngspice']:.1e}")
    return text


if __name__ == "__main__":
    main()
