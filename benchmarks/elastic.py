"""One adjoint gradient of an elastic network for a batch of samples: per-sample loop vs one batched call.

On an n×n triangular spring lattice (:func:`physnet.generators.triangular_lattice`,
``kind="elastic"``, stiffnesses uniform in [0.5, 2] N/m) pinned at two
bottom corners, with random forces on every node and three pair outputs at
the top, measured warm (median of ``--repeat`` rounds after one untimed
round, all cases interleaved as in ``fp_step.py``):

* ``loop_fresh``: the approach before the elastic operator cache, one
  :func:`~physnet.learning.elastic.elastic_gradient` call per sample, each
  on a copy of the system with a fresh topology
  (``dataclasses.replace(system, topology=Topology())``), so every sample
  pays the pattern analysis and a full (symbolic and numeric)
  factorization;
* ``loop_cached``: one call per sample on the cached operator (one numeric
  factorization per batch, two single-column solves per sample);
* ``batched``: one call with forces (batch, n_nodes, d): one numeric
  factorization and two multi-right-hand-side solves.

Every call passes new stiffnesses (each case alternates between two
vectors of its own), as a training step does, so the cached cases refactor
once per round; the JSON records the numeric factorizations each case did
per round and the relative difference of the batched gradient from the
mean of the per-sample ones.

Usage::

    python benchmarks/elastic.py            # 30x30 lattice, batch 64, writes benchmarks/out/elastic.json
    python benchmarks/elastic.py --quick    # 12x12 lattice, 3 repeats
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
from fp_step import timed  # benchmarks/ is on sys.path when this script runs
from numpy.typing import NDArray

from physnet.generators import triangular_lattice
from physnet.learning.elastic import ElasticOutputs, elastic_gradient
from physnet.solvers.elastic_operator import elastic_operator
from physnet.system import System, Topology

OUT = Path(__file__).parent / "out" / "elastic.json"


def lattice(n: int, batch: int, seed: int = 0) -> tuple[System, dict[str, Any]]:
    """The benchmark network and the keyword arguments of a batched gradient on it."""
    rng = np.random.default_rng(seed)
    system = triangular_lattice(n, n, kind="elastic", g=(0.5, 2.0), seed=rng).compile()
    forces = rng.normal(size=(batch, system.n_nodes, 2))
    forces[:, 0] = 0.0
    top = n - 1
    outputs = ElasticOutputs.pairs([(f"n{i}_{top}", f"n{i + 1}_{top}") for i in (0, n // 2, n - 2)])
    kwargs = dict(forces=forces, pinned=["n0_0", f"n{n - 1}_0"], outputs=outputs,
                  targets=rng.normal(scale=0.1, size=(batch, len(outputs))))
    return system, kwargs


def measure(n: int, batch: int, repeat: int) -> dict[str, Any]:
    """Median wall times (s), their ratios, the factorizations per round and the CPU times."""
    system, kw = lattice(n, batch)
    k0 = system["spring"]["k"]
    names = ("loop_fresh", "loop_cached", "batched")
    stiffnesses = {name: itertools.cycle([(1.0 + 0.01 * i) * k0, (1.005 + 0.01 * i) * k0])
                   for i, name in enumerate(names)}
    samples = [dict(kw, forces=f, targets=t) for f, t in zip(kw["forces"], kw["targets"])]
    op = elastic_operator(system, kw["pinned"])

    def loop_fresh() -> list[NDArray]:
        k = next(stiffnesses["loop_fresh"])
        return [elastic_gradient(dataclasses.replace(system, topology=Topology()), k, **s).grad for s in samples]

    def loop_cached() -> list[NDArray]:
        k = next(stiffnesses["loop_cached"])
        return [elastic_gradient(system, k, **s).grad for s in samples]

    def batched() -> NDArray:
        return elastic_gradient(system, next(stiffnesses["batched"]), **kw).grad

    cases = dict(zip(names, (loop_fresh, loop_cached, batched)))
    factorizations = {}
    for name in ("loop_cached", "batched"):
        before = op.factorizer.factorizations
        cases[name]()
        factorizations[name] = op.factorizer.factorizations - before
    factorizations["loop_fresh"] = batch  # one fresh operator, so one factorization, per sample
    reference = np.mean([elastic_gradient(dataclasses.replace(system, topology=Topology()), k0, **s).grad
                         for s in samples], axis=0)
    agreement = float(np.linalg.norm(elastic_gradient(system, k0, **kw).grad - reference) / np.linalg.norm(reference))
    t = timed(cases, repeat)
    s = {name: v["wall"] for name, v in t.items()}
    return {
        "lattice": f"{n}x{n}", "nodes": system.n_nodes, "springs": len(system["spring"]),
        "free_dofs": len(op.free), "batch": batch, "backend": op.factorizer.backend, "repeat": repeat,
        "loop_fresh_s": s["loop_fresh"], "loop_cached_s": s["loop_cached"], "batched_s": s["batched"],
        "loop_fresh_over_batched": s["loop_fresh"] / s["batched"],
        "loop_cached_over_batched": s["loop_cached"] / s["batched"],
        "factorizations_per_round": factorizations,
        "batched_vs_loop_relative_difference": agreement,
        "cpu_s": {name: v["cpu"] for name, v in t.items()},
    }


ROWS = [
    ("per-sample loop, fresh topology (old approach)", "loop_fresh_s", "loop_fresh_over_batched"),
    ("per-sample loop, cached factorization", "loop_cached_s", "loop_cached_over_batched"),
    ("one batched call", "batched_s", None),
]


def table(r: dict[str, Any]) -> str:
    """The figures as a plain-text table (ratios: the case's time over the batched call's)."""
    head = (f"adjoint gradient, batch of {r['batch']}, on a {r['lattice']} triangular lattice: {r['nodes']} nodes, "
            f"{r['springs']} springs, {r['free_dofs']} free dofs, backend {r['backend']}")
    lines = [head, f"{'case':50s} {'time':>10s} {'× batched':>10s} {'factorizations':>15s}"]
    for label, key, ratio in ROWS:
        rt = f"{r[ratio]:10.1f}" if ratio else " " * 10
        case = key[:-2]
        lines.append(f"{label:50s} {r[key] * 1e3:8.2f}ms {rt} {r['factorizations_per_round'][case]:15d}")
    lines.append(f"batched vs loop gradient: relative difference {r['batched_vs_loop_relative_difference']:.1e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="lattice side (default 30)")
    parser.add_argument("--batch", type=int, default=64, help="samples per gradient (default 64)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats (median reported)")
    parser.add_argument("--quick", action="store_true", help="a 12x12 lattice and 3 repeats")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON output file")
    args = parser.parse_args(argv)
    n, repeat = (12, 3) if args.quick else (args.n, args.repeat)
    result = measure(n, args.batch, repeat)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
