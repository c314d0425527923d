"""Family E, correlation and lead-lag (module ``corr_lead``).

Every metric here is cross-asset: ``data`` is a wide frame of log returns, one
column per symbol (see :mod:`quant_assets.metrics.registry` for the input rules
and the ``pairwise`` / ``aggregate`` result layouts). Results are indexed like
``data`` and causal: the value at bar ``t`` uses rows up to ``t`` only.

Rolling statistics (correlation, covariance, beta, partial correlation,
lead-lag) are exact trailing-window values for every bar, computed for all
pairs at once from cumulative sums, so nothing loops over bars in Python.

Model fits (Granger tests, DTW, CCA, VAR) are refit on a schedule defined by
time alone: at the first bar of every calendar period ``refit_every`` (``"1D"``,
anchored at the Unix epoch), on the ``window`` rows that end just before that
bar; the result is held until the next refit and is NaN before the first refit
with a full window. A value therefore depends only on the ``window`` rows
before its refit bar: it does not change with where the series starts (given
``window`` rows before that refit) or with where it is cut.

Undefined statistics (a window in which a symbol does not move) are NaN; a
model fit that fails raises.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics.registry import at_least, between, metric, one_of
from quant_assets.metrics.volatility import _check_frequency

MODULE = "corr_lead"

# --------------------------------------------------------------------------- shared helpers


def returns_matrix(data: pd.DataFrame) -> np.ndarray:
    """The wide frame as a C-ordered ``(bars, symbols)`` float64 array."""
    return np.ascontiguousarray(data.to_numpy(dtype=np.float64))


def unordered_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions ``(i, j)`` with ``i < j``, in column order."""
    return np.triu_indices(k, 1)


def ordered_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions ``(i, j)`` with ``i != j``, ``i`` major."""
    return np.nonzero(~np.eye(k, dtype=bool))


def all_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(i, j)``, diagonal included, ``i`` major."""
    return np.nonzero(np.ones((k, k), dtype=bool))


def pair_frame(values: np.ndarray, data: pd.DataFrame, first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """A ``(bars, pairs)`` array as a frame with ``(x, y)`` symbol columns."""
    symbols = np.asarray(data.columns, dtype=object)
    columns = pd.MultiIndex.from_arrays([symbols[first], symbols[second]])
    return pd.DataFrame(values, index=data.index, columns=columns)


def centered_sums(sum_a: np.ndarray, sum_b: np.ndarray, sum_ab: np.ndarray, window: int) -> np.ndarray:
    """``Σ(a - mean a)(b - mean b)`` over a window, from the raw window sums."""
    return sum_ab - sum_a * sum_b / window


def flat_windows(x: np.ndarray, window: int) -> np.ndarray:
    """True where a column is constant over the trailing ``window`` rows.

    Found exactly (rolling max == rolling min), because the variance from
    cumulative sums of such a window is rounding residue, not zero.
    """
    flat = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):  # one O(n) min/max filter per symbol
        flat[:, j] = nm.rolling_max(x[:, j], window) == nm.rolling_min(x[:, j], window)
    return flat


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den`` is not positive."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _correlation(cov: np.ndarray, var_a: np.ndarray, var_b: np.ndarray) -> np.ndarray:
    return np.clip(ratio(cov, np.sqrt(var_a * var_b)), -1.0, 1.0)


def _window_moments(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling sums and centered sums of squares of every column (exactly 0 for
    a flat window, never negative)."""
    sums = nm.rolling_sum(x, window)
    ss = np.maximum(centered_sums(sums, sums, nm.rolling_sum(x * x, window), window), 0.0)
    ss[flat_windows(x, window)] = 0.0
    return sums, ss


def _rolling_pair_stats(
    data: pd.DataFrame, timeperiod: int, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Centered cross sums of the pairs ``(first, second)`` and centered sums of
    squares of every column, over the trailing ``timeperiod`` rows."""
    x = returns_matrix(data)
    sums, ss = _window_moments(x, timeperiod)
    cross = nm.rolling_sum(x[:, first] * x[:, second], timeperiod)
    return centered_sums(sums[:, first], sums[:, second], cross, timeperiod), ss


# --------------------------------------------------------------------------- rolling statistics


@metric(
    name="pearson_corr",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("pearson_corr",),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(3)},
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Pearson (1896); pandas.Series.rolling(...).corr",
)
def pearson_corr(data: pd.DataFrame, *, timeperiod: int = 720) -> dict[str, pd.DataFrame]:
    """Rolling Pearson correlation of every pair of symbols.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars (720 hourly bars = 30 days).

    Returns
    -------
    dict of DataFrame
        ``pearson_corr`` for every unordered pair ``(x, y)``, ``x`` before ``y``
        in the column order; the correlation matrix of a bar is its row.

    Notes
    -----
    Formula: ``ρ_xy = Σ(x - x̄)(y - ȳ) / sqrt(Σ(x - x̄)² Σ(y - ȳ)²)`` over the
    ``n`` rows ending at ``t``. Value range [-1, 1]; NaN when a symbol does not
    move in the window. Warm-up: ``n - 1`` bars.

    References
    ----------
    K. Pearson, "Mathematical contributions to the theory of evolution III",
    *Phil. Trans. R. Soc. A* 187 (1896); pandas ``rolling().corr``.
    """
    first, second = unordered_pairs(data.shape[1])
    sxy, ss = _rolling_pair_stats(data, timeperiod, first, second)
    return {"pearson_corr": pair_frame(_correlation(sxy, ss[:, first], ss[:, second]), data, first, second)}


