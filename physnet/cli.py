"""The ``physnet`` command.

Bad input exits with status 2 and a one-line message on stderr (no
traceback); a solver that does not converge exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from physnet.errors import ConvergenceError, PhysnetError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``physnet`` command (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="physnet",
        description="Simulate and train physical-learning networks; cross-check them against ngspice.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    solve = sub.add_parser("solve", help="solve a SPICE netlist (DC operating point)",
                           description="Solve a SPICE netlist with physnet and print node voltages and "
                                       "voltage-source currents.")
    solve.add_argument("netlist", help="SPICE netlist (.cir)")
    solve.add_argument("--op", action="store_true", help="DC operating point (the default)")
    solve.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    solve.set_defaults(run=_solve)

    demo = sub.add_parser("demo", help="run the main demonstration and print a short report")
    demo.add_argument("--out", default=None, help="folder for the demo's files")
    demo.set_defaults(run=_demo)
    return parser


def _solve(args: argparse.Namespace) -> int:
    from physnet.solvers.dc import solve_dc
    from physnet.spice import read_spice

    result = solve_dc(read_spice(args.netlist))
    payload = result.as_dict()
    if args.json:
        print(json.dumps({k: payload[k] for k in ("analysis", "nodes", "currents")}))
        return 0
    print(f"DC operating point of {args.netlist} ({result.message}; KCL residual {result.residual:.2e} A)")
    width = max((len(n) for n in payload["nodes"]), default=4)
    for name, value in payload["nodes"].items():
        print(f"  v({name}){' ' * (width - len(name))} = {value: .9e} V")
    for name, value in payload["currents"].items():
        print(f"  i({name}){' ' * (width - len(name))} = {value: .9e} A")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from physnet.demo import run_demo

    print(run_demo(args.out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
