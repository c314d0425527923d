"""Family H, tick-level micro alpha (module ``microalpha``).

Rows are events (book-ticker updates, trades) or short bars, indexed by the
exchange event time; windows are counted in rows (tick time). The columns are
the conventions of :mod:`quant_assets.metrics.orderflow`: best bid/ask
(``bid_price, bid_qty, ask_price, ask_qty``) and taker flow
(``buy_volume, sell_volume``), plus:

``buy_trades``, ``sell_trades``
    Number of taker-buy and taker-sell trades in the row (1 and 0 on a trade
    row; an aggTrade is one taker order).
``trade_count``
    Exchange trades in the row: kline ``trade_count``, or ``last_trade_id -
    first_trade_id + 1`` of an aggTrade (aggTrades merge same-taker fills).
``latency_ms``
    Local receive time minus exchange event time of the row, in milliseconds.
``close``
    Last trade price of the row (a trade's price, a bar's close).

The order-flow metrics this module also uses (``spread``, ``cvd``, ``ofi``,
``orderbook_imbalance``) are defined once, in family D. The registry rejects
duplicate timestamps, so simultaneous events must be aggregated (or given
distinct nanosecond offsets) before they are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import check_nonnegative
from quant_assets.metrics.orderflow import flow, imbalance, queue_imbalance, top_of_book
from quant_assets.metrics.registry import at_least, between, greater_than
from quant_assets.metrics.registry import metric as _metric
from quant_assets.metrics.volatility import _check_frequency

MODULE = "microalpha"

_L1 = ("bid_price", "bid_qty", "ask_price", "ask_qty")


# --------------------------------------------------------------------------- top of book


@_metric(
    name="bid_ask_imbalance",
    module=MODULE,
    inputs=_L1,
    outputs=("bid_ask_imbalance",),
    value_range=(-1.0, 1.0),
    warmup=0,
    reference="Gould & Bonart (2016), Queue imbalance as a one-tick-ahead price predictor",
)
def bid_ask_imbalance(data: pd.DataFrame) -> np.ndarray:
    """Queue imbalance at the best bid and ask (L1 order-book imbalance).

    Parameters
    ----------
    data : DataFrame
        Best bid and ask: ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``.

    Returns
    -------
    ndarray
        ``bid_ask_imbalance = (Qb - Qa)/(Qb + Qa) = 2I - 1`` in [-1, 1], with the
        queue imbalance ``I = Qb/(Qb + Qa)``; NaN for an empty top of book.

    Notes
    -----
    ``orderbook_imbalance`` (family D) with ``levels=1`` on the same book gives
    the same number. Gould and Bonart find ``I`` predicts the direction of the
    next mid move. Bid 10, ask 30 gives -0.5. Warm-up: 0 bars.

    References
    ----------
    M. Gould and J. Bonart, "Queue imbalance as a one-tick-ahead price
    predictor in a limit order book" (2016).
    """
    _, bid_qty, _, ask_qty = top_of_book(data, "bid_ask_imbalance")
    return 2.0 * queue_imbalance(bid_qty, ask_qty) - 1.0


@_metric(
    name="weighted_mid",
    module=MODULE,
    inputs=_L1,
    outputs=("weighted_mid",),
    depends_on=("bid_ask_imbalance",),
    warmup=0,
    reference="Stoikov (2018), Quantitative Finance 18(12), section 2 (weighted mid-price)",
)
def weighted_mid(data: pd.DataFrame) -> np.ndarray:
    """Size-weighted mid-price: the mid leaned toward the thinner side.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask: ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``.

    Returns
    -------
    ndarray
        ``weighted_mid = I Pa + (1 - I) Pb`` in price units, ``I = Qb/(Qb + Qa)``.

    Notes
    -----
    A large bid queue means the next move is more likely up, so the fair price
    sits nearer the ask. Simple, but noisy and not a martingale (Stoikov), which
    is what ``microprice`` corrects. Pb = 99, Qb = 3, Pa = 101, Qa = 1 gives
    I = 0.75 and 100.5. Warm-up: 0 bars.

    References
    ----------
    S. Stoikov, "The micro-price: a high-frequency estimator of future
    prices", *Quantitative Finance* 18(12) (2018).
    """
    bid, bid_qty, ask, ask_qty = top_of_book(data, "weighted_mid")
    weight = queue_imbalance(bid_qty, ask_qty)
    return weight * ask + (1.0 - weight) * bid


# --------------------------------------------------------------------------- Stoikov micro-price


def _states(
    bid: np.ndarray,
    bid_qty: np.ndarray,
    ask: np.ndarray,
    ask_qty: np.ndarray,
    tick_size: float,
    n_imbalance: int,
    n_spread: int,
) -> tuple[np.ndarray, np.ndarray]:
    """State index ``spread_bucket * n_imbalance + imbalance_bucket`` of each row and
    of its mirror image (bid and ask swapped); -1 where the top of book is empty.

    A spread below one tick (a locked book, or a crossed one when bid and ask
    come from out-of-step messages) is put in the one-tick state.
    """
    ticks = np.rint((ask - bid) / tick_size)
    weight = queue_imbalance(bid_qty, ask_qty)
    valid = np.isfinite(weight)
    spread_bucket = np.clip(ticks, 1.0, n_spread) - 1.0
    bucket = np.minimum(np.floor(np.where(valid, weight, 0.0) * n_imbalance), n_imbalance - 1)
    state = np.where(valid, spread_bucket * n_imbalance + bucket, -1).astype(np.int64)
    mirror = np.where(valid, spread_bucket * n_imbalance + (n_imbalance - 1 - bucket), -1).astype(np.int64)
    return state, mirror


def _window_sums(
    keys: np.ndarray, weights: np.ndarray, n: int, cats: int, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Sum of ``weights`` per category over sample positions ``[lo, hi)`` for many
    windows at once. ``keys = category * n + position``; returns ``(windows, cats)``."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    prefix = np.concatenate(([0.0], np.cumsum(weights[order])))
    base = np.arange(cats, dtype=np.int64)[None, :] * n
    upper = np.searchsorted(sorted_keys, base + hi[:, None], side="left")
    lower = np.searchsorted(sorted_keys, base + lo[:, None], side="left")
    return prefix[upper] - prefix[lower]


def _microprice_adjustment(
    data: pd.DataFrame,
    metric: str,
    *,
    tick_size: float,
    n_imbalance: int,
    n_spread: int,
    window: int,
    refit_every: str,
    iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(mid, g)``: the mid and the micro-price adjustment ``g(I, S)`` in ticks
    from the last refit, NaN before the first refit and for states without data."""
    bid, bid_qty, ask, ask_qty = top_of_book(data, metric)
    n = len(bid)
    mid = 0.5 * (bid + ask)
    adjustment = nm.nan_array(n)
    bounds = nm.refit_boundaries(data.index, refit_every)
    bounds = bounds[bounds >= window]
    if not bounds.size:
        return mid, adjustment
    state, mirror = _states(bid, bid_qty, ask, ask_qty, tick_size, n_imbalance, n_spread)
    size = n_imbalance * n_spread
    # One sample per pair of consecutive rows (s, s+1) with both states defined,
    # and its mirror image (imbalance reflected, mid move negated): the
    # symmetrization of Stoikov's estimator.
    pos = np.flatnonzero((state[:-1] >= 0) & (state[1:] >= 0))
    moved = mid[pos + 1] != mid[pos]
    jump = (mid[pos + 1] - mid[pos]) / tick_size
    origin = np.concatenate((state[pos], mirror[pos]))
    target = np.concatenate((state[pos + 1], mirror[pos + 1]))
    moved2 = np.concatenate((moved, moved))
    jump2 = np.concatenate((jump, -jump))
    pos2 = np.concatenate((pos, pos))
    # Count categories: visits of x [0, S); no-move transitions x->y [S, S+S²);
    # transitions with a mid move [S+S², S+2S²).
    pair = origin * size + target
    transition = size + np.where(moved2, size * size, 0) + pair
    count_keys = np.concatenate((origin, transition)) * n + np.concatenate((pos2, pos2))
    cats = size + 2 * size * size
    # Samples s in [b - window, b - 2]: the rows b - window .. b - 1 before the refit.
    lo, hi = bounds - window, bounds - 1
    counts = _window_sums(count_keys, np.ones(len(count_keys)), n, cats, lo, hi)
    jumps = _window_sums(origin[moved2] * n + pos2[moved2], jump2[moved2], n, size, lo, hi)
    visits = counts[:, :size]
    per_visit = np.where(visits > 0, 1.0 / np.where(visits > 0, visits, 1.0), 0.0)
    stay = counts[:, size : size + size * size].reshape(-1, size, size) * per_visit[:, :, None]
    move = counts[:, size + size * size :].reshape(-1, size, size) * per_visit[:, :, None]
    drift = jumps * per_visit
    system = np.eye(size)[None, :, :] - stay
    try:
        first = np.linalg.solve(system, drift[:, :, None])
        propagate = np.linalg.solve(system, move)
    except np.linalg.LinAlgError as error:
        raise RuntimeError(
            f"{metric}: a fit window contains book states from which the mid never moves "
            f"(I - Q is singular); widen 'window' or coarsen the states"
        ) from error
    # g = Σ_{k < iterations} B^k G¹ (Stoikov: converges in about six terms).
    term = first
    total = first.copy()
    for _ in range(iterations - 1):  # a handful of matrix powers, not a loop over bars
        term = propagate @ term
        total += term
    g = np.where(visits > 0, total[:, :, 0], np.nan)
    segment = np.searchsorted(bounds, np.arange(n), side="right") - 1
    usable = (segment >= 0) & (state >= 0)
    adjustment[usable] = g[segment[usable], state[usable]]
    return mid, adjustment


