"""A. Trend & momentum: direction and strength of the symbol's trend, 0–1.

The score (``scores.trend_score``, 0–1) is a weighted mean of directional readings, each
oriented so that higher means more bullish and normalized on trailing data: ``bullish``
at ≥ 0.65, ``bearish`` at ≤ 0.35, ``neutral`` between. Windows suit hourly bars whose
trends last about two days: indicators use their classic periods (RSI 14, MACD
12/26/9, Bollinger 20), momentum and the z-score look back one and two days, and
magnitudes are judged against the last two weeks.

Metrics (nodes, hourly bar frame) and outputs:

- ``ema`` (21): ``ema`` — feature (price level; MACD's dependency).
- ``sma`` (50): ``sma`` — feature (price level; the Bollinger bands' dependency).
- ``rsi`` (Wilder, 14): ``rsi`` — scored.
- ``macd`` (12/26/9): ``macd``, ``macd_signal``, ``macd_hist`` — the histogram scored.
- ``bbands`` (20, 2σ population): ``bb_upper``, ``bb_middle``, ``bb_lower``, ``bb_width``,
  ``bb_percent_b`` — %b scored.
- ``atr`` (Wilder, 14): ``atr`` — feature (the scale of ``hilbert_slope`` and ADX).
- ``adx`` (Wilder, 14): ``adx``, ``plus_di``, ``minus_di`` — +DI scored up and −DI scored
  down (their difference is the direction; ADX alone has no sign and is a feature).
- ``stoch_rsi`` (14/14, K 3, D 3): ``stoch_rsi``, ``stoch_rsi_k``, ``stoch_rsi_d`` — K scored.
- ``momentum`` (24): ``momentum``, ``roc`` — the rate of change scored.
- ``kalman_trend`` (local linear trend, q = 1e-2 level / 1e-4 slope): ``kalman_level``,
  ``kalman_slope`` — the filtered slope scored.
- ``zscore`` (48): ``zscore`` — scored.
- ``wavelet_trend`` (db4 VisuShrink, 128-bar trailing window): ``wavelet_trend`` — scored
  as the rank of the denoised close in its last week.
- ``hilbert_slope`` (64-bar window, 5-bar slope, ATR 14): ``hilbert_slope``,
  ``hilbert_period``, ``hilbert_trendline`` — the slope scored.
- ``fdi`` (Sevcik, 30): ``fdi`` — feature (trendiness without a direction).
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import UnitScore, symbol_rows

#: Normalization window in hourly bars (two weeks).
WINDOW = 336

DECLARATION = ModuleDeclaration(
    id="trend_moment",
    title="Trend & Momentum",
    version="1.0.0",
    description="Direction and strength of the trend from classical indicators (RSI, MACD, Bollinger "
                "%b, DMI, Stochastic RSI, momentum) and state-space, wavelet and Hilbert trend "
                "estimates; 1 = strongly bullish.",
    command=("trend", "t"),
    score_table="trend_score",
    nodes={
        "ema": MetricNode(metric="ema", params={"timeperiod": 21}),
        "sma": MetricNode(metric="sma", params={"timeperiod": 50}),
        "rsi": MetricNode(metric="rsi", params={"timeperiod": 14}),
        "macd": MetricNode(metric="macd", params={"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}),
        "bbands": MetricNode(metric="bbands", params={"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0}),
        "atr": MetricNode(metric="atr", params={"timeperiod": 14}),
        "adx": MetricNode(metric="adx", params={"timeperiod": 14}),
        "stoch_rsi": MetricNode(metric="stoch_rsi",
                                params={"timeperiod": 14, "fastk_period": 14, "k_period": 3, "d_period": 3}),
        "momentum": MetricNode(metric="momentum", params={"timeperiod": 24}),
        "kalman_trend": MetricNode(metric="kalman_trend", params={"q_level": 1e-2, "q_slope": 1e-4}),
        "zscore": MetricNode(metric="zscore", params={"timeperiod": 48}),
        "wavelet_trend": MetricNode(metric="wavelet_trend", params={"timeperiod": 128, "wavelet": "db4"}),
        "hilbert_slope": MetricNode(metric="hilbert_slope",
                                    params={"timeperiod": 64, "slope_lag": 5, "atr_period": 14}),
        "fdi": MetricNode(metric="fdi", params={"timeperiod": 30}),
    },
    components=(
        Component(name="kalman_slope", node="kalman_trend", output="kalman_slope", normalization="logistic_z",
                  window=WINDOW, weight=0.20,
                  why="The filtered slope is the trend itself; it is in price units per bar, so its "
                      "z-score against two weeks keeps the sign and the size of the move."),
        Component(name="macd_hist", node="macd", output="macd_hist", normalization="logistic_z",
                  window=WINDOW, weight=0.15,
                  why="A positive histogram is momentum accelerating upwards; price-scaled, so z-scored "
                      "against two weeks to keep its magnitude."),
        Component(name="roc", node="momentum", output="roc", normalization="logistic_z", window=WINDOW,
                  weight=0.10,
                  why="The one-day rate of change is the plainest momentum; z-scored so a large move "
                      "scores further from 0.5 than a small one."),
        Component(name="rsi", node="rsi", output="rsi", normalization="minmax", bounds=(0.0, 100.0),
                  weight=0.10,
                  why="RSI is bounded in 0..100 with 50 neutral, so it maps linearly to 0..1."),
        Component(name="zscore", node="zscore", output="zscore", normalization="minmax", bounds=(-3.0, 3.0),
                  weight=0.10,
                  why="The close against its two-day mean is already in standard deviations; ±3 "
                      "covers nearly all of it, mapped linearly with 0 at 0.5."),
        Component(name="hilbert_slope", node="hilbert_slope", output="hilbert_slope",
                  normalization="logistic_z", window=WINDOW, weight=0.10,
                  why="The instantaneous trendline's slope in ATRs per bar has its sign as direction; "
                      "unbounded, so z-scored against two weeks."),
        Component(name="percent_b", node="bbands", output="bb_percent_b", normalization="minmax",
                  bounds=(0.0, 1.0), weight=0.05,
                  why="%b is the close's place between the bands (0 lower, 1 upper); riding a band is "
                      "the trend, so it maps linearly and clips outside the bands."),
        Component(name="stoch_rsi_k", node="stoch_rsi", output="stoch_rsi_k", normalization="minmax",
                  bounds=(0.0, 100.0), weight=0.05,
                  why="Stochastic RSI K is bounded in 0..100, so it maps linearly."),
        Component(name="wavelet_rank", node="wavelet_trend", output="wavelet_trend",
                  normalization="percentile", window=168, weight=0.05,
                  why="The denoised close is a price level: its rank among the last week's values is "
                      "where the smoothed price stands in its recent range (high = up-trend)."),
        Component(name="plus_di", node="adx", output="plus_di", normalization="minmax", bounds=(0.0, 100.0),
                  weight=0.05,
                  why="+DI is the share of true range made by new highs, bounded in 0..100: up-moves "
                      "raise the score."),
        Component(name="minus_di", node="adx", output="minus_di", normalization="minmax",
                  bounds=(0.0, 100.0), orientation=-1, weight=0.05,
                  why="−DI is the share made by new lows, bounded in 0..100: down-moves lower the score."),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35, labels=("bullish", "neutral", "bearish")),
)

SCHEMA = UnitScore
rows = symbol_rows
