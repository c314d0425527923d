"""Family G (risk & exposure): reference values, known distributions and known paths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib
from scipy import stats

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics.risk import _rolling_worst_ratio
from quant_assets_tests.metrics.signals import frame, hourly_index, random_bars


def prices_from_simple_returns(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    """Closes whose simple returns are ``returns`` (one more close than returns)."""
    return start * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))


def prices_from_log_returns(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


# --------------------------------------------------------------------------- stops


def test_atr_stop_on_bars_with_range_two_is_the_highest_high_minus_six() -> None:
    close = 100.0 + 0.5 * np.arange(80)
    bars = frame(close, high=close + 1.0, low=close - 1.0)  # no gaps: H - L = 2 = TR
    stop = compute("atr_stop", bars)
    assert stop.iloc[:22].isna().all().all()
    np.testing.assert_allclose(stop["atr_stop_long"].iloc[22:], bars["high"].iloc[22:] - 6.0)
    lowest = bars["low"].rolling(22).min().iloc[22:]
    np.testing.assert_allclose(stop["atr_stop_short"].iloc[22:], lowest + 6.0)


def test_atr_stop_uses_talib_atr_and_rolling_extremes() -> None:
    bars = random_bars(400, seed=7)
    stop = compute("atr_stop", bars, timeperiod=14, multiplier=2.5)
    atr = talib.ATR(bars["high"], bars["low"], bars["close"], timeperiod=14)
    expected = bars["high"].rolling(14).max() - 2.5 * atr
    np.testing.assert_allclose(stop["atr_stop_long"].iloc[14:], expected.iloc[14:], rtol=1e-9)


def test_adaptive_atr_stop_multiplier_widens_in_a_volatility_burst_and_tightens_when_quiet() -> None:
    rng = np.random.default_rng(3)
    width = np.r_[np.full(600, 1.0), np.full(200, 3.0), np.full(400, 0.2)]
    close = 100.0 + np.cumsum(rng.normal(0.0, 0.01, len(width)))
    bars = frame(close, high=close + width / 2, low=close - width / 2)
    result = compute("adaptive_atr_stop", bars, timeperiod=14, median_window=300)
    k = result["adaptive_stop_multiplier"]
    assert k.iloc[: 14 + 300 - 1].isna().all()
    assert k.iloc[400:600].to_numpy() == pytest.approx(3.0, rel=0.02)  # calm: ATR ≈ its median
    # Until the 300-bar median itself moves (after 150 bars of the new regime):
    assert k.iloc[620:740].to_numpy() == pytest.approx(6.0)  # burst: ratio ≈ 3, clipped at 2
    assert k.iloc[820:940].to_numpy() == pytest.approx(1.5)  # quiet: ratio ≈ 0.07, clipped at 0.5
    assert k.iloc[1100:].to_numpy() == pytest.approx(3.0, rel=0.02)  # the median has adapted
    atr = talib.ATR(bars["high"], bars["low"], bars["close"], timeperiod=14)
    expected = bars["high"].rolling(14).max() - k * atr
    np.testing.assert_allclose(result["adaptive_stop_long"].iloc[313:], expected.iloc[313:], rtol=1e-9)


# --------------------------------------------------------------------------- liquidation zones


def zones_bars(low_last: float, oi: list[float] | None = None) -> pd.DataFrame:
    """Flat bars at 100 where 1000 contracts open at bar 2; the last bar's low is ``low_last``."""
    return pd.DataFrame(
        {
            "high": [100.0, 100.0, 100.0, 100.0],
            "low": [100.0, 100.0, 100.0, low_last],
            "close": [100.0, 100.0, 100.0, max(low_last, 99.0)],
            "open_interest": oi or [0.0, 0.0, 1000.0, 1000.0],
        },
        index=hourly_index(4),
    )


TIERS = {"leverages": (10.0, 25.0, 50.0), "leverage_weights": (0.5, 0.3, 0.2)}


def test_liquidation_levels_follow_binance_isolated_margin_formula() -> None:
    # Long 10/25/50x at 100 with mmr 0.5 %: 90.5 / 96.5 / 98.5; shorts 109.5 / 103.5 / 101.5.
    zones = compute("liquidation_zones", zones_bars(low_last=100.0), window=2, **TIERS)
    at_open = zones.iloc[2]
    assert at_open["liq_long_price"] == pytest.approx(0.5 * 90.5 + 0.3 * 96.5 + 0.2 * 98.5)
    assert at_open["liq_short_price"] == pytest.approx(0.5 * 109.5 + 0.3 * 103.5 + 0.2 * 101.5)
    assert at_open["liq_long_notional"] == at_open["liq_short_notional"] == pytest.approx(50_000.0)
    assert at_open["liq_long_distance"] == pytest.approx((100.0 - 93.9) / 100.0)


def test_a_drop_to_97_liquidates_only_the_98_5_long_level() -> None:
    zones = compute("liquidation_zones", zones_bars(low_last=97.0), window=2, **TIERS)
    after = zones.iloc[3]
    assert after["liq_long_notional"] == pytest.approx(0.8 * 50_000.0)
    assert after["liq_long_price"] == pytest.approx((0.5 * 90.5 + 0.3 * 96.5) / 0.8)
    assert after["liq_short_notional"] == pytest.approx(50_000.0)  # shorts untouched


