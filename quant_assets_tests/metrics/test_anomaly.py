"""Family J (regime change & anomaly): planted shifts and spikes, reference statistics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics import anomaly as anomaly_module
from quant_assets.metrics.anomaly import _cusum
from quant_assets_tests.metrics.signals import frame, random_bars


def prices_from_log_returns(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


def auc(scores: pd.Series, planted: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the planted positions, over the bars that have a score."""
    labels = np.zeros(len(scores))
    labels[planted] = 1.0
    scored = scores.notna().to_numpy()
    return float(roc_auc_score(labels[scored], scores.to_numpy()[scored]))


# --------------------------------------------------------------------------- higher moments


def test_rolling_skew_and_kurt_equal_scipy_bias_corrected_on_each_window() -> None:
    close = random_bars(600, seed=1)["close"].to_numpy()
    bars = frame(close)
    skew = compute("rolling_skew", bars, timeperiod=100)
    kurt = compute("rolling_kurt", bars, timeperiod=100)
    returns = np.diff(np.log(close))
    assert skew.iloc[:100].isna().all() and kurt.iloc[:100].isna().all()
    for t in (100, 345, 599):
        window = returns[t - 100 : t]
        assert skew.iloc[t] == pytest.approx(stats.skew(window, bias=False), rel=1e-7)
        assert kurt.iloc[t] == pytest.approx(stats.kurtosis(window, bias=False), rel=1e-7)


def test_skew_normal_returns_give_the_theoretical_skew_and_excess_kurtosis() -> None:
    returns = stats.skewnorm.rvs(4, size=40_000, random_state=2) * 0.001
    bars = frame(prices_from_log_returns(returns))
    skew = compute("rolling_skew", bars, timeperiod=40_000).iloc[-1]
    kurt = compute("rolling_kurt", bars, timeperiod=40_000).iloc[-1]
    theory_skew, theory_kurt = stats.skewnorm.stats(4, moments="sk")
    assert skew == pytest.approx(float(theory_skew), abs=0.05)  # 0.78
    assert kurt == pytest.approx(float(theory_kurt), abs=0.1)  # 0.63


