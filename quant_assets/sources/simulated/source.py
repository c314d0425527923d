"""The simulated market as a source: exchange-format payloads plus ground truth.

Every payload is what the real endpoint or stream would send for the same request:
Binance field names, prices and quantities as strings, millisecond timestamps,
the endpoint's page size; Glassnode's ``[{"t", "v"}]`` series; Farside's ETF flow
table as CSV (US$ millions, negatives in parentheses, ``-`` for no flow). The same
parsers therefore serve simulated and real data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from quant_assets.days import day_end, utc_now
from quant_assets.settings import KLINE_INTERVAL_MINUTES
from quant_assets.sources.base import (
    DataUnavailableError,
    Payload,
    PayloadKind,
    Request,
    SequentialFetchMixin,
)
from quant_assets.sources.exchange_facts import (
    AGG_TRADES_LIMIT,
    FUNDING_HOURS,
    FUTURES_KLINE_LIMIT,
    RATIO_PERIODS,
    SPOT_KLINE_LIMIT,
    ratio_period,
)
from quant_assets.sources.listings import Listing, usdm_perpetuals
from quant_assets.sources.onchain_catalog import ETF_FUNDS, ONCHAIN_ASSETS, ONCHAIN_METRIC_PATHS
from quant_assets.sources.simulated import core, onchain
from quant_assets.sources.simulated.core import EPOCH, day_start_hour, funding_rate, hourly_path
from quant_assets.sources.simulated.intraday import (
    BOOK_STEP_SECONDS,
    DayDetail,
    day_detail,
    day_start_ms,
    depth_ladders,
)
from quant_assets.sources.simulated.profiles import LEADER, profile_for

HOUR_MS = 3_600_000
#: Futures contracts of the simulated exchange: symbol → (onboard day, contract type, status).
#: Two perpetuals are listed after the platform's default start, so the listing sensor has news.
SIMULATED_LISTINGS: dict[str, tuple[date, str, str]] = {
    "BTCUSDT": (date(2019, 9, 25), "PERPETUAL", "TRADING"),
    "ETHUSDT": (date(2019, 11, 27), "PERPETUAL", "TRADING"),
    "BNBUSDT": (date(2020, 2, 10), "PERPETUAL", "TRADING"),
    "XRPUSDT": (date(2020, 1, 6), "PERPETUAL", "TRADING"),
    "SOLUSDT": (date(2020, 9, 14), "PERPETUAL", "TRADING"),
    "BTCUSDT_261225": (date(2026, 9, 26), "CURRENT_QUARTER", "TRADING"),
    "LUNAUSDT": (date(2021, 1, 1), "PERPETUAL", "SETTLING"),
    "DOGEUSDT": (date(2024, 6, 3), "PERPETUAL", "TRADING"),
    "AVAXUSDT": (date(2025, 2, 17), "PERPETUAL", "TRADING"),
}
#: Daily series published after their day has closed (no open partition).
CLOSED_DAY_FAMILIES = ("onchain_metrics", "etf_flows")
DAY_MS = 24 * HOUR_MS
DEPTH_LEVELS = 20
DEPTH_EVERY_MINUTES = 1


def _num(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _hour_label(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H")


class SimulatedMarket(SequentialFetchMixin):
    """Deterministic offline market; see :mod:`quant_assets.sources.simulated.core`.

    ``now`` bounds what exists, as a real exchange cannot serve the future. A closed day
    is served whole. Today (the open day) is served as it stands at ``now``: closed
    candles and statistics periods, settled funding, snapshots already polled, trades
    and stream messages already sent. On-chain and ETF series exist only for closed days.
    """

    name = "simulated"

    def __init__(self, seed: int, kline_interval: str = "1h",
                 now: Callable[[], datetime] | None = None) -> None:
        self.seed = seed
        self.kline_interval = kline_interval
        self.kline_minutes = KLINE_INTERVAL_MINUTES[kline_interval]
        self.period = ratio_period(kline_interval)
        self._now = now or utc_now

    # ------------------------------------------------------------------ interface
    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        handler = getattr(self, f"_fetch_{family}", None)
        if handler is None:
            raise DataUnavailableError(f"simulated market: no endpoint family {family!r}")
        closes = day_end(day)
        now = self._now()
        is_open = closes > now
        if is_open and (day != now.date() or family in CLOSED_DAY_FAMILIES):
            raise DataUnavailableError(
                f"simulated market: {family} for {key} on {day} is not available yet "
                f"(the day closes at {closes:%Y-%m-%d %H:%M} UTC"
                + (", and this series is published after the day closes)" if day == now.date() else ")"))
        if day < EPOCH.date() + timedelta(days=2):
            raise DataUnavailableError(
                f"simulated market: {day} is before the simulation epoch {EPOCH:%Y-%m-%d}")
        payloads = handler(key, day)
        return self._served_by(family, payloads, int(pd.Timestamp(now).value // 1_000_000)) if is_open \
            else payloads

    def _served_by(self, family: str, payloads: list[Payload], now_ms: int) -> list[Payload]:
        """What of a day's ``payloads`` the exchange had sent by ``now_ms``: rows final by then
        (a candle or statistics period once it has ended, a settlement, a trade or a stream
        message once it happened), snapshots polled by then; REST pages are fetched at ``now_ms``."""
        period_ms = RATIO_PERIODS[self.period] * 60_000
        final_ms: Callable[[object], int] = {
            "funding_rate": lambda row: row["fundingTime"],
            "agg_trades": lambda row: row["T"],
            "open_interest": lambda row: row["timestamp"] + period_ms,
            "long_short_ratio": lambda row: row["timestamp"] + period_ms,
            "taker_volume": lambda row: row["timestamp"] + period_ms,
        }.get(family, lambda row: row[6] + 1)  # klines: the close time is the last millisecond
        served = []
        for payload in payloads:
            if payload.kind == "snapshot":
                if payload.received_at_ms <= now_ms:
                    served.append(payload)
            elif payload.kind == "stream":
                if payload.received_at_ms - HOUR_MS < now_ms:  # the recorded hour has begun
                    bodies = tuple(body for body in payload.bodies if json.loads(body)["E"] <= now_ms)
                    served.append(replace(payload, bodies=bodies,
                                          received_at_ms=min(payload.received_at_ms, now_ms)))
            else:
                rows = [row for row in json.loads(payload.bodies[0]) if final_ms(row) <= now_ms]
                started = int(payload.request.param("startTime") or 0) < now_ms
                if rows or (started and not served):
                    served.append(replace(payload, bodies=(_dumps(rows),), received_at_ms=now_ms))
        return served

    # ------------------------------------------------------------------ listings
    def exchange_info(self) -> str:
        """``GET /fapi/v1/exchangeInfo`` as of ``now``: the simulated perpetuals listed by then
        (a quarterly contract and a settling one are listed too, as on the exchange)."""
        today = self._now().date()
        entries = [
            {"symbol": symbol, "pair": symbol, "contractType": contract, "status": status,
             "baseAsset": symbol.removesuffix("USDT"), "quoteAsset": "USDT", "marginAsset": "USDT",
             "onboardDate": day_start_ms(onboard), "deliveryDate": 4_133_404_800_000}
            for symbol, (onboard, contract, status) in sorted(SIMULATED_LISTINGS.items()) if onboard <= today
        ]
        return _dumps({"timezone": "UTC", "serverTime": int(pd.Timestamp(self._now()).value // 1_000_000),
                       "futuresType": "U_MARGINED", "rateLimits": [], "exchangeFilters": [],
                       "symbols": entries})

    def perpetual_listings(self) -> list[Listing]:
        return usdm_perpetuals(self.exchange_info(), "simulated /fapi/v1/exchangeInfo")

    # ------------------------------------------------------------------ truth
    def truth(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Ground truth per hour: regime, volatility, positioning, flow signal, events."""
        frame = core.hours_frame(self.seed, symbol, start, end)
        profile = profile_for(symbol)
        frame.attrs.update(leader=LEADER, lead_lag_hours=profile.lead_lag_hours, beta=profile.beta)
        return frame

    def macro_truth(self, until: date, days: int) -> pd.Series:
        return onchain.onchain_truth(self.seed, until, days)

    # ------------------------------------------------------------------ helpers
    def _payload(self, request: Request, bodies: list[str], received_at_ms: int,
                 kind: PayloadKind = "rest") -> Payload:
        return Payload(request, tuple(bodies), received_at_ms, kind, self.name)

    def _detail(self, symbol: str, day: date) -> DayDetail:
        return day_detail(self.seed, symbol, day)

    @staticmethod
    def _fetched_after(day: date) -> int:
        return day_start_ms(day) + DAY_MS + 5 * 60_000

    def _bars(self, minutes: pd.DataFrame, with_volume: bool) -> pd.DataFrame:
        group = np.arange(len(minutes)) // self.kline_minutes
        agg = {"open": "first", "high": "max", "low": "min", "close": "last"}
        if with_volume:
            agg |= {"volume": "sum", "quote_volume": "sum", "trades": "sum", "taker_base": "sum",
                    "taker_quote": "sum"}
        bars = minutes.groupby(group).agg(agg)
        bars.index = minutes.index[:: self.kline_minutes]
        return bars

    def _kline_pages(self, endpoint: str, symbol: str, day: date, minutes: pd.DataFrame,
                     limit: int, with_volume: bool) -> list[Payload]:
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        bars = self._bars(minutes, with_volume)
        interval_ms = self.kline_minutes * 60_000
        rows = []
        for open_ms, bar in zip(bars.index, bars.itertuples(index=False), strict=True):
            prices = [_num(bar.open, pd_), _num(bar.high, pd_), _num(bar.low, pd_),
                      _num(bar.close, pd_)]
            if with_volume:
                rows.append([int(open_ms), *prices, _num(bar.volume, qd), int(open_ms) + interval_ms - 1,
                             _num(bar.quote_volume, 8), int(bar.trades), _num(bar.taker_base, qd),
                             _num(bar.taker_quote, 8), "0"])
            else:
                rows.append([int(open_ms), *prices, "0", int(open_ms) + interval_ms - 1, "0",
                             self.kline_minutes * 60, "0", "0", "0"])
        start, end = day_start_ms(day), day_start_ms(day) + DAY_MS - 1
        payloads = []
        for first in range(0, len(rows), limit):
            page_start = start if first == 0 else rows[first][0]
            request = Request.of(endpoint, symbol=symbol, interval=self.kline_interval,
                                 startTime=page_start, endTime=end, limit=limit)
            payloads.append(self._payload(request, [_dumps(rows[first : first + limit])],
                                          self._fetched_after(day)))
        return payloads

    def _grid(self, day: date, minutes: int) -> np.ndarray:
        return day_start_ms(day) + np.arange(0, 1440, minutes) * 60_000

    def _hour_of(self, ms: np.ndarray | int) -> np.ndarray:
        return (np.asarray(ms) - day_start_ms(EPOCH.date())) // HOUR_MS

    def _interp_hourly(self, values: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """Hourly state sampled at ``ms`` (linear between hour starts, causal within the hour)."""
        hours = (ms - day_start_ms(EPOCH.date())) / HOUR_MS
        base = np.floor(hours).astype(int)
        frac = hours - base
        previous = values[np.maximum(base - 1, 0)]
        return previous + (values[base] - previous) * frac

    # ------------------------------------------------------------------ klines
    def _fetch_spot_klines(self, symbol: str, day: date) -> list[Payload]:
        return self._kline_pages("/api/v3/klines", symbol, day, self._detail(symbol, day).spot_minutes,
                                 SPOT_KLINE_LIMIT, with_volume=True)

    def _fetch_futures_klines(self, symbol: str, day: date) -> list[Payload]:
        return self._kline_pages("/fapi/v1/klines", symbol, day,
                                 self._detail(symbol, day).futures_minutes, FUTURES_KLINE_LIMIT,
                                 with_volume=True)

    def _fetch_mark_price_klines(self, symbol: str, day: date) -> list[Payload]:
        return self._kline_pages("/fapi/v1/markPriceKlines", symbol, day,
                                 self._detail(symbol, day).mark_minutes, FUTURES_KLINE_LIMIT,
                                 with_volume=False)

    # ------------------------------------------------------------------ funding & premium
    def _funding_at(self, symbol: str, settle_hour: int) -> float:
        path = hourly_path(self.seed, symbol, settle_hour + 1)
        return float(funding_rate(np.array([path.premium[settle_hour - 8 : settle_hour].mean()]))[0])

    def _fetch_funding_rate(self, symbol: str, day: date) -> list[Payload]:
        detail = self._detail(symbol, day)
        h0 = day_start_hour(day)
        rows = []
        for hour in FUNDING_HOURS:
            rows.append({
                "symbol": symbol,
                "fundingTime": day_start_ms(day) + hour * HOUR_MS,
                "fundingRate": _num(self._funding_at(symbol, h0 + hour), 8),
                "markPrice": _num(float(detail.mark_minutes["open"].iloc[hour * 60]), 8),
            })
        request = Request.of("/fapi/v1/fundingRate", symbol=symbol, startTime=day_start_ms(day),
                             endTime=day_start_ms(day) + DAY_MS - 1, limit=1000)
        return [self._payload(request, [_dumps(rows)], self._fetched_after(day))]

    def _fetch_premium_index(self, symbol: str, day: date) -> list[Payload]:
        detail = self._detail(symbol, day)
        h0 = day_start_hour(day)
        payloads = []
        for hour in range(24):
            t_ms = day_start_ms(day) + hour * HOUR_MS
            last_settle = max(h for h in FUNDING_HOURS if h <= hour)
            next_settle_ms = day_start_ms(day) + (
                min((h for h in FUNDING_HOURS if h > hour), default=24) * HOUR_MS)
            index_price = float(detail.spot_minutes["open"].iloc[hour * 60])
            body = {
                "symbol": symbol,
                "markPrice": _num(float(detail.mark_minutes["open"].iloc[hour * 60]), 8),
                "indexPrice": _num(index_price, 8),
                "estimatedSettlePrice": _num(index_price * (1 + 0.2 * detail.basis_minutes[hour * 60]), 8),
                "lastFundingRate": _num(self._funding_at(symbol, h0 + last_settle), 8),
                "interestRate": "0.00010000",
                "nextFundingTime": next_settle_ms,
                "time": t_ms,
            }
            payloads.append(self._payload(Request.of("/fapi/v1/premiumIndex", symbol=symbol),
                                          [_dumps(body)], t_ms + 37, "snapshot"))
        return payloads

    # ------------------------------------------------------------------ futures/data series
    def _data_request(self, endpoint: str, symbol: str, day: date) -> Request:
        return Request.of(endpoint, symbol=symbol, period=self.period, limit=500,
                          startTime=day_start_ms(day), endTime=day_start_ms(day) + DAY_MS - 1)

    def _fetch_open_interest(self, symbol: str, day: date) -> list[Payload]:
        path = hourly_path(self.seed, symbol, day_start_hour(day) + 25)
        grid = self._grid(day, RATIO_PERIODS[self.period])
        oi = self._interp_hourly(path.open_interest, grid)
        price = self._interp_hourly(path.close, grid)
        decimals = profile_for(symbol).qty_decimals
        rows = [{"symbol": symbol, "sumOpenInterest": _num(o, max(decimals, 3)),
                 "sumOpenInterestValue": _num(o * p, 8), "timestamp": int(t)}
                for t, o, p in zip(grid, oi, price, strict=True)]
        request = self._data_request("/futures/data/openInterestHist", symbol, day)
        return [self._payload(request, [_dumps(rows)], self._fetched_after(day))]

    def _fetch_long_short_ratio(self, symbol: str, day: date) -> list[Payload]:
        path = hourly_path(self.seed, symbol, day_start_hour(day) + 25)
        grid = self._grid(day, RATIO_PERIODS[self.period])
        payloads = []
        for endpoint, share in (
            ("/futures/data/globalLongShortAccountRatio", path.long_account),
            ("/futures/data/topLongShortAccountRatio", path.top_long_account),
            ("/futures/data/topLongShortPositionRatio", path.top_long_position),
        ):
            long_share = np.round(self._interp_hourly(share, grid), 4)
            rows = [{"symbol": symbol, "longShortRatio": _num(lg / (1 - lg), 4),
                     "longAccount": _num(lg, 4), "shortAccount": _num(1 - lg, 4),
                     "timestamp": int(t)} for t, lg in zip(grid, long_share, strict=True)]
            payloads.append(self._payload(self._data_request(endpoint, symbol, day), [_dumps(rows)],
                                          self._fetched_after(day)))
        return payloads

    def _fetch_taker_volume(self, symbol: str, day: date) -> list[Payload]:
        trades = self._detail(symbol, day).trades
        step = RATIO_PERIODS[self.period] * 60_000
        grid = self._grid(day, RATIO_PERIODS[self.period])
        bucket = (trades["time_ms"].to_numpy() - grid[0]) // step
        buy = np.bincount(bucket, weights=np.where(trades["is_buyer_maker"], 0.0, trades["qty"]),
                          minlength=grid.size)
        sell = np.bincount(bucket, weights=np.where(trades["is_buyer_maker"], trades["qty"], 0.0),
                           minlength=grid.size)
        rows = [{"buySellRatio": _num(b / s if s > 0 else 0.0, 4), "buyVol": _num(b, 4),
                 "sellVol": _num(s, 4), "timestamp": int(t)}
                for t, b, s in zip(grid, buy, sell, strict=True)]
        request = self._data_request("/futures/data/takerlongshortRatio", symbol, day)
        return [self._payload(request, [_dumps(rows)], self._fetched_after(day))]

    # ------------------------------------------------------------------ spot snapshots
    def _trailing_minutes(self, symbol: str, day: date) -> pd.DataFrame:
        return pd.concat([self._detail(symbol, day - timedelta(days=1)).spot_minutes,
                          self._detail(symbol, day).spot_minutes])

    def _fetch_ticker_24hr(self, symbol: str, day: date) -> list[Payload]:
        minutes = self._trailing_minutes(symbol, day)
        book = self._detail(symbol, day).book
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        path = hourly_path(self.seed, symbol, day_start_hour(day) + 24)
        spot_ids = np.cumsum(path.spot_trades)  # id of the last spot trade of each hour
        payloads = []
        for hour in range(24):
            t_ms = day_start_ms(day) + hour * HOUR_MS
            end = 1440 + hour * 60
            window = minutes.iloc[end - 1440 : end]
            open_price = float(window["open"].iloc[0])
            last = float(window["close"].iloc[-1])
            sample = book.iloc[hour * 3600 // BOOK_STEP_SECONDS]
            volume = float(window["volume"].sum())
            quote = float(window["quote_volume"].sum())
            body = {
                "symbol": symbol,
                "priceChange": _num(last - open_price, pd_),
                "priceChangePercent": _num(100 * (last / open_price - 1), 3),
                "weightedAvgPrice": _num(quote / volume if volume else last, 8),
                "prevClosePrice": _num(float(minutes["close"].iloc[end - 1441]), pd_),
                "lastPrice": _num(last, pd_),
                "lastQty": _num(max(float(window["volume"].iloc[-1]) / 20, 10 ** -qd), qd),
                "bidPrice": _num(last - profile.tick_size, pd_),
                "bidQty": _num(float(sample["bid_qty"]), qd),
                "askPrice": _num(last, pd_),
                "askQty": _num(float(sample["ask_qty"]), qd),
                "openPrice": _num(open_price, pd_),
                "highPrice": _num(float(window["high"].max()), pd_),
                "lowPrice": _num(float(window["low"].min()), pd_),
                "volume": _num(volume, qd),
                "quoteVolume": _num(quote, 8),
                "openTime": t_ms - DAY_MS,
                "closeTime": t_ms,
                "firstId": int(spot_ids[day_start_hour(day) + hour - 25]) + 1,
                "lastId": int(spot_ids[day_start_hour(day) + hour - 1]),
                "count": int(spot_ids[day_start_hour(day) + hour - 1]
                             - spot_ids[day_start_hour(day) + hour - 25]),
            }
            payloads.append(self._payload(Request.of("/api/v3/ticker/24hr", symbol=symbol),
                                          [_dumps(body)], t_ms + 41, "snapshot"))
        return payloads

    def _fetch_avg_price(self, symbol: str, day: date) -> list[Payload]:
        minutes = self._trailing_minutes(symbol, day)
        payloads = []
        for hour in range(24):
            t_ms = day_start_ms(day) + hour * HOUR_MS
            end = 1440 + hour * 60
            window = minutes.iloc[end - 5 : end]
            price = float((window["quote_volume"].sum() / window["volume"].sum())
                          if window["volume"].sum() else window["close"].iloc[-1])
            body = {"mins": 5, "price": _num(price, 8), "closeTime": t_ms}
            payloads.append(self._payload(Request.of("/api/v3/avgPrice", symbol=symbol),
                                          [_dumps(body)], t_ms + 29, "snapshot"))
        return payloads

    # ------------------------------------------------------------------ recorded streams
    def _stream_hours(self, stream: str, day: date, messages: list[tuple[int, str]],
                      **extra: str) -> list[Payload]:
        """Group (time_ms, message) pairs into one recorder file per hour (empty hours kept)."""
        start = day_start_ms(day)
        by_hour: list[list[str]] = [[] for _ in range(24)]
        for t_ms, message in messages:
            by_hour[(t_ms - start) // HOUR_MS].append(message)
        return [
            self._payload(Request.of(stream, hour=_hour_label(start + h * HOUR_MS), **extra),
                          bodies, start + (h + 1) * HOUR_MS, "stream")
            for h, bodies in enumerate(by_hour)
        ]

    def _fetch_book_ticker(self, symbol: str, day: date) -> list[Payload]:
        book = self._detail(symbol, day).book
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        messages = [
            (int(t), _dumps({"e": "bookTicker", "u": int(u), "E": int(t) + 2, "T": int(t),
                             "s": symbol, "b": _num(b, pd_), "B": _num(bq, qd), "a": _num(a, pd_),
                             "A": _num(aq, qd)}))
            for t, u, b, bq, a, aq in zip(book["time_ms"], book["update_id"], book["bid"],
                                          book["bid_qty"], book["ask"], book["ask_qty"], strict=True)
        ]
        return self._stream_hours(f"{symbol.lower()}@bookTicker", day, messages)

    def _fetch_depth_snapshots(self, symbol: str, day: date) -> list[Payload]:
        detail = self._detail(symbol, day)
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        samples = np.arange(0, 1440, DEPTH_EVERY_MINUTES) * (60 // BOOK_STEP_SECONDS)
        bid_price, bid_qty, ask_price, ask_qty = depth_ladders(detail, samples, DEPTH_LEVELS)
        book = detail.book.iloc[samples]
        messages = []
        for k, (t_ms, update_id) in enumerate(zip(book["time_ms"], book["update_id"], strict=True)):
            bids = [[_num(p, pd_), _num(q, qd)] for p, q in zip(bid_price[k], bid_qty[k], strict=True)
                    if p > 0]
            asks = [[_num(p, pd_), _num(q, qd)] for p, q in zip(ask_price[k], ask_qty[k], strict=True)]
            messages.append((int(t_ms), _dumps({
                "e": "depthUpdate", "E": int(t_ms) + 3, "T": int(t_ms), "s": symbol,
                "U": int(update_id) - 12, "u": int(update_id), "pu": int(update_id) - 13,
                "b": bids, "a": asks,
            })))
        return self._stream_hours(f"{symbol.lower()}@depth{DEPTH_LEVELS}", day, messages)

    def _fetch_liquidations(self, symbol: str, day: date) -> list[Payload]:
        liquidations = self._detail(symbol, day).liquidations
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        messages = [
            (int(t), _dumps({"e": "forceOrder", "E": int(t) + 5, "o": {
                "s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": _num(q, qd),
                "p": _num(p, pd_), "ap": _num(ap, pd_), "X": "FILLED", "l": _num(q, qd),
                "z": _num(q, qd), "T": int(t)}}))
            for t, side, q, p, ap in zip(liquidations["time_ms"], liquidations["side"],
                                         liquidations["qty"], liquidations["price"],
                                         liquidations["avg_price"], strict=True)
        ]
        return self._stream_hours("!forceOrder@arr", day, messages, symbol=symbol)

    # ------------------------------------------------------------------ trades
    def _fetch_agg_trades(self, symbol: str, day: date) -> list[Payload]:
        trades = self._detail(symbol, day).trades
        profile = profile_for(symbol)
        pd_, qd = profile.price_decimals, profile.qty_decimals
        start = day_start_ms(day)
        hour = (trades["time_ms"].to_numpy() - start) // HOUR_MS
        payloads = []
        for h in range(24):
            chunk = trades[hour == h]
            rows = [{"a": int(a), "p": _num(p, pd_), "q": _num(q, qd), "f": int(f), "l": int(lid),
                     "T": int(t), "m": bool(m)}
                    for a, p, q, f, lid, t, m in zip(chunk["agg_id"], chunk["price"], chunk["qty"],
                                                     chunk["first_id"], chunk["last_id"],
                                                     chunk["time_ms"], chunk["is_buyer_maker"],
                                                     strict=True)]
            for first in range(0, max(len(rows), 1), AGG_TRADES_LIMIT):
                if first == 0:
                    request = Request.of("/fapi/v1/aggTrades", symbol=symbol,
                                         startTime=start + h * HOUR_MS,
                                         endTime=start + (h + 1) * HOUR_MS - 1, limit=AGG_TRADES_LIMIT)
                else:
                    request = Request.of("/fapi/v1/aggTrades", symbol=symbol,
                                         fromId=rows[first]["a"], limit=AGG_TRADES_LIMIT)
                payloads.append(self._payload(request, [_dumps(rows[first : first + AGG_TRADES_LIMIT])],
                                              self._fetched_after(day)))
        return payloads

    # ------------------------------------------------------------------ on-chain & ETF
    def _fetch_onchain_metrics(self, asset: str, day: date) -> list[Payload]:
        if asset not in ONCHAIN_ASSETS:
            raise DataUnavailableError(f"simulated on-chain data has no asset {asset!r}")
        series = onchain.onchain_series(self.seed, asset, day)
        row = series.iloc[-1]
        t_sec = day_start_ms(day) // 1000
        payloads = []
        for metric in ONCHAIN_ASSETS[asset]:
            request = Request.of(ONCHAIN_METRIC_PATHS[metric], a=asset, i="24h", s=t_sec,
                                 u=t_sec + 86_399, **({"c": "USD"} if metric.endswith("_usd") else {}))
            body = _dumps([{"t": int(t_sec), "v": round(float(row[metric]), 6)}])
            payloads.append(self._payload(request, [body], self._fetched_after(day)))
        return payloads

    def _fetch_etf_flows(self, key: str, day: date) -> list[Payload]:
        payloads = []
        for asset, funds in ETF_FUNDS.items():
            lines = ["Date," + ",".join(funds) + ",Total"]
            flows = onchain.etf_flows(self.seed, asset, day)
            if flows is not None:
                total = sum(v for v in flows.values() if v is not None)
                cells = [_farside_cell(flows[f]) for f in funds]
                lines.append(f"{day:%d %b %Y}," + ",".join(cells) + "," + _farside_cell(round(total, 1)))
            request = Request.of(f"farside/{asset.lower()}-etf-flow", day=day.isoformat())
            payloads.append(self._payload(request, ["\n".join(lines) + "\n"], self._fetched_after(day)))
        return payloads


def _farside_cell(value: float | None) -> str:
    if value is None:
        return "-"
    text = f"{abs(value):,.1f}"
    return f'"({text})"' if value < 0 else f'"{text}"' if "," in text else text
