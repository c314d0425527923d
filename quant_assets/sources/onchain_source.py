"""On-chain and ETF data as a market source, and a combinator that adds it to an exchange source.

:class:`OnchainMarket` answers two endpoint families:

``onchain_metrics``
    From the Glassnode API (:mod:`quant_assets.sources.glassnode`): per asset and day,
    one request per catalog metric of the asset, all partitions of a run over one
    pooled client.
``etf_flows``
    From the published ETF flow tables (:mod:`quant_assets.sources.etf_flows`), read
    once per run.

Every other family raises :class:`~quant_assets.sources.base.DataUnavailableError`.

:class:`CompositeSource` routes those two families to an on-chain source and every
other family to an exchange source, so ``QUANT_SOURCE=binance`` (or ``archive``)
still loads on-chain data from Glassnode.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime

from quant_assets.days import day_end, utc_now
from quant_assets.sources.base import (
    BatchFetchMixin,
    DataUnavailableError,
    MarketSource,
    Payload,
    SourceError,
)
from quant_assets.sources.etf_flows import EtfFlowImporter
from quant_assets.sources.glassnode import GlassnodeClient, GlassnodeConfig, GlassnodeStats
from quant_assets.sources.listings import Listing
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS

logger = logging.getLogger(__name__)

ONCHAIN_FAMILIES = ("onchain_metrics", "etf_flows")


class OnchainMarket(BatchFetchMixin):
    """Glassnode on-chain series and published ETF flow tables as a market source.

    Parameters
    ----------
    glassnode
        Client settings; :meth:`GlassnodeConfig.from_env` when omitted. A missing key is
        reported when on-chain metrics are first requested, not here, so a source that
        only serves ETF flows needs none.
    etf
        The ETF table importer; :meth:`EtfFlowImporter.from_env` (``QUANT_ETF_DIR``) when omitted.
    now
        Current UTC time (naive); injectable so tests can fix "today".
    client_factory
        Builds the Glassnode client of a run from the config (tests inject sleep/clock).
    """

    name = "onchain"

    def __init__(self, glassnode: GlassnodeConfig | None = None, etf: EtfFlowImporter | None = None,
                 now: Callable[[], datetime] | None = None,
                 client_factory: Callable[[GlassnodeConfig, str], GlassnodeClient] | None = None) -> None:
        self.glassnode = glassnode or GlassnodeConfig.from_env()
        self.etf = etf or EtfFlowImporter.from_env(source_name=self.name)
        if self.etf.source_name != self.name:
            raise SourceError(f"OnchainMarket: the ETF importer lands its payloads as "
                              f"{self.etf.source_name!r}, not {self.name!r}; reparsing from the landing "
                              "zone would not find them")
        self._now = now or utc_now
        self._client_factory = client_factory or (lambda config, name: GlassnodeClient(config,
                                                                                       source_name=name))
        #: Statistics of the Glassnode client of the most recent on-chain run.
        self.last_stats: GlassnodeStats | None = None

    def __repr__(self) -> str:
        return f"OnchainMarket(glassnode={self.glassnode!r}, etf={self.etf!r})"

    # ------------------------------------------------------------------ interface
    def fetch_all(self, family: str, partitions: Sequence[tuple[str, date]]
                  ) -> Iterator[tuple[str, date, list[Payload]]]:
        if family == "onchain_metrics":
            return self._onchain(list(partitions))
        if family == "etf_flows":
            return self._etf(list(partitions))
        raise DataUnavailableError(f"onchain source: no endpoint family {family!r}; it serves "
                                   f"{' and '.join(ONCHAIN_FAMILIES)}")

    # ------------------------------------------------------------------ on-chain
    def _check_onchain(self, asset: str, day: date) -> None:
        if asset not in ONCHAIN_ASSETS:
            raise DataUnavailableError(f"glassnode: no on-chain asset {asset!r}; known: "
                                       f"{', '.join(ONCHAIN_ASSETS)}")
        closes = day_end(day)
        if closes > self._now():
            raise DataUnavailableError(
                f"glassnode: on-chain metrics of {asset} on {day} are not available yet (the day "
                f"closes at {closes:%Y-%m-%d %H:%M} UTC)")

    def _onchain(self, partitions: list[tuple[str, date]]) -> Iterator[tuple[str, date, list[Payload]]]:
        for asset, day in partitions:  # refuse the whole run before sending anything
            self._check_onchain(asset, day)
        if not partitions:
            return
        client = self._client_factory(self.glassnode, self.name)
        self.last_stats = client.stats
        with client, concurrent.futures.ThreadPoolExecutor(
                max_workers=self.glassnode.max_concurrency, thread_name_prefix="glassnode") as pool:
            for asset, day in partitions:
                yield asset, day, self._asset_day(client, pool, asset, day)
        logger.info("glassnode: %d partitions, %s", len(partitions), client.stats.summary())

    @staticmethod
    def _asset_day(client: GlassnodeClient, pool: concurrent.futures.Executor, asset: str,
                   day: date) -> list[Payload]:
        """Every catalog metric of ``asset`` on ``day``, in catalog order; the first failure raises."""
        futures = [pool.submit(client.metric_day, metric, asset, day) for metric in ONCHAIN_ASSETS[asset]]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures)
            raise

    # ------------------------------------------------------------------ ETF
    def _etf(self, partitions: list[tuple[str, date]]) -> Iterator[tuple[str, date, list[Payload]]]:
        if not partitions:
            return
        assets = sorted({asset for key, _day in partitions for asset in self.etf.assets_of(key)})
        tables = self.etf.load(assets)
        for key, day in partitions:
            yield key, day, self.etf.payloads(key, day, tables)


class CompositeSource:
    """An exchange source with the on-chain families served by another source.

    Parameters
    ----------
    exchange
        Serves every family except ``onchain_metrics``, ``etf_flows`` and the routed ones.
    onchain
        Serves ``onchain_metrics`` and ``etf_flows`` (an :class:`OnchainMarket`).
    routes
        Families served by another source, e.g. the stream recorder's files.

    ``name`` is the exchange's; payloads keep the ``source`` of whichever source made
    them, so on-chain landing files sit under the on-chain source's name
    (:meth:`source_for` tells which source answers a family).
    """

    def __init__(self, exchange: MarketSource, onchain: MarketSource,
                 routes: Mapping[str, MarketSource] | None = None) -> None:
        if exchange is onchain:
            raise SourceError("CompositeSource: the exchange and on-chain sources must differ")
        self.exchange = exchange
        self.onchain = onchain
        self.routes = dict(routes or {})
        self.name = exchange.name

    def __repr__(self) -> str:
        return f"CompositeSource(exchange={self.exchange!r}, onchain={self.onchain!r})"

    def perpetual_listings(self) -> list[Listing]:
        """The exchange source's perpetual listings."""
        lister = getattr(self.exchange, "perpetual_listings", None)
        if lister is None:
            raise DataUnavailableError(f"{self.exchange.name}: this source has no listing of perpetual "
                                       "symbols (the binance source reads it from exchangeInfo)")
        return lister()

    def source_for(self, family: str) -> MarketSource:
        """The source that answers ``family`` (an explicit route first, e.g. recorded streams)."""
        if family in self.routes:
            return self.routes[family]
        return self.onchain if family in ONCHAIN_FAMILIES else self.exchange

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        return self.source_for(family).fetch(family, key, day)

    def fetch_all(self, family: str, partitions: Sequence[tuple[str, date]]
                  ) -> Iterator[tuple[str, date, list[Payload]]]:
        return self.source_for(family).fetch_all(family, partitions)
