"""Raw assets end to end: a real Dagster instance, a real DuckDB file, the simulated market.

The suite runs under TZ=America/New_York (see conftest), so every partition write here
also proves that slices and timestamps do not depend on the host time zone.
"""

import json
import re
from dataclasses import replace
from datetime import date

import dagster as dg
import duckdb
import pandas as pd
import pytest

from quant_assets.automation.jobs import RAW_MARKET_JOB
from quant_assets.definitions import build_definitions, build_partitions, build_resources
from quant_assets.raw.assets import build_raw_asset
from quant_assets.raw.families import FAMILIES, FAMILIES_BY_NAME
from quant_assets.resources.market import MarketSourceResource
from quant_assets.settings import load_settings
from quant_assets.sources.base import MarketSource, Payload, SequentialFetchMixin
from quant_assets.sources.simulated.source import SimulatedMarket

DAY1, DAY2 = date(2026, 10, 5), date(2026, 10, 6)
SYMBOL = "ETHUSDT"


@pytest.fixture
def settings(tmp_path):
    return load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT"})


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def query(settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def table(settings, name: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(f"select * from raw.{name} order by all").df()


def key(day: date, symbol: str = SYMBOL) -> str:
    return f"{day}|{symbol}"


def run_market(defs, instance, first: date, last: date, symbol: str = SYMBOL, **kwargs):
    return defs.resolve_job_def(RAW_MARKET_JOB).execute_in_process(
        instance=instance, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": key(first, symbol),
              "dagster/asset_partition_range_end": key(last, symbol)}, **kwargs)


def materialize_one(settings, instance, family: str, day: date, run_config=None, resources=None):
    """Materialize one partition of one raw asset through Dagster's ``materialize``."""
    asset = build_raw_asset(FAMILIES_BY_NAME[family], build_partitions(settings)["symbol"], settings)
    return dg.materialize(
        [asset], partition_key=key(day), instance=instance, raise_on_error=False,
        run_config=run_config or {}, resources={**build_resources(settings), **(resources or {})},
    )


def failed_checks(result) -> dict[str, str]:
    return {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}


# ---------------------------------------------------------------------- definitions
def test_definitions_load_with_every_raw_asset_and_its_checks(settings):
    defs = build_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    raw_keys = {k for k in graph.get_all_asset_keys() if k.path[0] == "raw"}
    assert raw_keys == {dg.AssetKey(["raw", f.name]) for f in FAMILIES}
    for family in FAMILIES:
        check_names = {c.name for c in graph.get_check_keys_for_assets({dg.AssetKey(["raw", family.name])})}
        assert {"schema", "unique_keys", "monotonic_time", "in_partition_window",
                "newest_partition_fresh"} <= check_names
        assert graph.get(dg.AssetKey(["raw", family.name])).partitions_def is not None
    for job in ("raw_market_job", "raw_onchain_job", "raw_etf_job", "raw_freshness_job"):
        defs.resolve_job_def(job)


def test_invalid_settings_fail_at_load_naming_the_variable(tmp_path):
    from quant_assets.settings import SettingsError

    for variable, value, message in [
        ("QUANT_SOURCE", "kraken", "must be one of"),
        ("QUANT_SYMBOLS", "BTCUSDT,eth", "upper-case"),
        ("QUANT_KLINE_INTERVAL", "7m", "divides a day"),
        ("QUANT_START_DATE", "2024-13-01", "ISO date"),
        ("QUANT_DUCKDB_PATH", str(tmp_path / "x.db"), "must end in .duckdb"),
    ]:
        with pytest.raises(SettingsError, match=f"^{variable}=.*{message}"):
            load_settings({variable: value})


def test_a_misconfigured_source_fails_at_once_with_its_own_message(settings, instance, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("QUANT_ARCHIVE_DIR", str(tmp_path / "no-such-archive"))
    result = materialize_one(replace(settings, source="archive"), instance, "spot_klines", DAY1)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "no-such-archive" in failure and "not a folder" in failure


def test_recorded_streams_are_unavailable_not_empty_when_nothing_was_recorded(tmp_path):
    from quant_assets.sources.base import DataUnavailableError
    from quant_assets.sources.recorder import RecordedStreams

    with pytest.raises(DataUnavailableError, match=r"nothing was recorded.*quant-assets record"):
        RecordedStreams(tmp_path).fetch("depth_snapshots", "BTCUSDT", DAY1)


# ---------------------------------------------------------------------- materialization
def test_range_backfill_fills_every_table_and_rerun_is_idempotent(settings, instance):
    defs = build_definitions(settings)
    first = run_market(defs, instance, DAY1, DAY2)
    assert first.success
    assert not failed_checks(first)
    counts = {f.name: query(settings, f"select count(*) from raw.{f.name}")[0][0]
              for f in FAMILIES if f.partitioning == "symbol"}
    assert counts["spot_klines"] == counts["futures_klines"] == 48
    assert counts["funding_rate"] == 6 and counts["long_short_ratio"] == 144
    assert counts["depth_snapshots"] == 2 * 1440 * 40
    assert query(settings, "select typeof(ts) from raw.spot_klines limit 1") == [("TIMESTAMP",)]
    assert query(settings, "select min(ts), max(ts) from raw.spot_klines") == [
        (pd.Timestamp("2026-10-05 00:00"), pd.Timestamp("2026-10-06 23:00"))]

    before = {name: table(settings, name) for name in ("spot_klines", "agg_trades", "depth_snapshots")}
    again = run_market(defs, instance, DAY1, DAY2)
    assert again.success
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(settings, name), frame)
    assert query(settings, "select count(*) from (select ts, symbol from raw.spot_klines "
                           "group by all having count(*) > 1)") == [(0,)]


def test_day_by_day_equals_one_range_run(settings, tmp_path, instance):
    defs = build_definitions(settings)
    assert run_market(defs, instance, DAY1, DAY2).success
    ranged = {n: table(settings, n) for n in ("spot_klines", "funding_rate", "agg_trades")}
    split_settings = load_settings({"QUANT_DATA_DIR": str(tmp_path / "split"),
                                    "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT"})
    split_defs = build_definitions(split_settings)
    for day in (DAY2, DAY1):
        assert run_market(split_defs, instance, day, day).success
    for name, frame in ranged.items():
        pd.testing.assert_frame_equal(table(split_settings, name), frame)


def test_other_symbols_and_days_are_left_alone(settings, instance):
    defs = build_definitions(settings)
    assert run_market(defs, instance, DAY1, DAY2, symbol="BTCUSDT").success
    btc = table(settings, "spot_klines")
    assert run_market(defs, instance, DAY1, DAY1).success
    assert run_market(defs, instance, DAY1, DAY1).success
    pd.testing.assert_frame_equal(table(settings, "spot_klines").query("symbol == 'BTCUSDT'")
                                  .reset_index(drop=True), btc)


def test_reparsing_the_landing_zone_reproduces_the_table(settings, instance):
    assert materialize_one(settings, instance, "agg_trades", DAY1).success
    stored = table(settings, "agg_trades")
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("delete from raw.agg_trades")
    config = {"ops": {"raw__agg_trades": {"config": {"reparse_from_landing": True}}}}
    result = materialize_one(settings, instance, "agg_trades", DAY1, run_config=config)
    assert result.success
    pd.testing.assert_frame_equal(table(settings, "agg_trades"), stored)
    files = list((settings.landing_dir / "simulated" / "agg_trades" / str(DAY1) / SYMBOL).iterdir())
    assert len(files) >= 24 and all(f.name.endswith(".jsonl.gz") for f in files)


def test_freshness_check_names_the_missing_partitions(settings, instance):
    from quant_assets.raw.freshness import CHECK_NAME

    defs = build_definitions(settings)
    result = defs.resolve_job_def("raw_freshness_job").execute_in_process(instance=instance)
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == len(FAMILIES)
    spot = evaluations["spot_klines"]
    assert spot.check_name == CHECK_NAME and not spot.passed
    assert "|BTCUSDT" in spot.description and "|ETHUSDT" in spot.description


# ---------------------------------------------------------------------- planted defects
class DefectiveMarket(SequentialFetchMixin):
    """The simulated market with one planted defect in one family's payloads."""

    name = "simulated"

    def __init__(self, inner: MarketSource, family: str, defect: str) -> None:
        self.inner, self.family, self.defect = inner, family, defect

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        payloads = self.inner.fetch(family, key, day)
        if family != self.family:
            return payloads
        if self.defect in ("gap", "duplicate", "ohlc"):
            rows = json.loads(payloads[0].bodies[0])
            if self.defect == "gap":
                del rows[5]
            elif self.defect == "duplicate":
                rows.insert(8, rows[7])
            else:
                rows[3][3] = str(float(rows[3][1]) + 1000.0)  # low far above the open
            payloads[0] = replace(payloads[0], bodies=(json.dumps(rows),))
        elif self.defect == "crossed":
            hour = payloads[2]
            messages = list(hour.bodies)
            message = json.loads(messages[4])
            message["b"] = message["a"]
            messages[4] = json.dumps(message)
            payloads[2] = replace(hour, bodies=tuple(messages))
        return payloads


class DefectiveSourceResource(MarketSourceResource):
    family: str
    defect: str

    def get_source(self) -> MarketSource:
        return DefectiveMarket(SimulatedMarket(self.simulation_seed), self.family, self.defect)


@pytest.mark.parametrize(("family", "defect", "check", "named"), [
    ("spot_klines", "gap", "no_gaps", "ETHUSDT 2026-10-05 05:00:00"),
    ("spot_klines", "duplicate", "unique_keys", "(2026-10-05 07:00:00, symbol=ETHUSDT) ×2"),
    ("spot_klines", "ohlc", "ohlc_consistent", "2026-10-05 03:00:00 ETHUSDT: low above open/close"),
    ("book_ticker", "crossed", "uncrossed_book", "2026-10-05 02:00:40"),
])
def test_planted_defect_fails_its_check_and_keeps_the_stored_partition(settings, instance, family,
                                                                       defect, check, named):
    assert materialize_one(settings, instance, family, DAY1).success
    stored = table(settings, family)

    broken = DefectiveSourceResource(family=family, defect=defect)
    result = materialize_one(settings, instance, family, DAY1, resources={"market_source": broken})

    assert not result.success
    failures = failed_checks(result)
    assert check in failures, failures
    assert named in failures[check]
    pd.testing.assert_frame_equal(table(settings, family), stored)


def test_a_failed_insert_rolls_back_the_delete(settings, instance):
    assert materialize_one(settings, instance, "funding_rate", DAY1).success
    stored = table(settings, "funding_rate")
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("alter table raw.funding_rate add column surprise integer")
    result = materialize_one(settings, instance, "funding_rate", DAY1)
    assert not result.success
    after = table(settings, "funding_rate").drop(columns="surprise")
    pd.testing.assert_frame_equal(after, stored)


def test_onchain_and_etf_jobs_store_their_partitions(settings, instance):
    defs = build_definitions(settings)
    for job, first, last in [("raw_onchain_job", "BTC|2026-10-05", "BTC|2026-10-06"),
                             ("raw_onchain_job", "USDT|2026-10-05", "USDT|2026-10-06"),
                             ("raw_etf_job", "2026-10-05", "2026-10-06")]:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": first,
                                     "dagster/asset_partition_range_end": last})
        assert result.success and not failed_checks(result)
    assert query(settings, "select asset, count(*) from raw.onchain_metrics group by 1 order by 1") == [
        ("BTC", 28), ("USDT", 6)]
    etf = table(settings, "etf_flows")
    assert set(etf["asset"]) == {"BTC", "ETH"} and etf["ts"].nunique() == 2  # a Monday and a Tuesday
    assert etf["net_flow_usd"].abs().max() > 1e6  # US$ millions converted to dollars


