"""Resources: the DuckDB IO manager and score store, the market source and the landing zone."""

from __future__ import annotations

from quant_assets.resources.duckdb_io import QuantDuckDBIOManager
from quant_assets.resources.market import LandingZoneResource, MarketSourceResource
from quant_assets.resources.score_store import ScoreStoreResource
from quant_assets.settings import Settings


def build_resources(settings: Settings, clock: str = "") -> dict[str, object]:
    """The DuckDB IO manager and score store, the market-data source and the landing zone;
    ``clock`` (ISO, UTC) replays the source as it stood then (empty: the wall clock)."""
    return {
        "duckdb_io_manager": QuantDuckDBIOManager(database=str(settings.duckdb_path), schema="raw"),
        "score_store": ScoreStoreResource(database=str(settings.duckdb_path)),
        "market_source": MarketSourceResource(
            source=settings.source, simulation_seed=settings.simulation_seed,
            kline_interval=settings.kline_interval, landing_root=str(settings.landing_dir), clock=clock),
        "landing_zone": LandingZoneResource(root=str(settings.landing_dir)),
    }
