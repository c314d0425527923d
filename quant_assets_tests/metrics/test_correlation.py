"""Family E (correlation & lead-lag): references, planted signals, causality, validation."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, catalog, compute, get
from quant_assets.metrics.correlation import dtw_banded
from quant_assets_tests.metrics.signals import hourly_index


def wide(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A wide frame of returns on an hourly index starting at midnight."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=hourly_index(n))


def noise(n: int, seed: int, k: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return wide({name: rng.normal(0.0, 0.01, n) for name in "ABCDE"[:k]})


def lagged_pair(n: int, lag: int, seed: int, *, weight: float = 0.8) -> pd.DataFrame:
    """``L`` leads ``F`` by ``lag`` bars: ``F_t = w L_{t-lag} + sqrt(1 - w²) e_t``."""
    rng = np.random.default_rng(seed)
    leader = rng.normal(0.0, 0.01, n + lag)
    follower = weight * leader[:n] + np.sqrt(1.0 - weight**2) * rng.normal(0.0, 0.01, n)
    return wide({"L": leader[lag:], "F": follower})


# --------------------------------------------------------------------------- result layout


def test_pairwise_results_are_indexed_like_data_with_output_x_y_columns() -> None:
    data = noise(60, seed=0)
    corr = compute("pearson_corr", data, timeperiod=10)
    assert corr.index.equals(data.index)
    assert corr.columns.names == ["output", "x", "y"]
    assert list(corr["pearson_corr"].columns) == [("A", "B"), ("A", "C"), ("B", "C")]
    assert list(compute("beta", data, timeperiod=10)["beta"].columns) == [
        ("A", "B"), ("A", "C"), ("B", "A"), ("B", "C"), ("C", "A"), ("C", "B"),
    ]  # fmt: skip
    assert list(compute("rolling_cov", data, timeperiod=10)["rolling_cov"].columns) == [
        ("A", "A"), ("A", "B"), ("A", "C"), ("B", "B"), ("B", "C"), ("C", "C"),
    ]  # fmt: skip
    assert (corr.dtypes == np.float64).all()


def test_cca_is_an_aggregate_series_named_after_its_output() -> None:
    data = noise(24 * 3, seed=1)
    result = compute("cca", data, window=40)
    assert isinstance(result, pd.Series)
    assert result.name == "cca_corr"
    assert result.index.equals(data.index)


# --------------------------------------------------------------------------- rolling statistics


def test_pearson_corr_and_rolling_cov_match_pandas_rolling_for_every_pair() -> None:
    data = noise(300, seed=2)
    corr = compute("pearson_corr", data, timeperiod=50)["pearson_corr"]
    cov = compute("rolling_cov", data, timeperiod=50)["rolling_cov"]
    for x, y in [("A", "B"), ("A", "C"), ("B", "C")]:
        expected = data[x].rolling(50).corr(data[y])
        pd.testing.assert_series_equal(corr[(x, y)], expected, check_names=False, rtol=1e-9)
    for x, y in cov.columns:
        expected = data[x].rolling(50).cov(data[y])
        pd.testing.assert_series_equal(cov[(x, y)], expected, check_names=False, rtol=1e-9, atol=1e-18)


def test_pearson_corr_recovers_a_planted_correlation() -> None:
    rng = np.random.default_rng(3)
    a, e = rng.normal(size=(2, 4000))
    data = wide({"A": a, "B": 0.6 * a + 0.8 * e})
    corr = compute("pearson_corr", data, timeperiod=2000)["pearson_corr"][("A", "B")]
    assert corr.iloc[-1] == pytest.approx(0.6, abs=0.03)


def test_beta_recovers_a_planted_beta_and_is_the_ols_slope() -> None:
    rng = np.random.default_rng(4)
    market = rng.normal(0.0, 0.01, 3000)
    data = wide({"M": market, "X": 1.5 * market + rng.normal(0.0, 0.005, 3000)})
    beta = compute("beta", data, timeperiod=2000)["beta"]
    assert beta[("M", "X")].iloc[-1] == pytest.approx(1.5, abs=0.03)
    window = data.iloc[-2000:]
    assert beta[("M", "X")].iloc[-1] == pytest.approx(np.polyfit(window["M"], window["X"], 1)[0], rel=1e-9)
    assert beta[("X", "M")].iloc[-1] == pytest.approx(np.polyfit(window["X"], window["M"], 1)[0], rel=1e-9)


def test_partial_corr_removes_a_common_factor() -> None:
    rng = np.random.default_rng(5)
    factor, e1, e2 = rng.normal(size=(3, 3000))
    data = wide({"A": factor + e1, "B": factor + e2, "F": factor})
    pearson = compute("pearson_corr", data, timeperiod=2000)["pearson_corr"][("A", "B")].iloc[-1]
    partial = compute("partial_corr", data, timeperiod=2000)["partial_corr"]
    assert pearson == pytest.approx(0.5, abs=0.05)
    assert abs(partial[("A", "B")].iloc[-1]) < 3 / np.sqrt(2000)  # three standard errors of zero

    # Reference: the correlation of the residuals of A and B regressed on F.
    window = data.iloc[-2000:]
    design = np.column_stack((np.ones(2000), window["F"]))
    residuals = [window[c] - design @ np.linalg.lstsq(design, window[c], rcond=None)[0] for c in "AB"]
    assert partial[("A", "B")].iloc[-1] == pytest.approx(np.corrcoef(*residuals)[0, 1], abs=1e-10)


def test_partial_corr_of_two_symbols_is_their_pearson_corr() -> None:
    data = noise(200, seed=6, k=2)
    partial = compute("partial_corr", data, timeperiod=40)["partial_corr"]
    pearson = compute("pearson_corr", data, timeperiod=40)["pearson_corr"]
    pd.testing.assert_frame_equal(partial, pearson, rtol=1e-9)


def test_statistics_of_a_symbol_that_does_not_move_are_nan_not_zero() -> None:
    data = noise(120, seed=7).assign(C=0.0)
    data.iloc[:20, data.columns.get_loc("C")] = 0.01  # C stops moving after bar 19
    corr = compute("pearson_corr", data, timeperiod=30)["pearson_corr"]
    assert corr[("A", "C")].iloc[49:].isna().all()
    assert corr[("A", "B")].iloc[29:].notna().all()
    assert compute("partial_corr", data, timeperiod=30)["partial_corr"].iloc[49:].isna().all().all()


def test_partial_corr_is_nan_when_the_controls_are_collinear() -> None:
    data = noise(100, seed=8)
    data["D"] = data["A"] + data["B"]
    partial = compute("partial_corr", data, timeperiod=30)["partial_corr"]
    assert partial.iloc[29:].isna().all().all()


# --------------------------------------------------------------------------- lead-lag


def test_lead_lag_recovers_the_leader_and_the_lag() -> None:
    data = lagged_pair(600, lag=3, seed=9)
    result = compute("lead_lag", data, timeperiod=200, max_lag=6)
    valid = result.iloc[205:]
    assert (valid[("lead_lag", "L", "F")] == 3).all()
    assert valid[("lead_lag_corr", "L", "F")].median() == pytest.approx(0.8, abs=0.05)
    reversed_order = compute("lead_lag", data[["F", "L"]], timeperiod=200, max_lag=6)
    assert (reversed_order[("lead_lag", "F", "L")].iloc[205:] == -3).all()


def test_lead_lag_correlation_is_the_trailing_cross_correlation_at_the_lag() -> None:
    data = lagged_pair(400, lag=2, seed=10)
    result = compute("lead_lag", data, timeperiod=100, max_lag=4)
    leader, follower = data["L"].to_numpy(), data["F"].to_numpy()
    t = 399
    expected = np.corrcoef(leader[t - 99 - 2 : t - 2 + 1], follower[t - 99 : t + 1])[0, 1]
    assert result[("lead_lag_corr", "L", "F")].iloc[t] == pytest.approx(expected, rel=1e-9)
    assert result.iloc[:103].isna().all().all()
    assert result.iloc[103].notna().all()


# --------------------------------------------------------------------------- Granger causality


def test_granger_finds_the_leader_and_equals_statsmodels_ssr_f_test() -> None:
    from statsmodels.tsa.stattools import grangercausalitytests

    data = lagged_pair(24 * 8, lag=1, seed=11, weight=0.5)
    data["N"] = np.random.default_rng(12).normal(0.0, 0.01, len(data))
    result = compute("granger", data, window=120, lags=2)["granger_pvalue"]
    day_start = 144  # 2024-01-07 00:00, the second refit bar: it tests rows 24 .. 143
    row = result.iloc[day_start]
    assert row[("L", "F")] < 1e-6
    assert row[("F", "L")] > 0.01
    for x, y in result.columns:
        window = data[[y, x]].iloc[day_start - 120 : day_start].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # statsmodels' verbose deprecation
            expected = grangercausalitytests(window, maxlag=[2])[2][0]["ssr_ftest"][1]
        assert row[(x, y)] == pytest.approx(expected, rel=1e-8, abs=1e-300)
    # Held until the next refit, NaN before the first refit with a full window.
    assert (result.iloc[day_start : day_start + 24] == row).all().all()
    assert result.iloc[:120].isna().all().all()  # first refit: 2024-01-06 00:00, bar 120
    assert result.iloc[120].notna().all()


def test_granger_with_a_symbol_that_does_not_move_is_nan_for_its_pairs_only() -> None:
    data = lagged_pair(24 * 3, lag=1, seed=26).assign(Z=0.0)
    row = compute("granger", data, window=40, lags=2)["granger_pvalue"].iloc[48]
    assert row[[("Z", "L"), ("Z", "F"), ("L", "Z"), ("F", "Z")]].isna().all()
    assert row[[("L", "F"), ("F", "L")]].notna().all()


# --------------------------------------------------------------------------- dynamic time warping


def textbook_dtw(a: np.ndarray, b: np.ndarray, band: int) -> tuple[float, float]:
    """Distance and mean path offset ``j - i`` by the double loop and a backtrack."""
    m = len(a)
    cost = np.full((m + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, m + 1):
        for j in range(max(1, i - band), min(m, i + band) + 1):
            cost[i, j] = (a[i - 1] - b[j - 1]) ** 2 + min(cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1])
    i, j, offsets = m, m, []
    while (i, j) != (0, 0):
        offsets.append(j - i)
        moves = [(cost[i - 1, j - 1], i - 1, j - 1), (cost[i - 1, j], i - 1, j), (cost[i, j - 1], i, j - 1)]
        _, i, j = min(moves, key=lambda move: move[0])
    return float(np.sqrt(cost[m, m])), float(np.mean(offsets))


def test_dtw_distance_and_path_offset_match_a_textbook_double_loop() -> None:
    rng = np.random.default_rng(13)
    a = rng.normal(size=(5, 30)).cumsum(axis=1)
    b = rng.normal(size=(5, 30)).cumsum(axis=1)
    b[0] = a[0, np.r_[0, 0, 0, np.arange(27)]]  # a shifted by 3: a leads b
    distance, lag = dtw_banded(a, b, band=4)
    for r in range(5):
        expected_distance, expected_lag = textbook_dtw(a[r], b[r], 4)
        assert distance[r] == pytest.approx(expected_distance, rel=1e-12, abs=1e-12)
        assert lag[r] == pytest.approx(expected_lag, rel=1e-12)
    assert lag[0] > 2.0
    same, offset = dtw_banded(a, a.copy(), band=4)
    assert np.all(same == 0.0) and np.all(offset == 0.0)


def test_dtw_recovers_the_leader_and_the_lag() -> None:
    data = lagged_pair(24 * 5, lag=4, seed=15, weight=0.98)
    result = compute("dtw", data, window=72, band=10)
    row = result.iloc[96]  # refit at 2024-01-05 00:00 on rows 24 .. 95
    assert row[("dtw_lag", "L", "F")] == pytest.approx(4.0, abs=0.5)
    reversed_order = compute("dtw", data[["F", "L"]], window=72, band=10).iloc[96]
    assert reversed_order[("dtw_lag", "F", "L")] == pytest.approx(-4.0, abs=0.5)
    assert row[("dtw_distance", "L", "F")] == pytest.approx(reversed_order[("dtw_distance", "F", "L")])
    unrelated = noise(24 * 5, seed=16, k=2)
    assert (
        compute("dtw", unrelated, window=72, band=10).iloc[96][("dtw_distance", "A", "B")]
        > 2 * row[("dtw_distance", "L", "F")]
    )


# --------------------------------------------------------------------------- CCA and VAR


def canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Singular values of ``Sxx^{-1/2} Sxy Syy^{-1/2}`` (Hotelling's definition)."""

    def inverse_sqrt(s: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh(s)
        return vectors @ np.diag(values**-0.5) @ vectors.T

    joint = np.cov(np.hstack((x, y)), rowvar=False)
    k = x.shape[1]
    core = inverse_sqrt(joint[:k, :k]) @ joint[:k, k:] @ inverse_sqrt(joint[k:, k:])
    return np.linalg.svd(core, compute_uv=False)


def test_cca_recovers_a_planted_canonical_correlation_and_matches_linear_algebra() -> None:
    rng = np.random.default_rng(17)
    n = 24 * 14
    b, c, e = rng.normal(size=(3, n + 1))
    a = 0.8 * b[:-1] + 0.6 * e[1:]  # a_t = 0.8 b_{t-1} + 0.6 e_t: corr(a_t, b_{t-1}) = 0.8
    data = wide({"A": a, "B": b[1:], "C": c[1:]})
    result = compute("cca", data, window=300, lag=1)
    rows = data.to_numpy()[312 - 300 : 312]
    expected = canonical_correlations(rows[:-1], rows[1:])[0]
    assert result.iloc[312] == pytest.approx(expected, abs=1e-6)
    assert result.iloc[312] == pytest.approx(0.8, abs=0.05)
    assert result.iloc[:312].isna().all()


def test_var_model_attributes_the_followers_variance_to_the_leader() -> None:
    from statsmodels.tsa.api import VAR

    rng = np.random.default_rng(18)
    n = 24 * 14
    leader = rng.normal(0.0, 0.01, n + 1)
    follower = 0.7 * leader[:-1] + 0.5 * rng.normal(0.0, 0.01, n)
    data = wide({"L": leader[1:], "F": follower, "N": rng.normal(0.0, 0.01, n)})
    result = compute("var_model", data, window=300, maxlags=3, ic="bic", horizon=6)
    row = result.iloc[312]
    assert row[("var_lag_order", "L", "F")] == 1
    # F's variance: 0.49 from L's lagged shock, 0.25 own: share 0.49/0.74 ≈ 0.66.
    assert row[("var_fevd", "L", "F")] == pytest.approx(0.49 / 0.74, abs=0.08)
    assert row[("var_fevd", "F", "L")] < 0.05
    assert row["var_fevd"].groupby(level="y").sum().to_numpy() == pytest.approx(np.ones(3))
    fit = VAR(data.to_numpy()[12:312]).fit(1)
    decomposition = fit.fevd(6).decomp[:, 5, :]
    responses = fit.irf(6).orth_cum_effects[6]
    for i, x in enumerate("LFN"):
        for j, y in enumerate("LFN"):
            assert row[("var_fevd", x, y)] == pytest.approx(decomposition[j, i], rel=1e-10)
            assert row[("var_irf", x, y)] == pytest.approx(responses[j, i], rel=1e-10, abs=1e-15)


# --------------------------------------------------------------------------- causality


#: Small windows so every metric has several refits in a few days of bars.
FAST: dict[str, dict[str, Any]] = {
    "pearson_corr": {"timeperiod": 30},
    "rolling_cov": {"timeperiod": 30},
    "beta": {"timeperiod": 30},
    "partial_corr": {"timeperiod": 30},
    "lead_lag": {"timeperiod": 30, "max_lag": 3},
    "granger": {"window": 40, "lags": 2},
    "dtw": {"window": 30, "band": 5},
    "cca": {"window": 40},
    "var_model": {"window": 50, "maxlags": 2, "horizon": 4},
}

CORR_LEAD = [name for name, module in catalog()["module"].items() if module == "corr_lead"]


def test_every_cross_asset_metric_of_the_family_has_fast_test_parameters() -> None:
    assert sorted(FAST) == sorted(CORR_LEAD)
    assert all(get(name).kind == "cross_asset" for name in CORR_LEAD)


def as_frame(result: pd.Series | pd.DataFrame) -> pd.DataFrame:
    return result.to_frame() if isinstance(result, pd.Series) else result


@pytest.mark.parametrize("name", sorted(FAST))
def test_no_look_ahead_values_up_to_t_do_not_change_when_later_rows_arrive(name: str) -> None:
    data = lagged_pair(24 * 4, lag=2, seed=19)
    data["N"] = np.random.default_rng(20).normal(0.0, 0.01, len(data))
    full = as_frame(compute(name, data, **FAST[name]))
    warmup = get(name).warmup_bars(**FAST[name])
    assert full.iloc[warmup:].notna().any().any()
    for t in sorted(p for p in {warmup, 47, 48, 49, 72, 73, len(data) - 2} if p >= warmup):
        cut = as_frame(compute(name, data.iloc[: t + 1], **FAST[name]))
        pd.testing.assert_frame_equal(cut, full.iloc[: t + 1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in sorted(FAST) if "refit_every" in get(n).params])
def test_scheduled_refits_do_not_depend_on_where_the_series_starts(name: str) -> None:
    data = lagged_pair(24 * 4, lag=2, seed=21)
    data["N"] = np.random.default_rng(22).normal(0.0, 0.01, len(data))
    full = as_frame(compute(name, data, **FAST[name]))
    late = as_frame(compute(name, data.iloc[5:], **FAST[name]))
    common = late.dropna(how="all").index
    assert len(common) >= 24
    pd.testing.assert_frame_equal(late.loc[common], full.loc[common], rtol=1e-9)


# --------------------------------------------------------------------------- validation


def test_a_single_symbol_is_not_a_cross_section() -> None:
    with pytest.raises(MetricInputError) as excinfo:
        compute("pearson_corr", noise(50, seed=23, k=1), timeperiod=10)
    assert str(excinfo.value) == (
        "pearson_corr: argument 'data' needs at least 2 columns (one per symbol) "
        "for a cross-asset metric (got 1)"
    )


def test_missing_returns_are_reported_with_the_symbol_and_time() -> None:
    data = noise(50, seed=24)
    data.iloc[7, 1] = np.nan
    with pytest.raises(
        MetricInputError,
        match=r"^granger: column 'B' has 1 missing or infinite values \(first at 2024-01-01 07:00:00\)",
    ):
        compute("granger", data, window=30, lags=2)


def test_parameter_rules_of_the_family_name_the_parameter_and_the_bound() -> None:
    data = noise(100, seed=25)
    with pytest.raises(MetricInputError, match=r"^granger: parameter 'window' must be >= 3\*lags \+ 10 = 22"):
        compute("granger", data, window=20, lags=4)
    with pytest.raises(
        MetricInputError, match=r"^dtw: parameter 'band' must lie in \[1, window\) = \[1, 30\)"
    ):
        compute("dtw", data, window=30, band=30)
    with pytest.raises(MetricInputError, match=r"^var_model: parameter 'ic' must be one of 'aic'"):
        compute("var_model", data, ic="sic")
    with pytest.raises(MetricInputError, match=r"^cca: parameter 'refit_every' must be"):
        compute("cca", data, window=40, refit_every="daily")
    with pytest.raises(
        MetricInputError, match=r"^lead_lag: argument 'data' has 100 rows, needs at least 104"
    ):
        compute("lead_lag", data, timeperiod=100, max_lag=4)