_MICRO_PARAMS = {
    "tick_size": 0.01,
    "n_imbalance": 10,
    "n_spread": 2,
    "window": 50_000,
    "refit_every": "1h",
    "iterations": 6,
}
_MICRO_CONSTRAINTS = {
    "tick_size": greater_than(0.0),
    "n_imbalance": between(2, 50),
    "n_spread": between(1, 10),
    "window": at_least(100),
    "refit_every": _check_frequency,
    "iterations": between(1, 50),
}
_STOIKOV = (
    "Stoikov (2018), Quantitative Finance 18(12), "
    "The micro-price: a high-frequency estimator of future prices"
)


@_metric(
    name="microprice",
    module=MODULE,
    inputs=_L1,
    outputs=("microprice",),
    params=_MICRO_PARAMS,
    constraints=_MICRO_CONSTRAINTS,
    depends_on=("bid_ask_imbalance",),
    warmup=lambda p: p["window"],
    reference=_STOIKOV,
)
def microprice(
    data: pd.DataFrame,
    *,
    tick_size: float = 0.01,
    n_imbalance: int = 10,
    n_spread: int = 2,
    window: int = 50_000,
    refit_every: str = "1h",
    iterations: int = 6,
) -> np.ndarray:
    """Stoikov micro-price: the mid plus the expected long-run mid move given imbalance and spread.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask, one row per book-ticker update:
        ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``.
    tick_size : float, default 0.01
        The symbol's price tick (0.1 for BTCUSDT perpetual); set it per symbol.
    n_imbalance : int, default 10
        Equal-width buckets of the queue imbalance ``I = Qb/(Qb + Qa)``.
    n_spread : int, default 2
        Spread states 1 .. ``n_spread`` ticks; wider spreads share the last.
    window : int, default 50000
        Rows before each refit used to estimate the transition matrices.
    refit_every : str, default "1h"
        Refit period (a fixed pandas frequency, calendar-aligned).
    iterations : int, default 6
        Terms of the series ``g = Σ B^k G¹``.

    Returns
    -------
    ndarray
        ``microprice = mid + g(I, S) tick`` in price units; NaN before the
        first refit, for an empty top of book and in states the fit window
        never visited.

    Notes
    -----
    The state is ``x = (I bucket, spread in ticks)``; a spread below one tick
    (locked, or crossed by out-of-step quotes; Binance's own book is never
    crossed) counts as one tick. From consecutive rows of
    the fit window: ``Q(x, y)`` (next state ``y``, mid unchanged),
    ``T(x, y)`` (state ``y`` after a mid move) and ``R(x)``, the expected mid
    move in ticks per step, each divided by the visits of ``x``. Then
    ``G¹ = (I - Q)⁻¹ R`` (the expected next mid move),
    ``B = (I - Q)⁻¹ T`` and ``g = Σ_{k<K} B^k G¹``. Every sample is also
    entered mirrored (``I -> 1 - I``, move negated), which makes ``g``
    antisymmetric around ``I = 1/2`` and the series converge. At each refit
    bar the matrices are estimated on the ``window`` rows before it and then
    applied to every row up to the next refit, so a value uses past rows only
    and does not depend on where the series starts. Warm-up: ``window`` bars,
    plus the bars until the next refit boundary. A window in which some
    states never see the mid move makes ``I - Q`` singular and raises
    ``RuntimeError``.

    References
    ----------
    S. Stoikov, "The micro-price: a high-frequency estimator of future
    prices", *Quantitative Finance* 18(12) (2018).
    """
    mid, g = _microprice_adjustment(
        data,
        "microprice",
        tick_size=tick_size,
        n_imbalance=n_imbalance,
        n_spread=n_spread,
        window=window,
        refit_every=refit_every,
        iterations=iterations,
    )
    return mid + g * tick_size


