"""Benchmark: rows per second for materializing every raw asset over N days × M symbols.

Runs the real jobs (single-run backfill per symbol, per on-chain asset and for ETF
flows) on the simulated market into a temporary DuckDB file and Dagster instance,
times each asset's step from the run's events, and prints rows, seconds and rows per
second per asset plus the wall time. Usage::

    python bench/raw.py [--days 7] [--symbols 5]
"""

import argparse
import os
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb

from quant_assets.automation.jobs import RAW_ETF_JOB, RAW_MARKET_JOB, RAW_ONCHAIN_JOB
from quant_assets.definitions import build_definitions
from quant_assets.raw.families import FAMILIES
from quant_assets.settings import DEFAULT_SYMBOLS, load_settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall seconds of each step of a run, from the event log's timestamps."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--symbols", type=int, default=5)
    args = parser.parse_args()
    extra = [f"SYM{i}USDT" for i in range(max(0, args.symbols - len(DEFAULT_SYMBOLS)))]
    symbols = (list(DEFAULT_SYMBOLS) + extra)[: args.symbols]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({**os.environ, "QUANT_DATA_DIR": tmp, "QUANT_SYMBOLS": ",".join(symbols)})
        defs = build_definitions(settings)
        last = datetime.now(UTC).date() - timedelta(days=2)
        first = last - timedelta(days=args.days - 1)
        runs = [(RAW_MARKET_JOB, f"{first}|{s}", f"{last}|{s}") for s in symbols]
        runs += [(RAW_ONCHAIN_JOB, f"{a}|{first}", f"{a}|{last}") for a in ONCHAIN_ASSETS]
        runs.append((RAW_ETF_JOB, first.isoformat(), last.isoformat()))
        per_asset: dict[str, float] = defaultdict(float)
        started = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            for job_name, start_key, end_key in runs:
                result = defs.resolve_job_def(job_name).execute_in_process(
                    instance=instance, run_config=QUIET, raise_on_error=True,
                    tags={"dagster/asset_partition_range_start": start_key,
                          "dagster/asset_partition_range_end": end_key})
                for step, seconds in step_seconds(instance, result.run_id).items():
                    per_asset[step.removeprefix("raw__")] += seconds
        wall = time.perf_counter() - started
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
            rows = {f.name: connection.execute(f"select count(*) from raw.{f.name}").fetchone()[0]
                    for f in FAMILIES}
    print(f"bench/raw: {args.days} days × {len(symbols)} symbols ({first}..{last}), "
          f"interval {settings.kline_interval}, simulated source")
    print(f"{'asset':<20}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    for family in FAMILIES:
        count, seconds = rows[family.name], per_asset[family.name]
        print(f"{family.name:<20}{count:>12,}{seconds:>10.2f}{count / seconds:>12,.0f}")
    total_rows = sum(rows.values())
    print(f"{'all raw assets':<20}{total_rows:>12,}{wall:>10.2f}{total_rows / wall:>12,.0f}  (wall time)")


if __name__ == "__main__":
    main()
