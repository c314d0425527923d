"""The ``binance`` market source: raw endpoint families fetched from the REST API.

History families (klines, mark-price klines, funding, open interest, long/short and
taker ratios, aggregated trades) are paged per UTC day. Current-state endpoints
(premium index, 24h ticker, average price, book ticker) can only be polled for
today; their history accumulates from scheduled polls and the stream recorder. Order
books and liquidations are not served by REST at all and come from the recorder.

``fetch_all`` runs every partition of a run in one event loop with one client, so all
partitions share one connection pool and one request budget. The loop runs in a
worker thread; partitions are handed back in order as each completes, and the first
failing partition (in order) raises after the ones before it have been handed back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

from quant_assets.days import utc_now
from quant_assets.settings import KLINE_INTERVAL_MINUTES
from quant_assets.sources.base import BatchFetchMixin, DataUnavailableError, Payload, SourceError
from quant_assets.sources.binance import history
from quant_assets.sources.binance.client import BinanceClient, ClientStats
from quant_assets.sources.binance.config import BinanceConfig
from quant_assets.sources.exchange_facts import (
    FUTURES_KLINE_LIMIT,
    RATIO_PERIODS,
    SPOT_KLINE_LIMIT,
    ratio_period,
)
from quant_assets.sources.listings import Listing, usdm_perpetuals

logger = logging.getLogger(__name__)

HISTORY_FAMILIES = ("spot_klines", "futures_klines", "mark_price_klines", "funding_rate",
                    "open_interest", "long_short_ratio", "taker_volume", "agg_trades")
#: Family → the endpoint polled for today's state.
SNAPSHOT_FAMILIES = {
    "premium_index": "/fapi/v1/premiumIndex",
    "ticker_24hr": "/api/v3/ticker/24hr",
    "avg_price": "/api/v3/avgPrice",
    "book_ticker": "/fapi/v1/ticker/bookTicker",
}
RECORDER_FAMILIES = {
    "depth_snapshots": "historical order books are not served by the REST API",
    "liquidations": "the REST liquidation endpoint was withdrawn; liquidations are only streamed "
                    "(!forceOrder@arr)",
}
OTHER_SOURCES = {
    "onchain_metrics": "on-chain series come from the Glassnode client",
    "etf_flows": "ETF flows come from the published flow tables (the ETF importer)",
}
#: Families whose history the API keeps only for ``history_days``.
SHORT_HISTORY = ("open_interest", "long_short_ratio", "taker_volume")


class BinanceMarket(BatchFetchMixin):
    """Binance spot and USDⓈ-M futures as a :class:`~quant_assets.sources.base.MarketSource`.

    Parameters
    ----------
    kline_interval
        Candle interval of the kline families (also picks the ``/futures/data`` period).
    config
        Client settings; :meth:`BinanceConfig.from_env` when omitted.
    now
        Current UTC time (naive); injectable so tests can fix "today".
    partition_concurrency
        Partitions fetched at once within a run (requests are bounded separately).
    """

    name = "binance"

    def __init__(self, kline_interval: str = "1h", config: BinanceConfig | None = None,
                 now: Callable[[], datetime] | None = None, partition_concurrency: int = 4) -> None:
        if kline_interval not in KLINE_INTERVAL_MINUTES:
            raise SourceError(f"kline_interval={kline_interval!r}: must be one of "
                              f"{', '.join(KLINE_INTERVAL_MINUTES)}")
        if partition_concurrency < 1:
            raise SourceError(f"partition_concurrency={partition_concurrency}: must be at least 1")
        self.kline_interval = kline_interval
        self.interval_ms = KLINE_INTERVAL_MINUTES[kline_interval] * 60_000
        self.period = ratio_period(kline_interval)
        self.config = config or BinanceConfig.from_env()
        self.partition_concurrency = partition_concurrency
        self._now = now or utc_now
        #: Statistics of the most recent ``fetch_all`` (requests, retries, faults met).
        self.last_stats: ClientStats | None = None

    def __repr__(self) -> str:
        return f"BinanceMarket(kline_interval={self.kline_interval!r}, config={self.config!r})"

    # ------------------------------------------------------------------ interface
    def fetch_all(self, family: str, partitions: Sequence[tuple[str, date]]
                  ) -> Iterator[tuple[str, date, list[Payload]]]:
        partitions = list(partitions)
        for key, day in partitions:  # refuse the whole run before sending anything
            self._check_available(family, key, day)
        if not partitions:
            return
        results: list[concurrent.futures.Future[list[Payload]]] = [
            concurrent.futures.Future() for _ in partitions]

        def crashed(exc: BaseException) -> None:
            error = exc if isinstance(exc, Exception) else SourceError(
                f"binance: the fetch of {family} was interrupted ({type(exc).__name__})")
            for result in results:
                if not result.done():
                    result.set_exception(error)

        # Partitions are fetched at most this far ahead of the consumer, so a long backfill
        # does not pile up payloads in memory while the consumer lands and parses.
        ahead = asyncio.Semaphore(2 * self.partition_concurrency)
        runner = _LoopThread(lambda stop: self._run(family, partitions, results, stop, ahead), crashed)
        runner.start()
        try:
            for (key, day), result in zip(partitions, results, strict=True):
                payloads = result.result()
                runner.call(ahead.release)
                yield key, day, payloads
        finally:
            runner.stop()

    # ------------------------------------------------------------------ listings
    def perpetual_listings(self) -> list[Listing]:
        """The trading USDⓈ-M perpetuals, from one ``GET /fapi/v1/exchangeInfo`` (weight 1)."""

        async def ask() -> str:
            async with BinanceClient(self.config) as client:
                return (await client.exchange_info("futures")).text

        return usdm_perpetuals(asyncio.run(ask()), "binance /fapi/v1/exchangeInfo")

    # ------------------------------------------------------------------ availability
    def _check_available(self, family: str, key: str, day: date) -> None:
        now = self._now()
        today = now.date()
        if family in RECORDER_FAMILIES:
            raise DataUnavailableError(
                f"binance: {family} for {key} on {day}: {RECORDER_FAMILIES[family]}; this family "
                "comes only from the websocket streams, recorded by the stream recorder "
                "(quant-assets record); reading its files is a later part of issue 3")
        if family in OTHER_SOURCES:
            raise DataUnavailableError(f"binance: {family} is not a Binance endpoint family; "
                                       f"{OTHER_SOURCES[family]}, not the binance source")
        if family in SNAPSHOT_FAMILIES:
            if day != today:
                raise DataUnavailableError(
                    f"binance: {family} for {key} on {day}: {SNAPSHOT_FAMILIES[family]} serves only the "
                    f"current state, so a past day cannot be fetched from the REST API; this series "
                    f"accumulates from scheduled polls and the stream recorder (a later part of "
                    f"issue 3). Only today ({today}, UTC) can be polled now")
            return
        if family not in HISTORY_FAMILIES:
            raise DataUnavailableError(f"binance: no endpoint family {family!r}")
        if day > today:  # today is served as far as it has happened (the open partition)
            raise DataUnavailableError(f"binance: {family} for {key} on {day} is not available yet "
                                       f"(today is {today}, UTC)")
        if family in SHORT_HISTORY:
            earliest = self.earliest_statistics_day()
            if day < earliest:
                raise DataUnavailableError(
                    f"binance: {family} for {key} on {day} is older than the exchange keeps: the "
                    f"/futures/data endpoints serve only the last {self.config.history_days} days "
                    f"(earliest whole day now: {earliest}). Such days cannot be fetched from the REST "
                    "API any more; they exist only if a daily run stored them while they were recent")

    def earliest_statistics_day(self) -> date:
        """First whole UTC day still inside the ``/futures/data`` history window."""
        oldest = self._now() - timedelta(days=self.config.history_days)
        first = oldest.date()
        return first if oldest == datetime(first.year, first.month, first.day) else first + timedelta(days=1)

    # ------------------------------------------------------------------ fetching
    async def _run(self, family: str, partitions: list[tuple[str, date]],
                   results: list[concurrent.futures.Future[list[Payload]]], stop: asyncio.Event,
                   ahead: asyncio.Semaphore) -> None:
        gate = asyncio.Semaphore(self.partition_concurrency)
        tasks: list[asyncio.Task[None]] = []

        async def one(client: BinanceClient, index: int, key: str, day: date) -> None:
            # Tasks wait for ``ahead`` in index order (the semaphore wakes waiters first come,
            # first served); the consumer releases one slot per partition it takes.
            await ahead.acquire()
            async with gate:
                try:
                    payloads = await self._fetch_partition(client, family, key, day)
                except Exception as exc:  # handed to the consumer, which raises it in order
                    results[index].set_exception(exc)
                    for later in tasks[index + 1:]:  # nothing after a failed partition is used
                        later.cancel()
                    return
                results[index].set_result(payloads)

        async with BinanceClient(self.config) as client:
            try:
                tasks.extend(asyncio.create_task(one(client, i, key, day))
                             for i, (key, day) in enumerate(partitions))
                stopper = asyncio.create_task(stop.wait())
                pending: set[asyncio.Task[None]] = set(tasks)
                while pending:
                    done, _ = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
                    pending -= done
                    if stopper in done:  # the consumer stopped reading: abandon the rest of the run
                        for task in pending:
                            task.cancel()
                        await asyncio.gather(*pending, return_exceptions=True)
                        break
                stopper.cancel()
            finally:
                self.last_stats = client.stats
                logger.info("binance %s: %d partitions, %s", family, len(partitions), client.stats.summary())
                for (key, day), result in zip(partitions, results, strict=True):
                    if not result.done():
                        result.set_exception(SourceError(
                            f"binance: {family} for {key} on {day} was not fetched: an earlier partition "
                            "of this run failed or the run was stopped"))

    async def _fetch_partition(self, client: BinanceClient, family: str, key: str, day: date
                               ) -> list[Payload]:
        if family in SNAPSHOT_FAMILIES:
            poll = {"premium_index": client.premium_index, "ticker_24hr": client.ticker_24hr,
                    "avg_price": client.avg_price, "book_ticker": client.futures_book_ticker}[family]
            return [(await poll(key)).payload("snapshot")]
        if family == "spot_klines":
            return await history.kline_pages(client, "/api/v3/klines", key, self.kline_interval,
                                             self.interval_ms, day, SPOT_KLINE_LIMIT)
        if family == "futures_klines":
            return await history.kline_pages(client, "/fapi/v1/klines", key, self.kline_interval,
                                             self.interval_ms, day, FUTURES_KLINE_LIMIT)
        if family == "mark_price_klines":
            return await history.kline_pages(client, "/fapi/v1/markPriceKlines", key, self.kline_interval,
                                             self.interval_ms, day, FUTURES_KLINE_LIMIT)
        if family == "funding_rate":
            return await history.funding_pages(client, key, day)
        if family == "agg_trades":
            return await history.agg_trade_pages(client, key, day)
        period_ms = RATIO_PERIODS[self.period] * 60_000
        if family == "open_interest":
            return await history.statistics_pages(client, client.open_interest_hist, "openInterestHist",
                                                  key, self.period, period_ms, day)
        if family == "taker_volume":
            return await history.statistics_pages(client, client.taker_long_short_ratio,
                                                  "takerlongshortRatio", key, self.period, period_ms, day)
        if family == "long_short_ratio":
            pages = await history.gather_or_cancel(*(
                history.statistics_pages(
                    client, lambda *a, kind=kind, **kw: client.long_short_ratio(kind, *a, **kw),
                    kind, key, self.period, period_ms, day)
                for kind in ("global_account", "top_account", "top_position")))
            return [payload for series in pages for payload in series]
        raise AssertionError(f"unreachable: {family} passed the availability check")


class _LoopThread:
    """An event loop in a worker thread, running ``main(stop)`` until it returns or is stopped.

    ``crashed`` receives any exception that escapes ``main``, so the consumer waiting on
    the results sees it instead of waiting forever.
    """

    def __init__(self, main: Callable[[asyncio.Event], Awaitable[None]],
                 crashed: Callable[[BaseException], None]) -> None:
        self._main = main
        self._crashed = crashed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._target, name="binance-fetch", daemon=True)

    def _target(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._main(self._stop)

        try:
            asyncio.run(body())
        except BaseException as exc:
            self._crashed(exc)
        finally:
            self._ready.set()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop's thread (if the loop still runs)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close between the check and the call; then nothing waits for the callback.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        """Ask the loop to abandon outstanding work and wait for the thread to finish."""
        loop, stop = self._loop, self._stop
        if self._thread.is_alive() and loop is not None and stop is not None and not loop.is_closed():
            # The loop may close between the check and the call; then it has nothing left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self._thread.join()
