"""``physnet demo`` writes its files and agrees with ngspice (which really runs)."""

from __future__ import annotations

import re

from physnet.cli import main


def test_demo_writes_report_and_matches_ngspice(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert capsys.readouterr().out.strip() == report.strip()
    assert (tmp_path / "diode_network.cir").exists() and (tmp_path / "grid_60x60.cir").exists()
    gaps = [float(x) for x in re.findall(r"max \|V_physnet - V_ngspice\| = (\S+) V", report)]
    assert len(gaps) == 2, report  # ngspice ran for both networks
    assert max(gaps) < 1e-9
