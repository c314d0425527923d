"""Exceptions of the Binance client; each names the host, endpoint and parameters (never secrets)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from quant_assets.sources.base import SourceError

#: Parameters that are never shown: they are, or are derived from, a credential.
HIDDEN_PARAMS = frozenset({"signature", "apiKey", "api_key", "secret"})


def describe(endpoint: str, params: Sequence[tuple[str, str]]) -> str:
    """``endpoint?a=1&b=2`` with hidden parameters left out."""
    shown = "&".join(f"{k}={v}" for k, v in params if k not in HIDDEN_PARAMS)
    return f"{endpoint}?{shown}" if shown else endpoint


class BinanceError(SourceError):
    """A request to Binance failed; ``retryable`` says whether a later run may succeed."""

    retryable = True

    def __init__(self, host: str, endpoint: str, params: Sequence[tuple[str, str]], reason: str) -> None:
        self.host = host
        self.endpoint = endpoint
        self.params = tuple((k, v) for k, v in params if k not in HIDDEN_PARAMS)
        self.reason = reason
        super().__init__(f"binance {host} GET {describe(endpoint, params)}: {reason}")


class BinanceAPIError(BinanceError):
    """The exchange refused the request, e.g. ``{"code":-1121,"msg":"Invalid symbol."}``."""

    retryable = False

    def __init__(self, host: str, endpoint: str, params: Sequence[tuple[str, str]], status: int,
                 code: int | None, msg: str) -> None:
        self.status = status
        self.code = code
        self.msg = msg
        detail = f"error {code}: {msg}" if code is not None else msg
        super().__init__(host, endpoint, params, f"HTTP {status}, {detail}")


class BinanceBanError(BinanceError):
    """HTTP 418: the IP is banned; nothing may be sent to the host before ``banned_until``."""

    retryable = False

    def __init__(self, host: str, endpoint: str, params: Sequence[tuple[str, str]],
                 banned_until: datetime, detail: str) -> None:
        self.banned_until = banned_until
        super().__init__(host, endpoint, params,
                         f"IP banned by the exchange until {format_utc(banned_until)} ({detail}); "
                         "all requests to this host are stopped until then")


class BinanceRateLimitError(BinanceError):
    """HTTP 429 answered every attempt; the budget was overrun by something else on this IP."""


class BinanceUnavailableError(BinanceError):
    """Transient faults (5xx, timeouts, resets, malformed bodies) outlasted every attempt."""


class CircuitOpenError(BinanceUnavailableError):
    """The host failed too often in a row; requests fail at once until the cooldown ends."""


class MalformedResponseError(BinanceError):
    """A 200 answer whose body is not the complete JSON document the endpoint promises."""


class PaginationError(BinanceError):
    """A paged endpoint stopped advancing (a server fault): the partition cannot be completed."""

    retryable = False


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
