"""Costs of output potentials: gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from physnet.learning.costs import SquaredError, SoftmaxCrossEntropy


@pytest.mark.parametrize("cost", [SquaredError(), SoftmaxCrossEntropy(temperature=0.05)], ids=["se", "ce"])
def test_gradient_equals_central_differences(cost):
    rng = np.random.default_rng(0)
    v, y = rng.uniform(-0.2, 0.2, (4, 3)), np.eye(3)[[0, 2, 1, 2]] * 0.4 - 0.2
    h = 1e-6
    fd = np.empty_like(v)
    for k in range(3):
        step = np.zeros(3)
        step[k] = h
        fd[:, k] = (cost.value(v + step, y) - cost.value(v - step, y)) / (2 * h)
    np.testing.assert_allclose(cost.grad(v, y), fd, rtol=1e-6, atol=1e-9)


def test_cross_entropy_reads_the_class_from_the_highest_target_and_is_shift_invariant():
    cost = SoftmaxCrossEntropy(temperature=0.02)
    v = np.array([[0.50, 0.52, 0.40]])
    low_high = cost.value(v, np.array([[0.4, 0.6, 0.4]]))
    one_hot = cost.value(v, np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(low_high, one_hot)
    np.testing.assert_allclose(cost.value(v + 3.0, np.array([[0.0, 1.0, 0.0]])), one_hot)  # only differences count
    assert cost.value(v, np.array([[1.0, 0.0, 0.0]]))[0] > one_hot[0]  # the other class costs more
    with pytest.raises(ValueError, match="temperature"):
        SoftmaxCrossEntropy(temperature=0.0)
