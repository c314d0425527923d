"""The stream recorder against a real websocket server and a real REST server on 127.0.0.1."""

import asyncio
import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import websockets

from quant_assets.raw import parsers
from quant_assets.raw.landing import LandingZone
from quant_assets.sources.recorder import JOURNAL_SUFFIX, StreamRecorder

HOUR_START = datetime(2026, 10, 5, 10, tzinfo=UTC)
T0 = int(HOUR_START.timestamp() * 1000)
DAY = date(2026, 10, 5)


def envelope(stream: str, data: dict) -> str:
    return json.dumps({"stream": stream, "data": data})


def diff(first: int, last: int, previous: int, at_s: float, bids=(), asks=()) -> str:
    data = {"e": "depthUpdate", "E": T0 + int(at_s * 1000), "T": T0 + int(at_s * 1000), "s": "BTCUSDT",
            "U": first, "u": last, "pu": previous, "b": [list(b) for b in bids], "a": [list(a) for a in asks]}
    return envelope("btcusdt@depth@100ms", data)


def book_ticker(at_s: float, bid: str, ask: str) -> str:
    t = T0 + int(at_s * 1000)
    return envelope("btcusdt@bookTicker", {"e": "bookTicker", "u": 1, "E": t, "T": t, "s": "BTCUSDT",
                                            "b": bid, "B": "1.5", "a": ask, "A": "2.0"})


def force_order(at_s: float, symbol: str) -> str:
    t = T0 + int(at_s * 1000)
    return envelope("!forceOrder@arr", {"e": "forceOrder", "E": t, "o": {
        "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.5", "p": "99.0", "ap": "99.2",
        "X": "FILLED", "l": "0.5", "z": "0.5", "T": t}})


def agg_trade(at_s: float) -> str:
    t = T0 + int(at_s * 1000)
    return envelope("btcusdt@aggTrade", {"e": "aggTrade", "E": t, "s": "BTCUSDT", "a": 7, "p": "100.4",
                                          "q": "0.1", "f": 9, "l": 9, "T": t, "m": False})


FIRST_CONNECTION = [
    diff(95, 99, 94, 0.5, bids=[("99.0", "9")]),            # older than snapshot 100: dropped
    diff(100, 105, 99, 1.0, bids=[("100.5", "2")]),          # bridges snapshot 100
    book_ticker(1.1, "100.5", "101.0"),
    diff(106, 110, 105, 2.0, asks=[("100.8", "3")]),         # first top-20 snapshot (id 110)
    force_order(2.5, "BTCUSDT"),
    force_order(2.6, "ETHUSDT"),                             # not a recorded symbol
    agg_trade(2.7),
    diff(120, 125, 115, 3.0, bids=[("100.6", "1")]),         # pu 115 != 110: a gap -> resync
]
SECOND_CONNECTION = [                                        # after a reconnect: rebuilt anyway
    diff(126, 130, 125, 4.0, bids=[("100.5", "0")]),         # removes the 100.5 level
    book_ticker(4.1, "100.6", "100.8"),
    diff(131, 135, 130, 5.5, asks=[("100.9", "4")]),         # second snapshot (id 135)
]


