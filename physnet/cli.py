"""The ``physnet`` command.

Bad input exits with status 2 and a one-line message on stderr (no
traceback); a solver that does not converge, or a ``check`` outside its
tolerance, exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from physnet.errors import ConvergenceError, PhysnetError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``physnet`` command (all subcommands).

    Examples
    --------
    >>> parser = build_parser()
    >>> args = parser.parse_args(["solve", "divider.cir", "--ac", "1e3", "1e4"])
    >>> args.command, args.netlist, args.ac, args.op
    ('solve', 'divider.cir', [1000.0, 10000.0], False)
    >>> parser.parse_args(["sweep", "grid.toml"]).workers  # the experiment commands are registered too
    1
    """
    parser = _Parser(
        prog="physnet",
        description="Simulate and train physical-learning networks; cross-check them against ngspice.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    solve = sub.add_parser("solve", help="solve a SPICE netlist (operating point, AC or transient)",
                           description="Solve a SPICE netlist with physnet and print node voltages and "
                                       "voltage-source currents (AC values as complex phasors).")
    solve.add_argument("netlist", help="SPICE netlist (.cir)")
    which = solve.add_mutually_exclusive_group()
    which.add_argument("--op", action="store_true", help="DC operating point (the default)")
    which.add_argument("--ac", nargs="+", type=_frequency, metavar="HZ", help="small-signal AC at these frequencies")
    which.add_argument("--tran", nargs=2, type=_seconds, metavar=("STEP", "STOP"),
                       help="transient analysis with a fixed step from 0 to STOP")
    solve.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    solve.set_defaults(run=_solve)

    check = sub.add_parser("check", help="solve a netlist with physnet and with ngspice and compare every node",
                           description="Run the same analysis in physnet and in ngspice (tight tolerances) and "
                                       "compare every node voltage; exit status 1 when a difference is outside "
                                       "the tolerance.")
    check.add_argument("netlist", help="SPICE netlist (.cir)")
    check.add_argument("--analysis", choices=("op", "ac", "tran"), default="op", help="which analysis (default op)")
    check.add_argument("--freqs", nargs="+", type=_frequency, metavar="HZ",
                       help="AC frequencies (default: the netlist's .ac sweep)")
    check.add_argument("--tran", nargs=2, type=_seconds, metavar=("STEP", "STOP"),
                       help="transient step and stop time (default: the netlist's .tran)")
    check.add_argument("--atol", type=float, default=None, help="absolute tolerance (V)")
    check.add_argument("--rtol", type=float, default=None, help="relative tolerance")
    check.add_argument("--engine", choices=("batch", "shared", "auto"), default="batch",
                       help="run ngspice as a subprocess (batch, default) or as the shared library")
    check.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    check.set_defaults(run=_check)

    grad = sub.add_parser("gradcheck", help="compare gradient methods (FP, adjoint, EP, finite differences)",
                          description="dC/dg of C = ½Σ(v_out - y)² for the resistors of a netlist, by several "
                                      "methods, with cosine and relative error against the adjoint gradient. "
                                      "Inputs are the netlist's own sources.")
    grad.add_argument("netlist", help="SPICE netlist (.cir)")
    grad.add_argument("--outputs", required=True, help="comma-separated output nodes")
    grad.add_argument("--targets", required=True, help="comma-separated target voltages, one per output")
    grad.add_argument("--trainable", default=None, help="only resistors whose name starts with PREFIX")
    grad.add_argument("--methods", default="fp,adjoint,ep,fd", help="comma-separated: fp, adjoint, ep, "
                      "ep-centered, fd (default: fp,adjoint,ep,fd)")
    grad.add_argument("--beta", type=float, default=1e-3, help="error / nudge amplitude for FP and EP")
    grad.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    grad.set_defaults(run=_gradcheck)

    demo = sub.add_parser("demo", help="the main job: train a diode network by FP, compare rules, check with ngspice",
                          description="Train Iris on a diode network with frequency propagation, EP, coupled "
                                      "learning and the exact gradient side by side; cross-check the FP-trained "
                                      "network against ngspice; write plots and report.md.")
    demo.add_argument("--out", default="physnet-demo", help="folder for the demo's files (default physnet-demo)")
    demo.add_argument("--quick", action="store_true", help="two epochs and three checked samples (a smoke test)")
    demo.set_defaults(run=_demo)

    from physnet.experiments_cli import add_commands

    add_commands(sub)  # run, sweep, report, export
    return parser


