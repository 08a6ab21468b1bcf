"""The ``physnet`` command: JSON contract, text output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from physnet.cli import main

DIVIDER = """voltage divider
V1 in 0 DC 1.5
R1 in out 1k
R2 out 0 2k
.op
.end
"""


@pytest.fixture
def divider(tmp_path: Path) -> Path:
    path = tmp_path / "divider.cir"
    path.write_text(DIVIDER)
    return path


def test_solve_json_follows_the_contract(divider, capsys):
    assert main(["solve", str(divider), "--op", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["analysis"] == "op"
    assert payload["nodes"]["out"] == pytest.approx(1.0, rel=1e-14)
    assert payload["nodes"]["in"] == pytest.approx(1.5, rel=1e-14)
    # SPICE convention: a source delivering power carries negative current.
    assert payload["currents"]["v1"] == pytest.approx(-0.5e-3, rel=1e-14)
    assert "0" not in payload["nodes"]


def test_solve_text_lists_every_node(divider, capsys):
    assert main(["solve", str(divider)]) == 0
    out = capsys.readouterr().out
    assert "v(out)" in out and "i(v1)" in out


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("t\nR1 a 0 1k\nI1 0 b 1m\n.end\n", "floating"),
        ("t\nR1 a 0 1k\n.control\nshell touch x\n.endc\n.end\n", ".control"),
        ("t\nX1 a 0 sub\n.end\n", "not supported"),
        ("t\nR1 a 0 0\n.end\n", "r1"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, text, fragment):
    path = tmp_path / "bad.cir"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "physnet.cli", "solve", str(path), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert fragment in lines[0].lower()


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "nope.cir")]) == 2
    assert "nope.cir" in capsys.readouterr().err


def test_help_lists_commands():
    proc = subprocess.run([sys.executable, "-m", "physnet.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for command in ("solve", "check", "gradcheck", "demo", "run", "sweep", "report", "export"):
        assert command in proc.stdout


def test_building_the_command_line_loads_no_numerical_library():
    # `physnet --help` and argument errors stay instant: the physics is imported when a command runs.
    heavy = ("numpy", "scipy", "numba", "networkx", "cvxopt", "pandas", "matplotlib", "physnet.experiments")
    code = ("import sys; from physnet.cli import build_parser; build_parser(); "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
