"""Reports of runs and sweeps: PNG figures and a Markdown summary table.

:func:`report` reads a sweep folder (``results.parquet`` plus run folders), a
folder of runs, or one run folder, and writes into it:

``learning_curves.png``
    Train and test loss (and test accuracy for classification) per epoch,
    one line per rule (and per setting of the other swept keys), mean over
    seeds with a ±1 std band.
``vs_<key>.png``
    Final test accuracy (test loss for regression) against each swept
    parameter, one line per rule (among the runs that set it), error bars
    over seeds (:func:`versus_points`).
``conductances.png``
    The best run's trained conductances (stiffnesses of a spring network)
    on the network's geometry (node positions of the System, else a seeded
    spring layout): colour and width give the value.
``fp_spectrum.png``
    For the best FP run: the amplitude spectrum of the voltage drop across
    one edge in a transient experiment with both tones (activation at
    ``f_A``, error at ``f_B``), showing the two lines the edge reads and the
    diodes' harmonics and mixing products. Skipped (and said so) without an
    FP run of an electric task.
``summary.md``
    One table row per run, and the figures.

Seeds are the swept keys whose last part is ``seed``.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physnet.experiments.run import SUMMARY, build_task
from physnet.experiments.schema import TASK_DOMAINS, ConfigError
from physnet.experiments.sweep import RESULTS

__all__ = ["report", "Run", "load_runs", "seed_keys", "group_label", "mean_std", "markdown_table", "fp_spectrum",
           "versus_points", "Spectrum"]

_SUMMARY_FIELDS = ("train_loss", "test_loss", "test_accuracy", "steps", "wall_s")


@dataclass(frozen=True, eq=False)
class Run:
    """A finished run folder: its id, swept values, config, summary and per-epoch metrics.

    Examples
    --------
    >>> run = Run("xor-fp-1", Path("runs/xor-fp-1"), {"train.seed": 0}, {"rule": {"name": "fp", "beta": 1e-3}},
    ...           {"test_loss": 0.25}, {"loss": np.array([1.0, 0.5, 0.25])})
    >>> run.rule, run.swept["train.seed"], run.metrics["loss"].tolist()
    ('fp', 0, [1.0, 0.5, 0.25])
    """

    run_id: str
    folder: Path
    swept: dict[str, Any]
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: dict[str, NDArray[np.float64]]

    @property
    def rule(self) -> str:
        """The rule's name."""
        return self.config["rule"]["name"]


def _metrics(path: Path) -> dict[str, NDArray[np.float64]]:
    table = np.genfromtxt(path, delimiter=",", names=True, dtype=np.float64)
    return {name: np.atleast_1d(table[name]) for name in table.dtype.names}


def _run(folder: Path, swept: dict[str, Any]) -> Run:
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    return Run(folder.name, folder, swept, config, summary, _metrics(folder / "metrics.csv"))


def load_runs(folder: str | Path) -> list[Run]:
    """The finished runs of a sweep folder (in sweep order), of a folder of runs, or the run ``folder`` itself.

    Raises
    ------
    ConfigError
        If ``folder`` holds no finished run.

    Examples
    --------
    >>> import tempfile
    >>> from physnet.experiments.run import run_config
    >>> config = {"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...           "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}}
    >>> with tempfile.TemporaryDirectory() as out:
    ...     summary = run_config(config, out)
    ...     runs = load_runs(out)  # a folder of runs
    >>> len(runs), runs[0].run_id == summary["run_id"], runs[0].rule, runs[0].metrics["loss"].shape
    (1, True, 'adjoint', (3,))
    """
    folder = Path(folder)
    if (folder / SUMMARY).exists():
        return [_run(folder, {})]
    if (folder / RESULTS).exists():
        import pandas as pd

        table = pd.read_parquet(folder / RESULTS)
        swept = [c for c in table.columns if "." in c]
        rows = table[table["status"] == "ok"]
        runs = [_run(folder / row["run_id"], {k: _plain(row[k]) for k in swept}) for _, row in rows.iterrows()]
    else:
        runs = [_run(p, {}) for p in sorted(folder.iterdir()) if (p / SUMMARY).exists()]
    if not runs:
        raise ConfigError(f"{folder}: no finished run (no summary.json in it or in its subfolders)")
    return runs


