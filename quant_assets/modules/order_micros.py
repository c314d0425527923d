"""D. Order flow & microstructure: who is pushing the book this hour, as a 0–1 pressure score.

The score (``scores.liquidity_pressure_score``, 0–1) is higher when takers are buying
and the resting book leans to the bid: ``buy_pressure`` at ≥ 0.65, ``sell_pressure``
at ≤ 0.35, ``balanced`` between. Depth-snapshot and book-ticker values are averaged
(or summed) over the bar, which carries far more information than the last snapshot;
trade values are per bar. Tick-level components use 72-bar windows so that a few days
of recorded depth are enough to warm up.

Metrics (nodes; frame, per-bar aggregate) and outputs:

- ``orderbook_imbalance`` (depth, mean; top 5 levels): ``orderbook_imbalance`` — scored.
- ``spread`` (book ticker, mean): ``spread``, ``spread_bps`` — feature (cost, not direction).
- ``taker_dominance`` (aggTrades per bar): ``taker_dominance`` — scored.
- ``cvd`` (aggTrades per bar, anchored at each bar): ``cvd`` — scored; the bar's
  cumulative volume delta at its close.
- ``trade_aggression_ratio`` (book ticker with the trades between quotes, last value of
  a one-hour window): ``trade_aggression_ratio``, ``buy_aggression_ratio``,
  ``sell_aggression_ratio`` — buy and sell sweep shares scored with opposite signs.
- ``ofi`` (book ticker, sum per bar): ``ofi``, ``ofi_normalized`` — ``ofi_normalized``
  scored (Cont–Kukanov–Stoikov order-flow imbalance in units of L1 depth).
- ``slippage`` (depth, mean; a 100 000 USDT market order): ``slippage_buy_bps``,
  ``slippage_sell_bps`` — feature: one notional for every symbol is still inside the
  first level of a deep book, where it measures only the half-spread.
- ``depth_elasticity`` (depth, mean): ``depth_elasticity_bid``, ``depth_elasticity_ask``
  — scored with opposite signs (liquidity pulled back from the ask is easier to lift).
- ``liquidity_density`` (depth, mean; 2 bps bins): ``bid_density_1..10``,
  ``ask_density_1..10``, ``bid_wall_bps``, ``ask_wall_bps``, ``bid_wall_z``,
  ``ask_wall_z`` — feature (the heatmap behind the wall detection).
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import UnitScore, symbol_rows

#: Normalization window of every component, in hourly bars: three days of tick history.
TICK_WINDOW = 72

DECLARATION = ModuleDeclaration(
    id="order_micros",
    title="Order Flow & Microstructure",
    version="1.0.0",
    description="Buy or sell pressure of the bar from taker flow, book imbalance, sweeps, order-flow "
                "imbalance and the shape of the depth; 1 = buy pressure.",
    command=("flow", "f"),
    score_table="liquidity_pressure_score",
    nodes={
        "orderbook_imbalance": MetricNode(metric="orderbook_imbalance", params={"levels": 5},
                                          frame="depth", aggregate="mean"),
        "spread": MetricNode(metric="spread", frame="book", aggregate="mean"),
        "taker_dominance": MetricNode(metric="taker_dominance", params={"timeperiod": 1}),
        "cvd": MetricNode(metric="cvd", params={"anchor": "1h"}),
        "trade_aggression_ratio": MetricNode(metric="trade_aggression_ratio", params={"timeperiod": 360},
                                             frame="book", aggregate="last"),
        "ofi": MetricNode(metric="ofi", params={"timeperiod": 1}, frame="book", aggregate="sum"),
        "slippage": MetricNode(metric="slippage", params={"quantity": 100_000.0, "unit": "quote"},
                               frame="depth", aggregate="mean"),
        "depth_elasticity": MetricNode(metric="depth_elasticity", params={"levels": 20},
                                       frame="depth", aggregate="mean"),
        "liquidity_density": MetricNode(metric="liquidity_density", params={"bin_bps": 2.0},
                                        frame="depth", aggregate="mean"),
    },
    components=(
        Component(name="taker_dominance", node="taker_dominance", output="taker_dominance",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.25,
                  why="The share of volume bought by takers is the most direct pressure reading; its "
                      "hourly values crowd around 0.5, so a z-score against three days spreads them."),
        Component(name="book_imbalance", node="orderbook_imbalance", output="orderbook_imbalance",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.25,
                  why="Bids outweighing asks over the bar's snapshots lean the next moves up; the bar "
                      "mean sits well inside [−1, 1], so it is z-scored rather than min-maxed."),
        Component(name="cvd", node="cvd", output="cvd",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.15,
                  why="Net taker volume of the bar keeps the size of the push that the share hides; "
                      "in base units that scale with activity, so z-scored per symbol."),
        Component(name="buy_sweeps", node="trade_aggression_ratio", output="buy_aggression_ratio",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.075,
                  why="Buyers taking more than the displayed ask accept impact to get filled now; a "
                      "share in [0, 1] whose level depends on the book, so z-scored."),
        Component(name="sell_sweeps", node="trade_aggression_ratio", output="sell_aggression_ratio",
                  normalization="logistic_z", window=TICK_WINDOW, orientation=-1, weight=0.075,
                  why="Sellers sweeping the bid are sell pressure, so a higher share lowers the score; "
                      "z-scored like the buy side."),
        Component(name="order_flow_imbalance", node="ofi", output="ofi_normalized",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.10,
                  why="Queue growth on the bid and depletion on the ask (CKS OFI) moves the price; "
                      "summed per bar in units of L1 depth, unbounded, so z-scored."),
        Component(name="ask_elasticity", node="depth_elasticity", output="depth_elasticity_ask",
                  normalization="logistic_z", window=TICK_WINDOW, weight=0.05,
                  why="Ask liquidity sitting away from the touch is easy to lift, so a more elastic "
                      "ask side means less resistance upward; z-scored per symbol."),
        Component(name="bid_elasticity", node="depth_elasticity", output="depth_elasticity_bid",
                  normalization="logistic_z", window=TICK_WINDOW, orientation=-1, weight=0.05,
                  why="Bid liquidity pulled away from the touch is a weak floor, so a more elastic "
                      "bid side lowers the score; z-scored per symbol."),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35, labels=("buy_pressure", "balanced", "sell_pressure")),
)

SCHEMA = UnitScore
rows = symbol_rows