@metric(
    name="rolling_cov",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("rolling_cov",),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Sample covariance; pandas.Series.rolling(...).cov (ddof=1)",
)
def rolling_cov(data: pd.DataFrame, *, timeperiod: int = 720) -> dict[str, pd.DataFrame]:
    """Rolling sample covariance of every pair of symbols, variances included.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars.

    Returns
    -------
    dict of DataFrame
        ``rolling_cov`` for every pair ``(x, y)`` with ``x`` at or before ``y``
        in the column order (``x == y`` is the variance), in return² per bar
        (multiply by ``periods_per_year`` to annualize).

    Notes
    -----
    Formula: ``cov_xy = Σ(x - x̄)(y - ȳ) / (n - 1)`` over the ``n`` rows ending
    at ``t`` (sample covariance, as pandas). Value range: unbounded, variances
    ``>= 0``. Warm-up: ``n - 1`` bars.

    References
    ----------
    pandas ``rolling().cov`` (ddof=1).
    """
    first, second = np.triu_indices(data.shape[1], 0)
    sxy, ss = _rolling_pair_stats(data, timeperiod, first, second)
    diagonal = first == second
    sxy[:, diagonal] = ss[:, first[diagonal]]  # the clipped, flat-aware variances
    return {"rolling_cov": pair_frame(sxy / (timeperiod - 1), data, first, second)}


@metric(
    name="beta",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("beta",),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Sharpe (1964), J. Finance 19; OLS slope cov(x, y)/var(x)",
)
def beta(data: pd.DataFrame, *, timeperiod: int = 720) -> dict[str, pd.DataFrame]:
    """Rolling OLS beta of each symbol's returns on each other symbol's.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars.

    Returns
    -------
    dict of DataFrame
        ``beta`` for every ordered pair ``(x, y)``, ``x != y``: the slope of
        ``y`` regressed on ``x`` (``x`` is the market or driver).

    Notes
    -----
    Formula: ``β_{y|x} = cov(x, y) / var(x)`` over the ``n`` rows ending at
    ``t``, the OLS slope of ``y_t = α + β x_t + ε_t``. Value range: unbounded;
    NaN when ``x`` does not move in the window. Warm-up: ``n - 1`` bars.

    References
    ----------
    W. F. Sharpe, "Capital asset prices", *J. Finance* 19 (1964).
    """
    first, second = ordered_pairs(data.shape[1])
    sxy, ss = _rolling_pair_stats(data, timeperiod, first, second)
    return {"beta": pair_frame(ratio(sxy, ss[:, first]), data, first, second)}


