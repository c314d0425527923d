"""Family A (trend & momentum): TA-Lib agreement and planted signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import pywt

from quant_assets.metrics import compute
from quant_assets_tests.metrics.signals import frame, random_bars

talib = pytest.importorskip("talib")

RTOL = 1e-6


def assert_matches_talib(ours: pd.Series, reference: np.ndarray, *, atol: float = 1e-9) -> None:
    """Same NaN warm-up as TA-Lib, then equal to 1e-6 relative."""
    ours_values = ours.to_numpy()
    np.testing.assert_array_equal(np.isnan(ours_values), np.isnan(reference))
    valid = ~np.isnan(reference)
    np.testing.assert_allclose(ours_values[valid], reference[valid], rtol=RTOL, atol=atol)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(5000, seed=7)


@pytest.fixture(scope="module")
def hlc(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy()


# --------------------------------------------------------------------------- TA-Lib agreement


@pytest.mark.parametrize("period", [2, 14, 30, 200])
def test_sma_and_ema_match_talib(bars: pd.DataFrame, period: int) -> None:
    close = bars["close"].to_numpy()
    assert_matches_talib(compute("sma", bars, timeperiod=period), talib.SMA(close, period))
    assert_matches_talib(compute("ema", bars, timeperiod=period), talib.EMA(close, period))


@pytest.mark.parametrize("period", [2, 14, 21])
def test_rsi_matches_talib_wilder_smoothing(bars: pd.DataFrame, period: int) -> None:
    close = bars["close"].to_numpy()
    assert_matches_talib(compute("rsi", bars, timeperiod=period), talib.RSI(close, period))


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5)])
def test_macd_matches_talib_including_its_aligned_seed(
    bars: pd.DataFrame, fast: int, slow: int, signal: int
) -> None:
    result = compute("macd", bars, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    line, sig, hist = talib.MACD(bars["close"].to_numpy(), fast, slow, signal)
    assert_matches_talib(result["macd"], line)
    assert_matches_talib(result["macd_signal"], sig)
    assert_matches_talib(result["macd_hist"], hist, atol=1e-8)
    assert result["macd"].first_valid_index() == bars.index[slow + signal - 2]


@pytest.mark.parametrize(("period", "up", "down"), [(20, 2.0, 2.0), (5, 1.5, 2.5)])
def test_bbands_match_talib_population_std(bars: pd.DataFrame, period: int, up: float, down: float) -> None:
    result = compute("bbands", bars, timeperiod=period, nbdevup=up, nbdevdn=down)
    upper, middle, lower = talib.BBANDS(bars["close"].to_numpy(), period, up, down, 0)
    assert_matches_talib(result["bb_upper"], upper)
    assert_matches_talib(result["bb_middle"], middle)
    assert_matches_talib(result["bb_lower"], lower)
    close = bars["close"].to_numpy()
    assert_matches_talib(result["bb_width"], (upper - lower) / middle)
    assert_matches_talib(result["bb_percent_b"], (close - lower) / (upper - lower))


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib(hlc: tuple[np.ndarray, ...], bars: pd.DataFrame, period: int) -> None:
    assert_matches_talib(compute("atr", bars, timeperiod=period), talib.ATR(*hlc, period))


@pytest.mark.parametrize("period", [5, 14])
def test_adx_and_directional_indicators_match_talib(
    hlc: tuple[np.ndarray, ...], bars: pd.DataFrame, period: int
) -> None:
    result = compute("adx", bars, timeperiod=period)
    assert_matches_talib(result["adx"], talib.ADX(*hlc, period))
    assert_matches_talib(result["plus_di"], talib.PLUS_DI(*hlc, period))
    assert_matches_talib(result["minus_di"], talib.MINUS_DI(*hlc, period))
    assert result["adx"].first_valid_index() == bars.index[2 * period - 1]


@pytest.mark.parametrize(("period", "fastk", "fastd"), [(14, 14, 3), (14, 5, 3), (9, 7, 4)])
def test_stoch_rsi_raw_and_k_match_talib_stochrsi(
    bars: pd.DataFrame, period: int, fastk: int, fastd: int
) -> None:
    result = compute("stoch_rsi", bars, timeperiod=period, fastk_period=fastk, k_period=fastd, d_period=3)
    raw, k = talib.STOCHRSI(bars["close"].to_numpy(), period, fastk, fastd, 0)
    assert_matches_talib(result["stoch_rsi"], raw)
    assert_matches_talib(result["stoch_rsi_k"], k)
    # %D is one more 3-bar SMA over %K, as charting platforms draw it.
    first_k = period + fastk + fastd - 2
    expected_d = talib.SMA(np.nan_to_num(k, nan=0.0), 3)
    expected_d[: first_k + 2] = np.nan
    assert_matches_talib(result["stoch_rsi_d"], expected_d)


@pytest.mark.parametrize("period", [1, 10, 24])
def test_momentum_and_roc_match_talib(bars: pd.DataFrame, period: int) -> None:
    close = bars["close"].to_numpy()
    result = compute("momentum", bars, timeperiod=period)
    assert_matches_talib(result["momentum"], talib.MOM(close, period))
    assert_matches_talib(result["roc"], talib.ROC(close, period))


def test_classical_indicators_stay_within_1e6_of_talib_on_a_long_volatile_series() -> None:
    bars = random_bars(200_000, seed=3, vol=0.02, price=50_000.0)
    close = bars["close"].to_numpy()
    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    assert_matches_talib(compute("ema", bars), talib.EMA(close, 30))
    assert_matches_talib(compute("rsi", bars), talib.RSI(close, 14))
    assert_matches_talib(compute("atr", bars), talib.ATR(high, low, close, 14))
    assert_matches_talib(compute("bbands", bars)["bb_upper"], talib.BBANDS(close, 20, 2, 2, 0)[0])


# --------------------------------------------------------------------------- planted signals


def test_ema_step_response_is_one_minus_decay_power() -> None:
    n, t0 = 10, 50
    close = np.r_[np.zeros(t0), np.ones(100)]
    ema = compute("ema", frame(close + 1.0), timeperiod=n).to_numpy() - 1.0
    k = 2.0 / (n + 1)
    j = np.arange(100)
    np.testing.assert_allclose(ema[t0 + j], 1.0 - (1.0 - k) ** (j + 1), atol=1e-14)


def test_ema_and_sma_of_a_constant_are_the_constant() -> None:
    bars = frame(np.full(100, 42.0))
    assert np.allclose(compute("ema", bars).dropna(), 42.0, rtol=0, atol=1e-12)
    assert np.allclose(compute("sma", bars).dropna(), 42.0, rtol=0, atol=1e-12)


def test_rsi_of_a_monotone_rise_is_100() -> None:
    rsi = compute("rsi", frame(np.linspace(100.0, 200.0, 300)))
    assert (rsi.dropna() == 100.0).all()


def test_rsi_of_an_alternating_series_is_near_50() -> None:
    close = 100.0 + np.tile([1.0, -1.0], 200).cumsum()
    assert compute("rsi", frame(close)).iloc[-1] == pytest.approx(50.0, abs=4.0)


def test_rsi_is_undefined_not_oversold_on_a_series_that_never_moved() -> None:
    rsi = compute("rsi", frame(np.full(50, 10.0)))
    assert rsi.isna().all()


def test_macd_on_a_ramp_converges_to_7b_with_zero_histogram() -> None:
    b = 0.5
    result = compute("macd", frame(100.0 + b * np.arange(1000)))
    assert result["macd"].iloc[-1] == pytest.approx(7 * b, abs=1e-9)
    assert result["macd_hist"].iloc[-1] == pytest.approx(0.0, abs=1e-9)


def test_bbands_width_of_gaussian_closes_is_about_four_sigma_over_mu() -> None:
    rng = np.random.default_rng(0)
    close = rng.normal(100.0, 1.0, 20_000)
    result = compute("bbands", frame(close)).iloc[19:]
    assert result["bb_width"].median() == pytest.approx(0.038, abs=0.002)
    assert ((result["bb_percent_b"] > 1) | (result["bb_percent_b"] < 0)).mean() == pytest.approx(
        0.045, abs=0.01
    )


def test_bbands_use_the_population_standard_deviation() -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    result = compute("bbands", frame(close), timeperiod=5, nbdevup=1.0, nbdevdn=1.0)
    assert result["bb_upper"].iloc[-1] == pytest.approx(3.0 + np.sqrt(2.0))  # ddof=0: var 2


def test_atr_of_bars_with_range_two_and_no_gaps_is_exactly_two() -> None:
    close = 100.0 + 0.1 * np.arange(200)
    atr = compute("atr", frame(close, high=close + 1.0, low=close - 1.0))
    np.testing.assert_allclose(atr.dropna(), 2.0, rtol=0, atol=1e-12)


def test_adx_of_a_clean_uptrend_is_100_with_plus_di_above_minus_di() -> None:
    close = 100.0 + np.arange(300.0)
    result = compute("adx", frame(close, high=close + 0.5, low=close - 0.5)).dropna()
    assert result["adx"].to_numpy() == pytest.approx(100.0)
    assert (result["plus_di"] > result["minus_di"]).all()


def test_adx_of_a_random_walk_is_moderate() -> None:
    adx = compute("adx", random_bars(20_000, seed=1))["adx"]
    assert 15.0 < adx.median() < 30.0


def test_stoch_rsi_spans_0_to_100_every_cycle_of_a_sine() -> None:
    close = 100.0 + 10.0 * np.sin(2 * np.pi * np.arange(2000) / 40)
    raw = compute("stoch_rsi", frame(close))["stoch_rsi"].iloc[100:]
    cycles = raw.to_numpy()[: 40 * 45].reshape(45, 40)
    assert np.allclose(cycles.min(axis=1), 0.0, atol=1e-9)
    assert np.allclose(cycles.max(axis=1), 100.0, atol=1e-9)


def test_momentum_of_a_ramp_with_slope_half_is_five() -> None:
    result = compute("momentum", frame(100.0 + 0.5 * np.arange(100)))
    assert result["momentum"].dropna().to_numpy() == pytest.approx(5.0)


def test_zscore_of_gaussian_noise_has_unit_spread_and_a_spike_stands_out() -> None:
    rng = np.random.default_rng(0)
    close = rng.normal(5.0, 2.0, 10_000)
    close[6000] = 5.0 + 7 * 2.0
    z = compute("zscore", frame(close), timeperiod=720)
    assert z.drop(z.index[6000]).std() == pytest.approx(1.0, abs=0.03)
    window = close[6000 - 719 : 6001]
    assert z.iloc[6000] == pytest.approx((close[6000] - window.mean()) / window.std(ddof=0))
    assert 6.0 < z.iloc[6000] < 7.0  # the window includes the spike, which dilutes it


def test_zscore_is_undefined_on_a_flat_window() -> None:
    assert compute("zscore", frame(np.full(40, 3.0))).isna().all()


# --------------------------------------------------------------------------- Kalman


def test_kalman_trend_equals_pykalman_filter_not_smoother() -> None:
    from pykalman import KalmanFilter

    rng = np.random.default_rng(0)
    y = 100.0 + np.cumsum(rng.normal(0.0, 0.3, 2000))
    result = compute("kalman_trend", frame(y), q_level=1e-3, q_slope=1e-5, initial_var=5.0)
    kf = KalmanFilter(
        transition_matrices=[[1.0, 1.0], [0.0, 1.0]],
        observation_matrices=[[1.0, 0.0]],
        transition_covariance=np.diag([1e-3, 1e-5]),
        observation_covariance=1.0,
        initial_state_mean=[y[0], 0.0],
        initial_state_covariance=5.0 * np.eye(2),
    )
    means, _ = kf.filter(y)
    np.testing.assert_allclose(result["kalman_level"], means[:, 0], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(result["kalman_slope"], means[:, 1], rtol=1e-8, atol=1e-9)


def test_kalman_slope_tracks_a_planted_slope_switch() -> None:
    rng = np.random.default_rng(1)
    n = 8000
    slope = np.r_[np.full(n // 2, 0.05), np.full(n // 2, -0.05)]
    y = 1000.0 + np.cumsum(slope) + rng.normal(0.0, 1.0, n)
    est = compute("kalman_trend", frame(y))["kalman_slope"].to_numpy()
    assert np.mean(np.abs(est[1000 : n // 2] - 0.05)) < 0.01
    assert np.mean(np.abs(est[n // 2 + 1000 :] + 0.05)) < 0.01


def test_kalman_trend_is_scale_equivariant() -> None:
    y = random_bars(3000, seed=2)["close"].to_numpy()
    base = compute("kalman_trend", frame(y))
    scaled = compute("kalman_trend", frame(1000.0 * y))
    np.testing.assert_allclose(scaled.to_numpy(), 1000.0 * base.to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- transforms


def test_wavelet_trend_is_the_last_point_of_the_denoised_trailing_window() -> None:
    close = random_bars(400, seed=4)["close"].to_numpy()
    trend = compute("wavelet_trend", frame(close), timeperiod=128)
    for t in (127, 250, 399):
        window = close[t - 127 : t + 1]
        coeffs = pywt.wavedec(window, "db4", mode="reflect")
        sigma = np.median(np.abs(coeffs[-1])) / 0.6745
        thr = sigma * np.sqrt(2 * np.log(128))
        shrunk = [coeffs[0]] + [pywt.threshold(c, thr, mode="soft") for c in coeffs[1:]]
        expected = pywt.waverec(shrunk, "db4", mode="reflect")[127]
        assert trend.iloc[t] == pytest.approx(expected, rel=1e-12)


def test_wavelet_trend_removes_most_of_the_noise_from_two_sines() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(6000)
    truth = 100.0 + np.sin(2 * np.pi * t / 200) + 0.5 * np.sin(2 * np.pi * t / 90)
    noisy = truth + rng.normal(0.0, 0.5, len(t))
    est = compute("wavelet_trend", frame(noisy)).to_numpy()
    rmse = np.sqrt(np.nanmean((est - truth) ** 2))
    assert rmse < 0.5 * 0.5


def test_hilbert_period_of_a_sine_is_its_period_and_the_trendline_is_flat() -> None:
    close = 100.0 + np.sin(2 * np.pi * np.arange(1500) / 20)
    result = compute("hilbert_slope", frame(close, high=close + 0.5, low=close - 0.5)).dropna()
    assert result["hilbert_period"].median() == pytest.approx(20.0, abs=0.5)
    assert result["hilbert_slope"].abs().max() < 0.05


def test_hilbert_slope_on_a_ramp_plus_cycle_is_the_ramp_slope_in_atrs() -> None:
    b = 0.2
    close = 100.0 + b * np.arange(1500) + np.sin(2 * np.pi * np.arange(1500) / 20)
    bars = frame(close, high=close + 0.5, low=close - 0.5)
    result = compute("hilbert_slope", bars).dropna()
    atr = compute("atr", bars).loc[result.index]
    assert (result["hilbert_slope"] * atr).median() == pytest.approx(b, rel=0.1)


def test_fdi_of_a_line_is_the_finite_sample_value_and_noise_is_rougher_than_a_walk() -> None:
    line = compute("fdi", frame(100.0 + np.arange(100.0))).dropna()
    assert line.to_numpy() == pytest.approx(1 + np.log(2 * np.sqrt(2)) / np.log(60))
    rng = np.random.default_rng(0)
    walk = compute("fdi", frame(100 + np.cumsum(rng.normal(size=20_000)))).median()
    noise = compute("fdi", frame(100 + rng.normal(size=20_000))).median()
    assert walk == pytest.approx(1.475, abs=0.03)
    assert noise == pytest.approx(1.688, abs=0.03)
