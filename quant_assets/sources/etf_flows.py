"""Importer of the published daily spot-ETF flow tables (Farside-style CSV).

A table is ``Date,<fund>…,Total`` with one row per US trading day, values in US$
millions, negatives in parentheses, ``-`` for no flow, thousands separators inside
quotes::

    Date,IBIT,FBTC,GBTC,Total
    11 Jan 2024,111.7,227.0,(95.1),243.6
    12 Jan 2024,"1,386.0",(12.5),-,"1,373.5"

The importer reads one or more such files per asset (``btc*.csv``, ``eth*.csv`` in the
folder ``QUANT_ETF_DIR``, default ``data/etf``) and answers a (key, day) with one
:class:`~quant_assets.sources.base.Payload` per asset: the file's header and that day's
row exactly as in the file (line endings normalised to ``\\n``, a byte-order mark
dropped), under ``Request("farside/<asset>-etf-flow", day=…, file=…)``, so the same
parser as for the simulated market reads it. Summary rows of the published page
(``Total``, ``Average``, ``Maximum``, ``Minimum``, ``Fee``) are ignored.

Absent days: before the asset's ETF launch, on weekends and on weekdays inside the
table's span (US market holidays) the body is the header alone, as for a non-trading
day of the simulated market; the raw asset's ``no_gaps`` check reports a weekday
that is missing. A weekday after the table's last row (or before its first row but
after the launch) raises :class:`~quant_assets.sources.base.DataUnavailableError`:
the table does not cover it yet.

Every row handed out is first parsed with :func:`quant_assets.raw.parsers.parse_etf_flows`
(header shape, cell values, the Total column agreeing with the funds), so a bad row
fails here, naming the file and line, instead of after landing.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from quant_assets.raw.parsers import ParseContext, ParseError, parse_etf_flows
from quant_assets.sources.base import DataUnavailableError, Payload, Request, SourceError
from quant_assets.sources.onchain_catalog import ETF_FUNDS, ETF_LAUNCH

DEFAULT_ETF_DIR = "data/etf"
FAMILY = "etf_flows"
ALL_ASSETS = "ALL"
#: Date format of the published tables (the parser reads the same).
FARSIDE_DATE = "%d %b %Y"
#: First cells of the summary and fee rows of the published page; not trading days.
SUMMARY_LABELS = frozenset({"total", "average", "maximum", "minimum", "fee", "fees"})


def endpoint_for(asset: str) -> str:
    """The request endpoint of an asset's table, e.g. ``farside/btc-etf-flow``."""
    return f"farside/{asset.lower()}-etf-flow"


@dataclass(frozen=True)
class FlowRow:
    """One trading day's row of a table, with where it came from."""

    day: date
    line: str
    lineno: int


@dataclass(frozen=True)
class FlowTable:
    """One CSV file of one asset: its header line and its rows by day."""

    asset: str
    path: Path
    header: str
    rows: Mapping[date, FlowRow]
    modified_ms: int

    @property
    def first_day(self) -> date:
        return min(self.rows)

    @property
    def last_day(self) -> date:
        return max(self.rows)


def _check_with_parser(asset: str, path: Path, body: str, day: date | None, where: str) -> None:
    """Run the ETF parser over ``body``; a ParseError becomes a SourceError naming the file."""
    request = Request.of(endpoint_for(asset), day=(day or date.min).isoformat(), file=path.name)
    try:
        parse_etf_flows([body], ParseContext(FAMILY, asset, request, 0))
    except ParseError as exc:
        raise SourceError(f"ETF flow table {path} {where}: {exc}") from exc


