"""Hourly state of the simulated market, generated forward from a fixed epoch.

Why from an epoch: prices, volatility and regimes are path-dependent, so the state
at the start of any day must not depend on which range a caller asked for. Every
random draw comes from a generator seeded by (seed, entity, stream, 30-day chunk),
and every recursion is causal, so the hours of a day are identical whichever end
date the path was generated to, and on any machine with the same numpy.

The hourly model of one symbol (log price ``x``):

* regime: two-state Markov chain, trend (mean duration 48 h) and range (72 h);
  a trend episode has a random sign and a drift of ``0.25·σ`` per hour;
* volatility ``σ``: symbol level × market and own log-AR(1) clustering ×
  piecewise-constant level changes at planted changepoints × a decaying boost
  after planted jumps × regime factor;
* increments: drift + own noise + the leader's noise delayed by the planted lag
  (``beta`` loading) + a small common shock + an order-flow signal that predicts
  the next hour + jumps; a slow pull to the reference price keeps levels
  plausible over years; in the range regime most variance moves into a
  mean-reverting Ornstein–Uhlenbeck component;
* derivatives positioning ``P`` (crowd chases recent returns) drives the perpetual
  premium, funding, long/short ratios and open interest; large moves against the
  crowd trigger liquidation bursts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.stats import poisson

from quant_assets.days import utc_now
from quant_assets.sources.simulated.profiles import LEADER, SymbolProfile, profile_for, stable_code

EPOCH = datetime(2019, 1, 1)
CHUNK_HOURS = 720
HOUR = timedelta(hours=1)

TREND, RANGE = 1, 0
P_LEAVE_TREND = 1 / 48
P_LEAVE_RANGE = 1 / 72
TREND_DRIFT = 0.25  # drift per hour in units of that hour's sigma
P_JUMP = 1 / 120
P_VOLUME_SPIKE = 1 / 96
P_CHANGEPOINT = 1 / (24 * 21)
PULL_PER_HOUR = 1 / (24 * 20)
OU_PHI = 0.7
MAX_VOL_MULTIPLE = 2.5
MAX_JUMP_MULTIPLE = 6.0
FLOW_PHI = 0.3
MARKET_LOG_VOL_SD, MARKET_LOG_VOL_PHI = 0.045, 0.985
OWN_LOG_VOL_SD, OWN_LOG_VOL_PHI = 0.045, 0.98
LOG_VOL_VARIANCE = (MARKET_LOG_VOL_SD**2 / (1 - MARKET_LOG_VOL_PHI**2)
                    + OWN_LOG_VOL_SD**2 / (1 - OWN_LOG_VOL_PHI**2))
FLOW_EFFECT = 0.25  # next-hour drift per unit of order-flow signal, in sigmas
INTEREST_RATE_8H = 0.0001
TRADES_PER_HOUR = 600.0  # aggregated futures trades in an hour of average activity


def hour_index(ts: datetime) -> int:
    """Hours from the simulation epoch to ``ts`` (naive UTC)."""
    return int((ts - EPOCH) // HOUR)


def day_start_hour(day: date) -> int:
    return hour_index(datetime(day.year, day.month, day.day))


@lru_cache(maxsize=4096)
def _chunk(seed: int, entity: str, stream: str, chunk: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng([seed, stable_code(entity), stable_code(stream), chunk])
    values = rng.standard_normal(CHUNK_HOURS) if kind == "normal" else rng.random(CHUNK_HOURS)
    values.setflags(write=False)
    return values


def hourly_draws(seed: int, entity: str, stream: str, n_hours: int, kind: str) -> np.ndarray:
    """The first ``n_hours`` hourly draws of one random stream (normal or uniform)."""
    n_chunks = -(-n_hours // CHUNK_HOURS)
    parts = [_chunk(seed, entity, stream, k, kind) for k in range(n_chunks)]
    return np.concatenate(parts)[:n_hours]


def _ar1(innovations: np.ndarray, phi: float) -> np.ndarray:
    """x_t = phi·x_{t-1} + e_t, x_{-1} = 0 (causal, vectorized)."""
    return lfilter([1.0], [1.0, -phi], innovations)


def _ema(values: np.ndarray, span: float) -> np.ndarray:
    alpha = 2.0 / (span + 1.0)
    return lfilter([alpha], [1.0, -(1.0 - alpha)], values)


def _markov_regime(uniform: np.ndarray, sign_uniform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Sequential by nature: the exit probability depends on the current state.
    regime = np.empty(uniform.size, dtype=np.int8)
    sign = np.zeros(uniform.size, dtype=np.int8)
    state, current_sign = RANGE, 1
    for h, u in enumerate(uniform):
        leave = P_LEAVE_TREND if state == TREND else P_LEAVE_RANGE
        if u < leave:
            state = RANGE if state == TREND else TREND
            current_sign = 1 if sign_uniform[h] < 0.5 else -1
        regime[h] = state
        sign[h] = current_sign if state == TREND else 0
    return regime, sign


def _piecewise_level(events: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Value of the latest event at or before each hour (1.0 before the first)."""
    index = np.where(events, np.arange(events.size), -1)
    last = np.maximum.accumulate(index)
    return np.where(last >= 0, values[np.clip(last, 0, None)], 1.0)


