"""Stream recorder: Binance USDⓈ-M websocket streams into hourly landing files.

Historical order books, book tickers and market-wide liquidations are not served by
REST, so they must be recorded as they happen. ``quant-assets record`` subscribes to
``<symbol>@depth@100ms``, ``<symbol>@bookTicker``, ``<symbol>@aggTrade`` and
``!forceOrder@arr`` on one combined connection and writes:

* ``book_ticker``, ``liquidations`` and ``agg_trades_stream``: every message as received;
* ``depth_snapshots``: top-N book snapshots (REST depth format) every ``snapshot_seconds``,
  taken from a local order book rebuilt from the diff stream the way the exchange
  documents it: buffer diffs, fetch a REST snapshot, drop diffs older than the
  snapshot, then require every diff's ``pu`` to equal the previous ``u``. A break in
  that chain (a lost message) is a sequence gap: the book is rebuilt from a new snapshot
  and the gap is counted, never papered over.

Messages go to an append-only journal per (family, symbol, UTC hour) as they arrive, so
a crash loses nothing already received. Once an hour is over, its journal becomes one
landing file (:class:`~quant_assets.raw.landing.LandingZone`, written atomically, never
overwritten) and the journal is removed; journals left by a crash are finalized on the
next start. The raw assets read these files when the source is ``binance``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import websockets

from quant_assets.raw.landing import LandingError, LandingZone
from quant_assets.sources.base import (
    DataUnavailableError,
    Payload,
    Request,
    SequentialFetchMixin,
    SourceError,
)

log = logging.getLogger(__name__)

SOURCE = "binance"
HOUR_MS = 3_600_000
JOURNAL_SUFFIX = ".journal.jsonl"


def hour_label(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H")


def stream_request(family: str, symbol: str, levels: int) -> Request:
    """The Request a recorded hour file is filed under (one per family and symbol)."""
    name = {
        "book_ticker": f"{symbol.lower()}@bookTicker",
        "depth_snapshots": f"{symbol.lower()}@depth{levels}",  # snapshots, not the diff stream
        "liquidations": "!forceOrder@arr",
        "agg_trades_stream": f"{symbol.lower()}@aggTrade",
    }[family]
    return Request.of(name, **({"symbol": symbol} if family == "liquidations" else {}))


class Journal:
    """Append-only journals of recorded messages, one per (family, symbol, hour)."""

    def __init__(self, root: Path, landing: LandingZone, levels: int) -> None:
        self.root = root
        self.landing = landing
        self.levels = levels
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, family: str, symbol: str, hour: str) -> Path:
        return self.root / f"{family}__{symbol}__{hour}{JOURNAL_SUFFIX}"

    def append(self, family: str, symbol: str, event_ms: int, message: str) -> None:
        with self._path(family, symbol, hour_label(event_ms)).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(message) + "\n")

    def finalize(self, before_ms: int) -> list[Path]:
        """Turn every journal of an hour that ended before ``before_ms`` into a landing file."""
        landed = []
        for path in sorted(self.root.glob(f"*{JOURNAL_SUFFIX}")):
            family, symbol, hour = path.name.removesuffix(JOURNAL_SUFFIX).split("__")
            start = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
            end_ms = int(start.timestamp() * 1000) + HOUR_MS
            if end_ms > before_ms:
                continue
            with path.open(encoding="utf-8") as handle:
                bodies = tuple(json.loads(line) for line in handle if line.strip())
            base = stream_request(family, symbol, self.levels)
            request = Request(base.endpoint, (("hour", hour), *base.params))
            payload = Payload(request, bodies, end_ms, "stream", SOURCE)
            stored = self.landing.write(family, symbol, start.date(), payload)
            if stored.status == "new_version":
                log.warning("%s: an hour was finalized twice with different messages; kept both",
                            stored.path)
            path.unlink()
            landed.append(stored.path)
        return landed


@dataclass
class LocalBook:
    """One symbol's order book rebuilt from a REST snapshot plus the diff stream."""

    symbol: str
    bids: dict[float, str] = field(default_factory=dict)
    asks: dict[float, str] = field(default_factory=dict)
    last_update_id: int | None = None
    synced: bool = False
    buffer: list[dict] = field(default_factory=list)

    def load_snapshot(self, snapshot: dict) -> None:
        self.bids = {float(p): q for p, q in snapshot["bids"]}
        self.asks = {float(p): q for p, q in snapshot["asks"]}
        self.last_update_id = int(snapshot["lastUpdateId"])
        self.synced = False

    def apply(self, diff: dict) -> bool:
        """Apply one diff; False when the update-id chain is broken (a gap: resync needed)."""
        first, last, previous = int(diff["U"]), int(diff["u"]), int(diff.get("pu", -1))
        assert self.last_update_id is not None
        if last < self.last_update_id:
            return True  # older than the snapshot: already contained in it
        if not self.synced:
            if not first <= self.last_update_id <= last:
                return False
            self.synced = True
        elif previous != self.last_update_id:
            return False
        for side, levels in ((self.bids, diff["b"]), (self.asks, diff["a"])):
            for price, qty in levels:
                if float(qty) == 0.0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = qty
        self.last_update_id = last
        return True

    def snapshot(self, levels: int, event_ms: int, transaction_ms: int) -> dict:
        bids = sorted(self.bids.items(), reverse=True)[:levels]
        asks = sorted(self.asks.items())[:levels]
        return {"lastUpdateId": self.last_update_id, "E": event_ms, "T": transaction_ms,
                "bids": [[_price(p), q] for p, q in bids], "asks": [[_price(p), q] for p, q in asks]}


