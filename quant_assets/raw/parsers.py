"""One parser per endpoint family: response text as served → typed DataFrame.

The same parser serves the simulated market, the live exchange and archived
landing files. Parsers are tolerant where the exchange is inconsistent (numbers as
JSON numbers or numeric strings, ``/futures/data`` timestamps as strings, optional
fields in older responses, microsecond timestamps in 2025+ archive files) and
strict everywhere else: a missing field, a non-numeric value or an exchange error
body raises :class:`ParseError` naming the family, the request, the field, the row
and the reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from quant_assets.sources.base import Payload, Request
from quant_assets.sources.onchain_catalog import metric_for_path

_MICROSECOND_THRESHOLD = 10**14  # ms timestamps stay below this until the year 5138


class ParseError(ValueError):
    """A raw response does not have the shape its endpoint promises."""

    def __init__(self, ctx: ParseContext, field: str, reason: str) -> None:
        super().__init__(
            f"{ctx.family}: cannot parse {ctx.request.endpoint} for {ctx.key} "
            f"({ctx.request.slug()}): field {field!r}: {reason}"
        )
        self.field = field


@dataclass(frozen=True)
class ParseContext:
    """What a parser knows besides the body: family, key, the request and when it came."""

    family: str
    key: str
    request: Request
    received_at_ms: int


# ---------------------------------------------------------------------- primitives
def _json(body: str, ctx: ParseContext, index: int = 0) -> Any:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(ctx, f"<body {index}>",
                         f"malformed JSON at character {exc.pos}: {exc.msg}") from exc
    if isinstance(data, dict) and "code" in data and "msg" in data and len(data) == 2:
        raise ParseError(ctx, f"<body {index}>", f"exchange error {data['code']}: {data['msg']}")
    return data


def _list_of(data: Any, kind: type, ctx: ParseContext) -> list:
    if not isinstance(data, list):
        raise ParseError(ctx, "<body>", f"expected a JSON array, got {type(data).__name__}")
    for i, item in enumerate(data):
        if not isinstance(item, kind):
            raise ParseError(ctx, f"<row {i}>", f"expected {kind.__name__}, got {type(item).__name__}")
    return data


def _field(rows: Sequence[dict], name: str, ctx: ParseContext, default: Any = ...) -> list:
    values = []
    for i, row in enumerate(rows):
        if name in row:
            values.append(row[name])
        elif default is not ...:
            values.append(default)
        else:
            raise ParseError(ctx, name, f"missing in row {i} (has: {', '.join(sorted(row))})")
    return values


def _floats(values: Sequence[Any], name: str, ctx: ParseContext, nullable: bool = False) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & (series.notna() if nullable else True)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParseError(ctx, name, f"row {i}: {values[i]!r} is not a number")
    return numbers.to_numpy(dtype=float)


def _ints(values: Sequence[Any], name: str, ctx: ParseContext) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "U":  # numeric strings, as some recorders store ids
        try:
            return array.astype(np.int64)
        except ValueError:
            pass  # fall through to the check that names the offending row
    numbers = _floats(values, name, ctx)
    fractional = numbers != np.round(numbers)
    if fractional.any():
        i = int(np.flatnonzero(fractional)[0])
        raise ParseError(ctx, name, f"row {i}: {values[i]!r} is not an integer")
    return numbers.astype(np.int64)


def _times(values: Sequence[Any], name: str, ctx: ParseContext) -> pd.Series:
    """Epoch milliseconds (or microseconds, as in 2025+ spot archives) → naive UTC datetime64[us]."""
    raw = _ints(values, name, ctx)
    micros = np.where(raw >= _MICROSECOND_THRESHOLD, raw, raw * 1000)
    if np.any(micros < 0):
        raise ParseError(ctx, name, "negative timestamp")
    return pd.Series(micros.astype("datetime64[us]"))


def _bools(values: Sequence[Any], name: str, ctx: ParseContext) -> np.ndarray:
    for i, v in enumerate(values):
        if not isinstance(v, bool):
            raise ParseError(ctx, name, f"row {i}: {v!r} is not true/false")
    return np.array(values, dtype=bool)


def _frame(ctx: ParseContext, columns: dict[str, Any], n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"ts": columns.pop("ts"), "symbol": [ctx.key] * n, **columns})
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------- klines
def _kline_rows(bodies: Sequence[str], ctx: ParseContext) -> list[list]:
    rows = [row for i, body in enumerate(bodies) for row in _list_of(_json(body, ctx, i), list, ctx)]
    for i, row in enumerate(rows):
        if len(row) < 11:
            raise ParseError(ctx, f"<row {i}>", f"a kline has 12 fields, this one has {len(row)}")
    return rows


def _column(rows: list[list], index: int) -> list:
    return [row[index] for row in rows]


def parse_klines(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    rows = _kline_rows(bodies, ctx)
    names = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
             "trade_count", "taker_buy_base_volume", "taker_buy_quote_volume"]
    col = {name: _column(rows, i) for i, name in enumerate(names)}
    return _frame(ctx, {
        "ts": _times(col["open_time"], "open_time", ctx),
        **{k: _floats(col[k], k, ctx) for k in ("open", "high", "low", "close", "volume")},
        "close_time": _times(col["close_time"], "close_time", ctx),
        "quote_volume": _floats(col["quote_volume"], "quote_volume", ctx),
        "trade_count": _ints(col["trade_count"], "trade_count", ctx),
        "taker_buy_base_volume": _floats(col["taker_buy_base_volume"], "taker_buy_base_volume", ctx),
        "taker_buy_quote_volume": _floats(col["taker_buy_quote_volume"], "taker_buy_quote_volume", ctx),
    }, len(rows))


def parse_mark_price_klines(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    rows = _kline_rows(bodies, ctx)
    return _frame(ctx, {
        "ts": _times(_column(rows, 0), "open_time", ctx),
        **{k: _floats(_column(rows, i), k, ctx)
           for i, k in enumerate(("open", "high", "low", "close"), start=1)},
        "close_time": _times(_column(rows, 6), "close_time", ctx),
    }, len(rows))


# ---------------------------------------------------------------------- JSON objects
FieldKind = Literal["float", "float_or_null", "int", "int_or_null", "time", "bool", "str"]
#: column ← (field in the payload, kind); a parser of JSON objects is one such declaration.
FieldSpec = Mapping[str, tuple[str, FieldKind]]

_CONVERTERS: dict[str, Callable[[Sequence[Any], str, ParseContext], Any]] = {
    "float": _floats,
    "float_or_null": lambda values, name, ctx: _floats(values, name, ctx, nullable=True),
    "int": _ints,
    "int_or_null": lambda values, name, ctx: pd.array(
        [None if v is None else int(_ints([v], name, ctx)[0]) for v in values], dtype="Int64"),
    "time": _times,
    "bool": _bools,
    "str": lambda values, _name, _ctx: [str(v) for v in values],
}


def _objects(bodies: Sequence[str], ctx: ParseContext) -> list[dict]:
    """JSON objects of every body: an object body is one, an array body is many."""
    objects: list[dict] = []
    for i, body in enumerate(bodies):
        data = _json(body, ctx, i)
        objects.extend(_list_of([data] if isinstance(data, dict) else data, dict, ctx))
    return objects


def _for_symbol(rows: list[dict], ctx: ParseContext) -> list[dict]:
    """Rows about this partition's symbol (endpoints without ``symbol`` return every symbol)."""
    return [r for r in rows if r.get("symbol", ctx.key) == ctx.key]


