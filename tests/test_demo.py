"""``physnet demo --quick``: the main job's whole path, with ngspice really running."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from physnet.cli import main
from physnet.demo import RULES


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(folder)]) == 0
    return folder


def test_demo_trains_every_rule_checks_with_ngspice_and_reports(demo_dir):
    report = (demo_dir / "report.md").read_text()
    table = pd.read_parquet(demo_dir / "results.parquet")
    assert sorted(table["rule.name"]) == sorted(RULES)
    assert (table["status"] == "ok").all()
    assert table["run_id"].is_unique
    for rule in RULES:
        assert f"| {rule} | ok |" in report

    checked = json.loads((demo_dir / "cross_check.json").read_text())
    assert checked["samples"] == 3
    assert checked["within_tolerance"] and checked["same_classes"]
    assert checked["max_abs"] < 1e-9  # ngspice and physnet on the FP-trained network
    for name in ("learning_curves.png", "conductances.png", "fp_spectrum.png", "summary.md"):
        assert (demo_dir / name).stat().st_size > 0


def test_demo_again_resumes_without_retraining_and_prints_the_report(demo_dir, capsys):
    runs = {p.name: p.stat().st_mtime_ns for p in demo_dir.glob("demo-*")}
    assert len(runs) == len(RULES)
    assert main(["demo", "--quick", "--out", str(demo_dir)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in demo_dir.glob("demo-*")} == runs
    assert capsys.readouterr().out.strip() == (demo_dir / "report.md").read_text().strip()
