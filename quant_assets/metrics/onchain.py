"""Family F, on-chain and macro (module ``onchain``).

On-chain ratios need UTXO-level data and proprietary exchange-address labels, so
the platform consumes the vendor's daily series (Glassnode-style names, see
``quant_assets.sources.onchain_catalog``) and these metrics implement the
derived, causal transforms on top of them: Glassnode's definitions where the
vendor series are the inputs of a definition (NUPL, MVRV z-score, realized
price), trailing windows where a series is smoothed or summed (SOPR, NRPL, whale
ratio, exchange and stablecoin flows), and "last known value with its age" for
ETF flows, which exist only on US trading days.

Inputs are daily series (one row per day) unless stated otherwise; windows are
counted in rows, so ``timeperiod=7`` is a week of daily rows. Rows must be
indexed by the time the value became **known**: a vendor's daily value stamped
at the start of its day is only complete at the end of it, and joining it to
hourly bars at the day start would look ahead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import require_non_negative, require_positive
from quant_assets.metrics.registry import at_least, metric

MODULE = "onchain"

_GLASSNODE = "Glassnode Academy / Studio metric guide, {}"


# --------------------------------------------------------------------------- valuation


@metric(
    name="nupl",
    module=MODULE,
    inputs=("market_cap_usd", "realized_cap_usd"),
    outputs=("nupl",),
    value_range=(-math.inf, 1.0),
    warmup=0,
    reference=_GLASSNODE.format("Net Unrealized Profit/Loss (NUPL)"),
)
def nupl(data: pd.DataFrame) -> np.ndarray:
    """Net Unrealized Profit/Loss: the share of market cap that is unrealized profit.

    Parameters
    ----------
    data : DataFrame
        Daily rows with ``market_cap_usd`` (MC, > 0) and ``realized_cap_usd``
        (RC, >= 0), both in USD.

    Returns
    -------
    ndarray
        ``nupl`` in (-inf, 1]: above 0 the market holds a net unrealized profit
        (Glassnode's bands: < 0 capitulation, 0.5-0.75 belief, > 0.75 euphoria).

    Notes
    -----
    Formula (Glassnode): ``NUPL = (MC - RC)/MC`` = relative unrealized profit
    minus relative unrealized loss, equivalently ``1 - 1/MVRV``. Realized cap
    values every coin at the price it last moved. Toy ledger: 10 coins created
    at $100, 5 spent at $150, price $150 → MC 1500, RC 1250, NUPL 1/6.
    Warm-up: 0 bars.

    References
    ----------
    Glassnode Academy, "Net Unrealized Profit/Loss (NUPL)" and "Realized
    Capitalization".
    """
    market_cap = require_positive("nupl", data, "market_cap_usd")
    return (market_cap - require_non_negative("nupl", data, "realized_cap_usd")) / market_cap


@metric(
    name="realized_price",
    module=MODULE,
    inputs=("realized_cap_usd", "supply"),
    outputs=("realized_price",),
    value_range=(0.0, math.inf),
    warmup=0,
    reference=_GLASSNODE.format("Realized Capitalization and Realized Price"),
)
def realized_price(data: pd.DataFrame) -> np.ndarray:
    """Realized price: realized cap per coin, the aggregate cost basis of the supply.

    Parameters
    ----------
    data : DataFrame
        Daily rows with ``realized_cap_usd`` (USD) and ``supply`` (coins, > 0).

    Returns
    -------
    ndarray
        ``realized_price`` in USD per coin.

    Notes
    -----
    Formula: ``RP = RC/supply`` with ``RC = Σ_UTXO value × price when it last
    moved``. Price below realized price means the average holder is at a loss
    (MVRV < 1). Warm-up: 0 bars.

    References
    ----------
    Glassnode Academy, "Realized Capitalization" and "Realized Price".
    """
    realized = require_non_negative("realized_price", data, "realized_cap_usd")
    return realized / require_positive("realized_price", data, "supply")


@metric(
    name="mvrv_zscore",
    module=MODULE,
    inputs=("market_cap_usd", "realized_cap_usd"),
    outputs=("mvrv_zscore",),
    params={"window": 0, "min_periods": 365},
    constraints={
        "window": lambda v, _p: None if v == 0 or v >= 2 else f"must be 0 (expanding) or >= 2 (got {v!r})",
        "min_periods": at_least(2),
    },
    warmup=lambda p: (p["min_periods"] if p["window"] == 0 else p["window"]) - 1,
    memory=lambda p: nm.UNBOUNDED_MEMORY if p["window"] == 0 else p["window"] - 1,
    reference=_GLASSNODE.format("MVRV Z-Score (market.MvrvZScore)"),
)
def mvrv_zscore(data: pd.DataFrame, *, window: int = 0, min_periods: int = 365) -> np.ndarray:
    """MVRV Z-score: market cap minus realized cap in standard deviations of market cap.

    Parameters
    ----------
    data : DataFrame
        Daily rows with ``market_cap_usd`` (MC) and ``realized_cap_usd`` (RC), USD.
    window : int, default 0
        0: the standard deviation of MC runs from the first row to ``t``
        (expanding, Glassnode's definition); ``W >= 2``: over the trailing ``W``
        rows only.
    min_periods : int, default 365
        Expanding version only: rows of MC needed before a value is produced (a
        year of daily data; a deviation of a few points is meaningless). The
        trailing version starts once its window is full.

    Returns
    -------
    ndarray
        ``mvrv_zscore``, unbounded (historically above 7 near cycle tops and
        below 0 near bottoms for BTC). NaN while MC has not varied.

    Notes
    -----
    Formula: ``Z_t = (MC_t - RC_t)/std(MC_0 .. MC_t)``, population standard
    deviation (ddof=0; Glassnode does not state it, and the population value
    reproduces its published numbers). The deviation is **causal**: expanding
    or trailing up to ``t``. The common bug, the full-sample deviation, uses
    the future and changes every past value when a day is added. Toy case:
    MC ``[100, 120, 150, 130, 200]``, RC 110 at the end: ``Z = 90/34.06 = 2.642``.
    Warm-up: ``min_periods - 1`` rows (expanding), ``window - 1`` rows
    (trailing). With ``window=0`` the value
    depends on the whole history since the first row (``memory_bars`` is
    unbounded): compute on the full history, never on a partition alone.

    References
    ----------
    Glassnode Studio, ``market.MvrvZScore`` (MVRV Z-Score); D. Puell and
    M. Mahmudov (2018), MVRV Z-Score.
    """
    market_cap = nm.column(data, "market_cap_usd")
    realized = nm.column(data, "realized_cap_usd")
    if window == 0:
        # Online (Welford-style) moments: no cancellation on levels ~1e12.
        sd = pd.Series(market_cap).expanding(min_periods).std(ddof=0).to_numpy()
    else:
        sd = nm.rolling_std(market_cap, window, ddof=0)
    # A deviation below 1e-12 of the level is rounding on a flat stretch.
    flat = sd <= 1e-12 * np.abs(market_cap)
    return nm.safe_divide(market_cap - realized, np.where(flat, 0.0, sd))


# --------------------------------------------------------------------------- realized profit and loss


@metric(
    name="sopr",
    module=MODULE,
    inputs=("sopr",),
    outputs=("sopr",),
    params={"timeperiod": 7},
    constraints={"timeperiod": at_least(1)},
    value_range=(0.0, math.inf),
    warmup=lambda p: p["timeperiod"] - 1,
    reference=_GLASSNODE.format("Spent Output Profit Ratio (SOPR)"),
)
def sopr(data: pd.DataFrame, *, timeperiod: int = 7) -> np.ndarray:
    """Spent Output Profit Ratio, smoothed over a trailing window.

    Parameters
    ----------
    data : DataFrame
        Daily rows with the vendor's ``sopr`` (dimensionless, > 0).
    timeperiod : int, default 7
        Trailing window in rows (7 days, the usual 7-day average; 1 = raw).

    Returns
    -------
    ndarray
        ``sopr`` > 0: above 1 coins moved on average at a profit, below 1 at a
        loss (capitulation); 1 is the break-even level bull markets bounce off.

    Notes
    -----
    Definition (Glassnode): for the outputs spent in a day,
    ``SOPR = Σ value × price_spent / Σ value × price_created``; aSOPR drops
    outputs younger than one hour, STH/LTH split at ~155 days. The ratio needs
    UTXO data, so the daily vendor series is the input and this metric is its
    trailing mean ``(1/n) Σ SOPR_{t-n+1..t}`` (a mean of daily ratios, as the
    vendor's 7-day average; the ratio of sums would need the spent values).
    Toy ledger: 5 coins created at $100 spent at $150 → SOPR 750/500 = 1.5.
    Warm-up: ``n - 1`` rows.

    References
    ----------
    Glassnode Academy, "Spent Output Profit Ratio (SOPR)"; R. Shirakashi
    (2019), "Introducing SOPR".
    """
    return nm.trailing_mean(require_positive("sopr", data, "sopr"), timeperiod)


@metric(
    name="nrpl",
    module=MODULE,
    inputs=("nrpl_usd", "market_cap_usd"),
    outputs=("nrpl", "nrpl_ratio"),
    params={"timeperiod": 7},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference=_GLASSNODE.format("Net Realized Profit/Loss"),
)
def nrpl(data: pd.DataFrame, *, timeperiod: int = 7) -> dict[str, np.ndarray]:
    """Net realized profit/loss over a trailing window, in USD and relative to market cap.

    Parameters
    ----------
    data : DataFrame
        Daily rows with the vendor's ``nrpl_usd`` (USD, signed) and
        ``market_cap_usd`` (USD, > 0).
    timeperiod : int, default 7
        Trailing window in rows (7 days; 1 = the daily value).

    Returns
    -------
    dict of ndarray
        ``nrpl``: ``Σ_{t-n+1..t} NRPL`` in USD (> 0 net profit taking, < 0 net
        loss realization); ``nrpl_ratio``: ``nrpl / MC_t``, a fraction that is
        comparable across cycles.

    Notes
    -----
    Definition (Glassnode): over the outputs spent in a day,
    ``NRPL = Σ (price_spent - price_created) × value`` = realized profit minus
    realized loss. Ignoring issuance it equals the day's change of realized cap
    (toy ledger: RC 1000 → 1250 and NRPL = 250). Warm-up: ``n - 1`` rows.

    References
    ----------
    Glassnode Academy, "Realized Profit/Loss" and "Net Realized Profit/Loss".
    """
    total = nm.trailing_sum(nm.column(data, "nrpl_usd"), timeperiod)
    return {"nrpl": total, "nrpl_ratio": total / require_positive("nrpl", data, "market_cap_usd")}


# --------------------------------------------------------------------------- exchange flows


@metric(
    name="whale_ratio",
    module=MODULE,
    inputs=("exchange_whale_ratio",),
    outputs=("whale_ratio",),
    params={"timeperiod": 3},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"] - 1,
    reference="CryptoQuant user guide, Exchange Whale Ratio",
)
def whale_ratio(data: pd.DataFrame, *, timeperiod: int = 3) -> np.ndarray:
    """Exchange whale ratio: the share of exchange inflow made by the ten largest deposits, smoothed.

    Parameters
    ----------
    data : DataFrame
        Daily rows with the vendor's ``exchange_whale_ratio`` (a fraction in
        [0, 1]).
    timeperiod : int, default 3
        Trailing window in rows (3 daily rows = CryptoQuant's 72-hour average).

    Returns
    -------
    ndarray
        ``whale_ratio``, in [0, 1] when the input is; high values (> 0.85 on
        CryptoQuant's scale) mean whales dominate deposits, a sell-pressure
        warning.

    Notes
    -----
    Definition (CryptoQuant): ``Σ top-10 inflow transactions / total exchange
    inflow`` per period (14 inflows whose top ten sum to 185 of 195 → 0.9487).
    Transaction-level data and exchange labels are the vendor's, so the daily
    ratio is the input and this metric is its trailing mean over ``n`` rows.
    Warm-up: ``n - 1`` rows.

    References
    ----------
    CryptoQuant user guide, "Exchange Whale Ratio".
    """
    return nm.trailing_mean(nm.column(data, "exchange_whale_ratio"), timeperiod)


def _flows(metric_name: str, data: pd.DataFrame, timeperiod: int) -> tuple[np.ndarray, np.ndarray]:
    inflow = require_non_negative(metric_name, data, "exchange_inflow_usd")
    outflow = require_non_negative(metric_name, data, "exchange_outflow_usd")
    net = nm.trailing_sum(inflow - outflow, timeperiod)
    gross = nm.trailing_sum(inflow + outflow, timeperiod)
    return net, nm.safe_divide(net, gross)


_FLOW_WINDOW = {
    "params": {"timeperiod": 7},
    "constraints": {"timeperiod": at_least(1)},
    "warmup": lambda p: p["timeperiod"] - 1,
}


@metric(
    name="exchange_netflow",
    module=MODULE,
    inputs=("exchange_inflow_usd", "exchange_outflow_usd"),
    outputs=("exchange_netflow", "exchange_flow_ratio"),
    reference="Glassnode, Exchange Metrics (transfers volume to/from exchanges); "
    "CryptoQuant, Exchange In/Outflow and Netflow",
    **_FLOW_WINDOW,
)
def exchange_netflow(data: pd.DataFrame, *, timeperiod: int = 7) -> dict[str, np.ndarray]:
    """Net flow of a coin into exchanges over a trailing window.

    Parameters
    ----------
    data : DataFrame
        Daily rows of one coin (BTC, ETH) with ``exchange_inflow_usd`` and
        ``exchange_outflow_usd``, USD sent to / from exchange-labelled
        addresses (>= 0).
    timeperiod : int, default 7
        Trailing window in rows (7 days; 1 = the daily netflow).

    Returns
    -------
    dict of ndarray
        ``exchange_netflow = Σ (inflow - outflow)`` in USD (> 0: coins move to
        exchanges, supply available to sell); ``exchange_flow_ratio =
        Σ (inflow - outflow) / Σ (inflow + outflow)`` in [-1, 1], scale free.

    Notes
    -----
    Netflow = in - out, excluding intra-exchange transfers (the vendor's
    labelling). Label sets change, so vendors revise history ("mutable"
    series): recompute the window when a revision lands. The ratio is NaN when
    nothing moved. Warm-up: ``n - 1`` rows.

    References
    ----------
    Glassnode, Exchange Metrics; CryptoQuant, "Exchange In/Outflow and Netflow".
    """
    net, ratio = _flows("exchange_netflow", data, timeperiod)
    return {"exchange_netflow": net, "exchange_flow_ratio": ratio}


@metric(
    name="stablecoin_flow",
    module=MODULE,
    inputs=("exchange_inflow_usd", "exchange_outflow_usd"),
    outputs=("stablecoin_netflow", "stablecoin_flow_ratio"),
    reference="Glassnode and CryptoQuant metric guides, stablecoin exchange netflow",
    **_FLOW_WINDOW,
)
def stablecoin_flow(data: pd.DataFrame, *, timeperiod: int = 7) -> dict[str, np.ndarray]:
    """Net flow of stablecoins into exchanges (buying power arriving) over a trailing window.

    Parameters
    ----------
    data : DataFrame
        Daily rows of the stablecoin aggregate (asset ``USDT`` in the raw
        tables: USDT + USDC + ... as the vendor serves it) with
        ``exchange_inflow_usd`` and ``exchange_outflow_usd`` (USD, >= 0).
    timeperiod : int, default 7
        Trailing window in rows (7 days; 1 = the daily netflow).

    Returns
    -------
    dict of ndarray
        ``stablecoin_netflow = Σ (inflow - outflow)`` in USD (> 0: dry powder
        moving onto exchanges, usually read as bullish, the opposite sign of a
        coin's netflow); ``stablecoin_flow_ratio`` = netflow / gross flow, in
        [-1, 1].

    Notes
    -----
    Stablecoin exchange netflow = inflow - outflow to labelled exchange
    addresses per period; the same arithmetic as :func:`exchange_netflow`
    applied to the stablecoin series. Related but not computed here (the raw
    tables hold no stablecoin supply): net mint/burn and the Stablecoin Supply
    Ratio. Warm-up: ``n - 1`` rows.

    References
    ----------
    Glassnode and CryptoQuant metric guides, stablecoin exchange flows.
    """
    net, ratio = _flows("stablecoin_flow", data, timeperiod)
    return {"stablecoin_netflow": net, "stablecoin_flow_ratio": ratio}


@metric(
    name="exchange_net_position_change",
    module=MODULE,
    inputs=("exchange_balance",),
    outputs=("exchange_net_position_change",),
    params={"timeperiod": 30},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"],
    reference="Glassnode API, distribution.ExchangeNetPositionChange",
)
def exchange_net_position_change(data: pd.DataFrame, *, timeperiod: int = 30) -> np.ndarray:
    """Exchange net position change: the change of the supply held on exchanges over a window.

    Parameters
    ----------
    data : DataFrame
        Daily rows with ``exchange_balance`` (coins held by exchange-labelled
        addresses).
    timeperiod : int, default 30
        Look-back in rows (Glassnode: 30 days).

    Returns
    -------
    ndarray
        ``exchange_net_position_change = B_t - B_{t-n}`` in coins (< 0: coins
        leave exchanges, accumulation).

    Notes
    -----
    Glassnode's definition is the 30-day change in the exchange balance. A
    constant outflow of 1000 coins a day gives -30000 once 30 days are
    available. Warm-up: ``n`` rows.

    References
    ----------
    Glassnode API metadata, ``distribution.ExchangeNetPositionChange``.
    """
    balance = nm.column(data, "exchange_balance")
    return balance - nm.shift(balance, timeperiod)


# --------------------------------------------------------------------------- ETF flows


@metric(
    name="etf_net_flow",
    module=MODULE,
    inputs=("net_flow_usd",),
    outputs=("etf_net_flow", "etf_net_flow_sum", "etf_flow_age_days"),
    params={"timeperiod": 5},
    constraints={"timeperiod": at_least(1)},
    warmup=lambda p: p["timeperiod"] - 1,
    allow_nan=True,
    reference="Issuer daily holdings files; Farside Investors, US spot ETF flow tables",
)
def etf_net_flow(data: pd.DataFrame, *, timeperiod: int = 5) -> dict[str, np.ndarray]:
    """Spot-ETF net flow: the last published daily total, a sum over recent trading days, and its age.

    Parameters
    ----------
    data : DataFrame
        Rows with ``net_flow_usd``: the day's creations minus redemptions summed
        over the asset's US spot ETFs (USD), NaN where nothing was published
        (weekends, US holidays, days before launch).
    timeperiod : int, default 5
        Number of **published** days summed (5 = a trading week).

    Returns
    -------
    dict of ndarray
        ``etf_net_flow``: the most recent published daily net flow (USD) as of
        ``t``; ``etf_net_flow_sum``: the sum of the last ``n`` published days
        (USD); ``etf_flow_age_days``: calendar days between ``t`` and the row of
        that publication (0 on a publication row). NaN until enough days are
        published.

    Notes
    -----
    Net flow = ``Σ_issuers Δholdings × price`` (or Δshares × NAV); holdings
    ``[100, 110, 105]`` BTC at $50k give +$0.5M and -$0.25M. Flows exist only on
    US trading days and arrive with a T+1 lag: index each row by when it was
    published. Gaps are **not** filled with zeros or forward-filled into a
    daily or hourly series as if new: the last known value is carried with its
    age, so a consumer can discount stale flows. Warm-up: ``n - 1`` rows when
    every row is published.

    References
    ----------
    US spot ETF issuers' daily holdings files; Farside Investors, "Bitcoin ETF
    Flow" and "Ethereum ETF Flow" tables.
    """
    flow = nm.column(data, "net_flow_usd")
    n = len(flow)
    published = np.isfinite(flow)
    positions = np.flatnonzero(published)
    # Index (into the published values) of the last publication at or before each row.
    last = np.cumsum(published) - 1
    known = last >= 0
    take = np.where(known, last, 0)

    values = flow[positions]
    cs = np.concatenate(([0.0], np.cumsum(values)))
    sums = nm.nan_array(len(values))
    if len(values) >= timeperiod:
        sums[timeperiod - 1 :] = cs[timeperiod:] - cs[: len(values) - timeperiod + 1]

    last_flow = nm.nan_array(n)
    window_sum = nm.nan_array(n)
    age = nm.nan_array(n)
    if positions.size:
        last_flow[known] = values[take[known]]
        window_sum[known] = sums[take[known]]
        stamps = data.index.asi8
        age[known] = (stamps[known] - stamps[positions[take[known]]]) / 86_400e9
    return {"etf_net_flow": last_flow, "etf_net_flow_sum": window_sum, "etf_flow_age_days": age}
