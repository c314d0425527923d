"""Family B (volatility & regime): reference implementations and planted signals."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from quant_assets.metrics import compute
from quant_assets.metrics.volatility import _dfa_scales, _fit_garch
from quant_assets_tests.metrics.signals import (
    fgn_davies_harte,
    frame,
    garch_path,
    random_bars,
    two_regime_returns,
)


def prices_from_returns(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    """Closes whose log returns are ``returns`` (one more close than returns)."""
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


@pytest.fixture(params=["talib", "numpy"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with TA-Lib as the engine of the classical metrics, then with
    their numpy implementations (forced as in production: TA-Lib reporting a
    non-default compatibility setting)."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "numpy":
            patch.setattr(talib, "get_compatibility", lambda: 1)
        yield request.param


def compute_numpy(name: str, data: pd.DataFrame, **params: object) -> pd.Series | pd.DataFrame:
    """``compute`` with the numpy engine of the classical metrics."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(talib, "get_compatibility", lambda: 1)
        return compute(name, data, **params)


def sample_vol(close: np.ndarray, window: int, periods: float = 8760.0) -> np.ndarray:
    """Two-pass sample deviation of every trailing window of log returns, annualized."""
    out = np.full(len(close), np.nan)
    returns = np.diff(np.log(close))
    out[window:] = sliding_window_view(returns, window).std(axis=1, ddof=1) * math.sqrt(periods)
    return out


# --------------------------------------------------------------------------- historical volatility


def test_hist_vol_of_hourly_gbm_recovers_the_annual_sigma_with_8760_periods() -> None:
    rng = np.random.default_rng(0)
    sigma = 0.80
    returns = rng.normal(0.0, sigma / math.sqrt(8760), 20_000)
    vol = compute("hist_vol", frame(prices_from_returns(returns)))
    assert vol.dropna().median() == pytest.approx(sigma, rel=0.03)


def test_hist_vol_annualizes_daily_bars_with_365_not_252() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0, 0.6 / math.sqrt(365), 3000)
    bars = frame(prices_from_returns(returns))
    bars.index = pd.date_range("2015-01-01", periods=len(bars), freq="D")
    vol = compute("hist_vol", bars, timeperiod=365, periods_per_year=365.0)
    assert vol.dropna().median() == pytest.approx(0.6, rel=0.05)


def test_hist_vol_is_the_sample_std_of_log_returns_times_sqrt_periods(engine: str) -> None:
    close = random_bars(100, seed=3)["close"].to_numpy()
    vol = compute("hist_vol", frame(close), timeperiod=24)
    window = np.diff(np.log(close))[-24:]
    assert vol.iloc[-1] == pytest.approx(window.std(ddof=1) * math.sqrt(8760))


@pytest.mark.parametrize("window", [2, 24, 720])
def test_hist_vol_equals_a_two_pass_deviation_of_every_window(engine: str, window: int) -> None:
    close = random_bars(20_000, seed=4, vol=0.004, price=50_000.0)["close"].to_numpy()
    vol = compute("hist_vol", frame(close), timeperiod=window).to_numpy()
    expected = sample_vol(close, window)
    np.testing.assert_array_equal(np.isnan(vol), np.isnan(expected))
    # The numpy engine's pandas rolling variance is ~1e-7 off on long series.
    rtol = 1e-9 if engine == "talib" else 1e-6
    np.testing.assert_allclose(vol[window:], expected[window:], rtol=rtol, atol=1e-10)


def test_hist_vol_of_unchanged_closes_is_exactly_zero(engine: str) -> None:
    close = random_bars(300, seed=5)["close"].to_numpy()
    close[100:200] = close[100]
    vol = compute("hist_vol", frame(close), timeperiod=24).to_numpy()
    assert (vol[124:200] == 0.0).all()
    assert (vol[200:] > 0.0).all()


def test_hist_vol_is_undefined_only_in_windows_holding_a_non_positive_close(engine: str) -> None:
    close = random_bars(200, seed=6)["close"].to_numpy()
    close[100] = 0.0  # its return and the next are undefined
    with np.errstate(divide="ignore", invalid="ignore"):
        vol = compute("hist_vol", frame(close), timeperiod=24).to_numpy()
    assert np.isnan(vol[100:125]).all()
    expected = sample_vol(close, 24)
    np.testing.assert_allclose(vol[24:100], expected[24:100], rtol=1e-6)
    np.testing.assert_allclose(vol[125:], expected[125:], rtol=1e-6)


@pytest.mark.parametrize("name", ["hist_vol", "bb_width"])
def test_the_two_engines_agree(name: str) -> None:
    bars = random_bars(5000, seed=8)
    pd.testing.assert_series_equal(compute(name, bars), compute_numpy(name, bars), rtol=1e-6)


