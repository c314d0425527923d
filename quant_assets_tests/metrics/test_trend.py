"""Family A (trend & momentum): TA-Lib agreement, independent references and planted signals.

The classical indicators have two engines: TA-Lib, with this library's
deviations applied on top, and a vectorized numpy implementation that serves
what TA-Lib cannot (periods above 100,000 bars, changed TA-Lib global
settings, degenerate series). The ``engine`` fixture runs a test under each:
the numpy engine is forced the way production forces it, by TA-Lib reporting a
non-default compatibility setting. The numpy engine is then checked against
TA-Lib, the two engines against each other on ordinary and degenerate series,
and both against the bar-by-bar references below, written straight from
Wilder's definitions, for the rules where this library deviates from TA-Lib.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import pywt
from numpy.lib.stride_tricks import sliding_window_view

from quant_assets.metrics import compute
from quant_assets_tests.metrics.signals import frame, random_bars

talib = pytest.importorskip("talib")

RTOL = 1e-6
CLASSICAL = ("sma", "ema", "rsi", "stoch_rsi", "macd", "bbands", "atr", "adx", "momentum")


def assert_matches_talib(ours: pd.Series, reference: np.ndarray, *, atol: float = 1e-9) -> None:
    """Same NaN warm-up as TA-Lib, then equal to 1e-6 relative."""
    ours_values = ours.to_numpy()
    np.testing.assert_array_equal(np.isnan(ours_values), np.isnan(reference))
    valid = ~np.isnan(reference)
    np.testing.assert_allclose(ours_values[valid], reference[valid], rtol=RTOL, atol=atol)


def assert_same(ours: pd.Series | np.ndarray, reference: np.ndarray, *, rtol: float = 1e-9) -> None:
    """Same NaN positions, then equal to ``rtol`` relative (1e-9 absolute)."""
    ours_values = np.asarray(ours, dtype=float)
    np.testing.assert_array_equal(np.isnan(ours_values), np.isnan(reference))
    valid = ~np.isnan(reference)
    np.testing.assert_allclose(ours_values[valid], reference[valid], rtol=rtol, atol=1e-9)


def compute_numpy(name: str, data: pd.DataFrame, **params: object) -> pd.Series | pd.DataFrame:
    """``compute`` with the numpy engine: TA-Lib reports Metastock compatibility."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(talib, "get_compatibility", lambda: 1)
        return compute(name, data, **params)


