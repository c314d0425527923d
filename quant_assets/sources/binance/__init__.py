"""Binance spot and USDⓈ-M futures REST: the async client and the ``binance`` market source."""

from quant_assets.sources.binance.client import BinanceClient, ClientStats, Response
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.binance.errors import (
    BinanceAPIError,
    BinanceBanError,
    BinanceError,
    BinanceRateLimitError,
    BinanceUnavailableError,
    CircuitOpenError,
    MalformedResponseError,
    PaginationError,
)
from quant_assets.sources.binance.source import BinanceMarket
from quant_assets.sources.http import Secret

__all__ = [
    "BinanceAPIError",
    "BinanceBanError",
    "BinanceClient",
    "BinanceConfig",
    "BinanceError",
    "BinanceMarket",
    "BinanceRateLimitError",
    "BinanceUnavailableError",
    "CircuitOpenError",
    "ClientStats",
    "MalformedResponseError",
    "PaginationError",
    "Response",
    "Secret",
]