def _positive(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} {text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{what} {text!r} must be a finite number > 0")
    return value


def _frequency(text: str) -> float:
    return _positive(text, "frequency")


def _seconds(text: str) -> float:
    return _positive(text, "time")


def _solve(args: argparse.Namespace) -> int:
    from physnet.spice import read_spice

    system = read_spice(args.netlist).compile()
    if args.ac:
        from physnet.solvers.phasor import solve_ac

        result = solve_ac(system, args.ac)
        keys, title = ("analysis", "freqs", "nodes", "currents"), f"AC phasors of {args.netlist}"
    elif args.tran:
        from physnet.solvers.transient import solve_transient

        result = solve_transient(system, *args.tran)
        keys, title = ("analysis", "time", "nodes", "currents"), f"transient of {args.netlist}, final values"
    else:
        from physnet.solvers.dc import solve_dc

        result = solve_dc(system)
        keys, title = ("analysis", "nodes", "currents"), f"DC operating point of {args.netlist}"
    payload = result.as_dict()
    if args.json:
        print(json.dumps({k: payload[k] for k in keys}))
        return 0
    print(f"{title} ({result.message}; KCL residual {result.residual:.2e} A)")
    _print_values(payload, args.ac)
    return 0


def _print_values(payload: dict, freqs: list[float] | None) -> None:
    """Text table of ``payload``'s nodes and currents: one column per frequency, or the last time point."""
    width = max((len(n) for n in [*payload["nodes"], *payload["currents"]]), default=4)
    if freqs:
        print(" " * (width + 3) + "".join(f"{f:>28.6g} Hz" for f in freqs))

    def cell(value) -> str:
        if isinstance(value, dict):
            return f"{value['re']: .6e}{value['im']:+.6e}j"
        return f"{value: .9e}"

    for prefix, unit, table in (("v", "V", payload["nodes"]), ("i", "A", payload["currents"])):
        for name, value in table.items():
            if isinstance(value, list) and freqs is None:
                value = value[-1]  # transient: the final time point
            cells = "  ".join(cell(v) for v in value) if isinstance(value, list) else cell(value)
            print(f"  {prefix}({name}){' ' * (width - len(name))} = {cells} {unit}")


def _check(args: argparse.Namespace) -> int:
    from physnet.spice.check import check

    step, stop = args.tran if args.tran else (None, None)
    result = check(args.netlist, args.analysis, freqs=args.freqs, step=step, stop=stop, atol=args.atol,
                   rtol=args.rtol, engine=args.engine)
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{args.netlist}: {result.summary()}")
        print(f"  physnet {result.seconds['physnet'] * 1e3:.1f} ms, ngspice {result.seconds['ngspice'] * 1e3:.1f} ms")
    return 0 if result.ok else 1


def _gradcheck(args: argparse.Namespace) -> int:
    import numpy as np

    from physnet.errors import NetlistError
    from physnet.learning.gradient import METHODS, gradient
    from physnet.spice import read_spice

    outputs = [o.strip().lower() for o in args.outputs.split(",") if o.strip()]
    try:
        targets = [float(t) for t in args.targets.split(",")]
    except ValueError:
        raise NetlistError(f"--targets {args.targets!r} must be comma-separated numbers") from None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise NetlistError(f"--methods: unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
    system = read_spice(args.netlist).compile()
    prefix = None if args.trainable is None else args.trainable.lower()
    results = {m: gradient(system, outputs=outputs, targets=targets, method=m, trainable=prefix, beta=args.beta)
               for m in dict.fromkeys(["adjoint", *methods])}
    exact = results["adjoint"].grad
    norm = np.linalg.norm(exact)

    def cosine(x):
        denom = np.linalg.norm(x) * norm
        return float(x @ exact / denom) if denom else float("nan")

    edges = list(results["adjoint"].edges)
    payload = {
        "edges": edges,
        "grad": {m: results[m].grad.tolist() for m in methods},
        "cosine": {m: cosine(results[m].grad) for m in methods},
        "relative_error": {m: float(np.linalg.norm(results[m].grad - exact) / norm) if norm else float("nan")
                           for m in methods},
        "cost": results["adjoint"].cost,
    }
    if args.json:
        print(json.dumps(payload))
        return 0
    print(f"dC/dg (1/S) for {len(edges)} resistors of {args.netlist}; C = {payload['cost']:.6g}")
    width = max(len(e) for e in edges)
    print(" " * width + "".join(f"{m:>16}" for m in methods))
    for i, edge in enumerate(edges):
        print(edge.ljust(width) + "".join(f"{results[m].grad[i]:16.8e}" for m in methods))
    print("cosine".ljust(width) + "".join(f"{payload['cosine'][m]:16.10f}" for m in methods))
    print("rel. err".ljust(width) + "".join(f"{payload['relative_error'][m]:16.2e}" for m in methods))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from physnet.demo import run_demo

    print(run_demo(args.out, quick=args.quick))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    r"""Entry point; returns the process exit status.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     good, bad = Path(folder) / "divider.cir", Path(folder) / "bad.cir"
    ...     _ = good.write_text("divider\nV1 in 0 DC 3\nR1 in out 1k\nR2 out 0 2k\n.end\n")
    ...     _ = bad.write_text("bad\nV1 in 0 DC 3\nX1 in out sub\n.end\n")  # X: not supported
    ...     main(["solve", str(good), "--json"]), main(["solve", str(bad)])  # bad: one line on stderr
    {"analysis": "op", "nodes": {"in": 3.0, "out": 2.0}, "currents": {"v1": -0.001}}
    (0, 2)
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (status 2) and --help (status 0)
        return int(exc.code or 0)
    try:
        return args.run(args)
    except ConvergenceError as exc:
        print(f"physnet: {exc}", file=sys.stderr)
        return 1
    except (PhysnetError, ValueError, OSError) as exc:
        print(f"physnet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