@pytest.fixture(params=["talib", "numpy"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with TA-Lib as the engine, then with the numpy implementations."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "numpy":
            patch.setattr(talib, "get_compatibility", lambda: 1)
        yield request.param


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(5000, seed=7)


@pytest.fixture(scope="module")
def hlc(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy()


# --------------------------------------------------------------------------- bar-by-bar references


def rsi_reference(close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI bar by bar; NaN where both averages are 0 (never moved)."""
    out = np.full(len(close), np.nan)
    delta = np.diff(close)
    gains, losses = np.maximum(delta, 0.0), np.maximum(-delta, 0.0)
    avg_gain, avg_loss = gains[:n].mean(), losses[:n].mean()
    for t in range(n, len(close)):
        if t > n:
            avg_gain = (avg_gain * (n - 1) + gains[t - 1]) / n
            avg_loss = (avg_loss * (n - 1) + losses[t - 1]) / n
        total = avg_gain + avg_loss
        out[t] = np.nan if total == 0.0 else 100.0 * avg_gain / total
    return out


def adx_reference(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Wilder's ADX/+DI/-DI bar by bar; DI 0 without range, DX 0 without movement."""
    size = len(close)
    plus_di, minus_di, adx = (np.full(size, np.nan) for _ in range(3))
    tr, plus_dm, minus_dm = np.zeros(size), np.zeros(size), np.zeros(size)
    for t in range(1, size):
        tr[t] = max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
        up, down = high[t] - high[t - 1], low[t - 1] - low[t]
        plus_dm[t] = up if up > down and up > 0 else 0.0
        minus_dm[t] = down if down > up and down > 0 else 0.0
    s_tr, s_plus, s_minus = tr[1:n].sum(), plus_dm[1:n].sum(), minus_dm[1:n].sum()
    dx_seed = []
    for t in range(n, size):
        s_tr += tr[t] - s_tr / n
        s_plus += plus_dm[t] - s_plus / n
        s_minus += minus_dm[t] - s_minus / n
        plus_di[t] = 100.0 * s_plus / s_tr if s_tr != 0.0 else 0.0
        minus_di[t] = 100.0 * s_minus / s_tr if s_tr != 0.0 else 0.0
        di_sum = plus_di[t] + minus_di[t]
        dx = 100.0 * abs(plus_di[t] - minus_di[t]) / di_sum if di_sum != 0.0 else 0.0
        if t < 2 * n - 1:
            dx_seed.append(dx)
        elif t == 2 * n - 1:
            adx[t] = (sum(dx_seed) + dx) / n
        else:
            adx[t] = (adx[t - 1] * (n - 1) + dx) / n
    return {"adx": adx, "plus_di": plus_di, "minus_di": minus_di}


def population_std(close: np.ndarray, n: int) -> np.ndarray:
    """Two-pass population standard deviation of every trailing window."""
    out = np.full(len(close), np.nan)
    out[n - 1 :] = sliding_window_view(close, n).std(axis=1)
    return out


def degenerate_series() -> Iterator[tuple[str, pd.DataFrame]]:
    """Series on which TA-Lib special-cases bars: flat stretches, a first move
    down or up, integer ties, prices far from 1, zero closes."""
    rng = np.random.default_rng(11)
    walk = 10.0 + np.cumsum(rng.normal(0.0, 0.1, 800))
    flat_start = np.r_[np.full(60, 10.0), walk]
    yield "flat start", frame(flat_start, high=flat_start + 0.05, low=flat_start - 0.05)
    yield "flat start, no range", frame(flat_start)
    ramp = np.r_[np.linspace(10.0, 20.0, 80), walk + 10.0]
    yield "rising start", frame(ramp, high=ramp + 0.05, low=ramp - 0.05)
    fall = np.r_[np.linspace(20.0, 10.0, 80), walk]
    yield "falling start", frame(fall, high=fall + 0.05, low=fall - 0.05)
    flat_middle = walk.copy()
    flat_middle[300:420] = flat_middle[300]
    half_range = np.where((np.arange(800) >= 300) & (np.arange(800) < 420), 0.0, 0.05)
    yield "flat middle", frame(flat_middle, high=flat_middle + half_range, low=flat_middle - half_range)
    long_flat = np.r_[walk[:60], np.full(1500, 9.0), walk[:300] - 1.0]
    yield "long flat", frame(long_flat, high=long_flat + 0.05, low=long_flat - 0.05)
    ties = np.round(100 + np.cumsum(rng.integers(-2, 3, 2000))).astype(float)
    yield (
        "integer ties",
        frame(ties, high=ties + rng.integers(0, 3, 2000), low=ties - rng.integers(0, 3, 2000)),
    )
    yield "sub-cent", random_bars(2000, seed=5, price=1e-6)
    yield "huge", random_bars(2000, seed=6, price=1e12)
    zeros = rng.normal(0.0, 1.0, 2000)
    zeros[rng.integers(0, 2000, 40)] = 0.0
    zeros[100:130] = 0.0
    yield "zero closes", frame(zeros, high=np.maximum(zeros, 0) + 0.5, low=np.minimum(zeros, 0) - 0.5)


DEGENERATE = dict(degenerate_series())


# --------------------------------------------------------------------------- TA-Lib agreement


def test_ordinary_bars_are_computed_by_talib_itself(bars: pd.DataFrame, hlc: tuple[np.ndarray, ...]) -> None:
    """On ordinary bars every classical indicator is TA-Lib's output, bit for bit
    (the fast path; the 1M-bar budget depends on it)."""
    high, low, close = hlc

    def same(ours: pd.Series, reference: np.ndarray) -> None:
        np.testing.assert_array_equal(ours.to_numpy(), reference)

    same(compute("sma", bars), talib.SMA(close, 30))
    same(compute("ema", bars), talib.EMA(close, 30))
    same(compute("rsi", bars), talib.RSI(close, 14))
    for column, reference in zip(
        ["macd", "macd_signal", "macd_hist"], talib.MACD(close, 12, 26, 9), strict=True
    ):
        same(compute("macd", bars)[column], reference)
    for column, reference in zip(
        ["bb_upper", "bb_middle", "bb_lower"], talib.BBANDS(close, 20, 2, 2, 0), strict=True
    ):
        same(compute("bbands", bars)[column], reference)
    same(compute("atr", bars), talib.ATR(high, low, close, 14))
    result = compute("adx", bars)
    same(result["adx"], talib.ADX(high, low, close, 14))
    same(result["plus_di"], talib.PLUS_DI(high, low, close, 14))
    same(result["minus_di"], talib.MINUS_DI(high, low, close, 14))
    same(compute("momentum", bars)["momentum"], talib.MOM(close, 10))
    same(compute("momentum", bars)["roc"], talib.ROC(close, 10))


@pytest.mark.parametrize("period", [1, 2, 14, 30, 200])
def test_sma_and_ema_match_talib(bars: pd.DataFrame, engine: str, period: int) -> None:
    close = bars["close"].to_numpy()
    assert_matches_talib(compute("sma", bars, timeperiod=period), talib.SMA(close, period))
    assert_matches_talib(compute("ema", bars, timeperiod=period), talib.EMA(close, period))


@pytest.mark.parametrize("period", [2, 14, 21])
def test_rsi_matches_talib_wilder_smoothing(bars: pd.DataFrame, engine: str, period: int) -> None:
    close = bars["close"].to_numpy()
    assert_matches_talib(compute("rsi", bars, timeperiod=period), talib.RSI(close, period))


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (2, 3, 1)])
def test_macd_matches_talib_including_its_aligned_seed(
    bars: pd.DataFrame, engine: str, fast: int, slow: int, signal: int
) -> None:
    result = compute("macd", bars, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    line, sig, hist = talib.MACD(bars["close"].to_numpy(), fast, slow, signal)
    assert_matches_talib(result["macd"], line)
    assert_matches_talib(result["macd_signal"], sig)
    assert_matches_talib(result["macd_hist"], hist, atol=1e-8)
    assert result["macd"].first_valid_index() == bars.index[slow + signal - 2]


@pytest.mark.parametrize(("period", "up", "down"), [(20, 2.0, 2.0), (5, 1.5, 2.5), (2, 0.0, 1.0)])
def test_bbands_match_talib_population_std(
    bars: pd.DataFrame, engine: str, period: int, up: float, down: float
) -> None:
    if engine == "numpy" and period == 2:
        pytest.skip("the numpy engine's pandas rolling variance is ~1e-9 off on near-equal 2-bar windows")
    result = compute("bbands", bars, timeperiod=period, nbdevup=up, nbdevdn=down)
    upper, middle, lower = talib.BBANDS(bars["close"].to_numpy(), period, up, down, 0)
    assert_matches_talib(result["bb_upper"], upper)
    assert_matches_talib(result["bb_middle"], middle)
    assert_matches_talib(result["bb_lower"], lower)
    close = bars["close"].to_numpy()
    assert_matches_talib(result["bb_width"], (upper - lower) / middle)
    assert_matches_talib(result["bb_percent_b"], (close - lower) / (upper - lower))


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib(hlc: tuple[np.ndarray, ...], bars: pd.DataFrame, engine: str, period: int) -> None:
    assert_matches_talib(compute("atr", bars, timeperiod=period), talib.ATR(*hlc, period))


@pytest.mark.parametrize("period", [2, 5, 14])
def test_adx_and_directional_indicators_match_talib(
    hlc: tuple[np.ndarray, ...], bars: pd.DataFrame, engine: str, period: int
) -> None:
    result = compute("adx", bars, timeperiod=period)
    assert_matches_talib(result["adx"], talib.ADX(*hlc, period))
    assert_matches_talib(result["plus_di"], talib.PLUS_DI(*hlc, period))
    assert_matches_talib(result["minus_di"], talib.MINUS_DI(*hlc, period))
    assert result["adx"].first_valid_index() == bars.index[2 * period - 1]


@pytest.mark.parametrize(("period", "fastk", "fastd"), [(14, 14, 3), (14, 5, 3), (9, 7, 4), (2, 2, 1)])
def test_stoch_rsi_raw_and_k_match_talib_stochrsi(
    bars: pd.DataFrame, engine: str, period: int, fastk: int, fastd: int
) -> None:
    result = compute("stoch_rsi", bars, timeperiod=period, fastk_period=fastk, k_period=fastd, d_period=3)
    raw, k = talib.STOCHRSI(bars["close"].to_numpy(), period, fastk, fastd, 0)
    assert_matches_talib(result["stoch_rsi"], raw)
    assert_matches_talib(result["stoch_rsi_k"], k)
    # %D is one more 3-bar SMA over %K, as charting platforms draw it.
    first_k = period + fastk + fastd - 2
    expected_d = talib.SMA(np.nan_to_num(k, nan=0.0), 3)
    expected_d[: first_k + 2] = np.nan
    assert_matches_talib(result["stoch_rsi_d"], expected_d)


@pytest.mark.parametrize("period", [1, 10, 24])
def test_momentum_and_roc_match_talib(bars: pd.DataFrame, engine: str, period: int) -> None:
    close = bars["close"].to_numpy()
    result = compute("momentum", bars, timeperiod=period)
    assert_matches_talib(result["momentum"], talib.MOM(close, period))
    assert_matches_talib(result["roc"], talib.ROC(close, period))


def test_classical_indicators_stay_within_1e6_of_talib_on_a_long_volatile_series(engine: str) -> None:
    bars = random_bars(200_000, seed=3, vol=0.02, price=50_000.0)
    close = bars["close"].to_numpy()
    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    assert_matches_talib(compute("ema", bars), talib.EMA(close, 30))
    assert_matches_talib(compute("rsi", bars), talib.RSI(close, 14))
    assert_matches_talib(compute("atr", bars), talib.ATR(high, low, close, 14))
    assert_matches_talib(compute("bbands", bars)["bb_upper"], talib.BBANDS(close, 20, 2, 2, 0)[0])


# --------------------------------------------------------------------------- independent references


@pytest.mark.parametrize("name", CLASSICAL)
def test_the_two_engines_agree_on_ordinary_bars(bars: pd.DataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(
        pd.DataFrame(compute(name, bars)), pd.DataFrame(compute_numpy(name, bars)), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("case", list(DEGENERATE))
@pytest.mark.parametrize("name", CLASSICAL)
def test_the_two_engines_agree_on_degenerate_series(case: str, name: str) -> None:
    """Flat stretches, ties, extreme price levels and zero closes: where TA-Lib
    special-cases a bar, the deviations (or the numpy fallback) give the numpy
    engine's values (to 1e-9; Bollinger to 1e-6, the numpy engine's pandas
    rolling variance being that far off after a long flat stretch)."""
    data = DEGENERATE[case]
    short = [{"timeperiod": 2}] if name in ("rsi", "adx") else []
    rtol = RTOL if name == "bbands" else 1e-9
    for kwargs in [{}, *short]:
        pd.testing.assert_frame_equal(
            pd.DataFrame(compute(name, data, **kwargs)),
            pd.DataFrame(compute_numpy(name, data, **kwargs)),
            rtol=rtol,
            atol=1e-9,
        )


@pytest.mark.parametrize("case", ["ordinary", *DEGENERATE])
@pytest.mark.parametrize("period", [2, 14])
def test_rsi_equals_wilders_bar_by_bar_definition(
    bars: pd.DataFrame, engine: str, case: str, period: int
) -> None:
    data = bars if case == "ordinary" else DEGENERATE[case]
    close = data["close"].to_numpy()
    assert_same(compute("rsi", data, timeperiod=period), rsi_reference(close, period))


@pytest.mark.parametrize("case", ["ordinary", *DEGENERATE])
@pytest.mark.parametrize("period", [2, 14])
def test_adx_equals_wilders_bar_by_bar_definition(
    bars: pd.DataFrame, engine: str, case: str, period: int
) -> None:
    if case == "long flat" and period == 2:
        # 1,500 bars without movement halve the DM sums to subnormal numbers and
        # then 0; DX, a ratio of two subnormals, is rounding noise on the way.
        pytest.skip("DX is a ratio of subnormal numbers here")
    data = bars if case == "ordinary" else DEGENERATE[case]
    high, low, close = (data[c].to_numpy() for c in ("high", "low", "close"))
    result = compute("adx", data, timeperiod=period)
    expected = adx_reference(high, low, close, period)
    for column in ("adx", "plus_di", "minus_di"):
        assert_same(result[column], expected[column])


def test_bbands_deviation_is_exact_on_a_long_series_at_a_high_price(engine: str) -> None:
    """Against a two-pass deviation of every window: the running sums of a long
    series at 50,000 must not lose the band width (a 4 % band is 2,000 units on
    a level of 50,000)."""
    close = random_bars(200_000, seed=3, vol=0.02, price=50_000.0)["close"].to_numpy()
    result = compute("bbands", frame(close))
    sd = population_std(close, 20)
    middle = np.r_[np.full(19, np.nan), sliding_window_view(close, 20).mean(axis=1)]
    # The numpy engine's pandas rolling variance drifts by up to 1e-4 of the width here.
    rtol = 1e-8 if engine == "talib" else 1e-3
    assert_same(result["bb_width"], 4.0 * sd / middle, rtol=rtol)


def test_bbands_collapse_on_a_flat_window_and_are_exact_near_it(engine: str) -> None:
    rng = np.random.default_rng(4)
    close = 50_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 400)))
    close[200:260] = close[200]  # flat: the deviation is exactly 0
    close[300:360] = close[300] * (1.0 + 1e-12 * rng.standard_normal(60))  # near-flat: tiny but real
    result = compute("bbands", frame(close))
    flat = slice(219, 260)
    assert (result["bb_width"].iloc[flat] == 0.0).all()
    assert result["bb_percent_b"].iloc[flat].isna().all()
    if engine == "talib":
        near = slice(319, 360)
        sd = population_std(close, 20)
        half_width = (result["bb_upper"] - result["bb_middle"]).to_numpy() / 2.0
        np.testing.assert_allclose(half_width[near], sd[near], rtol=1e-3)


def test_bbands_width_is_undefined_where_the_middle_band_is_zero() -> None:
    close = np.r_[np.full(30, 0.0), np.random.default_rng(0).normal(0.0, 1.0, 50)]
    result = compute("bbands", frame(close))
    assert result["bb_width"].iloc[19:30].isna().all()
    assert result["bb_width"].iloc[40:].notna().all()


def test_stoch_rsi_raw_is_talibs_except_nan_on_flat_windows() -> None:
    """Where TA-Lib's STOCHRSI finds the RSI window flat (range within 1e-14 of
    its level) it prints 0 and this metric NaN; elsewhere the values are TA-Lib's."""
    for name in ("rising start", "falling start", "flat middle", "long flat", "integer ties"):
        data = DEGENERATE[name]
        raw = compute("stoch_rsi", data, fastk_period=5)["stoch_rsi"].to_numpy()
        reference, _ = talib.STOCHRSI(data["close"].to_numpy(), 14, 5, 3, 0)
        warm = ~np.isnan(reference)
        undefined = np.isnan(raw) & warm
        assert undefined.any(), name
        assert (reference[undefined] == 0.0).all(), name
        np.testing.assert_allclose(raw[warm & ~undefined], reference[warm & ~undefined], rtol=1e-9, atol=1e-9)


def test_stoch_rsi_k_and_d_recover_after_an_undefined_stretch(engine: str) -> None:
    """A NaN raw value spoils only the %K and %D windows that hold it."""
    data = DEGENERATE["flat start"]  # RSI undefined for 60 bars, then a random walk
    result = compute("stoch_rsi", data)
    raw, k, d = (result[c].to_numpy() for c in ("stoch_rsi", "stoch_rsi_k", "stoch_rsi_d"))
    holes = np.isnan(raw[29:])
    expected_k = np.where(
        sliding_window_view(np.isnan(raw), 3).any(axis=1), np.nan, sliding_window_view(raw, 3).mean(axis=1)
    )
    assert holes.any() and not holes[-500:].any()
    assert_same(k[40:], expected_k[38:])
    assert np.isfinite(d[-500:]).all()
    np.testing.assert_allclose(d[-500:], sliding_window_view(k, 3).mean(axis=1)[-500:], rtol=1e-9, atol=1e-9)


def test_stoch_rsi_is_undefined_over_a_flat_rsi(engine: str) -> None:
    """A steady rise keeps the RSI at exactly 100; TA-Lib prints 0 (oversold)."""
    close = 100.0 + 0.5 * np.arange(200.0)
    assert compute("stoch_rsi", frame(close)).isna().all().all()


def test_roc_from_a_zero_close_is_undefined_not_zero(engine: str) -> None:
    close = np.r_[1.0, 0.0, 2.0, 3.0, 3.0, 0.0, 6.0]
    roc = compute("momentum", frame(close), timeperiod=1)["roc"].to_numpy()
    np.testing.assert_array_equal(roc, [np.nan, -100.0, np.nan, 50.0, 0.0, -100.0, np.nan])


def test_rsi_is_undefined_until_the_first_price_change_then_talibs() -> None:
    close = DEGENERATE["flat start"]["close"].to_numpy()
    rsi = compute("rsi", frame(close)).to_numpy()
    assert np.isnan(rsi[:60]).all()  # the first change is at bar 60
    np.testing.assert_allclose(rsi[60:], talib.RSI(close, 14)[60:], rtol=1e-12)


@pytest.mark.parametrize("name", ["rsi", "adx", "stoch_rsi"])
@pytest.mark.parametrize("case", ["long flat", "falling start", "flat start, no range"])
def test_switching_engine_mid_series_keeps_every_value_causal(name: str, case: str) -> None:
    """Where TA-Lib's output needs the numpy engine from some bar on, the values
    before that bar stay TA-Lib's: a series cut at any bar gives the same values,
    bit for bit, as the full series up to that bar."""
    data = DEGENERATE[case]
    params = {"timeperiod": 2}
    full = pd.DataFrame(compute(name, data, **params))
    for cut in (100, 400, 1100, 1300, len(data) - 1):
        if cut < len(data):
            part = pd.DataFrame(compute(name, data.iloc[: cut + 1], **params))
            np.testing.assert_array_equal(part.to_numpy(), full.iloc[: cut + 1].to_numpy())


def test_periods_beyond_talibs_limit_use_the_numpy_engine() -> None:
    period = 100_001  # TA-Lib rejects periods above 100,000
    bars = random_bars(period + 200, seed=2)
    close = bars["close"].to_numpy()
    sma = compute("sma", bars, timeperiod=period).to_numpy()
    expected = np.r_[np.full(period - 1, np.nan), sliding_window_view(close, period).mean(axis=1)]
    assert_same(sma, expected)
    assert_same(compute("rsi", bars, timeperiod=period), rsi_reference(close, period))
    roc = compute("momentum", bars, timeperiod=period)["roc"].to_numpy()
    assert_same(roc[period:], 100.0 * (close[period:] / close[:-period] - 1.0))


def test_talibs_global_settings_do_not_change_the_results(bars: pd.DataFrame) -> None:
    """TA-Lib's unstable periods and compatibility mode are process-global; when
    someone changes them the metrics switch to the numpy engine, same values."""
    names = ("ema", "rsi", "macd", "atr", "adx", "stoch_rsi")
    before = {name: compute(name, bars) for name in names}
    try:
        talib.set_unstable_period("EMA", 50)
        talib.set_unstable_period("RSI", 50)
        talib.set_unstable_period("ATR", 50)
        talib.set_unstable_period("ADX", 50)
        for name in names:
            pd.testing.assert_frame_equal(
                pd.DataFrame(compute(name, bars)), pd.DataFrame(before[name]), rtol=1e-9, atol=1e-9
            )
        talib.set_unstable_period("ALL", 0)
        talib.set_compatibility(1)  # Metastock
        for name in names:
            pd.testing.assert_frame_equal(
                pd.DataFrame(compute(name, bars)), pd.DataFrame(before[name]), rtol=1e-9, atol=1e-9
            )
    finally:
        talib.set_unstable_period("ALL", 0)
        talib.set_compatibility(0)


# --------------------------------------------------------------------------- planted signals


def test_ema_step_response_is_one_minus_decay_power(engine: str) -> None:
    n, t0 = 10, 50
    close = np.r_[np.zeros(t0), np.ones(100)]
    ema = compute("ema", frame(close + 1.0), timeperiod=n).to_numpy() - 1.0
    k = 2.0 / (n + 1)
    j = np.arange(100)
    np.testing.assert_allclose(ema[t0 + j], 1.0 - (1.0 - k) ** (j + 1), atol=1e-14)


def test_ema_and_sma_of_a_constant_are_the_constant(engine: str) -> None:
    bars = frame(np.full(100, 42.0))
    assert np.allclose(compute("ema", bars).dropna(), 42.0, rtol=0, atol=1e-12)
    assert np.allclose(compute("sma", bars).dropna(), 42.0, rtol=0, atol=1e-12)


def test_rsi_of_a_monotone_rise_is_100(engine: str) -> None:
    rsi = compute("rsi", frame(np.linspace(100.0, 200.0, 300)))
    assert (rsi.dropna() == 100.0).all()


def test_rsi_of_an_alternating_series_is_near_50(engine: str) -> None:
    close = 100.0 + np.tile([1.0, -1.0], 200).cumsum()
    assert compute("rsi", frame(close)).iloc[-1] == pytest.approx(50.0, abs=4.0)


def test_rsi_is_undefined_not_oversold_on_a_series_that_never_moved(engine: str) -> None:
    rsi = compute("rsi", frame(np.full(50, 10.0)))
    assert rsi.isna().all()


def test_macd_on_a_ramp_converges_to_7b_with_zero_histogram(engine: str) -> None:
    b = 0.5
    result = compute("macd", frame(100.0 + b * np.arange(1000)))
    assert result["macd"].iloc[-1] == pytest.approx(7 * b, abs=1e-9)
    assert result["macd_hist"].iloc[-1] == pytest.approx(0.0, abs=1e-9)


def test_bbands_width_of_gaussian_closes_is_about_four_sigma_over_mu() -> None:
    rng = np.random.default_rng(0)
    close = rng.normal(100.0, 1.0, 20_000)
    result = compute("bbands", frame(close)).iloc[19:]
    assert result["bb_width"].median() == pytest.approx(0.038, abs=0.002)
    assert ((result["bb_percent_b"] > 1) | (result["bb_percent_b"] < 0)).mean() == pytest.approx(
        0.045, abs=0.01
    )


def test_bbands_use_the_population_standard_deviation(engine: str) -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    result = compute("bbands", frame(close), timeperiod=5, nbdevup=1.0, nbdevdn=1.0)
    assert result["bb_upper"].iloc[-1] == pytest.approx(3.0 + np.sqrt(2.0))  # ddof=0: var 2


def test_atr_of_bars_with_range_two_and_no_gaps_is_exactly_two(engine: str) -> None:
    close = 100.0 + 0.1 * np.arange(200)
    atr = compute("atr", frame(close, high=close + 1.0, low=close - 1.0))
    np.testing.assert_allclose(atr.dropna(), 2.0, rtol=0, atol=1e-12)


def test_adx_of_a_clean_uptrend_is_100_with_plus_di_above_minus_di(engine: str) -> None:
    close = 100.0 + np.arange(300.0)
    result = compute("adx", frame(close, high=close + 0.5, low=close - 0.5)).dropna()
    assert result["adx"].to_numpy() == pytest.approx(100.0)
    assert (result["plus_di"] > result["minus_di"]).all()


def test_adx_of_a_random_walk_is_moderate() -> None:
    adx = compute("adx", random_bars(20_000, seed=1))["adx"]
    assert 15.0 < adx.median() < 30.0


def test_stoch_rsi_spans_0_to_100_every_cycle_of_a_sine(engine: str) -> None:
    close = 100.0 + 10.0 * np.sin(2 * np.pi * np.arange(2000) / 40)
    raw = compute("stoch_rsi", frame(close))["stoch_rsi"].iloc[100:]
    cycles = raw.to_numpy()[: 40 * 45].reshape(45, 40)
    assert np.allclose(cycles.min(axis=1), 0.0, atol=1e-9)
    assert np.allclose(cycles.max(axis=1), 100.0, atol=1e-9)


def test_momentum_of_a_ramp_with_slope_half_is_five(engine: str) -> None:
    result = compute("momentum", frame(100.0 + 0.5 * np.arange(100)))
    assert result["momentum"].dropna().to_numpy() == pytest.approx(5.0)


def test_zscore_of_gaussian_noise_has_unit_spread_and_a_spike_stands_out() -> None:
    rng = np.random.default_rng(0)
    close = rng.normal(5.0, 2.0, 10_000)
    close[6000] = 5.0 + 7 * 2.0
    z = compute("zscore", frame(close), timeperiod=720)
    assert z.drop(z.index[6000]).std() == pytest.approx(1.0, abs=0.03)
    window = close[6000 - 719 : 6001]
    assert z.iloc[6000] == pytest.approx((close[6000] - window.mean()) / window.std(ddof=0))
    assert 6.0 < z.iloc[6000] < 7.0  # the window includes the spike, which dilutes it


def test_zscore_is_undefined_on_a_flat_window() -> None:
    assert compute("zscore", frame(np.full(40, 3.0))).isna().all()


# --------------------------------------------------------------------------- Kalman


def test_kalman_trend_equals_pykalman_filter_not_smoother() -> None:
    from pykalman import KalmanFilter

    rng = np.random.default_rng(0)
    y = 100.0 + np.cumsum(rng.normal(0.0, 0.3, 2000))
    result = compute("kalman_trend", frame(y), q_level=1e-3, q_slope=1e-5, initial_var=5.0)
    kf = KalmanFilter(
        transition_matrices=[[1.0, 1.0], [0.0, 1.0]],
        observation_matrices=[[1.0, 0.0]],
        transition_covariance=np.diag([1e-3, 1e-5]),
        observation_covariance=1.0,
        initial_state_mean=[y[0], 0.0],
        initial_state_covariance=5.0 * np.eye(2),
    )
    means, _ = kf.filter(y)
    np.testing.assert_allclose(result["kalman_level"], means[:, 0], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(result["kalman_slope"], means[:, 1], rtol=1e-8, atol=1e-9)


def test_kalman_slope_tracks_a_planted_slope_switch() -> None:
    rng = np.random.default_rng(1)
    n = 8000
    slope = np.r_[np.full(n // 2, 0.05), np.full(n // 2, -0.05)]
    y = 1000.0 + np.cumsum(slope) + rng.normal(0.0, 1.0, n)
    est = compute("kalman_trend", frame(y))["kalman_slope"].to_numpy()
    assert np.mean(np.abs(est[1000 : n // 2] - 0.05)) < 0.01
    assert np.mean(np.abs(est[n // 2 + 1000 :] + 0.05)) < 0.01


def test_kalman_trend_is_scale_equivariant() -> None:
    y = random_bars(3000, seed=2)["close"].to_numpy()
    base = compute("kalman_trend", frame(y))
    scaled = compute("kalman_trend", frame(1000.0 * y))
    np.testing.assert_allclose(scaled.to_numpy(), 1000.0 * base.to_numpy(), rtol=1e-9)


# --------------------------------------------------------------------------- transforms


def test_wavelet_trend_is_the_last_point_of_the_denoised_trailing_window() -> None:
    close = random_bars(400, seed=4)["close"].to_numpy()
    trend = compute("wavelet_trend", frame(close), timeperiod=128)
    for t in (127, 250, 399):
        window = close[t - 127 : t + 1]
        coeffs = pywt.wavedec(window, "db4", mode="reflect")
        sigma = np.median(np.abs(coeffs[-1])) / 0.6745
        thr = sigma * np.sqrt(2 * np.log(128))
        shrunk = [coeffs[0]] + [pywt.threshold(c, thr, mode="soft") for c in coeffs[1:]]
        expected = pywt.waverec(shrunk, "db4", mode="reflect")[127]
        assert trend.iloc[t] == pytest.approx(expected, rel=1e-12)


def test_wavelet_trend_removes_most_of_the_noise_from_two_sines() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(6000)
    truth = 100.0 + np.sin(2 * np.pi * t / 200) + 0.5 * np.sin(2 * np.pi * t / 90)
    noisy = truth + rng.normal(0.0, 0.5, len(t))
    est = compute("wavelet_trend", frame(noisy)).to_numpy()
    rmse = np.sqrt(np.nanmean((est - truth) ** 2))
    assert rmse < 0.5 * 0.5


def test_hilbert_period_of_a_sine_is_its_period_and_the_trendline_is_flat() -> None:
    close = 100.0 + np.sin(2 * np.pi * np.arange(1500) / 20)
    result = compute("hilbert_slope", frame(close, high=close + 0.5, low=close - 0.5)).dropna()
    assert result["hilbert_period"].median() == pytest.approx(20.0, abs=0.5)
    assert result["hilbert_slope"].abs().max() < 0.05


def test_hilbert_slope_on_a_ramp_plus_cycle_is_the_ramp_slope_in_atrs() -> None:
    b = 0.2
    close = 100.0 + b * np.arange(1500) + np.sin(2 * np.pi * np.arange(1500) / 20)
    bars = frame(close, high=close + 0.5, low=close - 0.5)
    result = compute("hilbert_slope", bars).dropna()
    atr = compute("atr", bars).loc[result.index]
    assert (result["hilbert_slope"] * atr).median() == pytest.approx(b, rel=0.1)


def test_fdi_of_a_line_is_the_finite_sample_value_and_noise_is_rougher_than_a_walk() -> None:
    line = compute("fdi", frame(100.0 + np.arange(100.0))).dropna()
    assert line.to_numpy() == pytest.approx(1 + np.log(2 * np.sqrt(2)) / np.log(60))
    rng = np.random.default_rng(0)
    walk = compute("fdi", frame(100 + np.cumsum(rng.normal(size=20_000)))).median()
    noise = compute("fdi", frame(100 + rng.normal(size=20_000))).median()
    assert walk == pytest.approx(1.475, abs=0.03)
    assert noise == pytest.approx(1.688, abs=0.03)