def _extract(rows: list[dict], spec: FieldSpec, ctx: ParseContext,
             defaults: Mapping[str, Any] | None = None, **constants: Any) -> pd.DataFrame:
    """Typed columns of ``rows`` as declared by ``spec`` (``defaults`` for optional fields)."""
    defaults = defaults or {}
    columns = {
        column: _CONVERTERS[kind](_field(rows, field, ctx, defaults.get(field, ...)), field, ctx)
        for column, (field, kind) in spec.items()
    }
    ts = columns.pop("ts")
    return _frame(ctx, {"ts": ts, **{k: [v] * len(rows) for k, v in constants.items()}, **columns},
                  len(rows))


_PREMIUM_INDEX: FieldSpec = {
    "ts": ("time", "time"), "mark_price": ("markPrice", "float"), "index_price": ("indexPrice", "float"),
    "estimated_settle_price": ("estimatedSettlePrice", "float"),
    "last_funding_rate": ("lastFundingRate", "float"), "interest_rate": ("interestRate", "float"),
    "next_funding_time": ("nextFundingTime", "time"),
}
_FUNDING_RATE: FieldSpec = {
    "ts": ("fundingTime", "time"), "funding_rate": ("fundingRate", "float"),
    "mark_price": ("markPrice", "float_or_null"),
}
_OPEN_INTEREST: FieldSpec = {
    "ts": ("timestamp", "time"), "sum_open_interest": ("sumOpenInterest", "float"),
    "sum_open_interest_value": ("sumOpenInterestValue", "float"),
}
_LONG_SHORT: FieldSpec = {
    "ts": ("timestamp", "time"), "long_short_ratio": ("longShortRatio", "float"),
    "long_account": ("longAccount", "float"), "short_account": ("shortAccount", "float"),
}
_TAKER_VOLUME: FieldSpec = {
    "ts": ("timestamp", "time"), "buy_sell_ratio": ("buySellRatio", "float"),
    "buy_volume": ("buyVol", "float"), "sell_volume": ("sellVol", "float"),
}
_TICKER_24HR: FieldSpec = {
    "ts": ("closeTime", "time"),
    **{column: (field, "float") for column, field in {
        "price_change": "priceChange", "price_change_percent": "priceChangePercent",
        "weighted_avg_price": "weightedAvgPrice", "prev_close_price": "prevClosePrice",
        "last_price": "lastPrice", "last_qty": "lastQty", "bid_price": "bidPrice", "bid_qty": "bidQty",
        "ask_price": "askPrice", "ask_qty": "askQty", "open_price": "openPrice",
        "high_price": "highPrice", "low_price": "lowPrice", "volume": "volume",
        "quote_volume": "quoteVolume"}.items()},
    "open_time": ("openTime", "time"), "first_id": ("firstId", "int"), "last_id": ("lastId", "int"),
    "trade_count": ("count", "int"),
}
_AVG_PRICE: FieldSpec = {"ts": ("closeTime", "time"), "window_minutes": ("mins", "int"),
                         "price": ("price", "float")}
