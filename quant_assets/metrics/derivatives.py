"""Family C, derivatives and sentiment (module ``deriv_sentim``).

Inputs are per-symbol rows (hourly bars in the feature tables) with:
``funding_rate`` (fraction per funding interval, the settled or live rate
forward-filled onto the bars), ``open_interest`` (base-asset contracts,
Binance ``sum_open_interest``), ``long_account`` / ``short_account`` (account
shares of the long/short ratio endpoints), the taker flow columns
``buy_volume`` / ``sell_volume`` of :mod:`quant_assets.metrics.orderflow`, and
OHLC bars. Windows are counted in rows.

Volatility skew and gamma exposure need an option chain, which the futures API
does not serve (Deribit's public API does). They are implemented on the
columns they need, one expiry per row (the module layer interpolates to a
constant tenor, or sums ``gamma_exposure`` over expiries, which is additive):

``forward``, ``tenor_days``
    Forward (or underlying) price and time to expiry in days (> 0).
``strike_1 .. strike_15``, ``iv_1 .. iv_15``
    :data:`OPTION_STRIKES` strikes of that expiry (any order; pad a shorter
    chain by repeating a strike with its IV and zero open interest) and their Black-76
    implied volatilities as fractions (0.6 = 60 %; Deribit's ``mark_iv`` is
    in percent).
``call_oi_1 .. call_oi_15``, ``put_oi_1 .. put_oi_15``
    Open interest per strike in coins (Deribit options are 1 coin each).

Proxies computable from futures bars alone are separate metrics with their own
names: ``realized_skew`` for ``volatility_skew`` and ``gamma_exposure_proxy``
for ``gamma_exposure``; they measure something else and say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from quant_assets.metrics import _liquidation as liq
from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import check_nonnegative, check_positive
from quant_assets.metrics.orderflow import flow, imbalance
from quant_assets.metrics.registry import at_least, between, greater_than
from quant_assets.metrics.registry import metric as _metric

MODULE = "deriv_sentim"

#: Strikes per row in the option-chain convention.
OPTION_STRIKES = 15
#: Distance bins per side of the liquidation heatmap.
LIQUIDATION_BINS = 20

_STRIKES = tuple(f"strike_{k}" for k in range(1, OPTION_STRIKES + 1))
_IVS = tuple(f"iv_{k}" for k in range(1, OPTION_STRIKES + 1))
_CALL_OI = tuple(f"call_oi_{k}" for k in range(1, OPTION_STRIKES + 1))
_PUT_OI = tuple(f"put_oi_{k}" for k in range(1, OPTION_STRIKES + 1))
_SMILE = ("forward", "tenor_days", *_STRIKES, *_IVS)


# --------------------------------------------------------------------------- rolling helpers


def _skew_rows(w: np.ndarray, _unused: Any = None) -> np.ndarray:
    """Bias-corrected sample skewness G1 of each row (pandas ``skew``,
    ``scipy.stats.skew(bias=False)``); NaN for a constant row."""
    n = w.shape[1]
    d = w - w.mean(axis=1, keepdims=True)
    m2 = (d * d).mean(axis=1)
    m3 = (d * d * d).mean(axis=1)
    scale = np.abs(w).max(axis=1)
    flat = m2 <= (1e-12 * scale) ** 2
    g1 = m3 / np.where(flat, 1.0, m2) ** 1.5
    return np.where(flat, np.nan, g1 * math.sqrt(n * (n - 1)) / (n - 2))


def _corr_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of paired rows; NaN where either row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = den > 0.0
    return np.where(ok, np.clip((a * b).sum(axis=1) / np.where(ok, den, 1.0), -1.0, 1.0), np.nan)


# --------------------------------------------------------------------------- funding, OI, ratios


@_metric(
    name="funding_rate",
    module=MODULE,
    inputs=("funding_rate",),
    outputs=("funding_rate_mean", "funding_rate_annualized"),
    params={"timeperiod": 24, "interval_hours": 8.0},
    constraints={"timeperiod": at_least(1), "interval_hours": greater_than(0.0)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Binance Support, Introduction to Binance Futures Funding Rates; BitMEX perpetual guide",
)
def funding_rate(data: pd.DataFrame, *, timeperiod: int = 24, interval_hours: float = 8.0) -> dict[str, Any]:
    """Funding rate smoothed over a trailing window and annualized by its interval.

    Parameters
    ----------
    data : DataFrame
        A ``funding_rate`` column: fraction per funding interval (0.0001 =
        0.01 %), forward-filled onto the rows.
    timeperiod : int, default 24
        Rows ``W`` averaged (24 hourly bars = one day, three 8-hour prints).
    interval_hours : float, default 8.0
        Funding interval of the symbol in hours (8, 4 or 1 on Binance; store it
        per symbol, it differs).

    Returns
    -------
    dict of ndarray
        ``funding_rate_mean``: trailing mean, per interval;
        ``funding_rate_annualized = mean (24/interval_hours) 365``, a yearly
        fraction (> 0: longs pay shorts, crowded long).

    Notes
    -----
    Binance sets ``F = P + clamp(I - P, -0.05 %, +0.05 %)`` with the interest
    rate ``I = 0.01 %`` per 8 h and ``P`` the time-weighted premium index, so
    0.01 % per 8 h is the neutral baseline (10.95 % a year). Warm-up: ``W - 1``
    bars.

    References
    ----------
    Binance Support, "Introduction to Binance Futures Funding Rates"; BitMEX,
    "Perpetual Contracts Guide".
    """
    mean = nm.trailing_sum(nm.column(data, "funding_rate"), timeperiod) / timeperiod
    return {"funding_rate_mean": mean, "funding_rate_annualized": mean * (24.0 / interval_hours) * 365.0}


@_metric(
    name="oi_change_rate",
    module=MODULE,
    inputs=("open_interest",),
    outputs=("oi_change_rate",),
    params={"timeperiod": 24},
    constraints={"timeperiod": at_least(1)},
    value_range=(-1.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    reference="Exchange open-interest definition (Binance openInterestHist); pandas pct_change",
)
def oi_change_rate(data: pd.DataFrame, *, timeperiod: int = 24) -> np.ndarray:
    """Relative change of open interest over ``k`` bars.

    Parameters
    ----------
    data : DataFrame
        An ``open_interest`` column (contracts, >= 0).
    timeperiod : int, default 24
        ``k`` in bars.

    Returns
    -------
    ndarray
        ``oi_change_rate = OI_t / OI_{t-k} - 1``, a fraction >= -1; NaN where
        ``OI_{t-k} = 0``.

    Notes
    -----
    Measured in contracts, so a price move alone does not change it (the USD
    value would). Binance serves only 30 days of OI history; older history
    comes from the data.binance.vision ``metrics`` files. A +10 % step gives
    0.10 for ``k`` bars. Warm-up: ``k`` bars.

    References
    ----------
    Binance USDⓈ-M API, ``/futures/data/openInterestHist``.
    """
    check_nonnegative("oi_change_rate", data, ("open_interest",))
    oi = nm.column(data, "open_interest")
    return nm.safe_divide(oi, nm.shift(oi, timeperiod)) - 1.0


@_metric(
    name="long_short_ratio",
    module=MODULE,
    inputs=("long_account", "short_account"),
    outputs=("long_short_ratio", "long_short_zscore"),
    params={"timeperiod": 168},
    constraints={"timeperiod": at_least(2)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Binance USDⓈ-M API, globalLongShortAccountRatio / topLongShortAccountRatio",
)
def long_short_ratio(data: pd.DataFrame, *, timeperiod: int = 168) -> dict[str, np.ndarray]:
    """Long/short account ratio and its z-score in log space.

    Parameters
    ----------
    data : DataFrame
        ``long_account`` and ``short_account``: shares of accounts net long
        and net short (Binance ``longAccount``, ``shortAccount``).
    timeperiod : int, default 168
        Window ``W`` of the z-score in bars (one week of hourly bars),
        including the current bar.

    Returns
    -------
    dict of ndarray
        ``long_short_ratio = long/short`` (>= 0; 1.5 for 60/40) and
        ``long_short_zscore``: ``(ln ratio - mean_W) / std_W`` (population std),
        how crowded the long side is against its own recent history.

    Notes
    -----
    The ratio counts accounts, not size: aggregate open interest is always one
    long per short, so it measures crowding by account. The z-score is taken on
    ``ln ratio`` so that 2:1 and 1:2 are symmetric. NaN where a share is 0 or
    the window is flat. Warm-up: ``W - 1`` bars.

    References
    ----------
    Binance USDⓈ-M API, ``globalLongShortAccountRatio``,
    ``topLongShortAccountRatio``, ``topLongShortPositionRatio``.
    """
    check_nonnegative("long_short_ratio", data, ("long_account", "short_account"))
    ratio = nm.safe_divide(nm.column(data, "long_account"), nm.column(data, "short_account"))
    log_ratio = pd.Series(np.log(np.where(ratio > 0.0, ratio, np.nan)))
    rolling = log_ratio.rolling(timeperiod, min_periods=timeperiod)
    sd = rolling.std(ddof=0).to_numpy()
    flat = ~(sd > 1e-12)
    z = (log_ratio.to_numpy() - rolling.mean().to_numpy()) / np.where(flat, 1.0, sd)
    return {"long_short_ratio": ratio, "long_short_zscore": np.where(flat, np.nan, z)}


@_metric(
    name="funding_skew",
    module=MODULE,
    inputs=("funding_rate",),
    outputs=("funding_skew",),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Rolling sample skewness G1 (Joanes & Gill 1998, The Statistician 47) of funding prints",
)
def funding_skew(data: pd.DataFrame, *, timeperiod: int = 720) -> np.ndarray:
    """Funding-rate skew, asymmetry variant: rolling skewness of the funding rate.

    Parameters
    ----------
    data : DataFrame
        A ``funding_rate`` column (fraction per interval, forward-filled).
    timeperiod : int, default 720
        Window ``W`` in bars (30 days of hourly bars, 90 prints of 8 h).

    Returns
    -------
    ndarray
        ``funding_skew``: bias-corrected sample skewness G1 over the window;
        > 0 when funding spikes upward (long squeezes building), < 0 when it
        spikes downward. NaN for a constant window (funding pinned at the
        interest rate).

    Notes
    -----
    "Funding skew" has no standard definition; this is the **asymmetry**
    variant (iii) of the reference notes. The cross-venue variant (OI-weighted
    funding minus the venue median) needs other venues' funding, and the term
    variant (annualized funding minus the quarterly basis) needs dated-future
    prices; neither is in this platform's data. Formula:
    ``G1 = sqrt(W(W-1))/(W-2) m3/m2^1.5`` with central moments ``m_k`` of the
    window, computed exactly per window (equal to pandas ``rolling.skew`` and
    ``scipy.stats.skew(bias=False)``). A Gamma(4)-distributed funding series
    has skewness 1. Warm-up: ``W - 1`` bars.

    References
    ----------
    D. Joanes and C. Gill, "Comparing measures of sample skewness and
    kurtosis", *The Statistician* 47 (1998).
    """
    return nm.window_apply(nm.column(data, "funding_rate"), None, timeperiod, _skew_rows)


@_metric(
    name="volume_imbalance",
    module=MODULE,
    inputs=("buy_volume", "sell_volume"),
    outputs=("volume_imbalance",),
    params={"timeperiod": 1},
    constraints={"timeperiod": at_least(1)},
    depends_on=("taker_dominance",),
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Taker volume imbalance; cf. Easley, López de Prado & O'Hara (2012), RFS 25 (VPIN)",
)
def volume_imbalance(data: pd.DataFrame, *, timeperiod: int = 1) -> np.ndarray:
    """Volume imbalance index: net taker buying as a share of taker volume.

    Parameters
    ----------
    data : DataFrame
        Taker flow: ``buy_volume``, ``sell_volume`` (from klines,
        ``taker_buy_base_volume`` and ``volume - taker_buy_base_volume``).
    timeperiod : int, default 1
        Rows ``W`` summed (1: per bar).

    Returns
    -------
    ndarray
        ``volume_imbalance`` in [-1, 1]; NaN where there was no volume.

    Notes
    -----
    Formula: ``VII = (Σ V_buy - Σ V_sell) / (Σ V_buy + Σ V_sell) = 2 TDR - 1``
    with the taker dominance ratio ``TDR`` of family D. 70 % taker buying gives
    +0.4. Warm-up: ``W - 1`` bars.

    References
    ----------
    D. Easley, M. López de Prado and M. O'Hara, "Flow toxicity and liquidity in
    a high-frequency world", *RFS* 25 (2012) (VPIN, a bucketed imbalance).
    """
    buy, sell = flow(data, "volume_imbalance")
    return imbalance(buy, sell, timeperiod)


# --------------------------------------------------------------------------- liquidations


_LIQ_OUTPUTS = (
    *(f"liq_long_{k}" for k in range(1, LIQUIDATION_BINS + 1)),
    *(f"liq_short_{k}" for k in range(1, LIQUIDATION_BINS + 1)),
    "liq_long_total",
    "liq_short_total",
)


@_metric(
    name="liquidation_heatmap",
    module=MODULE,
    inputs=("high", "low", "close", "open_interest", "buy_volume", "sell_volume"),
    outputs=_LIQ_OUTPUTS,
    params={"lookback": 720, "bin_pct": 1.0, **liq.LADDER_PARAMS},
    constraints={
        "lookback": at_least(1),
        "bin_pct": greater_than(0.0),
        **liq.LADDER_CONSTRAINTS,
    },
    value_range=(0.0, math.inf),
    warmup=1,
    memory=lambda p: p["lookback"],
    reference="OI-flow reconstruction as described by Coinglass/Hyblock; Binance, How to calculate "
    "liquidation price (USDⓈ-M, isolated)",
)
def liquidation_heatmap(
    data: pd.DataFrame,
    *,
    lookback: int = 720,
    bin_pct: float = 1.0,
    mmr: float = 0.005,
    leverages: Sequence[float] = liq.LEVERAGES,
    leverage_weights: Sequence[float] = liq.LEVERAGE_WEIGHTS,
) -> dict[str, np.ndarray]:
    """Estimated liquidation heatmap: notional that would be liquidated at each distance from price.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low``, ``close``, ``open_interest`` (contracts)
        and taker flow ``buy_volume``, ``sell_volume``.
    lookback : int, default 720
        Bars ``L`` a position is remembered (720 = 30 days); older levels are
        dropped.
    bin_pct : float, default 1.0
        Bin width ``w`` in percent of the close; the map covers ``20 w`` per side.
    mmr : float, default 0.005
        Maintenance margin rate.
    leverages : sequence of float, default (5, 10, 25, 50, 100)
        Assumed leverage tiers of new positions.
    leverage_weights : sequence of float, default (0.1, 0.3, 0.3, 0.2, 0.1)
        Share of new notional at each tier (sums to 1). The tiers and weights
        are the main unverifiable assumption: expose them in config.

    Returns
    -------
    dict of ndarray
        ``liq_long_k`` (``k = 1 .. 20``): quote notional of live long positions
        whose liquidation price lies ``[(k-1) w, k w)`` percent below the close;
        ``liq_short_k``: shorts liquidated that far above; ``liq_long_total``,
        ``liq_short_total``: all live levels, also beyond the map. All >= 0.

    Notes
    -----
    Reconstruction from open-interest flow (the public description of the
    Coinglass/Hyblock heatmaps, which are proprietary), the ladder of
    :mod:`quant_assets.metrics._liquidation` that ``liquidation_zones``
    summarizes too:

    1. At bar ``s`` with ``ΔOI_s > 0`` the new notional ``ΔOI_s C_s`` is split
       into longs and shorts by the bar's taker buy share
       ``V_buy/(V_buy + V_sell)`` (half each when the bar had no taker volume)
       and across the leverage tiers.
    2. Liquidation price (isolated, linear, fees ignored): long
       ``C_s (1 - 1/λ + mmr)``, short ``C_s (1 + 1/λ - mmr)``.
    3. When OI falls (``OI_t < OI_{t-1}``) every live level shrinks pro rata
       by ``OI_t/OI_{t-1}``.
    4. A long level is gone once a later bar's low reaches it (a short level:
       the high); a level older than ``L`` bars is dropped.

    +1000 contracts at 100, split 50/50, tiers 10/25/50x weighted 50/30/20 %
    with mmr 0.5 % put longs at 90.5 / 96.5 / 98.5 and shorts at
    101.5 / 103.5 / 109.5; a low of 97 removes only the 98.5 level.
    Warm-up: 1 bar (the first ΔOI); values depend on the series start for
    ``L`` bars (``memory_bars``). Cost: ``O(n L)`` per tier, about 1 s per
    symbol-year at the defaults.

    References
    ----------
    Binance, "How to calculate liquidation price of USDⓈ-M contracts";
    Coinglass and Hyblock Capital liquidation heatmap product descriptions.
    """
    check_positive("liquidation_heatmap", data, ("high", "low", "close", "open_interest"))
    buy, sell = flow(data, "liquidation_heatmap")
    close = nm.column(data, "close")
    n = len(close)
    volume = buy + sell
    taker_buy_share = np.where(volume > 0.0, buy / np.where(volume > 0.0, volume, 1.0), 0.5)
    bins = {side: np.zeros((n, LIQUIDATION_BINS)) for side in liq.SIDES}
    totals = {side: np.zeros(n) for side in liq.SIDES}
    ladders = liq.liquidation_ladder(
        data,
        taker_buy_share,
        lookback=lookback,
        mmr=mmr,
        leverages=leverages,
        leverage_weights=leverage_weights,
    )
    for ladder in ladders:
        t = ladder.rows
        for side in liq.SIDES:
            size = ladder.notional[side]
            totals[side][t] = ladder.total(side)
            k = np.floor(liq.distance(ladder.levels[side], close[t][:, None], side) * 100.0 / bin_pct)
            inside = (size > 0.0) & (k >= 0.0) & (k < LIQUIDATION_BINS)
            row = np.broadcast_to(np.arange(len(t))[:, None], size.shape)
            slot = row[inside] * LIQUIDATION_BINS + k[inside].astype(np.int64)
            bins[side][t] = np.bincount(
                slot, weights=size[inside], minlength=len(t) * LIQUIDATION_BINS
            ).reshape(len(t), LIQUIDATION_BINS)
    out: dict[str, np.ndarray] = {}
    for side in liq.SIDES:
        for j in range(LIQUIDATION_BINS):
            out[f"liq_{side}_{j + 1}"] = bins[side][:, j]
        out[f"liq_{side}_total"] = totals[side]
    for values in out.values():
        values[0] = np.nan  # no ΔOI at the first bar
    return out


@_metric(
    name="oi_delta_divergence",
    module=MODULE,
    inputs=("close", "open_interest"),
    outputs=("oi_quadrant", "oi_divergence", "oi_price_corr"),
    params={"timeperiod": 24, "zscore_period": 168},
    constraints={"timeperiod": at_least(1), "zscore_period": at_least(3)},
    depends_on=("oi_change_rate",),
    warmup=lambda p: p["timeperiod"] + p["zscore_period"] - 1,
    reference="Practitioner price/OI quadrants (CME Group and Coinglass education material)",
)
def oi_delta_divergence(
    data: pd.DataFrame, *, timeperiod: int = 24, zscore_period: int = 168
) -> dict[str, np.ndarray]:
    """Price versus open-interest change: quadrant, continuous divergence and correlation.

    Parameters
    ----------
    data : DataFrame
        Bars with ``close`` and ``open_interest`` (contracts, > 0).
    timeperiod : int, default 24
        ``k``: changes are taken over ``k`` bars.
    zscore_period : int, default 168
        ``W``: window of the OI-change z-score and of the correlation.

    Returns
    -------
    dict of ndarray
        ``oi_quadrant``: 1 long build-up (price up, OI up, confirms the trend),
        2 short covering (up, down: bearish divergence), 3 short build-up
        (down, up), 4 long liquidation (down, down), 0 when either change is
        exactly 0; ``oi_divergence = -sign(ΔP_k) z_W(ΔOI_k)``, > 0 when OI moves
        against price; ``oi_price_corr``: correlation of one-bar log returns and
        OI changes over ``W`` bars, in [-1, 1] (< 0 flags divergence).

    Notes
    -----
    ``ΔP_k = ln(C_t/C_{t-k})``, ``ΔOI_k = OI_t/OI_{t-k} - 1`` (``oi_change_rate``);
    the z-score uses the ``W`` values of ``ΔOI_k`` ending at ``t`` (population
    std). Warm-up: ``k + W - 1`` bars.

    References
    ----------
    CME Group education, "Open interest and price"; Coinglass, open interest
    guides.
    """
    check_positive("oi_delta_divergence", data, ("close", "open_interest"))
    close, oi = nm.column(data, "close"), nm.column(data, "open_interest")
    n = len(close)
    k, w = timeperiod, zscore_period
    dp = np.log(close / nm.shift(close, k))
    doi = oi / nm.shift(oi, k) - 1.0
    quadrant = np.select(
        [(dp > 0) & (doi > 0), (dp > 0) & (doi < 0), (dp < 0) & (doi > 0), (dp < 0) & (doi < 0)],
        [1.0, 2.0, 3.0, 4.0],
        0.0,
    )
    quadrant[:k] = np.nan
    tail = doi[k:]
    mean = nm.rolling_mean(tail, w)
    sd = nm.rolling_std(tail, w)
    flat = ~(sd > 1e-12)
    z = nm.placed(np.where(flat, np.nan, (tail - mean) / np.where(flat, 1.0, sd)), k, n)
    returns = np.diff(np.log(close))
    oi_change = np.diff(oi) / oi[:-1]
    corr = nm.placed(nm.window_apply(returns, oi_change, w, _corr_rows), 1, n)
    return {"oi_quadrant": quadrant, "oi_divergence": -np.sign(dp) * z, "oi_price_corr": corr}


# --------------------------------------------------------------------------- options


def _option_chain(data: pd.DataFrame, metric: str) -> tuple[np.ndarray, ...]:
    """Validated forward, time to expiry (years), strikes and IVs, each row's
    strikes sorted ascending, as log-moneyness ``ln(K/F)``."""
    check_positive(metric, data, _SMILE)
    forward = nm.column(data, "forward")
    years = nm.column(data, "tenor_days") / 365.0
    strikes = data[list(_STRIKES)].to_numpy(dtype=np.float64)
    ivs = data[list(_IVS)].to_numpy(dtype=np.float64)
    order = np.argsort(strikes, axis=1, kind="stable")
    strikes = np.take_along_axis(strikes, order, axis=1)
    ivs = np.take_along_axis(ivs, order, axis=1)
    return forward, years, strikes, ivs, order


def _smile_at(k_grid: np.ndarray, iv_grid: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Each row's smile, linear in log-moneyness, flat beyond its end strikes, at ``k``."""
    m = k_grid.shape[1]
    below = (k_grid < k[:, None]).sum(axis=1)
    left = np.clip(below - 1, 0, m - 1)[:, None]
    right = np.clip(below, 0, m - 1)[:, None]
    k_left = np.take_along_axis(k_grid, left, axis=1)[:, 0]
    k_right = np.take_along_axis(k_grid, right, axis=1)[:, 0]
    v_left = np.take_along_axis(iv_grid, left, axis=1)[:, 0]
    v_right = np.take_along_axis(iv_grid, right, axis=1)[:, 0]
    span = k_right - k_left
    weight = np.where(span > 0.0, (k - k_left) / np.where(span > 0.0, span, 1.0), 0.0)
    return v_left + weight * (v_right - v_left)


