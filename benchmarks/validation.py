"""The numbers of docs/validation.md: each cross-check of the test suite, measured and printed.

The tests assert bounds; this script prints the values behind them, on the
same networks (it imports the tests' own network builders from
``tests/``), so docs/validation.md quotes measured numbers. Each section
names the test that pins it.

Usage::

    python benchmarks/validation.py                # all, writes benchmarks/out/validation.json
    python benchmarks/validation.py --only kcl rules
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import physnet as pn

TESTS = Path(__file__).parents[1] / "tests"
sys.path.insert(0, str(TESTS))

import conftest  # noqa: E402  (the tests' random networks and dense MNA reference)
import test_coupled_reference as tcr  # noqa: E402
import test_ngspice_validation as tnv  # noqa: E402
import test_spice_fp as tsf  # noqa: E402
import test_fp_solvers as tfs  # noqa: E402
import test_gradient as tg  # noqa: E402
import test_rules as tr  # noqa: E402
import test_transient as tt  # noqa: E402

OUT = Path(__file__).parent / "out" / "validation.json"


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a - b‖ / ‖b‖``."""
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Log–log least-squares slope."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ------------------------------------------------------------------------ sections
def kcl() -> dict[str, Any]:
    """tests/test_dc.py: random networks against dense MNA, KCL backward error (seeds 0–19, default sizes)."""
    worst_mna, worst_kcl = 0.0, 0.0
    for seed in range(20):
        net = conftest.build_random_network(seed, n_nodes=40, extra_edges=60, decades=6.0)
        op = pn.solve_dc(net.system)
        v_ref, _ = conftest.mna_reference(net.system)
        worst_mna = max(worst_mna, float(np.max(np.abs(op.v - v_ref)) / np.max(np.abs(v_ref))))
        worst_kcl = max(worst_kcl, conftest.kcl_residual(net.system, op))
    return {"networks": 20, "nodes": 40, "decades": 6.0, "max_relative_difference_to_mna": worst_mna,
            "max_kcl_backward_error": worst_kcl}


def ibmpg() -> dict[str, Any]:
    """tests/test_ibmpg.py: ibmpg1 against the official solution, both linear backends."""
    data = TESTS / "data" / "ibmpg"
    system = pn.read_spice(data / "ibmpg1.spice").compile()
    rows = (line.split() for line in (data / "ibmpg1.solution").read_text().splitlines() if line.strip())
    official = {name.lower(): float(value) for name, value in rows}
    names = [n for n in system.node_names if n != "0"]
    ref = np.array([official[n] for n in names])
    out: dict[str, Any] = {"nodes": len(names)}
    from physnet.solvers.linear import available_backends

    solutions = {}
    for backend in available_backends():
        start = time.perf_counter()
        result = pn.solve_dc(system, backend=backend)
        elapsed = time.perf_counter() - start
        solutions[backend] = result.v
        ours = np.array([result[n] for n in names])
        out[backend] = {"max_abs_difference_V": float(np.max(np.abs(ours - ref))), "solve_s": elapsed,
                        "residual_over_load": float(result.residual / np.abs(system["isource"]["dc"]).sum())}
    if len(solutions) > 1:
        first, *others = solutions.values()
        out["max_backend_disagreement_V"] = max(float(np.max(np.abs(first - v))) for v in others)
    return out


