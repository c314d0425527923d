"""Jobs over the raw assets; backfills and (later) schedules share these definitions."""

from __future__ import annotations

import dagster as dg

from quant_assets.raw.families import FAMILIES

RAW_MARKET_JOB = "raw_market_job"
RAW_ONCHAIN_JOB = "raw_onchain_job"
RAW_ETF_JOB = "raw_etf_job"
RAW_FRESHNESS_JOB = "raw_freshness_job"
SHORT_HISTORY_JOB = "short_history_job"
#: Series the exchange serves for only the last ~30 days: lost unless fetched while they exist.
SHORT_HISTORY_FAMILIES = ("open_interest", "long_short_ratio", "taker_volume")


def _raw(partitioning: str, freshness_check: dg.AssetChecksDefinition) -> dg.AssetSelection:
    """The raw assets of one partitioning with their own checks, without the freshness check
    (which asks about the newest day and would fail on every backfill of history)."""
    keys = [dg.AssetKey(["raw", f.name]) for f in FAMILIES if f.partitioning == partitioning]
    return dg.AssetSelection.assets(*keys) - dg.AssetSelection.checks(freshness_check)


def build_raw_jobs(partitions: dict[str, dg.PartitionsDefinition],
                   freshness_check: dg.AssetChecksDefinition) -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(RAW_MARKET_JOB, selection=_raw("symbol", freshness_check),
                            partitions_def=partitions["symbol"],
                            description="All exchange raw assets of a date range for one symbol."),
        dg.define_asset_job(RAW_ONCHAIN_JOB, selection=_raw("asset", freshness_check),
                            partitions_def=partitions["asset"],
                            description="On-chain raw metrics of a date range for one asset."),
        dg.define_asset_job(RAW_ETF_JOB, selection=_raw("day", freshness_check),
                            partitions_def=partitions["day"], description="ETF flows of a date range."),
        dg.define_asset_job(
            SHORT_HISTORY_JOB,
            selection=dg.AssetSelection.assets(*[dg.AssetKey(["raw", f]) for f in SHORT_HISTORY_FAMILIES])
            - dg.AssetSelection.checks(freshness_check),
            partitions_def=partitions["symbol"],
            description="Open interest, long/short and taker ratios: the exchange keeps ~30 days, so "
                        "they are fetched every day to accumulate history."),
        dg.define_asset_job(RAW_FRESHNESS_JOB, selection=dg.AssetSelection.checks(freshness_check),
                            description="Is the newest closed day of every raw asset materialized?"),
    ]


def build_raw_schedules(jobs: list[dg.UnresolvedAssetJobDefinition]) -> list[dg.ScheduleDefinition]:
    """Schedules built from the partitioned jobs, so schedules and backfills share one definition."""
    by_name = {job.name: job for job in jobs}
    return [
        dg.build_schedule_from_partitioned_job(by_name[SHORT_HISTORY_JOB], hour_of_day=0,
                                               minute_of_hour=20, name="short_history_daily"),
    ]
