"""I. Portfolio optimization & allocation: long-only weights of the configured symbols, three ways.

The table ``scores.allocation_weights`` has one row per UTC day and symbol: ``ts`` is the
day at 00:00 and every value is the one at the day's last hourly bar (``ts + 23h``).
Each method rebalances at the first bar of every day from the sample covariance of the
720 hourly simple returns before it (30 days) and holds its weights through the day, so
a day's weights use data up to the previous day's close only.

Columns: ``hrp``, ``black_litterman``, ``risk_parity`` (each method's weight, in [0, 1],
each method's weights summing to 1 per day), ``chosen_method`` and ``weight`` (the chosen
method's weight).

Choice of method (declared rule, no look-ahead): on day ``D`` the chosen method is the
one whose portfolio had the **lowest realized volatility** over the trailing
``SELECTION_DAYS`` = 14 days ``D − 13 .. D``: per day ``d`` the realized variance is
``w_dᵀ C_d w_d``, with ``w_d`` the weights held during ``d`` and ``C_d`` the sample
covariance of ``d``'s 24 hourly returns (the ``realized_cov`` node at ``d``'s last bar);
the criterion is its mean over the 14 days. Ties go to the first of
``risk_parity, hrp, black_litterman``. Before every method has 14 days of weights the
choice is the default, ``risk_parity``. The decision uses data through ``D``'s close
and is meant to be applied from the next bar on.

Why volatility and not a trailing Sharpe ratio: all three allocators are risk-based
(Black-Litterman without views holds the equilibrium portfolio), and the mean of 14–30
days of hourly returns is mostly noise (the standard error of an annualized Sharpe
ratio over 30 days is about √(365/30) ≈ 3.5), so ranking methods by it would rank
luck. Realized risk is estimated precisely from the same data. The row builder also
sees only the nodes' outputs, not the returns, and the realized covariance is what
they provide.

Metrics (nodes, on the panel of hourly simple returns of all symbols) and outputs:

- ``hrp`` (720 bars, daily): ``hrp`` — the ``hrp`` column.
- ``risk_parity`` (720 bars, daily): ``risk_parity`` — the ``risk_parity`` column.
- ``black_litterman`` (720 bars, daily, no views, equal market weights, δ = 2.5,
  τ = 0.05): ``bl_weight`` (the ``black_litterman`` column), ``bl_return``,
  ``bl_prior_return``. Without views the posterior is the equilibrium prior and the
  weights are the market weights; views and market-cap weights are configuration
  (``views: "BTCUSDT=0.4"``), kept empty by default because they name symbols and the
  symbol set is configurable.
- ``realized_cov`` (``rolling_cov`` over 24 bars): ``rolling_cov`` — the day's realized
  covariance, used by the choice rule.
- ``correlation`` (``pearson_corr`` over 720 bars): ``pearson_corr`` — feature, the
  correlation matrix behind the allocations.
- ``conditional_beta`` (720 bars, market = the first symbol): ``beta_down``, ``beta_up``
  — feature.
- ``drawdown_corr`` (720 bars, 5 % threshold): ``drawdown_corr``, ``co_drawdown`` — feature.

Left out: ``sharpe``, ``sortino`` (and VaR) are per-symbol metrics of a bar frame's
``close``; this module is computed once for the whole panel of returns, which has no
per-symbol bar frame. Per-symbol Sharpe/Sortino are in the risk module (G).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from quant_assets.modules.declaration import MetricNode, ModuleDeclaration
from quant_assets.modules.engine import ModuleOutput
from quant_assets.modules.tables import UtcTimestamp, day_ends, panel_output

#: Allocation methods: table column -> (node, output). The order breaks ties.
METHODS: dict[str, tuple[str, str]] = {
    "risk_parity": ("risk_parity", "risk_parity"),
    "hrp": ("hrp", "hrp"),
    "black_litterman": ("black_litterman", "bl_weight"),
}
DEFAULT_METHOD = "risk_parity"
#: Trailing days of realized portfolio variance the choice of method looks at.
SELECTION_DAYS = 14
#: Tolerance of the check that each method's weights sum to 1.
SUM_TOLERANCE = 1e-9
_ALLOCATION = {"window": 720, "refit_every": "1D"}

DECLARATION = ModuleDeclaration(
    id="port_alloc",
    title="Portfolio Optimization & Allocation",
    version="1.0.0",
    description="Daily long-only weights of the configured symbols by Hierarchical Risk Parity, "
                "equal risk contribution and Black-Litterman, and the method with the lowest "
                "realized volatility over the last two weeks.",
    command=("allocate", "al"),
    score_table="allocation_weights",
    partitioning="day",
    nodes={
        "hrp": MetricNode(metric="hrp", params=_ALLOCATION, frame="simple_returns"),
        "risk_parity": MetricNode(metric="risk_parity", params=_ALLOCATION, frame="simple_returns"),
        "black_litterman": MetricNode(metric="black_litterman", params=_ALLOCATION, frame="simple_returns"),
        "realized_cov": MetricNode(metric="rolling_cov", params={"timeperiod": 24}, frame="simple_returns"),
        "correlation": MetricNode(metric="pearson_corr", params={"timeperiod": 720}, frame="simple_returns"),
        "conditional_beta": MetricNode(metric="conditional_beta", params={"timeperiod": 720},
                                       frame="simple_returns"),
        "drawdown_corr": MetricNode(metric="drawdown_corr", params={"timeperiod": 720, "threshold": 0.05},
                                    frame="simple_returns"),
    },
)


class AllocationTable(pa.DataFrameModel):
    """Allocation weights per UTC day and symbol, by method, with the chosen method."""

    ts: Series[UtcTimestamp] = pa.Field(description="UTC day; values as of its last bar (ts + 23h)")
    symbol: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$")
    hrp: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True,
                                  description="Hierarchical Risk Parity weight")
    black_litterman: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True,
                                              description="Black-Litterman long-only weight")
    risk_parity: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True,
                                          description="Equal-risk-contribution weight")
    chosen_method: Series[str] = pa.Field(isin=list(METHODS), nullable=True,
                                          description="Method with the lowest 14-day realized volatility")
    weight: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True, description="The chosen method's weight")
    module_version: Series[str] = pa.Field(str_matches=r"^\d+\.\d+\.\d+$")

    class Config:
        strict = True
        ordered = True
        coerce = False

    @pa.dataframe_check(error="each method's weights must sum to 1 per day")
    @classmethod
    def weights_sum_to_one(cls, frame: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=frame.index)
        for column in ("hrp", "black_litterman", "risk_parity", "weight"):
            values = frame[column]
            total = values.groupby(frame["ts"]).transform("sum")
            present = values.notna().groupby(frame["ts"]).transform("any")
            ok &= ~present | ((total - 1.0).abs() <= 1e-6)
        return ok


SCHEMA = AllocationTable


def _weights_at(output: ModuleOutput, method: str, positions: np.ndarray) -> pd.DataFrame:
    node, name = METHODS[method]
    return output.nodes[node][name].iloc[positions]


def _check_sums(declaration: ModuleDeclaration, method: str, weights: pd.DataFrame) -> None:
    present = weights.notna().all(axis=1)
    partial = weights.notna().any(axis=1) & ~present
    if partial.any():
        raise ValueError(f"{declaration.id}: {method} weights are missing for some symbols at "
                         f"{weights.index[partial.to_numpy()][0]}")
    totals = weights[present].sum(axis=1)
    bad = (totals - 1.0).abs() > SUM_TOLERANCE
    if bad.any():
        raise ValueError(f"{declaration.id}: {method} weights sum to {totals[bad].iloc[0]!r} at "
                         f"{totals.index[bad.to_numpy()][0]}, not 1 (tolerance {SUM_TOLERANCE})")


def realized_variances(output: ModuleOutput, positions: np.ndarray) -> pd.DataFrame:
    """Realized variance ``w_dᵀ C_d w_d`` of each method's portfolio on each day ending at
    ``positions``: NaN where a method has no weights or the day has no covariance."""
    cov = output.nodes["realized_cov"]["rolling_cov"]
    symbols = list(output.nodes[METHODS["hrp"][0]][METHODS["hrp"][1]].columns)
    k = len(symbols)
    place = {s: i for i, s in enumerate(symbols)}
    first = np.array([place[s] for s in cov.columns.get_level_values(0)])
    second = np.array([place[s] for s in cov.columns.get_level_values(1)])
    matrices = np.zeros((len(positions), k, k))
    values = cov.to_numpy(dtype=float)[positions]
    matrices[:, first, second] = values
    matrices[:, second, first] = values
    out = {}
    for method in METHODS:
        w = _weights_at(output, method, positions)[symbols].to_numpy(dtype=float)
        out[method] = np.einsum("di,dij,dj->d", w, matrices, w)
    return pd.DataFrame(out, index=output.nodes["realized_cov"].index[positions])


def _check_daily_holding(declaration: ModuleDeclaration, output: ModuleOutput) -> None:
    """The choice rule needs weights held through each day and a covariance over one day's bars."""
    index = output.nodes["realized_cov"].index
    if len(index) > 1:
        bars_per_day = pd.Timedelta(days=1) / (index[1] - index[0])
        window = declaration.nodes["realized_cov"].resolved_params()["timeperiod"]
        if window != bars_per_day:
            raise ValueError(f"{declaration.id}: realized_cov must cover one day ({bars_per_day:g} bars, "
                             f"got timeperiod={window})")
    for method, (node, _name) in METHODS.items():
        every = pd.Timedelta(declaration.nodes[node].resolved_params()["refit_every"])
        if every % pd.Timedelta(days=1):
            raise ValueError(f"{declaration.id}: {method} must rebalance a whole number of days apart "
                             f"(got refit_every={every}) so that its weights hold through each day")


