"""The Glassnode client against a local server: bodies as served, retries, the key kept secret."""

from __future__ import annotations

import json
import logging
from datetime import date

import pandas as pd
import pytest

from quant_assets.raw.parsers import ParseContext, parse_glassnode
from quant_assets.sources.base import DataUnavailableError, Payload, Request, SourceError
from quant_assets.sources.glassnode import (
    GlassnodeAuthError,
    GlassnodeClient,
    GlassnodeConfig,
    GlassnodeError,
    GlassnodeNoDataError,
    GlassnodeRateLimitError,
    GlassnodeUnavailableError,
    parse_metric_paths,
)
from quant_assets.sources.http import Secret
from quant_assets.sources.onchain_catalog import ONCHAIN_METRIC_PATHS
from quant_assets_tests.sources.onchain.conftest import Sleeps, fast_config, fixture_text
from quant_assets_tests.sources.onchain.fake_glassnode import (
    TEST_KEY,
    FakeGlassnode,
    Fault,
    catalog_value,
    day_seconds,
)

DAY = date(2026, 10, 5)
S = day_seconds(DAY)
SOPR = ONCHAIN_METRIC_PATHS["sopr"]
PRICE = ONCHAIN_METRIC_PATHS["price_usd"]
NEW_YEAR = date(2025, 1, 1)  # the day of the recorded price fixture


def parse(payload: Payload, asset: str = "BTC") -> pd.DataFrame:
    return parse_glassnode(payload.bodies, ParseContext("onchain_metrics", asset, payload.request,
                                                        payload.received_at_ms))


def sopr_day(server: FakeGlassnode, **config: object) -> Payload:
    with GlassnodeClient(fast_config(server, **config), sleep=Sleeps()) as client:
        return client.metric_day("sopr", "BTC", DAY)


# ---------------------------------------------------------------------- bodies as served
def test_recorded_body_is_stored_byte_for_byte(glassnode):
    recorded = fixture_text("glassnode-api-node_timeseries-price-usd-close-btc.json")
    glassnode.add_raw(PRICE, "BTC", recorded)
    since = day_seconds(NEW_YEAR)
    with GlassnodeClient(fast_config(glassnode)) as client:
        reply = client.series(PRICE, "BTC", since, since + 2 * 86_400 - 1, "24h", "USD")
    assert reply.text == recorded  # pretty-printed as recorded, whitespace and all
    assert [p["v"] for p in reply.data] == [94397.1460817957, 96861.96531975128]


def test_daily_payload_equals_the_served_body_and_parses_into_the_row(glassnode):
    points = json.loads(fixture_text("glassnode-api-node_timeseries-price-usd-close-btc.json"))
    glassnode.add_series(PRICE, "BTC", points)
    with GlassnodeClient(fast_config(glassnode)) as client:
        payload = client.metric_day("price_usd", "BTC", NEW_YEAR)

    since = day_seconds(NEW_YEAR)
    assert payload.request == Request(PRICE, (("a", "BTC"), ("i", "24h"), ("s", str(since)),
                                              ("u", str(since + 86_399)), ("c", "USD")))
    [served] = glassnode.served
    assert served.params == payload.request.params
    assert payload.bodies == (served.body,) == ('[{"t":1735689600,"v":94397.1460817957}]',)
    frame = parse(payload)
    assert frame.to_dict("records") == [{"ts": pd.Timestamp("2025-01-01"), "asset": "BTC",
                                         "metric": "price_usd", "value": 94397.1460817957}]


def test_requests_are_the_ones_the_simulated_market_answers(glassnode):
    from quant_assets.sources.simulated.source import SimulatedMarket

    glassnode.add_catalog("USDT", DAY, 1)
    simulated = SimulatedMarket(seed=7).fetch("onchain_metrics", "USDT", DAY)
    with GlassnodeClient(fast_config(glassnode)) as client:
        real = [client.metric_day(m, "USDT", DAY) for m in ("exchange_inflow_usd", "exchange_outflow_usd",
                                                           "exchange_netflow_usd")]
    assert [p.request for p in real] == [p.request for p in simulated]
    assert [parse(p, "USDT")["value"].item() for p in real] == [
        catalog_value(m, "USDT", DAY) for m in ("exchange_inflow_usd", "exchange_outflow_usd",
                                                "exchange_netflow_usd")]


