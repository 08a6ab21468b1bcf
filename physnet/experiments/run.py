"""One experiment run into its own folder, written atomically.

:func:`run_config` resolves a config, trains, and writes
``<out_dir>/<run_id>/``:

``config.toml``
    The fully resolved config (every default filled in).
``metrics.csv``
    One row per epoch (row 0: the initial network): losses, accuracies, steps, ...
``params.npz``
    ``g`` (the optimizer's float conductances), ``g_device`` (what the
    devices hold at the end, after quantization / sparsification),
    ``edges`` (their element names).
``summary.json``
    ``run_id``, ``status``, ``train_loss``, ``test_loss``,
    ``train_accuracy`` and ``test_accuracy`` (``null`` for regression),
    ``epochs``, ``steps`` (optimizer steps), ``stopped``, ``wall_s`` and
    ``cpu_s`` (the training's wall-clock and CPU time: on a busy machine
    the first grows, the second does not).

The folder is built under a temporary sibling name
(``.<run_id>~<host>~<pid>.tmp``) and renamed into place when complete, so a
run folder either is complete or does not exist. A run that raises leaves a
folder with ``config.toml`` and ``error.json`` (``status: "failed"``) and no
``summary.json``; running it again replaces it. A finished run (its folder
holds ``summary.json``) is not run again: its summary is returned.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from physnet.experiments.config import expand, load, resolve, run_id
from physnet.experiments.elastic import train_elastic
from physnet.experiments.flow import train_chemical
from physnet.experiments.schema import ConfigError
from physnet.experiments.toml_writer import dumps
from physnet.hardware import Hardware
from physnet.learning.optimizers import make_optimizer
from physnet.learning.rules import make_rule
from physnet.learning.train import Decorrelation, TrainResult, train
from physnet.tasks import Task, make_task

__all__ = ["run_config", "execute", "build_task", "summary_of", "metrics_csv", "temp_name", "temp_owner",
           "SUMMARY", "ERROR"]

SUMMARY = "summary.json"
ERROR = "error.json"
_TEMP_SUFFIX = ".tmp"


def _params(section: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if k != "name"}


def build_task(config: Mapping[str, Any]) -> Task:
    """The task (and its network) of a resolved config.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "xor", "hidden": 3}, "rule": {"name": "fp"},
    ...                   "optimizer": {"name": "sgd", "lr": 1.0}})
    >>> len(build_task(config).network["resistor"])
    24
    """
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in _params(config["task"]).items()}
    seed = options.pop("seed")  # ranges such as g_range must be tuples: a list means per-edge values
    return make_task(config["task"]["name"], seed, **options)


def execute(config: Mapping[str, Any], *, progress: bool = False) -> TrainResult:
    """Train a resolved config, writing nothing, with the trainer of its task's domain.

    Electric tasks train by :func:`physnet.learning.train.train`, flow tasks
    by :func:`~physnet.experiments.flow.train_chemical`, elastic tasks by
    :func:`~physnet.experiments.elastic.train_elastic`.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "linear_regression", "n_train": 8, "n_test": 4},
    ...                   "rule": {"name": "adjoint"}, "optimizer": {"name": "adam", "lr": 2e-5},
    ...                   "hardware": {"bounds": [1e-6, 1e-2]}, "train": {"epochs": 3}})
    >>> result = execute(config)
    >>> result.history["loss"].shape, bool(result.history["loss"][-1] < result.history["loss"][0])
    ((4,), True)
    """
    task = build_task(config)
    settings = dict(config["train"])
    optimizer = make_optimizer(config["optimizer"]["name"], **_params(config["optimizer"]))
    hardware = Hardware.from_dict(config["hardware"])
    loop = {"epochs": settings["epochs"], "batch_size": settings.get("batch_size"), "seed": settings["seed"],
            "shuffle": settings["shuffle"]}
    if task.domain == "flow":
        return train_chemical(task, optimizer=optimizer, hardware=hardware, **loop, **_params(config["rule"]))
    if task.domain == "elastic":
        return train_elastic(task, rule=config["rule"]["name"], optimizer=optimizer, hardware=hardware, **loop,
                             **_params(config["rule"]))
    rate = settings.pop("decorrelation", None)
    return train(task.network, make_rule(config["rule"]["name"], **_params(config["rule"])), task,
                 optimizer=optimizer, hardware=hardware, decorrelation=None if rate is None else Decorrelation(rate),
                 progress=progress, **settings)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def summary_of(rid: str, result: TrainResult, wall_s: float, cpu_s: float) -> dict[str, Any]:
    """The ``summary.json`` of a finished run: final metrics (``None`` where not measured), steps, wall and CPU time.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...                   "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}})
    >>> summary = summary_of("lr-adjoint", execute(config), wall_s=1.5, cpu_s=1.25)
    >>> {k: summary[k] for k in ("status", "epochs", "steps", "train_accuracy", "stopped", "wall_s")}
    {'status': 'ok', 'epochs': 2, 'steps': 2, 'train_accuracy': None, 'stopped': 'completed', 'wall_s': 1.5}
    """
    last = {key: float(values[-1]) for key, values in result.history.items()}
    return {"run_id": rid, "status": "ok", "train_loss": _finite(last["loss"]),
            "test_loss": _finite(last["test_loss"]), "train_accuracy": _finite(last["accuracy"]),
            "test_accuracy": _finite(last["test_accuracy"]), "epochs": result.epochs,
            "steps": int(np.sum(result.history["steps"])), "stopped": result.stopped, "wall_s": wall_s,
            "cpu_s": cpu_s}


def metrics_csv(history: Mapping[str, np.ndarray]) -> str:
    """The per-epoch history as CSV text (``nan`` where not measured; integers for counters).

    Examples
    --------
    >>> print(metrics_csv({"epoch": np.array([0.0, 1.0]), "loss": np.array([0.5, np.nan])}), end="")
    epoch,loss
    0,0.5
    1,nan
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(history)
    integral = {k for k in ("epoch", "steps") if k in history}
    for row in zip(*history.values()):
        writer.writerow([int(v) if k in integral else repr(float(v)) for k, v in zip(history, row)])
    return buffer.getvalue()