def _delta_strike(k_grid: np.ndarray, iv_grid: np.ndarray, years: np.ndarray, d1_target: float) -> np.ndarray:
    """Log-moneyness where Black-76 ``d1 = (-k + σ(k)² T/2)/(σ(k) sqrt T)`` equals
    ``d1_target``, by bisection (vectorized over rows).

    ``d1`` falls from +inf to -inf across the bracket because the smile is flat
    beyond the end strikes, so the bracket always holds a root.
    """
    root_t = np.sqrt(years)
    top = iv_grid.max(axis=1)
    half = np.abs(k_grid).max(axis=1) + top * top * years + 10.0 * top * root_t + 1.0
    lo, hi = -half, half
    for _ in range(64):  # fixed bisection steps: the bracket shrinks by 2^64
        mid = 0.5 * (lo + hi)
        sigma = _smile_at(k_grid, iv_grid, mid)
        d1 = (-mid + 0.5 * sigma * sigma * years) / (sigma * root_t)
        right = d1 > d1_target
        lo = np.where(right, mid, lo)
        hi = np.where(right, hi, mid)
    return 0.5 * (lo + hi)


@_metric(
    name="volatility_skew",
    module=MODULE,
    inputs=_SMILE,
    outputs=("risk_reversal", "butterfly", "atm_iv"),
    params={"delta": 0.25},
    constraints={"delta": between(0.0, 0.5, inclusive=False)},
    warmup=0,
    reference="Hull, Options, Futures and Other Derivatives (risk reversal, butterfly); Black (1976) "
    "forward delta; Deribit API public/get_book_summary_by_currency",
)
def volatility_skew(data: pd.DataFrame, *, delta: float = 0.25) -> dict[str, np.ndarray]:
    """Implied-volatility skew of one expiry: delta risk reversal, butterfly and ATM vol.

    Parameters
    ----------
    data : DataFrame
        Option chain of one expiry per row: ``forward``, ``tenor_days``,
        ``strike_1 .. strike_15``, ``iv_1 .. iv_15`` (module docstring).
    delta : float, default 0.25
        Absolute forward delta of the wings (0.25: the 25-delta call and put).

    Returns
    -------
    dict of ndarray
        ``risk_reversal = IV(Δ call) - IV(Δ put)`` (< 0: puts richer, downside
        fear), ``butterfly = (IV(Δ call) + IV(Δ put))/2 - IV_ATM`` (smile
        convexity, tail demand) and ``atm_iv = IV(K = F)``, all as volatility
        fractions.

    Notes
    -----
    The smile is interpolated linearly in log-moneyness ``k = ln(K/F)`` and
    held flat beyond the outermost strikes. The call wing is the ``k`` where the
    Black-76 forward delta ``N(d1)`` equals ``delta`` and the put wing where
    ``N(d1) - 1 = -delta``, ``d1 = (-k + σ(k)² T/2)/(σ(k) sqrt T)`` with the
    smile's own ``σ(k)``, solved by bisection. ATM is ``K = F``. The smile
    ``σ = 0.6 - 0.1 k`` at 30 days has its 25-delta strikes at 113.62 and
    90.24 (F = 100) and ``RR25 = -0.0230``; a flat smile gives 0. For a
    futures-only proxy see ``realized_skew`` (a different, realized quantity).
    Warm-up: 0 bars.

    References
    ----------
    J. Hull, *Options, Futures and Other Derivatives*, ch. on volatility
    smiles; F. Black, "The pricing of commodity contracts", *J. Financial
    Economics* 3 (1976); Deribit API, ``public/get_book_summary_by_currency``.
    """
    forward, years, strikes, ivs, _ = _option_chain(data, "volatility_skew")
    k_grid = np.log(strikes / forward[:, None])
    call_k = _delta_strike(k_grid, ivs, years, float(ndtri(delta)))
    put_k = _delta_strike(k_grid, ivs, years, float(ndtri(1.0 - delta)))
    call_iv = _smile_at(k_grid, ivs, call_k)
    put_iv = _smile_at(k_grid, ivs, put_k)
    atm = _smile_at(k_grid, ivs, np.zeros(len(forward)))
    return {"risk_reversal": call_iv - put_iv, "butterfly": 0.5 * (call_iv + put_iv) - atm, "atm_iv": atm}


