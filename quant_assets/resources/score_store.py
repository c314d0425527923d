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


class StoreError(RuntimeError):
    """A DuckDB table a module needs is absent, or a write was refused; names the table."""


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
        frame = self._read("raw", family, "*", key_column, keys, start, end)
        if frame is None:
            raise StoreError(f"raw.{family} does not exist in {self.database}: materialize the raw "
                             f"asset raw/{family} for these partitions first")
        return frame

    def read_stored(self, schema: str, table: str, columns: Sequence[str], key_column: str | None,
                    keys: Sequence[str] | None, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """``ts`` and ``columns`` of ``<schema>.<table>`` for ``keys`` with ts in [start, end):
        empty when nothing was stored yet (the table does not exist)."""
        selected = ", ".join(f'"{column}"' for column in ("ts", *columns))
        frame = self._read(schema, table, selected, key_column, keys, start, end)
        return pd.DataFrame(columns=["ts", *columns]) if frame is None else frame

    def _read(self, schema: str, table: str, columns: str, key_column: str | None,
              keys: Sequence[str] | None, start: pd.Timestamp | None,
              end: pd.Timestamp) -> pd.DataFrame | None:
        where, params = ["ts < ?"], [end.to_pydatetime()]
        if start is not None:
            where.append("ts >= ?")
            params.append(start.to_pydatetime())
        if key_column and keys is not None:
            where.append(f"{key_column} in ({', '.join('?' for _ in keys)})")
            params.extend(keys)
        with self._connect(read_only=True) as connection:
            exists = connection.execute(
                "select count(*) from information_schema.tables where table_schema=? and table_name=?",
                [schema, table]).fetchone()[0]
            if not exists:
                return None
            sql = f"select {columns} from {schema}.{table} where {' and '.join(where)} order by ts"
            frame = connection.execute(sql, params).df()
        if "ts" in frame:
            frame["ts"] = frame["ts"].astype("datetime64[us]")
        return frame

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