def gradients() -> dict[str, Any]:
    """tests/test_gradient.py: adjoint vs finite differences and ngspice sens; FP phasor vs adjoint."""
    out: dict[str, Any] = {}
    path = tg.SENS / "sens-dc-2.cir"
    system = tg.parse_spice(tg._netlist_part(path), str(path)).compile()
    result = pn.gradient(system, outputs=["4"], targets=[0.0], cost=tg.Potential())
    gold = tg._gold(path)
    out["ngspice_sens_dc_2_max_relative"] = max(
        abs(-g_j**2 * d - gold[name]) / abs(gold[name])
        for name, d, g_j in zip(result.edges, result.grad, system["resistor"]["g"]))
    for diodes in (0, 3):
        net, outputs = tg._random_network(1, diodes)
        kw = dict(outputs=outputs, targets=[0.1, -0.2], trainable="R")
        exact, fd = pn.gradient(net, **kw).grad, pn.gradient(net, method="fd", **kw).grad
        out[f"adjoint_vs_fd_diodes{diodes}"] = float(np.max(np.abs(exact - fd)) / np.max(np.abs(exact)))
        net, outputs = tg._random_network(2, diodes)
        kw = dict(outputs=outputs, targets=[0.1, -0.2])
        exact = pn.gradient(net, **kw).grad
        out[f"fp_phasor_vs_adjoint_diodes{diodes}"] = max(
            float(np.max(np.abs(pn.gradient(net, method="fp", beta=b, **kw).grad - exact)) / np.max(np.abs(exact)))
            for b in (1e-6, 1e-3, 1.0))
    return out


def fp_solvers() -> dict[str, Any]:
    """tests/test_fp_solvers.py: every FP solver vs the adjoint (linear), β² bias of HB, HB vs transient."""
    out: dict[str, Any] = {}
    net, outputs = tfs._network(2)
    rng = np.random.default_rng(0)
    kw = dict(outputs=outputs, targets=rng.uniform(-0.3, 0.3, (3, 2)), inputs={"v_sources": rng.uniform(-1, 1, (3, 2))})
    system = net.compile()
    exact = pn.gradient(system, **kw).grad
    out["linear_vs_adjoint"] = {s: relative(pn.gradient(system, method="fp", solver=s, **kw).grad, exact)
                                for s in ("phasor", "hb", "transient")}
    net, outputs = tfs._network(4, diodes=3)
    system = net.compile()
    kw = dict(outputs=outputs, targets=[0.3, -0.3])
    exact = pn.gradient(system, **kw).grad
    betas = np.logspace(-6, -4, 5)
    errors = np.array([relative(pn.gradient(system, method="fp", solver="hb", beta=b, **kw).grad, exact)
                       for b in betas])
    out["hb_bias"] = {"betas": betas.tolist(), "relative_errors": errors.tolist(), "slope": slope(betas, errors)}
    out["diode_phasor_vs_adjoint"] = relative(pn.gradient(system, method="fp", beta=1e-4, **kw).grad, exact)
    hb = pn.gradient(system, method="fp", solver="hb", beta=1e-3, **kw)
    tr_ = pn.gradient(system, method="fp", solver="transient", beta=1e-3, **kw)
    out["diode_hb_vs_transient_dc_activation"] = relative(tr_.grad, hb.grad)
    tones = dict(f_a=600.0, f_b=1e3)
    hb = pn.gradient(system, method="fp", solver="hb", beta=1e-3, n_harmonics=40, **tones, **kw)
    tr_ = pn.gradient(system, method="fp", solver="transient", beta=1e-3, **tones, **kw)
    out["diode_hb_vs_transient_oscillating_activation"] = relative(tr_.grad, hb.grad)
    net, outputs = tg._random_network(4, diodes=3)
    kw = dict(outputs=outputs, targets=[0.3, -0.3])
    exact = pn.gradient(net, **kw).grad
    b = np.array([1e-4, 1e-5, 1e-6]) * 3
    two = [relative(pn.gradient(net, method="ep", beta=x, **kw).grad, exact) for x in b]
    cen = [relative(pn.gradient(net, method="ep-centered", beta=x, **kw).grad, exact) for x in b[:2] * 30]
    out["ep_two_phase_slope"] = slope(b, np.array(two))
    out["ep_centered_decade_ratio"] = cen[0] / cen[1]
    return out


