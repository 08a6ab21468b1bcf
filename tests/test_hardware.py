"""Hardware constraints: thresholding operators against closed forms and brute force, quantized
training on the grid, bounds, and the statistics and reproducibility of variation and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physnet.hardware import (
    Bounds,
    Hardware,
    HardwareError,
    HardwareState,
    Noise,
    Quantization,
    Sparsity,
    Variation,
    hard_threshold,
    penalty,
    quantize,
    soft_threshold,
    threshold,
    tl1_threshold,
)

GRID = np.union1d(np.linspace(-5.0, 5.0, 200_001), [0.0])  # step 5e-5, with an exact zero
POINTS = np.linspace(-4.0, 4.0, 81)


def _brute_force(x: float, kind: str, lam: float, a: float = 1.0) -> tuple[float, float]:
    """Grid minimiser of ½(u - x)² + λ P(u) and its objective (u = 0 is on the grid)."""
    obj = 0.5 * (GRID - x) ** 2 + lam * penalty(GRID, kind, a)
    i = int(np.argmin(obj))
    return float(GRID[i]), float(obj[i])


def _objective(u: float, x: float, kind: str, lam: float, a: float = 1.0) -> float:
    return float(0.5 * (u - x) ** 2 + lam * penalty(u, kind, a))


# ------------------------------------------------------------ thresholding
def test_soft_threshold_closed_form():
    x = np.array([-3.0, -1.0, -0.4, 0.0, 0.4, 1.0, 3.0])
    np.testing.assert_array_equal(soft_threshold(x, 1.0), [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(threshold(x, "l1", 0.5), np.sign(x) * np.maximum(np.abs(x) - 0.5, 0))


def test_hard_threshold_closed_form():
    lam = 0.5  # threshold sqrt(2 λ) = 1
    x = np.array([-2.0, -1.0 - 1e-12, -0.99, 0.0, 0.99, 1.0, 1.5])
    np.testing.assert_array_equal(hard_threshold(x, lam), [-2.0, -1.0 - 1e-12, 0.0, 0.0, 0.0, 0.0, 1.5])
    np.testing.assert_array_equal(threshold(x, "l0", lam), hard_threshold(x, lam))


@pytest.mark.parametrize("lam", [0.05, 0.3, 1.0, 2.5])
def test_soft_threshold_is_the_prox_argmin(lam):
    for x in POINTS:
        u_grid, _ = _brute_force(x, "l1", lam)
        assert abs(float(soft_threshold(x, lam)) - u_grid) <= 5e-5


@pytest.mark.parametrize("lam", [0.05, 0.3, 1.0, 2.5])
def test_hard_threshold_is_the_prox_argmin(lam):
    t = math.sqrt(2 * lam)
    for x in POINTS[np.abs(np.abs(POINTS) - t) > 1e-3]:  # away from the tie |x| = t
        u_grid, _ = _brute_force(x, "l0", lam)
        assert abs(float(hard_threshold(x, lam)) - u_grid) <= 5e-5


@pytest.mark.parametrize("a", [0.2, 1.0, 4.0])
@pytest.mark.parametrize("lam", [0.02, 0.3, 1.0, 3.0])
def test_tl1_threshold_is_the_prox_argmin(a, lam):
    """The closed form minimises ½(u-x)² + λ ρ_a(u), sub- and supercritical (λ vs a²/(2(a+1)))."""
    for x in POINTS:
        u = float(tl1_threshold(x, lam, a))
        u_grid, best = _brute_force(x, "tl1", lam, a)
        assert _objective(u, x, "tl1", lam, a) <= best + 1e-9  # never worse than the fine grid
        if abs(_objective(0.0, x, "tl1", lam, a) - best) > 1e-6:  # a unique minimiser (no tie with 0)
            assert abs(u - u_grid) <= 1e-4


@pytest.mark.parametrize("a, lam", [(1.0, 0.1), (2.0, 0.5), (1.0, 1.0), (0.5, 2.0)])
def test_tl1_threshold_values(a, lam):
    """Zero up to t, non-zero just above: t = λ(a+1)/a (subcritical) or sqrt(2λ(a+1)) - a/2."""
    sub = lam <= a * a / (2 * (a + 1))
    t = lam * (a + 1) / a if sub else math.sqrt(2 * lam * (a + 1)) - a / 2
    below, above = tl1_threshold([t * (1 - 1e-9), -t * (1 - 1e-9)], lam, a), tl1_threshold([t * 1.001], lam, a)
    np.testing.assert_array_equal(below, [0.0, 0.0])
    assert above[0] > 0
    if sub:  # continuous: starts from zero
        assert above[0] < 1e-2 * t
    else:  # a jump, as hard thresholding
        assert above[0] > 0.1 * t


def test_tl1_limits_are_l1_and_l0():
    x = np.linspace(-3, 3, 61)
    x = x[np.abs(np.abs(x) - 1.0) > 1e-3]
    np.testing.assert_allclose(tl1_threshold(x, 0.7, a=1e7), soft_threshold(x, 0.7), atol=1e-5)
    np.testing.assert_allclose(tl1_threshold(x, 0.5, a=1e-7), hard_threshold(x, 0.5), atol=1e-3)


def test_unknown_penalty():
    with pytest.raises(HardwareError, match="l1, l0, tl1"):
        threshold([1.0], "l2", 0.1)
    with pytest.raises(HardwareError, match="penalty"):
        Sparsity("l2")


# ------------------------------------------------------------ ideal, bounds
def test_ideal_hardware_is_plain_float_training():
    hw = Hardware()
    state = hw.init([1.0, 2.0])
    np.testing.assert_array_equal(hw.device(state), [1.0, 2.0])
    np.testing.assert_array_equal(hw.read(hw.device(state)), [1.0, 2.0])
    state = hw.apply_update(state, np.array([0.5, -3.0]))
    np.testing.assert_array_equal(hw.device(state), [1.5, -1.0])
    np.testing.assert_array_equal(hw.deployed(state), [1.5, -1.0])


def test_bounds_hold_under_random_updates():
    hw = Hardware(bounds=Bounds(1e-3, 2e-3))
    rng = np.random.default_rng(1)
    state = hw.init(rng.uniform(0, 3e-3, 500))
    assert state.shadow.min() >= 1e-3 and state.shadow.max() <= 2e-3
    for _ in range(50):
        state = hw.apply_update(state, rng.normal(0, 1e-3, 500))
        g = hw.device(state)
        assert g.min() >= 1e-3 and g.max() <= 2e-3
    assert (g == 1e-3).any() and (g == 2e-3).any()


def test_bounds_validation():
    with pytest.raises(HardwareError, match="bounds.high"):
        Bounds(1.0, 0.5)
    with pytest.raises(HardwareError, match="bounds.low"):
        Bounds(-1.0, 1.0)


# ------------------------------------------------------------- quantization
def test_quantize_nearest_level():
    levels = [0.0, 1.0, 3.0]
    np.testing.assert_array_equal(quantize([-1, 0.4, 0.6, 1.9, 2.1, 9], levels), [0, 0, 1, 1, 3, 3])


def test_quantized_training_keeps_devices_on_the_grid():
    """Straight-through training of ½‖g - t‖²: devices always on the grid, shadow moves freely."""
    hw = Hardware(bounds=Bounds(0.0, 1.0), quantization=Quantization(9))
    grid = np.linspace(0.0, 1.0, 9)
    rng = np.random.default_rng(2)
    target = rng.uniform(0.0, 1.0, 40)
    state = hw.init(rng.uniform(0.0, 1.0, 40))
    for _ in range(200):
        g = hw.device(state)
        assert np.isin(g, grid).all()
        state = hw.apply_update(state, -0.05 * (g - target))
    assert not np.isin(state.shadow, grid).all()  # the shadow copy is a float
    assert np.max(np.abs(hw.device(state) - target)) <= 1.0 / 8 + 1e-12  # within one level spacing


def test_given_levels_and_bcgd_blend():
    levels = (1e-4, 5e-4, 2e-3)
    hw = Hardware(quantization=Quantization(levels, blend=0.1))
    state = hw.init([3.5e-4, 1.9e-3])
    np.testing.assert_array_equal(hw.device(state), [5e-4, 2e-3])
    w0 = state.shadow.copy()
    for _ in range(5):  # no gradient: w ← (1-ρ) w + ρ q(w), geometric towards the grid
        state = hw.apply_update(state, np.zeros(2))
    np.testing.assert_allclose(state.shadow - hw.device(state), 0.9**5 * (w0 - [5e-4, 2e-3]), rtol=1e-10)


def test_uniform_levels_need_finite_bounds():
    with pytest.raises(HardwareError, match="finite bounds"):
        Hardware(quantization=Quantization(4))
    with pytest.raises(HardwareError, match="distinct"):
        Quantization([1.0, 1.0])
    with pytest.raises(HardwareError, match="blend"):
        Quantization(4, blend=1.0)
    with pytest.raises(HardwareError, match="outside the bounds"):
        Hardware(bounds=Bounds(0.0, 1.0), quantization=Quantization([0.5, 2.0]))


# ----------------------------------------------------------------- sparsity
def test_rvsm_step_formula():
    """w' = w + Δ - η β (w - u), u = floor + prox_{λ/β}(w - floor); deployed is the sparse u."""
    sp = Sparsity("l1", lam=0.2, beta=2.0, lr=0.1)
    hw = Hardware(bounds=Bounds(0.1, 5.0), sparsity=sp)
    state = hw.init([0.15, 1.0, 3.0])
    u = 0.1 + soft_threshold(state.shadow - 0.1, 0.1)
    np.testing.assert_allclose(hw.sparse(state), u)
    np.testing.assert_allclose(hw.sparse(state), [0.1, 0.9, 2.9])
    delta = np.array([0.01, -0.02, 0.03])
    new = hw.apply_update(state, delta)
    np.testing.assert_allclose(new.shadow, state.shadow + delta - 0.2 * (state.shadow - u))
    np.testing.assert_allclose(hw.deployed(new), 0.1 + soft_threshold(new.shadow - 0.1, 0.1))


