"""The request-weight budget: read from exchangeInfo, corrected by the used-weight header, never overrun."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from quant_assets.sources.binance.budget import BudgetConfigError, SlidingLedger, parse_weight_limits
from quant_assets.sources.binance.source import BinanceMarket
from quant_assets_tests.sources.binance.conftest import DAY, day_range, fast_config, rows_of
from quant_assets_tests.sources.binance.fake_binance import day_rows

DAYS = day_range(DAY - timedelta(days=5), 6)
PARTITIONS = [(symbol, day) for symbol in ("BTCUSDT", "ETHUSDT") for day in DAYS]


@pytest.fixture(scope="module", autouse=True)
def _warm_market() -> None:
    """Compute the simulated days once, so the fake hosts answer at once."""
    for symbol, day in PARTITIONS:
        day_rows("spot_klines", "1m", symbol, day)
        day_rows("funding_rate", "1h", symbol, day)


def test_a_sliding_ledger_holds_each_spend_for_its_lifetime():
    ledger = SlidingLedger(capacity=10, lifetime=1.0)
    ledger.spend(6, now=0.0)
    assert ledger.wait_for(4, now=0.5) == 0
    assert ledger.wait_for(5, now=0.5) == pytest.approx(0.5)  # until the 6 leave at t=1.0
    ledger.spend(4, now=0.5)
    assert ledger.used(now=0.99) == 10 and ledger.used(now=1.0) == 4
    with pytest.raises(BudgetConfigError, match="never fit"):
        ledger.wait_for(11, now=2.0)


def test_weight_limits_come_from_exchange_info_and_the_header_name_follows_the_interval():
    limits = parse_weight_limits([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ], share=0.9, guard=1.0)
    (limit,) = limits
    assert (limit.header, limit.seconds, limit.ledger.capacity, limit.ledger.lifetime) == (
        "x-mbx-used-weight-1m", 60, 5400, 61.0)
    with pytest.raises(BudgetConfigError, match="no REQUEST_WEIGHT"):
        parse_weight_limits([{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                              "limit": 300}], share=0.9, guard=1.0)


def test_weight_others_spend_is_learned_from_the_header_and_held_in_reserve():
    (limit,) = parse_weight_limits([{"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND",
                                     "intervalNum": 1, "limit": 100}], share=1.0, guard=0.0)
    limit.ledger.spend(10, now=5.1)
    assert limit.observe(used=40, now=5.2) == 30  # the server counts 30 we did not send
    assert limit.reserve(now=5.5) == 30 and limit.reserve(now=6.5) == 30  # this window and the next
    assert limit.reserve(now=7.0) == 0
    assert limit.wait_for(60, now=5.5) == 0 and limit.wait_for(61, now=5.5) > 0


def test_the_fake_exchange_answers_429_then_418_to_a_client_that_ignores_the_limit(hosts):
    # An hour-long window: the fifteen requests cannot straddle a window boundary.
    spot, _ = hosts(weight_limit=20, interval="HOUR", ban_after=3, ban_seconds=60)
    url = f"{spot.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=0&limit=1"
    with httpx.Client() as naive:
        answers = [naive.get(url) for _ in range(15)]
    codes = [a.status_code for a in answers]
    assert codes == [200] * 10 + [429, 429, 418, 418, 418]
    assert int(answers[10].headers["Retry-After"]) >= 1 and answers[10].json()["code"] == -1003
    assert answers[12].headers["Retry-After"] == "60" and "IP banned until" in answers[12].json()["msg"]
    assert [int(a.headers["X-MBX-USED-WEIGHT-1H"]) for a in answers[:10]] == list(range(2, 21, 2))
    assert spot.violations == 3


def test_the_client_waits_for_the_window_instead_of_exceeding_the_limit(hosts):
    # 40 weight per second; the run needs 20 (exchangeInfo) + 12 partitions × 2 pages × 2 = 68.
    spot, futures = hosts(weight_limit=40, interval="SECOND")
    source = BinanceMarket("1m", fast_config(spot, futures))
    started = time.monotonic()

    batches = list(source.fetch_all("spot_klines", PARTITIONS))

    assert time.monotonic() - started >= 1.0  # the run had to span more than one window
    assert source.last_stats.budget_waits > 0
    assert spot.violations == 0 and spot.peak_used <= 40
    assert [r.status for r in spot.received] == [200] * len(spot.received) == [200] * 25
    for (symbol, day), (_key, _day, payloads) in zip(PARTITIONS, batches, strict=True):
        assert rows_of(payloads) == list(day_rows("spot_klines", "1m", symbol, day))


def test_weight_used_by_another_process_on_the_ip_is_left_to_it(hosts):
    # Another process spends 25 of the 60 per second; only the header tells the client so.
    spot, futures = hosts(weight_limit=60, interval="SECOND", external_weight=25)
    source = BinanceMarket("1m", fast_config(spot, futures))

    batches = list(source.fetch_all("spot_klines", PARTITIONS))

    assert spot.violations == 0 and 25 < spot.peak_used <= 60
    assert source.last_stats.external_weight_seen >= 25
    assert len(batches) == len(PARTITIONS)


def test_the_funding_endpoint_keeps_to_its_own_request_budget(hosts):
    spot, futures = hosts(futures={"funding_limit": 8, "funding_window": 1.0})
    source = BinanceMarket("1h", fast_config(spot, futures, funding_requests=8, funding_window_seconds=1.0))
    started = time.monotonic()

    batches = list(source.fetch_all("funding_rate", PARTITIONS))

    assert futures.funding_violations == 0 and futures.violations == 0
    assert time.monotonic() - started >= 1.0  # 12 requests at 7 per 1.5 s
    for (symbol, day), (_key, _day, payloads) in zip(PARTITIONS, batches, strict=True):
        assert rows_of(payloads) == list(day_rows("funding_rate", "1h", symbol, day))
