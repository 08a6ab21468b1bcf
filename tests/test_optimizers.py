"""Optimizers against hand-computed steps."""

from __future__ import annotations

import numpy as np
import pytest

from physnet.errors import NetlistError
from physnet.learning.optimizers import OPTIMIZERS, SGD, Adam, AdamState, Momentum, MomentumState, make_optimizer


def _run(opt, params, grads):
    state = opt.init(params)
    for grad in grads:
        params, state = opt.step(params, np.asarray(grad, dtype=float), state)
    return params, state


def test_sgd_step():
    params, state = _run(SGD(lr=0.1), np.array([1.0, 2.0]), [[1.0, -2.0], [0.5, 0.5]])
    np.testing.assert_allclose(params, [1.0 - 0.1 - 0.05, 2.0 + 0.2 - 0.05])
    assert state is None


def test_momentum_steps():
    # u1 = g1 = 1; θ1 = -0.1. u2 = 0.9 + 3 = 3.9; θ2 = -0.1 - 0.39 = -0.49.
    params, state = _run(Momentum(lr=0.1, momentum=0.9), np.array([0.0]), [[1.0], [3.0]])
    np.testing.assert_allclose(params, [-0.49])
    np.testing.assert_allclose(state.velocity, [3.9])


def test_nesterov_steps():
    # u1 = 1, θ1 = -0.1 (1 + 0.9) = -0.19; u2 = 3.9, θ2 = -0.19 - 0.1 (3 + 0.9 * 3.9) = -0.841.
    params, _ = _run(Momentum(lr=0.1, momentum=0.9, nesterov=True), np.array([0.0]), [[1.0], [3.0]])
    np.testing.assert_allclose(params, [-0.841])


def test_adam_bias_correction_by_hand():
    opt = Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    g1, g2 = 2.0, -1.0
    params, state = _run(opt, np.array([0.5]), [[g1]])
    # First step: m̂ = g, v̂ = g², so the step is lr * g / (|g| + eps).
    np.testing.assert_allclose(params, [0.5 - 0.01 * g1 / (abs(g1) + 1e-8)], rtol=1e-15)
    params, state = opt.step(params, np.array([g2]), state)
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = 0.5 - 0.01 * g1 / (abs(g1) + 1e-8) - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(params, [expected], rtol=1e-14)
    assert state.t == 2
    np.testing.assert_allclose([state.m[0], state.v[0]], [m, v], rtol=1e-15)


def test_steps_are_pure():
    params, grad = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    for opt in (SGD(lr=0.1), Momentum(lr=0.1), Adam(lr=0.1)):
        state = opt.init(params)
        first = opt.step(params, grad, state)
        second = opt.step(params, grad, state)
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(params, [1.0, 2.0])
        np.testing.assert_array_equal(grad, [0.5, -0.5])
    assert isinstance(Momentum(lr=1.0).init(params), MomentumState)
    assert isinstance(Adam(lr=1.0).init(params), AdamState)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_minimises_a_quadratic(name):
    opt = make_optimizer(name, lr=0.05)
    curvature = np.array([1.0, 10.0])
    params = np.array([1.0, -1.0])
    state = opt.init(params)
    for _ in range(500):
        params, state = opt.step(params, curvature * params, state)
    assert np.max(np.abs(params)) < 1e-3


def test_validation():
    with pytest.raises(NetlistError, match="lr"):
        SGD(lr=0.0)
    with pytest.raises(NetlistError, match="momentum"):
        Momentum(lr=0.1, momentum=1.0)
    with pytest.raises(NetlistError, match="beta2"):
        Adam(lr=0.1, beta2=1.5)
    with pytest.raises(NetlistError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", lr=0.1)
    with pytest.raises(NetlistError, match="optimizer 'sgd'"):
        make_optimizer("sgd", lr=0.1, momentum=0.9)