@_metric(
    name="gamma_exposure",
    module=MODULE,
    inputs=(*_SMILE, *_CALL_OI, *_PUT_OI),
    outputs=("gamma_exposure",),
    params={"multiplier": 1.0},
    constraints={"multiplier": greater_than(0.0)},
    warmup=0,
    reference="SqueezeMetrics (2017), Gamma Exposure (GEX) white paper; Black (1976)",
)
def gamma_exposure(data: pd.DataFrame, *, multiplier: float = 1.0) -> np.ndarray:
    """Dealer gamma exposure of one expiry, in quote currency per 1 % move.

    Parameters
    ----------
    data : DataFrame
        Option chain of one expiry per row: ``forward``, ``tenor_days``,
        ``strike_1 .. strike_15``, ``iv_1 .. iv_15``, ``call_oi_1 .. call_oi_15``,
        ``put_oi_1 .. put_oi_15`` (module docstring).
    multiplier : float, default 1.0
        Underlying units per contract (1 coin on Deribit).

    Returns
    -------
    ndarray
        ``gamma_exposure``: change of the dealers' delta, in quote currency,
        for a 1 % move of the forward. > 0: dealers long gamma (their hedging
        dampens moves); < 0: short gamma (it amplifies them).

    Notes
    -----
    Formula: ``GEX = Σ_i sign_i Γ_i OI_i m F² 0.01`` with the Black-76 gamma
    ``Γ = φ(d1)/(F σ sqrt T)``, ``d1 = (ln(F/K) + σ² T/2)/(σ sqrt T)``, and
    ``sign = +1`` for calls, ``-1`` for puts: the convention that dealers are
    long calls and short puts, a heuristic that is often wrong in crypto. GEX
    is additive over expiries: sum the per-expiry values. An ATM call with
    K = F = 100, IV 60 %, 30 days and OI 1000 has ``Γ = 0.023107`` and
    ``GEX = +2310.7``; as a put, -2310.7. Deribit's public API has no OI
    history: snapshot it hourly. For a futures-only proxy see
    ``gamma_exposure_proxy``. Warm-up: 0 bars.

    References
    ----------
    SqueezeMetrics, "Gamma Exposure (GEX)" (2017); F. Black, "The pricing of
    commodity contracts", *J. Financial Economics* 3 (1976).
    """
    forward, years, strikes, ivs, order = _option_chain(data, "gamma_exposure")
    check_nonnegative("gamma_exposure", data, (*_CALL_OI, *_PUT_OI))
    net = data[list(_CALL_OI)].to_numpy(dtype=np.float64) - data[list(_PUT_OI)].to_numpy(dtype=np.float64)
    net = np.take_along_axis(net, order, axis=1)
    vol_t = ivs * np.sqrt(years)[:, None]
    d1 = (np.log(forward[:, None] / strikes) + 0.5 * vol_t * vol_t) / vol_t
    gamma = np.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi) / (forward[:, None] * vol_t)
    return (net * gamma).sum(axis=1) * multiplier * forward * forward * 0.01


