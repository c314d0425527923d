"""Benchmark: the analysis modules over N symbols × D days, then one new day.

Materializes the raw inputs on the simulated market (bar-level families over the
range, quotes/depth/trades over the last ``--tick-days``; timed but reported apart),
then runs the real module jobs (one run per symbol for the per-symbol modules, one run
for the daily modules) into a temporary DuckDB file and Dagster instance, and prints
per module the step seconds, score rows and rows per second, the wall time and the
process's peak memory. Then it lands one more day of raw data and times the modules
for that day alone, one run per job over every symbol of the day, as the daily
schedule does. Usage::

    python bench/pipeline.py [--symbols 20] [--days 90] [--tick-days 2]
"""

import argparse
import os
import resource
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from quant_assets.automation.backfill import QUIET_LOGS, range_tags
from quant_assets.automation.jobs import (
    MODULES_BARS_JOB,
    MODULES_DAILY_JOB,
    MODULES_TICKS_JOB,
    RAW_BARS_JOB,
    RAW_ETF_JOB,
    RAW_ONCHAIN_JOB,
    RAW_TICKS_JOB,
)
from quant_assets.definitions import build_definitions
from quant_assets.settings import DEFAULT_SYMBOLS, load_settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self.materializations = 0  # one per asset and partition (a range run reports each partition)

    def add(self, result: dg.ExecuteInProcessResult) -> None:
        seen: set[str] = set()
        events = result.get_asset_materialization_events()
        self.materializations += len(events)
        for event in events:
            materialization = event.event_specific_data.materialization
            # A single-run backfill reports one event per partition, all from the same step.
            if materialization.asset_key.path[0] != "scores" or event.step_key in seen:
                continue
            seen.add(event.step_key)
            metadata = materialization.metadata
            table = materialization.asset_key.path[-1]
            self.seconds[table] += float(metadata["seconds"].value)
            self.rows[table] += int(metadata["dagster/row_count"].value)


def run(defs: dg.Definitions, instance: dg.DagsterInstance, job: str, first: str, last: str,
        timings: Timings | None = None) -> float:
    started = time.perf_counter()
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=range_tags(first, last), run_config=QUIET_LOGS, raise_on_error=False)
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        raise SystemExit(f"{job} {first}..{last} failed: {failures[:2]}")
    if timings is not None:
        timings.add(result)
    return time.perf_counter() - started


def raw_phase(defs, instance, symbols, first: date, last: date, tick_first: date) -> float:
    seconds = 0.0
    for symbol in symbols:
        seconds += run(defs, instance, RAW_BARS_JOB, f"{first}|{symbol}", f"{last}|{symbol}")
        seconds += run(defs, instance, RAW_TICKS_JOB, f"{tick_first}|{symbol}", f"{last}|{symbol}")
    for asset in ONCHAIN_ASSETS:
        seconds += run(defs, instance, RAW_ONCHAIN_JOB, f"{asset}|{first}", f"{asset}|{last}")
    seconds += run(defs, instance, RAW_ETF_JOB, first.isoformat(), last.isoformat())
    return seconds


def module_phase(defs, instance, symbols, first: date, last: date, tick_first: date) -> tuple[float, Timings]:
    """Per-symbol modules as one run per symbol over the range (a backfill's shape), then the
    daily modules in one run."""
    timings = Timings()
    started = time.perf_counter()
    for symbol in symbols:
        run(defs, instance, MODULES_BARS_JOB, f"{first}|{symbol}", f"{last}|{symbol}", timings)
        run(defs, instance, MODULES_TICKS_JOB, f"{tick_first}|{symbol}", f"{last}|{symbol}", timings)
    run(defs, instance, MODULES_DAILY_JOB, first.isoformat(), last.isoformat(), timings)
    return time.perf_counter() - started, timings


