"""J. Regime change & anomaly: how unusual the symbol's current bar is, 0–1.

The score (``scores.anomaly_score``, 0–1) is high on a bar that stands out from the
recent past: a price jump far outside the recent return distribution, a burst of
volume, or both. Each component is a magnitude (unusual in either direction) ranked against the
trailing week: ``anomalous`` at ≥ 0.85 (about the top 5 % of bars), ``calm`` at ≤ 0.2,
``normal`` between. The components are point-anomaly detectors, so the score falls back as soon as
the market does; slower regime-change readings (CUSUM, rolling skewness and kurtosis,
the one-day cumulative return deviation) are kept as features beside it, because they
stay raised for a day after an event and would blur which bar was anomalous.

Metrics (nodes, hourly bar frame) and outputs:

- ``return_deviation`` (``cum_return_deviation``, horizon 1, one-week baseline ending at
  ``t − 1``): ``cum_return_deviation`` — |·| scored (the bar's return z-score, which a
  jump cannot dilute).
- ``volume_zscore`` (``zscore`` of the bar volume over 48 bars): ``zscore`` — scored.
- ``relative_volume`` (``tick_volume`` on the bar volume, one bar over the mean of the
  24 before): ``tick_volume``, ``relative_tick_volume`` — the ratio scored.
- ``isolation_forest`` (return, log range, log volume; fitted on two weeks, refit
  weekly, each bar scored out of sample): ``isolation_forest`` — scored.
- ``spectral_residual`` (log returns, one-week window): ``spectral_residual``,
  ``spectral_residual_alarm`` — the saliency score scored.
- ``volume_spectral_residual`` (the same on the volume series): ``spectral_residual``,
  ``spectral_residual_alarm`` — the saliency score scored.
- ``zscore`` (close against its 48-bar mean): ``zscore`` — feature.
- ``sma`` (48) and ``hist_vol`` (48): ``sma``, ``hist_vol`` — features (the rolling
  mean and standard deviation).
- ``rolling_skew`` and ``rolling_kurt`` (one day of returns): ``rolling_skew``,
  ``rolling_kurt`` — features.
- ``cum_return_deviation`` (one day against the week before it): ``cum_return_deviation``
  — feature.
- ``cusum`` (two-sided Page CUSUM of standardized returns, one-week in-control window,
  k = 0.5, h = 8): ``cusum_pos``, ``cusum_neg``, ``cusum_alarm`` — features (changepoint
  alarms).
"""

from __future__ import annotations

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.tables import UnitScore, symbol_rows

#: Normalization window in hourly bars (one week).
WINDOW = 168
_VOLUME_AS_CLOSE = {"close": "volume"}

DECLARATION = ModuleDeclaration(
    id="regime_anomal",
    title="Regime Change & Anomaly",
    version="1.0.0",
    description="How anomalous each bar is: return and volume z-scores, relative volume, Isolation "
                "Forest and Spectral Residual saliency; 1 = most anomalous. CUSUM changepoints and "
                "rolling moments are kept as features.",
    command=("redet", "rd"),
    score_table="anomaly_score",
    nodes={
        "return_deviation": MetricNode(metric="cum_return_deviation", params={"horizon": 1, "baseline": 168}),
        "volume_zscore": MetricNode(metric="zscore", params={"timeperiod": 48}, columns=_VOLUME_AS_CLOSE),
        "relative_volume": MetricNode(metric="tick_volume", params={"timeperiod": 1, "baseline": 24},
                                      columns={"trade_count": "volume"}),
        "isolation_forest": MetricNode(metric="isolation_forest",
                                       params={"window": 336, "refit_every": "7D", "n_estimators": 100,
                                               "max_samples": 256, "random_state": 0}),
        "spectral_residual": MetricNode(metric="spectral_residual",
                                        params={"window": 168, "series": "log_return"}),
        "volume_spectral_residual": MetricNode(metric="spectral_residual",
                                               params={"window": 168, "series": "close"},
                                               columns=_VOLUME_AS_CLOSE),
        "zscore": MetricNode(metric="zscore", params={"timeperiod": 48}),
        "sma": MetricNode(metric="sma", params={"timeperiod": 48}),
        "hist_vol": MetricNode(metric="hist_vol", params={"timeperiod": 48}),
        "rolling_skew": MetricNode(metric="rolling_skew", params={"timeperiod": 24}),
        "rolling_kurt": MetricNode(metric="rolling_kurt", params={"timeperiod": 24}),
        "cum_return_deviation": MetricNode(metric="cum_return_deviation",
                                           params={"horizon": 24, "baseline": 168}),
        "cusum": MetricNode(metric="cusum", params={"window": 168, "k": 0.5, "h": 8.0}),
    },
    components=(
        Component(name="relative_volume", node="relative_volume", output="relative_tick_volume",
                  normalization="percentile", window=WINDOW, weight=0.25,
                  why="A bar's volume over the previous day's mean is a burst when it is large; the "
                      "ratio is heavy-tailed, so it is ranked against the week."),
        Component(name="return_z", node="return_deviation", output="cum_return_deviation", transform="abs",
                  normalization="percentile", window=WINDOW, weight=0.20,
                  why="|return z| against the week before the bar flags a jump in either direction; "
                      "ranked so that fat tails do not squash the ordinary bars."),
        Component(name="isolation_forest", node="isolation_forest", output="isolation_forest",
                  normalization="percentile", window=WINDOW, weight=0.20,
                  why="The forest isolates bars whose return, range and volume together are rare; "
                      "its score has no fixed scale across fits, so it is ranked."),
        Component(name="volume_z", node="volume_zscore", output="zscore", normalization="percentile",
                  window=WINDOW, weight=0.15,
                  why="Volume against its two-day mean and deviation; only high volume is unusual "
                      "here (quiet bars are not anomalies), so the signed z is ranked."),
        Component(name="return_saliency", node="spectral_residual", output="spectral_residual",
                  normalization="percentile", window=WINDOW, weight=0.10,
                  why="Spectral-residual saliency of the returns is high on a spike and near 0 "
                      "elsewhere; skewed, so ranked."),
        Component(name="volume_saliency", node="volume_spectral_residual", output="spectral_residual",
                  normalization="percentile", window=WINDOW, weight=0.10,
                  why="The same saliency on the volume series flags volume bursts; ranked."),
    ),
    thresholds=Thresholds(upper=0.85, lower=0.2, labels=("anomalous", "normal", "calm")),
)

SCHEMA = UnitScore
rows = symbol_rows
