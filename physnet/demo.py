"""``physnet demo``, the main job: train a diode network by frequency propagation, compare, cross-check.

1. **Train.** Iris (150 flowers, 4 features) classified by the output
   voltages of a layered network with a hidden layer of shunt diodes. The
   same network, data, optimizer (Adam) and hardware bounds are trained by
   four rules side by side: frequency propagation (``fp``), equilibrium
   propagation (``ep``), coupled learning (``coupled``) and the exact
   gradient (``adjoint``). The runs go through the experiment machinery
   (:func:`physnet.experiments.sweep`, two worker processes, resumable).
2. **Cross-check.** The FP-trained network is frozen
   (:meth:`physnet.System.with_values`) and every test flower is solved
   again by ngspice (:func:`physnet.check`): node voltages must agree, and
   ngspice's classification must equal physnet's.
3. **Report.** Learning curves, accuracy per rule, the trained conductances
   on the network and the FP signal spectrum at an edge
   (:func:`physnet.experiments.report`), plus ``report.md``.

``quick=True`` (``physnet demo --quick``) trains a few epochs and checks a
few flowers: the same path in seconds, for tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from physnet.experiments.config import expand
from physnet.experiments.report import markdown_table, report
from physnet.experiments.run import build_task
from physnet.experiments.sweep import sweep
from physnet.spice.check import check
from physnet.system import System
from physnet.tasks import Task

__all__ = ["RULES", "demo_config", "cross_check", "run_demo"]

RULES = ("fp", "ep", "coupled", "adjoint")
"""The rules the demo trains side by side (frequency propagation first)."""


def demo_config(*, quick: bool = False) -> dict[str, Any]:
    """The demo's experiment: Iris on a diode network, one run per rule in :data:`RULES`.

    Examples
    --------
    >>> from physnet.experiments import expand
    >>> [p.config["rule"]["name"] for p in expand(demo_config(quick=True))]
    ['fp', 'ep', 'coupled', 'adjoint']
    """
    return {
        "task": {"name": "iris", "hidden": [8], "test_size": 0.3, "seed": 0},
        "rule": {"name": "fp"},
        "optimizer": {"name": "adam", "lr": 5e-5},
        "hardware": {"bounds": [1e-6, 1e-2]},
        "train": {"epochs": 2 if quick else 30, "batch_size": 16, "seed": 0},
        "output": {"name": "demo"},
        # A nudge small against the network's currents (conductances 0.1-1 mS): EP's bias is O(β).
        "sweep": {"rule": [{"name": "fp", "beta": 1e-5}, {"name": "ep", "beta": 1e-5},
                           {"name": "coupled", "eta": 1e-3}, {"name": "adjoint"}]},
    }


def _trained_system(config: dict[str, Any], folder: Path) -> tuple[System, Task]:
    """The run's task and its network with the trained (device) conductances frozen in."""
    task = build_task(config)
    params = np.load(folder / "params.npz")
    table = task.network["resistor"]
    g = np.array(table["g"])
    g[[table.index(name) for name in params["edges"]]] = params["g_device"]
    return task.network.with_values("resistor", g=g), task


