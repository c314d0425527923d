"""Causal maps from a metric's raw values to sub-scores in ``[0, 1]``.

Every normalizer reads the trailing ``window`` values only, so the value at bar
``t`` depends on bars ``t - window + 1 .. t`` and never on later ones (the
full-sample min/max or moments are the classic look-ahead bug of scoring
code). A value needs a full window of non-missing inputs; before that, and
wherever the input itself is missing, the output is NaN. Infinite inputs count
as missing: they come from a division that had no answer, not from a market.

Three maps are offered (METRICS_REFERENCE.md, section "Scoring"):

``percentile``
    Midrank percentile in the trailing window. Non-parametric and robust to
    fat tails, the output is close to ``U(0, 1)``; the recommended default.
``logistic_z``
    Logistic of the winsorized rolling z-score. Keeps the magnitude of a move.
``minmax``
    Position in the trailing range, or, with fixed ``bounds``, in a natural
    range (RSI/100, order-book imbalance), which needs no window at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NORMALIZATIONS", "NormalizationError", "normalize", "warmup"]

#: The known normalization methods.
NORMALIZATIONS: tuple[str, ...] = ("logistic_z", "percentile", "minmax")


class NormalizationError(ValueError):
    """Invalid input or parameter of :func:`normalize`; the message names it and says why."""


def _is_integer(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_positive_finite(value: object) -> bool:
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    return number and bool(np.isfinite(value) and value > 0)


def _check_bounds(bounds: object) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise NormalizationError(f"bounds must be a pair (lo, hi) of numbers (got {bounds!r})") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise NormalizationError(f"bounds must be finite with lo < hi (got {bounds!r})")
    return lo, hi


def _check(
    method: str, window: int, bounds: tuple[float, float] | None, tau: float, winsor: float
) -> tuple[float, float] | None:
    """Validate the parameters of :func:`normalize`; return ``bounds`` as floats."""
    if method not in NORMALIZATIONS:
        raise NormalizationError(
            f"method {method!r} is not a known normalization; expected one of {', '.join(NORMALIZATIONS)}"
        )
    if not _is_positive_finite(tau):
        raise NormalizationError(f"tau must be a positive finite number (got {tau!r})")
    if not _is_positive_finite(winsor):
        raise NormalizationError(f"winsor must be a positive finite number (got {winsor!r})")
    if bounds is not None:
        if method != "minmax":
            raise NormalizationError(f"bounds apply to method 'minmax' only (got method {method!r})")
        return _check_bounds(bounds)
    if not _is_integer(window) or window < 2:
        raise NormalizationError(f"window must be an integer >= 2 (got {window!r})")
    return None


def warmup(method: str, window: int, bounds: tuple[float, float] | None = None) -> int:
    """Number of leading NaN rows of :func:`normalize` after the first valid input.

    Parameters
    ----------
    method : str
        One of :data:`NORMALIZATIONS`.
    window : int
        Trailing window length in bars (ignored with ``bounds``).
    bounds : (float, float), optional
        Fixed range of a bounded ``minmax`` input.

    Returns
    -------
    int
        ``window - 1`` for the windowed maps, 0 for a bounded ``minmax``, which is
        pointwise.
    """
    fixed = _check(method, window, bounds, 1.0, 1.0)
    return 0 if fixed is not None else int(window) - 1


def _float_values(values: pd.Series) -> np.ndarray:
    """``values`` as float64 with NaN for missing and infinite entries."""
    if not isinstance(values, pd.Series):
        raise NormalizationError(f"values must be a pandas Series (got {type(values).__name__})")
    if not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
        raise NormalizationError(f"values must be numeric (got dtype {values.dtype})")
    x = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    x[~np.isfinite(x)] = np.nan
    return x


def _full_window(x: np.ndarray, window: int) -> np.ndarray:
    """True where ``x_t`` and the ``window - 1`` values before it are all present."""
    present = np.concatenate(([0], np.cumsum(~np.isnan(x))))
    full = np.zeros(len(x), dtype=bool)
    full[window - 1 :] = present[window:] - present[:-window] == window
    return full


def _block_sums(d: np.ndarray, window: int, *, suffix: bool) -> np.ndarray:
    """Running sums of ``d`` restarted every ``window`` rows (blocks aligned at row 0),
    from the start of each block (prefix) or towards its end (suffix)."""
    blocks = d.reshape(-1, window)
    if suffix:
        return np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.cumsum(blocks, axis=1).ravel()


def _rolling_z(x: np.ndarray, window: int) -> np.ndarray:
    """Rolling z-score ``(x_t - mean_W) / std_W`` (population std), 0 where ``std_W = 0``.

    Running sums over the whole series subtract two large, nearly equal numbers
    (prices near 50 000) and carry their rounding error from the first bar on,
    so the result would depend on where the series starts. Instead the rows are
    cut into blocks of ``window`` rows: a trailing window is a suffix of one
    block plus a prefix of the next (or exactly one block), and each partial
    sum runs over fewer than ``window`` terms. Values are taken relative to the
    first value ``c`` of the block holding ``t``, which always lies inside the
    window (its own first row, or the first row of the second block), so
    ``mean_W - c`` and ``x_t - c`` are of the size of the window's spread and
    ``M2 = S2 - S1^2 / W`` (with ``S1 = Σ(x - c)``, ``S2 = Σ(x - c)^2``) loses
    only the digits of ``(range/std)^2``. Every partial sum reads rows up to
    ``t`` only, so later rows cannot change the value at ``t``, not even by a
    rounding. A flat window has ``S2 = 0`` exactly, and ``z = 0``.
    """
    n = len(x)
    z = np.full(n, np.nan)
    if n < window:
        return z
    n_blocks = -(-n // window)
    padded = np.concatenate((x, np.full(n_blocks * window - n, np.nan)))
    first = padded[::window]
    ref = np.repeat(first, window)
    ref_next = np.repeat(np.append(first[1:], np.nan), window)
    d = padded - ref
    e = padded - ref_next
    t = np.arange(window - 1, n)
    s = t - window + 1
    aligned = s % window == 0
    # Relative to ``ref[t]``: the prefix of t's block, plus the suffix of the previous block.
    s1 = _block_sums(d, window, suffix=False)[t]
    s1 += np.where(aligned, 0.0, _block_sums(e, window, suffix=True)[s])
    s2 = _block_sums(d * d, window, suffix=False)[t]
    s2 += np.where(aligned, 0.0, _block_sums(e * e, window, suffix=True)[s])
    mean_offset = s1 / window
    std = np.sqrt(np.maximum(s2 / window - mean_offset * mean_offset, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z[window - 1 :] = np.where(std > 0.0, (d[t] - mean_offset) / std, 0.0)
    return z


def _logistic(z: np.ndarray, tau: float) -> np.ndarray:
    """``1 / (1 + exp(-z/tau))`` computed as ``exp(-log(1 + exp(-z/tau)))`` (no overflow); NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        return np.exp(-np.logaddexp(0.0, -z / tau))


