"""Jobs over the raw assets; backfills and (later) schedules share these definitions."""

from __future__ import annotations

import dagster as dg

from quant_assets.raw.families import FAMILIES

RAW_MARKET_JOB = "raw_market_job"
RAW_ONCHAIN_JOB = "raw_onchain_job"
RAW_ETF_JOB = "raw_etf_job"
RAW_BARS_JOB = "raw_bars_job"
RAW_TICKS_JOB = "raw_ticks_job"
MODULES_BARS_JOB = "modules_bars_job"
MODULES_TICKS_JOB = "modules_ticks_job"
MODULES_DAILY_JOB = "modules_daily_job"
#: Raw families with a row per quote, snapshot or trade: large, and read only by tick-level modules.
TICK_FAMILIES = ("book_ticker", "depth_snapshots", "agg_trades")
RAW_FRESHNESS_JOB = "raw_freshness_job"
SHORT_HISTORY_JOB = "short_history_job"
#: Series the exchange serves for only the last ~30 days: lost unless fetched while they exist.
SHORT_HISTORY_FAMILIES = ("open_interest", "long_short_ratio", "taker_volume")


def _raw(partitioning: str, freshness_check: dg.AssetChecksDefinition,
         ticks: bool | None = None) -> dg.AssetSelection:
    """The raw assets of one partitioning with their own checks, without the freshness check
    (which asks about the newest day and would fail on every backfill of history);
    ``ticks`` keeps only (True) or drops (False) the tick-level families."""
    keys = [dg.AssetKey(["raw", f.name]) for f in FAMILIES if f.partitioning == partitioning
            and (ticks is None or (f.name in TICK_FAMILIES) == ticks)]
    return dg.AssetSelection.assets(*keys) - dg.AssetSelection.checks(freshness_check)


def build_raw_jobs(freshness_check: dg.AssetChecksDefinition) -> list[dg.UnresolvedAssetJobDefinition]:
    """The raw jobs; each job's partitions are its assets' (day × symbol, day × asset, day)."""
    return [
        dg.define_asset_job(RAW_MARKET_JOB, selection=_raw("symbol", freshness_check),
                            description="All exchange raw assets of a date range for one symbol."),
        dg.define_asset_job(RAW_BARS_JOB, selection=_raw("symbol", freshness_check, ticks=False),
                            description="Bar-level exchange raw assets (klines, derivatives, snapshots) "
                                        "of a date range for one symbol."),
        dg.define_asset_job(RAW_TICKS_JOB, selection=_raw("symbol", freshness_check, ticks=True),
                            description="Tick-level raw assets (book ticker, depth, trades) of a date "
                                        "range for one symbol."),
        dg.define_asset_job(RAW_ONCHAIN_JOB, selection=_raw("asset", freshness_check),
                            description="On-chain raw metrics of a date range for one asset."),
        dg.define_asset_job(RAW_ETF_JOB, selection=_raw("day", freshness_check),
                            description="ETF flows of a date range."),
        dg.define_asset_job(
            SHORT_HISTORY_JOB,
            selection=dg.AssetSelection.assets(*[dg.AssetKey(["raw", f]) for f in SHORT_HISTORY_FAMILIES])
            - dg.AssetSelection.checks(freshness_check),
            description="Open interest, long/short and taker ratios: the exchange keeps ~30 days, so "
                        "they are fetched every day to accumulate history."),
        dg.define_asset_job(RAW_FRESHNESS_JOB, selection=dg.AssetSelection.checks(freshness_check),
                            description="Is the newest closed day of every raw asset materialized?"),
    ]


def build_raw_schedules(jobs: list[dg.UnresolvedAssetJobDefinition]) -> list[dg.ScheduleDefinition]:
    """Schedules built from the partitioned jobs, so schedules and backfills share one definition:
    every raw family's closed day (on by default; the modules follow by automation), the
    short-history series alone (off by default: for deployments that do not schedule the
    whole market job), and the freshness check after its grace period."""
    by_name = {job.name: job for job in jobs}
    daily = [  # yesterday's closed partitions, ten minutes into the UTC day
        dg.build_schedule_from_partitioned_job(by_name[name], hour_of_day=0, minute_of_hour=10,
                                               name=f"{name.removesuffix('_job')}_daily",
                                               default_status=dg.DefaultScheduleStatus.RUNNING)
        for name in (RAW_MARKET_JOB, RAW_ONCHAIN_JOB, RAW_ETF_JOB)]
    return [
        *daily,
        dg.build_schedule_from_partitioned_job(by_name[SHORT_HISTORY_JOB], hour_of_day=0,
                                               minute_of_hour=20, name="short_history_daily"),
        dg.ScheduleDefinition(name="raw_freshness_daily", job=by_name[RAW_FRESHNESS_JOB],
                              cron_schedule="30 2 * * *", execution_timezone="UTC",
                              default_status=dg.DefaultScheduleStatus.RUNNING,
                              description="Is every partition of yesterday there two hours after it closed?"),
    ]


def build_module_jobs(module_assets: dict[str, tuple[dg.AssetsDefinition, str, bool]]
                      ) -> list[dg.UnresolvedAssetJobDefinition]:
    """Jobs over the module steps: per-symbol modules on bars, per-symbol modules that read
    ticks (they need tick history only), and the daily cross-symbol / on-chain modules.
    ``module_assets`` maps a module id to (assets, partitioning, reads ticks)."""

    def select(partitioning: str, ticks: bool | None) -> dg.AssetSelection:
        chosen = [assets for assets, kind, tick in module_assets.values()
                  if kind == partitioning and (ticks is None or tick == ticks)]
        return dg.AssetSelection.assets(*chosen)

    return [
        dg.define_asset_job(MODULES_BARS_JOB, selection=select("symbol", False),
                            description="Per-symbol modules computed from bars, one symbol's range."),
        dg.define_asset_job(MODULES_TICKS_JOB, selection=select("symbol", True),
                            description="Per-symbol modules that read quotes, depth and trades."),
        dg.define_asset_job(MODULES_DAILY_JOB, selection=select("day", None),
                            description="Daily modules over all symbols or assets: lead-lag, macro, "
                                        "allocation."),
    ]