# --------------------------------------------------------------------------- close-to-close over range vol


def _minute_bars(minute_returns: np.ndarray, per_bar: int = 60) -> pd.DataFrame:
    """Hourly OHLC bars sampled from a minute log-price path (high/low over the minutes)."""
    path = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(minute_returns))))
    bars = len(minute_returns) // per_bar
    inside = np.stack([path[k * per_bar : (k + 1) * per_bar + 1] for k in range(bars)])
    return frame(inside[:, -1], high=inside.max(axis=1), low=inside.min(axis=1))


def test_close_range_vol_ratio_is_the_square_root_of_summed_variances() -> None:
    bars = random_bars(400, seed=3)
    ratio = compute("close_range_vol_ratio", bars, timeperiod=24).to_numpy()
    returns2 = np.diff(np.log(bars["close"].to_numpy())) ** 2
    parkinson = np.log(bars["high"].to_numpy() / bars["low"].to_numpy()) ** 2 / (4 * math.log(2))
    expected = np.full(400, np.nan)
    for t in range(24, 400):
        expected[t] = math.sqrt(returns2[t - 24 : t].sum() / parkinson[t - 23 : t + 1].sum())
    np.testing.assert_allclose(ratio, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(ratio[:24]).all()


def test_close_range_vol_ratio_of_a_random_walk_is_parkinsons_discrete_sampling_bias() -> None:
    """A Brownian path sampled 60 times a bar: Parkinson reads about 0.91 of the true
    volatility (METRICS_REFERENCE: 0.737 against 0.81), so the ratio sits near 1.1."""
    rng = np.random.default_rng(11)
    bars = _minute_bars(rng.normal(0.0, 0.001, 60 * 4000))
    ratio = compute("close_range_vol_ratio", bars, timeperiod=500).dropna()
    assert ratio.median() == pytest.approx(1.1, abs=0.04)


def test_close_range_vol_ratio_rises_when_closes_reverse_between_bars() -> None:
    """Mean-reverting noise added to the closes (and carried by the next bar's range) adds
    close-to-close variance that the bars' own ranges do not show: the choppy half reads higher."""
    rng = np.random.default_rng(12)
    minutes = rng.normal(0.0, 0.001, 60 * 4000)
    jumps = np.zeros_like(minutes)
    bounce = 0.01 * rng.choice([-1.0, 1.0], 2000)
    jumps[60 * 2000 :: 60][: 2000] = np.concatenate(([bounce[0]], np.diff(bounce)))[:2000]
    bars = _minute_bars(minutes + jumps)
    ratio = compute("close_range_vol_ratio", bars, timeperiod=48)
    assert ratio.iloc[2100:].median() > 1.15 * ratio.iloc[100:2000].median()


def test_close_range_vol_ratio_rejects_a_high_below_the_low() -> None:
    bars = random_bars(100, seed=4)
    bars.iloc[50, bars.columns.get_loc("high")] = bars["low"].iloc[50] * 0.99
    with pytest.raises(ValueError, match=r"close_range_vol_ratio.*'high'.*>= 'low'"):
        compute("close_range_vol_ratio", bars)


# --------------------------------------------------------------------------- Bollinger width


def test_bb_width_is_the_bbands_width_column_and_triples_with_volatility(engine: str) -> None:
    rng = np.random.default_rng(2)
    close = 100.0 + np.r_[rng.normal(0, 1, 5000), rng.normal(0, 3, 5000)]
    bars = frame(close)
    width = compute("bb_width", bars)
    pd.testing.assert_series_equal(width, compute("bbands", bars)["bb_width"])
    ratio = width.iloc[5500:].median() / width.iloc[100:5000].median()
    assert ratio == pytest.approx(3.0, rel=0.05)


# --------------------------------------------------------------------------- variance ratio


@pytest.mark.parametrize("lag", [2, 4, 24])
def test_variance_ratio_equals_arch_on_every_window(lag: int) -> None:
    from arch.unitroot import VarianceRatio

    close = random_bars(1500, seed=4)["close"].to_numpy()
    result = compute("variance_ratio", frame(close), timeperiod=400, lag=lag)
    for t in (400, 777, 1499):
        test = VarianceRatio(
            np.log(close[t - 400 : t + 1]),
            lags=lag,
            trend="c",
            debiased=True,
            robust=True,
            overlap=True,
        )
        assert result["variance_ratio"].iloc[t] == pytest.approx(test.vr, rel=1e-9)
        assert result["variance_ratio_z"].iloc[t] == pytest.approx(test.stat, rel=1e-8)


def ar1_returns(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    eps = rng.normal(0.0, 0.01, n)
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], eps)


