"""Reproductions of issue 6: Werfel et al. 2005, Anisetti et al. 2023, and the rules side by side on XOR and Iris.

* **Werfel, Xie & Seung 2005** (linear perceptron, :mod:`physnet.learning.perceptron`):
  the largest stable learning rate of node perturbation falls as
  ``1/M`` (``M`` output nodes perturbed) and that of weight perturbation
  as ``1/(N M)`` (the number of weights): log–log slopes against the
  noise dimension; and at small rates the mean learning curves of the
  exact gradient, NP and WP coincide (their relative difference shrinks in
  proportion to the rate).
* **Anisetti, Scellier & Schwarz 2023**: Iris in a linear flow network
  trained by chemical error signalling (:func:`physnet.learning.flow.chemical_update`),
  mean ± std of the test accuracy over seeds, with the squared error of
  :func:`physnet.tasks.flow_iris` and with a softmax cross-entropy on the
  output pressures.
* **FP on XOR and Iris, and the other rules side by side** (same task,
  network, optimizer and hardware bounds; only the rule changes): final
  train / test accuracy, loss, steps and wall time.

The test suite (``tests/test_reproductions.py``) runs cheap configurations
of these same functions. Usage::

    python benchmarks/reproductions.py            # everything, writes benchmarks/out/reproductions.json
    python benchmarks/reproductions.py --only werfel flow
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from physnet.hardware import Bounds, Hardware
from physnet.learning.costs import SQUARED_ERROR, Cost, SoftmaxCrossEntropy
from physnet.learning.flow import chemical_update
from physnet.learning.optimizers import Adam
from physnet.learning.perceptron import METHODS, learning_curves, max_stable_rate, noise_dimension, stability_bound
from physnet.learning.rules import make_rule
from physnet.learning.train import train
from physnet.solvers.dc import solve_dc
from physnet.tasks import Task, flow_iris, make_task

OUT = Path(__file__).parent / "out" / "reproductions.json"


# ----------------------------------------------------------------- Werfel et al. 2005
def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Examples
    --------
    >>> round(loglog_slope([1, 2, 4], [8, 4, 2]), 12)
    -1.0
    """
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def werfel_scaling(method: str, shapes: Sequence[tuple[int, int]], *, steps: int = 400, runs: int = 32,
                   rates: Sequence[float] = tuple(np.geomspace(1e-3, 10.0, 41)), seed: int = 0,
                   against: str = "noise_dimension") -> dict[str, Any]:
    """Largest stable rate of ``method`` for each ``(n_in, n_out)`` and its log–log slope.

    The slope is taken against ``against``: ``"noise_dimension"`` (outputs
    for NP, weights for WP) or ``"n_in"``.
    """
    rows = []
    for n_in, n_out in shapes:
        eta = max_stable_rate(method, n_in=n_in, n_out=n_out, rates=rates, steps=steps, runs=runs, seed=seed)
        rows.append({"n_in": n_in, "n_out": n_out, "noise_dimension": noise_dimension(method, n_in, n_out),
                     "max_stable_rate": eta, "theory": stability_bound(method, n_in, n_out)})
    dims = [r[against] for r in rows]
    return {"method": method, "against": against, "rows": rows,
            "slope": loglog_slope(dims, [r["max_stable_rate"] for r in rows]),
            "theory_slope": loglog_slope(dims, [r["theory"] for r in rows])}


def werfel_coincidence(fractions: Sequence[float], *, n_in: int = 4, n_out: int = 4, runs: int = 64,
                       seed: int = 1) -> dict[str, Any]:
    """Largest relative gap between the NP / WP and the gradient mean learning curves, per learning rate.

    Rates are ``fractions`` of WP's stability bound; each curve runs until the
    gradient's error has fallen about tenfold (``t = N ln 10 / (2 η)`` steps).
    Every method sees the same inputs and initial students.
    """
    rows = []
    for fraction in fractions:
        eta = fraction * stability_bound("weight", n_in, n_out)
        steps = int(np.ceil(n_in * np.log(10.0) / (2.0 * eta)))
        curves = {m: learning_curves(m, n_in=n_in, n_out=n_out, rates=[eta], steps=steps, runs=runs, seed=seed)[0]
                  for m in METHODS}
        gaps = {m: float(np.max(np.abs(curves[m] / curves["gradient"] - 1.0))) for m in ("node", "weight")}
        rows.append({"rate": eta, "fraction_of_wp_limit": fraction, "steps": steps,
                     "decay": float(curves["gradient"][-1] / curves["gradient"][0]), "gap": gaps})
    rates = [r["rate"] for r in rows]
    return {"n_in": n_in, "n_out": n_out, "runs": runs, "rows": rows,
            "gap_slope": {m: loglog_slope(rates, [r["gap"][m] for r in rows]) for m in ("node", "weight")}}


