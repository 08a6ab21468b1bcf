"""``physnet demo``: build a diode network, solve it, and cross-check it against ngspice.

The demo grows with physnet; today it exercises the core: a layered diode
network (the deep resistive networks of analog equilibrium propagation) and
a random resistor grid are generated, solved by physnet (Newton for the
diodes), exported to SPICE, solved again by ngspice in batch mode with tight
tolerances, and compared node by node.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from physnet.errors import NgspiceError
from physnet.generators import layered, square_lattice
from physnet.netlist import Netlist
from physnet.solvers.dc import solve_dc
from physnet.spice import write_spice
from physnet.spice.run import ngspice_names, run_ngspice, validation_deck

__all__ = ["demo_networks", "run_demo"]


def demo_networks(seed: int = 0) -> dict[str, Netlist]:
    """The demo's networks: a 4-16-16-2 layered diode network and a 60×60 random grid.

    Examples
    --------
    >>> nets = demo_networks()
    >>> sorted(nets)
    ['diode network', 'grid 60x60']
    """
    deep = layered([4, 16, 16, 2], g=(1e-4, 1e-3), diodes="shunt", seed=seed)
    for k, value in enumerate((1.0, -0.5, 0.8, -1.2)):
        deep.vsource(f"Vin{k}", f"l0_{k}", "0", dc=value)
    for k in range(2):
        deep.resistor(f"Rload{k}", f"l3_{k}", "0", r=1e4)
    grid = square_lattice(60, 60, g=(0.5e-3, 1.5e-3), seed=seed)
    grid.vsource("V1", "n0_0", "0", dc=1.0)
    grid.isource("I1", "n59_59", "0", dc=1e-3)
    grid.resistor("Rgnd", "n30_30", "0", r=100.0)
    return {"diode network": deep, "grid 60x60": grid}


def _cross_check(name: str, net: Netlist, out: Path | None) -> list[str]:
    system = net.compile()
    start = time.perf_counter()
    result = solve_dc(system)
    ours = time.perf_counter() - start
    lines = [f"{name}: {system.summary()}",
             f"  physnet: {result.message}, KCL residual {result.residual:.1e} A, {ours * 1e3:.1f} ms"]
    if out is not None:
        write_spice(system, out / f"{name.replace(' ', '_')}.cir")
    try:
        run = run_ngspice(validation_deck(system, [("op",)]))
    except NgspiceError as exc:
        return lines + [f"  ngspice: not run ({exc})"]
    theirs = run.plots[0].node_voltages()
    spice_name = ngspice_names(system)
    names = [n for n in system.node_names if n != "0"]
    diff = np.array([abs(result[n] - theirs[spice_name[n]][0]) for n in names])
    worst = names[int(np.argmax(diff))]
    lines.append(f"  ngspice -b: {run.seconds * 1e3:.0f} ms; max |V_physnet - V_ngspice| = {diff.max():.2e} V "
                 f"(at {worst}) over {len(names)} nodes")
    return lines


def run_demo(out: str | Path | None = None) -> str:
    """Run the demo and return its report (also written to ``out/report.md`` when given)."""
    folder = None if out is None else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    lines = ["physnet demo — DC operating points, cross-checked against ngspice", ""]
    for name, net in demo_networks().items():
        lines += _cross_check(name, net, folder)
    report = "\n".join(lines)
    if folder is not None:
        (folder / "report.md").write_text(report + "\n")
    return report