def read_table(asset: str, path: Path) -> FlowTable:
    """Read and index one published table; the header is checked with the parser.

    Raises
    ------
    SourceError
        Unreadable file, a header the parser rejects, no rows, a first cell that is
        neither a date like ``11 Jan 2024`` nor a summary label, or a day listed twice.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
        modified_ms = int(path.stat().st_mtime * 1000)
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"ETF flow table {path}: cannot read it ({exc})") from exc
    lines = text.splitlines()
    if not lines:
        raise SourceError(f"ETF flow table {path}: the file is empty")
    header = lines[0]
    _check_with_parser(asset, path, header + "\n", None, "line 1 (header)")
    rows: dict[date, FlowRow] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        cells = next(csv.reader([line]), [])
        first = cells[0].strip() if cells else ""
        if not first or first.lower() in SUMMARY_LABELS:
            continue
        try:
            day = datetime.strptime(first, FARSIDE_DATE).date()
        except ValueError as exc:
            raise SourceError(f"ETF flow table {path} line {lineno}: {first!r} is neither a date like "
                              f"'11 Jan 2024' nor a summary row ({', '.join(sorted(SUMMARY_LABELS))})"
                              ) from exc
        if day in rows:
            raise SourceError(f"ETF flow table {path}: {day} is listed twice (lines "
                              f"{rows[day].lineno} and {lineno})")
        rows[day] = FlowRow(day, line, lineno)
    if not rows:
        raise SourceError(f"ETF flow table {path}: no dated rows under the header")
    return FlowTable(asset, path, header, rows, modified_ms)


class EtfFlowImporter:
    """Daily ETF flow payloads from published CSV tables.

    Parameters
    ----------
    directory
        Folder holding the tables; an asset's files are the ``*.csv`` whose name starts
        with the asset code in lower case (``btc-etf-flow.csv``, ``btc_2025.csv``).
        Ignored for assets given in ``files``.
    files
        Asset → CSV file(s), overriding the folder lookup.
    source_name
        ``Payload.source`` of the payloads: the landing-zone folder, which must be the
        name of the source the raw assets use (:class:`~quant_assets.sources.onchain_source.OnchainMarket`
        is ``onchain``) for ``reparse_from_landing`` to find them.

    Files are read on each :meth:`load` (once per run), so a table replaced between
    runs is picked up; nothing is read at construction.
    """

    def __init__(self, directory: Path | str | None = None, *,
                 files: Mapping[str, Path | str | Sequence[Path | str]] | None = None,
                 source_name: str = "onchain") -> None:
        self.directory = Path(directory) if directory is not None else None
        self.files: dict[str, tuple[Path, ...]] = {}
        for asset, paths in (files or {}).items():
            if asset not in ETF_FUNDS:
                raise SourceError(f"ETF flow tables: unknown asset {asset!r}; known: {', '.join(ETF_FUNDS)}")
            many = [paths] if isinstance(paths, str | Path) else list(paths)
            self.files[asset] = tuple(Path(p) for p in many)
        if self.directory is None and not self.files:
            raise SourceError("ETF flow tables: give a folder (QUANT_ETF_DIR) or files per asset")
        self.source_name = source_name

    def __repr__(self) -> str:
        return f"EtfFlowImporter(directory={self.directory!r}, files={self.files!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: object) -> EtfFlowImporter:
        """The importer of the folder ``QUANT_ETF_DIR`` (``data/etf`` by default)."""
        env = os.environ if env is None else env
        return cls(env.get("QUANT_ETF_DIR") or DEFAULT_ETF_DIR, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ loading
    def paths_for(self, asset: str) -> tuple[Path, ...]:
        """The table files of ``asset``; raises SourceError when there are none."""
        if asset in self.files:
            return self.files[asset]
        prefix = asset.lower()
        if self.directory is None or not self.directory.is_dir():
            raise SourceError(f"ETF flow tables: no folder {self.directory} (set QUANT_ETF_DIR to the "
                              f"folder holding {prefix}-etf-flow.csv)")
        found = tuple(sorted(p for p in self.directory.iterdir()
                             if p.is_file() and p.suffix.lower() == ".csv"
                             and p.name.lower().startswith(prefix)))
        if not found:
            raise SourceError(f"ETF flow tables: no {asset} table in {self.directory} (expected a file "
                              f"named like {prefix}-etf-flow.csv)")
        return found

    def load(self, assets: Sequence[str]) -> dict[str, tuple[FlowTable, ...]]:
        """Read the tables of ``assets``; a day in two files of one asset must be the same row."""
        loaded: dict[str, tuple[FlowTable, ...]] = {}
        for asset in assets:
            tables = tuple(read_table(asset, path) for path in self.paths_for(asset))
            seen: dict[date, tuple[FlowTable, FlowRow]] = {}
            for table in tables:
                for day, row in table.rows.items():
                    if day in seen and _cells(seen[day][1].line)[1:] != _cells(row.line)[1:]:
                        other, other_row = seen[day]
                        raise SourceError(
                            f"ETF flow tables of {asset}: {day} differs between {other.path.name} line "
                            f"{other_row.lineno} and {table.path.name} line {row.lineno}")
                    seen.setdefault(day, (table, row))
            loaded[asset] = tables
        return loaded

    # ------------------------------------------------------------------ payloads
    def payloads(self, key: str, day: date,
                 tables: Mapping[str, tuple[FlowTable, ...]] | None = None) -> list[Payload]:
        """One payload per asset of ``key`` (``ALL``, ``BTC`` or ``ETH``) for ``day``.

        ``tables`` are the loaded tables (from :meth:`load`); read now when omitted.
        """
        assets = self.assets_of(key)
        tables = tables if tables is not None else self.load(assets)
        return [self._payload(asset, day, tables[asset]) for asset in assets]

    @staticmethod
    def assets_of(key: str) -> tuple[str, ...]:
        if key == ALL_ASSETS:
            return tuple(ETF_FUNDS)
        if key in ETF_FUNDS:
            return (key,)
        raise DataUnavailableError(f"ETF flow tables: no key {key!r}; use {ALL_ASSETS} or one of "
                                   f"{', '.join(ETF_FUNDS)}")

    def _payload(self, asset: str, day: date, tables: tuple[FlowTable, ...]) -> Payload:
        holding = next((t for t in tables if day in t.rows), None)
        if holding is not None:
            row = holding.rows[day]
            body = f"{holding.header}\n{row.line}\n"
            _check_with_parser(asset, holding.path, body, day, f"line {row.lineno} ({day})")
            return self._make(asset, day, holding, body)
        first = min(t.first_day for t in tables)
        last_table = max(tables, key=lambda t: t.last_day)
        trading_weekday = day.weekday() < 5 and day >= ETF_LAUNCH[asset]
        if trading_weekday and day > last_table.last_day:
            raise DataUnavailableError(
                f"ETF flow table {last_table.path}: the table ends at {last_table.last_day}; "
                f"{day} ({day:%A}) is not in it yet (import a newer table)")
        if trading_weekday and day < first:
            raise DataUnavailableError(
                f"ETF flow tables of {asset}: the table starts at {first}; {day} ({day:%A}) is after "
                f"the ETFs' launch on {ETF_LAUNCH[asset]} but not in it")
        # A weekend, a holiday inside the table's span, or before the launch: no trading.
        return self._make(asset, day, last_table, f"{last_table.header}\n")

    def _make(self, asset: str, day: date, table: FlowTable, body: str) -> Payload:
        request = Request.of(endpoint_for(asset), day=day.isoformat(), file=table.path.name)
        return Payload(request, (body,), table.modified_ms, "rest", self.source_name)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line]), [])]
