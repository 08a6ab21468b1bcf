"""Sweeps: every run of a config's grid, on a local process pool or a Dask cluster, resumable.

:func:`sweep` expands the config (validating every point before anything
runs), skips the runs whose folder already holds ``summary.json``, removes
temporary folders left by killed runs of this machine, runs the rest with
the same task function :func:`run_point` — on a local
:class:`~concurrent.futures.ProcessPoolExecutor` (default) or on a Dask
distributed cluster (``scheduler``) — and gathers every run folder into one
``results.parquet`` (written atomically): the swept keys as columns, the
summary fields, ``status`` and ``error``.

Resuming is running the same sweep again: runs are identified by their
deterministic id (:func:`~physnet.experiments.config.run_id`) and written
atomically (:func:`~physnet.experiments.run.run_config`), so after a crash
or ``kill -9`` no finished run is lost or done twice. A run that raises is
recorded (``error.json``, status ``"failed"``) and the sweep goes on; the
next sweep tries it again.

Workers run single-threaded (``OMP_NUM_THREADS`` and friends set to 1 for
the local pool): a sweep's parallelism is across runs. Local workers are
started with ``spawn``, so a script calling :func:`sweep` needs the usual
``if __name__ == "__main__":`` guard. Dask workers are configured by
whoever starts them. With a cluster, ``out_dir`` must be a folder every
worker can write (a shared file system).

Examples
--------
>>> import tempfile
>>> config = {"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
...           "optimizer": {"name": "adam", "lr": 2e-5}, "hardware": {"bounds": [1e-6, 1e-2]},
...           "train": {"epochs": 2}, "sweep": {"rule.name": ["adjoint", "fp"]}}
>>> with tempfile.TemporaryDirectory() as out:
...     table = sweep(config, out, progress=False)
...     again = sweep(config, out, progress=False)  # nothing left to run: the same table
>>> table[["rule.name", "status", "steps"]].values.tolist()
[['adjoint', 'ok', 2], ['fp', 'ok', 2]]
>>> table.equals(again)
True
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from physnet.experiments.config import Point, expand, load
from physnet.experiments.run import ERROR, SUMMARY, run_config, temp_owner
from physnet.experiments.schema import ConfigError

__all__ = ["sweep", "run_point", "pending", "clean_stale", "results_table", "RESULTS", "THREAD_VARIABLES"]

RESULTS = "results.parquet"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""Environment variables set to 1 for local workers."""

_SUMMARY_COLUMNS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "epochs", "steps", "stopped",
                    "wall_s", "cpu_s")


def run_point(config: Mapping[str, Any], out_dir: str) -> str:
    """The task function of a sweep: run one resolved config, return ``"ok"`` or ``"failed"`` (recorded, not raised).

    Examples
    --------
    >>> import tempfile
    >>> from physnet.experiments.config import resolve
    >>> config = resolve({"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...                   "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     statuses = run_point(config, out), run_point({"task": {"name": "xr"}}, out)  # the second is invalid
    ...     folders = len(list(Path(out).iterdir()))
    >>> statuses, folders
    (('ok', 'failed'), 1)
    """
    try:
        run_config(config, out_dir)
    except Exception:  # recorded in error.json by run_config; the sweep goes on
        return "failed"
    return "ok"


def pending(points: list[Point], out_dir: Path) -> list[Point]:
    """The points whose run folder has no ``summary.json`` yet.

    Examples
    --------
    >>> import tempfile
    >>> points = [Point(f"run-{seed}", {}, {"train.seed": seed}) for seed in range(3)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     before = len(pending(points, Path(out)))
    ...     (Path(out) / "run-0").mkdir()
    ...     _ = (Path(out) / "run-0" / SUMMARY).write_text("{}")  # run-0 finished
    ...     after = [p.run_id for p in pending(points, Path(out))]
    >>> before, after
    (3, ['run-1', 'run-2'])
    """
    return [p for p in points if not (out_dir / p.run_id / SUMMARY).exists()]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie, killed but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        state = ""
    if state == "Z":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove the temporary run folders whose writer (a process of this machine) is gone; return them.

    Folders written by other machines of a cluster are left alone.

    Examples
    --------
    >>> import tempfile
    >>> host = socket.gethostname()
    >>> with tempfile.TemporaryDirectory() as out:
    ...     for name in [f".a~{host}~{os.getpid()}.tmp", f".b~{host}~9999999.tmp", ".c~elsewhere~1.tmp"]:
    ...         (Path(out) / name).mkdir()  # writers: this process, one that is gone (no such pid), another host
    ...     removed = [p.name[:2] for p in clean_stale(Path(out))]
    ...     kept = sorted(p.name[:2] for p in Path(out).iterdir())
    >>> removed, kept
    (['.b'], ['.a', '.c'])
    """
    host = socket.gethostname()
    stale = [p for p in out_dir.iterdir() if (owner := temp_owner(p)) and owner[0] == host and not _alive(owner[1])]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return stale


@contextmanager
def _single_threaded() -> Iterator[None]:
    """Thread-count variables at 1 while worker processes start (they inherit the environment)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _local(todo: list[Point], out_dir: Path, workers: int, progress: bool) -> None:
    if workers == 1:  # in this process: no start-up cost, and works from an interactive session
        for point in tqdm(todo, desc="sweep", disable=not progress):
            run_point(point.config, str(out_dir))
        return
    with _single_threaded(), ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_point, p.config, str(out_dir)) for p in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="sweep", disable=not progress):
            future.result()