@_metric(
    name="realized_skew",
    module=MODULE,
    inputs=("close",),
    outputs=("realized_skew", "semivariance_asymmetry"),
    params={"timeperiod": 168},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"],
    reference="Barndorff-Nielsen, Kinnebrock & Shephard (2010), Measuring downside risk: realised "
    "semivariance; Joanes & Gill (1998)",
)
def realized_skew(data: pd.DataFrame, *, timeperiod: int = 168) -> dict[str, np.ndarray]:
    """Realized skew of log returns, the futures-only proxy for volatility skew.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 168
        Returns ``W`` in the window (one week of hourly bars).

    Returns
    -------
    dict of ndarray
        ``realized_skew``: sample skewness G1 of the window's log returns
        (NaN for a constant window); ``semivariance_asymmetry =
        (RS+ - RS-)/RV`` in [-1, 1], with ``RS± = Σ r² 1{r ≷ 0}`` and
        ``RV = Σ r²`` (< 0: downside variance dominates).

    Notes
    -----
    **A proxy, not implied skew**: futures carry no option prices, so this
    measures the asymmetry that has been realized, where ``volatility_skew``
    measures what options price for the future. Skew-normal returns with shape
    -5 give about -0.85. Warm-up: ``W`` bars (``W + 1`` closes).

    References
    ----------
    O. Barndorff-Nielsen, S. Kinnebrock and N. Shephard, "Measuring downside
    risk: realised semivariance", in *Volatility and Time Series Econometrics*
    (2010); D. Joanes and C. Gill, *The Statistician* 47 (1998).
    """
    returns = np.diff(np.log(nm.column(data, "close")))
    n = len(returns) + 1
    skew = nm.placed(nm.window_apply(returns, None, timeperiod, _skew_rows), 1, n)
    squared = returns * returns
    up = nm.rolling_sum(np.where(returns > 0.0, squared, 0.0), timeperiod)
    down = nm.rolling_sum(np.where(returns < 0.0, squared, 0.0), timeperiod)
    asymmetry = nm.placed(np.clip(nm.safe_divide(up - down, up + down), -1.0, 1.0), 1, n)
    return {"realized_skew": skew, "semivariance_asymmetry": asymmetry}


