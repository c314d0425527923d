"""Glassnode REST client: daily on-chain series, bodies kept exactly as served.

Usage::

    with GlassnodeClient(GlassnodeConfig.from_env()) as client:
        payload = client.metric_day("sopr", "BTC", date(2026, 10, 5))
        payload.bodies[0]      # '[{"t":1791158400,"v":1.0123}]', the text as served

One request per metric, asset and day: ``GET <path>?a=<asset>&i=24h&s=<day start>&u=<day
end>`` (plus ``c=USD`` for the ``*_usd`` metrics), the same request the simulated market
answers, so the landing zone and the parser see the same shapes from both.

Environment (read by :meth:`GlassnodeConfig.from_env` only):

``GLASSNODE_API_KEY``
    The API key. Sent as the ``X-Api-Key`` header (Glassnode accepts the header or the
    ``api_key`` query parameter; ``GLASSNODE_AUTH=query`` selects the parameter for
    proxies that drop custom headers). Never logged, never in an exception or a repr.
``GLASSNODE_BASE_URL``
    Base URL, ``https://api.glassnode.com`` by default; point it at a replay server.
``GLASSNODE_AUTH``
    ``header`` (default) or ``query``.
``QUANT_ONCHAIN_PATHS``
    JSON object ``{"<metric>": "<path>"}`` overriding the vendor path of catalog metrics
    (parsed with :func:`json.loads`, never evaluated). Needed in a real deployment for
    ``exchange_whale_ratio``: the exchange whale ratio is a CryptoQuant metric and
    Glassnode serves nothing at the catalog's Glassnode-style path (the request fails
    with HTTP 404 and a message pointing here). Set it to the path of a
    Glassnode-compatible endpoint that serves the series, e.g.
    ``QUANT_ONCHAIN_PATHS='{"exchange_whale_ratio": "/v1/metrics/<provider path>"}'``.
    The stored request keeps the catalog path as its endpoint (the metric's identity,
    which the parser reads) and records the path actually requested in a ``path``
    parameter.

Faults: 429 waits ``Retry-After`` (or ``x-rate-limit-reset``) and retries; 5xx, timeouts,
connection errors and malformed or truncated bodies are retried with exponential
backoff and jitter, at most ``max_attempts`` times, then :class:`GlassnodeUnavailableError`
names the endpoint and parameters. 401/403 raise :class:`GlassnodeAuthError` (key
missing or invalid, or the plan lacks the metric). An empty array raises
:class:`GlassnodeNoDataError`, a :class:`~quant_assets.sources.base.DataUnavailableError`:
an empty table is never passed off as data. When a response reports
``x-rate-limit-remaining: 0`` the client pauses until ``x-rate-limit-reset``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from quant_assets.sources.base import DataUnavailableError, Payload, Request, SourceError
from quant_assets.sources.http import Secret, header_seconds, require_valid
from quant_assets.sources.onchain_catalog import ONCHAIN_METRIC_PATHS

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.glassnode.com"
API_KEY_HEADER = "X-Api-Key"
API_KEY_PARAM = "api_key"
DAY_SECONDS = 86_400
SOURCE_NAME = "glassnode"
AuthMode = Literal["header", "query"]

_API_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s\"'>]+", re.IGNORECASE)
_METRIC_PATH = re.compile(r"/[A-Za-z0-9_\-./]+")


class _RedactApiKey(logging.Filter):
    """httpx logs every request URL at INFO; with ``GLASSNODE_AUTH=query`` the URL holds the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if API_KEY_PARAM in message.lower():
            record.msg = _API_KEY_IN_TEXT.sub(r"\1****", message)
            record.args = None
        return True


for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactApiKey) for f in _logger.filters):
        _logger.addFilter(_RedactApiKey())


# ---------------------------------------------------------------------- errors
def describe(endpoint: str, params: Sequence[tuple[str, str]]) -> str:
    """``endpoint?a=1&b=2`` without the API key."""
    shown = "&".join(f"{k}={v}" for k, v in params if k != API_KEY_PARAM)
    return f"{endpoint}?{shown}" if shown else endpoint


