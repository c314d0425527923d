"""Paging one UTC day of each history endpoint into Payloads, one per page as served.

Each paginator respects its endpoint's ``limit`` and window rules, keeps every page
as its own Payload with the body text untouched, and watches the rows across pages:
duplicates, rows out of order and holes in the time grid or the trade-id sequence
are logged and counted, never repaired (the raw checks downstream judge the data).
A page that does not advance the cursor is a server fault and fails the partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from quant_assets.sources.base import Payload
from quant_assets.sources.binance.client import (
    FUNDING_LIMIT,
    FUTURES_DATA_LIMIT,
    HOUR_MS,
    BinanceClient,
    Response,
)
from quant_assets.sources.binance.errors import MalformedResponseError, PaginationError
from quant_assets.sources.exchange_facts import AGG_TRADES_LIMIT

logger = logging.getLogger(__name__)

T = TypeVar("T")
DAY_MS = 24 * HOUR_MS
#: How many hours past a day the first later trade is looked for (see agg_trade_pages).
BOUNDARY_PROBE_HOURS = 24


async def gather_or_cancel(*jobs: Awaitable[T]) -> list[T]:
    """Results of ``jobs`` in order; the first failure cancels the rest and is raised as is.

    ``asyncio.gather`` would leave the others running after a failure (still sending
    requests for a partition that has already failed); a TaskGroup would wrap the
    error in an ExceptionGroup, hiding its type from the callers that act on it.
    """
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _rows(response: Response, kind: type) -> list[Any]:
    """The page's rows, which the paginator reads to find its next cursor."""
    if not isinstance(response.data, list) or not all(isinstance(r, kind) for r in response.data):
        raise MalformedResponseError(response.host, response.request.endpoint, response.request.params,
                                     f"expected a JSON array of {kind.__name__}s, got "
                                     f"{response.text[:120]!r}")
    return response.data


def _ints(response: Response, rows: list[Any], pick: Callable[[Any], Any], name: str) -> list[int]:
    values = []
    for i, row in enumerate(rows):
        try:
            values.append(int(pick(row)))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise MalformedResponseError(response.host, response.request.endpoint, response.request.params,
                                         f"row {i} has no integer {name}: {str(row)[:120]}") from exc
    return values