class DepthServer(BaseHTTPRequestHandler):
    snapshots: ClassVar[list[dict]] = [
        {"lastUpdateId": 100, "bids": [["100.0", "1"]], "asks": [["101.0", "1"]]},
        {"lastUpdateId": 125, "bids": [["100.6", "1"], ["100.5", "2"], ["100.0", "1"]],
         "asks": [["100.8", "3"], ["101.0", "1"]]},
        {"lastUpdateId": 128, "bids": [["100.6", "1"], ["100.5", "2"], ["100.0", "1"]],
         "asks": [["100.8", "3"], ["101.0", "1"]]},
    ]
    requests: ClassVar[list[str]] = []

    def do_GET(self):
        type(self).requests.append(self.path)
        body = json.dumps(self.snapshots[min(len(self.requests), len(self.snapshots)) - 1]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_url():
    DepthServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), DepthServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def record(tmp_path, rest_url: str) -> StreamRecorder:
    connections = [FIRST_CONNECTION, SECOND_CONNECTION]
    paths: list[str] = []

    async def serve(websocket):
        paths.append(websocket.request.path)
        script = connections.pop(0) if connections else []
        for message in script:
            await websocket.send(message)
        if connections:
            return  # drop the first connection: the recorder must reconnect
        await websocket.wait_closed()

    async with websockets.serve(serve, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        recorder = StreamRecorder(["BTCUSDT"], tmp_path, f"ws://127.0.0.1:{port}", rest_url,
                                  snapshot_seconds=1.0, max_backoff=0.05,
                                  clock=lambda: HOUR_START.timestamp() + 600)
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        expected = len(FIRST_CONNECTION) + len(SECOND_CONNECTION)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if recorder.stats.messages >= expected:
                break
        stop.set()
        await asyncio.wait_for(task, 10)
    assert all("streams=btcusdt@depth@100ms/" in p and "!forceOrder@arr" in p for p in paths)
    return recorder


def parsed(tmp_path, family: str, parser, endpoint_hint: str):
    [payload] = LandingZone(tmp_path).read("binance", family, "BTCUSDT", DAY)
    assert payload.kind == "stream" and payload.request.param("hour") == "2026-10-05T10"
    assert endpoint_hint in payload.request.endpoint
    return parser(payload.bodies, parsers.ParseContext(family, "BTCUSDT", payload.request,
                                                       payload.received_at_ms))


def test_recorder_lands_hour_files_that_the_parsers_read(tmp_path, rest_url):
    recorder = asyncio.run(record(tmp_path, rest_url))
    journals = sorted(p.name.split("__")[0] for p in (tmp_path / "_journal" / "binance").glob(
        f"*{JOURNAL_SUFFIX}"))
    assert journals == ["agg_trades_stream", "book_ticker", "depth_snapshots", "liquidations"]
    assert not (tmp_path / "binance").exists()  # the hour is still open: nothing landed yet
    assert len(recorder.journal.finalize(T0 + 3_600_000 + 1)) == 4  # the hour ends: one file each

    tickers = parsed(tmp_path, "book_ticker", parsers.parse_book_ticker, "@bookTicker")
    assert tickers["bid_price"].tolist() == [100.5, 100.6]
    liquidations = parsed(tmp_path, "liquidations", parsers.parse_liquidations, "forceOrder")
    assert liquidations["symbol"].tolist() == ["BTCUSDT"]
    depth = parsed(tmp_path, "depth_snapshots", parsers.parse_depth, "@depth20")
    assert recorder.stats.reconnects == 1 and recorder.stats.resyncs == 1
    assert len(DepthServer.requests) == 3 and "limit=1000" in DepthServer.requests[0]

    snapshots = {uid: frame.set_index(["side", "level"])["price"]
                 for uid, frame in depth.groupby("last_update_id")}
    assert set(snapshots) == {110, 135}
    assert snapshots[110][("bid", 1)] == 100.5 and snapshots[110][("ask", 1)] == 100.8
    after = snapshots[135]  # snapshot 128 + diffs 126-130 (100.5 removed) and 131-135
    assert [after[("bid", 1)], after[("bid", 2)]] == [100.6, 100.0]
    assert [after[("ask", 1)], after[("ask", 2)], after[("ask", 3)]] == [100.8, 100.9, 101.0]


def test_journals_left_by_a_crash_are_landed_on_the_next_start(tmp_path, rest_url):
    recorder = StreamRecorder(["BTCUSDT"], tmp_path, "ws://127.0.0.1:9", rest_url,
                              clock=lambda: HOUR_START.timestamp() + 7200)
    message = json.dumps(json.loads(book_ticker(0, "1.0", "1.1"))["data"])
    recorder.journal.append("book_ticker", "BTCUSDT", T0 + 5, message)  # then the process died
    assert len(recorder.journal.finalize(int(recorder.clock() * 1000))) == 1
    assert recorder.journal.finalize(int(recorder.clock() * 1000)) == []
    [payload] = LandingZone(tmp_path).read("binance", "book_ticker", "BTCUSDT", DAY)
    assert payload.bodies == (message,)


def test_the_book_ticker_asset_reads_recorded_hours_when_the_source_is_binance(tmp_path, monkeypatch):
    from dataclasses import replace

    import dagster as dg
    import duckdb

    from quant_assets.definitions import build_partitions, build_resources
    from quant_assets.raw.assets import build_raw_asset
    from quant_assets.raw.families import FAMILIES_BY_NAME
    from quant_assets.settings import load_settings

    monkeypatch.setenv("BINANCE_SPOT_URL", "http://127.0.0.1:9")  # never contacted for recorded families
    monkeypatch.setenv("BINANCE_FUTURES_URL", "http://127.0.0.1:9")
    settings = replace(load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT"}),
                       source="binance")
    recorder = StreamRecorder(["BTCUSDT"], settings.landing_dir, "ws://127.0.0.1:9", "http://127.0.0.1:9")
    day_start = int(datetime(2026, 10, 5, tzinfo=UTC).timestamp())
    for minute in range(0, 1440, 4):  # one quote every 4 minutes, all day
        at = (day_start + minute * 60) * 1000
        message = {"e": "bookTicker", "u": minute, "E": at, "T": at, "s": "BTCUSDT", "b": "100.0",
                   "B": "1", "a": "100.1", "A": "2"}
        recorder.journal.append("book_ticker", "BTCUSDT", at, json.dumps(message))
    assert len(recorder.journal.finalize((day_start + 86_400) * 1000)) == 24

    asset = build_raw_asset(FAMILIES_BY_NAME["book_ticker"], build_partitions(settings)["symbol"], settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([asset], partition_key="2026-10-05|BTCUSDT", instance=instance,
                                resources=build_resources(settings), raise_on_error=False)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.book_ticker").fetchone() == (360,)