def test_variance_ratio_separates_random_walk_trending_and_mean_reverting_returns() -> None:
    n = 4000
    walk = compute("variance_ratio", frame(prices_from_returns(ar1_returns(0.0, n, 5))))
    trend = compute("variance_ratio", frame(prices_from_returns(ar1_returns(0.2, n, 5))))
    revert = compute("variance_ratio", frame(prices_from_returns(ar1_returns(-0.2, n, 5))))
    assert walk["variance_ratio"].median() == pytest.approx(1.0, abs=0.05)
    assert walk["variance_ratio_z"].abs().median() < 1.0
    assert trend["variance_ratio"].median() == pytest.approx(1.2, abs=0.05)
    assert (trend["variance_ratio_z"].dropna() > 2.0).mean() > 0.9
    assert revert["variance_ratio"].median() == pytest.approx(0.8, abs=0.05)
    assert (revert["variance_ratio_z"].dropna() < -2.0).mean() > 0.9


# --------------------------------------------------------------------------- REI


def rei_by_definition(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """DeMark's REI written bar by bar, exactly as in the metric's docstring."""
    out = np.full(len(close), np.nan)
    for t in range(8 + n - 1, len(close)):
        num = den = 0.0
        for i in range(t - n + 1, t + 1):
            c1 = (high[i] >= low[i - 5] or high[i] >= low[i - 6]) and (
                low[i] <= high[i - 5] or low[i] <= high[i - 6]
            )
            c2 = (high[i - 2] >= close[i - 7] or high[i - 2] >= close[i - 8]) and (
                low[i - 2] <= close[i - 7] or low[i - 2] <= close[i - 8]
            )
            d = (high[i] - high[i - 2]) + (low[i] - low[i - 2])
            num += d if (c1 or c2) else 0.0
            den += abs(high[i] - high[i - 2]) + abs(low[i] - low[i - 2])
        out[t] = 100.0 * num / den if den else np.nan
    return out


def test_range_expansion_index_matches_the_definition_bar_by_bar() -> None:
    bars = random_bars(300, seed=6)
    ours = compute("range_expansion_index", bars, timeperiod=8).to_numpy()
    expected = rei_by_definition(*(bars[c].to_numpy() for c in ("high", "low", "close")), 8)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, equal_nan=True)


def test_range_expansion_index_of_an_overlapping_uptrend_is_plus_100() -> None:
    close = 100.0 + 0.2 * np.arange(100)
    rei = compute("range_expansion_index", frame(close, high=close + 1.0, low=close - 1.0))
    assert rei.dropna().to_numpy() == pytest.approx(100.0)


def test_range_expansion_index_of_a_zigzag_stays_within_bounds() -> None:
    close = 100.0 + 5.0 * np.tile([0.0, 1.0, 0.5, 1.5, 0.2], 60)
    rei = compute("range_expansion_index", frame(close, high=close + 0.3, low=close - 0.3))
    assert rei.dropna().between(-100.0, 100.0).all()


# --------------------------------------------------------------------------- GARCH


def test_garch_fit_recovers_planted_parameters() -> None:
    returns, _ = garch_path(8760, omega=0.05, alpha=0.08, beta=0.90, seed=11)
    scaled = returns / returns.std()
    params = _fit_garch(scaled, "normal")
    assert params["alpha[1]"] == pytest.approx(0.08, abs=0.03)
    assert params["beta[1]"] == pytest.approx(0.90, abs=0.03)
    long_run = params["omega"] / (1 - params["alpha[1]"] - params["beta[1]"])
    assert long_run == pytest.approx(1.0, rel=0.15)  # unit variance after scaling


def test_garch_vol_tracks_the_true_conditional_volatility_of_a_planted_path() -> None:
    omega, alpha, beta = 0.05, 0.08, 0.90
    returns, sigma2 = garch_path(3400, omega, alpha, beta, seed=12)
    close = prices_from_returns(returns / 100.0)
    vol = compute("garch_vol", frame(close), window=2500, refit_every="7D").to_numpy()
    # Bar t holds the forecast of the next return's volatility, σ_{t+1}.
    true_next = np.sqrt(omega + alpha * returns**2 + beta * sigma2) / 100.0 * math.sqrt(8760)
    valid = ~np.isnan(vol[1:])
    log_ratio = np.log(vol[1:][valid] / true_next[valid])
    assert valid.sum() > 600
    assert np.median(np.abs(log_ratio)) < 0.1


