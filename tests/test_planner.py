"""FP frequency planner: mixing products, collisions (planted and exhaustive), safe suggestions, base frequency."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from physnet.solvers.planner import (
    CommonBase,
    FrequencyCollisionWarning,
    MixingProduct,
    check_frequencies,
    common_base_frequency,
    format_frequency,
    mixing_products,
    suggest_error_frequency,
    warn_if_colliding,
)

frequencies = st.floats(1.0, 1e6, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------- products
def test_mixing_products_of_two_tones():
    products = mixing_products(1e3, 1.5e3, 2)
    assert {(p.m, p.n): p.frequency for p in products} == {
        (2, 0): 2e3, (0, 2): 3e3, (1, 1): 2.5e3, (-1, 1): 500.0,
    }
    assert [p.frequency for p in products] == sorted(p.frequency for p in products)
    tones = {(p.m, p.n) for p in mixing_products(1e3, 1.5e3, 2, include_tones=True)}
    assert {(1, 0), (0, 1)} <= tones


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_product_up_to_the_order_is_listed_once(order):
    products = mixing_products(1.0, math.pi, order, include_tones=True)
    # (m, n) and (-m, -n) are one product: half of the (2·order + 1)² - 1 non-zero pairs inside the diamond
    expected = sum(1 for m in range(-order, order + 1) for n in range(-order, order + 1)
                   if 0 < abs(m) + abs(n) <= order) // 2
    assert len(products) == expected
    assert len({(p.m, p.n) for p in products}) == expected
    assert all(p.m * 1.0 + p.n * math.pi >= 0 for p in products)


def test_dc_activation_has_only_error_harmonics():
    assert [(p.m, p.n, p.frequency) for p in mixing_products(0.0, 700.0, 3)] == [(0, 2, 1400.0), (0, 3, 2100.0)]


@pytest.mark.parametrize("m, n, label", [
    (2, 0, "2·f_A"), (0, 3, "3·f_B"), (1, 1, "f_A + f_B"), (-1, 1, "f_B − f_A"), (1, -1, "f_A − f_B"),
    (3, -2, "3·f_A − 2·f_B"), (-2, 1, "f_B − 2·f_A"), (0, 0, "DC"),
])
def test_labels(m, n, label):
    product = MixingProduct(m, n, 0.0)
    assert product.label == label and product.order == abs(m) + abs(n)


@pytest.mark.parametrize("bad", [dict(f_a=-1.0), dict(f_a=math.nan), dict(order=0), dict(order=1.5)])
def test_bad_inputs_are_named(bad):
    args = dict(f_a=1e3, f_b=2e3, order=3) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        mixing_products(args["f_a"], args["f_b"], args["order"])


# --------------------------------------------------------------- collisions
@pytest.mark.parametrize("f_b, order, tone, label", [
    (2e3, 4, "f_B", "2·f_A"),          # the activation's second harmonic on the error tone
    (1e3, 4, "f_B", "f_A"),            # the same tone twice
    (500.0, 4, "f_B", "f_A − f_B"),    # the difference tone lands on f_B ...
    (500.0, 4, "f_A", "2·f_B"),        # ... and the error's harmonic on f_A
    (1.5e3, 4, "f_B", "3·f_A − f_B"),  # a third-order intermodulation
    (3e3, 4, "f_B", "3·f_A"),
])
def test_deliberate_collisions_are_reported(f_b, order, tone, label):
    report = check_frequencies(1e3, f_b, order=order)
    assert not report.ok
    assert (tone, label) in {(c.tone, c.product.label) for c in report.collisions}
    assert all(c.distance == 0 for c in report.collisions)
    assert f"{tone} = " in str(report)


def test_order_limits_what_is_checked():
    assert check_frequencies(1e3, 1.5e3, order=3).ok  # 3·f_A − f_B needs order 4
    assert not check_frequencies(1e3, 1.5e3, order=4).ok


def test_bandwidth_widens_a_collision():
    assert check_frequencies(1e3, 2e3 + 0.4, order=2).ok
    near = check_frequencies(1e3, 2e3 + 0.4, order=2, bandwidth=1.0)
    assert [c.product.label for c in near.collisions if c.tone == "f_B"] == ["2·f_A"]
    assert near.collisions[0].distance == pytest.approx(0.4)
    assert "is within the bandwidth of 2·f_A" in str(near)


def test_dc_activation_is_always_clear_above_the_bandwidth():
    assert check_frequencies(0.0, 1.0).ok and check_frequencies(0.0, 12.3e3, order=9).ok
    low = check_frequencies(0.0, 0.5, bandwidth=1.0)
    assert [c.product.label for c in low.collisions] == ["DC", "2·f_B", "3·f_B"]  # all within 1 Hz of f_B


@settings(max_examples=200, deadline=None)
@given(f_a=frequencies, p=st.integers(1, 6), q=st.integers(1, 6))
def test_a_planted_rational_ratio_collides_exactly_from_order_p_plus_q_minus_1(f_a, p, q):
    """f_B = (p/q) f_A in lowest terms: m f_A + n f_B = ±f_B (or ±f_A) needs |m| + |n| >= p + q - 1."""
    assume(math.gcd(p, q) == 1)
    f_b = f_a * p / q
    assert not check_frequencies(f_a, f_b, order=p + q - 1).ok
    if p + q - 2 >= 1:
        assert check_frequencies(f_a, f_b, order=p + q - 2).ok


# -------------------------------------------------------------- suggestions
@settings(max_examples=100, deadline=None)
@given(f_a=frequencies, order=st.integers(1, 6), bandwidth_fraction=st.sampled_from([0.0, 1e-4, 1e-3]))
def test_suggestions_are_collision_free(f_a, order, bandwidth_fraction):
    bandwidth = bandwidth_fraction * f_a
    f_b = suggest_error_frequency(f_a, order, bandwidth=bandwidth)
    report = check_frequencies(f_a, f_b, order=order, bandwidth=bandwidth)
    assert report.ok, str(report)
    assert float(f"{f_b:.3g}") == f_b  # three significant digits
    assert f_a * 0.8 < f_b < f_a * 3.3  # within the window around φ f_A


@settings(max_examples=60, deadline=None)
@given(f_a=frequencies, m=st.integers(1, 3))
def test_suggestion_moves_a_colliding_choice_off_the_harmonic(f_a, m):
    f_b = suggest_error_frequency(f_a, 4, near=m * f_a)
    assert check_frequencies(f_a, f_b, order=4).ok
    assert abs(f_b - m * f_a) >= 0.05 * f_a * (1 - 1e-9)  # the default margin
    assert 0.5 * m * f_a <= f_b <= 2 * m * f_a


def test_suggestion_for_dc_activation():
    assert suggest_error_frequency(0.0, near=137.0) == 137.0
    with pytest.raises(ValueError, match="pass near="):
        suggest_error_frequency(0.0)
    with pytest.raises(ValueError, match="within the bandwidth"):
        suggest_error_frequency(0.0, near=0.5, bandwidth=1.0)


def test_impossible_requests_say_so():
    with pytest.raises(ValueError, match="no error frequency between"):
        suggest_error_frequency(1e3, 4, bandwidth=600.0)  # products of order <= 4 are 500 Hz apart here


def test_warning_names_the_product_and_a_safe_choice():
    with pytest.warns(FrequencyCollisionWarning, match=r"f_B = 2 kHz coincides with 2·f_A \(order 2\).*choose f_B = "
                                                        r"([\d.]+) kHz") as record:
        report = warn_if_colliding(1e3, 2e3)
    assert not report.ok
    suggested = float(str(record[0].message).rsplit("choose f_B = ", 1)[1].split()[0]) * 1e3
    assert check_frequencies(1e3, suggested).ok
    assert record[0].filename == __file__  # stacklevel points at the caller


def test_no_warning_for_a_clear_pair():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_colliding(1e3, 1.62e3).ok
        assert warn_if_colliding(0.0, 2e3).ok


# ------------------------------------------------------------ base frequency
@settings(max_examples=200, deadline=None)
@given(f0=st.floats(1e-2, 1e6), p=st.integers(1, 40), q=st.integers(1, 40))
def test_common_base_frequency_recovers_the_multiples(f0, p, q):
    g = math.gcd(p, q)
    base = common_base_frequency(p * f0, q * f0)
    assert (base.p, base.q) == (p // g, q // g)
    assert base.f0 == pytest.approx(f0 * g, rel=1e-12)
    assert base.p * base.f0 == pytest.approx(p * f0, rel=1e-12)
    assert base.q * base.f0 == pytest.approx(q * f0, rel=1e-9)


def test_common_base_frequency_edge_cases():
    assert common_base_frequency(0.0, 3e3) == CommonBase(3e3, 0, 1)
    assert common_base_frequency(2e3, 0.0) == CommonBase(2e3, 1, 0)
    assert common_base_frequency(1e3, 1e3) == CommonBase(1e3, 1, 1)
    assert common_base_frequency(1e3, 1.5e3).n_harmonics(3) == 9
    with pytest.raises(ValueError, match="not commensurate"):
        common_base_frequency(1e3, 1e3 * math.sqrt(2), max_multiple=50)
    with pytest.raises(ValueError, match="both tones are DC"):
        common_base_frequency(0.0, 0.0)
    ratio = Fraction(1e3 * math.sqrt(2) / 1e3).limit_denominator(10**6)
    assert common_base_frequency(1e3, 1e3 * math.sqrt(2), max_multiple=10**6, rtol=1e-6).q == ratio.numerator


@pytest.mark.parametrize("f, text", [
    (2e3, "2 kHz"), (1370.0, "1.37 kHz"), (999.96, "1 kHz"), (0.5, "500 mHz"), (2.5e6, "2.5 MHz"), (0.0, "0 Hz"),
    (12.0, "12 Hz"),
])
def test_format_frequency(f, text):
    assert format_frequency(f) == text
