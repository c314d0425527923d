"""E. Correlation & lead-lag: who moves with whom, and who moves first.

The table ``scores.lead_lag`` has one row per UTC day and **ordered** pair of symbols
``(x, y)``, ``x ≠ y`` (20 symbols give 380 rows a day): ``ts`` is the day at 00:00 and
every value is the one at the day's last hourly bar (``ts + 23h``), i.e. as of the
day's close. There is no composite score and no signal: the module publishes a
correlation and lead-lag matrix.

Columns:

- ``correlation``: Pearson correlation of the hourly log returns over the last 720
  bars (30 days); symmetric, so ``(x, y)`` and ``(y, x)`` carry the same value.
- ``best_lag``: the lag ``k`` in bars, ``|k| ≤ 6``, that maximizes
  ``|corr(x_{s−k}, y_s)|`` over the same 720 bars; ``k > 0`` means ``x`` leads ``y`` by
  ``k`` hours, ``k < 0`` that ``y`` leads ``x``, 0 that they move together.
  Antisymmetric: the row ``(y, x)`` holds ``−k``. An integer (stored as DOUBLE so
  that it can be NULL in warm-up).
- ``lead_lag_delta``: ``|ρ_{best_lag}| − |ρ_0|`` ≥ 0, how much stronger the best lagged
  correlation is than the contemporaneous one (same window, so it is exactly 0 when
  ``best_lag`` is 0). Symmetric. A large delta with a small contemporaneous
  correlation is a pair that trades on a delay.
- ``granger_pvalue``: p-value of "x does not Granger-cause y" (4 lags, F test, the
  720 bars before the day's first bar, refit daily); directional, small when ``x``'s
  past improves the forecast of ``y``. Not corrected for the number of pairs tested.
- ``dtw_distance``: dynamic-time-warping distance of the two symbols' z-normalized
  cumulative-return paths over the 168 bars before the day's first bar (Sakoe–Chiba
  band of 12 bars, refit daily); symmetric, 0 for identical shapes.

Metrics (nodes, on the panel of hourly log returns of all symbols) and outputs:

- ``pearson_corr`` (720): ``pearson_corr`` — the ``correlation`` column.
- ``beta`` (720): ``beta`` — feature (OLS beta of ``y`` on ``x`` for every ordered pair).
- ``rolling_cov`` (720): ``rolling_cov`` — feature (covariance matrix, variances included).
- ``partial_corr`` (720): ``partial_corr`` — feature (correlation given all other symbols).
- ``lead_lag`` (720, max lag 6): ``lead_lag``, ``lead_lag_corr`` — ``best_lag`` and, with
  ``pearson_corr``, ``lead_lag_delta``. The window must equal ``pearson_corr``'s.
- ``granger`` (720, 4 lags, daily): ``granger_pvalue`` — the ``granger_pvalue`` column.
- ``dtw`` (168, band 12, daily): ``dtw_distance``, ``dtw_lag`` — the distance column.
- ``cca`` (720, lag 1, daily): ``cca_corr`` — feature (how much the panel's last hour
  explains its next one, whoever leads).
- ``var_model`` (720, up to 3 lags chosen by BIC, 24-bar horizon, daily): ``var_fevd``,
  ``var_irf``, ``var_lag_order`` — feature (share of each symbol's forecast variance due
  to each other symbol's shocks, Cholesky order = the configured symbol order).

Parameters: 30-day windows recover the simulator's planted one-to-three-hour delays on
99–100 % of days (14-day windows on about 90 %); six lags cover them with margin and
leave a 12-lag search's spurious far maxima out. BIC and at most three lags keep
a 20-symbol VAR (≤ 61 coefficients per equation) to a fraction of a second per refit.
The module is warm 30 days after its first bar.
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

_SYMBOL = r"^[A-Z0-9]+$"
_VERSION = r"^\d+\.\d+\.\d+$"

DECLARATION = ModuleDeclaration(
    id="corr_lead",
    title="Correlation & Lead-Lag",
    version="1.0.0",
    description="Rolling correlation, lead-lag, Granger causality and DTW distance of every pair of "
                "symbols from hourly log returns; one row per day and ordered pair.",
    command=("corr", "c"),
    score_table="lead_lag",
    partitioning="day",
    nodes={
        "pearson_corr": MetricNode(metric="pearson_corr", params={"timeperiod": 720}, frame="log_returns"),
        "beta": MetricNode(metric="beta", params={"timeperiod": 720}, frame="log_returns"),
        "rolling_cov": MetricNode(metric="rolling_cov", params={"timeperiod": 720}, frame="log_returns"),
        "partial_corr": MetricNode(metric="partial_corr", params={"timeperiod": 720}, frame="log_returns"),
        "lead_lag": MetricNode(metric="lead_lag", params={"timeperiod": 720, "max_lag": 6},
                               frame="log_returns"),
        "granger": MetricNode(metric="granger", params={"window": 720, "lags": 4, "refit_every": "1D"},
                              frame="log_returns"),
        "dtw": MetricNode(metric="dtw", params={"window": 168, "band": 12, "refit_every": "1D"},
                          frame="log_returns"),
        "cca": MetricNode(metric="cca", params={"window": 720, "lag": 1, "refit_every": "1D"},
                          frame="log_returns"),
        "var_model": MetricNode(metric="var_model",
                                params={"window": 720, "maxlags": 3, "ic": "bic", "horizon": 24,
                                        "refit_every": "1D"},
                                frame="log_returns"),
    },
)


class LeadLagTable(pa.DataFrameModel):
    """Correlation and lead-lag of each ordered pair of symbols, per UTC day."""

    ts: Series[UtcTimestamp] = pa.Field(description="UTC day; values as of its last bar (ts + 23h)")
    x: Series[str] = pa.Field(str_matches=_SYMBOL,
                              description="First symbol (the driver for directional columns)")
    y: Series[str] = pa.Field(str_matches=_SYMBOL, description="Second symbol (the response)")
    correlation: Series[float] = pa.Field(ge=-1.0, le=1.0, nullable=True,
                                          description="Pearson correlation of log returns, 720 bars")
    best_lag: Series[float] = pa.Field(nullable=True,
                                       description="Bars by which x leads y (negative: y leads x)")
    lead_lag_delta: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True,
                                             description="|corr at best_lag| - |corr at lag 0|")
    granger_pvalue: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True,
                                             description="p-value of 'x does not Granger-cause y'")
    dtw_distance: Series[float] = pa.Field(ge=0.0, nullable=True,
                                           description="DTW distance of the standardized 168-bar paths")
    module_version: Series[str] = pa.Field(str_matches=_VERSION)

    class Config:
        strict = True
        ordered = True
        coerce = False

    @pa.dataframe_check(error="x and y must differ")
    @classmethod
    def distinct_symbols(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["x"] != frame["y"]

    @pa.check("best_lag", error="best_lag must be a whole number of bars")
    @classmethod
    def whole_bars(cls, lag: pd.Series) -> pd.Series:
        return lag.isna() | (lag == np.round(lag))


SCHEMA = LeadLagTable




def _window(declaration: ModuleDeclaration, node: str) -> int:
    params = declaration.nodes[node].resolved_params()
    return int(params.get("timeperiod", params.get("window", 0)))


def _pair_values(frame: pd.DataFrame, rows: np.ndarray, first: np.ndarray, second: np.ndarray,
                 symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Values of the pairs ``(first, second)`` at ``rows`` from a frame of ``(x, y)`` columns that
    holds each pair in one orientation only; also whether the stored orientation was reversed."""
    forward = frame.columns.get_indexer(pd.MultiIndex.from_arrays([first, second]))
    backward = frame.columns.get_indexer(pd.MultiIndex.from_arrays([second, first]))
    missing = (forward < 0) & (backward < 0)
    if missing.any():
        raise ValueError(f"pair ({first[missing][0]}, {second[missing][0]}) is missing from the node output")
    reversed_ = forward < 0
    values = frame.to_numpy(dtype=float)[np.ix_(rows, np.where(reversed_, backward, forward))]
    return values, reversed_ if not symmetric else np.zeros_like(reversed_)


