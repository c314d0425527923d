"""Vectorized building blocks shared by the metric families.

Every function takes and returns float64 numpy arrays aligned to the input
(along axis 0 where a function accepts a ``(rows, columns)`` array): position
``t`` of an output depends on positions ``<= t`` of the input only, and
positions without enough history are NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

FloatArray = np.ndarray

#: Rows per chunk when a computation materializes one window per row.
WINDOW_CHUNK_ROWS = 1 << 15
#: Cells (rows x window) per chunk when a computation materializes windows.
CHUNK_CELLS = 1 << 20

#: ``memory`` of metrics defined over the whole history (an expanding window,
#: e.g. Glassnode's MVRV z-score): no finite number of bars makes the value
#: independent of where the series starts, so load the full history.
UNBOUNDED_MEMORY = 2**31 - 1


def column(data: pd.DataFrame, name: str) -> FloatArray:
    """Column ``name`` of ``data`` as a float64 array (no copy when already float64)."""
    return data[name].to_numpy(dtype=np.float64)


def nan_array(n: int) -> FloatArray:
    """An array of ``n`` NaNs."""
    return np.full(n, np.nan)


def first_order_recursion(x: FloatArray, *, decay: float, gain: float, start: int, seed: float) -> FloatArray:
    """``y[start] = seed``, ``y[t] = decay * y[t-1] + gain * x[t]`` for ``t > start``.

    Computed with :func:`scipy.signal.lfilter` (compiled), NaN before ``start``.
    This one recursion covers TA-Lib's EMA (decay ``1 - k``, gain ``k``), Wilder's
    average (decay ``1 - 1/n``, gain ``1/n``) and Wilder's running sum
    (decay ``1 - 1/n``, gain 1).
    """
    n = len(x)
    if start >= n:
        return nan_array(n)
    # Starting the filter at ``start`` with state ``seed - gain * x[start]`` makes
    # its first output exactly ``seed``.
    tail, _ = lfilter([gain], [1.0, -decay], x[start:], zi=[seed - gain * x[start]])
    tail[0] = seed
    if start == 0:
        return tail
    return np.concatenate((np.full(start, np.nan), tail))


def ema(x: FloatArray, period: int, *, first: int | None = None) -> FloatArray:
    """TA-Lib EMA: ``k = 2/(period+1)``, seeded at ``first`` by the mean of the
    ``period`` values ending there (default ``first = period - 1``).

    Input values before ``first - period + 1`` are ignored, so a NaN prefix of
    that length (an upstream warm-up) is allowed.
    """
    first = period - 1 if first is None else first
    if first >= len(x):
        return nan_array(len(x))
    k = 2.0 / (period + 1.0)
    seed = float(np.mean(x[first - period + 1 : first + 1]))
    return first_order_recursion(x, decay=1.0 - k, gain=k, start=first, seed=seed)


def wilder_mean(x: FloatArray, period: int, *, first: int) -> FloatArray:
    """Wilder's smoothed average seeded at ``first`` by the mean of the ``period``
    values ending there; ``avg[t] = avg[t-1] + (x[t] - avg[t-1]) / period``."""
    if first >= len(x):
        return nan_array(len(x))
    seed = float(np.mean(x[first - period + 1 : first + 1]))
    alpha = 1.0 / period
    return first_order_recursion(x, decay=1.0 - alpha, gain=alpha, start=first, seed=seed)


def wilder_sum(x: FloatArray, period: int, *, first: int, seed: float) -> FloatArray:
    """Wilder's running sum ``S[t] = S[t-1] - S[t-1]/period + x[t]`` with ``S[first] = seed``."""
    return first_order_recursion(x, decay=1.0 - 1.0 / period, gain=1.0, start=first, seed=seed)


