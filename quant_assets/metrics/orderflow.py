"""Family D, order flow and microstructure (module ``order_micros``).

Input conventions (shared with families C and H, which reuse the helpers here):

Taker flow
    ``buy_volume``, ``sell_volume``: base-asset volume of taker buys and taker
    sells in the row. From klines: ``buy_volume = taker_buy_base_volume`` and
    ``sell_volume = volume - taker_buy_base_volume``. From aggTrades:
    ``buy_volume = qty`` where ``is_buyer_maker`` is false (the buyer took
    liquidity), ``sell_volume = qty`` where it is true; summed per bar, or one
    of the two is zero on a per-trade row. From ``takerlongshortRatio``: its
    ``buy_volume`` and ``sell_volume`` columns as they are.
Best bid and ask
    ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty`` (book ticker).
Depth
    The top :data:`BOOK_LEVELS` (20, the depth of Binance's ``@depth20``
    partial-book stream) levels per side, wide: ``bid_price_1 .. bid_price_20``,
    ``bid_qty_1 .. bid_qty_20``, ``ask_price_1 .. ask_price_20``,
    ``ask_qty_1 .. ask_qty_20``; level 1 is the best. :func:`wide_book` builds
    this frame from the raw long-format depth snapshots. A level the book did
    not have is given quantity 0 (its price is then irrelevant). Metrics sort
    each side into price priority themselves, so the level numbering only has
    to be complete, not ordered.

Rows are whatever the caller samples: book updates or trades for tick-level
use, or bars. Windows are counted in rows. Every value at row ``t`` uses rows
``<= t`` only. Quantities must be non-negative and prices positive; a
violation raises :class:`MetricInputError` naming the column and the first bad
row. A crossed book (ask below bid) is reported as it is: its spread is
negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import check_nonnegative, check_positive
from quant_assets.metrics.registry import at_least, between, greater_than, one_of
from quant_assets.metrics.registry import metric as _metric
from quant_assets.metrics.volatility import _check_frequency

MODULE = "order_micros"

#: Levels per side in the wide depth convention.
BOOK_LEVELS = 20
#: Distance bins per side in the liquidity density map.
DENSITY_BINS = 10

_SIDES = ("bid", "ask")
_L1 = ("bid_price", "bid_qty", "ask_price", "ask_qty")
_FLOW = ("buy_volume", "sell_volume")


def book_columns(levels: int = BOOK_LEVELS) -> tuple[str, ...]:
    """Column names of the wide depth convention for ``levels`` levels per side."""
    return tuple(
        f"{side}_{field}_{k}" for side in _SIDES for field in ("price", "qty") for k in range(1, levels + 1)
    )


_DEPTH = book_columns()


def wide_book(snapshots: pd.DataFrame, levels: int = BOOK_LEVELS) -> pd.DataFrame:
    """Pivot long-format depth snapshots into the wide depth convention.

    Parameters
    ----------
    snapshots : DataFrame
        One symbol's rows of the raw depth table: ``ts``, ``side`` ("bid" or
        "ask"), ``level`` (1 = best), ``price``, ``qty``.
    levels : int, default 20
        Levels per side to keep.

    Returns
    -------
    DataFrame
        Indexed by ``ts``, with :func:`book_columns` ``(levels)``. A level a
        snapshot lacks gets quantity 0 and the price of the deepest level it
        has on that side.
    """
    top = snapshots[snapshots["level"] <= levels]
    wide = top.pivot_table(index="ts", columns=["side", "level"], values=["price", "qty"], aggfunc="last")
    full = pd.MultiIndex.from_product([["price", "qty"], list(_SIDES), range(1, levels + 1)])
    wide = wide.reindex(columns=full)
    out = {}
    for side in _SIDES:
        out.update({f"{side}_price_{k}": v for k, v in wide["price"][side].ffill(axis=1).items()})
        out.update({f"{side}_qty_{k}": v for k, v in wide["qty"][side].fillna(0.0).items()})
    frame = pd.DataFrame(out, index=wide.index)[list(book_columns(levels))]
    frame.index.name = None
    return frame


# --------------------------------------------------------------------------- shared helpers


def _covariance_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Population covariance of paired rows."""
    return ((x - x.mean(axis=1, keepdims=True)) * (y - y.mean(axis=1, keepdims=True))).mean(axis=1)