def lockin() -> dict[str, Any]:
    """tests/test_fp_solvers.py: transient + lock-in with white node noise, error vs integration time."""
    net, outputs = tfs._network(2)
    kw = dict(outputs=outputs, targets=[0.1, -0.2])
    exact = pn.gradient(net, **kw).grad
    system = net.compile()
    periods = np.array([4, 64, 1024])
    rms = []
    for p in periods:
        errors = [relative(pn.gradient(system, method="fp", solver="transient", beta=1e-3, periods=int(p),
                                       noise=pn.NoiseSpec(white=1e-16), seed=seed, **kw).grad, exact)
                  for seed in range(4)]
        rms.append(float(np.sqrt(np.mean(np.square(errors)))))
    noiseless = relative(pn.gradient(system, method="fp", solver="transient", beta=1e-3, periods=1, **kw).grad, exact)
    return {"periods": periods.tolist(), "rms_relative_error": rms, "slope": slope(periods, np.array(rms)),
            "noiseless_one_period": noiseless}


def transient() -> dict[str, Any]:
    """tests/test_transient.py: integrator order on a sine-driven RC, lock-in of a two-tone transient vs phasors."""
    system = tt.sine_rc()
    steps = np.array([0.1, 0.05, 0.025, 0.0125, 0.00625])
    out: dict[str, Any] = {}
    for method in ("trap", "bdf2"):
        errors = []
        for h in steps:
            res = pn.solve_transient(system, h, 4.0, method=method)
            errors.append(float(np.max(np.abs(res["out"] - tt.sine_rc_exact(res.t)))))
        out[f"rc_{method}_order"] = slope(steps, np.array(errors))
    system = tt.two_tone_network()
    ac = tt.two_tone_phasors(system)
    res = pn.solve_transient(system, 1 / tt.F_B / 400, 11e-3)
    X = res.lockin([tt.F_A, tt.F_B], window=10e-3)
    out["lockin_vs_phasor_relative"] = [float(np.max(np.abs(X[i] - ac[i])) / np.max(np.abs(ac[i])))
                                        for i in range(2)]
    return out


def elastic_flow() -> dict[str, Any]:
    """tests/test_elastic_fp.py and tests/test_flow_fp.py: elastic FP and chemical signalling vs the adjoint."""
    from physnet.generators import triangular_lattice
    from physnet.learning.elastic import ElasticOutputs, elastic_fp_update, elastic_gradient, elastic_modes
    from physnet.learning.flow import chemical_update, flow_gradient

    system = triangular_lattice(5, 5, kind="elastic", g=(0.5, 2.0), seed=1).compile()
    f = np.zeros((system.n_nodes, 2))
    f[system.node_index("n0_2")] = (-1.0, 0.0)
    f[system.node_index("n1_2")] = (1.0, 0.0)
    outputs = ElasticOutputs.pairs([("n3_3", "n4_3"), ("n2_4", "n3_4")]) + ElasticOutputs.nodes([("n4_2", "y")])
    task = dict(forces=f, pinned=["n0_0", "n4_0"], outputs=outputs, targets=[0.05, -0.02, 0.01])
    exact = elastic_gradient(system, **task)
    out: dict[str, Any] = {"elastic_adjoint_vs_fd": relative(exact.grad, elastic_gradient(system, **task,
                                                                                          method="fd").grad)}
    out["elastic_fp_static_vs_adjoint"] = max(
        relative(elastic_fp_update(system, **task, alpha=0.3, beta=b, omega_a=0.0, omega_b=0.0).gradient.grad,
                 exact.grad) for b in (1e-6, 1.0))
    w0 = float(elastic_modes(system, pinned=task["pinned"], n_modes=1)[0])
    omegas = w0 * np.array([0.005, 0.01, 0.02, 0.04])
    errors = np.array([relative(elastic_fp_update(system, **task, alpha=1.0, beta=1e-3, omega_a=w / 2, omega_b=w,
                                                  damping=0.05, drag=0.01).gradient.grad, exact.grad)
                       for w in omegas])
    out["elastic_bias_vs_omega"] = {"omega_over_lowest_mode": [0.005, 0.01, 0.02, 0.04],
                                    "relative_errors": errors.tolist(), "slope": slope(omegas, errors)}
    kw = dict(alpha=1.0, beta=1e-2, omega_a=0.025 * w0, omega_b=0.05 * w0, damping=0.2)
    phasor = elastic_fp_update(system, **task, **kw)
    transient = elastic_fp_update(system, **task, **kw, solver="transient")
    out["elastic_transient_vs_phasor"] = relative(transient.delta_g, phasor.delta_g)
    net = triangular_lattice(5, 5, kind="flow", g=(0.5, 1.5), seed=3)
    net.vsource("Vin", "n0_0", "0", dc=1.0)
    net.vsource("Vout", "n4_4", "0", dc=0.0)
    flow = net.compile()
    ftask = dict(outputs=["n2_2", "n3_1"], targets=[0.7, 0.3])
    fexact = flow_gradient(flow, **ftask).grad
    out["flow_adjoint_vs_fd"] = relative(fexact, flow_gradient(flow, **ftask, method="fd").grad)
    out["chemical_vs_adjoint"] = max(
        relative(chemical_update(flow, **ftask, alpha=0.5, beta=b, kappa=k).delta_g, -0.5 * fexact)
        for k in (0.1, 1.0, 7.0) for b in (1e-6, 1e-2))
    return out


