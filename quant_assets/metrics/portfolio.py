"""Family I, portfolio optimization and allocation (module ``port_alloc``).

``sharpe`` and ``sortino`` are per-symbol (they read ``close``); every other
metric here is cross-asset: ``data`` is a wide frame of **simple** returns, one
column per symbol (portfolio returns aggregate simple returns; see
:mod:`quant_assets.metrics.registry` for the input rules and the
``per_asset`` / ``pairwise`` result layouts). Ratios are annualized with the
bar interval, ``periods_per_year`` (8760 for hourly bars, 365 for daily):
crypto trades 24/7, so never 252.

Allocations (Black–Litterman, HRP, risk parity) are rebalanced on a schedule
defined by time alone: at the first bar of every calendar period
``refit_every`` (anchored at the Unix epoch), from the sample covariance of
the ``window`` rows that end just before that bar. The weights hold from the
rebalance bar until the next one (NaN before the first rebalance with a full
window), are non-negative and sum to 1. They depend only on the ``window``
rows before their rebalance bar, so they do not change with where a series
starts or is cut. A window whose covariance cannot support an allocation (a
symbol that does not move, collinear symbols, fewer rows than symbols) raises:
a made-up allocation would be worse than none.

Rolling statistics (Sharpe, Sortino, conditional beta, drawdown correlation)
are exact trailing-window values for every bar.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics.correlation import pair_frame, ratio, returns_matrix, unordered_pairs
from quant_assets.metrics.registry import MetricInputError, at_least, between, greater_than, metric
from quant_assets.metrics.volatility import _check_frequency

MODULE = "port_alloc"

#: Elements of the ``(rows, symbols, window)`` block one chunk of a sliding-window
#: computation materializes (bounds the working memory to ~32 MB per array).
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- risk-adjusted returns


def _annualized_ratio(
    data: pd.DataFrame,
    timeperiod: int,
    periods_per_year: float,
    annual_hurdle: float,
    risk: Callable[[np.ndarray, int], np.ndarray],
) -> np.ndarray:
    """``mean(e) / risk(e) · sqrt(P)`` over the ``timeperiod`` excess returns
    ``e_t = R_t - hurdle/P`` ending at ``t`` (simple returns of ``close``)."""
    excess = nm.simple_returns(nm.column(data, "close"))[1:] - annual_hurdle / periods_per_year
    reward_to_risk = nm.safe_divide(nm.rolling_mean(excess, timeperiod), risk(excess, timeperiod))
    return nm.placed(reward_to_risk * math.sqrt(periods_per_year), 1, len(data))


@metric(
    name="sharpe",
    module=MODULE,
    inputs=("close",),
    outputs=("sharpe",),
    params={"timeperiod": 720, "periods_per_year": 8760.0, "risk_free": 0.0},
    constraints={"timeperiod": at_least(2), "periods_per_year": greater_than(0.0)},
    warmup=lambda p: p["timeperiod"],
    reference="Sharpe (1966), J. Business 39; Sharpe (1994), JPM 21; Lo (2002), FAJ 58",
)
def sharpe(
    data: pd.DataFrame, *, timeperiod: int = 720, periods_per_year: float = 8760.0, risk_free: float = 0.0
) -> np.ndarray:
    """Rolling annualized Sharpe ratio of simple returns.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 720
        Window in returns (720 hourly bars = 30 days).
    periods_per_year : float, default 8760.0
        Bars per year (8760 hourly, 365 daily; never 252 for crypto).
    risk_free : float, default 0.0
        Annual risk-free rate as a fraction; ``risk_free / periods_per_year`` is
        subtracted from every bar's return.

    Returns
    -------
    ndarray
        ``sharpe``, annualized, dimensionless.

    Notes
    -----
    Formula: ``r_t = C_t/C_{t-1} - 1``, ``e_t = r_t - rf/P``;
    ``SR = mean(e) / std(e, ddof=1) · sqrt(P)`` over the ``n`` returns ending at
    ``t``. Scaling by ``sqrt(P)`` assumes i.i.d. returns (Lo 2002 gives the
    correction for autocorrelation). Value range: unbounded; NaN when the
    close does not move in the window. Warm-up: ``n`` bars.

    References
    ----------
    W. F. Sharpe, "Mutual fund performance", *J. Business* 39 (1966);
    W. F. Sharpe, "The Sharpe ratio", *J. Portfolio Management* 21 (1994);
    A. W. Lo, "The statistics of Sharpe ratios", *Financial Analysts J.* 58 (2002).
    """
    return _annualized_ratio(
        data, timeperiod, periods_per_year, risk_free, lambda e, w: nm.rolling_std(e, w, ddof=1)
    )


@metric(
    name="sortino",
    module=MODULE,
    inputs=("close",),
    outputs=("sortino",),
    params={"timeperiod": 720, "periods_per_year": 8760.0, "target": 0.0},
    constraints={"timeperiod": at_least(2), "periods_per_year": greater_than(0.0)},
    warmup=lambda p: p["timeperiod"],
    reference="Sortino & Price (1994), J. Investing 3; Sortino & van der Meer (1991), JPM 17",
)
def sortino(
    data: pd.DataFrame, *, timeperiod: int = 720, periods_per_year: float = 8760.0, target: float = 0.0
) -> np.ndarray:
    """Rolling annualized Sortino ratio: excess return over downside deviation.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column.
    timeperiod : int, default 720
        Window in returns.
    periods_per_year : float, default 8760.0
        Bars per year (8760 hourly, 365 daily; never 252 for crypto).
    target : float, default 0.0
        Annual minimum acceptable return (MAR) as a fraction; per bar
        ``target / periods_per_year``.

    Returns
    -------
    ndarray
        ``sortino``, annualized, dimensionless.

    Notes
    -----
    Formula: ``e_t = r_t - MAR/P`` with simple returns ``r_t``;
    ``DD = sqrt(mean(min(e, 0)²))`` over all ``n`` returns of the window (the
    target downside deviation: returns above the target count as zeros);
    ``Sortino = mean(e) / DD · sqrt(P)``. Value range: unbounded; NaN when no
    return in the window falls below the target. Warm-up: ``n`` bars.

    References
    ----------
    F. A. Sortino and L. N. Price, "Performance measurement in a downside risk
    framework", *J. Investing* 3 (1994); F. A. Sortino and R. van der Meer,
    "Downside risk", *J. Portfolio Management* 17 (1991).
    """
    return _annualized_ratio(
        data,
        timeperiod,
        periods_per_year,
        target,
        lambda e, w: np.sqrt(nm.rolling_mean(np.square(np.minimum(e, 0.0)), w)),
    )


# --------------------------------------------------------------------------- conditional beta


def _market_position(name: str, data: pd.DataFrame, market: str) -> int:
    """Column position of ``market`` (the first column when it is empty)."""
    if not market:
        return 0
    if market not in data.columns:
        have = ", ".join(map(str, data.columns))
        raise MetricInputError(
            name, "parameter 'market'", f"is not a column of data (got {market!r}; have: {have})"
        )
    return int(data.columns.get_loc(market))


def _chunk_rows(symbols: int, window: int) -> int:
    return max(1, _CHUNK_ELEMENTS // (symbols * window))


@metric(
    name="conditional_beta",
    module=MODULE,
    kind="cross_asset",
    layout="per_asset",
    inputs=(),
    outputs=("beta_down", "beta_up"),
    params={"timeperiod": 720, "market": ""},
    constraints={"timeperiod": at_least(10)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Bawa & Lindenberg (1977), JFE 5; Ang, Chen & Xing (2006), RFS 19",
)
def conditional_beta(
    data: pd.DataFrame, *, timeperiod: int = 720, market: str = ""
) -> dict[str, pd.DataFrame]:
    """Rolling downside and upside beta of each symbol against a market column.

    Parameters
    ----------
    data : DataFrame
        Wide frame of simple returns, one column per symbol.
    timeperiod : int, default 720
        Window in bars.
    market : str, default ""
        Column holding the market (benchmark) returns; empty means the first
        column.

    Returns
    -------
    dict of DataFrame
        For every symbol other than the market: ``beta_down``, the beta over the
        bars where the market return is below its window mean; ``beta_up``,
        over the bars where it is above.

    Notes
    -----
    Formula (Ang, Chen & Xing 2006): with ``μ_m`` the mean market return of the
    ``n`` bars ending at ``t``,
    ``β⁻ = cov(r_i, r_m | r_m < μ_m) / var(r_m | r_m < μ_m)`` and
    ``β⁺ = cov(r_i, r_m | r_m > μ_m) / var(r_m | r_m > μ_m)``, with the
    conditional means of the same subset. A symmetric asset has ``β⁻ = β⁺``;
    ``β⁻ > β⁺`` means it falls harder with the market than it rises. The
    dynamic (DCC-GARCH) conditional beta needs a multivariate GARCH that no
    maintained library provides; ``beta`` gives the rolling unconditional one.
    Computed on sliding windows in memory-bounded chunks. Value range:
    unbounded; NaN when the market does not move in a half. Warm-up:
    ``n - 1`` bars.

    References
    ----------
    V. S. Bawa and E. B. Lindenberg, "Capital market equilibrium in a
    mean-lower partial moment framework", *J. Financial Economics* 5 (1977);
    A. Ang, J. Chen and Y. Xing, "Downside risk", *Rev. Financial Studies* 19
    (2006).
    """
    x = returns_matrix(data)
    n = len(x)
    m = _market_position("conditional_beta", data, market)
    others = [i for i in range(x.shape[1]) if i != m]
    market_windows = sliding_window_view(x[:, m], timeperiod)
    asset_windows = sliding_window_view(x[:, others], timeperiod, axis=0)  # (rows, assets, window)
    out = {key: np.full((n, len(others)), np.nan) for key in ("beta_down", "beta_up")}
    step = _chunk_rows(len(others), timeperiod)
    for lo in range(0, len(market_windows), step):  # chunks bound memory; each is vectorized
        mw = market_windows[lo : lo + step]
        aw = asset_windows[lo : lo + step]
        mean = mw.mean(axis=1, keepdims=True)
        for key, mask in (("beta_down", mw < mean), ("beta_up", mw > mean)):
            count = mask.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                market_mean = (mw * mask).sum(axis=1) / count
                deviation = (mw - market_mean[:, None]) * mask
                asset_mean = (aw * mask[:, None, :]).sum(axis=2) / count[:, None]
            cov = np.einsum("raw,rw->ra", aw - asset_mean[:, :, None], deviation)
            var = np.square(deviation).sum(axis=1)
            var[count < 2] = 0.0
            out[key][timeperiod - 1 + lo : timeperiod - 1 + lo + len(mw)] = ratio(cov, var[:, None])
    symbols = data.columns[others]
    return {key: pd.DataFrame(values, index=data.index, columns=symbols) for key, values in out.items()}


# --------------------------------------------------------------------------- drawdown correlation


@metric(
    name="drawdown_corr",
    module=MODULE,
    kind="cross_asset",
    layout="pairwise",
    inputs=(),
    outputs=("drawdown_corr", "co_drawdown"),
    params={"timeperiod": 720, "threshold": 0.05},
    constraints={"timeperiod": at_least(10), "threshold": between(0.0, 1.0, inclusive=False)},
    value_range=(-1.0, 1.0),
    warmup=lambda p: p["timeperiod"] - 1,
    reference="Chekhlov, Uryasev & Zabarankin (2005), Drawdown measure in portfolio optimization, IJTAF 8",
)
def drawdown_corr(
    data: pd.DataFrame, *, timeperiod: int = 720, threshold: float = 0.05
) -> dict[str, pd.DataFrame]:
    """Rolling correlation of underwater curves and co-drawdown frequency of each pair.

    Parameters
    ----------
    data : DataFrame
        Wide frame of simple returns (each ``> -1``), one column per symbol.
    timeperiod : int, default 720
        Window in bars; drawdowns are measured from the running peak inside the
        window.
    threshold : float, default 0.05
        Drawdown depth (fraction, 0.05 = 5 %) that counts as "in drawdown" for
        ``co_drawdown``.

    Returns
    -------
    dict of DataFrame
        For every unordered pair ``(x, y)``, ``x`` before ``y``:
        ``drawdown_corr``, the Pearson correlation of the two underwater curves
        over the window, in [-1, 1]; ``co_drawdown``, the fraction of the bars
        in which at least one of the two is down ``threshold`` or more where
        both are, in [0, 1].

    Notes
    -----
    Formula: inside the window ending at ``t`` each symbol's wealth is
    ``W_s = Π_{u<=s}(1 + r_u)`` from 1 at the window start, its underwater curve
    ``DD_s = W_s / max(1, max_{u<=s} W_u) - 1 <= 0``;
    ``drawdown_corr = corr(DD^x, DD^y)`` and
    ``co_drawdown = #{DD^x <= -c and DD^y <= -c} / #{DD^x <= -c or DD^y <= -c}``.
    Underwater curves are very persistent, so two independent assets can show
    a sizeable correlation by chance; ``co_drawdown`` is the more robust read.
    Measuring from the window's start makes the value independent of where the
    series starts. Value range: [-1, 1] and [0, 1]; NaN when a symbol never
    falls below its running peak in the window (correlation) or neither is
    ``threshold`` under (co-drawdown). Warm-up: ``n - 1`` bars.

    References
    ----------
    A. Chekhlov, S. Uryasev and M. Zabarankin, "Drawdown measure in portfolio
    optimization", *Int. J. Theoretical and Applied Finance* 8 (2005).
    """
    x = returns_matrix(data)
    bad = np.argwhere(x <= -1.0)
    if bad.size:
        row, col = bad[0]
        raise MetricInputError(
            "drawdown_corr",
            f"column {data.columns[col]!r}",
            f"has a return <= -1 at {data.index[row]} ({float(x[row, col])!r}); simple returns must be > -1",
        )
    n, k = x.shape
    first, second = unordered_pairs(k)
    growth = np.vstack((np.zeros((1, k)), np.cumsum(np.log1p(x), axis=0)))  # growth[t+1] = Σ_{u<=t}
    windows = sliding_window_view(growth[1:], timeperiod, axis=0)  # (rows, symbols, window)
    starts = growth[: n - timeperiod + 1]
    corr = np.full((n, len(first)), np.nan)
    co = np.full((n, len(first)), np.nan)
    step = _chunk_rows(k, timeperiod)
    for lo in range(0, len(windows), step):  # chunks bound memory; each is vectorized
        path = windows[lo : lo + step] - starts[lo : lo + step, :, None]
        peak = np.maximum.accumulate(np.maximum(path, 0.0), axis=2)
        underwater = np.expm1(path - peak)
        centered = underwater - underwater.mean(axis=2, keepdims=True)
        gram = centered @ np.transpose(centered, (0, 2, 1))
        variance = np.diagonal(gram, axis1=1, axis2=2)
        rows = slice(timeperiod - 1 + lo, timeperiod - 1 + lo + len(path))
        corr[rows] = np.clip(
            ratio(gram[:, first, second], np.sqrt(variance[:, first] * variance[:, second])), -1.0, 1.0
        )
        deep = (underwater <= -threshold).astype(np.float64)
        both = deep @ np.transpose(deep, (0, 2, 1))
        counts = np.diagonal(both, axis1=1, axis2=2)
        co[rows] = ratio(
            both[:, first, second], counts[:, first] + counts[:, second] - both[:, first, second]
        )
    return {
        "drawdown_corr": pair_frame(corr, data, first, second),
        "co_drawdown": pair_frame(co, data, first, second),
    }


# --------------------------------------------------------------------------- allocation building blocks


def window_covariance(name: str, data: pd.DataFrame, x: np.ndarray, b: int, window: int) -> np.ndarray:
    """Sample covariance (ddof=1) of rows ``b - window .. b - 1``.

    Raises :class:`ValueError` naming the metric and the window when the matrix
    is not positive definite, since no risk-based allocation exists then.
    """
    cov = np.cov(x[b - window : b], rowvar=False, ddof=1)
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        flat = [str(s) for s, v in zip(data.columns, np.diag(cov), strict=True) if not v > 0]
        detail = f"symbols that do not move: {', '.join(flat)}" if flat else "collinear symbols"
        raise ValueError(
            f"{name}: the covariance of the {window} rows from {data.index[b - window]} to "
            f"{data.index[b - 1]} is not positive definite ({detail}); no allocation exists"
        ) from None
    return cov


def inverse_variance_weights(cov: np.ndarray) -> np.ndarray:
    """``w_i ∝ 1/σ_i²``, summing to 1."""
    inverse = 1.0 / np.diag(cov)
    return inverse / inverse.sum()


def hrp_weights(cov: np.ndarray) -> np.ndarray:
    """Hierarchical Risk Parity weights of López de Prado (2016).

    1. Correlation distance ``d_ij = sqrt((1 - ρ_ij)/2)``, then the Euclidean
       distance between columns of ``d``, ``d̃_ij = ||d_·i - d_·j||``, clustered
       by single linkage (scipy).
    2. Quasi-diagonalization: the leaf order of the dendrogram.
    3. Recursive bisection of that ordered list into halves; each half's
       variance is ``wᵀ Σ w`` with inverse-variance ``w`` inside it, and the
       parent weight splits in proportion ``1 - V_left/(V_left + V_right)``.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import pdist

    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    distance = np.sqrt(np.clip(0.5 * (1.0 - corr), 0.0, None))
    order = leaves_list(linkage(pdist(distance), method="single"))
    weights = np.ones(len(cov))
    clusters = [order]
    while clusters:  # one pass per tree level; at most k - 1 splits in all
        halves = []
        for cluster in clusters:
            if len(cluster) < 2:
                continue
            left, right = cluster[: len(cluster) // 2], cluster[len(cluster) // 2 :]
            variances = []
            for part in (left, right):
                sub = cov[np.ix_(part, part)]
                w = inverse_variance_weights(sub)
                variances.append(float(w @ sub @ w))
            alpha = 1.0 - variances[0] / (variances[0] + variances[1])
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
            halves += [left, right]
        clusters = halves
    return weights


def erc_weights(cov: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Equal-risk-contribution weights: ``w_i (Σw)_i / wᵀΣw = 1/k`` for every ``i``.

    Solves Spinu's strictly convex form ``min_y ½ yᵀSy - Σ ln y_i`` with
    ``S = kΣ/mean(diag Σ)`` (its minimizer satisfies ``y_i (Sy)_i = 1``), then
    ``w = y / Σy``. The objective is self-concordant, so Nesterov's damped
    Newton step ``y - Δ/(1 + λ)`` (``λ`` the Newton decrement) keeps ``y > 0``
    and converges without a line search; full steps once ``λ < 1/4`` converge
    quadratically. Raises ``RuntimeError`` if the budget residual
    ``max_i |y_i (Sy)_i - 1|`` is not below ``tol`` after ``max_iter`` steps.
    """
    k = len(cov)
    scaled = k * cov / np.mean(np.diag(cov))  # ERC weights do not depend on the scale
    y = 1.0 / np.sqrt(np.diag(scaled))
    for _ in range(max_iter):  # a few damped steps, then quadratic convergence
        marginal = scaled @ y
        if np.max(np.abs(y * marginal - 1.0)) < tol:
            return y / y.sum()
        gradient = marginal - 1.0 / y
        step = np.linalg.solve(scaled + np.diag(1.0 / y**2), gradient)
        decrement = math.sqrt(max(float(gradient @ step), 0.0))
        y = y - (step if decrement < 0.25 else step / (1.0 + decrement))
    raise RuntimeError(f"risk parity did not converge in {max_iter} Newton steps")


def black_litterman_returns(
    cov: np.ndarray,
    market_weights: np.ndarray,
    *,
    risk_aversion: float,
    tau: float,
    views: Mapping[int, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Equilibrium returns ``π = δ Σ w_mkt`` and the He–Litterman posterior mean.

    ``views`` maps a column position to an absolute expected return ``Q``
    (view matrix ``P`` of unit rows). With ``Ω = diag(τ P Σ Pᵀ)``,
    ``μ = π + τΣPᵀ (τPΣPᵀ + Ω)⁻¹ (Q - Pπ)``, which equals
    ``[(τΣ)⁻¹ + PᵀΩ⁻¹P]⁻¹ [(τΣ)⁻¹π + PᵀΩ⁻¹Q]``. Without views ``μ = π``.
    """
    prior = risk_aversion * cov @ market_weights
    if not views:
        return prior, prior.copy()
    assets = np.fromiter(views, dtype=int)
    q = np.fromiter(views.values(), dtype=float)
    pick = np.zeros((len(assets), len(cov)))
    pick[np.arange(len(assets)), assets] = 1.0
    view_cov = tau * pick @ cov @ pick.T
    omega = np.diag(np.diag(view_cov))
    gain = tau * cov @ pick.T @ np.linalg.inv(view_cov + omega)
    return prior, prior + gain @ (q - pick @ prior)


def long_only_mean_variance(mu: np.ndarray, cov: np.ndarray, risk_aversion: float) -> np.ndarray:
    """``argmax_w wᵀμ - (δ/2) wᵀΣw`` subject to ``w >= 0``, ``Σw = 1``.

    Primal active-set method for this strictly convex QP (Nocedal & Wright,
    *Numerical Optimization*, alg. 16.3): from equal weights, solve the
    equality-constrained problem on the free assets, step to it or to the first
    weight that hits zero (which joins the working set), and release the bound
    with the most negative multiplier once no step is possible. Exact (one
    linear solve per iteration) and finite; raises ``RuntimeError`` otherwise.
    """
    k = len(mu)
    hessian = risk_aversion * cov
    w = np.full(k, 1.0 / k)
    at_zero = np.zeros(k, dtype=bool)
    scale = float(np.max(np.abs(hessian))) + float(np.max(np.abs(mu)))
    for _ in range(20 * k + 20):  # each iteration adds or releases one bound
        free = np.flatnonzero(~at_zero)
        sub = hessian[np.ix_(free, free)]
        solve_mu = np.linalg.solve(sub, mu[free])
        solve_one = np.linalg.solve(sub, np.ones(len(free)))
        nu = (1.0 - solve_mu.sum()) / solve_one.sum()
        target = np.zeros(k)
        target[free] = solve_mu + nu * solve_one
        step = target - w
        if np.max(np.abs(step)) <= 1e-14:
            multipliers = hessian @ w - mu - nu
            if not at_zero.any() or multipliers[at_zero].min() >= -1e-12 * scale:
                w = np.maximum(w, 0.0)
                return w / w.sum()
            fixed = np.flatnonzero(at_zero)
            at_zero[fixed[np.argmin(multipliers[fixed])]] = False
            continue
        shrinking = np.flatnonzero(step < 0)
        ratios = -w[shrinking] / step[shrinking]
        if ratios.size and ratios.min() < 1.0:
            blocking = shrinking[np.argmin(ratios)]
            w = w + ratios.min() * step
            w[blocking] = 0.0
            at_zero[blocking] = True
        else:
            w = target
    raise RuntimeError("long-only mean-variance optimization did not converge")


# --------------------------------------------------------------------------- allocations

_ASSIGNMENT = re.compile(r"^\s*([^=,\s]+)\s*=\s*([^=,]+?)\s*$")


def parse_assignments(text: str) -> dict[str, float]:
    """``"BTCUSDT=0.6, ETHUSDT=0.4"`` as ``{"BTCUSDT": 0.6, "ETHUSDT": 0.4}``.

    Raises ``ValueError`` with the reason for a malformed entry, a value that is
    not a finite number, or a symbol named twice.
    """
    out: dict[str, float] = {}
    if not text.strip():
        return out
    for entry in text.split(","):
        match = _ASSIGNMENT.match(entry)
        if not match:
            raise ValueError(f"entry {entry.strip()!r} is not SYMBOL=number")
        symbol, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"value {raw!r} of {symbol!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"value of {symbol!r} must be finite (got {raw!r})")
        if symbol in out:
            raise ValueError(f"symbol {symbol!r} appears twice")
        out[symbol] = value
    return out


def _assignments(*, non_negative: bool) -> Any:
    def check(value: Any, _params: Any) -> str | None:
        try:
            parsed = parse_assignments(value)
        except ValueError as error:
            return f"must be 'SYMBOL=number, ...': {error}"
        if non_negative and parsed:
            if min(parsed.values()) < 0:
                return f"must hold weights >= 0 (got {value!r})"
            if sum(parsed.values()) <= 0:
                return f"must hold weights with a positive sum (got {value!r})"
        return None

    return check


def _positions(
    name: str, parameter: str, data: pd.DataFrame, values: Mapping[str, float]
) -> dict[int, float]:
    unknown = [s for s in values if s not in data.columns]
    if unknown:
        have = ", ".join(map(str, data.columns))
        raise MetricInputError(
            name,
            f"parameter {parameter!r}",
            f"names {unknown[0]!r}, which is not a column of data (have: {have})",
        )
    return {int(data.columns.get_loc(s)): v for s, v in values.items()}


def _market_weights(data: pd.DataFrame, text: str) -> np.ndarray:
    k = data.shape[1]
    if not text.strip():
        return np.full(k, 1.0 / k)
    given = _positions("black_litterman", "market_weights", data, parse_assignments(text))
    if len(given) != k:
        missing = [str(s) for i, s in enumerate(data.columns) if i not in given]
        raise MetricInputError(
            "black_litterman", "parameter 'market_weights'", f"has no weight for {', '.join(missing)}"
        )
    weights = np.array([given[i] for i in range(k)])
    return weights / weights.sum()


def _weights_frame(data: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(values, index=data.index, columns=data.columns)


_WINDOW = {"window": at_least(10), "refit_every": _check_frequency}


@metric(
    name="hrp",
    module=MODULE,
    kind="cross_asset",
    layout="per_asset",
    inputs=(),
    outputs=("hrp",),
    params={"window": 2160, "refit_every": "1D"},
    constraints=_WINDOW,
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"],
    reference="López de Prado (2016), Building diversified portfolios that outperform "
    "out of sample, JPM 42(4); pypfopt.HRPOpt",
)
def hrp(data: pd.DataFrame, *, window: int = 2160, refit_every: str = "1D") -> dict[str, pd.DataFrame]:
    """Hierarchical Risk Parity weights, rebalanced on a schedule.

    Parameters
    ----------
    data : DataFrame
        Wide frame of simple returns, one column per symbol.
    window : int, default 2160
        Rows in each covariance estimate (2160 hourly bars = 90 days).
    refit_every : str, default "1D"
        Rebalance period (a fixed pandas frequency); rebalances happen at the
        first bar of each calendar period.

    Returns
    -------
    dict of DataFrame
        ``hrp``: the weight of each symbol, in [0, 1], summing to 1.

    Notes
    -----
    Algorithm (López de Prado 2016): (1) correlation distance
    ``d_ij = sqrt((1 - ρ_ij)/2)`` and the Euclidean distance between its
    columns, clustered by single linkage; (2) quasi-diagonalization, the
    dendrogram's leaf order; (3) recursive bisection of the ordered list into
    halves, splitting each parent weight by ``α = 1 - V_1/(V_1 + V_2)`` with
    ``V`` the variance of the half's inverse-variance portfolio. The
    covariance is the sample covariance (ddof=1) of rows
    ``b - window .. b - 1`` at each rebalance bar ``b``; weights hold until the
    next rebalance. PyPortfolioOpt's ``HRPOpt`` clusters on ``d`` rather than on
    the distance between its columns, as the paper does; both give the same
    tree on block structures. Value range [0, 1]. Warm-up: ``window`` bars,
    plus the bars until the next rebalance boundary. A covariance that is not
    positive definite raises.

    References
    ----------
    M. López de Prado, "Building diversified portfolios that outperform out of
    sample", *J. Portfolio Management* 42(4) (2016); PyPortfolioOpt ``HRPOpt``.
    """
    x = returns_matrix(data)
    out = np.full(x.shape, np.nan)
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one allocation per rebalance
        out[b:e] = hrp_weights(window_covariance("hrp", data, x, b, window))
    return {"hrp": _weights_frame(data, out)}


@metric(
    name="risk_parity",
    module=MODULE,
    kind="cross_asset",
    layout="per_asset",
    inputs=(),
    outputs=("risk_parity",),
    params={"window": 2160, "refit_every": "1D"},
    constraints=_WINDOW,
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"],
    reference="Maillard, Roncalli & Teiletche (2010), JPM 36(4); Spinu (2013), An "
    "algorithm for computing risk parity weights, SSRN 2297383",
)
def risk_parity(
    data: pd.DataFrame, *, window: int = 2160, refit_every: str = "1D"
) -> dict[str, pd.DataFrame]:
    """Equal-risk-contribution (risk parity) weights, rebalanced on a schedule.

    Parameters
    ----------
    data : DataFrame
        Wide frame of simple returns, one column per symbol.
    window : int, default 2160
        Rows in each covariance estimate.
    refit_every : str, default "1D"
        Rebalance period (a fixed pandas frequency).

    Returns
    -------
    dict of DataFrame
        ``risk_parity``: the weight of each symbol, in (0, 1], summing to 1.

    Notes
    -----
    Definition: long-only weights whose risk contributions
    ``RC_i = w_i (Σw)_i / wᵀΣw`` all equal ``1/k``. Solved exactly through
    Spinu's convex problem ``min_y ½ yᵀΣy - (1/k) Σ ln y_i``, ``w = y/Σy``, by
    damped Newton steps to a relative budget residual below 1e-12 (unique
    solution for a positive-definite ``Σ``). Uncorrelated assets get ``w_i ∝ 1/σ_i``. The
    covariance is the sample covariance of rows ``b - window .. b - 1`` at
    each rebalance bar ``b``; weights hold until the next rebalance. Value range
    [0, 1]. Warm-up: ``window`` bars, plus the bars until the next rebalance
    boundary. Non-convergence or a covariance that is not positive definite
    raises.

    References
    ----------
    S. Maillard, T. Roncalli and J. Teiletche, "The properties of equally
    weighted risk contribution portfolios", *J. Portfolio Management* 36(4)
    (2010); F. Spinu, "An algorithm for computing risk parity weights" (2013).
    """
    x = returns_matrix(data)
    out = np.full(x.shape, np.nan)
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one allocation per rebalance
        out[b:e] = erc_weights(window_covariance("risk_parity", data, x, b, window))
    return {"risk_parity": _weights_frame(data, out)}


@metric(
    name="black_litterman",
    module=MODULE,
    kind="cross_asset",
    layout="per_asset",
    inputs=(),
    outputs=("bl_weight", "bl_return", "bl_prior_return"),
    params={
        "window": 2160,
        "refit_every": "1D",
        "views": "",
        "market_weights": "",
        "risk_aversion": 2.5,
        "tau": 0.05,
        "periods_per_year": 8760.0,
    },
    constraints={
        **_WINDOW,
        "views": _assignments(non_negative=False),
        "market_weights": _assignments(non_negative=True),
        "risk_aversion": greater_than(0.0),
        "tau": greater_than(0.0),
        "periods_per_year": greater_than(0.0),
    },
    warmup=lambda p: p["window"],
    reference="Black & Litterman (1992), FAJ 48(5); He & Litterman (1999), The intuition "
    "behind Black-Litterman model portfolios; pypfopt.BlackLittermanModel",
)
def black_litterman(
    data: pd.DataFrame,
    *,
    window: int = 2160,
    refit_every: str = "1D",
    views: str = "",
    market_weights: str = "",
    risk_aversion: float = 2.5,
    tau: float = 0.05,
    periods_per_year: float = 8760.0,
) -> dict[str, pd.DataFrame]:
    """Black–Litterman (He–Litterman) posterior returns and long-only weights.

    Parameters
    ----------
    data : DataFrame
        Wide frame of simple returns, one column per symbol.
    window : int, default 2160
        Rows in each covariance estimate.
    refit_every : str, default "1D"
        Rebalance period (a fixed pandas frequency).
    views : str, default ""
        Absolute views as ``"SYMBOL=annual expected return, ..."``, e.g.
        ``"BTCUSDT=0.40"`` (40 % a year); empty for none.
    market_weights : str, default ""
        Equilibrium (market-capitalization) weights as ``"SYMBOL=weight, ..."``
        for every column, normalized to sum 1; empty means equal weights.
    risk_aversion : float, default 2.5
        Risk-aversion coefficient ``δ``.
    tau : float, default 0.05
        Uncertainty scale ``τ`` of the prior mean.
    periods_per_year : float, default 8760.0
        Bars per year; the covariance is annualized with it so that views and
        returns are annual.

    Returns
    -------
    dict of DataFrame
        Per symbol: ``bl_weight``, the long-only, fully invested weight in
        [0, 1] (summing to 1); ``bl_return``, the posterior expected return
        ``μ_BL`` (annual fraction); ``bl_prior_return``, the equilibrium
        return ``π``.

    Notes
    -----
    Formula: ``Σ`` = sample covariance (ddof=1) of rows ``b - window .. b - 1``
    times ``P`` (periods per year); ``π = δ Σ w_mkt``; views ``P_v μ = Q`` with
    unit rows ``P_v``; He–Litterman ``Ω = diag(τ P_v Σ P_vᵀ)`` (each view as
    uncertain as the prior on it, so a single view moves that asset's
    return halfway from ``π`` to ``Q``);
    ``μ_BL = [(τΣ)⁻¹ + P_vᵀΩ⁻¹P_v]⁻¹ [(τΣ)⁻¹π + P_vᵀΩ⁻¹Q]``. Weights:
    ``argmax wᵀμ_BL - (δ/2) wᵀΣw`` over ``w >= 0``, ``Σw = 1`` (exact active-set
    QP), which returns ``w_mkt`` itself when there are no views; an
    unconstrained ``(δΣ)⁻¹μ_BL`` can short and lever. Weights hold until the next
    rebalance. Value range: weights [0, 1], returns unbounded. Warm-up:
    ``window`` bars, plus the bars until the next rebalance boundary. A
    covariance that is not positive definite raises.

    References
    ----------
    F. Black and R. Litterman, "Global portfolio optimization", *Financial
    Analysts J.* 48(5) (1992); G. He and R. Litterman, "The intuition behind
    Black-Litterman model portfolios", Goldman Sachs (1999); PyPortfolioOpt
    ``BlackLittermanModel``.
    """
    view_positions = _positions("black_litterman", "views", data, parse_assignments(views))
    prior_weights = _market_weights(data, market_weights)
    x = returns_matrix(data)
    weights = np.full(x.shape, np.nan)
    posterior = np.full(x.shape, np.nan)
    prior = np.full(x.shape, np.nan)
    for b, e in nm.refit_spans(data.index, refit_every, window):  # one allocation per rebalance
        cov = window_covariance("black_litterman", data, x, b, window) * periods_per_year
        pi, mu = black_litterman_returns(
            cov, prior_weights, risk_aversion=risk_aversion, tau=tau, views=view_positions
        )
        weights[b:e] = long_only_mean_variance(mu, cov, risk_aversion)
        posterior[b:e] = mu
        prior[b:e] = pi
    return {
        "bl_weight": _weights_frame(data, weights),
        "bl_return": _weights_frame(data, posterior),
        "bl_prior_return": _weights_frame(data, prior),
    }