def imbalance(plus: np.ndarray, minus: np.ndarray, window: int) -> np.ndarray:
    """``(Σ plus - Σ minus) / (Σ plus + Σ minus)`` over the trailing ``window``
    rows, in [-1, 1] for non-negative inputs; NaN where both sums are 0."""
    p = nm.trailing_sum(plus, window)
    m = nm.trailing_sum(minus, window)
    return nm.safe_divide(p - m, p + m)


def flow(data: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated taker buy and sell volume arrays."""
    check_nonnegative(metric, data, _FLOW)
    return nm.column(data, "buy_volume"), nm.column(data, "sell_volume")


def top_of_book(data: pd.DataFrame, metric: str) -> tuple[np.ndarray, ...]:
    """Validated ``bid_price, bid_qty, ask_price, ask_qty`` arrays."""
    check_positive(metric, data, ("bid_price", "ask_price"))
    check_nonnegative(metric, data, ("bid_qty", "ask_qty"))
    return tuple(nm.column(data, c) for c in _L1)


def queue_imbalance(bid_qty: np.ndarray, ask_qty: np.ndarray) -> np.ndarray:
    """``I = Qb / (Qb + Qa)`` in [0, 1]; NaN for an empty top of book."""
    return nm.safe_divide(bid_qty, bid_qty + ask_qty)


def _depth(data: pd.DataFrame, metric: str, levels: int) -> dict[str, np.ndarray]:
    """The best ``levels`` levels per side as ``(rows, levels)`` arrays, after sorting
    all :data:`BOOK_LEVELS` columns of a side into price priority (bids
    descending, asks ascending, empty levels last), and the mid."""
    names = {
        (side, field): [f"{side}_{field}_{k}" for k in range(1, BOOK_LEVELS + 1)]
        for side in _SIDES
        for field in ("price", "qty")
    }
    check_positive(metric, data, names["bid", "price"] + names["ask", "price"])
    check_nonnegative(metric, data, names["bid", "qty"] + names["ask", "qty"])
    out: dict[str, np.ndarray] = {}
    for side in _SIDES:
        price = data[names[side, "price"]].to_numpy(dtype=np.float64)
        qty = data[names[side, "qty"]].to_numpy(dtype=np.float64)
        key = np.where(qty > 0.0, -price if side == "bid" else price, np.inf)
        order = np.argsort(key, axis=1, kind="stable")[:, :levels]
        out[f"{side}_price"] = np.take_along_axis(price, order, axis=1)
        out[f"{side}_qty"] = np.take_along_axis(qty, order, axis=1)
    out["mid"] = 0.5 * (out["bid_price"][:, 0] + out["ask_price"][:, 0])
    return out


def _distance_bps(book: Mapping[str, np.ndarray], side: str) -> np.ndarray:
    """Distance of each level from the mid in bps, positive on the correct side."""
    mid = book["mid"][:, None]
    gap = mid - book["bid_price"] if side == "bid" else book["ask_price"] - mid
    return 1e4 * gap / mid


# --------------------------------------------------------------------------- book shape


@_metric(
    name="orderbook_imbalance",
    module=MODULE,
    inputs=_DEPTH,
    outputs=("orderbook_imbalance",),
    params={"levels": 5, "decay_bps": 0.0},
    constraints={"levels": between(1, BOOK_LEVELS), "decay_bps": at_least(0.0)},
    value_range=(-1.0, 1.0),
    warmup=0,
    reference="Cao, Hansch & Wang (2009), J. Futures Markets 29; Gould & Bonart (2016), "
    "Queue imbalance as a one-tick-ahead price predictor",
)
def orderbook_imbalance(data: pd.DataFrame, *, levels: int = 5, decay_bps: float = 0.0) -> np.ndarray:
    """Depth imbalance of the best ``k`` levels: bid size minus ask size over their sum.

    Parameters
    ----------
    data : DataFrame
        Wide depth (``bid_price_1 .. ask_qty_20``, see the module docstring).
    levels : int, default 5
        ``k``: levels per side counted (1 .. 20; 1 gives the L1 imbalance).
    decay_bps : float, default 0.0
        ``λ``: when > 0, each level is weighted by ``exp(-δ/λ)``, ``δ`` its
        distance from the mid in bps, so size near the touch counts more;
        0 weights every level equally.

    Returns
    -------
    ndarray
        ``orderbook_imbalance`` in [-1, 1]; > 0 when bids outweigh asks.

    Notes
    -----
    Formula: ``OBI_k = (Σ_{i<=k} w_i Qb_i - Σ_{i<=k} w_i Qa_i) / (Σ w_i Qb_i + Σ w_i Qa_i)``.
    At ``k = 1`` it is ``2I - 1`` with the queue imbalance ``I = Qb/(Qb + Qa)``
    (``bid_ask_imbalance``). NaN for an empty book. Warm-up: 0 bars.
    A book with 10 on the bid and 30 on the ask gives -0.5.

    References
    ----------
    C. Cao, O. Hansch and X. Wang, "The information content of an open limit-order
    book", *J. Futures Markets* 29 (2009); M. Gould and J. Bonart, "Queue
    imbalance as a one-tick-ahead price predictor in a limit order book" (2016);
    Á. Cartea, R. Donnelly and S. Jaimungal, *Appl. Math. Finance* 25 (2018).
    """
    book = _depth(data, "orderbook_imbalance", levels)
    sums = []
    for side in _SIDES:
        qty = book[f"{side}_qty"]
        if decay_bps > 0.0:
            qty = qty * np.exp(-np.abs(_distance_bps(book, side)) / decay_bps)
        sums.append(qty.sum(axis=1))
    return nm.safe_divide(sums[0] - sums[1], sums[0] + sums[1])


@_metric(
    name="spread",
    module=MODULE,
    inputs=_L1,
    outputs=("spread", "spread_bps"),
    warmup=0,
    reference="Quoted spread; e.g. Hasbrouck (2007), Empirical Market Microstructure, ch. 1",
)
def spread(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Quoted bid-ask spread, absolute and relative to the mid.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask: ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``
        (the sizes are validated but not used).

    Returns
    -------
    dict of ndarray
        ``spread = ask - bid`` (price units) and ``spread_bps = 1e4 (ask - bid)/mid``.

    Notes
    -----
    Both are >= 0 on a valid book; a crossed book (ask below bid, e.g. two
    streams joined out of step) gives a negative value, left visible rather
    than hidden. Warm-up: 0 bars. For a spread estimate without book history
    use ``roll_spread`` on trade prices.

    References
    ----------
    J. Hasbrouck, *Empirical Market Microstructure* (2007), ch. 1.
    """
    bid, _, ask, _ = top_of_book(data, "spread")
    quoted = ask - bid
    return {"spread": quoted, "spread_bps": 1e4 * quoted / (0.5 * (bid + ask))}


@_metric(
    name="roll_spread",
    module=MODULE,
    inputs=("close",),
    outputs=("roll_spread",),
    params={"timeperiod": 100},
    constraints={"timeperiod": at_least(2)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"] + 1,
    reference="Roll (1984), J. Finance 39; zero convention of Goyenko, Holden & Trzcinka (2009), JFE 92",
)
def roll_spread(data: pd.DataFrame, *, timeperiod: int = 100) -> np.ndarray:
    """Roll's effective-spread estimate from the serial covariance of price changes.

    Parameters
    ----------
    data : DataFrame
        A ``close`` column: trade prices (tick rows) or bar closes.
    timeperiod : int, default 100
        Number ``W`` of consecutive price-change pairs in the window.

    Returns
    -------
    ndarray
        ``roll_spread`` in price units, >= 0.

    Notes
    -----
    Formula: ``S = 2 sqrt(-cov(Δp_t, Δp_{t-1}))`` over the trailing ``W`` pairs
    (population covariance). Bid-ask bounce makes consecutive changes
    negatively correlated; when the sample covariance is positive the estimate
    is undefined and set to 0, the convention of Goyenko, Holden and Trzcinka.
    It needs trade-level prices: on hourly bars the bounce is swamped by price
    moves. A random walk plus a bounce of half-spread 0.05 gives about 0.10.
    Warm-up: ``W + 1`` bars.

    References
    ----------
    R. Roll, "A simple implicit measure of the effective bid-ask spread in an
    efficient market", *J. Finance* 39 (1984); R. Goyenko, C. Holden and
    C. Trzcinka, "Do liquidity measures measure liquidity?", *JFE* 92 (2009).
    """
    close = nm.column(data, "close")
    dp = np.diff(close)
    # Exact per window (demeaned), so a steady trend gives a covariance of exactly 0.
    cov = nm.window_apply(dp[:-1], dp[1:], timeperiod, _covariance_rows)
    return nm.placed(2.0 * np.sqrt(np.maximum(-cov, 0.0)), 2, len(close))


# --------------------------------------------------------------------------- taker flow


@_metric(
    name="taker_dominance",
    module=MODULE,
    inputs=_FLOW,
    outputs=("taker_dominance",),
    params={"timeperiod": 1},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Lee & Ready (1991), J. Finance 46 (trade side); Binance takerlongshortRatio",
)
def taker_dominance(data: pd.DataFrame, *, timeperiod: int = 1) -> np.ndarray:
    """Taker dominance ratio: the share of taker volume that was bought.

    Parameters
    ----------
    data : DataFrame
        Taker flow: ``buy_volume``, ``sell_volume`` (module docstring).
    timeperiod : int, default 1
        Rows ``W`` summed (1: per row).

    Returns
    -------
    ndarray
        ``taker_dominance`` in [0, 1]; 0.5 is balanced.

    Notes
    -----
    Formula: ``TDR = Σ V_buy / (Σ V_buy + Σ V_sell)`` over ``W`` rows; Binance's
    ``takerlongshortRatio`` is ``Σ V_buy / Σ V_sell = TDR / (1 - TDR)``. The
    aggressor comes from the exchange flag (``isBuyerMaker`` false = buyer
    took liquidity), so no tick or Lee-Ready rule is needed. NaN where there
    was no volume. Warm-up: ``W - 1`` bars. 60 % buyer-initiated trades with
    Exp(1) sizes give about 0.6.

    References
    ----------
    C. Lee and M. Ready, "Inferring trade direction from intraday data",
    *J. Finance* 46 (1991); Binance USDⓈ-M API, ``takerlongshortRatio``.
    """
    buy, sell = flow(data, "taker_dominance")
    b = nm.trailing_sum(buy, timeperiod)
    return nm.safe_divide(b, b + nm.trailing_sum(sell, timeperiod))


def _anchor_memory(p: Mapping[str, Any]) -> int:
    # In hourly bars, the bar size of the platform's feature tables.
    return max(int(pd.Timedelta(p["anchor"]) / pd.Timedelta("1h")) - 1, 0)


@_metric(
    name="cvd",
    module=MODULE,
    inputs=_FLOW,
    outputs=("cvd",),
    params={"anchor": "1D"},
    constraints={"anchor": _check_frequency},
    warmup=0,
    memory=_anchor_memory,
    reference="Cumulative volume delta, anchored (practitioner; Hyblock and Coinglass documentation)",
)
def cvd(data: pd.DataFrame, *, anchor: str = "1D") -> np.ndarray:
    """Cumulative volume delta, anchored: taker buys minus sells since the period start.

    Parameters
    ----------
    data : DataFrame
        Taker flow: ``buy_volume``, ``sell_volume``.
    anchor : str, default "1D"
        Reset period, a fixed pandas frequency; the sum restarts at the first
        row of every calendar period (00:00 UTC for "1D", anchored at the Unix
        epoch).

    Returns
    -------
    ndarray
        ``cvd`` in base units: ``Σ (V_buy - V_sell)`` over the rows of the
        current anchor period up to and including ``t``.

    Notes
    -----
    Anchored rather than cumulative from the series start, so a value does not
    depend on where the loaded range begins (only on the rows since the last
    anchor). Rows +2, -1, +3 in one period give 2, 1, 4. Warm-up: 0 bars;
    ``memory_bars`` is the anchor period in hourly bars (the first period of a
    series starting mid-period is partial).

    References
    ----------
    Practitioner definition (Hyblock Capital and Coinglass documentation of
    cumulative volume delta).
    """
    buy, sell = flow(data, "cvd")
    periods = data.index.floor(anchor).asi8
    return pd.Series(buy - sell).groupby(periods).cumsum().to_numpy()


@_metric(
    name="trade_aggression_ratio",
    module=MODULE,
    inputs=(*_FLOW, "bid_qty", "ask_qty"),
    outputs=("trade_aggression_ratio", "buy_aggression_ratio", "sell_aggression_ratio"),
    params={"timeperiod": 100},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Sweep share (proposed); cf. Biais, Hillion & Spatt (1995), J. Finance 50, "
    "order aggressiveness",
)
def trade_aggression_ratio(data: pd.DataFrame, *, timeperiod: int = 100) -> dict[str, np.ndarray]:
    """Sweep share: taker volume of trades larger than the displayed opposite L1 size.

    Parameters
    ----------
    data : DataFrame
        One row per taker trade: ``buy_volume`` and ``sell_volume`` (one of them
        0) and the L1 sizes ``bid_qty``, ``ask_qty`` displayed just before the
        trade (an as-of join of the book ticker, strictly before the trade).
    timeperiod : int, default 100
        Trades ``W`` in the window.

    Returns
    -------
    dict of ndarray
        ``trade_aggression_ratio``: swept volume over all taker volume;
        ``buy_aggression_ratio`` and ``sell_aggression_ratio``: the same for
        buys (size > ``ask_qty``) and sells (size > ``bid_qty``) only. All in
        [0, 1]; NaN when the window has no volume on that side.

    Notes
    -----
    A trade larger than the opposite best size must walk through at least one
    level: the taker accepted price impact to get filled now. Formula:
    ``Σ v_i 1{v_i > Q_opp,i} / Σ v_i``. This is a proposed measure (not a
    standard one); with Exp(1) trade sizes and an L1 size of 2 the expected
    share is ``3 e^{-2} = 0.406``. Warm-up: ``W - 1`` bars.

    References
    ----------
    B. Biais, P. Hillion and C. Spatt, "An empirical analysis of the limit order
    book and the order flow in the Paris Bourse", *J. Finance* 50 (1995).
    """
    buy, sell = flow(data, "trade_aggression_ratio")
    check_nonnegative("trade_aggression_ratio", data, ("bid_qty", "ask_qty"))
    buy_sweep = np.where(buy > nm.column(data, "ask_qty"), buy, 0.0)
    sell_sweep = np.where(sell > nm.column(data, "bid_qty"), sell, 0.0)
    b, s = nm.trailing_sum(buy, timeperiod), nm.trailing_sum(sell, timeperiod)
    bs, ss = nm.trailing_sum(buy_sweep, timeperiod), nm.trailing_sum(sell_sweep, timeperiod)
    return {
        "trade_aggression_ratio": nm.safe_divide(bs + ss, b + s),
        "buy_aggression_ratio": nm.safe_divide(bs, b),
        "sell_aggression_ratio": nm.safe_divide(ss, s),
    }


def ofi_events(bid: np.ndarray, bid_qty: np.ndarray, ask: np.ndarray, ask_qty: np.ndarray) -> np.ndarray:
    """Cont–Kukanov–Stoikov order-flow event ``e_n`` of each row (NaN at row 0)."""
    e = nm.nan_array(len(bid))
    b0, b1, a0, a1 = bid[:-1], bid[1:], ask[:-1], ask[1:]
    e[1:] = (
        np.where(b1 >= b0, bid_qty[1:], 0.0)
        - np.where(b1 <= b0, bid_qty[:-1], 0.0)
        - np.where(a1 <= a0, ask_qty[1:], 0.0)
        + np.where(a1 >= a0, ask_qty[:-1], 0.0)
    )
    return e


@_metric(
    name="ofi",
    module=MODULE,
    inputs=_L1,
    outputs=("ofi", "ofi_normalized"),
    params={"timeperiod": 1},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"],
    reference="Cont, Kukanov & Stoikov (2014), J. Financial Econometrics 12(1), "
    "The price impact of order book events",
)
def ofi(data: pd.DataFrame, *, timeperiod: int = 1) -> dict[str, np.ndarray]:
    """Order-flow imbalance of Cont, Kukanov and Stoikov from best bid/ask prices and sizes.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask: ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``,
        ideally one row per book-ticker update.
    timeperiod : int, default 1
        Updates ``W`` summed (1: the event of each row).

    Returns
    -------
    dict of ndarray
        ``ofi`` in base units (> 0: net buying pressure on the book) and
        ``ofi_normalized = ofi / mean_W((Qb + Qa)/2)``, in units of average
        L1 depth, comparable across symbols.

    Notes
    -----
    Per update ``n``:
    ``e_n = 1{Pb_n >= Pb_{n-1}} Qb_n - 1{Pb_n <= Pb_{n-1}} Qb_{n-1}
    - 1{Pa_n <= Pa_{n-1}} Qa_n + 1{Pa_n >= Pa_{n-1}} Qa_{n-1}``, and
    ``OFI = Σ e_n`` over the last ``W`` updates. CKS find
    ``ΔP = β OFI + ε`` with ``β`` about inversely proportional to depth. On
    sampled snapshots (e.g. hourly) ``e`` is the net event between
    consecutive samples, a coarser quantity than the sum over every update:
    compute on updates with ``W = 1`` and sum per bar instead. An event script
    bid +5, ask +3, better bid of 7, better ask of 4, that bid removed gives
    ``e = +5, -3, +7, -4, -7``. Warm-up: ``W`` bars.

    References
    ----------
    R. Cont, A. Kukanov and S. Stoikov, "The price impact of order book
    events", *J. Financial Econometrics* 12(1) (2014).
    """
    bid, bid_qty, ask, ask_qty = top_of_book(data, "ofi")
    e = ofi_events(bid, bid_qty, ask, ask_qty)
    out = nm.nan_array(len(e))
    norm = nm.nan_array(len(e))
    out[1:] = nm.trailing_sum(e[1:], timeperiod)
    depth = nm.trailing_sum(0.5 * (bid_qty + ask_qty), timeperiod)[1:] / timeperiod
    norm[1:] = nm.safe_divide(out[1:], depth)
    return {"ofi": out, "ofi_normalized": norm}


# --------------------------------------------------------------------------- depth profile


@_metric(
    name="slippage",
    module=MODULE,
    inputs=_DEPTH,
    outputs=("slippage_buy_bps", "slippage_sell_bps"),
    params={"quantity": 1.0, "unit": "base"},
    constraints={"quantity": greater_than(0.0), "unit": one_of("base", "quote")},
    warmup=0,
    reference="Walk-the-book execution cost; cf. Almgren & Chriss (2000), J. Risk 3",
)
def slippage(data: pd.DataFrame, *, quantity: float = 1.0, unit: str = "base") -> dict[str, np.ndarray]:
    """Cost of a market order that walks the visible book, in bps from the mid.

    Parameters
    ----------
    data : DataFrame
        Wide depth (``bid_price_1 .. ask_qty_20``).
    quantity : float, default 1.0
        Order size ``Q``; symbol-specific (1 BTC is not 1 DOGE), set it in the
        module config.
    unit : {"base", "quote"}, default "base"
        Whether ``quantity`` is in the base asset or a quote notional.

    Returns
    -------
    dict of ndarray
        ``slippage_buy_bps = 1e4 (VWAP_buy/mid - 1)`` (walking the asks) and
        ``slippage_sell_bps = 1e4 (1 - VWAP_sell/mid)`` (walking the bids);
        >= 0 on a valid book. NaN where the 20 visible levels hold less than
        ``Q``: the cost is then unknown, not zero.

    Notes
    -----
    ``VWAP = Σ p_i min(q_i, remaining) / Q``. Measured from the mid the cost
    includes the half-spread; ``slippage - spread_bps/2`` is the pure impact.
    Asks 100, 100.5, 101, ... with 2 each: buying 5 costs VWAP 100.4, 40 bps
    above the best ask. Warm-up: 0 bars.

    References
    ----------
    R. Almgren and N. Chriss, "Optimal execution of portfolio transactions",
    *J. Risk* 3 (2000).
    """
    book = _depth(data, "slippage", BOOK_LEVELS)
    mid = book["mid"]
    out = {}
    for side, name, sign in (("ask", "slippage_buy_bps", 1.0), ("bid", "slippage_sell_bps", -1.0)):
        price, qty = book[f"{side}_price"], book[f"{side}_qty"]
        cum_qty = np.cumsum(qty, axis=1)
        cum_value = np.cumsum(price * qty, axis=1)
        filled = cum_value if unit == "quote" else cum_qty
        enough = filled[:, -1] >= quantity
        k = np.argmax(filled >= quantity, axis=1)[:, None]
        before_qty = np.take_along_axis(cum_qty, k, axis=1)[:, 0] - np.take_along_axis(qty, k, axis=1)[:, 0]
        before_value = (
            np.take_along_axis(cum_value, k, axis=1)[:, 0] - np.take_along_axis(price * qty, k, axis=1)[:, 0]
        )
        p_k = np.take_along_axis(price, k, axis=1)[:, 0]
        if unit == "quote":
            vwap = quantity / (before_qty + (quantity - before_value) / p_k)
        else:
            vwap = (before_value + p_k * (quantity - before_qty)) / quantity
        out[name] = np.where(enough, sign * 1e4 * (vwap / mid - 1.0), np.nan)
    return out


@_metric(
    name="depth_elasticity",
    module=MODULE,
    inputs=_DEPTH,
    outputs=("depth_elasticity_bid", "depth_elasticity_ask"),
    params={"levels": BOOK_LEVELS},
    constraints={"levels": between(2, BOOK_LEVELS)},
    warmup=0,
    reference="Næs & Skjeltorp (2006), J. Financial Markets 9, order book slope",
)
def depth_elasticity(data: pd.DataFrame, *, levels: int = BOOK_LEVELS) -> dict[str, np.ndarray]:
    """Elasticity of cumulative depth to distance from the mid, per side.

    Parameters
    ----------
    data : DataFrame
        Wide depth (``bid_price_1 .. ask_qty_20``).
    levels : int, default 20
        Levels per side used in the fit (2 .. 20).

    Returns
    -------
    dict of ndarray
        ``depth_elasticity_bid`` and ``depth_elasticity_ask``: the slope ``ε``
        of ``ln CumDepth`` on ``ln δ``. ``ε > 1`` means depth accumulates
        faster than distance (liquidity sits away from the touch); NaN when a
        side has fewer than two distinct non-empty levels beyond the mid.

    Notes
    -----
    For each level ``k`` on one side, ``δ_k`` is its distance from the mid in
    bps and ``CumDepth_k`` the size resting at distance ``<= δ_k``; ``ε`` is the
    OLS slope of ``ln CumDepth_k`` on ``ln δ_k`` over the levels. This is the
    log-log "slope" of Næs and Skjeltorp, fitted at the book's own price
    points: a fixed grid of distances (5 .. 200 bps) would run past the reach
    of a 20-level book and flatten the curve. ``CumDepth = a δ^1.5`` with 5 %
    noise gives 1.5. Levels on the wrong side of the mid or empty are skipped.
    Warm-up: 0 bars.

    References
    ----------
    R. Næs and J. Skjeltorp, "Order book characteristics and the
    volume-volatility relation", *J. Financial Markets* 9 (2006).
    """
    book = _depth(data, "depth_elasticity", levels)
    out = {}
    for side in _SIDES:
        dist = _distance_bps(book, side)
        qty = book[f"{side}_qty"]
        valid = (dist > 0.0) & (qty > 0.0)
        order = np.argsort(np.where(valid, dist, np.inf), axis=1, kind="stable")
        dist = np.take_along_axis(dist, order, axis=1)
        valid = np.take_along_axis(valid, order, axis=1)
        cum = np.cumsum(np.where(valid, np.take_along_axis(qty, order, axis=1), 0.0), axis=1)
        x = np.log(np.where(valid, dist, 1.0))
        y = np.log(np.where(valid, cum, 1.0))
        w = valid.astype(np.float64)
        count = w.sum(axis=1)
        safe = np.maximum(count, 1.0)
        mx = (w * x).sum(axis=1) / safe
        my = (w * y).sum(axis=1) / safe
        dx = (x - mx[:, None]) * w
        sxx = (dx * dx).sum(axis=1)
        sxy = (dx * (y - my[:, None])).sum(axis=1)
        ok = (count >= 2) & (sxx > 1e-12)
        out[f"depth_elasticity_{side}"] = np.where(ok, sxy / np.where(ok, sxx, 1.0), np.nan)
    return out


_DENSITY_OUTPUTS = (
    *(f"bid_density_{k}" for k in range(1, DENSITY_BINS + 1)),
    *(f"ask_density_{k}" for k in range(1, DENSITY_BINS + 1)),
    "bid_wall_bps",
    "ask_wall_bps",
    "bid_wall_z",
    "ask_wall_z",
)


@_metric(
    name="liquidity_density",
    module=MODULE,
    inputs=_DEPTH,
    outputs=_DENSITY_OUTPUTS,
    params={"bin_bps": 5.0},
    constraints={"bin_bps": greater_than(0.0)},
    value_range=(0.0, math.inf),
    warmup=0,
    reference="Practitioner liquidity heatmap (Bookmap-style); numpy histogram",
)
def liquidity_density(data: pd.DataFrame, *, bin_bps: float = 5.0) -> dict[str, np.ndarray]:
    """Liquidity density map: resting size in fixed bps bins around the mid, and the walls.

    Parameters
    ----------
    data : DataFrame
        Wide depth (``bid_price_1 .. ask_qty_20``).
    bin_bps : float, default 5.0
        Bin width ``w`` in bps of the mid; the map covers ``10 w`` per side.
        Choose it per symbol against the reach of the book (a 20-level BTC book
        spans about 1 bp, an altcoin book tens of bps).

    Returns
    -------
    dict of ndarray
        ``bid_density_k`` / ``ask_density_k`` for ``k = 1 .. 10``: base size
        resting at a distance ``[(k-1) w, k w)`` bps from the mid on that side
        (0 where nothing rests), one row of the heatmap per snapshot;
        ``bid_wall_bps`` / ``ask_wall_bps``: size-weighted distance in bps of
        the fullest bin on the side (the candidate wall);
        ``bid_wall_z`` / ``ask_wall_z``: that bin's z-score against the other
        9 bins of the same side and snapshot (population std; including the
        bin itself would cap the score at 3). A wall is a bin with ``z > 3``.
        The distance is NaN when the side has no size in the map, the z-score
        also when the other bins are all equal.

    Notes
    -----
    Formula: ``D(t, k) = Σ_i Q_i 1{(k-1) w <= δ_i < k w}`` with ``δ_i`` the
    level's distance from the mid in bps; levels beyond ``10 w`` are outside
    the map. A 50-unit wall planted at +30 bps on a Gamma(5, 1) background is
    found at 30 bps. Warm-up: 0 bars.

    References
    ----------
    Practitioner order-book heatmaps (Bookmap); numpy ``histogram``.
    """
    book = _depth(data, "liquidity_density", BOOK_LEVELS)
    n = len(book["mid"])
    rows = np.repeat(np.arange(n), BOOK_LEVELS)
    out: dict[str, np.ndarray] = {}
    for side in _SIDES:
        dist = _distance_bps(book, side).ravel()
        qty = book[f"{side}_qty"].ravel()
        k = np.floor(dist / bin_bps)
        inside = (dist >= 0.0) & (k < DENSITY_BINS) & (qty > 0.0)
        slot = rows[inside] * DENSITY_BINS + k[inside].astype(np.int64)
        size = np.bincount(slot, weights=qty[inside], minlength=n * DENSITY_BINS).reshape(n, DENSITY_BINS)
        moment = np.bincount(slot, weights=(qty * dist)[inside], minlength=n * DENSITY_BINS).reshape(
            n, DENSITY_BINS
        )
        for j in range(DENSITY_BINS):
            out[f"{side}_density_{j + 1}"] = size[:, j]
        wall = np.argmax(size, axis=1)[:, None]
        top = np.take_along_axis(size, wall, axis=1)[:, 0]
        # The wall is scored against the other bins: a z-score that includes the
        # bin itself cannot exceed sqrt(bins - 1) = 3, whatever its size.
        others = np.where(np.arange(DENSITY_BINS)[None, :] == wall, np.nan, size)
        sd = np.nanstd(others, axis=1)
        ok = sd > 0.0
        z = (top - np.nanmean(others, axis=1)) / np.where(ok, sd, 1.0)
        out[f"{side}_wall_z"] = np.where(ok, z, np.nan)
        out[f"{side}_wall_bps"] = np.where(
            top > 0.0, np.take_along_axis(moment, wall, axis=1)[:, 0] / np.where(top > 0.0, top, 1.0), np.nan
        )
    return out
