"""Family I (portfolio & allocation): independent references, planted signals, causality."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, catalog, compute, get
from quant_assets.metrics.portfolio import erc_weights, hrp_weights, long_only_mean_variance
from quant_assets_tests.metrics.signals import frame, hourly_index


def wide(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=hourly_index(n))


def returns_with_covariance(cov: np.ndarray, symbols: str, seed: int, rows: int = 48) -> pd.DataFrame:
    """``rows`` returns whose sample covariance (ddof=1) is exactly ``cov``, plus
    one more row: the bar at 2024-01-03 00:00 (row 48), where an allocation with
    ``window=48`` rebalances on exactly those rows."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(rows, len(cov)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample covariance = I
    values = np.vstack((z @ np.linalg.cholesky(cov).T, rng.normal(0.0, 0.01, (1, len(cov)))))
    return wide(dict(zip(symbols, values.T, strict=True)))


def risk_contributions(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return w * (cov @ w) / (w @ cov @ w)


# --------------------------------------------------------------------------- Sharpe and Sortino


def test_sharpe_is_mean_over_sample_std_of_simple_returns_times_sqrt_8760() -> None:
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, 300)))
    result = compute("sharpe", frame(close), timeperiod=100, risk_free=0.05)
    r = close[1:] / close[:-1] - 1.0
    excess = r[-100:] - 0.05 / 8760
    assert result.iloc[-1] == pytest.approx(excess.mean() / excess.std(ddof=1) * math.sqrt(8760), rel=1e-9)
    assert result.iloc[:100].isna().all() and result.iloc[100:].notna().all()


def test_sharpe_of_daily_bars_annualizes_with_365_not_252() -> None:
    rng = np.random.default_rng(1)
    bars = frame(100.0 * np.exp(np.cumsum(rng.normal(0.001, 0.02, 200))))
    bars.index = pd.date_range("2020-01-01", periods=200, freq="D")
    hourly = compute("sharpe", bars, timeperiod=90)
    daily = compute("sharpe", bars, timeperiod=90, periods_per_year=365.0)
    assert (daily / hourly).dropna().to_numpy() == pytest.approx(math.sqrt(365 / 8760))


def test_sortino_divides_by_the_target_downside_deviation_over_the_whole_window() -> None:
    rng = np.random.default_rng(2)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, 300)))
    result = compute("sortino", frame(close), timeperiod=120, target=0.10)
    excess = (close[1:] / close[:-1] - 1.0)[-120:] - 0.10 / 8760
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    assert result.iloc[-1] == pytest.approx(excess.mean() / downside * math.sqrt(8760), rel=1e-9)


def test_sortino_without_any_return_below_the_target_is_nan_not_infinite() -> None:
    result = compute("sortino", frame(100.0 * 1.001 ** np.arange(50)), timeperiod=20)
    assert result.isna().all()


# --------------------------------------------------------------------------- conditional beta


def test_conditional_beta_recovers_planted_downside_and_upside_betas() -> None:
    rng = np.random.default_rng(3)
    market = rng.normal(0.0, 0.01, 4000)
    asset = np.where(market < 0, 1.5, 0.5) * market + rng.normal(0.0, 0.002, 4000)
    data = wide({"X": asset, "M": market})
    result = compute("conditional_beta", data, timeperiod=4000, market="M")
    assert list(result.columns) == [("beta_down", "X"), ("beta_up", "X")]
    assert result[("beta_down", "X")].iloc[-1] == pytest.approx(1.5, abs=0.05)
    assert result[("beta_up", "X")].iloc[-1] == pytest.approx(0.5, abs=0.05)


def test_conditional_beta_is_the_ols_slope_on_the_bars_below_and_above_the_mean() -> None:
    rng = np.random.default_rng(4)
    data = wide({"M": rng.normal(0.0, 0.01, 200), "A": rng.normal(0.0, 0.01, 200), "B": rng.normal(size=200)})
    result = compute("conditional_beta", data, timeperiod=80)  # market: the first column
    window = data.iloc[-80:]
    below = window[window["M"] < window["M"].mean()]
    above = window[window["M"] > window["M"].mean()]
    for symbol in "AB":
        down = np.polyfit(below["M"], below[symbol], 1)[0]
        up = np.polyfit(above["M"], above[symbol], 1)[0]
        assert result[("beta_down", symbol)].iloc[-1] == pytest.approx(down, rel=1e-9)
        assert result[("beta_up", symbol)].iloc[-1] == pytest.approx(up, rel=1e-9)
    assert result.iloc[:79].isna().all().all() and result.iloc[79:].notna().all().all()


def test_conditional_beta_names_an_unknown_market_column() -> None:
    data = wide({"A": np.zeros(30), "B": np.ones(30)})
    with pytest.raises(MetricInputError) as excinfo:
        compute("conditional_beta", data, timeperiod=10, market="BTC")
    assert str(excinfo.value) == (
        "conditional_beta: parameter 'market' is not a column of data (got 'BTC'; have: A, B)"
    )


