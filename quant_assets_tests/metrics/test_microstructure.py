"""Family H (tick-level micro alpha): planted books, lifetimes, impact and latency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics.orderflow import BOOK_LEVELS, book_columns
from quant_assets_tests.metrics.signals import hourly_index

TICK = 0.01


def seconds_index(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.Timestamp("2024-01-01") + pd.to_timedelta(np.asarray(seconds), unit="s")


def top_frame(bid, bid_qty, ask, ask_qty, index=None) -> pd.DataFrame:
    columns = {"bid_price": bid, "bid_qty": bid_qty, "ask_price": ask, "ask_qty": ask_qty}
    data = {k: np.broadcast_to(np.asarray(v, dtype=float), np.shape(bid)).copy() for k, v in columns.items()}
    return pd.DataFrame(data, index=hourly_index(len(data["bid_price"])) if index is None else index)


# --------------------------------------------------------------------------- top of book


def test_bid_ask_imbalance_of_10_against_30_is_minus_one_half_like_the_level_1_book_imbalance() -> None:
    ticker = top_frame([99.0], [10.0], [101.0], [30.0])
    assert compute("bid_ask_imbalance", ticker).iloc[0] == pytest.approx(-0.5)
    depth = {c: 0.0 for c in book_columns()}
    depth.update(
        {f"bid_price_{k}": 99.0 - k for k in range(1, BOOK_LEVELS + 1)}
        | {f"ask_price_{k}": 101.0 + k for k in range(1, BOOK_LEVELS + 1)}
    )
    depth.update({"bid_price_1": 99.0, "bid_qty_1": 10.0, "ask_price_1": 101.0, "ask_qty_1": 30.0})
    book = pd.DataFrame(depth, index=ticker.index)
    assert compute("orderbook_imbalance", book, levels=1).iloc[0] == pytest.approx(-0.5)


def test_weighted_mid_leans_toward_the_thin_side() -> None:
    # Pb = 99, Qb = 3, Pa = 101, Qa = 1: I = 0.75, W = 0.75 x 101 + 0.25 x 99.
    assert compute("weighted_mid", top_frame([99.0], [3.0], [101.0], [1.0])).iloc[0] == pytest.approx(100.5)


def imbalance_driven_book(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A one-tick book whose mid moves one tick with probability 0.3 per update,
    up with probability I = Qb/(Qb + Qa) of the current update; I is redrawn
    uniformly every update. The expected long-run mid move from a state with
    imbalance I is then 0.3 (2I - 1) ticks."""
    rng = np.random.default_rng(seed)
    imbalance = rng.uniform(0.0, 1.0, n)
    moves = np.where(rng.random(n) < 0.3, np.where(rng.random(n) < imbalance, 1, -1), 0)
    ticks = 10_000 + np.concatenate(([0], np.cumsum(moves[:-1])))
    book = top_frame(
        ticks * TICK,
        10.0 * imbalance,
        (ticks + 1) * TICK,
        10.0 * (1.0 - imbalance),
        index=seconds_index(np.arange(n)),
    )
    return book, imbalance


MICRO = {"tick_size": TICK, "n_imbalance": 10, "window": 20_000, "refit_every": "1h"}


def test_microprice_adjustment_matches_the_expected_mid_move_of_each_imbalance_bucket() -> None:
    book, imbalance = imbalance_driven_book(30_000, seed=0)
    deviation = compute("microprice_deviation", book, **MICRO)["microprice_deviation"]
    fitted = deviation.notna()
    assert fitted.sum() > 5000 and not fitted.iloc[:20_000].any()
    bucket = np.minimum((imbalance * 10).astype(int), 9)
    expected = 0.3 * (2 * (np.arange(10) + 0.5) / 10 - 1)
    by_bucket = deviation[fitted].groupby(bucket[fitted.to_numpy()]).mean()
    np.testing.assert_allclose(by_bucket.to_numpy(), expected, atol=0.03)


def test_microprice_is_antisymmetric_in_the_imbalance_and_equals_mid_plus_deviation() -> None:
    book, imbalance = imbalance_driven_book(25_000, seed=1)
    micro = compute("microprice", book, **MICRO)
    deviation = compute("microprice_deviation", book, **MICRO)["microprice_deviation"]
    mid = 0.5 * (book["bid_price"] + book["ask_price"])
    pd.testing.assert_series_equal((micro - mid) / TICK, deviation, check_names=False, atol=1e-9)
    # Within one fit, the bucket of I and the bucket of 1 - I get opposite adjustments.
    last_fit = deviation.index >= deviation.index[-1].floor("1h")
    bucket = np.minimum((imbalance[last_fit] * 10).astype(int), 9)
    g = deviation[last_fit].groupby(bucket).first()
    np.testing.assert_allclose(g.to_numpy(), -g.to_numpy()[::-1], atol=1e-12)


