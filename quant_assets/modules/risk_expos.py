"""G. Risk & exposure: how dangerous it is to hold the symbol over the next bar, 0–1.

The score (``scores.risk_score``, 0–1) is higher when volatility, tail losses and
drawdown are high relative to the last week, when volatility is high in absolute terms,
when the stop multiplier has widened, when the estimated liquidation clusters sit close
to the price and when recent risk-adjusted returns are poor: ``high`` at ≥ 0.65, ``low``
at ≤ 0.35, ``normal`` between. Every value at bar ``t`` is the risk that applies to bar
``t + 1`` (stops, scales and tail estimates printed at ``t``).

Metrics (nodes, hourly bar frame) and outputs:

- ``atr`` (Wilder, 14): ``atr`` — scored.
- ``atr_stop`` (Chandelier, 14 bars, 3 ATR): ``atr_stop_long``, ``atr_stop_short`` —
  feature (price levels).
- ``adaptive_atr_stop`` (14 bars, 3 ATR scaled by ATR over its one-week median, clipped
  to 0.5–2): ``adaptive_stop_long``, ``adaptive_stop_short``, ``adaptive_stop_multiplier``
  — the multiplier scored.
- ``liquidation_zones`` (positions opened over one week, 50/50 long/short):
  ``liq_long_price``, ``liq_short_price``, ``liq_long_notional``, ``liq_short_notional``,
  ``liq_long_distance``, ``liq_short_distance`` — both distances scored (closer = riskier).
- ``max_drawdown`` (one week): ``drawdown``, ``max_drawdown`` — the current drawdown scored.
- ``vol_target`` (EWMA half-life 12 bars, 50 % target, cap 2×): ``vol_target``,
  ``vol_forecast`` — both scored (relative and absolute volatility).
- ``value_at_risk`` (95 %, one week): ``var_historical``, ``var_parametric``,
  ``var_cornish_fisher`` — the historical VaR scored.
- ``expected_shortfall`` (95 %, one week): ``es_historical``, ``es_parametric`` — the
  historical ES scored.
- ``sharpe`` and ``sortino`` (one week, annualized with 8760): ``sharpe``, ``sortino`` —
  scored (poor recent risk-adjusted return = riskier).

Left out: ``leverage_ratio`` needs the account's position notionals and equity (signed
account endpoints), and ``estimated_leverage_ratio`` needs exchange balances per symbol
on the bar grid; no input frame provides either.
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import UnitScore, symbol_rows

#: Normalization and look-back window in hourly bars (one week).
WINDOW = 168
_STOP = {"timeperiod": 14, "multiplier": 3.0}
_ADAPTIVE = {**_STOP, "median_window": WINDOW, "min_scale": 0.5, "max_scale": 2.0}
_VOL_TARGET = {"target_vol": 0.5, "halflife": 12, "max_leverage": 2.0, "periods_per_year": 8760.0}
_TAIL = {"timeperiod": WINDOW, "alpha": 0.05}
_RATIO = {"timeperiod": WINDOW, "periods_per_year": 8760.0}

DECLARATION = ModuleDeclaration(
    id="risk_expos",
    title="Risk & Exposure",
    version="1.0.0",
    description="Risk of holding the symbol over the next bar from volatility, tail-loss estimates, "
                "drawdown, ATR stops, estimated liquidation clusters and recent Sharpe/Sortino; "
                "1 = riskiest.",
    command=("risk", "r"),
    score_table="risk_score",
    nodes={
        "atr": MetricNode(metric="atr", params={"timeperiod": 14}),
        "atr_stop": MetricNode(metric="atr_stop", params=_STOP),
        "adaptive_atr_stop": MetricNode(metric="adaptive_atr_stop", params=_ADAPTIVE),
        "liquidation_zones": MetricNode(metric="liquidation_zones",
                                        params={"window": WINDOW, "long_share": 0.5}),
        "max_drawdown": MetricNode(metric="max_drawdown", params={"timeperiod": WINDOW}),
        "vol_target": MetricNode(metric="vol_target", params=_VOL_TARGET),
        "value_at_risk": MetricNode(metric="value_at_risk", params=_TAIL),
        "expected_shortfall": MetricNode(metric="expected_shortfall", params=_TAIL),
        "sharpe": MetricNode(metric="sharpe", params=_RATIO),
        "sortino": MetricNode(metric="sortino", params=_RATIO),
    },
    components=(
        Component(name="volatility", node="vol_target", output="vol_forecast",
                  normalization="logistic_z", window=WINDOW, weight=0.20,
                  why="The EWMA volatility forecast is the core of bar-ahead risk; a z-score against "
                      "the last week flags volatility bursts and keeps their size."),
        Component(name="vol_target_scale", node="vol_target", output="vol_target",
                  normalization="minmax", bounds=(0.0, 2.0), orientation=-1, weight=0.10,
                  why="The exposure allowed at a 50 % volatility target is bounded by its 2x cap and "
                      "comparable across symbols, so a smaller allowed scale (absolute risk) scores higher."),
        Component(name="atr", node="atr", output="atr",
                  normalization="percentile", window=WINDOW, weight=0.10,
                  why="True range captures gaps and wicks that close-to-close volatility misses; in "
                      "price units, so only its rank within the symbol's last week is meaningful."),
        Component(name="stop_multiplier", node="adaptive_atr_stop", output="adaptive_stop_multiplier",
                  normalization="minmax", bounds=(1.5, 6.0), weight=0.10,
                  why="The adaptive multiplier widens as ATR rises over its median; it is clipped to "
                      "[0.5, 2] × 3 ATR by construction, so it is mapped linearly on that range."),
        Component(name="value_at_risk", node="value_at_risk", output="var_historical",
                  normalization="percentile", window=WINDOW, weight=0.10,
                  why="The week's historical 95 % loss quantile; a step function of a few tail bars, "
                      "so it is ranked rather than z-scored."),
        Component(name="expected_shortfall", node="expected_shortfall", output="es_historical",
                  normalization="logistic_z", window=WINDOW, weight=0.10,
                  why="The mean loss beyond the VaR weighs the size of the tail, which the z-score "
                      "keeps."),
        Component(name="drawdown", node="max_drawdown", output="drawdown",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.10,
                  why="A deeper drawdown from the week's peak is risk already realized and often "
                      "forced selling ahead; drawdowns are skewed towards 0, so ranked."),
        Component(name="long_liquidation_distance", node="liquidation_zones", output="liq_long_distance",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.05,
                  why="Long liquidation clusters close below the price can cascade on a dip, so a "
                      "smaller distance is riskier; ranked within the symbol."),
        Component(name="short_liquidation_distance", node="liquidation_zones", output="liq_short_distance",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.05,
                  why="Short liquidation clusters close above the price can squeeze on a rally, so a "
                      "smaller distance is riskier; ranked within the symbol."),
        Component(name="sharpe", node="sharpe", output="sharpe",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.05,
                  why="A poor trailing Sharpe ratio means the risk taken has not been paid; noisy over "
                      "a week, so ranked."),
        Component(name="sortino", node="sortino", output="sortino",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.05,
                  why="Sortino penalizes only downside deviation, the part of the volatility that "
                      "hurts a long holder; ranked like the Sharpe ratio."),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35, labels=("high", "normal", "low")),
)

SCHEMA = UnitScore
rows = symbol_rows
