"""The module asset factory end to end with a small declared module: real Dagster, real DuckDB.

The module here has a short memory so that its history window (a few days) lies well
inside the materialized raw range: day-by-day runs then load different data than the
range run, and the scores must still agree.
"""

import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pytest

from quant_assets.automation.jobs import TICK_FAMILIES
from quant_assets.modules import Module
from quant_assets.modules.assets import build_module_asset
from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.engine import history
from quant_assets.modules.tables import UnitScore, symbol_rows
from quant_assets.partitions import build_partitions
from quant_assets.raw.assets import build_raw_assets
from quant_assets.raw.freshness import missing_partitions
from quant_assets.resources import build_resources
from quant_assets.settings import load_settings

FIRST, LAST = date(2026, 9, 1), date(2026, 9, 9)
SYMBOLS = ("BTCUSDT", "ETHUSDT")

DECLARATION = ModuleDeclaration(
    id="trend_moment", title="Small trend", version="0.1.0", description="test module",
    command=("trend", "t"), score_table="trend_score",
    nodes={"sma": MetricNode(metric="sma", params={"timeperiod": 10}),
           "momentum": MetricNode(metric="momentum", params={"timeperiod": 6}),
           "zscore": MetricNode(metric="zscore", params={"timeperiod": 12})},
    components=(
        Component(name="roc", node="momentum", output="roc", normalization="logistic_z", window=24,
                  weight=0.5, why="magnitude matters"),
        Component(name="z", node="zscore", output="zscore", normalization="percentile", window=24,
                  weight=0.5, why="rank of the z-score"),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35),
)
MODULE = Module(DECLARATION, UnitScore, symbol_rows, "Small trend module for tests.")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings({"QUANT_DATA_DIR": str(tmp_path_factory.mktemp("modules")),
                          "QUANT_SYMBOLS": ",".join(SYMBOLS), "QUANT_START_DATE": FIRST.isoformat()})


@pytest.fixture(scope="module")
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="module")
def raw(settings, instance):
    partitions = build_partitions(settings)
    bars = [a for a in build_raw_assets(settings, partitions)
            if a.partitions_def == partitions["symbol"] and a.key.path[-1] not in TICK_FAMILIES]
    for symbol in SYMBOLS:
        result = dg.materialize(
            bars, instance=instance, resources=build_resources(settings), raise_on_error=False,
            tags={"dagster/asset_partition_range_start": f"{FIRST}|{symbol}",
                  "dagster/asset_partition_range_end": f"{LAST}|{symbol}"})
        assert result.success


def run(settings, instance, first: date, last: date, symbol: str, run_config=None):
    asset = build_module_asset(MODULE, settings, build_partitions(settings))
    return dg.materialize(
        [asset], instance=instance, raise_on_error=False, run_config=run_config or {},
        resources=build_resources(settings),
        tags={"dagster/asset_partition_range_start": f"{first}|{symbol}",
              "dagster/asset_partition_range_end": f"{last}|{symbol}"})


def scores(settings) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute("select * from scores.trend_score order by symbol, ts").df()


def test_history_window_lies_inside_the_materialized_range():
    assert history(DECLARATION, pd.Timedelta(hours=1)) < pd.Timedelta(days=4)


def test_day_by_day_runs_equal_one_range_run(settings, instance, raw):
    days = [LAST - timedelta(days=2), LAST - timedelta(days=1), LAST]
    for day in days:
        assert run(settings, instance, day, day, "ETHUSDT").success
    one_by_one = scores(settings)
    assert run(settings, instance, days[0], days[-1], "ETHUSDT").success
    ranged = scores(settings)
    assert len(ranged) == len(one_by_one) == 72
    assert ranged["score"].notna().all()
    pd.testing.assert_series_equal(ranged["score"], one_by_one["score"], rtol=0, atol=1e-9)
    for a, b in zip(ranged["explain"], one_by_one["explain"], strict=True):
        parts_a, parts_b = json.loads(a)["components"], json.loads(b)["components"]
        assert [c["name"] for c in parts_a] == [c["name"] for c in parts_b]
        for ca, cb in zip(parts_a, parts_b, strict=True):
            assert ca["contribution"] == pytest.approx(cb["contribution"], abs=1e-9)


def test_every_node_and_the_score_materialize_with_checks(settings, instance, raw):
    result = run(settings, instance, LAST, LAST, "BTCUSDT")
    assert result.success
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["scores", "trend_score"]) in keys
    assert {dg.AssetKey(["trend_moment", n]) for n in DECLARATION.nodes} <= keys
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"schema_and_ranges", "inputs_fresh", "nan_share", "distribution_drift"}
    assert all(e.passed for e in evaluations.values())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        columns = [r[0] for r in connection.execute("describe features.trend_moment").fetchall()]
    assert {"ts", "symbol", "sma__sma", "momentum__roc", "zscore__zscore"} <= set(columns)


