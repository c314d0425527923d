"""Async Binance REST client: one pooled connection pool per run, budgets, retries, signing.

Usage::

    async with BinanceClient(BinanceConfig.from_env()) as client:
        page = await client.klines("BTCUSDT", "1h", start_time=t0, end_time=t1, limit=1000)
        page.text      # the body exactly as served
        page.data      # the same body, decoded

Every request goes through, in order: the IP-ban register (nothing is sent to a banned
host), the host's 429 pause, the circuit breaker, the concurrency semaphore and the
host's weight budget (plus the request pool of funding and ``/futures/data``). The
budget is read from ``exchangeInfo`` on the first request to a host.

Faults: 429 pauses the host for ``Retry-After`` and retries; 418 records the ban and
fails; 5xx, timeouts, connection resets and malformed or truncated bodies are retried
with exponential backoff and jitter up to ``max_attempts``; other 4xx raise
:class:`BinanceAPIError` with the exchange's code and message. Credentials never
appear in logs, exceptions or reprs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, NoReturn

import httpx

from quant_assets.sources.base import Payload, PayloadKind, Request
from quant_assets.sources.binance.budget import (
    BudgetConfigError,
    HostBudget,
    SlidingLedger,
    parse_weight_limits,
)
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.binance.errors import (
    BinanceAPIError,
    BinanceBanError,
    BinanceError,
    BinanceRateLimitError,
    BinanceUnavailableError,
    CircuitOpenError,
    MalformedResponseError,
    describe,
    format_utc,
)
from quant_assets.sources.binance.guards import BANS, BanRegister, CircuitBreaker, ban_end
from quant_assets.sources.binance.signing import encode_query, signed_query
from quant_assets.sources.binance.weights import Host, RequestPool, host_of, request_pool, request_weight
from quant_assets.sources.exchange_facts import (
    AGG_TRADES_LIMIT,
    FUTURES_KLINE_LIMIT,
    RATIO_PERIODS,
    SPOT_KLINE_LIMIT,
)
from quant_assets.sources.http import header_seconds

logger = logging.getLogger(__name__)

SOURCE_NAME = "binance"
FUNDING_LIMIT = 1000
FUTURES_DATA_LIMIT = 500
FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
HOUR_MS = 3_600_000

EXCHANGE_INFO: dict[Host, str] = {"spot": "/api/v3/exchangeInfo", "futures": "/fapi/v1/exchangeInfo"}
SERVER_TIME: dict[Host, str] = {"spot": "/api/v3/time", "futures": "/fapi/v1/time"}
RATIO_ENDPOINTS = {
    "global_account": "/futures/data/globalLongShortAccountRatio",
    "top_account": "/futures/data/topLongShortAccountRatio",
    "top_position": "/futures/data/topLongShortPositionRatio",
}
RatioKind = Literal["global_account", "top_account", "top_position"]

_SIGNATURE = re.compile(r"signature=[0-9A-Za-z]+")
_BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")
_INVALID_TIMESTAMP = -1021


class _RedactSignatures(logging.Filter):
    """httpx logs every request URL at INFO; a signed URL's signature is masked there."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "signature=" in message:
            record.msg = _SIGNATURE.sub("signature=****", message)
            record.args = None
        return True


for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactSignatures) for f in _logger.filters):
        _logger.addFilter(_RedactSignatures())


@dataclass(frozen=True)
class Response:
    """One successful answer: the request as sent (without signing parameters) and the body."""

    request: Request
    host: Host
    status: int
    text: str
    data: Any
    received_at_ms: int
    rate_headers: Mapping[str, str]

    def payload(self, kind: PayloadKind = "rest") -> Payload:
        """The answer as a :class:`Payload` with the body text exactly as served."""
        return Payload(self.request, (self.text,), self.received_at_ms, kind, SOURCE_NAME)