# --------------------------------------------------------------------------- drawdown correlation


def underwater(r: np.ndarray) -> np.ndarray:
    wealth = np.cumprod(1.0 + r)
    return wealth / np.maximum(1.0, np.maximum.accumulate(wealth)) - 1.0


def test_drawdown_corr_and_co_drawdown_follow_their_definitions_on_the_last_window() -> None:
    rng = np.random.default_rng(5)
    market = rng.normal(0.0, 0.01, 400)
    data = wide(
        {"M": market, "T": 0.9 * market + rng.normal(0.0, 0.003, 400), "I": rng.normal(0.0, 0.01, 400)}
    )
    result = compute("drawdown_corr", data, timeperiod=200, threshold=0.03)
    window = data.iloc[-200:]
    dd = {c: underwater(window[c].to_numpy()) for c in "MTI"}
    for x, y in [("M", "T"), ("M", "I"), ("T", "I")]:
        deep_x, deep_y = dd[x] <= -0.03, dd[y] <= -0.03
        expected_co = (deep_x & deep_y).sum() / (deep_x | deep_y).sum()
        assert result[("drawdown_corr", x, y)].iloc[-1] == pytest.approx(np.corrcoef(dd[x], dd[y])[0, 1])
        assert result[("co_drawdown", x, y)].iloc[-1] == pytest.approx(expected_co)
    typical = result.iloc[199:].median()
    assert typical[("drawdown_corr", "M", "T")] > 0.75  # a β = 0.9 tracker
    assert typical[("drawdown_corr", "M", "I")] < 0.5  # independent, yet persistent curves correlate


def test_drawdown_corr_rejects_a_return_below_minus_one() -> None:
    data = wide({"A": np.zeros(30), "B": np.zeros(30)})
    data.iloc[5, 1] = -1.2
    with pytest.raises(
        MetricInputError,
        match=r"^drawdown_corr: column 'B' has a return <= -1 at 2024-01-01 05:00:00 \(-1.2\)",
    ):
        compute("drawdown_corr", data, timeperiod=10)


# --------------------------------------------------------------------------- HRP


def block_covariance(scale: float = 1e-4) -> tuple[np.ndarray, dict[str, float]]:
    """Two uncorrelated clusters, A (variances 1 and 4, correlation 0.4) and B
    (variances 2 and 2, correlation 0.6), with the textbook HRP weights.

    Within A the inverse-variance split is 0.8/0.2, so
    ``V_A = 0.8² + 0.2²·4 + 2·0.8·0.2·0.4·1·2 = 1.056``; within B it is 0.5/0.5,
    ``V_B = 0.25·2·2 + 2·0.25·0.6·2 = 1.6``. The top split gives A
    ``1 - V_A/(V_A + V_B)``; each cluster's two halves split by inverse variance.
    """
    cov = np.zeros((4, 4))
    cov[:2, :2] = [[1.0, 0.4 * 2.0], [0.4 * 2.0, 4.0]]
    cov[2:, 2:] = [[2.0, 0.6 * 2.0], [0.6 * 2.0, 2.0]]
    v_a, v_b = 1.056, 1.6
    share_a = 1.0 - v_a / (v_a + v_b)
    expected = {
        "a1": 0.8 * share_a,
        "a2": 0.2 * share_a,
        "b1": 0.5 * (1 - share_a),
        "b2": 0.5 * (1 - share_a),
    }
    return cov * scale, expected


def test_hrp_on_a_block_covariance_gives_the_textbook_split() -> None:
    cov, expected = block_covariance()
    weights = dict(zip(["a1", "a2", "b1", "b2"], hrp_weights(cov), strict=True))
    assert weights == pytest.approx(expected, abs=1e-12)


def test_hrp_reorders_interleaved_symbols_by_quasi_diagonalization() -> None:
    cov, expected = block_covariance()
    order = [0, 2, 1, 3]  # a1, b1, a2, b2: clusters interleaved in the input
    data = returns_with_covariance(cov[np.ix_(order, order)], ["a1", "b1", "a2", "b2"], seed=6)
    result = compute("hrp", data, window=48)["hrp"]
    assert result.iloc[-1].to_dict() == pytest.approx(expected, abs=1e-9)
    assert result.iloc[:48].isna().all().all()


def test_hrp_weights_are_non_negative_and_sum_to_one() -> None:
    rng = np.random.default_rng(7)
    factor = rng.normal(0.0, 0.01, (24 * 5, 1))
    data = wide(
        {s: (factor * rng.uniform(0, 2) + rng.normal(0.0, 0.01, (24 * 5, 1)))[:, 0] for s in "ABCDEF"}
    )
    weights = compute("hrp", data, window=48)["hrp"].dropna()
    assert len(weights) == 24 * 3
    assert (weights >= 0).all().all()
    assert weights.sum(axis=1).to_numpy() == pytest.approx(np.ones(len(weights)), abs=1e-12)


