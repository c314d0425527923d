"""Per-symbol parameters of the simulated market: price level, volatility, tick, sizes.

Known symbols get hand-set, plausible values; any other symbol gets values derived
from a stable hash of its name, so a new symbol is reproducible on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: The symbol whose innovations the others follow with a planted lag.
LEADER = "BTCUSDT"


def stable_code(text: str) -> int:
    """A 32-bit integer from ``text`` that is the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


@dataclass(frozen=True)
class SymbolProfile:
    """Scale and microstructure of one simulated perpetual/spot pair.

    ``lead_lag_hours`` is the planted delay (in hours) with which the symbol's
    returns load on the leader's innovations; 0 for the leader itself.
    """

    symbol: str
    reference_price: float
    hourly_vol: float
    tick_size: float
    qty_decimals: int
    hourly_volume: float
    open_interest: float
    lead_lag_hours: int
    beta: float

    @property
    def price_decimals(self) -> int:
        text = f"{self.tick_size:.10f}".rstrip("0")
        return len(text.split(".")[1]) if "." in text else 0


_KNOWN: dict[str, SymbolProfile] = {
    p.symbol: p
    for p in (
        SymbolProfile("BTCUSDT", 65_000.0, 0.0060, 0.1, 3, 9_000.0, 80_000.0, 0, 1.0),
        SymbolProfile("ETHUSDT", 3_200.0, 0.0080, 0.01, 3, 180_000.0, 1_500_000.0, 1, 1.1),
        SymbolProfile("SOLUSDT", 150.0, 0.0110, 0.01, 2, 1_500_000.0, 9_000_000.0, 2, 1.4),
        SymbolProfile("BNBUSDT", 600.0, 0.0070, 0.01, 2, 40_000.0, 700_000.0, 1, 0.8),
        SymbolProfile("XRPUSDT", 0.55, 0.0100, 0.0001, 1, 90_000_000.0, 500_000_000.0, 3, 1.2),
    )
}


def profile_for(symbol: str) -> SymbolProfile:
    """The profile of ``symbol``: hand-set for the defaults, hash-derived otherwise."""
    if symbol in _KNOWN:
        return _KNOWN[symbol]
    code = stable_code(symbol)
    price = 10 ** (code % 500 / 100.0)  # 1 … 1e5, log-uniform
    decimals = max(0, 4 - int(f"{price:e}".split("e")[1]))
    tick = round(10.0 ** (-decimals), decimals)
    qty_decimals = max(0, min(3, 3 - decimals + 2))
    return SymbolProfile(
        symbol=symbol,
        reference_price=round(price, decimals),
        hourly_vol=0.008 + (code >> 9) % 60 / 10_000.0,
        tick_size=tick,
        qty_decimals=qty_decimals,
        hourly_volume=2_000_000.0 / price,
        open_interest=30_000_000.0 / price,
        lead_lag_hours=1 + (code >> 3) % 3,
        beta=0.8 + (code >> 5) % 7 / 10.0,
    )
