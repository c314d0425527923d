"""The raw spot_klines asset with QUANT_SOURCE=binance against a local exchange.

The rows the server served end up in DuckDB, and the landing zone holds the bodies as served.
"""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pandas as pd

from quant_assets.definitions import build_partitions, build_resources
from quant_assets.raw.assets import build_raw_asset
from quant_assets.raw.families import FAMILIES_BY_NAME
from quant_assets.raw.landing import LandingZone
from quant_assets.settings import load_settings
from quant_assets_tests.sources.binance.conftest import DAY, assert_bodies_as_served

SYMBOL = "ETHUSDT"


def test_spot_klines_materialized_from_the_binance_source_stores_the_served_rows(hosts, tmp_path,
                                                                                 monkeypatch):
    spot, futures = hosts()
    monkeypatch.setenv("BINANCE_SPOT_URL", spot.url)
    monkeypatch.setenv("BINANCE_FUTURES_URL", futures.url)
    settings = load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT",
                              "QUANT_SOURCE": "binance"})
    asset = build_raw_asset(FAMILIES_BY_NAME["spot_klines"], build_partitions(settings)["symbol"], settings)

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([asset], partition_key=f"{DAY}|{SYMBOL}", instance=instance,
                                resources=build_resources(settings), raise_on_error=False)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert all(e.passed for e in result.get_asset_check_evaluations())
    (served,) = [s for s in spot.served if s.path == "/api/v3/klines"]
    assert dict(served.params)["symbol"] == SYMBOL and dict(served.params)["interval"] == "1h"
    rows = json.loads(served.body)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        stored = connection.execute(
            "select ts, symbol, open, high, low, close, volume, trade_count from raw.spot_klines "
            "order by ts").df()
    assert len(stored) == len(rows) == 24
    assert stored["ts"].tolist() == [pd.Timestamp(r[0], unit="ms") for r in rows]
    assert (stored["symbol"] == SYMBOL).all()
    for column, index in (("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 5)):
        assert stored[column].tolist() == [float(r[index]) for r in rows]
    assert stored["trade_count"].tolist() == [r[8] for r in rows]

    landed = LandingZone(settings.landing_dir).read("binance", "spot_klines", SYMBOL, DAY)
    assert_bodies_as_served(landed, spot)
    assert futures.received == []  # spot klines never touch the futures host
