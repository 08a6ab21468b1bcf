"""physnet vs ngspice, side by side in one run: a two-tone transient and the ibmpg1 power grid.

**Two-tone diode grid.** A 30×30 resistor grid (1 kΩ edges) with a 10 nF
capacitor and a 10 kΩ leak to ground at every node, 4 diodes to ground (IS = 0.1 nA)
each biased by 2 mA, and two SIN current sources into two of the diode
nodes, 50 µA at f_A = 1 kHz and 5 µA at f_B = 7.3 kHz, run for 20 ms. The quantity compared is what frequency
propagation reads: the demodulated amplitudes (lock-in over the last 10 ms =
10 and 73 periods) of the tones at a set of probe nodes. The accuracy
reference is harmonic balance converged at f0 = 100 Hz with 160 harmonics;
each method's error is ``max |X - X_ref| / max |X_ref|`` over both tones.

* ngspice ``.tran`` with its step capped at T_B/400 (its default tolerances),
  waveforms resampled (cubic spline) onto a uniform grid and demodulated with
  physnet's lock-in;
* physnet transient (trapezoidal, fixed step) at T_B/25 ... T_B/400, each
  timed; the report names the coarsest step within 1e-4 (the accuracy
  ngspice is run for) and the coarsest within ngspice's own error;
* physnet harmonic balance at the same settings as the reference but fewer
  harmonics (K = 80), timed;
* physnet phasor path: DC operating point + one complex solve per tone (the
  small-signal answer; its error is the nonlinearity it neglects).

**ibmpg1.** ``read_spice`` + ``solve_dc`` vs ``ngspice -b`` on the same file,
end to end (physnet's first read of a netlist this size in the process, and
the median of 5 more), and the largest node difference.

Usage::

    python benchmarks/ngspice_compare.py           # full run (ngspice takes ~100 s)
    python benchmarks/ngspice_compare.py --quick   # skips the long ngspice transient

Writes ``benchmarks/out/ngspice_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import physnet as pn
from physnet.solvers.harmonic_balance import solve_hb
from physnet.solvers.lockin import lockin
from physnet.solvers.phasor import solve_ac
from physnet.solvers.transient import solve_transient
from physnet.spice.run import ngspice_names, run_ngspice, validation_deck

HERE = Path(__file__).parent
IBMPG1 = HERE.parent / "tests" / "data" / "ibmpg" / "ibmpg1.spice"
F_A, F_B, F0, STOP, WINDOW = 1e3, 7.3e3, 100.0, 20e-3, 10e-3
N = 30
AMP_A, AMP_B = 50e-6, 5e-6
DIODE_NODES = ("n10_10", "n10_20", "n20_10", "n20_20")
TONE_A, TONE_B = DIODE_NODES[0], DIODE_NODES[3]
PROBES = (*DIODE_NODES, "n0_0", "n15_15", "n29_29", "n0_29", "n29_0", "n7_22", "n12_12", "n18_18")


def two_tone_grid() -> pn.System:
    net = pn.generators.square_lattice(N, N, g=1e-3)
    nodes = [f"n{i}_{j}" for i in range(N) for j in range(N)]
    net.add_many("capacitor", [f"C{k}" for k in range(len(nodes))], nodes, ["0"] * len(nodes), c=10e-9)
    net.resistors([f"RL{k}" for k in range(len(nodes))], nodes, ["0"] * len(nodes), r=10e3)
    for k, node in enumerate(DIODE_NODES):
        net.diode(f"D{k}", node, "0", is_=1e-10)
        net.isource(f"IBIAS{k}", "0", node, dc=2e-3)
    net.isource("IA", "0", TONE_A, sin=(0.0, AMP_A, F_A))
    net.isource("IB", "0", TONE_B, sin=(0.0, AMP_B, F_B))
    return net.compile()


def probe_index(system: pn.System) -> list[int]:
    return [system.node_index(n) for n in PROBES]


def demodulate(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Tone phasors (2, n_probes) over the last WINDOW seconds."""
    return lockin(v, t, [F_A, F_B], window=WINDOW)


def error(X: np.ndarray, ref: np.ndarray) -> float:
    return float(max(np.max(np.abs(X[i] - ref[i])) / np.max(np.abs(ref[i])) for i in range(2)))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run_hb(system: pn.System, K: int):
    hb = solve_hb(system, F0, K)
    idx = probe_index(system)
    return np.stack([hb.V[round(F_A / F0), idx], hb.V[round(F_B / F0), idx]])


def run_phasor(system: pn.System):
    op = pn.solve_dc(system)
    inj = np.zeros((2, system.n_nodes), dtype=complex)
    inj[0, system.node_index(TONE_A)] = -1j * AMP_A  # A sin(ωt) is the phasor -jA
    inj[1, system.node_index(TONE_B)] = -1j * AMP_B
    ac = solve_ac(system, [F_A, F_B], operating_point=op, injections=inj, sources=False)
    return ac.v[:, probe_index(system)]


def run_transient(system: pn.System, divisions: int):
    res = solve_transient(system, 1.0 / (F_B * divisions), STOP, record=list(PROBES))
    return demodulate(res.t, res.v)