def choose(variances: pd.DataFrame) -> pd.Series:
    """The method with the lowest mean realized variance over the trailing ``SELECTION_DAYS``
    rows (days) of ``variances``; the default where some method lacks a full window, None
    where no method has weights (ties: the first in :data:`METHODS`)."""
    means = variances.rolling(SELECTION_DAYS, min_periods=SELECTION_DAYS).mean()
    full = means.notna().all(axis=1).to_numpy()
    best = np.asarray(list(METHODS), dtype=object)[np.argmin(means.fillna(np.inf).to_numpy(), axis=1)]
    chosen = np.where(full, best, DEFAULT_METHOD).astype(object)
    return pd.Series(chosen, index=variances.index, dtype=object)


def rows(declaration: ModuleDeclaration, outputs: Mapping[str, ModuleOutput], start: pd.Timestamp,
         end: pd.Timestamp) -> pd.DataFrame:
    """``scores.allocation_weights`` rows: one per UTC day in ``[start, end)`` and symbol.

    ``outputs`` is ``{"panel": output}``. Raises ``ValueError`` when a method's weights on a
    day do not sum to 1 within 1e-9 or are missing for some symbols only. The choice of
    method reads the ``SELECTION_DAYS`` days before ``start`` as well, from the same output
    (the module's history covers them: it is at least twice the 30-day allocation window).
    """
    output = panel_output(declaration, outputs)
    _check_daily_holding(declaration, output)
    index = output.nodes["realized_cov"].index
    every_day, _ = day_ends(index, index[0] if len(index) else start, end)
    positions, days = day_ends(index, start, end)
    weights = {method: _weights_at(output, method, positions) for method in METHODS}
    for method, frame in weights.items():
        _check_sums(declaration, method, frame)
    chosen = choose(realized_variances(output, every_day)).reindex(index[positions]).to_numpy(dtype=object)
    for method, frame in weights.items():  # no choice on a day the method has no weights (warm-up)
        chosen[(chosen == method) & frame.isna().all(axis=1).to_numpy()] = None
    symbols = list(weights["hrp"].columns)
    n_days, k = len(positions), len(symbols)
    table = pd.DataFrame({
        "ts": np.repeat(days.to_numpy(dtype="datetime64[us]"), k),
        "symbol": np.tile(np.asarray(symbols, dtype=object), n_days),
        **{method: weights[method][symbols].to_numpy(dtype=float).ravel()
           for method in ("hrp", "black_litterman", "risk_parity")},
        "chosen_method": np.repeat(chosen, k),
    })
    picked = np.full(len(table), np.nan)
    for method in METHODS:
        mask = (table["chosen_method"] == method).to_numpy()
        picked[mask] = table.loc[mask, method].to_numpy(dtype=float)
    table["weight"] = picked
    table["module_version"] = declaration.version
    return table
