"""Runs and sweeps: atomic run folders, resume after SIGKILL, local pool vs Dask, failures, results table."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from physnet.experiments.__main__ import main
from physnet.experiments.config import expand, load, run_id
from physnet.experiments.run import run_config
from physnet.experiments.sweep import RESULTS, sweep
from physnet.spice import read_spice

ROOT = Path(__file__).parents[1]
TINY = {"task": {"name": "linear_regression", "sizes": [3, 4, 2], "n_train": 16, "n_test": 8},
        "rule": {"name": "adjoint"}, "optimizer": {"name": "adam", "lr": 2e-5},
        "hardware": {"bounds": [1e-6, 1e-2]}, "train": {"epochs": 3, "batch_size": 8}}
GRID = {**TINY, "sweep": {"rule.name": ["adjoint", "fp"], "train.seed": [0, 1]}}


def _folders(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.is_dir()}


def test_run_writes_a_complete_folder(tmp_path):
    summary = run_config(TINY, tmp_path)
    folder = tmp_path / summary["run_id"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [summary["run_id"]]  # no temporary left
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "metrics.csv", "params.npz", "summary.json"]
    config = tomllib.loads((folder / "config.toml").read_text())
    assert run_id(config) == summary["run_id"] and config["task"]["g_range"] == [1e-4, 1e-3]
    metrics = pd.read_csv(folder / "metrics.csv")
    assert list(metrics["epoch"]) == [0, 1, 2, 3] and list(metrics["steps"]) == [0, 2, 2, 2]
    assert summary["steps"] == 6 and summary["train_loss"] == pytest.approx(metrics["loss"].iloc[-1])
    assert summary["test_accuracy"] is None and summary["status"] == "ok" and summary["wall_s"] > 0 < summary["cpu_s"]
    params = np.load(folder / "params.npz")
    assert params["g"].shape == params["g_device"].shape == (len(params["edges"]),)
    assert json.loads((folder / "summary.json").read_text()) == summary


def test_a_finished_run_is_not_run_again(tmp_path):
    first = run_config(TINY, tmp_path)
    stamp = (tmp_path / first["run_id"] / "summary.json").stat().st_mtime_ns
    assert run_config(TINY, tmp_path) == first
    assert (tmp_path / first["run_id"] / "summary.json").stat().st_mtime_ns == stamp


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    config = {**GRID, "optimizer": {"name": "sgd", "lr": 1e-5}, "hardware": {},  # lr 1e3: g < 0 after a step
              "sweep": {"optimizer.lr": [1e-5, 1e3], "train.seed": [0]}}
    table = sweep(config, tmp_path, workers=1, progress=False)
    assert list(table["status"]) == ["ok", "failed"]
    failed = tmp_path / table["run_id"][1]
    assert sorted(p.name for p in failed.iterdir()) == ["config.toml", "error.json"]
    error = json.loads((failed / "error.json").read_text())
    assert error["status"] == "failed" and "must be finite and > 0" in error["error"]
    assert "must be finite and > 0" in table["error"][1] and pd.isna(table["error"][0])
    ok_stamp = (tmp_path / table["run_id"][0] / "summary.json").stat().st_mtime_ns
    again = sweep(config, tmp_path, workers=1, progress=False)  # the failed run is tried again, not the other
    assert list(again["status"]) == ["ok", "failed"]
    assert (tmp_path / table["run_id"][0] / "summary.json").stat().st_mtime_ns == ok_stamp


def test_results_table_columns(tmp_path):
    table = sweep(GRID, tmp_path, workers=1, progress=False)
    stored = pd.read_parquet(tmp_path / RESULTS)
    pd.testing.assert_frame_equal(table, stored)
    assert list(stored.columns) == ["run_id", "rule.name", "train.seed", "status", "train_loss", "test_loss",
                                    "train_accuracy", "test_accuracy", "epochs", "steps", "stopped", "wall_s",
                                    "cpu_s", "error"]
    assert list(stored["rule.name"]) == ["adjoint", "adjoint", "fp", "fp"]
    assert list(stored["train.seed"]) == [0, 1, 0, 1]
    assert list(stored["run_id"]) == [p.run_id for p in expand(GRID)]


def test_dask_cluster_and_local_pool_give_identical_tables(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = sweep(GRID, tmp_path / "pool", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = sweep(GRID, tmp_path / "dask", scheduler=client, progress=False)
    assert (local["status"] == "ok").all()
    timings = ["wall_s", "cpu_s"]
    pd.testing.assert_frame_equal(local.drop(columns=timings), remote.drop(columns=timings))
    for rid in local["run_id"]:  # bit for bit the same trained conductances
        a, b = (np.load(tmp_path / where / rid / "params.npz") for where in ("pool", "dask"))
        np.testing.assert_array_equal(a["g"], b["g"])


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sweep_killed_with_sigkill_resumes_without_loss_or_doubles(tmp_path):
    config = {**TINY, "task": {**TINY["task"], "n_train": 32}, "train": {"epochs": 40, "batch_size": 8},
              "sweep": {"rule.name": ["adjoint", "fp"], "train.seed": [0, 1, 2, 3]}}
    path = tmp_path / "grid.toml"
    from physnet.experiments.toml_writer import dumps

    path.write_text(dumps(config))
    expected = [p.run_id for p in expand(load(path))]
    out = tmp_path / "out"
    command = [sys.executable, "-m", "physnet.experiments", "sweep", str(path), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*/summary.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-way
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/summary.json")}
    assert 2 <= len(finished) < len(expected)
    pending = next(rid for rid in expected if rid not in finished)
    stale = out / f".{pending}~{socket.gethostname()}~{_dead_pid()}.tmp"  # a half-written run of a dead process
    stale.mkdir()
    (stale / "config.toml").write_text("partial")

    table = sweep(path, out, workers=1, progress=False)

    assert _folders(out) == set(expected)  # every run, nothing else: temporary folders are gone
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert sorted(table["run_id"]) == sorted(expected) and table["run_id"].is_unique
    assert (table["status"] == "ok").all()
    for rid, stamp in finished.items():  # finished runs were not redone
        assert (out / rid / "summary.json").stat().st_mtime_ns == stamp


def test_commands_run_and_export_an_example_config(tmp_path, capsys):
    config = load(ROOT / "experiments" / "fp_xor_diodes.toml")
    config["train"]["epochs"] = 2
    path = tmp_path / "xor.toml"
    from physnet.experiments.toml_writer import dumps

    path.write_text(dumps(config))
    assert main(["run", str(path), "--out", str(tmp_path / "runs")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert (tmp_path / "runs" / summary["run_id"] / "summary.json").exists()
    assert main(["export", str(path), "-o", str(tmp_path / "xor.cir")]) == 0
    system = read_spice(tmp_path / "xor.cir").compile()
    assert len(system["resistor"]) == 6 * 8 + 8 * 2 and len(system["diode"]) == 16


def test_commands_report_bad_config_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[task]\nname = "xor"\n[rule]\nname = "fp"\nbta = 1\n[optimizer]\nname = "sgd"\nlr = 1.0\n')
    assert main(["sweep", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rule.bta" in err and "did you mean 'rule.beta'" in err
