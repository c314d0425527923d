"""The raw on-chain and ETF assets materialized against the local Glassnode and published tables.

A real Dagster instance and DuckDB file; the market-source resource is swapped for one
that returns :class:`OnchainMarket` pointed at the fake server, as ``QUANT_SOURCE`` would.
"""

from __future__ import annotations

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
from quant_assets.sources.base import MarketSource
from quant_assets.sources.etf_flows import EtfFlowImporter
from quant_assets.sources.glassnode import GlassnodeConfig
from quant_assets.sources.http import Secret
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS, ONCHAIN_METRIC_PATHS
from quant_assets.sources.onchain_source import OnchainMarket
from quant_assets_tests.sources.onchain.fake_glassnode import TEST_KEY, Fault, catalog_value
from quant_assets_tests.sources.onchain.test_etf_flows import BTC_TABLE, ETH_TABLE

DAY = date(2026, 10, 5)


class LocalOnchainSource(MarketSourceResource):
    """The on-chain source of a deployment, pointed at local servers and files."""

    glassnode_url: str
    etf_dir: str

    def get_source(self) -> MarketSource:
        config = GlassnodeConfig(base_url=self.glassnode_url, api_key=Secret(TEST_KEY), timeout_seconds=5.0,
                                 max_attempts=3, backoff_base_seconds=0.001, backoff_cap_seconds=0.01,
                                 max_wait_seconds=1.0)
        return OnchainMarket(config, EtfFlowImporter(self.etf_dir, source_name=OnchainMarket.name))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT"})


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def materialize(settings: Settings, instance: dg.DagsterInstance, family: str,
                partition_key: str | dg.MultiPartitionKey, source: MarketSourceResource,
                run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    partitioning = FAMILIES_BY_NAME[family].partitioning
    asset = build_raw_asset(FAMILIES_BY_NAME[family], build_partitions(settings)[partitioning], settings)
    return dg.materialize([asset], partition_key=partition_key, instance=instance, raise_on_error=False,
                          run_config=run_config or {},
                          resources={**build_resources(settings), "market_source": source})


def stored(settings: Settings, name: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(f"select * from raw.{name} order by all").df()


def failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}


def test_onchain_metrics_asset_stores_the_served_rows(settings, instance, glassnode, tmp_path):
    glassnode.add_catalog("BTC", DAY, 1)
    glassnode.inject(Fault(status=429, headers={"Retry-After": "0.01"}, path=ONCHAIN_METRIC_PATHS["sopr"]))
    glassnode.inject(Fault(status=500, body="oops", path=ONCHAIN_METRIC_PATHS["mvrv"]))
    source = LocalOnchainSource(glassnode_url=glassnode.url, etf_dir=str(tmp_path / "etf"))
    key = dg.MultiPartitionKey({"asset": "BTC", "date": DAY.isoformat()})

    result = materialize(settings, instance, "onchain_metrics", key, source)

    assert result.success, result.get_step_failure_events()
    assert not failed_checks(result)
    frame = stored(settings, "onchain_metrics")
    expected = pd.DataFrame({
        "ts": pd.Timestamp(DAY), "asset": "BTC", "metric": list(ONCHAIN_ASSETS["BTC"]),
        "value": [catalog_value(m, "BTC", DAY) for m in ONCHAIN_ASSETS["BTC"]],
    }).sort_values(["ts", "asset", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[expected.columns], expected, check_dtype=False)
    assert sorted(r.status for r in glassnode.received) == [200] * 14 + [429, 500]
    landed = list((settings.landing_dir / "onchain" / "onchain_metrics" / DAY.isoformat() / "BTC").iterdir())
    assert len(landed) == 14

    # The landed bodies alone rebuild the table: what was stored is what was served.
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("delete from raw.onchain_metrics")
    requests_before = len(glassnode.received)
    config = {"ops": {"raw__onchain_metrics": {"config": {"reparse_from_landing": True}}}}
    assert materialize(settings, instance, "onchain_metrics", key, source, config).success
    assert len(glassnode.received) == requests_before
    pd.testing.assert_frame_equal(stored(settings, "onchain_metrics"), frame)


def test_etf_flows_asset_stores_the_published_day(settings, instance, glassnode, tmp_path):
    folder = tmp_path / "etf"
    folder.mkdir()
    (folder / "btc-etf-flow.csv").write_text(BTC_TABLE)
    (folder / "eth-etf-flow.csv").write_text(ETH_TABLE)
    source = LocalOnchainSource(glassnode_url=glassnode.url, etf_dir=str(folder))

    result = materialize(settings, instance, "etf_flows", "2025-12-24", source)

    assert result.success, result.get_step_failure_events()
    assert not failed_checks(result)
    frame = stored(settings, "etf_flows").set_index(["asset", "fund"])["net_flow_usd"]
    assert frame[("BTC", "IBIT")] == 1_386_000_000.0 and frame[("ETH", "FETH")] == -10_000_000.0
    assert frame.isna().sum() == 2  # GBTC and ETHE published "-"
