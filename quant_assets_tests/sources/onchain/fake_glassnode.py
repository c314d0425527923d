"""A local HTTP server that answers like the Glassnode metrics API, with faults on demand.

Like the real API it demands the key (``X-Api-Key`` header or ``api_key`` parameter,
401 otherwise), requires ``a``, ``i``, ``s`` and ``u``, serves the points of a series
with ``s <= t <= u`` as a compact JSON array (an empty array when there are none),
answers 404 for an unknown metric path or asset, and sends the ``x-rate-limit-*``
headers on every answer.

Series are loaded with :meth:`FakeGlassnode.add_series` (points) or
:meth:`FakeGlassnode.add_raw` (a recorded body served verbatim, e.g. the fixtures of
Glassnode's own clients). Faults are queued with :meth:`FakeGlassnode.inject`: a
status with headers and body (429 with ``Retry-After``, 401, 403, 500), a delay (a
timeout for the client), a truncated body, or extra headers on a normal answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS, ONCHAIN_METRIC_PATHS

#: Not a real key; searched for in logs and exception texts.
TEST_KEY = "gn-test-key-7f3a9c51d2"
RATE_LIMIT = 600


def day_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def catalog_value(metric: str, asset: str, day: date) -> float:
    """The planted value of a catalog metric: metric rank, asset and day are readable in it."""
    rank = list(ONCHAIN_METRIC_PATHS).index(metric) + 1
    asset_rank = list(ONCHAIN_ASSETS).index(asset) + 1
    return round(rank * 1000 + asset_rank * 100 + day.toordinal() % 97 + 0.125, 6)


@dataclass
class Fault:
    """One injected answer. ``status=None`` answers normally (after ``delay``, with ``headers``)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0
    truncate: bool = False
    path: str | None = None
    times: int = 1


@dataclass(frozen=True)
class Received:
    """A request as received: path, parameters without the key, and how the key came."""

    path: str
    params: tuple[tuple[str, str], ...]
    key_in: str | None
    status: int


@dataclass(frozen=True)
class Served:
    """A complete 200 answer."""

    path: str
    params: tuple[tuple[str, str], ...]
    body: str


class FakeGlassnode:
    """Use as a context manager; :attr:`url` is the base URL to give the client."""

    def __init__(self, api_key: str = TEST_KEY) -> None:
        self.api_key = api_key
        self.series: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.raw: dict[tuple[str, str], str] = {}
        self.faults: list[Fault] = []
        self.received: list[Received] = []
        self.served: list[Served] = []
        self.errors: list[str] = []
        self.remaining = RATE_LIMIT
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGlassnode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ data
    def add_series(self, path: str, asset: str, points: list[dict[str, Any]]) -> None:
        self.series[(path, asset)] = sorted(points, key=lambda p: p["t"])

    def add_raw(self, path: str, asset: str, body: str) -> None:
        """Serve ``body`` verbatim for ``path`` and ``asset``, whatever the window."""
        self.raw[(path, asset)] = body

    def add_catalog(self, asset: str, first: date, days: int) -> None:
        """Every catalog metric of ``asset``, one planted point per day."""
        for metric in ONCHAIN_ASSETS[asset]:
            self.add_series(ONCHAIN_METRIC_PATHS[metric], asset, [
                {"t": day_seconds(first + timedelta(days=k)),
                 "v": catalog_value(metric, asset, first + timedelta(days=k))}
                for k in range(days)])

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    # ------------------------------------------------------------------ serving
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in (None, path) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _answer(self, path: str, params: list[tuple[str, str]], key: str | None
                ) -> tuple[int, str]:
        if key != self.api_key:
            return 401, "Unauthorized\n"
        values = dict(params)
        missing = [name for name in ("a", "i", "s", "u") if name not in values]
        if missing:
            return 400, json.dumps({"error": f"missing parameter(s) {', '.join(missing)}"})
        if values["i"] != "24h":
            return 400, json.dumps({"error": f"resolution {values['i']} not served here"})
        series_key = (path, values["a"])
        if series_key in self.raw:
            return 200, self.raw[series_key]
        if series_key not in self.series:
            return 404, "404 page not found"
        since, until = int(values["s"]), int(values["u"])
        points = [p for p in self.series[series_key] if since <= p["t"] <= until]
        return 200, json.dumps(points, separators=(",", ":"))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:  # the stdlib's name
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up on a delayed answer (a timeout test)
                except Exception as exc:  # recorded, and the test's teardown fails on it
                    fake.errors.append(f"{type(exc).__name__}: {exc}")
                    raise

            def _get(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qsl(parts.query, keep_blank_values=True)
                header_key = self.headers.get("X-Api-Key")
                query_key = dict(query).get("api_key")
                key = header_key if header_key is not None else query_key
                key_in = "header" if header_key is not None else "query" if query_key is not None else None
                params = tuple((k, v) for k, v in query if k != "api_key")
                fault = fake._take_fault(parts.path)
                extra: dict[str, str] = {}
                if fault is not None:
                    time.sleep(fault.delay)
                    extra = dict(fault.headers)
                if fault is not None and fault.status is not None:
                    status, body = fault.status, fault.body
                else:
                    status, body = fake._answer(parts.path, list(params), key)
                with fake._lock:
                    fake.received.append(Received(parts.path, params, key_in, status))
                    fake.remaining = fake.remaining - 1 if fake.remaining > 1 else RATE_LIMIT
                    remaining = fake.remaining
                truncated = fault is not None and fault.truncate and status == 200
                data = body.encode()
                if truncated:
                    data = data[: max(len(data) // 2, 1)]
                elif status == 200:
                    with fake._lock:
                        fake.served.append(Served(parts.path, params, body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                headers = {"x-rate-limit-limit": str(RATE_LIMIT), "x-rate-limit-remaining": str(remaining),
                           "x-rate-limit-reset": "60", **extra}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
