"""``quant-assets archive-download``: fetch and verify the public archive's files for a range of days.

Wired into ``quant_assets.cli`` with :func:`add_parser` (adds the subcommand to the
``add_subparsers()`` object) and :func:`run` (executes it, returns the exit code):
0 when every file is present and verified, 1 when a file failed verification or the
host could not be used, 2 when an argument or setting is invalid.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta

from quant_assets.settings import load_settings
from quant_assets.sources.archive.download import (
    DEFAULT_BASE_URL,
    ArchiveDownloadError,
    DownloadReport,
    download_archive,
)
from quant_assets.sources.archive.source import FILE_FAMILIES, archive_root_from_env

COMMAND = "archive-download"
BASE_URL_ENV = "QUANT_ARCHIVE_URL"
_LISTED = 20


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from exc


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``archive-download`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        COMMAND, help="download and verify the public data archive's files for a range of days",
        description="Fetch the daily (or, where missing, monthly) ZIP files of data.binance.vision "
                    "with their .CHECKSUM files into the archive folder, verifying every SHA-256. "
                    "Files already present and valid are skipped and never overwritten.")
    parser.add_argument("--start", type=_iso_date, required=True, help="first UTC day, YYYY-MM-DD")
    parser.add_argument("--end", type=_iso_date, default=None,
                        help="last UTC day, YYYY-MM-DD (default: yesterday, the newest published day)")
    parser.add_argument("--symbols", default=None, help="comma-separated symbols (default: QUANT_SYMBOLS)")
    parser.add_argument("--families", default=None,
                        help="comma-separated families (default: all the archive serves: "
                             f"{','.join(FILE_FAMILIES)}; agg_trades files are large)")
    parser.add_argument("--interval", default=None,
                        help="kline interval (default: QUANT_KLINE_INTERVAL)")
    parser.add_argument("--dest", default=None,
                        help="archive folder (default: QUANT_ARCHIVE_DIR, else data/archive)")
    parser.add_argument("--base-url", default=None,
                        help=f"archive root URL (default: {BASE_URL_ENV}, else {DEFAULT_BASE_URL})")
    parser.add_argument("--retries", type=int, default=3, help="retries per request (default 3)")
    return parser


def _print_report(report: DownloadReport) -> None:
    print(report.summary())
    if report.missing:
        print(f"not published ({len(report.missing)}):")
        for path in report.missing[:_LISTED]:
            print(f"  {path}")
        if len(report.missing) > _LISTED:
            print(f"  … and {len(report.missing) - _LISTED} more")


def run(args: argparse.Namespace) -> int:
    """Run ``archive-download`` with parsed ``args``; returns the process exit code."""
    try:
        symbols = _names(args.symbols)
        interval = args.interval
        if symbols is None or interval is None:
            settings = load_settings()
            symbols = symbols if symbols is not None else list(settings.symbols)
            interval = interval or settings.kline_interval
        families = _names(args.families) or list(FILE_FAMILIES)
        end = args.end or datetime.now(UTC).date() - timedelta(days=1)
        dest = args.dest or archive_root_from_env()
        base_url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        print(f"archive download: {','.join(symbols)} {','.join(families)} {args.start}..{end} "
              f"interval={interval} from {base_url} into {dest}")
        report = download_archive(symbols, families, args.start, end, interval, dest, base_url,
                                  retries=args.retries, log=print)
    except ArchiveDownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _print_report(exc.report)
        return 1
    except ValueError as exc:  # an invalid argument or setting, named by the message
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_report(report)
    return 0
