"""Elastic learning: adjoint vs finite differences, FP (phasor and transient) vs adjoint, dynamics, coupled learning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import physnet as pn
from physnet.elements.spring import extensions
from physnet.errors import NetlistError
from physnet.generators import triangular_lattice
from physnet.learning import elastic as el
from physnet.learning.elastic import (
    ElasticOutputs,
    QuasiStaticWarning,
    elastic_coupled_estimate,
    elastic_fp_update,
    elastic_gradient,
    elastic_modes,
)
from physnet.solvers.elastic import solve_elastic

PINNED = ["n0_0", "n4_0"]


@pytest.fixture(scope="module")
def lattice():
    """A 5×5 triangular spring network with random stiffnesses, pinched at the left edge."""
    system = triangular_lattice(5, 5, kind="elastic", g=(0.5, 2.0), seed=1).compile()
    f = np.zeros((system.n_nodes, 2))
    f[system.node_index("n0_2")] = (-1.0, 0.0)
    f[system.node_index("n1_2")] = (1.0, 0.0)
    return system, f


@pytest.fixture(scope="module")
def task(lattice):
    system, f = lattice
    outputs = ElasticOutputs.pairs([("n3_3", "n4_3"), ("n2_4", "n3_4")]) + ElasticOutputs.nodes([("n4_2", "y")])
    return dict(forces=f, pinned=PINNED, outputs=outputs, targets=[0.05, -0.02, 0.01])


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def exact(lattice, task):
    return elastic_gradient(lattice[0], **task)


@pytest.fixture(scope="module")
def omega_min(lattice):
    return float(elastic_modes(lattice[0], pinned=PINNED, n_modes=1)[0])


# ------------------------------------------------------------- outputs
def test_pair_output_is_the_linearised_change_of_distance(lattice):
    system, _ = lattice
    u = np.random.default_rng(0).normal(size=(system.n_nodes, 2))
    u[0] = 0.0
    R = ElasticOutputs.pairs([("n1_1", "n2_1"), ("n2_1", "n1_1")]).readout(system)
    spring = next(j for j, (a, b) in enumerate(zip(system["spring"].a, system["spring"].b))
                  if {system.node_names[a], system.node_names[b]} == {"n1_1", "n2_1"})
    y = R @ u.reshape(-1)
    assert y[0] == pytest.approx(y[1])  # order of the pair does not matter
    assert abs(y[0]) == pytest.approx(abs(extensions(system, u)[spring]), rel=1e-14)
    # the exact change of distance agrees to first order
    eps = 1e-6
    ia, ib = system.node_index("n1_1"), system.node_index("n2_1")
    distance = lambda v: np.linalg.norm(system.positions[ia] + v[ia] - system.positions[ib] - v[ib])
    assert (distance(eps * u) - distance(0 * u)) / eps == pytest.approx(y[0], rel=1e-5)


def test_outputs_accept_tagged_tuples_and_axis_names(lattice):
    system, _ = lattice
    spec = [("pair", "n1_1", "n2_1"), ("node", "n3_3", "x"), ("node", "n3_3", 1)]
    R = ElasticOutputs.parse(spec).readout(system).toarray()
    i = system.node_index("n3_3")
    assert R[1, 2 * i] == 1.0 and R[2, 2 * i + 1] == 1.0 and R.shape == (3, 2 * system.n_nodes)


# ----------------------------------------------------------- gradients
def test_adjoint_matches_finite_differences(lattice, task, exact):
    fd = elastic_gradient(lattice[0], **task, method="fd")
    assert relative(exact.grad, fd.grad) < 1e-6
    assert exact.cost == pytest.approx(fd.cost, rel=1e-15)
    assert exact.states.shape == (lattice[0].n_nodes, 2) and len(exact.edges) == len(exact.grad)


def test_adjoint_with_custom_stiffness_matches_finite_differences(lattice, task):
    k = np.random.default_rng(5).uniform(0.1, 10.0, len(lattice[0]["spring"]))
    a = elastic_gradient(lattice[0], k, **task)
    assert relative(a.grad, elastic_gradient(lattice[0], k, **task, method="fd").grad) < 1e-6


# ---------------------------------------------------------- FP, phasor
def test_phasor_fp_at_zero_frequency_is_the_adjoint_gradient(lattice, task, exact):
    for beta in (1e-6, 1.0):  # linear network: any error amplitude
        step = elastic_fp_update(lattice[0], **task, alpha=0.3, beta=beta, omega_a=0.0, omega_b=0.0)
        assert relative(step.gradient.grad, exact.grad) < 1e-9
        np.testing.assert_allclose(step.delta_g, -0.3 * step.gradient.grad, rtol=0, atol=0)
        np.testing.assert_allclose(step.dv_a[0] * step.dv_b[0] / beta, step.gradient.grad, rtol=1e-15)
        assert step.gradient.cost == pytest.approx(exact.cost, rel=1e-12)


def test_pair_error_forces_are_equal_and_opposite_along_the_bond(lattice):
    system, f = lattice
    step = elastic_fp_update(system, forces=f, pinned=PINNED, outputs=[("pair", "n3_3", "n4_3")], targets=[1.0],
                             alpha=1.0, beta=0.5, omega_a=0.0, omega_b=0.0)
    F = step.gradient.info["error_forces"]
    ia, ib = system.node_index("n3_3"), system.node_index("n4_3")
    unit = system.positions[ia] - system.positions[ib]
    unit /= np.linalg.norm(unit)
    e = -0.5 * (step.gradient.info["outputs"][0] - 1.0)
    np.testing.assert_allclose(F[ia], e * unit, rtol=1e-14)
    np.testing.assert_allclose(F[ib], -e * unit, rtol=1e-14)
    assert np.count_nonzero(np.abs(F).sum(axis=1)) == 2


def test_fp_bias_vanishes_as_omega_squared(lattice, task, exact, omega_min):
    omegas = omega_min * np.array([0.005, 0.01, 0.02, 0.04])
    errors = [relative(elastic_fp_update(lattice[0], **task, alpha=1.0, beta=1e-3, omega_a=w / 2, omega_b=w,
                                         damping=0.05, drag=0.01).gradient.grad, exact.grad) for w in omegas]
    slope = np.polyfit(np.log(omegas), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.2)
    assert errors[0] < 1e-4


# ------------------------------------------------------- FP, transient
@pytest.mark.parametrize("ratio_a, ratio_b", [(0.0, 0.05), (0.025, 0.05), (0.06, 0.02)])
def test_transient_lockin_matches_phasor(lattice, task, omega_min, ratio_a, ratio_b):
    kw = dict(alpha=1.0, beta=1e-2, omega_a=ratio_a * omega_min, omega_b=ratio_b * omega_min, damping=0.2)
    phasor = elastic_fp_update(lattice[0], **task, **kw)
    transient = elastic_fp_update(lattice[0], **task, **kw, solver="transient")
    assert transient.solver == "transient"
    assert relative(transient.dv_a, phasor.dv_a) < 1e-4
    assert relative(transient.dv_b, phasor.dv_b) < 1e-4
    assert relative(transient.delta_g, phasor.delta_g) < 1e-4


def test_transient_resolves_in_phase_coefficient_off_quasi_static():
    """A single damped oscillator driven near resonance: transient lock-in = Re of the phasor response."""
    net = pn.Netlist()
    net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)])
    net.spring("S1", "m", "p", k=4.0)
    net.spring("S2", "m", "q", k=9.0)
    system = net.compile()
    f = np.zeros((4, 2))
    f[3] = (1.0, 0.5)
    kw = dict(forces=f, pinned=["p", "q"], outputs=[("node", "m", "x")], targets=[0.0], alpha=1.0, beta=1.0,
              omega_a=1.0, omega_b=1.5, damping=0.5, masses=1.0)
    with pytest.warns(QuasiStaticWarning):
        phasor = elastic_fp_update(system, **kw)
    with pytest.warns(QuasiStaticWarning):
        transient = elastic_fp_update(system, **kw, solver="transient", settle=8, steps_per_period=256)
    # x-mode: ω² = 4, damping 0.5: response 1 / (4 - ω² + 0.5jω)
    assert phasor.dv_a[0, 0] == pytest.approx((1.0 / (4.0 - 1.0 + 0.5j)).real, rel=1e-12)
    assert relative(transient.dv_a, phasor.dv_a) < 1e-4
    assert relative(transient.dv_b, phasor.dv_b) < 1e-4


# ----------------------------------------------------------- dynamics
def test_modes_of_a_mass_on_two_springs():
    net = pn.Netlist()
    net.nodes(["p", "q", "m"], [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)])
    net.spring("S1", "m", "p", k=4.0)
    net.spring("S2", "m", "q", k=9.0)
    system = net.compile()
    np.testing.assert_allclose(elastic_modes(system, pinned=["p", "q"], masses=0.25), [4.0, 6.0], rtol=1e-14)
    np.testing.assert_allclose(elastic_modes(system, [1.0, 1.0], pinned=["p", "q"], masses=[0, 0, 0, 4.0]),
                               [0.5, 0.5], rtol=1e-14)


def test_sparse_and_dense_modes_agree(lattice, monkeypatch):
    dense = elastic_modes(lattice[0], pinned=PINNED, masses=np.linspace(0.5, 2.0, lattice[0].n_nodes))
    monkeypatch.setattr(el, "_DENSE_MODES_MAX", 0)
    sparse = elastic_modes(lattice[0], pinned=PINNED, masses=np.linspace(0.5, 2.0, lattice[0].n_nodes), n_modes=4)
    np.testing.assert_allclose(sparse, dense[:4], rtol=1e-10)
    assert np.all(np.diff(dense) >= 0)


def test_quasi_static_warning_fires_above_threshold_only(lattice, task, omega_min):
    below = 0.99 * el.QUASI_STATIC_RATIO * omega_min
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = elastic_fp_update(lattice[0], **task, alpha=1.0, beta=1e-3, omega_a=below / 2, omega_b=below)
    assert step.gradient.info["frequency_ratio"] == pytest.approx(0.99 * el.QUASI_STATIC_RATIO, rel=1e-9)
    above = 1.01 * el.QUASI_STATIC_RATIO * omega_min
    with pytest.warns(QuasiStaticWarning, match=r"omega_a = .* is 0\.101 × the lowest eigenfrequency"):
        elastic_fp_update(lattice[0], **task, alpha=1.0, beta=1e-3, omega_a=above, omega_b=0.0)


# ----------------------------------------------------------- learning
def test_fp_training_sets_an_allosteric_strain():
    """Pinch a source pair at the bottom; train the strain of a distant pair towards a target."""
    system = triangular_lattice(5, 5, kind="elastic", g=1.0).compile()
    f = np.zeros((system.n_nodes, 2))
    f[system.node_index("n1_0")] = (1.0, 0.0)
    f[system.node_index("n2_0")] = (-1.0, 0.0)
    task = dict(forces=f, pinned=["n0_4", "n4_4"], outputs=[("pair", "n2_3", "n3_3")], targets=[-0.03])
    omega_b = 0.02 * float(elastic_modes(system, pinned=task["pinned"], n_modes=1)[0])
    k = system["spring"]["k"].copy()
    costs = []
    for _ in range(30):
        step = elastic_fp_update(system, k, **task, alpha=100.0, beta=1e-2, omega_a=0.0, omega_b=omega_b)
        costs.append(step.gradient.cost)
        k = k + step.delta_g
        assert k.min() > 0
    assert np.all(np.diff(costs) < 0)
    assert costs[-1] < 1e-3 * costs[0]


# ---------------------------------------------------------- coupled learning
def _compliance(system, task):
    """``G = R K⁻¹ Rᵀ``: each output's response to a unit force on each output, by one static solve per output."""
    R = ElasticOutputs.parse(task["outputs"]).readout(system)
    shape = (system.n_nodes, 2)
    U = [solve_elastic(system, R[r].toarray().reshape(shape), task["pinned"]).u.reshape(-1) for r in range(R.shape[0])]
    return R @ np.array(U).T