def test_key_goes_in_the_header_by_default_and_as_api_key_when_asked(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    header = sopr_day(glassnode)
    query = sopr_day(glassnode, auth="query")
    assert [r.key_in for r in glassnode.received] == ["header", "query"]
    assert header.request == query.request
    assert "api_key" not in dict(query.request.params)


def test_glassnode_config_from_env_reads_key_url_and_auth():
    config = GlassnodeConfig.from_env({"GLASSNODE_API_KEY": TEST_KEY, "GLASSNODE_BASE_URL": "http://x:1/gn/",
                                       "GLASSNODE_AUTH": "query"})
    assert config.base_url == "http://x:1/gn" and config.auth == "query"
    assert config.api_key is not None and config.api_key.reveal() == TEST_KEY
    assert TEST_KEY not in repr(config)
    assert GlassnodeConfig.from_env({}).base_url == "https://api.glassnode.com"
    with pytest.raises(SourceError, match="GLASSNODE_AUTH='cookie'"):
        GlassnodeConfig.from_env({"GLASSNODE_AUTH": "cookie"})
    with pytest.raises(SourceError, match="GLASSNODE_BASE_URL='ftp://x'"):
        GlassnodeConfig.from_env({"GLASSNODE_BASE_URL": "ftp://x"})


# ---------------------------------------------------------------------- faults
def test_429_waits_retry_after_then_succeeds(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(status=429, headers={"Retry-After": "0.05"}, times=2))
    sleeps = Sleeps()
    with GlassnodeClient(fast_config(glassnode), sleep=sleeps) as client:
        payload = client.metric_day("sopr", "BTC", DAY)
        stats = client.stats
    assert [r.status for r in glassnode.received] == [429, 429, 200]
    assert stats.rate_limited == 2 and stats.retries == 2
    assert sum(w for w in sleeps.waits if w >= 0.04) >= 0.09  # the server's waits were honoured
    assert payload.bodies == (glassnode.served[-1].body,)


def test_429_asking_for_longer_than_allowed_fails_at_once(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(GlassnodeRateLimitError, match="wait 3600 s, more than max_wait_seconds=1"):
        sopr_day(glassnode)
    assert len(glassnode.received) == 1


def test_429_on_every_attempt_stops_after_max_attempts(glassnode):
    glassnode.inject(Fault(status=429, headers={"Retry-After": "0"}, times=10))
    with pytest.raises(GlassnodeRateLimitError, match="gave up after 3 attempts; last: HTTP 429"):
        sopr_day(glassnode)
    assert len(glassnode.received) == 3


def test_server_errors_are_retried_then_reported_with_endpoint_and_params(glassnode):
    glassnode.inject(Fault(status=500, body="internal error", times=10))
    with pytest.raises(GlassnodeUnavailableError) as caught:
        sopr_day(glassnode)
    assert len(glassnode.received) == 3  # max_attempts, then stop
    assert str(caught.value) == (
        f"glassnode GET {SOPR}?a=BTC&i=24h&s={S}&u={S + 86_399}: gave up after 3 attempts; "
        "last: HTTP 500: 'internal error'")


def test_a_server_error_and_a_truncated_body_are_survived(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(status=503, body="busy"))
    glassnode.inject(Fault(truncate=True))
    payload = sopr_day(glassnode)
    assert [r.status for r in glassnode.received] == [503, 200, 200]
    assert json.loads(payload.bodies[0]) == [{"t": S, "v": catalog_value("sopr", "BTC", DAY)}]


def test_timeouts_are_retried_and_reported(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(delay=0.6))
    assert sopr_day(glassnode, timeout_seconds=0.2).bodies == (glassnode.served[-1].body,)

    glassnode.inject(Fault(delay=0.6, times=2))
    with pytest.raises(GlassnodeUnavailableError, match=r"gave up after 2 attempts; last: timed out after "
                                                        r"0\.2 s \(ReadTimeout\)"):
        sopr_day(glassnode, timeout_seconds=0.2, max_attempts=2)


def test_401_says_the_key_is_missing_or_invalid_and_is_not_retried(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    with GlassnodeClient(fast_config(glassnode, api_key=Secret("wrong"))) as client, \
            pytest.raises(GlassnodeAuthError) as caught:
        client.metric_day("sopr", "BTC", DAY)
    assert "HTTP 401: the API key is missing or invalid (GLASSNODE_API_KEY)" in str(caught.value)
    assert len(glassnode.received) == 1


def test_403_says_the_plan_may_lack_the_metric(glassnode):
    glassnode.inject(Fault(status=403, body="forbidden"))
    with pytest.raises(GlassnodeAuthError, match="tier does not include this metric"):
        sopr_day(glassnode)


def test_missing_key_fails_before_anything_is_sent(glassnode):
    with pytest.raises(SourceError, match="GLASSNODE_API_KEY is not set"):
        GlassnodeClient(GlassnodeConfig(base_url=glassnode.url))
    assert not glassnode.received


def test_empty_array_for_a_closed_day_is_unavailable_data_not_an_empty_table(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    with GlassnodeClient(fast_config(glassnode)) as client, \
            pytest.raises(GlassnodeNoDataError, match="empty array") as caught:
        client.metric_day("sopr", "BTC", date(2026, 10, 4))
    assert isinstance(caught.value, DataUnavailableError)
    assert "no data points between 2026-10-04 00:00 and 2026-10-04 23:59:59 UTC" in str(caught.value)


def test_multi_value_points_are_served_as_is_but_refused_for_a_one_value_metric(glassnode):
    recorded = fixture_text("glassnode-api-go-client_timeseries-ssr-pit-btc.json")
    mvrv = ONCHAIN_METRIC_PATHS["mvrv"]
    glassnode.add_raw(mvrv, "BTC", recorded)
    glassnode.add_series(SOPR, "BTC", json.loads(recorded))
    first = json.loads(recorded)[0]["t"]
    assert first == day_seconds(date(2026, 10, 2))
    with GlassnodeClient(fast_config(glassnode)) as client:
        reply = client.series(mvrv, "BTC", first, first + 3 * 86_400 - 1)
        assert reply.text == recorded
        with pytest.raises(GlassnodeError, match=r"multi-value points \(fields \['computed_at', 'o', "
                                                 r"'t'\]\) for metric 'sopr'"):
            client.metric_day("sopr", "BTC", date(2026, 10, 2))


def test_points_outside_the_requested_day_are_refused(glassnode):
    glassnode.add_raw(SOPR, "BTC", json.dumps([{"t": S - 86_400, "v": 1.0}]))
    with pytest.raises(GlassnodeError, match="outside the requested window"):
        sopr_day(glassnode)


def test_unknown_path_names_the_override_variable(glassnode):
    with GlassnodeClient(fast_config(glassnode)) as client, \
            pytest.raises(GlassnodeError, match=r"HTTP 404: no such metric path.*QUANT_ONCHAIN_PATHS"):
        client.metric_day("exchange_whale_ratio", "BTC", DAY)


def test_exhausted_rate_window_pauses_the_next_request(glassnode):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "0.1"}))
    sleeps = Sleeps()
    with GlassnodeClient(fast_config(glassnode), sleep=sleeps) as client:
        client.metric_day("sopr", "BTC", DAY)
        assert not sleeps.waits
        client.metric_day("mvrv", "BTC", DAY)
        assert len(sleeps.waits) == 1 and 0.05 < sleeps.waits[0] <= 0.1
        assert client.stats.pause_seconds == sleeps.waits[0]


# ---------------------------------------------------------------------- the key stays secret
@pytest.mark.parametrize("auth", ["header", "query"])
def test_key_never_appears_in_exceptions_reprs_or_logs(glassnode, caplog, auth):
    caplog.set_level(logging.DEBUG)
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(status=500, body=f"echo api_key={TEST_KEY}", times=3))
    glassnode.inject(Fault(status=403, body=f"key {TEST_KEY} lacks the tier"))
    glassnode.inject(Fault(delay=0.5, times=3))
    errors: list[BaseException] = []
    config = fast_config(glassnode, auth=auth, timeout_seconds=0.2)
    with GlassnodeClient(config) as client:
        for _ in range(3):
            with pytest.raises(SourceError) as caught:
                client.metric_day("sopr", "BTC", DAY)
            errors.append(caught.value)
        ok = client.metric_day("sopr", "BTC", DAY)
        texts = [repr(client), repr(config), repr(ok)]
    assert [type(e) for e in errors] == [GlassnodeUnavailableError, GlassnodeAuthError,
                                         GlassnodeUnavailableError]
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    assert "HTTP Request: GET" in caplog.text  # httpx's own request log was captured
    texts.append(caplog.text)
    for text in texts:
        assert TEST_KEY not in text
    if auth == "query":
        assert "api_key=****" in caplog.text


