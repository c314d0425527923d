"""Minute, trade and book detail of one simulated day, consistent with the hourly path.

Each day is generated from its own seeded generator and from the hourly path, so a
day's detail never depends on which other days were requested. Within an hour the
minute path is a bridge between the hourly closes of :mod:`.core`:

* order-book imbalance ``I`` (an OU process plus the hour's order-flow signal)
  leans the next minute's return, so the book carries information about the
  next returns;
* signed taker volume moves the price it trades at (linear impact), so trade
  aggression and CVD are informative;
* futures klines are built from the simulated aggregated trades (open = first
  trade, volume = sum of trade sizes), exactly as the exchange builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from quant_assets.sources.simulated.core import day_start_hour, hourly_path
from quant_assets.sources.simulated.profiles import SymbolProfile, stable_code

MINUTES = 1440
BOOK_STEP_SECONDS = 10
BOOK_SAMPLES = MINUTES * 60 // BOOK_STEP_SECONDS
MS_PER_MINUTE = 60_000
IMBALANCE_EFFECT = 0.3  # next-minute drift per unit of imbalance, in minute sigmas
IMPACT = 0.6  # minute drift per unit of normalized signed volume, in minute sigmas


def day_start_ms(day: date) -> int:
    return int((datetime(day.year, day.month, day.day) - datetime(1970, 1, 1)).total_seconds()) * 1000


@dataclass(frozen=True)
class DayDetail:
    """Everything the simulated exchange serves about one symbol on one UTC day."""

    profile: SymbolProfile
    day: date
    spot_minutes: pd.DataFrame
    futures_minutes: pd.DataFrame
    mark_minutes: pd.DataFrame
    basis_minutes: np.ndarray
    trades: pd.DataFrame
    book: pd.DataFrame
    liquidations: pd.DataFrame


def _round_to(values: np.ndarray, step: float, how: str = "nearest") -> np.ndarray:
    scaled = values / step
    rounded = {"nearest": np.round, "floor": np.floor, "ceil": np.ceil}[how](scaled)
    return rounded * step


def _ohlc_from_log(o: np.ndarray, c: np.ndarray, excursion: np.ndarray, tick: float) -> dict:
    high = _round_to(np.exp(np.maximum(o, c) + excursion[0]), tick, "ceil")
    low = _round_to(np.exp(np.minimum(o, c) - excursion[1]), tick, "floor")
    low = np.maximum(low, tick)
    open_ = np.clip(_round_to(np.exp(o), tick), low, high)
    close = np.clip(_round_to(np.exp(c), tick), low, high)
    return {"open": open_, "high": high, "low": low, "close": close}


@lru_cache(maxsize=96)
def day_detail(seed: int, symbol: str, day: date) -> DayDetail:
    """Generate (and cache) the detail of ``symbol`` on ``day``."""
    h0 = day_start_hour(day)
    path = hourly_path(seed, symbol, h0 + 24)
    profile = path.profile
    rng = np.random.default_rng([seed, stable_code(symbol), stable_code("intraday"), day.toordinal()])
    tick = profile.tick_size
    qty_step = 10.0 ** (-profile.qty_decimals)
    start_ms = day_start_ms(day)
    minute_of_hour = np.arange(MINUTES) // 60

    prev_log = path.log_close[h0 - 1] if h0 > 0 else np.log(profile.reference_price)
    hour_close = path.log_close[h0 : h0 + 24]
    sigma_min = path.sigma[h0 : h0 + 24][minute_of_hour] / np.sqrt(60.0)
    flow = path.flow_signal[h0 : h0 + 24][minute_of_hour]
    hour_volume = path.volume[h0 : h0 + 24]

    imbalance_state = lfilter([0.6], [1.0, -0.8], rng.standard_normal(MINUTES))
    imbalance = np.tanh(0.6 * imbalance_state + 0.4 * flow)

    # Aggregated trades: counts per minute, sides leaning with flow and imbalance.
    hours = slice(h0, h0 + 24)
    counts = rng.multinomial(path.agg_trades[hours], np.full(60, 1 / 60)).ravel()
    trade_minute = np.repeat(np.arange(MINUTES), counts)
    n_trades = trade_minute.size
    minute_mood = 0.8 * flow + 0.6 * imbalance + 0.8 * rng.standard_normal(MINUTES)
    buy_probability = 1.0 / (1.0 + np.exp(-minute_mood))
    is_buy = rng.random(n_trades) < buy_probability[trade_minute]
    raw_qty = rng.lognormal(0.0, 0.9, n_trades)
    hour_of_trade = trade_minute // 60
    hour_raw = np.bincount(hour_of_trade, weights=raw_qty, minlength=24)
    qty = raw_qty * (hour_volume / np.where(hour_raw > 0, hour_raw, 1.0))[hour_of_trade]
    qty = np.maximum(_round_to(qty, qty_step), qty_step)
    signed = np.where(is_buy, qty, -qty)
    signed_per_minute = np.bincount(trade_minute, weights=signed, minlength=MINUTES)
    normalized_flow = signed_per_minute / (hour_volume[minute_of_hour] / 60.0)

    # Minute log path: impact + noise + imbalance lean, bridged to the hourly closes.
    step = sigma_min * (
        IMPACT * normalized_flow
        + 0.5 * rng.standard_normal(MINUTES)
        + IMBALANCE_EFFECT * np.concatenate([[0.0], imbalance[:-1]])
    )
    jumps = path.jump[h0 : h0 + 24]
    jump_minute = np.arange(24) * 60 + rng.integers(5, 55, 24)
    step[jump_minute] += jumps
    starts = np.concatenate([[prev_log], hour_close[:-1]])
    by_hour = step.reshape(24, 60)
    correction = (hour_close - starts - by_hour.sum(axis=1)) / 60.0
    log_close = (starts[:, None] + np.cumsum(by_hour + correction[:, None], axis=1)).ravel()
    log_open = np.concatenate([[prev_log], log_close[:-1]])
    excursion = np.abs(rng.standard_normal((2, MINUTES))) * 0.3 * sigma_min

    hour_premium = path.premium[h0 - 1 : h0 + 24] if h0 > 0 else path.premium[: h0 + 25]
    basis = np.interp(np.arange(MINUTES) / 60.0, np.arange(-1, 24), hour_premium)
    basis = basis + 0.00002 * rng.standard_normal(MINUTES)
    mark_basis = lfilter([0.1], [1.0, -0.9], basis - basis[0]) + basis[0]

    minute_index = pd.Index(start_ms + np.arange(MINUTES) * MS_PER_MINUTE, name="open_ms")
    spot = pd.DataFrame(_ohlc_from_log(log_open, log_close, excursion, tick), index=minute_index)
    mark = pd.DataFrame(
        _ohlc_from_log(log_open + mark_basis, log_close + mark_basis, excursion * 0.5, tick),
        index=minute_index,
    )

    fut_open, fut_close = log_open + basis, log_close + basis
    fut_low, fut_high = np.minimum(fut_open, fut_close) - excursion[1], np.maximum(
        fut_open, fut_close) + excursion[0]
    frac = rng.random(n_trades)
    order = np.lexsort((frac, trade_minute))  # time order within each minute
    trade_minute, frac, qty, is_buy = trade_minute[order], frac[order], qty[order], is_buy[order]
    m = trade_minute
    trade_log = fut_open[m] + (fut_close[m] - fut_open[m]) * frac + 0.2 * sigma_min[m] * (
        rng.standard_normal(n_trades))
    trade_log = np.clip(trade_log, fut_low[m], fut_high[m])
    price = np.maximum(_round_to(np.exp(trade_log), tick), tick)
    trade_ms = start_ms + m * MS_PER_MINUTE + (frac * (MS_PER_MINUTE - 1)).astype(np.int64)
    # Ids continue from the previous hour's: the exchange's ids are global and contiguous.
    fills = np.ones(n_trades, dtype=np.int64)
    hour_first = np.concatenate([[0], np.cumsum(path.agg_trades[hours])[:-1]])
    for hour, extra in enumerate(path.trade_fills[hours] - path.agg_trades[hours]):
        n_hour = int(path.agg_trades[h0 + hour])
        if n_hour:
            fills[hour_first[hour] : hour_first[hour] + n_hour] += rng.multinomial(
                extra, np.full(n_hour, 1 / n_hour))
    first_id = path.trades_before(path.trade_fills, h0) + np.concatenate([[0], np.cumsum(fills)[:-1]])
    trades = pd.DataFrame(
        {
            "agg_id": path.trades_before(path.agg_trades, h0) + np.arange(n_trades),
            "price": price,
            "qty": qty,
            "first_id": first_id,
            "last_id": first_id + fills - 1,
            "time_ms": trade_ms,
            "is_buyer_maker": ~is_buy,
        }
    )

    futures = _minutes_from_trades(trades, minute_index, spot["open"].to_numpy() * np.exp(basis))

    spot_volume = futures["volume"].to_numpy() * 0.35 * rng.lognormal(0.0, 0.3, MINUTES)
    spot_volume = _round_to(spot_volume, qty_step)
    fut_buy_share = np.where(
        futures["volume"] > 0, futures["taker_base"] / futures["volume"].where(futures["volume"] > 0, 1), 0.5)
    spot_buy = _round_to(spot_volume * np.clip(fut_buy_share + 0.05 * rng.standard_normal(MINUTES), 0, 1),
                         qty_step)
    spot["volume"] = spot_volume
    spot["quote_volume"] = spot_volume * spot["close"]
    spot["trades"] = rng.multinomial(path.spot_trades[hours], np.full(60, 1 / 60)).ravel()
    spot["taker_base"] = np.minimum(spot_buy, spot_volume)
    spot["taker_quote"] = spot["taker_base"] * spot["close"]

    book = _book_samples(rng, profile, start_ms, log_open, log_close, basis, imbalance,
                         path.sigma[h0 : h0 + 24] / profile.hourly_vol, day)
    liquidations = _liquidations(rng, path, h0, start_ms, futures["close"].to_numpy(), qty_step, tick)
    return DayDetail(profile, day, spot, futures, mark, basis, trades, book, liquidations)


def _minutes_from_trades(trades: pd.DataFrame, index: pd.Index, fallback: np.ndarray) -> pd.DataFrame:
    minute = (trades["time_ms"].to_numpy() - index[0]) // MS_PER_MINUTE
    grouped = trades.assign(minute=minute, quote=trades["price"] * trades["qty"],
                            taker_base=np.where(trades["is_buyer_maker"], 0.0, trades["qty"]),
                            fills=trades["last_id"] - trades["first_id"] + 1)
    grouped["taker_quote"] = grouped["taker_base"] * grouped["price"]
    agg = grouped.groupby("minute").agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"), close=("price", "last"),
        volume=("qty", "sum"), quote_volume=("quote", "sum"), trades=("fills", "sum"),
        taker_base=("taker_base", "sum"), taker_quote=("taker_quote", "sum"),
    ).reindex(np.arange(len(index)))
    # A minute without trades repeats the last traded price with zero volume.
    last_close = agg["close"].ffill()
    first_price = trades["price"].iloc[0] if len(trades) else fallback[0]
    last_close = last_close.fillna(first_price)
    for column in ("open", "high", "low", "close"):
        agg[column] = agg[column].fillna(last_close)
    agg = agg.fillna({"volume": 0.0, "quote_volume": 0.0, "trades": 0, "taker_base": 0.0,
                      "taker_quote": 0.0})
    agg["trades"] = agg["trades"].astype(np.int64)
    agg.index = index
    return agg


def _book_samples(rng: np.random.Generator, profile: SymbolProfile, start_ms: int,
                  log_open: np.ndarray, log_close: np.ndarray, basis: np.ndarray,
                  imbalance: np.ndarray, vol_ratio_by_hour: np.ndarray, day: date) -> pd.DataFrame:
    tick = profile.tick_size
    qty_step = 10.0 ** (-profile.qty_decimals)
    sample = np.arange(BOOK_SAMPLES)
    minute = sample // (60 // BOOK_STEP_SECONDS)
    frac = (sample % (60 // BOOK_STEP_SECONDS)) / (60 // BOOK_STEP_SECONDS)
    mid = np.exp(log_open[minute] + (log_close[minute] - log_open[minute]) * frac + basis[minute])
    spread_ticks = 1 + rng.poisson(0.4 * vol_ratio_by_hour[minute // 60])
    bid = np.maximum(_round_to(mid - (spread_ticks - 1) / 2 * tick, tick, "floor"), tick)
    ask = bid + spread_ticks * tick
    lean = np.tanh(np.arctanh(np.clip(imbalance[minute], -0.999, 0.999))
                   + 0.15 * rng.standard_normal(BOOK_SAMPLES))
    top_qty = profile.hourly_volume / 600.0
    bid_qty = np.maximum(_round_to(top_qty * np.exp(0.9 * lean + 0.35 * rng.standard_normal(BOOK_SAMPLES)),
                                   qty_step), qty_step)
    ask_qty = np.maximum(_round_to(top_qty * np.exp(-0.9 * lean + 0.35 * rng.standard_normal(BOOK_SAMPLES)),
                                   qty_step), qty_step)
    return pd.DataFrame(
        {
            "time_ms": start_ms + sample * BOOK_STEP_SECONDS * 1000,
            "update_id": day.toordinal() * 1_000_000_000 + sample * 37 + rng.integers(0, 30, BOOK_SAMPLES),
            "bid": bid, "bid_qty": bid_qty, "ask": ask, "ask_qty": ask_qty, "imbalance": lean,
        }
    )


def depth_ladders(detail: DayDetail, samples: np.ndarray, levels: int) -> tuple[np.ndarray, ...]:
    """Bid and ask ladders at the given book samples: prices and quantities, shape (samples, levels).

    Quantities grow away from the touch (a realistic depth profile) and lean with the
    sample's imbalance near the top of the book; level 1 is the book ticker's quote.
    """
    book = detail.book.iloc[samples]
    profile = detail.profile
    rng = np.random.default_rng([stable_code(profile.symbol), stable_code("depth"), detail.day.toordinal()])
    tick = profile.tick_size
    qty_step = 10.0 ** (-profile.qty_decimals)
    n = len(samples)
    gaps = np.concatenate([np.zeros((n, 1)), np.cumsum(1 + rng.poisson(0.7, (n, levels - 1)), axis=1)],
                          axis=1)
    depth = np.arange(levels)
    shape = (1.0 + 0.4 * depth) ** 1.1 * rng.lognormal(0.0, 0.45, (2, n, levels))
    lean = 0.5 * book["imbalance"].to_numpy()[:, None] * np.exp(-depth / 6.0)
    top = profile.hourly_volume / 600.0
    bid_qty = np.maximum(_round_to(top * shape[0] * (1 + lean), qty_step), qty_step)
    ask_qty = np.maximum(_round_to(top * shape[1] * (1 - lean), qty_step), qty_step)
    bid_qty[:, 0], ask_qty[:, 0] = book["bid_qty"].to_numpy(), book["ask_qty"].to_numpy()
    bid_price = book["bid"].to_numpy()[:, None] - gaps * tick
    ask_price = book["ask"].to_numpy()[:, None] + gaps * tick
    return bid_price, bid_qty, ask_price, ask_qty


def _liquidations(rng: np.random.Generator, path, h0: int, start_ms: int, futures_close: np.ndarray,
                  qty_step: float, tick: float) -> pd.DataFrame:
    counts = path.liquidations[h0 : h0 + 24]
    hours = np.repeat(np.arange(24), counts)
    n = hours.size
    offset_ms = (rng.random(n) * 3_600_000).astype(np.int64)
    time_ms = np.sort(start_ms + hours * 3_600_000 + offset_ms)
    hours = (time_ms - start_ms) // 3_600_000
    minute = (time_ms - start_ms) // MS_PER_MINUTE
    move = path.returns[h0 : h0 + 24][hours]
    side = np.where(move < 0, "SELL", "BUY")
    qty = np.maximum(_round_to(path.open_interest[h0 : h0 + 24][hours] * 0.0003
                               * rng.lognormal(0.0, 0.8, n), qty_step), qty_step)
    avg_price = futures_close[minute]
    price = _round_to(avg_price * np.where(side == "SELL", 0.995, 1.005), tick)
    return pd.DataFrame({"time_ms": time_ms, "side": side, "qty": qty, "price": price,
                         "avg_price": avg_price})


def detail_window(seed: int, symbol: str, start: datetime, end: datetime) -> list[DayDetail]:
    """The day details covering ``[start, end)``."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [day_detail(seed, symbol, first + timedelta(days=k)) for k in range((last - first).days + 1)]
