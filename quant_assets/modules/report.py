"""Reading the scores back from DuckDB, explained, for people and scripts (demo, CLI).

:func:`latest` returns, for one score table, the newest row of every subject (symbol,
asset or ordered pair) at or before a time, with its label and the components of its
explanation. Missing files, tables, subjects and times raise :class:`ScoreQueryError`
with a message that says what is missing and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb


class ScoreQueryError(LookupError):
    """The scores asked for are not in the DuckDB file; the message says why."""


@dataclass(frozen=True)
class TableView:
    """How a score table is read: its subject, value, label and any further columns shown."""

    subject: str
    value: str
    label: str | None = "signal"
    extra: tuple[str, ...] = ()
    pair: bool = False
    daily: bool = False  # a row per UTC day, its values as of the day's close


#: Every score table, in the modules' order.
TABLES: dict[str, TableView] = {
    "trend_score": TableView("symbol", "score"),
    "regime": TableView("symbol", "prob_trend", label="label"),
    "sentiment_score": TableView("symbol", "score"),
    "liquidity_pressure_score": TableView("symbol", "score"),
    "lead_lag": TableView("x || '→' || y", "correlation", label=None,
                          extra=("best_lag", "lead_lag_delta", "granger_pvalue", "dtw_distance"), pair=True,
                          daily=True),
    "macro_score": TableView("asset", "score", daily=True),
    "risk_score": TableView("symbol", "score"),
    "micro_alpha_score": TableView("symbol", "score"),
    "allocation_weights": TableView("symbol", "weight", label="chosen_method",
                                    extra=("hrp", "black_litterman", "risk_parity"), daily=True),
    "anomaly_score": TableView("symbol", "score"),
}


@dataclass(frozen=True)
class ScoreRow:
    """One subject's newest value: its explanation's components sorted by |contribution|."""

    table: str
    subject: str
    ts: datetime
    value: float
    label: str | None
    module_version: str | None
    extra: dict[str, float | None] = field(default_factory=dict)
    components: list[dict[str, Any]] = field(default_factory=list)
    clipped: bool = False

    def top(self, count: int = 3) -> str:
        return "; ".join(f"{c['name']} {c['contribution']:+.3f}" for c in self.components[:count])

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "subject": self.subject, "ts": self.ts.isoformat(), "value": self.value,
                "label": self.label, "module_version": self.module_version, **self.extra,
                "components": self.components, "clipped": self.clipped}


def connect(database: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a clear error when the file was never created."""
    if not database.exists():
        raise ScoreQueryError(f"no DuckDB file at {database}: run `make demo` (or materialize the raw and "
                              "module assets) first, or point QUANT_DUCKDB_PATH at your file")
    return duckdb.connect(str(database), read_only=True)


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {name for (name,) in connection.execute(
        "select column_name from information_schema.columns where table_schema='scores' and table_name=?",
        [table]).fetchall()}


def latest(connection: duckdb.DuckDBPyConnection, table: str, subject: str | None = None,
           at: datetime | None = None, bar: timedelta = timedelta(hours=1),
           limit: int | None = None) -> list[ScoreRow]:
    """Newest non-null value of each subject in ``scores.<table>`` that was known at ``at``
    (every row when ``at`` is None); ``subject`` keeps one symbol (for pairs: every pair it
    is in). A row's ``ts`` is its bar's (or day's) open and its value is known at the close,
    so ``at`` takes rows with ``ts + bar <= at`` (``ts + 1 day`` for daily tables): no look-ahead."""
    view = TABLES[table]
    columns = _columns(connection, table)
    if not columns:
        raise ScoreQueryError(f"scores.{table} has not been materialized yet: run `make demo`, or "
                              f"materialize scores/{table} in the Dagster UI")
    where, params = [f"{view.value} is not null"], []
    if at is not None:
        where.append("ts <= ?")
        params.append(at - (timedelta(days=1) if view.daily else bar))
    if subject is not None:
        where.append("(x = ? or y = ?)" if view.pair else f"{view.subject} = ?")
        params += [subject, subject] if view.pair else [subject]
    optional = [name if name in columns else f"null as {name}" for name in ("explain", "module_version")]
    label = view.label if view.label in columns else "null"
    sql = f"""
        select {view.subject} as subject, ts, {view.value} as value, {label} as label,
               {", ".join(optional)} {"".join(f", {name}" for name in view.extra)}
        from scores.{table} where {" and ".join(where)}
        qualify row_number() over (partition by {view.subject} order by ts desc) = 1
        order by subject""" + (f" limit {int(limit)}" if limit else "")
    records = connection.execute(sql, params).fetchall()
    if not records:
        raise ScoreQueryError(_why_empty(connection, table, view, subject, at))
    rows = []
    for subject_name, ts, value, label_value, explain, version, *extra in records:
        record = json.loads(explain) if explain else {}
        rows.append(ScoreRow(table, subject_name, ts, float(value), label_value, version,
                             dict(zip(view.extra, extra, strict=True)), record.get("components", []),
                             bool(record.get("clipped", False))))
    return rows


def _why_empty(connection: duckdb.DuckDBPyConnection, table: str, view: TableView, subject: str | None,
               at: datetime | None) -> str:
    subjects = sorted({s for (s,) in connection.execute(
        f"select distinct {'x' if view.pair else view.subject} from scores.{table}").fetchall()})
    if not subjects:
        return f"scores.{table} is empty: materialize its module for some partitions first"
    if subject is not None and subject not in subjects:
        return (f"{subject!r} has no rows in scores.{table}; it has: {', '.join(subjects)} "
                "(add a symbol with QUANT_SYMBOLS and backfill it)")
    first = connection.execute(
        f"select min(ts) from scores.{table} where {view.value} is not null").fetchone()[0]
    if first is None:
        return f"scores.{table} holds only warm-up rows (no value yet): backfill more history before them"
    if at is not None:
        return (f"scores.{table} has no value known at {at:%Y-%m-%d %H:%M}; the first is the one of "
                f"{first:%Y-%m-%d %H:%M}, known at its close")
    return f"scores.{table} has no value for {subject} yet (still warming up)"


def latest_scores(connection: duckdb.DuckDBPyConnection, limit: int = 12) -> dict[str, list[str]]:
    """Per score table, one line per subject: its newest value, label and top contributions."""
    report: dict[str, list[str]] = {}
    for table in TABLES:
        try:
            rows = latest(connection, table, limit=limit)
        except ScoreQueryError as missing:
            report[table] = [f"({missing})"]
            continue
        report[table] = [f"{r.subject:<22} {r.ts:%Y-%m-%d %H:%M}  {r.value:>7.3f}  {r.label or '':<13} "
                         f"{r.top()}".rstrip() for r in rows]
    return report
