"""Metadata that makes assets readable in the Dagster UI: column schemas and previews."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pandera.pandas as pa


def table_schema(model: type[pa.DataFrameModel]) -> dg.TableSchema:
    """The model's columns, types and descriptions for the UI's Columns tab."""
    columns = model.to_schema().columns
    return dg.TableSchema(columns=[
        dg.TableColumn(name, str(column.dtype), description=column.description or "",
                       constraints=dg.TableColumnConstraints(nullable=bool(column.nullable)))
        for name, column in columns.items()
    ])


def empty_table(model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row frame with the model's columns and dtypes (timestamps at microseconds)."""

    def dtype(column: pa.Column) -> str:
        name = str(column.dtype)
        return "datetime64[us]" if name.startswith("datetime64") else "object" if name == "str" else name

    columns = model.to_schema().columns
    return pd.DataFrame({name: pd.Series(dtype=dtype(column)) for name, column in columns.items()})


def markdown_preview(frame: pd.DataFrame, rows: int = 5) -> dg.MetadataValue:
    """The last ``rows`` rows as a markdown table (no extra dependency)."""
    tail = frame.tail(rows)
    header = "| " + " | ".join(map(str, tail.columns)) + " |"
    rule = "|" + "---|" * len(tail.columns)

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.6g}"
        return str(value)

    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in tail.itertuples(index=False)]
    return dg.MetadataValue.md("\n".join([header, rule, *body]) if len(tail) else "_no rows_")