@dataclass
class RowAudit:
    """Watches the cursor values of one partition's rows, page after page.

    ``step`` is the expected distance between consecutive values (a kline interval, 1
    for trade ids); ``None`` when the grid is not regular enough to call holes.
    """

    label: str
    step: int | None = None
    seen: set[int] = field(default_factory=set)
    newest: int | None = None
    duplicates: int = 0
    out_of_order: int = 0
    gaps: int = 0

    def inspect(self, page: int, values: Sequence[int]) -> None:
        for value in values:
            if value in self.seen:
                self.duplicates += 1
                logger.warning("%s: page %d repeats the row at %d (kept as served)", self.label, page, value)
                continue
            if self.newest is not None and value < self.newest:
                self.out_of_order += 1
                logger.warning("%s: page %d has the row at %d after %d (out of order, kept as served)",
                               self.label, page, value, self.newest)
            elif self.newest is not None and self.step and value - self.newest > self.step:
                self.gaps += 1
                logger.warning("%s: page %d skips from %d to %d (a gap of %d rows)", self.label, page,
                               self.newest, value, (value - self.newest) // self.step - 1)
            self.seen.add(value)
            self.newest = value if self.newest is None else max(self.newest, value)

    def report(self, client: BinanceClient) -> None:
        client.stats.duplicate_rows += self.duplicates
        client.stats.out_of_order_rows += self.out_of_order
        client.stats.gaps += self.gaps


async def time_paged(client: BinanceClient, label: str, fetch: Callable[[int], Awaitable[Response]],
                     limit: int, start: int, end: int, time_of: Callable[[Any], Any], row_kind: type,
                     step: int | None) -> list[Payload]:
    """Pages of an endpoint that takes ``startTime``: the next page starts after the newest row.

    Stops when a page has fewer than ``limit`` rows (nothing more in the window) or the
    cursor passes ``end``.
    """
    audit = RowAudit(label, step)
    payloads: list[Payload] = []
    cursor = start
    while True:
        response = await fetch(cursor)
        rows = _rows(response, row_kind)
        times = _ints(response, rows, time_of, "time")
        payloads.append(response.payload())
        audit.inspect(len(payloads), times)
        if len(rows) < limit:
            break
        following = max(times) + (step or 1)
        if following <= cursor:
            raise PaginationError(response.host, response.request.endpoint, response.request.params,
                                  f"a full page of {limit} rows does not advance past {cursor}; the "
                                  "partition cannot be completed")
        if following > end:
            break
        cursor = following
    audit.report(client)
    return payloads


async def kline_pages(client: BinanceClient, endpoint: str, symbol: str, interval: str,
                      interval_ms: int, day: date, limit: int) -> list[Payload]:
    """Candles of one day: ``startTime`` from the day's start, next page after the newest open time."""
    start = day_start_ms(day)
    end = start + DAY_MS - 1
    fetchers = {"/api/v3/klines": client.klines, "/fapi/v1/klines": client.futures_klines,
                "/fapi/v1/markPriceKlines": client.mark_price_klines}
    get = fetchers[endpoint]
    return await time_paged(
        client, f"{endpoint} {symbol} {day}",
        lambda cursor: get(symbol, interval, start_time=cursor, end_time=end, limit=limit),
        limit, start, end, lambda row: row[0], list, interval_ms)


async def funding_pages(client: BinanceClient, symbol: str, day: date) -> list[Payload]:
    start = day_start_ms(day)
    end = start + DAY_MS - 1
    return await time_paged(
        client, f"/fapi/v1/fundingRate {symbol} {day}",
        lambda cursor: client.funding_rate(symbol, start_time=cursor, end_time=end, limit=FUNDING_LIMIT),
        FUNDING_LIMIT, start, end, lambda row: row["fundingTime"], dict, None)


async def statistics_pages(client: BinanceClient, fetch: Callable[..., Awaitable[Response]], label: str,
                           symbol: str, period: str, period_ms: int, day: date) -> list[Payload]:
    """A ``/futures/data`` series for one day (at most 500 rows a page)."""
    start = day_start_ms(day)
    end = start + DAY_MS - 1
    return await time_paged(
        client, f"{label} {symbol} {day}",
        lambda cursor: fetch(symbol, period, start_time=cursor, end_time=end, limit=FUTURES_DATA_LIMIT),
        FUTURES_DATA_LIMIT, start, end, lambda row: row["timestamp"], dict, period_ms)


async def agg_trade_pages(client: BinanceClient, symbol: str, day: date) -> list[Payload]:
    """Aggregated trades of one day from ``/fapi/v1/aggTrades``.

    The endpoint takes ``startTime``/``endTime`` spanning under an hour, then ``fromId``.
    Each hour is asked for by time; an hour with more trades than one page continues
    by ``fromId``, with ``limit`` cut so that the last page ends at the hour's last
    trade. That bound is the id of the first trade after the hour, known from the next
    non-empty hour's page (or, after the day's last busy hour, from a one-row probe of
    the following hours, which is not kept: its trade belongs to another partition).
    So no page reaches into another hour and no trade is fetched twice.
    """
    start = day_start_ms(day)
    label = f"/fapi/v1/aggTrades {symbol} {day}"
    windows = await gather_or_cancel(*(
        client.futures_agg_trades(symbol, start_time=start + h * HOUR_MS,
                                  end_time=start + (h + 1) * HOUR_MS - 1, limit=AGG_TRADES_LIMIT)
        for h in range(24)))
    ids = [_ints(r, _rows(r, dict), lambda row: row["a"], "a") for r in windows]
    first_after: list[int | None] = [None] * 24
    following: int | None = None
    for h in range(23, -1, -1):
        first_after[h] = following
        if ids[h]:
            following = min(ids[h])

    async def boundary(h: int) -> int | None:
        if first_after[h] is not None:
            return first_after[h]
        for ahead in range(BOUNDARY_PROBE_HOURS):
            probe_start = start + DAY_MS + ahead * HOUR_MS
            probe = await client.futures_agg_trades(symbol, start_time=probe_start,
                                                    end_time=probe_start + HOUR_MS - 1, limit=1)
            probe_ids = _ints(probe, _rows(probe, dict), lambda row: row["a"], "a")
            if probe_ids:
                return probe_ids[0]
        return None

    async def continue_hour(h: int) -> list[Response]:
        if len(ids[h]) < AGG_TRADES_LIMIT:
            return []
        bound = await boundary(h)
        pages: list[Response] = []
        cursor = max(ids[h]) + 1
        while bound is None or cursor < bound:
            limit = AGG_TRADES_LIMIT if bound is None else min(AGG_TRADES_LIMIT, bound - cursor)
            page = await client.futures_agg_trades(symbol, from_id=cursor, limit=limit)
            page_ids = _ints(page, _rows(page, dict), lambda row: row["a"], "a")
            pages.append(page)
            if bound is None and len(page_ids) < limit:
                break  # no later trade exists: this was the newest page
            if not page_ids or max(page_ids) < cursor:
                raise PaginationError(page.host, page.request.endpoint, page.request.params,
                                      f"fromId={cursor} did not advance (got {len(page_ids)} rows); the "
                                      "partition cannot be completed")
            if bound is None:
                hour_end = start + (h + 1) * HOUR_MS - 1
                times = _ints(page, page.data, lambda row: row["T"], "T")
                if max(times) > hour_end:
                    logger.warning("%s: no trade found in the %d hours after the day, so the last "
                                   "fromId page reaches past hour %d (kept as served)", label,
                                   BOUNDARY_PROBE_HOURS, h)
                    break
            cursor = max(page_ids) + 1
        return pages

    continuations = await gather_or_cancel(*(continue_hour(h) for h in range(24)))
    audit = RowAudit(label, 1)
    payloads: list[Payload] = []
    for window, more in zip(windows, continuations, strict=True):
        for response in (window, *more):
            payloads.append(response.payload())
            audit.inspect(len(payloads), _ints(response, response.data, lambda row: row["a"], "a"))
    audit.report(client)
    return payloads
