"""The ``quant-assets`` command line.

``quant-assets demo`` materializes the raw assets for the configured symbols through
single-run backfills in the persistent Dagster instance (bar-level and on-chain data
over the last N closed days, quotes, depth and trades over the last few), then every
analysis module over the same ranges (one run per symbol, one for the daily modules),
runs the freshness check, and prints rows per table, the check results and the latest
scores. It exits non-zero when a run or a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb

from quant_assets.automation.jobs import (
    MODULES_BARS_JOB,
    MODULES_DAILY_JOB,
    MODULES_TICKS_JOB,
    RAW_BARS_JOB,
    RAW_ETF_JOB,
    RAW_FRESHNESS_JOB,
    RAW_ONCHAIN_JOB,
    RAW_TICKS_JOB,
)
from quant_assets.raw.families import FAMILIES
from quant_assets.settings import Settings, load_settings
from quant_assets.sources.archive import cli as archive_cli
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class RunSummary:
    label: str
    success: bool
    seconds: float
    checks: Counter


def _range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _execute(defs: dg.Definitions, job_name: str, label: str, instance: dg.DagsterInstance,
             tags: dict[str, str] | None = None) -> RunSummary:
    started = time.perf_counter()
    print(f"  {label:<44}", end="", flush=True)
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, tags=tags or {}, run_config=QUIET_LOGS,
                                    raise_on_error=False)
    checks: Counter = Counter()
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            status = "passed" if evaluation.passed else f"failed ({evaluation.severity.value})"
            checks[status] += 1
            if not evaluation.passed:
                print(f"\n    check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
                      f"failed: {evaluation.description}", end="")
    seconds = time.perf_counter() - started
    state = "ok" if result.success else "FAILED"
    print(f" {state} in {seconds:5.1f} s, checks: "
          + ", ".join(f"{n} {s}" for s, n in sorted(checks.items())))
    return RunSummary(label, result.success, seconds, checks)


def _per_symbol(defs: dg.Definitions, settings: Settings, instance: dg.DagsterInstance, job: str,
                label: str, first: date, last: date) -> list[RunSummary]:
    return [_execute(defs, job, f"{label} {symbol} {first}..{last}", instance,
                     _range_tags(f"{first}|{symbol}", f"{last}|{symbol}"))
            for symbol in settings.symbols]


def backfill_raw(defs: dg.Definitions, settings: Settings, instance: dg.DagsterInstance,
                 first: date, last: date, tick_first: date) -> list[RunSummary]:
    """Single-run backfills: per symbol (bars over the range, ticks from ``tick_first``),
    per on-chain asset, and one for ETF flows."""
    span = f"{first}..{last}"
    runs = _per_symbol(defs, settings, instance, RAW_BARS_JOB, "bars", first, last)
    runs += _per_symbol(defs, settings, instance, RAW_TICKS_JOB, "ticks", tick_first, last)
    runs += [
        _execute(defs, RAW_ONCHAIN_JOB, f"on-chain {asset} {span}", instance,
                 _range_tags(f"{asset}|{first}", f"{asset}|{last}"))
        for asset in ONCHAIN_ASSETS
    ]
    runs.append(_execute(defs, RAW_ETF_JOB, f"ETF flows {span}", instance,
                         _range_tags(first.isoformat(), last.isoformat())))
    return runs


def table_rows(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        present = {name for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
        return {
            family.name: (connection.execute(f"select count(*) from raw.{family.name}").fetchone()[0]
                          if family.name in present else 0)
            for family in FAMILIES
        }


def run_modules(defs: dg.Definitions, settings: Settings, instance: dg.DagsterInstance,
                first: date, last: date, tick_first: date) -> list[RunSummary]:
    """Every module over the range: per-symbol runs, then one run of the daily modules."""
    runs = _per_symbol(defs, settings, instance, MODULES_BARS_JOB, "modules", first, last)
    runs += _per_symbol(defs, settings, instance, MODULES_TICKS_JOB, "tick modules", tick_first, last)
    runs.append(_execute(defs, MODULES_DAILY_JOB, f"daily modules {first}..{last}", instance,
                         _range_tags(first.isoformat(), last.isoformat())))
    return runs


def print_latest_scores(settings: Settings) -> None:
    """The newest score of every symbol (or asset, or pair) per score table."""
    from quant_assets.modules.report import latest_scores

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        for table, lines in latest_scores(connection).items():
            print(f"\nscores.{table}")
            for line in lines:
                print(f"  {line}")


def _parse_at(text: str) -> datetime:
    """``--at``: an ISO date or time, naive UTC or with an offset (converted to naive UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or time (2024-05-01 or "
                                         "2024-05-01T12:00)") from exc
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _format_value(value: object) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def show_scores(table: str, title: str, subject: str | None, at: datetime | None, as_json: bool,
                top: int) -> int:
    """The newest explained score of every subject (or one) in ``scores.<table>``."""
    from quant_assets.modules.report import TABLES, ScoreQueryError, connect, latest

    settings = load_settings()
    try:
        with connect(settings.duckdb_path) as connection:
            rows = latest(connection, table, subject.upper() if subject else None, at,
                          timedelta(minutes=settings.kline_minutes))
    except ScoreQueryError as missing:
        print(f"quant-assets: {missing}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([row.as_json() for row in rows], indent=2, default=str))
        return 0
    view = TABLES[table]
    when = f"known at {at:%Y-%m-%d %H:%M} UTC (ts is the bar's open)" if at else "newest"
    print(f"scores.{table}: {title}, {when}")
    explained = view.label is not None and not view.extra  # tables of values carry no explanation
    header = ["subject", "ts (UTC)", view.value, *([view.label] if view.label else []), *view.extra,
              *(["top contributions"] if explained else [])]
    lines = [[row.subject, f"{row.ts:%Y-%m-%d %H:%M}", f"{row.value:.3f}",
              *([row.label or ""] if view.label else []), *(_format_value(row.extra[c]) for c in view.extra),
              *([row.top(top) + (" (clipped)" if row.clipped else "")] if explained else [])]
             for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    for cells in [header, *lines]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
    return 0


def doctor(webserver: str | None) -> int:
    """Print every health finding; exit 1 when any failed."""
    from quant_assets.doctor import render, run_doctor

    settings = load_settings()

    def definitions() -> dg.Definitions:
        from quant_assets.definitions import build_definitions

        return build_definitions(settings)

    findings = run_doctor(settings, definitions, webserver)
    print(f"quant-assets doctor: DuckDB {settings.duckdb_path}, Dagster instance {settings.dagster_home}")
    print(render(findings))
    failed = [f for f in findings if f.status == "fail"]
    warned = [f for f in findings if f.status == "warn"]
    print(f"{len(failed)} failed, {len(warned)} warnings, {len(findings) - len(failed) - len(warned)} ok")
    return 1 if failed else 0


def demo(days: int, tick_days: int) -> int:
    settings = load_settings()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    from quant_assets.definitions import defs  # after DAGSTER_HOME is known

    last = datetime.now(UTC).date() - timedelta(days=1)
    first = max(last - timedelta(days=days - 1), settings.start_date)
    tick_first = max(last - timedelta(days=tick_days - 1), first)
    print(f"quant_assets demo: source={settings.source}, symbols={','.join(settings.symbols)}, "
          f"{first}..{last} ({(last - first).days + 1} days), interval={settings.kline_interval}")
    print(f"DuckDB: {settings.duckdb_path}\nDagster instance: {os.environ['DAGSTER_HOME']}\n")
    with dg.DagsterInstance.get() as instance:
        runs = backfill_raw(defs, settings, instance, first, last, tick_first)
        runs.append(_execute(defs, RAW_FRESHNESS_JOB, "freshness of the newest partitions", instance))
        runs += run_modules(defs, settings, instance, first, last, tick_first)

    print("\nRows per table (DuckDB schema raw):")
    for name, count in table_rows(settings).items():
        print(f"  raw.{name:<20} {count:>10,}")
    totals: Counter = sum((r.checks for r in runs), Counter())
    failed_runs = [r.label for r in runs if not r.success]
    failed_checks = sum(n for status, n in totals.items() if status != "passed")
    print(f"\nChecks: {totals['passed']} passed, {failed_checks} failed; runs: "
          f"{len(runs) - len(failed_runs)} succeeded, {len(failed_runs)} failed "
          f"({sum(r.seconds for r in runs):.0f} s)")
    print_latest_scores(settings)
    print(f"""
Next:
  make ui                      # Dagster UI on http://127.0.0.1:3000 (lineage, runs, checks)
  duckdb {settings.duckdb_path}
    select symbol, count(*), min(ts), max(ts) from raw.spot_klines group by symbol;
    select * from scores.trend_score where score is not null order by ts desc limit 10;""")
    return 1 if failed_runs or failed_checks else 0


def record(symbols: Sequence[str], snapshot_seconds: float) -> int:
    """Record the futures streams into the landing zone until interrupted (SIGINT/SIGTERM)."""
    import asyncio
    import signal

    from quant_assets.sources.recorder import StreamRecorder

    settings = load_settings()
    recorder = StreamRecorder(
        symbols or settings.symbols, settings.landing_dir,
        ws_url=os.environ.get("BINANCE_FUTURES_WS_URL", "wss://fstream.binance.com"),
        rest_url=os.environ.get("BINANCE_FUTURES_URL", "https://fapi.binance.com"),
        snapshot_seconds=snapshot_seconds,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stats = await recorder.run(stop)
        print(f"recorded {stats.messages} messages, {stats.snapshots_written} book snapshots, "
              f"{stats.resyncs} sequence-gap resyncs, {stats.reconnects} reconnects, "
              f"{stats.files_landed} hour files landed")

    print(f"recording {', '.join(recorder.symbols)} into {settings.landing_dir} (Ctrl-C to stop)")
    asyncio.run(run())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quant-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="materialize the last N days of raw data and every module, check and print scores")
    demo_parser.add_argument("--days", type=int, default=60,
                             help="closed days of bars and on-chain data (default 60)")
    demo_parser.add_argument("--tick-days", type=int, default=5,
                             help="closed days of quotes, depth and trades (default 5)")
    archive_cli.add_parser(commands)
    record_parser = commands.add_parser(
        "record", help="record depth, book ticker, trades and liquidations streams into hourly files")
    record_parser.add_argument("--symbols", type=lambda text: [s.strip() for s in text.split(",") if s],
                               default=[], help="comma-separated symbols (default QUANT_SYMBOLS)")
    record_parser.add_argument("--snapshot-seconds", type=float, default=60.0,
                               help="seconds between recorded top-20 book snapshots (default 60)")
    from quant_assets.modules import load_modules

    for module in load_modules().values():
        declaration = module.declaration
        name, alias = declaration.command
        table = f"scores.{declaration.score_table}"
        score_parser = commands.add_parser(
            name, aliases=[alias], help=f"latest {declaration.title} scores ({table})",
            description=f"{declaration.description} Reads {table} from DuckDB.")
        score_parser.add_argument("symbol", nargs="?", help="one symbol (asset for macro); default: all")
        score_parser.add_argument("--at", type=_parse_at,
                                  help="the newest scores known at this UTC time (bars closed by then)")
        score_parser.add_argument("--json", action="store_true",
                                  help="JSON with every component, for machines")
        score_parser.add_argument("--top", type=int, default=3,
                                  help="contributions shown per row (default 3)")
        score_parser.set_defaults(score_table=declaration.score_table,
                                  title=f"{declaration.title} {declaration.version}")
    doctor_parser = commands.add_parser(
        "doctor", help="check the DuckDB file, raw freshness, the latest check results and the webserver")
    doctor_parser.add_argument("--webserver", default=f"http://127.0.0.1:{os.environ.get('UI_PORT', '3000')}",
                               help="webserver URL whose /server_info must answer (default %(default)s)")
    doctor_parser.add_argument("--no-webserver", action="store_true", help="skip the webserver")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor(None if args.no_webserver else args.webserver)
    if hasattr(args, "score_table"):
        return show_scores(args.score_table, args.title, args.symbol, args.at, args.json, args.top)
    if args.command == archive_cli.COMMAND:
        return archive_cli.run(args)
    if args.command == "record":
        return record(args.symbols, args.snapshot_seconds)
    if args.command == "demo":
        if args.days < 1 or args.tick_days < 1:
            parser.error("--days and --tick-days must be at least 1")
        return demo(args.days, args.tick_days)
    return 2


if __name__ == "__main__":
    sys.exit(main())
