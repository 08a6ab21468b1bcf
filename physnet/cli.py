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