def test_coupled_clamp_holds_the_outputs_at_the_nudged_values(lattice, task, exact):
    system = lattice[0]
    r = elastic_coupled_estimate(system, **task, eta=0.2)
    R = ElasticOutputs.parse(task["outputs"]).readout(system)
    y_free = R @ exact.states.reshape(-1)
    np.testing.assert_allclose(r.info["clamp"], y_free + 0.2 * (np.array(task["targets"]) - y_free), rtol=1e-14)
    u_c = r.info["clamped_states"]
    np.testing.assert_allclose(R @ u_c.reshape(-1), r.info["clamp"], rtol=1e-12)
    # the clamp is the equilibrium under the input forces plus the clamp's reaction forces on the outputs
    direct = solve_elastic(system, task["forces"] + r.info["clamp_forces"], task["pinned"]).u
    np.testing.assert_allclose(u_c, direct, rtol=0, atol=1e-12 * np.abs(direct).max())
    expected = 0.5 * (extensions(system, u_c) ** 2 - extensions(system, exact.states) ** 2) / 0.2
    np.testing.assert_allclose(r.grad, expected, rtol=1e-12, atol=1e-15 * np.abs(expected).max())
    np.testing.assert_array_equal(r.states, exact.states)
    assert r.cost == pytest.approx(exact.cost, rel=1e-14) and r.method == "coupled"


