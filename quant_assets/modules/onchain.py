"""F. On-chain & macro: is capital moving into crypto or out of it? A daily score from 0 to 1.

The score (``scores.macro_score``, 0–1, one row per UTC day and on-chain asset) is high
("risk_on", ≥ 0.65) when stablecoins flow onto exchanges (buying power arriving), coins
leave exchanges for cold storage (accumulation), whales are not the ones depositing,
spot-ETF money flows in and holders are not sitting on outsized unrealized profits;
low ("risk_off", ≤ 0.35) in the opposite case. It is the weighted mean of the
normalized components below. A context reading on a daily clock, not a timing signal.

Scored assets: BTC and ETH, the assets with full on-chain series. USDT has only
exchange flows; it contributes through the ``stablecoin_inflow_usd`` /
``stablecoin_outflow_usd`` columns of both assets' daily frames.

Clock: the module runs on the daily grid (bar = 1 day; every window below counts
days). The row ``ts = D`` holds the value as of the end of day ``D``: the vendor's daily
value for ``D`` is complete only once the day is over, which is also when it is stored.

Metrics (nodes, daily frame) and outputs:

- ``stablecoin_flow`` (7 days, on the USDT flows): ``stablecoin_netflow``,
  ``stablecoin_flow_ratio`` — the ratio scored (+).
- ``exchange_netflow`` (7 days): ``exchange_netflow``, ``exchange_flow_ratio`` — the
  ratio scored (−: coins sent to exchanges are supply offered for sale).
- ``etf_net_flow`` (last 5 published US trading days, NaN days are not filled):
  ``etf_net_flow``, ``etf_net_flow_sum``, ``etf_flow_age_days`` — the sum scored (+).
- ``exchange_net_position_change`` (14 days): ``exchange_net_position_change`` — scored
  (−: a falling exchange balance is accumulation).
- ``whale_ratio`` (7-day mean): ``whale_ratio`` — scored (−: whale-dominated deposits
  precede selling).
- ``nupl``: ``nupl`` — scored (−: a large unrealized profit is the late, overheated part
  of a cycle, where profit-taking risk is highest).
- ``realized_price``: ``realized_price`` — feature (the aggregate cost basis).
- ``nrpl`` (7 days): ``nrpl``, ``nrpl_ratio`` — feature.
- ``sopr`` (7-day mean): ``sopr`` — feature. SOPR above 1 is read both as healthy
  profit-taking in a bull market and as distribution at a top, so it has no sign of its
  own here.
- ``mvrv_zscore`` (trailing 365 days): ``mvrv_zscore`` — feature, not scored. Glassnode's
  definition is expanding from the chain's first day, which would make the value
  depend on where our stored history starts and force every run to load all of it;
  a one-year trailing deviation keeps the memory bounded, but it needs a year of data
  before its first value, so a ~60-day deployment could never score if it were a
  component. The valuation it measures, market cap over realized cap, is scored
  through NUPL (= 1 − 1/MVRV), which needs no warm-up.

Normalization: the flow ratios, whale ratio and NUPL are ranked (percentile) against
their trailing 30 days; the ETF sum and the net position change, both in USD or coins
with heavy tails, likewise. 30 days keeps the module warm about 43 days after its first
data (14-day position change + 30-day window) while still comparing a week against a
month.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration, Thresholds
from quant_assets.modules.engine import ModuleOutput
from quant_assets.modules.tables import MacroTable

#: Trailing days every component is normalized against.
WINDOW = 30

DECLARATION = ModuleDeclaration(
    id="onchain",
    title="On-chain & Macro",
    version="1.0.0",
    description="Daily capital-flow and valuation context from on-chain series (Glassnode-style), "
                "stablecoin exchange flows and US spot-ETF flows; 1 risk-on, 0 risk-off.",
    command=("macro", "ma"),
    score_table="macro_score",
    partitioning="day",
    nodes={
        "stablecoin_flow": MetricNode(
            metric="stablecoin_flow", params={"timeperiod": 7}, frame="daily",
            columns={"exchange_inflow_usd": "stablecoin_inflow_usd",
                     "exchange_outflow_usd": "stablecoin_outflow_usd"}),
        "exchange_netflow": MetricNode(metric="exchange_netflow", params={"timeperiod": 7}, frame="daily"),
        "etf_net_flow": MetricNode(metric="etf_net_flow", params={"timeperiod": 5}, frame="daily",
                                   columns={"net_flow_usd": "etf_net_flow_usd"}),
        "exchange_net_position_change": MetricNode(metric="exchange_net_position_change",
                                                   params={"timeperiod": 14}, frame="daily"),
        "realized_price": MetricNode(metric="realized_price", frame="daily"),
        "nupl": MetricNode(metric="nupl", frame="daily"),
        "nrpl": MetricNode(metric="nrpl", params={"timeperiod": 7}, frame="daily"),
        "whale_ratio": MetricNode(metric="whale_ratio", params={"timeperiod": 7}, frame="daily"),
        "mvrv_zscore": MetricNode(metric="mvrv_zscore", params={"window": 365}, frame="daily"),
        "sopr": MetricNode(metric="sopr", params={"timeperiod": 7}, frame="daily"),
    },
    components=(
        Component(name="stablecoin_inflow", node="stablecoin_flow", output="stablecoin_flow_ratio",
                  normalization="percentile", window=WINDOW, weight=0.30,
                  why="Stablecoins moving onto exchanges are buying power arriving, the most direct "
                      "risk-on flow; the net/gross ratio is scale-free and ranked against the month."),
        Component(name="coin_outflow", node="exchange_netflow", output="exchange_flow_ratio",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.20,
                  why="Coins sent to exchanges are supply offered for sale, coins withdrawn are "
                      "accumulation, so net inflow lowers the score; ratio ranked against the month."),
        Component(name="balance_drawdown", node="exchange_net_position_change",
                  output="exchange_net_position_change", normalization="percentile", window=WINDOW,
                  orientation=-1, weight=0.15,
                  why="A shrinking exchange balance over two weeks is sustained accumulation; coin "
                      "amounts are heavy-tailed and asset-specific, so they are ranked."),
        Component(name="whale_deposits", node="whale_ratio", output="whale_ratio",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.15,
                  why="When the ten largest deposits make up most of the exchange inflow, whales "
                      "are preparing to sell, a risk-off warning; ranked against the month."),
        Component(name="etf_inflow", node="etf_net_flow", output="etf_net_flow_sum",
                  normalization="percentile", window=WINDOW, weight=0.10,
                  why="Net creations in US spot ETFs are new institutional money; the five-day sum "
                      "in USD is heavy-tailed and trending, so it is ranked."),
        Component(name="unrealized_profit", node="nupl", output="nupl",
                  normalization="percentile", window=WINDOW, orientation=-1, weight=0.10,
                  why="A large unrealized profit (NUPL, i.e. a high MVRV) is an overheated market "
                      "with profit-taking ahead, so it lowers the score; ranked against the month."),
    ),
    thresholds=Thresholds(upper=0.65, lower=0.35, labels=("risk_on", "neutral", "risk_off")),
)

SCHEMA = MacroTable


def rows(declaration: ModuleDeclaration, outputs: Mapping[str, ModuleOutput], start: pd.Timestamp,
         end: pd.Timestamp) -> pd.DataFrame:
    """``scores.macro_score`` rows of the days in ``[start, end)``, asset by asset.

    ``outputs`` maps an on-chain asset (``BTC``, ``ETH``) to the engine's output on the
    daily grid; each row is the day's score, label and explanation (NULL in warm-up).
    """
    parts = []
    for asset, output in sorted(outputs.items()):
        if output.composite is None:
            raise ValueError(f"{declaration.id}: the output for {asset} has no composite score")
        score = output.composite.score
        if score.index.floor("D").has_duplicates:
            raise ValueError(f"{declaration.id}: the output for {asset} is not on the daily grid "
                             "(bar = 1 day); its rows are one per day")
        keep = (score.index >= start) & (score.index < end)
        signal = output.signal[keep].to_numpy(dtype=object) if output.signal is not None else None
        parts.append(pd.DataFrame({
            "ts": score.index[keep].floor("D").astype("datetime64[us]"),
            "asset": asset,
            "score": score[keep].to_numpy(dtype=float),
            "signal": signal,
            "explain": pd.Series(output.explain, dtype=object).to_numpy()[keep],
            "module_version": declaration.version,
        }))
    if not parts:
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[us]"), "asset": pd.Series(dtype=object),
                             "score": pd.Series(dtype=float), "signal": pd.Series(dtype=object),
                             "explain": pd.Series(dtype=object), "module_version": pd.Series(dtype=object)})
    return pd.concat(parts, ignore_index=True)
