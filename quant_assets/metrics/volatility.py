"""Family B, volatility and regime (module ``volat_regime``).

Statistics use log returns ``r_t = ln(C_t/C_{t-1})`` and annualize with the bar
interval (``periods_per_year``: 8760 for hourly bars, 365 for daily; crypto
trades 24/7, so never 252).

Model-based metrics (GARCH, Markov switching) are refit on a schedule defined
by time alone: at the first bar of every calendar period ``refit_every``
(``"1D"``, ``"7D"``, anchored at the Unix epoch), on the trailing ``window``
returns that end just before that bar. Between refits the fitted model is run
forward bar by bar (filtered, never smoothed). A value at bar ``t`` therefore
depends only on the ``window`` returns before the last refit and the bars up to
``t``: it does not change with where the series starts, provided that the
series starts at least ``window`` bars before that refit. Rolling statistics
(variance ratio, entropy, DFA) are exact trailing-window computations for every
bar, vectorized with cumulative sums and convolutions.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import talib

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import require_bar_range, require_positive
from quant_assets.metrics.registry import at_least, between, greater_than, metric, one_of
from quant_assets.metrics.trend import _bbands_arrays, _column, _talib_serves, _window_count

MODULE = "volat_regime"


def _check_frequency(value: Any, _params: Any) -> str | None:
    try:
        offset = pd.tseries.frequencies.to_offset(value)
    except ValueError:
        return f"must be a pandas frequency such as '1D' or '7D' (got {value!r})"
    if not isinstance(offset, pd.offsets.Tick):
        return f"must be a fixed-length frequency such as '1h', '1D', '7D' (got {value!r})"
    return None


# --------------------------------------------------------------------------- realized volatility


@metric(
    name="hist_vol",
    module=MODULE,
    inputs=("close",),
    outputs=("hist_vol",),
    params={"timeperiod": 720, "periods_per_year": 8760.0},
    constraints={"timeperiod": at_least(2), "periods_per_year": greater_than(0.0)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    reference="Close-to-close volatility (e.g. Hull, Options, Futures and Other Derivatives)",
)
def hist_vol(data: pd.DataFrame, *, timeperiod: int = 720, periods_per_year: float = 8760.0) -> np.ndarray:
    """Annualized close-to-close historical volatility of log returns.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 720
        Number of returns ``W`` in the window (720 hourly bars = 30 days).
    periods_per_year : float, default 8760.0
        Bars per year: 8760 for hourly bars (24 x 365), 365 for daily bars.

    Returns
    -------
    ndarray
        ``hist_vol``, annualized, as a fraction (0.8 = 80 %), >= 0.

    Notes
    -----
    Formula: ``σ_ann = std(r_{t-W+1} .. r_t, ddof=1) sqrt(P)`` with
    ``r_t = ln(C_t/C_{t-1})``. Warm-up: ``W`` bars (``W`` returns need ``W + 1``
    closes). A GBM path with σ = 0.8 gives about 0.8. A window of unchanged
    closes gives exactly 0.
    A close that is not positive has no log return: the windows holding its
    two returns are NaN, later windows are not affected.
    Engine: TA-Lib ``VAR`` (population variance over the window) of the log
    returns, times ``W/(W-1)`` for the sample variance; a pandas rolling
    deviation when ``W > 100000``.

    References
    ----------
    J. C. Hull, *Options, Futures and Other Derivatives*, ch. on volatility
    estimation; annualization by the bar interval for 24/7 markets.
    """
    close = _column(data, "close")
    returns = nm.log_returns(close)
    if not _talib_serves(timeperiod, minimum=2):
        return nm.rolling_std(returns, timeperiod, ddof=1) * math.sqrt(periods_per_year)
    holes = None
    if not close.min() > 0.0:
        holes = ~np.isfinite(returns)
        holes[0] = False
        returns[holes] = 0.0  # a stand-in for TA-Lib's running sums; those windows are NaN below
    # TA-Lib skips the leading NaN return, so the first value lands on bar W.
    variance = talib.VAR(returns, timeperiod, 1.0)
    if holes is not None:
        variance[_window_count(holes, timeperiod) > 0] = np.nan
    variance *= periods_per_year * timeperiod / (timeperiod - 1)
    return np.sqrt(np.maximum(variance, 0.0, out=variance), out=variance)


@metric(
    name="close_range_vol_ratio",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("close_range_vol_ratio",),
    params={"timeperiod": 24},
    constraints={"timeperiod": at_least(2)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    reference="Parkinson (1980), J. Business 53(1), range-based variance estimator",
)
def close_range_vol_ratio(data: pd.DataFrame, *, timeperiod: int = 24) -> np.ndarray:
    """Close-to-close volatility over the range-based (Parkinson) volatility of the same bars.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns (> 0, ``high >= low``).
    timeperiod : int, default 24
        Number of bars ``n`` in the window.

    Returns
    -------
    ndarray
        ``close_range_vol_ratio`` >= 0: about 1 for a random walk observed
        continuously (discrete high/low sampling biases Parkinson low, so about
        1.1 for 60 steps per bar); above 1 when closes jump from bar to bar more
        than the bars' own ranges explain (reversals between closes, a choppy,
        mean-reverting market); below 1 when bars range widely but close near
        where they opened.

    Notes
    -----
    Formula: ``sqrt( Σ r_i² / Σ ln(H_i/L_i)²/(4 ln 2) )`` over the last ``n``
    bars, with ``r_i = ln(C_i/C_{i-1})`` (realized variance, not demeaned) and
    Parkinson's estimator in the denominator, both per bar, so the ratio needs
    no annualization. Warm-up: ``n`` bars (``n`` returns need ``n + 1`` closes).
    NaN where every bar of the window has ``high == low``.

    References
    ----------
    M. Parkinson, "The extreme value method for estimating the variance of the
    rate of return", *J. Business* 53 (1980); close-to-close realized variance
    as in ``hist_vol``.
    """
    name = "close_range_vol_ratio"
    close = require_positive(name, data, "close")
    high, low = require_bar_range(name, data)
    squared_returns = nm.log_returns(close) ** 2
    parkinson = np.log(high / low) ** 2 / (4.0 * math.log(2.0))
    close_variance = _window_sum(squared_returns, timeperiod, timeperiod)
    range_variance = _window_sum(parkinson, timeperiod, timeperiod)
    return np.sqrt(nm.safe_divide(close_variance, range_variance))


@metric(
    name="bb_width",
    module=MODULE,
    inputs=("close",),
    outputs=("bb_width",),
    params={"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0},
    constraints={
        "timeperiod": at_least(2),
        "nbdevup": at_least(0.0),
        "nbdevdn": at_least(0.0),
    },
    depends_on=("bbands",),
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Bollinger (2001), Bollinger on Bollinger Bands (BandWidth)",
)
def bb_width(
    data: pd.DataFrame, *, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0
) -> np.ndarray:
    """Bollinger BandWidth: band distance relative to the middle band.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 20
        Bollinger window ``n``.
    nbdevup, nbdevdn : float, default 2.0
        Band distances in (population) standard deviations.

    Returns
    -------
    ndarray
        ``bb_width = (upper - lower)/middle``, a fraction >= 0; the ``bb_width``
        column of ``bbands``.

    Notes
    -----
    Formula: ``(nbdevup + nbdevdn) σ_n / SMA_n`` with the population standard
    deviation. A "squeeze" is a width in the lowest decile of its own trailing
    history. Tripling volatility triples the width. Warm-up: ``n - 1`` bars.
    NaN where the middle band is 0. Engine: TA-Lib ``BBANDS(matype=0)``, as
    ``bbands``, of which this is the ``bb_width`` column.

    References
    ----------
    J. Bollinger, *Bollinger on Bollinger Bands* (2001), BandWidth.
    """
    return _bbands_arrays(_column(data, "close"), timeperiod, nbdevup, nbdevdn, width_only=True)["bb_width"]


# --------------------------------------------------------------------------- variance ratio


def _window_sum(values: np.ndarray, count: int, first: int) -> np.ndarray:
    """Sum of the ``count`` values ending at each position; NaN before ``first``.

    ``values`` must be finite from ``first - count + 1`` on (earlier entries are
    ignored); the cumulative sum starts there so earlier history cannot round
    into it.
    """
    out = nm.nan_array(len(values))
    start = first - count + 1
    if first >= len(values):
        return out
    cs = np.concatenate(([0.0], np.cumsum(values[start:])))
    out[first:] = cs[count:] - cs[:-count]
    return out


@metric(
    name="variance_ratio",
    module=MODULE,
    inputs=("close",),
    outputs=("variance_ratio", "variance_ratio_z"),
    params={"timeperiod": 720, "lag": 2},
    constraints={
        "lag": at_least(2),
        "timeperiod": lambda v, p: (
            None if v >= 4 * p["lag"] else f"must be at least 4 x lag = {4 * p['lag']} (got {v!r})"
        ),
    },
    warmup=lambda p: p["timeperiod"],
    reference="Lo & MacKinlay (1988), Review of Financial Studies 1; "
    "arch.unitroot.VarianceRatio(trend='c', debiased=True, robust=True, overlap=True)",
)
def variance_ratio(data: pd.DataFrame, *, timeperiod: int = 720, lag: int = 2) -> dict[str, Any]:
    """Lo–MacKinlay variance ratio of log prices with its robust z-statistic.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 720
        Number of returns ``T`` in the trailing window.
    lag : int, default 2
        Aggregation horizon ``q`` in bars.

    Returns
    -------
    dict of ndarray
        ``variance_ratio``: ``VR(q)`` (>= 0; 1 for a random walk, > 1 trending,
        < 1 mean-reverting); ``variance_ratio_z``: heteroskedasticity-robust
        ``z*(q)``, asymptotically N(0, 1) under the random-walk null.

    Notes
    -----
    Over the window of log prices ``y`` with ``T`` returns ``r`` and
    ``μ = mean(r)``: ``σ²_1 = Σ(r - μ)²/(T - 1)``;
    ``σ²_q = Σ_{j}(y_j - y_{j-q} - qμ)²/m`` over the ``T - q + 1`` overlapping
    ``q``-returns, ``m = q(T - q + 1)(1 - q/T)`` (de-biased);
    ``VR = σ²_q/σ²_1``. Robust variance
    ``θ = Σ_{k=1}^{q-1} [2(q-k)/q]² δ_k``,
    ``δ_k = T Σ_t (r_t - μ)²(r_{t-k} - μ)² / [Σ_t (r_t - μ)²]²``, and
    ``z* = sqrt(T)(VR - 1)/sqrt(θ)``. Identical to
    ``arch.unitroot.VarianceRatio(y, lags=q, trend='c', debiased=True,
    robust=True, overlap=True)`` on each window (``.vr``, ``.stat``), computed
    for all windows at once from running sums. A random walk gives VR ≈ 1,
    AR(1) returns with φ = 0.2 give VR(2) ≈ 1.2. Warm-up: ``T`` bars.

    References
    ----------
    A. W. Lo and A. C. MacKinlay, "Stock market prices do not follow random
    walks: evidence from a simple specification test", *Review of Financial
    Studies* 1 (1988); ``arch.unitroot.VarianceRatio``.
    """
    y = np.log(nm.column(data, "close"))
    n, t_count, q = len(y), timeperiod, lag
    r = np.zeros(n)
    r[1:] = np.diff(y)
    first = t_count  # window of returns r[t-T+1 .. t] needs t - T + 1 >= 1
    s1 = _window_sum(r, t_count, first)
    s2 = _window_sum(r * r, t_count, first)
    mu = s1 / t_count
    ss = s2 - t_count * mu * mu  # Σ (r - μ)²
    sigma2_1 = ss / (t_count - 1)

    big_r = np.zeros(n)  # q-period returns y_j - y_{j-q}
    big_r[q:] = y[q:] - y[:-q]
    n_q = t_count - q + 1
    sr1 = _window_sum(big_r, n_q, first)
    sr2 = _window_sum(big_r * big_r, n_q, first)
    m = q * n_q * (1.0 - q / t_count)
    sigma2_q = (sr2 - 2.0 * q * mu * sr1 + n_q * (q * mu) ** 2) / m
    vr = nm.safe_divide(sigma2_q, sigma2_1)

    theta = np.zeros(n)
    for k in range(1, q):  # q - 1 lags, each vectorized over all windows
        lagged = np.zeros(n)
        lagged[k:] = r[:-k]
        prod, total = r * lagged, r + lagged
        count = t_count - k
        # Σ (a-μ)²(b-μ)² = Σ P² - 2μ Σ P S + μ² Σ (S² + 2P) - 2μ³ Σ S + count μ⁴,
        # with P = ab and S = a + b, so every term is a running sum.
        cross = (
            _window_sum(prod * prod, count, first)
            - 2.0 * mu * _window_sum(prod * total, count, first)
            + mu**2 * _window_sum(total * total + 2.0 * prod, count, first)
            - 2.0 * mu**3 * _window_sum(total, count, first)
            + count * mu**4
        )
        delta = t_count * nm.safe_divide(cross, ss * ss)
        theta += 4.0 * (1.0 - k / q) ** 2 * delta
    z = np.sqrt(t_count) * (vr - 1.0) / np.sqrt(np.where(theta > 0, theta, np.nan))
    return {"variance_ratio": vr, "variance_ratio_z": z}


# --------------------------------------------------------------------------- range expansion


@metric(
    name="range_expansion_index",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("range_expansion_index",),
    params={"timeperiod": 8},
    constraints={"timeperiod": at_least(1)},
    value_range=(-100.0, 100.0),
    warmup=lambda p: 8 + p["timeperiod"] - 1,
    reference="DeMark (1994), The New Science of Technical Analysis, ch. 3",
)
def range_expansion_index(data: pd.DataFrame, *, timeperiod: int = 8) -> np.ndarray:
    """DeMark's Range Expansion Index (REI).

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 8
        Summation length ``N`` (8 in DeMark 1994; 5 in DeMark & DeMark 1999).

    Returns
    -------
    ndarray
        ``range_expansion_index`` in [-100, 100]; ±45 to ±60 are the usual
        overbought/oversold levels. NaN when highs and lows did not move over
        the window (0/0).

    Notes
    -----
    ``d_t = (H_t - H_{t-2}) + (L_t - L_{t-2})``.
    C1: ``(H_t >= L_{t-5} or H_t >= L_{t-6}) and (L_t <= H_{t-5} or L_t <= H_{t-6})``.
    C2: ``(H_{t-2} >= C_{t-7} or H_{t-2} >= C_{t-8}) and
    (L_{t-2} <= C_{t-7} or L_{t-2} <= C_{t-8})``.
    ``num_t = d_t`` if C1 or C2 else 0;
    ``REI = 100 Σ_N num / Σ_N (|H_t - H_{t-2}| + |L_t - L_{t-2}|)``.
    This pins the non-strict-inequality variant (vendors differ). An overlapping
    uptrend gives +100. Warm-up: ``8 + N - 1`` bars.

    References
    ----------
    T. R. DeMark, *The New Science of Technical Analysis* (1994), ch. 3;
    T. R. DeMark and T. R. DeMark Jr., *DeMark on Day Trading Options* (1999).
    """
    high, low, close = (nm.column(data, c) for c in ("high", "low", "close"))
    high_2, low_2 = nm.shift(high, 2), nm.shift(low, 2)
    with np.errstate(invalid="ignore"):
        c1 = ((high >= nm.shift(low, 5)) | (high >= nm.shift(low, 6))) & (
            (low <= nm.shift(high, 5)) | (low <= nm.shift(high, 6))
        )
        c2 = ((high_2 >= nm.shift(close, 7)) | (high_2 >= nm.shift(close, 8))) & (
            (low_2 <= nm.shift(close, 7)) | (low_2 <= nm.shift(close, 8))
        )
    dh, dl = high - high_2, low - low_2
    num = np.where(c1 | c2, dh + dl, 0.0)
    den = np.abs(dh) + np.abs(dl)
    first = 8 + timeperiod - 1
    return 100.0 * nm.safe_divide(
        _window_sum(np.nan_to_num(num), timeperiod, first),
        _window_sum(np.nan_to_num(den), timeperiod, first),
    )


# --------------------------------------------------------------------------- GARCH


def _scaled_fit_window(returns: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, float]:
    window = returns[start:stop]
    scale = float(np.std(window))
    if not scale > 0.0:
        raise ValueError(f"returns are constant over bars {start}..{stop - 1}; cannot fit")
    return window / scale, scale


def _fit_garch(scaled: np.ndarray, dist: str) -> pd.Series:
    """Fit a constant-mean GARCH(1,1) with arch; return its parameters.

    Raises ``RuntimeError`` when the optimizer does not converge: a model that
    did not fit must not produce numbers.
    """
    from arch import arch_model  # heavy import, only when a GARCH is fitted

    model = arch_model(scaled, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    with warnings.catch_warnings():
        # Non-convergence is checked explicitly below and raised.
        warnings.simplefilter("ignore", category=RuntimeWarning)
        result = model.fit(disp="off", show_warning=False)
    if result.convergence_flag != 0:
        raise RuntimeError(
            f"GARCH(1,1) fit did not converge (flag {result.convergence_flag}: "
            f"{result.optimization_result.message})"
        )
    return result.params


@metric(
    name="garch_vol",
    module=MODULE,
    inputs=("close",),
    outputs=("garch_vol",),
    params={"window": 2160, "refit_every": "1D", "periods_per_year": 8760.0, "dist": "normal"},
    constraints={
        "window": at_least(100),
        "refit_every": _check_frequency,
        "periods_per_year": greater_than(0.0),
        "dist": one_of("normal", "t"),
    },
    value_range=(0.0, math.inf),
    warmup=lambda p: p["window"] + 1,
    reference="Bollerslev (1986), J. Econometrics 31; arch.arch_model(vol='GARCH', p=1, q=1)",
)
def garch_vol(
    data: pd.DataFrame,
    *,
    window: int = 2160,
    refit_every: str = "1D",
    periods_per_year: float = 8760.0,
    dist: str = "normal",
) -> np.ndarray:
    """GARCH(1,1) one-step-ahead volatility forecast, annualized, refit on a schedule.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    window : int, default 2160
        Returns in each fit (2160 hourly bars = 90 days).
    refit_every : str, default "1D"
        Refit period (a fixed pandas frequency); fits happen at the first bar of
        each calendar period.
    periods_per_year : float, default 8760.0
        Bars per year used to annualize (8760 hourly, 365 daily).
    dist : {"normal", "t"}, default "normal"
        Innovation distribution.

    Returns
    -------
    ndarray
        ``garch_vol``: ``σ_{t+1|t} sqrt(P)``, the forecast of the next bar's
        volatility given returns up to ``t``, annualized, as a fraction.

    Notes
    -----
    Model: ``r_t = μ + ε_t``, ``ε_t = σ_t z_t``,
    ``σ²_t = ω + α ε²_{t-1} + β σ²_{t-1}`` (persistence ``α + β < 1``, long-run
    variance ``ω/(1 - α - β)``). At each refit bar ``b`` the model is fitted by
    ``arch`` to the ``window`` returns ending at ``b - 1`` (standardized by their
    own standard deviation, which GARCH is equivariant to); then the variance
    recursion is filtered with those fixed parameters from the start of that
    window through every bar up to the next refit (``arch_model(...).fix``), and
    ``σ²_{t+1|t} = ω + α ε²_t + β σ²_t``. Bars before the first refit with a full
    window are NaN. Cost: one fit (~10 ms) per refit period.
    Warm-up: ``window + 1`` bars, plus the bars until the next refit boundary.
    A fit that does not converge raises ``RuntimeError``.

    References
    ----------
    T. Bollerslev, "Generalized autoregressive conditional heteroskedasticity",
    *J. Econometrics* 31 (1986); K. Sheppard, ``arch`` (``arch_model``).
    """
    from arch import arch_model  # heavy import, only when the metric runs

    returns = nm.log_returns(nm.column(data, "close"))
    n = len(returns)
    out = nm.nan_array(n)
    bounds = nm.refit_boundaries(data.index, refit_every)
    bounds = bounds[bounds >= window + 1]  # returns start at bar 1
    ends = np.append(bounds[1:], n)[: len(bounds)]
    for b, e in zip(bounds, ends, strict=True):  # one model fit per refit period
        scaled, scale = _scaled_fit_window(returns, b - window, b)
        params = _fit_garch(scaled, dist)
        segment = returns[b - window : e] / scale
        fixed = arch_model(segment, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False).fix(
            params
        )
        sigma2 = np.asarray(fixed.conditional_volatility) ** 2
        eps = segment - params["mu"]
        forecast = params["omega"] + params["alpha[1]"] * eps**2 + params["beta[1]"] * sigma2
        out[b:e] = np.sqrt(forecast[window:]) * scale
    return out * math.sqrt(periods_per_year)


# --------------------------------------------------------------------------- permutation entropy


@metric(
    name="entropy",
    module=MODULE,
    inputs=("close",),
    outputs=("entropy",),
    params={"timeperiod": 168, "order": 3, "delay": 1},
    constraints={
        "timeperiod": at_least(10),
        "order": between(2, 7),
        "delay": at_least(1),
    },
    value_range=(0.0, 1.0),
    warmup=lambda p: (p["order"] - 1) * p["delay"] + p["timeperiod"],
    reference="Bandt & Pompe (2002), PRL 88; Zunino et al. (2009), Physica A 388; "
    "antropy.perm_entropy(normalize=True)",
)
def entropy(data: pd.DataFrame, *, timeperiod: int = 168, order: int = 3, delay: int = 1) -> Any:
    """Rolling normalized permutation entropy of log returns.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 168
        Number of ordinal patterns ``W`` in the window (168 hourly bars = 1 week).
    order : int, default 3
        Pattern length ``m`` (``m!`` possible patterns; keep ``W >> m!``).
    delay : int, default 1
        Spacing ``d`` between the returns of a pattern.

    Returns
    -------
    ndarray
        ``entropy`` in [0, 1]: 1 for i.i.d. returns (every ordering equally
        likely), lower for more structure (0 for a monotone pattern).

    Notes
    -----
    Each bar ``t`` defines the ordinal pattern (the argsort) of
    ``(r_{t-(m-1)d}, ..., r_t)``; over the last ``W`` patterns with frequencies
    ``p(π)``, ``H = -Σ p(π) ln p(π) / ln(m!)``. Ties keep time order (stable
    sort). Robust to outliers and to monotone transforms of the returns. There
    is no standard "entropy index" in trading; permutation entropy is the
    market-efficiency literature's choice. Warm-up: ``(m - 1)d + W`` bars.

    References
    ----------
    C. Bandt and B. Pompe, "Permutation entropy: a natural complexity measure
    for time series", *PRL* 88 (2002); L. Zunino et al., "Forbidden patterns,
    permutation entropy and stock market inefficiency", *Physica A* 388 (2009);
    ``antropy.perm_entropy``.
    """
    returns = nm.log_returns(nm.column(data, "close"))
    n = len(returns)
    span = (order - 1) * delay
    out = nm.nan_array(n)
    first_pattern = 1 + span  # returns start at bar 1
    if first_pattern + timeperiod - 1 >= n:
        return out
    # Pattern code of every bar from first_pattern on: the argsort of its m
    # returns written in base m (unique per permutation).
    lagged = np.stack(
        [returns[first_pattern - span + j * delay : n - span + j * delay] for j in range(order)],
        axis=1,
    )
    ranks = np.argsort(lagged, axis=1, kind="stable")
    codes = ranks @ (order ** np.arange(order))
    total = np.zeros(len(codes))
    for code in np.unique(codes):  # at most m! codes, each vectorized over bars
        hits = np.concatenate(([0], np.cumsum(codes == code)))
        counts = hits[timeperiod:] - hits[:-timeperiod]
        p = counts / timeperiod
        with np.errstate(divide="ignore", invalid="ignore"):
            total[timeperiod - 1 :] -= np.where(p > 0, p * np.log(p), 0.0)
    out[first_pattern + timeperiod - 1 :] = total[timeperiod - 1 :] / math.log(math.factorial(order))
    return out


# --------------------------------------------------------------------------- Hurst (DFA)


def _dfa_scales(window: int, min_scale: int, n_scales: int) -> np.ndarray:
    max_scale = window // 4
    scales = np.unique(np.geomspace(min_scale, max_scale, n_scales).astype(np.int64))
    return scales[scales >= 4]


def _box_rss(profile: np.ndarray, s: int) -> np.ndarray:
    """Residual sum of squares of a straight-line fit to every run of ``s``
    consecutive profile values; entry ``j`` is the run ending at ``j`` (NaN for
    ``j < s - 1``)."""
    ones = np.ones(s)
    u = np.arange(s, dtype=float)
    u_centered = u - u.mean()
    sy = np.convolve(profile, ones, mode="valid")
    syy = np.convolve(profile * profile, ones, mode="valid")
    # np.convolve flips the kernel: reverse it so entry j is Σ_u (u - ū) Y_{j-s+1+u}.
    suy = np.convolve(profile, u_centered[::-1], mode="valid")
    rss = syy - sy * sy / s - suy * suy / float(u_centered @ u_centered)
    out = nm.nan_array(len(profile))
    out[s - 1 :] = np.maximum(rss, 0.0)
    return out


def _strided_window_sum(values: np.ndarray, step: int, count: int) -> np.ndarray:
    """``Σ_{k=0}^{count-1} values[t - k step]`` for every ``t`` (NaN where undefined)."""
    n = len(values)
    pad = (-n) % step
    filled = np.concatenate((np.nan_to_num(values, nan=0.0), np.zeros(pad)))
    running = filled.reshape(-1, step).cumsum(axis=0).ravel()[:n]
    out = running.copy()
    lag = count * step
    out[lag:] -= running[:-lag] if lag < n else 0.0
    out[: min(n, lag - 1)] = np.nan
    return out


@metric(
    name="hurst",
    module=MODULE,
    inputs=("close",),
    outputs=("hurst",),
    params={"timeperiod": 720, "min_scale": 10, "n_scales": 10},
    constraints={
        "timeperiod": at_least(64),
        "min_scale": lambda v, p: (
            None
            if 4 <= v <= p["timeperiod"] // 8
            else f"must lie in [4, timeperiod // 8 = {p['timeperiod'] // 8}] (got {v!r})"
        ),
        "n_scales": at_least(3),
    },
    warmup=lambda p: p["timeperiod"],
    reference="Peng et al. (1994), Phys. Rev. E 49 (DFA); Hurst (1951)",
)
def hurst(
    data: pd.DataFrame, *, timeperiod: int = 720, min_scale: int = 10, n_scales: int = 10
) -> np.ndarray:
    """Rolling Hurst exponent of log returns by detrended fluctuation analysis (DFA).

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 720
        Number of returns ``W`` in the trailing window.
    min_scale : int, default 10
        Smallest box size in bars; the largest is ``W // 4``.
    n_scales : int, default 10
        Number of log-spaced box sizes.

    Returns
    -------
    ndarray
        ``hurst``: the DFA exponent ``α`` of the returns. 0.5 for uncorrelated
        returns, > 0.5 persistent (trending), < 0.5 anti-persistent
        (mean-reverting); typically within 0..1.5 (values above 1 indicate
        non-stationary returns). NaN where the returns are constant.

    Notes
    -----
    Estimated by **DFA-1**, not rescaled range: R/S is biased low (0.65 for a
    true 0.7 at 8760 bars), DFA is not (0.706). Inside the window of ``W``
    returns, the profile ``Y`` (cumulative sum) is cut into boxes of size ``s``
    aligned to the window's end; a straight line is fitted in each box and
    ``F(s)² = mean over boxes of the mean squared residual``; ``α`` is the
    least-squares slope of ``ln F(s)`` on ``ln s``. For fractional Gaussian noise
    ``α = H``; on price levels DFA would give ``H + 1``, so it runs on returns.
    A linear fit is blind to a constant and a ramp added to the profile, so each
    box's residual depends only on the bars inside it: box residuals are
    computed once for the whole series with convolutions and summed per window,
    which gives the exact per-window DFA for every bar without a refit schedule.
    Sampling error at W = 500 is about ±0.07, so compare to 0.5 with care.
    Warm-up: ``W`` bars.

    References
    ----------
    C.-K. Peng et al., "Mosaic organization of DNA nucleotides", *Phys. Rev. E*
    49 (1994); H. E. Hurst, "Long-term storage capacity of reservoirs", *Trans.
    ASCE* 116 (1951).
    """
    returns = nm.log_returns(nm.column(data, "close"))
    n = len(returns)
    out = nm.nan_array(n)
    if timeperiod >= n:
        return out
    profile = np.zeros(n)
    profile[1:] = np.cumsum(returns[1:])
    profile -= profile[min(n - 1, timeperiod)]  # keep values small; DFA ignores offsets
    scales = _dfa_scales(timeperiod, min_scale, n_scales)
    log_s = np.log(scales.astype(float))
    weights = (log_s - log_s.mean()) / np.sum((log_s - log_s.mean()) ** 2)
    slope = np.zeros(n)
    degenerate = np.zeros(n, dtype=bool)
    for s, w in zip(scales, weights, strict=True):  # ~10 scales, each vectorized over bars
        boxes = timeperiod // s
        rss = _box_rss(profile, int(s))
        f2 = _strided_window_sum(rss, int(s), boxes) / (boxes * s)
        degenerate |= ~(f2 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope += w * 0.5 * np.log(f2)
    # The profile at bar j sums returns 1..j; a window of W returns ending at t
    # covers profile points t-W+1 .. t, all of which are defined once t >= W.
    out[timeperiod:] = np.where(degenerate, np.nan, slope)[timeperiod:]
    return out


# --------------------------------------------------------------------------- Markov switching


#: Smallest admissible regime variance, relative to the window's variance. The
#: switching-variance likelihood is unbounded when one regime collapses onto a
#: single return (σ² -> 0); such a fit is a singularity, not a regime.
_MIN_REGIME_VARIANCE = 1e-3

#: Optimizers tried in order: BFGS (fast), then Nelder-Mead from the same
#: deterministic start, which does not chase the σ² -> 0 singularity.
_MARKOV_ATTEMPTS: tuple[dict[str, Any], ...] = (
    {"method": "bfgs", "maxiter": 200},
    {"method": "nm", "maxiter": 5000},
)


def _fit_markov(scaled: np.ndarray) -> tuple[np.ndarray, int]:
    """Fit a two-regime switching-mean, switching-variance regression; return the
    parameters and the index of the high-variance regime.

    Raises ``RuntimeError`` when no optimizer in :data:`_MARKOV_ATTEMPTS`
    converges to a non-degenerate maximum.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    model = MarkovRegression(scaled, k_regimes=2, trend="c", switching_variance=True)
    names = list(model.param_names)
    outcomes = []
    for options in _MARKOV_ATTEMPTS:
        with warnings.catch_warnings():
            # Convergence and degeneracy are checked explicitly below.
            warnings.simplefilter("ignore")
            result = model.fit(disp=False, **options)
        params = np.asarray(result.params)
        variances = [params[names.index(f"sigma2[{k}]")] for k in range(2)]
        converged = bool(result.mle_retvals.get("converged", False))
        if converged and min(variances) > _MIN_REGIME_VARIANCE:
            return params, int(np.argmax(variances))
        outcomes.append(f"{options['method']}: converged={converged}, σ²={variances}")
    raise RuntimeError("Markov-switching fit failed (" + "; ".join(outcomes) + ")")


