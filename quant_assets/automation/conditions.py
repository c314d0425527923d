"""When module assets update themselves: declarative automation over the raw partitions.

Every metric node and score of a module is eager over the last :data:`LOOKBACK` of
partitions, not only the latest one: when a raw partition lands or is re-landed, every
module partition whose history reads it is requested, once, as soon as none of its inputs
is missing or in progress. Cross-symbol modules (lead-lag, allocation) read every symbol's
partition of the date, so they wait until all of them are present. A change older than the
lookback is left to an explicit backfill (``quant-assets backfill``), so a first evaluation
on a long history does not queue years of runs.
"""

from datetime import timedelta

import dagster as dg

#: How far back a raw update re-scores module partitions automatically.
LOOKBACK = timedelta(days=7)
SENSOR_NAME = "module_automation"


def module_condition(lookback: timedelta = LOOKBACK) -> dg.AutomationCondition:
    """``eager()`` with its latest-time-window limit widened to ``lookback``."""
    return dg.AutomationCondition.eager().replace(
        "in_latest_time_window", dg.AutomationCondition.in_latest_time_window(lookback_delta=lookback)
    ).with_label(f"eager over the last {lookback.days} days")


def build_automation_sensor(module_groups: list[str]) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        SENSOR_NAME, target=dg.AssetSelection.groups(*module_groups),
        default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
        description="Requests the module partitions whose raw inputs landed "
                    "(see quant_assets.automation.conditions).")
