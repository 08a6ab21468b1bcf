"""Reproduce the coupled-learning example of maguzj/coupled_learning with physnet's solvers.

The reference trains a 100-node flow network for 1000 steps (tests/data/coupled_learning,
provenance in tests/data/README.md). One step of their rule (Stern et al. 2021), as read from
their code (shared data README, section 3):

* free state ``p_F``: sources held at their pressures;
* clamped state ``p_C``: sources held, and every target node held at
  ``p_F + η (y - p_F)``;
* ``k ← clip(k - (α/η) [(Δp_C)² - (Δp_F)²], k_min, k_max)``.

The step below is self-contained on physnet's public solver (``solve_dc`` with pipe
conductances ``k``; the clamped phase is the same network with reservoirs at the targets)
and the clipping is :class:`physnet.hardware.Bounds` through :class:`physnet.hardware.Hardware`.
A general ``coupled`` learning rule can replace ``coupled_step`` here one for one: it gets
the network, ``k``, the source pressures, the outputs and targets, and the nudge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from physnet import solve_dc
from physnet.hardware import Bounds, Hardware
from physnet.tasks import CoupledLearningExample, coupled_learning_example

DATA = Path(__file__).parent / "data" / "coupled_learning"


@pytest.fixture(scope="module")
def example() -> CoupledLearningExample:
    return coupled_learning_example(DATA)


def coupled_step(ex: CoupledLearningExample, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The conductance update ``-(α/η)[(Δp_C)² - (Δp_F)²]`` and the free state's output pressures."""
    free = solve_dc(ex.network, k=k, v_sources=ex.v_sources).v
    out = ex.network.node_indices(ex.outputs)
    clamp = free[out] + ex.nudge * (ex.targets - free[out])
    clamped = solve_dc(ex.clamped, k=k, v_sources=np.concatenate([ex.v_sources, clamp])).v
    pipes = ex.network["pipe"]
    drop_f, drop_c = free[pipes.a] - free[pipes.b], clamped[pipes.a] - clamped[pipes.b]
    return -(ex.learning_rate / ex.nudge) * (drop_c**2 - drop_f**2), free[out]


def loss(ex: CoupledLearningExample, p_out: np.ndarray) -> float:
    return 0.5 * float(np.mean((p_out - ex.targets) ** 2))


def test_example_loads_as_a_flow_network(example):
    ex = example
    assert ex.trajectory.shape == (101, 225) and ex.losses.shape == (101,)
    assert len(ex.network["pipe"]) == 225 and ex.network.n_nodes == 100
    assert ex.outputs == ("n15", "n43") and ex.network["vsource"].names == ("Vn49", "Vn23")
    assert ex.clamped["vsource"].names == ("Vn49", "Vn23", "Cn15", "Cn43")
    np.testing.assert_array_equal(ex.v_sources, [0.5, 2.0])
    assert (ex.steps_per_epoch, ex.epochs, ex.nudge, ex.learning_rate) == (10, 100, 0.1, 0.1)
    np.testing.assert_array_equal(ex.network["pipe"]["k"], np.ones(225))


def test_conductance_trajectory_matches_reference(example):
    """All 101 recorded conductance vectors to ≤ 1e-10, and the 101 losses to 1e-9 relative."""
    ex = example
    hw = Hardware(bounds=Bounds(ex.k_min, ex.k_max))
    state = hw.init(ex.trajectory[0])
    _, p_out = coupled_step(ex, hw.device(state))
    losses = [loss(ex, p_out)]
    worst = 0.0
    for epoch in range(1, ex.epochs + 1):
        for _ in range(ex.steps_per_epoch):
            delta, p_out = coupled_step(ex, hw.device(state))
            state = hw.apply_update(state, delta)
        losses.append(loss(ex, p_out))  # the last step's free state, before its update (as theirs)
        worst = max(worst, float(np.max(np.abs(hw.device(state) - ex.trajectory[epoch]))))
    assert worst <= 1e-10
    np.testing.assert_allclose(losses, ex.losses, rtol=1e-9)
    final = hw.device(state)
    assert final.min() == ex.k_min  # one pipe clipped at the lower bound, as in the reference
    free = solve_dc(ex.network, k=final, v_sources=ex.v_sources)
    np.testing.assert_allclose([free[n] for n in ex.outputs], [0.40189614, 0.89822996], atol=5e-9)
