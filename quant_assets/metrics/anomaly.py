"""Family J, regime change and anomaly (module ``regime_anomal``).

Statistics use log returns ``r_t = ln(C_t/C_{t-1})``. Every reference statistic
an observation is compared with (mean, deviation, model) comes from data
**before** it, so a spike cannot dilute its own score; the plain rolling
z-score of the close is the trend family's ``zscore``.

Isolation Forest is refit on a schedule defined by time alone: at the first bar
of every calendar period ``refit_every`` (anchored at the Unix epoch), on the
trailing ``window`` bars that end just before that bar, and the bars of the
period are scored by that model. The value at ``t`` therefore depends only on
the ``window`` bars before the last refit and on bar ``t``, not on where the
series starts. CUSUM is a recursion with resets, run as vectorized segments
between alarms; the other statistics are exact trailing-window computations.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics._validation import require_bar_range, require_non_negative, require_positive
from quant_assets.metrics.registry import at_least, greater_than, metric, one_of
from quant_assets.metrics.volatility import _check_frequency

MODULE = "regime_anomal"

#: Bars per vectorized CUSUM segment; a segment is cut short at each alarm.
CUSUM_SEGMENT = 4096


def _log_returns(metric_name: str, data: pd.DataFrame) -> np.ndarray:
    return nm.log_returns(require_positive(metric_name, data, "close"))


# --------------------------------------------------------------------------- higher moments


@metric(
    name="rolling_skew",
    module=MODULE,
    inputs=("close",),
    outputs=("rolling_skew",),
    params={"timeperiod": 168},
    constraints={"timeperiod": at_least(3)},
    warmup=lambda p: p["timeperiod"],
    reference="Joanes & Gill (1998), The Statistician 47; pandas Rolling.skew",
)
def rolling_skew(data: pd.DataFrame, *, timeperiod: int = 168) -> np.ndarray:
    """Rolling sample skewness of log returns (bias-corrected G1).

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    timeperiod : int, default 168
        ``W``: returns in the window (168 hourly bars = 1 week).

    Returns
    -------
    ndarray
        ``rolling_skew``, dimensionless (0 for symmetric returns, < 0 for a fat
        left tail). NaN on windows without variation.

    Notes
    -----
    Adjusted Fisher–Pearson ``G1 = sqrt(W(W-1))/(W-2) · m3/m2^{3/2}`` with
    central moments ``m_k``: pandas ``rolling(W).skew()``, equal to
    ``scipy.stats.skew(x, bias=False)``. Skew-normal returns with shape 4 give
    about 0.78. Warm-up: ``W`` bars.

    References
    ----------
    D. N. Joanes and C. A. Gill, "Comparing measures of sample skewness and
    kurtosis", *The Statistician* 47 (1998); pandas ``Rolling.skew``.
    """
    return pd.Series(_log_returns("rolling_skew", data)).rolling(timeperiod).skew().to_numpy()


@metric(
    name="rolling_kurt",
    module=MODULE,
    inputs=("close",),
    outputs=("rolling_kurt",),
    params={"timeperiod": 168},
    constraints={"timeperiod": at_least(10)},
    value_range=(-3.0, math.inf),
    warmup=lambda p: p["timeperiod"],
    reference="Joanes & Gill (1998), The Statistician 47; pandas Rolling.kurt",
)
def rolling_kurt(data: pd.DataFrame, *, timeperiod: int = 168) -> np.ndarray:
    """Rolling sample excess kurtosis of log returns (bias-corrected G2).

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    timeperiod : int, default 168
        ``W``: returns in the window (>= 10).

    Returns
    -------
    ndarray
        ``rolling_kurt``: **excess** kurtosis (0 for normal returns, > 0 fat
        tails), >= ``-2(W-1)/(W-3)`` > -3. NaN on windows without variation.

    Notes
    -----
    ``G2 = (W-1)/((W-2)(W-3)) · ((W+1) g2 + 6)`` with ``g2 = m4/m2² - 3``:
    pandas ``rolling(W).kurt()``, equal to ``scipy.stats.kurtosis(x,
    bias=False)`` (scipy's default ``bias=True`` differs). Skew-normal returns
    with shape 4 give about 0.63. Warm-up: ``W`` bars.

    References
    ----------
    D. N. Joanes and C. A. Gill, "Comparing measures of sample skewness and
    kurtosis", *The Statistician* 47 (1998); pandas ``Rolling.kurt``.
    """
    return pd.Series(_log_returns("rolling_kurt", data)).rolling(timeperiod).kurt().to_numpy()


@metric(
    name="cum_return_deviation",
    module=MODULE,
    inputs=("close",),
    outputs=("cum_return_deviation",),
    params={"horizon": 24, "baseline": 720},
    constraints={"horizon": at_least(1), "baseline": at_least(2)},
    warmup=lambda p: p["baseline"] + p["horizon"],
    reference="Cumulative-return z-score against a non-overlapping trailing baseline "
    "(METRICS_REFERENCE, J); cf. Brown & Warner (1985), J. Financial Economics 14",
)
def cum_return_deviation(data: pd.DataFrame, *, horizon: int = 24, baseline: int = 720) -> np.ndarray:
    """Cumulative return over a recent horizon, in standard deviations of a prior baseline.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    horizon : int, default 24
        ``h``: bars in the cumulative return (24 hourly bars = 1 day).
    baseline : int, default 720
        ``B``: returns in the baseline window, which ends ``h`` bars before ``t``.

    Returns
    -------
    ndarray
        ``cum_return_deviation``, in standard deviations (unbounded; about
        N(0, 1) for i.i.d. returns).

    Notes
    -----
    ``CRD_t = (Σ_{i=t-h+1..t} r_i - h μ̂)/(σ̂ sqrt(h))`` with ``μ̂``, ``σ̂``
    (ddof=1) the mean and deviation of ``r_{t-h-B+1} .. r_{t-h}``: the baseline
    does not overlap the horizon, so a drift is measured against the regime
    before it (like an event-study cumulative abnormal return). A drift of +1σ
    per bar for 24 bars reads about ``sqrt(24)`` ≈ 4.9 at its end.
    Warm-up: ``B + h`` bars.

    References
    ----------
    S. J. Brown and J. B. Warner, "Using daily stock returns: the case of event
    studies", *J. Financial Economics* 14 (1985).
    """
    close = require_positive("cum_return_deviation", data, "close")
    returns = nm.log_returns(close)
    mean, sd = nm.return_moments(returns, baseline, ddof=1)
    cumulative = np.log(close) - np.log(nm.shift(close, horizon))
    deviation = cumulative - horizon * nm.shift(mean, horizon)
    return nm.safe_divide(deviation, nm.shift(sd, horizon) * math.sqrt(horizon))


# --------------------------------------------------------------------------- CUSUM


def _lindley(steps: np.ndarray, start: float) -> np.ndarray:
    """``S_j = max(0, S_{j-1} + steps_j)`` with ``S_{-1} = start``, in closed form:
    ``S_j = C_j - min(-start, min_{i<=j} C_i)`` with ``C`` the cumulative sum."""
    cumulative = np.cumsum(steps)
    return cumulative - np.minimum(np.minimum.accumulate(cumulative), -start)


def _cusum(z: np.ndarray, k: float, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided tabular CUSUM of ``z`` with reference ``k`` and limit ``h``,
    restarting from 0 after each alarm and after each undefined ``z``."""
    n = len(z)
    upper, lower, alarm = nm.nan_array(n), nm.nan_array(n), nm.nan_array(n)
    valid = np.isfinite(z)
    # Each run of defined z is monitored on its own, starting from 0.
    edges = np.flatnonzero(np.diff(np.concatenate(([False], valid, [False])).astype(np.int8)))
    for run_start, run_stop in zip(edges[::2], edges[1::2], strict=True):
        pos, s_up, s_down = int(run_start), 0.0, 0.0
        while pos < run_stop:
            stop = min(pos + CUSUM_SEGMENT, int(run_stop))
            segment = z[pos:stop]
            up = _lindley(segment - k, s_up)
            down = _lindley(-segment - k, s_down)
            crossed = np.flatnonzero((up > h) | (down > h))
            if crossed.size:
                stop = pos + int(crossed[0]) + 1
                up, down = up[: stop - pos], down[: stop - pos]
            upper[pos:stop], lower[pos:stop] = up, down
            alarm[pos:stop] = 0.0
            if crossed.size:
                alarm[stop - 1] = 1.0 if up[-1] > h else -1.0
                s_up = s_down = 0.0
            else:
                s_up, s_down = float(up[-1]), float(down[-1])
            pos = stop
    return upper, lower, alarm


@metric(
    name="cusum",
    module=MODULE,
    inputs=("close",),
    outputs=("cusum_pos", "cusum_neg", "cusum_alarm"),
    params={"window": 720, "k": 0.5, "h": 8.0},
    constraints={"window": at_least(2), "k": at_least(0.0), "h": greater_than(0.0)},
    value_range=(-1.0, math.inf),
    warmup=lambda p: p["window"] + 1,
    memory=lambda p: p["window"] + 1 + math.ceil(20.0 * p["h"] / max(p["k"], 0.05)),
    reference="Page (1954), Biometrika 41, Continuous inspection schemes; "
    "Siegmund (1985), Sequential Analysis",
)
def cusum(data: pd.DataFrame, *, window: int = 720, k: float = 0.5, h: float = 8.0) -> dict[str, np.ndarray]:
    """Page's two-sided CUSUM of standardized returns, with an alarm flag and reset.

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    window : int, default 720
        ``W``: returns giving the in-control mean and deviation, the window
        ending at ``t - 1`` (720 hourly bars = 30 days).
    k : float, default 0.5
        Reference value in standard deviations (``δ/2`` for a shift ``δ = 1σ``).
    h : float, default 8.0
        Decision limit in standard deviations.

    Returns
    -------
    dict of ndarray
        ``cusum_pos`` = ``S⁺`` and ``cusum_neg`` = ``S⁻`` (>= 0, standard
        deviations; the value that crossed ``h`` is shown on the alarm bar);
        ``cusum_alarm``: +1 on a bar where ``S⁺ > h`` (upward shift of the
        return mean), -1 where ``S⁻ > h``, else 0.

    Notes
    -----
    ``z_t = (r_t - mean(r_{t-W} .. r_{t-1}))/std(r_{t-W} .. r_{t-1})``
    (population std; the window ends at ``t - 1`` so a shift does not dilute its
    own score); ``S⁺_t = max(0, S⁺_{t-1} + z_t - k)``,
    ``S⁻_t = max(0, S⁻_{t-1} - z_t - k)``, both from 0; after an alarm both
    restart from 0 at the next bar, and where ``z`` is undefined (a flat window)
    the statistics are NaN and restart afterwards. Tuning for hourly bars:
    ``k = 0.5, h = 5`` gives an in-control average run length ≈ 465 bars
    (about 19 false alarms a year); ``h = 8`` gives ≈ 9500 (under one a year)
    with a detection delay ≈ 16 bars for a 1σ shift (Siegmund's
    approximation). The recursion is the reflected random walk, computed in
    closed form by cumulative sums and minima between alarms. The value at
    ``t`` depends on the path since the first bar only through the last time
    the statistics were at 0, which in control is a few ``h/k`` bars back
    (``memory_bars`` allows 20 ``h/k``). Warm-up: ``W + 1`` bars.

    References
    ----------
    E. S. Page, "Continuous inspection schemes", *Biometrika* 41 (1954);
    D. Siegmund, *Sequential Analysis* (1985); D. C. Montgomery, *Introduction
    to Statistical Quality Control*, tabular CUSUM.
    """
    returns = _log_returns("cusum", data)
    mean, sd = nm.return_moments(returns, window, ddof=0)
    z = nm.safe_divide(returns - nm.shift(mean, 1), nm.shift(sd, 1))
    upper, lower, alarm = _cusum(z, k, h)
    return {"cusum_pos": upper, "cusum_neg": lower, "cusum_alarm": alarm}


# --------------------------------------------------------------------------- Isolation Forest


def _isolation_features(data: pd.DataFrame) -> np.ndarray:
    """Per bar: log return, log range ``ln(H/L)`` and ``ln(1 + volume)``; row 0 is NaN."""
    close = require_positive("isolation_forest", data, "close")
    high, low = require_bar_range("isolation_forest", data)
    volume = require_non_negative("isolation_forest", data, "volume")
    return np.column_stack((nm.log_returns(close), np.log(high / low), np.log1p(volume)))


@metric(
    name="isolation_forest",
    module=MODULE,
    inputs=("high", "low", "close", "volume"),
    outputs=("isolation_forest",),
    params={
        "window": 720,
        "refit_every": "7D",
        "n_estimators": 100,
        "max_samples": 256,
        "random_state": 0,
    },
    constraints={
        "window": at_least(64),
        "refit_every": _check_frequency,
        "n_estimators": at_least(1),
        "max_samples": at_least(2),
        "random_state": at_least(0),
    },
    value_range=(0.0, 1.0),
    warmup=lambda p: p["window"] + 1,
    reference="Liu, Ting & Zhou (2008), ICDM, Isolation Forest; sklearn.ensemble.IsolationForest",
)
def isolation_forest(
    data: pd.DataFrame,
    *,
    window: int = 720,
    refit_every: str = "7D",
    n_estimators: int = 100,
    max_samples: int = 256,
    random_state: int = 0,
) -> np.ndarray:
    """Isolation Forest anomaly score of each bar, out of sample, refit on a schedule.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low``, ``close`` (> 0, ``high >= low``) and
        ``volume`` (>= 0).
    window : int, default 720
        Bars in each fit (720 hourly bars = 30 days).
    refit_every : str, default "7D"
        Refit period (a fixed pandas frequency); fits happen at the first bar of
        each calendar period (a fit of 100 trees takes ~0.1 s).
    n_estimators : int, default 100
        Trees in the forest.
    max_samples : int, default 256
        Sub-sample size ``ψ`` per tree (capped at ``window``).
    random_state : int, default 0
        Seed of the tree sampling, fixed so results are reproducible.

    Returns
    -------
    ndarray
        ``isolation_forest``: the anomaly score ``s`` in (0, 1]; about 0.5 and
        below for ordinary bars, near 1 for bars isolated in few splits
        (scikit-learn's ``contamination='auto'`` flags ``s > 0.5``).

    Notes
    -----
    Features per bar: log return, log range ``ln(H/L)`` and ``ln(1 + volume)``.
    ``s(x) = 2^{-E[h(x)]/c(ψ)}`` with ``h`` the path length to isolate ``x``
    and ``c(ψ) = 2H(ψ-1) - 2(ψ-1)/ψ`` the mean path length of an unsuccessful
    BST search; ``s = -IsolationForest.score_samples``. At the first bar of each
    ``refit_every`` period the forest is fitted on the ``window`` bars before it;
    the bars of the period are then scored by that forest, each out of sample.
    Warm-up: ``window + 1`` bars, plus the bars until the next refit boundary.

    References
    ----------
    F. T. Liu, K. M. Ting and Z.-H. Zhou, "Isolation forest", *ICDM* (2008);
    scikit-learn ``IsolationForest``.
    """
    from sklearn.ensemble import IsolationForest  # heavy import, only when the metric runs

    features = _isolation_features(data)
    out = nm.nan_array(len(features))
    # Features start at bar 1, so a fit needs window + 1 bars before it.
    for b, e in nm.refit_spans(data.index, refit_every, window + 1):  # one fit per refit period
        forest = IsolationForest(
            n_estimators=n_estimators,
            max_samples=min(max_samples, window),
            random_state=random_state,
        ).fit(features[b - window : b])
        out[b:e] = -forest.score_samples(features[b:e])
    return out


# --------------------------------------------------------------------------- spectral residual


def _saliency_scores(windows: np.ndarray, extend: int, amp_window: int, score_window: int) -> np.ndarray:
    """Spectral-residual score of the last point of each row of ``windows``."""
    rows, w = windows.shape
    # Ren et al.'s extrapolation x_{n+1} = x_{n-m+1} + m g (g the mean slope
    # from x_n to each of the m points before it), with n the bar before t, as in
    # the authors' released service: the scored bar must not feed its own
    # extension, which would repeat a spike after itself and hide it.
    lags = np.arange(1, extend + 1)
    before = windows[:, :-1]
    slope = ((before[:, -1:] - before[:, w - 2 - lags]) / lags).mean(axis=1)
    estimate = before[:, w - 1 - extend] + extend * slope
    extended = np.concatenate((windows, np.repeat(estimate[:, None], extend, axis=1)), axis=1)
    spectrum = np.fft.rfft(extended, axis=1)[:, 1:]  # the DC term is dropped (see the docstring)
    amplitude = np.abs(spectrum)
    floor = 1e-12 * amplitude.max(axis=1, keepdims=True)
    log_amplitude = np.log(np.maximum(amplitude, np.where(floor > 0.0, floor, 1.0)))
    residual = log_amplitude - uniform_filter1d(log_amplitude, amp_window, axis=1, mode="nearest")
    phase = np.divide(spectrum, amplitude, out=np.zeros_like(spectrum), where=amplitude > 0.0)
    salient = np.zeros((rows, spectrum.shape[1] + 1), dtype=complex)
    salient[:, 1:] = np.exp(residual) * phase
    saliency = np.abs(np.fft.irfft(salient, n=extended.shape[1], axis=1))
    local = saliency[:, w - 1 - score_window : w - 1].mean(axis=1)
    return nm.safe_divide(saliency[:, w - 1] - local, local)


@metric(
    name="spectral_residual",
    module=MODULE,
    inputs=("close",),
    outputs=("spectral_residual", "spectral_residual_alarm"),
    params={
        "window": 168,
        "series": "log_return",
        "amp_window": 3,
        "extend": 5,
        "score_window": 21,
        "threshold": 3.0,
    },
    constraints={
        "series": one_of("log_return", "close"),
        "amp_window": lambda v, _p: (
            None if v >= 1 and v % 2 == 1 else f"must be an odd integer >= 1 (got {v!r})"
        ),
        "extend": at_least(1),
        "score_window": at_least(1),
        "window": lambda v, p: (
            None
            if v >= max(p["score_window"] + 1, p["extend"] + 2, 8)
            else f"must be >= max(8, score_window + 1, extend + 2) (got {v!r})"
        ),
        "threshold": greater_than(0.0),
    },
    value_range=(-1.0, math.inf),
    warmup=lambda p: p["window"] - (0 if p["series"] == "log_return" else 1),
    reference="Ren et al. (2019), KDD, Time-Series Anomaly Detection Service at Microsoft; "
    "Hou & Zhang (2007), CVPR, Saliency detection: a spectral residual approach",
)
def spectral_residual(
    data: pd.DataFrame,
    *,
    window: int = 168,
    series: str = "log_return",
    amp_window: int = 3,
    extend: int = 5,
    score_window: int = 21,
    threshold: float = 3.0,
) -> dict[str, np.ndarray]:
    """Spectral Residual saliency score of each bar on its trailing window (causal).

    Parameters
    ----------
    data : DataFrame
        Bars with a ``close`` column (> 0).
    window : int, default 168
        ``W``: values in the trailing window transformed for each bar (168
        hourly bars = 1 week).
    series : {"log_return", "close"}, default "log_return"
        The series scored: log returns (a price jump is one spike) or the
        close itself (a one-bar spike and back).
    amp_window : int, default 3
        ``q``: width of the mean filter over the log-amplitude spectrum (odd).
    extend : int, default 5
        ``m``: extrapolated points appended after the last value.
    score_window : int, default 21
        ``z``: saliency values before ``t`` averaged for the score.
    threshold : float, default 3.0
        ``τ``: alarm when the score exceeds it.

    Returns
    -------
    dict of ndarray
        ``spectral_residual``: ``O_t = (S_t - S̄)/S̄`` (>= -1; spikes read far
        above 0); ``spectral_residual_alarm``: 1.0 where ``O_t > τ``, else 0.0.

    Notes
    -----
    For the window ``x`` ending at ``t``: append ``m`` copies of
    ``x_{n-m+1} + m g`` (``g`` the mean slope from the last point to the ``m``
    before it); ``A = |FFT(x)|``, ``L = ln A``, residual ``R = L - h_q * L``;
    saliency ``S = |IFFT(exp(R + iP))|`` with ``P`` the phase; score of the last
    real point against the mean ``S̄`` of the ``z`` saliency values before it.
    Only the trailing window is transformed, so the value at ``t`` never sees
    later bars; the extension keeps ``t`` away from the transform's edge. The
    extension is extrapolated from the bars before ``t`` (as in the authors'
    released service; taken from ``t`` itself it repeats a spike at ``t`` and
    masks it), so the bar right after a spike also scores high (an echo).
    Deviations from the paper, both to make the score independent of the
    series' level: the DC term of the spectrum is dropped (on prices it would
    otherwise dominate the saliency and shrink every score towards 0), and the
    mean filter repeats the edge value at both ends of the half spectrum.
    Amplitudes below 1e-12 of the window's largest are floored there. Planted
    spikes on a seasonal series rank at the top (recall 1.0 for 15 spikes of
    +4σ in the reference test). Warm-up: ``W - 1`` bars (``W`` on log returns).

    References
    ----------
    H. Ren et al., "Time-series anomaly detection service at Microsoft",
    *KDD* (2019); X. Hou and L. Zhang, "Saliency detection: a spectral
    residual approach", *CVPR* (2007).
    """
    close = require_positive("spectral_residual", data, "close")
    values = nm.log_returns(close) if series == "log_return" else close
    first = 1 if series == "log_return" else 0
    score = nm.placed(
        nm.window_apply(
            values[first:], None, window, lambda w, _: _saliency_scores(w, extend, amp_window, score_window)
        ),
        first,
        len(values),
    )
    alarm = np.where(np.isnan(score), np.nan, (score > threshold).astype(float))
    return {"spectral_residual": score, "spectral_residual_alarm": alarm}