@dataclass(frozen=True)
class HourlyPath:
    """Hourly arrays of one symbol, index 0 = the epoch hour."""

    profile: SymbolProfile
    log_close: np.ndarray
    sigma: np.ndarray
    regime: np.ndarray
    trend_sign: np.ndarray
    noise: np.ndarray
    level: np.ndarray
    changepoint: np.ndarray
    jump: np.ndarray
    volume_spike: np.ndarray
    volume: np.ndarray
    flow_signal: np.ndarray
    positioning: np.ndarray
    premium: np.ndarray
    open_interest: np.ndarray
    long_account: np.ndarray
    top_long_account: np.ndarray
    top_long_position: np.ndarray
    liquidations: np.ndarray
    agg_trades: np.ndarray
    trade_fills: np.ndarray
    spot_trades: np.ndarray

    def trades_before(self, counts: np.ndarray, hour: int) -> int:
        """Trades of ``counts`` from the epoch up to ``hour`` (ids are global and contiguous)."""
        return int(counts[:hour].sum())

    @property
    def close(self) -> np.ndarray:
        return np.exp(self.log_close)

    @property
    def returns(self) -> np.ndarray:
        return np.diff(self.log_close, prepend=np.log(self.profile.reference_price))


def _horizon(end_hour: int) -> int:
    """Generate at least to two days past today so repeated calls share one cache entry."""
    today = utc_now()
    return max(end_hour, hour_index(today) + 48)


def hourly_path(seed: int, symbol: str, end_hour: int) -> HourlyPath:
    """The hourly path of ``symbol`` covering at least hours ``[0, end_hour)``."""
    return _hourly_path(seed, symbol, _horizon(end_hour))


@lru_cache(maxsize=64)
def _market_log_vol(seed: int, n: int) -> np.ndarray:
    return _ar1(MARKET_LOG_VOL_SD * hourly_draws(seed, "market", "log_vol", n, "normal"), MARKET_LOG_VOL_PHI)


