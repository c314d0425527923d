"""H. Market micro alpha: the short-horizon direction read from every 10-second quote.

The score (``scores.micro_alpha_score``, 0–1) is computed on the book frame (each
book-ticker quote with the trades since the previous one) and brought to hourly bars;
higher means the quotes and trades of the bar lean up: ``bullish`` at ≥ 0.65,
``bearish`` at ≤ 0.35. Components use 72-bar windows, so a few days of recorded quotes
warm the module up; the Stoikov micro-price is refit every hour on the last 12 hours of
quotes, which fits inside the one day of tick history loaded before a range.

Metrics (nodes; per-bar aggregate) and outputs:

- ``tick_volume`` (one hour of quotes, relative to the last half day; last):
  ``tick_volume``, ``relative_tick_volume`` — feature (activity, not direction).
- ``spread`` (mean): ``spread``, ``spread_bps`` — feature.
- ``bid_ask_imbalance`` (mean): ``bid_ask_imbalance`` — scored (L1 queue imbalance).
- ``trade_direction_ratio`` (one hour of quotes; last): ``trade_direction_ratio`` —
  scored (net share of buyer-initiated trades by count).
- ``weighted_mid`` (last): ``weighted_mid`` — feature (a price level).
- ``microprice`` (last): ``microprice`` — feature (a price level).
- ``microprice_deviation`` (mean): ``microprice_deviation``, ``microprice_deviation_bps``
  — the bps deviation scored (expected mid move implied by imbalance).
- ``quote_stability`` and ``order_duration`` (one hour of quotes; mean):
  ``quote_stability``, ``price_stability``, ``bid_level_duration``,
  ``ask_level_duration`` — features (how fleeting the top of book is).
- ``cvd`` (anchored at each bar; last): ``cvd`` — scored.
- ``ofi`` (sum): ``ofi``, ``ofi_normalized`` — ``ofi_normalized`` scored.
- ``kyle_lambda`` (one hour of quotes; last): ``kyle_lambda`` — feature (price impact per
  unit of signed volume: thinness, not direction).
- ``hf_zscore`` (RiskMetrics λ = 0.94; mean): ``hf_zscore`` — scored (quote-level
  momentum in units of its own recent volatility).

The micro-price state uses imbalance deciles and a single spread state: one
``tick_size`` serves every symbol, so the spread in ticks cannot be trusted across
symbols, and the deviation is scored in bps, which does not depend on ``tick_size``.

Left out: ``latency_adjusted_flow`` needs a ``latency_ms`` column (local receive time
minus exchange time per event) that no input frame provides.
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import UnitScore, symbol_rows

#: Quotes in one hourly bar of the 10-second book frame.
QUOTES_PER_BAR = 360
#: Normalization window of every component, in hourly bars: three days of tick history.
TICK_WINDOW = 72
_MICROPRICE = {"tick_size": 0.01, "n_imbalance": 10, "n_spread": 1, "window": 12 * QUOTES_PER_BAR,
               "refit_every": "1h", "iterations": 6}


def _book(metric: str, aggregate: str, **params: int | float | str) -> MetricNode:
    return MetricNode(metric=metric, params=params, frame="book", aggregate=aggregate)


DECLARATION = ModuleDeclaration(
    id="microalpha",
    title="Market Micro Alpha (tick level)",
    version="1.0.0",
    description="Direction of the bar read from every book-ticker quote and the trades between "
                "quotes: queue imbalance, micro-price, trade signs, CVD, OFI and quote-level "
                "momentum; 1 = bullish.",
    command=("micro", "mi"),
    score_table="micro_alpha_score",
    nodes={
        "tick_volume": _book("tick_volume", "last", timeperiod=QUOTES_PER_BAR, baseline=12 * QUOTES_PER_BAR),
        "spread": _book("spread", "mean"),
        "bid_ask_imbalance": _book("bid_ask_imbalance", "mean"),
        "trade_direction_ratio": _book("trade_direction_ratio", "last", timeperiod=QUOTES_PER_BAR),
        "weighted_mid": _book("weighted_mid", "last"),
        "microprice": _book("microprice", "last", **_MICROPRICE),
        "microprice_deviation": _book("microprice_deviation", "mean", **_MICROPRICE),
        "quote_stability": _book("quote_stability", "mean", timeperiod=QUOTES_PER_BAR),
        "order_duration": _book("order_duration", "mean", timeperiod=QUOTES_PER_BAR),
        "cvd": _book("cvd", "last", anchor="1h"),
        "ofi": _book("ofi", "sum", timeperiod=1),
        "kyle_lambda": _book("kyle_lambda", "last", timeperiod=QUOTES_PER_BAR),
        "hf_zscore": _book("hf_zscore", "mean", decay=0.94, seed_period=30),
    },
    components=(
        Component(name="trade_direction", node="trade_direction_ratio", output="trade_direction_ratio",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.25,
                  why="More buyer- than seller-initiated trades is the flow that moves the next "
                      "quotes; hourly ratios crowd near 0, so a z-score against three days spreads them."),
        Component(name="queue_imbalance", node="bid_ask_imbalance", output="bid_ask_imbalance",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.20,
                  why="A larger bid than ask queue predicts the next mid move up (Gould–Bonart); the "
                      "bar mean sits well inside [−1, 1], so it is z-scored rather than min-maxed."),
        Component(name="microprice_deviation", node="microprice_deviation",
                  output="microprice_deviation_bps",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.20,
                  why="The micro-price above the mid is the expected mid move given the book; bps are "
                      "comparable over time, and the z-score keeps their magnitude."),
        Component(name="cvd", node="cvd", output="cvd",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.15,
                  why="Net taker volume of the bar keeps the size of the push; base units scale with "
                      "activity, so z-scored per symbol."),
        Component(name="order_flow_imbalance", node="ofi", output="ofi_normalized",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.10,
                  why="Bid queues growing and ask queues shrinking (CKS OFI) push the price up; summed "
                      "per bar in units of L1 depth and unbounded, so z-scored."),
        Component(name="quote_momentum", node="hf_zscore", output="hf_zscore",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.10,
                  why="Quote-to-quote returns in units of their own EWMA volatility, averaged over the "
                      "bar, measure short-term momentum; already volatility-scaled, re-centred per symbol."),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35, labels=("bullish", "neutral", "bearish")),
)

SCHEMA = UnitScore
rows = symbol_rows
