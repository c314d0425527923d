"""A local HTTP server that behaves like a Binance REST host, with faults on demand.

One instance plays one host: ``FakeBinance("spot")`` serves ``/api/...``,
``FakeBinance("futures")`` serves ``/fapi/...`` and ``/futures/data/...``. Bodies are
built from the simulated market (same rows the ``simulated`` source serves), in the
exchange's formats, with the exchange's paging semantics: ``startTime``/``endTime``/
``limit`` windows, ``fromId`` paging of aggregated trades that runs across hours and
days, ``/futures/data`` history only for the last 30 days.

Like the exchange, the server counts request weight per fixed window, sends
``X-MBX-USED-WEIGHT-<n><S|M>`` on every answer, answers 429 with ``Retry-After`` when a
request would exceed the limit and 418 after repeated violations. Every request over
the limit is counted in :attr:`FakeBinance.violations`. The weights here are written
from the facts file independently of the client's table, so a client bug in its
table shows up as violations.

Faults are injected with :meth:`FakeBinance.inject` (targeted, counted) or
:class:`RandomFaults` (a seeded share of data requests).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from quant_assets.sources.base import DataUnavailableError
from quant_assets.sources.simulated.source import SimulatedMarket

SEED = 20240101
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SYMBOLS = frozenset({"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"})
RATIO_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")

FaultKind = Literal["429", "418", "500", "502", "503", "timeout", "reset", "cut", "truncated", "malformed",
                    "error", "duplicate", "out_of_order", "gap"]
HTTP_FAULTS = ("429", "418", "500", "502", "503", "timeout", "reset", "cut", "truncated", "malformed",
               "error")
ROW_FAULTS = ("duplicate", "out_of_order", "gap")


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


# ---------------------------------------------------------------------- market data
@cache
def _market(interval: str) -> SimulatedMarket:
    return SimulatedMarket(SEED, kline_interval=interval)


@cache
def day_rows(family: str, interval: str, symbol: str, day: date) -> tuple[Any, ...]:
    """Every row the simulated market serves for (family, symbol, day), in its order."""
    payloads = _market(interval).fetch(family, symbol, day)
    return tuple(row for p in payloads for body in p.bodies for row in json.loads(body))


def _days(start_ms: int, end_ms: int) -> list[date]:
    first = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    last = datetime.fromtimestamp(end_ms / 1000, UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)][:4]


def _available(family: str, interval: str, symbol: str, day: date) -> tuple[Any, ...]:
    """Rows of a closed day; nothing for days the market cannot serve (future, before epoch)."""
    try:
        return day_rows(family, interval, symbol, day)
    except DataUnavailableError:
        return ()


def _weight(path: str, params: dict[str, str]) -> int:
    """Request weights from BINANCE_API_FACTS.md, written out for the server side."""
    limit = int(params.get("limit", "0") or 0)
    if path == "/api/v3/klines":
        return 2
    if path in ("/fapi/v1/klines", "/fapi/v1/markPriceKlines"):
        limit = limit or 500
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    if path == "/fapi/v1/aggTrades":
        return 20
    if path == "/api/v3/aggTrades":
        return 4
    if path == "/api/v3/depth":
        limit = limit or 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "/fapi/v1/depth":
        limit = limit or 500
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    if path in ("/api/v3/avgPrice",):
        return 2
    if path == "/api/v3/ticker/24hr":
        return 2 if "symbol" in params else 80
    if path == "/api/v3/ticker/bookTicker":
        return 2 if "symbol" in params else 4
    if path == "/fapi/v1/ticker/bookTicker":
        return 2 if "symbol" in params else 5
    if path == "/fapi/v1/premiumIndex":
        return 1 if "symbol" in params else 10
    if path in ("/api/v3/exchangeInfo", "/api/v3/account"):
        return 20
    if path == "/fapi/v2/balance":
        return 5
    if path in ("/api/v3/time", "/fapi/v1/time", "/fapi/v1/exchangeInfo"):
        return 1
    return 0  # fundingRate and /futures/data: request-count limits, not weight


# ---------------------------------------------------------------------- faults
@dataclass
class Fault:
    kind: FaultKind
    path: str | None = None
    times: int = 1
    when: Callable[[dict[str, str]], bool] | None = None
    retry_after: float = 1
    code: int = -1121
    msg: str = "Invalid symbol."

    def matches(self, path: str, params: dict[str, str]) -> bool:
        if self.times == 0:
            return False
        if self.path is None:
            if not _is_data(path):
                return False
        elif self.path != path:
            return False
        return self.when is None or self.when(params)


@dataclass
class RandomFaults:
    """A seeded share of data requests answered with a fault, each kind at most ``caps[kind]`` times."""

    rate: float
    caps: dict[str, int]
    seed: int = 7
    retry_after: float = 1
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self, used: Counter[str]) -> str | None:
        if self._rng.random() >= self.rate:
            return None
        kinds = [k for k, cap in self.caps.items() if used[k] < cap]
        return self._rng.choice(kinds) if kinds else None


def _is_data(path: str) -> bool:
    return not path.endswith(("/exchangeInfo", "/time"))


@dataclass(frozen=True)
class Served:
    """A 200 answer as sent: path, parameters in the order received, body text."""

    at: float
    path: str
    params: tuple[tuple[str, str], ...]
    body: str
    complete: bool = True


@dataclass
class Received:
    """A request as it arrived; ``status`` is the final answer (``fault:<kind>`` when injected)."""

    at: float
    path: str
    params: tuple[tuple[str, str], ...]
    status: int | str
    query: str = ""


# ---------------------------------------------------------------------- the server
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 errors: list[BaseException]) -> None:
        super().__init__(address, handler)
        self.errors = errors

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a client hanging up (timeouts, resets) is normal
            self.errors.append(error)


class FakeBinance:
    """One fake Binance host on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, kind: Literal["spot", "futures"], *, weight_limit: int = 6000,
                 interval: Literal["SECOND", "MINUTE", "HOUR"] = "MINUTE", interval_num: int = 1,
                 ban_after: int = 3, ban_seconds: int = 120, external_weight: int = 0,
                 funding_limit: int = 500, funding_window: float = 300.0,
                 api_key: str | None = None, api_secret: str | None = None, clock_skew_ms: int = 0,
                 timeout_sleep: float = 1.0, random_faults: RandomFaults | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.kind = kind
        self.weight_limit = weight_limit
        self.interval = interval
        self.interval_num = interval_num
        self.window = interval_num * {"SECOND": 1, "MINUTE": 60, "HOUR": 3600}[interval]
        self.ban_after = ban_after
        self.ban_seconds = ban_seconds
        self.external_weight = external_weight
        self.funding_limit = funding_limit
        self.funding_window = funding_window
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock_skew_ms = clock_skew_ms
        self.timeout_sleep = timeout_sleep
        self.random_faults = random_faults
        self._now = now
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._window_id = -1
        self._used = 0
        self._strikes = 0
        self._funding: list[float] = []
        self.banned_until = 0.0
        #: Requests that would have exceeded the weight limit / the funding request limit.
        self.violations = 0
        self.funding_violations = 0
        #: Most weight counted in one window (others' use included).
        self.peak_used = 0
        self.injected: Counter[str] = Counter()
        #: The futures host's contracts as ``exchangeInfo`` lists them (tests add listings).
        self.futures_listing: list[dict[str, Any]] = [
            {"symbol": s, "pair": s, "contractType": "PERPETUAL", "status": "TRADING",
             "baseAsset": s.removesuffix("USDT"), "quoteAsset": "USDT", "onboardDate": 1_569_398_400_000}
            for s in sorted(SYMBOLS)]
        self.served: list[Served] = []
        self.received: list[Received] = []
        #: Errors of the server itself (a bug in this fake); clients hanging up are not errors.
        self.errors: list[BaseException] = []
        self._server = _Server(("127.0.0.1", 0), _handler_for(self), self.errors)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeBinance:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def header(self) -> str:
        return f"X-MBX-USED-WEIGHT-{self.interval_num}{self.interval[0]}"

    def server_ms(self) -> int:
        return int(self._now() * 1000) + self.clock_skew_ms

    # -------------------------------------------------------------- faults
    def inject(self, kind: FaultKind, path: str | None = None, times: int = 1, **options: Any) -> Fault:
        """Answer the next ``times`` matching requests (``-1``: all) with ``kind``."""
        fault = Fault(kind, path, times, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, path: str, params: dict[str, str]) -> tuple[str, Fault | None] | None:
        for fault in self._faults:
            if fault.matches(path, params):
                fault.times -= 1 if fault.times > 0 else 0
                self.injected[fault.kind] += 1
                return fault.kind, fault
        if self.random_faults is not None and _is_data(path):
            kind = self.random_faults.draw(self.injected)
            if kind is not None:
                self.injected[kind] += 1
                return kind, None
        return None

    def data_requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if _is_data(r.path) and (path is None or r.path == path)]

    # -------------------------------------------------------------- rate limits
    def _admit(self, path: str, params: dict[str, str]) -> tuple[int, float | None, int]:
        """(status, retry_after, used weight) of the rate limiter for this request."""
        now = self._now() + self.clock_skew_ms / 1000
        window_id = math.floor(now / self.window)
        if window_id != self._window_id:
            self._window_id = window_id
            self._used = self.external_weight
        if now < self.banned_until:
            return 418, math.ceil(self.banned_until - now), self._used
        weight = _weight(path, params)
        if path == "/fapi/v1/fundingRate":
            self._funding = [t for t in self._funding if t > now - self.funding_window]
            if len(self._funding) >= self.funding_limit:
                self.funding_violations += 1
                return self._strike(now, (self._funding[0] + self.funding_window) - now)
            self._funding.append(now)
        if self._used + weight > self.weight_limit:
            self.violations += 1
            return self._strike(now, (window_id + 1) * self.window - now)
        self._used += weight
        self.peak_used = max(self.peak_used, self._used)
        return 200, None, self._used

    def _strike(self, now: float, wait: float) -> tuple[int, float, int]:
        self._strikes += 1
        if self._strikes >= self.ban_after:
            self.banned_until = now + self.ban_seconds
            return 418, self.ban_seconds, self._used
        return 429, max(math.ceil(wait), 1), self._used

    # -------------------------------------------------------------- routing
    def respond(self, path: str, params: dict[str, str], query: str, headers: dict[str, str]
                ) -> tuple[int, Any]:
        """(status, JSON body) of a request that passed the rate limiter."""
        prefixes = ("/api/",) if self.kind == "spot" else ("/fapi/", "/futures/")
        if not path.startswith(prefixes):
            return 404, {"code": -1, "msg": f"{path} is not served by the {self.kind} host"}
        symbol = params.get("symbol")
        if symbol is not None and symbol not in SYMBOLS:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if path.endswith("/time"):
            return 200, {"serverTime": self.server_ms()}
        if path.endswith("/exchangeInfo"):
            return 200, {
                "timezone": "UTC", "serverTime": self.server_ms(),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": self.interval,
                     "intervalNum": self.interval_num, "limit": self.weight_limit},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
                ],
                "exchangeFilters": [],
                "symbols": self.futures_listing if self.kind == "futures"
                else [{"symbol": s, "status": "TRADING"} for s in sorted(SYMBOLS)],
            }
        if path in ("/api/v3/account", "/fapi/v2/balance"):
            return self._signed(path, query, headers)
        if symbol is None:
            return 400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, "
                                               "or malformed."}
        handler = {
            "/api/v3/klines": lambda: self._klines("spot_klines", params, 1000),
            "/fapi/v1/klines": lambda: self._klines("futures_klines", params, 1500),
            "/fapi/v1/markPriceKlines": lambda: self._klines("mark_price_klines", params, 1500),
            "/fapi/v1/aggTrades": lambda: self._agg_trades(params, spot=False),
            "/api/v3/aggTrades": lambda: self._agg_trades(params, spot=True),
            "/fapi/v1/fundingRate": lambda: self._funding_rows(params),
            "/futures/data/openInterestHist": lambda: self._statistics("open_interest", None, params),
            "/futures/data/globalLongShortAccountRatio":
                lambda: self._statistics("long_short_ratio", 0, params),
            "/futures/data/topLongShortAccountRatio": lambda: self._statistics("long_short_ratio", 1, params),
            "/futures/data/topLongShortPositionRatio":
                lambda: self._statistics("long_short_ratio", 2, params),
            "/futures/data/takerlongshortRatio": lambda: self._statistics("taker_volume", None, params),
            "/fapi/v1/premiumIndex": lambda: self._latest("premium_index", symbol),
            "/api/v3/ticker/24hr": lambda: self._latest("ticker_24hr", symbol),
            "/api/v3/avgPrice": lambda: self._latest("avg_price", symbol),
            "/fapi/v1/ticker/bookTicker": lambda: self._book_ticker(symbol),
            "/api/v3/ticker/bookTicker": lambda: self._book_ticker(symbol),
        }.get(path)
        if handler is None:
            return 404, {"code": -1, "msg": f"unknown endpoint {path}"}
        return handler()

    # -------------------------------------------------------------- endpoints
    @staticmethod
    def _window(params: dict[str, str]) -> tuple[int, int] | None:
        if "startTime" not in params:
            return None
        start = int(params["startTime"])
        return start, int(params.get("endTime", start + DAY_MS - 1))

    def _klines(self, family: str, params: dict[str, str], max_limit: int) -> tuple[int, Any]:
        limit = int(params.get("limit", 500))
        if not 1 <= limit <= max_limit:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        window = self._window(params)
        if window is None:
            return 400, {"code": -1102, "msg": "startTime is required by this test server"}
        start, end = window
        rows = [r for day in _days(start, end)
                for r in _available(family, params["interval"], params["symbol"], day)
                if start <= r[0] <= end]
        return 200, rows[:limit]

    def _agg_trades(self, params: dict[str, str], spot: bool) -> tuple[int, Any]:
        limit = int(params.get("limit", 500))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        symbol = params["symbol"]
        if "fromId" in params:
            from_id = int(params["fromId"])
            rows: list[dict] = []
            day = self._day_of_trade(symbol, from_id)
            while day is not None and len(rows) < limit:
                day_trades = _available("agg_trades", "1h", symbol, day)
                if not day_trades:
                    break
                rows.extend(r for r in day_trades if r["a"] >= from_id)
                day += timedelta(days=1)
            rows = rows[:limit]
        else:
            window = self._window(params)
            if window is None:
                return 400, {"code": -1102, "msg": "startTime or fromId is required by this test server"}
            start, end = window
            if not spot and end - start >= HOUR_MS:
                return 400, {"code": -1127, "msg": "More than 1 hours between startTime and endTime."}
            rows = [r for day in _days(start, end) for r in _available("agg_trades", "1h", symbol, day)
                    if start <= r["T"] <= end][:limit]
        return 200, [{**r, "M": True} for r in rows] if spot else rows

    def _day_of_trade(self, symbol: str, trade_id: int) -> date | None:
        """The day holding trade ``trade_id``, searched from the days asked for by time so far."""
        with self._lock:
            asked = sorted({datetime.fromtimestamp(int(dict(r.params)["startTime"]) / 1000, UTC).date()
                            for r in self.received
                            if r.path.endswith("aggTrades") and "startTime" in dict(r.params)})
        candidates = asked + [asked[-1] + timedelta(days=i) for i in (1, 2)] if asked else []
        for day in candidates:
            trades = _available("agg_trades", "1h", symbol, day)
            if trades and trades[0]["a"] <= trade_id <= trades[-1]["a"]:
                return day
        return None

    def _funding_rows(self, params: dict[str, str]) -> tuple[int, Any]:
        limit = int(params.get("limit", 100))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        window = self._window(params)
        if window is None:
            return 400, {"code": -1102, "msg": "startTime is required by this test server"}
        start, end = window
        rows = [r for day in _days(start, end)
                for r in _available("funding_rate", "1h", params["symbol"], day)
                if start <= r["fundingTime"] <= end]
        return 200, rows[:limit]

    def _statistics(self, family: str, series: int | None, params: dict[str, str]) -> tuple[int, Any]:
        period = params.get("period")
        if period not in RATIO_PERIODS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        limit = int(params.get("limit", 30))
        if not 1 <= limit <= 500:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        window = self._window(params)
        if window is None:
            return 400, {"code": -1102, "msg": "startTime is required by this test server"}
        start, end = window
        oldest = self.server_ms() - 30 * DAY_MS  # only the latest 30 days are kept
        first = max(start, oldest)
        rows = [r for day in _days(first, end)
                for r in series_rows(family, period, params["symbol"], day, series)
                if first <= int(r["timestamp"]) <= end]
        return 200, rows[:limit]

    def _latest(self, family: str, symbol: str) -> tuple[int, Any]:
        yesterday = datetime.fromtimestamp(self._now() - 86_400, UTC).date()
        return 200, day_rows_snapshot(family, symbol, yesterday)

    def _book_ticker(self, symbol: str) -> tuple[int, Any]:
        day = datetime.fromtimestamp(self._now() - 86_400, UTC).date()
        message = json.loads(_market("1h").fetch("book_ticker", symbol, day)[-1].bodies[-1])
        return 200, {"symbol": symbol, "bidPrice": message["b"], "bidQty": message["B"],
                     "askPrice": message["a"], "askQty": message["A"], "time": message["T"],
                     "lastUpdateId": message["u"]}

    def _signed(self, path: str, query: str, headers: dict[str, str]) -> tuple[int, Any]:
        if self.api_key is None or self.api_secret is None:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        if headers.get("x-mbx-apikey") != self.api_key:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        payload, sep, signature = query.rpartition("&signature=")
        if not sep or "&" in signature:
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        params = dict(parse_qsl(payload))
        timestamp = int(params.get("timestamp", 0))
        recv_window = int(params.get("recvWindow", 5000))
        server = self.server_ms()
        if not (timestamp < server + 1000 and server - timestamp <= recv_window):
            return 400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
        if path == "/api/v3/account":
            return 200, {"makerCommission": 10, "takerCommission": 10, "canTrade": True,
                         "updateTime": server, "accountType": "SPOT",
                         "balances": [{"asset": "BTC", "free": "0.50000000", "locked": "0.00000000"},
                                      {"asset": "USDT", "free": "1000.00000000", "locked": "0.00000000"}]}
        return 200, [{"accountAlias": "SgsR", "asset": "USDT", "balance": "122.12345678",
                      "crossWalletBalance": "122.12345678", "crossUnPnl": "0.00000000",
                      "availableBalance": "122.12345678", "maxWithdrawAmount": "122.12345678",
                      "marginAvailable": True, "updateTime": server}]


