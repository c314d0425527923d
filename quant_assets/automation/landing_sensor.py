"""New files from the stream recorder trigger the raw partitions they belong to.

``quant-assets record`` lands one file per stream, symbol and hour under
``<landing>/binance/<family>/<day>/<symbol>/``. The sensor looks for files modified
since its cursor, and requests the raw asset of each (family, day, symbol) partition they
belong to, for configured symbols and days that are partitions already (closed UTC days).
The run key names the newest file's modification time, so a partition is materialized
again when a later hour (or a re-recorded file) lands, and never twice for the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from quant_assets.days import utc_now
from quant_assets.sources.recorder import SOURCE, RecordedStreams

SENSOR_NAME = "recorded_landing_files"


@dataclass(frozen=True)
class LandedPartition:
    family: str
    day: date
    symbol: str
    newest_ns: int  # modification time of its newest landing file

    @property
    def partition_key(self) -> str:
        return f"{self.day.isoformat()}|{self.symbol}"


def landed_partitions(root: Path, families: Iterable[str], symbols: Iterable[str], after_ns: int,
                      last_day: date) -> Iterator[LandedPartition]:
    """Partitions with a landing file modified after ``after_ns`` (ns since the epoch)."""
    wanted = set(symbols)
    for family in families:
        for day_folder in sorted((root / SOURCE / family).glob("*")):
            try:
                day = date.fromisoformat(day_folder.name)
            except ValueError:
                continue  # not a day folder
            if day > last_day:
                continue  # the day is still open: not a partition yet
            for symbol_folder in sorted(day_folder.glob("*")):
                if symbol_folder.name not in wanted:
                    continue
                newest = max((p.stat().st_mtime_ns for p in symbol_folder.glob("*.jsonl.gz")), default=0)
                if newest > after_ns:
                    yield LandedPartition(family, day, symbol_folder.name, newest)


def build_landing_sensor(landing_root: Path, symbols: Iterable[str],
                         partitions_def: dg.MultiPartitionsDefinition) -> dg.SensorDefinition:
    """The sensor over ``landing_root`` for the day × symbol raw assets of the recorded streams."""
    symbols = tuple(symbols)
    days = partitions_def.get_partitions_def_for_dimension("date")
    keys = [dg.AssetKey(["raw", family]) for family in RecordedStreams.FAMILIES]

    @dg.sensor(name=SENSOR_NAME, target=dg.AssetSelection.assets(*keys), minimum_interval_seconds=300,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Materializes raw book ticker, depth and liquidation partitions when the "
                           "stream recorder lands new hour files for them.")
    def recorded_landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {"after_ns": 0}
        last_key = days.get_last_partition_key()
        if last_key is None:
            return dg.SensorResult(skip_reason="no day is a partition yet")
        # Closed days only: today's open partition is refreshed by the hourly schedule.
        last_day = min(date.fromisoformat(last_key), utc_now().date() - timedelta(days=1))
        found = list(landed_partitions(landing_root, RecordedStreams.FAMILIES, symbols, cursor["after_ns"],
                                       last_day))
        requests = [dg.RunRequest(run_key=f"{p.family}|{p.partition_key}|{p.newest_ns}",
                                  partition_key=p.partition_key,
                                  asset_selection=[dg.AssetKey(["raw", p.family])]) for p in found]
        newest = max([cursor["after_ns"], *(p.newest_ns for p in found)])
        return dg.SensorResult(run_requests=requests, cursor=json.dumps({"after_ns": newest}),
                               skip_reason=None if requests else "no new landing files")

    return recorded_landing_files