def rolling_sum(x: FloatArray, window: int) -> FloatArray:
    """Trailing sum over ``window`` values (NaN for the first ``window - 1``);
    column by column for a ``(rows, columns)`` array.

    Uses a cumulative sum of the values shifted by ``x[0]`` (shifting keeps the
    running total small, which limits rounding on long price series).
    """
    n = len(x)
    out = np.full(x.shape, np.nan)
    if window > n:
        return out
    ref = x[0]
    cs = np.empty((n + 1, *x.shape[1:]))
    cs[0] = 0.0
    np.subtract(x, ref, out=cs[1:])
    np.cumsum(cs[1:], axis=0, out=cs[1:])
    tail = out[window - 1 :]
    np.subtract(cs[window:], cs[:-window], out=tail)
    tail += window * ref
    return out


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Trailing arithmetic mean over ``window`` values."""
    out = rolling_sum(x, window)
    out /= window
    return out


def trailing_sum(x: FloatArray, window: int) -> FloatArray:
    """Sum over the trailing ``window`` values; exactly ``x`` for a window of 1."""
    return x.copy() if window == 1 else rolling_sum(x, window)


def trailing_mean(x: FloatArray, window: int) -> FloatArray:
    """Mean over the trailing ``window`` values; exactly ``x`` for a window of 1."""
    return x.copy() if window == 1 else rolling_mean(x, window)


def rolling_var(x: FloatArray, window: int, *, ddof: int = 0) -> FloatArray:
    """Trailing variance over ``window`` values (population by default, as TA-Lib).

    Computed with pandas' online algorithm, which does not suffer the
    cancellation of ``E[x^2] - E[x]^2`` on raw price levels.
    """
    var = pd.Series(x).rolling(window).var(ddof=ddof).to_numpy()
    # Online updates can leave tiny negative residues on constant stretches.
    return np.maximum(var, 0.0)


def rolling_std(x: FloatArray, window: int, *, ddof: int = 0) -> FloatArray:
    """Trailing standard deviation over ``window`` values."""
    return np.sqrt(rolling_var(x, window, ddof=ddof))


def rolling_min(x: FloatArray, window: int) -> FloatArray:
    """Trailing minimum over ``window`` values (van Herk/Gil-Werman, O(n))."""
    out = nan_array(len(x))
    if window <= len(x):
        # origin shifts the centred filter so position t sees x[t-window+1 .. t].
        out[window - 1 :] = minimum_filter1d(x, window, origin=(window - 1) // 2)[window - 1 :]
    return out


def rolling_max(x: FloatArray, window: int) -> FloatArray:
    """Trailing maximum over ``window`` values."""
    out = nan_array(len(x))
    if window <= len(x):
        out[window - 1 :] = maximum_filter1d(x, window, origin=(window - 1) // 2)[window - 1 :]
    return out


def shift(x: FloatArray, lag: int) -> FloatArray:
    """``x`` delayed by ``lag >= 0`` positions (rows), NaN-filled at the start."""
    if lag == 0:
        return x.copy()
    out = np.full(x.shape, np.nan)
    if lag < len(x):
        out[lag:] = x[:-lag]
    return out


def placed(values: FloatArray, start: int, n: int) -> FloatArray:
    """``values`` computed from position ``start`` on, placed back on ``n``
    positions (NaN before ``start``)."""
    out = nan_array(n)
    out[start:] = values
    return out


def log_returns(close: FloatArray) -> FloatArray:
    """``r[t] = ln(close[t] / close[t-1])``, NaN at position 0."""
    out = nan_array(len(close))
    out[1:] = np.diff(np.log(close))
    return out


def simple_returns(close: FloatArray) -> FloatArray:
    """``R[t] = close[t] / close[t-1] - 1``, NaN at position 0."""
    out = nan_array(len(close))
    out[1:] = close[1:] / close[:-1] - 1.0
    return out


def ewma_variance(returns: FloatArray, decay: float, seed_period: int) -> FloatArray:
    """RiskMetrics EWMA variance of a return series whose position 0 is NaN.

    ``σ²[m] = mean(r²[1..m])`` at ``m = seed_period >= 1``, then
    ``σ²[t] = decay σ²[t-1] + (1 - decay) r²[t]``; NaN before ``m``.
    """
    squared = returns * returns
    if seed_period >= len(returns):
        return nan_array(len(returns))
    seed = float(np.mean(squared[1 : seed_period + 1]))
    return first_order_recursion(squared, decay=decay, gain=1.0 - decay, start=seed_period, seed=seed)


def return_moments(returns: FloatArray, window: int, *, ddof: int) -> tuple[FloatArray, FloatArray]:
    """Trailing mean and standard deviation over ``window`` returns of a return
    series whose position 0 is NaN (no return at the first bar); NaN until the
    first full window."""
    mean = nan_array(len(returns))
    mean[1:] = rolling_mean(returns[1:], window)
    return mean, rolling_std(returns, window, ddof=ddof)


def safe_divide(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with NaN where ``den == 0`` (an undefined ratio stays undefined)."""
    out = nan_array(len(num))
    np.divide(num, den, out=out, where=den != 0)
    return out