@cache
def series_rows(family: str, period: str, symbol: str, day: date, series: int | None) -> tuple[Any, ...]:
    """Rows of one ``/futures/data`` series (``series`` picks one of the three long/short ratios)."""
    try:
        payloads = _market(period).fetch(family, symbol, day)
    except DataUnavailableError:
        return ()
    if series is not None:
        payloads = payloads[series:series + 1]
    return tuple(r for p in payloads for body in p.bodies for r in json.loads(body))


@cache
def day_rows_snapshot(family: str, symbol: str, day: date) -> Any:
    """The last snapshot the simulated market polled on ``day`` (a current-state body)."""
    return json.loads(_market("1h").fetch(family, symbol, day)[-1].bodies[0])


def _half(body: str) -> int:
    return max(len(body) // 2, 1)


def _apply_row_fault(kind: str, rows: list[Any]) -> list[Any]:
    if len(rows) < 3:
        return rows
    rows = list(rows)
    k = len(rows) // 2
    if kind == "duplicate":
        rows.insert(k, rows[k - 1])
        rows.pop()  # the page keeps its length, as a server repeating a row would
    elif kind == "out_of_order":
        rows[k - 1], rows[k] = rows[k], rows[k - 1]
    elif kind == "gap":
        del rows[k]
    return rows


def _handler_for(server: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read :attr:`FakeBinance.received` instead."""

        def _send(self, status: int, body: str, extra: dict[str, str], *, cut: bool = False,
                  truncate: bool = False) -> None:
            data = body.encode()
            sent = data[: _half(body)] if truncate or cut else data
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            # A cut answer announces the whole body and stops half-way; a truncated one
            # announces only what it sends (a server-side bug the HTTP layer cannot see).
            self.send_header("Content-Length", str(len(data) if cut else len(sent)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(sent)
            self.wfile.flush()
            if cut:
                self._reset()

        def _reset(self) -> None:
            # SO_LINGER 0 makes close() send a TCP RST: the client sees a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, parts.query
            params_list = tuple(parse_qsl(query, keep_blank_values=True))
            params = dict(params_list)
            headers = {k.lower(): v for k, v in self.headers.items()}
            at = time.time()
            with server._lock:
                status, retry_after, used = server._admit(path, params)
                fault = server._take_fault(path, params) if status == 200 else None
                received = Received(at, path, params_list, f"fault:{fault[0]}" if fault else status, query)
                server.received.append(received)
            weight_header = {server.header: str(used)}
            if status in (418, 429):
                code_msg = ({"code": -1003, "msg": "Way too much request weight used; IP banned until "
                                                   f"{server.server_ms() + int(retry_after or 0) * 1000}."}
                            if status == 418 else
                            {"code": -1003, "msg": f"Too much request weight used; current limit is "
                                                   f"{server.weight_limit} request weight per "
                                                   f"{server.interval_num} {server.interval}."})
                retry_header = {"Retry-After": str(int(retry_after or 1))}
                self._send(status, dumps(code_msg), {**weight_header, **retry_header})
                return
            kind, spec = fault if fault else (None, None)
            if kind in ("429", "418"):
                retry = spec.retry_after if spec else (server.random_faults.retry_after
                                                       if server.random_faults else 1)
                if kind == "418":
                    with server._lock:
                        server.banned_until = time.time() + retry
                self._send(int(kind), dumps({"code": -1003, "msg": "Too much request weight used."}),
                           {**weight_header, "Retry-After": f"{retry:g}"})
                return
            if kind in ("500", "502", "503"):
                self._send(int(kind), "<html><body>Service Unavailable</body></html>", weight_header)
                return
            if kind == "reset":
                self._reset()
                return
            if kind == "timeout":
                time.sleep(server.timeout_sleep)
            if kind == "error":
                code, msg = (spec.code, spec.msg) if spec else (-1121, "Invalid symbol.")
                self._send(400, dumps({"code": code, "msg": msg}), weight_header)
                return
            if kind == "malformed":
                self._send(200, "<html><body>upstream gateway error</body></html>", weight_header)
                return
            status, data = server.respond(path, params, query, headers)
            if kind is None:
                received.status = status
            if kind in ROW_FAULTS and isinstance(data, list):
                data = _apply_row_fault(kind, data)
            body = dumps(data)
            if status == 200:
                incomplete = kind in ("truncated", "cut")
                sent = body[: _half(body)] if incomplete else body
                with server._lock:
                    server.served.append(Served(time.time(), path, params_list, sent, not incomplete))
            try:
                self._send(status, body, weight_header, cut=kind == "cut", truncate=kind == "truncated")
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (an injected timeout): nothing is left to answer.
                self.close_connection = True

    return Handler
