"""DuckDB access for the analysis modules: read raw slices, replace feature and score slices.

A module step reads the raw rows it needs (with the history before its range) in one
short read-only connection, computes, and then replaces its slice of ``features.<module>``
and ``scores.<table>`` in one transaction: the old rows stay until the new ones commit,
so a failed run never loses what was stored. Tables are created from the pandera model
(score tables) or the frame (feature tables) and gain columns when a module gains nodes;
rows are inserted by column name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pandera.pandas as pa

from quant_assets.resources.duckdb_tables import StoreError, read_raw, read_table

__all__ = ["ScoreStoreResource", "Slice", "StoreError", "frame_columns", "model_columns"]


_TYPES = {"float64": "DOUBLE", "int64": "BIGINT", "Int64": "BIGINT", "bool": "BOOLEAN", "str": "VARCHAR",
          "object": "VARCHAR"}


def _duck_type(dtype: Any) -> str:
    name = str(dtype)
    if name.startswith("datetime64"):
        return "TIMESTAMP"
    return _TYPES.get(name, "VARCHAR")


def model_columns(model: type[pa.DataFrameModel]) -> dict[str, str]:
    return {name: _duck_type(column.dtype) for name, column in model.to_schema().columns.items()}


def frame_columns(frame: pd.DataFrame) -> dict[str, str]:
    return {str(name): _duck_type(dtype) for name, dtype in frame.dtypes.items()}


@dataclass(frozen=True)
class Slice:
    """Rows to replace: ``schema.table`` where ``key_column`` in ``keys`` and ts in [start, end)."""

    schema: str
    table: str
    key_column: str | None
    keys: Sequence[str]
    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame
    columns: dict[str, str]


class ScoreStoreResource(dg.ConfigurableResource):
    """The DuckDB file the raw assets write to, read and written by module steps."""

    database: str

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(self.database, read_only=read_only)

    def read_raw(self, family: str, key_column: str | None, keys: Sequence[str] | None,
                 start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
        """Rows of ``raw.<family>`` for ``keys`` with ts in [start, end) (start None: all)."""
        return read_raw(self.database, family, key_column, keys, start, end)

    def read_stored(self, schema: str, table: str, columns: Sequence[str], key_column: str | None,
                    keys: Sequence[str] | None, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """``ts`` and ``columns`` of ``<schema>.<table>`` for ``keys`` with ts in [start, end):
        empty when nothing was stored yet (the table does not exist)."""
        selected = ", ".join(f'"{column}"' for column in ("ts", *columns))
        frame = read_table(self.database, schema, table, selected, key_column, keys, start, end)
        return pd.DataFrame(columns=["ts", *columns]) if frame is None else frame

    def raw_extent(self, family: str, key_column: str | None, keys: Sequence[str] | None,
                   start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
        """First and last ts (``first``, ``last``) of ``raw.<family>`` per key (column ``key``;
        one row with key "" for a family without keys) in [start, end), without reading the rows."""
        key = key_column if key_column else "''"
        columns = f"{key} as key, min(ts) as first, max(ts) as last"
        return read_raw(self.database, family, key_column, keys, start, end, columns, key, order=False)

    def replace(self, slices: Sequence[Slice]) -> None:
        """Replace every slice in one transaction."""
        with self._connect(read_only=False) as connection:
            connection.begin()
            try:
                for part in slices:
                    _replace(connection, part)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._connect(read_only=True) as connection:
            return connection.execute(sql, list(params)).df()


def _replace(connection: duckdb.DuckDBPyConnection, part: Slice) -> None:
    name = f"{part.schema}.{part.table}"
    connection.execute(f"create schema if not exists {part.schema}")
    ddl = ", ".join(f'"{column}" {kind}' for column, kind in part.columns.items())
    connection.execute(f"create table if not exists {name} ({ddl})")
    present = {row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema=? and table_name=?",
        [part.schema, part.table]).fetchall()}
    for column, kind in part.columns.items():
        if column not in present:
            connection.execute(f'alter table {name} add column "{column}" {kind}')
    where, params = ["ts >= ?", "ts < ?"], [part.start.to_pydatetime(), part.end.to_pydatetime()]
    if part.key_column:
        where.append(f"{part.key_column} in ({', '.join('?' for _ in part.keys)})")
        params.extend(part.keys)
    connection.execute(f"delete from {name} where {' and '.join(where)}", params)
    if len(part.frame):
        connection.register("incoming", part.frame)
        try:
            connection.execute(f"insert into {name} by name select * from incoming")
        finally:
            connection.unregister("incoming")
