"""Download the public archive's ZIP and ``.CHECKSUM`` files for a range of days.

Files land under ``dest`` at the archive's own relative paths, which is the layout
:class:`~quant_assets.sources.archive.source.ArchiveMarket` reads. For every file:

* a ZIP already present whose local ``.CHECKSUM`` agrees with it is left alone, without
  a single request: a valid file is never overwritten;
* otherwise the published ``.CHECKSUM`` is fetched first; a local ZIP that matches it
  only gets the checksum file written next to it;
* otherwise the ZIP is streamed to a temporary file, hashed, and moved into place only
  if its SHA-256 equals the published one. A mismatch leaves nothing behind and is
  reported with the file's name.

Daily files are fetched per day; where the archive has no daily file (HTTP 404) the
monthly file of that month is fetched instead, when the data set has monthly files.
Funding history exists only as monthly files.

Errors are never dropped: files that fail verification are collected and raised
together as :class:`ArchiveDownloadError` once every other file has been tried; a host
that cannot be reached (connection errors, timeouts, 5xx or 429 after the retries,
403/451 refusals) stops the run at once, since every further request would fail too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path, PurePosixPath
from typing import Literal

import httpx

from quant_assets.sources.archive.layout import (
    ChecksumError,
    Dataset,
    archive_interval,
    check_symbol,
    checksum_path,
    file_sha256,
    is_verified,
    parse_checksum,
    read_checksum,
)
from quant_assets.sources.archive.source import FILE_FAMILIES, UNAVAILABLE
from quant_assets.sources.base import SourceError

DEFAULT_BASE_URL = "https://data.binance.vision/data"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Refusals that apply to every file (a WAF or a geo-block), so the run stops.
_HOST_REFUSALS = frozenset({403, 451})
_MAX_RETRY_AFTER_SECONDS = 60.0

Outcome = Literal["present", "verified", "downloaded", "missing", "failed"]


@dataclass
class DownloadReport:
    """What happened to every archive file of a download, by relative path."""

    downloaded: list[PurePosixPath] = field(default_factory=list)
    #: ZIPs already here that matched the published checksum; only the checksum was written.
    verified: list[PurePosixPath] = field(default_factory=list)
    #: ZIPs already here and valid: no request was sent for them.
    present: list[PurePosixPath] = field(default_factory=list)
    #: Files the archive does not publish (no daily file and no monthly fallback).
    missing: list[PurePosixPath] = field(default_factory=list)
    #: One message per file that could not be obtained intact.
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.downloaded)} downloaded, {len(self.verified)} verified in place, "
                f"{len(self.present)} already present, {len(self.missing)} not published, "
                f"{len(self.failed)} failed")


class ArchiveDownloadError(SourceError):
    """Some archive files could not be downloaded intact; ``report`` says what did succeed."""

    def __init__(self, message: str, report: DownloadReport) -> None:
        super().__init__(message)
        self.report = report


class _HostUnavailable(Exception):
    """The archive host cannot be used for this run (raised inside, reported as ArchiveDownloadError)."""


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _months(start: date, end: date) -> list[date]:
    months: list[date] = []
    for day in _days(start, end):
        first = day.replace(day=1)
        if not months or months[-1] != first:
            months.append(first)
    return months


def _datasets(families: Iterable[str]) -> list[Dataset]:
    """The archive data sets holding ``families``, each once (several families share metrics)."""
    datasets: list[Dataset] = []
    for family in families:
        if family in UNAVAILABLE:
            raise ValueError(f"family {family!r} cannot be read from the archive: {UNAVAILABLE[family]}")
        if family not in FILE_FAMILIES:
            raise ValueError(f"family {family!r} is unknown; the archive serves {', '.join(FILE_FAMILIES)}")
        dataset = FILE_FAMILIES[family].dataset
        if dataset not in datasets:
            datasets.append(dataset)
    return datasets


class _Downloader:
    """One run's HTTP client, destination and report."""

    def __init__(self, client: httpx.Client, base_url: str, dest: Path, retries: int,
                 backoff_seconds: float, log: Callable[[str], None]) -> None:
        self.client, self.base_url, self.dest = client, base_url.rstrip("/"), dest
        self.retries, self.backoff_seconds, self.log = retries, backoff_seconds, log
        self.report = DownloadReport()

    # ------------------------------------------------------------------ HTTP
    def _pause(self, attempt: int, response: httpx.Response | None) -> None:
        delay = self.backoff_seconds * 2**attempt
        if response is not None and response.headers.get("Retry-After", "").isdigit():
            delay = min(float(response.headers["Retry-After"]), _MAX_RETRY_AFTER_SECONDS)
        time.sleep(delay)

    def _get(self, relative: str, into: Callable[[httpx.Response], None]) -> bool:
        """GET ``relative`` and hand the streaming 200 response to ``into``; False on 404.

        Retries connection errors, timeouts, 429 and 5xx with exponential backoff (a
        ``Retry-After`` wins); when they persist the host is unavailable.
        """
        url = f"{self.base_url}/{relative}"
        for attempt in range(self.retries + 1):
            try:
                with self.client.stream("GET", url) as response:
                    if response.status_code == 404:
                        return False
                    if response.status_code in _HOST_REFUSALS:
                        raise _HostUnavailable(f"{url}: HTTP {response.status_code}: the archive host "
                                               "refuses this network")
                    if response.status_code in _RETRY_STATUSES and attempt < self.retries:
                        self._pause(attempt, response)
                        continue
                    if response.status_code in _RETRY_STATUSES:
                        raise _HostUnavailable(f"{url}: HTTP {response.status_code} after "
                                               f"{self.retries + 1} attempts")
                    response.raise_for_status()
                    into(response)
                    return True
            except httpx.TransportError as exc:
                if attempt < self.retries:
                    self._pause(attempt, None)
                    continue
                raise _HostUnavailable(f"{url}: {type(exc).__name__}: {exc} (after {self.retries + 1} "
                                       "attempts)") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ------------------------------------------------------------------ files
    @staticmethod
    def _place(tmp: Path, target: Path) -> None:
        """Move a finished temporary file to ``target``; an existing target is an invalid one."""
        if target.exists():
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if the target appeared meanwhile: no silent overwrite
            tmp.unlink()

    def _write_text(self, target: Path, text: str) -> None:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
            self._place(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _download_zip(self, relative: PurePosixPath, target: Path, expected: str) -> None:
        """Stream the ZIP to a temporary file; place it only if its SHA-256 is ``expected``."""
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(name)
        digests: list[str] = []

        def save(response: httpx.Response) -> None:
            digest = hashlib.sha256()
            with tmp.open("wb") as handle:  # a retried transfer starts the file afresh
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    handle.write(chunk)
            digests.append(digest.hexdigest())

        try:
            if not self._get(str(relative), save):
                raise SourceError(f"{relative}: the archive publishes its checksum but not the ZIP (404)")
            if digests[-1] != expected:
                raise ChecksumError(f"{relative}: downloaded SHA-256 {digests[-1]} does not match the "
                                    f"published {expected}; the file was not kept")
            self._place(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def obtain(self, relative: PurePosixPath) -> Outcome:
        """Make ``dest/relative`` and its checksum present and valid (see the module docstring)."""
        target = self.dest / relative
        if is_verified(target):
            self.report.present.append(relative)
            return "present"
        published: list[bytes] = []
        try:
            if not self._get(f"{relative}.CHECKSUM", lambda response: published.append(response.read())):
                return "missing"
            text = published[-1].decode("ascii", errors="replace")
            expected = parse_checksum(text, target.name, f"{relative}.CHECKSUM")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_file() and file_sha256(target) == expected:
                outcome: Outcome = "verified"
            else:
                self._download_zip(relative, target, expected)
                outcome = "downloaded"
        except (SourceError, httpx.HTTPStatusError) as exc:
            self.report.failed.append(str(exc))
            self.log(f"FAILED {exc}")
            return "failed"
        self._write_text(checksum_path(target), text)
        read_checksum(target)  # what was written must be what the reader accepts
        (self.report.verified if outcome == "verified" else self.report.downloaded).append(relative)
        self.log(f"{outcome} {relative}")
        return outcome

    def dataset(self, dataset: Dataset, symbol: str, start: date, end: date, interval: str | None) -> None:
        """Every file of ``dataset`` for ``symbol`` covering ``start``…``end``."""
        if not dataset.daily:
            for month in _months(start, end):
                relative = dataset.path("monthly", symbol, month, interval)
                if self.obtain(relative) == "missing":
                    self.report.missing.append(relative)
            return
        unpublished: dict[date, list[PurePosixPath]] = {}
        for day in _days(start, end):
            relative = dataset.path("daily", symbol, day, interval)
            if self.obtain(relative) == "missing":
                unpublished.setdefault(day.replace(day=1), []).append(relative)
        for month, dailies in unpublished.items():
            if not dataset.monthly:
                self.report.missing.extend(dailies)
                continue
            monthly = dataset.path("monthly", symbol, month, interval)
            if self.obtain(monthly) == "missing":
                self.report.missing.extend([*dailies, monthly])


def download_archive(symbols: Sequence[str], families: Sequence[str], start: date, end: date,
                     interval: str, dest: Path | str, base_url: str = DEFAULT_BASE_URL, *,
                     timeout_seconds: float = 60.0, retries: int = 3, backoff_seconds: float = 1.0,
                     log: Callable[[str], None] | None = None) -> DownloadReport:
    """Fetch and verify the archive files of ``families`` for ``symbols`` from ``start`` to ``end``.

    Parameters
    ----------
    symbols
        Exchange symbols, e.g. ``["BTCUSDT"]``.
    families
        Raw endpoint families the archive can serve (``spot_klines``, ``futures_klines``,
        ``mark_price_klines``, ``agg_trades``, ``funding_rate``, ``open_interest``,
        ``long_short_ratio``); the metrics file serving the last two is fetched once.
    start, end
        First and last UTC day, inclusive.
    interval
        Kline interval of the kline families (``1M`` is fetched as ``1mo``).
    dest
        The local archive folder (what ``QUANT_ARCHIVE_DIR`` names); created if missing.
    base_url
        Root of the archive, ``https://data.binance.vision/data`` by default.
    timeout_seconds, retries, backoff_seconds
        Per-request timeout; retries of a failed request, with backoff doubling from
        ``backoff_seconds``.
    log
        Called with one line per file obtained or failed (progress for the command).

    Returns
    -------
    DownloadReport
        Files downloaded, verified in place, already present, and not published.

    Raises
    ------
    ValueError
        An argument is invalid (the message names it).
    ArchiveDownloadError
        Some file failed verification or the host could not be used; its ``report``
        says what was obtained before.
    """
    symbols = [check_symbol(symbol) for symbol in symbols]
    if not symbols:
        raise ValueError("symbols: at least one symbol is needed")
    if not families:
        raise ValueError(f"families: at least one is needed ({', '.join(FILE_FAMILIES)})")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if retries < 0 or timeout_seconds <= 0 or backoff_seconds < 0:
        raise ValueError("retries and backoff_seconds must be ≥ 0 and timeout_seconds > 0")
    datasets = _datasets(families)
    name = archive_interval(interval)
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=timeout_seconds, follow_redirects=True) as client:
        run = _Downloader(client, base_url, dest, retries, backoff_seconds, log or (lambda _line: None))
        try:
            for dataset in datasets:
                for symbol in symbols:
                    run.dataset(dataset, symbol, start, end, name if dataset.has_interval else None)
        except _HostUnavailable as exc:
            raise ArchiveDownloadError(f"archive download stopped, the host cannot be used: {exc}; "
                                       f"before that: {run.report.summary()}", run.report) from exc
    if run.report.failed:
        raise ArchiveDownloadError(f"{len(run.report.failed)} archive file(s) failed verification: "
                                   + " | ".join(run.report.failed) + f" ({run.report.summary()})",
                                   run.report)
    return run.report