def temp_name(rid: str) -> str:
    """The temporary folder name of run ``rid`` being written by this process: ``.<rid>~<host>~<pid>.tmp``.

    Examples
    --------
    >>> import os, socket
    >>> name = temp_name("xor-fp-0123")
    >>> name.startswith(".xor-fp-0123~"), temp_owner(Path(name)) == (socket.gethostname(), os.getpid())
    (True, True)
    """
    return f".{rid}~{socket.gethostname()}~{os.getpid()}{_TEMP_SUFFIX}"


def temp_owner(path: Path) -> tuple[str, int] | None:
    """``(host, pid)`` of the process writing the temporary run folder ``path``; ``None`` if not one.

    Examples
    --------
    >>> temp_owner(Path("runs/.xor-fp-0123456789ab~node7~4242.tmp")), temp_owner(Path("runs/xor-fp-0123"))
    (('node7', 4242), None)
    """
    name = path.name
    if not (name.startswith(".") and name.endswith(_TEMP_SUFFIX)):
        return None
    parts = name[1:-len(_TEMP_SUFFIX)].rsplit("~", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def _json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _publish(temp: Path, final: Path) -> None:
    """Rename the complete ``temp`` folder to ``final``; a finished ``final`` (another writer's) wins."""
    if (final / SUMMARY).exists():  # an identical run (same id, deterministic) finished meanwhile
        shutil.rmtree(temp)
        return
    if final.exists():  # a failed attempt: replaced
        shutil.rmtree(final)
    try:
        os.rename(temp, final)
    except OSError:
        if not (final / SUMMARY).exists():
            raise
        shutil.rmtree(temp)


def _config_of(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    raw = load(config) if isinstance(config, (str, Path)) else config
    if isinstance(raw, Mapping) and "sweep" in raw:
        points = expand(raw)
        if len(points) != 1:
            raise ConfigError(f"the config sweeps {len(points)} runs: use sweep() / `physnet sweep` to run them")
        return points[0].config
    return resolve(raw)


def run_config(config: Mapping[str, Any] | str | Path, out_dir: str | Path, *,
               progress: bool = False) -> dict[str, Any]:
    """Run one config into ``out_dir/<run_id>/`` (see the module docstring) and return its summary.

    Parameters
    ----------
    config : mapping, str or Path
        A config (raw or resolved) or a TOML file; a ``[sweep]`` is allowed
        only if it has a single point.
    out_dir : str or Path
        Parent folder of the run folder (created if missing).
    progress : bool, optional
        Show the training progress bar.

    Returns
    -------
    dict
        The summary (also in ``summary.json``).

    Raises
    ------
    ConfigError
        Before anything is written, if the config is invalid.
    Exception
        Whatever training raised, after recording it in ``error.json``.

    Examples
    --------
    >>> import json, tempfile
    >>> config = {"task": {"name": "xor", "hidden": 2}, "rule": {"name": "fp"},
    ...           "optimizer": {"name": "adam", "lr": 1e-5}, "hardware": {"bounds": [1e-6, 1e-2]},
    ...           "train": {"epochs": 2}}
    >>> with tempfile.TemporaryDirectory() as out:
    ...     summary = run_config(config, out)
    ...     files = sorted(p.name for p in (Path(out) / summary["run_id"]).iterdir())
    >>> files, summary["steps"], summary["test_accuracy"] is not None
    (['config.toml', 'metrics.csv', 'params.npz', 'summary.json'], 2, True)
    """
    resolved = _config_of(config)
    rid = run_id(resolved)
    out = Path(out_dir)
    final = out / rid
    if (final / SUMMARY).exists():
        return json.loads((final / SUMMARY).read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    temp = out / temp_name(rid)
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    (temp / "config.toml").write_text(dumps(resolved), encoding="utf-8")
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = execute(resolved, progress=progress)
    except Exception as exc:
        _json(temp / ERROR, {"run_id": rid, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(), "wall_s": time.perf_counter() - start})
        _publish(temp, final)
        raise
    summary = summary_of(rid, result, time.perf_counter() - start, time.process_time() - cpu)
    (temp / "metrics.csv").write_text(metrics_csv(result.history), encoding="utf-8")
    np.savez(temp / "params.npz", g=result.g, g_device=result.g_device, edges=np.array(result.edges))
    _json(temp / SUMMARY, summary)
    _publish(temp, final)
    return summary
