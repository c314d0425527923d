"""Input frames of the analysis modules, built from raw tables (pure pandas).

Every module metric reads one of these frames. Each column records the raw family
it comes from (:data:`COLUMN_SOURCES`), which gives the asset graph its raw edges.
Bars are labelled by their open time ``t`` and hold what is known at the bar's close
``t + bar``: candles of the bar, trades inside it, and the last observation *before*
the close for polled or streamed series (open interest, ratios, funding, quotes). So
a value at ``t`` never uses data after ``t + bar``: the same convention as klines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from quant_assets.metrics.orderflow import wide_book

BAR_FRAMES = ("bar",)
TICK_FRAMES = ("book", "depth")
PANEL_FRAMES = ("log_returns", "simple_returns")

#: Column -> raw family, per frame.
COLUMN_SOURCES: dict[str, dict[str, str]] = {
    "bar": {
        **dict.fromkeys(("open", "high", "low", "close", "volume", "quote_volume"), "spot_klines"),
        **dict.fromkeys(
            ("trade_count", "buy_trades", "sell_trades", "buy_volume", "sell_volume"), "agg_trades"
        ),
        **dict.fromkeys(("taker_buy_volume", "taker_sell_volume"), "taker_volume"),
        "open_interest": "open_interest",
        "open_interest_value": "open_interest",
        "funding_rate": "funding_rate",
        **dict.fromkeys(("long_account", "short_account"), "long_short_ratio"),
        "premium": "premium_index",
        "mark_close": "mark_price_klines",
        **dict.fromkeys(("liq_long_notional", "liq_short_notional"), "liquidations"),
        **dict.fromkeys(("bid_price", "bid_qty", "ask_price", "ask_qty"), "book_ticker"),
    },
    "book": {
        **dict.fromkeys(("bid_price", "bid_qty", "ask_price", "ask_qty"), "book_ticker"),
        **dict.fromkeys(
            ("close", "trade_count", "buy_trades", "sell_trades", "buy_volume", "sell_volume"), "agg_trades"
        ),
    },
    "depth": {},  # every column from depth_snapshots; see frame_sources()
    "daily": {},  # on-chain metrics and ETF flows; see frame_sources()
    "log_returns": {},
    "simple_returns": {},
}


def frame_sources(frame: str, columns: Sequence[str]) -> list[str]:
    """Raw families a computation on ``columns`` of ``frame`` reads."""
    if frame == "depth":
        return ["depth_snapshots"]
    if frame in PANEL_FRAMES:
        return ["spot_klines"]
    if frame == "daily":
        return sorted({"etf_flows" if c.startswith("etf_") else "onchain_metrics" for c in columns})
    sources = COLUMN_SOURCES[frame]
    missing = [c for c in columns if c not in sources]
    if missing:
        raise KeyError(f"frame {frame!r} has no column {missing[0]!r} (has: {', '.join(sources)})")
    return sorted({sources[c] for c in columns})


class FrameError(ValueError):
    """A raw input cannot form a frame (missing table, duplicate rows); names table and reason."""


def _indexed(table: pd.DataFrame, name: str) -> pd.DataFrame:
    frame = table.sort_values("ts", kind="stable")
    if frame["ts"].duplicated().any():
        first = frame.loc[frame["ts"].duplicated(), "ts"].iloc[0]
        raise FrameError(f"raw.{name}: duplicate rows at {first} for one series")
    frame = frame.set_index("ts")
    frame.index = pd.DatetimeIndex(frame.index).as_unit("ns")
    return frame


def _asof(table: pd.DataFrame, columns: Sequence[str], closes: pd.DatetimeIndex) -> pd.DataFrame:
    """Last row strictly before each bar close."""
    if table.empty:
        return pd.DataFrame(np.nan, index=closes, columns=list(columns))
    positions = np.searchsorted(pd.DatetimeIndex(table.index).as_unit("ns").asi8, closes.as_unit("ns").asi8,
                                side="left") - 1
    values = table[list(columns)].to_numpy(dtype=float)
    out = np.full((len(closes), len(columns)), np.nan)
    ok = positions >= 0
    out[ok] = values[positions[ok]]
    return pd.DataFrame(out, index=closes, columns=list(columns))


def _per_bar(
    ts: pd.Series, values: pd.DataFrame, grid: pd.DatetimeIndex, bar: pd.Timedelta, how: str
) -> pd.DataFrame:
    keys = ts.dt.floor(bar)
    grouped = values.groupby(keys.to_numpy())
    agg = getattr(grouped, how)()
    return agg.reindex(grid)


def bar_frame(raw: Mapping[str, pd.DataFrame], grid: pd.DatetimeIndex, bar: pd.Timedelta) -> pd.DataFrame:
    """One symbol's bar frame on ``grid`` (bar open times) from its raw tables.

    ``raw`` maps a family name to that symbol's rows; families not given are absent
    columns (NaN), so a module that never reads them does not need them loaded.
    """
    closes = grid + bar
    out = pd.DataFrame(index=grid)

    def take(name: str) -> pd.DataFrame | None:
        return raw.get(name)

    if (klines := take("spot_klines")) is not None:
        k = _indexed(klines, "spot_klines")
        for column in ("open", "high", "low", "close", "volume", "quote_volume"):
            out[column] = k[column].reindex(grid).astype(float)
    if (trades := take("agg_trades")) is not None:
        buy = ~trades["is_buyer_maker"].astype(bool)
        qty = trades["qty"].astype(float)
        parts = pd.DataFrame(
            {
                "trade_count": 1.0,
                "buy_trades": buy.astype(float),
                "sell_trades": (~buy).astype(float),
                "buy_volume": qty.where(buy, 0.0),
                "sell_volume": qty.where(~buy, 0.0),
            }
        )
        summed = _per_bar(trades["ts"], parts, grid, bar, "sum")
        out[list(parts.columns)] = summed.fillna(0.0) if len(trades) else summed
    if (taker := take("taker_volume")) is not None:
        t = _indexed(taker, "taker_volume")
        out["taker_buy_volume"] = t["buy_volume"].reindex(grid).astype(float)
        out["taker_sell_volume"] = t["sell_volume"].reindex(grid).astype(float)
    if (oi := take("open_interest")) is not None:
        values = _asof(
            _indexed(oi, "open_interest"), ["sum_open_interest", "sum_open_interest_value"], closes
        )
        out["open_interest"] = values["sum_open_interest"].to_numpy()
        out["open_interest_value"] = values["sum_open_interest_value"].to_numpy()
    if (funding := take("funding_rate")) is not None:
        out["funding_rate"] = _asof(_indexed(funding, "funding_rate"), ["funding_rate"], closes).to_numpy()[
            :, 0
        ]
    if (ratios := take("long_short_ratio")) is not None:
        accounts = _indexed(ratios[ratios["ratio_type"] == "global_account"], "long_short_ratio")
        values = _asof(accounts, ["long_account", "short_account"], closes)
        out["long_account"] = values["long_account"].to_numpy()
        out["short_account"] = values["short_account"].to_numpy()
    if (premium := take("premium_index")) is not None:
        p = _indexed(premium, "premium_index")
        p = p.assign(premium=p["mark_price"] / p["index_price"] - 1.0)
        out["premium"] = _asof(p, ["premium"], closes).to_numpy()[:, 0]
    if (mark := take("mark_price_klines")) is not None:
        out["mark_close"] = _indexed(mark, "mark_price_klines")["close"].reindex(grid).astype(float)
    if (liquidations := take("liquidations")) is not None:
        notional = liquidations["filled_qty"].astype(float) * liquidations["avg_price"].astype(float)
        parts = pd.DataFrame(
            {
                "liq_long_notional": notional.where(liquidations["side"] == "SELL", 0.0),
                "liq_short_notional": notional.where(liquidations["side"] == "BUY", 0.0),
            }
        )
        out[list(parts.columns)] = _per_bar(liquidations["ts"], parts, grid, bar, "sum").fillna(0.0)
    if (book := take("book_ticker")) is not None:
        quotes = book.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last").set_index("ts")
        columns = ["bid_price", "bid_qty", "ask_price", "ask_qty"]
        out[columns] = _asof(quotes, columns, closes).to_numpy()
    return out


def book_frame(raw: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every book-ticker quote of one symbol, with the trades since the previous quote.

    A trade at time ``s`` belongs to the first quote at or after ``s``; ``close`` is the
    last trade price up to the quote (the quote's mid before the first trade).
    """
    quotes = raw["book_ticker"].sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    index = pd.DatetimeIndex(quotes["ts"].to_numpy()).as_unit("ns")
    out = pd.DataFrame(
        {c: quotes[c].to_numpy(dtype=float) for c in ("bid_price", "bid_qty", "ask_price", "ask_qty")},
        index=index,
    )
    trades = raw.get("agg_trades")
    n = len(out)
    columns = ("trade_count", "buy_trades", "sell_trades", "buy_volume", "sell_volume")
    sums = {c: np.zeros(n) for c in columns}
    last_price = np.full(n, np.nan)
    if trades is not None and len(trades):
        trades = trades.sort_values(["ts", "agg_trade_id"], kind="stable")
        slot = np.searchsorted(index.asi8, pd.DatetimeIndex(trades["ts"]).as_unit("ns").asi8, side="left")
        keep = slot < n
        slot = slot[keep]
        buy = ~trades["is_buyer_maker"].to_numpy(dtype=bool)[keep]
        qty = trades["qty"].to_numpy(dtype=float)[keep]
        sums["trade_count"] = np.bincount(slot, minlength=n).astype(float)
        sums["buy_trades"] = np.bincount(slot, weights=buy.astype(float), minlength=n)
        sums["sell_trades"] = sums["trade_count"] - sums["buy_trades"]
        sums["buy_volume"] = np.bincount(slot, weights=np.where(buy, qty, 0.0), minlength=n)
        sums["sell_volume"] = np.bincount(slot, weights=np.where(buy, 0.0, qty), minlength=n)
        last_price[slot] = trades["price"].to_numpy(dtype=float)[keep]  # the last write per slot wins
    mid = (out["bid_price"].to_numpy() + out["ask_price"].to_numpy()) / 2.0
    close = pd.Series(last_price).ffill().to_numpy()
    out["close"] = np.where(np.isnan(close), mid, close)
    for column in columns:
        out[column] = sums[column]
    return out


