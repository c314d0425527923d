"""Partitions of the platform: by UTC day and symbol, by day and on-chain asset, by day."""

from __future__ import annotations

import dagster as dg

from quant_assets.settings import Settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS


def daily(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Closed UTC days from ``QUANT_START_DATE`` through yesterday."""
    return dg.DailyPartitionsDefinition(start_date=settings.start_date.isoformat(), timezone="UTC")


def by_day_and_symbol(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {"date": daily(settings), "symbol": dg.StaticPartitionsDefinition(list(settings.symbols))}
    )


def by_day_and_asset(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {"date": daily(settings), "asset": dg.StaticPartitionsDefinition(list(ONCHAIN_ASSETS))}
    )


def build_partitions(settings: Settings) -> dict[str, dg.PartitionsDefinition]:
    """Partitions by kind: day × symbol, day × on-chain asset, day."""
    return {
        "symbol": by_day_and_symbol(settings),
        "asset": by_day_and_asset(settings),
        "day": daily(settings),
    }