@pytest.mark.parametrize("kind", ["l1", "l0", "tl1"])
def test_rvsm_sparsifies_small_weights(kind):
    """Minimising ½‖w - t‖² + λ P: RVSM drives the small targets' devices to the off state."""
    target = np.array([0.02, 0.05, 1.0, 2.0])
    hw = Hardware(bounds=Bounds(0.0, 10.0), sparsity=Sparsity(kind, lam=0.1, beta=1.0, lr=0.2))
    state = hw.init(np.ones(4))
    for _ in range(300):
        state = hw.apply_update(state, -0.2 * (hw.device(state) - target))
    final = hw.deployed(state)
    np.testing.assert_array_equal(final[:2], 0.0)
    assert (final[2:] > 0.5).all()


# ------------------------------------------------------- variation and noise
def test_variation_reproducible_and_lognormal():
    hw = Hardware(variation=Variation(0.2))
    a = hw.init(np.ones(200_000), np.random.default_rng(7)).variation
    b = hw.init(np.ones(200_000), np.random.default_rng(7)).variation
    c = hw.init(np.ones(200_000), np.random.default_rng(8)).variation
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(np.mean(np.log(a))) < 3e-3 and abs(np.std(np.log(a)) - 0.2) < 3e-3
    assert abs(np.mean(a) - math.exp(0.02)) < 3e-3  # lognormal mean exp(σ²/2)