def werfel(quick: bool = False) -> dict[str, Any]:
    """The full Werfel reproduction: NP and WP scaling with outputs, WP (and NP) against inputs, coincidence."""
    outputs = [8, 16, 32] if quick else [8, 16, 32, 64]
    kw = {"steps": 300, "runs": 16} if quick else {}
    return {
        "node_vs_outputs": werfel_scaling("node", [(4, m) for m in outputs], **kw),
        "weight_vs_outputs": werfel_scaling("weight", [(4, m) for m in [2, 4, 8] + ([] if quick else [16, 32])], **kw),
        "weight_vs_inputs": werfel_scaling("weight", [(n, 1) for n in [8, 16, 32] + ([] if quick else [64])], **kw),
        "node_vs_inputs_one_output": werfel_scaling("node", [(n, 1) for n in [8, 16, 32] + ([] if quick else [64])],
                                                    against="n_in", **kw),
        "coincidence": werfel_coincidence([0.01, 0.03, 0.1] if not quick else [0.02, 0.1],
                                          runs=32 if quick else 64),
    }


# ------------------------------------------------------- Anisetti et al. 2023 (flow Iris)
def flow_accuracy(task: Task, k: np.ndarray, x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose highest output pressure is their class."""
    p = np.atleast_2d(solve_dc(task.network, k=k, v_sources=x).v)[:, task.network.node_indices(task.outputs)]
    return task.accuracy(p, labels)


def train_flow_chemical(task: Task, *, cost: Cost = SQUARED_ERROR, lr: float = 0.03, epochs: int = 60,
                        batch_size: int = 16, beta: float = 1e-3, kappa: float = 1.0,
                        bounds: tuple[float, float] = (0.01, 10.0), seed: int = 0) -> dict[str, float]:
    """Train the pipes of a flow task with the chemical update and Adam; final train / test accuracy and cost."""
    rng = np.random.default_rng(seed)
    hardware = Hardware(bounds=Bounds(*bounds))
    k = hardware.device(hardware.init(task.network["pipe"]["k"]))
    optimizer = Adam(lr=lr)
    state = optimizer.init(k)
    x, y = np.asarray(task.x_train), np.asarray(task.y_train)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            index = order[i:i + batch_size]
            update = chemical_update(task.network, k, inputs={"v_sources": x[index]}, outputs=task.outputs,
                                     targets=y[index], alpha=1.0, beta=beta, kappa=kappa, cost=cost)
            k, state = optimizer.step(k, update.gradient.grad, state)
            k = np.clip(k, *bounds)
    final = chemical_update(task.network, k, inputs={"v_sources": x}, outputs=task.outputs, targets=y,
                            alpha=1.0, beta=beta, kappa=kappa, cost=cost)
    return {"train_accuracy": flow_accuracy(task, k, x, task.train_labels),
            "test_accuracy": flow_accuracy(task, k, np.asarray(task.x_test), task.test_labels),
            "loss": final.gradient.cost, "steps": epochs * -(-len(x) // batch_size),
            "wall_s": time.perf_counter() - start}


def flow_iris_seeds(seeds: Sequence[int], cost_name: str, **options: Any) -> dict[str, Any]:
    """Mean ± std of the flow-Iris accuracies over task / training seeds for one cost."""
    cost = SQUARED_ERROR if cost_name == "squared_error" else SoftmaxCrossEntropy(temperature=0.02)
    runs = [train_flow_chemical(flow_iris(seed), cost=cost, seed=seed, **options) for seed in seeds]
    test = np.array([r["test_accuracy"] for r in runs])
    train_acc = np.array([r["train_accuracy"] for r in runs])
    return {"cost": cost_name, "seeds": list(seeds), "runs": runs, "test_mean": float(test.mean()),
            "test_std": float(test.std()), "train_mean": float(train_acc.mean()), "train_std": float(train_acc.std())}


def flow(quick: bool = False) -> dict[str, Any]:
    """Flow Iris with the squared error (targets 0.4 / 0.6 Pa) and with softmax cross-entropy (T = 0.02 Pa)."""
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    return {name: flow_iris_seeds(seeds, name) for name in ("squared_error", "cross_entropy")}


# ---------------------------------------------------------------- rules side by side
SIDE_RULES: dict[str, dict[str, Any]] = {
    "fp": {"beta": 1e-3},
    "ep": {"beta": 1e-5},  # O(β) bias: with β = 1e-3 two-phase EP stalled at 71 % test on Iris
    "ep-centered": {"beta": 1e-4},
    "coupled": {"eta": 1e-2},
    "node_perturbation": {"sigma": 1e-6, "samples": 16},
    "mgd": {"amplitude": 1e-3, "code": "cdma", "tau_theta": 64},
}

TASK_SETTINGS: dict[str, dict[str, Any]] = {  # the configs of experiments/fp_xor_diodes.toml and fp_iris.toml
    "xor": {"epochs": 100, "batch_size": None, "lr": 1e-5},
    "iris": {"epochs": 40, "batch_size": 16, "lr": 2e-5},
}


def train_task(task_name: str, rule_name: str, *, seed: int = 0, epochs: int | None = None,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train a task with a rule (Adam, bounds [1 µS, 10 mS]); final metrics, steps and wall time."""
    settings = TASK_SETTINGS[task_name]
    task = make_task(task_name, seed=seed)
    rule = make_rule(rule_name, **(SIDE_RULES[rule_name] if options is None else options))
    start = time.perf_counter()
    result = train(task.network, rule, task, optimizer=Adam(lr=settings["lr"]),
                   epochs=settings["epochs"] if epochs is None else epochs, batch_size=settings["batch_size"],
                   hardware=Hardware(bounds=Bounds(1e-6, 1e-2)), seed=seed)
    h = result.history
    return {"task": task_name, "rule": rule_name, "seed": seed, "train_accuracy": float(h["accuracy"][-1]),
            "test_accuracy": float(h["test_accuracy"][-1]), "loss": float(h["loss"][-1]),
            "test_loss": float(h["test_loss"][-1]), "epochs": result.epochs, "steps": int(np.sum(h["steps"][1:])),
            "phases": float(np.sum(h["phases"][1:])), "wall_s": time.perf_counter() - start}


def side_by_side(task_name: str, rules: Sequence[str], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One row per rule and seed."""
    return [train_task(task_name, rule, seed=seed) for rule in rules for seed in seeds]


def rules_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`side_by_side` rows."""
    lines = [f"{'task':5s} {'rule':18s} {'seed':>4s} {'train':>6s} {'test':>6s} {'loss':>10s} {'steps':>6s} "
             f"{'phases':>8s} {'wall s':>7s}"]
    for r in rows:
        lines.append(f"{r['task']:5s} {r['rule']:18s} {r['seed']:4d} {r['train_accuracy']:6.3f} "
                     f"{r['test_accuracy']:6.3f} {r['loss']:10.3e} {r['steps']:6d} {r['phases']:8.0f} "
                     f"{r['wall_s']:7.1f}")
    return "\n".join(lines)


def rules(quick: bool = False) -> dict[str, Any]:
    """FP on XOR (one seed) and Iris (three seeds), every other rule beside it (seed 0)."""
    others = [name for name in SIDE_RULES if name != "fp"]
    xor = side_by_side("xor", ["fp", *others], [0])
    iris_fp = side_by_side("iris", ["fp"], [0] if quick else [0, 1, 2])
    iris_other = [] if quick else side_by_side("iris", others, [0])
    fp_test = [r["test_accuracy"] for r in iris_fp]
    return {"xor": xor, "iris": iris_fp + iris_other,
            "iris_fp_test_mean": float(np.mean(fp_test)), "iris_fp_test_std": float(np.std(fp_test))}


# ------------------------------------------------------------------------------ main
def summary(report: dict[str, Any]) -> str:
    """The headline numbers as text."""
    lines = []
    if "werfel" in report:
        w = report["werfel"]
        for key in ("node_vs_outputs", "weight_vs_outputs", "weight_vs_inputs", "node_vs_inputs_one_output"):
            s = w[key]
            pairs = ", ".join(f"N={r['n_in']} M={r['n_out']} d={r['noise_dimension']}: {r['max_stable_rate']:.4g}"
                              for r in s["rows"])
            lines.append(f"Werfel {key}: slope vs {s['against']} {s['slope']:.3f} (theory {s['theory_slope']:.3f}); "
                         f"{pairs}")
        for r in w["coincidence"]["rows"]:
            lines.append(f"Werfel coincidence at eta={r['rate']:.3g}: max rel. gap NP {r['gap']['node']:.3f}, "
                         f"WP {r['gap']['weight']:.3f} over {r['steps']} steps")
        lines.append(f"Werfel gap slope vs eta: {w['coincidence']['gap_slope']}")
    if "flow" in report:
        for name, f in report["flow"].items():
            lines.append(f"flow Iris ({name}): test {f['test_mean']:.3f} ± {f['test_std']:.3f}, "
                         f"train {f['train_mean']:.3f} ± {f['train_std']:.3f} over seeds {f['seeds']}")
    if "rules" in report:
        lines.append(rules_table(report["rules"]["xor"] + report["rules"]["iris"]))
        lines.append(f"Iris FP test accuracy: {report['rules']['iris_fp_test_mean']:.3f} ± "
                     f"{report['rules']['iris_fp_test_std']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["werfel", "flow", "rules"], default=["werfel", "flow", "rules"])
    parser.add_argument("--quick", action="store_true", help="the cheap configurations the tests run")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON output file")
    args = parser.parse_args(argv)
    parts = {"werfel": werfel, "flow": flow, "rules": rules}
    report: dict[str, Any] = {}
    for name in args.only:
        start = time.perf_counter()
        report[name] = parts[name](quick=args.quick)
        report[f"{name}_wall_s"] = time.perf_counter() - start
        print(summary({name: report[name]}), flush=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**previous, **report}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