def _dask(todo: list[Point], out_dir: Path, scheduler: Any, progress: bool) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(run_point, [p.config for p in todo], [str(out_dir)] * len(todo),
                             key=[f"physnet-run-{p.run_id}" for p in todo])
        for future in tqdm(dask_completed(futures), total=len(futures), desc="sweep", disable=not progress):
            future.result()
    finally:
        if client is not scheduler:
            client.close()


def _row(point: Point, out_dir: Path) -> dict[str, Any]:
    folder = out_dir / point.run_id
    row: dict[str, Any] = {"run_id": point.run_id, **point.swept}
    if (folder / SUMMARY).exists():
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        return {**row, "status": "ok", **{k: summary.get(k) for k in _SUMMARY_COLUMNS}, "error": None}
    error = json.loads((folder / ERROR).read_text(encoding="utf-8")) if (folder / ERROR).exists() else {}
    return {**row, "status": "failed" if error else "missing", **dict.fromkeys(_SUMMARY_COLUMNS),
            "error": error.get("error")}


def results_table(points: list[Point], out_dir: str | Path):
    """One row per point (in sweep order) from the run folders: swept keys, status, summary fields, error.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import tempfile
    >>> points = [Point(f"run-{seed}", {}, {"train.seed": seed}) for seed in range(3)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     for point, name, data in zip(points, [SUMMARY, ERROR], [{"steps": 4}, {"error": "RuntimeError: boom"}]):
    ...         (Path(out) / point.run_id).mkdir()
    ...         _ = (Path(out) / point.run_id / name).write_text(json.dumps(data))
    ...     table = results_table(points, out)  # run-2 has no folder
    >>> table.shape, table[["train.seed", "status"]].values.tolist(), table.loc[1, "error"]
    ((3, 13), [[0, 'ok'], [1, 'failed'], [2, 'missing']], 'RuntimeError: boom')
    """
    import pandas as pd

    return pd.DataFrame([_row(p, Path(out_dir)) for p in points])


def sweep(config: Mapping[str, Any] | str | Path, out_dir: str | Path | None = None, *, workers: int = 1,
          scheduler: Any = None, progress: bool = True):
    """Run every point of a config's ``[sweep]`` not yet finished, then write ``results.parquet``.

    Parameters
    ----------
    config : mapping, str or Path
        A config (or TOML file) with or without ``[sweep]``.
    out_dir : str or Path, optional
        Where run folders and ``results.parquet`` go; default the config's
        ``output.dir``.
    workers : int, optional
        Local worker processes (ignored with ``scheduler``); 1 runs in this
        process, one run after another.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://host:8786"``) or a client: run
        on that cluster instead.
    progress : bool, optional
        Show a progress bar over runs.

    Returns
    -------
    pandas.DataFrame
        The results table (also in ``out_dir/results.parquet``).

    Examples
    --------
    >>> import tempfile
    >>> from physnet.experiments.toml_writer import dumps
    >>> config = {"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...           "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}, "sweep": {"train.seed": [0, 1]}}
    >>> with tempfile.TemporaryDirectory() as out:
    ...     _ = (Path(out) / "grid.toml").write_text(dumps(config))
    ...     table = sweep(Path(out) / "grid.toml", Path(out) / "runs", progress=False)
    ...     saved = (Path(out) / "runs" / RESULTS).exists()
    >>> table[["train.seed", "status", "steps"]].values.tolist(), saved
    ([[0, 'ok', 2], [1, 'ok', 2]], True)
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers = {workers!r} is invalid: must be an integer >= 1")
    raw = load(config) if isinstance(config, (str, Path)) else config
    points = expand(raw)
    out = Path(out_dir if out_dir is not None else points[0].config["output"]["dir"])
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    todo = pending(points, out)
    if todo and scheduler is not None:
        _dask(todo, out, scheduler, progress)
    elif todo:
        _local(todo, out, workers, progress)
    table = results_table(points, out)
    temp = out / f".{RESULTS}~{socket.gethostname()}~{os.getpid()}.tmp"
    table.to_parquet(temp, index=False)
    os.replace(temp, out / RESULTS)
    return table
