"""Normalizers: hand-computed values, causality, start independence and a planted signal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from quant_assets.scoring import NORMALIZATIONS, NormalizationError, normalize, warmup


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def prices(n: int, *, seed: int, vol: float = 0.002, level: float = 50_000.0) -> pd.Series:
    """A geometric random walk around ``level`` on an hourly index."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.Series(level * np.exp(np.cumsum(rng.normal(0.0, vol, n))), index=index, name="close")


def reference(values: pd.Series, method: str, window: int) -> np.ndarray:
    """Window-by-window definitions, written straight from the docstring.

    The z-score is taken of ``w - x_t`` (exact for nearby floats) with correctly
    rounded sums (``fsum``), so it stays exact to rounding where prices are large
    and their moves small."""
    x = values.to_numpy(dtype=float)
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        w = x[t - window + 1 : t + 1]
        if method == "logistic_z":
            d = [v - x[t] for v in w]
            mean = math.fsum(d) / window
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in d) / window)
            z = 0.0 if std == 0 else max(-4.0, min(4.0, -mean / std))
            out[t] = logistic(z)
        elif method == "percentile":
            out[t] = (rankdata(w, method="average")[-1] - 0.5) / window
        else:
            span = w.max() - w.min()
            out[t] = 0.5 if span == 0 else (x[t] - w.min()) / span
    return out


# --------------------------------------------------------------------------- hand-computed values


def test_logistic_z_of_a_ramp_is_the_logistic_of_its_population_z_score() -> None:
    # Window [1, 2, 3]: mean 2, population std sqrt(2/3), z = 1 / sqrt(2/3) = 1.2247...
    result = normalize(pd.Series([1.0, 2.0, 3.0, 4.0]), "logistic_z", 3)
    z = 1.0 / math.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(result.to_numpy(), [np.nan, np.nan, logistic(z), logistic(z)], rtol=1e-15)


def test_logistic_z_divides_z_by_tau() -> None:
    result = normalize(pd.Series([1.0, 2.0, 3.0]), "logistic_z", 3, tau=2.0)
    assert result.iloc[2] == pytest.approx(logistic(1.0 / math.sqrt(2.0 / 3.0) / 2.0), rel=1e-15)


def test_logistic_z_winsorizes_z_at_winsor() -> None:
    # 19 zeros then a one: mean 1/20, std sqrt(19)/20, so z = sqrt(19) = 4.36.
    values = pd.Series([0.0] * 19 + [1.0])
    assert normalize(values, "logistic_z", 20).iloc[-1] == pytest.approx(logistic(4.0), rel=1e-15)
    winsor_5 = normalize(values, "logistic_z", 20, winsor=5.0).iloc[-1]
    assert winsor_5 == pytest.approx(logistic(math.sqrt(19.0)), rel=1e-14)


def test_percentile_is_the_midrank_over_the_window() -> None:
    # [3, 1, 2]: 2 has rank 2 -> 1.5/3; [1, 2, 2]: tie, rank 2.5 -> 2/3; [2, 2, 5]: rank 3 -> 2.5/3.
    result = normalize(pd.Series([3.0, 1.0, 2.0, 2.0, 5.0]), "percentile", 3)
    np.testing.assert_allclose(result.to_numpy(), [np.nan, np.nan, 0.5, 2.0 / 3.0, 2.5 / 3.0], rtol=1e-15)


def test_percentile_maps_the_window_median_to_one_half_and_stays_inside_the_open_interval() -> None:
    result = normalize(pd.Series([7.0, 1.0, 9.0, 3.0, 5.0]), "percentile", 5)
    assert result.iloc[-1] == 0.5  # 5 is the median of {7, 1, 9, 3, 5}
    extremes = normalize(pd.Series([1.0, 2.0, 3.0, 0.0]), "percentile", 3)
    np.testing.assert_allclose(extremes.to_numpy()[2:], [2.5 / 3.0, 0.5 / 3.0], rtol=1e-15)