@_metric(
    name="microprice_deviation",
    module=MODULE,
    inputs=_L1,
    outputs=("microprice_deviation", "microprice_deviation_bps"),
    params=_MICRO_PARAMS,
    constraints=_MICRO_CONSTRAINTS,
    depends_on=("microprice",),
    warmup=lambda p: p["window"],
    reference=_STOIKOV,
)
def microprice_deviation(
    data: pd.DataFrame,
    *,
    tick_size: float = 0.01,
    n_imbalance: int = 10,
    n_spread: int = 2,
    window: int = 50_000,
    refit_every: str = "1h",
    iterations: int = 6,
) -> dict[str, np.ndarray]:
    """Micro-price minus mid: the book's short-term directional signal, in ticks and bps.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask, one row per book-ticker update.
    tick_size : float, default 0.01
        The symbol's price tick.
    n_imbalance : int, default 10
        Imbalance buckets of the micro-price model.
    n_spread : int, default 2
        Spread states of the micro-price model.
    window : int, default 50000
        Rows in each fit.
    refit_every : str, default "1h"
        Refit period.
    iterations : int, default 6
        Terms of the micro-price series.

    Returns
    -------
    dict of ndarray
        ``microprice_deviation = (P_micro - mid)/tick`` (ticks; > 0: the next
        mid move is expected up) and ``microprice_deviation_bps =
        1e4 (P_micro - mid)/mid``.

    Notes
    -----
    Same estimator and refit schedule as ``microprice``. By the mirror
    symmetry the deviation is antisymmetric in the imbalance: a book with
    ``I`` and one with ``1 - I`` get opposite deviations. Warm-up: ``window``
    bars, plus the bars until the next refit boundary.

    References
    ----------
    S. Stoikov, "The micro-price: a high-frequency estimator of future
    prices", *Quantitative Finance* 18(12) (2018).
    """
    mid, g = _microprice_adjustment(
        data,
        "microprice_deviation",
        tick_size=tick_size,
        n_imbalance=n_imbalance,
        n_spread=n_spread,
        window=window,
        refit_every=refit_every,
        iterations=iterations,
    )
    return {"microprice_deviation": g, "microprice_deviation_bps": 1e4 * g * tick_size / mid}