_AGG_TRADES: FieldSpec = {
    "ts": ("T", "time"), "agg_trade_id": ("a", "int"), "price": ("p", "float"), "qty": ("q", "float"),
    "first_trade_id": ("f", "int"), "last_trade_id": ("l", "int"), "is_buyer_maker": ("m", "bool"),
}
_FORCE_ORDER: FieldSpec = {
    "ts": ("T", "time"), "side": ("S", "str"), "order_type": ("o", "str"), "time_in_force": ("f", "str"),
    "orig_qty": ("q", "float"), "price": ("p", "float"), "avg_price": ("ap", "float"),
    "status": ("X", "str"), "last_filled_qty": ("l", "float"), "filled_qty": ("z", "float"),
}
_RATIO_TYPES = {
    "globalLongShortAccountRatio": "global_account",
    "topLongShortAccountRatio": "top_account",
    "topLongShortPositionRatio": "top_position",
}


def parse_premium_index(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    return _extract(_for_symbol(_objects(bodies, ctx), ctx), _PREMIUM_INDEX, ctx)


def parse_funding_rate(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """Funding history; rows from before ``markPrice`` was served keep a null mark price."""
    return _extract(_for_symbol(_objects(bodies, ctx), ctx), _FUNDING_RATE, ctx, {"markPrice": None})


def parse_open_interest(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    return _extract(_for_symbol(_objects(bodies, ctx), ctx), _OPEN_INTEREST, ctx)


def parse_long_short_ratio(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """One of the three ratio endpoints; the ratio type comes from the endpoint's path."""
    endpoint = ctx.request.endpoint.rsplit("/", 1)[-1]
    if endpoint not in _RATIO_TYPES:
        raise ParseError(ctx, "<endpoint>", f"not a long/short ratio endpoint: {ctx.request.endpoint}")
    return _extract(_for_symbol(_objects(bodies, ctx), ctx), _LONG_SHORT, ctx,
                    ratio_type=_RATIO_TYPES[endpoint])


def parse_taker_volume(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    return _extract(_objects(bodies, ctx), _TAKER_VOLUME, ctx)


def parse_ticker_24hr(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    return _extract(_for_symbol(_objects(bodies, ctx), ctx), _TICKER_24HR, ctx)


def parse_avg_price(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """Average price; responses without ``closeTime`` are stamped with the request time."""
    return _extract(_objects(bodies, ctx), _AVG_PRICE, ctx, {"closeTime": ctx.received_at_ms})


# ---------------------------------------------------------------------- book
_BOOK_TICKER_STREAM: FieldSpec = {
    "ts": ("T", "time"), "update_id": ("u", "int_or_null"), "bid_price": ("b", "float"),
    "bid_qty": ("B", "float"), "ask_price": ("a", "float"), "ask_qty": ("A", "float"),
}
_BOOK_TICKER_REST: FieldSpec = {
    "ts": ("time", "time"), "update_id": ("lastUpdateId", "int_or_null"), "bid_price": ("bidPrice", "float"),
    "bid_qty": ("bidQty", "float"), "ask_price": ("askPrice", "float"), "ask_qty": ("askQty", "float"),
}


def parse_book_ticker(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """``<symbol>@bookTicker`` messages or ``/ticker/bookTicker`` answers; without a time in the
    payload (spot stream, REST) the row is stamped with the time it was received."""
    rows = _objects(bodies, ctx)
    received = {"T": ctx.received_at_ms, "time": ctx.received_at_ms, "lastUpdateId": None}
    if rows and ("e" in rows[0] or "b" in rows[0]):  # websocket message (spot streams carry no "e")
        stamped = [{**r, "T": r.get("T", r.get("E", ctx.received_at_ms))}
                   for r in rows if r.get("s", ctx.key) == ctx.key]
        return _extract(stamped, _BOOK_TICKER_STREAM, ctx, received)
    return _extract(_for_symbol(rows, ctx), _BOOK_TICKER_REST, ctx, received)


_DIFF_STREAM = re.compile(r"@depth(@\d+ms)?$")


def parse_depth(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """REST depth snapshots and partial-book stream messages (``@depth<N>``), long format."""
    if _DIFF_STREAM.search(ctx.request.endpoint):
        raise ParseError(ctx, "<stream>", "a diff-depth stream must be rebuilt into snapshots by "
                         "the recorder before it is parsed")
    columns: dict[str, list] = {"t": [], "update_id": [], "side": [], "level": [], "price": [], "qty": []}
    for i, snapshot in enumerate(_objects(bodies, ctx)):
        if snapshot.get("s", ctx.key) != ctx.key:
            continue
        bids = snapshot.get("bids", snapshot.get("b"))
        asks = snapshot.get("asks", snapshot.get("a"))
        if bids is None or asks is None:
            raise ParseError(ctx, "bids/asks", f"snapshot {i} has no bid or ask ladder")
        update_id = snapshot.get("lastUpdateId", snapshot.get("u"))
        if update_id is None:
            raise ParseError(ctx, "lastUpdateId", f"snapshot {i} has no update id")
        t_ms = snapshot.get("T", snapshot.get("E", ctx.received_at_ms))
        for side, ladder in (("bid", bids), ("ask", asks)):
            levels = _list_of(ladder, list, ctx)
            if any(len(level) < 2 for level in levels):
                raise ParseError(ctx, side + "s", f"snapshot {i}: a level needs [price, qty]")
            n = len(levels)
            columns["t"].extend([t_ms] * n)
            columns["update_id"].extend([update_id] * n)
            columns["side"].extend([side] * n)
            columns["level"].extend(range(1, n + 1))
            columns["price"].extend(level[0] for level in levels)
            columns["qty"].extend(level[1] for level in levels)
    return _frame(ctx, {
        "ts": _times(columns["t"], "T", ctx),
        "last_update_id": _ints(columns["update_id"], "lastUpdateId", ctx),
        "side": columns["side"],
        "level": np.array(columns["level"], dtype=np.int64),
        "price": _floats(columns["price"], "price", ctx),
        "qty": _floats(columns["qty"], "qty", ctx),
    }, len(columns["t"]))


# ---------------------------------------------------------------------- trades & liquidations
def parse_agg_trades(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    return _extract(_objects(bodies, ctx), _AGG_TRADES, ctx)


def parse_liquidations(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """``forceOrder`` stream messages; only the partition's symbol is kept."""
    orders = []
    for i, message in enumerate(_objects(bodies, ctx)):
        order = message.get("o")
        if not isinstance(order, dict):
            raise ParseError(ctx, "o", f"message {i} has no forced-order object")
        if order.get("s") == ctx.key:
            orders.append(order)
    return _extract(orders, _FORCE_ORDER, ctx)


# ---------------------------------------------------------------------- on-chain & ETF
def parse_glassnode(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    metric = metric_for_path(ctx.request.endpoint)
    if metric is None:
        raise ParseError(ctx, "<endpoint>", f"unknown on-chain metric path {ctx.request.endpoint}")
    points = _objects(bodies, ctx)
    values = _field(points, "v", ctx)
    for i, v in enumerate(values):
        if isinstance(v, dict | list):
            raise ParseError(ctx, "v", f"point {i} is a multi-value object; ask for a single series")
    seconds = _ints(_field(points, "t", ctx), "t", ctx)
    return pd.DataFrame({
        "ts": _times(seconds * 1000, "t", ctx),
        "asset": ctx.key,
        "metric": metric,
        "value": _floats(values, "v", ctx, nullable=True),
    })


def _farside_number(cell: str, ctx: ParseContext, column: str, row: int) -> float:
    text = cell.strip().replace(",", "")
    if text in ("-", ""):
        return float("nan")
    negative = text.startswith("(") and text.endswith(")")
    try:
        value = float(text.strip("()"))
    except ValueError as exc:
        raise ParseError(ctx, column, f"row {row}: {cell!r} is not a flow in US$ millions") from exc
    return -value if negative else value


def _etf_records(body: str, asset: str, ctx: ParseContext) -> list[tuple]:
    reader = csv.reader(io.StringIO(body))
    header = next(reader, None)
    if not header or header[0].strip() != "Date" or header[-1].strip() != "Total":
        raise ParseError(ctx, "<header>", f"expected 'Date,<funds>,Total', got {header!r}")
    funds = [h.strip() for h in header[1:-1]]
    records: list[tuple] = []
    for i, cells in enumerate(reader, start=1):
        if not cells or not cells[0].strip():
            continue
        if len(cells) != len(header):
            raise ParseError(ctx, "<row>", f"row {i} has {len(cells)} cells, header has {len(header)}")
        try:
            day = datetime.strptime(cells[0].strip(), "%d %b %Y")
        except ValueError as exc:
            raise ParseError(ctx, "Date", f"row {i}: {cells[0]!r} is not like '10 Nov 2026'") from exc
        flows = [_farside_number(c, ctx, f, i) for c, f in zip(cells[1:-1], funds, strict=True)]
        total = _farside_number(cells[-1], ctx, "Total", i)
        known = [f for f in flows if not np.isnan(f)]
        if not np.isnan(total) and abs(sum(known) - total) > 0.1 * len(funds) + 0.05:
            raise ParseError(ctx, "Total", f"row {i}: total {total} disagrees with the sum of funds "
                             f"{sum(known):.1f}")
        records.extend((day, asset, fund, flow * 1e6) for fund, flow in zip(funds, flows, strict=True))
    return records


def parse_etf_flows(bodies: Sequence[str], ctx: ParseContext) -> pd.DataFrame:
    """Published ETF flow table: ``Date,<fund>…,Total`` in US$ millions, ``(x)`` negative, ``-`` none."""
    match = re.search(r"(btc|eth)-etf-flow", ctx.request.endpoint)
    if match is None:
        raise ParseError(ctx, "<endpoint>", f"cannot tell the asset from {ctx.request.endpoint}")
    asset = match.group(1).upper()
    records: list[tuple] = []
    for body in bodies:
        records.extend(_etf_records(body, asset, ctx))
    frame = pd.DataFrame(records, columns=["ts", "asset", "fund", "net_flow_usd"])
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    frame["net_flow_usd"] = frame["net_flow_usd"].astype(float)
    return frame


Parser = Callable[[Sequence[str], ParseContext], pd.DataFrame]


def parse_payload(family: str, parser: Parser, payload: Payload, key: str) -> pd.DataFrame:
    """Parse every body of ``payload`` (one for REST, many for a recorded stream hour) at once."""
    return parser(payload.bodies, ParseContext(family, key, payload.request, payload.received_at_ms))