def new_day_phase(defs, instance, symbols, day: date) -> tuple[float, Timings]:
    """A new day as the daily schedule runs it: one run per job over every symbol of the day."""
    timings = Timings()
    started = time.perf_counter()
    for job in (MODULES_BARS_JOB, MODULES_TICKS_JOB):
        run(defs, instance, job, f"{day}|{symbols[0]}", f"{day}|{symbols[-1]}", timings)
    run(defs, instance, MODULES_DAILY_JOB, day.isoformat(), day.isoformat(), timings)
    return time.perf_counter() - started, timings


def report(title: str, wall: float, timings: Timings) -> None:
    print(f"\n{title}: wall {wall:.1f} s, peak RSS {peak_mib():.0f} MiB "
          f"(+ {worker_peak_mib():.0f} MiB in module worker processes)")
    print(f"  {'score table':<26} {'seconds':>8} {'rows':>9} {'rows/s':>9}")
    for table in sorted(timings.seconds, key=timings.seconds.get, reverse=True):
        seconds, rows = timings.seconds[table], timings.rows[table]
        print(f"  {table:<26} {seconds:>8.1f} {rows:>9,} {rows / max(seconds, 1e-9):>9,.0f}")
    total_rows = sum(timings.rows.values())
    steps = sum(timings.seconds.values())
    print(f"  {'all modules':<26} {steps:>8.1f} {total_rows:>9,} {total_rows / wall:>9,.0f} "
          "(per wall second)")
    print(f"  outside the module steps (Dagster runs and events): {wall - steps:.1f} s for "
          f"{timings.materializations:,} asset-partition materializations "
          f"({(wall - steps) / max(timings.materializations, 1) * 1000:.2f} ms each)")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_mib() -> float:
    """Summed peak RSS (VmHWM) of the live descendant processes: the module worker pool and its
    fork server (Linux /proc; 0 elsewhere)."""
    parents: dict[int, int] = {}
    peaks: dict[int, float] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # the process ended while we read
            continue
        pid = int(status.parent.name)
        parents[pid] = int(fields["PPid"])
        peaks[pid] = float(fields.get("VmHWM", "0 kB").split()[0]) / 1024
    me, total = os.getpid(), 0.0
    for pid, peak in peaks.items():
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parents.get(ancestor)
        total += peak if ancestor == me else 0.0
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--tick-days", type=int, default=2)
    args = parser.parse_args()
    extra = [f"SYM{i}USDT" for i in range(max(0, args.symbols - len(DEFAULT_SYMBOLS)))]
    symbols = (list(DEFAULT_SYMBOLS) + extra)[: args.symbols]
    new_day = datetime.now(UTC).date() - timedelta(days=1)
    last = new_day - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    tick_first = last - timedelta(days=args.tick_days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({**os.environ, "QUANT_DATA_DIR": tmp, "QUANT_SYMBOLS": ",".join(symbols),
                                  "QUANT_START_DATE": first.isoformat()})
        defs = build_definitions(settings)
        print(f"bench/pipeline: {len(symbols)} symbols × {args.days} days of {settings.kline_interval} bars "
              f"on {os.cpu_count()} CPUs, {settings.workers} module workers "
              f"({first}..{last}), ticks over {args.tick_days} days")
        with dg.DagsterInstance.ephemeral() as instance:
            raw_seconds = raw_phase(defs, instance, symbols, first, last, tick_first)
            print(f"raw inputs materialized in {raw_seconds:.1f} s (not counted below)")
            wall, timings = module_phase(defs, instance, symbols, first, last, tick_first)
            report(f"{len(symbols)} symbols × {args.days} days", wall, timings)
            raw_seconds = raw_phase(defs, instance, symbols, new_day, new_day, new_day)
            wall, timings = new_day_phase(defs, instance, symbols, new_day)
            report(f"one new day ({new_day}) of {len(symbols)} symbols (raw data: {raw_seconds:.1f} s)",
                   wall, timings)


if __name__ == "__main__":
    main()