class GlassnodeError(SourceError):
    """A Glassnode request failed; the message names the endpoint and parameters, never the key.

    ``retryable`` says whether a later run may succeed (as for the Binance errors).
    """

    retryable = False

    def __init__(self, endpoint: str, params: Sequence[tuple[str, str]], reason: str) -> None:
        self.endpoint = endpoint
        self.params = tuple((k, v) for k, v in params if k != API_KEY_PARAM)
        self.reason = reason
        super().__init__(f"glassnode GET {describe(endpoint, params)}: {reason}")


class GlassnodeAuthError(GlassnodeError):
    """HTTP 401/403: the key is missing or invalid, or the plan does not include the metric."""


class GlassnodeRateLimitError(GlassnodeError):
    """HTTP 429 on every attempt, or a wait longer than the client is allowed to honour."""

    retryable = True


class GlassnodeUnavailableError(GlassnodeError):
    """Transient faults (5xx, timeouts, connection errors, malformed bodies) outlasted every attempt."""

    retryable = True


class GlassnodeNoDataError(GlassnodeError, DataUnavailableError):
    """The API answered with an empty array: it holds no point for the requested period.

    Retryable: a daily value appears some hours after the day closes.
    """

    retryable = True


# ---------------------------------------------------------------------- settings
def _base_url(variable: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(f"{variable}={value!r}: must be an http(s) base URL such as {DEFAULT_BASE_URL}")
    if parts.query or parts.fragment:
        raise SourceError(f"{variable}={value!r}: a base URL has no query or fragment")
    return value.rstrip("/")


def parse_metric_paths(text: str | None, variable: str = "QUANT_ONCHAIN_PATHS") -> dict[str, str]:
    """The catalog's metric paths with the overrides of the JSON object ``text`` applied.

    Parameters
    ----------
    text
        ``{"<metric>": "<path>"}`` as JSON, or None/blank for no overrides. Parsed with
        :func:`json.loads`; nothing in it is executed.
    variable
        Name of the setting, for error messages.

    Raises
    ------
    SourceError
        Not JSON, not an object, an unknown metric name, or a value that is not an
        absolute URL path.
    """
    paths = dict(ONCHAIN_METRIC_PATHS)
    if text is None or not text.strip():
        return paths
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{variable}: not valid JSON ({exc.msg} at character {exc.pos}); expected an "
                          'object such as {"exchange_whale_ratio": "/v1/metrics/..."}') from exc
    if not isinstance(overrides, dict):
        raise SourceError(f"{variable}: expected a JSON object of metric name → path, "
                          f"got {type(overrides).__name__}")
    for name, path in overrides.items():
        if name not in ONCHAIN_METRIC_PATHS:
            raise SourceError(f"{variable}: unknown metric {name!r}; known metrics: "
                              f"{', '.join(ONCHAIN_METRIC_PATHS)}")
        if (not isinstance(path, str) or not _METRIC_PATH.fullmatch(path)
                or ".." in path.split("/")):
            raise SourceError(f"{variable}: the path of {name!r} must be an absolute URL path such "
                              f"as /v1/metrics/indicators/sopr, got {path!r}")
        paths[name] = path
    return paths


