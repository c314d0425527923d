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
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from quant_assets.automation import backfill
from quant_assets.automation.jobs import (
    RAW_FRESHNESS_JOB,
)
from quant_assets.raw.families import FAMILIES
from quant_assets.settings import Settings, load_settings
from quant_assets.sources.archive import cli as archive_cli


def table_rows(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        present = {name for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
        return {
            family.name: (connection.execute(f"select count(*) from raw.{family.name}").fetchone()[0]
                          if family.name in present else 0)
            for family in FAMILIES
        }


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


def _instance_home(settings: Settings) -> None:
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)


def _run_all(settings: Settings, runs: Sequence[backfill.PlannedRun]) -> list[backfill.RunOutcome]:
    from quant_assets.definitions import build_definitions

    defs = build_definitions(settings)  # these settings, not the ones the module saw when first imported

    def report(done: int, total: int, outcome: backfill.RunOutcome, elapsed: float) -> None:
        print(backfill.progress_line(done, total, outcome, elapsed), flush=True)

    with dg.DagsterInstance.get() as instance:
        return backfill.execute(defs, instance, runs, report)


def _chosen_modules(names: str) -> list:
    """Modules by id, command or alias (``all``: every one; ``none``: no module)."""
    from quant_assets.modules import load_modules

    modules = load_modules()
    if names.strip() == "all":
        return list(modules.values())
    if names.strip() == "none":
        return []
    by_name = {name: m for m in modules.values() for name in (m.id, *m.declaration.command)}
    chosen = []
    for name in (part.strip() for part in names.split(",") if part.strip()):
        if name not in by_name:
            raise argparse.ArgumentTypeError(f"unknown module {name!r}: one of {', '.join(sorted(by_name))}")
        chosen.append(by_name[name])
    return chosen


def run_backfill(first: date, last: date, symbols: Sequence[str], modules: str, raw: bool, ticks: bool,
                 by: str) -> int:
    """Plan and run a backfill with a progress line per run; exit 1 if a run or a check failed."""
    from quant_assets.modules import load_modules

    settings = load_settings()
    _instance_home(settings)
    try:
        chosen = _chosen_modules(modules)
        runs = backfill.plan(first, last, symbols or settings.symbols, settings.symbols, chosen, raw=raw,
                             ticks=ticks, by=by, all_modules=len(load_modules()))  # type: ignore[arg-type]
    except (ValueError, argparse.ArgumentTypeError) as problem:
        print(f"quant-assets backfill: {problem}", file=sys.stderr)
        return 2
    print(f"backfill {first}..{last}: {len(runs)} single-run backfills into {os.environ['DAGSTER_HOME']} "
          f"(DuckDB {settings.duckdb_path})")
    text, ok = backfill.summary(_run_all(settings, runs))
    print(text)
    return 0 if ok else 1


def demo(days: int, tick_days: int) -> int:
    settings = load_settings()
    _instance_home(settings)
    from quant_assets.modules import load_modules

    last = datetime.now(UTC).date() - timedelta(days=1)
    first = max(last - timedelta(days=days - 1), settings.start_date)
    tick_first = max(last - timedelta(days=tick_days - 1), first)
    print(f"quant_assets demo: source={settings.source}, symbols={','.join(settings.symbols)}, "
          f"{first}..{last} ({(last - first).days + 1} days), interval={settings.kline_interval}")
    print(f"DuckDB: {settings.duckdb_path}\nDagster instance: {os.environ['DAGSTER_HOME']}\n")
    modules = list(load_modules().values())
    runs = backfill.plan(first, last, settings.symbols, settings.symbols, [], ticks_first=tick_first)
    runs.append(backfill.PlannedRun(RAW_FRESHNESS_JOB, "freshness of the newest partitions", "", ""))
    runs += backfill.plan(first, last, settings.symbols, settings.symbols, modules, raw=False,
                          ticks_first=tick_first, all_modules=len(modules))
    outcomes = _run_all(settings, runs)

    print("\nRows per table (DuckDB schema raw):")
    for name, count in table_rows(settings).items():
        print(f"  raw.{name:<20} {count:>10,}")
    text, ok = backfill.summary(outcomes)
    print(f"\n{text}")
    print_latest_scores(settings)
    print(f"""
Next:
  make ui                      # Dagster UI on http://127.0.0.1:3000 (lineage, runs, checks)
  .venv/bin/quant-assets trend # the newest trend scores, explained (also: rg, s, f, c, ma, r, mi, al, rd)
  .venv/bin/quant-assets doctor --no-webserver
  duckdb {settings.duckdb_path}
    select symbol, count(*), min(ts), max(ts) from raw.spot_klines group by symbol;
    select * from scores.trend_score where score is not null order by ts desc limit 10;""")
    return 0 if ok else 1


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
    backfill_parser = commands.add_parser(
        "backfill", help="materialize a date range of raw data and modules as a few single-run backfills")
    backfill_parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day (UTC)")
    backfill_parser.add_argument("--end", type=date.fromisoformat, required=True, help="last day (UTC)")
    backfill_parser.add_argument("--symbols", type=lambda text: [s.strip() for s in text.split(",") if s],
                                 default=[], help="comma-separated symbols (default QUANT_SYMBOLS)")
    backfill_parser.add_argument("--modules", default="all",
                                 help="modules by id or command, comma-separated; 'all' (default) or 'none'")
    backfill_parser.add_argument("--no-raw", action="store_true", help="only the modules, on stored raw data")
    backfill_parser.add_argument("--no-ticks", action="store_true",
                                 help="skip quotes, depth and trades (and the modules that read them)")
    backfill_parser.add_argument("--by", choices=("symbol", "date"), default="symbol",
                                 help="one run per symbol over the range (default), or per day over all "
                                      "symbols")
    args = parser.parse_args(argv)
    if args.command == "backfill":
        return run_backfill(args.start, args.end, args.symbols, args.modules, not args.no_raw,
                            not args.no_ticks, args.by)
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
