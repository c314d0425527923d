"""Market-data sources behind one interface (:class:`~quant_assets.sources.base.MarketSource`)."""

from __future__ import annotations

from quant_assets.sources.base import MarketSource, SourceError
from quant_assets.sources.simulated.source import SimulatedMarket


def build_source(name: str, *, seed: int, kline_interval: str) -> MarketSource:
    """The source called ``name`` (the value of ``QUANT_SOURCE``)."""
    if name == "simulated":
        return SimulatedMarket(seed=seed, kline_interval=kline_interval)
    if name in ("binance", "archive"):
        raise SourceError(
            f"QUANT_SOURCE={name}: this source is not built yet (the Binance REST client, archive "
            "replay and stream recorder are a later milestone); use QUANT_SOURCE=simulated"
        )
    raise SourceError(f"QUANT_SOURCE={name}: unknown source; use simulated, binance or archive")
