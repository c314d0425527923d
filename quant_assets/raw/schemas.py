"""pandera schemas of the parsed raw tables (DuckDB schema ``raw``).

Column order is part of the contract: dagster-duckdb inserts positionally, so every
model is ``ordered``. Timestamps are naive UTC at microsecond precision (DuckDB
``TIMESTAMP``); ``ts`` is the event time every table is partitioned on.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.engines.pandas_engine import DateTime
from pandera.typing.pandas import Series

UtcTimestamp = DateTime(unit="us")


class RawTable(pa.DataFrameModel):
    """Columns shared by every raw table."""

    ts: Series[UtcTimestamp] = pa.Field(description="Event time, naive UTC")

    class Config:
        strict = True
        ordered = True
        coerce = False


class SymbolTable(RawTable):
    symbol: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$", description="Exchange symbol")


class Klines(SymbolTable):
    """Spot or USDⓈ-M futures candles (``/api/v3/klines``, ``/fapi/v1/klines``); ts = open time."""

    open: Series[float] = pa.Field(gt=0)
    high: Series[float] = pa.Field(gt=0)
    low: Series[float] = pa.Field(gt=0)
    close: Series[float] = pa.Field(gt=0)
    volume: Series[float] = pa.Field(ge=0, description="Base-asset volume")
    close_time: Series[UtcTimestamp]
    quote_volume: Series[float] = pa.Field(ge=0)
    trade_count: Series[int] = pa.Field(ge=0)
    taker_buy_base_volume: Series[float] = pa.Field(ge=0)
    taker_buy_quote_volume: Series[float] = pa.Field(ge=0)


class MarkPriceKlines(SymbolTable):
    """Mark-price candles (``/fapi/v1/markPriceKlines``); ts = open time."""

    open: Series[float] = pa.Field(gt=0)
    high: Series[float] = pa.Field(gt=0)
    low: Series[float] = pa.Field(gt=0)
    close: Series[float] = pa.Field(gt=0)
    close_time: Series[UtcTimestamp]


class PremiumIndex(SymbolTable):
    """Mark/index price and funding snapshot (``/fapi/v1/premiumIndex``); ts = snapshot time."""

    mark_price: Series[float] = pa.Field(gt=0)
    index_price: Series[float] = pa.Field(gt=0)
    estimated_settle_price: Series[float] = pa.Field(gt=0)
    last_funding_rate: Series[float]
    interest_rate: Series[float]
    next_funding_time: Series[UtcTimestamp]


class FundingRate(SymbolTable):
    """Settled funding (``/fapi/v1/fundingRate``); ts = funding time; mark price null in old rows."""

    funding_rate: Series[float]
    mark_price: Series[float] = pa.Field(gt=0, nullable=True)


class OpenInterest(SymbolTable):
    """Open-interest history (``/futures/data/openInterestHist``)."""

    sum_open_interest: Series[float] = pa.Field(ge=0, description="Contracts, base asset")
    sum_open_interest_value: Series[float] = pa.Field(ge=0, description="USD value")


class LongShortRatio(SymbolTable):
    """Long/short account and position ratios (three ``/futures/data`` endpoints, long format)."""

    ratio_type: Series[str] = pa.Field(isin=["global_account", "top_account", "top_position"])
    long_short_ratio: Series[float] = pa.Field(ge=0)
    long_account: Series[float] = pa.Field(ge=0, le=1)
    short_account: Series[float] = pa.Field(ge=0, le=1)


class TakerVolume(SymbolTable):
    """Taker buy/sell volume (``/futures/data/takerlongshortRatio``)."""

    buy_sell_ratio: Series[float] = pa.Field(ge=0)
    buy_volume: Series[float] = pa.Field(ge=0)
    sell_volume: Series[float] = pa.Field(ge=0)


class Ticker24h(SymbolTable):
    """Rolling 24-hour statistics (``/api/v3/ticker/24hr``); ts = close time of the window."""

    price_change: Series[float]
    price_change_percent: Series[float]
    weighted_avg_price: Series[float] = pa.Field(ge=0)
    prev_close_price: Series[float] = pa.Field(ge=0)
    last_price: Series[float] = pa.Field(gt=0)
    last_qty: Series[float] = pa.Field(ge=0)
    bid_price: Series[float] = pa.Field(ge=0)
    bid_qty: Series[float] = pa.Field(ge=0)
    ask_price: Series[float] = pa.Field(ge=0)
    ask_qty: Series[float] = pa.Field(ge=0)
    open_price: Series[float] = pa.Field(gt=0)
    high_price: Series[float] = pa.Field(gt=0)
    low_price: Series[float] = pa.Field(gt=0)
    volume: Series[float] = pa.Field(ge=0)
    quote_volume: Series[float] = pa.Field(ge=0)
    open_time: Series[UtcTimestamp]
    first_id: Series[int]
    last_id: Series[int]
    trade_count: Series[int] = pa.Field(ge=0)


class AvgPrice(SymbolTable):
    """Current average price (``/api/v3/avgPrice``); ts = closeTime, else the request time."""

    window_minutes: Series[int] = pa.Field(gt=0)
    price: Series[float] = pa.Field(gt=0)


class BookTicker(SymbolTable):
    """Best bid/ask (``<symbol>@bookTicker`` stream or ``/ticker/bookTicker``)."""

    update_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="Null from REST snapshots")
    bid_price: Series[float] = pa.Field(gt=0)
    bid_qty: Series[float] = pa.Field(ge=0)
    ask_price: Series[float] = pa.Field(gt=0)
    ask_qty: Series[float] = pa.Field(ge=0)


class DepthSnapshots(SymbolTable):
    """Order-book snapshots in long format: one row per side and level (1 = best)."""

    last_update_id: Series[int]
    side: Series[str] = pa.Field(isin=["bid", "ask"])
    level: Series[int] = pa.Field(ge=1)
    price: Series[float] = pa.Field(gt=0)
    qty: Series[float] = pa.Field(gt=0)


class AggTrades(SymbolTable):
    """Aggregated trades (``/fapi/v1/aggTrades``); is_buyer_maker true = seller was the taker."""

    agg_trade_id: Series[int] = pa.Field(ge=0)
    price: Series[float] = pa.Field(gt=0)
    qty: Series[float] = pa.Field(gt=0)
    first_trade_id: Series[int] = pa.Field(ge=0)
    last_trade_id: Series[int] = pa.Field(ge=0)
    is_buyer_maker: Series[bool]


class Liquidations(SymbolTable):
    """Forced orders from the ``!forceOrder@arr`` stream; side SELL = a long was liquidated."""

    side: Series[str] = pa.Field(isin=["BUY", "SELL"])
    order_type: Series[str]
    time_in_force: Series[str]
    orig_qty: Series[float] = pa.Field(gt=0)
    price: Series[float] = pa.Field(gt=0)
    avg_price: Series[float] = pa.Field(ge=0)
    status: Series[str]
    last_filled_qty: Series[float] = pa.Field(ge=0)
    filled_qty: Series[float] = pa.Field(ge=0)


class OnchainMetrics(RawTable):
    """Daily on-chain series in long format (Glassnode ``[{"t", "v"}]`` responses)."""

    asset: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$")
    metric: Series[str]
    value: Series[float] = pa.Field(nullable=True)


class EtfFlows(RawTable):
    """Daily spot-ETF net flows per fund (published tables, converted to USD)."""

    asset: Series[str] = pa.Field(isin=["BTC", "ETH"])
    fund: Series[str]
    net_flow_usd: Series[float] = pa.Field(nullable=True, description="Null where none was published")
