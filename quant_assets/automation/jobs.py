"""Jobs over the raw and module assets, and the schedules built from them: backfills and
schedules share one definition."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pandas as pd

from quant_assets.days import closed_until
from quant_assets.raw.families import FAMILIES
from quant_assets.raw.freshness import partition_keys_of_day

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


def day_schedule(job: dg.UnresolvedAssetJobDefinition, partitions_def: dg.PartitionsDefinition,
                 name: str, cron: str, days_back: int, description: str,
                 status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
                 bar: timedelta = timedelta(hours=1)) -> dg.ScheduleDefinition:
    """A schedule of ``job`` for every partition of the UTC day ``days_back`` days before the
    tick (0: today's open day, 1: yesterday's closed one), one run per partition key. Today's
    day is skipped until its first ``bar`` has closed (there is nothing of it to store yet)."""

    @dg.schedule(name=name, job=job, cron_schedule=cron, execution_timezone="UTC", description=description,
                 default_status=status)
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        day = tick.date() - timedelta(days=days_back)
        if closed_until(day, tick.replace(tzinfo=None), pd.Timedelta(bar)) == pd.Timestamp(day):
            return dg.SkipReason(f"no {bar} bar of {day} has closed at {tick:%H:%M} UTC yet")
        return [dg.RunRequest(run_key=f"{key}@{tick:%Y-%m-%dT%H:%M}", partition_key=key)
                for key in partition_keys_of_day(partitions_def, day)]

    return _schedule


def build_raw_schedules(jobs: list[dg.UnresolvedAssetJobDefinition], by_symbol: dg.PartitionsDefinition,
                        bar: timedelta) -> list[dg.ScheduleDefinition]:
    """Schedules built from the partitioned jobs, so schedules and backfills share one definition:
    every raw family's closed day (on by default; the modules follow by automation), today's
    open day of the exchange families every hour, the short-history series alone (off by
    default: for deployments that do not schedule the whole market job), and the freshness
    check after its grace period. ``by_symbol`` is the exchange families' day × symbol and
    ``bar`` the kline interval."""
    by_name = {job.name: job for job in jobs}
    running = dg.DefaultScheduleStatus.RUNNING
    closed_daily = [  # yesterday's closed partitions, ten minutes into the UTC day
        dg.build_schedule_from_partitioned_job(by_name[name], hour_of_day=0, minute_of_hour=10,
                                               name=f"{name.removesuffix('_job')}_daily",
                                               default_status=running)
        for name in (RAW_ONCHAIN_JOB, RAW_ETF_JOB)]
    market = by_name[RAW_MARKET_JOB]
    return [
        day_schedule(market, by_symbol, "raw_market_daily", "10 0 * * *", 1,
                     "Yesterday's exchange partitions, closed: replaces the day's open copy.", running),
        day_schedule(market, by_symbol, "raw_market_hourly", "5 * * * *", 0,
                     "Today's open exchange partitions: what has closed so far, refreshed every hour.",
                     running, bar),
        *closed_daily,
        day_schedule(by_name[SHORT_HISTORY_JOB], by_symbol, "short_history_daily", "20 0 * * *", 1,
                     "Open interest, long/short and taker ratios of yesterday, before the exchange's "
                     "30-day window drops them."),
        dg.ScheduleDefinition(name="raw_freshness_daily", job=by_name[RAW_FRESHNESS_JOB],
                              cron_schedule="30 2 * * *", execution_timezone="UTC", default_status=running,
                              description="Is every partition of yesterday there, complete, two hours "
                                          "after it closed?"),
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