def window_apply(
    x: FloatArray,
    y: FloatArray | None,
    window: int,
    func: Callable[[np.ndarray, Any], FloatArray],
    *,
    chunk_rows: int | None = None,
) -> FloatArray:
    """``func(x_windows, y_windows)`` on every trailing window, one value per window.

    The windows are read-only ``(rows, window)`` views, one row per window
    ending at positions ``window-1 ..`` (``y_windows`` is ``None`` without
    ``y``), handed over in chunks of ``chunk_rows`` rows (default: about
    :data:`CHUNK_CELLS` cells); output position ``t`` holds the value of the
    window ending at ``t``.
    """
    n = len(x)
    out = nan_array(n)
    if window > n:
        return out
    xw = sliding_window_view(x, window)
    yw = None if y is None else sliding_window_view(y, window)
    step = chunk_rows or max(1, CHUNK_CELLS // window)
    for lo in range(0, len(xw), step):  # memory-bounded chunks, each vectorized
        hi = min(len(xw), lo + step)
        out[window - 1 + lo : window - 1 + hi] = func(xw[lo:hi], None if yw is None else yw[lo:hi])
    return out


def map_windows(x: FloatArray, window: int, func: Callable[[np.ndarray], FloatArray]) -> FloatArray:
    """:func:`window_apply` of ``func(x_windows)`` in chunks of
    :data:`WINDOW_CHUNK_ROWS` rows."""
    return window_apply(x, None, window, lambda w, _: func(w), chunk_rows=WINDOW_CHUNK_ROWS)


def refit_boundaries(index: pd.DatetimeIndex, every: str) -> np.ndarray:
    """Positions of the first bar of each period of length ``every``.

    Periods are calendar-aligned (``index.floor(every)``, anchored at the Unix
    epoch), so the schedule is a function of time alone: it does not move when
    the series starts earlier or later. The first bar of the series is not a
    boundary, since no bar before it exists to fit on.
    """
    if len(index) < 2:
        return np.empty(0, dtype=np.int64)
    periods = index.floor(every).asi8
    return np.flatnonzero(periods[1:] != periods[:-1]) + 1


def refit_spans(index: pd.DatetimeIndex, every: str, history: int) -> Iterator[tuple[int, int]]:
    """``(b, e)`` per scheduled refit with at least ``history`` rows before it:
    a fit at bar ``b`` (a :func:`refit_boundaries` position ``>= history``)
    whose result holds for rows ``b .. e - 1``, up to the next refit."""
    bounds = refit_boundaries(index, every)
    bounds = bounds[bounds >= history]
    ends = np.append(bounds[1:], len(index))[: len(bounds)]
    return zip(bounds.tolist(), ends.tolist(), strict=True)


def decay_bars(decay: float, tolerance: float = 1e-8) -> int:
    """Bars until a start-up transient multiplied by ``decay`` per bar falls below
    ``tolerance`` of its initial size (the memory of a first-order recursion)."""
    if decay <= 0.0:
        return 1
    return int(np.ceil(np.log(tolerance) / np.log(decay)))