# --------------------------------------------------------------------------- quote dynamics


@_metric(
    name="quote_stability",
    module=MODULE,
    inputs=_L1,
    outputs=("quote_stability", "price_stability"),
    params={"timeperiod": 600},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["timeperiod"],
    reference="Proposed index in the spirit of Hasbrouck & Saar (2009), J. Financial Markets 12, "
    "fleeting orders",
)
def quote_stability(data: pd.DataFrame, *, timeperiod: int = 600) -> dict[str, np.ndarray]:
    """Quote stability index: the share of book updates that left the top of book unchanged.

    Parameters
    ----------
    data : DataFrame
        Best bid and ask sampled on a fixed grid or per depth update (e.g. the
        ``@depth@100ms`` stream): ``bid_price``, ``bid_qty``, ``ask_price``,
        ``ask_qty``.
    timeperiod : int, default 600
        Updates ``W`` in the window (600 x 100 ms = one minute).

    Returns
    -------
    dict of ndarray
        ``quote_stability = 1 - N(best price or size changed)/W`` and
        ``price_stability = 1 - N(best price changed)/W``, both in [0, 1]
        (1: nothing moved).

    Notes
    -----
    A proposed index, not a standard one. Rows of the book-ticker stream are by
    construction changes, so sample the book on a grid (or use depth updates,
    which also change deeper levels) for this to carry information. A quote
    that changes after Exp(2 s) lifetimes, sampled every 100 ms, gives about
    0.95. Warm-up: ``W`` bars.

    References
    ----------
    J. Hasbrouck and G. Saar, "Technology and liquidity provision: the
    blurring of traditional definitions", *J. Financial Markets* 12 (2009).
    """
    bid, bid_qty, ask, ask_qty = top_of_book(data, "quote_stability")
    price_moved = (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1])
    any_moved = price_moved | (bid_qty[1:] != bid_qty[:-1]) | (ask_qty[1:] != ask_qty[:-1])
    out = {}
    for name, moved in (("quote_stability", any_moved), ("price_stability", price_moved)):
        share = nm.nan_array(len(bid))
        share[1:] = 1.0 - nm.trailing_sum(moved.astype(np.float64), timeperiod) / timeperiod
        out[name] = share
    return out