def _plain(value: Any) -> Any:
    """Parquet values as plain Python (lists come back as arrays)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def seed_keys(keys: Sequence[str]) -> list[str]:
    """The swept keys that are seeds (last part ``seed``).

    Examples
    --------
    >>> seed_keys(["rule.name", "train.seed", "task.seed", "rule.beta"])
    ['train.seed', 'task.seed']
    """
    return [k for k in keys if k.rsplit(".", 1)[-1] == "seed"]


def group_label(run: Run, keys: Sequence[str]) -> str:
    """The rule name plus the values of ``keys`` (other swept, non-seed keys): one curve per label.

    Examples
    --------
    >>> run = Run("r", Path("r"), {"rule.beta": 0.1, "train.seed": 1}, {"rule": {"name": "fp"}}, {}, {})
    >>> group_label(run, ["rule.beta"])
    'fp rule.beta=0.1'
    >>> group_label(Run("r", Path("r"), {"rule.eta": float("nan")}, {"rule": {"name": "adjoint"}}, {}, {}), ["rule.eta"])
    'adjoint'
    """
    return " ".join([run.rule] + [f"{k}={run.swept[k]}" for k in keys if k != "rule.name" and _given(run.swept.get(k))])


def _given(value: Any) -> bool:
    """Whether a swept value was set for this run (whole-section sweeps leave other rules' keys empty)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def mean_std(curves: Sequence[NDArray]) -> tuple[NDArray, NDArray]:
    """Mean and standard deviation over curves, truncated to the shortest (runs may stop early).

    Examples
    --------
    >>> mean_std([np.array([1.0, 3.0]), np.array([3.0, 5.0, 9.0])])
    (array([2., 4.]), array([1., 1.]))
    """
    n = min(len(c) for c in curves)
    stack = np.stack([np.asarray(c[:n], dtype=np.float64) for c in curves])
    return stack.mean(axis=0), stack.std(axis=0)


def _groups(runs: Sequence[Run], keys: Sequence[str]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(group_label(run, keys), []).append(run)
    return groups


# ------------------------------------------------------------------ figures
def _learning_curves(runs: Sequence[Run], keys: Sequence[str], path: Path) -> Path:
    import matplotlib.pyplot as plt

    metrics = [("loss", "train loss", True), ("test_loss", "test loss", True)]
    if any(np.isfinite(r.metrics.get("test_accuracy", [np.nan])).any() for r in runs):
        metrics.append(("test_accuracy", "test accuracy", False))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for label, members in _groups(runs, keys).items():
        for ax, (name, _, _) in zip(axes[0], metrics):
            mean, std = mean_std([r.metrics[name] for r in members])
            epochs = np.arange(len(mean))
            (line,) = ax.plot(epochs, mean, label=f"{label} (n={len(members)})")
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for ax, (_, title, log) in zip(axes[0], metrics):
        ax.set(xlabel="epoch", title=title)
        if log:
            ax.set_yscale("log")
    axes[0][0].legend(fontsize="small")
    fig.suptitle("learning curves: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def versus_points(runs: Sequence[Run], key: str, keys: Sequence[str],
                  metric: str) -> dict[str, tuple[list[Any], list[float], list[float]]]:
    """Per curve (:func:`group_label` over the other ``keys``): the values of ``key``, and the mean and std of ``metric``.

    Only runs that set ``key`` count: a key that a whole-section sweep sets for
    one rule (``rule.beta`` of ``rule = [{name="fp", beta=...}, {name="adjoint"}]``)
    gets curves for that rule alone.

    Examples
    --------
    >>> def run(rule, beta, seed, loss):
    ...     swept = {"rule.name": rule, "rule.beta": beta, "train.seed": seed}
    ...     return Run("r", Path("r"), swept, {"rule": {"name": rule}}, {"test_loss": loss}, {})
    >>> runs = [run("fp", 0.1, 0, 1.0), run("fp", 0.1, 1, 3.0), run("fp", 0.2, 0, 5.0), run("adjoint", None, 0, 7.0)]
    >>> versus_points(runs, "rule.beta", ["rule.name", "rule.beta"], "test_loss")
    {'fp': ([0.1, 0.2], [2.0, 5.0], [1.0, 0.0])}
    """
    runs = [r for r in runs if _given(r.swept.get(key))]
    values = list(dict.fromkeys(json.dumps(r.swept[key]) for r in runs))
    numeric = _numeric([json.loads(v) for v in values])
    points = {}
    for label, members in _groups(runs, [k for k in keys if k != key]).items():
        xs, means, stds = [], [], []
        for value in values:
            ys = [r.summary[metric] for r in members if json.dumps(r.swept[key]) == value and r.summary[metric]
                  is not None]
            if ys:
                xs.append(json.loads(value) if numeric else value)
                means.append(float(np.mean(ys)))
                stds.append(float(np.std(ys)))
        points[label] = (xs, means, stds)
    return points


def _versus(runs: Sequence[Run], key: str, keys: Sequence[str], path: Path) -> Path:
    import matplotlib.pyplot as plt

    metric = "test_accuracy" if any(r.summary.get("test_accuracy") is not None for r in runs) else "test_loss"
    fig, ax = plt.subplots(figsize=(6, 4))
    points = versus_points(runs, key, keys, metric)
    for label, (xs, means, stds) in points.items():
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
    xs = [x for curve in points.values() for x in curve[0]]
    if _numeric(xs) and min(xs, default=0) > 0 and len(set(xs)) > 2:
        ax.set_xscale("log")
    if metric == "test_loss":
        ax.set_yscale("log")
    ax.set(xlabel=key, ylabel=metric.replace("_", " "), title=f"{metric.replace('_', ' ')} vs {key}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _best(runs: Sequence[Run]) -> Run:
    def score(run: Run) -> tuple[float, float]:
        accuracy = run.summary.get("test_accuracy")
        loss = run.summary.get("test_loss")
        return (-(accuracy if accuracy is not None else -math.inf), loss if loss is not None else math.inf)

    return min(runs, key=score)


def _layout(system: Any, edges: NDArray) -> NDArray[np.float64]:
    """2-D node positions: the System's, else networkx's spring layout (seed 0) of the drawn edges."""
    if system.positions is not None and system.positions.shape[1] >= 2:
        return np.asarray(system.positions[:, :2], dtype=np.float64)
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(system.n_nodes))
    graph.add_edges_from(map(tuple, edges))
    layout = nx.spring_layout(graph, seed=0)
    return np.array([layout[i] for i in range(system.n_nodes)])


_TRAINED = {"electric": ("resistor", "g", "S"), "flow": ("pipe", "k", "m³/(Pa·s)"), "elastic": ("spring", "k", "N/m")}


def _conductances(run: Run, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    task = build_task(run.config)
    system = task.network
    params = np.load(run.folder / "params.npz")
    kind, symbol, unit = _TRAINED[task.domain]
    table = system[kind]
    index = np.array([table.names.index(str(name)) for name in params["edges"]])
    ends = np.stack([table.a[index], table.b[index]], axis=1)
    xy = _layout(system, ends)
    g = np.asarray(params["g_device"], dtype=np.float64)
    span = np.ptp(g) or 1.0
    fig, ax = plt.subplots(figsize=(7, 5))
    lines = LineCollection(xy[ends], array=g, cmap="viridis", linewidths=0.5 + 3.5 * (g - g.min()) / span)
    ax.add_collection(lines)
    used = np.unique(ends)
    ax.scatter(*xy[used].T, s=12, color="black", zorder=3)
    ax.autoscale()
    ax.axis("off")
    fig.colorbar(lines, ax=ax, label=f"{symbol} ({unit})")
    ax.set_title(f"trained {kind} {'stiffnesses' if kind == 'spring' else 'conductances'}\n{run.run_id}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Amplitude spectrum of one edge's voltage drop in a two-tone FP transient experiment.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "xor", "hidden": 2}, "rule": {"name": "fp", "beta": 1e-3},
    ...                   "optimizer": {"name": "sgd", "lr": 1.0}})
    >>> table = build_task(config).network["resistor"]
    >>> s = fp_spectrum(config, table["g"], table.names)  # 8 common periods of 1/200 s: 25 Hz resolution
    >>> s.edge in table.names, (s.f_a, s.f_b), float(s.freqs[1]), s.freqs.shape == s.amplitude.shape
    (True, (600.0, 1000.0), 25.0, True)
    """

    freqs: NDArray[np.float64]
    amplitude: NDArray[np.float64]
    edge: str
    f_a: float
    f_b: float


def fp_spectrum(config: Mapping[str, Any], g: NDArray, edges: Sequence[str], *, f_a: float = 600.0,
                f_b: float = 1000.0, periods: int = 8, steps: int = 64) -> Spectrum:
    """The FP signals at an edge: transient run with the activation at ``f_a`` and the error at ``f_b``, then FFT.

    The task's first test sample drives the input sources as ``x cos(2π f_a t)``;
    the error current ``e = -β ∂C/∂v_out`` (β from the config's rule, at the
    DC operating point) is injected at the outputs as ``e cos(2π f_b t)``;
    the network (trained conductances ``g`` on ``edges``) is integrated
    with :func:`physnet.solve_transient` for one settling and ``periods``
    analysed common periods, ``steps`` steps per period of the faster
    tone. The edge shown is the trainable edge with the largest drop.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "xor", "hidden": 2}, "rule": {"name": "fp", "beta": 1e-3},
    ...                   "optimizer": {"name": "sgd", "lr": 1.0}})
    >>> system = build_task(config).network
    >>> s = fp_spectrum(config, system["resistor"]["g"], system["resistor"].names)
    >>> [round(float(s.freqs[i])) for i in np.argsort(s.amplitude)[::-1][:1]]
    [600]
    """
    import physnet as pn
    from physnet.learning.fp_tones import fp_tones
    from physnet.learning.fp_transient import driven_system
    from physnet.learning.gradient import free_states
    from physnet.learning.problem import make_problem
    from physnet.learning.train import source_inputs

    task = build_task(config)
    system = task.network
    table = system["resistor"]
    index = np.array([table.names.index(str(name)) for name in edges])
    g_all = np.array(table["g"], dtype=np.float64)
    g_all[index] = g
    inputs = source_inputs(system, task.inputs, np.asarray(task.x_test[:1]))
    problem = make_problem(system, task.outputs, task.y_test[:1], inputs=inputs, trainable=index)
    error = problem.error_currents(free_states(problem, g_all), config["rule"]["beta"])[0]
    v_src = inputs.get("v_sources", np.atleast_2d(system["vsource"]["dc"]))[0]
    i_src = inputs.get("i_sources", np.atleast_2d(system["isource"]["dc"]))[0]
    tones = fp_tones(f_a, f_b)
    n = steps * tones.fastest
    step = tones.period / n
    result = pn.solve_transient(driven_system(system, v_src, i_src, f_a), step, (1 + periods) * n * step, g=g_all,
                                extra_currents=lambda t: np.cos(2 * np.pi * f_b * np.asarray(t))[:, None] * error)
    drops = result.v[-periods * n:, table.a[index]] - result.v[-periods * n:, table.b[index]]
    edge = int(np.argmax(np.ptp(drops, axis=0)))
    signal = drops[:, edge]
    amplitude = 2.0 * np.abs(np.fft.rfft(signal)) / len(signal)
    amplitude[0] /= 2.0
    return Spectrum(np.fft.rfftfreq(len(signal), step), amplitude, table.names[index[edge]], f_a, f_b)


def _spectrum_figure(run: Run, path: Path) -> Path:
    import matplotlib.pyplot as plt

    params = np.load(run.folder / "params.npz")
    s = fp_spectrum(run.config, params["g_device"], [str(e) for e in params["edges"]])
    keep = s.freqs <= 4 * max(s.f_a, s.f_b)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(s.freqs[keep], np.maximum(s.amplitude[keep], 1e-16), lw=1)
    for f, name in ((s.f_a, "$f_A$"), (s.f_b, "$f_B$")):
        ax.axvline(f, ls="--", color="gray", lw=0.8)
        ax.text(f, ax.get_ylim()[1], name, ha="center", va="bottom")
    ax.set(xlabel="frequency (Hz)", ylabel="|ΔV| amplitude (V)",
           title=f"FP signals across {s.edge}: activation {s.f_a:g} Hz, error {s.f_b:g} Hz\n{run.run_id}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -------------------------------------------------------------------- table
def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (floats to 4 significant digits, missing values as —).

    Examples
    --------
    >>> print(markdown_table(["rule", "loss"], [["fp", 0.012345], ["ep", None]]))
    | rule | loss |
    | --- | --- |
    | fp | 0.01235 |
    | ep | — |
    """
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_md(runs: Sequence[Run], keys: Sequence[str], figures: Sequence[Path], notes: Sequence[str]) -> str:
    header = ["run", "rule", *[k for k in keys if k != "rule.name"], *_SUMMARY_FIELDS]
    rows = [[r.run_id, r.rule, *[r.swept[k] for k in keys if k != "rule.name"],
             *[r.summary.get(f) for f in _SUMMARY_FIELDS]] for r in runs]
    parts = ["# physnet report", "", f"{len(runs)} finished runs.", "", markdown_table(header, rows), "",
             "## Figures", ""]
    parts += [f"![{p.stem}]({p.name})" for p in figures]
    parts += ["", *(f"* {note}" for note in notes)] if notes else []
    return "\n".join(parts) + "\n"


