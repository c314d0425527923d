"""Which raw tables a module reads, and its frames built from them for one subject."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from quant_assets.metrics import get
from quant_assets.modules import frames as fr
from quant_assets.modules.declaration import ModuleDeclaration
from quant_assets.modules.engine import ModuleOutput, compute_subject
from quant_assets.resources.duckdb_tables import read_raw


def raw_key_dimension(family: str) -> str | None:
    """The column a raw family is keyed by besides the date (None: one series, the ETF flows)."""
    return {"onchain_metrics": "asset", "etf_flows": None}.get(family, "symbol")


@dataclass(frozen=True)
class StoredRaw:
    """Raw rows left in the DuckDB file for each symbol's worker to read itself (reading every
    symbol in the step and shipping the rows would serialize the run behind one process):
    the file, the first ts to read of each family, and the end of the range."""

    database: str
    starts: Mapping[str, pd.Timestamp]
    end: pd.Timestamp

    def rows(self, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Every family's rows of ``symbols``, read in one connection."""
        rows = {}
        with duckdb.connect(self.database, read_only=True) as connection:
            for family, first in self.starts.items():
                dimension = raw_key_dimension(family)
                keys = list(symbols) if dimension == "symbol" else None
                rows[family] = read_raw(connection, family, dimension, keys, first, self.end)
        return rows


def node_sources(declaration: ModuleDeclaration, name: str) -> list[str]:
    """Raw families node ``name`` reads."""
    node = declaration.nodes[name]
    columns = [node.columns.get(column, column) for column in get(node.metric).inputs]
    return fr.frame_sources(node.frame, columns)


def module_sources(declaration: ModuleDeclaration) -> dict[str, list[str]]:
    """Raw families per frame the module reads (tick frames are loaded over less history)."""
    out: dict[str, set[str]] = {}
    for name, node in declaration.nodes.items():
        out.setdefault(node.frame, set()).update(node_sources(declaration, name))
    return {frame: sorted(families) for frame, families in out.items()}


def bar_grid(start: pd.Timestamp, end: pd.Timestamp, bar: pd.Timedelta) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=bar, inclusive="left")


def _rows_of(table: pd.DataFrame, column: str, subject: str) -> pd.DataFrame:
    return table[table[column] == subject] if column in table.columns else table


def subject_rows(raw: Mapping[str, pd.DataFrame], column: str,
                 subjects: Sequence[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """Each subject's rows of every raw table, split in one pass per table (rows keep their
    order; a table without ``column`` is every subject's)."""
    out: dict[str, dict[str, pd.DataFrame]] = {subject: {} for subject in subjects}
    for name, table in raw.items():
        groups = dict(iter(table.groupby(column, sort=False))) if column in table.columns else {}
        for subject in subjects:
            out[subject][name] = groups.get(subject, table.iloc[:0]) if column in table.columns else table
    return out


def symbol_frames(declaration: ModuleDeclaration, raw: Mapping[str, pd.DataFrame], symbol: str,
                  grid: pd.DatetimeIndex, bar: pd.Timedelta) -> dict[str, pd.DataFrame]:
    """The frames one symbol's nodes read, from raw tables of one or many symbols."""
    sources = module_sources(declaration)
    own = {name: _rows_of(table, "symbol", symbol) for name, table in raw.items()}
    frames: dict[str, pd.DataFrame] = {}
    for frame in sources:
        missing = [family for family in sources[frame] if family not in own]
        if missing:
            raise fr.FrameError(f"{declaration.id}: raw.{missing[0]} was not loaded for the {frame} frame")
        tables = {family: own[family] for family in sources[frame]}
        if frame == "bar":
            frames[frame] = fr.bar_frame(tables, grid, bar)
        elif frame == "book":
            frames[frame] = fr.book_frame(tables)
        elif frame == "depth":
            frames[frame] = fr.depth_frame(tables)
        else:
            raise fr.FrameError(f"{declaration.id}: frame {frame!r} is not a per-symbol frame")
    return frames


def asset_frames(declaration: ModuleDeclaration, raw: Mapping[str, pd.DataFrame], asset: str,
                 days: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """The daily frame of one on-chain asset."""
    return {"daily": fr.daily_frame(raw["onchain_metrics"], raw.get("etf_flows"), asset, days)}


def symbol_output(declaration: ModuleDeclaration, raw: Mapping[str, pd.DataFrame], symbol: str,
                  grid: pd.DatetimeIndex, bar: pd.Timedelta,
                  start: pd.Timestamp | None = None) -> ModuleOutput:
    """``declaration`` for ``symbol`` on ``grid`` (exact from ``start`` on, see
    :func:`compute_subject`) from raw tables of one or many symbols."""
    return compute_subject(declaration, symbol_frames(declaration, raw, symbol, grid, bar), grid, bar, symbol,
                           start)


def symbols_output(declaration: ModuleDeclaration, raw: Mapping[str, pd.DataFrame] | StoredRaw,
                   symbols: Sequence[str], grid: pd.DatetimeIndex, bar: pd.Timedelta,
                   start: pd.Timestamp | None = None) -> dict[str, ModuleOutput]:
    """:func:`symbol_output` of each of ``symbols``, from raw tables or read from the DuckDB
    file in this process (one connection for the group)."""
    tables = raw.rows(symbols) if isinstance(raw, StoredRaw) else raw
    rows = subject_rows(tables, "symbol", symbols)
    return {symbol: symbol_output(declaration, rows[symbol], symbol, grid, bar, start) for symbol in symbols}


def compute_symbol(declaration: ModuleDeclaration, raw: Mapping[str, pd.DataFrame], symbol: str,
                   start: pd.Timestamp, end: pd.Timestamp, bar: pd.Timedelta) -> ModuleOutput:
    """``declaration`` for ``symbol`` on the bars ``[start, end)`` from in-memory raw tables."""
    return symbol_output(declaration, raw, symbol, bar_grid(start, end, bar), bar)