def depth_frame(raw: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every depth snapshot of one symbol as one wide row (top-20 convention)."""
    wide = wide_book(raw["depth_snapshots"])
    wide.index = pd.DatetimeIndex(wide.index).as_unit("ns")
    return wide


def to_bars(values: pd.DataFrame, grid: pd.DatetimeIndex, bar: pd.Timedelta, how: str) -> pd.DataFrame:
    """Tick-level values brought to the bar grid: ``last``/``mean``/``sum`` of the values
    stamped inside each bar (NaN values ignored)."""
    keys = values.index.floor(bar)
    return getattr(values.groupby(keys), how)().reindex(grid)


def daily_frame(
    onchain: pd.DataFrame,
    etf: pd.DataFrame | None,
    asset: str,
    days: pd.DatetimeIndex,
    *,
    stablecoin: str = "USDT",
) -> pd.DataFrame:
    """One on-chain asset's days: its metrics as columns, its ETF net flow (``etf_net_flow_usd``,
    NaN on days without a published figure) and the stablecoin's exchange flows
    (``stablecoin_inflow_usd``, ``stablecoin_outflow_usd``)."""
    own = onchain[onchain["asset"] == asset].pivot_table(
        index="ts", columns="metric", values="value", aggfunc="last"
    )
    out = own.reindex(days)
    coin = onchain[onchain["asset"] == stablecoin].pivot_table(
        index="ts", columns="metric", values="value", aggfunc="last"
    )
    for column, name in (
        ("exchange_inflow_usd", "stablecoin_inflow_usd"),
        ("exchange_outflow_usd", "stablecoin_outflow_usd"),
    ):
        out[name] = coin[column].reindex(days) if column in coin else np.nan
    if etf is not None and len(etf):
        flows = etf[etf["asset"] == asset].groupby("ts")["net_flow_usd"].sum(min_count=1)
        out["etf_net_flow_usd"] = flows.reindex(days)
    else:
        out["etf_net_flow_usd"] = np.nan
    out.columns.name = None
    return out.astype(float)


def returns_panel(
    klines: pd.DataFrame, symbols: Sequence[str], grid: pd.DatetimeIndex, kind: str
) -> pd.DataFrame:
    """Wide frame of one return per bar and symbol (``log_returns`` or ``simple_returns``),
    the first bar of the grid dropped (it has no previous close)."""
    closes = klines.pivot_table(index="ts", columns="symbol", values="close", aggfunc="last")
    missing = [s for s in symbols if s not in closes.columns]
    if missing:
        raise FrameError(f"raw.spot_klines: no rows for {', '.join(missing)} in the range")
    closes = closes[list(symbols)].reindex(grid)
    ratio = closes / closes.shift(1)
    returns = np.log(ratio) if kind == "log_returns" else ratio - 1.0
    returns.columns = [str(c) for c in returns.columns]
    returns.columns.name = None
    return returns.iloc[1:]
