"""Planted signals and synthetic bars for the metric tests.

Each generator is deterministic for a given seed and documents what is planted,
so a test can state the expected value from the construction rather than from
a snapshot of our own output.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01 00:00")


def hourly_index(n: int, start: pd.Timestamp = START) -> pd.DatetimeIndex:
    """``n`` naive-UTC hourly timestamps."""
    return pd.date_range(start, periods=n, freq="h")


def frame(
    close: np.ndarray,
    *,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    start: pd.Timestamp = START,
) -> pd.DataFrame:
    """Bars from a close path; high/low default to the close (a zero-range bar)."""
    close = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {
            "open": np.r_[close[0], close[:-1]],
            "high": close if high is None else high,
            "low": close if low is None else low,
            "close": close,
            "volume": np.ones(len(close)),
        },
        index=hourly_index(len(close), start),
    )


def random_bars(n: int, seed: int = 0, *, vol: float = 0.01, price: float = 100.0) -> pd.DataFrame:
    """Geometric random-walk OHLCV bars with consistent highs and lows."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[price, close[:-1]]
    wick = np.abs(rng.normal(0.0, vol / 2, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.lognormal(3.0, 0.5, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=hourly_index(n),
    )


def synthetic_inputs(columns: Iterable[str], n: int, seed: int = 0) -> pd.DataFrame:
    """A frame holding every requested column, for generic property tests.

    OHLCV columns come from :func:`random_bars`; any other column (later metric
    families: funding, open interest, book sizes...) is a positive random walk.
    Add a dedicated generator here when a family needs a column with more
    structure than that.
    """
    bars = random_bars(n, seed)
    rng = np.random.default_rng(seed + 1)
    for name in columns:
        if name not in bars:
            bars[name] = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return bars


def fgn_davies_harte(n: int, hurst: float, seed: int) -> np.ndarray:
    """Exact fractional Gaussian noise (unit variance) by circulant embedding.

    Autocovariance ``γ(k) = (|k+1|^{2H} - 2|k|^{2H} + |k-1|^{2H})/2``, embedded
    in a circulant matrix of size ``2n`` whose eigenvalues (the FFT of its first
    row) are non-negative for fGn; Davies & Harte, *Biometrika* 74 (1987).
    """
    k = np.arange(n + 1, dtype=float)
    two_h = 2.0 * hurst
    gamma = 0.5 * (np.abs(k + 1) ** two_h - 2.0 * k**two_h + np.abs(k - 1) ** two_h)
    row = np.concatenate((gamma, gamma[-2:0:-1]))
    eigen = np.fft.fft(row).real
    if eigen.min() < -1e-10:
        raise ValueError("circulant embedding is not non-negative definite")
    m = len(row)
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=m) + 1j * rng.normal(size=m)
    return np.fft.fft(np.sqrt(np.maximum(eigen, 0.0) / m) * noise).real[:n]


def garch_path(
    n: int, omega: float, alpha: float, beta: float, seed: int, burn: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (in percent) and conditional variances of a zero-mean GARCH(1,1).

    ``σ²_t = ω + α r²_{t-1} + β σ²_{t-1}``, ``r_t = σ_t z_t``, z ~ N(0, 1); the
    first ``burn`` draws are discarded.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n + burn)
    r = np.empty(n + burn)
    s2 = np.empty(n + burn)
    s2[0] = omega / (1.0 - alpha - beta)
    r[0] = np.sqrt(s2[0]) * z[0]
    for t in range(1, n + burn):  # a simulation is sequential by definition
        s2[t] = omega + alpha * r[t - 1] ** 2 + beta * s2[t - 1]
        r[t] = np.sqrt(s2[t]) * z[t]
    return r[burn:], s2[burn:]


def two_regime_returns(
    n: int, sigmas: tuple[float, float], stay: tuple[float, float], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns from a two-state Markov chain (state 1 = high volatility).

    ``P(S_t = S_{t-1})`` is ``stay[S_{t-1}]``; ``r_t ~ N(0, sigmas[S_t]²)``.
    Returns ``(returns, states)``.
    """
    rng = np.random.default_rng(seed)
    states = np.zeros(n, dtype=int)
    draws = rng.random(n)
    for t in range(1, n):  # a Markov chain is sequential by definition
        prev = states[t - 1]
        states[t] = prev if draws[t] < stay[prev] else 1 - prev
    returns = np.where(states == 1, sigmas[1], sigmas[0]) * rng.normal(size=n)
    return returns, states
