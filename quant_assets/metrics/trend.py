"""Family A, trend and momentum (module ``trend_moment``).

Classical indicators follow TA-Lib's definitions, parameter names and warm-up
(EMA seeded by the SMA of its first period, Wilder smoothing for RSI/ATR/ADX,
population standard deviation for Bollinger Bands, MACD 12/26/9), and TA-Lib
is their engine: each calls the TA-Lib function of the same definition, then
applies this library's documented deviations on top of its output.

Each classical indicator also keeps a vectorized numpy implementation of the
same definition (recursions through :func:`scipy.signal.lfilter`, rolling
windows through cumulative sums or O(n) filters, nothing looping over bars in
Python). It computes the value wherever TA-Lib cannot: a period above TA-Lib's
limit of 100,000 bars, TA-Lib's process-global compatibility or unstable-period
settings changed from the defaults these definitions assume, or a degenerate
series on which TA-Lib's special-casing differs from a deviation below in a
way that cannot be patched bar by bar. The tests check the two engines against
each other and against TA-Lib.

Degenerate ratios are NaN rather than TA-Lib's 0 (an RSI of a series that has
never moved, a stochastic of a flat RSI, a rate of change from a zero price,
a band position between collapsed bands): 0 would read as "oversold", which
the data does not say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pywt
import talib
from scipy.signal import hilbert, lfilter, lfiltic, ss2tf

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics.registry import at_least, greater_than, greater_than_param
from quant_assets.metrics.registry import metric as _metric

MODULE = "trend_moment"
_TALIB = "TA-Lib reference implementation (ta-lib.org), function {}"

#: Longest period TA-Lib accepts; longer windows use the numpy implementations.
_TALIB_MAX_PERIOD = 100_000
#: Largest magnitude TA-Lib accepts for a real parameter (BBANDS ``nbdevup/nbdevdn``).
_TALIB_MAX_REAL = 3e37
#: ``+DI + -DI`` (percent) below which TA-Lib's ADX may special-case a bar.
_DI_SUM_FLOOR = 1e-6
#: Relative range below which a stochastic window is flat (TA-Lib's TA_EPSILON scaled test).
_FLAT_RANGE = 1e-14


def _ema_memory(p: Mapping[str, Any]) -> int:
    k = 2.0 / (p["timeperiod"] + 1.0)
    return p["timeperiod"] - 1 + nm.decay_bars(1.0 - k)


def _wilder_memory(period: int) -> int:
    return period + nm.decay_bars(1.0 - 1.0 / period)


# --------------------------------------------------------------------------- engine


def _talib_serves(*periods: int, minimum: int = 1, unstable: tuple[str, ...] = ()) -> bool:
    """Whether TA-Lib computes these periods with this library's definitions.

    False when a period lies outside TA-Lib's bounds ``[minimum, 100000]``, or
    when TA-Lib's process-global settings differ from the defaults the
    definitions here assume: compatibility "default" (not Metastock), and no
    unstable period for the TA-Lib functions named in ``unstable`` (an unstable
    period delays TA-Lib's first output and changes its seed). Callers then use
    their numpy implementation, which gives the same values.
    """
    if any(p < minimum or p > _TALIB_MAX_PERIOD for p in periods):
        return False
    if talib.get_compatibility() != 0:
        return False
    return all(talib.get_unstable_period(name) == 0 for name in unstable)


def _column(data: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as a C-contiguous float64 array, TA-Lib's input format.

    Converted once per metric call and shared by every TA-Lib call; no copy
    when the column already is one (a float column of a DataFrame is).
    """
    return np.ascontiguousarray(nm.column(data, name))


def _ratio(num: np.ndarray, den: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0``; :func:`nm.safe_divide` in one
    division and one comparison over the data, written to ``out`` if given
    (which may be ``num``, a temporary the caller no longer needs)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.divide(num, den, out=out)
    zero = den == 0.0
    if zero.any():
        result[zero] = np.nan
    return result


# --------------------------------------------------------------------------- moving averages


def _sma_array(values: np.ndarray, period: int) -> np.ndarray:
    if _talib_serves(period):
        return talib.SMA(values, period)
    return nm.rolling_mean(values, period)


@_metric(
    name="sma",
    module=MODULE,
    inputs=("close",),
    outputs=("sma",),
    params={"timeperiod": 30},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference=_TALIB.format("SMA"),
)
def sma(data: pd.DataFrame, *, timeperiod: int = 30) -> np.ndarray:
    """Simple moving average of the close.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 30
        Window length in bars (TA-Lib's default).

    Returns
    -------
    ndarray
        ``sma``, in price units.

    Notes
    -----
    Formula: ``SMA_t = (1/n) * sum(close[t-n+1 .. t])``.
    Value range: the range of the close. Warm-up: ``n - 1`` bars (TA-Lib lookback).
    Engine: TA-Lib ``SMA``; a numpy cumulative sum for ``n > 100000``.

    References
    ----------
    TA-Lib ``SMA``.
    """
    return _sma_array(_column(data, "close"), timeperiod)


@_metric(
    name="ema",
    module=MODULE,
    inputs=("close",),
    outputs=("ema",),
    params={"timeperiod": 30},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"] - 1,
    memory=_ema_memory,
    reference="Brown (1956) exponential smoothing; " + _TALIB.format("EMA"),
)
def ema(data: pd.DataFrame, *, timeperiod: int = 30) -> np.ndarray:
    """Exponential moving average of the close, seeded like TA-Lib.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 30
        Span ``n`` in bars; smoothing factor ``k = 2/(n+1)``.

    Returns
    -------
    ndarray
        ``ema``, in price units.

    Notes
    -----
    Formula: ``EMA_{n-1} = mean(close[0 .. n-1])`` (TA-Lib's seed; pandas'
    ``ewm(adjust=False)`` seeds with ``close[0]`` instead and differs by up to
    ~1 % of a bar's range for the first ``5n`` bars), then
    ``EMA_t = EMA_{t-1} + k (close_t - EMA_{t-1})``.
    Value range: the range of the close. Warm-up: ``n - 1`` bars. The seed's
    influence decays as ``(1-k)^j``; it is below 1e-8 after about
    ``n - 1 + 9.2 (n+1)/2`` bars (``memory_bars``).
    Engine: TA-Lib ``EMA``; the same recursion through ``lfilter`` for
    ``n > 100000`` or a non-zero TA-Lib unstable period.

    References
    ----------
    R. G. Brown, *Exponential Smoothing for Predicting Demand* (1956);
    TA-Lib ``EMA``.
    """
    close = _column(data, "close")
    if _talib_serves(timeperiod, unstable=("EMA",)):
        return talib.EMA(close, timeperiod)
    return nm.ema(close, timeperiod)


# --------------------------------------------------------------------------- oscillators


def _rsi_numpy(close: np.ndarray, period: int) -> np.ndarray:
    """RSI from Wilder averages run by ``lfilter``; NaN where both are 0."""
    delta = np.empty_like(close)
    delta[0] = 0.0
    np.subtract(close[1:], close[:-1], out=delta[1:])
    gain = np.maximum(delta, 0.0)
    loss = np.subtract(gain, delta, out=delta)  # max(d, 0) - d = max(-d, 0)
    avg_gain = nm.wilder_mean(gain, period, first=period)
    avg_loss = nm.wilder_mean(loss, period, first=period)
    return 100.0 * nm.safe_divide(avg_gain, avg_gain + avg_loss)


def _rsi_array(close: np.ndarray, period: int) -> np.ndarray:
    """RSI with TA-Lib as the engine and this library's NaN for a series that
    has not moved (both Wilder averages 0, where TA-Lib prints 0)."""
    if not _talib_serves(period, minimum=2, unstable=("RSI",)):
        return _rsi_numpy(close, period)
    out = talib.RSI(close, period)
    zeros = np.flatnonzero(out[period:] == 0.0)
    if zeros.size == 0:
        return out
    # A 0 from TA-Lib is either a true 0 (no gain yet) or TA-Lib's answer to
    # avgG + avgL = 0. Before the first price change both averages are exactly
    # 0, so those bars are NaN here. From any other 0 on (a series that opens
    # with a fall, averages decayed to 0 over a long flat stretch) the numpy
    # implementation, which applies the rule exactly, takes over; before it
    # TA-Lib's values stand, so a value never depends on later bars.
    zeros += period
    changed = np.flatnonzero(close[1:] != close[:-1])
    first_change = int(changed[0]) + 1 if changed.size else len(close)
    out[zeros[zeros < first_change]] = np.nan
    later = zeros[zeros >= first_change]
    if later.size:
        out[later[0] :] = _rsi_numpy(close, period)[later[0] :]
    return out


@_metric(
    name="rsi",
    module=MODULE,
    inputs=("close",),
    outputs=("rsi",),
    params={"timeperiod": 14},
    constraints={"timeperiod": at_least(2)},
    value_range=(0.0, 100.0),
    warmup=lambda p: p["timeperiod"],
    memory=lambda p: _wilder_memory(p["timeperiod"]),
    reference="Wilder (1978), New Concepts in Technical Trading Systems; " + _TALIB.format("RSI"),
)
def rsi(data: pd.DataFrame, *, timeperiod: int = 14) -> np.ndarray:
    """Relative Strength Index with Wilder smoothing.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 14
        Wilder period ``n`` in bars.

    Returns
    -------
    ndarray
        ``rsi`` in [0, 100].

    Notes
    -----
    Formula: gains ``g_t = max(close_t - close_{t-1}, 0)``, losses ``l_t`` likewise;
    ``avgG_n = mean(g_1 .. g_n)``, then ``avgG_t = avgG_{t-1} + (g_t - avgG_{t-1})/n``
    (Wilder smoothing, alpha ``1/n``; not a rolling mean), same for ``avgL``;
    ``RSI = 100 avgG / (avgG + avgL)``, which is 100 when ``avgL = 0``.
    Value range [0, 100]. Warm-up: ``n`` bars.
    Deviation from TA-Lib: when both averages are 0 (the series has not moved
    since its start) RSI is NaN, where TA-Lib prints 0; likewise wherever
    TA-Lib treats ``avgG + avgL`` as zero and it is not exactly zero.
    Engine: TA-Lib ``RSI``, with the bars before the first price change set to
    NaN; from any other bar where TA-Lib prints 0 on, the ``lfilter``
    implementation (so that a true 0, no gain yet, and TA-Lib's zero test are
    told apart exactly); the ``lfilter`` implementation throughout for
    ``n > 100000`` or under a non-zero TA-Lib unstable period.

    References
    ----------
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978);
    TA-Lib ``RSI``.
    """
    return _rsi_array(_column(data, "close"), timeperiod)


def _window_count(flags: np.ndarray, window: int) -> np.ndarray:
    """Number of true ``flags`` in the trailing ``window`` (NaN before it fills)."""
    return nm.rolling_sum(flags.astype(np.float64), window)


def _window_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of ``window`` values; NaN where the window holds a NaN."""
    holes = np.isnan(values)
    if not holes.any():
        return _sma_array(values, window)
    mean = _sma_array(np.where(holes, 0.0, values), window)
    mean[_window_count(holes, window) > 0] = np.nan
    return mean


def _stochastic(values: np.ndarray, window: int, first_valid: int) -> np.ndarray:
    """``100 (v - min_w v) / (max_w v - min_w v)`` on values that are valid from
    ``first_valid``; windows that contain a NaN, and flat windows, are NaN.

    A window is flat when ``max - min <= 1e-14 (|max| + |min|)``, TA-Lib's own
    test in STOCHRSI (where it prints 0): a range within rounding of zero,
    such as the RSI over unchanged closes (constant in exact arithmetic, equal
    to ~1e-14 in floating point), is no range to place a value in.
    """
    out = nm.nan_array(len(values))
    tail = values[first_valid:]
    if len(tail) < window:
        return out
    holes = np.isnan(tail)
    has_holes = bool(holes.any())
    filled = np.where(holes, 0.0, tail) if has_holes else np.ascontiguousarray(tail)
    if window == 1:
        low = high = filled
    elif _talib_serves(window, minimum=2):
        low, high = talib.MINMAX(filled, window)
    else:
        low, high = nm.rolling_min(filled, window), nm.rolling_max(filled, window)
    span = high - low
    with np.errstate(invalid="ignore"):  # 0/0 on exactly flat windows, set to NaN below anyway
        stoch = np.divide(filled - low, span)
    stoch *= 100.0
    flat = span <= _FLAT_RANGE * (np.abs(high) + np.abs(low))
    if has_holes:
        flat |= _window_count(holes, window) > 0
    stoch[flat] = np.nan
    out[first_valid:] = stoch
    return out


@_metric(
    name="stoch_rsi",
    module=MODULE,
    inputs=("close",),
    outputs=("stoch_rsi", "stoch_rsi_k", "stoch_rsi_d"),
    params={"timeperiod": 14, "fastk_period": 14, "k_period": 3, "d_period": 3},
    constraints={
        "timeperiod": at_least(2),
        "fastk_period": at_least(1),
        "k_period": at_least(1),
        "d_period": at_least(1),
    },
    depends_on=("rsi",),
    value_range=(0.0, 100.0),
    warmup=lambda p: p["timeperiod"] + p["fastk_period"] + p["k_period"] + p["d_period"] - 3,
    memory=lambda p: _wilder_memory(p["timeperiod"]) + p["fastk_period"] + p["k_period"] + p["d_period"],
    reference="Chande & Kroll (1994), The New Technical Trader; "
    + _TALIB.format("STOCHRSI (fastk_period=14, fastd_period=3)"),
)
def stoch_rsi(
    data: pd.DataFrame,
    *,
    timeperiod: int = 14,
    fastk_period: int = 14,
    k_period: int = 3,
    d_period: int = 3,
) -> dict[str, np.ndarray]:
    """Stochastic RSI: where the RSI sits within its recent range.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 14
        RSI period ``n``.
    fastk_period : int, default 14
        Stochastic window ``m`` over the RSI. (TA-Lib's own default is 5; 14 is
        the classic 14/14 setting.)
    k_period : int, default 3
        SMA length of the smoothed %K.
    d_period : int, default 3
        SMA length of %D over %K.

    Returns
    -------
    dict of ndarray
        ``stoch_rsi``: raw value, TA-Lib STOCHRSI fast %K, in [0, 100];
        ``stoch_rsi_k``: ``SMA_k(stoch_rsi)`` (TA-Lib's fast %D, the "K" of
        charting platforms); ``stoch_rsi_d``: ``SMA_d(stoch_rsi_k)``.

    Notes
    -----
    Formula: ``StochRSI = 100 (RSI - min_m RSI) / (max_m RSI - min_m RSI)``.
    Value range [0, 100]. Warm-up: TA-Lib emits the raw value and %K together,
    from bar ``n + m + k - 2`` (29 for the defaults), and this metric does the
    same; %D starts ``d - 1`` bars later (31).
    Deviation from TA-Lib: a flat RSI over the window gives 0/0, which is NaN
    here where TA-Lib prints 0. Flat is TA-Lib's own test,
    ``max - min <= 1e-14 (max + min)``, so that the RSI over unchanged closes
    (constant in exact arithmetic, jittering by ~1e-14 in floating point)
    counts as flat; elsewhere the raw value is TA-Lib's. A window holding an
    undefined RSI is NaN too, and so is a %K or %D window holding a NaN; later
    windows are not affected.
    Engine: the RSI above (TA-Lib ``RSI``), TA-Lib ``MINMAX`` for the window
    extremes and TA-Lib ``SMA`` for %K and %D, which is TA-Lib's own STOCHRSI
    computation with the NaN rules applied between the steps; numpy rolling
    filters for windows above 100,000 bars.

    References
    ----------
    T. Chande and S. Kroll, *The New Technical Trader* (1994); TA-Lib
    ``STOCHRSI(close, 14, fastk_period=14, fastd_period=3)``.
    """
    close = _column(data, "close")
    n = len(close)
    raw = _stochastic(_rsi_array(close, timeperiod), fastk_period, timeperiod)
    k_start = timeperiod + fastk_period - 1
    k = nm.nan_array(n)
    k[k_start:] = _window_mean(raw[k_start:], k_period)
    d_start = k_start + k_period - 1
    d = nm.nan_array(n)
    d[d_start:] = _window_mean(k[d_start:], d_period)
    raw[:d_start] = np.nan  # TA-Lib emits fast %K only once %K (its fast %D) exists.
    return {"stoch_rsi": raw, "stoch_rsi_k": k, "stoch_rsi_d": d}


def _macd_numpy(close: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, ...]:
    first = slow - 1
    line = nm.ema(close, fast, first=first) - nm.ema(close, slow, first=first)
    signal_first = first + signal - 1
    signal_line = nm.ema(line, signal, first=signal_first)
    line[:signal_first] = np.nan
    return line, signal_line, line - signal_line


@_metric(
    name="macd",
    module=MODULE,
    inputs=("close",),
    outputs=("macd", "macd_signal", "macd_hist"),
    params={"fastperiod": 12, "slowperiod": 26, "signalperiod": 9},
    constraints={
        "fastperiod": at_least(2),
        "slowperiod": greater_than_param("fastperiod"),
        "signalperiod": at_least(1),
    },
    depends_on=("ema",),
    warmup=lambda p: p["slowperiod"] + p["signalperiod"] - 2,
    memory=lambda p: (
        _ema_memory({"timeperiod": p["slowperiod"]}) + _ema_memory({"timeperiod": p["signalperiod"]})
    ),
    reference="Appel (1979), The Moving Average Convergence-Divergence Trading Method; "
    + _TALIB.format("MACD"),
)
def macd(
    data: pd.DataFrame, *, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> dict[str, np.ndarray]:
    """Moving Average Convergence/Divergence, line, signal and histogram.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    fastperiod : int, default 12
        Fast EMA span.
    slowperiod : int, default 26
        Slow EMA span; must exceed ``fastperiod``.
    signalperiod : int, default 9
        Signal EMA span over the MACD line.

    Returns
    -------
    dict of ndarray
        ``macd = EMA_fast - EMA_slow``, ``macd_signal = EMA_signal(macd)``,
        ``macd_hist = macd - macd_signal``, all in price units.

    Notes
    -----
    As TA-Lib, both EMAs start at bar ``slow - 1``: the fast EMA is seeded with
    the mean of the ``fast`` closes ending there (``close[14:26]`` for 12/26),
    not at bar ``fast - 1``. The signal EMA is seeded with the mean of the first
    ``signal`` MACD values. Warm-up: ``slow + signal - 2`` bars (33), for all three
    columns. On a ramp of slope ``b`` the MACD tends to
    ``b((slow-1) - (fast-1))/2 = 7b`` and the histogram to 0, since an EMA of span
    ``n`` lags a ramp by ``b(n-1)/2``.
    Engine: TA-Lib ``MACD``; the same EMAs through ``lfilter`` for periods
    above 100,000 bars or a non-zero TA-Lib unstable period for ``EMA``.

    References
    ----------
    G. Appel, *The Moving Average Convergence-Divergence Trading Method* (1979);
    TA-Lib ``MACD``.
    """
    close = _column(data, "close")
    if _talib_serves(fastperiod, slowperiod, minimum=2, unstable=("EMA",)) and _talib_serves(signalperiod):
        line, signal, hist = talib.MACD(close, fastperiod, slowperiod, signalperiod)
    else:
        line, signal, hist = _macd_numpy(close, fastperiod, slowperiod, signalperiod)
    return {"macd": line, "macd_signal": signal, "macd_hist": hist}


def _bbands_arrays(
    close: np.ndarray, timeperiod: int, nbdevup: float, nbdevdn: float, *, width_only: bool = False
) -> dict[str, np.ndarray]:
    """Bollinger Bands, width and %b (only the width when ``width_only``)."""
    if _talib_serves(timeperiod, minimum=2) and max(abs(nbdevup), abs(nbdevdn)) <= _TALIB_MAX_REAL:
        upper, middle, lower = talib.BBANDS(close, timeperiod, nbdevup, nbdevdn, 0)
    else:
        middle = nm.rolling_mean(close, timeperiod)
        sd = nm.rolling_std(close, timeperiod, ddof=0)
        upper = middle + nbdevup * sd
        lower = middle - nbdevdn * sd
    span = upper - lower
    if width_only:
        return {"bb_width": _ratio(span, middle, out=span)}
    position = np.subtract(close, lower)
    percent_b = _ratio(position, span, out=position)
    return {
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "bb_width": _ratio(span, middle, out=span),  # span is not needed after %b
        "bb_percent_b": percent_b,
    }


@_metric(
    name="bbands",
    module=MODULE,
    inputs=("close",),
    outputs=("bb_upper", "bb_middle", "bb_lower", "bb_width", "bb_percent_b"),
    params={"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0},
    constraints={
        "timeperiod": at_least(2),
        "nbdevup": at_least(0.0),
        "nbdevdn": at_least(0.0),
    },
    depends_on=("sma",),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Bollinger (2001), Bollinger on Bollinger Bands; " + _TALIB.format("BBANDS (matype=0)"),
)
def bbands(
    data: pd.DataFrame, *, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0
) -> dict[str, np.ndarray]:
    """Bollinger Bands with the population standard deviation, width and %b.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 20
        Window ``n`` in bars (Bollinger's 20; TA-Lib's function default of 5 is
        not the indicator's convention).
    nbdevup, nbdevdn : float, default 2.0
        Band distances in standard deviations.

    Returns
    -------
    dict of ndarray
        ``bb_middle = SMA_n``, ``bb_upper/bb_lower = mid ± k σ_n`` (price units),
        ``bb_width = (upper - lower)/middle`` (fraction, >= 0; NaN where the
        middle band is 0),
        ``bb_percent_b = (close - lower)/(upper - lower)`` (unbounded, 0..1 inside
        the bands; NaN when the bands collapse).

    Notes
    -----
    ``σ_n`` is the **population** standard deviation (ddof=0), as in TA-Lib and
    Bollinger's book; pandas' default ddof=1 would be wider by
    ``sqrt(n/(n-1))``. ``σ_n`` is exactly 0 on a flat window. Warm-up: ``n - 1``
    bars. On i.i.d. N(100, 1) closes the median width is about ``4σ/μ`` = 0.04.
    Engine: TA-Lib ``BBANDS(matype=0)`` for the three bands, whose deviation
    stays accurate on long series and near-flat windows; width and %b are
    computed from them. A pandas rolling deviation for ``n > 100000``.

    References
    ----------
    J. Bollinger, *Bollinger on Bollinger Bands* (2001); TA-Lib ``BBANDS`` with
    ``matype=0``.
    """
    return _bbands_arrays(_column(data, "close"), timeperiod, nbdevup, nbdevdn)


# --------------------------------------------------------------------------- range-based


def _true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TR_t = max(H-L, |H-C_{t-1}|, |L-C_{t-1}|); NaN at bar 0 (no previous close)."""
    tr = np.empty_like(close)
    tr[0] = np.nan
    prev = close[:-1]
    np.maximum(high[1:] - low[1:], np.abs(high[1:] - prev), out=tr[1:])
    np.maximum(tr[1:], np.abs(low[1:] - prev), out=tr[1:])
    return tr


def _atr_array(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's ATR; TA-Lib ``ATR`` as the engine (see :func:`atr`)."""
    if _talib_serves(period, unstable=("ATR",)):
        return talib.ATR(high, low, close, period)
    return nm.wilder_mean(_true_range(high, low, close), period, first=period)


@_metric(
    name="atr",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("atr",),
    params={"timeperiod": 14},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    memory=lambda p: _wilder_memory(p["timeperiod"]),
    reference="Wilder (1978), New Concepts in Technical Trading Systems; " + _TALIB.format("ATR"),
)
def atr(data: pd.DataFrame, *, timeperiod: int = 14) -> np.ndarray:
    """Average True Range with Wilder smoothing.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 14
        Wilder period ``n`` in bars.

    Returns
    -------
    ndarray
        ``atr``, in price units, >= 0.

    Notes
    -----
    Formula: ``TR_t = max(H_t - L_t, |H_t - C_{t-1}|, |L_t - C_{t-1}|)`` for
    ``t >= 1`` (bar 0 has no true range); ``ATR_n = mean(TR_1 .. TR_n)``, then
    ``ATR_t = (ATR_{t-1}(n-1) + TR_t)/n``. Warm-up: ``n`` bars. Bars with
    ``H - L = 2`` and no gaps give ``ATR = 2`` exactly. For regime comparison
    across price levels divide by the close (ATR%).
    Engine: TA-Lib ``ATR``; the Wilder recursion through ``lfilter`` for
    ``n > 100000`` or a non-zero TA-Lib unstable period.

    References
    ----------
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978);
    TA-Lib ``ATR``.
    """
    return _atr_array(_column(data, "high"), _column(data, "low"), _column(data, "close"), timeperiod)


def _adx_numpy(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """ADX, +DI and -DI from Wilder sums run by ``lfilter`` (DX = 0 without movement)."""
    up = np.zeros_like(high)
    down = np.zeros_like(high)
    up[1:] = high[1:] - high[:-1]
    down[1:] = low[:-1] - low[1:]
    plus_dm = np.where((up > down) & (up > 0.0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0.0), down, 0.0)
    tr = _true_range(high, low, close)
    tr[0] = 0.0

    def smoothed(x: np.ndarray) -> np.ndarray:
        return nm.wilder_sum(x, n, first=n - 1, seed=float(np.sum(x[1:n])))

    s_tr, s_plus, s_minus = smoothed(tr), smoothed(plus_dm), smoothed(minus_dm)
    has_range = s_tr != 0.0
    plus_di = np.where(has_range, 100.0 * s_plus / np.where(has_range, s_tr, 1.0), 0.0)
    minus_di = np.where(has_range, 100.0 * s_minus / np.where(has_range, s_tr, 1.0), 0.0)
    di_sum = plus_di + minus_di
    dx = np.where(
        di_sum != 0.0, 100.0 * np.abs(plus_di - minus_di) / np.where(di_sum != 0.0, di_sum, 1.0), 0.0
    )
    plus_di[:n] = np.nan
    minus_di[:n] = np.nan
    dx[:n] = np.nan
    adx_values = nm.wilder_mean(dx, n, first=2 * n - 1)
    return {"adx": adx_values, "plus_di": plus_di, "minus_di": minus_di}


@_metric(
    name="adx",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("adx", "plus_di", "minus_di"),
    params={"timeperiod": 14},
    constraints={"timeperiod": at_least(2)},
    depends_on=("atr",),
    value_range=(0.0, 100.0),
    warmup=lambda p: 2 * p["timeperiod"] - 1,
    memory=lambda p: 2 * _wilder_memory(p["timeperiod"]),
    reference="Wilder (1978), New Concepts in Technical Trading Systems; "
    + _TALIB.format("ADX, PLUS_DI, MINUS_DI"),
)
def adx(data: pd.DataFrame, *, timeperiod: int = 14) -> dict[str, np.ndarray]:
    """Average Directional Index with the directional indicators +DI and -DI.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 14
        Wilder period ``n`` in bars.

    Returns
    -------
    dict of ndarray
        ``adx``, ``plus_di``, ``minus_di``, each in [0, 100].

    Notes
    -----
    Formula: ``up = H_t - H_{t-1}``, ``down = L_{t-1} - L_t``;
    ``+DM = up`` if ``up > down`` and ``up > 0`` else 0, ``-DM`` symmetric.
    TR, +DM and -DM are Wilder-smoothed in sum form: the sum of the first
    ``n - 1`` values, then ``S_t = S_{t-1} - S_{t-1}/n + x_t``.
    ``±DI = 100 S(±DM)/S(TR)``; ``DX = 100 |+DI - -DI|/(+DI + -DI)``; ADX is the
    Wilder average of DX seeded with the mean of the first ``n`` DX values.
    Warm-up: ``n`` bars for ±DI, ``2n - 1`` (27) for ADX, as TA-Lib.
    A clean linear uptrend gives ADX = 100 with +DI > -DI.
    Degenerate bars: with no range (``S(TR) = 0``) both DIs are 0, as in
    TA-Lib; with no directional movement (``+DI + -DI = 0``) DX is taken as 0,
    where TA-Lib leaves ADX unchanged for that bar.
    Engine: TA-Lib ``PLUS_DI``, ``MINUS_DI`` and ``ADX``. TA-Lib's special
    cases only fire where ``+DI + -DI`` is (near) 0, so from the first bar
    where the DIs it returns sum to less than 1e-6 (no directional movement
    since the start, or none for hundreds of bars) the ``lfilter``
    implementation, which applies the rule above, gives all three columns; it
    also serves ``n > 100000`` and non-zero TA-Lib unstable periods.

    References
    ----------
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978);
    TA-Lib ``ADX``, ``PLUS_DI``, ``MINUS_DI``.
    """
    high, low, close = (_column(data, c) for c in ("high", "low", "close"))
    n = timeperiod
    if not _talib_serves(n, minimum=2, unstable=("ADX", "PLUS_DI", "MINUS_DI")):
        return _adx_numpy(high, low, close, n)
    result = {
        "adx": talib.ADX(high, low, close, n),
        "plus_di": talib.PLUS_DI(high, low, close, n),
        "minus_di": talib.MINUS_DI(high, low, close, n),
    }
    low_sum = np.flatnonzero(result["plus_di"][n:] + result["minus_di"][n:] < _DI_SUM_FLOOR)
    if low_sum.size:
        # From the first bar where TA-Lib may special-case on, the numpy
        # implementation's values; before it TA-Lib's, which are the same.
        start = n + int(low_sum[0])
        for column, values in _adx_numpy(high, low, close, n).items():
            result[column][start:] = values[start:]
    return result


@_metric(
    name="momentum",
    module=MODULE,
    inputs=("close",),
    outputs=("momentum", "roc"),
    params={"timeperiod": 10},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"],
    reference="Murphy (1999), Technical Analysis of the Financial Markets; " + _TALIB.format("MOM, ROC"),
)
def momentum(data: pd.DataFrame, *, timeperiod: int = 10) -> dict[str, np.ndarray]:
    """Momentum oscillator: price change and rate of change over ``n`` bars.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 10
        Look-back ``n`` in bars.

    Returns
    -------
    dict of ndarray
        ``momentum = close_t - close_{t-n}`` (price units, TA-Lib ``MOM``) and
        ``roc = 100 (close_t / close_{t-n} - 1)`` (percent, TA-Lib ``ROC``), the
        one to compare across assets.

    Notes
    -----
    Warm-up: ``n`` bars. A ramp of slope 0.5 gives ``momentum(10) = 5``.
    Deviation from TA-Lib: ``roc`` is NaN from a zero close, where TA-Lib
    prints 0.
    Engine: TA-Lib ``MOM`` and ``ROC``; the bars where TA-Lib's ROC is 0 are
    recomputed from the definition (0 for an unchanged close, NaN from a zero
    close). Numpy shifts for ``n > 100000``.

    References
    ----------
    J. J. Murphy, *Technical Analysis of the Financial Markets* (1999);
    TA-Lib ``MOM`` and ``ROC``.
    """
    close = _column(data, "close")
    if not _talib_serves(timeperiod):
        lagged = nm.shift(close, timeperiod)
        return {"momentum": close - lagged, "roc": 100.0 * (nm.safe_divide(close, lagged) - 1.0)}
    roc = talib.ROC(close, timeperiod)
    zeros = np.flatnonzero(roc == 0.0)
    if zeros.size:
        roc[zeros] = 100.0 * (nm.safe_divide(close[zeros], close[zeros - timeperiod]) - 1.0)
    return {"momentum": talib.MOM(close, timeperiod), "roc": roc}


@_metric(
    name="zscore",
    module=MODULE,
    inputs=("close",),
    outputs=("zscore",),
    params={"timeperiod": 20},
    constraints={"timeperiod": at_least(2)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Standard score over a rolling window (population std, window includes t)",
)
def zscore(data: pd.DataFrame, *, timeperiod: int = 20) -> np.ndarray:
    """Rolling z-score of the close against its trailing mean and deviation.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 20
        Window ``W`` in bars, including the current bar.

    Returns
    -------
    ndarray
        ``zscore``, in standard deviations (unbounded; a window of ``W`` values
        bounds it by ``±(W-1)/sqrt(W)``).

    Notes
    -----
    Formula: ``z_t = (close_t - mean_W) / std_W`` with the population standard
    deviation (ddof=0) over the window ending at ``t``. Because the window
    includes ``t`` a spike dilutes itself (a 7σ spike reads about 6.5 for
    ``W = 720``); module J's anomaly z-scores use a window ending at ``t - 1``.
    NaN where the window is flat. Warm-up: ``W - 1`` bars.

    References
    ----------
    Standard score; pandas ``rolling(W).mean()/std(ddof=0)``.
    """
    close = nm.column(data, "close")
    mean = nm.rolling_mean(close, timeperiod)
    sd = nm.rolling_std(close, timeperiod, ddof=0)
    # Rounding can leave a tiny non-zero deviation on a flat window; treat
    # anything below 1e-12 of the level as flat.
    flat = sd <= 1e-12 * np.abs(mean)
    return np.where(flat, np.nan, (close - mean) / np.where(flat, 1.0, sd))


# --------------------------------------------------------------------------- state space


@lru_cache(maxsize=64)
def _kalman_gains(
    q_level: float, q_slope: float, initial_var: float, n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Kalman gains of the local-linear-trend filter, until they reach steady state.

    The covariance recursion (Riccati equation) does not depend on the data, so
    the gains are a function of the parameters and the bar number only; they
    converge geometrically. Returns ``(gains[t, 2], steady_gain[2], t_steady)``
    where the gain is constant (to 1e-15 relative) from ``t_steady`` on.
    """
    # Prior covariance at t = 0 (no predict step), as symmetric 2x2 entries.
    p00, p01, p11 = initial_var, 0.0, initial_var
    gains: list[tuple[float, float]] = []
    # Sequential by nature (each covariance needs the previous one), but it is a
    # scalar 2x2 recursion that stops as soon as the gain stops changing.
    for _ in range(n):
        s = p00 + 1.0  # innovation variance; the observation noise is 1
        k0, k1 = p00 / s, p01 / s
        if gains and abs(k0 - gains[-1][0]) <= 1e-15 * k0 and abs(k1 - gains[-1][1]) <= (1e-15 * abs(k1)):
            gains.append((k0, k1))
            break
        gains.append((k0, k1))
        # Measurement update P - K P[0, :], then predict F P F' + Q.
        u00, u01, u11 = p00 - k0 * p00, p01 - k0 * p01, p11 - k1 * p01
        p00 = u00 + 2.0 * u01 + u11 + q_level
        p01 = u01 + u11
        p11 = u11 + q_slope
    g = np.array(gains)
    steady = g[-1].copy()
    for array in (g, steady):  # shared through the cache: keep them immutable
        array.setflags(write=False)
    return g, steady, len(g) - 1


def _kalman_filter(
    y: np.ndarray, q_level: float, q_slope: float, initial_var: float
) -> tuple[np.ndarray, np.ndarray]:
    n = len(y)
    gains, k_inf, t_steady = _kalman_gains(q_level, q_slope, initial_var, n)
    level = np.empty(n)
    slope = np.empty(n)
    # Transient: the gain still changes from bar to bar (a few hundred bars at
    # most); the state update is a 2-vector recursion with a time-varying gain.
    a_level, a_slope = y[0], 0.0  # prior mean at t = 0
    head = min(n, t_steady + 1)
    for t in range(head):
        if t > 0:
            a_level, a_slope = level[t - 1] + slope[t - 1], slope[t - 1]
        innovation = y[t] - a_level
        level[t] = a_level + gains[t, 0] * innovation
        slope[t] = a_slope + gains[t, 1] * innovation
    if head < n:
        # Steady state: x_t = A x_{t-1} + K y_t with constant A = (I - K H) F, a
        # linear time-invariant system run as two IIR filters by lfilter.
        f = np.array([[1.0, 1.0], [0.0, 1.0]])
        a_matrix = (np.eye(2) - np.outer(k_inf, [1.0, 0.0])) @ f
        # With s_t = x_{t-1} as the state: s_{t+1} = A s_t + K y_t, x_t = A s_t + K y_t.
        num, den = ss2tf(a_matrix, k_inf.reshape(2, 1), a_matrix, k_inf.reshape(2, 1))
        for row, out in enumerate((level, slope)):
            b = num[row]
            zi = lfiltic(b, den, out[head - 1 :: -1][:2], y[head - 1 :: -1][:2])
            out[head:], _ = lfilter(b, den, y[head:], zi=zi)
    return level, slope


def _kalman_memory(p: Mapping[str, Any]) -> int:
    _, k_inf, t_steady = _kalman_gains(p["q_level"], p["q_slope"], p["initial_var"], 100_000)
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    a_matrix = (np.eye(2) - np.outer(k_inf, [1.0, 0.0])) @ f
    radius = float(np.max(np.abs(np.linalg.eigvals(a_matrix))))
    return t_steady + nm.decay_bars(radius)


@_metric(
    name="kalman_trend",
    module=MODULE,
    inputs=("close",),
    outputs=("kalman_level", "kalman_slope"),
    params={"q_level": 1e-4, "q_slope": 1e-6, "initial_var": 10.0},
    constraints={
        "q_level": at_least(0.0),
        "q_slope": greater_than(0.0),
        "initial_var": greater_than(0.0),
    },
    warmup=0,
    memory=_kalman_memory,
    reference="Kalman (1960); Harvey (1989), Forecasting, Structural Time Series Models "
    "and the Kalman Filter; pykalman KalmanFilter.filter",
)
def kalman_trend(
    data: pd.DataFrame, *, q_level: float = 1e-4, q_slope: float = 1e-6, initial_var: float = 10.0
) -> dict[str, np.ndarray]:
    """Local-linear-trend Kalman filter: causal level and slope of the close.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    q_level : float, default 1e-4
        Variance of the level disturbance, relative to the observation noise
        variance (signal-to-noise ratio).
    q_slope : float, default 1e-6
        Variance of the slope disturbance, relative to the observation noise.
    initial_var : float, default 10.0
        Prior variance of level and slope at the first bar, relative to the
        observation noise (prior mean: the first close and a zero slope).

    Returns
    -------
    dict of ndarray
        ``kalman_level`` (price units) and ``kalman_slope`` (price units per
        bar), the **filtered** state ``E[state_t | close_0..t]``.

    Notes
    -----
    Model: ``y_t = μ_t + ε_t``, ``μ_t = μ_{t-1} + β_{t-1} + η_t``,
    ``β_t = β_{t-1} + ζ_t``, with ``Var ε = 1``, ``Var η = q_level``,
    ``Var ζ = q_slope``. Only ratios of variances matter, so the filter is
    scale-equivariant: prices times ``c`` give level and slope times ``c``.
    This is the filter, never the smoother (``KalmanFilter.smooth`` uses future
    bars). The gains do not depend on the data and reach a steady state, after
    which the filter is a fixed linear recursion run by ``lfilter``; the result
    equals ``pykalman`` to ~1e-10. Warm-up: 0 bars (the first bars reflect the
    prior; ``memory_bars`` says when the start no longer matters).

    References
    ----------
    R. E. Kalman, "A new approach to linear filtering and prediction problems",
    *J. Basic Engineering* 82 (1960); A. Harvey, *Forecasting, Structural Time
    Series Models and the Kalman Filter* (1989); pykalman ``KalmanFilter.filter``.
    """
    level, slope = _kalman_filter(nm.column(data, "close"), q_level, q_slope, initial_var)
    return {"kalman_level": level, "kalman_slope": slope}


# --------------------------------------------------------------------------- transforms on trailing windows


def _wavelet_last(windows: np.ndarray, wavelet: str, level: int | None) -> np.ndarray:
    coeffs = pywt.wavedec(windows, wavelet, mode="reflect", level=level, axis=-1)
    finest = coeffs[-1]
    sigma = np.median(np.abs(finest), axis=-1) / 0.6745
    threshold = (sigma * np.sqrt(2.0 * np.log(windows.shape[-1])))[:, None]
    shrunk = [coeffs[0]] + [np.sign(d) * np.maximum(np.abs(d) - threshold, 0.0) for d in coeffs[1:]]
    return pywt.waverec(shrunk, wavelet, mode="reflect", axis=-1)[:, windows.shape[-1] - 1]


@_metric(
    name="wavelet_trend",
    module=MODULE,
    inputs=("close",),
    outputs=("wavelet_trend",),
    params={"timeperiod": 128, "wavelet": "db4", "level": 0},
    constraints={
        "timeperiod": at_least(16),
        "wavelet": lambda v, _p: (
            None
            if v in pywt.wavelist(kind="discrete")
            else f"must be a discrete PyWavelets wavelet name (got {v!r})"
        ),
        "level": at_least(0),
    },
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Donoho & Johnstone (1994), Biometrika 81, Ideal spatial adaptation by "
    "wavelet shrinkage; PyWavelets wavedec/threshold/waverec",
)
def wavelet_trend(
    data: pd.DataFrame, *, timeperiod: int = 128, wavelet: str = "db4", level: int = 0
) -> np.ndarray:
    """Wavelet-denoised close (VisuShrink) on a trailing window, causal.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 128
        Trailing window ``W`` in bars; the value at ``t`` is the last point of
        the denoised window ending at ``t``.
    wavelet : str, default "db4"
        PyWavelets discrete wavelet.
    level : int, default 0
        Decomposition depth; 0 means the maximum for the window and wavelet
        (4 for 128 bars with db4).

    Returns
    -------
    ndarray
        ``wavelet_trend``, in price units.

    Notes
    -----
    Formula (Donoho–Johnstone VisuShrink): ``coeffs = wavedec(window)``;
    noise ``σ = median(|d_1|)/0.6745`` from the finest details; soft-threshold
    every detail level at ``σ sqrt(2 ln W)``; reconstruct and keep the last
    value. A whole-series transform would use future bars; this one sees only
    the window ending at ``t``. The last point of a window is a boundary point:
    extension mode ``reflect`` gave the lowest end-point error of PyWavelets'
    modes on sines, ramps and random walks plus noise (window 128 roughly halves
    the noise RMSE), so it is fixed here. Warm-up: ``W - 1`` bars.

    References
    ----------
    D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet
    shrinkage", *Biometrika* 81 (1994); PyWavelets ``wavedec``/``waverec``.
    """
    lvl = None if level == 0 else level
    return nm.map_windows(
        nm.column(data, "close"),
        timeperiod,
        lambda windows: _wavelet_last(np.ascontiguousarray(windows), wavelet, lvl),
    )


def _dominant_period(windows: np.ndarray, min_period: int, max_period: int) -> np.ndarray:
    """Dominant cycle period of each window from its analytic signal.

    The window is detrended (least-squares line), turned into its analytic
    signal with ``scipy.signal.hilbert``, and the phase advance is read over the
    central half of the window, away from both ends where the FFT-based
    transform is least accurate (0.38 rad of phase error at the last point of a
    sine). The advance is the sum of the wrapped bar-to-bar phase increments
    ``arg(z_{k+1} conj(z_k))``, which equals the unwrapped phase difference.
    """
    w = windows.shape[-1]
    u = np.arange(w) - (w - 1) / 2.0
    centered = windows - windows.mean(axis=-1, keepdims=True)
    cycle = centered - np.outer(centered @ u / (u @ u), u)
    analytic = hilbert(cycle, axis=-1)
    lo, hi = w // 4, (3 * w) // 4
    central = analytic[:, lo : hi + 1]
    advance = np.angle(central[:, 1:] * np.conj(central[:, :-1])).sum(axis=-1)
    omega = advance / (hi - lo)
    period = np.full(len(windows), float(max_period))
    moving = omega > 0
    period[moving] = 2.0 * np.pi / omega[moving]
    return np.clip(period, min_period, max_period)


@_metric(
    name="hilbert_slope",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("hilbert_slope", "hilbert_period", "hilbert_trendline"),
    params={"timeperiod": 64, "slope_lag": 5, "atr_period": 14, "min_period": 6, "max_period": 50},
    constraints={
        "timeperiod": at_least(16),
        "slope_lag": at_least(1),
        "atr_period": at_least(1),
        "min_period": at_least(2),
        "max_period": greater_than_param("min_period"),
    },
    depends_on=("atr",),
    warmup=lambda p: max(p["timeperiod"] - 1, p["max_period"] - 1) + p["slope_lag"],
    memory=lambda p: max(
        max(p["timeperiod"] - 1, p["max_period"] - 1) + p["slope_lag"],
        _wilder_memory(p["atr_period"]),
    ),
    reference="Ehlers (2001), Rocket Science for Traders (instantaneous trendline); "
    "Gabor (1946) analytic signal; scipy.signal.hilbert",
)
def hilbert_slope(
    data: pd.DataFrame,
    *,
    timeperiod: int = 64,
    slope_lag: int = 5,
    atr_period: int = 14,
    min_period: int = 6,
    max_period: int = 50,
) -> dict[str, np.ndarray]:
    """Slope of the Hilbert (Ehlers) instantaneous trendline, in ATRs per bar.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 64
        Trailing window ``W`` in bars for the analytic signal.
    slope_lag : int, default 5
        ``k``: the slope is measured over ``k`` bars.
    atr_period : int, default 14
        ATR period used to normalize the slope.
    min_period, max_period : int, default 6, 50
        Bounds of the dominant cycle period in bars (``max_period <= W``
        recommended).

    Returns
    -------
    dict of ndarray
        ``hilbert_period``: dominant cycle period ``P_t`` in bars;
        ``hilbert_trendline``: mean close over the last ``round(P_t)`` bars
        (price units), the instantaneous trendline, from which one full cycle
        averages out;
        ``hilbert_slope = (TL_t - TL_{t-k}) / (k ATR_t)``, ATRs per bar
        (unbounded; about ``b/ATR`` on a ramp of slope ``b``, about 0 on a pure
        cycle).

    Notes
    -----
    For each bar the trailing window of closes is linearly detrended and turned
    into its analytic signal ``z = x + i H[x]`` (FFT-based, so only on the
    trailing window: the whole-series transform would look ahead); the phase
    advance over the window's central half gives ``ω`` and ``P = 2π/ω``, clipped
    to ``[min_period, max_period]`` (``max_period`` when the phase does not
    advance, e.g. a pure trend). Ehlers' trendline averages price over one
    dominant cycle, so the cycle cancels and the trend remains.
    Warm-up: ``max(W, max_period) - 1 + k`` bars.

    References
    ----------
    J. F. Ehlers, *Rocket Science for Traders* (2001), ch. on the instantaneous
    trendline; D. Gabor, "Theory of communication", *J. IEE* 93 (1946);
    ``scipy.signal.hilbert``.
    """
    high, low, close = (nm.column(data, c) for c in ("high", "low", "close"))
    n = len(close)
    period = nm.map_windows(close, timeperiod, lambda w: _dominant_period(w, min_period, max_period))
    start = max(timeperiod - 1, max_period - 1)
    trendline = nm.nan_array(n)
    if start < n:
        length = np.rint(period[start:]).astype(np.int64)
        ends = np.arange(start, n) + 1
        cs = np.concatenate(([0.0], np.cumsum(close - close[0])))
        trendline[start:] = (cs[ends] - cs[ends - length]) / length + close[0]
    period[:start] = np.nan
    atr_values = _atr_array(high, low, close, atr_period)
    slope = nm.safe_divide(trendline - nm.shift(trendline, slope_lag), slope_lag * atr_values)
    return {"hilbert_slope": slope, "hilbert_period": period, "hilbert_trendline": trendline}


def _fdi_rows(windows: np.ndarray) -> np.ndarray:
    n = windows.shape[-1] - 1
    low = windows.min(axis=-1, keepdims=True)
    span = windows.max(axis=-1, keepdims=True) - low
    step = np.diff(windows, axis=-1)
    step = np.divide(step, span, out=np.zeros_like(step), where=span > 0)
    length = np.sqrt(step * step + 1.0 / (n * n)).sum(axis=-1)
    return 1.0 + (np.log(length) + np.log(2.0)) / np.log(2.0 * n)


@_metric(
    name="fdi",
    module=MODULE,
    inputs=("close",),
    outputs=("fdi",),
    params={"timeperiod": 30},
    constraints={"timeperiod": at_least(2)},
    value_range=(1.0, 2.1),
    warmup=lambda p: p["timeperiod"],
    reference="Sevcik (1998), Complexity International 5; Matulich, TradeStation "
    "_FractalDim (unicorn.us.com)",
)
def fdi(data: pd.DataFrame, *, timeperiod: int = 30) -> np.ndarray:
    """Fractal Dimension Index (Sevcik's estimator with Matulich's normalization).

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 30
        ``n``: the window holds ``n + 1`` closes (``n`` steps).

    Returns
    -------
    ndarray
        ``fdi``: near 1 for a trend, about 1.5 for a random walk, near 2 for
        noise.

    Notes
    -----
    Formula: normalize time to ``i/n`` and price to ``(y - min)/(max - min)``
    over the window; ``L = Σ sqrt((Δy')² + (1/n)²)``;
    ``FDI = 1 + (ln L + ln 2)/ln(2n)``. Finite-``n`` bias: a straight line gives
    ``1 + ln(2 sqrt 2)/ln(2n)`` = 1.254 at n = 30, not 1, so thresholds must be
    calibrated per ``n`` (random walk ≈ 1.47, white noise ≈ 1.69 at n = 30).
    A flat window has ``L = 1``. Value range: ``[1 + ln 2/ln 2n,
    2 + ln(1 + 1/n²)/(2 ln 2n)]``, inside [1, 2.1]. Warm-up: ``n`` bars.

    References
    ----------
    C. Sevcik, "A procedure to estimate the fractal dimension of waveforms",
    *Complexity International* 5 (1998); A. Matulich, TradeStation function
    ``_FractalDim``.
    """
    return nm.map_windows(nm.column(data, "close"), timeperiod + 1, _fdi_rows)
