"""Batches of elastic samples: one factorization, multi-right-hand-side solves, the mean of per-sample results."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from physnet.elements.spring import stiffness_blocks, stiffness_matrix
from physnet.errors import NetlistError
from physnet.experiments.elastic import (
    batch_estimate,
    elastic_metrics,
    elastic_outputs,
    elastic_rule,
    sample_forces,
)
from physnet.generators import triangular_lattice
from physnet.learning.elastic import (
    ElasticOutputs,
    elastic_coupled_estimate,
    elastic_fp_update,
    elastic_gradient,
    elastic_modes,
)
from physnet.solvers.elastic import solve_elastic
from physnet.solvers.elastic_operator import FLOPPY, elastic_operator
from physnet.solvers.linear import available_backends
from physnet.tasks import allostery

PINNED = ["n0_0", "n4_0"]
BATCH = 8  # more than twice the 3 outputs: adjoint and error tone go through K⁻¹ Rᵀ (one column per output)
TIGHT = 1e-13


@pytest.fixture(scope="module")
def system():
    """A 5×5 triangular spring network with random stiffnesses (its own topology: counts start from scratch)."""
    return triangular_lattice(5, 5, kind="elastic", g=(0.5, 2.0), seed=1).compile()


@pytest.fixture(scope="module")
def task(system):
    """A batch of random force patterns on every node and random targets for three outputs."""
    rng = np.random.default_rng(3)
    forces = rng.normal(size=(BATCH, system.n_nodes, 2))
    forces[:, 0] = 0.0
    outputs = ElasticOutputs.pairs([("n3_3", "n4_3"), ("n2_4", "n3_4")]) + ElasticOutputs.nodes([("n4_2", "y")])
    return dict(forces=forces, pinned=PINNED, outputs=outputs, targets=rng.normal(scale=0.5, size=(BATCH, 3)))


def samples(task):
    """The batch as single-sample keyword arguments."""
    return [dict(task, forces=f, targets=t) for f, t in zip(task["forces"], task["targets"])]


def first(task, size):
    """The first ``size`` samples of the batch (6 or fewer: one solve column per sample)."""
    return dict(task, forces=task["forces"][:size], targets=task["targets"][:size])


def relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


# ---------------------------------------------------------------- operator
@pytest.mark.parametrize("backend", available_backends())
def test_operator_pattern_and_scatter_reproduce_the_stiffness_matrix(system, backend):
    op = elastic_operator(system, PINNED, backend)
    k = np.random.default_rng(0).uniform(0.1, 10.0, len(system["spring"]))
    reference = stiffness_matrix(system, k).toarray()[np.ix_(op.free, op.free)]
    K = op.matrix(op.stiffness_data(k)).toarray()
    np.testing.assert_allclose(K, reference, rtol=0, atol=1e-14 * np.abs(reference).max())
    assert op.factorizer.backend == backend and op.nnz == len(op.factorizer.indices)
    np.testing.assert_array_equal(op.matrix(np.arange(op.nnz, dtype=float)).diagonal(), op.diagonal)
    # any per-spring blocks stamp the same way: the geometric tangent at a displaced state
    u = 0.05 * np.random.default_rng(1).normal(size=(system.n_nodes, 2))
    tangent = stiffness_matrix(system, k, u, geometric=True).toarray()[np.ix_(op.free, op.free)]
    blocks = op.matrix(op.block_data(stiffness_blocks(system, k, u, geometric=True))).toarray()
    np.testing.assert_allclose(blocks, tangent, rtol=0, atol=1e-14 * np.abs(tangent).max())
    # and the solve is K⁻¹ f, for one or many right-hand sides
    rhs = np.random.default_rng(2).normal(size=(len(op.free), 3))
    np.testing.assert_allclose(op.solve(k, rhs), np.linalg.solve(reference, rhs), rtol=1e-10)
    np.testing.assert_allclose(op.solve(k, rhs[:, 1]), np.linalg.solve(reference, rhs[:, 1]), rtol=1e-10)


def test_operator_follows_the_positions_not_only_the_topology(system):
    """Same topology, other positions (dataclasses.replace): the bond directions, so the operator, change."""
    op = elastic_operator(system, PINNED)
    moved = dataclasses.replace(system, positions=system.positions * [1.0, 1.3])
    assert moved.topology is system.topology and elastic_operator(moved, PINNED) is not op
    f = np.zeros((system.n_nodes, 2))
    f[system.node_index("n4_4")] = (0.3, -0.2)
    K = stiffness_matrix(moved).toarray()[np.ix_(op.free, op.free)]
    expected = np.linalg.solve(K, f.reshape(-1)[op.free])
    np.testing.assert_allclose(solve_elastic(moved, f, PINNED).u.reshape(-1)[op.free], expected, rtol=1e-10)


# ---------------------------------------------------------------- static solves
def test_batched_solve_is_every_sample_solved_alone(system, task):
    batch = solve_elastic(system, task["forces"], PINNED)
    assert batch.u.shape == (BATCH, system.n_nodes, 2) and batch.converged and batch.iterations == 1
    single = np.stack([solve_elastic(system, f, PINNED).u for f in task["forces"]])
    assert relative(batch.u, single) < TIGHT
    # and it is the equilibrium: K u = f at every free degree of freedom
    free = elastic_operator(system, PINNED).free
    residual = (stiffness_matrix(system) @ batch.u.reshape(BATCH, -1).T).T - task["forces"].reshape(BATCH, -1)
    assert np.abs(residual[:, free]).max() < 1e-12 * np.abs(task["forces"]).max()


def test_batched_geometric_newton_is_every_sample_alone(system, task):
    forces = 0.05 * task["forces"][:3]
    batch = solve_elastic(system, forces, PINNED, geometric=True)
    runs = [solve_elastic(system, f, PINNED, geometric=True) for f in forces]
    assert batch.converged and batch.iterations == max(r.iterations for r in runs) > 1
    assert batch.residual <= 1e-12 * (1.0 + np.abs(forces).max())
    assert relative(batch.u, np.stack([r.u for r in runs])) < 1e-12
    linear = solve_elastic(system, forces, PINNED).u
    assert relative(batch.u, linear) > 1e-3  # Newton did move away from the linear answer


# ---------------------------------------------------------------- estimates
@pytest.mark.parametrize("size", [BATCH, 6])
def test_batched_adjoint_gradient_is_the_mean_of_per_sample_gradients(system, task, size):
    task = first(task, size)
    batch = elastic_gradient(system, **task)
    single = [elastic_gradient(system, **s) for s in samples(task)]
    assert batch.grad.shape == (len(system["spring"]),) and batch.states.shape == (size, system.n_nodes, 2)
    assert relative(batch.grad, np.mean([r.grad for r in single], axis=0)) < TIGHT
    assert batch.cost == pytest.approx(np.mean([r.cost for r in single]), rel=TIGHT)
    assert relative(batch.states, np.stack([r.states for r in single])) < TIGHT


def test_batched_finite_differences_agree_with_the_batched_adjoint(system, task):
    few = dict(task, forces=task["forces"][:2], targets=task["targets"][:2])
    assert relative(elastic_gradient(system, **few, method="fd").grad, elastic_gradient(system, **few).grad) < 1e-6


def test_batched_coupled_estimate_is_the_mean_of_per_sample_estimates(system, task):
    batch = elastic_coupled_estimate(system, **task, eta=0.1)
    single = [elastic_coupled_estimate(system, **s, eta=0.1) for s in samples(task)]
    assert relative(batch.grad, np.mean([r.grad for r in single], axis=0)) < TIGHT
    assert batch.cost == pytest.approx(np.mean([r.cost for r in single]), rel=TIGHT)
    for key in ("clamp", "clamped_states", "clamp_forces"):
        assert batch.info[key].shape[0] == BATCH
        assert relative(batch.info[key], np.stack([r.info[key] for r in single])) < TIGHT, key
    np.testing.assert_allclose(batch.info["compliance"], single[0].info["compliance"], rtol=TIGHT)


@pytest.fixture(scope="module")
def omega_min(system):
    return float(elastic_modes(system, pinned=PINNED, n_modes=1)[0])


@pytest.mark.parametrize("size", [BATCH, 6])
@pytest.mark.parametrize("ratio_a, ratio_b", [(0.0, 0.0), (0.0, 0.05), (0.03, 0.05)])
def test_batched_phasor_fp_is_the_mean_of_per_sample_steps(system, task, omega_min, ratio_a, ratio_b, size):
    task = first(task, size)
    kw = dict(alpha=0.5, beta=1e-2, omega_a=ratio_a * omega_min, omega_b=ratio_b * omega_min, damping=0.05,
              drag=0.01)
    batch = elastic_fp_update(system, **task, **kw)
    single = [elastic_fp_update(system, **s, **kw) for s in samples(task)]
    assert relative(batch.delta_g, np.mean([r.delta_g for r in single], axis=0)) < TIGHT
    assert relative(batch.gradient.grad, np.mean([r.gradient.grad for r in single], axis=0)) < TIGHT
    assert batch.gradient.cost == pytest.approx(np.mean([r.gradient.cost for r in single]), rel=TIGHT)
    assert batch.dv_a.shape == batch.dv_b.shape == (size, len(system["spring"]))
    assert relative(batch.dv_a, np.concatenate([r.dv_a for r in single])) < TIGHT
    assert relative(batch.dv_b, np.concatenate([r.dv_b for r in single])) < TIGHT
    assert relative(batch.gradient.states, np.stack([r.gradient.states for r in single])) < TIGHT
    for key in ("outputs", "error_forces"):
        assert relative(batch.gradient.info[key], np.stack([r.gradient.info[key] for r in single])) < TIGHT, key
    if ratio_a == ratio_b == 0.0:  # static FP is the exact gradient, batch or not
        assert relative(batch.gradient.grad, elastic_gradient(system, **task).grad) < 1e-12


def test_batched_transient_fp_is_the_mean_of_per_sample_steps(system, task, omega_min):
    kw = dict(alpha=1.0, beta=1e-2, omega_a=0.0, omega_b=0.05 * omega_min, damping=0.2, solver="transient",
              settle=2, steps_per_period=64)
    few = dict(task, forces=task["forces"][:3], targets=task["targets"][:3])
    batch = elastic_fp_update(system, **few, **kw)
    single = [elastic_fp_update(system, **s, **kw) for s in samples(few)]
    assert relative(batch.gradient.grad, np.mean([r.gradient.grad for r in single], axis=0)) < TIGHT
    assert relative(batch.dv_b, np.concatenate([r.dv_b for r in single])) < TIGHT
    assert relative(batch.gradient.info["outputs"], np.stack([r.gradient.info["outputs"] for r in single])) < TIGHT


# ---------------------------------------------------------------- factorization reuse
def test_a_batch_costs_one_factorization_and_an_unchanged_k_none(task):
    system = triangular_lattice(5, 5, kind="elastic", g=(0.5, 2.0), seed=2).compile()  # a fresh topology
    op = elastic_operator(system, PINNED)
    assert op.factorizer.factorizations == 0
    elastic_gradient(system, **task)
    assert op.factorizer.factorizations == 1  # BATCH samples, free and adjoint solves: one numeric factorization
    elastic_gradient(system, **task)
    elastic_coupled_estimate(system, **task)
    elastic_fp_update(system, **task, alpha=1.0, beta=1e-3, omega_a=0.0, omega_b=0.0)
    solve_elastic(system, task["forces"], PINNED)
    assert op.factorizer.factorizations == 1  # same k: the cached factor serves every rule
    k = system["spring"]["k"] * 1.5
    elastic_gradient(system, k, **task)
    assert op.factorizer.factorizations == 2  # new k: one refactorization
    trained = system.with_values("spring", k=k * 2.0)
    assert elastic_operator(trained, list(reversed(PINNED))) is op  # same topology and pins: same pattern
    elastic_gradient(trained, **task)
    assert op.factorizer.factorizations == 3
    elastic_gradient(system, k * 2.0, **task)
    assert op.factorizer.factorizations == 3  # the same stiffnesses as `trained`'s, so its factor


def test_training_steps_share_the_factorization_with_the_metrics():
    task = allostery(seed=0, size=(5, 4))
    op = elastic_operator(task.network, task.info["pinned"])
    k = task.network["spring"]["k"] * 1.1
    before = op.factorizer.factorizations
    adjoint = batch_estimate(task, elastic_rule("adjoint"), k, task.x_train, task.y_train)
    elastic_metrics(task, k, task.x_test, task.y_test, None)
    elastic_outputs(task, k, task.x_train)
    assert op.factorizer.factorizations == before + 1
    single = [elastic_gradient(task.network, k, forces=f, pinned=task.info["pinned"], outputs=task.outputs,
                               targets=t).grad for f, t in zip(sample_forces(task, task.x_train), task.y_train)]
    assert relative(adjoint, np.mean(single, axis=0)) < TIGHT
    outputs = elastic_outputs(task, k, task.x_train)
    R = ElasticOutputs.parse(task.outputs).readout(task.network)
    direct = [R @ solve_elastic(task.network, f, task.info["pinned"], k).u.reshape(-1)
              for f in sample_forces(task, task.x_train)]
    assert relative(outputs, np.array(direct)) < TIGHT


# ---------------------------------------------------------------- errors
def test_floppy_batch_raises_the_floppy_error(system, task):
    floppy = {**task, "pinned": ["n0_0"]}  # rotation about n0_0 is free
    for call in (lambda: elastic_gradient(system, **floppy),
                 lambda: elastic_coupled_estimate(system, **floppy),
                 lambda: solve_elastic(system, task["forces"], ["n0_0"])):
        with pytest.raises(NetlistError) as info:
            call()
        assert str(info.value) == FLOPPY
    with pytest.raises(NetlistError, match="floppy"):
        elastic_fp_update(system, **floppy, alpha=1.0, beta=1e-3, omega_a=0.0, omega_b=0.0)


@pytest.mark.parametrize("backend", available_backends())
def test_four_bar_linkage_is_floppy_on_every_backend(backend):
    rng = np.random.default_rng(4)
    system = triangular_lattice(2, 2, kind="elastic", g=1.0).compile()  # a rhombus of two triangles...
    no_diagonal = system.with_values("spring", k=np.where(np.arange(len(system["spring"])) == 4, 1e-300, 1.0))
    op = elastic_operator(system, ["n0_0", "n1_0"], backend)
    with pytest.raises(NetlistError, match="floppy"):
        op.factor(no_diagonal["spring"]["k"])  # ...whose diagonal is (numerically) gone: a four-bar linkage
    assert op.solve(system["spring"]["k"], rng.normal(size=len(op.free))).shape == (len(op.free),)  # recovers


def test_mismatched_batches_name_both_shapes(system, task):
    with pytest.raises(NetlistError, match=r"forces of shape \(8, 26, 2\) hold a batch of 8 samples, so targets "
                                           r"must have shape \(8, 3\).*got \(7, 3\)"):
        elastic_gradient(system, **{**task, "targets": task["targets"][:7]})
    with pytest.raises(NetlistError, match=r"targets must have shape \(8, 3\).*got \(3,\)"):
        elastic_fp_update(system, **{**task, "targets": task["targets"][0]}, alpha=1.0, beta=1e-3, omega_a=0.0,
                          omega_b=0.0)
    with pytest.raises(NetlistError, match=r"forces: expected shape \(26, 2\) .* or \(batch, 26, 2\), got \(8, 25, 2\)"):
        elastic_coupled_estimate(system, **{**task, "forces": task["forces"][:, 1:]})
    with pytest.raises(NetlistError, match=r"forces: the batch is empty"):
        elastic_gradient(system, **{**task, "forces": task["forces"][:0], "targets": task["targets"][:0]})
    with pytest.raises(NetlistError, match=r"forces: expected shape \(26, 2\) .* got \(52,\)"):
        solve_elastic(system, task["forces"][0].reshape(-1), PINNED)
    bad = task["forces"].copy()
    bad[3, system.node_index("n2_2"), 1] = np.nan
    with pytest.raises(NetlistError, match="forces on node 'n2_2' in sample 3 must be finite"):
        elastic_gradient(system, **{**task, "forces": bad})
