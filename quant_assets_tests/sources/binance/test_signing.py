"""Signed requests: the documented HMAC vector, the server-time offset, and secrets kept out of sight."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl

import pytest

from quant_assets.sources.base import SourceError
from quant_assets.sources.binance.client import BinanceClient
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.binance.errors import BinanceAPIError, BinanceError
from quant_assets.sources.binance.signing import hmac_signature, signed_query
from quant_assets.sources.binance.source import BinanceMarket
from quant_assets.sources.http import Secret
from quant_assets_tests.sources.binance.conftest import fast_config

# BINANCE_API_FACTS.md section 5: the known-answer vector from Binance's documentation.
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
               "&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_signature_matches_the_documented_known_answer():
    assert hmac_signature(Secret(DOC_SECRET), DOC_PAYLOAD) == DOC_SIGNATURE


def test_signed_query_puts_recv_window_and_timestamp_before_the_signature_which_is_last():
    params = (("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1"))
    query = signed_query(params, Secret(DOC_SECRET), timestamp_ms=1499827319559, recv_window_ms=5000)
    assert query == f"{DOC_PAYLOAD}&signature={DOC_SIGNATURE}"


def _keys(spot, futures, **overrides) -> BinanceConfig:
    return fast_config(spot, futures, api_key=Secret(API_KEY), api_secret=Secret(API_SECRET), **overrides)


def test_account_and_balance_are_signed_and_accepted_by_a_server_whose_clock_runs_ahead(hosts):
    # Both hosts run 4 s ahead: with recvWindow 3000 an unsynchronised timestamp would be rejected.
    server_options = {"api_key": API_KEY, "api_secret": API_SECRET, "clock_skew_ms": 4000}
    spot, futures = hosts(futures=server_options, **server_options)

    async def main():
        async with BinanceClient(_keys(spot, futures, recv_window_ms=3000)) as client:
            return await client.account(), await client.futures_balance()

    account, balance = asyncio.run(main())
    assert account.data["accountType"] == "SPOT" and balance.data[0]["asset"] == "USDT"
    for server, calls in ((spot, ["/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/account"]),
                          (futures, ["/fapi/v1/exchangeInfo", "/fapi/v1/time", "/fapi/v2/balance"])):
        assert [r.path for r in server.received] == calls  # budget, clock offset, then the call
        signed = server.received[-1]
        assert signed.status == 200
        names = [name for name, _ in parse_qsl(signed.query)]
        assert names[-3:] == ["recvWindow", "timestamp", "signature"]
    # The signing parameters are not part of the request identity that payloads carry.
    assert account.request.params == () and "signature" not in str(account.request)


def test_signed_endpoints_without_keys_fail_before_sending(hosts):
    spot, futures = hosts()

    async def main():
        async with BinanceClient(fast_config(spot, futures)) as client:
            await client.account()

    with pytest.raises(BinanceError, match="BINANCE_API_KEY and BINANCE_API_SECRET"):
        asyncio.run(main())
    assert spot.received == []


def test_secrets_never_reach_logs_exceptions_or_reprs(hosts, caplog):
    # The server knows another secret, so the signature is refused (-1022).
    spot, futures = hosts(api_key=API_KEY, api_secret="another-secret")
    config = _keys(spot, futures)
    caplog.set_level(logging.DEBUG)

    async def main():
        async with BinanceClient(config) as client:
            await client.account()

    with pytest.raises(BinanceAPIError) as failure:
        asyncio.run(main())
    message = str(failure.value)
    assert "-1022" in message and "Signature for this request is not valid." in message
    assert "/api/v3/account" in message
    (signed,) = [r for r in spot.received if r.path == "/api/v3/account"]
    signature = dict(parse_qsl(signed.query))["signature"]
    assert "signature=****" in caplog.text  # httpx's request log line, masked
    shown = [message, caplog.text, repr(config), str(config), repr(BinanceClient(config)),
             repr(BinanceMarket(config=config)), f"{config.api_secret}"]
    for text in shown:
        assert API_KEY not in text and API_SECRET not in text and signature not in text
    assert config.api_key.reveal() == API_KEY


def test_keys_and_urls_come_from_the_environment_only():
    env = {"BINANCE_SPOT_URL": "http://127.0.0.1:9/", "BINANCE_FUTURES_URL": "https://testnet.example",
           "BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}
    config = BinanceConfig.from_env(env)
    assert config.spot_url == "http://127.0.0.1:9" and config.futures_url == "https://testnet.example"
    assert config.api_key == Secret(API_KEY) and API_KEY not in repr(config)
    defaults = BinanceConfig.from_env({})
    assert (defaults.spot_url, defaults.futures_url) == ("https://api.binance.com", "https://fapi.binance.com")
    assert defaults.api_key is None and defaults.api_secret is None
    with pytest.raises(SourceError, match="BINANCE_SPOT_URL='ftp://x'"):
        BinanceConfig.from_env({"BINANCE_SPOT_URL": "ftp://x"})


def test_an_invalid_timestamp_resynchronises_the_clock_once_and_retries(hosts):
    server_options = {"api_key": API_KEY, "api_secret": API_SECRET}
    spot, futures = hosts(futures=server_options, **server_options)

    async def main():
        async with BinanceClient(_keys(spot, futures)) as client:
            await client.account()
            spot.clock_skew_ms = 20_000  # the server's clock jumps: the stored offset is now wrong
            return await client.account()

    account = asyncio.run(main())

    assert account.data["accountType"] == "SPOT"
    assert [(r.path, r.status) for r in spot.received][-3:] == [
        ("/api/v3/account", 400), ("/api/v3/time", 200), ("/api/v3/account", 200)]
