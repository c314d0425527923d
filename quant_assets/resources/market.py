"""Resources the raw assets use: the market-data source and the landing zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from quant_assets.days import moment_or_now
from quant_assets.raw.landing import LandingZone
from quant_assets.sources import build_source
from quant_assets.sources.base import MarketSource, SourceError


class MarketSourceResource(dg.ConfigurableResource):
    """The market-data source selected by ``QUANT_SOURCE`` (simulated, binance or archive)."""

    source: str = Field(default="simulated", description="simulated, binance or archive")
    simulation_seed: int = Field(default=20240101, description="Seed of the simulated market")
    kline_interval: str = Field(default="1h", description="Kline interval, e.g. 1h")
    landing_root: str = Field(default="data/landing", description="Landing zone (recorded streams)")
    clock: str = Field(default="", description="UTC time (ISO, naive) the source takes as now; empty "
                       "means the wall clock. Replays the market as it stood at an earlier time (today's "
                       "open partition then holds what had closed by then).")

    def now(self) -> datetime:
        """The source's current UTC time (naive): ``clock`` if set, else the wall clock."""
        try:
            return moment_or_now(self.clock, "market_source.clock")
        except ValueError as exc:
            raise SourceError(str(exc)) from exc

    def get_source(self) -> MarketSource:
        return build_source(self.source, seed=self.simulation_seed, kline_interval=self.kline_interval,
                            landing_root=Path(self.landing_root), now=self.now)


class LandingZoneResource(dg.ConfigurableResource):
    """Where raw responses are kept, compressed, before parsing."""

    root: str = Field(description="Folder of the landing zone")

    def zone(self) -> LandingZone:
        return LandingZone(Path(self.root))
