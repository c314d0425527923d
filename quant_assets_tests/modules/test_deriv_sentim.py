"""Module C (deriv_sentim) as a specification, on the simulated market.

The simulator plants a crowd ``positioning`` per hour (the crowd chases the last day's
risk-adjusted returns) that drives the perpetual premium, funding, the long/short
account ratio and open interest. The sentiment score must rank hours like that planted
positioning, with the positive sign, over at least 30 warm days on three symbols.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import catalog
from quant_assets.modules import deriv_sentim
from quant_assets.modules.deriv_sentim import DECLARATION
from quant_assets.modules.engine import history, warmup_bars
from quant_assets.modules.inputs import compute_symbol, module_sources
from quant_assets.modules.tables import SignedScore
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket
from quant_assets_tests.modules.expectations import assert_explanations_add_up, assert_same_from, window

MARKET = SimulatedMarket(seed=20240101)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FIRST, DAYS = date(2024, 1, 1), 52
START, END = pd.Timestamp(FIRST), pd.Timestamp(FIRST + timedelta(days=DAYS))
BAR = pd.Timedelta(hours=1)
#: Needs an option chain (strikes, implied volatilities, OI per strike) that no frame has.
OPTION_CHAIN_METRICS = {"volatility_skew", "gamma_exposure"}


def _families() -> list[str]:
    return sorted({family for families in module_sources(DECLARATION).values() for family in families})



@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """The module's raw tables, symbol by symbol so that each simulated day is generated once."""
    last = FIRST + timedelta(days=DAYS - 1)
    parts = {family: [raw_table(MARKET, family, [symbol], FIRST, last) for symbol in SYMBOLS]
             for family in _families()}
    return {family: pd.concat(tables, ignore_index=True) for family, tables in parts.items()}


@pytest.fixture(scope="module")
def outputs(raw):
    return {symbol: compute_symbol(DECLARATION, raw, symbol, START, END, BAR) for symbol in SYMBOLS}


def test_declaration_scores_minus_one_to_one_with_every_spec_metric_but_the_option_ones():
    assert deriv_sentim.SCHEMA is SignedScore
    assert DECLARATION.command == ("sentiment", "s")
    assert DECLARATION.score_table == "sentiment_score"
    assert DECLARATION.score_range == (-1.0, 1.0)
    assert DECLARATION.formula == "2 * weighted - 1"
    assert (DECLARATION.thresholds.upper, DECLARATION.thresholds.lower) == (0.3, -0.3)
    assert sum(c.weight for c in DECLARATION.components) == pytest.approx(1.0, abs=1e-12)
    spec = set(catalog().query("module == 'deriv_sentim'").index)
    metrics = {node.metric for node in DECLARATION.nodes.values()}
    assert metrics == (spec - OPTION_CHAIN_METRICS) | {"taker_dominance"}
    for name in [*DECLARATION.nodes, *OPTION_CHAIN_METRICS]:
        assert f"``{name}``" in deriv_sentim.__doc__


def test_history_keeps_the_module_warm_within_a_month():
    assert history(DECLARATION, BAR) <= pd.Timedelta(days=30)
    assert warmup_bars(DECLARATION) <= 24 * 22


def test_score_ranks_hours_like_the_planted_crowd_positioning(outputs):
    warm = START + warmup_bars(DECLARATION) * BAR
    pooled = []
    for symbol, output in outputs.items():
        truth = MARKET.truth(symbol, datetime(2024, 1, 1), END.to_pydatetime())["positioning"]
        score = output.composite.score[warm:]
        assert score.notna().all()
        assert len(score) >= 30 * 24
        rho = score.corr(truth[warm:], method="spearman")
        print(f"{symbol}: Spearman(sentiment, positioning) = {rho:.3f} over {len(score)} bars")
        assert rho >= 0.3
        pooled.append(pd.DataFrame({"score": score, "positioning": truth[warm:]}))
    both = pd.concat(pooled)
    rho = both["score"].corr(both["positioning"], method="spearman")
    print(f"pooled: Spearman = {rho:.3f} over {len(both)} bars")
    assert rho >= 0.3


def test_crowded_hours_are_labelled_by_the_thresholds(outputs):
    output = outputs["ETHUSDT"]
    score, signal = output.composite.score.dropna(), output.signal[output.composite.score.notna()]
    assert (signal[score >= 0.3] == "bullish").all()
    assert (signal[score <= -0.3] == "bearish").all()
    assert (signal[(score > -0.3) & (score < 0.3)] == "neutral").all()
    assert {"bullish", "neutral", "bearish"} <= set(signal)


def test_explanations_add_up_to_the_unclipped_score(outputs):
    for record in assert_explanations_add_up(DECLARATION, outputs["SOLUSDT"]):
        assert record["offset"] == -1.0


def test_rows_pass_the_signed_score_schema(outputs):
    start = END - pd.Timedelta(days=3)
    table = deriv_sentim.rows(DECLARATION, outputs, start, END)
    SignedScore.validate(table)
    assert len(table) == 3 * 24 * len(SYMBOLS)
    assert table["score"].between(-1.0, 1.0).all()



def test_values_do_not_depend_on_how_the_range_is_split(raw):
    span = history(DECLARATION, BAR)
    d0 = START + pd.Timedelta(days=int(np.ceil(span / pd.Timedelta(days=1))))
    d1, d2 = d0 + pd.Timedelta(days=10), END
    symbol = "BTCUSDT"
    long = compute_symbol(DECLARATION, window(raw, d0 - span, d2), symbol, d0 - span, d2, BAR)
    short = compute_symbol(DECLARATION, window(raw, d1 - span, d2), symbol, d1 - span, d2, BAR)
    assert_same_from(DECLARATION, long, short, d1)
