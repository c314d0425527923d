"""The downloader against a real HTTP server on 127.0.0.1 serving a small archive tree."""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from quant_assets.sources.archive import ArchiveDownloadError, ArchiveMarket, download_archive
from quant_assets.sources.archive import cli as archive_cli
from quant_assets_tests.sources.archive.archive_files import (
    FUNDING_HEADER,
    checksum_text,
    day_ms,
    kline_csv,
    metrics_csv,
    put_zip,
    zip_bytes,
)

D1, D2 = date(2024, 3, 4), date(2024, 3, 5)
SPOT = "spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-{day}.zip"
METRICS = "futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-{day}.zip"
FUNDING = "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-03.zip"


class ArchiveServer:
    """A local stand-in for data.binance.vision: serves ``files`` under ``/data/``, 404 otherwise.

    ``failures`` maps a path to HTTP statuses answered (one per request) before the file.
    """

    def __init__(self, files: dict[str, bytes], failures: dict[str, list[int]] | None = None) -> None:
        self.files = files
        self.failures = failures or {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.removeprefix("/data/")
                server.requests.append(path)
                pending = server.failures.get(path)
                if pending:
                    self.send_response(pending.pop(0))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                """Quiet: the test reads ``server.requests`` instead."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self) -> ArchiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def publish(self, relative: str, data: bytes, checksum_of: bytes | None = None) -> None:
        """Serve ``data`` and a ``.CHECKSUM`` (of ``checksum_of`` if given, to plant a mismatch)."""
        self.files[relative] = data
        name = relative.rsplit("/", 1)[1]
        self.files[relative + ".CHECKSUM"] = checksum_text(data if checksum_of is None else checksum_of,
                                                           name).encode()


def spot_zip(day: date, price: float = 100.0) -> bytes:
    return zip_bytes(f"BTCUSDT-1h-{day}.csv", kline_csv(day, price=price))


def funding_zip() -> bytes:
    rows = "".join(f"{day_ms(date(2024, 3, d)) + h * 3_600_000},8,0.0001\n"
                   for d in (4, 5) for h in (0, 8, 16))
    return zip_bytes("BTCUSDT-fundingRate-2024-03.csv", FUNDING_HEADER + "\n" + rows)


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    with ArchiveServer({}) as running:
        for day in (D1, D2):
            running.publish(SPOT.format(day=day), spot_zip(day))
            running.publish(METRICS.format(day=day),
                            zip_bytes(f"BTCUSDT-metrics-{day}.csv", metrics_csv(day)))
        running.publish(FUNDING, funding_zip())
        yield running


def download(server: ArchiveServer, dest: Path, families: list[str], **kwargs: object):
    options = {"retries": 0, "backoff_seconds": 0.0, "timeout_seconds": 5.0, **kwargs}
    return download_archive(["BTCUSDT"], families, D1, D2, "1h", dest, server.url, **options)


def test_files_are_downloaded_verified_and_readable_by_the_source(server, tmp_path):
    report = download(server, tmp_path, ["spot_klines", "funding_rate", "open_interest", "long_short_ratio"])

    assert sorted(map(str, report.downloaded)) == sorted(
        [SPOT.format(day=D1), SPOT.format(day=D2), METRICS.format(day=D1), METRICS.format(day=D2), FUNDING])
    assert not report.failed and not report.missing
    market = ArchiveMarket("1h", tmp_path)
    assert len(market.fetch("spot_klines", "BTCUSDT", D2)) == 1
    assert len(market.fetch("funding_rate", "BTCUSDT", D1)) == 1
    assert len(market.fetch("long_short_ratio", "BTCUSDT", D1)) == 3
    assert (tmp_path / (FUNDING + ".CHECKSUM")).read_text() == server.files[FUNDING + ".CHECKSUM"].decode()
    assert not list(tmp_path.rglob("*.part"))


def test_a_second_run_sends_no_request_for_files_already_valid(server, tmp_path):
    download(server, tmp_path, ["spot_klines", "funding_rate"])
    server.requests.clear()

    report = download(server, tmp_path, ["spot_klines", "funding_rate"])

    assert server.requests == []
    assert len(report.present) == 3 and not report.downloaded


def test_a_checksum_mismatch_fails_naming_the_file_and_keeps_nothing(server, tmp_path):
    bad = SPOT.format(day=D2)
    server.publish(bad, spot_zip(D2), checksum_of=spot_zip(D2, price=101.0))

    with pytest.raises(ArchiveDownloadError, match=r"BTCUSDT-1h-2024-03-05\.zip: downloaded SHA-256 .* "
                                                   r"does not match the published") as raised:
        download(server, tmp_path, ["spot_klines"])

    assert raised.value.report.downloaded == [Path(SPOT.format(day=D1))]
    assert not (tmp_path / bad).exists() and not (tmp_path / (bad + ".CHECKSUM")).exists()
    assert not list(tmp_path.rglob("*.part"))


def test_a_valid_local_file_is_never_overwritten(server, tmp_path):
    relative = SPOT.format(day=D1)
    mine = spot_zip(D1, price=555.0)
    put_zip(tmp_path, relative, mine)

    report = download(server, tmp_path, ["spot_klines"])

    assert (tmp_path / relative).read_bytes() == mine
    assert report.present == [Path(relative)]
    assert relative not in server.requests and relative + ".CHECKSUM" not in server.requests


def test_an_invalid_local_file_is_replaced_by_the_published_one(server, tmp_path):
    relative = SPOT.format(day=D1)
    put_zip(tmp_path, relative, spot_zip(D1)[:-50], checksum="wrong")

    report = download(server, tmp_path, ["spot_klines"])

    assert Path(relative) in report.downloaded
    assert (tmp_path / relative).read_bytes() == server.files[relative]


def test_a_local_zip_without_checksum_only_fetches_the_checksum(server, tmp_path):
    relative = SPOT.format(day=D1)
    put_zip(tmp_path, relative, server.files[relative], checksum="missing")

    report = download(server, tmp_path, ["spot_klines"])

    assert report.verified == [Path(relative)]
    assert relative + ".CHECKSUM" in server.requests and relative not in server.requests
    assert ArchiveMarket("1h", tmp_path).fetch("spot_klines", "BTCUSDT", D1)


def test_missing_dailies_fall_back_to_the_monthly_file(server, tmp_path):
    monthly = "futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03.zip"
    server.publish(monthly, zip_bytes("BTCUSDT-1h-2024-03.csv", kline_csv(D1) + kline_csv(D2)))

    report = download(server, tmp_path, ["futures_klines"])

    assert report.downloaded == [Path(monthly)] and not report.missing
    assert server.requests.count(monthly + ".CHECKSUM") == 1  # once for both days
    [payload] = ArchiveMarket("1h", tmp_path).fetch("futures_klines", "BTCUSDT", D2)
    assert payload.request.param("day") == "2024-03-05"


def test_files_the_archive_does_not_publish_are_reported_missing(server, tmp_path):
    report = download(server, tmp_path, ["agg_trades"])

    assert [str(p) for p in report.missing] == [
        "futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-03-04.zip",
        "futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-03-05.zip",
        "futures/um/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-03.zip"]
    assert not report.downloaded


def test_a_transient_server_error_is_retried(server, tmp_path):
    relative = SPOT.format(day=D1)
    server.failures[relative] = [503]

    report = download(server, tmp_path, ["spot_klines"], retries=2)

    assert Path(relative) in report.downloaded
    assert server.requests.count(relative) == 2


def test_a_persistent_server_error_stops_the_run_clearly(server, tmp_path):
    server.failures[SPOT.format(day=D2) + ".CHECKSUM"] = [503, 503]

    with pytest.raises(ArchiveDownloadError, match=r"host cannot be used: .*-2024-03-05\.zip\.CHECKSUM: "
                                                   r"HTTP 503 after 2 attempts") as raised:
        download(server, tmp_path, ["spot_klines"], retries=1)
    assert raised.value.report.downloaded == [Path(SPOT.format(day=D1))]


def test_an_unreachable_host_stops_the_run_clearly(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ArchiveDownloadError, match=r"host cannot be used: .*ConnectError"):
        download_archive(["BTCUSDT"], ["spot_klines"], D1, D1, "1h", tmp_path,
                         f"http://127.0.0.1:{port}/data", retries=1, backoff_seconds=0.0)


@pytest.mark.parametrize(("families", "start", "end", "message"), [
    (["taker_volume"], D1, D2, r"'taker_volume' cannot be read from the archive: .*buyVol"),
    (["klines"], D1, D2, r"'klines' is unknown"),
    (["spot_klines"], D2, D1, r"start 2024-03-05 is after end 2024-03-04"),
])
def test_invalid_arguments_are_named(tmp_path, families, start, end, message):
    with pytest.raises(ValueError, match=message):
        download_archive(["BTCUSDT"], families, start, end, "1h", tmp_path, "http://127.0.0.1:9/data")


def _cli_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quant-assets")
    archive_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_command_downloads_and_exits_zero(server, tmp_path, capsys):
    args = _cli_args(["archive-download", "--start", str(D1), "--end", str(D2), "--symbols", "BTCUSDT",
                      "--families", "spot_klines,funding_rate", "--interval", "1h",
                      "--dest", str(tmp_path), "--base-url", server.url, "--retries", "0"])

    assert archive_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "3 downloaded, 0 verified in place, 0 already present, 0 not published, 0 failed" in out
    assert (tmp_path / FUNDING).is_file()


def test_the_command_exits_one_on_a_checksum_mismatch(server, tmp_path, capsys):
    server.publish(SPOT.format(day=D1), spot_zip(D1), checksum_of=b"something else")
    args = _cli_args(["archive-download", "--start", str(D1), "--end", str(D1), "--symbols", "BTCUSDT",
                      "--families", "spot_klines", "--interval", "1h", "--dest", str(tmp_path),
                      "--base-url", server.url, "--retries", "0"])

    assert archive_cli.run(args) == 1
    assert "BTCUSDT-1h-2024-03-04.zip: downloaded SHA-256" in capsys.readouterr().err
