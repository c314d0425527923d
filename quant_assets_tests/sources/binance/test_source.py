"""The ``binance`` source: every family paged as the exchange serves it, stored exactly as served."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timedelta

import pytest

from quant_assets.raw.families import FAMILIES_BY_NAME
from quant_assets.raw.parsers import parse_payload
from quant_assets.sources import build_source
from quant_assets.sources.base import DataUnavailableError
from quant_assets.sources.binance import history
from quant_assets.sources.binance.client import BinanceClient
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.binance.source import BinanceMarket
from quant_assets_tests.sources.binance.conftest import (
    DAY,
    TODAY,
    assert_bodies_as_served,
    fast_config,
    rows_of,
)
from quant_assets_tests.sources.binance.fake_binance import day_rows, series_rows

SYMBOL = "ETHUSDT"


def market(spot, futures, interval: str = "1m", **overrides) -> BinanceMarket:
    return BinanceMarket(interval, fast_config(spot, futures, **overrides))


def expected_rows(family: str) -> list:
    """What the simulated market serves for (family, ETHUSDT, DAY) at the 1m interval (5m period)."""
    if family in ("spot_klines", "futures_klines", "mark_price_klines"):
        return list(day_rows(family, "1m", SYMBOL, DAY))
    if family in ("funding_rate", "agg_trades"):
        return list(day_rows(family, "1h", SYMBOL, DAY))
    if family == "long_short_ratio":
        return [r for series in range(3) for r in series_rows(family, "5m", SYMBOL, DAY, series)]
    return list(series_rows(family, "5m", SYMBOL, DAY, None))


@pytest.mark.parametrize(("family", "endpoints", "pages"), [
    ("spot_klines", {"/api/v3/klines"}, 2),  # 1440 one-minute candles, 1000 a page
    ("futures_klines", {"/fapi/v1/klines"}, 1),  # 1500 a page
    ("mark_price_klines", {"/fapi/v1/markPriceKlines"}, 1),
    ("funding_rate", {"/fapi/v1/fundingRate"}, 1),
    ("open_interest", {"/futures/data/openInterestHist"}, 1),
    ("long_short_ratio", {"/futures/data/globalLongShortAccountRatio",
                          "/futures/data/topLongShortAccountRatio",
                          "/futures/data/topLongShortPositionRatio"}, 3),
    ("taker_volume", {"/futures/data/takerlongshortRatio"}, 1),
    ("agg_trades", {"/fapi/v1/aggTrades"}, None),
])
def test_every_history_family_stores_each_page_as_served_and_loses_nothing(hosts, family, endpoints, pages):
    expected = expected_rows(family)
    spot, futures = hosts()

    payloads = market(spot, futures).fetch(family, SYMBOL, DAY)

    assert {p.request.endpoint for p in payloads} == endpoints
    assert pages is None or len(payloads) == pages
    assert all(p.kind == "rest" and p.source == "binance" for p in payloads)
    assert_bodies_as_served(payloads, spot, futures)
    assert rows_of(payloads) == expected
    parsed = [parse_payload(family, FAMILIES_BY_NAME[family].parser, p, SYMBOL) for p in payloads]
    assert sum(len(frame) for frame in parsed) == len(expected)


def test_agg_trades_page_by_hour_then_from_id_without_reaching_into_the_next_hour(hosts):
    expected = expected_rows("agg_trades")
    spot, futures = hosts()

    payloads = market(spot, futures).fetch("agg_trades", SYMBOL, DAY)

    by_time = [p for p in payloads if p.request.param("startTime") is not None]
    by_id = [p for p in payloads if p.request.param("fromId") is not None]
    assert len(by_time) == 24 and by_id  # some hours hold more than one page of trades
    for payload in by_time:
        span = int(payload.request.param("endTime")) - int(payload.request.param("startTime"))
        assert span < 3_600_000
    ids = [row["a"] for row in rows_of(payloads)]
    assert ids == [row["a"] for row in expected] == list(range(ids[0], ids[0] + len(ids)))
    # The only request beyond the day is the one-row probe for the first id of the next day; it
    # is navigation, not data, and is not among the payloads.
    day_end = history.day_start_ms(DAY) + history.DAY_MS
    probes = [r for r in futures.data_requests("/fapi/v1/aggTrades")
              if int(dict(r.params).get("startTime", 0)) >= day_end]
    assert all(dict(p.params)["limit"] == "1" for p in probes)


def test_statistics_pages_continue_after_the_newest_row_when_a_page_is_full(hosts):
    spot, futures = hosts()
    start = history.day_start_ms(DAY)
    end = start + history.DAY_MS - 1

    async def main():
        async with BinanceClient(fast_config(spot, futures)) as client:
            return await history.time_paged(
                client, "openInterestHist",
                lambda cursor: client.open_interest_hist(SYMBOL, "5m", start_time=cursor, end_time=end,
                                                         limit=100),
                100, start, end, lambda row: row["timestamp"], dict, 300_000)

    payloads = asyncio.run(main())

    assert [len(rows_of([p])) for p in payloads] == [100, 100, 88]
    assert rows_of(payloads) == expected_rows("open_interest")
    assert [int(p.request.param("startTime")) for p in payloads] == [start, start + 100 * 300_000,
                                                                      start + 200 * 300_000]


def test_a_day_older_than_the_statistics_history_fails_with_a_message_saying_so(hosts):
    spot, futures = hosts()
    source = market(spot, futures)
    old_day = TODAY - timedelta(days=31)

    for family in ("open_interest", "long_short_ratio", "taker_volume"):
        with pytest.raises(DataUnavailableError, match=r"serve only the last 30 days \(earliest whole day "
                                                       r"now: \d{4}-\d\d-\d\d\)"):
            source.fetch(family, SYMBOL, old_day)
    assert futures.received == []  # refused before sending anything
    assert source.fetch("futures_klines", SYMBOL, old_day)  # klines keep their whole history


def test_the_earliest_statistics_day_is_the_first_whole_day_inside_the_window():
    at = datetime(2026, 11, 21, 6, 30)
    source = BinanceMarket("1h", BinanceConfig(), now=lambda: at)
    assert source.earliest_statistics_day() == datetime(2026, 10, 23).date()
    midnight = BinanceMarket("1h", BinanceConfig(), now=lambda: datetime(2026, 11, 21))
    assert midnight.earliest_statistics_day() == datetime(2026, 10, 22).date()


@pytest.mark.parametrize(("family", "endpoint"), [
    ("premium_index", "/fapi/v1/premiumIndex"),
    ("ticker_24hr", "/api/v3/ticker/24hr"),
    ("avg_price", "/api/v3/avgPrice"),
    ("book_ticker", "/fapi/v1/ticker/bookTicker"),
])
def test_current_state_families_poll_today_and_refuse_past_days(hosts, family, endpoint):
    spot, futures = hosts()
    source = market(spot, futures)

    (payload,) = source.fetch(family, SYMBOL, TODAY)

    assert payload.kind == "snapshot" and payload.request.endpoint == endpoint
    assert_bodies_as_served([payload], spot, futures)
    assert len(parse_payload(family, FAMILIES_BY_NAME[family].parser, payload, SYMBOL)) == 1
    with pytest.raises(DataUnavailableError, match=f"{endpoint} serves only the current state.*scheduled "
                                                   "polls and the stream recorder"):
        source.fetch(family, SYMBOL, DAY)


@pytest.mark.parametrize(("family", "message"), [
    ("depth_snapshots", "historical order books are not served by the REST API.*stream recorder"),
    ("liquidations", "liquidations are only streamed.*stream recorder"),
    ("onchain_metrics", "not a Binance endpoint family; on-chain series come from the Glassnode client"),
    ("etf_flows", "not a Binance endpoint family; ETF flows come from the published flow tables"),
    ("spot_klines", f"spot_klines for {SYMBOL} on {TODAY + timedelta(days=1)} is not available yet"),
    ("order_book_3d", "no endpoint family 'order_book_3d'"),
])
def test_families_the_rest_api_cannot_serve_are_refused_with_the_reason(family, message):
    source = BinanceMarket("1h", BinanceConfig(spot_url="http://127.0.0.1:9", futures_url="http://127.0.0.1:9"))
    day = TODAY + timedelta(days=1) if family == "spot_klines" else DAY
    with pytest.raises(DataUnavailableError, match=message):
        source.fetch(family, SYMBOL, day)


@pytest.mark.parametrize(("fault", "counter", "warning"), [
    ("duplicate", "duplicate_rows", "repeats the row"),
    ("out_of_order", "out_of_order_rows", "out of order, kept as served"),
    ("gap", "gaps", "a gap of 1 rows"),
])
def test_row_defects_are_detected_and_kept_exactly_as_served(hosts, caplog, fault, counter, warning):
    expected_rows("futures_klines")
    spot, futures = hosts()
    futures.inject(fault, "/fapi/v1/klines")
    source = market(spot, futures)

    payloads = source.fetch("futures_klines", SYMBOL, DAY)

    assert_bodies_as_served(payloads, futures)
    assert rows_of(payloads) != expected_rows("futures_klines")  # the defect is in the stored page
    assert getattr(source.last_stats, counter) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"/fapi/v1/klines {SYMBOL} {DAY}" in m and warning in m for m in warnings), warnings


def test_a_consumer_that_stops_early_stops_the_run_and_its_thread(hosts):
    spot, futures = hosts()
    days = [DAY - timedelta(days=i) for i in range(6)]
    batches = market(spot, futures, max_concurrency=1).fetch_all(
        "spot_klines", [(SYMBOL, day) for day in days])

    key, day, payloads = next(batches)
    batches.close()

    assert (key, day) == (SYMBOL, days[0]) and payloads
    assert not [t for t in threading.enumerate() if t.name == "binance-fetch"]
    assert len(spot.data_requests()) < 2 * len(days)


def test_the_run_fetches_only_a_few_partitions_ahead_of_its_consumer(hosts):
    days = [DAY - timedelta(days=i) for i in range(8)]
    for day in days:
        day_rows("spot_klines", "1m", SYMBOL, day)
    spot, futures = hosts()
    source = BinanceMarket("1m", fast_config(spot, futures), partition_concurrency=1)  # 2 ahead
    batches = source.fetch_all("spot_klines", [(SYMBOL, day) for day in days])

    next(batches)
    time.sleep(0.5)  # a slow consumer: the run must not race through all eight days meanwhile

    started = {dict(r.params)["startTime"] for r in spot.data_requests()}
    assert len(started & {str(history.day_start_ms(day)) for day in days}) <= 3  # the one taken + 2
    assert len(list(batches)) == len(days) - 1


def test_build_source_returns_the_binance_market_with_urls_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BINANCE_SPOT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("BINANCE_FUTURES_URL", "http://127.0.0.1:2")
    composite = build_source("binance", seed=1, kline_interval="15m", landing_root=tmp_path)
    source = composite.source_for("spot_klines")
    assert isinstance(source, BinanceMarket) and composite.name == source.name == "binance"
    assert (source.config.spot_url, source.config.futures_url) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert source.kline_interval == "15m" and source.period == "15m"
    assert type(composite.source_for("onchain_metrics")).__name__ == "OnchainMarket"
    assert type(composite.source_for("depth_snapshots")).__name__ == "RecordedStreams"


def test_perpetual_listings_come_from_futures_exchange_info(hosts):
    spot, futures = hosts()
    futures.futures_listing += [
        {"symbol": "DOGEUSDT", "pair": "DOGEUSDT", "contractType": "PERPETUAL", "status": "TRADING",
         "baseAsset": "DOGE", "quoteAsset": "USDT", "onboardDate": 1_717_372_800_000},
        {"symbol": "BTCUSDT_261225", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
         "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "onboardDate": 1_717_372_800_000},
    ]
    listings = market(spot, futures).perpetual_listings()
    assert [item.symbol for item in listings] == ["BNBUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT",
                                                  "XRPUSDT"]
    # The client reads exchangeInfo once for its weight budget, then asks for the listing.
    assert {r.path for r in futures.received} == {"/fapi/v1/exchangeInfo"} and not spot.received
