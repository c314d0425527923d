"""Facts about the exchange's endpoints that clients, simulator and checks share.

Source: Binance spot and USDⓈ-M futures REST documentation (see
``shared/fixtures/BINANCE_API_FACTS.md``).
"""

from __future__ import annotations

from quant_assets.settings import KLINE_INTERVAL_MINUTES

SPOT_KLINE_LIMIT = 1000
FUTURES_KLINE_LIMIT = 1500
AGG_TRADES_LIMIT = 1000
FUNDING_HOURS = (0, 8, 16)

#: ``period`` values accepted by the ``/futures/data`` statistics endpoints, in minutes.
RATIO_PERIODS = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360,
                 "12h": 720, "1d": 1440}


def ratio_period(kline_interval: str) -> str:
    """The ``/futures/data`` period matching the kline interval (those endpoints start at 5m)."""
    if kline_interval in RATIO_PERIODS:
        return kline_interval
    return "5m" if KLINE_INTERVAL_MINUTES[kline_interval] < 5 else "4h"
