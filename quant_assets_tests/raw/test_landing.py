"""The landing zone keeps every payload, never overwrites, and detects tampering."""

import gzip
from datetime import date

import pytest

from quant_assets.raw.landing import LandingError, LandingZone
from quant_assets.sources.base import Payload, Request

DAY = date(2026, 11, 10)


def payload(body: str = '[[1,"2"]]', kind: str = "rest", received: int = 1) -> Payload:
    request = Request.of("/api/v3/klines", symbol="BTCUSDT", startTime=0)
    return Payload(request, (body,), received, kind, "test")


def test_write_then_read_returns_the_exact_bodies(tmp_path):
    zone = LandingZone(tmp_path)
    stored = zone.write("spot_klines", "BTCUSDT", DAY, payload('[[1, "2.50"]]\n'))
    assert stored.status == "new" and stored.path.name.endswith(".jsonl.gz")
    [back] = zone.read("test", "spot_klines", "BTCUSDT", DAY)
    assert back.bodies == ('[[1, "2.50"]]\n',)
    assert back.request == payload().request


def test_same_payload_again_reuses_the_file(tmp_path):
    zone = LandingZone(tmp_path)
    first = zone.write("spot_klines", "BTCUSDT", DAY, payload())
    again = zone.write("spot_klines", "BTCUSDT", DAY, payload())
    assert again.status == "unchanged" and again.path == first.path
    assert len(list(first.path.parent.iterdir())) == 1


DAY_CLOSES_MS = 1_794_355_200_000  # 2026-11-11 00:00 UTC


def test_a_different_answer_is_kept_as_a_new_version(tmp_path):
    zone = LandingZone(tmp_path)
    first = zone.write("spot_klines", "BTCUSDT", DAY, payload('[[1,"2"]]', received=DAY_CLOSES_MS))
    second = zone.write("spot_klines", "BTCUSDT", DAY, payload('[[1,"3"]]', received=DAY_CLOSES_MS + 9))
    assert second.status == "new_version" and second.path.name.endswith(".v2.jsonl.gz")
    assert first.path.exists()
    [newest] = zone.read("test", "spot_klines", "BTCUSDT", DAY)
    assert newest.bodies == ('[[1,"3"]]',)


def test_an_open_days_answer_growing_is_a_refresh_not_a_changed_answer(tmp_path):
    zone = LandingZone(tmp_path)
    zone.write("spot_klines", "BTCUSDT", DAY, payload('[[1,"2"]]', received=DAY_CLOSES_MS - 1))
    grown = zone.write("spot_klines", "BTCUSDT", DAY, payload('[[1,"2"],[2,"3"]]', received=DAY_CLOSES_MS))
    assert grown.status == "refreshed" and grown.path.name.endswith(".v2.jsonl.gz")
    [newest] = zone.read("test", "spot_klines", "BTCUSDT", DAY)
    assert newest.bodies == ('[[1,"2"],[2,"3"]]',)


def test_snapshots_are_named_by_their_time(tmp_path):
    zone = LandingZone(tmp_path)
    zone.write("premium_index", "BTCUSDT", DAY, payload("{}", kind="snapshot", received=10))
    zone.write("premium_index", "BTCUSDT", DAY, payload("{}", kind="snapshot", received=20))
    assert len(zone.read("test", "premium_index", "BTCUSDT", DAY)) == 2


def test_tampered_file_is_detected(tmp_path):
    zone = LandingZone(tmp_path)
    stored = zone.write("spot_klines", "BTCUSDT", DAY, payload())
    with gzip.open(stored.path, "rt") as handle:
        header = handle.readline()
    with gzip.open(stored.path, "wt") as handle:
        handle.write(header + '"[[9,\\"9\\"]]"\n')
    with pytest.raises(LandingError, match="fails its SHA-256"):
        zone.read("test", "spot_klines", "BTCUSDT", DAY)


def test_missing_partition_is_a_clear_error(tmp_path):
    with pytest.raises(LandingError, match="no landing files for spot_klines BTCUSDT 2026-11-10"):
        LandingZone(tmp_path).read("test", "spot_klines", "BTCUSDT", DAY)
