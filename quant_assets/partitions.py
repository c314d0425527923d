"""Partitions of the platform: by UTC day and symbol, by day and on-chain asset, by day.

Exchange data (day × symbol) includes today's *open* partition, refreshed hourly: it
holds what has closed so far and is replaced until the day closes. On-chain series and
ETF flows are daily values published after the day, so their partitions end at
yesterday, and so do the daily cross-symbol modules.
"""

from __future__ import annotations

import dagster as dg

from quant_assets.settings import Settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS


def daily(settings: Settings, open_day: bool = False) -> dg.DailyPartitionsDefinition:
    """UTC days from ``QUANT_START_DATE`` through yesterday, or through today (``open_day``)."""
    return dg.DailyPartitionsDefinition(start_date=settings.start_date.isoformat(), timezone="UTC",
                                        end_offset=1 if open_day else 0)


def by_day_and_symbol(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {"date": daily(settings, open_day=True),
         "symbol": dg.StaticPartitionsDefinition(list(settings.symbols))}
    )


def by_day_and_asset(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {"date": daily(settings), "asset": dg.StaticPartitionsDefinition(list(ONCHAIN_ASSETS))}
    )


def build_partitions(settings: Settings) -> dict[str, dg.PartitionsDefinition]:
    """Partitions by kind: day × symbol (with today's open day), day × on-chain asset, day."""
    return {
        "symbol": by_day_and_symbol(settings),
        "asset": by_day_and_asset(settings),
        "day": daily(settings),
    }