def test_coupled_learning_tends_to_the_compliance_weighted_gradient(lattice, task):
    """``½[(ΔE^C)² - (ΔE^F)²]/η → dC'/dk`` with ``C' = ½ eᵀ G⁻¹ e`` (G held fixed); the remainder is linear in η."""
    system = lattice[0]
    G = _compliance(system, task)
    weight = np.linalg.inv(G)

    class Weighted:
        def value(self, y, targets):
            e = np.asarray(y) - targets
            return 0.5 * e @ weight @ e

        def grad(self, y, targets):
            return weight @ (np.asarray(y) - targets)

    reference = elastic_gradient(system, **task, cost=Weighted()).grad
    errors = {}
    for eta in (1e-2, 1e-3):
        r = elastic_coupled_estimate(system, **task, eta=eta)
        np.testing.assert_allclose(r.info["compliance"], G, rtol=1e-12)
        errors[eta] = relative(r.grad, reference)
    assert errors[1e-3] < 1e-3
    assert errors[1e-2] / errors[1e-3] == pytest.approx(10.0, rel=1e-4)  # exactly O(η) in a linear network


def test_coupled_bad_inputs_raise_clear_errors(lattice, task):
    system = lattice[0]
    for eta in (0.0, 1.5, float("nan")):
        with pytest.raises(NetlistError, match=r"eta = .* must be a number in \(0, 1\]"):
            elastic_coupled_estimate(system, **task, eta=eta)
    pinned_output = {**task, "outputs": [("node", PINNED[0], "x")], "targets": [0.0]}
    repeated = {**task, "outputs": [("pair", "n3_3", "n4_3"), ("pair", "n4_3", "n3_3")], "targets": [0.0, 0.0]}
    for bad in (pinned_output, repeated):
        with pytest.raises(NetlistError, match="cannot be: an output's nodes are pinned, or an output is repeated"):
            elastic_coupled_estimate(system, **bad)

