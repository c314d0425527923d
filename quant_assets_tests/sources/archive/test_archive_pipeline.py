"""End to end: the raw spot_klines asset materialized from a local archive tree into DuckDB."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from quant_assets.definitions import build_partitions, build_resources
from quant_assets.raw.assets import build_raw_asset
from quant_assets.raw.families import FAMILIES_BY_NAME
from quant_assets.resources.market import MarketSourceResource
from quant_assets.settings import Settings, load_settings
from quant_assets.sources.archive import ArchiveMarket
from quant_assets.sources.base import MarketSource
from quant_assets_tests.sources.archive.archive_files import kline_csv, put_csv

DAY = date(2025, 1, 2)
SYMBOL = "ETHUSDT"
SPOT = f"spot/daily/klines/{SYMBOL}/1h/{SYMBOL}-1h-{DAY}.zip"


class ArchiveSourceResource(MarketSourceResource):
    """The market-source resource answering with an :class:`ArchiveMarket` on a given folder."""

    archive_dir: str

    def get_source(self) -> MarketSource:
        return ArchiveMarket(self.kline_interval, self.archive_dir)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"QUANT_DATA_DIR": str(tmp_path / "data"), "QUANT_SYMBOLS": SYMBOL,
                          "QUANT_SOURCE": "archive"})


def materialize(settings: Settings, archive: Path, instance: dg.DagsterInstance):
    asset = build_raw_asset(FAMILIES_BY_NAME["spot_klines"], build_partitions(settings)["symbol"], settings)
    source = ArchiveSourceResource(source="archive", kline_interval="1h", archive_dir=str(archive))
    return dg.materialize([asset], partition_key=f"{DAY}|{SYMBOL}", instance=instance, raise_on_error=False,
                          resources={**build_resources(settings), "market_source": source})


def test_spot_klines_from_a_2025_archive_file_are_stored_in_duckdb(settings, tmp_path):
    archive = tmp_path / "archive"
    path = put_csv(archive, SPOT, kline_csv(DAY, micro=True, price=3000.0))

    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(settings, archive, instance)

    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        stored = connection.execute(
            "select ts, symbol, open, close_time from raw.spot_klines order by ts").df()
    assert list(stored["ts"]) == list(pd.date_range("2025-01-02", periods=24, freq="h"))
    assert set(stored["symbol"]) == {SYMBOL}
    assert stored["open"].iloc[5] == 3005.0
    assert stored["close_time"].iloc[0] == pd.Timestamp("2025-01-02 00:59:59.999999")
    [landed] = (settings.landing_dir / "archive" / "spot_klines" / str(DAY) / SYMBOL).glob("*.jsonl.gz")
    with gzip.open(landed, "rt") as handle:
        header = json.loads(handle.readline())
    assert header["endpoint"] == f"archive:/{SPOT}!/api/v3/klines"
    assert ["sha256", path.with_name(path.name + ".CHECKSUM").read_text().split()[0]] in header["params"]


def test_a_day_missing_from_the_archive_fails_the_run_naming_the_file(settings, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()

    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(settings, archive, instance)

    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert f"{SYMBOL}-1h-{DAY}.zip" in message and "no spot_klines file" in message