@dataclass(frozen=True)
class GlassnodeConfig:
    """How the client talks to Glassnode.

    Parameters
    ----------
    base_url
        Scheme and host (optionally a path prefix) of the API.
    api_key
        The key; None when unset (the client then refuses to send anything).
    auth
        ``header`` sends ``X-Api-Key``; ``query`` sends the ``api_key`` parameter.
    metric_paths
        Metric name → vendor path (the catalog with ``QUANT_ONCHAIN_PATHS`` applied).
    timeout_seconds
        Connect/read/write timeout of one attempt.
    max_attempts
        Attempts per request for transient faults and 429s before the request fails.
    backoff_base_seconds, backoff_cap_seconds
        Attempt ``n`` waits between half and all of ``min(cap, base * 2**(n-1))`` seconds.
    max_wait_seconds
        Longest ``Retry-After`` or rate-limit reset the client waits; a longer one fails
        the request at once (the quota is exhausted, a later run should retry).
    max_concurrency
        Requests in flight at once (the metrics of one asset-day are fetched in parallel).
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: Secret | None = None
    auth: AuthMode = "header"
    metric_paths: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(ONCHAIN_METRIC_PATHS)), repr=False)
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    max_wait_seconds: float = 120.0
    max_concurrency: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", _base_url("base_url", self.base_url))
        object.__setattr__(self, "metric_paths", MappingProxyType(dict(self.metric_paths)))
        if self.api_key is not None and not isinstance(self.api_key, Secret):
            raise SourceError("GlassnodeConfig: api_key must be a Secret (it is never shown)")
        checks = {
            "auth": self.auth in ("header", "query"),
            "metric_paths": set(self.metric_paths) == set(ONCHAIN_METRIC_PATHS),
            "timeout_seconds": self.timeout_seconds > 0,
            "max_attempts": self.max_attempts >= 1,
            "backoff_base_seconds": self.backoff_base_seconds >= 0,
            "backoff_cap_seconds": self.backoff_cap_seconds >= self.backoff_base_seconds,
            "max_wait_seconds": self.max_wait_seconds >= 0,
            "max_concurrency": self.max_concurrency >= 1,
        }
        require_valid(self, checks)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> GlassnodeConfig:
        """Key, base URL, auth mode and path overrides from ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        auth = (env.get("GLASSNODE_AUTH") or "header").strip().lower()
        if auth not in ("header", "query"):
            raise SourceError(f"GLASSNODE_AUTH={auth!r}: must be header (X-Api-Key) or query (api_key)")
        key = env.get("GLASSNODE_API_KEY", "").strip()
        values: dict[str, Any] = {
            "base_url": _base_url("GLASSNODE_BASE_URL", env.get("GLASSNODE_BASE_URL") or DEFAULT_BASE_URL),
            "api_key": Secret(key) if key else None,
            "auth": auth,
            "metric_paths": parse_metric_paths(env.get("QUANT_ONCHAIN_PATHS")),
        }
        return cls(**{**values, **overrides})


# ---------------------------------------------------------------------- client
@dataclass(frozen=True)
class GlassnodeReply:
    """One successful answer: path and parameters as sent (without the key) and the body."""

    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    text: str
    data: Any
    received_at_ms: int


