"""Family F (on-chain & macro): Glassnode/CryptoQuant definitions on toy ledgers and toy series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, compute, get


def daily(columns: dict[str, list[float] | np.ndarray], start: str = "2024-01-01") -> pd.DataFrame:
    """A daily frame (one row per day, naive UTC) from equal-length columns."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {k: np.asarray(v, dtype=float) for k, v in columns.items()},
        index=pd.date_range(start, periods=n, freq="D"),
    )


def toy_ledger() -> dict[str, float]:
    """10 coins created at $100; 5 of them spent (FIFO) at $150 the next day.

    Realized cap values each coin at the price it last moved: before the spend
    10 × 100 = 1000, after it 5 × 100 + 5 × 150 = 1250. Market cap at $150 is
    1500. SOPR of the day = 5 × 150 / (5 × 100) = 1.5; NRPL = 5 × (150 − 100).
    """
    created = np.full(10, 100.0)
    spent = 5
    price = 150.0
    realized_before = created.sum()
    last_moved = np.r_[np.full(spent, price), created[spent:]]
    return {
        "market_cap": 10 * price,
        "realized_before": realized_before,
        "realized_after": last_moved.sum(),
        "sopr": (spent * price) / created[:spent].sum(),
        "nrpl": float(np.sum(price - created[:spent])),
    }


# --------------------------------------------------------------------------- valuation


def test_nupl_on_the_toy_ledger_is_one_sixth_and_equals_one_minus_inverse_mvrv() -> None:
    ledger = toy_ledger()
    assert ledger["realized_after"] == 1250.0
    data = daily({"market_cap_usd": [ledger["market_cap"]], "realized_cap_usd": [ledger["realized_after"]]})
    value = compute("nupl", data).iloc[0]
    assert value == pytest.approx(1.0 / 6.0)
    assert value == pytest.approx(1.0 - 1.0 / (1500.0 / 1250.0))


def test_realized_price_is_realized_cap_per_coin() -> None:
    data = daily({"realized_cap_usd": [1250.0, 2000.0], "supply": [10.0, 16.0]})
    np.testing.assert_allclose(compute("realized_price", data), [125.0, 125.0])


def test_mvrv_zscore_on_the_reference_series_uses_the_population_std_up_to_t() -> None:
    market_cap = np.array([100.0, 120.0, 150.0, 130.0, 200.0])
    realized = np.array([90.0, 95.0, 100.0, 105.0, 110.0])
    z = compute(
        "mvrv_zscore", daily({"market_cap_usd": market_cap, "realized_cap_usd": realized}), min_periods=2
    )
    assert z.iloc[-1] == pytest.approx(90.0 / 34.0588, rel=1e-5)  # 2.642
    for t in range(1, 5):  # the hand formula with an expanding, causal std
        expected = (market_cap[t] - realized[t]) / np.std(market_cap[: t + 1])
        assert z.iloc[t] == pytest.approx(expected)
    assert np.isnan(z.iloc[0])


def test_mvrv_zscore_is_causal_unlike_the_full_sample_std_version() -> None:
    rng = np.random.default_rng(0)
    market_cap = 1e11 * np.exp(np.cumsum(rng.normal(0.0, 0.03, 800)))
    realized = 0.8 * market_cap
    data = daily({"market_cap_usd": market_cap, "realized_cap_usd": realized})
    z = compute("mvrv_zscore", data)
    # A bubble at the end must not rewrite the past, as a full-sample std would.
    bubble = data.copy()
    bubble.iloc[-50:, 0] *= 5.0
    pd.testing.assert_series_equal(compute("mvrv_zscore", bubble).iloc[:-50], z.iloc[:-50])
    full_sample = (market_cap - realized) / np.std(market_cap)
    assert not np.allclose(z.iloc[400:], full_sample[400:])
    assert z.iloc[:364].isna().all() and z.iloc[364:].notna().all()


def test_mvrv_zscore_with_a_trailing_window_uses_only_that_window() -> None:
    rng = np.random.default_rng(1)
    market_cap = 1e11 * np.exp(np.cumsum(rng.normal(0.0, 0.03, 200)))
    realized = 0.7 * market_cap
    z = compute("mvrv_zscore", daily({"market_cap_usd": market_cap, "realized_cap_usd": realized}), window=30)
    for t in (29, 100, 199):
        window = market_cap[t - 29 : t + 1]
        assert z.iloc[t] == pytest.approx((market_cap[t] - realized[t]) / np.std(window))
    assert z.iloc[:29].isna().all()


# --------------------------------------------------------------------------- realized profit and loss


