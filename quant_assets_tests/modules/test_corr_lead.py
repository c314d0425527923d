"""Module E (corr_lead) as a specification, on the simulated market.

The simulator plants a leader, BTCUSDT, whose return innovations every other symbol
repeats ``profile_for(symbol).lead_lag_hours`` hours later (ETHUSDT 1, SOLUSDT 2,
BNBUSDT 1, XRPUSDT 3). The lead-lag table must name BTCUSDT as the leader of each of
its followers, with the planted lag, on at least 90 % of the days it has values.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from quant_assets.modules import corr_lead
from quant_assets.modules.corr_lead import DECLARATION, LeadLagTable
from quant_assets.modules.declaration import apply_overrides
from quant_assets.modules.engine import ModuleOutput, compute_subject, history
from quant_assets.modules.frames import returns_panel
from quant_assets.modules.inputs import bar_grid
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.profiles import LEADER, profile_for
from quant_assets.sources.simulated.source import SimulatedMarket

MARKET = SimulatedMarket(seed=20240101)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
FOLLOWERS = SYMBOLS[1:]
BAR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
FIRST, DAYS = date(2026, 3, 1), 68
START, END = pd.Timestamp(FIRST), pd.Timestamp(FIRST + timedelta(days=DAYS))
SPEC_METRICS = {"pearson_corr", "beta", "rolling_cov", "partial_corr", "lead_lag", "granger", "dtw", "cca",
                "var_model"}


@pytest.fixture(scope="module")
def klines() -> pd.DataFrame:
    return raw_table(MARKET, "spot_klines", list(SYMBOLS), FIRST, FIRST + timedelta(days=DAYS - 1))


def compute(klines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, symbols=SYMBOLS,
            declaration=DECLARATION) -> ModuleOutput:
    """The module on the bars ``[start, end)``, as the asset step runs it: one panel subject
    built from one extra leading bar (the first return needs the previous close)."""
    rows = klines[(klines["ts"] >= start - BAR) & (klines["ts"] < end)]
    panel = returns_panel(rows, symbols, bar_grid(start - BAR, end, BAR), "log_returns")
    frames = {node.frame: panel for node in declaration.nodes.values()}
    return compute_subject(declaration, frames, panel.index, BAR, "panel")


@pytest.fixture(scope="module")
def table(klines) -> pd.DataFrame:
    output = compute(klines, START + BAR, END)
    return corr_lead.rows(DECLARATION, {"panel": output}, START, END)


def test_declaration_publishes_the_pair_table_with_every_spec_metric():
    assert corr_lead.SCHEMA is LeadLagTable
    assert DECLARATION.command == ("corr", "c")
    assert DECLARATION.score_table == "lead_lag"
    assert DECLARATION.partitioning == "day"
    assert DECLARATION.components == () and DECLARATION.thresholds is None
    assert {node.metric for node in DECLARATION.nodes.values()} == SPEC_METRICS
    assert {node.frame for node in DECLARATION.nodes.values()} == {"log_returns"}
    for name in DECLARATION.nodes:
        assert f"``{name}``" in corr_lead.__doc__


def test_history_is_about_two_months_of_hourly_bars():
    assert history(DECLARATION, BAR) <= pd.Timedelta(days=63)


def test_btc_leads_every_follower_by_its_planted_lag(table):
    btc = table[(table["x"] == LEADER) & table["best_lag"].notna()]
    days = btc["ts"].nunique()
    assert days >= 35
    hits = []
    for follower in FOLLOWERS:
        planted = profile_for(follower).lead_lag_hours
        lags = btc.loc[btc["y"] == follower].set_index("ts")["best_lag"]
        share = float((lags == planted).mean())
        print(f"{LEADER} -> {follower}: planted {planted} h, recovered on {share:.1%} of {len(lags)} days, "
              f"last day {lags.iloc[-1]:+.0f}")
        assert lags.iloc[-1] == planted
        assert lags.mode().iloc[0] == planted
        hits.append(lags == planted)
    fraction = float(pd.concat(hits).mean())
    print(f"recovery over {len(FOLLOWERS)} pairs x {days} days: {fraction:.1%}")
    assert fraction >= 0.9
    reverse = table[(table["y"] == LEADER) & table["best_lag"].notna()]
    assert (reverse["best_lag"] < 0).mean() >= 0.9  # seen from the follower, the leader leads


def test_granger_finds_btc_drives_its_followers_and_not_the_other_way(table):
    last = table[table["ts"] == table["ts"].max()].set_index(["x", "y"])["granger_pvalue"]
    for follower in FOLLOWERS:
        forward, backward = last[(LEADER, follower)], last[(follower, LEADER)]
        print(f"Granger p {LEADER}->{follower} = {forward:.2g}, {follower}->{LEADER} = {backward:.2g}")
        assert forward < 0.05 < backward


def test_pair_conventions_symmetric_and_antisymmetric_columns(table):
    LeadLagTable.validate(table)
    days = table["ts"].nunique()
    assert len(table) == days * len(SYMBOLS) * (len(SYMBOLS) - 1)
    assert (table["ts"] == table["ts"].dt.floor("D")).all()
    forward = table.set_index(["ts", "x", "y"])
    backward = table.rename(columns={"x": "y", "y": "x"}).set_index(["ts", "x", "y"]).reindex(forward.index)
    for column in ("correlation", "lead_lag_delta", "dtw_distance"):
        pd.testing.assert_series_equal(forward[column], backward[column], check_names=False)
    pd.testing.assert_series_equal(forward["best_lag"], -backward["best_lag"] + 0.0, check_names=False)
    valued = table.dropna(subset=["best_lag", "lead_lag_delta"])
    assert (valued["lead_lag_delta"] >= 0).all()
    assert (valued.loc[valued["best_lag"] == 0, "lead_lag_delta"] == 0).all()
    assert valued["best_lag"].abs().max() <= DECLARATION.nodes["lead_lag"].params["max_lag"]


def test_values_are_those_of_the_last_bar_of_each_day(klines):
    start = END - 3 * DAY
    output = compute(klines, start - history(DECLARATION, BAR), END)
    table = corr_lead.rows(DECLARATION, {"panel": output}, start, END).set_index(["ts", "x", "y"])
    days = pd.date_range(start, END - DAY, freq="D")
    assert list(table.index.get_level_values("ts").unique()) == list(days)
    correlation = output.nodes["pearson_corr"]["pearson_corr"][("BTCUSDT", "ETHUSDT")]
    for day in days:
        assert table.loc[(day, "BTCUSDT", "ETHUSDT"), "correlation"] == correlation[day + 23 * BAR]
    closes = klines.pivot_table(index="ts", columns="symbol", values="close")
    returns = np.log(closes / closes.shift(1)).loc[:END - BAR].iloc[-720:]  # the last day's 720 bars
    expected = returns["BTCUSDT"].corr(returns["ETHUSDT"])
    assert table.loc[(END - DAY, "ETHUSDT", "BTCUSDT"), "correlation"] == pytest.approx(expected, abs=1e-9)


def test_values_do_not_depend_on_how_the_range_is_split(klines):
    span = history(DECLARATION, BAR)
    d2 = END
    d1, d0 = d2 - 2 * DAY, d2 - 5 * DAY
    assert d0 - span - BAR >= START
    long = corr_lead.rows(DECLARATION, {"panel": compute(klines, d0 - span, d2)}, d0, d2)
    short = corr_lead.rows(DECLARATION, {"panel": compute(klines, d1 - span, d2)}, d1, d2)
    overlap = long[long["ts"] >= d1].reset_index(drop=True)
    assert overlap[["correlation", "best_lag", "granger_pvalue", "dtw_distance"]].notna().all().all()
    pd.testing.assert_frame_equal(overlap, short, rtol=0, atol=1e-9)


def test_twenty_symbols_give_380_ordered_pairs_a_day():
    rng = np.random.default_rng(3)
    symbols = [f"S{i:02d}USDT" for i in range(20)]
    index = pd.date_range("2026-01-01", periods=24 * 6, freq="h")
    leader = rng.normal(0.0, 0.01, len(index))
    data = {s: 0.8 * np.roll(leader, 1 + i % 3) + rng.normal(0.0, 0.01, len(index))
            for i, s in enumerate(symbols)}
    data[symbols[0]] = leader
    panel = pd.DataFrame(data, index=index)
    small = apply_overrides(DECLARATION, {"nodes": {
        name: {"params": {key: 48 for key in ("timeperiod", "window") if key in node.params}}
        for name, node in DECLARATION.nodes.items()} | {"var_model": {"params": {"window": 48, "maxlags": 1}},
                                                        "dtw": {"params": {"window": 24, "band": 4}}}},
        origin="test")
    output = compute_subject(small, {"log_returns": panel}, panel.index, BAR, "panel")
    table = corr_lead.rows(small, {"panel": output}, index[0] + 4 * DAY, index[-1] + BAR)
    LeadLagTable.validate(table)
    assert len(table) == 2 * 380
    assert table[["correlation", "best_lag", "granger_pvalue", "dtw_distance"]].notna().all().all()


def test_rows_refuse_a_delta_over_mismatched_windows(klines):
    mismatched = apply_overrides(DECLARATION, {"nodes": {"pearson_corr": {"params": {"timeperiod": 336}}}},
                                 origin="test")
    with pytest.raises(ValueError, match="lead_lag timeperiod"):
        corr_lead.rows(mismatched, {"panel": None}, START, END)  # type: ignore[dict-item]


def test_rows_want_the_single_panel_output(klines):
    with pytest.raises(ValueError, match="'panel'"):
        corr_lead.rows(DECLARATION, {}, START, END)


def test_the_delta_is_zero_at_lag_zero_and_rounding_never_makes_it_negative():
    """Seen with 20 symbols: the lag-0 correlation from ``lead_lag`` and the one from
    ``pearson_corr`` differed in the last bits, giving deltas of -7e-15 that the table's
    schema (>= 0) refused."""
    correlation = np.array([0.31, -0.5, 0.2, np.nan])
    lagged = np.array([0.31 - 7e-15, -0.5 + 2e-16, 0.2 - 1e-15, np.nan])
    lag = np.array([0.0, 0.0, 3.0, np.nan])
    delta = corr_lead.lead_lag_delta(lagged, correlation, lag)
    assert delta[:3].tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(delta[3])
    assert corr_lead.lead_lag_delta(np.array([-0.6]), np.array([0.4]), np.array([2.0])).tolist() == \
        pytest.approx([0.2])
