"""Learning rules against the exact adjoint gradient, on linear and diode networks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.learning.problem import make_problem
from physnet.solvers.linearize import linearize
from physnet.solvers.nodal import nodal_operator
from physnet.learning.rules import (RULES, Adjoint, CoupledLearning, EquilibriumPropagation, FrequencyPropagation,
                                    MultiplexedGradientDescent, NodePerturbation, WeightPerturbation, clamped_states,
                                    codes, cosine, make_rule, resistive_power)


def _network(seed: int, diodes: int = 0, n: int = 12) -> pn.Netlist:
    """A connected random resistor network with two input sources and optional diode pairs to ground."""
    rng = np.random.default_rng(seed)
    graph = nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed)
    edges = list(graph.edges)
    net = pn.Netlist()
    net.resistors([f"R{k}" for k in range(len(edges))], [f"n{u}" for u, _ in edges], [f"n{v}" for _, v in edges],
                  g=rng.uniform(0.5, 2.0, len(edges)))
    net.vsource("V1", "n0", "0", dc=1.0)
    net.vsource("V2", "n1", "0", dc=-0.7)
    net.resistor("Rg", f"n{n - 1}", "0", r=1.0)
    for k in range(diodes):
        net.diode(f"D{k}a", f"n{2 + k}", "0", is_=1e-7)
        net.diode(f"D{k}b", "0", f"n{2 + k}", is_=1e-7)
    return net


def _problem(seed: int = 0, diodes: int = 0, outputs: tuple[str, ...] = ("n10", "n9"), batch: int = 3):
    net = _network(seed, diodes)
    rng = np.random.default_rng(seed + 100)
    x = rng.uniform(-1.0, 1.0, (batch, 2))
    y = rng.uniform(-0.3, 0.3, (batch, len(outputs)))
    problem = make_problem(net, list(outputs), y, inputs={"v_sources": x}, trainable="R")
    g = np.array(problem.system["resistor"]["g"][problem.trainable])
    return problem, g


def _exact(problem, g):
    return Adjoint().estimate(problem, g).grad


# -- rules that read a deterministic response ------------------------------------------------------------------

def test_adjoint_matches_pn_gradient():
    problem, g = _problem(diodes=2)
    reference = pn.gradient(problem.system, g, {"v_sources": problem.v_sources}, ["n10", "n9"], problem.targets,
                            trainable="R")
    np.testing.assert_allclose(_exact(problem, g), reference.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("diodes", [0, 2])
@pytest.mark.parametrize("rule", [FrequencyPropagation(beta=1e-3), EquilibriumPropagation(beta=1e-4, centered=True),
                                  EquilibriumPropagation(beta=1e-5)], ids=["fp", "ep-centered", "ep"])
def test_deterministic_rules_align_with_adjoint(rule, diodes):
    problem, g = _problem(seed=1, diodes=diodes)
    exact = _exact(problem, g)
    estimate = rule.estimate(problem, g)
    assert cosine(estimate.grad, exact) >= 0.999
    np.testing.assert_allclose(estimate.grad, exact, rtol=0, atol=1e-3 * np.max(np.abs(exact)))


@pytest.mark.parametrize("solver", ["hb", "transient"])
def test_fp_rule_passes_solver_options_to_the_engine(solver):
    problem, g = _problem(seed=1, diodes=2, batch=1)
    rule = FrequencyPropagation(beta=1e-3, solver=solver, solver_options={"f_b": 1e3})
    estimate = rule.estimate(problem, g, rng=np.random.default_rng(0))
    assert estimate.info["solver"] == solver and estimate.info["f_b"] == 1e3
    assert cosine(estimate.grad, _exact(problem, g)) >= 0.999


def test_ep_bias_is_first_order_two_phase_and_second_order_centered():
    problem, g = _problem(seed=2, diodes=2)
    exact = _exact(problem, g)

    def error(beta, centered):
        return np.linalg.norm(EquilibriumPropagation(beta=beta, centered=centered).estimate(problem, g).grad - exact)

    two_phase = error(0.02, False) / error(0.01, False)
    centered = error(0.02, True) / error(0.01, True)
    assert two_phase == pytest.approx(2.0, rel=0.1)
    assert centered == pytest.approx(4.0, rel=0.1)


@pytest.mark.parametrize("diodes", [0, 2])
def test_coupled_learning_single_output_is_the_adjoint_direction(diodes):
    problem, g = _problem(seed=3, diodes=diodes, outputs=("n9",))
    exact = _exact(problem, g)
    estimate = CoupledLearning(eta=1e-4).estimate(problem, g)
    assert cosine(estimate.grad, exact) >= 0.999
    if not diodes:  # one shared transfer resistance R: the estimate is 2 dC/dg / R
        g_all = problem.conductances(g)
        out = problem.outputs[0]
        R = pn.solve_dc(problem.system, g_all, v_sources=np.zeros(2), currents=np.eye(problem.system.n_nodes)[out])
        np.testing.assert_allclose(estimate.grad, 2.0 * exact / R.v[out], rtol=1e-3)


@pytest.mark.parametrize("diodes", [0, 2])
def test_coupled_learning_follows_the_transfer_weighted_cost(diodes):
    """With several outputs the clamp injects R⁻¹ η (y - v): the gradient of ½ eᵀ R⁻¹ e (R held fixed)."""
    problem, g = _problem(seed=4, diodes=diodes, batch=1)
    g_all = problem.conductances(g)
    v = pn.solve_dc(problem.system, g_all, v_sources=problem.v_sources[0]).v
    out = problem.outputs
    response = linearize(problem.system, v, g_all).respond(np.eye(problem.system.n_nodes)[:, out])
    weight = np.linalg.inv(response[out])

    class Weighted:
        def value(self, v_out, y):
            e = v_out - y
            return 0.5 * np.einsum("...i,ij,...j->...", e, weight, e)

        def grad(self, v_out, y):
            return (v_out - y) @ weight

    weighted = make_problem(problem.system, ["n10", "n9"], problem.targets, inputs={"v_sources": problem.v_sources},
                            trainable="R", cost=Weighted())
    estimate = CoupledLearning(eta=1e-4).estimate(problem, g)
    assert cosine(estimate.grad, _exact(weighted, g)) >= 0.999


@pytest.mark.parametrize("diodes", [0, 3])
def test_coupled_clamp_equals_voltage_sources_on_the_outputs(diodes):
    """The clamped state is the network with ideal voltage sources holding the outputs."""
    problem, g = _problem(seed=5, diodes=diodes)
    g_all = problem.conductances(g)
    v = Adjoint().estimate(problem, g).states
    clamp = v[:, problem.outputs] + 0.05 * (problem.targets - v[:, problem.outputs])
    v_c, iterations = clamped_states(problem, g_all, v, clamp)
    clamped = _network(5, diodes)
    clamped.vsource("Vc1", "n10", "0", dc=0.0)
    clamped.vsource("Vc2", "n9", "0", dc=0.0)
    direct = pn.solve_dc(clamped, g_all, v_sources=np.hstack([problem.v_sources, clamp])).v
    np.testing.assert_allclose(v_c, direct, rtol=0, atol=1e-11)
    assert (1 < iterations <= 20) if diodes else (iterations == 0)  # superposition needs no Newton step


def test_coupled_step_is_a_descent_step():
    problem, g = _problem(seed=6, outputs=("n9",))
    rule = CoupledLearning(eta=0.1)
    before = rule.estimate(problem, g)
    after = rule.estimate(problem, g - 1e-3 * before.grad / np.max(np.abs(before.grad)))
    assert after.cost < before.cost


# -- perturbative rules -----------------------------------------------------------------------------------------

def _mean_alignment(rule_of, counts, problem, g, seeds=3):
    exact = _exact(problem, g)
    return [np.mean([cosine(rule_of(k).estimate(problem, g, rng=np.random.default_rng(s)).grad, exact)
                     for s in range(seeds)]) for k in counts]


@pytest.mark.parametrize(("make", "diodes"), [
    (lambda k: NodePerturbation(sigma=1e-4, samples=k), 0),
    (lambda k: NodePerturbation(sigma=1e-4, samples=k, centered=True), 2),
    (lambda k: WeightPerturbation(sigma=1e-4, samples=k), 0),
], ids=["node", "node-centered-diodes", "weight"])
def test_perturbation_alignment_improves_with_samples(make, diodes):
    problem, g = _problem(seed=7, diodes=diodes)
    alignment = _mean_alignment(make, (4, 32, 256), problem, g)
    assert alignment[0] < alignment[1] < alignment[2]
    assert alignment[2] >= 0.9


def test_node_perturbation_averages_to_the_adjoint():
    """Averaged over many perturbations the estimator is unbiased (exactly so in a linear network)."""
    problem, g = _problem(seed=8)
    estimate = NodePerturbation(sigma=1e-3, samples=20000).estimate(problem, g, rng=np.random.default_rng(0))
    assert cosine(estimate.grad, _exact(problem, g)) >= 0.99


def test_perturbation_noise_dimension():
    """Weight perturbation injects noise in every edge, node perturbation only in the free nodes (Werfel et al.)."""
    problem, g = _problem(seed=9)
    wp = WeightPerturbation(samples=64).estimate(problem, g, rng=np.random.default_rng(0))
    np_ = NodePerturbation(samples=64).estimate(problem, g, rng=np.random.default_rng(0))
    free_nodes = problem.system.n_nodes - 3  # ground and the two source nodes
    assert np_.info["nodes"] == free_nodes < len(g)
    assert wp.phases == np_.phases == 65


@pytest.mark.parametrize("code", ["fdma", "tdma"])
def test_mgd_orthogonal_codes_separate_parameters(code):
    """FDMA over > 2N chips and TDMA over >= N chips give each parameter its own finite difference."""
    problem, g = _problem(seed=10, diodes=2)
    rule = MultiplexedGradientDescent(amplitude=1e-5, code=code, tau_theta=2 * len(g) + 1)
    estimate = rule.estimate(problem, g, rng=np.random.default_rng(0))
    assert cosine(estimate.grad, _exact(problem, g)) >= 0.999
    assert estimate.info["unreached"] == 0


def test_mgd_cdma_alignment_grows_with_window():
    problem, g = _problem(seed=11)
    alignment = _mean_alignment(lambda t: MultiplexedGradientDescent(amplitude=1e-4, code="cdma", tau_theta=t),
                                (4, 32, 512), problem, g)
    assert alignment[0] < alignment[1] < alignment[2]
    assert alignment[2] >= 0.9


def test_mgd_holding_chips_longer_averages_cost_noise():
    problem, g = _problem(seed=12)
    scale = np.max(np.abs(_exact(problem, g))) * 1e-4 * np.min(g)

    def rule(tau_p):
        return MultiplexedGradientDescent(amplitude=1e-4, code="fdma", tau_p=tau_p, tau_theta=64 * tau_p,
                                          cost_noise=3 * scale)

    short, long = _mean_alignment(rule, (1, 32), problem, g)
    assert short < long
    assert long >= 0.9


def test_tdma_leaves_unreached_parameters_at_zero():
    problem, g = _problem(seed=13)
    estimate = MultiplexedGradientDescent(code="tdma", tau_theta=5).estimate(problem, g, rng=np.random.default_rng(1))
    assert estimate.info["unreached"] == len(g) - 5
    assert np.count_nonzero(estimate.grad) == 5


def test_codes_are_balanced():
    rng = np.random.default_rng(0)
    c = codes("cdma", 1000, 3, rng)
    assert set(np.unique(c)) == {-1.0, 1.0}
    assert np.all(np.abs(c.mean(axis=0)) < 0.1)
    with pytest.raises(NetlistError, match="unknown MGD code 'ofdm'"):
        codes("ofdm", 4, 2, rng)


@pytest.mark.parametrize("name", ["node_perturbation", "weight_perturbation", "mgd"])
def test_perturbative_rules_are_reproducible_and_need_a_generator(name):
    problem, g = _problem(seed=14)
    rule = make_rule(name)
    a = rule.estimate(problem, g, rng=np.random.default_rng(5)).grad
    b = rule.estimate(problem, g, rng=np.random.default_rng(5)).grad
    c = rule.estimate(problem, g, rng=np.random.default_rng(6)).grad
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(NetlistError, match="rng=np.random.default_rng"):
        rule.estimate(problem, g)


# -- diagnostics, registry, validation --------------------------------------------------------------------------

def test_resistive_power_equals_power_delivered_by_the_sources():
    problem, g = _problem(seed=15, batch=1)
    g_all = problem.conductances(g)
    op = pn.solve_dc(problem.system, g_all, v_sources=problem.v_sources[0])
    delivered = -float(np.sum(problem.v_sources[0] * op.source_currents))
    assert resistive_power(problem, g_all, op.v[None]) == pytest.approx(delivered, rel=1e-12)


def test_diagnostics_count_phases_and_energy():
    problem, g = _problem(seed=16)
    rng = np.random.default_rng(0)
    phases = {name: make_rule(name).estimate(problem, g, rng=rng) for name in RULES}
    expected = {"adjoint": 2, "fp": 1, "ep": 2, "coupled": 2, "node_perturbation": 17, "weight_perturbation": 17,
                "mgd": 65}
    assert {name: e.phases for name, e in phases.items()} == expected
    for name, e in phases.items():
        assert e.rule == name
        assert e.energy > 0 and all(p > 0 for p in e.power.values())
        assert e.cost == pytest.approx(phases["adjoint"].cost, rel=1e-12)
    ep = phases["ep"]
    assert ep.energy == pytest.approx(ep.power["free"] + ep.power["nudged"])
    assert ep.amplitudes["beta"] == 1e-3 and ep.amplitudes["signal_rms"] > 0


def test_make_rule_and_validation():
    assert make_rule("ep-centered", beta=0.1) == EquilibriumPropagation(beta=0.1, centered=True)
    with pytest.raises(NetlistError, match="unknown learning rule 'bp'"):
        make_rule("bp")
    with pytest.raises(NetlistError, match="rule 'fp'"):
        make_rule("fp", eta=0.1)
    for bad in (lambda: FrequencyPropagation(beta=0.0), lambda: CoupledLearning(eta=1.5),
                lambda: NodePerturbation(samples=0), lambda: WeightPerturbation(sigma=-1.0),
                lambda: MultiplexedGradientDescent(tau_p=0), lambda: MultiplexedGradientDescent(code="x")):
        with pytest.raises(NetlistError):
            bad()
    problem, g = _problem()
    with pytest.raises(NetlistError, match="trainable conductances"):
        Adjoint().estimate(problem, g[:-1])


@pytest.mark.parametrize("rule", [Adjoint(), EquilibriumPropagation(beta=1e-4),
                                  EquilibriumPropagation(beta=1e-4, centered=True), CoupledLearning(eta=1e-3)],
                         ids=["adjoint", "ep", "ep-centered", "coupled"])
def test_output_responses_path_equals_separate_solves(rule):
    """A linear batch takes the merged solve (free state + output responses); one sample at a time does not."""
    problem, g = _problem(seed=4, batch=4)
    assert len(problem.outputs) < problem.batch  # the merged path
    merged = rule.estimate(problem, g).grad
    singles = []
    for s in range(problem.batch):
        one = make_problem(problem.system, ["n10", "n9"], problem.targets[s],
                           inputs={"v_sources": problem.v_sources[s]}, trainable="R")
        singles.append(rule.estimate(one, g).grad)
    np.testing.assert_allclose(merged, np.mean(singles, axis=0), rtol=1e-9, atol=1e-12 * np.max(np.abs(merged)))


@pytest.mark.parametrize("rule", [Adjoint(), FrequencyPropagation(), EquilibriumPropagation(centered=True),
                                  CoupledLearning()], ids=["adjoint", "fp", "ep-centered", "coupled"])
@pytest.mark.parametrize("batch", [1, 4])
def test_linear_step_costs_one_factorization(rule, batch):
    """A linear network is factored once per estimate, whatever the phases and the batch."""
    problem, g = _problem(seed=2, batch=batch)
    factorizer = nodal_operator(problem.system).factorizer
    before = factorizer.factorizations
    rule.estimate(problem, g)
    assert factorizer.factorizations == before + 1
