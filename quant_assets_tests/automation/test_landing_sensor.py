"""Recorder landing files trigger their raw partitions: once per set of files, closed days only,
configured symbols only."""

import json
import os
from datetime import date, timedelta

import dagster as dg

from quant_assets.automation.landing_sensor import build_landing_sensor
from quant_assets.partitions import by_day_and_symbol
from quant_assets.raw.landing import LandingZone
from quant_assets.settings import load_settings
from quant_assets.sources.base import Payload, Request

TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)


def _land(root, family: str, symbol: str, day: date, hour: int) -> None:
    payload = Payload(Request.of("stream", stream=f"{symbol.lower()}@{family}", hour=hour),
                      (json.dumps({"hour": hour}),), received_at_ms=1_700_000_000_000 + hour, kind="stream",
                      source="binance")
    LandingZone(root).write(family, symbol, day, payload)


def _sensor(tmp_path):
    settings = load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT",
                              "QUANT_START_DATE": (TODAY - timedelta(days=10)).isoformat()})
    return build_landing_sensor(settings.landing_dir, settings.symbols, by_day_and_symbol(settings)), settings


def test_new_recorded_hours_request_their_raw_partitions_once(tmp_path):
    sensor, settings = _sensor(tmp_path)
    root = settings.landing_dir
    _land(root, "depth_snapshots", "BTCUSDT", YESTERDAY, 0)
    _land(root, "book_ticker", "ETHUSDT", YESTERDAY, 0)
    _land(root, "book_ticker", "DOGEUSDT", YESTERDAY, 0)  # not a configured symbol
    _land(root, "book_ticker", "BTCUSDT", TODAY, 0)  # today is not a closed partition yet
    with dg.DagsterInstance.ephemeral() as instance:
        first = sensor(dg.build_sensor_context(instance=instance))
        requested = {(tuple(r.asset_selection), r.partition_key) for r in first.run_requests}
        assert requested == {
            ((dg.AssetKey(["raw", "depth_snapshots"]),), f"{YESTERDAY}|BTCUSDT"),
            ((dg.AssetKey(["raw", "book_ticker"]),), f"{YESTERDAY}|ETHUSDT"),
        }
        again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert again.run_requests == [] and "no new landing files" in again.skip_reason.skip_message

        folder = root / "binance" / "depth_snapshots" / YESTERDAY.isoformat() / "BTCUSDT"
        before = set(folder.glob("*.jsonl.gz"))
        _land(root, "depth_snapshots", "BTCUSDT", YESTERDAY, 1)  # a later hour of the same day
        [new] = set(folder.glob("*.jsonl.gz")) - before
        newest = max(p.stat().st_mtime_ns for p in before)
        os.utime(new, ns=(newest + 10**9, newest + 10**9))  # strictly newer, whatever the clock's grain
        later = sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor))
        [request] = later.run_requests
        assert request.partition_key == f"{YESTERDAY}|BTCUSDT"
        assert request.run_key != first.run_requests[0].run_key, "a new run key: the partition runs again"