def cross_check(system: System, task: Task, samples: int | None = None) -> dict[str, Any]:
    """Solve test samples of a trained network in physnet and in ngspice; compare voltages and classes.

    Parameters
    ----------
    system : System
        The trained network (its sources are set to each sample in turn).
    task : Task
        Supplies the test inputs, output nodes and labels.
    samples : int, optional
        Check only the first ``samples`` test samples.

    Returns
    -------
    dict
        ``samples``, ``max_abs`` (V, over all nodes and samples), ``within_tolerance``,
        ``accuracy_physnet``, ``accuracy_ngspice``, ``same_classes``, ``ngspice_s``.

    Examples
    --------
    >>> import physnet as pn
    >>> from physnet.tasks import xor
    >>> task = xor(0, hidden=2)
    >>> result = cross_check(task.network, task, samples=2)
    >>> result["samples"], result["max_abs"] < 1e-9, result["same_classes"]
    (2, True, True)
    """
    x = task.x_test[:samples]
    ours, theirs, gaps, seconds, agree = [], [], [], 0.0, True
    for row in tqdm(x, desc="ngspice cross-check", unit="sample", leave=False):
        result = check(system.with_values("vsource", dc=row), "op")
        outputs = [result.nodes.index(name) for name in task.outputs]
        gaps.append(result.max_abs)
        seconds += result.seconds["ngspice"]
        agree &= result.ok
        ours.append(result.physnet[0, outputs])
        theirs.append(result.ngspice[0, outputs])
    ours_cls, theirs_cls = np.argmax(ours, axis=1), np.argmax(theirs, axis=1)
    labels = np.asarray(task.test_labels)[: len(x)]
    return {"samples": len(x), "max_abs": float(max(gaps)), "within_tolerance": agree,
            "accuracy_physnet": float(np.mean(ours_cls == labels)),
            "accuracy_ngspice": float(np.mean(theirs_cls == labels)),
            "same_classes": bool(np.array_equal(ours_cls, theirs_cls)), "ngspice_s": seconds}


def _results_rows(table: Any) -> list[list[Any]]:
    rows = []
    for rule in RULES:
        row = table[table["rule.name"] == rule].iloc[0]
        rows.append([rule, row["status"], _pct(row["test_accuracy"]), _pct(row["train_accuracy"]),
                     f"{row['test_loss']:.4g}", int(row["steps"]), f"{row['wall_s']:.1f}"])
    return rows


def _pct(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.1f} %"


def _accuracy_of(table: Any, rule: str) -> NDArray:
    return table.loc[table["rule.name"] == rule, "test_accuracy"].to_numpy()


def run_demo(out: str | Path | None = None, *, quick: bool = False, workers: int = 2) -> str:
    """Train, compare, cross-check and report; return the Markdown report (also ``out/report.md``).

    Parameters
    ----------
    out : str or Path, optional
        Output folder (default ``physnet-demo``): run folders, ``results.parquet``,
        PNG plots, ``summary.md``, ``cross_check.json``, ``report.md``.
    quick : bool, optional
        A few epochs and samples only.
    workers : int, optional
        Worker processes for the four training runs.
    """
    folder = Path(out if out is not None else "physnet-demo")
    config = demo_config(quick=quick)
    table = sweep(config, folder, workers=workers)
    figures = report(folder)
    fp_point = next(p for p in expand(config) if p.config["rule"]["name"] == "fp")
    system, task = _trained_system(fp_point.config, folder / fp_point.run_id)
    checked = cross_check(system, task, samples=3 if quick else None)
    (folder / "cross_check.json").write_text(json.dumps(checked, indent=2) + "\n")
    lines = [
        "# physnet demo: frequency propagation on a diode network",
        "",
        f"Iris, {len(task.x_train)} training / {len(task.x_test)} test flowers; network: "
        f"{task.network.summary()}. Adam, {config['train']['epochs']} epochs, mini-batches of "
        f"{config['train']['batch_size']}, conductances bounded to [1 µS, 10 mS].",
        "",
        markdown_table(["rule", "status", "test acc.", "train acc.", "test loss", "steps", "wall (s)"],
                       _results_rows(table)),
        "",
        f"FP test accuracy {_pct(_accuracy_of(table, 'fp')[0])} vs exact gradient "
        f"{_pct(_accuracy_of(table, 'adjoint')[0])}.",
        "",
        f"ngspice cross-check of the FP-trained network on {checked['samples']} test flowers: "
        f"max |V_physnet - V_ngspice| = {checked['max_abs']:.2e} V; classes "
        f"{'identical' if checked['same_classes'] else 'DIFFER'} (accuracy {_pct(checked['accuracy_physnet'])} "
        f"physnet, {_pct(checked['accuracy_ngspice'])} ngspice; ngspice time {checked['ngspice_s']:.2f} s).",
        "",
        "Files: " + ", ".join(sorted(p.name for p in figures)),
    ]
    text = "\n".join(lines)
    (folder / "report.md").write_text(text + "\n")
    return text
