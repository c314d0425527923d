"""Archive CSV rows → response bodies in the REST formats the raw parsers read.

The conversion changes the container, never the data: every row becomes one JSON
row, in file order, with duplicates, gaps and out-of-order rows left for the raw
checks to find. Numbers the API serves as strings (prices, quantities, volumes,
rates) keep the CSV text exactly; ids, counts and times become JSON integers as the
API serves them. Timestamps keep the file's unit: milliseconds, or microseconds in
spot files from 2025-01-01 on, which the parsers read as such. A cell that is not
the integer it should be stays text, so the parser rejects it naming the field and
the row. Rows that cannot become a body at all (wrong number of cells, a metrics row
of another symbol, a ratio that is not a number) raise :class:`ArchiveFormatError`
naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from quant_assets.sources.base import SourceError

#: Column names of the archive's CSVs (the header row where the file has one).
KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                 "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore")
FUTURES_AGG_TRADE_COLUMNS = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
                             "transact_time", "is_buyer_maker")
FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
METRICS_COLUMNS = ("create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
                   "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio",
                   "count_long_short_ratio", "sum_taker_long_short_vol_ratio")

#: Timestamps at or above this are microseconds (as in the parsers).
MICROSECOND_THRESHOLD = 10**14
_INTEGER = re.compile(r"^-?\d+$")
_HEADER_CELL = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")
_SHARE_DECIMALS = Decimal("0.00000001")


class ArchiveFormatError(SourceError):
    """An archive file does not hold what its data set promises (file, line and column named)."""


@dataclass(frozen=True)
class CsvTable:
    """The data rows of one archive CSV, the file line of each, and where each known column is."""

    label: str
    index: dict[str, int]
    rows: list[list[str]]
    lines: list[int]

    def column(self, name: str) -> int:
        return self.index[name]

    def select(self, positions: Sequence[int]) -> CsvTable:
        """The rows at ``positions`` (kept in file order), still naming their file lines."""
        return CsvTable(self.label, self.index, [self.rows[p] for p in positions],
                        [self.lines[p] for p in positions])

    def error(self, position: int, column: str, reason: str) -> ArchiveFormatError:
        return ArchiveFormatError(f"{self.label}: line {self.lines[position]}, column {column!r}: {reason}")


def read_single_csv(data: bytes, label: str) -> str:
    """Text of the one CSV inside the ZIP ``data`` (``label`` names the file in errors)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1 or not members[0].filename.lower().endswith(".csv"):
                names = ", ".join(info.filename for info in members) or "nothing"
                raise ArchiveFormatError(f"{label}: expected one CSV file in the ZIP, found {names}")
            raw = archive.read(members[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArchiveFormatError(f"{label}: not a readable ZIP file: {exc}") from exc
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark is not part of the first cell
    except UnicodeDecodeError as exc:
        raise ArchiveFormatError(f"{label}: the CSV is not UTF-8 text: {exc}") from exc


def read_table(text: str, columns: Sequence[str], label: str,
               required: Sequence[str] | None = None) -> CsvTable:
    """Rows of an archive CSV, with or without a header row.

    With a header, columns are found by name: every name in ``required`` (default all
    of ``columns``) must be there, other columns are allowed. Without one, the file
    must have exactly ``columns`` in that order, as the archive documents. Empty
    lines hold no row and are skipped.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        lines = [(reader.line_num, cells) for cells in reader if cells]
    except csv.Error as exc:
        raise ArchiveFormatError(f"{label}: line {reader.line_num}: not CSV: {exc}") from exc
    if lines and _HEADER_CELL.match(lines[0][1][0].strip()):
        _, header = lines.pop(0)
        names = [cell.strip() for cell in header]
        missing = [name for name in (required or columns) if name not in names]
        if missing:
            raise ArchiveFormatError(f"{label}: header {','.join(names)!r} lacks column(s) "
                                     f"{', '.join(missing)}")
        index = {name: names.index(name) for name in columns if name in names}
        width = len(names)
    else:
        index = {name: i for i, name in enumerate(columns)}
        width = len(columns)
    for number, cells in lines:
        if len(cells) != width:
            raise ArchiveFormatError(f"{label}: line {number} has {len(cells)} cells, expected {width} "
                                     f"({','.join(columns)})")
    return CsvTable(label, index, [cells for _, cells in lines], [number for number, _ in lines])


def _int_or_text(cell: str) -> int | str:
    """A JSON integer where the API serves one; anything else stays text for the parser to reject."""
    text = cell.strip()
    return int(text) if _INTEGER.match(text) else cell


def epoch_ms(value: int) -> int:
    """Milliseconds of an archive timestamp in milliseconds or microseconds."""
    return value // 1000 if value >= MICROSECOND_THRESHOLD else value


def row_times_ms(table: CsvTable, column: str) -> list[int]:
    """The ``column`` timestamp of every row in milliseconds (to pick a day out of a month)."""
    position = table.column(column)
    times = []
    for i, row in enumerate(table.rows):
        cell = row[position].strip()
        if not _INTEGER.match(cell):
            raise table.error(i, column, f"{cell!r} is not an epoch timestamp")
        times.append(epoch_ms(int(cell)))
    return times


def dumps(rows: object) -> str:
    return json.dumps(rows, separators=(",", ":"))


# ---------------------------------------------------------------------- klines
def kline_rows(table: CsvTable) -> list[list[int | str]]:
    """``/api/v3/klines`` and ``/fapi/v1/klines`` rows: 12 fields, times and count as integers."""
    col = [table.column(name) for name in KLINE_COLUMNS]
    integers = {0, 6, 8}  # open_time, close_time, count
    return [[_int_or_text(row[c]) if k in integers else row[c] for k, c in enumerate(col)]
            for row in table.rows]


# ---------------------------------------------------------------------- aggregated trades
def _buyer_maker(cell: str) -> bool | str:
    lowered = cell.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return cell


def agg_trade_rows(table: CsvTable) -> list[dict[str, int | str | bool]]:
    """``/fapi/v1/aggTrades`` objects ``{"a","p","q","f","l","T","m"}`` from a futures aggTrades file."""
    a, p, q, f, last, t, m = (table.column(name) for name in FUTURES_AGG_TRADE_COLUMNS)
    return [{"a": _int_or_text(row[a]), "p": row[p], "q": row[q], "f": _int_or_text(row[f]),
             "l": _int_or_text(row[last]), "T": _int_or_text(row[t]), "m": _buyer_maker(row[m])}
            for row in table.rows]


# ---------------------------------------------------------------------- funding
def funding_rows(table: CsvTable, symbol: str) -> list[dict[str, int | str]]:
    """``/fapi/v1/fundingRate`` objects ``{"symbol","fundingTime","fundingRate"}``.

    The archive has no mark price (the REST response added ``markPrice`` later), so
    the parser stores it as null; ``funding_interval_hours`` has no place in the
    REST rows and is not carried over.
    """
    t, rate = table.column("calc_time"), table.column("last_funding_rate")
    return [{"symbol": symbol, "fundingTime": _int_or_text(row[t]), "fundingRate": row[rate]}
            for row in table.rows]


# ---------------------------------------------------------------------- metrics
def _metrics_time(table: CsvTable, position: int) -> int:
    """``create_time`` (``YYYY-MM-DD HH:MM:SS`` UTC, or epoch ms) as epoch milliseconds."""
    cell = table.rows[position][table.column("create_time")].strip()
    if _INTEGER.match(cell):
        return epoch_ms(int(cell))
    try:
        moment = datetime.strptime(cell, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise table.error(position, "create_time", f"{cell!r} is not 'YYYY-MM-DD HH:MM:SS'") from exc
    return int(moment.timestamp()) * 1000


def _check_metrics_symbols(table: CsvTable, symbol: str) -> None:
    """Every row is about the file's symbol (the parsers would otherwise drop other symbols' rows)."""
    position = table.column("symbol")
    for i, row in enumerate(table.rows):
        if row[position].strip() != symbol:
            raise table.error(i, "symbol", f"row is for {row[position]!r}, the file is for {symbol!r}")


def open_interest_rows(table: CsvTable, symbol: str) -> list[dict[str, int | str]]:
    """``/futures/data/openInterestHist`` objects from the metrics file (5-minute rows)."""
    _check_metrics_symbols(table, symbol)
    oi, value = table.column("sum_open_interest"), table.column("sum_open_interest_value")
    return [{"symbol": symbol, "sumOpenInterest": row[oi], "sumOpenInterestValue": row[value],
             "timestamp": _metrics_time(table, i)} for i, row in enumerate(table.rows)]


def _ratio(table: CsvTable, position: int, column: str) -> Decimal:
    cell = table.rows[position][table.column(column)].strip()
    try:
        ratio = Decimal(cell)
    except InvalidOperation as exc:
        raise table.error(position, column, f"{cell!r} is not a number, so the long and short "
                          "shares cannot be derived") from exc
    if not ratio.is_finite() or ratio < 0:
        raise table.error(position, column, f"{cell!r} is not a long/short ratio (a number ≥ 0)")
    return ratio


def long_short_rows(table: CsvTable, symbol: str, column: str) -> list[dict[str, int | str]]:
    """One ``/futures/data/*LongShort*Ratio`` series from one metrics column.

    The metrics file gives only the ratio ``r`` = long / short. The REST rows also
    carry the long and short shares, which sum to 1, so they follow exactly from the
    ratio: ``longAccount = r / (1 + r)``, ``shortAccount = 1 / (1 + r)`` (rounded to
    8 decimals, the precision of the ratios in the file). ``longShortRatio`` keeps
    the file's text.
    """
    _check_metrics_symbols(table, symbol)
    position = table.column(column)
    rows = []
    for i, row in enumerate(table.rows):
        ratio = _ratio(table, i, column)
        rows.append({
            "symbol": symbol, "longShortRatio": row[position],
            "longAccount": str((ratio / (1 + ratio)).quantize(_SHARE_DECIMALS)),
            "shortAccount": str((1 / (1 + ratio)).quantize(_SHARE_DECIMALS)),
            "timestamp": _metrics_time(table, i),
        })
    return rows
