"""``physnet solve --ac/--tran`` and ``physnet check``: JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physnet.cli import main

RC = """rc low-pass
V1 in 0 DC 1 AC 1 SIN(0 1 1k)
R1 in out 1k
C1 out 0 100n
.ac dec 2 100 10k
.tran 1u 1m
.end
"""


@pytest.fixture
def rc(tmp_path: Path) -> Path:
    path = tmp_path / "rc.cir"
    path.write_text(RC)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "physnet.cli", *args], capture_output=True, text=True)


def corner(f: float) -> complex:
    """V(out) of the RC low-pass (τ = 100 µs) driven by 1 V."""
    return 1 / (1 + 2j * np.pi * f * 1e-4)


# ------------------------------------------------------------------ solve --ac / --tran
def test_solve_ac_json_one_frequency(rc, capsys):
    assert main(["solve", str(rc), "--ac", "1e3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["analysis"] == "ac" and payload["freqs"] == [1e3]
    out = payload["nodes"]["out"]
    assert complex(out["re"], out["im"]) == pytest.approx(corner(1e3), rel=1e-12)
    assert set(payload["currents"]) == {"v1"} and set(payload["currents"]["v1"]) == {"re", "im"}


def test_solve_ac_json_several_frequencies(rc, capsys):
    assert main(["solve", str(rc), "--ac", "100", "1591.5", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    values = [complex(z["re"], z["im"]) for z in payload["nodes"]["out"]]
    np.testing.assert_allclose(values, [corner(100), corner(1591.5)], rtol=1e-12)


def test_solve_tran_json_has_time_and_waveforms(rc, capsys):
    assert main(["solve", str(rc), "--tran", "1e-5", "1e-3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["analysis"] == "tran"
    t = np.array(payload["time"])
    assert len(t) == 101 and t[-1] == pytest.approx(1e-3)
    np.testing.assert_allclose(payload["nodes"]["in"], np.sin(2 * np.pi * 1e3 * t), atol=1e-12)
    assert len(payload["nodes"]["out"]) == len(payload["currents"]["v1"]) == 101


def test_solve_text_output(rc, capsys):
    assert main(["solve", str(rc), "--ac", "1e3"]) == 0
    out = capsys.readouterr().out
    assert "v(out)" in out and "j" in out and "1000 Hz" in out
    assert main(["solve", str(rc), "--tran", "1e-5", "1e-4"]) == 0
    assert "final values" in capsys.readouterr().out


# ------------------------------------------------------------------ check
@pytest.mark.parametrize("analysis", ["op", "ac", "tran"])
def test_check_agrees_and_exits_0(rc, capsys, analysis):
    assert main(["check", str(rc), "--analysis", analysis, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True and payload["analysis"] == analysis
    assert set(payload["nodes"]) == {"in", "out"}
    assert payload["summary"].startswith("OK")


def test_check_text_and_given_frequencies(rc, capsys):
    assert main(["check", str(rc), "--analysis", "ac", "--freqs", "50", "5e4"]) == 0
    out = capsys.readouterr().out
    assert "OK ac: 2 nodes x 2 points" in out and "ngspice" in out


def test_check_outside_tolerance_exits_1(rc):
    proc = run_cli("check", str(rc), "--analysis", "tran", "--atol", "0", "--rtol", "0")
    assert proc.returncode == 1, proc.stderr
    assert "FAIL tran" in proc.stdout and "worst node" in proc.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["check", "{path}", "--analysis", "dc"], "invalid choice"),
        (["solve", "{path}", "--ac", "-5"], "must be a finite number > 0"),
        (["solve", "{path}", "--ac", "abc"], "not a number"),
        (["solve", "{path}", "--tran", "1e-6"], "expected 2 arguments"),
        (["solve", "{path}", "--ac", "1e3", "--tran", "1e-6", "1e-3"], "not allowed with"),
        (["check", "{bare}", "--analysis", "ac"], "no .ac analysis"),
        (["check", "{bare}", "--analysis", "tran"], "no .tran analysis"),
        (["check", "{evil}"], ".control"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, rc, args, fragment):
    marker = tmp_path / "executed"
    bare = tmp_path / "bare.cir"
    bare.write_text("bare\nV1 a 0 1\nR1 a 0 1k\n.end\n")
    evil = tmp_path / "evil.cir"
    evil.write_text(f"evil\nV1 a 0 1\nR1 a 0 1k\n.control\nshell touch {marker}\n.endc\n.end\n")
    proc = run_cli(*(a.format(path=rc, bare=bare, evil=evil) for a in args))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert fragment in lines[0]
    assert not marker.exists()


def test_help_lists_check():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "check" in proc.stdout
    proc = run_cli("solve", "--help")
    assert "--ac" in proc.stdout and "--tran" in proc.stdout
