"""A run over many partitions against hosts that fail at random: nothing lost, nothing over budget."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from quant_assets.sources.binance.source import BinanceMarket
from quant_assets_tests.sources.binance.conftest import DAY, assert_bodies_as_served, fast_config, rows_of
from quant_assets_tests.sources.binance.fake_binance import RandomFaults, day_rows, series_rows

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DAYS = [DAY - timedelta(days=i) for i in range(4)]
FAMILIES = ("spot_klines", "futures_klines", "mark_price_klines", "funding_rate", "open_interest",
            "long_short_ratio", "taker_volume", "agg_trades")
CAPS = {"429": 2, "500": 3, "502": 2, "503": 3, "timeout": 1, "reset": 3, "cut": 3, "truncated": 3,
        "malformed": 2}


def partitions(family: str) -> list[tuple[str, object]]:
    if family == "agg_trades":  # 20 weight a page: three partitions keep the run short
        return [("BTCUSDT", DAYS[0]), ("ETHUSDT", DAYS[1]), ("SOLUSDT", DAYS[2])]
    return [(symbol, day) for symbol in SYMBOLS for day in DAYS]


def truth(family: str, symbol: str, day) -> list:
    if family in ("spot_klines", "futures_klines", "mark_price_klines"):
        return list(day_rows(family, "1m", symbol, day))
    if family in ("funding_rate", "agg_trades"):
        return list(day_rows(family, "1h", symbol, day))
    series = range(3) if family == "long_short_ratio" else [None]
    return [r for s in series for r in series_rows(family, "5m", symbol, day, s)]


def _key(row: object) -> str:
    return json.dumps(row, sort_keys=True)


@pytest.fixture(scope="module", autouse=True)
def _warm_market() -> None:
    for family in FAMILIES:
        for symbol, day in partitions(family):
            truth(family, symbol, day)
    for symbol, day in partitions("agg_trades"):  # the day after holds the first id after the day
        day_rows("agg_trades", "1h", symbol, day + timedelta(days=1))


def test_a_faulty_many_partition_run_loses_nothing_duplicates_nothing_and_never_overruns(hosts):
    spot_faults, futures_faults = RandomFaults(0.15, CAPS, seed=11), RandomFaults(0.12, CAPS, seed=12)
    spot, futures = hosts(
        futures={"weight_limit": 800, "interval": "SECOND", "external_weight": 60,
                 "random_faults": futures_faults, "timeout_sleep": 5.0},
        weight_limit=40, interval="SECOND", external_weight=8, random_faults=spot_faults,
        timeout_sleep=5.0)
    # Three seconds are far above any honest answer of the warmed local hosts, so the only
    # timeouts are the injected ones, even on a loaded machine (one second was not: with the
    # other test worker's module pools busy, an honest answer once took longer).
    config = fast_config(spot, futures, timeout_seconds=3.0, max_attempts=6)
    retries = Counter()
    lost = duplicated = rows = 0
    for family in FAMILIES:
        source = BinanceMarket("1m", config)
        batches = list(source.fetch_all(family, partitions(family)))
        stats = source.last_stats
        retries.update(retries=stats.retries, requests=stats.requests, rate_limited=stats.rate_limited,
                       server_errors=stats.server_errors, timeouts=stats.timeouts,
                       connection_errors=stats.connection_errors, malformed=stats.malformed)
        for (symbol, day), (key, got_day, payloads) in zip(partitions(family), batches, strict=True):
            assert (key, got_day) == (symbol, day)
            assert_bodies_as_served(payloads, spot, futures)
            expected = Counter(map(_key, truth(family, symbol, day)))
            got = Counter(map(_key, rows_of(payloads)))
            lost += sum((expected - got).values())
            duplicated += sum((got - expected).values())
            rows += sum(got.values())

    injected = spot.injected + futures.injected
    print(f"\nfault-injection run: {sum(len(partitions(f)) for f in FAMILIES)} partitions, {rows} rows, "
          f"{retries['requests']} requests sent, injected {dict(sorted(injected.items()))} "
          f"(total {sum(injected.values())}), client saw 429×{retries['rate_limited']} "
          f"5xx×{retries['server_errors']} timeouts×{retries['timeouts']} "
          f"connection errors×{retries['connection_errors']} malformed×{retries['malformed']}, "
          f"retries {retries['retries']}, weight violations spot {spot.violations} futures "
          f"{futures.violations}, funding violations {futures.funding_violations}, peak weight "
          f"spot {spot.peak_used}/40 futures {futures.peak_used}/800, rows lost {lost}, "
          f"duplicated {duplicated}")
    assert lost == 0 and duplicated == 0
    assert spot.violations == futures.violations == futures.funding_violations == 0
    assert spot.peak_used <= 40 and futures.peak_used <= 800
    assert set(injected) == set(CAPS) and sum(injected.values()) >= 20
    # Every injected fault was survived by exactly one retry, and nothing else was retried.
    assert retries["retries"] == sum(injected.values())