def test_demo_command_loads_every_table_and_reports_green_checks(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "QUANT_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home"),
           "QUANT_SYMBOLS": "BTCUSDT,SOLUSDT"}
    completed = subprocess.run([sys.executable, "-m", "quant_assets.cli", "demo", "--days", "1"],
                               env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert ", 0 failed; runs: 14 succeeded, 0 failed" in completed.stdout
    assert "scores.trend_score" in completed.stdout
    assert re.search(r"raw\.spot_klines\s+48\n", completed.stdout)


def test_short_history_series_are_scheduled_daily_for_every_symbol(settings):
    from datetime import datetime

    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("short_history_daily")
    assert schedule.cron_schedule == "20 0 * * *"
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def(),
                                            scheduled_execution_time=datetime(2026, 10, 6, 0, 20))
        requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requests) == ["2026-10-05|BTCUSDT", "2026-10-05|ETHUSDT"]
    assert set(defs.resolve_job_def("short_history_job").asset_layer.executable_asset_keys) == {
        dg.AssetKey(["raw", name]) for name in ("open_interest", "long_short_ratio", "taker_volume")}


def test_every_raw_family_is_scheduled_for_yesterday_and_today_hourly_and_checked_for_freshness(settings):
    from datetime import datetime

    defs = build_definitions(settings)
    requested = {}
    with dg.DagsterInstance.ephemeral() as instance:
        for name, tick in (("raw_market_daily", datetime(2026, 10, 6, 0, 10)),
                           ("raw_market_hourly", datetime(2026, 10, 6, 14, 5)),
                           ("raw_onchain_daily", datetime(2026, 10, 6, 0, 10)),
                           ("raw_etf_daily", datetime(2026, 10, 6, 0, 10))):
            schedule = defs.resolve_schedule_def(name)
            assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                                repository_def=defs.get_repository_def())
            requested[name] = sorted(r.partition_key for r in schedule.evaluate_tick(context).run_requests)
    assert requested == {"raw_market_daily": ["2026-10-05|BTCUSDT", "2026-10-05|ETHUSDT"],
                         "raw_market_hourly": ["2026-10-06|BTCUSDT", "2026-10-06|ETHUSDT"],
                         "raw_onchain_daily": ["BTC|2026-10-05", "ETH|2026-10-05", "USDT|2026-10-05"],
                         "raw_etf_daily": ["2026-10-05"]}
    assert defs.resolve_schedule_def("raw_market_hourly").cron_schedule == "5 * * * *"
    assert defs.resolve_schedule_def("raw_freshness_daily").cron_schedule == "30 2 * * *"
