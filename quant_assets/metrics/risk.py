"""Family G, risk and exposure (module ``risk_expos``).

Conventions: simple returns ``R_t = C_t/C_{t-1} - 1`` for P&L quantities (VaR,
expected shortfall, drawdown), log returns for volatility; annualization uses
the bar interval (``periods_per_year``: 8760 for hourly bars, 365 for daily;
never 252). Losses are reported as **positive** fractions (a 95 % VaR of 0.02
means a 2 % loss is exceeded one bar in twenty). A value at row ``t`` uses bars
up to ``t`` and is the level that applies to the **next** bar: a stop printed at
``t`` is hit when the low of ``t + 1`` reaches it, and a volatility-target scale
printed at ``t`` multiplies the return of ``t + 1``.

Sharpe and Sortino live with the portfolio metrics; ATR comes from the trend
family (``atr``), never recomputed differently here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

from quant_assets.metrics import _liquidation as liq
from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import require_non_negative, require_positive
from quant_assets.metrics.registry import (
    at_least,
    between,
    greater_than,
    greater_than_param,
    metric,
)
from quant_assets.metrics.trend import _atr_array, _wilder_memory

MODULE = "risk_expos"


# --------------------------------------------------------------------------- stops


@metric(
    name="atr_stop",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("atr_stop_long", "atr_stop_short"),
    params={"timeperiod": 22, "multiplier": 3.0},
    constraints={"timeperiod": at_least(1), "multiplier": greater_than(0.0)},
    depends_on=("atr",),
    warmup=lambda p: p["timeperiod"],
    memory=lambda p: _wilder_memory(p["timeperiod"]),
    reference="LeBeau, Chandelier Exit (in Elder, Come into My Trading Room, 2002); Wilder (1978) ATR",
)
def atr_stop(data: pd.DataFrame, *, timeperiod: int = 22, multiplier: float = 3.0) -> dict[str, np.ndarray]:
    """ATR trailing stop (Chandelier exit) for long and short positions.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 22
        ``n``: both the highest-high / lowest-low look-back and the ATR period.
    multiplier : float, default 3.0
        ``k``: stop distance in ATRs.

    Returns
    -------
    dict of ndarray
        ``atr_stop_long = HH_n - k ATR_n`` and ``atr_stop_short = LL_n + k ATR_n``,
        in price units.

    Notes
    -----
    ``HH_n``/``LL_n``: highest high / lowest low of the last ``n`` bars including
    ``t``; ``ATR_n``: Wilder's ATR (the ``atr`` metric). The stop printed at
    ``t`` applies to bar ``t + 1``: a long exits when a later low reaches it.
    Bars with ``H - L = 2`` and no gaps give ``HH_22 - 6``. Warm-up: ``n`` bars.

    References
    ----------
    C. LeBeau's Chandelier Exit, in A. Elder, *Come into My Trading Room*
    (2002); J. W. Wilder, *New Concepts in Technical Trading Systems* (1978).
    """
    high, low, close = (nm.column(data, c) for c in ("high", "low", "close"))
    distance = multiplier * _atr_array(high, low, close, timeperiod)
    return {
        "atr_stop_long": nm.rolling_max(high, timeperiod) - distance,
        "atr_stop_short": nm.rolling_min(low, timeperiod) + distance,
    }


@metric(
    name="adaptive_atr_stop",
    module=MODULE,
    inputs=("high", "low", "close"),
    outputs=("adaptive_stop_long", "adaptive_stop_short", "adaptive_stop_multiplier"),
    params={
        "timeperiod": 22,
        "multiplier": 3.0,
        "median_window": 720,
        "min_scale": 0.5,
        "max_scale": 2.0,
    },
    constraints={
        "timeperiod": at_least(1),
        "multiplier": greater_than(0.0),
        "median_window": at_least(1),
        "min_scale": greater_than(0.0),
        "max_scale": greater_than_param("min_scale"),
    },
    depends_on=("atr", "atr_stop"),
    warmup=lambda p: p["timeperiod"] + p["median_window"] - 1,
    memory=lambda p: _wilder_memory(p["timeperiod"]) + p["median_window"],
    reference="Wilder (1978) volatility stop; LeBeau Chandelier Exit with a "
    "volatility-regime multiplier (METRICS_REFERENCE, G)",
)
def adaptive_atr_stop(
    data: pd.DataFrame,
    *,
    timeperiod: int = 22,
    multiplier: float = 3.0,
    median_window: int = 720,
    min_scale: float = 0.5,
    max_scale: float = 2.0,
) -> dict[str, np.ndarray]:
    """ATR stop whose multiplier widens when volatility is high relative to its recent median.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low`` and ``close`` columns.
    timeperiod : int, default 22
        ``n``: highest-high / lowest-low look-back and ATR period.
    multiplier : float, default 3.0
        ``k0``: base distance in ATRs.
    median_window : int, default 720
        ``M``: bars of ATR history for the reference median (720 hourly bars =
        30 days).
    min_scale, max_scale : float, default 0.5, 2.0
        Bounds of the regime factor.

    Returns
    -------
    dict of ndarray
        ``adaptive_stop_long = HH_n - k_t ATR_t``,
        ``adaptive_stop_short = LL_n + k_t ATR_t`` (price units) and
        ``adaptive_stop_multiplier = k_t`` (ATRs, in ``[k0 min_scale, k0 max_scale]``).

    Notes
    -----
    ``k_t = k0 clip(ATR_t / median(ATR_{t-M+1} .. ATR_t), min_scale, max_scale)``:
    in a volatility burst the stop moves further away (fewer whipsaws), in a
    quiet market it tightens. ATR is the Wilder ATR of the ``atr`` metric, the
    highs and lows are those of :func:`atr_stop`. The stop printed at ``t``
    (from ATR up to ``t``) applies to bar ``t + 1``. It is not ratcheted: like
    the Chandelier exit it can move against the position when ATR rises.
    Warm-up: ``n + M - 1`` bars.

    References
    ----------
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978);
    C. LeBeau's Chandelier Exit, in A. Elder, *Come into My Trading Room* (2002).
    """
    high, low, close = (nm.column(data, c) for c in ("high", "low", "close"))
    atr = _atr_array(high, low, close, timeperiod)
    median = pd.Series(atr).rolling(median_window).median().to_numpy()
    k = multiplier * np.clip(nm.safe_divide(atr, median), min_scale, max_scale)
    distance = k * atr
    return {
        "adaptive_stop_long": nm.rolling_max(high, timeperiod) - distance,
        "adaptive_stop_short": nm.rolling_min(low, timeperiod) + distance,
        "adaptive_stop_multiplier": k,
    }


# --------------------------------------------------------------------------- liquidation zones


@metric(
    name="liquidation_zones",
    module=MODULE,
    inputs=("high", "low", "close", "open_interest"),
    outputs=(
        "liq_long_price",
        "liq_short_price",
        "liq_long_notional",
        "liq_short_notional",
        "liq_long_distance",
        "liq_short_distance",
    ),
    params={"window": 168, "long_share": 0.5, **liq.LADDER_PARAMS},
    constraints={
        "window": at_least(1),
        "long_share": between(0.0, 1.0),
        **liq.LADDER_CONSTRAINTS,
    },
    warmup=lambda p: p["window"],
    reference="Binance USD-M Futures, How to calculate liquidation price (isolated, linear); "
    "Coinglass/Hyblock liquidation-level descriptions (OI-flow reconstruction)",
)
def liquidation_zones(
    data: pd.DataFrame,
    *,
    window: int = 168,
    long_share: float = 0.5,
    mmr: float = 0.005,
    leverages: Sequence[float] = liq.LEVERAGES,
    leverage_weights: Sequence[float] = liq.LEVERAGE_WEIGHTS,
) -> dict[str, np.ndarray]:
    """Where the leveraged positions opened over the last ``window`` bars would be liquidated.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low``, ``close`` and ``open_interest`` (contracts
        in base-asset units, as Binance USD-M reports it, >= 0).
    window : int, default 168
        Bars of position openings tracked (168 hourly bars = 1 week).
    long_share : float, default 0.5
        Assumed share of new open interest that is a leveraged long (the rest
        leveraged shorts); use the taker buy ratio if known.
    mmr : float, default 0.005
        Maintenance margin rate (Binance's first bracket, 0.5 %).
    leverages : tuple of float, default (5, 10, 25, 50, 100)
        Assumed leverage tiers of new positions.
    leverage_weights : tuple of float, default (0.1, 0.3, 0.3, 0.2, 0.1)
        Assumed share of new notional in each tier (sum to 1). These
        assumptions cannot be verified from market data; they are parameters so
        a module can state its own.

    Returns
    -------
    dict of ndarray
        ``liq_long_price`` / ``liq_short_price``: notional-weighted mean
        liquidation price of the surviving long / short positions (price
        units; NaN when none survive); ``liq_long_notional`` /
        ``liq_short_notional``: their notional (quote currency, >= 0);
        ``liq_long_distance = (C_t - long price)/C_t`` and
        ``liq_short_distance = (short price - C_t)/C_t``, fractions of price
        (> 0; small = a liquidation cascade is close).

    Notes
    -----
    OI-flow reconstruction: at a bar ``i`` where open interest rises, new
    notional ``ΔOI_i C_i`` is split into longs (``long_share``) and shorts and
    spread over the leverage tiers. Isolated-margin, linear-contract
    liquidation prices, without fees and the per-bracket maintenance amount:
    ``long: C_i (1 - 1/L + mmr)``, ``short: C_i (1 + 1/L - mmr)``
    (10x at 100 with 0.5 % → 90.5 and 109.5). A level is removed once a later
    bar trades through it (low <= long level, high >= short level); when open
    interest falls, every tracked position shrinks pro rata by
    ``OI_s/OI_{s-1}`` (closures hit old and new positions alike). Positions
    opened before the window are dropped. This is a market-wide estimate of
    the zones, the per-bar summary of the ladder behind module C's
    ``liquidation_heatmap`` (:mod:`quant_assets.metrics._liquidation`), which
    splits new open interest by the bar's taker buy share instead.
    Warm-up: ``window`` bars.

    References
    ----------
    Binance Support, "How to Calculate Liquidation Price of USDⓈ-M Contracts";
    Coinglass and Hyblock product descriptions of liquidation levels.
    """
    require_non_negative("liquidation_zones", data, "open_interest")
    close = nm.column(data, "close")
    n = len(close)
    outputs = {name: nm.nan_array(n) for name in liquidation_zones.outputs}
    ladders = liq.liquidation_ladder(
        data,
        np.full(n, long_share),
        lookback=window,
        mmr=mmr,
        leverages=leverages,
        leverage_weights=leverage_weights,
    )
    for ladder in ladders:
        for side in liq.SIDES:
            total = ladder.total(side)
            weighted = (ladder.notional[side] * ladder.levels[side]).sum(axis=(0, 2))
            outputs[f"liq_{side}_notional"][ladder.rows] = total
            outputs[f"liq_{side}_price"][ladder.rows] = nm.safe_divide(weighted, total)
    for side in liq.SIDES:
        for quantity in ("price", "notional"):
            outputs[f"liq_{side}_{quantity}"][:window] = np.nan  # the window is not yet full
        outputs[f"liq_{side}_distance"] = liq.distance(outputs[f"liq_{side}_price"], close, side)
    return outputs


# --------------------------------------------------------------------------- drawdown


def _rolling_worst_ratio(x: np.ndarray, window: int) -> np.ndarray:
    """``min over u <= s in the window ending at t of x_s/x_u`` for every ``t``.

    Doubling tables hold, for every block of ``2^k`` bars, its worst ratio, max
    and min; a window is the left-to-right fold of the disjoint power-of-two
    blocks of its length: ``worst(A then B) = min(worst A, worst B, min B/max A)``.
    O(n log window), exact (only min, max and one division).
    """
    n = len(x)
    out = nm.nan_array(n)
    if window > n:
        return out
    tables = [(np.ones(n), x, x)]
    while 2 ** len(tables) <= window:
        worst, high, low = tables[-1]
        h = 2 ** (len(tables) - 1)
        tables.append(
            (
                np.minimum(np.minimum(worst[:-h], worst[h:]), low[h:] / high[:-h]),
                np.maximum(high[:-h], high[h:]),
                np.minimum(low[:-h], low[h:]),
            )
        )
    rows = n - window + 1
    offset = 0
    acc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for k in range(len(tables) - 1, -1, -1):
        if not window & (1 << k):
            continue
        block = tuple(a[offset : offset + rows] for a in tables[k])
        if acc is None:
            acc = block  # type: ignore[assignment]
        else:
            acc = (
                np.minimum(np.minimum(acc[0], block[0]), block[2] / acc[1]),
                np.maximum(acc[1], block[1]),
                np.minimum(acc[2], block[2]),
            )
        offset += 1 << k
    assert acc is not None
    out[window - 1 :] = acc[0]
    return out


@metric(
    name="max_drawdown",
    module=MODULE,
    inputs=("close",),
    outputs=("drawdown", "max_drawdown"),
    params={"timeperiod": 720},
    constraints={"timeperiod": at_least(0)},
    value_range=(-1.0, 0.0),
    warmup=lambda p: max(p["timeperiod"] - 1, 0),
    memory=lambda p: nm.UNBOUNDED_MEMORY if p["timeperiod"] == 0 else p["timeperiod"] - 1,
    reference="Magdon-Ismail & Atiya (2004), Risk 17; empyrical.max_drawdown",
)
def max_drawdown(data: pd.DataFrame, *, timeperiod: int = 720) -> dict[str, np.ndarray]:
    """Drawdown from the peak and maximum drawdown, over a trailing window or since the start.

    Parameters
    ----------
    data : DataFrame
        Rows with ``close``: a price or an equity curve (> 0).
    timeperiod : int, default 720
        ``W``: trailing window in bars (720 hourly bars = 30 days); 0 = running
        since the first row.

    Returns
    -------
    dict of ndarray
        ``drawdown = C_t / max(C over the window) - 1`` (the current drawdown)
        and ``max_drawdown = min over the window of (C_s / max_{u<=s} C_u - 1)``
        (the worst peak-to-trough loss inside the window), both in [-1, 0].

    Notes
    -----
    Drawdown is measured on the level itself (compounded simple returns), as
    ``empyrical.max_drawdown`` does on the equity curve. Equity
    ``1, 1.5, 2, 1.8, 1.5`` gives -25 %. The trailing version is computed
    exactly for every bar in O(n log W) (the peak of each window is inside the
    window); ``timeperiod=0`` gives the classic running version, whose value
    depends on the whole history since the first row (``memory_bars`` is
    unbounded). Warm-up: ``W - 1`` bars (0 for the running version).

    References
    ----------
    M. Magdon-Ismail and A. Atiya, "Maximum drawdown", *Risk* 17 (2004);
    ``empyrical.max_drawdown``.
    """
    close = require_positive("max_drawdown", data, "close")
    if timeperiod == 0:
        drawdown = close / np.maximum.accumulate(close) - 1.0
        return {"drawdown": drawdown, "max_drawdown": np.minimum.accumulate(drawdown)}
    return {
        "drawdown": close / nm.rolling_max(close, timeperiod) - 1.0,
        "max_drawdown": _rolling_worst_ratio(close, timeperiod) - 1.0,
    }


# --------------------------------------------------------------------------- sizing and leverage


def _ewma_decay(halflife: int) -> float:
    return 0.5 ** (1.0 / halflife)


@metric(
    name="vol_target",
    module=MODULE,
    inputs=("close",),
    outputs=("vol_target", "vol_forecast"),
    params={"target_vol": 0.5, "halflife": 72, "max_leverage": 2.0, "periods_per_year": 8760.0},
    constraints={
        "target_vol": greater_than(0.0),
        "halflife": at_least(1),
        "max_leverage": greater_than(0.0),
        "periods_per_year": greater_than(0.0),
    },
    value_range=(0.0, math.inf),
    warmup=lambda p: p["halflife"],
    memory=lambda p: p["halflife"] + nm.decay_bars(_ewma_decay(p["halflife"])),
    reference="Moreira & Muir (2017), Journal of Finance 72; Harvey et al. (2018), JPM, "
    "The impact of volatility targeting; RiskMetrics (1996) EWMA",
)
def vol_target(
    data: pd.DataFrame,
    *,
    target_vol: float = 0.5,
    halflife: int = 72,
    max_leverage: float = 2.0,
    periods_per_year: float = 8760.0,
) -> dict[str, np.ndarray]:
    """Volatility-targeting position scale: target volatility over forecast volatility, capped.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    target_vol : float, default 0.5
        Annualized volatility target ``σ*`` as a fraction (0.5 = 50 %).
    halflife : int, default 72
        Half-life ``h`` in bars of the EWMA variance (72 hourly bars = 3 days).
    max_leverage : float, default 2.0
        Cap ``w_max`` on the scale.
    periods_per_year : float, default 8760.0
        Bars per year: 8760 for hourly bars, 365 for daily (never 252).

    Returns
    -------
    dict of ndarray
        ``vol_target = min(σ*/σ̂_t, w_max)``, the exposure to hold over bar
        ``t + 1`` (>= 0; ``w_max`` when ``σ̂ = 0``); ``vol_forecast = σ̂_t``,
        the annualized EWMA volatility forecast (fraction, >= 0).

    Notes
    -----
    ``σ̂²_t = λ σ̂²_{t-1} + (1 - λ) r_t²`` on log returns (RiskMetrics, zero
    mean), ``λ = 0.5^{1/h}``, seeded with the mean of the first ``h`` squared
    returns; annualized by ``sqrt(P)``. The scale at ``t`` uses returns up to
    ``t`` and is applied to ``r_{t+1}`` (the one-bar lag of Moreira–Muir), so
    ``w_t r_{t+1}`` has about the target volatility in every regime: the scale
    is inversely proportional to volatility below the cap. Warm-up: ``h`` bars;
    the seed's weight falls below 1e-8 after ``memory_bars``.

    References
    ----------
    A. Moreira and T. Muir, "Volatility-managed portfolios", *Journal of
    Finance* 72 (2017); C. Harvey et al., "The impact of volatility targeting",
    *Journal of Portfolio Management* (2018); J.P. Morgan, *RiskMetrics
    Technical Document* (1996).
    """
    returns = nm.log_returns(require_positive("vol_target", data, "close"))
    variance = nm.ewma_variance(returns, _ewma_decay(halflife), halflife)
    forecast = np.sqrt(variance) * math.sqrt(periods_per_year)
    with np.errstate(divide="ignore"):
        scale = np.minimum(target_vol / forecast, max_leverage)  # σ̂ = 0 gives the cap
    return {"vol_target": scale, "vol_forecast": forecast}


@metric(
    name="leverage_ratio",
    module=MODULE,
    inputs=("long_notional", "short_notional", "equity"),
    outputs=("gross_leverage", "net_leverage"),
    value_range=(0.0, math.inf),
    warmup=0,
    reference="Standard gross/net leverage (e.g. Basel III leverage ratio, hedge-fund exposure reporting)",
)
def leverage_ratio(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Position leverage: gross and net exposure per unit of equity.

    Parameters
    ----------
    data : DataFrame
        Rows with ``long_notional`` and ``short_notional`` (absolute notional
        of the long and short positions, quote currency, >= 0) and ``equity``
        (account or allocation equity, quote currency, > 0).

    Returns
    -------
    dict of ndarray
        ``gross_leverage = (long + short)/equity`` and
        ``net_leverage = |long - short|/equity``, both >= 0.

    Notes
    -----
    Positions +3000 and -1000 on equity 1000 give gross 4.0 and net 2.0. The
    inputs come from the account (module I's balances and positions); for the
    market-wide estimate from open interest see ``estimated_leverage_ratio``.
    Non-positive equity (a bankrupt account) is an error, not a ratio.
    Warm-up: 0 bars.

    References
    ----------
    Standard exposure definitions; e.g. Basel Committee, *Basel III leverage
    ratio framework* (2014), for exposure over capital.
    """
    longs = require_non_negative("leverage_ratio", data, "long_notional")
    shorts = require_non_negative("leverage_ratio", data, "short_notional")
    equity = require_positive("leverage_ratio", data, "equity")
    return {"gross_leverage": (longs + shorts) / equity, "net_leverage": np.abs(longs - shorts) / equity}


@metric(
    name="estimated_leverage_ratio",
    module=MODULE,
    inputs=("open_interest", "exchange_balance"),
    outputs=("estimated_leverage_ratio",),
    value_range=(0.0, math.inf),
    warmup=0,
    reference="CryptoQuant user guide, Estimated Leverage Ratio",
)
def estimated_leverage_ratio(data: pd.DataFrame) -> np.ndarray:
    """Market-wide leverage proxy: open interest over the coins held by exchanges.

    Parameters
    ----------
    data : DataFrame
        Rows with ``open_interest`` (derivatives open interest in coins, >= 0)
        and ``exchange_balance`` (coins held by exchange-labelled addresses,
        > 0), aligned as of the same time.

    Returns
    -------
    ndarray
        ``estimated_leverage_ratio = OI/exchange balance`` (>= 0); rising values
        mean more leverage per coin of collateral, a deleveraging-risk warning.

    Notes
    -----
    A proxy, not a position leverage: the platform holds no positions, so this
    CryptoQuant ratio estimates how leveraged the market is. Use
    ``leverage_ratio`` for an account's own exposure. The ratio covers one
    venue's OI unless the caller sums venues. Warm-up: 0 bars.

    References
    ----------
    CryptoQuant user guide, "Estimated Leverage Ratio".
    """
    oi = require_non_negative("estimated_leverage_ratio", data, "open_interest")
    return oi / require_positive("estimated_leverage_ratio", data, "exchange_balance")


# --------------------------------------------------------------------------- VaR and expected shortfall


def _tail_mean(returns: np.ndarray, window: int, alpha: float) -> np.ndarray:
    """Per trailing window of ``window`` returns (from position 1): the mean of
    its ``floor((W - 1) alpha) + 1`` smallest returns, those at or below its
    linearly interpolated ``alpha``-quantile."""
    count = math.floor((window - 1) * alpha) + 1

    def tail(windows: np.ndarray, _: None) -> np.ndarray:
        return np.partition(windows, count - 1, axis=1)[:, :count].mean(axis=1)

    return nm.placed(nm.window_apply(returns[1:], None, window, tail), 1, len(returns))


_TAIL_PARAMS = {
    "params": {"timeperiod": 720, "alpha": 0.05},
    "constraints": {"timeperiod": at_least(10), "alpha": between(0.0, 0.5, inclusive=False)},
    "warmup": lambda p: p["timeperiod"],
}


@metric(
    name="value_at_risk",
    module=MODULE,
    inputs=("close",),
    outputs=("var_historical", "var_parametric", "var_cornish_fisher"),
    reference="J.P. Morgan RiskMetrics (1996); Zangari (1996), RiskMetrics Monitor; "
    "Favre & Galeano (2002), J. Alternative Investments; empyrical.value_at_risk",
    **_TAIL_PARAMS,
)
def value_at_risk(data: pd.DataFrame, *, timeperiod: int = 720, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """One-bar Value-at-Risk on a trailing window: historical, Gaussian and Cornish–Fisher.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    timeperiod : int, default 720
        ``W``: simple returns in the trailing window (720 hourly bars = 30 days).
    alpha : float, default 0.05
        Tail probability (0.05 = 95 % VaR, 0.01 = 99 %).

    Returns
    -------
    dict of ndarray
        Losses as positive fractions of value over the next bar:
        ``var_historical = -Q_α(R)``, ``var_parametric = -(μ + z_α σ)``,
        ``var_cornish_fisher = -(μ + z_cf σ)``; negative when even the tail
        return is a gain.

    Notes
    -----
    ``R`` are simple returns (a P&L quantity); ``Q_α`` is the linearly
    interpolated empirical quantile (``np.quantile``; ``empyrical`` returns the
    same number with a minus sign); ``μ`` and ``σ`` (ddof=1) are the window's
    mean and standard deviation; ``z_α = Φ^{-1}(α)`` (-1.645 at 5 %).
    Cornish–Fisher: ``z_cf = z + (z² - 1)S/6 + (z³ - 3z)K/24 - (2z³ - 5z)S²/36``
    with the bias-corrected sample skewness ``S`` and **excess** kurtosis ``K``
    (pandas ``rolling.skew``/``kurt``). For N(0, 1 %) all three give about
    1.645 %; for Student-t(10) the Cornish–Fisher 99 % VaR is closer to the true
    value than the Gaussian one. Caveat: with large kurtosis (t(5)) the
    expansion overshoots (3.5 % against a true 2.6 %); prefer the historical
    value there. A one-bar VaR scales to ``h`` bars by ``sqrt(h)`` only for
    i.i.d. returns. Warm-up: ``W`` bars.

    References
    ----------
    J.P. Morgan/Reuters, *RiskMetrics Technical Document* (1996); P. Zangari,
    "A VaR methodology for portfolios that include options", *RiskMetrics
    Monitor* (1996); L. Favre and J.-A. Galeano, "Mean-modified Value-at-Risk
    optimization with hedge funds", *J. Alternative Investments* 5 (2002).
    """
    returns = nm.simple_returns(require_positive("value_at_risk", data, "close"))
    # Order statistics from a skip list: exact, O(n log W).
    quantile = pd.Series(returns).rolling(timeperiod).quantile(alpha, interpolation="linear").to_numpy()
    mean, sd = nm.return_moments(returns, timeperiod, ddof=1)
    rolling = pd.Series(returns).rolling(timeperiod)
    skew = rolling.skew().to_numpy()
    kurt = rolling.kurt().to_numpy()
    z = float(ndtri(alpha))
    z_cf = (
        z
        + (z * z - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * kurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
    )
    return {
        "var_historical": -quantile,
        "var_parametric": -(mean + z * sd),
        "var_cornish_fisher": -(mean + z_cf * sd),
    }


@metric(
    name="expected_shortfall",
    module=MODULE,
    inputs=("close",),
    outputs=("es_historical", "es_parametric"),
    depends_on=("value_at_risk",),
    reference="Artzner et al. (1999), Mathematical Finance 9; Rockafellar & Uryasev (2000), "
    "J. Risk 2; empyrical.conditional_value_at_risk",
    **_TAIL_PARAMS,
)
def expected_shortfall(
    data: pd.DataFrame, *, timeperiod: int = 720, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Expected Shortfall (CVaR) on a trailing window: historical and Gaussian.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    timeperiod : int, default 720
        ``W``: simple returns in the trailing window.
    alpha : float, default 0.05
        Tail probability (0.05 = 95 % ES: the mean loss in the worst 5 % of
        bars).

    Returns
    -------
    dict of ndarray
        Mean loss beyond the VaR, as positive fractions:
        ``es_historical = -mean(R | R <= Q_α(R))`` and
        ``es_parametric = σ φ(z_α)/α - μ``. ES >= VaR of the same kind.

    Notes
    -----
    Historical: the mean of the ``floor((W - 1)α) + 1`` smallest returns of the
    window, the returns at or below the interpolated quantile of
    ``value_at_risk`` (``empyrical.conditional_value_at_risk``'s rule). Gaussian:
    ``μ``, ``σ`` (ddof=1) of the window, ``φ`` the standard normal density; for
    N(0, σ) at 5 % it is ``2.063 σ`` (VaR ``1.645 σ``). ES is coherent
    (subadditive), VaR is not. Warm-up: ``W`` bars.

    References
    ----------
    P. Artzner, F. Delbaen, J.-M. Eber and D. Heath, "Coherent measures of
    risk", *Mathematical Finance* 9 (1999); R. T. Rockafellar and S. Uryasev,
    "Optimization of conditional value-at-risk", *J. Risk* 2 (2000).
    """
    returns = nm.simple_returns(require_positive("expected_shortfall", data, "close"))
    tail = _tail_mean(returns, timeperiod, alpha)
    mean, sd = nm.return_moments(returns, timeperiod, ddof=1)
    z = float(ndtri(alpha))
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return {"es_historical": -tail, "es_parametric": sd * density / alpha - mean}
