"""Module D (order_micros) as a specification, on the simulated market.

The simulator plants an hourly order-flow signal that drives taker aggression and book
imbalance inside hour ``t`` and the drift of hour ``t + 1``. The liquidity-pressure
score of bar ``t`` (known at its close) must therefore rank the **next** bar's return:
a positive rank IC against ``log(close[t+1] / close[t])``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from quant_assets.metrics import catalog
from quant_assets.modules import order_micros
from quant_assets.modules.engine import history, warmup_bars
from quant_assets.modules.inputs import compute_symbol, module_sources
from quant_assets.modules.order_micros import DECLARATION
from quant_assets.modules.tables import UnitScore
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket
from quant_assets_tests.modules.expectations import (
    assert_explanations_add_up,
    assert_same_from,
    next_bar_rank_ic,
    next_bar_return,
    window,
)

MARKET = SimulatedMarket(seed=20240101)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
FIRST, DAYS = date(2024, 3, 1), 10
START, END = pd.Timestamp(FIRST), pd.Timestamp(FIRST + timedelta(days=DAYS))
BAR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """Tick families plus spot klines (for the forward return), symbol by symbol so that
    each simulated day is generated once."""
    last = FIRST + timedelta(days=DAYS - 1)
    families = sorted({f for families in module_sources(DECLARATION).values() for f in families}
                      | {"spot_klines"})
    parts = {family: [raw_table(MARKET, family, [symbol], FIRST, last) for symbol in SYMBOLS]
             for family in families}
    return {family: pd.concat(tables, ignore_index=True) for family, tables in parts.items()}


@pytest.fixture(scope="module")
def outputs(raw):
    return {symbol: compute_symbol(DECLARATION, raw, symbol, START, END, BAR) for symbol in SYMBOLS}



def test_declaration_scores_buy_pressure_with_every_spec_metric():
    assert order_micros.SCHEMA is UnitScore
    assert DECLARATION.command == ("flow", "f")
    assert DECLARATION.score_table == "liquidity_pressure_score"
    assert DECLARATION.thresholds.labels == ("buy_pressure", "balanced", "sell_pressure")
    assert (DECLARATION.thresholds.upper, DECLARATION.thresholds.lower) == (0.65, 0.35)
    assert sum(c.weight for c in DECLARATION.components) == pytest.approx(1.0, abs=1e-12)
    # roll_spread is the trades-only fallback for the quoted spread, which the book ticker gives.
    spec = set(catalog().query("module == 'order_micros'").index) - {"roll_spread"}
    assert {node.metric for node in DECLARATION.nodes.values()} == spec
    for name in DECLARATION.nodes:
        assert f"``{name}``" in order_micros.__doc__


def test_depth_nodes_average_over_the_bar_and_windows_fit_a_few_days_of_ticks():
    for node in DECLARATION.nodes.values():
        if node.frame == "depth":
            assert node.aggregate == "mean"
    assert max(c.window for c in DECLARATION.components) <= 72
    assert history(DECLARATION, BAR) <= pd.Timedelta(days=4)


def test_score_ranks_thenext_bar_return(raw, outputs):
    warm = START + warmup_bars(DECLARATION) * BAR
    parts = []
    for symbol, output in outputs.items():
        score = output.composite.score[warm:]
        assert score.notna().all()
        parts.append(pd.DataFrame({"symbol": symbol, "score": score,
                                   "forward": next_bar_return(raw, symbol).reindex(score.index)}))
    panel = pd.concat(parts).dropna()
    pooled, daily, t_stat = next_bar_rank_ic(panel)
    assert pooled > 0.05
    assert daily.mean() > 0.05
    assert t_stat > 2.0
    assert (daily > 0).mean() > 0.6


def test_pressure_labels_follow_the_thresholds(outputs):
    output = outputs["XRPUSDT"]
    scored = output.composite.score.notna()
    score, signal = output.composite.score[scored], output.signal[scored]
    assert (signal[score >= 0.65] == "buy_pressure").all()
    assert (signal[score <= 0.35] == "sell_pressure").all()
    assert {"buy_pressure", "balanced", "sell_pressure"} <= set(signal)


def test_explanations_add_up_to_the_unclipped_score(outputs):
    output = outputs["BNBUSDT"]
    for record in assert_explanations_add_up(DECLARATION, output, sample=10**6):
        assert record["unclipped"] == pytest.approx(output.composite.score.iloc[record["row"]], abs=1e-12)


def test_rows_pass_the_unit_score_schema(outputs):
    start = END - pd.Timedelta(days=1)
    table = order_micros.rows(DECLARATION, outputs, start, END)
    UnitScore.validate(table)
    assert len(table) == 24 * len(SYMBOLS)
    assert table["score"].notna().all()



def test_values_do_not_depend_on_how_the_range_is_split(raw, outputs):
    span = history(DECLARATION, BAR)
    d0 = START + span  # the fixture's range [START, END) is [d0 - span, d2)
    d1, d2 = d0 + pd.Timedelta(days=2), END
    symbol = "ETHUSDT"
    long = outputs[symbol]
    short = compute_symbol(DECLARATION, window(raw, d1 - span, d2), symbol, d1 - span, d2, BAR)
    assert_same_from(DECLARATION, long, short, d1)
