"""Freshness of the newest partition of every raw asset.

Dagster's ``build_time_partition_freshness_checks`` accepts only plain time-window
partitions, and the raw assets are partitioned by day × symbol (or asset), so this
check asks the instance directly: once a UTC day has been closed for ``grace``, every
partition of that day must be materialized, and its newest materialization must be a
complete one (not an hourly refresh from while the day was open). The failure names
the missing partitions.
"""


from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import dagster as dg

from quant_assets.days import utc_now
from quant_assets.raw.assets import COMPLETE

CHECK_NAME = "newest_partition_fresh"


def expected_day(now: datetime, grace: timedelta) -> date:
    """The newest day whose partitions must exist at ``now`` (naive UTC)."""
    return (now - grace).date() - timedelta(days=1)


def partition_keys_of_day(partitions_def: dg.PartitionsDefinition, day: date) -> list[str]:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        other = next(d for d in partitions_def.partitions_defs if d.name != "date")
        return [
            str(dg.MultiPartitionKey({"date": day.isoformat(), other.name: value}))
            for value in other.partitions_def.get_partition_keys()
        ]
    return [day.isoformat()]


def missing_partitions(instance: dg.DagsterInstance, key: dg.AssetKey,
                       partitions_def: dg.PartitionsDefinition, day: date) -> list[str]:
    """Partition keys of ``day`` that ``key`` has not materialized complete: never, or last
    while the day was still open (a refresh of today's partition, not the closing run)."""
    expected = partition_keys_of_day(partitions_def, day)
    done = instance.get_materialized_partitions(key)
    missing = [k for k in expected if k not in done]
    return missing + [f"{k} (open-day copy)" for k in _open_copies(instance, key, [k for k in expected
                                                                                 if k in done])]


def _open_copies(instance: dg.DagsterInstance, key: dg.AssetKey, partition_keys: list[str]) -> list[str]:
    """Of ``partition_keys``, those whose newest materialization says ``complete: false``."""
    newest: dict[str, bool] = {}
    cursor = None
    while len(newest) < len(partition_keys):
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=partition_keys), limit=1000, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            if materialization is not None and materialization.partition not in newest:
                complete = materialization.metadata.get(COMPLETE)
                newest[materialization.partition] = complete is None or bool(complete.value)
        if not page.has_more:
            break
        cursor = page.cursor
    return [k for k in partition_keys if not newest.get(k, True)]


def build_freshness_check(
    assets: Sequence[dg.AssetsDefinition],
    grace: timedelta = timedelta(hours=2),
    now: Callable[[], datetime] = utc_now,
) -> dg.AssetChecksDefinition:
    by_key = {a.key: a for a in assets}

    @dg.multi_asset_check(
        name="raw_freshness",
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME, asset=key,
                description=f"every partition of the newest closed day exists {grace} after it closed",
            )
            for key in by_key
        ],
        can_subset=True,
    )
    def raw_freshness(context: dg.AssetCheckExecutionContext):
        day = expected_day(now(), grace)
        for check_key in context.selected_asset_check_keys:
            key, asset = check_key.asset_key, by_key[check_key.asset_key]
            expected = partition_keys_of_day(asset.partitions_def, day)
            missing = missing_partitions(context.instance, key, asset.partitions_def, day)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=CHECK_NAME,
                passed=not missing,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(f"{len(missing)} partition(s) of {day} missing: {', '.join(missing)}"
                             if missing else f"all {len(expected)} partitions of {day} materialized"),
                metadata={"expected_day": day.isoformat(), "missing": len(missing)},
            )

    return raw_freshness
