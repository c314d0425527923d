"""Module I (port_alloc) as a specification, on the simulated market.

Each method's weights for a day are checked against an independent computation from the
same 720-bar covariance window: López de Prado's HRP written out here (linkage, leaf
order, recursive bisection), the equal-risk-contribution condition for risk parity, and
the reverse-optimization identity for Black-Litterman without views. The chosen method
is recomputed from the realized returns themselves.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist

from quant_assets.modules import port_alloc
from quant_assets.modules.declaration import apply_overrides
from quant_assets.modules.engine import ModuleOutput, compute_subject, history
from quant_assets.modules.frames import returns_panel
from quant_assets.modules.inputs import bar_grid
from quant_assets.modules.port_alloc import DECLARATION, METHODS, SELECTION_DAYS, AllocationTable
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket

MARKET = SimulatedMarket(seed=20240101)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
BAR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
FIRST, DAYS = date(2026, 3, 1), 68
START, END = pd.Timestamp(FIRST), pd.Timestamp(FIRST + timedelta(days=DAYS))
WINDOW = 720


@pytest.fixture(scope="module")
def klines() -> pd.DataFrame:
    return raw_table(MARKET, "spot_klines", list(SYMBOLS), FIRST, FIRST + timedelta(days=DAYS - 1))


def panel_of(klines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    rows = klines[(klines["ts"] >= start - BAR) & (klines["ts"] < end)]
    return returns_panel(rows, SYMBOLS, bar_grid(start - BAR, end, BAR), "simple_returns")


def compute(klines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, declaration=DECLARATION
            ) -> ModuleOutput:
    """The module on the bars ``[start, end)`` as the asset step runs it (one panel subject)."""
    panel = panel_of(klines, start, end)
    frames = {node.frame: panel for node in declaration.nodes.values()}
    return compute_subject(declaration, frames, panel.index, BAR, "panel")


@pytest.fixture(scope="module")
def panel(klines) -> pd.DataFrame:
    return panel_of(klines, START + BAR, END)


@pytest.fixture(scope="module")
def output(klines) -> ModuleOutput:
    return compute(klines, START + BAR, END)


@pytest.fixture(scope="module")
def table(output) -> pd.DataFrame:
    return port_alloc.rows(DECLARATION, {"panel": output}, START, END)


# --------------------------------------------------------------------------- independent references


def hrp_reference(cov: pd.DataFrame) -> pd.Series:
    """HRP as in López de Prado (2016), written out: single linkage on the Euclidean distance
    between the columns of ``sqrt((1 - ρ)/2)``, leaves in dendrogram order, then recursive
    bisection by the variances of the halves' inverse-variance portfolios."""
    sd = np.sqrt(np.diag(cov))
    distance = np.sqrt(np.maximum(1.0 - cov.to_numpy() / np.outer(sd, sd), 0.0) / 2.0)
    link = linkage(pdist(distance), method="single")
    n = len(cov)

    def leaves(node: int) -> list[int]:
        if node < n:
            return [node]
        left, right = link[node - n, :2].astype(int)
        return leaves(left) + leaves(right)

    def cluster_variance(items: list[int]) -> float:
        sub = cov.to_numpy()[np.ix_(items, items)]
        ivp = 1.0 / np.diag(sub) / (1.0 / np.diag(sub)).sum()
        return float(ivp @ sub @ ivp)

    weights = pd.Series(1.0, index=cov.index)

    def bisect(items: list[int]) -> None:
        if len(items) < 2:
            return
        left, right = items[: len(items) // 2], items[len(items) // 2 :]
        v_left, v_right = cluster_variance(left), cluster_variance(right)
        alpha = 1.0 - v_left / (v_left + v_right)
        weights.iloc[left] *= alpha
        weights.iloc[right] *= 1.0 - alpha
        bisect(left)
        bisect(right)

    bisect(leaves(2 * n - 2))
    return weights


def risk_contributions(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return w * (cov @ w) / (w @ cov @ w)


def window_covariance(panel: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Sample covariance of the 720 returns before ``day``'s first bar (its rebalance)."""
    rows = panel.loc[: day - BAR].iloc[-WINDOW:]
    assert len(rows) == WINDOW and rows.index[-1] == day - BAR
    return rows.cov()


# --------------------------------------------------------------------------- tests


def test_declaration_holds_every_allocation_node_on_simple_returns():
    assert port_alloc.SCHEMA is AllocationTable
    assert DECLARATION.command == ("allocate", "al")
    assert DECLARATION.score_table == "allocation_weights"
    assert DECLARATION.partitioning == "day"
    assert DECLARATION.components == () and DECLARATION.thresholds is None
    metrics = {node.metric for node in DECLARATION.nodes.values()}
    assert {"hrp", "risk_parity", "black_litterman", "conditional_beta", "drawdown_corr",
            "pearson_corr"} <= metrics
    assert {node.frame for node in DECLARATION.nodes.values()} == {"simple_returns"}
    for name, node in DECLARATION.nodes.items():
        assert f"``{name}``" in port_alloc.__doc__
        window = node.params.get("window", node.params.get("timeperiod"))
        assert window <= WINDOW


def test_history_covers_the_allocation_window_and_the_selection_days():
    span = history(DECLARATION, BAR)
    assert span >= WINDOW * BAR + DAY + SELECTION_DAYS * DAY
    assert span <= pd.Timedelta(days=62)


def test_weights_are_long_only_and_sum_to_one_per_method_and_day(table):
    AllocationTable.validate(table)
    warm = table.dropna(subset=["hrp"])
    assert warm["ts"].nunique() >= 30
    for method in ("hrp", "black_litterman", "risk_parity", "weight"):
        assert (warm[method] >= 0).all()
        assert warm.groupby("ts")[method].sum().to_numpy() == pytest.approx(1.0, abs=1e-12)
    assert (table.groupby("ts").size() == len(SYMBOLS)).all()


def test_weights_match_independent_references_every_day(output, panel, table):
    days = sorted(table.dropna(subset=["hrp"])["ts"].unique())
    market = np.full(len(SYMBOLS), 1 / len(SYMBOLS))  # equal market weights by default
    worst = {"hrp": 0.0, "risk contribution": 0.0, "black_litterman": 0.0}
    for day in days:
        cov = window_covariance(panel, day)
        row = table[table["ts"] == day].set_index("symbol").loc[list(SYMBOLS)]
        hrp = hrp_reference(cov).to_numpy()
        assert row["hrp"].to_numpy() == pytest.approx(hrp, abs=1e-12)
        rc = risk_contributions(row["risk_parity"].to_numpy(), cov.to_numpy())
        assert rc == pytest.approx(np.full(len(SYMBOLS), 1 / len(SYMBOLS)), abs=1e-8)
        # Black-Litterman without views: π = δΣw_mkt, the posterior is π, and the optimum of
        # wᵀπ − (δ/2)wᵀΣw is (δΣ)⁻¹π = w_mkt itself.
        annual = cov.to_numpy() * 8760
        prior = 2.5 * annual @ market
        last = day + 23 * BAR
        bl = output.nodes["black_litterman"]
        assert bl["bl_prior_return"].loc[last].to_numpy() == pytest.approx(prior, rel=1e-9)
        assert bl["bl_return"].loc[last].to_numpy() == pytest.approx(prior, rel=1e-9)
        assert np.linalg.solve(2.5 * annual, prior) == pytest.approx(market, abs=1e-12)
        assert row["black_litterman"].to_numpy() == pytest.approx(market, abs=1e-9)
        worst["hrp"] = max(worst["hrp"], float(np.abs(row["hrp"].to_numpy() - hrp).max()))
        worst["risk contribution"] = max(worst["risk contribution"],
                                         float(np.abs(rc - 1 / len(SYMBOLS)).max()))
        worst["black_litterman"] = max(worst["black_litterman"],
                                       float(np.abs(row["black_litterman"].to_numpy() - market).max()))
    print(f"largest deviation from the references over {len(days)} days: {worst}")


def test_weights_rebalance_at_the_first_bar_and_hold_through_the_day(output):
    weights = output.nodes["hrp"]["hrp"].dropna()
    changes = weights.index[(weights.diff().abs().sum(axis=1) > 0).to_numpy()]
    assert (changes.hour == 0).all()


def test_chosen_method_has_the_lowest_trailing_realized_volatility(panel, table):
    days = sorted(table.dropna(subset=["hrp"])["ts"].unique())
    variance = {}
    for day in days:
        held = table[table["ts"] == day].set_index("symbol").loc[list(SYMBOLS)]
        returns = panel.loc[day : day + 23 * BAR]
        assert len(returns) == 24
        variance[day] = {m: float((returns.to_numpy() @ held[m].to_numpy()).var(ddof=1)) for m in METHODS}
    variance = pd.DataFrame(variance).T
    chosen = table.groupby("ts")["chosen_method"].first()
    by_rule = 0
    for i, day in enumerate(days):
        if i + 1 < SELECTION_DAYS:
            assert chosen[day] == port_alloc.DEFAULT_METHOD
            continue
        trailing = variance.iloc[i + 1 - SELECTION_DAYS : i + 1].mean()
        assert chosen[day] == trailing.idxmin()  # idxmin keeps the first of METHODS on a tie
        by_rule += 1
    assert by_rule >= 20
    picked = table.dropna(subset=["chosen_method"])
    expected = picked.apply(lambda r: r[r["chosen_method"]], axis=1)
    assert (picked["weight"].to_numpy() == expected.to_numpy()).all()
    assert table.loc[table["hrp"].isna(), "chosen_method"].isna().all()
    print("chosen:", chosen.value_counts(dropna=False).to_dict())


def test_rows_refuse_weights_that_do_not_sum_to_one(output):
    nodes = dict(output.nodes)
    bad = nodes["hrp"].copy()
    bad.loc[END - BAR, ("hrp", "BTCUSDT")] += 1e-6
    nodes["hrp"] = bad
    with pytest.raises(ValueError, match="hrp weights sum to"):
        port_alloc.rows(DECLARATION, {"panel": replace(output, nodes=nodes)}, START, END)


def test_rows_refuse_a_realized_covariance_that_is_not_one_day(output):
    two_days = apply_overrides(DECLARATION, {"nodes": {"realized_cov": {"params": {"timeperiod": 48}}}},
                               origin="test")
    with pytest.raises(ValueError, match="realized_cov must cover one day"):
        port_alloc.rows(two_days, {"panel": output}, START, END)


def test_values_do_not_depend_on_how_the_range_is_split(klines):
    span = history(DECLARATION, BAR)
    d2 = END
    d1, d0 = d2 - 2 * DAY, d2 - 5 * DAY
    assert d0 - span - BAR >= START
    long = port_alloc.rows(DECLARATION, {"panel": compute(klines, d0 - span, d2)}, d0, d2)
    short = port_alloc.rows(DECLARATION, {"panel": compute(klines, d1 - span, d2)}, d1, d2)
    overlap = long[long["ts"] >= d1].reset_index(drop=True)
    assert overlap.notna().all().all()
    pd.testing.assert_frame_equal(overlap, short, rtol=0, atol=1e-9)
