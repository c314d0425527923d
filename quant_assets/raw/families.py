"""Declarations of the raw endpoint families: one entry each, assets generated from them.

A family names its endpoints, parser, pandera schema, how it is partitioned, its key
columns, its expected time grid and which data-quality checks apply. Adding an
endpoint family is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import pandas as pd

from quant_assets.days import closed_until
from quant_assets.raw import parsers, schemas
from quant_assets.settings import Settings
from quant_assets.sources.exchange_facts import RATIO_PERIODS, ratio_period
from quant_assets.sources.onchain_catalog import ETF_LAUNCH, ONCHAIN_ASSETS

Partitioning = Literal["symbol", "asset", "day"]
ExtraCheck = Literal["ohlc", "price_jumps", "funding_bounds", "uncrossed_book", "id_sequence"]


@dataclass(frozen=True)
class Grid:
    """Expected timestamps of one partition: every ``step`` from midnight.

    ``exact`` demands rows at the grid times; otherwise one row anywhere in each step
    suffices (polled snapshots and recorded streams arrive at irregular instants).
    ``periods`` says a row stamped ``t`` sums up ``[t, t + step)`` (a candle, a statistics
    period) and is final only once that has ended; otherwise a row is final when stamped.
    """

    step: Callable[[Settings], pd.Timedelta]
    exact: bool
    severity: Literal["ERROR", "WARN"] = "ERROR"
    periods: bool = False


@dataclass(frozen=True)
class RawFamily:
    name: str
    description: str
    endpoints: tuple[str, ...]
    parser: parsers.Parser
    schema: type[schemas.RawTable]
    partitioning: Partitioning
    keys: tuple[str, ...]
    grid: Grid | None
    series_column: str | None = None
    extra_checks: tuple[ExtraCheck, ...] = ()
    series_within_key: Callable[[str, date], tuple[str, ...]] | None = None
    order_columns: tuple[str, ...] = ()
    #: Arrives as the stream recorder's hour files, each landed when its hour ends: of an
    #: open day, only whole hours can be expected.
    streamed: bool = False

    @property
    def key_column(self) -> str | None:
        return {"symbol": "symbol", "asset": "asset", "day": None}[self.partitioning]

    @property
    def group_columns(self) -> tuple[str, ...]:
        """Columns that identify one time series in the table."""
        key = (self.key_column,) if self.key_column else ()
        return key + ((self.series_column,) if self.series_column else ())

    def expected_grid(self, key: str, day: date, settings: Settings,
                      as_of: datetime | None = None) -> dict[tuple, pd.DatetimeIndex]:
        """Expected timestamps per series for partition (``key``, ``day``); of an open day,
        those whose step has ended by ``as_of``."""
        if self.grid is None:
            return {}
        start, step = pd.Timestamp(day), self.grid.step(settings)
        if as_of is not None and self.streamed:
            as_of = closed_until(day, as_of, pd.Timedelta(hours=1)).to_pydatetime()
        end = start + pd.Timedelta(days=1) if as_of is None else closed_until(day, as_of, step)
        times = pd.date_range(start, end, freq=step, inclusive="left")
        prefix = (key,) if self.key_column else ()
        if self.series_within_key is None:
            return {prefix: times}
        return {(*prefix, series): times for series in self.series_within_key(key, day)}


def _kline_step(settings: Settings) -> pd.Timedelta:
    return pd.Timedelta(minutes=settings.kline_minutes)


def _ratio_step(settings: Settings) -> pd.Timedelta:
    return pd.Timedelta(minutes=RATIO_PERIODS[ratio_period(settings.kline_interval)])


def _fixed(step: str) -> Callable[[Settings], pd.Timedelta]:
    return lambda _settings: pd.Timedelta(step)


def _etf_assets(_key: str, day: date) -> tuple[str, ...]:
    if day.weekday() >= 5:
        return ()
    return tuple(asset for asset, launch in ETF_LAUNCH.items() if day >= launch)


FAMILIES: tuple[RawFamily, ...] = (
    RawFamily(
        "spot_klines", "Spot candles at the configured interval; ts is the bar open time.",
        ("GET /api/v3/klines",), parsers.parse_klines, schemas.Klines, "symbol", ("ts", "symbol"),
        Grid(_kline_step, exact=True, periods=True), extra_checks=("ohlc", "price_jumps"),
    ),
    RawFamily(
        "futures_klines", "USDⓈ-M perpetual candles at the configured interval.",
        ("GET /fapi/v1/klines",), parsers.parse_klines, schemas.Klines, "symbol", ("ts", "symbol"),
        Grid(_kline_step, exact=True, periods=True), extra_checks=("ohlc", "price_jumps"),
    ),
    RawFamily(
        "mark_price_klines", "Mark-price candles of the perpetual (volume fields are not served).",
        ("GET /fapi/v1/markPriceKlines",), parsers.parse_mark_price_klines, schemas.MarkPriceKlines,
        "symbol", ("ts", "symbol"), Grid(_kline_step, exact=True, periods=True),
        extra_checks=("ohlc", "price_jumps"),
    ),
    RawFamily(
        "premium_index", "Hourly snapshots of mark price, index price and the funding estimate.",
        ("GET /fapi/v1/premiumIndex",), parsers.parse_premium_index, schemas.PremiumIndex, "symbol",
        ("ts", "symbol"), Grid(_fixed("1h"), exact=False), extra_checks=("funding_bounds",),
    ),
    RawFamily(
        "funding_rate", "Settled funding rates (every 8 hours on most perpetuals).",
        ("GET /fapi/v1/fundingRate",), parsers.parse_funding_rate, schemas.FundingRate, "symbol",
        ("ts", "symbol"), Grid(_fixed("8h"), exact=True), extra_checks=("funding_bounds",),
    ),
    RawFamily(
        "open_interest", "Open-interest history (the API serves only the last ~30 days).",
        ("GET /futures/data/openInterestHist",), parsers.parse_open_interest, schemas.OpenInterest,
        "symbol", ("ts", "symbol"), Grid(_ratio_step, exact=True, periods=True),
    ),
    RawFamily(
        "long_short_ratio",
        "Global account, top-trader account and top-trader position long/short ratios.",
        ("GET /futures/data/globalLongShortAccountRatio", "GET /futures/data/topLongShortAccountRatio",
         "GET /futures/data/topLongShortPositionRatio"),
        parsers.parse_long_short_ratio, schemas.LongShortRatio, "symbol",
        ("ts", "symbol", "ratio_type"), Grid(_ratio_step, exact=True, periods=True),
        series_column="ratio_type",
        series_within_key=lambda _k, _d: ("global_account", "top_account", "top_position"),
    ),
    RawFamily(
        "taker_volume", "Taker buy and sell volume of the perpetual per period.",
        ("GET /futures/data/takerlongshortRatio",), parsers.parse_taker_volume, schemas.TakerVolume,
        "symbol", ("ts", "symbol"), Grid(_ratio_step, exact=True, periods=True),
    ),
    RawFamily(
        "ticker_24hr", "Hourly snapshots of the rolling 24-hour spot statistics.",
        ("GET /api/v3/ticker/24hr",), parsers.parse_ticker_24hr, schemas.Ticker24h, "symbol",
        ("ts", "symbol"), Grid(_fixed("1h"), exact=False),
    ),
    RawFamily(
        "avg_price", "Hourly snapshots of the 5-minute average spot price.",
        ("GET /api/v3/avgPrice",), parsers.parse_avg_price, schemas.AvgPrice, "symbol",
        ("ts", "symbol"), Grid(_fixed("1h"), exact=False),
    ),
    RawFamily(
        "book_ticker", "Best bid/ask of the perpetual, recorded from the bookTicker stream.",
        ("stream <symbol>@bookTicker",), parsers.parse_book_ticker, schemas.BookTicker, "symbol",
        ("ts", "symbol", "update_id"), Grid(_fixed("5min"), exact=False),
        extra_checks=("uncrossed_book",), streamed=True,
    ),
    RawFamily(
        "depth_snapshots", "Top-20 order-book snapshots of the perpetual, one row per level.",
        ("stream <symbol>@depth20", "GET /fapi/v1/depth"), parsers.parse_depth,
        schemas.DepthSnapshots, "symbol", ("ts", "symbol", "last_update_id", "side", "level"),
        Grid(_fixed("5min"), exact=False), extra_checks=("uncrossed_book",),
        order_columns=("side", "level"), streamed=True,
    ),
    RawFamily(
        "agg_trades", "Aggregated trades of the perpetual with the taker side.",
        ("GET /fapi/v1/aggTrades",), parsers.parse_agg_trades, schemas.AggTrades, "symbol",
        ("symbol", "agg_trade_id"), None, extra_checks=("id_sequence",),
    ),
    RawFamily(
        "liquidations", "Forced orders recorded from the !forceOrder@arr stream.",
        ("stream !forceOrder@arr",), parsers.parse_liquidations, schemas.Liquidations, "symbol",
        ("ts", "symbol", "side", "price", "orig_qty"), None,
    ),
    RawFamily(
        "onchain_metrics", "Daily on-chain series per asset (Glassnode definitions), long format.",
        ("GET /v1/metrics/...",), parsers.parse_glassnode, schemas.OnchainMetrics, "asset",
        ("ts", "asset", "metric"), Grid(_fixed("1D"), exact=True), series_column="metric",
        series_within_key=lambda asset, _d: ONCHAIN_ASSETS[asset],
    ),
    RawFamily(
        "etf_flows", "Daily spot-ETF net flows per fund in USD (US trading days).",
        ("published daily flow tables (CSV)",), parsers.parse_etf_flows, schemas.EtfFlows, "day",
        ("ts", "asset", "fund"), Grid(_fixed("1D"), exact=True, severity="WARN"),
        series_column="asset", series_within_key=_etf_assets,
    ),
)

FAMILIES_BY_NAME = {family.name: family for family in FAMILIES}
