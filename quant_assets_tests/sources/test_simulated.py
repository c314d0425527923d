"""The simulated market: deterministic, range-independent, exchange-shaped, with planted truth."""

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from quant_assets.raw.families import FAMILIES
from quant_assets.raw.parsers import parse_payload
from quant_assets.settings import load_settings
from quant_assets.sources.base import DataUnavailableError
from quant_assets.sources.simulated import core, intraday, onchain
from quant_assets.sources.simulated.core import hourly_path
from quant_assets.sources.simulated.source import SimulatedMarket

SEED = 20240101
SETTINGS = load_settings({})
DAY = date(2026, 10, 5)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return SimulatedMarket(SEED)


def bodies(market: SimulatedMarket, family: str, key: str = "ETHUSDT", day: date = DAY) -> list[str]:
    return [b for p in market.fetch(family, key, day) for b in p.bodies]


def clear_caches() -> None:
    for cached in (core._chunk, core._hourly_path, core._market_log_vol, intraday.day_detail,
                   onchain.onchain_series, onchain.macro_factor):
        cached.cache_clear()


def test_same_seed_same_payloads_after_regeneration(market):
    families = ["spot_klines", "agg_trades", "depth_snapshots", "funding_rate", "liquidations"]
    before = {f: bodies(market, f) for f in families}
    clear_caches()
    after = {f: bodies(SimulatedMarket(SEED), f) for f in families}
    assert before == after
    assert bodies(SimulatedMarket(SEED + 1), "spot_klines") != before["spot_klines"]


def test_a_day_does_not_depend_on_how_far_the_path_was_generated():
    start = core.day_start_hour(DAY)
    short = core._hourly_path(SEED, "SOLUSDT", start + 24)
    long = core._hourly_path(SEED, "SOLUSDT", start + 24 * 400)
    for name in ("log_close", "sigma", "regime", "positioning", "open_interest", "agg_trades"):
        np.testing.assert_array_equal(getattr(short, name), getattr(long, name)[: start + 24])


def test_fetching_other_days_first_changes_nothing():
    clear_caches()
    alone = bodies(SimulatedMarket(SEED), "futures_klines")
    clear_caches()
    other = SimulatedMarket(SEED)
    for offset in (-30, 3, 1, -1):
        other.fetch("futures_klines", "ETHUSDT", DAY + timedelta(days=offset))
    assert bodies(other, "futures_klines") == alone