def _failures(folder: Path) -> list[str]:
    """One note per failed run of a sweep folder (from ``results.parquet``)."""
    if not (folder / RESULTS).exists():
        return []
    import pandas as pd

    table = pd.read_parquet(folder / RESULTS)
    return [f"run {row['run_id']} {row['status']}: {row['error']}" for _, row in
            table[table["status"] != "ok"].iterrows()]


def report(folder: str | Path) -> list[Path]:
    """Write the figures and ``summary.md`` of the runs in ``folder`` (see the module docstring); return their paths.

    Examples
    --------
    >>> import tempfile
    >>> from physnet.experiments.run import run_config
    >>> config = {"task": {"name": "xor", "hidden": 2}, "rule": {"name": "fp"},
    ...           "optimizer": {"name": "adam", "lr": 1e-5}, "hardware": {"bounds": [1e-6, 1e-2]},
    ...           "train": {"epochs": 2}}
    >>> with tempfile.TemporaryDirectory() as out:
    ...     summary = run_config(config, out)
    ...     [p.name for p in report(Path(out) / summary["run_id"])]
    ['learning_curves.png', 'conductances.png', 'fp_spectrum.png', 'summary.md']
    """
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(folder)
    runs = load_runs(folder)
    keys = list(runs[0].swept)
    seeds = seed_keys(keys)
    settings = [k for k in keys if k not in seeds]
    figures = [_learning_curves(runs, settings, folder / "learning_curves.png")]
    for key in settings:
        figures.append(_versus(runs, key, settings, folder / f"vs_{key.replace('.', '_')}.png"))
    best = _best(runs)
    figures.append(_conductances(best, folder / "conductances.png"))
    notes = _failures(folder)
    fp_runs = [r for r in runs if r.rule == "fp" and TASK_DOMAINS[r.config["task"]["name"]] == "electric"]
    if fp_runs:
        figures.append(_spectrum_figure(_best(fp_runs), folder / "fp_spectrum.png"))
    else:
        notes.append("FP spectrum skipped: no frequency-propagation run of an electric task in this folder.")
    summary = folder / "summary.md"
    summary.write_text(_summary_md(runs, keys, figures, notes), encoding="utf-8")
    return [*figures, summary]
