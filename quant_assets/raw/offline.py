"""Raw tables straight from a market source, without Dagster or DuckDB.

The same fetch and parser as the raw assets, for benchmarks, planted-signal tests and
research notebooks that want the stored tables' exact shape in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from quant_assets.raw.families import FAMILIES_BY_NAME
from quant_assets.raw.parsers import parse_payload
from quant_assets.raw.schemas import RawTable
from quant_assets.sources.base import MarketSource
from quant_assets.ui_metadata import empty_table


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def raw_table(source: MarketSource, family: str, keys: Sequence[str], first: date,
              last: date) -> pd.DataFrame:
    """Rows of ``raw.<family>`` for ``keys`` (symbols, assets, or ``[""]`` for daily
    families) from ``first`` through ``last``, parsed exactly as the raw asset does."""
    spec = FAMILIES_BY_NAME[family]
    requests = [(key, day) for key in keys for day in days_between(first, last)]
    frames = [parse_payload(family, spec.parser, payload, key)
              for key, _day, payloads in source.fetch_all(family, requests) for payload in payloads]
    frames = [frame for frame in frames if len(frame)]
    schema: type[RawTable] = spec.schema
    return pd.concat(frames, ignore_index=True) if frames else empty_table(schema)
