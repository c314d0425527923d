"""USDⓈ-M perpetual listings: which symbols the futures exchange trades, from ``exchangeInfo``.

``GET /fapi/v1/exchangeInfo`` lists every futures contract with its ``contractType``
(``PERPETUAL``, ``CURRENT_QUARTER``, …), ``status`` (``TRADING``, ``SETTLING``, …), base
and quote asset and ``onboardDate`` (ms). The symbol-listing sensor compares the trading
perpetuals with a stablecoin quote against the configured symbols.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from quant_assets.sources.base import SourceError

#: Quote assets whose perpetuals the platform can take (as ``QUANT_SYMBOLS`` accepts).
STABLE_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD")
_FIELDS = {"symbol": str, "contractType": str, "status": str, "baseAsset": str, "quoteAsset": str,
           "onboardDate": int}


class ListingError(SourceError):
    """An ``exchangeInfo`` answer is not shaped as documented; names the entry and field."""


@dataclass(frozen=True)
class Listing:
    """One trading USDⓈ-M perpetual."""

    symbol: str
    base_asset: str
    quote_asset: str
    onboard: date


def usdm_perpetuals(text: str, origin: str) -> list[Listing]:
    """The trading perpetuals with a stablecoin quote in the ``exchangeInfo`` body ``text``,
    sorted by symbol; ``origin`` (the source and endpoint) is named in any error."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListingError(f"{origin}: not JSON ({exc.msg} at {exc.pos})") from exc
    if not isinstance(body, Mapping) or not isinstance(body.get("symbols"), list):
        raise ListingError(f"{origin}: field 'symbols' is missing or not a list")
    listings = []
    for index, entry in enumerate(body["symbols"]):
        if not isinstance(entry, Mapping):
            raise ListingError(f"{origin}: symbols[{index}] is not an object")
        for name, kind in _FIELDS.items():
            value = entry.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ListingError(f"{origin}: symbols[{index}].{name} is {value!r}, expected "
                                   f"{'an integer (ms)' if kind is int else 'a string'}")
        if (entry["contractType"], entry["status"]) != ("PERPETUAL", "TRADING") \
                or entry["quoteAsset"] not in STABLE_QUOTES:
            continue
        onboard = datetime.fromtimestamp(entry["onboardDate"] / 1000, UTC).date()
        listings.append(Listing(entry["symbol"], entry["baseAsset"], entry["quoteAsset"], onboard))
    return sorted(listings, key=lambda listing: listing.symbol)