def test_garch_vol_refits_only_at_calendar_boundaries() -> None:
    bars = random_bars(1000, seed=13)
    vol = compute("garch_vol", bars, window=400, refit_every="1D")
    first = vol.first_valid_index()
    assert first == first.floor("1D")  # the first value is at a day's first bar
    assert bars.index.get_loc(first) >= 401


# --------------------------------------------------------------------------- entropy


def permutation_entropy(x: np.ndarray, order: int) -> float:
    """Normalized permutation entropy of one sequence, written out directly."""
    counts = dict.fromkeys(itertools.permutations(range(order)), 0)
    for i in range(len(x) - order + 1):
        counts[tuple(np.argsort(x[i : i + order], kind="stable"))] += 1
    p = np.array([c for c in counts.values() if c]) / (len(x) - order + 1)
    return float(-(p * np.log(p)).sum() / math.log(math.factorial(order)))


@pytest.mark.parametrize("order", [3, 4])
def test_entropy_equals_the_direct_permutation_entropy_of_the_trailing_window(order: int) -> None:
    close = random_bars(600, seed=15)["close"].to_numpy()
    ent = compute("entropy", frame(close), timeperiod=200, order=order)
    returns = np.diff(np.log(close))
    for t in (ent.first_valid_index(), ent.index[-1]):
        i = ent.index.get_loc(t)
        window = returns[i - 200 - order + 1 : i]  # returns of bars i-200-order+2 .. i
        assert ent.iloc[i] == pytest.approx(permutation_entropy(window, order), rel=1e-12)


def test_entropy_is_one_for_noise_low_for_a_sine_and_zero_for_a_monotone_pattern() -> None:
    rng = np.random.default_rng(16)
    noise = compute("entropy", frame(prices_from_returns(rng.normal(0, 0.01, 3000))))
    t = np.arange(3000)
    # Noise well below the bar-to-bar change of the sine's returns, so their
    # ordering is the sine's own.
    sine = compute("entropy", frame(100 + np.sin(2 * np.pi * t / 50) + 1e-3 * rng.normal(size=3000)))
    convex = compute("entropy", frame(100 * np.exp(1e-6 * t**2)))
    assert noise.dropna().median() > 0.98
    assert sine.dropna().median() < 0.7
    assert convex.dropna().to_numpy() == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- Hurst (DFA)


def dfa_direct(returns: np.ndarray, scales: np.ndarray) -> float:
    """DFA-1 on one window with boxes aligned to its end, using numpy.polyfit."""
    profile = np.cumsum(returns - returns.mean())
    fluctuation = []
    for s in scales:
        boxes = [profile[len(profile) - (k + 1) * s : len(profile) - k * s] for k in range(len(profile) // s)]
        u = np.arange(s)
        rss = [np.mean((b - np.polyval(np.polyfit(u, b, 1), u)) ** 2) for b in boxes]
        fluctuation.append(np.sqrt(np.mean(rss)))
    return float(np.polyfit(np.log(scales), np.log(fluctuation), 1)[0])


def test_hurst_equals_a_direct_dfa_of_each_trailing_window() -> None:
    close = prices_from_returns(0.01 * fgn_davies_harte(2000, 0.6, seed=1))
    h = compute("hurst", frame(close), timeperiod=720)
    returns = np.diff(np.log(close))
    scales = _dfa_scales(720, 10, 10)
    for t in (720, 1500, 2000):
        assert h.iloc[t] == pytest.approx(dfa_direct(returns[t - 720 : t], scales), rel=1e-9)


@pytest.mark.parametrize("true_h", [0.3, 0.5, 0.7])
def test_hurst_recovers_the_exponent_of_fractional_gaussian_noise(true_h: float) -> None:
    estimates = []
    for seed in range(3):
        close = prices_from_returns(0.01 * fgn_davies_harte(6000, true_h, seed))
        h = compute("hurst", frame(close), timeperiod=2000)
        estimates += [h.iloc[2000], h.iloc[4000], h.iloc[6000]]  # disjoint windows
    assert np.mean(estimates) == pytest.approx(true_h, abs=0.05)


# --------------------------------------------------------------------------- Markov switching


def test_regime_switching_finds_the_planted_high_volatility_regime() -> None:
    returns, states = two_regime_returns(1700, sigmas=(0.005, 0.02), stay=(0.99, 0.98), seed=3)
    close = prices_from_returns(returns)
    result = compute("regime_switching", frame(close), window=1000, refit_every="7D")
    valid = result["regime_high_vol"].notna().to_numpy()
    bar_states = np.r_[0, states]  # close i carries return i-1
    accuracy = (result["regime_high_vol"].to_numpy()[valid] == bar_states[valid]).mean()
    assert valid.sum() > 500
    assert accuracy > 0.9
