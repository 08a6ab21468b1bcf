"""The README's Python example runs as printed (one epoch instead of thirty)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_trains_and_passes_the_ngspice_check():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "epochs=30" in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("epochs=30", "epochs=1"), str(README), "exec"), {})
    accuracy, check = out.getvalue().splitlines()
    assert 0.0 <= float(accuracy) <= 1.0
    assert check.startswith("OK op:"), check
