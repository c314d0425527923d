"""Fixtures of the Binance client tests: local fake hosts and a client config with short timings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from quant_assets.sources.base import Payload
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.binance.guards import BANS
from quant_assets_tests.sources.binance.fake_binance import FakeBinance

TODAY = datetime.now(UTC).date()
#: Closed days well inside the 30-day window of the /futures/data endpoints.
DAY = TODAY - timedelta(days=6)
NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_bans_left_over(tmp_path, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))  # the ban file of this test only
    BANS.clear()
    yield
    BANS.clear()


@pytest.fixture
def hosts() -> Iterator[Callable[..., tuple[FakeBinance, FakeBinance]]]:
    """``hosts(**spot_options)``/``hosts(futures={...})``: a started spot and futures fake host."""
    started: list[FakeBinance] = []
    with ExitStack() as stack:

        def start(futures: dict[str, Any] | None = None, **spot: Any) -> tuple[FakeBinance, FakeBinance]:
            pair = (stack.enter_context(FakeBinance("spot", **spot)),
                    stack.enter_context(FakeBinance("futures", **(futures or {}))))
            started.extend(pair)
            return pair

        yield start
    for server in started:
        assert not server.errors, f"the fake {server.kind} host failed: {server.errors!r}"


def fast_config(spot: FakeBinance, futures: FakeBinance, **overrides: Any) -> BinanceConfig:
    """Client settings for local tests: millisecond backoff, short cooldowns.

    The timeout stays generous: the fake host computes a simulated day on first use,
    which takes a while on a loaded machine. Tests of timeouts set their own.
    """
    settings: dict[str, Any] = {
        "spot_url": spot.url, "futures_url": futures.url, "timeout_seconds": 10.0,
        "backoff_base_seconds": 0.005, "backoff_cap_seconds": 0.05, "window_guard_seconds": 0.5,
        "breaker_cooldown_seconds": 0.5,
    }
    return BinanceConfig(**{**settings, **overrides})


def rows_of(payloads: Sequence[Payload]) -> list[Any]:
    return [row for p in payloads for body in p.bodies for row in json.loads(body)]


def assert_bodies_as_served(payloads: Sequence[Payload], *servers: FakeBinance) -> None:
    """Every payload body is, byte for byte, a complete body one of the hosts sent for that request."""
    complete: dict[tuple[str, tuple[tuple[str, str], ...]], set[str]] = {}
    partial: set[str] = set()
    for server in servers:
        for served in server.served:
            if served.complete:
                complete.setdefault((served.path, served.params), set()).add(served.body)
            else:
                partial.add(served.body)
    assert payloads
    for payload in payloads:
        key = (payload.request.endpoint, payload.request.params)
        assert key in complete, f"{key} was never served"
        assert len(payload.bodies) == 1 and payload.bodies[0] in complete[key]
        assert payload.bodies[0] not in partial


def day_range(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]