def test_sopr_of_the_toy_ledger_day_is_1_5_and_is_averaged_over_the_window() -> None:
    assert toy_ledger()["sopr"] == 1.5
    values = [1.5, 0.9, 1.2, 1.05, 0.95]
    data = daily({"sopr": values})
    np.testing.assert_allclose(compute("sopr", data, timeperiod=1), values)
    smoothed = compute("sopr", data, timeperiod=3)
    assert smoothed.iloc[:2].isna().all()
    np.testing.assert_allclose(smoothed.iloc[2:], [1.2, 1.05, 1.0666666666666667])


def test_nrpl_of_the_toy_ledger_equals_the_change_in_realized_cap() -> None:
    ledger = toy_ledger()
    assert ledger["nrpl"] == ledger["realized_after"] - ledger["realized_before"] == 250.0
    data = daily({"nrpl_usd": [250.0, -100.0, 50.0], "market_cap_usd": [1500.0, 1400.0, 1000.0]})
    result = compute("nrpl", data, timeperiod=2)
    np.testing.assert_allclose(result["nrpl"].iloc[1:], [150.0, -50.0])
    np.testing.assert_allclose(result["nrpl_ratio"].iloc[1:], [150.0 / 1400.0, -50.0 / 1000.0])
    assert result.iloc[0].isna().all()


# --------------------------------------------------------------------------- exchange flows


def test_whale_ratio_smooths_the_daily_top_ten_share_over_72_hours() -> None:
    # CryptoQuant's example day: 14 deposits, the ten largest sum to 185 of 195.
    deposits = np.array([40, 30, 25, 20, 18, 15, 12, 10, 8, 7, 4, 3, 2, 1], dtype=float)
    day_ratio = np.sort(deposits)[-10:].sum() / deposits.sum()
    assert day_ratio == pytest.approx(185.0 / 195.0)
    data = daily({"exchange_whale_ratio": [0.5, 0.6, day_ratio, 0.4]})
    ratio = compute("whale_ratio", data)
    np.testing.assert_allclose(ratio.iloc[2:], [(1.1 + day_ratio) / 3, (0.6 + day_ratio + 0.4) / 3])


def test_exchange_netflow_of_a_labelled_transfer_list_is_exact() -> None:
    labels = {"binance_hot": "binance", "binance_cold": "binance", "kraken_1": "kraken"}
    transfers = pd.DataFrame(
        [
            ("2024-01-01", "alice", "binance_hot", 100.0),  # inflow
            ("2024-01-01", "binance_hot", "binance_cold", 500.0),  # intra-exchange: ignored
            ("2024-01-01", "kraken_1", "bob", 30.0),  # outflow
            ("2024-01-02", "carol", "kraken_1", 20.0),  # inflow
            ("2024-01-02", "binance_cold", "dave", 70.0),  # outflow
            ("2024-01-02", "erin", "frank", 999.0),  # no exchange: ignored
            ("2024-01-03", "binance_hot", "kraken_1", 40.0),  # exchange to exchange: both legs
        ],
        columns=["day", "source", "target", "usd"],
    )
    source = transfers["source"].map(labels)
    target = transfers["target"].map(labels)
    moved = source.fillna("") != target.fillna("")
    days = pd.Index(["2024-01-01", "2024-01-02", "2024-01-03"])
    inflow = transfers[target.notna() & moved].groupby("day")["usd"].sum().reindex(days, fill_value=0.0)
    outflow = transfers[source.notna() & moved].groupby("day")["usd"].sum().reindex(days, fill_value=0.0)
    assert list(inflow) == [100.0, 20.0, 40.0] and list(outflow) == [30.0, 70.0, 40.0]
    data = daily({"exchange_inflow_usd": inflow.to_numpy(), "exchange_outflow_usd": outflow.to_numpy()})
    daily_flow = compute("exchange_netflow", data, timeperiod=1)
    np.testing.assert_allclose(daily_flow["exchange_netflow"], [70.0, -50.0, 0.0])
    np.testing.assert_allclose(daily_flow["exchange_flow_ratio"], [70.0 / 130.0, -50.0 / 90.0, 0.0])
    two_day = compute("exchange_netflow", data, timeperiod=2)
    np.testing.assert_allclose(two_day["exchange_netflow"].iloc[1:], [20.0, -50.0])


def test_stablecoin_flow_is_the_netflow_of_the_stablecoin_series_with_its_own_names() -> None:
    data = daily({"exchange_inflow_usd": [3e9, 1e9, 2e9], "exchange_outflow_usd": [1e9, 2e9, 2e9]})
    result = compute("stablecoin_flow", data, timeperiod=1)
    assert list(result.columns) == ["stablecoin_netflow", "stablecoin_flow_ratio"]
    np.testing.assert_allclose(result["stablecoin_netflow"], [2e9, -1e9, 0.0])
    np.testing.assert_allclose(result["stablecoin_flow_ratio"], [0.5, -1.0 / 3.0, 0.0])
    coin = compute("exchange_netflow", data, timeperiod=1)
    np.testing.assert_array_equal(coin["exchange_netflow"], result["stablecoin_netflow"])


