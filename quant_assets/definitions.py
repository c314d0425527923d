"""The code location: assembles assets, checks, jobs and resources; defines nothing itself."""

from __future__ import annotations

import dagster as dg

from quant_assets import partitions
from quant_assets.automation.jobs import build_raw_jobs, build_raw_schedules
from quant_assets.raw.assets import build_raw_assets
from quant_assets.raw.freshness import build_freshness_check
from quant_assets.resources.duckdb_io import QuantDuckDBIOManager
from quant_assets.resources.market import LandingZoneResource, MarketSourceResource
from quant_assets.settings import Settings, load_settings


def build_partitions(settings: Settings) -> dict[str, dg.PartitionsDefinition]:
    """Partitions by kind: day × symbol, day × on-chain asset, day."""
    return {
        "symbol": partitions.by_day_and_symbol(settings),
        "asset": partitions.by_day_and_asset(settings),
        "day": partitions.daily(settings),
    }


def build_resources(settings: Settings) -> dict[str, object]:
    """The DuckDB IO manager, the market-data source and the landing zone."""
    return {
        "duckdb_io_manager": QuantDuckDBIOManager(database=str(settings.duckdb_path), schema="raw"),
        "market_source": MarketSourceResource(
            source=settings.source, simulation_seed=settings.simulation_seed,
            kline_interval=settings.kline_interval, landing_root=str(settings.landing_dir)),
        "landing_zone": LandingZoneResource(root=str(settings.landing_dir)),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions_by_kind = build_partitions(settings)
    raw_assets = build_raw_assets(settings, partitions_by_kind)
    freshness = build_freshness_check(raw_assets)
    jobs = build_raw_jobs(partitions_by_kind, freshness)
    return dg.Definitions(
        assets=raw_assets,
        asset_checks=[freshness],
        jobs=jobs,
        schedules=build_raw_schedules(jobs),
        resources=build_resources(settings),
        executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
    )


defs = build_definitions(load_settings())
