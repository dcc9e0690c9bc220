import math

import pytest

from labs_py.core import stats, validate


@pytest.mark.parametrize("bad", [0, -3])
def test_positive_int_names_value_and_unit(bad):
    with pytest.raises(ValueError, match=rf"prompt_tokens.*{bad}.*tokens"):
        validate.positive_int("prompt_tokens", bad, "tokens")


@pytest.mark.parametrize("bad", [1.5, "12", True, None])
def test_positive_int_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="whole number of tokens"):
        validate.positive_int("prompt_tokens", bad, "tokens")


@pytest.mark.parametrize("bad", [0.0, -1e-9, math.nan, math.inf])
def test_positive_float_rejects(bad):
    with pytest.raises(ValueError, match="seconds"):
        validate.positive_float("prefill_s", bad, "seconds")


def test_fraction_bounds():
    assert validate.fraction("f", 1.0) == 1.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        validate.fraction("f", 1.0, inclusive_high=False)
    with pytest.raises(ValueError, match="1.5"):
        validate.fraction("f", 1.5)


def test_percentiles_match_numpy_linear_definition():
    s = stats.summarize([10, 20, 30, 40, 1000])
    assert s["p50"] == 30 and s["p99"] == pytest.approx(40 + 0.96 * 960)
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])
    with pytest.raises(ValueError, match="101"):
        stats.percentile([1.0], 101)
