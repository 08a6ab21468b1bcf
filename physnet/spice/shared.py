"""Run ngspice in-process through PySpice's binding of the shared library ``libngspice``.

The netlist (always one physnet wrote) is handed to ngspice with
``ngSpice_Circ``, run in ngspice's background thread so that a timeout can
halt it, and every plot is written with ngspice's own ``write`` command as a
binary raw file and read by :func:`physnet.spice.raw.read_raw` — the same
reader and the same :class:`~physnet.spice.run.NgspiceRun` as batch mode.

Why batch mode stays the default (:func:`physnet.spice.run.run_ngspice`):

* ``libngspice`` is one process-wide instance: circuits, plots and options
  live in global C state, so runs are serialised by a lock, and a crash in
  ngspice takes the Python process down with it;
* PySpice 1.5 does not know ngspice > 34 (it warns on every start), its
  background-thread callback returns nothing (cffi prints an error on every
  run) and reads ngspice's inverted "thread running" flag as is, and its
  ``exec_command`` calls any command failed whose output has a line on
  stderr — ngspice's harmless "Note:" lines included. Trusting that for
  ``bg_run`` tore circuits down under a running analysis and, once in a
  full test-suite run, returned a wrong waveform. physnet therefore
  overrides the callback, sends commands with ``ngSpice_Command`` itself and
  judges failure from ngspice's ``Error`` lines, as batch mode does.

The shared path saves the process start (tens of ms per run), which matters
for many small runs (property-based tests); results are identical.
"""

from __future__ import annotations

import ctypes.util
import logging
import tempfile
import threading
import time
from pathlib import Path

from physnet.errors import NgspiceError
from physnet.spice.raw import RawPlot, read_raw

__all__ = ["run_shared", "shared_available", "LIBRARY_HINT"]

LIBRARY_HINT = "install it with 'apt-get install libngspice0' (and 'pip install PySpice')"

_LOCK = threading.Lock()
_ENGINE: list = []  # the one engine of this process, created on first use


def _engine():
    """The process-wide ngspice instance (created once, output captured, PySpice's logger silenced)."""
    if _ENGINE:
        return _ENGINE[0]
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as exc:
        raise NgspiceError(f"PySpice is not importable ({exc}): {LIBRARY_HINT}") from None
    library = ctypes.util.find_library("ngspice")
    if library is None:
        raise NgspiceError(f"the ngspice shared library (libngspice) was not found: {LIBRARY_HINT}")
    for name in (NgSpiceShared.__module__, f"{NgSpiceShared.__module__}.{NgSpiceShared.__name__}"):
        quiet = logging.getLogger(name)  # PySpice logs every ngspice stderr line; physnet reports the errors itself
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False

    class Engine(NgSpiceShared):
        LIBRARY_PATH = library

        finished = threading.Event()

        @staticmethod
        def _background_thread_running(not_running, ngspice_id, user_data):
            # ngspice passes False when its background thread starts and True when it ends; PySpice's
            # version stores that flag as "running" and returns None, which cffi reports on stderr.
            if not_running:
                ffi.from_handle(user_data).finished.set()
            return 0

        def command(self, text: str) -> None:
            """Send one command; unlike PySpice's exec_command, a "Note:" on stderr is not a failure."""
            self.clear_output()
            if self._ngspice_shared.ngSpice_Command(text.encode("ascii")):
                raise NgspiceError(f"ngspice (shared library) refused the command {text!r}")

        def running(self) -> bool:
            return bool(self._ngspice_shared.ngSpice_running())

    try:
        engine = Engine(ngspice_id=0)
        engine.command("set filetype=binary")
    except OSError as exc:
        raise NgspiceError(f"the ngspice shared library {library!r} cannot be loaded ({exc}): {LIBRARY_HINT}") from None
    _ENGINE.append(engine)
    return engine


def shared_available() -> bool:
    """Whether PySpice and the ngspice shared library load in this process.

    Examples
    --------
    >>> shared_available()
    True
    """
    try:
        _engine()
    except NgspiceError:
        return False
    return True


def _errors(engine) -> str:
    lines = [line for line in (engine.stdout + "\n" + engine.stderr).splitlines() if "rror" in line]
    return "\n".join(lines)[-800:]


def _run(engine, timeout: float) -> None:
    """Run the loaded circuit in ngspice's background thread; halt it and raise after ``timeout`` seconds."""
    engine.finished.clear()
    engine.command("bg_run")
    done = engine.finished.wait(timeout)
    if not done:
        engine.command("bg_halt")
        engine.finished.wait()
    while engine.running():  # the thread reports its end just before it returns
        time.sleep(1e-4)
    if not done:
        raise NgspiceError(f"ngspice (shared library) timed out after {timeout:g} s")


def _reset(engine) -> None:
    """Free the run's plots and circuit, whatever state a failed run left them in."""
    engine.command("destroy all")
    engine.command("remcirc")


def _plots(engine, folder: Path) -> list[RawPlot]:
    """Write every plot of the run (oldest first) as a raw file and read it back."""
    names = [name for name in reversed(engine.plot_names) if name != "const"]
    plots = []
    for k, name in enumerate(names):
        path = folder / f"plot{k}.raw"
        engine.command(f"setplot {name}")
        engine.command(f"write {path} all")
        if not path.exists():
            raise NgspiceError(f"ngspice (shared library) did not write plot {name!r}: {_errors(engine)}")
        plots += read_raw(path)
    return plots


def run_shared(netlist_text: str, *, timeout: float = 600.0):
    """Run a physnet-written netlist in the ngspice shared library; same result as batch mode.

    Parameters
    ----------
    netlist_text : str
        A complete netlist (title line to ``.end``) written by physnet.
    timeout : float, optional
        Seconds before the analysis is halted and :class:`NgspiceError` raised.

    Returns
    -------
    physnet.spice.run.NgspiceRun

    Raises
    ------
    NgspiceError
        PySpice or libngspice is missing, the circuit or an analysis failed,
        or the run timed out.

    Examples
    --------
    >>> run = run_shared("divider\\nV1 a 0 DC 1\\nR1 a b 1k\\nR2 b 0 3k\\n.op\\n.end\\n")
    >>> run.plots[0].name, round(float(run.plots[0]["v(b)"][0]), 12)
    ('Operating Point', 0.75)
    """
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError

    from physnet.spice.run import NgspiceRun

    with _LOCK, tempfile.TemporaryDirectory(prefix="physnet-ngspice-") as tmp:
        engine = _engine()
        start = time.perf_counter()
        try:
            try:
                engine.load_circuit(netlist_text)
            except NgSpiceCircuitError:
                raise NgspiceError(f"ngspice (shared library) cannot read the circuit: {_errors(engine)}") from None
            _run(engine, timeout)
            seconds = time.perf_counter() - start
            output = engine.stdout + "\n" + engine.stderr
            if any(line.startswith("Error") or "aborted" in line for line in output.splitlines()):
                raise NgspiceError(f"ngspice (shared library) failed: {_errors(engine) or output[-800:]}")
            plots = _plots(engine, Path(tmp))
        finally:
            _reset(engine)
        if not plots:
            raise NgspiceError(f"ngspice (shared library) produced no plot: {output[-800:]}")
        return NgspiceRun(plots, output, seconds)