def run_ngspice_transient(system: pn.System, divisions: int) -> tuple[np.ndarray, float]:
    from scipy.interpolate import CubicSpline

    step = 1.0 / (F_B * divisions)
    names = ngspice_names(system)
    save = ".save " + " ".join(f"v({names[n]})" for n in PROBES)
    run = run_ngspice(validation_deck(system, [("tran", step, STOP, 0.0, step)], options=save), timeout=1800)
    plot = run.plots[0]
    t = np.linspace(0.0, STOP, round(STOP / step) + 1)
    v = CubicSpline(plot["time"].real, np.stack([plot[f"v({names[n]})"].real for n in PROBES], axis=1))(t)
    return demodulate(t, v), run.seconds


def two_tone(quick: bool) -> dict:
    system = two_tone_grid()
    run_transient(system, 10)  # warm-up: numba caches, imports
    ref, t_ref = timed(run_hb, system, 160)
    rows = {}
    hb, t_hb = timed(run_hb, system, 80)
    rows["physnet harmonic balance (K=80)"] = {"seconds": t_hb, "error": error(hb, ref)}
    phasor, t_ph = timed(run_phasor, system)
    rows["physnet phasor (small signal)"] = {"seconds": t_ph, "error": error(phasor, ref)}
    spice_error = None
    if not quick:
        spice, t_spice = run_ngspice_transient(system, 400)
        spice_error = error(spice, ref)
        rows["ngspice .tran (step T_B/400)"] = {"seconds": t_spice, "error": spice_error}
    for divisions in (25, 50, 100, 200, 400):
        X, seconds = timed(run_transient, system, divisions)
        rows[f"physnet transient (step T_B/{divisions})"] = {"seconds": seconds, "error": error(X, ref)}
    baseline = rows.get("ngspice .tran (step T_B/400)", {}).get("seconds")
    for row in rows.values():
        row["speedup_vs_ngspice"] = baseline / row["seconds"] if baseline else None
    return {"network": system.summary(), "reference": "harmonic balance, f0 = 100 Hz, K = 160",
            "reference_seconds": t_ref, "ngspice_error": spice_error,
            "transient_within_1e-4": coarsest(rows, 1e-4),
            "transient_within_ngspice_error": coarsest(rows, spice_error) if spice_error else None,
            "rows": rows}


def coarsest(rows: dict, tolerance: float) -> str | None:
    """The first (coarsest-step) physnet transient row whose error is within ``tolerance``."""
    return next((name for name, row in rows.items()
                 if name.startswith("physnet transient") and row["error"] <= tolerance), None)


def ibmpg1(repeat: int = 5) -> dict:
    """Read + solve once as a fresh process's first netlist of this size would (the reader's Arrow path
    and its kernel load on first use), then ``repeat`` more times warm; ngspice once."""
    times = []
    for _ in range(1 + repeat):
        start = time.perf_counter()
        system = pn.read_spice(IBMPG1).compile()
        op = pn.solve_dc(system)
        times.append(time.perf_counter() - start)
    t_physnet, t_warm = times[0], float(np.median(times[1:]))
    start = time.perf_counter()
    run = run_ngspice(IBMPG1.read_text(), timeout=1800)  # the file as published (read_spice accepted it above)
    t_spice = time.perf_counter() - start
    voltages = run.plots[0].node_voltages()
    names = [n for n in system.node_names if n != "0"]
    diff = max(abs(float(op[n]) - float(voltages[n.lower()][0])) for n in names)
    return {"nodes": len(names), "physnet_seconds": t_physnet, "physnet_warm_seconds": t_warm,
            "ngspice_seconds": t_spice, "speedup": t_spice / t_physnet, "speedup_warm": t_spice / t_warm,
            "max_abs_difference_V": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the ~100 s ngspice transient")
    args = parser.parse_args()
    tones = two_tone(args.quick)
    grid = ibmpg1()
    print(f"Two-tone transient: {tones['network']}; reference {tones['reference']} "
          f"({tones['reference_seconds']:.2f} s)")
    print(f"{'method':42s}{'seconds':>12s}{'error':>12s}{'vs ngspice':>12s}")
    for name, row in tones["rows"].items():
        speed = f"{row['speedup_vs_ngspice']:.0f}x" if row["speedup_vs_ngspice"] else "-"
        print(f"{name:42s}{row['seconds']:12.4f}{row['error']:12.2e}{speed:>12s}")
    print(f"physnet transient within 1e-4: {tones['transient_within_1e-4']}; within ngspice's own error "
          f"({tones['ngspice_error'] or float('nan'):.2e}): {tones['transient_within_ngspice_error']}")
    print(f"ibmpg1 ({grid['nodes']} nodes) read + solve: physnet {grid['physnet_seconds']:.3f} s first, "
          f"{grid['physnet_warm_seconds']:.3f} s warm (median of 5); ngspice {grid['ngspice_seconds']:.2f} s "
          f"({grid['speedup']:.1f}x, {grid['speedup_warm']:.0f}x warm); max |dV| = {grid['max_abs_difference_V']:.2e} V")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    payload = {"two_tone": tones, "ibmpg1": grid, "quick": args.quick, "machine": platform.platform(),
               "load_average": os.getloadavg()}
    (out / "ngspice_compare.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