def test_microprice_predicts_the_next_mid_move_better_than_the_mid() -> None:
    book, _ = imbalance_driven_book(30_000, seed=2)
    micro = compute("microprice", book, **MICRO)
    mid = 0.5 * (book["bid_price"] + book["ask_price"])
    future = mid.shift(-200)  # the mid well after the state: a martingale target
    fitted = micro.notna() & future.notna()
    error_micro = ((future - micro)[fitted] ** 2).mean()
    error_mid = ((future - mid)[fitted] ** 2).mean()
    assert error_micro < error_mid


# --------------------------------------------------------------------------- quote dynamics


def poisson_quote(rate: float, seconds: float, seed: int) -> np.ndarray:
    """Times of best-bid changes: a Poisson process (Exp(1/rate) lifetimes)."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1.0 / rate, int(rate * seconds * 1.2)))


def test_quote_stability_on_a_100ms_grid_with_2s_lifetimes_is_about_0_95() -> None:
    changes = poisson_quote(0.5, 2000.0, seed=3)
    grid = np.arange(0.0, 2000.0, 0.1)
    bid = 100.0 + TICK * np.searchsorted(changes, grid, side="right")
    book = top_frame(bid, 5.0, bid + TICK, 5.0, index=seconds_index(grid))
    result = compute("quote_stability", book, timeperiod=10_000)
    expected = np.exp(-0.5 * 0.1)  # P(no change within one 100 ms step)
    assert result["quote_stability"].iloc[-1] == pytest.approx(expected, abs=0.006)
    pd.testing.assert_series_equal(result["price_stability"], result["quote_stability"], check_names=False)


def test_quote_stability_counts_size_changes_but_price_stability_does_not() -> None:
    book = top_frame(np.full(11, 100.0), np.r_[5.0, np.tile([6.0, 5.0], 5)], np.full(11, 100.01), 5.0)
    result = compute("quote_stability", book, timeperiod=10).iloc[-1]
    assert (result["quote_stability"], result["price_stability"]) == (0.0, 1.0)


def test_order_duration_of_exponential_level_lifetimes_recovers_their_mean() -> None:
    changes = poisson_quote(0.5, 20_000.0, seed=4)
    bid = 100.0 + TICK * np.arange(len(changes))
    book = top_frame(bid, 5.0, np.full(len(changes), 200.0), 5.0, index=seconds_index(changes))
    result = compute("order_duration", book, timeperiod=5000)
    assert result["bid_level_duration"].iloc[-1] == pytest.approx(2.0, abs=0.1)
    # An ask that never moved has no finite lifetime estimate.
    assert result["ask_level_duration"].isna().all()


def test_order_duration_is_observed_time_over_completed_lifetimes() -> None:
    # Spells of the bid: [0, 1) and [1, 6) complete, [6, 10] censored: (1 + 5 + 4) / 2 = 5 s.
    book = top_frame([1.0, 2.0, 2.0, 3.0, 3.0], 1.0, 9.0, 1.0, index=seconds_index([0, 1, 3, 6, 10]))
    assert compute("order_duration", book, timeperiod=4)["bid_level_duration"].iloc[-1] == 5.0


# --------------------------------------------------------------------------- impact and flow


def impact_bars(n: int, lam: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signed = rng.normal(0.0, 10.0, n)
    close = 100.0 + np.cumsum(lam * signed + rng.normal(0.0, 0.01, n))
    return pd.DataFrame(
        {"close": close, "buy_volume": np.maximum(signed, 0.0), "sell_volume": np.maximum(-signed, 0.0)},
        index=hourly_index(n),
    )


def test_kyle_lambda_recovers_a_planted_linear_price_impact() -> None:
    bars = impact_bars(20_000, lam=0.002, seed=5)
    lam = compute("kyle_lambda", bars, timeperiod=60)
    assert lam.dropna().median() == pytest.approx(0.002, rel=0.02)


def test_kyle_lambda_equals_the_statsmodels_ols_slope_on_the_window() -> None:
    import statsmodels.api as sm

    bars = impact_bars(500, lam=0.002, seed=6)
    lam = compute("kyle_lambda", bars, timeperiod=60)
    dp = np.diff(bars["close"].to_numpy())[-60:]
    signed = (bars["buy_volume"] - bars["sell_volume"]).to_numpy()[-60:]
    fit = sm.OLS(dp, sm.add_constant(signed)).fit()
    assert lam.iloc[-1] == pytest.approx(fit.params[1], rel=1e-9)


def latency_trades(n: int, seed: int) -> pd.DataFrame:
    """Trades every 10 ms with random sides and a constant 250 ms feed latency."""
    rng = np.random.default_rng(seed)
    size = rng.exponential(1.0, n)
    buyer = rng.random(n) < 0.5
    return pd.DataFrame(
        {
            "buy_volume": np.where(buyer, size, 0.0),
            "sell_volume": np.where(buyer, 0.0, size),
            "latency_ms": np.full(n, 250.0),
        },
        index=seconds_index(0.01 * np.arange(n)),
    )


def test_latency_adjusted_flow_ignores_trades_not_yet_received() -> None:
    trades = latency_trades(3000, seed=7)
    adjusted = compute("latency_adjusted_flow", trades, timeperiod=100, latency_period=200)
    rewritten = trades.copy()
    recent = rewritten.index > rewritten.index[-1] - pd.Timedelta("250ms")
    rewritten.loc[recent, "buy_volume"] += rewritten.loc[recent, "sell_volume"]
    rewritten.loc[recent, "sell_volume"] = 0.0
    assert compute("latency_adjusted_flow", rewritten, timeperiod=100, latency_period=200).iloc[
        -1
    ] == pytest.approx(adjusted.iloc[-1], abs=1e-12)
    naive = compute("volume_imbalance", rewritten, timeperiod=100)
    assert naive.iloc[-1] != pytest.approx(adjusted.iloc[-1])


def test_latency_adjusted_flow_is_the_naive_ratio_of_the_last_observable_trade() -> None:
    trades = latency_trades(2000, seed=8)
    adjusted = compute("latency_adjusted_flow", trades, timeperiod=100, latency_period=200)
    naive = compute("volume_imbalance", trades, timeperiod=100)
    # 250 ms of latency at one trade per 10 ms: the last 25 trades are not yet seen.
    pd.testing.assert_series_equal(
        adjusted.iloc[200:], naive.shift(25).iloc[200:], check_names=False, atol=1e-12
    )


def test_negative_latency_is_rejected_as_a_clock_offset() -> None:
    trades = latency_trades(300, seed=9)
    trades.iloc[5, trades.columns.get_loc("latency_ms")] = -3.0
    with pytest.raises(MetricInputError, match=r"^latency_adjusted_flow: column 'latency_ms' has 1 negative"):
        compute("latency_adjusted_flow", trades, timeperiod=10, latency_period=20)


def test_hf_zscore_scores_a_10_sigma_jump_near_10_and_ordinary_returns_near_unit_variance() -> None:
    rng = np.random.default_rng(10)
    returns = rng.normal(0.0, 0.001, 5000)
    returns[3000] = 0.01
    close = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))
    z = compute("hf_zscore", pd.DataFrame({"close": close}, index=hourly_index(len(close))))
    assert 7.0 < z.iloc[3001] < 14.0
    ordinary = z.drop(z.index[3001 : 3001 + 60]).dropna()
    assert ordinary.std() == pytest.approx(1.0, abs=0.06)


def test_trade_direction_ratio_of_60_40_buyer_initiated_trades_is_0_2() -> None:
    frame = pd.DataFrame({"buy_trades": [60.0], "sell_trades": [40.0]}, index=hourly_index(1))
    assert compute("trade_direction_ratio", frame).iloc[0] == pytest.approx(0.2)
    rng = np.random.default_rng(11)
    buyer = (rng.random(20_000) < 0.6).astype(float)
    trades = pd.DataFrame({"buy_trades": buyer, "sell_trades": 1.0 - buyer}, index=hourly_index(20_000))
    assert compute("trade_direction_ratio", trades, timeperiod=20_000).iloc[-1] == pytest.approx(
        0.2, abs=0.015
    )


def test_tick_volume_of_poisson_50_arrivals_averages_50_and_a_burst_reads_three_times_normal() -> None:
    rng = np.random.default_rng(12)
    counts = rng.poisson(50, 5000).astype(float)
    counts[-1] = 150.0
    result = compute(
        "tick_volume", pd.DataFrame({"trade_count": counts}, index=hourly_index(5000)), baseline=500
    )
    assert result["tick_volume"].mean() == pytest.approx(50.0, abs=0.5)
    assert result["relative_tick_volume"].iloc[:-1].median() == pytest.approx(1.0, abs=0.02)
    assert result["relative_tick_volume"].iloc[-1] == pytest.approx(3.0, abs=0.1)
