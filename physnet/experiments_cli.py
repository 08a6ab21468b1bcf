"""The experiment subcommands of ``physnet``: ``run``, ``sweep``, ``report`` and ``export``.

:func:`add_commands` registers them on the ``physnet`` argument parser's
subparsers; each sets ``run`` to its handler, which returns the exit status
and raises :class:`~physnet.errors.PhysnetError` subclasses on bad input
(the ``physnet`` entry point prints those on one line and exits with 2).
``python -m physnet.experiments`` runs these commands on their own. This
module lives outside :mod:`physnet.experiments` and imports it only when a
command runs, so that ``physnet --help`` does not load the training stack.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="physnet")
>>> add_commands(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["sweep", "grid.toml", "--workers", "2"])
>>> args.run.__name__, args.workers, args.scheduler
('sweep_command', 2, None)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_commands", "run_command", "sweep_command", "report_command", "export_command"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid worker count {text!r} (an integer >= 1)")
    return value


def _out_dir(args: argparse.Namespace) -> Path:
    """``--out``, else the config's ``output.dir``."""
    from physnet.experiments.config import expand, load

    if args.out is not None:
        return Path(args.out)
    return Path(expand(load(args.config))[0].config["output"]["dir"])


def run_command(args: argparse.Namespace) -> int:
    """``physnet run CONFIG [--out DIR]``: one run; prints its summary as JSON.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from physnet.experiments.toml_writer import dumps
    >>> config = {"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...           "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}}
    >>> with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     _ = (Path(out) / "lr.toml").write_text(dumps(config))
    ...     status = run_command(argparse.Namespace(config=str(Path(out) / "lr.toml"), out=out))
    >>> status, json.loads(printed.getvalue())["steps"]
    (0, 2)
    """
    from physnet.experiments.run import run_config

    summary = run_config(args.config, _out_dir(args), progress=True)
    print(json.dumps(summary, indent=2))
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """``physnet sweep CONFIG [--workers N] [--scheduler ADDRESS] [--out DIR]``: exit 1 if a run failed.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from physnet.experiments.toml_writer import dumps
    >>> config = {"task": {"name": "linear_regression", "n_train": 8, "n_test": 4}, "rule": {"name": "adjoint"},
    ...           "optimizer": {"name": "adam", "lr": 2e-5}, "train": {"epochs": 2}, "sweep": {"train.seed": [0, 1]}}
    >>> with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     _ = (Path(out) / "grid.toml").write_text(dumps(config))
    ...     status = sweep_command(argparse.Namespace(config=str(Path(out) / "grid.toml"), out=out, workers=1,
    ...                                               scheduler=None))
    >>> status, printed.getvalue().split(";")[0]
    (0, '2 of 2 runs finished')
    """
    from physnet.experiments.sweep import RESULTS, sweep

    out = _out_dir(args)
    table = sweep(args.config, out, workers=args.workers, scheduler=args.scheduler)
    failed = table[table["status"] != "ok"]
    print(f"{len(table) - len(failed)} of {len(table)} runs finished; results in {out / RESULTS}")
    for _, row in failed.iterrows():
        print(f"  {row['run_id']}: {row['status']}: {row['error']}")
    return 1 if len(failed) else 0


def report_command(args: argparse.Namespace) -> int:
    """``physnet report DIR``: figures and summary.md; prints the files written.

    Examples
    --------
    A folder without a finished run is bad input (``physnet`` prints the message and exits with 2):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as empty:  # doctest: +ELLIPSIS
    ...     report_command(argparse.Namespace(dir=empty))
    Traceback (most recent call last):
    ...
    physnet.experiments.schema.ConfigError: ...: no finished run (no summary.json in it or in its subfolders)
    """
    from physnet.experiments.report import report

    for path in report(args.dir):
        print(path)
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``physnet export CONFIG -o FILE.cir``: the config's network (a sweep's first point) as a SPICE netlist.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from physnet.experiments.toml_writer import dumps
    >>> from physnet.spice import read_spice
    >>> config = {"task": {"name": "xor", "hidden": 2}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}}
    >>> with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     _ = (Path(out) / "xor.toml").write_text(dumps(config))
    ...     status = export_command(argparse.Namespace(config=str(Path(out) / "xor.toml"), output=f"{out}/xor.cir"))
    ...     summary = read_spice(printed.getvalue().strip()).compile().summary()  # it prints the netlist's path
    >>> status, summary
    (0, '11 nodes, resistor: 16, diode: 4, vsource: 6')
    """
    from physnet.experiments.config import expand, load
    from physnet.experiments.run import build_task
    from physnet.spice import write_spice

    point = expand(load(args.config))[0]
    print(write_spice(build_task(point.config).network, args.output))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``run``, ``sweep``, ``report`` and ``export`` on ``subparsers`` (handlers in ``args.run``).

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="physnet")
    >>> subparsers = parser.add_subparsers(dest="command")
    >>> add_commands(subparsers)
    >>> sorted(subparsers.choices)
    ['export', 'report', 'run', 'sweep']
    >>> args = parser.parse_args(["export", "grid.toml", "-o", "net.cir"])
    >>> args.run.__name__, args.config, args.output
    ('export_command', 'grid.toml', 'net.cir')
    """
    run = subparsers.add_parser("run", help="train one experiment config into its own run folder",
                                description="Validate CONFIG, train, and write config.toml, metrics.csv, "
                                            "params.npz and summary.json into DIR/<run id>/ (atomically).")
    run.add_argument("config", help="experiment config (.toml)")
    run.add_argument("--out", metavar="DIR", help="output folder (default: the config's output.dir)")
    run.set_defaults(run=run_command)

    sweep = subparsers.add_parser("sweep", help="run every point of a config's [sweep] (resumable)",
                                  description="Run the grid of CONFIG's [sweep] on a local process pool or a Dask "
                                              "cluster; finished runs are skipped, so running it again after a "
                                              "crash finishes the rest. Writes DIR/results.parquet.")
    sweep.add_argument("config", help="experiment config (.toml) with a [sweep] table")
    sweep.add_argument("--workers", type=_positive_int, default=1, metavar="N", help="local worker processes")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786)")
    sweep.add_argument("--out", metavar="DIR", help="output folder (default: the config's output.dir)")
    sweep.set_defaults(run=sweep_command)

    report = subparsers.add_parser("report", help="plots and a Markdown table of a sweep or run folder",
                                   description="Write learning curves, accuracy vs swept parameters, conductance "
                                               "maps, FP signal spectra (PNG) and summary.md into DIR.")
    report.add_argument("dir", help="sweep folder, folder of runs, or one run folder")
    report.set_defaults(run=report_command)

    export = subparsers.add_parser("export", help="export a config's network as a SPICE netlist",
                                   description="Build the network of CONFIG's task (for a sweep: its first point) "
                                               "with its initial conductances and write it for ngspice.")
    export.add_argument("config", help="experiment config (.toml)")
    export.add_argument("-o", "--output", required=True, metavar="FILE.cir", help="netlist to write")
    export.set_defaults(run=export_command)
