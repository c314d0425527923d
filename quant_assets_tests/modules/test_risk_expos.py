"""Module G (risk_expos) as a specification, on the simulated market.

The simulator plants an hourly volatility ``sigma`` (clustering, level shifts at
changepoints, boosts after jumps, a higher level in trends). The risk score must be
higher where the planted volatility is higher.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import catalog
from quant_assets.modules import risk_expos
from quant_assets.modules.engine import history, warmup_bars
from quant_assets.modules.inputs import compute_symbol, module_sources
from quant_assets.modules.risk_expos import DECLARATION
from quant_assets.modules.tables import UnitScore
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket
from quant_assets_tests.modules.expectations import assert_explanations_add_up, assert_same_from, window

MARKET = SimulatedMarket(seed=20240101)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FIRST, DAYS = date(2024, 1, 1), 50
START, END = pd.Timestamp(FIRST), pd.Timestamp(FIRST + timedelta(days=DAYS))
BAR = pd.Timedelta(hours=1)
#: Need account positions and equity, or per-symbol exchange balances, that no frame has.
ACCOUNT_METRICS = {"leverage_ratio", "estimated_leverage_ratio"}
#: Listed under port_alloc in the catalog, under G ("dynamic Sharpe/Sortino") in the spec.
SHARED_METRICS = {"atr", "sharpe", "sortino"}



@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """The module's raw tables, symbol by symbol so that each simulated day is generated once."""
    last = FIRST + timedelta(days=DAYS - 1)
    families = sorted({f for families in module_sources(DECLARATION).values() for f in families})
    parts = {family: [raw_table(MARKET, family, [symbol], FIRST, last) for symbol in SYMBOLS]
             for family in families}
    return {family: pd.concat(tables, ignore_index=True) for family, tables in parts.items()}


@pytest.fixture(scope="module")
def outputs(raw):
    return {symbol: compute_symbol(DECLARATION, raw, symbol, START, END, BAR) for symbol in SYMBOLS}


def test_declaration_scores_zero_to_one_with_every_spec_metric_but_the_account_ones():
    assert risk_expos.SCHEMA is UnitScore
    assert DECLARATION.command == ("risk", "r")
    assert DECLARATION.score_table == "risk_score"
    assert DECLARATION.thresholds.labels == ("high", "normal", "low")
    assert (DECLARATION.thresholds.upper, DECLARATION.thresholds.lower) == (0.65, 0.35)
    assert sum(c.weight for c in DECLARATION.components) == pytest.approx(1.0, abs=1e-12)
    spec = set(catalog().query("module == 'risk_expos'").index)
    metrics = {node.metric for node in DECLARATION.nodes.values()}
    assert metrics == (spec - ACCOUNT_METRICS) | SHARED_METRICS
    for name in [*DECLARATION.nodes, *ACCOUNT_METRICS]:
        assert f"``{name}``" in risk_expos.__doc__


def test_history_and_warm_up_fit_the_demo_history():
    assert history(DECLARATION, BAR) <= pd.Timedelta(days=40)
    assert warmup_bars(DECLARATION) <= 24 * 15


def test_score_is_higher_where_the_planted_volatility_is_higher(outputs):
    warm = START + warmup_bars(DECLARATION) * BAR
    pooled = []
    for symbol, output in outputs.items():
        sigma = MARKET.truth(symbol, datetime(2024, 1, 1), END.to_pydatetime())["sigma"][warm:]
        score = output.composite.score[warm:]
        assert score.notna().all()
        rho = score.corr(sigma, method="spearman")
        calm, wild = sigma <= sigma.quantile(0.2), sigma >= sigma.quantile(0.8)
        print(f"{symbol}: Spearman(risk, sigma) = {rho:.3f}; mean risk {score[calm].mean():.2f} in the "
              f"calmest fifth vs {score[wild].mean():.2f} in the wildest, {len(score)} bars")
        assert rho > 0.3
        assert score[wild].mean() > score[calm].mean() + 0.1
        pooled.append(pd.DataFrame({"score": score, "sigma": sigma}))
    both = pd.concat(pooled)
    rho = both["score"].corr(both["sigma"], method="spearman")
    print(f"pooled: Spearman(risk, sigma) = {rho:.3f} over {len(both)} bars")
    assert rho > 0.3


def test_riskiest_hours_are_labelled_high(outputs):
    output = outputs["BTCUSDT"]
    scored = output.composite.score.notna()
    score, signal = output.composite.score[scored], output.signal[scored]
    assert (signal[score >= 0.65] == "high").all()
    assert (signal[score <= 0.35] == "low").all()
    assert {"high", "normal", "low"} <= set(signal)


def test_explanations_add_up_to_the_unclipped_score(outputs):
    output = outputs["ETHUSDT"]
    for record in assert_explanations_add_up(DECLARATION, output, sample=200):
        assert record["unclipped"] == pytest.approx(output.composite.score.iloc[record["row"]], abs=1e-12)


def test_rows_pass_the_unit_score_schema(outputs):
    start = END - pd.Timedelta(days=2)
    table = risk_expos.rows(DECLARATION, outputs, start, END)
    UnitScore.validate(table)
    assert len(table) == 2 * 24 * len(SYMBOLS)
    assert table["score"].notna().all()



def test_values_do_not_depend_on_how_the_range_is_split(raw):
    span = history(DECLARATION, BAR)
    d0 = START + pd.Timedelta(days=int(np.ceil(span / pd.Timedelta(days=1))))
    d1, d2 = d0 + pd.Timedelta(days=5), END
    symbol = "SOLUSDT"
    long = compute_symbol(DECLARATION, window(raw, d0 - span, d2), symbol, d0 - span, d2, BAR)
    short = compute_symbol(DECLARATION, window(raw, d1 - span, d2), symbol, d1 - span, d2, BAR)
    assert_same_from(DECLARATION, long, short, d1)