def test_minmax_is_the_position_in_the_trailing_range() -> None:
    # [3, 1, 2] -> (2-1)/2; [1, 2, 4] -> 1; [2, 4, 0] -> 0.
    result = normalize(pd.Series([3.0, 1.0, 2.0, 4.0, 0.0]), "minmax", 3)
    np.testing.assert_array_equal(result.to_numpy(), [np.nan, np.nan, 0.5, 1.0, 0.0])


def test_bounded_minmax_clips_pointwise_without_warm_up() -> None:
    rsi = pd.Series([-5.0, 0.0, 30.0, 100.0, 120.0, np.nan, 55.0])
    result = normalize(rsi, "minmax", 0, bounds=(0.0, 100.0))
    np.testing.assert_allclose(result.to_numpy(), [0.0, 0.0, 0.3, 1.0, 1.0, np.nan, 0.55], rtol=1e-15)
    assert warmup("minmax", 0, bounds=(0.0, 100.0)) == 0


@pytest.mark.parametrize("method", NORMALIZATIONS)
@pytest.mark.parametrize("window", [2, 7, 24])
def test_matches_the_window_by_window_definition_on_prices(method: str, window: int) -> None:
    close = prices(400, seed=window)
    np.testing.assert_allclose(
        normalize(close, method, window).to_numpy(), reference(close, method, window), rtol=0, atol=1e-12
    )


def test_logistic_z_is_exact_to_rounding_on_low_volatility_prices() -> None:
    # Relative moves of 1e-5 at 50 000: naive running sums lose most of the digits here.
    close = prices(3000, seed=7, vol=1e-5)
    np.testing.assert_allclose(
        normalize(close, "logistic_z", 168).to_numpy(),
        reference(close, "logistic_z", 168),
        rtol=0,
        atol=1e-12,
    )


# --------------------------------------------------------------------------- causality and start


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_no_look_ahead_changing_later_values_leaves_earlier_outputs_bit_identical(method: str) -> None:
    close = prices(1000, seed=1)
    full = normalize(close, method, 50)
    rng = np.random.default_rng(2)
    for t in (49, 50, 99, 100, 101, 517, 998):
        changed = close.copy()
        changed.iloc[t + 1 :] *= rng.uniform(0.5, 2.0, len(close) - t - 1)
        past = full.to_numpy()[: t + 1]
        np.testing.assert_array_equal(normalize(changed, method, 50).to_numpy()[: t + 1], past)
        np.testing.assert_array_equal(normalize(close.iloc[: t + 1], method, 50).to_numpy(), past)


