"""Family D (order flow & microstructure): planted books and flows with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics.orderflow import BOOK_LEVELS, book_columns, ofi_events, wide_book
from quant_assets_tests.metrics.signals import hourly_index


def depth_frame(bid_price, bid_qty, ask_price, ask_qty, index=None) -> pd.DataFrame:
    """Wide depth from ``(rows, levels)`` arrays; missing levels are empty (qty 0)
    at prices continuing the last step, so the book stays ordered."""
    arrays = [np.atleast_2d(np.asarray(a, dtype=float)) for a in (bid_price, bid_qty, ask_price, ask_qty)]
    rows, levels = arrays[0].shape
    pad = BOOK_LEVELS - levels
    if pad:
        steps = np.arange(1, pad + 1)
        arrays[0] = np.hstack((arrays[0], arrays[0][:, -1:] - 0.01 * steps))
        arrays[2] = np.hstack((arrays[2], arrays[2][:, -1:] + 0.01 * steps))
        arrays[1] = np.hstack((arrays[1], np.zeros((rows, pad))))
        arrays[3] = np.hstack((arrays[3], np.zeros((rows, pad))))
    values = np.hstack([arrays[0], arrays[1], arrays[2], arrays[3]])
    return pd.DataFrame(
        values, columns=list(book_columns()), index=hourly_index(rows) if index is None else index
    )


def top_frame(bid, bid_qty, ask, ask_qty) -> pd.DataFrame:
    columns = {"bid_price": bid, "bid_qty": bid_qty, "ask_price": ask, "ask_qty": ask_qty}
    data = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    return pd.DataFrame(data, index=hourly_index(len(data["bid_price"])))


def flow_frame(buy, sell, index=None) -> pd.DataFrame:
    buy, sell = np.asarray(buy, dtype=float), np.asarray(sell, dtype=float)
    return pd.DataFrame(
        {"buy_volume": buy, "sell_volume": sell}, index=hourly_index(len(buy)) if index is None else index
    )


# --------------------------------------------------------------------------- book shape


def test_orderbook_imbalance_of_10_on_the_bid_against_30_on_the_ask_is_minus_one_half() -> None:
    book = depth_frame([[99.0]], [[10.0]], [[101.0]], [[30.0]])
    assert compute("orderbook_imbalance", book, levels=1).iloc[0] == pytest.approx(-0.5)


def test_orderbook_imbalance_counts_the_best_k_levels_and_can_discount_distance() -> None:
    book = depth_frame([[99.9, 99.8, 99.7]], [[1.0, 1.0, 10.0]], [[100.1, 100.2, 100.3]], [[1.0, 1.0, 1.0]])
    assert compute("orderbook_imbalance", book, levels=2).iloc[0] == pytest.approx(0.0)
    assert compute("orderbook_imbalance", book, levels=3).iloc[0] == pytest.approx((12 - 3) / 15)
    # A 10 bps decay shrinks the 30 bps-deep bid wall by e^-3 relative to the touch.
    decayed = compute("orderbook_imbalance", book, levels=3, decay_bps=10.0).iloc[0]
    w = np.exp(-np.array([10.0, 20.0, 30.0]) / 10.0)
    bid, ask = w @ [1.0, 1.0, 10.0], w @ [1.0, 1.0, 1.0]
    assert decayed == pytest.approx((bid - ask) / (bid + ask), rel=1e-3)


def test_levels_given_out_of_order_are_sorted_into_price_priority() -> None:
    ordered = depth_frame([[99.9, 99.8]], [[1.0, 5.0]], [[100.1, 100.2]], [[2.0, 7.0]])
    shuffled = ordered.copy()
    for field in ("price", "qty"):
        swap = [f"bid_{field}_1", f"bid_{field}_2"]
        shuffled[swap] = ordered[swap[::-1]].to_numpy()
    for name in ("slippage", "depth_elasticity", "liquidity_density"):
        pd.testing.assert_frame_equal(compute(name, shuffled), compute(name, ordered))
    assert compute("orderbook_imbalance", shuffled, levels=1).iloc[0] == pytest.approx((1 - 2) / 3)


def test_spread_is_ask_minus_bid_in_price_and_bps_and_stays_negative_on_a_crossed_book() -> None:
    result = compute("spread", top_frame([99.5, 100.2], [1, 1], [100.5, 100.0], [1, 1]))
    assert result["spread"].tolist() == pytest.approx([1.0, -0.2])
    assert result["spread_bps"].iloc[0] == pytest.approx(1e4 * 1.0 / 100.0)
    assert result["spread_bps"].iloc[1] < 0


def test_roll_spread_recovers_twice_the_half_spread_of_a_bouncing_random_walk() -> None:
    rng = np.random.default_rng(0)
    n, half_spread = 20_000, 0.05
    efficient = 100.0 + np.cumsum(rng.normal(0.0, 0.02, n))
    trades = efficient + half_spread * rng.choice([-1.0, 1.0], n)
    estimate = compute("roll_spread", pd.DataFrame({"close": trades}, index=hourly_index(n)), timeperiod=2000)
    assert estimate.dropna().median() == pytest.approx(2 * half_spread, rel=0.06)


def test_roll_spread_is_zero_when_price_changes_trend_instead_of_bouncing() -> None:
    close = 100.0 + np.cumsum(np.r_[np.full(50, 1.0), np.full(50, 3.0)])
    estimate = compute("roll_spread", pd.DataFrame({"close": close}, index=hourly_index(100)), timeperiod=20)
    assert (estimate.dropna() == 0.0).all()


def test_slippage_walks_the_asks_to_a_vwap_of_100_4_for_5_units() -> None:
    asks = 100.0 + 0.5 * np.arange(BOOK_LEVELS)
    bids = 99.5 - 0.5 * np.arange(BOOK_LEVELS)
    book = depth_frame([bids], [np.full(BOOK_LEVELS, 2.0)], [asks], [np.full(BOOK_LEVELS, 2.0)])
    result = compute("slippage", book, quantity=5.0)
    mid = 99.75
    # 2 @ 100 + 2 @ 100.5 + 1 @ 101 = 502.0 -> VWAP 100.4, 40 bps above the best ask.
    assert result["slippage_buy_bps"].iloc[0] == pytest.approx(1e4 * (100.4 / mid - 1.0))
    assert result["slippage_sell_bps"].iloc[0] == pytest.approx(1e4 * (1.0 - 99.1 / mid))


def test_slippage_of_a_quote_notional_equals_that_of_the_base_size_it_buys() -> None:
    asks = 100.0 + 0.5 * np.arange(BOOK_LEVELS)
    book = depth_frame(
        [99.5 - 0.5 * np.arange(BOOK_LEVELS)], [np.ones(BOOK_LEVELS)], [asks], [np.ones(BOOK_LEVELS)]
    )
    by_base = compute("slippage", book, quantity=3.0)["slippage_buy_bps"].iloc[0]
    by_quote = compute("slippage", book, quantity=100.0 + 100.5 + 101.0, unit="quote")["slippage_buy_bps"]
    assert by_quote.iloc[0] == pytest.approx(by_base)


def test_slippage_is_unknown_not_zero_when_the_visible_book_is_too_thin() -> None:
    book = depth_frame([[99.0]], [[1.0]], [[101.0]], [[1.0]])
    assert compute("slippage", book, quantity=2.0).isna().all(axis=None)


def test_depth_elasticity_recovers_the_exponent_of_a_power_law_book() -> None:
    rng = np.random.default_rng(1)
    rows, mid = 200, 100.0
    distance = np.geomspace(1.0, 200.0, BOOK_LEVELS)  # bps from the mid
    cumulative = 3.0 * distance**1.5 * np.exp(rng.normal(0.0, 0.05, (rows, BOOK_LEVELS)))
    cumulative = np.maximum.accumulate(cumulative, axis=1)
    qty = np.diff(cumulative, axis=1, prepend=0.0)
    bids = np.tile(mid * (1 - distance / 1e4), (rows, 1))
    asks = np.tile(mid * (1 + distance / 1e4), (rows, 1))
    result = compute("depth_elasticity", depth_frame(bids, qty, asks, qty))
    assert result["depth_elasticity_bid"].median() == pytest.approx(1.5, abs=0.03)
    assert result["depth_elasticity_ask"].median() == pytest.approx(1.5, abs=0.03)


def test_liquidity_density_finds_a_50_unit_wall_planted_at_30_bps() -> None:
    rng = np.random.default_rng(2)
    rows, mid = 300, 100.0
    distance = 2.5 * np.arange(1, BOOK_LEVELS + 1)  # 2.5 .. 50 bps
    qty = rng.gamma(5.0, 1.0, (rows, BOOK_LEVELS))
    ask_qty = qty.copy()
    ask_qty[:, distance == 30.0] += 50.0
    bids = np.tile(mid * (1 - distance / 1e4), (rows, 1))
    asks = np.tile(mid * (1 + distance / 1e4), (rows, 1))
    # 4 bps bins: the 30 bps level is alone in the [28, 32) bin, the 8th.
    result = compute("liquidity_density", depth_frame(bids, qty, asks, ask_qty), bin_bps=4.0)
    np.testing.assert_allclose(result["ask_wall_bps"], 30.0)
    assert (result["ask_wall_z"] > 3.0).all()
    assert result["ask_wall_z"].median() > 2 * result["bid_wall_z"].median()
    np.testing.assert_allclose(result["ask_density_8"], ask_qty[:, distance == 30.0][:, 0])
    # The map holds all the visible size within 10 bins x 4 bps = 40 bps.
    total = result[[f"ask_density_{k}" for k in range(1, 11)]].sum(axis=1)
    np.testing.assert_allclose(total, ask_qty[:, distance < 40.0].sum(axis=1))


def test_wide_book_pivots_long_snapshots_and_leaves_missing_levels_empty() -> None:
    ts = pd.Timestamp("2024-01-01 00:00")
    snapshots = pd.DataFrame(
        {
            "ts": [ts] * 3,
            "side": ["bid", "bid", "ask"],
            "level": [1, 2, 1],
            "price": [99.0, 98.5, 101.0],
            "qty": [1.0, 2.0, 3.0],
        }
    )
    wide = wide_book(snapshots, levels=3)
    row = wide.iloc[0]
    assert list(wide.columns) == list(book_columns(3))
    assert (row["bid_price_2"], row["bid_qty_2"], row["bid_qty_3"]) == (98.5, 2.0, 0.0)
    assert (row["ask_price_1"], row["ask_price_3"], row["ask_qty_3"]) == (101.0, 101.0, 0.0)


# --------------------------------------------------------------------------- taker flow


def test_taker_dominance_of_60_percent_buyer_initiated_trades_is_about_0_6() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    size = rng.exponential(1.0, n)
    buyer = rng.random(n) < 0.6
    trades = flow_frame(np.where(buyer, size, 0.0), np.where(buyer, 0.0, size))
    tdr = compute("taker_dominance", trades, timeperiod=n)
    assert tdr.iloc[-1] == pytest.approx(0.6, abs=0.01)
    assert compute("taker_dominance", flow_frame([3.0], [1.0])).iloc[0] == 0.75


def test_cvd_is_the_running_signed_volume_and_resets_at_each_anchor() -> None:
    index = pd.DatetimeIndex(["2024-01-01 22:00", "2024-01-01 23:00", "2024-01-01 23:30", "2024-01-02 00:00"])
    result = compute("cvd", flow_frame([2.0, 0.0, 3.0, 1.0], [0.0, 1.0, 0.0, 0.5], index=index))
    assert result.tolist() == [2.0, 1.0, 4.0, 0.5]


def test_cvd_equals_the_cumulative_signed_volume_of_klines() -> None:
    rng = np.random.default_rng(4)
    volume = rng.lognormal(3, 0.5, 24)
    taker_buy = volume * rng.uniform(0.3, 0.7, 24)
    klines = flow_frame(taker_buy, volume - taker_buy)
    np.testing.assert_allclose(compute("cvd", klines), np.cumsum(2 * taker_buy - volume))


def test_trade_aggression_share_with_exponential_sizes_and_l1_size_2_is_3_over_e_squared() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    size = rng.exponential(1.0, n)
    buyer = rng.random(n) < 0.5
    trades = flow_frame(np.where(buyer, size, 0.0), np.where(buyer, 0.0, size))
    trades["bid_qty"] = 2.0
    trades["ask_qty"] = 2.0
    result = compute("trade_aggression_ratio", trades, timeperiod=n)
    expected = 3.0 * np.exp(-2.0)  # E[X 1{X > 2}] / E[X] for X ~ Exp(1)
    assert result["trade_aggression_ratio"].iloc[-1] == pytest.approx(expected, abs=0.02)
    assert result["buy_aggression_ratio"].iloc[-1] == pytest.approx(expected, abs=0.03)
    assert result["sell_aggression_ratio"].iloc[-1] == pytest.approx(expected, abs=0.03)


def test_ofi_events_of_the_cont_kukanov_stoikov_script_are_5_minus3_7_minus4_minus7() -> None:
    # bid +5; ask +3; a better bid of 7; a better ask of 4; that bid level removed.
    bid = [100.0, 100.0, 100.0, 100.5, 100.5, 100.0]
    bid_qty = [10.0, 15.0, 15.0, 7.0, 7.0, 15.0]
    ask = [101.0, 101.0, 101.0, 101.0, 100.8, 100.8]
    ask_qty = [10.0, 10.0, 13.0, 13.0, 4.0, 4.0]
    book = top_frame(bid, bid_qty, ask, ask_qty)
    assert compute("ofi", book)["ofi"].iloc[1:].tolist() == [5.0, -3.0, 7.0, -4.0, -7.0]
    assert compute("ofi", book, timeperiod=5)["ofi"].iloc[-1] == -2.0
    np.testing.assert_array_equal(
        ofi_events(*(np.asarray(a) for a in (bid, bid_qty, ask, ask_qty)))[1:], [5, -3, 7, -4, -7]
    )


def test_ofi_counts_queue_build_up_as_buying_and_depletion_as_selling_pressure() -> None:
    # Bids grow by 1 per update, asks are untouched: OFI = +1 per update; then
    # the ask queue grows by 2 per update: OFI = -2 per update.
    bid_qty = np.r_[np.arange(10.0, 20.0), np.full(10, 19.0)]
    ask_qty = np.r_[np.full(10, 10.0), 10.0 + 2.0 * np.arange(1, 11)]
    book = top_frame(np.full(20, 100.0), bid_qty, np.full(20, 100.1), ask_qty)
    result = compute("ofi", book, timeperiod=4)
    assert result["ofi"].iloc[4:10].tolist() == [4.0] * 6
    assert result["ofi"].iloc[-1] == -8.0
    # Normalized by the mean L1 depth (Qb + Qa)/2 of the same four updates.
    depth = 0.5 * (bid_qty[-4:] + ask_qty[-4:]).mean()
    assert result["ofi_normalized"].iloc[-1] == pytest.approx(-8.0 / depth)


# --------------------------------------------------------------------------- validation


def test_negative_volume_is_rejected_naming_the_metric_the_column_and_the_row() -> None:
    trades = flow_frame([1.0, -2.0, 3.0], [0.0, 0.0, 1.0])
    with pytest.raises(
        MetricInputError,
        match=r"^cvd: column 'buy_volume' has 1 negative values \(first at 2024-01-01 01:00:00\)",
    ):
        compute("cvd", trades)


def test_a_depth_metric_names_the_first_missing_level_column() -> None:
    book = depth_frame([[99.0]], [[1.0]], [[101.0]], [[1.0]]).drop(columns=["ask_qty_7"])
    with pytest.raises(MetricInputError, match=r"^slippage: column 'ask_qty_7' is missing from data"):
        compute("slippage", book)


def test_a_non_positive_price_is_rejected() -> None:
    with pytest.raises(MetricInputError, match=r"^spread: column 'bid_price' has 1 values <= 0"):
        compute("spread", top_frame([0.0], [1.0], [1.0], [1.0]))
