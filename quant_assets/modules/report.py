"""Reading the newest scores back from DuckDB, explained, for people (demo, CLI)."""

from __future__ import annotations

import json

import duckdb

#: Score tables and the column that holds each subject's value.
TABLES: dict[str, tuple[str, str]] = {
    "trend_score": ("symbol", "score"),
    "regime": ("symbol", "prob_trend"),
    "sentiment_score": ("symbol", "score"),
    "liquidity_pressure_score": ("symbol", "score"),
    "lead_lag": ("x || '→' || y", "correlation"),
    "macro_score": ("asset", "score"),
    "risk_score": ("symbol", "score"),
    "micro_alpha_score": ("symbol", "score"),
    "allocation_weights": ("symbol", "weight"),
    "anomaly_score": ("symbol", "score"),
}


def _top(explain: str | None, count: int = 3) -> str:
    if not explain:
        return ""
    components = json.loads(explain)["components"][:count]
    return "; ".join(f"{c['name']} {c['contribution']:+.3f}" for c in components)


def latest_scores(connection: duckdb.DuckDBPyConnection, limit: int = 12) -> dict[str, list[str]]:
    """Per score table, one line per subject: its newest non-null value, label and top contributions."""
    present = {name for (name,) in connection.execute(
        "select table_name from information_schema.tables where table_schema = 'scores'").fetchall()}
    report: dict[str, list[str]] = {}
    for table, (subject, value) in TABLES.items():
        if table not in present:
            report[table] = ["(table not materialized)"]
            continue
        columns = {name for (name,) in connection.execute(
            "select column_name from information_schema.columns where table_schema='scores' and table_name=?",
            [table]).fetchall()}
        label = "signal" if "signal" in columns else "label" if "label" in columns else (
            "chosen_method" if "chosen_method" in columns else "null")
        explain = "explain" if "explain" in columns else "null"
        rows = connection.execute(f"""
            select {subject} as subject, ts, {value} as value, {label} as label, {explain} as explain
            from scores.{table} where {value} is not null
            qualify row_number() over (partition by {subject} order by ts desc) = 1
            order by subject limit {int(limit)}""").fetchall()
        report[table] = [
            f"{s:<22} {ts:%Y-%m-%d %H:%M}  {v:>7.3f}  {lab or '':<13} {_top(ex)}".rstrip()
            for s, ts, v, lab, ex in rows] or ["(no value yet: warming up)"]
    return report