# --------------------------------------------------------------------------- risk parity


def test_risk_parity_of_uncorrelated_assets_weights_by_inverse_volatility() -> None:
    cov = np.diag([0.10, 0.20, 0.40]) ** 2
    assert erc_weights(cov) == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-12)


def test_risk_parity_equalizes_risk_contributions_of_correlated_assets() -> None:
    rng = np.random.default_rng(8)
    loadings = rng.normal(size=(5, 5))
    cov = (loadings @ loadings.T + np.diag(rng.uniform(0.1, 1.0, 5))) * 1e-4
    data = returns_with_covariance(cov, "ABCDE", seed=9)
    weights = compute("risk_parity", data, window=48)["risk_parity"].iloc[-1].to_numpy()
    assert weights.min() > 0 and weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert risk_contributions(weights, cov) == pytest.approx(np.full(5, 0.2), abs=1e-6)


# --------------------------------------------------------------------------- Black-Litterman


def black_litterman_reference(cov: np.ndarray, w_mkt: np.ndarray, asset: int, q: float) -> np.ndarray:
    """He–Litterman posterior by the textbook formula, plain linear algebra:
    ``[(τΣ)⁻¹ + PᵀΩ⁻¹P]⁻¹ [(τΣ)⁻¹π + PᵀΩ⁻¹Q]`` with ``Ω = diag(τPΣPᵀ)``."""
    tau, delta = 0.05, 2.5
    pi = delta * cov @ w_mkt
    p = np.zeros((1, len(cov)))
    p[0, asset] = 1.0
    omega = np.diag(np.diag(tau * p @ cov @ p.T))
    prior_precision = np.linalg.inv(tau * cov)
    left = prior_precision + p.T @ np.linalg.inv(omega) @ p
    right = prior_precision @ pi + p.T @ np.linalg.inv(omega) @ np.array([q])
    return np.linalg.solve(left, right)


BL_COV = np.array([[4.0, 1.2, 0.6], [1.2, 2.25, 0.9], [0.6, 0.9, 1.0]]) * 1e-5  # per hourly bar


def test_black_litterman_without_views_returns_the_equilibrium_weights() -> None:
    data = returns_with_covariance(BL_COV, "XYZ", seed=10)
    result = compute("black_litterman", data, window=48, market_weights="X=5, Y=3, Z=2")
    row = result.iloc[-1]
    annual = BL_COV * 8760
    assert row["bl_weight"].to_numpy() == pytest.approx([0.5, 0.3, 0.2], abs=1e-9)
    pi = 2.5 * annual @ np.array([0.5, 0.3, 0.2])
    assert row["bl_prior_return"].to_numpy() == pytest.approx(pi, rel=1e-9)
    assert row["bl_return"].to_numpy() == pytest.approx(pi, rel=1e-9)


def test_black_litterman_one_absolute_view_moves_return_and_weight_the_right_way() -> None:
    data = returns_with_covariance(BL_COV, "XYZ", seed=11)
    w_mkt = np.array([0.5, 0.3, 0.2])
    annual = BL_COV * 8760
    pi_z = 2.5 * (annual @ w_mkt)[2]
    view = pi_z + 0.05  # Z will beat its equilibrium return by 5 % a year
    result = compute("black_litterman", data, window=48, market_weights="X=5, Y=3, Z=2", views=f"Z={view}")
    row = result.iloc[-1]
    expected = black_litterman_reference(annual, w_mkt, asset=2, q=view)
    assert row["bl_return"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert row[("bl_return", "Z")] == pytest.approx(pi_z + 0.025, rel=1e-9)  # halfway: Ω = τσ²
    weights = row["bl_weight"].to_numpy()
    assert weights[2] > 0.2 and weights.sum() == pytest.approx(1.0) and weights.min() >= 0
    # Interior optimum of the budget-constrained problem: (δΣ)⁻¹(μ - ν1) with Σw = 1.
    inv_mu = np.linalg.solve(2.5 * annual, expected)
    inv_one = np.linalg.solve(2.5 * annual, np.ones(3))
    assert weights == pytest.approx(inv_mu + (1 - inv_mu.sum()) / inv_one.sum() * inv_one, abs=1e-9)


def test_long_only_optimizer_meets_the_kkt_conditions_when_bounds_bind() -> None:
    annual = BL_COV * 8760
    mu = np.array([0.9, -0.4, 0.1])  # Y is far too unattractive to hold
    w = long_only_mean_variance(mu, annual, 2.5)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-12)
    gradient = mu - 2.5 * annual @ w  # marginal utility; equal on held assets
    held = w > 1e-12
    assert not held.all()
    assert np.ptp(gradient[held]) < 1e-12
    assert gradient[~held].max() <= gradient[held].min() + 1e-12