def test_falling_open_interest_shrinks_tracked_positions_pro_rata() -> None:
    bars = zones_bars(low_last=100.0, oi=[0.0, 0.0, 1000.0, 600.0])
    zones = compute("liquidation_zones", bars, window=2, **TIERS)
    assert zones["liq_long_notional"].iloc[3] == pytest.approx(0.6 * 50_000.0)
    assert zones["liq_long_price"].iloc[3] == pytest.approx(zones["liq_long_price"].iloc[2])


def test_positions_older_than_the_window_are_dropped() -> None:
    bars = zones_bars(low_last=100.0)
    zones = compute("liquidation_zones", bars, window=1, **TIERS)
    assert zones["liq_long_notional"].iloc[2] == pytest.approx(50_000.0)
    assert zones["liq_long_notional"].iloc[3] == 0.0
    assert np.isnan(zones["liq_long_price"].iloc[3])


def test_liquidation_zones_reject_a_leverage_whose_level_is_beyond_the_entry() -> None:
    with pytest.raises(MetricInputError, match=r"^liquidation_zones: parameter 'leverages' tiers must "
                       r"exceed 1 and stay below 1/mmr = 200"):  # fmt: skip
        compute("liquidation_zones", zones_bars(100.0), window=2, leverages=(10.0, 250.0),
                leverage_weights=(0.5, 0.5))  # fmt: skip
    with pytest.raises(MetricInputError, match=r"'leverage_weights' must have one weight per leverage tier"):
        compute("liquidation_zones", zones_bars(100.0), window=2, leverage_weights=(0.5, 0.5))


# --------------------------------------------------------------------------- drawdown


def test_max_drawdown_of_a_known_equity_path_is_minus_25_percent() -> None:
    equity = np.array([1.0, 1.5, 2.0, 1.8, 1.5, 1.7, 1.9])
    running = compute("max_drawdown", frame(equity), timeperiod=0)
    np.testing.assert_allclose(running["drawdown"], [0, 0, 0, -0.1, -0.25, -0.15, -0.05])
    np.testing.assert_allclose(running["max_drawdown"], [0, 0, 0, -0.1, -0.25, -0.25, -0.25])
    trailing = compute("max_drawdown", frame(equity), timeperiod=5)
    # Window ending at the 1.9: [2.0, 1.8, 1.5, 1.7, 1.9] → worst -25 %; last window [1.8 .. 1.9] → -1/6.
    np.testing.assert_allclose(trailing["max_drawdown"].iloc[4:], [-0.25, -0.25, -0.25])
    assert compute("max_drawdown", frame(equity), timeperiod=4)["max_drawdown"].iloc[-1] == pytest.approx(
        1.5 / 1.8 - 1.0
    )


@pytest.mark.parametrize("window", [1, 2, 7, 64, 100])
def test_rolling_max_drawdown_equals_brute_force_on_every_window(window: int) -> None:
    close = random_bars(600, seed=window)["close"].to_numpy()
    fast = _rolling_worst_ratio(close, window) - 1.0
    for t in range(window - 1, len(close)):
        segment = close[t - window + 1 : t + 1]
        expected = np.min(segment / np.maximum.accumulate(segment)) - 1.0
        assert fast[t] == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --------------------------------------------------------------------------- volatility targeting


def test_vol_target_scales_inversely_to_volatility_and_hits_the_target_in_both_regimes() -> None:
    rng = np.random.default_rng(11)
    sigma = 0.5 / math.sqrt(8760)  # 50 % a year, hourly
    returns = np.r_[rng.normal(0, sigma, 4000), rng.normal(0, 3 * sigma, 4000)]
    result = compute("vol_target", frame(prices_from_log_returns(returns)), target_vol=0.5)
    scale = result["vol_target"].to_numpy()
    calm, wild = np.nanmedian(scale[500:4000]), np.nanmedian(scale[4500:])
    assert calm / wild == pytest.approx(3.0, rel=0.1)
    # Position decided at t, applied to the return of t + 1.
    managed = scale[:-1] * returns
    for segment in (slice(500, 3999), slice(4500, None)):
        realized = np.std(managed[segment]) * math.sqrt(8760)
        assert realized == pytest.approx(0.5, rel=0.05)


def test_vol_forecast_is_annualized_with_8760_hourly_periods_and_capped_scale() -> None:
    rng = np.random.default_rng(12)
    sigma = 0.8 / math.sqrt(8760)
    close = prices_from_log_returns(rng.normal(0, sigma, 6000))
    result = compute("vol_target", frame(close), target_vol=2.0, max_leverage=1.5)
    assert result["vol_forecast"].iloc[1000:].median() == pytest.approx(0.8, rel=0.05)
    assert (result["vol_target"].dropna() <= 1.5).all()
    assert result["vol_target"].iloc[1000:].median() == 1.5  # 2.0 / 0.8 = 2.5, capped