def test_seeded_variation_is_one_chip_whatever_the_training_seed():
    hw = Hardware(variation=Variation(0.1, seed=5))
    a = hw.init(np.ones(10), np.random.default_rng(0))
    b = hw.init(np.ones(10), np.random.default_rng(1))
    np.testing.assert_array_equal(a.variation, b.variation)
    state = hw.apply_update(a, np.full(10, 0.5))
    np.testing.assert_array_equal(hw.device(state), 1.5 * a.variation)  # fixed per device, kept by updates


def test_read_noise_statistics_and_draws():
    hw = Hardware(read_noise=Noise(relative=0.05, absolute=0.01))
    g = np.full(200_000, 2.0)
    r1 = hw.read(g, np.random.default_rng(3))
    np.testing.assert_array_equal(r1, hw.read(g, np.random.default_rng(3)))
    assert abs(r1.mean() - 2.0) < 1e-3
    assert abs(r1.std() - math.hypot(0.1, 0.01)) < 1e-3
    rng = np.random.default_rng(4)
    assert not np.array_equal(hw.read(g[:5], rng), hw.read(g[:5], rng))  # a new draw per read


def test_read_noise_stays_above_the_lower_bound():
    hw = Hardware(bounds=Bounds(1.0, 2.0), read_noise=Noise(relative=1.0))
    assert hw.read(np.full(1000, 1.0), np.random.default_rng(0)).min() == 1.0