@pytest.mark.parametrize("method", NORMALIZATIONS)
@pytest.mark.parametrize("window", [3, 168])
def test_result_after_warm_up_does_not_depend_on_where_the_series_starts(method: str, window: int) -> None:
    close = prices(5000, seed=3)
    full = normalize(close, method, window)
    for k in (1, 77, 168, 2500):
        later = normalize(close.iloc[k:], method, window)
        assert later.iloc[: window - 1].isna().all()
        np.testing.assert_allclose(
            later.to_numpy()[window - 1 :], full.to_numpy()[k + window - 1 :], rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_warm_up_is_window_minus_one_rows(method: str) -> None:
    result = normalize(prices(100, seed=4), method, 24)
    assert warmup(method, 24) == 23
    assert result.iloc[:23].isna().all()
    assert result.iloc[23:].notna().all()


# --------------------------------------------------------------------------- degenerate input


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_a_flat_window_scores_one_half(method: str) -> None:
    # A volatile stretch at 50 000, then 40 identical prices: every full flat window is 0.5 exactly.
    volatile = prices(60, seed=5, vol=0.05).to_numpy()
    values = pd.Series(np.concatenate((volatile, np.full(40, 50_123.4))))
    result = normalize(values, method, 10)
    np.testing.assert_array_equal(result.to_numpy()[69:], 0.5)


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_missing_values_blank_every_window_that_holds_them(method: str) -> None:
    values = pd.Series(np.arange(12, dtype=float) ** 1.5)
    values.iloc[5] = np.nan
    values.iloc[9] = np.inf  # infinite counts as missing
    result = normalize(values, method, 3)
    missing = {0, 1, 5, 6, 7, 9, 10, 11}
    assert set(np.flatnonzero(result.isna())) == missing
    expected = reference(values.where(~values.index.isin([5, 9])).fillna(0.0), method, 3)
    present = [t for t in range(12) if t not in missing]
    np.testing.assert_allclose(result.to_numpy()[present], expected[present], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_a_series_shorter_than_the_window_is_all_missing(method: str) -> None:
    assert normalize(pd.Series([1.0, 2.0, 3.0]), method, 5).isna().all()
    assert normalize(pd.Series([], dtype=float), method, 5).empty


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_output_stays_in_the_unit_interval_on_fat_tails(method: str) -> None:
    rng = np.random.default_rng(6)
    values = pd.Series(rng.standard_t(1.5, 5000) * 1e6)
    for tau in (1e-3, 1.0, 50.0):
        result = normalize(values, method, 30, tau=tau).dropna()
        assert ((result >= 0.0) & (result <= 1.0)).all()


def test_keeps_the_index_and_name_and_returns_floats() -> None:
    close = prices(50, seed=8)
    result = normalize(close, "percentile", 10)
    assert result.index.equals(close.index)
    assert result.name == "close"
    assert result.dtype == np.float64


def test_integer_and_nullable_inputs_are_accepted() -> None:
    ints = normalize(pd.Series([1, 3, 2, 5, 4]), "minmax", 3)
    nullable = normalize(pd.Series([1, 3, 2, None, 4, 6, 5], dtype="Int64"), "minmax", 3)
    np.testing.assert_array_equal(ints.to_numpy(), [np.nan, np.nan, 0.5, 1.0, 2.0 / 3.0])
    assert nullable.isna().sum() == 5


# --------------------------------------------------------------------------- planted signal


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_planted_signal_keeps_its_rank_correlation_with_forward_returns(method: str) -> None:
    # fwd = 0.1 z + sqrt(0.99) eps: Spearman(z, fwd) = (6/pi) asin(0.05) = 0.0955 (METRICS_REFERENCE).
    rng = np.random.default_rng(20_000)
    z = rng.standard_normal(20_000)
    fwd = 0.1 * z + math.sqrt(0.99) * rng.standard_normal(20_000)
    score = normalize(pd.Series(z), method, 168).to_numpy()
    valid = ~np.isnan(score)
    rho = spearmanr(score[valid], fwd[valid]).statistic
    assert rho == pytest.approx(0.098, abs=0.03)


# --------------------------------------------------------------------------- validation


def test_an_unknown_method_is_named_with_the_known_ones() -> None:
    with pytest.raises(NormalizationError, match=r"'zscore'.*logistic_z, percentile, minmax"):
        normalize(pd.Series([1.0, 2.0]), "zscore", 2)
    with pytest.raises(NormalizationError, match="'zscore'"):
        warmup("zscore", 2)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"window": 1}, "window"),
        ({"window": 2.5}, "window"),
        ({"window": True}, "window"),
        ({"window": 5, "tau": 0.0}, "tau"),
        ({"window": 5, "tau": -1.0}, "tau"),
        ({"window": 5, "tau": math.inf}, "tau"),
        ({"window": 5, "winsor": 0.0}, "winsor"),
        ({"window": 5, "winsor": math.nan}, "winsor"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict, argument: str) -> None:
    with pytest.raises(NormalizationError, match=argument):
        normalize(pd.Series(np.arange(10.0)), "logistic_z", **kwargs)


@pytest.mark.parametrize("bounds", [(1.0, 1.0), (2.0, 1.0), (0.0, math.inf), (0.0,), "ab", None])
def test_invalid_bounds_are_named(bounds: object) -> None:
    if bounds is None:
        with pytest.raises(NormalizationError, match=r"bounds apply to method 'minmax' only"):
            normalize(pd.Series([1.0, 2.0]), "percentile", 2, bounds=(0.0, 1.0))
        return
    with pytest.raises(NormalizationError, match="bounds"):
        normalize(pd.Series([1.0, 2.0]), "minmax", 2, bounds=bounds)  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [np.arange(5.0), pd.Series(["a", "b", "c"])])
def test_values_must_be_a_numeric_series(values: object) -> None:
    with pytest.raises(NormalizationError, match="values"):
        normalize(values, "percentile", 2)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(NormalizationError, ValueError)
