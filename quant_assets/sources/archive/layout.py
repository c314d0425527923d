"""Where the public data archive keeps each file, and how a file proves it is intact.

The archive (``https://data.binance.vision/data/``) publishes one ZIP per symbol and
UTC day (``daily``) or calendar month (``monthly``), each holding one CSV, next to a
``<zip>.CHECKSUM`` file with the SHA-256 of the ZIP in ``sha256sum`` format
(``<hex>  <file name>``). A local archive folder mirrors the same relative paths, so
the reader and the downloader share the path rules below.

Source: binance/binance-public-data README (see ``shared/fixtures/BINANCE_API_FACTS.md``
section 6). Kline intervals are named as in the API except the month, ``1mo``
instead of ``1M``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Literal

from quant_assets.sources.base import SourceError

Cadence = Literal["daily", "monthly"]

#: Kline intervals as the archive names them in folders and files.
ARCHIVE_KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
                           "1d", "3d", "1w", "1mo")
CHECKSUM_SUFFIX = ".CHECKSUM"
_SYMBOL = re.compile(r"^[A-Z0-9_]{2,40}$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class ChecksumError(SourceError):
    """A ZIP's ``.CHECKSUM`` is missing, malformed, or does not match the ZIP's bytes."""


def archive_interval(interval: str) -> str:
    """The archive's name of a kline interval: the API's ``1M`` is ``1mo`` in file names.

    Raises ``ValueError`` naming the interval when the archive publishes no such klines.
    """
    name = "1mo" if interval == "1M" else interval
    if name not in ARCHIVE_KLINE_INTERVALS:
        raise ValueError(f"kline interval {interval!r}: the archive publishes only "
                         f"{', '.join(ARCHIVE_KLINE_INTERVALS)} (and 1M as 1mo)")
    return name


def check_symbol(symbol: str) -> str:
    """``symbol`` if it is an exchange symbol; it becomes a path component, so nothing else passes."""
    if not _SYMBOL.match(symbol):
        raise ValueError(f"symbol {symbol!r}: expected an upper-case exchange symbol such as BTCUSDT")
    return symbol


@dataclass(frozen=True)
class Dataset:
    """One published data set: where its files live and at which cadences they exist.

    ``market`` is ``spot`` or ``futures/um``; ``name`` the archive's folder name
    (``klines``, ``aggTrades``, ``metrics`` …). Kline data sets add an interval folder
    and name files by interval instead of by data set.
    """

    market: str
    name: str
    has_interval: bool
    daily: bool
    monthly: bool

    def path(self, cadence: Cadence, symbol: str, period: date, interval: str | None = None
             ) -> PurePosixPath:
        """Relative path of the file of ``symbol`` for the day (or the month of) ``period``."""
        check_symbol(symbol)
        if (cadence == "daily" and not self.daily) or (cadence == "monthly" and not self.monthly):
            raise ValueError(f"the archive publishes no {cadence} {self.market} {self.name} files")
        stamp = period.isoformat() if cadence == "daily" else f"{period:%Y-%m}"
        folder = PurePosixPath(self.market, cadence, self.name, symbol)
        if self.has_interval:
            if interval is None:
                raise ValueError(f"{self.market} {self.name} files are per kline interval; none given")
            name = archive_interval(interval)
            return folder / name / f"{symbol}-{name}-{stamp}.zip"
        return folder / f"{symbol}-{self.name}-{stamp}.zip"

    def candidates(self, symbol: str, day: date, interval: str | None = None
                   ) -> list[tuple[Cadence, PurePosixPath]]:
        """Files that may hold ``day``, in order of preference: the daily file, then the monthly."""
        found: list[tuple[Cadence, PurePosixPath]] = []
        if self.daily:
            found.append(("daily", self.path("daily", symbol, day, interval)))
        if self.monthly:
            found.append(("monthly", self.path("monthly", symbol, day, interval)))
        return found


SPOT_KLINES = Dataset("spot", "klines", has_interval=True, daily=True, monthly=True)
FUTURES_KLINES = Dataset("futures/um", "klines", has_interval=True, daily=True, monthly=True)
MARK_PRICE_KLINES = Dataset("futures/um", "markPriceKlines", has_interval=True, daily=True, monthly=True)
FUTURES_AGG_TRADES = Dataset("futures/um", "aggTrades", has_interval=False, daily=True, monthly=True)
# Funding history is published per month only; daily funding files do not exist.
FUNDING_RATE = Dataset("futures/um", "fundingRate", has_interval=False, daily=False, monthly=True)
# Metrics (5-minute open interest and ratios) are published per day only.
METRICS = Dataset("futures/um", "metrics", has_interval=False, daily=True, monthly=False)


def checksum_path(zip_path: Path) -> Path:
    return zip_path.with_name(zip_path.name + CHECKSUM_SUFFIX)


def parse_checksum(text: str, zip_name: str, where: str) -> str:
    """The SHA-256 hex digest a ``.CHECKSUM`` text gives for ``zip_name``.

    The format is ``sha256sum``'s: ``<64 hex digits>  <file name>`` (a ``*`` before the
    name marks binary mode). A checksum that names another file is rejected: it
    would vouch for the wrong bytes.
    """
    parts = text.strip().split(maxsplit=1)
    if len(parts) != 2 or not _SHA256_HEX.match(parts[0]):
        raise ChecksumError(f"{where}: not a SHA-256 checksum line ('<hex>  <file name>'): "
                            f"{text.strip()[:120]!r}")
    named = parts[1].strip().lstrip("*")
    if PurePosixPath(named).name != zip_name:
        raise ChecksumError(f"{where}: the checksum is for {named!r}, not for {zip_name!r}")
    return parts[0].lower()


def read_checksum(zip_path: Path) -> str:
    """The expected SHA-256 of ``zip_path`` from its ``.CHECKSUM`` file next to it."""
    path = checksum_path(zip_path)
    if not path.is_file():
        raise ChecksumError(f"{zip_path}: its checksum file {path.name} is missing, so the ZIP cannot "
                            "be verified (download both with `quant-assets archive-download`)")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChecksumError(f"{path}: unreadable checksum file: {exc}") from exc
    return parse_checksum(text, zip_path.name, str(path))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks (archive files can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(zip_path: Path) -> bool:
    """Whether ``zip_path`` and its ``.CHECKSUM`` both exist and agree."""
    if not zip_path.is_file() or not checksum_path(zip_path).is_file():
        return False
    try:
        expected = read_checksum(zip_path)
    except ChecksumError:
        return False
    return file_sha256(zip_path) == expected


def read_verified(zip_path: Path) -> tuple[bytes, str]:
    """The bytes of ``zip_path`` and their SHA-256, after checking them against the ``.CHECKSUM``.

    The bytes returned are the ones hashed, so what is parsed is what was verified.
    """
    expected = read_checksum(zip_path)
    try:
        data = zip_path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{zip_path}: unreadable: {exc}") from exc
    actual = sha256_hex(data)
    if actual != expected:
        raise ChecksumError(f"{zip_path}: SHA-256 {actual} does not match {expected} in "
                            f"{checksum_path(zip_path).name}: the file is corrupt or incomplete")
    return data, actual
