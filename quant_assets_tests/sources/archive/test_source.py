"""The archive source turns verified archive files into payloads the existing parsers read."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quant_assets.raw.families import FAMILIES, FAMILIES_BY_NAME
from quant_assets.raw.parsers import ParseError, parse_payload
from quant_assets.sources.archive import ArchiveMarket
from quant_assets.sources.archive.layout import ChecksumError, Dataset, archive_interval
from quant_assets.sources.archive.source import FILE_FAMILIES, UNAVAILABLE
from quant_assets.sources.base import DataUnavailableError, Payload, SourceError
from quant_assets_tests.sources.archive.archive_files import (
    AGG_TRADES_HEADER,
    FUNDING_HEADER,
    HOUR_MS,
    day_ms,
    kline_csv,
    metrics_csv,
    put_csv,
    put_zip,
    zip_bytes,
)

DAY_2024 = date(2024, 3, 5)
DAY_2025 = date(2025, 1, 2)
SPOT_2024 = "spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-05.zip"
SPOT_2025 = "spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-02.zip"
METRICS = "futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-03-05.zip"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    return folder


def frame_of(family: str, payloads: list[Payload], key: str = "BTCUSDT") -> pd.DataFrame:
    spec = FAMILIES_BY_NAME[family]
    frames = [parse_payload(family, spec.parser, payload, key) for payload in payloads]
    frame = pd.concat(frames, ignore_index=True)
    spec.schema.validate(frame)
    return frame


# ---------------------------------------------------------------------- klines
def test_2024_spot_file_without_header_becomes_rest_kline_rows_in_milliseconds(root):
    put_csv(root, SPOT_2024, kline_csv(DAY_2024))
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)

    first = json.loads(payload.bodies[0])[0]
    assert first == [day_ms(DAY_2024), "100.00000000", "101.50000000", "99.00000000", "100.50000000",
                     "10.00000000", day_ms(DAY_2024) + HOUR_MS - 1, "1000.00000000", 100, "5.00000000",
                     "500.00000000", "0"]
    frame = frame_of("spot_klines", [payload])
    assert len(frame) == 24
    assert list(frame["ts"]) == list(pd.date_range("2024-03-05", periods=24, freq="h"))
    assert frame["close_time"].iloc[0] == pd.Timestamp("2024-03-05 00:59:59.999")
    assert frame["trade_count"].dtype == np.int64 and frame["trade_count"].iloc[23] == 123
    assert frame["close"].iloc[1] == 101.5


def test_2025_spot_file_in_microseconds_parses_to_the_same_hours(root):
    put_csv(root, SPOT_2025, kline_csv(DAY_2025, micro=True))
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2025)

    assert json.loads(payload.bodies[0])[0][0] == day_ms(DAY_2025) * 1000  # kept as the file has it
    frame = frame_of("spot_klines", [payload])
    assert list(frame["ts"]) == list(pd.date_range("2025-01-02", periods=24, freq="h"))
    assert frame["close_time"].iloc[0] == pd.Timestamp("2025-01-02 00:59:59.999999")


def test_futures_and_mark_price_files_with_a_header_parse(root):
    put_csv(root, "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-05.zip",
            kline_csv(DAY_2024, header=True))
    put_csv(root, "futures/um/daily/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2024-03-05.zip",
            kline_csv(DAY_2024, header=True, price=200.0))
    market = ArchiveMarket("1h", root)

    futures = frame_of("futures_klines", market.fetch("futures_klines", "BTCUSDT", DAY_2024))
    mark = frame_of("mark_price_klines", market.fetch("mark_price_klines", "BTCUSDT", DAY_2024))
    assert len(futures) == len(mark) == 24
    assert futures["open"].iloc[0] == 100.0 and mark["open"].iloc[0] == 200.0
    assert futures["ts"].iloc[-1] == pd.Timestamp("2024-03-05 23:00")


def test_payload_request_names_the_archive_file_and_its_checksum(root):
    path = put_csv(root, SPOT_2024, kline_csv(DAY_2024))
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)

    assert payload.request.endpoint == f"archive:/{SPOT_2024}!/api/v3/klines"
    assert payload.request.param("sha256") == path.with_name(path.name + ".CHECKSUM").read_text().split()[0]
    assert payload.request.param("interval") == "1h" and payload.request.param("day") is None
    assert payload.source == "archive" and payload.kind == "rest"


def test_duplicate_and_out_of_order_rows_pass_through_for_the_checks(root):
    lines = kline_csv(DAY_2024).splitlines()
    lines = [lines[0], lines[2], lines[1], lines[1], *lines[3:]]
    put_csv(root, SPOT_2024, "\n".join(lines) + "\n")
    frame = frame_of("spot_klines", ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024))

    assert len(frame) == 25
    assert [t.hour for t in frame["ts"][:4]] == [0, 2, 1, 1]


def test_a_row_with_a_missing_cell_fails_naming_file_and_line(root):
    lines = kline_csv(DAY_2024).splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0]
    put_csv(root, SPOT_2024, "\n".join(lines))
    with pytest.raises(SourceError, match=r"BTCUSDT-1h-2024-03-05\.zip: line 5 has 11 cells, expected 12"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_non_numeric_cell_is_left_for_the_parser_to_name(root):
    lines = kline_csv(DAY_2024).splitlines()
    cells = lines[3].split(",")
    cells[8] = "many"
    lines[3] = ",".join(cells)
    put_csv(root, SPOT_2024, "\n".join(lines))
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)
    with pytest.raises(ParseError, match=r"field 'trade_count': row 3: 'many' is not a number"):
        frame_of("spot_klines", [payload])


def test_a_header_without_a_documented_column_fails_naming_it(root):
    text = kline_csv(DAY_2024, header=True).replace("taker_buy_volume,", "taker_buy_base,", 1)
    put_csv(root, "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03-05.zip", text)
    with pytest.raises(SourceError, match="lacks column\\(s\\) taker_buy_volume"):
        ArchiveMarket("1h", root).fetch("futures_klines", "BTCUSDT", DAY_2024)


def test_monthly_file_serves_a_day_whose_daily_file_is_missing(root):
    month = "".join(kline_csv(date(2024, 3, d)) for d in (4, 5, 6))
    put_csv(root, "spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03.zip", month)
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)

    monthly = "archive:/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03.zip!/api/v3/klines"
    assert payload.request.endpoint == monthly
    assert payload.request.param("day") == "2024-03-05"
    frame = frame_of("spot_klines", [payload])
    assert list(frame["ts"]) == list(pd.date_range("2024-03-05", periods=24, freq="h"))


def test_the_daily_file_is_preferred_over_the_monthly(root):
    put_csv(root, "spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03.zip", kline_csv(DAY_2024, price=999))
    put_csv(root, SPOT_2024, kline_csv(DAY_2024))
    [payload] = ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)
    assert "/daily/" in payload.request.endpoint
    assert frame_of("spot_klines", [payload])["open"].iloc[0] == 100.0


def test_month_interval_uses_the_archive_name_1mo():
    assert archive_interval("1M") == "1mo"
    dataset = Dataset("spot", "klines", has_interval=True, daily=True, monthly=True)
    assert str(dataset.path("monthly", "BTCUSDT", date(2024, 2, 9), "1M")) == (
        "spot/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2024-02.zip")
    with pytest.raises(ValueError, match="'7m'"):
        archive_interval("7m")


# ---------------------------------------------------------------------- trades and funding
def test_agg_trades_file_with_header_becomes_rest_objects(root):
    t0 = day_ms(DAY_2024)
    text = (f"{AGG_TRADES_HEADER}\n"
            f"26129,68000.10,0.004,1001,1003,{t0 + 5},true\n"
            f"26130,68000.20,1.250,1004,1004,{t0 + 9},false\n"
            f"26130,68000.20,1.250,1004,1004,{t0 + 9},false\n")
    put_csv(root, "futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-03-05.zip", text)
    [payload] = ArchiveMarket("1h", root).fetch("agg_trades", "BTCUSDT", DAY_2024)

    assert json.loads(payload.bodies[0])[0] == {"a": 26129, "p": "68000.10", "q": "0.004", "f": 1001,
                                                "l": 1003, "T": t0 + 5, "m": True}
    frame = frame_of("agg_trades", [payload])
    assert list(frame["agg_trade_id"]) == [26129, 26130, 26130]  # the duplicate is the checks' to find
    assert list(frame["is_buyer_maker"]) == [True, False, False]
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-03-05 00:00:00.005")


def test_monthly_funding_file_gives_the_days_settlements_without_mark_price(root):
    rows = [(day_ms(date(2024, 3, d)) + h * HOUR_MS, f"0.000{d}{h // 8}00") for d in (4, 5, 6)
            for h in (0, 8, 16)]
    text = FUNDING_HEADER + "\n" + "".join(f"{t},8,{rate}\n" for t, rate in rows)
    put_csv(root, "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-03.zip", text)
    [payload] = ArchiveMarket("1h", root).fetch("funding_rate", "BTCUSDT", DAY_2024)

    assert json.loads(payload.bodies[0]) == [
        {"symbol": "BTCUSDT", "fundingTime": t, "fundingRate": rate} for t, rate in rows[3:6]]
    frame = frame_of("funding_rate", [payload])
    assert list(frame["ts"]) == list(pd.date_range("2024-03-05", periods=3, freq="8h"))
    assert list(frame["funding_rate"]) == [0.00050, 0.00051, 0.00052]
    assert frame["mark_price"].isna().all()
    assert payload.request.param("day") == "2024-03-05"


def test_a_monthly_file_without_rows_on_the_day_is_unavailable_not_empty(root):
    put_csv(root, "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-03.zip",
            f"{FUNDING_HEADER}\n{day_ms(date(2024, 3, 1))},8,0.0001\n")
    with pytest.raises(DataUnavailableError, match=r"BTCUSDT-fundingRate-2024-03\.zip has no rows"):
        ArchiveMarket("1h", root).fetch("funding_rate", "BTCUSDT", DAY_2024)


# ---------------------------------------------------------------------- metrics
def test_metrics_file_gives_open_interest_every_five_minutes(root):
    put_csv(root, METRICS, metrics_csv(DAY_2024))
    [payload] = ArchiveMarket("1h", root).fetch("open_interest", "BTCUSDT", DAY_2024)

    assert payload.request.endpoint.endswith("!/futures/data/openInterestHist")
    assert payload.request.param("period") == "5m"
    frame = frame_of("open_interest", [payload])
    assert list(frame["ts"]) == list(pd.date_range("2024-03-05", periods=12, freq="5min"))
    assert frame["sum_open_interest"].iloc[1] == 80001.125
    assert frame["sum_open_interest_value"].iloc[0] == 80000 * 42000 + 0.5


def test_metrics_file_gives_the_three_long_short_ratios_with_derived_shares(root):
    put_csv(root, METRICS, metrics_csv(DAY_2024))
    payloads = ArchiveMarket("1h", root).fetch("long_short_ratio", "BTCUSDT", DAY_2024)
    frame = frame_of("long_short_ratio", payloads)

    first = frame[frame["ts"] == pd.Timestamp("2024-03-05")].set_index("ratio_type")
    assert first.loc["top_account", "long_short_ratio"] == 1.0
    assert first.loc["top_position", "long_short_ratio"] == 2.5
    assert first.loc["global_account", "long_short_ratio"] == 0.1
    assert first.loc["top_position", "long_account"] == pytest.approx(2.5 / 3.5, abs=1e-8)
    assert first.loc["top_position", "short_account"] == pytest.approx(1 / 3.5, abs=1e-8)
    np.testing.assert_allclose(frame["long_account"] + frame["short_account"], 1.0, atol=2e-8)
    assert [p.request.param("column") for p in payloads] == [
        "count_long_short_ratio", "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio"]


def test_an_empty_ratio_cell_fails_naming_the_column_and_line(root):
    text = metrics_csv(DAY_2024).replace(",0.13000000,", ",,", 1)
    put_csv(root, METRICS, text)
    with pytest.raises(SourceError, match=r"line 5, column 'count_long_short_ratio': '' is not a number"):
        ArchiveMarket("1h", root).fetch("long_short_ratio", "BTCUSDT", DAY_2024)


def test_a_metrics_row_of_another_symbol_fails_rather_than_being_dropped(root):
    put_csv(root, METRICS, metrics_csv(DAY_2024).replace(",BTCUSDT,", ",ETHUSDT,", 1))
    with pytest.raises(SourceError, match=r"line 2, column 'symbol': row is for 'ETHUSDT'"):
        ArchiveMarket("1h", root).fetch("open_interest", "BTCUSDT", DAY_2024)


def test_taker_volume_is_unavailable_naming_the_fields_the_metrics_file_lacks(root):
    put_csv(root, METRICS, metrics_csv(DAY_2024))
    with pytest.raises(DataUnavailableError, match=r"taker_volume.*buyVol and sellVol"):
        ArchiveMarket("1h", root).fetch("taker_volume", "BTCUSDT", DAY_2024)


@pytest.mark.parametrize("family", [f.name for f in FAMILIES if f.name not in FILE_FAMILIES])
def test_every_other_family_is_unavailable_with_a_reason(root, family):
    assert family in UNAVAILABLE
    with pytest.raises(DataUnavailableError, match=f"archive: {family} .* not available: .+"):
        ArchiveMarket("1h", root).fetch(family, "BTCUSDT", DAY_2024)


def test_depth_snapshots_say_what_book_depth_files_hold(root):
    with pytest.raises(DataUnavailableError, match=r"bookDepth.*percentage.*not the price levels"):
        ArchiveMarket("1h", root).fetch("depth_snapshots", "BTCUSDT", DAY_2024)


# ---------------------------------------------------------------------- integrity
def test_a_wrong_checksum_fails_naming_the_file(root):
    put_csv(root, SPOT_2024, kline_csv(DAY_2024), checksum="wrong")
    with pytest.raises(ChecksumError, match=r"-2024-03-05\.zip: SHA-256 [0-9a-f]{64} does not match"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_missing_checksum_fails_naming_the_file(root):
    put_csv(root, SPOT_2024, kline_csv(DAY_2024), checksum="missing")
    with pytest.raises(ChecksumError, match=r"BTCUSDT-1h-2024-03-05\.zip\.CHECKSUM is missing"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_checksum_of_another_file_is_rejected(root):
    put_csv(root, SPOT_2024, kline_csv(DAY_2024), checksum="other_file")
    with pytest.raises(ChecksumError, match=r"is for 'BTCUSDT-1h-1999-01-01\.zip'"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_corrupted_zip_whose_checksum_matches_fails_naming_the_file(root):
    data = bytearray(zip_bytes("BTCUSDT-1h-2024-03-05.csv", kline_csv(DAY_2024)))
    data[len(data) // 3] ^= 0xFF  # inside the compressed member: the ZIP's CRC no longer holds
    put_zip(root, SPOT_2024, bytes(data))
    with pytest.raises(SourceError, match=r"BTCUSDT-1h-2024-03-05\.zip: not a readable ZIP file"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_truncated_zip_fails_its_checksum(root):
    path = put_csv(root, SPOT_2024, kline_csv(DAY_2024))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ChecksumError, match=r"BTCUSDT-1h-2024-03-05\.zip: SHA-256"):
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)


def test_a_day_without_a_file_is_unavailable_naming_the_expected_paths(root):
    with pytest.raises(DataUnavailableError) as raised:
        ArchiveMarket("1h", root).fetch("spot_klines", "BTCUSDT", DAY_2024)
    message = str(raised.value)
    assert str(root / SPOT_2024) in message
    assert str(root / "spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-03.zip") in message


def test_a_missing_metrics_day_names_its_daily_path_only(root):
    with pytest.raises(DataUnavailableError, match=r"neither daily .*-metrics-2024-03-05\.zip \("):
        ArchiveMarket("1h", root).fetch("open_interest", "BTCUSDT", DAY_2024)


# ---------------------------------------------------------------------- configuration
def test_the_archive_folder_comes_from_quant_archive_dir(root, monkeypatch):
    put_csv(root, SPOT_2024, kline_csv(DAY_2024))
    monkeypatch.setenv("QUANT_ARCHIVE_DIR", str(root))
    assert ArchiveMarket("1h").root == root.resolve()


def test_a_missing_archive_folder_fails_at_construction_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANT_ARCHIVE_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SourceError, match=r"QUANT_ARCHIVE_DIR .* is .*nowhere, which is not a folder"):
        ArchiveMarket("1h")


def test_a_symbol_that_is_not_one_cannot_reach_outside_the_archive(root):
    with pytest.raises(SourceError, match=r"'\.\./BTCUSDT'"):
        ArchiveMarket("1h", root).fetch("spot_klines", "../BTCUSDT", DAY_2024)