def normalize(
    values: pd.Series,
    method: str,
    window: int,
    *,
    bounds: tuple[float, float] | None = None,
    tau: float = 1.0,
    winsor: float = 4.0,
) -> pd.Series:
    """Map a metric's values to ``[0, 1]`` using trailing data only.

    Parameters
    ----------
    values : Series
        The metric, oriented so that higher is more bullish; numeric, any index.
        NaN and infinite values count as missing.
    method : {"logistic_z", "percentile", "minmax"}
        The map (see Notes).
    window : int
        Trailing window in bars, including ``t``; at least 2. Ignored by a
        bounded ``minmax``.
    bounds : (float, float), optional
        ``(lo, hi)`` of a naturally bounded input, ``method="minmax"`` only.
    tau : float, default 1.0
        Temperature of ``logistic_z``: a smaller ``tau`` makes the score more
        sensitive to the z-score.
    winsor : float, default 4.0
        ``logistic_z`` clips z to ``[-winsor, winsor]``, so one extreme bar cannot
        pin the score at 0 or 1.

    Returns
    -------
    Series
        Float values in ``[0, 1]``, same index and name as ``values``. NaN where
        ``x_t`` is missing or the trailing window holds fewer than ``window``
        present values (so the first ``window - 1`` rows; see :func:`warmup`).

    Raises
    ------
    NormalizationError
        Unknown ``method``; ``window < 2``; ``tau`` or ``winsor`` not positive;
        ``bounds`` not a finite pair with ``lo < hi`` or given with another method;
        ``values`` not a numeric Series.

    Notes
    -----
    With ``W`` the trailing ``window`` values ``x_{t-W+1} .. x_t``:

    ``logistic_z``
        ``z_t = (x_t - mean(W)) / std(W)`` (population std, ``ddof = 0``),
        ``s_t = 1 / (1 + exp(-clip(z_t, -winsor, winsor) / tau))``. A flat
        window (``std = 0``) has ``x_t`` equal to its mean: ``z_t = 0``, ``s_t = 0.5``.
    ``percentile``
        ``s_t = (rank(x_t) - 0.5) / window`` with average ranks for ties (the
        midrank), so ``s_t`` lies in ``(0, 1)``, the window's median maps to 0.5
        and a flat window gives 0.5.
    ``minmax``
        ``s_t = (x_t - min(W)) / (max(W) - min(W))``, 0.5 for a flat window
        (``x_t`` is both the min and the max). With ``bounds=(lo, hi)``,
        ``s_t = clip((x_t - lo) / (hi - lo), 0, 1)`` bar by bar, no warm-up.

    References
    ----------
    METRICS_REFERENCE.md, section "Scoring" (trailing normalizers, winsorized z
    at ±4, percentile rank as the default). W. J. Conover, *Practical
    Nonparametric Statistics*, 3rd ed., Wiley, 1999, §5.1 (midranks for ties).
    M. López de Prado, *Advances in Financial Machine Learning*, Wiley, 2018,
    ch. 7 (look-ahead leakage).
    """
    fixed = _check(method, window, bounds, tau, winsor)
    x = _float_values(values)
    if fixed is not None:
        lo, hi = fixed
        result = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    else:
        window = int(window)
        full = _full_window(x, window)
        if method == "logistic_z":
            result = _logistic(np.clip(_rolling_z(x, window), -winsor, winsor), tau)
        elif method == "percentile":
            rank = pd.Series(x).rolling(window, min_periods=window).rank(method="average")
            result = (rank.to_numpy() - 0.5) / window
        else:
            rolling = pd.Series(x).rolling(window, min_periods=window)
            low = rolling.min().to_numpy()
            span = rolling.max().to_numpy() - low
            with np.errstate(divide="ignore", invalid="ignore"):
                result = np.where(span > 0.0, (x - low) / span, 0.5)
        result[~full] = np.nan
    return pd.Series(result, index=values.index, name=values.name, dtype=np.float64)
