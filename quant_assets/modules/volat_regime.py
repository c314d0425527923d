"""B. Market regime: is the symbol trending or ranging, with the probability of trend.

The table ``scores.regime`` holds, per symbol and hourly bar, ``prob_trend`` (0–1) and
``label`` (``trend`` where ``prob_trend`` ≥ 0.5, ``range`` below, NULL in warm-up). Regimes
on hourly crypto last about two to three days, so every window is short (3–72 bars):
a week-long window would still be averaging the previous regime when the next one ends.

Three kinds of evidence are combined, each normalized on trailing data only:

- **Directional persistence** — the drift of the last 12, 24 and 48 bars in standard
  errors (|Sharpe| over the window, a t-statistic), the variance ratio z-statistics over
  4 and 6 bars, and the fractal dimension of the last 36 bars. A trend moves the price
  further than its bar-to-bar noise explains; a range keeps returning.
- **Whipsaw between closes** — close-to-close volatility over the Parkinson (high-low)
  volatility of the same 24 bars, read at its level. In a range the closes jump back and
  forth by more than the bars' own ranges show (a mean-reverting component moves the
  closes without widening the bars); in a trend the bars range as widely as the closes
  move. This is the strongest single reading (weight 0.22).
- **Excess close-to-close volatility** — close-to-close volatility over 6, 12 and 24
  bars scored *down*, with the bar ranges (ATR over 3, 6 and 12 bars), the traded volume
  (over 6 and 24 bars, and the last 3 bars against the 48 three-bar sums before) and the
  Bollinger width scored *up*: volume and range expand with a trend's move.
- The simulated market plants exactly these; on live data they are hypotheses that the
  evaluation should confirm before the weights are trusted.

Weights and calibration: a class-balanced logistic regression of the planted regime on
the normalized components (simulated seeds 20240101, 11, 12, 13; 105 days x 3 symbols
each after warm-up) gave the weights (its coefficients, which all came out positive,
scaled to sum to 1; 12-bar volume's was zero, so it is a feature) and
``prob_trend = 3.42 · weighted − 1.06`` (clipped to 0–1), the logistic in the weighted
mean linearized at 0.5. Class-balanced means both regimes count equally, so 0.5 is the
boundary that maximizes balanced accuracy (trend hours are about 40 % of the planted
ones); the label boundary sits at weighted = 0.456.

Measured against planted regimes: balanced accuracy of ``label`` 0.707 (AUC of
``prob_trend`` 0.78) on the held-out seed 7, 0.70–0.73 on the tuning seeds, 0.696 and
0.697 on two more held-out seeds with five symbols each (AUC 0.76); without the whipsaw
reading the same components reached 0.68 (AUC 0.75).

Metrics (nodes, hourly bar frame) and outputs:

- ``hist_vol_6``, ``hist_vol_12``, ``hist_vol_24`` (``hist_vol``, close-to-close over 6, 12
  and 24 bars): ``hist_vol`` — scored (−).
- ``atr_3``, ``atr_6``, ``atr_12`` (``atr``, Wilder, over 3, 6 and 12 bars): ``atr`` —
  scored (+).
- ``sma`` (24) → ``bbands`` (24, 2σ) → ``bb_width`` (24): ``sma``; ``bb_upper``,
  ``bb_middle``, ``bb_lower``, ``bb_width``, ``bb_percent_b``; ``bb_width`` — the width
  scored (+), the rest features.
- ``variance_ratio_72`` and ``variance_ratio_32`` (``variance_ratio``, Lo–MacKinlay, 72
  returns at lag 6 and 32 returns at lag 4): ``variance_ratio``, ``variance_ratio_z`` —
  the robust z scored (+).
- ``fdi`` (Sevcik, 36 bars): ``fdi`` — scored (−).
- ``sharpe_12``, ``sharpe_24``, ``sharpe_48`` (``sharpe`` over 12, 24 and 48 bars):
  ``sharpe`` — |·| scored (+), as a drift t-statistic.
- ``volume_3``, ``volume_6``, ``volume_12``, ``volume_24`` (``tick_volume`` read on the bar
  volume: volume summed over the last 3/6/12/24 bars, and that sum over the mean of the
  48 sums before it): ``tick_volume``, ``relative_tick_volume`` — the 6 and 24-bar sums
  scored (+), the relative volume of ``volume_3`` scored (+), the 12-bar sum a feature.
- ``close_range_vol_ratio`` (24 bars): close-to-close over Parkinson volatility — scored (−).
- ``range_expansion_index`` (DeMark, 8): ``range_expansion_index`` — feature.
- ``garch_vol`` (GARCH(1,1), 30-day fit refit daily): ``garch_vol`` — feature.
- ``entropy`` (permutation entropy, order 3, 48 bars): ``entropy`` — feature.
- ``hurst`` (DFA, 96 bars, boxes from 4 bars): ``hurst`` — feature.
- ``regime_switching`` (two-state Markov switching variance, 30-day fit refit weekly):
  ``regime_prob_high_vol``, ``regime_high_vol`` — feature.

Why the last five are features and not scored: on planted regimes (simulated market,
several seeds) none of them added separation once the components above were in — REI
and |REI| rank trend bars at AUC ≈ 0.52–0.57, entropy ≈ 0.5, Hurst over the shortest
window DFA allows (64–96 bars) ≈ 0.50–0.65 and unstable, and GARCH and Markov-switching
volatility describe the volatility *level*, which a trend raises on one symbol and
lowers on another (the higher-variance regime is not the trending one). They are kept
as features for the evaluation and for other modules.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration
from quant_assets.modules.engine import ModuleOutput
from quant_assets.modules.tables import RegimeTable

#: Normalization windows in hourly bars (two weeks; one week for 3-bar ATR and 1-day volume).
WINDOW = 336
SHORT_WINDOW = 168
#: Previous windows the relative volume is measured against.
VOLUME_BASELINE = 48
#: ``prob_trend`` at or above which a bar is labelled ``trend``.
TREND_AT = 0.5
_VOLUME = {"trade_count": "volume"}


def _t_bounds(bars: int) -> tuple[float, float]:
    """|annualized Sharpe| bounds that correspond to a drift t-statistic of 0..3 over ``bars``."""
    return (0.0, 3.0 * float(np.sqrt(8760.0 / bars)))


DECLARATION = ModuleDeclaration(
    id="volat_regime",
    title="Market Regime: volatility & structure",
    version="1.1.0",
    description="Trend or range per symbol and hour, with the probability of trend, from short-window "
                "drift t-statistics, variance ratios, fractal dimension and close-to-close volatility "
                "against bar range and volume.",
    command=("regime", "rg"),
    score_table="regime",
    nodes={
        "hist_vol_6": MetricNode(metric="hist_vol", params={"timeperiod": 6}),
        "hist_vol_12": MetricNode(metric="hist_vol", params={"timeperiod": 12}),
        "hist_vol_24": MetricNode(metric="hist_vol", params={"timeperiod": 24}),
        "atr_3": MetricNode(metric="atr", params={"timeperiod": 3}),
        "atr_6": MetricNode(metric="atr", params={"timeperiod": 6}),
        "atr_12": MetricNode(metric="atr", params={"timeperiod": 12}),
        "sma": MetricNode(metric="sma", params={"timeperiod": 24}),
        "bbands": MetricNode(metric="bbands", params={"timeperiod": 24, "nbdevup": 2.0, "nbdevdn": 2.0}),
        "bb_width": MetricNode(metric="bb_width", params={"timeperiod": 24, "nbdevup": 2.0, "nbdevdn": 2.0}),
        "variance_ratio_72": MetricNode(metric="variance_ratio", params={"timeperiod": 72, "lag": 6}),
        "variance_ratio_32": MetricNode(metric="variance_ratio", params={"timeperiod": 32, "lag": 4}),
        "fdi": MetricNode(metric="fdi", params={"timeperiod": 36}),
        "sharpe_12": MetricNode(metric="sharpe", params={"timeperiod": 12}),
        "sharpe_24": MetricNode(metric="sharpe", params={"timeperiod": 24}),
        "sharpe_48": MetricNode(metric="sharpe", params={"timeperiod": 48}),
        "volume_3": MetricNode(metric="tick_volume", params={"timeperiod": 3, "baseline": VOLUME_BASELINE},
                               columns=_VOLUME),
        "volume_6": MetricNode(metric="tick_volume", params={"timeperiod": 6, "baseline": VOLUME_BASELINE},
                               columns=_VOLUME),
        "volume_12": MetricNode(metric="tick_volume", params={"timeperiod": 12, "baseline": VOLUME_BASELINE},
                                columns=_VOLUME),
        "volume_24": MetricNode(metric="tick_volume", params={"timeperiod": 24, "baseline": VOLUME_BASELINE},
                                columns=_VOLUME),
        "close_range_vol_ratio": MetricNode(metric="close_range_vol_ratio", params={"timeperiod": 24}),
        "range_expansion_index": MetricNode(metric="range_expansion_index", params={"timeperiod": 8}),
        "garch_vol": MetricNode(metric="garch_vol", params={"window": 720, "refit_every": "1D"}),
        "entropy": MetricNode(metric="entropy", params={"timeperiod": 48, "order": 3, "delay": 1}),
        "hurst": MetricNode(metric="hurst", params={"timeperiod": 96, "min_scale": 4, "n_scales": 6}),
        "regime_switching": MetricNode(metric="regime_switching",
                                       params={"window": 720, "refit_every": "7D"}),
    },
    components=(
        Component(name="close_vol_24", node="hist_vol_24", output="hist_vol", normalization="percentile",
                  window=WINDOW, orientation=-1, weight=0.012,
                  why="Close-to-close volatility high against its two weeks, with range and volume held "
                      "by the components below, is the whipsaw of a range; ranked, being skewed."),
        Component(name="close_vol_12", node="hist_vol_12", output="hist_vol", normalization="percentile",
                  window=WINDOW, orientation=-1, weight=0.059,
                  why="The same reading over half a day reacts faster to a regime change; ranked."),
        Component(name="close_vol_6", node="hist_vol_6", output="hist_vol", normalization="percentile",
                  window=WINDOW, orientation=-1, weight=0.08,
                  why="The same over six bars, the fastest; ranked."),
        Component(name="volume_6", node="volume_6", output="tick_volume", normalization="percentile",
                  window=WINDOW, weight=0.071,
                  why="Volume expands with a trend; six-bar volume is ranked against two weeks since "
                      "its level is symbol-specific and heavy-tailed."),
        Component(name="volume_24", node="volume_24", output="tick_volume", normalization="percentile",
                  window=SHORT_WINDOW, weight=0.019,
                  why="One-day volume ranked against one week, a slower baseline for the same reading."),
        Component(name="volume_burst", node="volume_3", output="relative_tick_volume", normalization="minmax",
                  bounds=(0.5, 1.5), weight=0.07,
                  why="The last three bars' volume over the 48 three-bar windows before is a ratio with a "
                      "natural centre at 1; mapped linearly on 0.5–1.5 so a regime switch shows at once."),
        Component(name="range_3", node="atr_3", output="atr", normalization="percentile", window=SHORT_WINDOW,
                  weight=0.066,
                  why="Bar ranges widen with a trend's volatility; three-bar ATR ranked against a week."),
        Component(name="range_6", node="atr_6", output="atr", normalization="percentile", window=WINDOW,
                  weight=0.014,
                  why="Six-bar ATR ranked against two weeks (price-scaled, so ranked)."),
        Component(name="range_12", node="atr_12", output="atr", normalization="percentile", window=WINDOW,
                  weight=0.011,
                  why="Twelve-bar ATR ranked against two weeks (price-scaled, so ranked)."),
        Component(name="band_width", node="bb_width", output="bb_width", normalization="percentile",
                  window=WINDOW, weight=0.069,
                  why="The one-day spread of closes around their mean grows with a directional move; "
                      "ranked against two weeks."),
        Component(name="drift_t_12", node="sharpe_12", output="sharpe", transform="abs",
                  normalization="minmax", bounds=_t_bounds(12), weight=0.063,
                  why="|Sharpe| over 12 bars is the drift's t-statistic times sqrt(8760/12): mapped "
                      "linearly from t = 0 to t = 3 because its scale is known, either sign is a trend."),
        Component(name="drift_t_24", node="sharpe_24", output="sharpe", transform="abs",
                  normalization="minmax", bounds=_t_bounds(24), weight=0.053,
                  why="The same t-statistic over one day, mapped on t = 0..3."),
        Component(name="drift_t_48", node="sharpe_48", output="sharpe", transform="abs",
                  normalization="minmax", bounds=_t_bounds(48), weight=0.053,
                  why="The same t-statistic over two days (a typical trend's length), mapped on t = 0..3."),
        Component(name="variance_ratio_6", node="variance_ratio_72", output="variance_ratio_z",
                  normalization="minmax", bounds=(-3.0, 3.0), weight=0.085,
                  why="Robust z of VR(6) over three days: > 0 persistent (trend), < 0 mean-reverting "
                      "(range); asymptotically N(0, 1), so mapped linearly on ±3."),
        Component(name="variance_ratio_4", node="variance_ratio_32", output="variance_ratio_z",
                  normalization="minmax", bounds=(-3.0, 3.0), weight=0.045,
                  why="Robust z of VR(4) over 32 bars, the faster reading; mapped linearly on ±3."),
        Component(name="fractal_dimension", node="fdi", output="fdi", normalization="percentile",
                  window=WINDOW, orientation=-1, weight=0.01,
                  why="A path closer to a line (lower FDI) trends; its finite-window level depends on "
                      "the window, so it is ranked rather than read against 1.5."),
        Component(name="whipsaw", node="close_range_vol_ratio", output="close_range_vol_ratio",
                  normalization="minmax", bounds=(0.9, 1.6), orientation=-1, weight=0.22,
                  why="Closes that jump from hour to hour more than the hours' own high-low ranges "
                      "explain are reversals between closes, the signature of a range; the ratio's level "
                      "is what carries it (ranked against two weeks it loses it), so it is mapped "
                      "linearly on 0.9-1.6, its 1-99 % span, lower ratios scoring trend."),
    ),
    formula="3.42 * weighted - 1.06",
)

SCHEMA = RegimeTable


def rows(declaration: ModuleDeclaration, outputs: Mapping[str, ModuleOutput], start: pd.Timestamp,
         end: pd.Timestamp) -> pd.DataFrame:
    """``scores.regime`` rows for bars in ``[start, end)``: ``prob_trend`` is the composite,
    ``label`` is ``trend`` at ``prob_trend`` >= 0.5 and ``range`` below (NULL without a value)."""
    parts = []
    for symbol, output in sorted(outputs.items()):
        if output.composite is None:
            raise ValueError(f"{declaration.id} declares no components; it has no prob_trend")
        prob = output.composite.score
        keep = (prob.index >= start) & (prob.index < end)
        values = prob[keep].to_numpy(dtype=float)
        label = np.where(np.isnan(values), None, np.where(values >= TREND_AT, "trend", "range"))
        parts.append(pd.DataFrame({
            "ts": prob.index[keep].astype("datetime64[us]"),
            "symbol": symbol,
            "label": pd.Series(label, dtype=object),
            "prob_trend": values,
            "explain": pd.Series(np.asarray(output.explain, dtype=object)[keep], dtype=object),
            "module_version": declaration.version,
        }))
    return pd.concat(parts, ignore_index=True)