@_metric(
    name="order_duration",
    module=MODULE,
    inputs=_L1,
    outputs=("bid_level_duration", "ask_level_duration"),
    params={"timeperiod": 600},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    reference="Exponential lifetime MLE under censoring (e.g. Lawless 2003, Statistical Models and "
    "Methods for Lifetime Data); Hasbrouck & Saar (2009)",
)
def order_duration(data: pd.DataFrame, *, timeperiod: int = 600) -> dict[str, np.ndarray]:
    """Mean lifetime of the best bid and best ask price levels, in seconds (L1 proxy).

    Parameters
    ----------
    data : DataFrame
        Best bid and ask per update or on a grid: ``bid_price``, ``bid_qty``,
        ``ask_price``, ``ask_qty``.
    timeperiod : int, default 600
        Updates ``W`` in the window.

    Returns
    -------
    dict of ndarray
        ``bid_level_duration`` and ``ask_level_duration``: estimated mean time
        a best price survives, in seconds, >= 0; NaN when it never changed in
        the window (the estimate is unbounded).

    Notes
    -----
    True order lifetimes (placement to fill or cancel) need order-by-order
    (L3) data, which Binance does not publish; the lifetime of the best price
    level is the proxy. Over the window the level is always alive, so the
    exposure is the window's time span, and the exponential MLE with
    right-censoring (and left truncation, by memorylessness) is
    ``(τ_t - τ_{t-W}) / N(best price changes)``. Lifetimes ~ Exp(2 s) give
    about 2. Warm-up: ``W`` bars.

    References
    ----------
    J. Lawless, *Statistical Models and Methods for Lifetime Data* (2003),
    ch. 2; J. Hasbrouck and G. Saar, *J. Financial Markets* 12 (2009).
    """
    bid, _, ask, _ = top_of_book(data, "order_duration")
    times = data.index.asi8
    span = nm.nan_array(len(times))
    span[timeperiod:] = (times[timeperiod:] - times[:-timeperiod]) / 1e9
    out = {}
    for name, price in (("bid_level_duration", bid), ("ask_level_duration", ask)):
        changes = nm.nan_array(len(price))
        changes[1:] = nm.trailing_sum((price[1:] != price[:-1]).astype(np.float64), timeperiod)
        out[name] = nm.safe_divide(span, changes)
    return out


