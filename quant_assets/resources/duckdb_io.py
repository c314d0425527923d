"""DuckDB IO manager whose partition writes are one transaction.

dagster-duckdb deletes a partition's rows and then inserts the new ones as two
autocommitted statements, so a failed insert (a column-order or type mismatch, a
full disk) would leave the partition empty. Here the delete and the insert commit
together or not at all, so a failed run never loses what was stored before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster._core.storage.db_io_manager import DbIOManager, TableSlice
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager


class TransactionalDuckDbClient(DuckDbClient):
    """DuckDbClient that wraps each output's delete + insert in a single transaction."""

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        # A failed statement aborts the transaction, so test for the table instead of
        # catching the missing-table error as the stock client does.
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [table_slice.schema, table_slice.table],
        ).fetchone()[0]
        if exists:
            DuckDbClient.delete_table_slice(context, table_slice, connection)

    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator[duckdb.DuckDBPyConnection]:
        with DuckDbClient.connect(context, table_slice) as connection:
            connection.begin()
            try:
                yield connection
                connection.commit()
            except BaseException:
                connection.rollback()
                # The stock client closes only on success; a failed write must not leave
                # the file held open by this process.
                connection.close()
                raise


class QuantDuckDBIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager with transactional partition writes (see module docstring)."""

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="QuantDuckDBIOManager",
        )