def test_allocations_hold_between_daily_rebalances_and_sum_to_one() -> None:
    rng = np.random.default_rng(12)
    data = wide({s: rng.normal(0.0, 0.01, 24 * 4) for s in "ABC"})
    allocations = [
        ("hrp", "hrp", {}),
        ("risk_parity", "risk_parity", {}),
        ("black_litterman", "bl_weight", {"views": "A=0.5"}),
    ]
    for name, output, params in allocations:
        weights = compute(name, data, window=30, **params)[output]
        assert weights.iloc[:48].isna().all().all()  # first rebalance: 2024-01-03 00:00
        changes = weights.iloc[48:].diff().abs().sum(axis=1) > 0
        assert list(weights.iloc[48:].index[changes].hour) == [0]  # only at the next midnight
        assert weights.iloc[48:].sum(axis=1).to_numpy() == pytest.approx(np.ones(48), abs=1e-12)
        assert (weights.iloc[48:] >= 0).all().all()


# --------------------------------------------------------------------------- validation


def test_black_litterman_parameters_are_parsed_and_checked_against_the_columns() -> None:
    data = returns_with_covariance(BL_COV, "XYZ", seed=13)
    with pytest.raises(MetricInputError) as excinfo:
        compute("black_litterman", data, window=48, views="BTC=0.2")
    assert str(excinfo.value) == (
        "black_litterman: parameter 'views' names 'BTC', which is not a column of data (have: X, Y, Z)"
    )
    with pytest.raises(MetricInputError, match=r"parameter 'views' must be 'SYMBOL=number, \.\.\.'"):
        compute("black_litterman", data, window=48, views="X:0.2")
    with pytest.raises(MetricInputError, match=r"parameter 'market_weights' must hold weights >= 0"):
        compute("black_litterman", data, window=48, market_weights="X=1, Y=-1, Z=1")
    with pytest.raises(MetricInputError, match=r"parameter 'market_weights' has no weight for Z"):
        compute("black_litterman", data, window=48, market_weights="X=1, Y=1")


def test_an_allocation_on_a_degenerate_covariance_fails_loudly() -> None:
    rng = np.random.default_rng(14)
    data = wide({"A": rng.normal(0.0, 0.01, 60), "B": rng.normal(0.0, 0.01, 60), "C": np.zeros(60)})
    with pytest.raises(
        ValueError, match=r"^risk_parity: the covariance of the 48 rows from 2024-01-01 00:00:00"
    ):
        compute("risk_parity", data, window=48)
    with pytest.raises(
        ValueError, match=r"not positive definite \(symbols that do not move: C\); no allocation"
    ):
        compute("hrp", data, window=48)


# --------------------------------------------------------------------------- causality

FAST: dict[str, dict[str, Any]] = {
    "conditional_beta": {"timeperiod": 30},
    "drawdown_corr": {"timeperiod": 30, "threshold": 0.01},
    "hrp": {"window": 40},
    "risk_parity": {"window": 40},
    "black_litterman": {"window": 40, "views": "A=0.3"},
}

CROSS_ASSET = [
    n for n, m in catalog()["module"].items() if m == "port_alloc" and get(n).kind == "cross_asset"
]


def test_every_cross_asset_metric_of_the_family_has_fast_test_parameters() -> None:
    assert sorted(FAST) == sorted(CROSS_ASSET)


def market_of_four(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 0.01, n)
    return wide({s: common * rng.uniform(0.5, 1.5) + rng.normal(0.0, 0.01, n) for s in "ABCD"})


@pytest.mark.parametrize("name", sorted(FAST))
def test_no_look_ahead_values_up_to_t_do_not_change_when_later_rows_arrive(name: str) -> None:
    data = market_of_four(24 * 4, seed=15)
    full = compute(name, data, **FAST[name])
    warmup = get(name).warmup_bars(**FAST[name])
    assert full.iloc[warmup:].notna().any().any()
    for t in sorted(p for p in {warmup, 47, 48, 49, 72, 73, len(data) - 2} if p >= warmup):
        cut = compute(name, data.iloc[: t + 1], **FAST[name])
        pd.testing.assert_frame_equal(cut, full.iloc[: t + 1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in sorted(FAST) if "refit_every" in get(n).params])
def test_rebalances_do_not_depend_on_where_the_series_starts(name: str) -> None:
    data = market_of_four(24 * 4, seed=16)
    full = compute(name, data, **FAST[name])
    late = compute(name, data.iloc[5:], **FAST[name])
    common = late.dropna(how="all").index
    assert len(common) >= 48
    pd.testing.assert_frame_equal(late.loc[common], full.loc[common], rtol=1e-9)