# -------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(lattice, task):
    system, f = lattice
    base = dict(task, alpha=1.0, beta=1e-3, omega_a=0.0, omega_b=0.01)
    with pytest.raises(NetlistError, match="unknown node 'nope'"):
        elastic_fp_update(system, **{**base, "outputs": [("pair", "nope", "n1_1")]})
    with pytest.raises(NetlistError, match="unknown node 'ghost'"):
        elastic_gradient(system, **{**task, "pinned": ["ghost"]})
    with pytest.raises(NetlistError, match="beta = 0"):
        elastic_fp_update(system, **{**base, "beta": 0.0})
    with pytest.raises(NetlistError, match="omega_b = -1"):
        elastic_fp_update(system, **{**base, "omega_b": -1.0})
    with pytest.raises(NetlistError, match="must differ"):
        elastic_fp_update(system, **{**base, "omega_b": 0.0}, solver="transient")
    with pytest.raises(NetlistError, match="ratio must be a fraction"):
        elastic_fp_update(system, **{**base, "omega_a": 0.01, "omega_b": 0.01 * np.pi}, solver="transient")
    with pytest.raises(NetlistError, match="unknown elastic FP solver 'hb'"):
        elastic_fp_update(system, **base, solver="hb")
    with pytest.raises(NetlistError, match="targets: expected 3"):
        elastic_gradient(system, **{**task, "targets": [0.0]})
    with pytest.raises(NetlistError, match=r"forces: expected shape \(26, 2\)"):
        elastic_gradient(system, **{**task, "forces": f[1:]})
    with pytest.raises(NetlistError, match="axis must be 0..1"):
        elastic_gradient(system, **{**task, "outputs": [("node", "n1_1", "z")]})
    with pytest.raises(NetlistError, match="same position"):
        elastic_gradient(system, **{**task, "outputs": [("pair", "n1_1", "n1_1")]})
    with pytest.raises(NetlistError, match="is not \\('pair', a, b\\)"):
        elastic_gradient(system, **{**task, "outputs": [("strain", "n1_1", "n2_1")]})
    with pytest.raises(NetlistError, match="stiffness k of 'S3' = -1.0"):
        elastic_gradient(system, np.where(np.arange(len(system["spring"])) == 3, -1.0, 1.0), **task)
    with pytest.raises(NetlistError, match="mass of 'n0_1' = 0.0"):
        elastic_fp_update(system, **base, masses=np.where(np.arange(system.n_nodes) == 2, 0.0, 1.0))
    with pytest.raises(NetlistError, match="unknown elastic gradient method 'ep'"):
        elastic_gradient(system, **task, method="ep")


def test_floppy_network_is_an_error(lattice, task):
    system = lattice[0]
    for call in (lambda: elastic_gradient(system, **{**task, "pinned": ["n0_0"]}),  # rotation about n0_0 is free
                 lambda: elastic_fp_update(system, **{**task, "pinned": ["n0_0"]}, alpha=1.0, beta=1e-3,
                                           omega_a=0.0, omega_b=1e-3)):
        with pytest.raises(NetlistError, match="floppy"):
            call()


def test_missing_positions_are_errors():
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    with pytest.raises(NetlistError, match="no node positions"):
        elastic_gradient(net.compile(), forces=np.zeros((2, 2)), pinned=[], outputs=[("node", "a", 0)],
                         targets=[0.0])
    net = pn.Netlist()
    net.nodes(["p", "q"], [(0.0, 0.0), (1.0, 0.0)])
    net.spring("S1", "p", "q", k=1.0)
    net.node("loose")
    with pytest.raises(NetlistError, match="node 'loose' has no position"):
        elastic_gradient(net.compile(), forces=np.zeros((4, 2)), pinned=["p"], outputs=[("node", "loose", 0)],
                         targets=[0.0])
