"""Lock-in demodulation: exact tones, means, windows, leakage decay, the numba kernel vs its numpy twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from physnet.solvers.lockin import demodulate, demodulate_numpy, lockin, lockin_weights


def tone(t, amplitude, phase, freq):
    return amplitude * np.cos(2 * np.pi * freq * t + phase)


# ------------------------------------------------------------ exactness
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), periods=st.integers(1, 6), per_period=st.integers(16, 64))
def test_tones_at_multiples_of_one_over_T_are_separated_exactly(seed, periods, per_period):
    """Over whole periods the trapezoid rule is a DFT: every harmonic below Nyquist comes out exactly."""
    rng = np.random.default_rng(seed)
    f0 = 50.0
    T = periods / f0
    n = periods * per_period
    t = 0.37 + np.arange(n + 1) * T / n  # an arbitrary start time: the phase reference is absolute time
    harmonics = rng.choice(np.arange(1, per_period * periods // 2), size=min(4, per_period * periods // 2 - 1),
                           replace=False)
    freqs = harmonics / T
    amp = rng.uniform(0.1, 2.0, len(freqs))
    phase = rng.uniform(-np.pi, np.pi, len(freqs))
    offset = rng.normal()
    x = offset + sum(tone(t, a, p, f) for a, p, f in zip(amp, phase, freqs))
    X = lockin(x, t, np.r_[0.0, freqs], window=T)
    np.testing.assert_allclose(X[0], offset, atol=1e-12)
    np.testing.assert_allclose(X[1:], amp * np.exp(1j * phase), atol=1e-12)


def test_convention_is_re_x_exp_jwt():
    t = np.linspace(0.0, 1e-2, 2001)
    x = np.sin(2 * np.pi * 1e3 * t)  # sin = Re(-j e^{jωt})
    np.testing.assert_allclose(lockin(x, t, 1e3), -1j, atol=1e-12)


def test_dc_mean_and_its_window():
    t = np.linspace(0.0, 2.0, 201)
    x = 3.0 + np.where(t < 1.0, 10.0, 0.0)
    assert lockin(x, t, 0.0, window=0.5) == pytest.approx(3.0, abs=1e-12)
    mean = lockin(x, t, 0.0)
    assert mean.imag == 0.0
    np.testing.assert_allclose(mean.real, np.trapezoid(x, t) / 2.0, rtol=1e-14)


def test_window_starting_between_samples_is_exact_for_ramps():
    """The partial first interval is integrated exactly for a piecewise-linear signal."""
    t = np.arange(11) * 0.1
    x = 2.0 + 5.0 * t
    for window in (0.25, 0.33, 0.5, 0.999):
        expected = 2.0 + 5.0 * (1.0 - window / 2)  # mean of the ramp over [1 - window, 1]
        assert lockin(x, t, 0.0, window=window).real == pytest.approx(expected, rel=1e-13)


def test_weights_sum_to_one_for_the_mean():
    t = np.arange(17) * 0.25
    for window in (None, 1.0, 1.1, 3.99):
        assert lockin_weights(t, 0.0, window=window).sum() == pytest.approx(1.0, rel=1e-14)


def test_last_periods_skip_the_settling_transient():
    t = np.arange(20001) * 1e-6  # 20 ms
    x = np.exp(-t / 1e-3) + tone(t, 1.5, 0.4, 1e3)
    X_all = lockin(x, t, 1e3)
    X_tail = lockin(x, t, 1e3, periods=5)
    assert abs(X_tail - 1.5 * np.exp(0.4j)) < 1e-7 < 1e-2 < abs(X_all - 1.5 * np.exp(0.4j))


def test_all_columns_and_frequencies_at_once():
    t = np.arange(4001) * 1e-5
    amps = np.arange(1, 7).reshape(3, 2)
    x = tone(t[:, None, None], amps[None], 0.0, 250.0) + 0.5 * tone(t[:, None, None], amps[None], 1.0, 500.0)
    X = lockin(x, t, [250.0, 500.0])
    assert X.shape == (2, 3, 2)
    np.testing.assert_allclose(X[0], amps, atol=1e-12)
    np.testing.assert_allclose(X[1], 0.5 * amps * np.exp(1j), atol=1e-12)
    assert lockin(x, t, 250.0).shape == (3, 2)


def test_leakage_of_an_incommensurate_tone_falls_as_one_over_T():
    """A tone at an irrational ratio leaks O(1/(ω T)): the error envelope has log-log slope -1."""
    fs, f1, f2 = 50e3, 1e3, 1e3 * np.sqrt(3)
    periods = np.arange(4, 160)
    t = np.arange(int(periods[-1] * fs / f1) + 1) / fs
    x = tone(t, 1.0, 0.3, f1) + tone(t, 0.8, -1.1, f2)
    err = np.array([abs(lockin(x[:n + 1], t[:n + 1], f1) - np.exp(0.3j))
                    for n in (periods * fs / f1).astype(int)])
    envelope = np.maximum.accumulate(err[::-1])[::-1]  # the worst error at this or any longer record
    slope = np.polyfit(np.log(periods), np.log(envelope), 1)[0]
    assert -1.2 < slope < -0.8
    assert envelope[-1] < envelope[0] / 10


# ------------------------------------------------------------ kernel vs numpy twin
@settings(max_examples=40, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 5)), elements=st.floats(-1e3, 1e3)),
       n_f=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_numba_kernel_equals_numpy_twin(x, n_f, seed):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1e-2, x.shape[0]))
    weights = rng.uniform(0, 1, (n_f, x.shape[0])) * (rng.uniform(size=(n_f, x.shape[0])) > 0.2)
    omega = rng.uniform(0, 1e5, n_f)
    fast = demodulate(np.ascontiguousarray(x), t, weights, omega)
    ref = demodulate_numpy(x, t, weights, omega)
    scale = np.abs(weights).sum(axis=1, keepdims=True) * (np.abs(x).max() + 1.0)
    assert np.all(np.abs(fast - ref) <= 1e-13 * scale)


# ------------------------------------------------------------ errors
def test_errors_name_the_problem():
    t = np.arange(101) * 1e-4  # 10 ms
    x = np.zeros(101)
    with pytest.raises(ValueError, match="shorter than one period of 50 Hz"):
        lockin(x, t, 50.0)
    with pytest.raises(ValueError, match="not a uniform grid: step 50"):
        bad = t.copy()
        bad[51:] += 1e-6
        lockin(x, bad, 1e3)
    with pytest.raises(ValueError, match="longer than the record"):
        lockin(x, t, 1e3, periods=11)
    with pytest.raises(ValueError, match="periods or window, not both"):
        lockin(x, t, 1e3, periods=2, window=2e-3)
    with pytest.raises(ValueError, match="periods needs freq > 0"):
        lockin(x, t, 0.0, periods=2)
    with pytest.raises(ValueError, match="whole number >= 1"):
        lockin(x, t, 1e3, periods=1.5)
    with pytest.raises(ValueError, match="shorter than one period"):
        lockin(x, t, 1e3, window=0.5e-3)
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        lockin(x, t, -1.0)
    with pytest.raises(ValueError, match="real samples"):
        lockin(x + 0j, t, 1e3)
    with pytest.raises(ValueError, match="100 sample"):
        lockin(x[:100], t, 1e3)
    with pytest.raises(ValueError, match="at least 2 sample times"):
        lockin(x[:1], t[:1], 0.0)
    with pytest.raises(ValueError, match="increasing"):
        lockin(x, t[::-1], 0.0)
