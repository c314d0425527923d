"""C. Derivatives & sentiment: how crowded the perpetual-futures crowd is, from −1 to 1.

The score (``scores.sentiment_score``, −1…1) measures crowd positioning: positive
when the crowd is long and paying for it (funding and premium above their recent
levels, more accounts long than short, leveraged long notional piling up), negative
when it is short. It is ``2 · weighted − 1`` of the normalized components below;
``bullish`` at ≥ 0.3, ``bearish`` at ≤ −0.3. A sentiment reading, not a forecast: a
crowded long is often a contrarian warning.

Metrics (nodes, hourly bar frame) and outputs:

- ``funding_rate`` (24-bar mean of the settled funding rate): ``funding_rate_mean``,
  ``funding_rate_annualized`` — scored.
- ``premium_funding``: the same metric on the premium index (mark/index − 1) over the
  8-hour funding interval, i.e. the premium average P̄ from which Binance derives the
  next funding rate before the interest-rate clamp (which pins the settled rate at
  0.01 % most of the time): ``funding_rate_mean`` — scored.
- ``oi_change_rate`` (24 bars): ``oi_change_rate`` — feature; open interest rises with
  crowding on either side, so it has no sign of its own.
- ``oi_delta_divergence`` (24 bars, z over 168): ``oi_quadrant``, ``oi_divergence``,
  ``oi_price_corr`` — ``oi_divergence`` scored (long build-up up, short build-up down).
- ``long_short_ratio`` (global accounts, z over 168): ``long_short_ratio``,
  ``long_short_zscore`` — the ratio scored.
- ``funding_skew`` (asymmetry variant, 336 bars): ``funding_skew`` — feature; NaN while
  funding sits at the clamp for a whole window, so it cannot be scored.
- ``taker_dominance`` and ``volume_imbalance`` (24 bars of ``/futures/data`` taker
  volume): ``taker_dominance``, ``volume_imbalance`` — the imbalance scored.
- ``liquidation_heatmap`` (OI-flow reconstruction, one week of positions, 1 % bins):
  ``liq_long_1..20``, ``liq_short_1..20``, ``liq_long_total``, ``liq_short_total`` —
  the long and short totals scored.
- ``realized_skew`` (168 bars): ``realized_skew``, ``semivariance_asymmetry`` — the
  semivariance asymmetry scored (the futures-only stand-in for option skew).
- ``gamma_exposure_proxy`` (168 bars): ``gamma_exposure_proxy`` — feature (dampened
  vs. trending tape; no sign of crowd direction).

Left out: ``volatility_skew`` and ``gamma_exposure`` need an option chain (strikes,
implied volatilities, open interest per strike) that no input frame provides; the
``realized_skew`` and ``gamma_exposure_proxy`` nodes are their futures-only proxies.
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import SignedScore, symbol_rows

_TAKER = {"buy_volume": "taker_buy_volume", "sell_volume": "taker_sell_volume"}

DECLARATION = ModuleDeclaration(
    id="deriv_sentim",
    title="Derivatives & Sentiment",
    version="1.0.0",
    description="Crowd positioning in perpetual futures from funding, premium, account ratios, "
                "open interest, taker flow and reconstructed liquidation levels; −1 crowded short, "
                "+1 crowded long.",
    command=("sentiment", "s"),
    score_table="sentiment_score",
    nodes={
        "funding_rate": MetricNode(metric="funding_rate", params={"timeperiod": 24, "interval_hours": 8.0}),
        "premium_funding": MetricNode(metric="funding_rate", params={"timeperiod": 8, "interval_hours": 8.0},
                                      columns={"funding_rate": "premium"}),
        "oi_change_rate": MetricNode(metric="oi_change_rate", params={"timeperiod": 24}),
        "oi_delta_divergence": MetricNode(metric="oi_delta_divergence",
                                          params={"timeperiod": 24, "zscore_period": 168}),
        "long_short_ratio": MetricNode(metric="long_short_ratio", params={"timeperiod": 168}),
        "funding_skew": MetricNode(metric="funding_skew", params={"timeperiod": 336}),
        "taker_dominance": MetricNode(metric="taker_dominance", params={"timeperiod": 24}, columns=_TAKER),
        "volume_imbalance": MetricNode(metric="volume_imbalance", params={"timeperiod": 24}, columns=_TAKER),
        "liquidation_heatmap": MetricNode(metric="liquidation_heatmap",
                                          params={"lookback": 168, "bin_pct": 1.0}, columns=_TAKER),
        "realized_skew": MetricNode(metric="realized_skew", params={"timeperiod": 168}),
        "gamma_exposure_proxy": MetricNode(metric="gamma_exposure_proxy", params={"timeperiod": 168}),
    },
    components=(
        Component(name="long_short", node="long_short_ratio", output="long_short_ratio",
                  normalization="percentile", window=336, weight=0.30,
                  why="More accounts long than usual is the most direct crowding reading; the ratio "
                      "is skewed and symbol-specific, so it is ranked against its last two weeks."),
        Component(name="premium", node="premium_funding", output="funding_rate_mean",
                  normalization="logistic_z", window=336, weight=0.20,
                  why="Longs bid the perpetual above the index when crowded; the 8-hour premium mean "
                      "keeps its magnitude through a z-score against two weeks."),
        Component(name="funding", node="funding_rate", output="funding_rate_annualized",
                  normalization="logistic_z", window=336, weight=0.15,
                  why="Positive funding means longs pay shorts; it sits at the clamp most of the time, "
                      "and a flat window maps to 0.5 under the z-score while excursions keep their size."),
        Component(name="long_liquidation_levels", node="liquidation_heatmap", output="liq_long_total",
                  normalization="percentile", window=336, weight=0.10,
                  why="Leveraged long notional still open (reconstructed from OI build-up on taker "
                      "buying) grows as the crowd goes long; heavy-tailed, so ranked."),
        Component(name="short_liquidation_levels", node="liquidation_heatmap", output="liq_short_total",
                  normalization="percentile", window=336, orientation=-1, weight=0.10,
                  why="Leveraged short notional still open is crowding on the short side, so more of "
                      "it lowers the score; heavy-tailed, so ranked."),
        Component(name="oi_divergence", node="oi_delta_divergence", output="oi_divergence",
                  normalization="logistic_z", window=168, orientation=-1, weight=0.05,
                  why="OI rising with price (long build-up) is −divergence and bullish crowding, OI "
                      "rising into a fall is short build-up; already a z-score, re-centred over a week."),
        Component(name="taker_imbalance", node="volume_imbalance", output="volume_imbalance",
                  normalization="minmax", bounds=(-1.0, 1.0), weight=0.05,
                  why="A day of net taker buying is aggressive long demand; the imbalance is "
                      "naturally bounded in [−1, 1], so it is mapped linearly without a window."),
        Component(name="upside_variance", node="realized_skew", output="semivariance_asymmetry",
                  normalization="minmax", bounds=(-1.0, 1.0), weight=0.05,
                  why="A week whose variance came from up-moves is the euphoric side of realized "
                      "skew; the asymmetry is bounded in [−1, 1], so it is mapped linearly."),
    ),
    score_range=(-1.0, 1.0),
    formula="2 * weighted - 1",
    thresholds=Thresholds(upper=0.3, lower=-0.3, labels=("bullish", "neutral", "bearish")),
)

SCHEMA = SignedScore
rows = symbol_rows