@metric(
    name="regime_switching",
    module=MODULE,
    inputs=("close",),
    outputs=("regime_prob_high_vol", "regime_high_vol"),
    params={"window": 2160, "refit_every": "7D"},
    constraints={"window": at_least(200), "refit_every": _check_frequency},
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"] + 1,
    reference="Hamilton (1989), Econometrica 57; Kim & Nelson (1999); statsmodels "
    "MarkovRegression (filtered_marginal_probabilities)",
)
def regime_switching(
    data: pd.DataFrame, *, window: int = 2160, refit_every: str = "7D"
) -> dict[str, np.ndarray]:
    """Two-regime Markov-switching model of returns: filtered high-volatility probability.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    window : int, default 2160
        Returns in each fit (2160 hourly bars = 90 days).
    refit_every : str, default "7D"
        Refit period (a fixed pandas frequency); a fit takes ~0.25 s, so weekly.

    Returns
    -------
    dict of ndarray
        ``regime_prob_high_vol``: filtered probability ``P(S_t = high | r_1..r_t)``
        of the high-variance regime, in [0, 1]; ``regime_high_vol``: 1.0 when
        that probability exceeds 0.5, else 0.0 (NaN during warm-up).

    Notes
    -----
    Model: ``r_t = μ_{S_t} + σ_{S_t} ε_t`` with ``S_t`` a two-state Markov chain
    (Hamilton filter, ``statsmodels`` ``MarkovRegression(k_regimes=2, trend='c',
    switching_variance=True)``). Regime labels are arbitrary in the fit, so the
    high-volatility regime is the one with the larger ``σ²``. Fitted at each
    refit bar on the preceding ``window`` returns (standardized by their standard
    deviation; BFGS, or Nelder–Mead when BFGS fails or lets a regime collapse
    onto one return), then run forward with fixed parameters: **filtered**
    probabilities only, since the smoothed ones use future bars. On hourly
    crypto returns the regimes separate mostly by variance; trend versus range
    is read together with ``variance_ratio`` and ``hurst``. Warm-up:
    ``window + 1`` bars, plus the bars until the next refit boundary. A fit that
    does not converge raises ``RuntimeError``.

    References
    ----------
    J. D. Hamilton, "A new approach to the economic analysis of nonstationary
    time series and the business cycle", *Econometrica* 57 (1989);
    C.-J. Kim and C. R. Nelson, *State-Space Models with Regime Switching*
    (1999); statsmodels ``MarkovRegression``.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    returns = nm.log_returns(nm.column(data, "close"))
    n = len(returns)
    prob = nm.nan_array(n)
    bounds = nm.refit_boundaries(data.index, refit_every)
    bounds = bounds[bounds >= window + 1]  # returns start at bar 1
    ends = np.append(bounds[1:], n)[: len(bounds)]
    for b, e in zip(bounds, ends, strict=True):  # one model fit per refit period
        scaled, scale = _scaled_fit_window(returns, b - window, b)
        params, high = _fit_markov(scaled)
        segment = returns[b - window : e] / scale
        filtered = MarkovRegression(segment, k_regimes=2, trend="c", switching_variance=True).filter(params)
        prob[b:e] = np.asarray(filtered.filtered_marginal_probabilities)[window:, high]
    label = np.where(np.isnan(prob), np.nan, (prob > 0.5).astype(float))
    return {"regime_prob_high_vol": prob, "regime_high_vol": label}