def lead_lag_delta(lagged: np.ndarray, correlation: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """``|ρ_best| − |ρ_0|``: 0 exactly where the best lag is 0, and never below 0 elsewhere.

    The best lag maximizes ``|ρ_k|`` over lags that include 0, so the delta is >= 0; the two
    correlations come from different computations (``lead_lag`` and ``pearson_corr``), whose
    last bits can differ by ~1e-15 at a near-tie, which is rounding, not a negative delta."""
    delta = np.abs(lagged) - np.abs(correlation)
    return np.where(lag == 0, 0.0, np.maximum(delta, 0.0))


def rows(declaration: ModuleDeclaration, outputs: Mapping[str, ModuleOutput], start: pd.Timestamp,
         end: pd.Timestamp) -> pd.DataFrame:
    """``scores.lead_lag`` rows: one per UTC day in ``[start, end)`` and ordered pair ``(x, y)``.

    ``outputs`` is ``{"panel": output}``; values are taken at each day's last bar.
    Raises ``ValueError`` when ``lead_lag`` and ``pearson_corr`` use different windows
    (the delta would compare correlations over different spans).
    """
    if _window(declaration, "lead_lag") != _window(declaration, "pearson_corr"):
        raise ValueError(f"{declaration.id}: lead_lag timeperiod ({_window(declaration, 'lead_lag')}) must "
                         f"equal pearson_corr's ({_window(declaration, 'pearson_corr')}) for lead_lag_delta")
    output = panel_output(declaration, outputs)
    granger = output.nodes["granger"]["granger_pvalue"]
    positions, days = day_ends(granger.index, start, end)
    x = granger.columns.get_level_values(0).to_numpy(dtype=object)
    y = granger.columns.get_level_values(1).to_numpy(dtype=object)
    correlation, _ = _pair_values(output.nodes["pearson_corr"]["pearson_corr"], positions, x, y, True)
    lag, flipped = _pair_values(output.nodes["lead_lag"]["lead_lag"], positions, x, y, False)
    lagged, _ = _pair_values(output.nodes["lead_lag"]["lead_lag_corr"], positions, x, y, True)
    distance, _ = _pair_values(output.nodes["dtw"]["dtw_distance"], positions, x, y, True)
    n_days, n_pairs = len(positions), len(x)
    return pd.DataFrame({
        "ts": np.repeat(days.to_numpy(dtype="datetime64[us]"), n_pairs),
        "x": np.tile(x, n_days).astype(str) if n_days else np.array([], dtype=object),
        "y": np.tile(y, n_days).astype(str) if n_days else np.array([], dtype=object),
        "correlation": correlation.ravel(),
        "best_lag": np.where(flipped, -lag, lag).ravel() + 0.0,  # + 0.0 turns -0.0 into 0.0
        "lead_lag_delta": lead_lag_delta(lagged, correlation, lag).ravel(),
        "granger_pvalue": granger.to_numpy(dtype=float)[positions].ravel(),
        "dtw_distance": distance.ravel(),
        "module_version": declaration.version,
    })