@_metric(
    name="gamma_exposure_proxy",
    module=MODULE,
    inputs=("close",),
    outputs=("gamma_exposure_proxy",),
    params={"timeperiod": 168},
    constraints={"timeperiod": at_least(3)},
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] + 1,
    reference="Barbon & Buraschi (2021), Gamma Fragility; Ni, Pearson, Poteshman & White (2021), RFS 34",
)
def gamma_exposure_proxy(data: pd.DataFrame, *, timeperiod: int = 168) -> np.ndarray:
    """Realized footprint of dealer gamma: minus the lag-1 autocorrelation of returns.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 168
        Return pairs ``W`` in the window.

    Returns
    -------
    ndarray
        ``gamma_exposure_proxy = -corr(r_{t-1}, r_t)`` over the last ``W``
        pairs of log returns, in [-1, 1]; > 0 (mean reversion) is the
        behaviour of a long-gamma market, < 0 (momentum) of a short-gamma one.

    Notes
    -----
    **A proxy, not GEX**: it contains no option positions. Hedgers who are long
    gamma sell rallies and buy dips, which leaves negative return
    autocorrelation; short gamma leaves positive autocorrelation (Barbon and
    Buraschi; Ni et al.). Other flows leave the same footprint, so read it as
    "the market trades as if dealers were long/short gamma". Warm-up: ``W + 1``
    bars.

    References
    ----------
    A. Barbon and A. Buraschi, "Gamma fragility", working paper (2021);
    S. Ni, N. Pearson, A. Poteshman and J. White, "Does option trading have a
    pervasive impact on underlying stock prices?", *RFS* 34 (2021).
    """
    returns = np.diff(np.log(nm.column(data, "close")))
    pairs = nm.window_apply(returns, None, timeperiod + 1, lambda w, _: _corr_rows(w[:, :-1], w[:, 1:]))
    return -nm.placed(pairs, 1, len(returns) + 1)