@pytest.mark.parametrize("relative, absolute", [(0.2, 0.0), (0.0, 0.003)])
def test_write_noise_statistics(relative, absolute):
    hw = Hardware(write_noise=Noise(relative=relative, absolute=absolute))
    n = 200_000
    state = hw.init(np.zeros(n))
    delta = np.full(n, 0.01)
    written = hw.apply_update(state, delta, np.random.default_rng(11)).shadow
    again = hw.apply_update(state, delta, np.random.default_rng(11)).shadow
    np.testing.assert_array_equal(written, again)
    assert abs(written.mean() - 0.01) < 5e-5
    assert abs(written.std() - math.hypot(relative * 0.01, absolute)) < 5e-5


def test_noise_needs_an_rng():
    with pytest.raises(HardwareError, match="rng"):
        Hardware(read_noise=Noise(0.1)).read(np.ones(3))
    with pytest.raises(HardwareError, match="rng"):
        Hardware(variation=Variation(0.1)).init(np.ones(3))


# ------------------------------------------------------------ composition
def test_everything_composed_is_deterministic_per_seed():
    hw = Hardware(bounds=Bounds(1e-3, 1e-2), quantization=Quantization(16, blend=1e-3),
                  sparsity=Sparsity("tl1", lam=1e-7, beta=1.0, lr=0.1, a=1e-3),
                  variation=Variation(0.05), read_noise=Noise(0.01), write_noise=Noise(0.1, 1e-5))

    def run(seed):
        rng = np.random.default_rng(seed)
        state = hw.init(rng.uniform(1e-3, 1e-2, 30), rng)
        for _ in range(20):
            g = hw.read(hw.device(state), rng)
            state = hw.apply_update(state, -0.1 * (g - 5e-3), rng)
        return state

    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a.shadow, b.shadow)
    assert not np.array_equal(a.shadow, c.shadow)
    grid = np.linspace(1e-3, 1e-2, 16)
    assert np.isin(hw.programmed(a), grid).all()
    assert np.isin(hw.deployed(a) / a.variation, grid).all()


def test_from_dict():
    hw = Hardware.from_dict({"bounds": [0.0, 1.0], "quantization": {"levels": 4},
                             "sparsity": {"penalty": "l0", "lam": 0.01, "beta": 1.0, "lr": 0.1},
                             "write_noise": {"relative": 0.1}})
    assert hw == Hardware(bounds=Bounds(0.0, 1.0), quantization=Quantization(4),
                          sparsity=Sparsity("l0", 0.01, 1.0, 0.1), write_noise=Noise(0.1))
    with pytest.raises(HardwareError, match="unknown hardware key 'noise'"):
        Hardware.from_dict({"noise": {}})
    with pytest.raises(HardwareError, match="hardware.quantization"):
        Hardware.from_dict({"quantization": {"n": 4}})


def test_update_shape_is_checked():
    hw = Hardware()
    with pytest.raises(HardwareError, match="3 devices"):
        hw.apply_update(HardwareState(np.ones(3), np.ones(3)), np.ones(2))
