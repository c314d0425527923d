"""Module F (onchain) as a specification, on the simulated market.

The simulator plants a latent daily macro factor ``M`` (AR(1), φ = 0.97) that pushes
stablecoins onto exchanges, pulls BTC and ETH off them and keeps whales from depositing;
``market.macro_truth`` returns it. The macro score must rank days like ``M``, with the
positive sign, for both scored assets.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from quant_assets.metrics import catalog
from quant_assets.modules import onchain
from quant_assets.modules.engine import ModuleOutput, compute_subject, history, warmup_bars
from quant_assets.modules.inputs import asset_frames
from quant_assets.modules.onchain import DECLARATION
from quant_assets.modules.tables import MacroTable
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket
from quant_assets_tests.modules.expectations import assert_explanations_add_up

MARKET = SimulatedMarket(seed=20240101)
ASSETS = ("BTC", "ETH")
DAY = pd.Timedelta(days=1)
END = pd.Timestamp("2026-06-01")
SPAN = history(DECLARATION, DAY)
#: The split test's two starts; the data reach back one history before the earlier one.
D0, D1 = END - 6 * DAY, END - 3 * DAY
START = D0 - SPAN
#: Components driven by the planted factor (the ETF flows chase returns, NUPL follows price).
FLOW_COMPONENTS = ("stablecoin_inflow", "coin_outflow", "balance_drawdown", "whale_deposits")


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    first, last = START.date(), (END - DAY).date()
    return {"onchain_metrics": raw_table(MARKET, "onchain_metrics", ["BTC", "ETH", "USDT"], first, last),
            "etf_flows": raw_table(MARKET, "etf_flows", [""], first, last)}


def compute(raw: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, ModuleOutput]:
    """The module on the days ``[start, end)`` as the asset step runs it (daily grid, bar = 1 day)."""
    days = pd.date_range(start, end, freq="D", inclusive="left")
    window = {name: table[(table["ts"] >= start) & (table["ts"] < end)] for name, table in raw.items()}
    return {asset: compute_subject(DECLARATION, asset_frames(DECLARATION, window, asset, days), days, DAY,
                                   asset) for asset in ASSETS}


@pytest.fixture(scope="module")
def outputs(raw) -> dict[str, ModuleOutput]:
    return compute(raw, START, END)


@pytest.fixture(scope="module")
def table(outputs) -> pd.DataFrame:
    return onchain.rows(DECLARATION, outputs, START, END)


def test_declaration_scores_zero_to_one_with_every_spec_metric():
    assert onchain.SCHEMA is MacroTable
    assert DECLARATION.command == ("macro", "ma")
    assert DECLARATION.score_table == "macro_score"
    assert DECLARATION.partitioning == "day"
    assert (DECLARATION.thresholds.upper, DECLARATION.thresholds.lower) == (0.65, 0.35)
    assert DECLARATION.thresholds.labels == ("risk_on", "neutral", "risk_off")
    assert sum(c.weight for c in DECLARATION.components) == pytest.approx(1.0, abs=1e-12)
    spec = set(catalog().query("module == 'onchain'").index)
    assert {node.metric for node in DECLARATION.nodes.values()} == spec
    assert {node.frame for node in DECLARATION.nodes.values()} == {"daily"}
    for name in DECLARATION.nodes:
        assert f"``{name}``" in onchain.__doc__
    orientation = {c.name: c.orientation for c in DECLARATION.components}
    assert orientation == {"stablecoin_inflow": 1, "coin_outflow": -1, "balance_drawdown": -1,
                           "whale_deposits": -1, "etf_inflow": 1, "unrealized_profit": -1}


def test_a_sixty_day_deployment_scores():
    assert warmup_bars(DECLARATION) <= 45


def test_score_ranks_days_like_the_planted_macro_factor(table, outputs):
    truth = MARKET.macro_truth((END - DAY).date(), (END - START).days)
    for asset in ASSETS:
        score = table[table["asset"] == asset].set_index("ts")["score"].dropna()
        assert len(score) >= 600
        rho = score.corr(truth.reindex(score.index), method="spearman")
        print(f"{asset}: Spearman(macro score, planted factor) = {rho:.3f} over {len(score)} days")
        assert rho >= 0.25
        normalized = outputs[asset].normalized.dropna()
        for name in FLOW_COMPONENTS:
            part = normalized[name].corr(truth.reindex(normalized.index), method="spearman")
            print(f"  {name}: {part:+.3f}")
            assert part > 0.1


def test_days_are_labelled_by_the_thresholds(table):
    scored = table.dropna(subset=["score"])
    assert (scored.loc[scored["score"] >= 0.65, "signal"] == "risk_on").all()
    assert (scored.loc[scored["score"] <= 0.35, "signal"] == "risk_off").all()
    assert (scored.loc[scored["score"].between(0.35, 0.65, inclusive="neither"), "signal"] == "neutral").all()
    assert {"risk_on", "neutral", "risk_off"} <= set(scored["signal"])
    assert table.loc[table["score"].isna(), ["signal", "explain"]].isna().all().all()


def test_explanations_add_up_to_the_unclipped_score(outputs):
    output = outputs["ETH"]
    for record in assert_explanations_add_up(DECLARATION, output, sample=100):
        assert record["unclipped"] == pytest.approx(output.composite.score.iloc[record["row"]], abs=1e-12)


def test_rows_are_one_per_day_and_asset_and_pass_the_schema(table):
    MacroTable.validate(table)
    days = pd.date_range(START, END, freq="D", inclusive="left")
    assert len(table) == len(days) * len(ASSETS)
    assert set(table["asset"]) == set(ASSETS)
    assert (table.groupby("asset")["ts"].apply(list) == pd.Series({a: list(days) for a in ASSETS})).all()


def test_a_day_is_scored_from_data_up_to_its_end(raw, outputs):
    cut = END - 10 * DAY
    early = onchain.rows(DECLARATION, compute(raw, START, cut), cut - 5 * DAY, cut)
    full = onchain.rows(DECLARATION, outputs, cut - 5 * DAY, cut)
    pd.testing.assert_frame_equal(early, full)


def test_values_do_not_depend_on_how_the_range_is_split(raw):
    long = onchain.rows(DECLARATION, compute(raw, D0 - SPAN, END), D0, END)
    short = onchain.rows(DECLARATION, compute(raw, D1 - SPAN, END), D1, END)
    overlap = long[long["ts"] >= D1].reset_index(drop=True)
    assert overlap["score"].notna().all()
    pd.testing.assert_frame_equal(overlap.drop(columns="explain"), short.drop(columns="explain"),
                                  rtol=0, atol=1e-9)
    for a, b in zip(overlap["explain"], short["explain"], strict=True):
        first, second = json.loads(a), json.loads(b)
        assert first["unclipped"] == pytest.approx(second["unclipped"], abs=1e-9)


def test_mvrv_zscore_has_a_value_once_a_year_of_days_is_loaded(outputs):
    zscore = outputs["BTC"].nodes["mvrv_zscore"]["mvrv_zscore"]
    assert zscore.iloc[:364].isna().all() and zscore.iloc[364:].notna().all()


def test_unscored_assets_have_no_rows():
    assert len(onchain.rows(DECLARATION, {}, START, END)) == 0
