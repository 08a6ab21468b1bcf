"""Reports: the figures and the Markdown table of a sweep, of one run; FP spectra show the physics."""

from __future__ import annotations

import numpy as np
import pytest

from physnet.experiments.config import resolve
from physnet.experiments.report import fp_spectrum, load_runs, report, versus_points
from physnet.experiments.run import build_task, run_config
from physnet.experiments.sweep import sweep

PNG = b"\x89PNG\r\n\x1a\n"
GRID = {"task": {"name": "xor", "hidden": 3}, "rule": {"name": "fp"}, "optimizer": {"name": "adam", "lr": 1e-5},
        "hardware": {"bounds": [1e-6, 1e-2]}, "train": {"epochs": 3},
        "sweep": {"rule.name": ["fp", "coupled"], "optimizer.lr": [1e-5, 3e-5], "train.seed": [0, 1]}}


def test_sweep_report_writes_every_figure_and_the_table(tmp_path):
    table = sweep(GRID, tmp_path, workers=1, progress=False)
    files = report(tmp_path)
    names = sorted(p.name for p in files)
    assert names == ["conductances.png", "fp_spectrum.png", "learning_curves.png", "summary.md",
                     "vs_optimizer_lr.png", "vs_rule_name.png"]
    for path in files:
        assert path.parent == tmp_path and path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG
    summary = (tmp_path / "summary.md").read_text()
    for rid in table["run_id"]:
        assert f"| {rid} |" in summary
    assert "| run | rule | optimizer.lr | train.seed | train_loss |" in summary


def test_report_of_one_run_folder_without_fp_says_so(tmp_path):
    config = {key: value for key, value in GRID.items() if key != "sweep"}
    summary = run_config({**config, "rule": {"name": "coupled"}}, tmp_path)
    files = report(tmp_path / summary["run_id"])
    assert sorted(p.name for p in files) == ["conductances.png", "learning_curves.png", "summary.md"]
    assert "FP spectrum skipped" in (tmp_path / summary["run_id"] / "summary.md").read_text()
    assert [run.run_id for run in load_runs(tmp_path)] == [summary["run_id"]]


def test_a_key_one_rule_sets_is_plotted_for_that_rule_only(tmp_path):
    config = {**{k: v for k, v in GRID.items() if k != "sweep"}, "train": {"epochs": 1},
              "sweep": {"rule": [{"name": "fp", "beta": 1e-3}, {"name": "fp", "beta": 1e-2}, {"name": "adjoint"}]}}
    sweep(config, tmp_path, workers=1, progress=False)
    names = [p.name for p in report(tmp_path)]
    assert "vs_rule_beta.png" in names
    runs = load_runs(tmp_path)
    assert sorted(run.rule for run in runs) == ["adjoint", "fp", "fp"]
    points = versus_points(runs, "rule.beta", list(runs[0].swept), "test_accuracy")
    assert list(points) == ["fp"]  # the adjoint run has no beta: no curve, no "None" on the axis
    assert points["fp"][0] == [1e-3, 1e-2]
    accuracies = {run.swept["rule.beta"]: run.summary["test_accuracy"] for run in runs if run.rule == "fp"}
    assert points["fp"][1] == [accuracies[1e-3], accuracies[1e-2]]


def _line(spectrum, f):
    return spectrum.amplitude[np.argmin(np.abs(spectrum.freqs - f))]


@pytest.mark.parametrize(("task", "mixing"), [("linear_regression", False), ("xor", True)])
def test_fp_spectrum_has_both_tones_and_mixing_only_with_diodes(task, mixing):
    config = resolve({"task": {"name": task}, "rule": {"name": "fp", "beta": 1e-2},
                      "optimizer": {"name": "sgd", "lr": 1.0}})
    system = build_task(config).network
    s = fp_spectrum(config, system["resistor"]["g"], system["resistor"].names)
    f_a, f_b = s.f_a, s.f_b
    assert _line(s, f_a) > 1e-3 and _line(s, f_b) > 1e-9  # the activation and the error line
    # every source carries the same cos(2π f_A t) and the diodes are antiparallel: the response is odd in
    # the activation, so the diodes make odd harmonics and the error line mixes with 2 f_A
    products = max(_line(s, 3 * f_a), _line(s, f_b + 2 * f_a), _line(s, abs(f_b - 2 * f_a)))
    assert (products > 1e-6 * _line(s, f_a)) == mixing