@dataclass
class ClientStats:
    """What a client did: requests sent, answers by status, faults met, waits."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    banned: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    malformed: int = 0
    circuit_rejections: int = 0
    pause_seconds: float = 0.0
    budget_waits: int = 0
    budget_wait_seconds: float = 0.0
    external_weight_seen: float = 0.0
    duplicate_rows: int = 0
    out_of_order_rows: int = 0
    gaps: int = 0

    def summary(self) -> str:
        return (f"{self.requests} requests, {self.retries} retries, 429×{self.rate_limited}, "
                f"418×{self.banned}, 5xx×{self.server_errors}, timeouts×{self.timeouts}, "
                f"connection errors×{self.connection_errors}, malformed×{self.malformed}, "
                f"circuit rejections×{self.circuit_rejections}, waited for the weight budget "
                f"{self.budget_waits}× ({self.budget_wait_seconds:.1f} s)")


@dataclass(frozen=True)
class _Failure:
    """A transient fault of one attempt (retried), or an invalid timestamp (resync, retry once)."""

    kind: Literal["rate_limit", "server", "timeout", "connection", "malformed", "clock"]
    reason: str
    error: BinanceAPIError | None = None


def _pairs(params: Mapping[str, object] | Sequence[tuple[str, object]]) -> tuple[tuple[str, str], ...]:
    items = params.items() if isinstance(params, Mapping) else params
    return tuple((k, str(v)) for k, v in items if v is not None)


def _error_body(content: bytes) -> tuple[int | None, str]:
    """``(code, msg)`` of an exchange error body, or ``(None, first 200 characters)``."""
    text = content.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, f"non-JSON error body: {text[:200]!r}"
    if isinstance(data, dict) and "code" in data and "msg" in data:
        code = data["code"]
        return (code if isinstance(code, int) else None), str(data["msg"])
    return None, f"unexpected error body: {text[:200]!r}"


class BinanceClient:
    """Async client of Binance's spot and USDⓈ-M futures REST APIs; use as an async context manager.

    Parameters
    ----------
    config
        URLs, credentials, limits (:meth:`BinanceConfig.from_env` by default).
    clock
        Wall-clock seconds; server windows and bans are wall-clock based.
    rng
        Source of backoff jitter (seed it for reproducible tests).
    bans
        Where bans are recorded; the process-wide register by default.
    """

    def __init__(self, config: BinanceConfig | None = None, *, clock: Any = time.time,
                 rng: random.Random | None = None, bans: BanRegister = BANS) -> None:
        self.config = config or BinanceConfig.from_env()
        self.stats = ClientStats()
        self._clock = clock
        self._rng = rng or random.Random()
        self._bans = bans
        self._base: dict[Host, str] = {"spot": self.config.spot_url, "futures": self.config.futures_url}
        self._budgets: dict[Host, HostBudget] = {host: self._new_budget() for host in self._base}
        self._breakers = {host: CircuitBreaker(self.config.breaker_threshold,
                                               self.config.breaker_cooldown_seconds)
                          for host in self._base}
        self._pause_until: dict[Host, float] = dict.fromkeys(self._base, 0.0)
        self._offset_ms: dict[Host, float] = {}
        self._http: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._budget_locks: dict[Host, asyncio.Lock] = {}
        self._time_locks: dict[Host, asyncio.Lock] = {}

    def _new_budget(self) -> HostBudget:
        share, guard = self.config.budget_share, self.config.window_guard_seconds
        pools: dict[RequestPool, SlidingLedger] = {
            "funding": SlidingLedger(max(int(self.config.funding_requests * share), 1),
                                     self.config.funding_window_seconds + guard),
            "futures_data": SlidingLedger(max(int(self.config.data_requests * share), 1),
                                          self.config.data_window_seconds + guard),
        }
        return HostBudget(pools=pools, clock=self._clock)

    def __repr__(self) -> str:
        key = "set" if self.config.api_key else "unset"
        return (f"BinanceClient(spot_url={self.config.spot_url!r}, futures_url={self.config.futures_url!r}, "
                f"api_key=<{key}, masked>)")

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> BinanceClient:
        limit = self.config.max_concurrency
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.config.timeout_seconds),
            limits=httpx.Limits(max_connections=2 * limit, max_keepalive_connections=2 * limit),
            headers={"User-Agent": "quant_assets-binance/1"},
            follow_redirects=False,
        )
        self._semaphore = asyncio.Semaphore(limit)
        self._budget_locks = {host: asyncio.Lock() for host in self._base}
        self._time_locks = {host: asyncio.Lock() for host in self._base}
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def budget(self, host: Host) -> HostBudget:
        return self._budgets[host]

    # ------------------------------------------------------------------ core
    async def get(self, endpoint: str, params: Mapping[str, object] | Sequence[tuple[str, object]] = (),
                  *, signed: bool = False) -> Response:
        """``GET endpoint`` with ``params`` (in this order); signed requests add timestamp and signature."""
        if self._http is None:
            raise RuntimeError("BinanceClient is not open; use 'async with BinanceClient(...) as client'")
        host = host_of(endpoint)
        request = Request(endpoint, _pairs(params))
        weight = request_weight(endpoint, dict(request.params))
        if signed and (self.config.api_key is None or self.config.api_secret is None):
            raise BinanceError(host, endpoint, request.params,
                               "a signed endpoint needs BINANCE_API_KEY and BINANCE_API_SECRET in the "
                               "environment")
        await self._ensure_budget(host)
        return await self._call(host, request, weight, request_pool(endpoint), signed)

    async def _call(self, host: Host, request: Request, weight: int, pool: RequestPool | None,
                    signed: bool, bootstrap: bool = False) -> Response:
        assert self._semaphore is not None
        budget = self._budgets[host]
        breaker = self._breakers[host]
        last: _Failure | None = None
        resynced = False
        attempt = 0
        while attempt < self.config.max_attempts:
            attempt += 1
            self._raise_if_banned(host, request)
            await self._wait_pause(host)
            self._check_circuit(host, request)
            if signed and host not in self._offset_ms:
                await self._sync_time(host)
            async with self._semaphore:
                if bootstrap:
                    budget.spend_unbudgeted(weight)
                else:
                    waited = await budget.acquire(weight, pool)
                    if waited > 0:
                        self.stats.budget_waits += 1
                        self.stats.budget_wait_seconds += waited
                # Waiting for a slot and for the budget may have outlasted a ban, a pause or the
                # opening of the circuit: look again right before sending.
                self._raise_if_banned(host, request)
                if self._pause_until[host] > self._clock():
                    attempt -= 1  # not sent: this attempt starts over after the pause
                    continue
                self._check_circuit(host, request, recheck=True)
                try:
                    outcome = await self._attempt(host, request, signed)
                except BinanceAPIError:
                    breaker.success()  # the host answered; the request itself is wrong
                    raise
            if isinstance(outcome, Response):
                breaker.success()
                return outcome
            if outcome.kind == "clock":
                assert outcome.error is not None
                if resynced:
                    raise outcome.error
                resynced = True
                logger.warning("binance %s: %s; resynchronising with the server clock", host, outcome.reason)
                await self._sync_time(host, force=True)
                attempt -= 1  # a clock resync is not a fault of the host
                continue
            last = outcome
            if outcome.kind != "rate_limit":
                breaker.failure(outcome.reason, self._clock())
            if attempt < self.config.max_attempts:
                self.stats.retries += 1
                logger.warning("binance %s GET %s: %s (attempt %d of %d); retrying", host,
                               describe(request.endpoint, request.params), outcome.reason, attempt,
                               self.config.max_attempts)
                if outcome.kind != "rate_limit":  # a 429 already paused the host for Retry-After
                    await asyncio.sleep(self._backoff(attempt))
        assert last is not None
        reason = f"gave up after {attempt} attempts; last: {last.reason}"
        if last.kind == "rate_limit":
            raise BinanceRateLimitError(host, request.endpoint, request.params, reason)
        if last.kind == "malformed":
            raise MalformedResponseError(host, request.endpoint, request.params, reason)
        raise BinanceUnavailableError(host, request.endpoint, request.params, reason)

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: between half and all of ``min(cap, base * 2**(attempt-1))``."""
        ceiling = min(self.config.backoff_cap_seconds, self.config.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _url(self, host: Host, request: Request, signed: bool) -> str:
        if signed:
            assert self.config.api_secret is not None
            timestamp = int(self._clock() * 1000 + self._offset_ms[host])
            query = signed_query(request.params, self.config.api_secret, timestamp,
                                 self.config.recv_window_ms)
        else:
            query = encode_query(request.params)
        return f"{self._base[host]}{request.endpoint}" + (f"?{query}" if query else "")

    def _redact(self, text: str) -> str:
        text = _SIGNATURE.sub("signature=****", text)
        for secret in (self.config.api_key, self.config.api_secret):
            if secret is not None:
                text = text.replace(secret.reveal(), "****")
        return text

    async def _attempt(self, host: Host, request: Request, signed: bool) -> Response | _Failure:
        assert self._http is not None
        headers = {}
        if signed:
            assert self.config.api_key is not None
            headers["X-MBX-APIKEY"] = self.config.api_key.reveal()
        self.stats.requests += 1
        try:
            reply = await self._http.get(self._url(host, request, signed), headers=headers)
        except httpx.TimeoutException as exc:
            self.stats.timeouts += 1
            return _Failure("timeout", f"{type(exc).__name__} (no answer within "
                                       f"{self.config.timeout_seconds} s)")
        except httpx.TransportError as exc:  # refused, reset, body cut short, protocol errors
            self.stats.connection_errors += 1
            return _Failure("connection", self._redact(f"{type(exc).__name__}: {exc}"))
        received = self._clock()
        external = self._budgets[host].observe(reply.headers, received)
        self.stats.external_weight_seen = max(self.stats.external_weight_seen, external)
        status = reply.status_code
        self.stats.statuses[status] += 1
        if status == 418:
            self._ban(host, request, reply)
        if status == 429:
            wait = header_seconds(reply.headers, "retry-after")
            wait = self._backoff(1) if wait is None else wait
            self._pause_until[host] = max(self._pause_until[host], received + wait)
            self.stats.rate_limited += 1
            return _Failure("rate_limit", f"HTTP 429 rate limit (Retry-After {wait:g} s; host paused)")
        if status >= 500:
            self.stats.server_errors += 1
            return _Failure("server", f"HTTP {status}: {reply.content[:120].decode('utf-8', 'replace')!r}")
        if not 200 <= status < 300:
            code, msg = _error_body(reply.content)
            error = BinanceAPIError(host, request.endpoint, request.params, status, code, self._redact(msg))
            if signed and code == _INVALID_TIMESTAMP:
                return _Failure("clock", f"error {code}: {self._redact(msg)}", error)
            raise error
        try:
            text = reply.content.decode("utf-8")
            data = json.loads(text)
        except UnicodeDecodeError as exc:
            self.stats.malformed += 1
            return _Failure("malformed", f"body is not UTF-8 ({exc.reason} at byte {exc.start})")
        except json.JSONDecodeError as exc:
            self.stats.malformed += 1
            return _Failure("malformed", f"malformed or truncated JSON: {exc.msg} at character {exc.pos} "
                                         f"of {len(text)}")
        if isinstance(data, dict) and set(data) == {"code", "msg"}:
            code = data["code"] if isinstance(data["code"], int) else None
            raise BinanceAPIError(host, request.endpoint, request.params, status, code,
                                  self._redact(str(data["msg"])))
        rate_headers = {k: v for k, v in reply.headers.items() if k.lower().startswith("x-mbx-used-weight")}
        logger.debug("binance %s GET %s → %d (%d bytes, used weight %s)", host,
                     describe(request.endpoint, request.params), status, len(text), rate_headers)
        return Response(request, host, status, text, data, int(received * 1000), rate_headers)

    # ------------------------------------------------------------------ guards
    def _raise_if_banned(self, host: Host, request: Request) -> None:
        until = self._bans.banned_until(self._base[host])
        if until is not None:
            raise BinanceBanError(host, request.endpoint, request.params, until,
                                  f"a 418 from {self._base[host]} is still in force")

    def _ban(self, host: Host, request: Request, reply: httpx.Response) -> NoReturn:
        seconds = header_seconds(reply.headers, "retry-after")
        now = datetime.now(UTC)
        if seconds is not None:
            until, detail = ban_end(seconds, now), f"HTTP 418, Retry-After {seconds:g} s"
        else:
            _, msg = _error_body(reply.content)
            match = _BANNED_UNTIL.search(msg)
            if match:
                until = datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
                detail = f"HTTP 418: {msg}"
            else:
                until = ban_end(self.config.ban_default_seconds, now)
                detail = (f"HTTP 418 without an end time; assuming the shortest ban, "
                          f"{self.config.ban_default_seconds:g} s")
        until = self._bans.ban(self._base[host], until)
        self.stats.banned += 1
        logger.error("binance %s: IP banned until %s (%s); all requests to %s stopped", host,
                     format_utc(until), detail, self._base[host])
        raise BinanceBanError(host, request.endpoint, request.params, until, detail)

    async def _wait_pause(self, host: Host) -> None:
        while (delay := self._pause_until[host] - self._clock()) > 0:
            self.stats.pause_seconds += delay
            await asyncio.sleep(delay)

    def _check_circuit(self, host: Host, request: Request, recheck: bool = False) -> None:
        breaker = self._breakers[host]
        if not (breaker.is_closed() if recheck else breaker.allows(self._clock())):
            self.stats.circuit_rejections += 1
            reopen = datetime.fromtimestamp(breaker.reopens_at(), UTC)
            raise CircuitOpenError(
                host, request.endpoint, request.params,
                f"circuit open after {breaker.consecutive_failures} consecutive failures on "
                f"{self._base[host]} (last: {breaker.last_failure}); no request before {format_utc(reopen)}")

    # ------------------------------------------------------------------ bootstrap
    async def _ensure_budget(self, host: Host) -> None:
        budget = self._budgets[host]
        if budget.ready:
            return
        async with self._budget_locks[host]:
            if budget.ready:
                return
            endpoint = EXCHANGE_INFO[host]
            started = self._clock()
            response = await self._call(host, Request(endpoint), request_weight(endpoint, {}), None,
                                        signed=False, bootstrap=True)
            finished = self._clock()
            data = response.data
            if not isinstance(data, dict) or not isinstance(data.get("rateLimits"), list):
                raise MalformedResponseError(host, endpoint, (), "exchangeInfo has no rateLimits list")
            try:
                limits = parse_weight_limits(data["rateLimits"], self.config.budget_share,
                                             self.config.window_guard_seconds)
            except BudgetConfigError as exc:
                raise MalformedResponseError(host, endpoint, (), str(exc)) from exc
            server_time = data.get("serverTime")
            offset = server_time / 1000 - (started + finished) / 2 if isinstance(server_time, int) else 0.0
            budget.configure(limits, offset)
            budget.observe(response.rate_headers, response.received_at_ms / 1000)
            logger.info("binance %s: REQUEST_WEIGHT %s; this client keeps to %.0f%% of each",
                        host, ", ".join(f"{lim.limit}/{lim.interval_num} {lim.interval}" for lim in limits),
                        100 * self.config.budget_share)

    async def _sync_time(self, host: Host, force: bool = False) -> None:
        async with self._time_locks[host]:
            if host in self._offset_ms and not force:
                return
            started = self._clock()
            response = await self.get(SERVER_TIME[host])
            finished = self._clock()
            server_time = response.data.get("serverTime") if isinstance(response.data, dict) else None
            if not isinstance(server_time, int):
                raise MalformedResponseError(host, SERVER_TIME[host], (), "no integer serverTime")
            self._offset_ms[host] = server_time - (started + finished) / 2 * 1000

    # ------------------------------------------------------------------ endpoints: spot
    async def server_time(self, host: Host) -> Response:
        return await self.get(SERVER_TIME[host])

    async def exchange_info(self, host: Host) -> Response:
        return await self.get(EXCHANGE_INFO[host])

    async def klines(self, symbol: str, interval: str, *, start_time: int | None = None,
                     end_time: int | None = None, limit: int | None = None) -> Response:
        """Spot candles, ``GET /api/v3/klines`` (weight 2, at most 1000 rows)."""
        _check_limit("limit", limit, SPOT_KLINE_LIMIT)
        return await self.get("/api/v3/klines", {"symbol": symbol, "interval": interval,
                                                 "startTime": start_time, "endTime": end_time,
                                                 "limit": limit})

    async def ticker_24hr(self, symbol: str) -> Response:
        return await self.get("/api/v3/ticker/24hr", {"symbol": symbol})

    async def avg_price(self, symbol: str) -> Response:
        return await self.get("/api/v3/avgPrice", {"symbol": symbol})

    async def book_ticker(self, symbol: str) -> Response:
        return await self.get("/api/v3/ticker/bookTicker", {"symbol": symbol})

    async def depth(self, symbol: str, limit: int = 100) -> Response:
        _check_limit("limit", limit, 5000)
        return await self.get("/api/v3/depth", {"symbol": symbol, "limit": limit})

    async def agg_trades(self, symbol: str, *, from_id: int | None = None, start_time: int | None = None,
                         end_time: int | None = None, limit: int | None = None) -> Response:
        _check_limit("limit", limit, AGG_TRADES_LIMIT)
        return await self.get("/api/v3/aggTrades", {"symbol": symbol, "fromId": from_id,
                                                     "startTime": start_time, "endTime": end_time,
                                                     "limit": limit})

    # ------------------------------------------------------------------ endpoints: futures
    async def futures_klines(self, symbol: str, interval: str, *, start_time: int | None = None,
                             end_time: int | None = None, limit: int | None = None) -> Response:
        """Perpetual candles, ``GET /fapi/v1/klines`` (weight by ``limit``, at most 1500 rows)."""
        _check_limit("limit", limit, FUTURES_KLINE_LIMIT)
        return await self.get("/fapi/v1/klines", {"symbol": symbol, "interval": interval,
                                                  "startTime": start_time, "endTime": end_time,
                                                  "limit": limit})

    async def mark_price_klines(self, symbol: str, interval: str, *, start_time: int | None = None,
                                end_time: int | None = None, limit: int | None = None) -> Response:
        _check_limit("limit", limit, FUTURES_KLINE_LIMIT)
        return await self.get("/fapi/v1/markPriceKlines", {"symbol": symbol, "interval": interval,
                                                           "startTime": start_time, "endTime": end_time,
                                                           "limit": limit})

    async def premium_index(self, symbol: str | None = None) -> Response:
        return await self.get("/fapi/v1/premiumIndex", {"symbol": symbol})

    async def funding_rate(self, symbol: str, *, start_time: int | None = None, end_time: int | None = None,
                           limit: int | None = None) -> Response:
        """Settled funding, ``GET /fapi/v1/fundingRate`` (own budget of 500 requests per 5 minutes)."""
        _check_limit("limit", limit, FUNDING_LIMIT)
        return await self.get("/fapi/v1/fundingRate", {"symbol": symbol, "startTime": start_time,
                                                       "endTime": end_time, "limit": limit})

    async def _statistics(self, endpoint: str, symbol: str, period: str, start_time: int | None,
                          end_time: int | None, limit: int | None) -> Response:
        if period not in RATIO_PERIODS:
            raise ValueError(f"period={period!r}: must be one of {', '.join(RATIO_PERIODS)}")
        _check_limit("limit", limit, FUTURES_DATA_LIMIT)
        return await self.get(endpoint, {"symbol": symbol, "period": period, "limit": limit,
                                         "startTime": start_time, "endTime": end_time})

    async def open_interest_hist(self, symbol: str, period: str, *, start_time: int | None = None,
                                 end_time: int | None = None, limit: int | None = None) -> Response:
        """``GET /futures/data/openInterestHist``: only the last ~30 days are served."""
        return await self._statistics("/futures/data/openInterestHist", symbol, period, start_time,
                                      end_time, limit)

    async def long_short_ratio(self, kind: RatioKind, symbol: str, period: str, *,
                               start_time: int | None = None, end_time: int | None = None,
                               limit: int | None = None) -> Response:
        """Global-account, top-trader-account or top-trader-position long/short ratio."""
        if kind not in RATIO_ENDPOINTS:
            raise ValueError(f"kind={kind!r}: must be one of {', '.join(RATIO_ENDPOINTS)}")
        return await self._statistics(RATIO_ENDPOINTS[kind], symbol, period, start_time, end_time, limit)

    async def taker_long_short_ratio(self, symbol: str, period: str, *, start_time: int | None = None,
                                     end_time: int | None = None, limit: int | None = None) -> Response:
        return await self._statistics("/futures/data/takerlongshortRatio", symbol, period, start_time,
                                      end_time, limit)

    async def futures_depth(self, symbol: str, limit: int = 500) -> Response:
        if limit not in FUTURES_DEPTH_LIMITS:
            raise ValueError(f"limit={limit}: futures depth accepts only {FUTURES_DEPTH_LIMITS}")
        return await self.get("/fapi/v1/depth", {"symbol": symbol, "limit": limit})

    async def futures_agg_trades(self, symbol: str, *, from_id: int | None = None,
                                 start_time: int | None = None, end_time: int | None = None,
                                 limit: int | None = None) -> Response:
        """``GET /fapi/v1/aggTrades`` (weight 20); with both times the span must be under an hour."""
        _check_limit("limit", limit, AGG_TRADES_LIMIT)
        if start_time is not None and end_time is not None and not 0 <= end_time - start_time < HOUR_MS:
            raise ValueError(f"startTime={start_time}, endTime={end_time}: the span must be at least 0 "
                             "and under one hour")
        return await self.get("/fapi/v1/aggTrades", {"symbol": symbol, "fromId": from_id,
                                                     "startTime": start_time, "endTime": end_time,
                                                     "limit": limit})

    async def futures_book_ticker(self, symbol: str) -> Response:
        return await self.get("/fapi/v1/ticker/bookTicker", {"symbol": symbol})

    # ------------------------------------------------------------------ signed
    async def account(self) -> Response:
        """Spot account (balances), ``GET /api/v3/account`` signed with HMAC-SHA256."""
        return await self.get("/api/v3/account", signed=True)

    async def futures_balance(self) -> Response:
        """USDⓈ-M futures balances, ``GET /fapi/v2/balance`` signed with HMAC-SHA256."""
        return await self.get("/fapi/v2/balance", signed=True)


def _check_limit(name: str, value: int | None, maximum: int) -> None:
    if value is not None and not 1 <= value <= maximum:
        raise ValueError(f"{name}={value}: must be between 1 and {maximum}")