@metric(
    name="partial_corr",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("partial_corr",),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(3)},
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Fisher (1924), Metron 3; Whittaker (1990), Graphical Models, ch. 5",
)
def partial_corr(data: pd.DataFrame, *, timeperiod: int = 720) -> dict[str, pd.DataFrame]:
    """Rolling partial correlation of every pair given all the other symbols.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars; it should exceed the number of symbols several times.

    Returns
    -------
    dict of DataFrame
        ``partial_corr`` for every unordered pair ``(x, y)``, ``x`` before
        ``y``: the correlation of ``x`` and ``y`` once the linear effect of every
        other column is removed from both. With two symbols it is the Pearson
        correlation.

    Notes
    -----
    Formula: with ``R`` the window's correlation matrix and ``P = R⁻¹`` (the
    precision matrix), ``ρ_xy·rest = -P_xy / sqrt(P_xx P_yy)``, which equals
    the correlation of the residuals of ``x`` and ``y`` regressed on the other
    columns. Computed for every bar with a batched eigendecomposition. Value
    range [-1, 1]; NaN when a symbol does not move or the other columns are
    collinear in the window (smallest eigenvalue of ``R`` below 1e-10).
    Memory: ``bars × symbols²`` floats. Warm-up: ``n - 1`` bars.

    References
    ----------
    R. A. Fisher, "The distribution of the partial correlation coefficient",
    *Metron* 3 (1924); J. Whittaker, *Graphical Models in Applied Multivariate
    Statistics* (1990).
    """
    n, k = data.shape
    rows, cols = np.triu_indices(k, 0)
    cross, ss = _rolling_pair_stats(data, timeperiod, rows, cols)
    first, second = unordered_pairs(k)
    out = np.full((n, len(first)), np.nan)
    valid = np.flatnonzero((ss > 0).all(axis=1))
    if valid.size:
        scale = np.sqrt(ss[valid])
        corr = np.empty((valid.size, k, k))
        corr[:, rows, cols] = cross[valid] / (scale[:, rows] * scale[:, cols])
        corr[:, cols, rows] = corr[:, rows, cols]
        corr[:, np.arange(k), np.arange(k)] = 1.0
        eigenvalues, vectors = np.linalg.eigh(corr)
        regular = eigenvalues[:, 0] > 1e-10
        eigenvalues[~regular] = 1.0
        precision = (vectors / eigenvalues[:, None, :]) @ np.transpose(vectors, (0, 2, 1))
        diag = np.sqrt(precision[:, first, first] * precision[:, second, second])
        partial = np.clip(-precision[:, first, second] / diag, -1.0, 1.0)
        partial[~regular] = np.nan
        out[valid] = partial
    return {"partial_corr": pair_frame(out, data, first, second)}


# --------------------------------------------------------------------------- lead-lag


def _lag_order(max_lag: int) -> list[int]:
    """0, 1, -1, 2, -2, ...: a tie keeps the shorter (then the positive) lag."""
    return [0, *(sign * lag for lag in range(1, max_lag + 1) for sign in (1, -1))]


@metric(
    name="lead_lag",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("lead_lag", "lead_lag_corr"),
    params={"timeperiod": 720, "max_lag": 12},
    constraints={"timeperiod": at_least(3), "max_lag": at_least(1)},
    warmup=lambda p: p["timeperiod"] + p["max_lag"] - 1,
    reference="Hoffmann, Rosenbaum & Takahashi (2013), Estimation of the lead-lag "
    "parameter from non-synchronous data, Bernoulli 19",
)
def lead_lag(data: pd.DataFrame, *, timeperiod: int = 720, max_lag: int = 12) -> dict[str, pd.DataFrame]:
    """Rolling lead-lag: the lag that maximizes the absolute cross-correlation.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars over which each lagged correlation is measured.
    max_lag : int, default 12
        Largest lead or lag searched, in bars.

    Returns
    -------
    dict of DataFrame
        For every unordered pair ``(x, y)``, ``x`` before ``y``:
        ``lead_lag``, the lag ``k`` in bars (an integer in
        ``[-max_lag, max_lag]``) where ``|corr(x_{s-k}, y_s)|`` is largest; ``k > 0``
        means ``x`` leads ``y`` by ``k`` bars, ``k < 0`` that ``y`` leads ``x``;
        ``lead_lag_corr``, the (signed) correlation at that lag.

    Notes
    -----
    Formula: ``ρ_k(t) = corr(x_{s-k}, y_s)`` for ``k >= 0`` and
    ``corr(x_s, y_{s+k})`` for ``k < 0``, over the ``n`` values of ``s`` ending
    at ``t`` (both series are only read up to ``t``), for
    ``k = -K .. K``; ``lead_lag = argmax_k |ρ_k|``, ties to the shorter lag.
    Value range: lag in [-K, K], correlation in [-1, 1]; NaN when a symbol
    does not move. Warm-up: ``n + K - 1`` bars. Cost: ``2K + 1`` rolling
    correlations per pair.

    References
    ----------
    M. Hoffmann, M. Rosenbaum and N. Takahashi, "Estimation of the lead-lag
    parameter from non-synchronous data", *Bernoulli* 19 (2013); the
    cross-correlation lead-lag estimator of de Jong and Nijman, *J. Empirical
    Finance* 4 (1997).
    """
    x = returns_matrix(data)
    n, k = x.shape
    first, second = unordered_pairs(k)
    sums, ss = _window_moments(x, timeperiod)
    best_abs = np.full((n, len(first)), -np.inf)
    best_lag = np.full((n, len(first)), np.nan)
    best_corr = np.full((n, len(first)), np.nan)
    for lag in _lag_order(max_lag):
        # The leading side is delayed by |lag| so both windows end at t.
        lead, follow = (first, second) if lag >= 0 else (second, first)
        shift = abs(lag)
        cross = np.full((n, len(first)), np.nan)
        cross[shift:] = nm.rolling_sum(x[: n - shift, lead] * x[shift:, follow], timeperiod)
        lead_sum, lead_ss = nm.shift(sums[:, lead], shift), nm.shift(ss[:, lead], shift)
        centered = centered_sums(lead_sum, sums[:, follow], cross, timeperiod)
        corr = _correlation(centered, lead_ss, ss[:, follow])
        better = np.abs(corr) > best_abs
        best_abs[better] = np.abs(corr[better])
        best_lag[better] = lag
        best_corr[better] = corr[better]
    warmup = timeperiod + max_lag - 1
    best_lag[:warmup] = np.nan
    best_corr[:warmup] = np.nan
    return {
        "lead_lag": pair_frame(best_lag, data, first, second),
        "lead_lag_corr": pair_frame(best_corr, data, first, second),
    }


