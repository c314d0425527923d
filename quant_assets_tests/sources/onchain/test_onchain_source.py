"""OnchainMarket over the fake Glassnode and ETF tables, and the CompositeSource routing."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from quant_assets.sources.base import DataUnavailableError, Payload, Request, SequentialFetchMixin
from quant_assets.sources.etf_flows import EtfFlowImporter
from quant_assets.sources.glassnode import GlassnodeClient, GlassnodeConfig, GlassnodeUnavailableError
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS, ONCHAIN_METRIC_PATHS
from quant_assets.sources.onchain_source import CompositeSource, OnchainMarket
from quant_assets_tests.sources.onchain.conftest import Sleeps, fast_config
from quant_assets_tests.sources.onchain.fake_glassnode import Fault, catalog_value, day_seconds
from quant_assets_tests.sources.onchain.test_etf_flows import BTC_TABLE, ETH_TABLE

DAY1, DAY2 = date(2026, 10, 5), date(2026, 10, 6)
NOW = datetime(2026, 10, 7, 6, 0)


class CountingFactory:
    """Builds the run's Glassnode client (with a recording sleep) and counts how many were built."""

    def __init__(self) -> None:
        self.clients: list[GlassnodeClient] = []

    def __call__(self, config: GlassnodeConfig, name: str) -> GlassnodeClient:
        client = GlassnodeClient(config, source_name=name, sleep=Sleeps())
        self.clients.append(client)
        return client


@pytest.fixture
def etf(tmp_path) -> EtfFlowImporter:
    (tmp_path / "btc-etf-flow.csv").write_text(BTC_TABLE)
    (tmp_path / "eth-etf-flow.csv").write_text(ETH_TABLE)
    return EtfFlowImporter(tmp_path, source_name="onchain")


def market(server, etf: EtfFlowImporter, factory: CountingFactory | None = None, **config) -> OnchainMarket:
    return OnchainMarket(fast_config(server, **config), etf, now=lambda: NOW, client_factory=factory)


def test_a_range_run_uses_one_client_and_serves_every_metric_in_catalog_order(glassnode, etf):
    glassnode.add_catalog("BTC", DAY1, 2)
    glassnode.add_catalog("USDT", DAY1, 2)
    factory = CountingFactory()
    source = market(glassnode, etf, factory)
    batches = list(source.fetch_all("onchain_metrics", [("BTC", DAY1), ("BTC", DAY2), ("USDT", DAY1)]))

    assert len(factory.clients) == 1 and source.last_stats is factory.clients[0].stats
    assert [(key, day, len(payloads)) for key, day, payloads in batches] == [
        ("BTC", DAY1, 14), ("BTC", DAY2, 14), ("USDT", DAY1, 3)]
    for asset, day, payloads in batches:
        metrics = ONCHAIN_ASSETS[asset]
        assert [p.request.endpoint for p in payloads] == [ONCHAIN_METRIC_PATHS[m] for m in metrics]
        assert [json.loads(p.bodies[0]) for p in payloads] == [
            [{"t": day_seconds(day), "v": catalog_value(m, asset, day)}] for m in ONCHAIN_ASSETS[asset]]
        assert {p.source for p in payloads} == {"onchain"}
    served = {(s.path, s.params): s.body for s in glassnode.served}
    for _asset, _day, payloads in batches:
        for p in payloads:
            assert served[(p.request.endpoint, p.request.params)] == p.bodies[0]


def test_a_day_not_closed_or_an_unknown_asset_is_refused_before_anything_is_sent(glassnode, etf):
    source = market(glassnode, etf)
    with pytest.raises(DataUnavailableError, match="2026-10-07 are not available yet"):
        list(source.fetch_all("onchain_metrics", [("BTC", DAY1), ("BTC", date(2026, 10, 7))]))
    with pytest.raises(DataUnavailableError, match="no on-chain asset 'SOL'"):
        source.fetch("onchain_metrics", "SOL", DAY1)
    assert not glassnode.received


def test_a_failing_partition_raises_after_the_earlier_ones_were_handed_back(glassnode, etf):
    glassnode.add_catalog("USDT", DAY1, 2)
    outflow = ONCHAIN_METRIC_PATHS["exchange_outflow_usd"]
    batches = market(glassnode, etf).fetch_all("onchain_metrics", [("USDT", DAY1), ("USDT", DAY2)])
    key, day, payloads = next(batches)
    assert (key, day, len(payloads)) == ("USDT", DAY1, 3)

    glassnode.inject(Fault(status=502, body="bad gateway", times=100, path=outflow))
    with pytest.raises(GlassnodeUnavailableError, match=f"{outflow}.*gave up after 3 attempts"):
        next(batches)
    assert len(glassnode.requests_to(outflow)) == 1 + 3


def test_empty_answer_fails_the_partition_as_unavailable(glassnode, etf):
    glassnode.add_catalog("BTC", DAY1, 1)  # DAY2 is not computed yet
    batches = market(glassnode, etf).fetch_all("onchain_metrics", [("BTC", DAY1), ("BTC", DAY2)])
    key, day, payloads = next(batches)
    assert (key, day, len(payloads)) == ("BTC", DAY1, 14)
    with pytest.raises(DataUnavailableError, match="empty array"):
        next(batches)


def test_etf_flows_come_from_the_tables_and_other_families_are_refused(glassnode, etf):
    source = market(glassnode, etf)
    [(key, day, payloads)] = source.fetch_all("etf_flows", [("ALL", date(2025, 12, 24))])
    assert (key, day) == ("ALL", date(2025, 12, 24))
    assert [p.request.endpoint for p in payloads] == ["farside/btc-etf-flow", "farside/eth-etf-flow"]
    with pytest.raises(DataUnavailableError, match="no endpoint family 'spot_klines'"):
        source.fetch("spot_klines", "BTCUSDT", DAY1)
    assert not glassnode.received


def test_etf_flows_need_no_glassnode_key(etf):
    source = OnchainMarket(GlassnodeConfig(), etf, now=lambda: NOW)
    assert len(source.fetch("etf_flows", "BTC", date(2025, 12, 24))) == 1


class RecordingExchange(SequentialFetchMixin):
    name = "exchange"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, date]] = []

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        self.calls.append((family, key, day))
        return [Payload(Request.of("/api/v3/klines", symbol=key), ("[]",), 0, "rest", self.name)]


def test_composite_routes_on_chain_families_to_the_on_chain_source(glassnode, etf):
    glassnode.add_catalog("USDT", DAY1, 1)
    exchange = RecordingExchange()
    composite = CompositeSource(exchange, market(glassnode, etf))
    assert composite.name == "exchange"

    [(_, _, klines)] = composite.fetch_all("spot_klines", [("BTCUSDT", DAY1)])
    onchain = composite.fetch("onchain_metrics", "USDT", DAY1)
    etf_payloads = composite.fetch("etf_flows", "ALL", date(2025, 12, 24))

    assert exchange.calls == [("spot_klines", "BTCUSDT", DAY1)]
    assert klines[0].source == "exchange"
    assert len(onchain) == 3 and {p.source for p in onchain + etf_payloads} == {"onchain"}
    assert composite.source_for("etf_flows") is composite.onchain
    assert composite.source_for("funding_rate") is exchange
