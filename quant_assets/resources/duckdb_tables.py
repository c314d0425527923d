"""Reads of the DuckDB file that need no Dagster: module worker processes use them too.

Each read opens its own short read-only connection, so that several processes (a module
step's workers) read the file side by side while no writer holds it.
"""

from collections.abc import Sequence

import duckdb
import pandas as pd


class StoreError(RuntimeError):
    """A DuckDB table a module needs is absent, or a write was refused; names the table."""


def read_table(database: str | duckdb.DuckDBPyConnection, schema: str, table: str, columns: str,
               key_column: str | None, keys: Sequence[str] | None, start: pd.Timestamp | None,
               end: pd.Timestamp, group_by: str | None = None, order: bool = True) -> pd.DataFrame | None:
    """``select columns from schema.table`` for ``keys`` with ts in [start, end) (start None:
    from the first row), grouped and ordered by ts if asked; None when the table does not exist.
    ``database`` is a file (read in a connection of its own) or an open connection."""
    if isinstance(database, str):
        with duckdb.connect(database, read_only=True) as connection:
            return read_table(connection, schema, table, columns, key_column, keys, start, end, group_by,
                              order)
    where, params = ["ts < ?"], [end.to_pydatetime()]
    if start is not None:
        where.append("ts >= ?")
        params.append(start.to_pydatetime())
    if key_column and keys is not None:
        where.append(f"{key_column} in ({', '.join('?' for _ in keys)})")
        params.extend(keys)
    exists = database.execute(
        "select count(*) from information_schema.tables where table_schema=? and table_name=?",
        [schema, table]).fetchone()[0]
    if not exists:
        return None
    sql = (f"select {columns} from {schema}.{table} where {' and '.join(where)}"
           + (f" group by {group_by}" if group_by else "") + (" order by ts" if order else ""))
    frame = database.execute(sql, params).df()
    for column in ("ts", "first", "last"):
        if column in frame:
            frame[column] = frame[column].astype("datetime64[us]")
    return frame


def read_raw(database: str | duckdb.DuckDBPyConnection, family: str, key_column: str | None,
             keys: Sequence[str] | None, start: pd.Timestamp | None, end: pd.Timestamp, columns: str = "*",
             group_by: str | None = None, order: bool = True) -> pd.DataFrame:
    """Rows of ``raw.<family>`` for ``keys`` with ts in [start, end) (start None: all), or
    ``columns`` aggregated by ``group_by``; raises when the raw asset was never materialized."""
    frame = read_table(database, "raw", family, columns, key_column, keys, start, end, group_by, order)
    if frame is None:
        where = database if isinstance(database, str) else "the DuckDB file"
        raise StoreError(f"raw.{family} does not exist in {where}: materialize the raw "
                         f"asset raw/{family} for these partitions first")
    return frame
