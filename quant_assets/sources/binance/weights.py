"""Which host serves an endpoint, what a request weighs and which extra request budget it draws on.

Weights are from ``shared/fixtures/BINANCE_API_FACTS.md`` section 1 unless a comment
says otherwise. The client never sends a request to an endpoint missing from this
table: an unknown weight could break the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

Host = Literal["spot", "futures"]

#: Endpoints with their own per-IP request-count limits besides REQUEST_WEIGHT.
RequestPool = Literal["funding", "futures_data"]


def host_of(endpoint: str) -> Host:
    """``/api/...`` is served by the spot host; ``/fapi/...`` and ``/futures/data/...`` by futures."""
    if endpoint.startswith("/api/"):
        return "spot"
    if endpoint.startswith(("/fapi/", "/futures/data/")):
        return "futures"
    raise ValueError(f"{endpoint}: not a Binance spot (/api) or USDⓈ-M futures (/fapi, /futures/data) path")


def _limit(params: Mapping[str, str], default: int) -> int:
    value = params.get("limit")
    return default if value is None else int(value)


def _spot_depth(params: Mapping[str, str]) -> int:
    limit = _limit(params, 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _futures_depth(params: Mapping[str, str]) -> int:
    limit = _limit(params, 500)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _futures_klines(params: Mapping[str, str]) -> int:
    limit = _limit(params, 500)
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _spot_ticker_24hr(params: Mapping[str, str]) -> int:
    if "symbol" in params:
        return 2
    if "symbols" in params:
        count = params["symbols"].count(",") + 1
        # The facts give 2 for 1–20 symbols and "higher tiers" above; the all-symbols
        # weight is the safe upper bound for those tiers.
        return 2 if count <= 20 else 80
    return 80


def _with_symbol(with_symbol: int, without: int) -> Callable[[Mapping[str, str]], int]:
    return lambda params: with_symbol if "symbol" in params else without


_WEIGHTS: dict[str, Callable[[Mapping[str, str]], int]] = {
    # spot
    "/api/v3/klines": lambda _p: 2,
    "/api/v3/depth": _spot_depth,
    "/api/v3/aggTrades": lambda _p: 4,
    "/api/v3/avgPrice": lambda _p: 2,
    "/api/v3/ticker/24hr": _spot_ticker_24hr,
    "/api/v3/ticker/bookTicker": _with_symbol(2, 4),
    # Not in the facts file; weights from the spot REST pages (General endpoints, Account).
    "/api/v3/exchangeInfo": lambda _p: 20,
    "/api/v3/time": lambda _p: 1,
    "/api/v3/account": lambda _p: 20,
    # USDⓈ-M futures
    "/fapi/v1/klines": _futures_klines,
    "/fapi/v1/markPriceKlines": _futures_klines,
    "/fapi/v1/depth": _futures_depth,
    "/fapi/v1/aggTrades": lambda _p: 20,
    # The page says 1; mirrors say 10 without a symbol: take the larger where unsure.
    "/fapi/v1/premiumIndex": _with_symbol(1, 10),
    "/fapi/v1/ticker/bookTicker": _with_symbol(2, 5),
    # Not weight-based: its own 500 requests / 5 minutes (the "funding" pool).
    "/fapi/v1/fundingRate": lambda _p: 0,
    "/futures/data/openInterestHist": lambda _p: 0,
    "/futures/data/globalLongShortAccountRatio": lambda _p: 0,
    "/futures/data/topLongShortAccountRatio": lambda _p: 0,
    "/futures/data/topLongShortPositionRatio": lambda _p: 0,
    "/futures/data/takerlongshortRatio": lambda _p: 0,
    # Not in the facts file; from the USDⓈ-M REST pages (Exchange Information, Check Server
    # Time, Futures Account Balance V2).
    "/fapi/v1/exchangeInfo": lambda _p: 1,
    "/fapi/v1/time": lambda _p: 1,
    "/fapi/v2/balance": lambda _p: 5,
}


def known_endpoints() -> tuple[str, ...]:
    return tuple(_WEIGHTS)


def request_weight(endpoint: str, params: Mapping[str, str]) -> int:
    """REQUEST_WEIGHT of one call of ``endpoint`` with ``params``."""
    weight = _WEIGHTS.get(endpoint)
    if weight is None:
        raise ValueError(f"{endpoint}: no request weight is known for this endpoint, so the client "
                         "will not send it (add it to quant_assets/sources/binance/weights.py)")
    return weight(params)


def request_pool(endpoint: str) -> RequestPool | None:
    """The request-count budget ``endpoint`` draws on besides its weight, if any."""
    if endpoint == "/fapi/v1/fundingRate":
        return "funding"
    if endpoint.startswith("/futures/data/"):
        # Zero weight, but the statistics endpoints are limited by request count per IP
        # (not in the facts file; a conservative budget costs only speed).
        return "futures_data"
    return None