# --------------------------------------------------------------------------- Granger causality


def granger_pvalues(window: np.ndarray, lags: int) -> np.ndarray:
    """Granger-causality F-test p-values between the columns of ``window``.

    Returns a ``(k, k)`` matrix whose entry ``[x, y]`` is the p-value of the
    null "the ``lags`` past values of column ``x`` do not improve the OLS
    forecast of column ``y`` given a constant and ``y``'s own ``lags`` past
    values" (NaN on the diagonal). This is statsmodels'
    ``grangercausalitytests(window[:, [y, x]], maxlag=[lags])[lags][0]['ssr_ftest']``,
    computed for all pairs at once: the ``x`` lags are residualized on the
    restricted design (Frisch–Waugh), so the explained sum of squares of each
    unrestricted model is the squared projection onto their QR basis.
    """
    from scipy.stats import f as f_dist

    m, k = window.shape
    nobs = m - lags
    df_denom = nobs - 2 * lags - 1
    target = window[lags:]
    lagged = np.stack([window[lags - lag : m - lag] for lag in range(1, lags + 1)], axis=2)
    flat = lagged.reshape(nobs, k * lags)
    out = np.full((k, k), np.nan)
    for y in range(k):  # one restricted model per response; the drivers are batched
        restricted = np.column_stack((np.ones(nobs), lagged[:, y, :]))
        basis, _ = np.linalg.qr(restricted)
        resid_y = target[:, y] - basis @ (basis.T @ target[:, y])
        rss_restricted = float(resid_y @ resid_y)
        others = np.array([i for i in range(k) if i != y])
        resid_x = (flat - basis @ (basis.T @ flat)).reshape(nobs, k, lags)[:, others, :]
        q, r = np.linalg.qr(np.transpose(resid_x, (1, 0, 2)))
        explained = np.square(np.einsum("bnl,n->bl", q, resid_y)).sum(axis=1)
        # A driver whose lags are collinear with the restricted design (it does
        # not move) has no defined test.
        pivots = np.abs(np.diagonal(r, axis1=1, axis2=2))
        explained[(pivots <= 1e-10 * np.sqrt(nobs) * np.abs(flat).max()).any(axis=1)] = np.nan
        rss_full = np.maximum(rss_restricted - explained, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = (explained / lags) / (rss_full / df_denom)
        out[others, y] = f_dist.sf(stat, lags, df_denom)
    return out


def _granger_window(value: Any, params: Any) -> str | None:
    needed = 3 * params["lags"] + 10
    return None if value >= needed else f"must be >= 3*lags + 10 = {needed} (got {value!r})"


@metric(
    name="granger",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("granger_pvalue",),
    params={"window": 720, "lags": 4, "refit_every": "1D"},
    constraints={"lags": at_least(1), "window": _granger_window, "refit_every": _check_frequency},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"],
    reference="Granger (1969), Econometrica 37; statsmodels grangercausalitytests (ssr_ftest)",
)
def granger(
    data: pd.DataFrame, *, window: int = 720, lags: int = 4, refit_every: str = "1D"
) -> dict[str, pd.DataFrame]:
    """Granger-causality p-value of every ordered pair, on a trailing window.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    window : int, default 720
        Rows in each test (720 hourly bars = 30 days); at least ``3 lags + 10``.
    lags : int, default 4
        Lags ``p`` of both series in the regressions.
    refit_every : str, default "1D"
        Test period (a fixed pandas frequency); tests run at the first bar of
        each calendar period.

    Returns
    -------
    dict of DataFrame
        ``granger_pvalue`` for every ordered pair ``(x, y)``, ``x != y``: the
        p-value of "x does not Granger-cause y". Small values say that ``x``'s
        past helps forecast ``y``, i.e. ``x`` leads.

    Notes
    -----
    Formula: restricted ``y_t = c + Σ_{l=1..p} a_l y_{t-l}``, unrestricted adds
    ``Σ b_l x_{t-l}``, both by OLS on the ``window - p`` usable rows;
    ``F = ((RSS_r - RSS_u)/p) / (RSS_u/(N - 2p - 1))`` with ``(p, N - 2p - 1)``
    degrees of freedom — the ``ssr_ftest`` of statsmodels'
    ``grangercausalitytests`` (the tests check equality to 1e-8), computed
    for all pairs of a window at once with QR decompositions. At each refit
    bar ``b`` the test uses rows ``b - window .. b - 1``; the p-value holds
    until the next refit. Value range [0, 1]; NaN when ``y`` does not move.
    Warm-up: ``window`` bars, plus the bars until the next refit boundary.
    The p-values are not corrected for testing many pairs.

    References
    ----------
    C. W. J. Granger, "Investigating causal relations by econometric models
    and cross-spectral methods", *Econometrica* 37 (1969); statsmodels
    ``grangercausalitytests``.
    """
    x = returns_matrix(data)
    first, second = ordered_pairs(x.shape[1])
    out = np.full((len(x), len(first)), np.nan)
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one batch of tests per refit
        out[b:e] = granger_pvalues(x[b - window : b], lags)[first, second]
    return {"granger_pvalue": pair_frame(out, data, first, second)}


# --------------------------------------------------------------------------- dynamic time warping


def dtw_banded(a: np.ndarray, b: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """DTW of each row of ``a`` against the same row of ``b`` in a Sakoe–Chiba band.

    ``a`` and ``b`` are ``(batch, m)``. Returns the distance
    ``sqrt(min over warping paths of Σ (a_i - b_j)²)`` (the convention of
    dtaidistance) and the mean offset ``j - i`` along the optimal path, both
    of shape ``(batch,)``.

    The dynamic programme runs row by row over ``i`` and is vectorized over the
    batch and the band: with ``A_j = c_ij + min(D_{i-1,j-1}, D_{i-1,j})`` and
    ``C_j = Σ_{l<=j} c_il``, the horizontal recursion
    ``D_ij = min(A_j, c_ij + D_{i,j-1})`` is ``C_j + min_{l<=j}(A_l - C_l)``,
    a running minimum. The path's offset sum and length are carried along with
    the minimizing predecessor (a diagonal step wins ties).
    """
    batch, m = a.shape
    offsets = np.arange(-band, band + 1)  # j - i, the banded column coordinate
    width = offsets.size
    positions = np.arange(width)
    offset_cumsum = np.cumsum(offsets)
    prev_d = np.full((batch, width), np.inf)
    prev_s = np.zeros((batch, width))
    prev_len = np.zeros((batch, width))
    for i in range(m):  # the recursion is sequential in i; each row is vectorized
        j = i + offsets
        valid = (j >= 0) & (j < m)
        cost = np.square(a[:, i : i + 1] - b[:, np.clip(j, 0, m - 1)])
        cost[:, ~valid] = 0.0
        if i == 0:
            arrive = np.full((batch, width), np.inf)
            arrive[:, band] = cost[:, band]
            arrive_s = np.zeros((batch, width))
            arrive_len = np.ones((batch, width))
        else:
            vertical = np.full((batch, width), np.inf)  # from (i-1, j): offset + 1
            vertical[:, :-1] = prev_d[:, 1:]
            vertical_s = np.zeros((batch, width))
            vertical_s[:, :-1] = prev_s[:, 1:]
            vertical_len = np.zeros((batch, width))
            vertical_len[:, :-1] = prev_len[:, 1:]
            diagonal = prev_d <= vertical  # from (i-1, j-1): same offset
            arrive = cost + np.where(diagonal, prev_d, vertical)
            arrive_s = offsets + np.where(diagonal, prev_s, vertical_s)
            arrive_len = 1.0 + np.where(diagonal, prev_len, vertical_len)
        arrive[:, ~valid] = np.inf
        running = np.cumsum(cost, axis=1)
        slack = arrive - running
        best = np.minimum.accumulate(slack, axis=1)
        source = np.maximum.accumulate(np.where(slack == best, positions, 0), axis=1)
        prev_d = running + best
        prev_s = np.take_along_axis(arrive_s, source, axis=1) + offset_cumsum - offset_cumsum[source]
        prev_len = np.take_along_axis(arrive_len, source, axis=1) + positions - source
        prev_d[:, ~valid] = np.inf
    distance = np.sqrt(prev_d[:, band])
    lag = prev_s[:, band] / prev_len[:, band]
    lag[~np.isfinite(distance)] = np.nan
    return distance, lag


def _standardized_paths(windows: np.ndarray) -> np.ndarray:
    """Cumulative return paths of ``(..., m)`` windows, z-normalized along the
    last axis (NaN for a flat path)."""
    paths = np.cumsum(windows, axis=-1)
    paths -= paths.mean(axis=-1, keepdims=True)
    scale = paths.std(axis=-1, keepdims=True)
    scale[scale == 0.0] = np.nan  # only returns that are all exactly zero give a flat path
    return paths / scale


def _band_within_window(value: Any, params: Any) -> str | None:
    if 1 <= value < params["window"]:
        return None
    return f"must lie in [1, window) = [1, {params['window']}) (got {value!r})"


#: Refits whose DTW problems are solved in one batch (bounds the working memory).
_DTW_REFITS_PER_BATCH = 32


@metric(
    name="dtw",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("dtw_distance", "dtw_lag"),
    params={"window": 168, "band": 24, "refit_every": "1D"},
    constraints={
        "window": at_least(8),
        "band": _band_within_window,
        "refit_every": _check_frequency,
    },
    warmup=lambda p: p["window"],
    reference="Sakoe & Chiba (1978), IEEE Trans. ASSP 26; dtaidistance dtw.distance(window=)",
)
def dtw(
    data: pd.DataFrame, *, window: int = 168, band: int = 24, refit_every: str = "1D"
) -> dict[str, pd.DataFrame]:
    """Dynamic-time-warping distance and lag between the recent paths of each pair.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    window : int, default 168
        Bars in each compared path (168 hourly bars = 7 days).
    band : int, default 24
        Sakoe–Chiba band half-width in bars: bar ``i`` of one path may only be
        matched with bars ``i - band .. i + band`` of the other (at least 1; 0
        would be a plain Euclidean distance). It bounds the lag that can be found.
    refit_every : str, default "1D"
        Recomputation period (a fixed pandas frequency); computed at the first
        bar of each calendar period.

    Returns
    -------
    dict of DataFrame
        For every unordered pair ``(x, y)``, ``x`` before ``y``:
        ``dtw_distance``, the DTW distance of the two standardized paths (>= 0,
        0 for identical shapes); ``dtw_lag``, the mean offset ``j - i`` along the
        optimal warping path in bars, positive when ``x`` leads ``y`` (``y``
        repeats ``x``'s moves later).

    Notes
    -----
    Formula: each path is the cumulative log return over the window,
    z-normalized (mean 0, standard deviation 1). With cost
    ``c_ij = (x_i - y_j)²``, ``D_ij = c_ij + min(D_{i-1,j-1}, D_{i-1,j}, D_{i,j-1})``
    for ``|i - j| <= band``; distance ``sqrt(D_{m-1,m-1})``. If ``y_t = x_{t-k}``
    the optimal path matches ``x_i`` with ``y_{i+k}`` away from the ends, so
    ``dtw_lag ≈ k``; the forced start and end at ``(0, 0)`` and
    ``(m-1, m-1)`` pull it slightly towards 0. Implemented here (vectorized
    over pairs, refits and the band; dtaidistance is not a dependency) and
    checked against a textbook double loop. At each refit bar ``b`` the paths
    are the rows ``b - window .. b - 1``, held until the next refit.
    Value range: distance >= 0, lag in [-band, band]; NaN when a path is flat.
    Warm-up: ``window`` bars, plus the bars until the next refit boundary.

    References
    ----------
    H. Sakoe and S. Chiba, "Dynamic programming algorithm optimization for
    spoken word recognition", *IEEE Trans. ASSP* 26 (1978); dtaidistance
    ``dtw.distance`` (squared-difference cost, square root of the total).
    """
    x = returns_matrix(data)
    first, second = unordered_pairs(x.shape[1])
    distance = np.full((len(x), len(first)), np.nan)
    lag = np.full((len(x), len(first)), np.nan)
    spans = list(nm.refit_spans(data.index, refit_every, window))
    for lo in range(0, len(spans), _DTW_REFITS_PER_BATCH):
        chunk = spans[lo : lo + _DTW_REFITS_PER_BATCH]
        windows = np.stack([x[b - window : b].T for b, _ in chunk])  # (refits, symbols, window)
        paths = _standardized_paths(windows)
        a = paths[:, first].reshape(-1, window)
        b_paths = paths[:, second].reshape(-1, window)
        chunk_distance, chunk_lag = dtw_banded(a, b_paths, band)
        chunk_distance = chunk_distance.reshape(len(chunk), len(first))
        chunk_lag = chunk_lag.reshape(len(chunk), len(first))
        for r, (b, e) in enumerate(chunk):
            distance[b:e] = chunk_distance[r]
            lag[b:e] = chunk_lag[r]
    return {
        "dtw_distance": pair_frame(distance, data, first, second),
        "dtw_lag": pair_frame(lag, data, first, second),
    }


# --------------------------------------------------------------------------- canonical correlation


def _cca_window(value: Any, params: Any) -> str | None:
    needed = params["lag"] + 20
    return None if value >= needed else f"must be >= lag + 20 = {needed} (got {value!r})"


@metric(
    name="cca",
    module=MODULE,
    kind="cross_asset",
    layout="aggregate",
    inputs=(),
    outputs=("cca_corr",),
    params={"window": 720, "lag": 1, "refit_every": "1D"},
    constraints={"lag": at_least(1), "window": _cca_window, "refit_every": _check_frequency},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"],
    reference="Hotelling (1936), Biometrika 28; sklearn.cross_decomposition.CCA",
)
def cca(data: pd.DataFrame, *, window: int = 720, lag: int = 1, refit_every: str = "1D") -> np.ndarray:
    """First canonical correlation between the lagged and the current returns.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol.
    window : int, default 720
        Rows in each fit; at least ``lag + 20``.
    lag : int, default 1
        Lag in bars between the two sets: ``X = r_{t-lag}``, ``Y = r_t``.
    refit_every : str, default "1D"
        Refit period (a fixed pandas frequency).

    Returns
    -------
    ndarray
        ``cca_corr`` in [0, 1]: the largest correlation between a portfolio of
        the symbols' returns ``lag`` bars ago and a portfolio of their current
        returns — how much of the cross-section's next move its own recent past
        explains, whichever symbols lead.

    Notes
    -----
    Formula: ``ρ₁ = max_{a, b} corr(X a, Y b)``, the largest singular value of
    ``Σ_XX^{-1/2} Σ_XY Σ_YY^{-1/2}``. Fitted with scikit-learn's ``CCA``
    (``n_components=1``, standardized columns, NIPALS to a tolerance of
    1e-10); the value is the correlation of the two canonical scores on the
    fit window. At each refit bar ``b`` the fit uses rows
    ``b - window .. b - 1``, held until the next refit. In-sample, so it is
    biased upwards by about ``k/√window`` for ``k`` symbols when nothing leads.
    Value range [0, 1]. Warm-up: ``window`` bars, plus the bars until the next
    refit boundary. A fit that does not converge raises.

    References
    ----------
    H. Hotelling, "Relations between two sets of variates", *Biometrika* 28
    (1936); scikit-learn ``CCA``.
    """
    from sklearn.cross_decomposition import CCA
    from sklearn.exceptions import ConvergenceWarning

    x = returns_matrix(data)
    out = nm.nan_array(len(x))
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one fit per refit period
        rows = x[b - window : b]
        past, present = rows[:-lag], rows[lag:]
        if (past.std(axis=0) == 0).any() or (present.std(axis=0) == 0).any():
            continue  # a symbol that does not move: the correlation is undefined (NaN)
        model = CCA(n_components=1, scale=True, max_iter=5000, tol=1e-10)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)  # a fit that did not converge raises
            scores_x, scores_y = model.fit(past, present).transform(past, present)
        out[b:e] = abs(np.corrcoef(scores_x[:, 0], scores_y[:, 0])[0, 1])
    return out


# --------------------------------------------------------------------------- vector autoregression


def _var_window(value: Any, params: Any) -> str | None:
    needed = 10 * params["maxlags"] + 20
    return None if value >= needed else f"must be >= 10*maxlags + 20 = {needed} (got {value!r})"


@metric(
    name="var_model",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("var_fevd", "var_irf", "var_lag_order"),
    params={"window": 720, "maxlags": 6, "ic": "aic", "horizon": 24, "refit_every": "1D"},
    constraints={
        "maxlags": at_least(1),
        "window": _var_window,
        "ic": one_of("aic", "bic", "hqic", "fpe"),
        "horizon": between(1, 10_000),
        "refit_every": _check_frequency,
    },
    warmup=lambda p: p["window"],
    reference="Sims (1980), Econometrica 48; Lütkepohl (2005), New Introduction to "
    "Multiple Time Series Analysis; statsmodels VAR (select_order, fevd, irf)",
)
def var_model(
    data: pd.DataFrame,
    *,
    window: int = 720,
    maxlags: int = 6,
    ic: str = "aic",
    horizon: int = 24,
    refit_every: str = "1D",
) -> dict[str, pd.DataFrame]:
    """Vector autoregression: forecast-error variance shares and impulse responses.

    Parameters
    ----------
    data : DataFrame
        Wide frame of log returns, one column per symbol. The column order is
        the Cholesky ordering of the shocks: put the presumed leader first.
    window : int, default 720
        Rows in each fit; at least ``10 maxlags + 20``.
    maxlags : int, default 6
        Largest lag order considered.
    ic : {"aic", "bic", "hqic", "fpe"}, default "aic"
        Information criterion that selects the lag order in ``1 .. maxlags``.
    horizon : int, default 24
        Forecast horizon ``h`` in bars of the variance decomposition and of the
        cumulative impulse response.
    refit_every : str, default "1D"
        Refit period (a fixed pandas frequency).

    Returns
    -------
    dict of DataFrame
        For every pair ``(x, y)``, ``x == y`` included: ``var_fevd``, the share of
        ``y``'s ``h``-step forecast-error variance due to shocks in ``x`` (in
        [0, 1]; the shares of one ``y`` sum to 1 over ``x``); ``var_irf``, the
        cumulative response of ``y`` over ``h`` bars to a one-standard-deviation
        orthogonalized shock in ``x``, in log-return units; ``var_lag_order``, the
        selected lag order ``p`` of the fit (the same for every pair).

    Notes
    -----
    Model: ``r_t = c + Σ_{l=1..p} A_l r_{t-l} + u_t``, ``cov(u) = Σ_u = L Lᵀ``
    (Cholesky, column order). FEVD:
    ``ω_{y←x}(h) = Σ_{s<h} (Θ_s)_{yx}² / Σ_{s<h} Σ_z (Θ_s)_{yz}²`` with
    ``Θ_s = Φ_s L``; IRF: ``Σ_{s<=h} (Θ_s)_{yx}``. Fitted by statsmodels
    ``VAR`` at each refit bar ``b`` on rows ``b - window .. b - 1``: the order
    minimizes ``ic`` over ``1 .. maxlags`` (``select_order``; order 0 is not
    allowed since it has no dynamics), then ``fit(p)``, ``fevd(h)`` and
    ``irf(h).orth_cum_effects``; held until the next refit. Value range: shares
    in [0, 1], responses unbounded. Warm-up: ``window`` bars, plus the bars
    until the next refit boundary.

    References
    ----------
    C. A. Sims, "Macroeconomics and reality", *Econometrica* 48 (1980);
    H. Lütkepohl, *New Introduction to Multiple Time Series Analysis* (2005);
    statsmodels ``VAR``.
    """
    from statsmodels.tsa.api import VAR

    x = returns_matrix(data)
    first, second = all_pairs(x.shape[1])
    fevd = np.full((len(x), len(first)), np.nan)
    irf = np.full((len(x), len(first)), np.nan)
    order = np.full((len(x), len(first)), np.nan)
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one fit per refit period
        model = VAR(x[b - window : b])
        criteria = np.asarray(model.select_order(maxlags).ics[ic], dtype=float)
        lags = 1 + int(np.argmin(criteria[1:]))
        result = model.fit(lags)
        decomposition = result.fevd(horizon).decomp[:, horizon - 1, :]  # [response, shock]
        responses = result.irf(horizon).orth_cum_effects[horizon]  # [response, shock]
        fevd[b:e] = decomposition[second, first]
        irf[b:e] = responses[second, first]
        order[b:e] = lags
    return {
        "var_fevd": pair_frame(fevd, data, first, second),
        "var_irf": pair_frame(irf, data, first, second),
        "var_lag_order": pair_frame(order, data, first, second),
    }