def coupled_reference() -> dict[str, Any]:
    """tests/test_coupled_reference.py: the maguzj/coupled_learning example, 100 epochs × 10 steps."""
    from physnet.hardware import Bounds, Hardware
    from physnet.tasks import coupled_learning_example

    ex = coupled_learning_example(TESTS / "data" / "coupled_learning")
    hw = Hardware(bounds=Bounds(ex.k_min, ex.k_max))
    state = hw.init(ex.trajectory[0])
    _, p_out = tcr.coupled_step(ex, hw.device(state))
    losses, worst = [tcr.loss(ex, p_out)], 0.0
    for epoch in range(1, ex.epochs + 1):
        for _ in range(ex.steps_per_epoch):
            delta, p_out = tcr.coupled_step(ex, hw.device(state))
            state = hw.apply_update(state, delta)
        losses.append(tcr.loss(ex, p_out))
        worst = max(worst, float(np.max(np.abs(hw.device(state) - ex.trajectory[epoch]))))
    return {"max_abs_conductance_difference": worst,
            "max_relative_loss_difference": float(np.max(np.abs(np.array(losses) / ex.losses - 1.0)))}


def rules() -> dict[str, Any]:
    """tests/test_rules.py: cosine of every rule's estimate with the adjoint gradient."""
    from physnet.learning.rules import (CoupledLearning, EquilibriumPropagation, FrequencyPropagation,
                                        MultiplexedGradientDescent, NodePerturbation, WeightPerturbation, cosine)

    out: dict[str, Any] = {}
    for diodes in (0, 2):
        problem, g = tr._problem(seed=1, diodes=diodes)
        exact = tr._exact(problem, g)
        for name, rule in (("fp", FrequencyPropagation(beta=1e-3)),
                           ("ep-centered", EquilibriumPropagation(beta=1e-4, centered=True)),
                           ("ep", EquilibriumPropagation(beta=1e-5))):
            out[f"{name}_diodes{diodes}"] = cosine(rule.estimate(problem, g).grad, exact)
        problem, g = tr._problem(seed=3, diodes=diodes, outputs=("n9",))
        out[f"coupled_one_output_diodes{diodes}"] = cosine(CoupledLearning(eta=1e-4).estimate(problem, g).grad,
                                                           tr._exact(problem, g))
    for label, make, diodes in (("node", lambda k: NodePerturbation(sigma=1e-4, samples=k), 0),
                                ("node_centered_diodes", lambda k: NodePerturbation(sigma=1e-4, samples=k,
                                                                                     centered=True), 2),
                                ("weight", lambda k: WeightPerturbation(sigma=1e-4, samples=k), 0)):
        problem, g = tr._problem(seed=7, diodes=diodes)
        out[f"{label}_vs_samples"] = dict(zip((4, 32, 256), tr._mean_alignment(make, (4, 32, 256), problem, g)))
    problem, g = tr._problem(seed=10, diodes=2)
    out["mgd_fdma_orthogonal_diodes2"] = cosine(
        MultiplexedGradientDescent(amplitude=1e-5, code="fdma", tau_theta=2 * len(g) + 1).estimate(
            problem, g, rng=np.random.default_rng(0)).grad, tr._exact(problem, g))
    problem, g = tr._problem(seed=11)
    out["mgd_cdma_vs_window"] = dict(zip((4, 32, 512), tr._mean_alignment(
        lambda w: MultiplexedGradientDescent(amplitude=1e-4, code="cdma", tau_theta=w), (4, 32, 512), problem, g)))
    return {k: (float(v) if not isinstance(v, dict) else {str(a): float(b) for a, b in v.items()})
            for k, v in out.items()}


