"""Module H (microalpha) as a specification, on the simulated market.

The simulator plants an hourly order-flow signal that tilts the sign of the trades and
the book-ticker queues inside hour ``t`` and drives the drift of hour ``t + 1``. The
micro-alpha score of bar ``t`` (known at its close) must therefore rank the **next**
bar's return: a positive rank IC against ``log(close[t+1] / close[t])``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from quant_assets.metrics import catalog, get
from quant_assets.modules import microalpha
from quant_assets.modules.engine import TICK_HISTORY, history, warmup_bars
from quant_assets.modules.inputs import compute_symbol, module_sources
from quant_assets.modules.microalpha import DECLARATION
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
QUOTES_PER_DAY = 8640  # one book-ticker quote every 10 seconds
#: Shared with module D: defined once in family D, used here on the quote frame.
SHARED_METRICS = {"spread", "cvd", "ofi"}
#: Needs a ``latency_ms`` column (receive time minus exchange time) that no frame has.
LATENCY_METRICS = {"latency_adjusted_flow"}


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """Quote and trade ticks plus spot klines (for the forward return), symbol by symbol so
    that each simulated day is generated once."""
    last = FIRST + timedelta(days=DAYS - 1)
    families = sorted({f for families in module_sources(DECLARATION).values() for f in families}
                      | {"spot_klines"})
    parts = {family: [raw_table(MARKET, family, [symbol], FIRST, last) for symbol in SYMBOLS]
             for family in families}
    return {family: pd.concat(tables, ignore_index=True) for family, tables in parts.items()}


@pytest.fixture(scope="module")
def outputs(raw):
    return {symbol: compute_symbol(DECLARATION, raw, symbol, START, END, BAR) for symbol in SYMBOLS}



def test_declaration_scores_micro_alpha_with_every_spec_metric_but_latency_flow():
    assert microalpha.SCHEMA is UnitScore
    assert DECLARATION.command == ("micro", "mi")
    assert DECLARATION.score_table == "micro_alpha_score"
    assert DECLARATION.thresholds.labels == ("bullish", "neutral", "bearish")
    assert (DECLARATION.thresholds.upper, DECLARATION.thresholds.lower) == (0.65, 0.35)
    assert sum(c.weight for c in DECLARATION.components) == pytest.approx(1.0, abs=1e-12)
    spec = set(catalog().query("module == 'microalpha'").index)
    assert {node.metric for node in DECLARATION.nodes.values()} == (spec - LATENCY_METRICS) | SHARED_METRICS
    for name in [*DECLARATION.nodes, *LATENCY_METRICS]:
        assert f"``{name}``" in microalpha.__doc__


def test_every_node_reads_quotes_and_its_memory_fits_the_tick_history():
    quotes_loaded = QUOTES_PER_DAY * (TICK_HISTORY / pd.Timedelta(days=1))
    for node in DECLARATION.nodes.values():
        assert node.frame == "book"
        refit = node.resolved_params().get("refit_every")
        refit_quotes = QUOTES_PER_DAY * (pd.Timedelta(refit) / pd.Timedelta(days=1)) if refit else 0
        assert get(node.metric).memory_bars(**node.params) + refit_quotes <= quotes_loaded
    assert max(c.window for c in DECLARATION.components) <= 72
    assert history(DECLARATION, BAR) <= pd.Timedelta(days=4)


def test_score_ranks_thenext_bar_return(raw, outputs):
    warm = START + warmup_bars(DECLARATION) * BAR
    parts = []
    for symbol, output in outputs.items():
        score = output.composite.score[warm:]
        first = score.first_valid_index()
        assert first is not None and score[first:].notna().all()
        parts.append(pd.DataFrame({"symbol": symbol, "score": score[first:],
                                   "forward": next_bar_return(raw, symbol).reindex(score[first:].index)}))
    panel = pd.concat(parts).dropna()
    pooled, daily, t_stat = next_bar_rank_ic(panel)
    assert pooled > 0.05
    assert daily.mean() > 0.05
    assert t_stat > 2.0
    assert (daily > 0).mean() > 0.6


def test_labels_follow_the_thresholds(outputs):
    output = outputs["SOLUSDT"]
    scored = output.composite.score.notna()
    score, signal = output.composite.score[scored], output.signal[scored]
    assert (signal[score >= 0.65] == "bullish").all()
    assert (signal[score <= 0.35] == "bearish").all()
    assert {"bullish", "neutral", "bearish"} <= set(signal)


def test_explanations_add_up_to_the_unclipped_score(outputs):
    output = outputs["BTCUSDT"]
    for record in assert_explanations_add_up(DECLARATION, output, sample=10**6):
        assert record["unclipped"] == pytest.approx(output.composite.score.iloc[record["row"]], abs=1e-12)


def test_rows_pass_the_unit_score_schema(outputs):
    start = END - pd.Timedelta(days=1)
    table = microalpha.rows(DECLARATION, outputs, start, END)
    UnitScore.validate(table)
    assert len(table) == 24 * len(SYMBOLS)
    assert table["score"].notna().all()



def test_values_do_not_depend_on_how_the_range_is_split(raw, outputs):
    span = history(DECLARATION, BAR)
    d0 = START + span  # the fixture's range [START, END) is [d0 - span, d2)
    d1, d2 = d0 + pd.Timedelta(days=2), END
    symbol = "XRPUSDT"
    long = outputs[symbol]
    short = compute_symbol(DECLARATION, window(raw, d1 - span, d2), symbol, d1 - span, d2, BAR)
    assert_same_from(DECLARATION, long, short, d1)
