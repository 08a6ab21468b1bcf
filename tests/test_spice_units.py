"""SPICE numbers: SI suffixes, unit letters, exact formatting, exact resistances."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physnet.spice import units
from physnet.spice.units import (
    NumberError,
    conductances,
    format_number,
    parse_number,
    parse_numbers,
    resistance_texts,
)


@pytest.mark.parametrize(
    "token, value",
    [
        ("1", 1.0),
        ("-44", -44.0),
        ("3.14159", 3.14159),
        ("1e-14", 1e-14),
        ("2.65e3", 2650.0),
        ("-2.5E+3", -2500.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+.5e-3", 5e-4),
        ("1T", 1e12),
        ("1g", 1e9),
        ("1MEG", 1e6),
        ("1Meg", 1e6),
        ("1meg", 1e6),
        ("2.5megohm", 2.5e6),
        ("2K", 2e3),
        ("10kohm", 1e4),
        ("1m", 1e-3),
        ("1M", 1e-3),  # SPICE: M is milli, not mega
        ("1ms", 1e-3),
        ("4.7u", 4.7e-6),
        ("4.7uF", 4.7e-6),
        ("10n", 1e-8),
        ("22p", 2.2e-11),
        ("100FA", 1e-13),
        ("100fa", 1e-13),
        ("5V", 5.0),
        ("0.05ms", 5e-5),
        ("1e-3k", 1.0),
        ("1mil", 25.4e-6),
        ("-0", -0.0),
    ],
)
def test_parse_number(token, value):
    assert parse_number(token) == value


def test_suffix_is_folded_into_the_exponent():
    # 1.1n is the float nearest to 1.1e-9, not the rounded product 1.1 * 1e-9
    assert parse_number("1.1n") == 1.1e-9 != 1.1 * 1e-9
    assert parse_number("6.8u") == 6.8e-6 != 6.8 * 1e-6


@pytest.mark.parametrize(
    "token", ["", "k", "abc", "1..2", "1.2.3", "--1", "1k2", "1e+", "inf", "nan", "infinity", "1_000", "١٢",
              "0x10", "1,5", "(1)", "1e99999999999"]
)
def test_malformed_numbers(token):
    with pytest.raises(NumberError) as info:
        parse_number(token)
    assert info.value.token == token
    assert "write e.g." in str(info.value)


@pytest.mark.parametrize("token", ["1e999", "1e400k", "1e308meg"])
def test_overflow(token):
    with pytest.raises(NumberError, match="out of the float64 range"):
        parse_number(token)


def test_parse_numbers_fast_and_slow_paths_agree():
    plain = ["1", "2.5", "-3e-7", ".5", "1e300"]
    mixed = plain + ["1k", "4.7u"]
    assert parse_numbers(plain).tolist() == [parse_number(t) for t in plain]
    assert parse_numbers(mixed).tolist() == [parse_number(t) for t in mixed]
    assert parse_numbers([]).shape == (0,)


@pytest.fixture(params=["fastnumbers", "numpy"])
def plain_floats(request, monkeypatch):
    """Run a test with fastnumbers' reader (when installed) and with numpy's."""
    if request.param == "numpy":
        monkeypatch.setattr(units, "_fast_floats", None)
    elif units._fast_floats is None:
        pytest.skip("fastnumbers is not installed")
    return request.param


def test_parse_numbers_names_the_bad_token(plain_floats):
    with pytest.raises(NumberError) as info:
        parse_numbers(["1", "2k", "x3", "4"])
    assert (info.value.index, info.value.token) == (2, "x3")
    # float() would accept these; the fast path must not
    for bad in (["1", "inf"], ["1_0"], ["١"], ["1", "nan"], ["1e400"]):
        with pytest.raises(NumberError):
            parse_numbers(bad)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=20),
       st.sampled_from(["{!r}", "{:.17e}", "{:.25e}", "{:.3g}", "{:.20f}"]))
def test_plain_decimals_read_exactly_as_float_does(values, style):
    """Both plain-decimal readers round like float(): 17 to 25 significant digits, tiny and huge exponents."""
    tokens = [t for t in (style.format(v) for v in values) if math.isfinite(float(t))]  # "{:.3g}" may round up to inf
    expected = [float(t) for t in tokens]
    assert parse_numbers(tokens).tolist() == expected
    if units._fast_floats is not None:
        assert units._fast_floats(tokens, dtype=np.float64).tolist() == expected


def test_both_plain_readers_agree(plain_floats):
    tokens = ["879.5371129487049", "1299.0611322849447", "-2.5E+3", ".5", "5.", "+3", "1e-400", "-0.0", "00012"]
    assert parse_numbers(tokens).tolist() == [float(t) for t in tokens]
    assert parse_numbers(tokens + ["4.7k"]).tolist() == [float(t) for t in tokens] + [4700.0]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_round_trips_bit_for_bit(x):
    text = format_number(x)
    assert math.copysign(1, parse_number(text)) == math.copysign(1, x)
    assert parse_number(text) == x
    assert parse_numbers([text])[0] == x


@pytest.mark.parametrize("x", [math.inf, -math.inf, math.nan])
def test_format_number_refuses_non_finite(x):
    with pytest.raises(ValueError, match="finite"):
        format_number(x)


@settings(max_examples=300)
@given(st.floats(min_value=1e-300, max_value=1e300), st.booleans())
def test_resistance_texts_invert_exactly(g, negative):
    g = -g if negative else g
    text = resistance_texts([g])[0]
    assert conductances([text])[0] == g
    assert abs(1.0 / parse_number(text) - g) <= 2 * math.ulp(g)  # what ngspice reads is within 2 ulps


def test_resistance_texts_are_short_when_a_float_resistance_exists():
    texts = resistance_texts([1e-3, 0.5, 1 / 3.3e3, -0.01])
    assert texts == ["1000.0", "2.0", "3300.0", "-100.0"]


def test_unreachable_conductances_use_a_long_exact_decimal():
    rng = np.random.default_rng(1)
    g = np.exp(rng.uniform(-20, 20, 5000))
    texts = resistance_texts(g)
    long = np.array([len(t) > 24 for t in texts])
    assert 0 < long.sum() < len(g) / 2, "some float64 conductances are not 1/r of any float64 r"
    for text, x in zip(np.array(texts)[~long], g[~long]):
        assert 1.0 / float(text) == x  # short texts: plain SPICE reading already gives g back
    for x in g[long]:  # long texts: no float64 r near 1/g has 1/r == g
        r = 1.0 / x
        near = [r] + [np.nextafter(r, d) for d in (0, np.inf)]
        near += [np.nextafter(x, d) for x, d in zip(near[1:], (0, np.inf))]
        assert all(1.0 / c != x for c in near)
    assert np.array_equal(conductances(texts), g)


def test_conductances_of_ordinary_tokens_are_plain_float_division():
    tokens = ["1k", "0.3", "12345678901234567", "2.500000e-01"]
    assert conductances(tokens).tolist() == [1.0 / parse_number(t) for t in tokens]
    assert conductances(["0"])[0] == math.inf