def _price(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".")


@dataclass
class RecorderStats:
    messages: int = 0
    snapshots_written: int = 0
    resyncs: int = 0
    reconnects: int = 0
    files_landed: int = 0


class StreamRecorder:
    """Records the streams of ``symbols`` into the landing zone (see the module docstring)."""

    def __init__(self, symbols: Iterable[str], landing_root: Path, ws_url: str, rest_url: str, *,
                 levels: int = 20, snapshot_seconds: float = 60.0, max_backoff: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.symbols = tuple(symbols)
        self.landing = LandingZone(landing_root)
        self.journal = Journal(landing_root / "_journal" / SOURCE, self.landing, levels)
        self.ws_url = ws_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.levels = levels
        self.snapshot_ms = int(snapshot_seconds * 1000)
        self.max_backoff = max_backoff
        self.clock = clock
        self.books = {s: LocalBook(s) for s in self.symbols}
        self.next_snapshot_ms: dict[str, int] = {}
        self.stats = RecorderStats()

    @property
    def stream_url(self) -> str:
        streams = [f"{s.lower()}@{kind}" for s in self.symbols
                   for kind in ("depth@100ms", "bookTicker", "aggTrade")]
        return f"{self.ws_url}/stream?streams={'/'.join([*streams, '!forceOrder@arr'])}"

    async def run(self, stop: asyncio.Event | None = None) -> RecorderStats:
        """Record until ``stop`` is set, reconnecting with backoff; finalize hours as they end."""
        stop = stop or asyncio.Event()
        self.stats.files_landed += len(self.journal.finalize(self._now_ms()))  # after a crash
        backoff = 0.5
        async with httpx.AsyncClient(base_url=self.rest_url, timeout=10.0) as rest:
            while not stop.is_set():
                try:
                    async with websockets.connect(self.stream_url, max_size=2**24) as connection:
                        backoff = 0.5
                        await self._consume(connection, rest, stop)
                except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake) as exc:
                    if stop.is_set():
                        break
                    self.stats.reconnects += 1
                    delay = min(self.max_backoff, backoff) * (0.5 + random.random())
                    log.warning("stream connection lost (%s); reconnecting in %.1f s", exc, delay)
                    for book in self.books.values():
                        book.last_update_id = None  # the book must be rebuilt after any outage
                    await asyncio.sleep(delay)
                    backoff *= 2
        self.stats.files_landed += len(self.journal.finalize(self._now_ms()))
        return self.stats

    async def _consume(self, connection, rest: httpx.AsyncClient, stop: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                receiver = asyncio.ensure_future(connection.recv())
                done, _ = await asyncio.wait({receiver, stopper}, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    await self.handle(receiver.result(), rest)
                else:
                    receiver.cancel()
                self.stats.files_landed += len(self.journal.finalize(self._now_ms() - 2_000))
        finally:
            stopper.cancel()

    async def handle(self, raw: str | bytes, rest: httpx.AsyncClient) -> None:
        """Route one combined-stream message to its journal (or to the local book)."""
        envelope = json.loads(raw)
        stream, data = envelope["stream"], envelope["data"]
        self.stats.messages += 1
        if stream == "!forceOrder@arr":
            orders = data if isinstance(data, list) else [data]
            for message in orders:
                symbol = message["o"]["s"]
                if symbol in self.books:
                    self.journal.append("liquidations", symbol, int(message["E"]), json.dumps(message))
            return
        symbol = data["s"]
        if stream.endswith("@bookTicker"):
            self.journal.append("book_ticker", symbol, int(data.get("T", data["E"])), json.dumps(data))
        elif stream.endswith("@aggTrade"):
            self.journal.append("agg_trades_stream", symbol, int(data["T"]), json.dumps(data))
        elif "@depth" in stream:
            await self._on_diff(symbol, data, rest)

    async def _on_diff(self, symbol: str, diff: dict, rest: httpx.AsyncClient) -> None:
        book = self.books[symbol]
        if book.last_update_id is None:
            book.buffer.append(diff)
            await self._resync(book, rest)
            return
        if not book.apply(diff):
            self.stats.resyncs += 1
            log.warning("%s depth: sequence gap at U=%s u=%s pu=%s after %s; rebuilding from a "
                        "snapshot", symbol, diff["U"], diff["u"], diff.get("pu"), book.last_update_id)
            book.buffer = [diff]
            await self._resync(book, rest)
            return
        self._maybe_snapshot(book, int(diff["E"]), int(diff.get("T", diff["E"])))

    async def _resync(self, book: LocalBook, rest: httpx.AsyncClient) -> None:
        response = await rest.get("/fapi/v1/depth", params={"symbol": book.symbol, "limit": 1000})
        if response.status_code != 200:
            raise SourceError(f"depth snapshot for {book.symbol}: HTTP {response.status_code} "
                              f"{response.text[:200]}")
        book.load_snapshot(response.json())
        pending, book.buffer = book.buffer, []
        for i, diff in enumerate(pending):
            if not book.apply(diff):
                # The snapshot predates a buffered diff's chain: take a newer one with the next diff.
                book.last_update_id = None
                book.buffer = pending[i:]
                return

    def _maybe_snapshot(self, book: LocalBook, event_ms: int, transaction_ms: int) -> None:
        due = self.next_snapshot_ms.get(book.symbol)
        if due is None:
            self.next_snapshot_ms[book.symbol] = (event_ms // self.snapshot_ms + 1) * self.snapshot_ms
            return
        if event_ms >= due:
            snapshot = book.snapshot(self.levels, event_ms, transaction_ms)
            self.journal.append("depth_snapshots", book.symbol, transaction_ms, json.dumps(snapshot))
            self.stats.snapshots_written += 1
            self.next_snapshot_ms[book.symbol] = (event_ms // self.snapshot_ms + 1) * self.snapshot_ms

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


class RecordedStreams(SequentialFetchMixin):
    """The recorder's landed hour files, served as the ``binance`` source's stream families.

    Order books, book tickers and market-wide liquidations exist only as recorded here;
    a partition with no recorded hour is unavailable, never empty.
    """

    name = SOURCE
    FAMILIES = ("book_ticker", "depth_snapshots", "liquidations")

    def __init__(self, landing_root: Path) -> None:
        self.landing = LandingZone(landing_root)

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        if family not in self.FAMILIES:
            raise DataUnavailableError(f"recorded streams hold {', '.join(self.FAMILIES)}, not {family}")
        try:
            return self.landing.read(SOURCE, family, key, day)
        except LandingError as exc:
            raise DataUnavailableError(
                f"{family} for {key} on {day}: nothing was recorded (historical books, book tickers "
                f"and liquidations exist only from `quant-assets record`): {exc}") from exc


def recorded_days(landing_root: Path, family: str, symbol: str) -> list[date]:
    """Days for which the recorder has landed files of ``family`` for ``symbol``."""
    folder = landing_root / SOURCE / family
    return sorted(date.fromisoformat(p.name) for p in folder.glob("*") if (p / symbol).is_dir())