# --------------------------------------------------------------------------- price impact and flow


def _slope_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slope of ``y`` on ``x`` (with intercept) per row; NaN when ``x`` is constant."""
    dx = x - x.mean(axis=1, keepdims=True)
    sxx = (dx * dx).sum(axis=1)
    ok = sxx > 0.0
    return np.where(
        ok, (dx * (y - y.mean(axis=1, keepdims=True))).sum(axis=1) / np.where(ok, sxx, 1.0), np.nan
    )


@_metric(
    name="kyle_lambda",
    module=MODULE,
    inputs=("close", "buy_volume", "sell_volume"),
    outputs=("kyle_lambda",),
    params={"timeperiod": 60},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"],
    reference="Kyle (1985), Econometrica 53; Hasbrouck (2009), J. Finance 64; statsmodels OLS",
)
def kyle_lambda(data: pd.DataFrame, *, timeperiod: int = 60) -> np.ndarray:
    """Kyle's lambda: rolling OLS slope of price change on signed volume.

    Parameters
    ----------
    data : DataFrame
        ``close`` (last price of the row) and taker flow ``buy_volume``,
        ``sell_volume``; rows are short buckets (e.g. 1-minute) or trades.
    timeperiod : int, default 60
        Rows ``W`` per regression (60 one-minute buckets = one hour).

    Returns
    -------
    ndarray
        ``kyle_lambda``: price units per unit of signed base volume (> 0 when
        buying pushes the price up); NaN when the signed volume is constant
        over the window.

    Notes
    -----
    Model: ``ΔP_k = α + λ SV_k + ε_k`` with ``ΔP_k = close_k - close_{k-1}`` and
    ``SV_k = V_buy - V_sell`` of row ``k``, fitted by OLS over the last ``W``
    rows (exact per window; equal to statsmodels ``OLS``). A larger ``λ`` means
    a thinner market: less volume moves the price more. HAC standard errors
    (Newey–West) are the right ones for inference on ``λ``; the point estimate
    does not depend on them. A planted ``λ = 0.002`` is recovered.
    Warm-up: ``W`` bars.

    References
    ----------
    A. Kyle, "Continuous auctions and insider trading", *Econometrica* 53
    (1985); J. Hasbrouck, "Trading costs and returns for U.S. equities",
    *J. Finance* 64 (2009).
    """
    buy, sell = flow(data, "kyle_lambda")
    close = nm.column(data, "close")
    signed = (buy - sell)[1:]
    return nm.placed(nm.window_apply(signed, np.diff(close), timeperiod, _slope_rows), 1, len(close))


@_metric(
    name="latency_adjusted_flow",
    module=MODULE,
    inputs=("buy_volume", "sell_volume", "latency_ms"),
    outputs=("latency_adjusted_flow",),
    params={"timeperiod": 100, "latency_period": 1000, "latency_quantile": 0.95},
    constraints={
        "timeperiod": at_least(1),
        "latency_period": at_least(1),
        "latency_quantile": between(0.0, 1.0),
    },
    value_range=(-1.0, 1.0),
    warmup=lambda p: max(p["latency_period"] - 1, p["timeperiod"]),
    reference="Proposed latency-adjusted signed-flow ratio (not standard); numpy",
)
def latency_adjusted_flow(
    data: pd.DataFrame, *, timeperiod: int = 100, latency_period: int = 1000, latency_quantile: float = 0.95
) -> np.ndarray:
    """Signed taker-flow ratio of the flow that was observable at decision time.

    Parameters
    ----------
    data : DataFrame
        Trades (or short buckets) indexed by exchange time, with taker flow
        ``buy_volume``, ``sell_volume`` and the feed latency ``latency_ms``
        (local receive time minus exchange time, >= 0).
    timeperiod : int, default 100
        ``w``: observable rows in the ratio.
    latency_period : int, default 1000
        Rows over which the latency quantile is measured.
    latency_quantile : float, default 0.95
        ``L`` is this quantile of the recent latencies (p95).

    Returns
    -------
    ndarray
        ``latency_adjusted_flow`` in [-1, 1]: ``(Σ V_buy - Σ V_sell)/Σ V``
        over the last ``w`` rows with exchange time ``<= t - L``.

    Notes
    -----
    A proposed measure. At row ``t`` a strategy has only seen events older than
    its feed latency; ``L_t`` is the ``latency_quantile`` of ``latency_ms`` over
    the last ``latency_period`` rows, and the ratio uses only the ``w`` rows
    with ``τ_i <= τ_t - L_t``. Its gap to the naive ratio
    (``volume_imbalance`` over ``w`` rows) is the staleness risk. Rewriting
    every trade of the last ``L`` as a buy leaves it unchanged. Negative
    latencies (a local clock behind the exchange's) raise an error: correct the
    clock offset first. Warm-up: ``max(latency_period - 1, w)`` bars; later
    while fewer than ``w`` rows are observable.

    References
    ----------
    Proposed for this platform; latency quantiles as in exchange feed
    monitoring practice.
    """
    buy, sell = flow(data, "latency_adjusted_flow")
    check_nonnegative("latency_adjusted_flow", data, ("latency_ms",))
    n = len(buy)
    latency = (
        pd.Series(nm.column(data, "latency_ms"))
        .rolling(latency_period)
        .quantile(latency_quantile, interpolation="linear")
        .to_numpy()
    )
    known = np.isfinite(latency)
    times = data.index.asi8
    cutoff = times - np.rint(np.where(known, latency, 0.0) * 1e6).astype(np.int64)
    last = np.minimum(np.searchsorted(times, cutoff, side="right") - 1, np.arange(n))
    first = last + 1 - timeperiod
    cum_buy = np.concatenate(([0.0], np.cumsum(buy)))
    cum_sell = np.concatenate(([0.0], np.cumsum(sell)))
    ok = known & (first >= 0) & (np.arange(n) >= max(latency_period - 1, timeperiod))
    first = np.where(ok, first, 0)
    bought = cum_buy[last + 1] - cum_buy[first]
    sold = cum_sell[last + 1] - cum_sell[first]
    return np.where(ok, nm.safe_divide(bought - sold, bought + sold), np.nan)


def _zscore_memory(p: Mapping[str, Any]) -> int:
    return p["seed_period"] + 1 + nm.decay_bars(p["decay"])


@_metric(
    name="hf_zscore",
    module=MODULE,
    inputs=("close",),
    outputs=("hf_zscore",),
    params={"decay": 0.94, "seed_period": 30},
    constraints={"decay": between(0.0, 1.0, inclusive=False), "seed_period": at_least(1)},
    warmup=lambda p: p["seed_period"] + 1,
    memory=_zscore_memory,
    reference="J.P. Morgan/Reuters (1996), RiskMetrics Technical Document (EWMA variance)",
)
def hf_zscore(data: pd.DataFrame, *, decay: float = 0.94, seed_period: int = 30) -> np.ndarray:
    """High-frequency z-score: each return over the EWMA volatility known before it.

    Parameters
    ----------
    data : DataFrame
        A ``close`` column (tick prices or 1-second bars).
    decay : float, default 0.94
        RiskMetrics ``λ``; the EWMA weight of a new squared return is ``1 - λ``.
    seed_period : int, default 30
        Returns averaged to seed the variance.

    Returns
    -------
    ndarray
        ``hf_zscore = r_t / σ̂_{t-1}`` in standard deviations (unbounded);
        NaN while the variance is 0.

    Notes
    -----
    ``r_t = ln(P_t/P_{t-1})``; ``σ̂²_m = mean(r²_1 .. r²_m)`` at ``m`` =
    ``seed_period``, then ``σ̂²_t = λ σ̂²_{t-1} + (1 - λ) r²_t``. Using the
    variance up to ``t - 1`` keeps a jump from diluting its own score: a 10σ
    jump scores about 10, and elsewhere ``std(z)`` is about 1.
    Warm-up: ``seed_period + 1`` bars; the seed's influence decays as ``λ^j``
    (``memory_bars``).

    References
    ----------
    J.P. Morgan/Reuters, *RiskMetrics — Technical Document*, 4th ed. (1996).
    """
    returns = nm.log_returns(nm.column(data, "close"))
    variance = nm.ewma_variance(returns, decay, seed_period)
    return nm.safe_divide(returns, np.sqrt(nm.shift(variance, 1)))


@_metric(
    name="trade_direction_ratio",
    module=MODULE,
    inputs=("buy_trades", "sell_trades"),
    outputs=("trade_direction_ratio",),
    params={"timeperiod": 1},
    constraints={"timeperiod": at_least(1)},
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Lee & Ready (1991), J. Finance 46 (trade direction); exchange aggressor flag",
)
def trade_direction_ratio(data: pd.DataFrame, *, timeperiod: int = 1) -> np.ndarray:
    """Net share of buyer-initiated trades by count.

    Parameters
    ----------
    data : DataFrame
        ``buy_trades`` and ``sell_trades``: counts of taker buys and sells per
        row.
    timeperiod : int, default 1
        Rows ``W`` summed.

    Returns
    -------
    ndarray
        ``trade_direction_ratio = (N_buy - N_sell)/(N_buy + N_sell)`` in
        [-1, 1]; NaN without trades.

    Notes
    -----
    By count rather than volume, so one whale does not dominate it (compare
    ``volume_imbalance``). The side comes from the exchange's aggressor flag;
    the Lee–Ready rule is only needed without one. 60/40 buyer-initiated
    trades give 0.2. Warm-up: ``W - 1`` bars.

    References
    ----------
    C. Lee and M. Ready, "Inferring trade direction from intraday data",
    *J. Finance* 46 (1991).
    """
    check_nonnegative("trade_direction_ratio", data, ("buy_trades", "sell_trades"))
    return imbalance(nm.column(data, "buy_trades"), nm.column(data, "sell_trades"), timeperiod)


@_metric(
    name="tick_volume",
    module=MODULE,
    inputs=("trade_count",),
    outputs=("tick_volume", "relative_tick_volume"),
    params={"timeperiod": 1, "baseline": 24},
    constraints={"timeperiod": at_least(1), "baseline": at_least(1)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"] - 1 + p["baseline"],
    reference="Tick volume (trade count per bar), e.g. Ané & Geman (2000), J. Finance 55",
)
def tick_volume(data: pd.DataFrame, *, timeperiod: int = 1, baseline: int = 24) -> dict[str, np.ndarray]:
    """Tick volume: trades per bar, and relative to its recent average.

    Parameters
    ----------
    data : DataFrame
        A ``trade_count`` column (exchange trades per row, >= 0).
    timeperiod : int, default 1
        Rows ``W`` summed into one tick volume (1: per bar).
    baseline : int, default 24
        Previous rows ``B`` whose mean tick volume is the reference.

    Returns
    -------
    dict of ndarray
        ``tick_volume = Σ trade_count`` over ``W`` rows, and
        ``relative_tick_volume``: that over the mean tick volume of the ``B``
        rows before ``t`` (1: usual activity; the baseline excludes ``t`` so a
        burst does not dilute itself). Both >= 0.

    Notes
    -----
    Counting trades rather than volume tracks the arrival of information (Ané
    and Geman: returns are close to normal in trade time). Binance aggTrades
    merge the fills of one taker order at one price: count
    ``last_trade_id - first_trade_id + 1`` for raw trades. Poisson(50) arrivals
    give a mean of 50 and a relative level near 1. Warm-up: ``W - 1 + B`` bars.

    References
    ----------
    T. Ané and H. Geman, "Order flow, transaction clock, and normality of
    asset returns", *J. Finance* 55 (2000).
    """
    check_nonnegative("tick_volume", data, ("trade_count",))
    ticks = nm.trailing_sum(nm.column(data, "trade_count"), timeperiod)
    start = timeperiod - 1
    reference = nm.nan_array(len(ticks))
    reference[start:] = nm.shift(nm.trailing_sum(ticks[start:], baseline) / baseline, 1)
    return {"tick_volume": ticks, "relative_tick_volume": nm.safe_divide(ticks, reference)}
