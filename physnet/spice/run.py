"""Run ngspice on a netlist physnet wrote, and read its raw output.

Two engines give the same :class:`NgspiceRun`: ``"batch"`` (the default)
starts ``ngspice -b -r out.raw`` as a subprocess, ``"shared"`` runs the
ngspice shared library in this process through PySpice
(:mod:`physnet.spice.shared`, which says why it is not the default).
``"auto"`` uses the shared library when it loads and batch mode otherwise.

Only netlists produced by :func:`physnet.spice.format_spice` (plus analysis
and option cards physnet writes itself) reach ngspice: no user ``.control``
block is ever passed through.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from physnet.errors import NgspiceError
from physnet.netlist import Netlist
from physnet.spice.names import node_names
from physnet.spice.raw import RawPlot, read_raw
from physnet.spice.write import format_spice
from physnet.system import System

__all__ = ["NgspiceRun", "ngspice_path", "run_ngspice", "validation_deck", "ngspice_names", "VALIDATION_OPTIONS",
           "ENGINES"]

ENGINES = ("batch", "shared", "auto")
"""How :func:`run_ngspice` runs ngspice (see the module docstring)."""

VALIDATION_OPTIONS = ".options reltol=1e-9 abstol=1e-15 vntol=1e-12 gmin=1e-12 itl1=500"
"""Tight tolerances used when physnet validates against ngspice."""

INSTALL_HINT = "install it with 'apt-get install ngspice' (or run 'make install')"


@dataclass(frozen=True, eq=False)
class NgspiceRun:
    """Output of one ngspice batch run.

    Attributes
    ----------
    plots : list of RawPlot
        Every plot of the raw file, in order.
    stdout : str
        ngspice's console output.
    seconds : float
        Wall time of the ngspice process (parse + analysis + raw output).

    Examples
    --------
    >>> run = run_ngspice("divider\\nV1 a 0 DC 1\\nR1 a b 1k\\nR2 b 0 3k\\n.op\\n.end\\n")
    >>> [plot.name for plot in run.plots], run.plots[0].variables, float(run.plots[0]["v(b)"][0])
    (['Operating Point'], ('v(a)', 'v(b)', 'i(v1)'), 0.75)
    >>> bool(run.stdout), run.seconds > 0
    (True, True)
    """

    plots: list[RawPlot]
    stdout: str
    seconds: float


def validation_deck(network: Netlist | System, analyses, options: str = VALIDATION_OPTIONS) -> str:
    """The netlist physnet writes for ``network`` plus ``options`` and the given analysis cards.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist("d")
    >>> net.vsource("V1", "a", "0", dc=1.0)
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> validation_deck(net, [("op",)]).splitlines()[-3:]
    ['.op', '.options reltol=1e-9 abstol=1e-15 vntol=1e-12 gmin=1e-12 itl1=500', '.end']
    """
    text = format_spice(network, analyses=analyses)
    end = ".end\n"
    if not text.endswith(end):
        raise NgspiceError("format_spice output does not end with '.end'")
    return f"{text[: -len(end)]}{options}\n{end}"


def ngspice_names(system: System) -> dict[str, str]:
    """Map each physnet node name to the name ngspice reports for it (escaped, lowercase).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "In", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["In", "v+"], ["v+", "0"], r=[1.0, 1.0])
    >>> ngspice_names(net.compile())
    {'0': '0', 'In': 'in', 'v+': 'v_x2b_'}
    """
    return {ours: theirs.lower() for ours, theirs in zip(system.node_names, node_names(system.node_names))}


def ngspice_path() -> str:
    """Path of the ``ngspice`` executable; :class:`NgspiceError` with the install command if missing.

    Examples
    --------
    >>> import pathlib
    >>> pathlib.Path(ngspice_path()).stem
    'ngspice'
    """
    path = shutil.which("ngspice")
    if path is None:
        raise NgspiceError(f"ngspice is not on PATH: {INSTALL_HINT}")
    return path


def run_ngspice(netlist_text: str, *, timeout: float = 600.0, workdir: str | Path | None = None,
                engine: str = "batch") -> NgspiceRun:
    """Run ngspice on ``netlist_text`` and return every plot it wrote.

    Parameters
    ----------
    netlist_text : str
        A complete netlist (title line to ``.end``) written by physnet.
    timeout : float, optional
        Seconds before ngspice is stopped and :class:`NgspiceError` raised.
    workdir : path, optional
        Folder for the netlist and raw file of batch mode (a temporary one by default).
    engine : {"batch", "shared", "auto"}, optional
        ``ngspice -b -r out.raw`` in a subprocess, the shared library in this
        process, or the shared library when it loads and batch mode otherwise.

    Returns
    -------
    NgspiceRun

    Raises
    ------
    NgspiceError
        ngspice is missing (the message names the install command), timed
        out, failed, or wrote no raw file.

    Examples
    --------
    >>> deck = "divider\\nV1 a 0 DC 1\\nR1 a b 1k\\nR2 b 0 3k\\n.op\\n.end\\n"
    >>> [float(run_ngspice(deck, engine=e).plots[0]["v(b)"][0]) for e in ("batch", "shared")]
    [0.75, 0.75]
    """
    if engine not in ENGINES:
        raise NgspiceError(f"unknown ngspice engine {engine!r} ({', '.join(ENGINES)})")
    if engine != "batch":
        from physnet.spice.shared import run_shared, shared_available

        if engine == "shared" or shared_available():
            return run_shared(netlist_text, timeout=timeout)
    return _run_batch(netlist_text, timeout, workdir)


def _run_batch(netlist_text: str, timeout: float, workdir: str | Path | None) -> NgspiceRun:
    """``ngspice -b -r out.raw circuit.cir`` in ``workdir`` (or a temporary folder)."""
    exe = ngspice_path()
    with tempfile.TemporaryDirectory(prefix="physnet-ngspice-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        cir, raw = folder / "circuit.cir", folder / "out.raw"
        cir.write_text(netlist_text)
        start = time.perf_counter()
        try:
            proc = subprocess.run([exe, "-b", "-r", str(raw), str(cir)], capture_output=True, text=True,
                                  timeout=timeout, cwd=folder)
        except subprocess.TimeoutExpired:
            raise NgspiceError(f"ngspice timed out after {timeout:g} s") from None
        seconds = time.perf_counter() - start
        output = proc.stdout + proc.stderr
        if proc.returncode != 0 or not raw.exists():
            tail = "\n".join(line for line in output.splitlines() if "rror" in line)[-800:]
            raise NgspiceError(f"ngspice failed (exit {proc.returncode}): {tail or output[-800:]}")
        return NgspiceRun(read_raw(raw), output, seconds)