def test_exchange_net_position_change_of_a_constant_outflow_is_minus_30000() -> None:
    balance = 2_600_000.0 - 1000.0 * np.arange(60)
    change = compute("exchange_net_position_change", daily({"exchange_balance": balance}))
    assert change.iloc[:30].isna().all()
    np.testing.assert_allclose(change.iloc[30:], -30_000.0)


def test_negative_flows_are_rejected_with_the_column_and_date() -> None:
    data = daily({"exchange_inflow_usd": [1.0, -2.0], "exchange_outflow_usd": [1.0, 1.0]})
    with pytest.raises(
        MetricInputError,
        match=r"^exchange_netflow: column 'exchange_inflow_usd' must be >= 0 "
        r"\(got -2\.0 at 2024-01-02 00:00:00, the first of 1 such rows\)",
    ):
        compute("exchange_netflow", data, timeperiod=1)


# --------------------------------------------------------------------------- ETF flows


def test_etf_flows_from_holdings_at_50k_are_plus_half_and_minus_quarter_million() -> None:
    holdings = np.array([100.0, 110.0, 105.0])
    flows = np.diff(holdings) * 50_000.0
    data = daily({"net_flow_usd": flows}, start="2024-03-05")
    result = compute("etf_net_flow", data, timeperiod=2)
    np.testing.assert_allclose(result["etf_net_flow"], [500_000.0, -250_000.0])
    assert np.isnan(result["etf_net_flow_sum"].iloc[0])
    assert result["etf_net_flow_sum"].iloc[1] == 250_000.0


def test_etf_flow_is_carried_over_weekends_with_its_age_never_refilled_as_new() -> None:
    days = pd.date_range("2024-03-04", periods=10, freq="D")  # Monday .. next Wednesday
    flows = [10.0, 20.0, 30.0, 40.0, 50.0, np.nan, np.nan, -60.0, np.nan, 70.0]
    data = pd.DataFrame({"net_flow_usd": flows}, index=days)
    result = compute("etf_net_flow", data, timeperiod=3)
    np.testing.assert_allclose(result["etf_net_flow"], [10, 20, 30, 40, 50, 50, 50, -60, -60, 70])
    np.testing.assert_allclose(result["etf_flow_age_days"], [0, 0, 0, 0, 0, 1, 2, 0, 1, 0])
    # The sum runs over the last three *published* days: Sat/Sun add nothing.
    np.testing.assert_allclose(result["etf_net_flow_sum"].iloc[2:], [60, 90, 120, 120, 120, 30, 30, 60])


def test_etf_net_flow_is_nan_before_the_first_publication() -> None:
    data = daily({"net_flow_usd": [np.nan, np.nan, 5.0, 6.0]})
    result = compute("etf_net_flow", data, timeperiod=1)
    assert result.iloc[:2].isna().all().all()
    np.testing.assert_allclose(result["etf_net_flow"].iloc[2:], [5.0, 6.0])


# --------------------------------------------------------------------------- validation


def test_missing_on_chain_column_is_named_with_the_columns_present() -> None:
    data = daily({"market_cap_usd": [1.0, 2.0]})
    with pytest.raises(
        MetricInputError, match=r"^mvrv_zscore: column 'realized_cap_usd' is missing from data"
    ):
        compute("mvrv_zscore", data, min_periods=2)


def test_mvrv_zscore_rejects_a_one_row_window() -> None:
    data = daily({"market_cap_usd": [1.0, 2.0, 3.0], "realized_cap_usd": [1.0, 1.0, 1.0]})
    with pytest.raises(
        MetricInputError, match=r"parameter 'window' must be 0 \(expanding\) or >= 2 \(got 1\)"
    ):
        compute("mvrv_zscore", data, window=1, min_periods=2)


def test_nupl_rejects_a_non_positive_market_cap() -> None:
    data = daily({"market_cap_usd": [10.0, 0.0], "realized_cap_usd": [5.0, 5.0]})
    with pytest.raises(MetricInputError, match=r"^nupl: column 'market_cap_usd' must be > 0"):
        compute("nupl", data)


def test_on_chain_metrics_belong_to_the_onchain_module() -> None:
    names = ["nupl", "mvrv_zscore", "sopr", "nrpl", "whale_ratio", "exchange_netflow",
             "stablecoin_flow", "etf_net_flow", "exchange_net_position_change", "realized_price"]  # fmt: skip
    assert {get(n).module for n in names} == {"onchain"}