@lru_cache(maxsize=64)
def _hourly_path(seed: int, symbol: str, n: int) -> HourlyPath:
    profile = profile_for(symbol)

    def normal(stream: str) -> np.ndarray:
        return hourly_draws(seed, symbol, stream, n, "normal")

    def uniform(stream: str) -> np.ndarray:
        return hourly_draws(seed, symbol, stream, n, "uniform")

    regime, trend_sign = _markov_regime(uniform("regime"), uniform("trend_sign"))
    trending = regime == TREND

    changepoint = uniform("changepoint") < P_CHANGEPOINT
    changepoint[0] = False
    level = _piecewise_level(changepoint, np.exp(np.clip(0.4 * normal("level"), -0.6, 0.6)))

    jump = uniform("jump") < P_JUMP
    since_jump = np.arange(n) - np.maximum.accumulate(np.where(jump, np.arange(n), -10_000))
    jump_boost = 1.0 + 0.8 * np.exp(-since_jump / 6.0)

    log_vol = _market_log_vol(seed, n) + _ar1(OWN_LOG_VOL_SD * normal("log_vol"), OWN_LOG_VOL_PHI)
    sigma = (
        profile.hourly_vol
        * np.exp(log_vol - LOG_VOL_VARIANCE / 2)  # stationary variance: no dependence on n
        * level
        * jump_boost
        * np.where(trending, 1.1, 0.85)
    )
    sigma = np.minimum(sigma, MAX_VOL_MULTIPLE * profile.hourly_vol)

    rw_scale = np.where(trending, 1.0, 0.4)
    ou_scale = np.where(trending, 0.15, 0.9)
    noise = rw_scale * sigma * normal("noise")

    if symbol == LEADER:
        factor = np.zeros(n)
        own_share = 1.0
    else:
        leader = _hourly_path(seed, LEADER, n)
        lag = profile.lead_lag_hours
        factor = profile.beta * np.concatenate([np.zeros(lag), leader.noise[: n - lag]])
        loading = profile.beta * profile_for(LEADER).hourly_vol / profile.hourly_vol
        own_share = float(np.sqrt(max(1.0 - loading**2, 0.16)))

    flow_signal = _ar1(np.sqrt(1 - FLOW_PHI**2) * normal("flow"), FLOW_PHI)
    common = 0.25 * sigma * hourly_draws(seed, "market", "common", n, "normal")
    drift = TREND_DRIFT * sigma * trend_sign
    flow_drift = FLOW_EFFECT * sigma * np.concatenate([[0.0], flow_signal[:-1]])
    # 4-6 sigma of the hour, but never more than MAX_JUMP_MULTIPLE base sigmas: a planted
    # anomaly, not a crash that real exchanges would halt for.
    jump_size = np.where(
        jump,
        np.sign(normal("jump_sign"))
        * np.minimum((4.0 + 2.0 * uniform("jump_size")) * sigma, MAX_JUMP_MULTIPLE * profile.hourly_vol),
        0.0,
    )
    increments = drift + own_share * noise + factor + common + flow_drift + jump_size
    slow = lfilter([1.0], [1.0, -(1.0 - PULL_PER_HOUR)], increments)
    ou = _ar1(ou_scale * sigma * normal("ou"), OU_PHI)
    log_close = np.log(profile.reference_price) + slow + ou
    returns = np.diff(log_close, prepend=np.log(profile.reference_price))
    z = returns / sigma

    # The crowd chases the last day's risk-adjusted returns, plus its own slow mood.
    positioning = np.tanh(3.5 * _ema(z, 24.0) + _ar1(0.1 * normal("positioning"), 0.95))
    premium = INTEREST_RATE_8H + 0.0009 * positioning + _ar1(0.00003 * normal("premium"), 0.7)

    excess = np.clip(np.abs(z) - 2.0, 0.0, None)
    liquidations = poisson.ppf(uniform("liquidations"), 2.5 * excess * (1 + np.abs(positioning)))
    liquidation_drag = _ema(liquidations, 48.0)
    log_oi = (
        np.log(profile.open_interest)
        + 0.35 * np.abs(positioning)
        + _ar1(0.01 * normal("open_interest"), 0.995)
        - 0.02 * liquidation_drag
    )

    volume_spike = (uniform("volume_spike") < P_VOLUME_SPIKE) & ~jump
    volume = (
        profile.hourly_volume
        * (sigma / profile.hourly_vol)
        * np.exp(0.25 * normal("volume") - 0.03)
        * (1.0 + 0.3 * np.clip(np.abs(z) - 1.0, 0.0, None))
        * np.where(volume_spike, 4.0 + 4.0 * uniform("spike_size"), 1.0)
        * np.where(jump, 3.0, 1.0)
    )

    activity = TRADES_PER_HOUR * (volume / profile.hourly_volume) ** 0.7

    def counts(stream: str, mean: np.ndarray) -> np.ndarray:
        return poisson.ppf(np.clip(uniform(stream), 1e-12, None), mean).astype(np.int64)

    agg_trades = counts("agg_trades", activity)

    def account_share(scale: float, stream: str, noise_sd: float) -> np.ndarray:
        return np.clip(0.5 + scale * np.tanh(1.3 * positioning) + noise_sd * normal(stream),
                       0.08, 0.92)

    return HourlyPath(
        profile=profile,
        log_close=log_close,
        sigma=sigma,
        regime=regime,
        trend_sign=trend_sign,
        noise=noise,
        level=level,
        changepoint=changepoint,
        jump=jump_size,
        volume_spike=volume_spike,
        volume=volume,
        flow_signal=flow_signal,
        positioning=positioning,
        premium=premium,
        open_interest=np.exp(log_oi),
        long_account=account_share(0.17, "long_account", 0.012),
        top_long_account=account_share(0.10, "top_long_account", 0.015),
        top_long_position=account_share(0.06, "top_long_position", 0.02),
        liquidations=liquidations.astype(np.int64),
        agg_trades=agg_trades,
        trade_fills=agg_trades + counts("trade_fills", 0.6 * agg_trades),
        spot_trades=counts("spot_trades", 0.8 * activity + 60.0),
    )


def funding_rate(premium_8h_mean: np.ndarray) -> np.ndarray:
    """Binance's funding formula: F = P̄ + clamp(I − P̄, −0.05 %, +0.05 %), capped at ±0.75 %."""
    rate = premium_8h_mean + np.clip(INTEREST_RATE_8H - premium_8h_mean, -0.0005, 0.0005)
    return np.clip(rate, -0.0075, 0.0075)


def hours_frame(seed: int, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Ground truth per hour in ``[start, end)``: regime, volatility, positioning, events."""
    first, last = hour_index(start), hour_index(end)
    path = hourly_path(seed, symbol, last)
    sl = slice(first, last)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "close": path.close[sl],
            "log_return": path.returns[sl],
            "sigma": path.sigma[sl],
            "regime": np.where(path.regime[sl] == TREND, "trend", "range"),
            "trend_sign": path.trend_sign[sl],
            "vol_level": path.level[sl],
            "changepoint": path.changepoint[sl],
            "jump": path.jump[sl] != 0.0,
            "jump_size": path.jump[sl],
            "volume_spike": path.volume_spike[sl],
            "flow_signal": path.flow_signal[sl],
            "positioning": path.positioning[sl],
            "premium": path.premium[sl],
            "open_interest": path.open_interest[sl],
            "liquidation_count": path.liquidations[sl],
        },
        index=pd.date_range(start, periods=last - first, freq="h", name="ts"),
    )
