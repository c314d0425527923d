"""Resources the raw assets use: the market-data source and the landing zone."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from quant_assets.raw.landing import LandingZone
from quant_assets.sources import build_source
from quant_assets.sources.base import MarketSource


class MarketSourceResource(dg.ConfigurableResource):
    """The market-data source selected by ``QUANT_SOURCE`` (simulated, binance or archive)."""

    source: str = Field(default="simulated", description="simulated, binance or archive")
    simulation_seed: int = Field(default=20240101, description="Seed of the simulated market")
    kline_interval: str = Field(default="1h", description="Kline interval, e.g. 1h")
    landing_root: str = Field(default="data/landing", description="Landing zone (recorded streams)")

    def get_source(self) -> MarketSource:
        return build_source(self.source, seed=self.simulation_seed, kline_interval=self.kline_interval,
                            landing_root=Path(self.landing_root))


class LandingZoneResource(dg.ConfigurableResource):
    """Where raw responses are kept, compressed, before parsing."""

    root: str = Field(description="Folder of the landing zone")

    def zone(self) -> LandingZone:
        return LandingZone(Path(self.root))