def ngspice() -> dict[str, Any]:
    """tests/test_ngspice_validation.py, tests/test_spice_fp.py: physnet against ngspice (which runs)."""
    from physnet.solvers.transient import solve_transient
    from physnet.spice.check import check
    from physnet.spice.fp import ngspice_fp_update, transient_fp_update

    seeds = range(40)
    dc = [check(tnv.random_network(s, capacitors=False), "op") for s in seeds]
    ac = [check(tnv.random_network(s, capacitors=True), "ac", freqs=[10.0, 1.3e3, 2.1e5]) for s in seeds]
    tran = [check(tnv.random_network(s, capacitors=True, sin=True), "tran", step=2e-7, stop=1e-3)
            for s in range(10)]
    system = pn.read_spice(TESTS / "data" / "ibmpg" / "ibmpg1t.spice").compile()
    blocks = (TESTS / "data" / "ibmpg" / "ibmpg1t.output").read_text().split("Node: ")[1:]
    waves = {b.splitlines()[0].strip().lower(): np.array(
        [line.split() for line in b.splitlines()[1:] if line.strip() and not line.startswith("END")], dtype=float)
        for b in blocks}
    result = solve_transient(system, 1e-11, 1e-8, record=list(waves))
    ibm = max(float(np.max(np.abs(result[name] - w[:, 1]))) for name, w in waves.items())
    phasor = pn.fp_update(tsf.diode_network(), **{k: v for k, v in tsf.STEP.items() if k != "f_b"})
    spice = ngspice_fp_update(tsf.diode_network(), **tsf.STEP)
    physnet = transient_fp_update(tsf.diode_network(), **tsf.STEP)
    return {
        "random_dc_max_abs_V": max(r.max_abs for r in dc), "random_dc_all_ok": all(r.ok for r in dc),
        "random_ac_max_rel": max(r.max_rel for r in ac), "random_ac_all_ok": all(r.ok for r in ac),
        "random_tran_max_abs_V": max(r.max_abs for r in tran), "random_tran_all_ok": all(r.ok for r in tran),
        "ibmpg1t_20_waveforms_max_abs_V": ibm,
        "fp_ngspice_vs_phasor_delta_g": tsf.relative(spice.delta_g, phasor.delta_g),
        "fp_ngspice_vs_physnet_transient_delta_g": tsf.relative(spice.delta_g, physnet.delta_g),
    }


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "kcl": kcl, "ibmpg": ibmpg, "gradients": gradients, "fp_solvers": fp_solvers, "lockin": lockin,
    "transient": transient,
    "elastic_flow": elastic_flow, "coupled_reference": coupled_reference, "rules": rules, "ngspice": ngspice,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=OUT, help="JSON output file")
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.only:
        start = time.perf_counter()
        previous[name] = SECTIONS[name]()
        print(f"{name} ({time.perf_counter() - start:.1f} s): {json.dumps(previous[name], indent=1)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
