"""Reader of SPICE raw files (ngspice ``-r out.raw``), binary or ASCII, real or complex."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NgspiceError

__all__ = ["RawPlot", "read_raw"]


@dataclass(frozen=True, eq=False)
class RawPlot:
    """One plot of a raw file.

    Attributes
    ----------
    name : str
        Plot name, e.g. ``"Operating Point"`` or ``"Transient Analysis"``.
    variables : tuple of str
        Variable names as ngspice writes them (``v(n1)``, ``i(v1)``, ``time``).
    data : ndarray, shape (n_points, n_variables)
        Values (complex for AC plots).

    Examples
    --------
    >>> from physnet.spice.run import run_ngspice
    >>> plot = run_ngspice("divider\\nV1 a 0 DC 1\\nR1 a b 1k\\nR2 b 0 3k\\n.op\\n.end\\n").plots[0]
    >>> plot.name, plot.data.shape, float(plot["V(b)"][0])
    ('Operating Point', (1, 3), 0.75)
    >>> plot.node_voltages()["b"].tolist(), plot.source_currents()["v1"].round(12).tolist()
    ([0.75], [-0.00025])
    """

    name: str
    variables: tuple[str, ...]
    data: NDArray

    def __getitem__(self, variable: str) -> NDArray:
        """Column of ``variable`` (case-insensitive)."""
        key = variable.lower()
        for i, name in enumerate(self.variables):
            if name.lower() == key:
                return self.data[:, i]
        raise KeyError(f"raw plot {self.name!r} has no variable {variable!r}")

    def node_voltages(self) -> dict[str, NDArray]:
        """Columns ``v(name)`` keyed by node name (lowercase, as ngspice writes them)."""
        out = {}
        for i, name in enumerate(self.variables):
            low = name.lower()
            if low.startswith("v(") and low.endswith(")"):
                out[low[2:-1]] = self.data[:, i]
        return out

    def source_currents(self) -> dict[str, NDArray]:
        """Columns ``i(name)`` (or ``name#branch``) keyed by element name (lowercase)."""
        out = {}
        for i, name in enumerate(self.variables):
            low = name.lower()
            if low.startswith("i(") and low.endswith(")"):
                out[low[2:-1]] = self.data[:, i]
            elif low.endswith("#branch"):
                out[low[: -len("#branch")]] = self.data[:, i]
        return out


def read_raw(path: str | Path) -> list[RawPlot]:
    """Read every plot of a SPICE raw file.

    Parameters
    ----------
    path : str or Path
        File written by ``ngspice -b -r path``.

    Returns
    -------
    list of RawPlot

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from physnet.spice.run import run_ngspice
    >>> with tempfile.TemporaryDirectory() as tmp:  # batch mode leaves its out.raw in the workdir
    ...     _ = run_ngspice("divider\\nV1 a 0 DC 1\\nR1 a b 1k\\nR2 b 0 3k\\n.op\\n.end\\n", workdir=tmp)
    ...     plots = read_raw(pathlib.Path(tmp) / "out.raw")
    >>> len(plots), plots[0].variables, float(plots[0]["v(b)"][0])
    (1, ('v(a)', 'v(b)', 'i(v1)'), 0.75)
    """
    blob = Path(path).read_bytes()
    plots, pos = [], 0
    while pos < len(blob):
        header: dict[str, str] = {}
        variables: list[str] = []
        while True:
            end = blob.index(b"\n", pos)
            line = blob[pos:end].decode("latin-1")
            pos = end + 1
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "variables":
                count = int(header["no. variables"])
                for _ in range(count):
                    end = blob.index(b"\n", pos)
                    fields = blob[pos:end].decode("latin-1").split()
                    pos = end + 1
                    variables.append(fields[1])
                continue
            if key in ("binary", "values"):
                break
            header[key] = value.strip()
        n_vars, n_points = int(header["no. variables"]), int(header["no. points"])
        is_complex = "complex" in header.get("flags", "").lower()
        if key == "binary":
            dtype = np.complex128 if is_complex else np.float64
            size = n_vars * n_points * np.dtype(dtype).itemsize
            data = np.frombuffer(blob[pos:pos + size], dtype=dtype).reshape(n_points, n_vars)
            pos += size
        else:
            data, pos = _ascii_values(blob, pos, n_vars, n_points, is_complex)
        data = data.copy()
        if is_complex and n_vars:
            data[:, 0] = data[:, 0].real  # the scale (frequency) is real; ngspice leaves its imaginary part unset
        plots.append(RawPlot(header.get("plotname", ""), tuple(variables), data))
        while pos < len(blob) and blob[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1
    if not plots:
        raise NgspiceError(f"{path}: no plot found in raw file")
    return plots


def _ascii_values(blob: bytes, pos: int, n_vars: int, n_points: int, is_complex: bool):
    dtype = np.complex128 if is_complex else np.float64
    data = np.zeros((n_points, n_vars), dtype=dtype)
    for p in range(n_points):
        for v in range(n_vars):
            end = blob.index(b"\n", pos)
            fields = blob[pos:end].decode("latin-1").split()
            pos = end + 1
            text = fields[-1]
            if is_complex:
                re, im = text.split(",")
                data[p, v] = complex(float(re), float(im))
            else:
                data[p, v] = float(text)
    return data, pos