def test_a_missing_raw_day_fails_the_step_and_keeps_stored_scores(settings, instance, raw):
    assert run(settings, instance, LAST, LAST, "BTCUSDT").success
    before = scores(settings)
    result = run(settings, instance, LAST + timedelta(days=1), LAST + timedelta(days=1), "BTCUSDT")
    assert not result.success
    failed = {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}
    assert "inputs_fresh" in failed and "raw.spot_klines for BTCUSDT" in failed["inputs_fresh"]
    pd.testing.assert_frame_equal(scores(settings), before)


def test_run_config_overrides_are_validated_data(settings, instance, raw):
    bad = run(settings, instance, LAST, LAST, "BTCUSDT",
              {"ops": {"trend_moment_module": {"config": {"overrides_yaml": "weights: {roc: 0.9}"}}}})
    assert not bad.success
    good = run(settings, instance, LAST, LAST, "BTCUSDT",
               {"ops": {"trend_moment_module": {"config": {
                   "overrides_yaml": "weights: {roc: 0.8, z: 0.2}\nthresholds: {upper: 0.7}"}}}})
    assert good.success


# --------------------------------------------------------------------------- today's open partition
OPEN = date(2026, 9, 4)


@pytest.fixture(scope="module")
def open_day(tmp_path_factory):
    """Own DuckDB file and instance: three closed days of bars for BTCUSDT, then the fourth."""
    settings = load_settings({"QUANT_DATA_DIR": str(tmp_path_factory.mktemp("open_day")),
                              "QUANT_SYMBOLS": "BTCUSDT", "QUANT_START_DATE": FIRST.isoformat()})
    with dg.DagsterInstance.ephemeral() as instance:
        assert raw_bars(settings, instance, FIRST, OPEN - timedelta(days=1)).success
        yield settings, instance


def raw_bars(settings, instance, first: date, last: date, clock: str = ""):
    partitions = build_partitions(settings)
    bars = [a for a in build_raw_assets(settings, partitions)
            if a.partitions_def == partitions["symbol"] and a.key.path[-1] not in TICK_FAMILIES]
    return dg.materialize(bars, instance=instance, resources=build_resources(settings, clock),
                          raise_on_error=False,
                          tags={"dagster/asset_partition_range_start": f"{first}|BTCUSDT",
                                "dagster/asset_partition_range_end": f"{last}|BTCUSDT"})


def materialization(result, *path: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(list(path))]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_todays_open_partition_holds_what_has_closed_and_becomes_the_closed_day(open_day):
    settings, instance = open_day
    spot = dg.AssetKey(["raw", "spot_klines"])
    by_symbol = build_partitions(settings)["symbol"]
    as_of = {"ops": {"trend_moment_module": {"config": {"as_of": f"{OPEN}T10:30"}}}}

    # 10:30 on the open day: the candles closed by then, and the scores of those bars.
    early = raw_bars(settings, instance, OPEN, OPEN, clock=f"{OPEN}T10:30")
    assert early.success
    assert materialization(early, "raw", "spot_klines")["complete"] is False
    assert all(e.passed for e in early.get_asset_check_evaluations())
    assert missing_partitions(instance, spot, by_symbol, OPEN) == [f"{OPEN}|BTCUSDT (open-day copy)"]
    partial = run(settings, instance, OPEN, OPEN, "BTCUSDT", as_of)
    assert partial.success
    assert materialization(partial, "scores", "trend_score")["complete"] is False
    intraday = scores(settings).query("ts >= @OPEN")
    assert list(intraday["ts"].dt.hour) == list(range(10))  # 09:00 closed at 10:00; 10:00 is open

    # Nothing of the day has closed at 00:20: refused, stored scores untouched.
    too_early = run(settings, instance, OPEN, OPEN, "BTCUSDT",
                    {"ops": {"trend_moment_module": {"config": {"as_of": f"{OPEN}T00:20"}}}})
    assert not too_early.success
    pd.testing.assert_frame_equal(scores(settings).query("ts >= @OPEN"), intraday)

    # After midnight the closing run replaces the open copy; the early scores stand unchanged.
    closing = raw_bars(settings, instance, OPEN, OPEN, clock=f"{OPEN + timedelta(days=1)}T00:20")
    assert closing.success
    closed = materialization(closing, "raw", "spot_klines")
    assert closed["complete"] is True and closed["landing_files_refreshed"] >= 1
    assert closed["landing_files_new_version"] == 0, "a growing day is not a changed answer"
    assert missing_partitions(instance, spot, by_symbol, OPEN) == []
    assert run(settings, instance, OPEN, OPEN, "BTCUSDT").success
    final = scores(settings).query("ts >= @OPEN").reset_index(drop=True)
    assert len(final) == 24
    pd.testing.assert_series_equal(final["score"].iloc[:10], intraday["score"].reset_index(drop=True),
                                   rtol=0, atol=1e-12)
