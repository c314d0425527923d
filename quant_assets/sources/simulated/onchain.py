"""Daily on-chain and ETF-flow series of the simulated market.

Built from the simulated daily closes of BTCUSDT/ETHUSDT, with the definitions the
data vendors use (Glassnode): realized price is the cost basis of the supply
(a slow, causal average of price), MVRV = market cap / realized cap, NUPL =
1 − 1/MVRV, SOPR = price / cost basis of the coins spent that day, NRPL =
(1 − 1/SOPR) × value spent. A latent daily macro factor ``M`` (AR(1)) drives
stablecoin inflows to exchanges and coin outflows from them (accumulation), and
ETF inflows chase recent returns; ``M`` is exposed as ground truth.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from quant_assets.sources.onchain_catalog import ETF_FUNDS, ETF_LAUNCH
from quant_assets.sources.simulated.core import EPOCH, hourly_draws, hourly_path

_PAIR = {"BTC": "BTCUSDT", "ETH": "ETHUSDT"}



def _ema(values: np.ndarray, alpha: float, first: float) -> np.ndarray:
    return lfilter([alpha], [1.0, -(1.0 - alpha)], values - first) + first


def _days(until: date) -> int:
    return (until - EPOCH.date()).days + 1


@lru_cache(maxsize=16)
def macro_factor(seed: int, n_days: int) -> np.ndarray:
    draws = hourly_draws(seed, "macro", "factor", n_days, "normal")
    return lfilter([np.sqrt(1 - 0.97**2)], [1.0, -0.97], draws)


@lru_cache(maxsize=16)
def onchain_series(seed: int, asset: str, until: date) -> pd.DataFrame:
    """Daily metrics of ``asset`` from the epoch through ``until`` (index: day start)."""
    n = _days(until)
    days = pd.date_range(EPOCH, periods=n, freq="D")
    macro = macro_factor(seed, n)

    def normal(stream: str) -> np.ndarray:
        return hourly_draws(seed, f"onchain/{asset}", stream, n, "normal")

    if asset == "USDT":
        inflow = 1.5e9 * np.exp(0.3 * normal("inflow") + 0.35 * macro)
        outflow = 1.5e9 * np.exp(0.3 * normal("outflow") - 0.1 * macro)
        return pd.DataFrame({"exchange_inflow_usd": inflow, "exchange_outflow_usd": outflow,
                             "exchange_netflow_usd": inflow - outflow}, index=days)

    path = hourly_path(seed, _PAIR[asset], n * 24)
    price = path.close[23 : n * 24 : 24]  # close of each day's last hour
    if asset == "BTC":
        supply = 17_450_000 + np.cumsum(np.where(days < "2020-05-11", 1800.0,
                                                 np.where(days < "2024-04-20", 900.0, 450.0)))
        base_balance = 2_600_000.0
    else:
        supply = 104_000_000 + np.cumsum(np.where(days < "2022-09-15", 13_000.0, -200.0))
        base_balance = 18_000_000.0
    realized_price = _ema(price, 1 / 400, price[0] * 0.8)
    short_basis = _ema(price, 1 / 7, price[0])
    market_cap = price * supply
    realized_cap = realized_price * supply
    mvrv = market_cap / realized_cap
    # Coins spent today were mostly bought recently: their cost basis is near the week's price.
    spent_basis = 0.8 * short_basis + 0.2 * realized_price
    sopr = np.sqrt(price / spent_basis) * np.exp(0.004 * normal("sopr"))
    spent_usd = market_cap * 0.004 * np.exp(0.3 * normal("spent"))
    week_return = np.log(price / np.concatenate([np.full(7, price[0]), price[:-7]]))
    inflow = market_cap * 0.0015 * np.exp(0.3 * normal("inflow")) * (
        1 + 3 * np.clip(week_return, 0, None) + 4 * np.clip(-week_return, 0, None))
    outflow = market_cap * 0.0015 * np.exp(0.3 * normal("outflow") + 0.25 * macro)
    netflow = inflow - outflow
    balance = base_balance + np.cumsum(netflow / price)
    position_change = balance - np.concatenate([np.full(30, balance[0]), balance[:-30]])
    whale = np.clip(0.45 + 0.08 * normal("whale") - 0.06 * macro + 0.4 * np.clip(-week_return, 0, None),
                    0.15, 0.97)
    return pd.DataFrame(
        {
            "price_usd": price, "market_cap_usd": market_cap, "realized_cap_usd": realized_cap,
            "mvrv": mvrv, "supply": supply, "sopr": sopr, "nupl": 1 - 1 / mvrv,
            "nrpl_usd": (1 - 1 / sopr) * spent_usd, "exchange_inflow_usd": inflow,
            "exchange_outflow_usd": outflow, "exchange_netflow_usd": netflow,
            "exchange_balance": balance, "exchange_net_position_change": position_change,
            "exchange_whale_ratio": whale,
        },
        index=days,
    )


def etf_flows(seed: int, asset: str, day: date) -> dict[str, float | None] | None:
    """Net flow (US$ millions) per fund on ``day``; None when the market was closed or no ETF."""
    if day < ETF_LAUNCH[asset] or day.weekday() >= 5:
        return None
    series = onchain_series(seed, asset, day)
    price = series["price_usd"].to_numpy()
    momentum = np.log(price[-1] / price[-6])
    rng = np.random.default_rng([seed, 7_001, day.toordinal(), len(asset)])
    scale = 400.0 if asset == "BTC" else 120.0
    total = scale * (0.15 + np.tanh(8 * momentum)) + scale * 0.5 * rng.standard_normal()
    funds = ETF_FUNDS[asset]
    shares = rng.dirichlet(np.linspace(4.0, 0.5, len(funds)))
    flows: dict[str, float | None] = {}
    for fund, share in zip(funds, shares, strict=True):
        if fund in ("GBTC", "ETHE"):
            flows[fund] = round(-abs(scale * 0.1 * rng.standard_normal()), 1)
        elif share < 0.03 and rng.random() < 0.7:
            flows[fund] = None
        else:
            flows[fund] = round(total * share + scale * 0.02 * rng.standard_normal(), 1)
    return flows


def onchain_truth(seed: int, until: date, n_back: int) -> pd.Series:
    """The latent macro factor for the ``n_back`` days ending at ``until``."""
    n = _days(until)
    days = pd.date_range(EPOCH, periods=n, freq="D")
    return pd.Series(macro_factor(seed, n), index=days, name="macro_factor").iloc[-n_back:]
