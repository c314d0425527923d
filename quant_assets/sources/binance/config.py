"""Settings of the Binance client: base URLs, keys, concurrency, retries and budgets.

Base URLs and keys come from the environment only (``BINANCE_SPOT_URL``,
``BINANCE_FUTURES_URL``, ``BINANCE_API_KEY``, ``BINANCE_API_SECRET``), so the same
code runs against the exchange, its testnet or a local replay server. Keys are held
in :class:`Secret`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from quant_assets.sources.base import SourceError
from quant_assets.sources.http import Secret, require_valid

DEFAULT_SPOT_URL = "https://api.binance.com"
DEFAULT_FUTURES_URL = "https://fapi.binance.com"


def _url(variable: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(f"{variable}={value!r}: must be an http(s) base URL such as {DEFAULT_SPOT_URL}")
    if parts.query or parts.fragment:
        raise SourceError(f"{variable}={value!r}: a base URL has no query or fragment")
    return value.rstrip("/")


def _secret(env: Mapping[str, str], variable: str) -> Secret | None:
    value = env.get(variable, "").strip()
    return Secret(value) if value else None


@dataclass(frozen=True)
class BinanceConfig:
    """How the client talks to Binance.

    Parameters
    ----------
    spot_url, futures_url
        Base URLs of the spot (``/api``) and USDⓈ-M futures (``/fapi``, ``/futures/data``) hosts.
    api_key, api_secret
        Credentials for signed endpoints; ``None`` when unset (public data needs none).
    max_concurrency
        Requests in flight at once, over both hosts.
    timeout_seconds
        Connect/read/write timeout of one attempt.
    max_attempts
        Attempts per request for transient faults (5xx, timeouts, resets, malformed bodies,
        429s) before the request fails.
    backoff_base_seconds, backoff_cap_seconds
        Exponential backoff: attempt ``n`` waits between half and all of
        ``min(cap, base * 2**n)`` (equal jitter).
    budget_share
        Fraction of the exchange's REQUEST_WEIGHT limit this client may use; the rest is
        left to other processes on the same IP (the stream recorder's snapshots).
    window_guard_seconds
        Weight spent stays on the ledger this much longer than the limit's interval, so
        a request sent just before a window boundary and counted just after it by the
        server cannot overfill the server's window.
    funding_requests, funding_window_seconds
        ``/fapi/v1/fundingRate`` has its own budget (500 per 5 minutes per IP).
    data_requests, data_window_seconds
        Request budget of the ``/futures/data`` statistics endpoints.
    breaker_threshold, breaker_cooldown_seconds
        After this many consecutive transient failures on a host the circuit opens and
        requests to that host fail at once for the cooldown.
    recv_window_ms
        ``recvWindow`` of signed requests (the exchange's default is 5000, maximum 60000).
    history_days
        How far back the ``/futures/data`` endpoints serve history.
    ban_default_seconds
        Assumed length of a 418 ban that names no end (the exchange's shortest ban).
    """

    spot_url: str = DEFAULT_SPOT_URL
    futures_url: str = DEFAULT_FUTURES_URL
    api_key: Secret | None = None
    api_secret: Secret | None = None
    max_concurrency: int = 4
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    budget_share: float = 0.9
    window_guard_seconds: float = 1.0
    funding_requests: int = 500
    funding_window_seconds: float = 300.0
    data_requests: int = 1000
    data_window_seconds: float = 300.0
    breaker_threshold: int = 8
    breaker_cooldown_seconds: float = 30.0
    recv_window_ms: int = 5000
    history_days: int = 30
    ban_default_seconds: float = 120.0

    def __post_init__(self) -> None:
        _url("spot_url", self.spot_url)
        _url("futures_url", self.futures_url)
        checks = {
            "max_concurrency": self.max_concurrency >= 1,
            "timeout_seconds": self.timeout_seconds > 0,
            "max_attempts": self.max_attempts >= 1,
            "backoff_base_seconds": self.backoff_base_seconds >= 0,
            "backoff_cap_seconds": self.backoff_cap_seconds >= self.backoff_base_seconds,
            "budget_share": 0 < self.budget_share <= 1,
            "window_guard_seconds": self.window_guard_seconds >= 0,
            "funding_requests": self.funding_requests >= 1,
            "data_requests": self.data_requests >= 1,
            "breaker_threshold": self.breaker_threshold >= 1,
            "breaker_cooldown_seconds": self.breaker_cooldown_seconds >= 0,
            "recv_window_ms": 0 < self.recv_window_ms <= 60_000,
            "history_days": self.history_days >= 1,
        }
        require_valid(self, checks)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> BinanceConfig:
        """URLs and keys from ``env`` (the process environment by default); ``overrides`` for the rest."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "spot_url": _url("BINANCE_SPOT_URL", env.get("BINANCE_SPOT_URL") or DEFAULT_SPOT_URL),
            "futures_url": _url("BINANCE_FUTURES_URL",
                                env.get("BINANCE_FUTURES_URL") or DEFAULT_FUTURES_URL),
            "api_key": _secret(env, "BINANCE_API_KEY"),
            "api_secret": _secret(env, "BINANCE_API_SECRET"),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]
