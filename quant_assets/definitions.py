"""The code location: assembles assets, checks, jobs and resources; defines nothing itself."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from quant_assets.automation.alerts import build_alert_sensor
from quant_assets.automation.conditions import build_automation_sensor, module_condition
from quant_assets.automation.jobs import build_module_jobs, build_raw_jobs, build_raw_schedules
from quant_assets.automation.landing_sensor import build_landing_sensor
from quant_assets.automation.listing_sensor import build_listing_sensor
from quant_assets.modules import load_modules
from quant_assets.modules.assets import build_module_assets
from quant_assets.modules.frames import TICK_FRAMES
from quant_assets.partitions import build_partitions
from quant_assets.raw.assets import build_raw_assets
from quant_assets.raw.freshness import build_freshness_check
from quant_assets.resources import build_resources
from quant_assets.settings import Settings, load_settings

__all__ = ["build_definitions", "build_partitions", "build_resources", "defs"]


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions_by_kind = build_partitions(settings)
    raw_assets = build_raw_assets(settings, partitions_by_kind)
    freshness = build_freshness_check(raw_assets)
    modules = load_modules()
    module_assets = build_module_assets(modules, settings, partitions_by_kind, module_condition())
    jobs = build_raw_jobs(freshness) + build_module_jobs({
        module.id: (assets, module.declaration.partitioning,
                    any(node.frame in TICK_FRAMES for node in module.declaration.nodes.values()))
        for module, assets in zip(modules.values(), module_assets, strict=True)})
    return dg.Definitions(
        assets=[*raw_assets, *module_assets],
        asset_checks=[freshness],
        jobs=jobs,
        schedules=build_raw_schedules(jobs, partitions_by_kind["symbol"],
                                      timedelta(minutes=settings.kline_minutes)),
        sensors=[build_alert_sensor(str(settings.duckdb_path)),
                 build_automation_sensor([module.id for module in modules.values()]),
                 build_landing_sensor(settings.landing_dir, settings.symbols, partitions_by_kind["symbol"]),
                 build_listing_sensor(settings)],
        resources=build_resources(settings),
        executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
    )


defs = build_definitions(load_settings())