def test_vol_target_recursion_is_the_seeded_ewma_of_squared_log_returns() -> None:
    close = random_bars(300, seed=13)["close"].to_numpy()
    result = compute("vol_target", frame(close), halflife=10, periods_per_year=365.0)
    r2 = np.diff(np.log(close)) ** 2
    lam = 0.5 ** (1 / 10)
    variance = r2[:10].mean()
    for t in range(11, 300):
        variance = lam * variance + (1 - lam) * r2[t - 1]
    assert result["vol_forecast"].iloc[-1] == pytest.approx(math.sqrt(variance * 365.0), rel=1e-12)
    assert result["vol_forecast"].iloc[:10].isna().all() and result.iloc[10].notna().all()


# --------------------------------------------------------------------------- leverage


def test_gross_and_net_leverage_of_3000_long_1000_short_on_1000_equity() -> None:
    data = pd.DataFrame(
        {"long_notional": [3000.0], "short_notional": [1000.0], "equity": [1000.0]}, index=hourly_index(1)
    )
    result = compute("leverage_ratio", data)
    assert result["gross_leverage"].iloc[0] == 4.0
    assert result["net_leverage"].iloc[0] == 2.0


def test_leverage_ratio_rejects_non_positive_equity() -> None:
    data = pd.DataFrame(
        {"long_notional": [1.0, 1.0], "short_notional": [0.0, 0.0], "equity": [10.0, 0.0]},
        index=hourly_index(2),
    )
    with pytest.raises(MetricInputError, match=r"^leverage_ratio: column 'equity' must be > 0 \(got 0\.0"):
        compute("leverage_ratio", data)


def test_estimated_leverage_ratio_is_open_interest_over_exchange_reserve() -> None:
    data = pd.DataFrame({"open_interest": [90_000.0, 120_000.0], "exchange_balance": [2.4e6, 2.4e6]},
                        index=hourly_index(2))  # fmt: skip
    np.testing.assert_allclose(compute("estimated_leverage_ratio", data), [0.0375, 0.05])


# --------------------------------------------------------------------------- VaR and ES


def normal_bars(n: int, sigma: float, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    returns = np.random.default_rng(seed).normal(0.0, sigma, n)
    return returns, frame(prices_from_simple_returns(returns))


def test_var_and_es_of_normal_returns_are_1_645_and_2_063_sigma() -> None:
    returns, bars = normal_bars(100_000, 0.01, seed=0)
    var = compute("value_at_risk", bars, timeperiod=len(returns)).iloc[-1]
    es = compute("expected_shortfall", bars, timeperiod=len(returns)).iloc[-1]
    for value in var:
        assert value == pytest.approx(0.01645, rel=0.02)
    for value in es:
        assert value == pytest.approx(0.02063, rel=0.02)


def test_historical_var_is_the_empirical_quantile_and_es_the_mean_beyond_it() -> None:
    returns, bars = normal_bars(2000, 0.02, seed=1)
    var = compute("value_at_risk", bars, timeperiod=250, alpha=0.05)["var_historical"]
    es = compute("expected_shortfall", bars, timeperiod=250, alpha=0.05)["es_historical"]
    assert var.iloc[:250].isna().all() and es.iloc[:250].isna().all()
    for t in (250, 999, 2000):
        window = returns[t - 250 : t]
        assert var.iloc[t] == pytest.approx(-np.quantile(window, 0.05), rel=1e-12)
        cutoff = int((len(window) - 1) * 0.05)  # empyrical.conditional_value_at_risk's rule
        assert es.iloc[t] == pytest.approx(-np.mean(np.partition(window, cutoff)[: cutoff + 1]), rel=1e-12)
        assert es.iloc[t] >= var.iloc[t]


def test_cornish_fisher_var_is_closer_than_gaussian_for_student_t10_at_99_percent() -> None:
    scale = 0.01 / math.sqrt(10 / 8)  # unit-variance t(10), then 1 % a bar
    returns = stats.t.rvs(10, size=200_000, random_state=1) * scale
    var = compute("value_at_risk", frame(prices_from_simple_returns(returns)), timeperiod=200_000, alpha=0.01)
    true = -stats.t.ppf(0.01, 10) * scale  # 2.47 %
    last = var.iloc[-1]
    assert abs(last["var_cornish_fisher"] - true) < abs(last["var_parametric"] - true)
    assert last["var_parametric"] == pytest.approx(0.02326, rel=0.02)
    assert last["var_cornish_fisher"] == pytest.approx(0.0255, rel=0.02)


def test_value_at_risk_rejects_an_alpha_outside_the_lower_tail() -> None:
    _, bars = normal_bars(100, 0.01, seed=2)
    with pytest.raises(
        MetricInputError, match=r"^value_at_risk: parameter 'alpha' must lie in \(0\.0, 0\.5\)"
    ):
        compute("value_at_risk", bars, timeperiod=20, alpha=0.95)


def test_value_at_risk_needs_more_bars_than_its_window() -> None:
    _, bars = normal_bars(100, 0.01, seed=3)
    with pytest.raises(MetricInputError, match=r"argument 'data' has 101 rows, needs at least 721"):
        compute("value_at_risk", bars)
