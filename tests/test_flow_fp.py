"""Flow networks with chemical error signalling: adjoint vs finite differences, the chemical rule vs the adjoint."""

from __future__ import annotations

import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.generators import triangular_lattice
from physnet.learning.flow import chemical_concentration, chemical_update, flow_gradient
from physnet.solvers.linearize import linearize

TASK = dict(outputs=["n2_2", "n3_1"], targets=[0.7, 0.3])


@pytest.fixture(scope="module")
def network():
    """5×5 triangular pipe lattice between a reservoir at 1 Pa (n0_0) and one at 0 Pa (n4_4)."""
    net = triangular_lattice(5, 5, kind="flow", g=(0.5, 1.5), seed=3)
    net.vsource("Vin", "n0_0", "0", dc=1.0)
    net.vsource("Vout", "n4_4", "0", dc=0.0)
    return net.compile()


@pytest.fixture(scope="module")
def pumped():
    """The same lattice fed by a pump into n1_3, with one reservoir and a second pump drawing from n3_0."""
    net = triangular_lattice(5, 5, kind="flow", g=(0.5, 1.5), seed=4)
    net.vsource("Vout", "n4_4", "0", dc=0.0)
    net.isource("Iin", "0", "n1_3", dc=2.0)
    net.isource("Idraw", "n3_0", "0", dc=0.5)
    return net.compile()


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


# ----------------------------------------------------------- gradients
@pytest.mark.parametrize("inputs", [None, {"v_sources": [[1.0, 0.0], [0.4, 0.2], [0.0, 1.0]]}])
def test_adjoint_matches_finite_differences(network, inputs):
    targets = TASK["targets"] if inputs is None else [[0.7, 0.3], [0.2, 0.3], [0.5, 0.5]]
    exact = flow_gradient(network, inputs=inputs, outputs=TASK["outputs"], targets=targets)
    fd = flow_gradient(network, inputs=inputs, outputs=TASK["outputs"], targets=targets, method="fd")
    assert relative(exact.grad, fd.grad) < 1e-6
    assert exact.states.shape == (1 if inputs is None else 3, network.n_nodes)
    assert exact.edges == tuple(network["pipe"].names)


def test_adjoint_with_pumps_matches_finite_differences(pumped):
    k = np.random.default_rng(2).uniform(0.2, 5.0, len(pumped["pipe"]))
    exact = flow_gradient(pumped, k, **TASK)
    assert relative(exact.grad, flow_gradient(pumped, k, **TASK, method="fd").grad) < 1e-6


# ------------------------------------------------------------ chemistry
def test_concentration_solves_the_weighted_laplacian_with_absorbing_reservoirs(network):
    k = network["pipe"]["k"]
    s = np.zeros(network.n_nodes)
    s[network.node_index("n2_2")] = 1.0
    s[network.node_index("n1_3")] = -0.4
    c = chemical_concentration(network, s, kappa=0.3)
    pipes = network["pipe"]
    flux = 0.3 * k * (c[pipes.a] - c[pipes.b])  # diffusive flux a -> b
    outflow = np.bincount(pipes.a, flux, network.n_nodes) - np.bincount(pipes.b, flux, network.n_nodes)
    reservoirs = network.node_indices(["0", "n0_0", "n4_4"])
    assert np.all(c[reservoirs] == 0.0)
    interior = np.setdiff1d(np.arange(network.n_nodes), reservoirs)
    np.testing.assert_allclose(outflow[interior], s[interior], atol=1e-14)
    assert -outflow[reservoirs].sum() == pytest.approx(s.sum(), rel=1e-12)  # everything injected is absorbed


def test_chemical_update_is_minus_alpha_times_the_adjoint_gradient(network):
    exact = flow_gradient(network, **TASK).grad
    for kappa in (0.1, 1.0, 7.0):
        for beta in (1e-6, 1e-2):
            step = chemical_update(network, **TASK, alpha=0.5, beta=beta, kappa=kappa)
            assert relative(step.delta_g, -0.5 * exact) < 1e-9
            assert step.solver == "diffusion" and step.gradient.info["peclet"] == 0.0
            # the concentration is the scaled adjoint, c = -(β/κ) λ with L(k) λ = ∂C/∂p
            p = step.gradient.states[0]
            dcdp = np.zeros(network.n_nodes)
            dcdp[network.node_indices(TASK["outputs"])] = p[network.node_indices(TASK["outputs"])] - TASK["targets"]
            lam = linearize(network, p, k=network["pipe"]["k"]).respond(dcdp)
            assert relative(step.gradient.info["concentration"][0], -(beta / kappa) * lam) < 1e-9
            np.testing.assert_allclose(step.delta_g, -0.5 * kappa * np.mean(step.dv_a * step.dv_b, 0) / beta,
                                       rtol=1e-14)


def test_chemical_update_on_a_batch_with_pumps(pumped):
    inputs = {"v_sources": [[0.0], [0.3]], "i_sources": [[2.0, 0.5], [1.0, 0.0]]}
    targets = [[0.9, 0.6], [0.5, 0.4]]
    exact = flow_gradient(pumped, inputs=inputs, outputs=TASK["outputs"], targets=targets).grad
    step = chemical_update(pumped, inputs=inputs, outputs=TASK["outputs"], targets=targets, alpha=2.0, beta=1e-3)
    assert relative(step.delta_g, -2.0 * exact) < 1e-9
    assert step.dv_a.shape == step.dv_b.shape == (2, len(pumped["pipe"]))