# ---------------------------------------------------------------------- path overrides
def test_whale_ratio_path_override_is_requested_and_stored_under_the_metric(glassnode):
    provider_path = "/v1/metrics/flows/exchange_whale_ratio_cq"
    paths = parse_metric_paths(json.dumps({"exchange_whale_ratio": provider_path}))
    glassnode.add_series(provider_path, "BTC", [{"t": S, "v": 0.42}])
    with GlassnodeClient(fast_config(glassnode, metric_paths=paths)) as client:
        payload = client.metric_day("exchange_whale_ratio", "BTC", DAY)
    assert glassnode.received[0].path == provider_path
    assert payload.request.endpoint == ONCHAIN_METRIC_PATHS["exchange_whale_ratio"]
    assert payload.request.param("path") == provider_path
    assert parse(payload)[["metric", "value"]].to_dict("records") == [
        {"metric": "exchange_whale_ratio", "value": 0.42}]


@pytest.mark.parametrize(("text", "message"), [
    ("__import__('os').system('true')", "not valid JSON"),
    ('["/v1/x"]', "expected a JSON object"),
    ('{"whales": "/v1/x"}', "unknown metric 'whales'"),
    ('{"sopr": "https://evil.example/v1"}', "must be an absolute URL path"),
    ('{"sopr": "/v1/../admin"}', "must be an absolute URL path"),
    ('{"sopr": 3}', "must be an absolute URL path"),
])
def test_bad_path_overrides_are_refused_naming_the_variable(text, message):
    with pytest.raises(SourceError, match=f"^QUANT_ONCHAIN_PATHS: .*{message}"):
        GlassnodeConfig.from_env({"QUANT_ONCHAIN_PATHS": text})
