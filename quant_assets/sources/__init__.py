"""Market-data sources behind one interface (:class:`~quant_assets.sources.base.MarketSource`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from quant_assets.sources.base import MarketSource, SourceError
from quant_assets.sources.simulated.source import SimulatedMarket


def build_source(name: str, *, seed: int, kline_interval: str, landing_root: Path,
                 now: Callable[[], datetime] | None = None) -> MarketSource:
    """The source called ``name`` (the value of ``QUANT_SOURCE``).

    The real sources serve exchange data themselves, on-chain and ETF data through the
    Glassnode client and the ETF table importer, and (for ``binance``) order books, book
    tickers and liquidations from the stream recorder's files under ``landing_root``.
    ``now`` is the current UTC time (naive) the simulated and exchange sources go by.
    """
    if name == "simulated":
        return SimulatedMarket(seed=seed, kline_interval=kline_interval, now=now)
    if name not in ("binance", "archive"):
        raise SourceError(f"QUANT_SOURCE={name}: unknown source; use simulated, binance or archive")
    # Imported here: these packages import quant_assets.sources.base, i.e. this package.
    from quant_assets.sources.onchain_source import CompositeSource, OnchainMarket

    if name == "binance":
        from quant_assets.sources.binance.source import BinanceMarket
        from quant_assets.sources.recorder import RecordedStreams

        recorded = RecordedStreams(landing_root)
        return CompositeSource(BinanceMarket(kline_interval=kline_interval, now=now), OnchainMarket(now=now),
                               routes=dict.fromkeys(RecordedStreams.FAMILIES, recorded))
    from quant_assets.sources.archive.source import ArchiveMarket

    return CompositeSource(ArchiveMarket(kline_interval=kline_interval), OnchainMarket(now=now))