@dataclass
class GlassnodeStats:
    """What a client did: requests sent, answers by status, faults met."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    malformed: int = 0
    pause_seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.requests} requests, {self.retries} retries, 429×{self.rate_limited}, "
                f"5xx×{self.server_errors}, timeouts×{self.timeouts}, "
                f"connection errors×{self.connection_errors}, malformed×{self.malformed}")


@dataclass(frozen=True)
class _Transient:
    """Why one attempt failed in a way a retry may fix."""

    reason: str
    rate_limited: bool = False
    server_set_wait: bool = False


class GlassnodeClient:
    """Synchronous Glassnode client with one connection pool; use as a context manager.

    Thread-safe: the metrics of a day may be requested from several threads at once.

    Parameters
    ----------
    config
        URL, key and retry settings (:meth:`GlassnodeConfig.from_env` by default).
    source_name
        ``Payload.source`` of the payloads built by :meth:`metric_day`.
    sleep, clock
        Injectable for tests; ``clock`` gives epoch seconds.
    rng
        Source of backoff jitter.
    """

    def __init__(self, config: GlassnodeConfig | None = None, *, source_name: str = SOURCE_NAME,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.config = config or GlassnodeConfig.from_env()
        if self.config.api_key is None:
            raise SourceError("GLASSNODE_API_KEY is not set: the Glassnode API needs a key "
                              "(see https://docs.glassnode.com/basic-api/api-key)")
        self.source_name = source_name
        self.stats = GlassnodeStats()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"GlassnodeClient(base_url={self.config.base_url!r}, auth={self.config.auth!r})"

    def __enter__(self) -> GlassnodeClient:
        self._http = httpx.Client(
            base_url=self.config.base_url,
            timeout=self.config.timeout_seconds,
            limits=httpx.Limits(max_connections=self.config.max_concurrency,
                                max_keepalive_connections=self.config.max_concurrency),
            headers={"Accept": "application/json"},
        )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # ------------------------------------------------------------------ requests
    def metric_day(self, metric: str, asset: str, day: date) -> Payload:
        """Daily value of catalog ``metric`` for ``asset`` on UTC ``day``, as a :class:`Payload`.

        Raises
        ------
        GlassnodeNoDataError
            The API holds no point for that day (not computed yet, or before the asset's history).
        GlassnodeError
            Any other failure; also a multi-value answer (``{"t", "o"}`` points), which the
            one-value-per-metric raw table cannot hold.
        """
        if metric not in ONCHAIN_METRIC_PATHS:
            raise SourceError(f"glassnode: unknown on-chain metric {metric!r}; known metrics: "
                              f"{', '.join(ONCHAIN_METRIC_PATHS)}")
        catalog_path = ONCHAIN_METRIC_PATHS[metric]
        path = self.config.metric_paths[metric]
        since = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        currency = "USD" if metric.endswith("_usd") else None
        reply = self.series(path, asset, since, since + DAY_SECONDS - 1, "24h", currency)
        multi = [point for point in reply.data if "v" not in point]
        if multi:
            raise GlassnodeError(path, reply.params,
                                 f"answered multi-value points (fields {sorted(multi[0])}) for metric "
                                 f"{metric!r}, which holds one value per day; configure a single-value "
                                 "path in QUANT_ONCHAIN_PATHS")
        params: tuple[tuple[str, str], ...] = reply.params
        if path != catalog_path:
            params += (("path", path),)
        return Payload(Request(catalog_path, params), (reply.text,), reply.received_at_ms, "rest",
                       self.source_name)

    def series(self, path: str, asset: str, since: int, until: int, interval: str = "24h",
               currency: str | None = None) -> GlassnodeReply:
        """Points of ``path`` for ``asset`` with ``since <= t <= until`` (epoch seconds).

        The answer must be a non-empty JSON array of ``{"t", "v"}`` or ``{"t", "o"}`` points
        inside the requested window.
        """
        params: list[tuple[str, str]] = [("a", asset), ("i", interval), ("s", str(since)),
                                         ("u", str(until))]
        if currency is not None:
            params.append(("c", currency))
        reply = self.get(path, params)
        points = reply.data
        if not isinstance(points, list):
            raise GlassnodeError(path, reply.params,
                                 f"expected a JSON array of points, got {type(points).__name__}: "
                                 f"{self._excerpt(reply.text)}")
        if not points:
            start = datetime.fromtimestamp(since, UTC)
            end = datetime.fromtimestamp(until, UTC)
            raise GlassnodeNoDataError(
                path, reply.params,
                f"no data points between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M:%S} UTC (the "
                "API answered an empty array): the metric is not computed for that period yet, or "
                "the asset has no history then")
        for i, point in enumerate(points):
            if not isinstance(point, dict) or not isinstance(point.get("t"), int):
                raise GlassnodeError(path, reply.params,
                                     f"point {i} is not an object with an integer 't': "
                                     f"{self._excerpt(json.dumps(point))}")
            if "v" not in point and "o" not in point:
                raise GlassnodeError(path, reply.params, f"point {i} has neither 'v' nor 'o' "
                                     f"(fields {sorted(point)})")
            if not since <= point["t"] <= until:
                raise GlassnodeError(path, reply.params,
                                     f"point {i} at t={point['t']} lies outside the requested window "
                                     f"[{since}, {until}]; the server ignored the range")
        return reply

    def get(self, path: str, params: Sequence[tuple[str, str]]) -> GlassnodeReply:
        """``GET path`` with retries; the decoded JSON and the body text exactly as served."""
        if self._http is None:
            raise SourceError("GlassnodeClient used outside its `with` block")
        params = tuple((k, str(v)) for k, v in params)
        key = self.config.api_key.reveal()  # type: ignore[union-attr]  # checked in __init__
        if self.config.auth == "query":
            sent_params, headers = (*params, (API_KEY_PARAM, key)), {}
        else:
            sent_params, headers = params, {API_KEY_HEADER: key}
        attempts = self.config.max_attempts
        for attempt in range(1, attempts + 1):
            self._wait_for_pause()
            with self._lock:
                self.stats.requests += 1
            error: httpx.TransportError | None = None
            try:
                reply = self._http.get(path, params=sent_params, headers=headers)
            except httpx.TimeoutException as exc:
                self._count("timeouts")
                failure = _Transient(f"timed out after {self.config.timeout_seconds:g} s "
                                     f"({type(exc).__name__})")
                error = exc
            except httpx.TransportError as exc:
                self._count("connection_errors")
                failure = _Transient(f"connection failed ({type(exc).__name__}: {self._redact(str(exc))})")
                error = exc
            else:
                outcome = self._handle(path, params, reply)
                if isinstance(outcome, GlassnodeReply):
                    return outcome
                failure = outcome
            if attempt == attempts:
                cls = GlassnodeRateLimitError if failure.rate_limited else GlassnodeUnavailableError
                raise cls(path, params,
                          f"gave up after {attempts} attempts; last: {failure.reason}") from error
            # A 429 that named its wait has paused the client already; otherwise back off.
            delay = 0.0 if failure.server_set_wait else self._backoff(attempt)
            with self._lock:
                self.stats.retries += 1
            logger.warning("glassnode GET %s: %s; retry %d/%d in %.2f s", describe(path, params),
                           failure.reason, attempt, attempts - 1, delay)
            if delay:
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ------------------------------------------------------------------ internals
    def _handle(self, path: str, params: tuple[tuple[str, str], ...], reply: httpx.Response
                ) -> GlassnodeReply | _Transient:
        """A reply, or the reason of a transient failure (to retry); raises on permanent ones."""
        status = reply.status_code
        with self._lock:
            self.stats.statuses[status] += 1
        self._note_rate_limit(reply)
        if status == 200:
            try:
                text = reply.content.decode("utf-8")
                data = json.loads(text)
            except UnicodeDecodeError as exc:
                self._count("malformed")
                return _Transient(f"HTTP 200 with a body that is not UTF-8 (byte {exc.start})")
            except json.JSONDecodeError as exc:
                self._count("malformed")
                return _Transient(f"HTTP 200 with malformed or truncated JSON ({exc.msg} at character "
                                  f"{exc.pos} of {len(text)})")
            return GlassnodeReply(path, params, status, text, data, int(self._clock() * 1000))
        body = self._excerpt(reply.content.decode("utf-8", errors="replace"))
        if status in (401, 403):
            what = ("the API key is missing or invalid (GLASSNODE_API_KEY)" if status == 401 else
                    "the API key is not allowed this request: invalid key, or the plan's tier "
                    "does not include this metric, asset or resolution")
            raise GlassnodeAuthError(path, params, f"HTTP {status}: {what}; server said {body}")
        if status == 429:
            self._count("rate_limited")
            wait = header_seconds(reply.headers, "retry-after")
            if wait is None:
                wait = header_seconds(reply.headers, "x-rate-limit-reset")
            if wait is not None and wait > self.config.max_wait_seconds:
                raise GlassnodeRateLimitError(
                    path, params, f"HTTP 429: the API asks to wait {wait:g} s, more than "
                    f"max_wait_seconds={self.config.max_wait_seconds:g}; the key's request quota is "
                    "exhausted, run again later")
            if wait is None:
                return _Transient("HTTP 429 (rate limited, no wait given)", rate_limited=True)
            self._pause(wait)
            return _Transient(f"HTTP 429 (rate limited, wait {wait:g} s)", rate_limited=True,
                              server_set_wait=True)
        if status >= 500:
            self._count("server_errors")
            return _Transient(f"HTTP {status}: {body}")
        if status == 404:
            raise GlassnodeError(path, params, f"HTTP 404: no such metric path or asset at "
                                 f"{self.config.base_url}; if the metric comes from another provider "
                                 f"set its path in QUANT_ONCHAIN_PATHS; server said {body}")
        raise GlassnodeError(path, params, f"HTTP {status}: the request was refused; server said {body}")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _note_rate_limit(self, reply: httpx.Response) -> None:
        """Pause every thread until the window resets when the response says none are left."""
        remaining = reply.headers.get("x-rate-limit-remaining")
        if remaining is None or reply.status_code == 429:
            return
        try:
            exhausted = float(remaining) <= 0
        except ValueError:
            return
        reset = header_seconds(reply.headers, "x-rate-limit-reset")
        if exhausted and reset is not None:
            self._pause(min(reset, self.config.max_wait_seconds))

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_for_pause(self) -> None:
        with self._lock:
            wait = self._paused_until - self._clock()
            if wait > 0:
                self.stats.pause_seconds += wait
        if wait > 0:
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_cap_seconds, self.config.backoff_base_seconds * 2 ** (attempt - 1))
        with self._lock:
            return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _redact(self, text: str) -> str:
        key = self.config.api_key.reveal() if self.config.api_key else ""
        text = _API_KEY_IN_TEXT.sub(r"\1****", text)
        return text.replace(key, "****") if key else text

    def _excerpt(self, text: str, limit: int = 200) -> str:
        return repr(self._redact(text)[:limit])