# ------------------------------------------------------------- learning
def test_training_with_the_chemical_rule_lowers_the_cost_monotonically(network):
    k = network["pipe"]["k"].copy()
    costs = []
    for _ in range(40):
        step = chemical_update(network, k, **TASK, alpha=3.0, beta=1e-3, kappa=0.1)
        costs.append(step.gradient.cost)
        k = k + step.delta_g
        assert k.min() > 0
    assert np.all(np.diff(costs) < 0)
    assert costs[-1] < 0.5 * costs[0]


def test_advection_departs_from_the_gradient_but_still_descends(network):
    exact = flow_gradient(network, **TASK)
    k0 = network["pipe"]["k"]
    errors, peclets = [], []
    for kappa in (10.0, 1.0, 0.1):
        step = chemical_update(network, **TASK, alpha=1.0, beta=1e-3, kappa=kappa, advection=True)
        estimate = -step.delta_g
        errors.append(relative(estimate, exact.grad))
        peclets.append(step.gradient.info["peclet"])
        assert step.solver == "advection"
        assert estimate @ exact.grad > 0  # a descent direction
        after = flow_gradient(network, k0 + 0.5 * step.delta_g, **TASK).cost
        assert after < exact.cost
    assert min(errors) > 1e-3  # no longer the gradient ...
    assert errors == sorted(errors)  # ... and further from it the larger the Péclet number
    assert peclets == sorted(peclets)
    assert errors[0] < 0.05  # small Péclet: close to the gradient
    # training with advection still lowers the cost
    k = k0.copy()
    costs = []
    for _ in range(30):
        step = chemical_update(network, k, **TASK, alpha=3.0, beta=1e-3, kappa=0.1, advection=True)
        costs.append(step.gradient.cost)
        k = k + step.delta_g
    assert np.all(np.diff(costs) < 0)


def test_advection_with_pumps_conserves_the_chemical(pumped):
    p = pn.solve_dc(pumped).v
    s = np.zeros(pumped.n_nodes)
    s[pumped.node_index("n2_2")] = 1.0
    c = chemical_concentration(pumped, s, kappa=0.2, pressures=p)
    diffusive = chemical_concentration(pumped, s, kappa=0.2)
    pipes, pumps = pumped["pipe"], pumped["isource"]
    k = pipes["k"]
    q = k * (p[pipes.a] - p[pipes.b])
    flux = 0.2 * k * (c[pipes.a] - c[pipes.b]) + np.where(q > 0, q * c[pipes.a], q * c[pipes.b])
    pump_flux = np.where(pumps["dc"] > 0, pumps["dc"] * c[pumps.a], pumps["dc"] * c[pumps.b])
    outflow = (np.bincount(pipes.a, flux, pumped.n_nodes) - np.bincount(pipes.b, flux, pumped.n_nodes)
               + np.bincount(pumps.a, pump_flux, pumped.n_nodes) - np.bincount(pumps.b, pump_flux, pumped.n_nodes))
    free = np.setdiff1d(np.arange(pumped.n_nodes), pumped.node_indices(["0", "n4_4"]))
    np.testing.assert_allclose(outflow[free], s[free], atol=1e-13)
    assert not np.allclose(c, diffusive)


# --------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(network):
    base = dict(TASK, alpha=1.0, beta=1e-3)
    with pytest.raises(NetlistError, match="unknown node 'nope'"):
        chemical_update(network, **{**base, "outputs": ["nope", "n3_1"]})
    with pytest.raises(NetlistError, match="output node 'n0_0' is held by a pressure reservoir"):
        flow_gradient(network, outputs=["n0_0"], targets=[0.5])
    with pytest.raises(NetlistError, match="beta = 0"):
        chemical_update(network, **{**base, "beta": 0.0})
    with pytest.raises(NetlistError, match="kappa = -1"):
        chemical_update(network, **base, kappa=-1.0)
    with pytest.raises(NetlistError, match="pipe 'P2': k = 0.0"):
        flow_gradient(network, np.where(np.arange(len(network["pipe"])) == 2, 0.0, 1.0), **TASK)
    with pytest.raises(NetlistError, match="targets: expected 2"):
        flow_gradient(network, outputs=TASK["outputs"], targets=[1.0])
    with pytest.raises(NetlistError, match="unknown input key 'pressures'"):
        flow_gradient(network, **TASK, inputs={"pressures": [1.0, 0.0]})
    with pytest.raises(NetlistError, match="v_sources: expected 2 values"):
        flow_gradient(network, **TASK, inputs={"v_sources": [1.0]})
    with pytest.raises(NetlistError, match="unknown flow gradient method 'fp'"):
        flow_gradient(network, **TASK, method="fp")


def test_non_flow_networks_are_rejected():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=1.0)
    net.pipe("P1", "a", "b", k=1.0)
    net.resistor("R1", "b", "0", r=1.0)
    with pytest.raises(NetlistError, match="resistor 'R1': chemical learning needs a pure flow network"):
        chemical_update(net.compile(), outputs=["b"], targets=[0.0], alpha=1.0, beta=1.0)
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    with pytest.raises(NetlistError, match="resistor 'R1'"):
        flow_gradient(net.compile(), outputs=["a"], targets=[0.0])