def test_cum_return_deviation_of_a_planted_drift_is_its_sum_over_baseline_sigma_sqrt_h() -> None:
    sigma, baseline, horizon = 0.01, 200, 24
    calm = np.tile([sigma, -sigma], baseline // 2)  # mean 0, known std
    returns = np.r_[calm, np.full(horizon, sigma)]
    crd = compute(
        "cum_return_deviation", frame(prices_from_log_returns(returns)), horizon=horizon, baseline=baseline
    )
    sd = np.std(calm, ddof=1)
    assert crd.iloc[-1] == pytest.approx(horizon * sigma / (sd * math.sqrt(horizon)), rel=1e-9)  # ≈ 4.9
    assert crd.iloc[: baseline + horizon].isna().all()


# --------------------------------------------------------------------------- CUSUM


def naive_cusum(z: np.ndarray, k: float, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Page's tabular CUSUM written bar by bar, the textbook way."""
    up, down, alarm = (np.full(len(z), np.nan) for _ in range(3))
    s_up = s_down = 0.0
    for t, value in enumerate(z):
        if not np.isfinite(value):
            s_up = s_down = 0.0
            continue
        s_up, s_down = max(0.0, s_up + value - k), max(0.0, s_down - value - k)
        up[t], down[t] = s_up, s_down
        alarm[t] = 1.0 if s_up > h else -1.0 if s_down > h else 0.0
        if alarm[t] != 0.0:
            s_up = s_down = 0.0
    return up, down, alarm


def test_vectorized_cusum_equals_the_bar_by_bar_recursion_across_alarms_and_segments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(anomaly_module, "CUSUM_SEGMENT", 37)
    rng = np.random.default_rng(4)
    z = rng.normal(0.3, 1.0, 3000)
    z[[0, 1, 500, 1700, 1701]] = np.nan  # undefined bars restart the chart
    fast = _cusum(z, k=0.25, h=3.0)
    slow = naive_cusum(z, k=0.25, h=3.0)
    assert (slow[2] != 0).sum() > 50  # many alarms, many resets
    for got, expected in zip(fast, slow, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_cusum_detects_a_one_sigma_shift_of_the_return_mean_within_a_few_bars(direction: float) -> None:
    rng = np.random.default_rng(5)
    sigma, shift_at = 0.01, 2500
    returns = rng.normal(0.0, sigma, 3000)
    returns[shift_at - 1 :] += direction * sigma  # return of bar t is returns[t - 1]
    result = compute("cusum", frame(prices_from_log_returns(returns)))
    alarms = result["cusum_alarm"].to_numpy()
    after = np.flatnonzero(alarms[shift_at:] != 0)
    assert after.size and after[0] <= 25  # ARL1 ≈ 16 bars for h = 8, k = 0.5
    assert alarms[shift_at + after[0]] == direction
    assert np.sum(alarms[721:shift_at] != 0) <= 1  # in control: ARL0 ≈ 9500 bars


def test_cusum_statistics_restart_from_zero_after_an_alarm() -> None:
    rng = np.random.default_rng(6)
    returns = rng.normal(0.0, 0.01, 1200)
    returns[1000] = 0.2  # a 20σ bar pushes S+ over h at once
    result = compute("cusum", frame(prices_from_log_returns(returns)), window=500)
    assert result["cusum_alarm"].iloc[1001] == 1.0
    assert result["cusum_pos"].iloc[1001] > 8.0
    assert result["cusum_pos"].iloc[1002] < 1.0 and result["cusum_neg"].iloc[1002] < 1.0


# --------------------------------------------------------------------------- Isolation Forest


def bars_with_outliers(n: int, count: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Random-walk bars with ``count`` planted outlier bars: a 6 % jump, an 8x
    volume burst and a 2 % range, where ordinary bars move ~1 %, range 0.4 %."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, n - 1)
    planted = np.sort(rng.choice(np.arange(400, n), count, replace=False))
    returns[planted - 1] += rng.choice([-0.06, 0.06], count)
    close = prices_from_log_returns(returns)
    open_ = np.r_[close[0], close[:-1]]
    range_ = np.full(n, 0.002)
    range_[planted] = 0.01
    volume = rng.lognormal(3.0, 0.3, n)
    volume[planted] *= 8.0
    bars = pd.DataFrame(
        {
            "high": np.maximum(open_, close) * (1 + range_),
            "low": np.minimum(open_, close) * (1 - range_),
            "close": close,
            "volume": volume,
        },
        index=frame(close).index,
    )
    return bars, planted


def test_isolation_forest_ranks_planted_outliers_at_the_top() -> None:
    bars, planted = bars_with_outliers(1500, 15, seed=7)
    score = compute("isolation_forest", bars, window=336)
    assert auc(score, planted) >= 0.9
    assert score.iloc[planted].min() > 0.5  # flagged by contamination='auto'
    assert score.dropna().between(0.0, 1.0).all()


def test_isolation_forest_scores_each_period_with_the_forest_fitted_at_its_start() -> None:
    bars, _ = bars_with_outliers(1500, 15, seed=8)
    score = compute("isolation_forest", bars, window=336, refit_every="7D", n_estimators=50)
    boundary = int(np.flatnonzero(score.notna().to_numpy())[0])
    assert bars.index[boundary] == bars.index[boundary].floor("7D")  # a calendar-aligned refit
    assert 337 <= boundary < 337 + 168
    close, high, low, volume = (bars[c].to_numpy() for c in ("close", "high", "low", "volume"))
    features = np.column_stack((np.r_[np.nan, np.diff(np.log(close))], np.log(high / low), np.log1p(volume)))
    forest = IsolationForest(n_estimators=50, max_samples=256, random_state=0)
    forest.fit(features[boundary - 336 : boundary])
    period = slice(boundary, boundary + 168)
    np.testing.assert_allclose(score.iloc[period], -forest.score_samples(features[period]))


def test_isolation_forest_rejects_bars_whose_high_is_below_the_low() -> None:
    bars, _ = bars_with_outliers(800, 5, seed=9)
    bars.iloc[10, bars.columns.get_loc("high")] = bars["low"].iloc[10] * 0.9
    with pytest.raises(MetricInputError, match=r"^isolation_forest: column 'high' must be >= 'low'"):
        compute("isolation_forest", bars, window=336)


# --------------------------------------------------------------------------- spectral residual


def test_spectral_residual_ranks_spikes_on_a_daily_seasonal_series_at_the_top() -> None:
    rng = np.random.default_rng(10)
    n = 1500
    hours = np.arange(n)
    level = 100.0 + np.sin(2 * np.pi * hours / 24) + rng.normal(0.0, 0.3, n)
    planted = 300 + 80 * np.arange(15) + rng.integers(0, 40, 15)  # isolated spikes
    level[planted] += 4.0
    result = compute("spectral_residual", frame(level), series="close")
    score = result["spectral_residual"]
    assert auc(score, planted) >= 0.95
    assert result["spectral_residual_alarm"].iloc[planted].mean() >= 0.8  # O > τ = 3
    normal = np.setdiff1d(np.arange(300, n), np.r_[planted, planted + 1])  # spikes echo one bar
    assert result["spectral_residual_alarm"].iloc[normal].mean() < 0.05


def test_spectral_residual_on_log_returns_ranks_price_jumps_at_the_top() -> None:
    rng = np.random.default_rng(11)
    returns = rng.normal(0.0, 0.01, 1499)
    planted = 300 + 80 * np.arange(15) + rng.integers(0, 40, 15)
    returns[planted - 1] += rng.choice([-0.05, 0.05], 15)
    score = compute("spectral_residual", frame(prices_from_log_returns(returns)))["spectral_residual"]
    assert auc(score, planted) >= 0.9


def test_spectral_residual_at_t_is_a_function_of_the_trailing_window_only() -> None:
    close = random_bars(700, seed=12)["close"]
    full = compute("spectral_residual", frame(close.to_numpy()), series="close", window=64)
    for t in (63, 300, 699):
        alone = compute(
            "spectral_residual", frame(close.to_numpy()[t - 63 : t + 1]), series="close", window=64
        )
        assert alone["spectral_residual"].iloc[-1] == pytest.approx(
            full["spectral_residual"].iloc[t], rel=1e-9
        )


def test_spectral_residual_rejects_an_even_amplitude_filter() -> None:
    with pytest.raises(MetricInputError, match=r"^spectral_residual: parameter 'amp_window' must be an odd"):
        compute("spectral_residual", random_bars(300, seed=0), amp_window=4)
