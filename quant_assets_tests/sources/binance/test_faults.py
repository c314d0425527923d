"""Faults the exchange throws, injected by a local server: each survived or reported clearly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from quant_assets.sources.binance.errors import (
    BinanceAPIError,
    BinanceBanError,
    BinanceUnavailableError,
    CircuitOpenError,
    MalformedResponseError,
    format_utc,
)
from quant_assets.sources.binance.guards import CircuitBreaker
from quant_assets.sources.binance.history import day_start_ms
from quant_assets.sources.binance.source import BinanceMarket
from quant_assets_tests.sources.binance.conftest import (
    DAY,
    NEXT_DAY,
    assert_bodies_as_served,
    fast_config,
    rows_of,
)
from quant_assets_tests.sources.binance.fake_binance import day_rows


def market(spot, futures, interval: str = "1m", **overrides) -> BinanceMarket:
    return BinanceMarket(interval, fast_config(spot, futures, **overrides))


def statuses(server, path: str) -> list:
    return [r.status for r in server.received if r.path == path]


def test_429_pauses_the_host_for_retry_after_then_completes(hosts):
    expected = list(day_rows("spot_klines", "1m", "BTCUSDT", DAY))
    spot, futures = hosts()
    spot.inject("429", "/api/v3/klines", retry_after=1)
    source = market(spot, futures)

    payloads = source.fetch("spot_klines", "BTCUSDT", DAY)

    assert rows_of(payloads) == expected
    assert_bodies_as_served(payloads, spot)
    klines = [r for r in spot.received if r.path == "/api/v3/klines"]
    assert klines[0].status == "fault:429"
    assert klines[1].at - klines[0].at >= 0.95  # nothing was sent to the host before Retry-After ended
    assert source.last_stats.rate_limited == 1 and source.last_stats.retries == 1


def test_418_stops_every_request_to_the_host_and_names_the_end_of_the_ban(hosts):
    spot, futures = hosts()
    futures.inject("418", "/fapi/v1/aggTrades", retry_after=120)
    source = market(spot, futures, max_concurrency=1)  # one request in flight: the count below is exact
    started = datetime.now(UTC)

    with pytest.raises(BinanceBanError) as failure:
        source.fetch("agg_trades", "BTCUSDT", DAY)

    ban = failure.value
    assert started + timedelta(seconds=119) <= ban.banned_until <= datetime.now(UTC) + timedelta(seconds=121)
    assert f"IP banned by the exchange until {format_utc(ban.banned_until)}" in str(ban)
    assert "Retry-After 120 s" in str(ban) and "/fapi/v1/aggTrades?symbol=BTCUSDT" in str(ban)
    assert futures.received[-1].status == "fault:418"  # nothing was sent after the 418

    sent_before = len(futures.received)
    with pytest.raises(BinanceBanError, match=re.escape(format_utc(ban.banned_until))):
        market(spot, futures).fetch("funding_rate", "BTCUSDT", DAY)  # a new run in the same process
    assert len(futures.received) == sent_before
    assert market(spot, futures).fetch("spot_klines", "BTCUSDT", DAY)  # the spot host is not banned


def test_server_errors_are_retried_with_backoff_and_the_retries_stop(hosts):
    spot, futures = hosts()
    futures.inject("503", "/fapi/v1/fundingRate", times=3)
    source = market(spot, futures)

    payloads = source.fetch("funding_rate", "ETHUSDT", DAY)

    assert rows_of(payloads) == list(day_rows("funding_rate", "1h", "ETHUSDT", DAY))
    assert statuses(futures, "/fapi/v1/fundingRate") == ["fault:503"] * 3 + [200]
    assert source.last_stats.retries == 3 and source.last_stats.server_errors == 3

    futures.inject("500", "/fapi/v1/fundingRate", times=-1)
    with pytest.raises(BinanceUnavailableError) as failure:
        market(spot, futures, max_attempts=4).fetch("funding_rate", "ETHUSDT", NEXT_DAY)
    assert statuses(futures, "/fapi/v1/fundingRate")[4:] == ["fault:500"] * 4  # exactly max_attempts
    message = str(failure.value)
    assert "gave up after 4 attempts; last: HTTP 500" in message
    assert "/fapi/v1/fundingRate?symbol=ETHUSDT&startTime=" in message


@pytest.mark.parametrize("fault", ["timeout", "reset", "cut", "truncated", "malformed"])
def test_transient_faults_are_retried_and_only_complete_bodies_are_kept(hosts, fault):
    expected = list(day_rows("futures_klines", "1m", "SOLUSDT", DAY))  # warm: the server answers at once
    spot, futures = hosts(futures={"timeout_sleep": 3.0})
    futures.inject(fault, "/fapi/v1/klines", times=2)
    source = market(spot, futures, timeout_seconds=2.0)  # far above an honest answer, even under load

    payloads = source.fetch("futures_klines", "SOLUSDT", DAY)

    assert rows_of(payloads) == expected
    assert_bodies_as_served(payloads, futures)
    assert statuses(futures, "/fapi/v1/klines") == [f"fault:{fault}"] * 2 + [200]
    stats = source.last_stats
    counted = {"timeout": stats.timeouts, "reset": stats.connection_errors, "cut": stats.connection_errors,
               "truncated": stats.malformed, "malformed": stats.malformed}[fault]
    assert counted == 2 and stats.retries == 2


def test_a_truncated_page_fails_the_partition_and_never_becomes_a_partial_result(hosts):
    spot, futures = hosts()
    second_page_of_next_day = str(day_start_ms(NEXT_DAY) + 1000 * 60_000)  # after 1000 one-minute rows
    spot.inject("truncated", "/api/v3/klines", times=-1,
                when=lambda params: params["startTime"] == second_page_of_next_day)
    source = market(spot, futures, max_attempts=3)

    batches = source.fetch_all("spot_klines", [("BTCUSDT", DAY), ("BTCUSDT", NEXT_DAY)])
    key, day, first = next(batches)
    assert (key, day) == ("BTCUSDT", DAY)
    assert rows_of(first) == list(day_rows("spot_klines", "1m", "BTCUSDT", DAY))
    with pytest.raises(MalformedResponseError) as failure:
        next(batches)

    message = str(failure.value)
    assert f"/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={second_page_of_next_day}" in message
    assert "gave up after 3 attempts; last: malformed or truncated JSON" in message
    assert statuses(spot, "/api/v3/klines").count("fault:truncated") == 3


def test_an_error_body_raises_with_endpoint_parameters_code_and_message_without_retrying(hosts):
    spot, futures = hosts()

    with pytest.raises(BinanceAPIError) as failure:
        market(spot, futures).fetch("spot_klines", "NOPEUSDT", DAY)

    error = failure.value
    assert (error.status, error.code, error.msg) == (400, -1121, "Invalid symbol.")
    assert re.search(r"GET /api/v3/klines\?symbol=NOPEUSDT&interval=1m&startTime=\d+&endTime=\d+&limit=1000: "
                     r"HTTP 400, error -1121: Invalid symbol\.", str(error))
    assert statuses(spot, "/api/v3/klines") == [400]


def test_the_circuit_breaker_stops_hammering_a_failing_host(hosts):
    spot, futures = hosts()
    futures.inject("503", None, times=-1)  # every data request of the futures host fails
    source = market(spot, futures, max_attempts=5, breaker_threshold=6, breaker_cooldown_seconds=30)

    with pytest.raises(BinanceUnavailableError):
        list(source.fetch_all("agg_trades", [("BTCUSDT", DAY), ("ETHUSDT", DAY)]))

    # Without the breaker: 2 days × 24 hourly pages × 5 attempts = 240 requests.
    sent = len(futures.data_requests())
    assert sent <= 6 + source.config.max_concurrency
    assert source.last_stats.circuit_rejections > 0
    with pytest.raises(CircuitOpenError, match=r"circuit open after \d+ consecutive failures on http://127\.0"
                                               r".*; no request before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"):
        list(market(spot, futures, max_attempts=2, breaker_threshold=2, breaker_cooldown_seconds=30)
             .fetch_all("agg_trades", [("BTCUSDT", DAY)]))


def test_an_open_circuit_lets_one_probe_through_after_the_cooldown():
    breaker = CircuitBreaker(threshold=2, cooldown=10)
    breaker.failure("HTTP 503", now=0)
    assert breaker.allows(now=1)
    breaker.failure("HTTP 503", now=1)
    assert not breaker.allows(now=5)
    assert breaker.allows(now=11) and not breaker.allows(now=11)  # one probe only
    breaker.failure("HTTP 503", now=12)
    assert not breaker.allows(now=15)
    assert breaker.allows(now=22)
    breaker.success()
    assert breaker.allows(now=22) and breaker.allows(now=22)