def test_klines_have_the_exchange_shape(market):
    [page] = bodies(market, "spot_klines")
    rows = json.loads(page)
    assert len(rows) == 24
    first = rows[0]
    assert len(first) == 12
    assert isinstance(first[0], int) and isinstance(first[6], int) and isinstance(first[8], int)
    assert all(isinstance(first[i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10, 11))
    assert first[0] == int(datetime(2026, 10, 5, tzinfo=UTC).timestamp() * 1000)
    assert first[6] == first[0] + 3_600_000 - 1


def test_one_minute_klines_are_paginated_at_the_exchange_limit():
    payloads = SimulatedMarket(SEED, kline_interval="1m").fetch("spot_klines", "BTCUSDT", DAY)
    assert [len(json.loads(p.bodies[0])) for p in payloads] == [1000, 440]
    assert payloads[1].request.param("startTime") == str(json.loads(payloads[0].bodies[0])[-1][0] + 60_000)


def test_futures_klines_are_built_from_the_trades(market):
    klines = pd.DataFrame([r for b in bodies(market, "futures_klines") for r in json.loads(b)])
    trades = pd.DataFrame([t for b in bodies(market, "agg_trades") for t in json.loads(b)])
    trades["hour"] = (trades["T"] - klines[0].iloc[0]) // 3_600_000
    volume = trades.assign(q=trades["q"].astype(float)).groupby("hour")["q"].sum()
    np.testing.assert_allclose(klines[5].astype(float).to_numpy(), volume.to_numpy(), rtol=1e-9)
    first_price = trades.groupby("hour")["p"].first().astype(float).to_numpy()
    np.testing.assert_array_equal(klines[1].astype(float).to_numpy(), first_price)


def test_trade_ids_continue_across_midnight(market):
    last = json.loads(bodies(market, "agg_trades", day=DAY - timedelta(days=1))[-1])[-1]
    first = json.loads(bodies(market, "agg_trades")[0])[0]
    assert first["a"] == last["a"] + 1 and first["f"] == last["l"] + 1


def test_books_are_uncrossed_with_a_growing_depth_profile(market):
    snapshots = [json.loads(b) for b in bodies(market, "depth_snapshots")]
    assert len(snapshots) == 1440
    bids = np.array([[float(q) for _, q in s["b"]] for s in snapshots])
    asks = np.array([[float(p) for p, _ in s["a"]] for s in snapshots])
    best_bids = np.array([float(s["b"][0][0]) for s in snapshots])
    assert (best_bids < asks[:, 0]).all()
    assert np.median(bids[:, 10:].mean(axis=1) / bids[:, :3].mean(axis=1)) > 1.5


def test_the_future_is_not_served(market):
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with pytest.raises(DataUnavailableError, match="not available yet"):
        market.fetch("spot_klines", "BTCUSDT", tomorrow)


def test_today_is_served_as_it_stands_now_and_is_a_prefix_of_the_closed_day():
    day = date(2026, 11, 20)
    open_day = SimulatedMarket(SEED, now=lambda: datetime(2026, 11, 20, 10, 17))
    closed = SimulatedMarket(SEED, now=lambda: datetime(2026, 11, 21, 1, 0))
    now = pd.Timestamp("2026-11-20 10:17")
    for family in FAMILIES:
        if family.name in ("onchain_metrics", "etf_flows"):
            with pytest.raises(DataUnavailableError, match="published after the day closes"):
                open_day.fetch(family.name, "BTC" if family.partitioning == "asset" else "ALL", day)
            continue
        parse = lambda payloads, f=family: pd.concat(  # noqa: E731
            [parse_payload(f.name, f.parser, p, "BTCUSDT") for p in payloads], ignore_index=True)
        partial = parse(open_day.fetch(family.name, "BTCUSDT", day))
        whole = parse(closed.fetch(family.name, "BTCUSDT", day))
        assert (partial["ts"] < now).all() and (len(partial) or family.grid is None), family.name
        if family.grid is not None and family.grid.periods:  # only periods that had ended
            assert (partial["ts"] + family.grid.step(SETTINGS) <= now).all(), family.name
        # Nothing served early changes later: the open day is the closed day's prefix.
        prefix = whole[whole["ts"].isin(partial["ts"])] if family.name != "agg_trades" else \
            whole[whole["agg_trade_id"].isin(partial["agg_trade_id"])]
        columns = [c for c in partial.columns if c not in ("received_at",)]
        pd.testing.assert_frame_equal(partial[columns].reset_index(drop=True),
                                      prefix[columns].reset_index(drop=True), obj=family.name)


def test_unknown_symbols_get_a_reproducible_profile():
    a = SimulatedMarket(SEED).fetch("spot_klines", "DOGEUSDT", DAY)
    b = SimulatedMarket(SEED).fetch("spot_klines", "DOGEUSDT", DAY)
    assert a[0].bodies == b[0].bodies


# ---------------------------------------------------------------------- planted truth
@pytest.fixture(scope="module")
def hours(market) -> dict[str, pd.DataFrame]:
    start, end = datetime(2026, 6, 1), datetime(2026, 10, 1)
    return {s: market.truth(s, start, end) for s in SYMBOLS}


def test_both_regimes_occur_and_trends_drift(hours):
    frame = hours["ETHUSDT"]
    share = (frame["regime"] == "trend").mean()
    assert 0.25 < share < 0.75
    drift = (frame["log_return"] * frame["trend_sign"])[frame["regime"] == "trend"].mean()
    assert drift > 0.1 * frame["sigma"].mean()


def variance_ratio_by_regime(frame: pd.DataFrame, q: int = 12) -> dict[str, float]:
    """Lo-MacKinlay VR(q) of hourly returns inside regime episodes at least 2q long."""
    episode = (frame["regime"] != frame["regime"].shift()).cumsum()
    ratios: dict[str, list[float]] = {"trend": [], "range": []}
    for _, block in frame.groupby(episode):
        r = block["log_return"].to_numpy()
        if len(r) >= 2 * q:
            k = len(r) // q * q
            ratios[block["regime"].iloc[0]].append((r[:k].reshape(-1, q).sum(1) ** 2).mean()
                                                   / (q * (r[:k] ** 2).mean()))
    return {regime: float(np.mean(values)) for regime, values in ratios.items()}


def test_range_regime_mean_reverts_and_trend_persists(hours):
    ratios = variance_ratio_by_regime(hours["ETHUSDT"])
    assert ratios["range"] < 0.85 and ratios["trend"] > 1.2


def test_volatility_clusters(hours):
    absolute = hours["BTCUSDT"]["log_return"].abs()
    assert absolute.autocorr(lag=1) > 0.1 and absolute.autocorr(lag=24) > 0.05


def test_btc_leads_the_others_by_the_planted_lag(hours):
    btc = hours["BTCUSDT"]["log_return"]
    for symbol in SYMBOLS[1:]:
        frame = hours[symbol]
        lag = frame.attrs["lead_lag_hours"]
        correlations = {k: frame["log_return"].corr(btc.shift(k), method="spearman") for k in range(-3, 6)}
        assert max(correlations, key=correlations.get) == lag, (symbol, correlations)
        assert correlations[lag] > 0.25


def test_positioning_drives_premium_and_ratios(hours, market):
    frame = hours["SOLUSDT"]
    assert frame["positioning"].corr(frame["premium"]) > 0.8
    path = hourly_path(SEED, "SOLUSDT", core.hour_index(datetime(2026, 10, 1)))
    sl = slice(core.hour_index(datetime(2026, 6, 1)), core.hour_index(datetime(2026, 10, 1)))
    assert np.corrcoef(path.positioning[sl], path.long_account[sl])[0, 1] > 0.8


def test_liquidations_follow_large_moves(hours):
    frame = pd.concat(hours.values())
    z = (frame["log_return"] / frame["sigma"]).abs()
    assert frame["liquidation_count"].sum() > 0
    assert (z[frame["liquidation_count"] > 0] > 2.0).all()


def test_planted_events_exist(hours):
    frame = pd.concat(hours.values())
    assert frame["jump"].sum() >= 10 and frame["volume_spike"].sum() >= 10
    assert frame["changepoint"].sum() >= 3
    jumps = frame.loc[frame["jump"], ["log_return", "sigma"]]
    assert (jumps["log_return"].abs() / jumps["sigma"]).median() > 3


def test_book_imbalance_predicts_the_next_move(market):
    detail = intraday.day_detail(SEED, "ETHUSDT", DAY)
    book = detail.book
    mid = (book["bid"] + book["ask"]) / 2
    future = np.log(mid.shift(-6) / mid)  # next minute
    assert book["imbalance"].corr(future, method="spearman") > 0.05


def test_onchain_series_are_plausible(market):
    for asset in ("BTC", "ETH"):
        series = onchain.onchain_series(SEED, asset, DAY).iloc[-720:]
        assert series["mvrv"].between(0.3, 6).all()
        assert series["sopr"].between(0.6, 1.5).all() and abs(series["sopr"].median() - 1) < 0.05
        assert (series["nupl"] < 1).all()
        assert series["exchange_whale_ratio"].between(0, 1).all()
        np.testing.assert_allclose(series["nupl"], 1 - series["realized_cap_usd"] / series["market_cap_usd"])
    assert len(market.macro_truth(DAY, 30)) == 30
