"""The user guide's Python blocks run in order, and print what the guide says they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"


def _printed(line: str) -> list[str]:
    """What a ``print(...)  # a, b: why`` line claims to print (the comment up to its first colon)."""
    claim = line.split("#", 1)[1].split(":", 1)[0].strip()
    return [part.strip() for part in claim.split(",")]


def test_guide_runs_and_prints_what_it_claims(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(GUIDE), "exec"), namespace)
        claims = [_printed(line) for line in block.splitlines() if line.startswith(("print(", "    print(")) and "#" in line]
        printed = out.getvalue().split()
        expected = [word for claim in claims for part in claim for word in part.split()]
        assert " ".join(printed).replace(",", "") == " ".join(expected).replace(",", ""), block
