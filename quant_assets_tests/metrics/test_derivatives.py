"""Family C (derivatives & sentiment): reference values and planted signals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import brentq
from scipy.signal import lfilter

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics.derivatives import OPTION_STRIKES
from quant_assets_tests.metrics.signals import hourly_index


def series_frame(**columns: np.ndarray) -> pd.DataFrame:
    data = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    return pd.DataFrame(data, index=hourly_index(len(next(iter(data.values())))))


def closes(returns: np.ndarray) -> np.ndarray:
    return 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


# --------------------------------------------------------------------------- funding, OI, ratios


def test_the_neutral_funding_of_0_01_percent_per_8h_annualizes_to_10_95_percent() -> None:
    funding = series_frame(funding_rate=np.full(48, 1e-4))
    result = compute("funding_rate", funding)
    assert result["funding_rate_annualized"].iloc[-1] == pytest.approx(0.1095)
    hourly = compute("funding_rate", funding, interval_hours=1.0)
    assert hourly["funding_rate_annualized"].iloc[-1] == pytest.approx(0.876)


def test_funding_rate_mean_is_the_trailing_mean_over_the_window() -> None:
    funding = series_frame(funding_rate=np.r_[np.full(8, 1e-4), np.full(8, 3e-4)])
    mean = compute("funding_rate", funding, timeperiod=8)["funding_rate_mean"]
    assert mean.iloc[7] == pytest.approx(1e-4)
    assert mean.iloc[11] == pytest.approx(2e-4)
    assert mean.iloc[:7].isna().all()


def test_a_ten_percent_open_interest_step_reads_0_10_for_k_bars() -> None:
    oi = np.r_[np.full(30, 1000.0), np.full(40, 1100.0)]
    change = compute("oi_change_rate", series_frame(open_interest=oi), timeperiod=24)
    assert change.iloc[30:54].to_numpy() == pytest.approx(np.full(24, 0.10))
    assert (change.iloc[54:] == 0.0).all()


def test_oi_change_rate_is_undefined_after_zero_open_interest_and_rejects_negative_values() -> None:
    change = compute("oi_change_rate", series_frame(open_interest=[0.0, 5.0]), timeperiod=1)
    assert np.isnan(change.iloc[1])
    with pytest.raises(MetricInputError, match=r"^oi_change_rate: column 'open_interest' has 1 negative"):
        compute("oi_change_rate", series_frame(open_interest=[1.0, -5.0]), timeperiod=1)


def test_long_short_ratio_of_60_40_accounts_is_1_5_and_a_jump_scores_high() -> None:
    long = np.r_[0.5 + 0.01 * np.sin(np.arange(50)), 0.6]
    frame = series_frame(long_account=long, short_account=1.0 - long)
    result = compute("long_short_ratio", frame, timeperiod=20)
    assert result["long_short_ratio"].iloc[-1] == pytest.approx(1.5)
    assert result["long_short_zscore"].iloc[-1] > 3.0
    flat = compute(
        "long_short_ratio",
        series_frame(long_account=np.full(5, 0.5), short_account=np.full(5, 0.5)),
        timeperiod=3,
    )
    assert flat["long_short_zscore"].isna().all()


def test_funding_skew_of_gamma_distributed_funding_is_two_over_root_shape() -> None:
    rng = np.random.default_rng(0)
    shape = 4.0  # skewness 2/sqrt(4) = 1
    funding = 1e-4 + 2e-5 * (rng.gamma(shape, 1.0, 20_000) - shape)
    skew = compute("funding_skew", series_frame(funding_rate=funding), timeperiod=2000)
    assert skew.dropna().median() == pytest.approx(1.0, abs=0.1)
    assert skew.iloc[-1] == pytest.approx(stats.skew(funding[-2000:], bias=False), rel=1e-9)
    mirrored = compute("funding_skew", series_frame(funding_rate=-funding), timeperiod=2000)
    np.testing.assert_allclose(mirrored.dropna(), -skew.dropna())


def test_funding_skew_is_undefined_while_funding_sits_at_the_interest_rate() -> None:
    funding = np.r_[np.full(30, 1e-4), 3e-4]
    skew = compute("funding_skew", series_frame(funding_rate=funding), timeperiod=10)
    assert skew.iloc[9:30].isna().all()
    assert skew.iloc[-1] > 0


def test_volume_imbalance_of_70_30_taker_flow_is_0_4_and_equals_twice_tdr_minus_one() -> None:
    assert compute("volume_imbalance", series_frame(buy_volume=[70.0], sell_volume=[30.0])).iloc[
        0
    ] == pytest.approx(0.4)
    rng = np.random.default_rng(1)
    flow = series_frame(buy_volume=rng.exponential(1, 200), sell_volume=rng.exponential(1, 200))
    vii = compute("volume_imbalance", flow, timeperiod=12)
    tdr = compute("taker_dominance", flow, timeperiod=12)
    np.testing.assert_allclose(vii.dropna(), 2 * tdr.dropna() - 1, atol=1e-12)


# --------------------------------------------------------------------------- liquidations


LIQ_PARAMS = {
    "leverages": (10.0, 25.0, 50.0),
    "leverage_weights": (0.5, 0.3, 0.2),
    "mmr": 0.005,
    "bin_pct": 1.0,
}


def liquidation_bars() -> pd.DataFrame:
    """+1000 contracts opened at 100 (50/50), then a dip to 97, OI halves, a spike to 112."""
    return series_frame(
        high=[100.0, 100.0, 100.0, 97.5, 112.0],
        low=[100.0, 100.0, 97.0, 97.5, 97.5],
        close=[100.0, 100.0, 97.5, 97.5, 112.0],
        open_interest=[1000.0, 2000.0, 2000.0, 1000.0, 1000.0],
        buy_volume=[1.0] * 5,
        sell_volume=[1.0] * 5,
    )


def test_new_open_interest_lands_at_the_liquidation_prices_of_each_leverage_tier() -> None:
    heat = compute("liquidation_heatmap", liquidation_bars(), **LIQ_PARAMS).iloc[1]
    # Longs at 98.5 (50x), 96.5 (25x), 90.5 (10x): 1.5, 3.5, 9.5 % below 100; shorts mirrored.
    # Notional 1000 x 100 = 100,000, half long, split 20/30/50 % across 50x/25x/10x.
    for side in ("long", "short"):
        expected = {2: 10_000.0, 4: 15_000.0, 10: 25_000.0}
        bins = {k: heat[f"liq_{side}_{k}"] for k in range(1, 21)}
        assert {k: v for k, v in bins.items() if v} == pytest.approx(expected)
        assert heat[f"liq_{side}_total"] == pytest.approx(50_000.0)


def test_a_dip_to_97_liquidates_only_the_98_5_long_level_and_the_map_recenters() -> None:
    heat = compute("liquidation_heatmap", liquidation_bars(), **LIQ_PARAMS).iloc[2]
    assert heat["liq_long_total"] == pytest.approx(40_000.0)
    assert heat["liq_short_total"] == pytest.approx(50_000.0)
    # At a close of 97.5: 96.5 is 1.03 % below, 90.5 is 7.2 % below; 101.5 is 4.1 % above.
    assert heat["liq_long_2"] == pytest.approx(15_000.0)
    assert heat["liq_long_8"] == pytest.approx(25_000.0)
    assert heat["liq_short_5"] == pytest.approx(10_000.0)


def test_falling_open_interest_shrinks_live_levels_pro_rata_and_a_spike_clears_the_shorts() -> None:
    heat = compute("liquidation_heatmap", liquidation_bars(), **LIQ_PARAMS)
    assert heat["liq_long_total"].iloc[3] == pytest.approx(20_000.0)
    assert heat["liq_short_total"].iloc[3] == pytest.approx(25_000.0)
    assert heat["liq_short_total"].iloc[4] == 0.0
    assert heat["liq_long_total"].iloc[4] == pytest.approx(20_000.0)
    assert heat.iloc[0].isna().all()


def test_levels_older_than_the_lookback_are_forgotten() -> None:
    heat = compute("liquidation_heatmap", liquidation_bars(), lookback=2, **LIQ_PARAMS)
    assert heat["liq_long_total"].iloc[2] == pytest.approx(40_000.0)
    assert heat["liq_long_total"].iloc[3] == 0.0


def test_taker_buying_decides_the_long_share_of_new_open_interest() -> None:
    bars = liquidation_bars()
    bars["buy_volume"] = 3.0  # 75 % taker buys
    heat = compute("liquidation_heatmap", bars, **LIQ_PARAMS).iloc[1]
    assert heat["liq_long_total"] == pytest.approx(75_000.0)
    assert heat["liq_short_total"] == pytest.approx(25_000.0)


def test_leverage_weights_that_do_not_sum_to_one_are_rejected() -> None:
    with pytest.raises(MetricInputError, match=r"^liquidation_heatmap: parameter 'leverage_weights' must be"):
        compute(
            "liquidation_heatmap", liquidation_bars(), leverages=(10.0, 20.0), leverage_weights=(0.5, 0.4)
        )


# --------------------------------------------------------------------------- OI / price divergence


def test_oi_quadrants_of_planted_price_and_oi_moves_come_back_exactly() -> None:
    price_steps = np.repeat([1.01, 1.01, 0.99, 0.99], 10)
    oi_steps = np.repeat([1.02, 0.98, 1.02, 0.98], 10)
    bars = series_frame(
        close=100.0 * np.cumprod(np.r_[1.0, price_steps]),
        open_interest=1e4 * np.cumprod(np.r_[1.0, oi_steps]),
    )
    quadrant = compute("oi_delta_divergence", bars, timeperiod=1, zscore_period=3)["oi_quadrant"]
    assert quadrant.iloc[1:].tolist() == np.repeat([1.0, 2.0, 3.0, 4.0], 10).tolist()


def test_open_interest_rising_while_price_falls_is_a_divergence() -> None:
    rng = np.random.default_rng(2)
    returns = rng.normal(-0.001, 0.01, 2000)
    oi_change = -0.5 * returns + rng.normal(0.0, 0.001, 2000)
    bars = series_frame(close=closes(returns), open_interest=1e4 * np.cumprod(np.r_[1.0, 1.0 + oi_change]))
    result = compute("oi_delta_divergence", bars, timeperiod=1, zscore_period=100).dropna()
    assert result["oi_price_corr"].max() < -0.9
    assert (result["oi_divergence"] > 0).mean() > 0.85
    assert result["oi_divergence"].median() > 0.5
    assert result["oi_quadrant"].isin([2.0, 3.0]).mean() > 0.9  # short covering / short build-up


# --------------------------------------------------------------------------- options


def chain(iv_of_k, *, forward: float = 100.0, days: float = 30.0, rows: int = 3) -> pd.DataFrame:
    strikes = np.linspace(70.0, 140.0, OPTION_STRIKES)
    columns = {"forward": np.full(rows, forward), "tenor_days": np.full(rows, days)}
    for i, strike in enumerate(strikes, start=1):
        columns[f"strike_{i}"] = np.full(rows, strike)
        columns[f"iv_{i}"] = np.full(rows, iv_of_k(math.log(strike / forward)))
    for i in range(1, OPTION_STRIKES + 1):
        columns[f"call_oi_{i}"] = np.zeros(rows)
        columns[f"put_oi_{i}"] = np.zeros(rows)
    return series_frame(**columns)


def reference_delta_strike(iv_of_k, delta: float, years: float, forward: float = 100.0) -> float:
    """Strike with Black-76 forward call delta ``delta`` by brentq (``1 - |put delta|`` for puts)."""

    def excess(strike: float) -> float:
        sigma = iv_of_k(math.log(strike / forward))
        d1 = (math.log(forward / strike) + 0.5 * sigma**2 * years) / (sigma * math.sqrt(years))
        return stats.norm.cdf(d1) - delta

    return brentq(excess, 50.0, 200.0, xtol=1e-12)


def test_25_delta_risk_reversal_of_a_linear_smile_matches_the_black76_reference() -> None:
    def smile(k: float) -> float:
        return 0.6 - 0.1 * k

    result = compute("volatility_skew", chain(smile)).iloc[0]
    years = 30.0 / 365.0
    call_strike = reference_delta_strike(smile, 0.25, years)
    put_strike = reference_delta_strike(smile, 0.75, years)
    assert (call_strike, put_strike) == pytest.approx((113.62, 90.24), abs=0.01)
    expected = smile(math.log(call_strike / 100)) - smile(math.log(put_strike / 100))
    assert result["risk_reversal"] == pytest.approx(expected, abs=1e-9)
    assert result["risk_reversal"] == pytest.approx(-0.0230, abs=1e-4)
    assert result["atm_iv"] == pytest.approx(0.6)
    # The wings sit asymmetrically in log-moneyness, so even a straight smile has a small butterfly.
    wings = (math.log(call_strike / 100) + math.log(put_strike / 100)) / 2
    assert result["butterfly"] == pytest.approx(-0.1 * wings, abs=1e-9)


def test_a_flat_smile_has_no_skew_and_a_smile_has_a_positive_butterfly() -> None:
    flat = compute("volatility_skew", chain(lambda k: 0.5)).iloc[0]
    assert flat.tolist() == pytest.approx([0.0, 0.0, 0.5])
    curved = compute("volatility_skew", chain(lambda k: 0.5 + 0.8 * k * k)).iloc[0]
    assert curved["butterfly"] > 0.0


def test_strike_order_does_not_matter_to_the_skew() -> None:
    frame = chain(lambda k: 0.6 - 0.1 * k)
    reversed_frame = frame.copy()
    for prefix in ("strike", "iv"):
        names = [f"{prefix}_{i}" for i in range(1, OPTION_STRIKES + 1)]
        reversed_frame[names] = frame[names[::-1]].to_numpy()
    pd.testing.assert_frame_equal(
        compute("volatility_skew", reversed_frame), compute("volatility_skew", frame)
    )


def atm_chain(*, call_oi: float = 0.0, put_oi: float = 0.0) -> pd.DataFrame:
    frame = chain(lambda k: 0.6)
    atm = int(np.argmin(np.abs(np.linspace(70.0, 140.0, OPTION_STRIKES) - 100.0))) + 1
    frame[f"strike_{atm}"] = 100.0
    frame[f"call_oi_{atm}"] = call_oi
    frame[f"put_oi_{atm}"] = put_oi
    return frame


def test_gamma_exposure_of_1000_atm_calls_is_2310_67_per_percent_and_puts_flip_the_sign() -> None:
    calls = compute("gamma_exposure", atm_chain(call_oi=1000.0)).iloc[0]
    puts = compute("gamma_exposure", atm_chain(put_oi=1000.0)).iloc[0]
    assert calls == pytest.approx(2310.67, abs=0.01)
    assert puts == pytest.approx(-calls)


def test_gamma_in_gamma_exposure_equals_the_finite_difference_of_the_black76_price() -> None:
    years, sigma, strike = 30.0 / 365.0, 0.6, 100.0

    def call(forward: float) -> float:
        d1 = (math.log(forward / strike) + 0.5 * sigma**2 * years) / (sigma * math.sqrt(years))
        return forward * stats.norm.cdf(d1) - strike * stats.norm.cdf(d1 - sigma * math.sqrt(years))

    h = 1e-3
    gamma = (call(100.0 + h) - 2 * call(100.0) + call(100.0 - h)) / h**2
    assert gamma == pytest.approx(0.023107, abs=1e-6)
    gex = compute("gamma_exposure", atm_chain(call_oi=1.0)).iloc[0]
    assert gex / (100.0**2 * 0.01) == pytest.approx(gamma, abs=1e-6)


def test_an_option_chain_with_a_zero_volatility_is_rejected() -> None:
    frame = chain(lambda k: 0.6)
    frame.loc[frame.index[1], "iv_3"] = 0.0
    with pytest.raises(
        MetricInputError, match=r"^volatility_skew: column 'iv_3' has 1 values <= 0 \(first at"
    ):
        compute("volatility_skew", frame)


# --------------------------------------------------------------------------- futures-only proxies


def test_realized_skew_of_skew_normal_returns_matches_the_theoretical_skewness() -> None:
    theory = float(stats.skewnorm.stats(-5.0, moments="s"))
    returns = 0.01 * stats.skewnorm.rvs(-5.0, size=20_000, random_state=np.random.default_rng(3))
    result = compute("realized_skew", series_frame(close=closes(returns)), timeperiod=5000).dropna()
    assert result["realized_skew"].median() == pytest.approx(theory, abs=0.08)
    assert (result["semivariance_asymmetry"] < 0).all()


def test_gamma_exposure_proxy_reads_mean_reversion_as_long_gamma() -> None:
    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 0.01, 20_000)
    for phi in (-0.3, 0.3):
        returns = lfilter([1.0], [1.0, -phi], noise)  # AR(1): r_t = phi r_{t-1} + e_t
        proxy = compute("gamma_exposure_proxy", series_frame(close=closes(returns)), timeperiod=2000)
        assert proxy.dropna().median() == pytest.approx(-phi, abs=0.05)
