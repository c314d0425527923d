"""The ``archive`` market source: the exchange's public data archive, read from a local folder.

``QUANT_SOURCE=archive`` replays the daily and monthly ZIP files that
``data.binance.vision`` publishes, laid out under ``QUANT_ARCHIVE_DIR`` (default
``data/archive``) exactly as the archive publishes them, for example
``spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-01.zip`` with its ``.CHECKSUM``.
``quant-assets archive-download`` fetches them.

Every ZIP is verified against its ``.CHECKSUM`` (SHA-256) before it is read; the
CSV rows become bodies in the REST formats the raw parsers already read (see
:mod:`.convert`), so the raw assets, checks and landing zone work unchanged. The
request of each payload names the archive file and its SHA-256, so the landing zone
keeps where every row came from: its endpoint is ``archive:/<path of the ZIP>!<REST
endpoint whose format the body has>``.

What each family reads, and what the archive cannot give:

================== ==================================================================
spot_klines        ``spot/{daily,monthly}/klines/<S>/<interval>/`` (headerless;
                   microsecond times from 2025-01-01, kept as such)
futures_klines     ``futures/um/{daily,monthly}/klines/<S>/<interval>/``
mark_price_klines  ``futures/um/{daily,monthly}/markPriceKlines/<S>/<interval>/``
agg_trades         ``futures/um/{daily,monthly}/aggTrades/<S>/``
funding_rate       ``futures/um/monthly/fundingRate/<S>/`` (monthly only; no mark
                   price in the archive, stored as null)
open_interest      ``futures/um/daily/metrics/<S>/``: sum_open_interest(_value), 5-minute
long_short_ratio   the same metrics file: count_long_short_ratio (global accounts),
                   count_toptrader_long_short_ratio (top-trader accounts),
                   sum_toptrader_long_short_ratio (top-trader positions); the long
                   and short shares are derived from each ratio (they sum to 1)
taker_volume       not available: the metrics file has only the buy/sell *ratio*,
                   not buyVol and sellVol
depth_snapshots    not available: ``bookDepth`` files hold cumulative depth by
                   percentage band, not price levels with update ids
================== ==================================================================

Daily files are preferred; where a daily file is missing the monthly file of the same
month is read and the rows of the day are taken from it (the request then carries
``day``). Within a file nothing is dropped, reordered or repaired.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

from quant_assets.sources.archive import convert
from quant_assets.sources.archive.convert import CsvTable
from quant_assets.sources.archive.layout import (
    FUNDING_RATE,
    FUTURES_AGG_TRADES,
    FUTURES_KLINES,
    MARK_PRICE_KLINES,
    METRICS,
    SPOT_KLINES,
    Cadence,
    Dataset,
    archive_interval,
    check_symbol,
    read_verified,
)
from quant_assets.sources.base import (
    DataUnavailableError,
    Payload,
    Request,
    SequentialFetchMixin,
    SourceError,
)

ARCHIVE_DIR_ENV = "QUANT_ARCHIVE_DIR"
DEFAULT_ARCHIVE_DIR = "data/archive"
#: The archive's metrics files hold one row every five minutes.
METRICS_PERIOD = "5m"
DAY_MS = 86_400_000

#: (REST endpoint whose format the body has, rows, extra request parameters) per payload.
Built = list[tuple[str, list, dict[str, str]]]


@dataclass(frozen=True)
class FileFamily:
    """How one endpoint family is read from one archive data set."""

    dataset: Dataset
    columns: tuple[str, ...]
    build: Callable[[CsvTable, str], Built]
    #: Column that places a row in a day, to take one day out of a monthly file.
    time_column: str | None = None
    #: Columns a file with a header must have (default: all of ``columns``).
    required: tuple[str, ...] | None = None


def _klines(endpoint: str) -> Callable[[CsvTable, str], Built]:
    return lambda table, _symbol: [(endpoint, convert.kline_rows(table), {})]


_LONG_SHORT_SERIES = (
    ("/futures/data/globalLongShortAccountRatio", "count_long_short_ratio"),
    ("/futures/data/topLongShortAccountRatio", "count_toptrader_long_short_ratio"),
    ("/futures/data/topLongShortPositionRatio", "sum_toptrader_long_short_ratio"),
)
_OPEN_INTEREST_COLUMNS = ("create_time", "symbol", "sum_open_interest", "sum_open_interest_value")


def _long_short(table: CsvTable, symbol: str) -> Built:
    return [(endpoint, convert.long_short_rows(table, symbol, column),
             {"period": METRICS_PERIOD, "column": column})
            for endpoint, column in _LONG_SHORT_SERIES]


FILE_FAMILIES: dict[str, FileFamily] = {
    "spot_klines": FileFamily(SPOT_KLINES, convert.KLINE_COLUMNS, _klines("/api/v3/klines"),
                              "open_time"),
    "futures_klines": FileFamily(FUTURES_KLINES, convert.KLINE_COLUMNS, _klines("/fapi/v1/klines"),
                                 "open_time"),
    "mark_price_klines": FileFamily(MARK_PRICE_KLINES, convert.KLINE_COLUMNS,
                                    _klines("/fapi/v1/markPriceKlines"), "open_time"),
    "agg_trades": FileFamily(
        FUTURES_AGG_TRADES, convert.FUTURES_AGG_TRADE_COLUMNS,
        lambda table, _symbol: [("/fapi/v1/aggTrades", convert.agg_trade_rows(table), {})],
        "transact_time"),
    "funding_rate": FileFamily(
        FUNDING_RATE, convert.FUNDING_COLUMNS,
        lambda table, symbol: [("/fapi/v1/fundingRate", convert.funding_rows(table, symbol), {})],
        "calc_time", required=("calc_time", "last_funding_rate")),
    "open_interest": FileFamily(
        METRICS, convert.METRICS_COLUMNS,
        lambda table, symbol: [("/futures/data/openInterestHist",
                                convert.open_interest_rows(table, symbol), {"period": METRICS_PERIOD})],
        required=_OPEN_INTEREST_COLUMNS),
    "long_short_ratio": FileFamily(
        METRICS, convert.METRICS_COLUMNS, _long_short,
        required=("create_time", "symbol", *(column for _, column in _LONG_SHORT_SERIES))),
}

#: Families the archive cannot serve, and why (the reason is part of the error).
UNAVAILABLE: dict[str, str] = {
    "taker_volume": (
        "the archive's metrics file gives taker volume only as a ratio (sum_taker_long_short_vol_ratio, "
        "the REST buySellRatio); the buyVol and sellVol fields the taker_volume table needs are in no "
        "archive file, and splitting a ratio into volumes would invent data"),
    "depth_snapshots": (
        "the archive's bookDepth files hold cumulative depth and notional within ±1…5 % of the mid "
        "price every 30 s (timestamp,percentage,depth,notional), not the price levels and update ids "
        "of an order-book snapshot; depth snapshots come from the stream recorder"),
    "premium_index": (
        "the archive publishes premiumIndexKlines (candles of the premium index), not premiumIndex "
        "snapshots with mark price, index price and funding estimate"),
    "ticker_24hr": "the archive keeps no 24-hour ticker snapshots (they are polled state, not history)",
    "avg_price": "the archive keeps no average-price snapshots (they are polled state, not history)",
    "book_ticker": (
        "the archive's USDⓈ-M bookTicker files stop at 2024-03-31 (binance/binance-public-data#334) "
        "and are not read by this source; book tickers come from the stream recorder"),
    "liquidations": (
        "liquidationSnapshot archives are no longer published (binance/binance-public-data#361); "
        "liquidations come from the stream recorder"),
    "onchain_metrics": "on-chain series are not in the exchange archive; they come from the Glassnode client",
    "etf_flows": "ETF flows are not in the exchange archive; they come from the ETF flow importer",
}


def archive_root_from_env() -> Path:
    """``QUANT_ARCHIVE_DIR`` (default ``data/archive``) as an absolute path."""
    return Path(os.environ.get(ARCHIVE_DIR_ENV) or DEFAULT_ARCHIVE_DIR).expanduser().resolve()


def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


class ArchiveMarket(SequentialFetchMixin):
    """The public data archive in a local folder as a :class:`~quant_assets.sources.base.MarketSource`.

    Parameters
    ----------
    kline_interval
        Candle interval of the kline families; picks the interval folder (``1M`` is
        the archive's ``1mo``).
    root
        The archive folder, laid out as ``data.binance.vision/data/``; the environment
        variable ``QUANT_ARCHIVE_DIR`` (default ``data/archive``) when omitted.

    Raises
    ------
    SourceError
        When the folder does not exist or the interval is not published, so a
        misconfigured run fails before it asks for any partition.
    """

    name = "archive"

    def __init__(self, kline_interval: str = "1h", root: Path | str | None = None) -> None:
        try:
            self.interval = archive_interval(kline_interval)
        except ValueError as exc:
            raise SourceError(f"archive source: {exc}") from exc
        self.kline_interval = kline_interval
        self.root = Path(root).expanduser().resolve() if root is not None else archive_root_from_env()
        if not self.root.is_dir():
            where = "root" if root is not None else f"{ARCHIVE_DIR_ENV} (default {DEFAULT_ARCHIVE_DIR})"
            raise SourceError(f"archive source: {where} is {self.root}, which is not a folder; download "
                              "the files with `quant-assets archive-download` or point it at the archive")

    # ------------------------------------------------------------------ interface
    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        """Payloads of ``family`` for symbol ``key`` on UTC ``day`` from the archive files.

        Raises :class:`DataUnavailableError` when the archive cannot provide the family
        or holds no file (or no row) for the day, and :class:`SourceError` when a file
        fails its checksum or does not have its documented shape.
        """
        if family in UNAVAILABLE:
            raise DataUnavailableError(f"archive: {family} for {key} on {day} is not available: "
                                       f"{UNAVAILABLE[family]}")
        spec = FILE_FAMILIES.get(family)
        if spec is None:
            raise DataUnavailableError(f"archive: no endpoint family {family!r} (the archive serves "
                                       f"{', '.join(FILE_FAMILIES)})")
        try:
            check_symbol(key)
        except ValueError as exc:
            raise SourceError(f"archive: {family} on {day}: {exc}") from exc
        cadence, relative = self._locate(family, spec.dataset, key, day)
        path = self.root / relative
        data, digest = read_verified(path)
        label = str(path)
        table = convert.read_table(convert.read_single_csv(data, label), spec.columns, label,
                                   spec.required)
        params: dict[str, str] = {"symbol": key}
        if spec.dataset.has_interval:
            params["interval"] = self.interval
        if cadence == "monthly":
            table = self._one_day(table, spec, day)
            params["day"] = day.isoformat()
        if not table.rows:
            raise DataUnavailableError(f"archive: {family} for {key} on {day}: {path} has no rows")
        received_at_ms = path.stat().st_mtime_ns // 1_000_000
        return [
            Payload(Request.of(f"archive:/{relative}!{endpoint}", **params, **extra, sha256=digest),
                    (convert.dumps(rows),), received_at_ms, "rest", self.name)
            for endpoint, rows, extra in spec.build(table, key)
        ]

    # ------------------------------------------------------------------ helpers
    def _locate(self, family: str, dataset: Dataset, symbol: str, day: date
                ) -> tuple[Cadence, PurePosixPath]:
        """The daily file of ``day`` if present, else the monthly file of its month."""
        candidates = dataset.candidates(symbol, day, self.interval)
        for cadence, relative in candidates:
            if (self.root / relative).exists():
                return cadence, relative
        looked = " nor ".join(f"{cadence} {self.root / relative}" for cadence, relative in candidates)
        raise DataUnavailableError(f"archive: no {family} file for {symbol} on {day}: found neither "
                                   f"{looked} (download with `quant-assets archive-download`)")

    @staticmethod
    def _one_day(table: CsvTable, spec: FileFamily, day: date) -> CsvTable:
        """The rows of a monthly file that fall on ``day``; the other days' rows are other partitions'."""
        if spec.time_column is None:  # every data set with monthly files names its time column
            raise SourceError(f"{table.label}: no time column to pick {day} out of a monthly file")
        start = _day_start_ms(day)
        end = start + DAY_MS
        times = convert.row_times_ms(table, spec.time_column)
        return table.select([i for i, t in enumerate(times) if start <= t < end])

