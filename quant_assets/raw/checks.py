"""Data-quality checks on parsed raw tables: pure functions of a DataFrame.

Each returns a :class:`CheckOutcome`; the raw assets turn outcomes into Dagster
asset-check results. Broken data (schema, duplicate keys, gaps, time running
backwards, impossible candles, crossed books, out-of-bounds funding, missing trade
ids) is an ERROR and blocks the write; suspicious data (a large price jump, a
missing ETF trading day that may be a holiday) is a WARN. A failing outcome's
description names the offending rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

Severity = Literal["ERROR", "WARN"]
MAX_LISTED = 10


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    severity: Severity
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def _listing(items: Sequence[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {total - MAX_LISTED} more" if total > MAX_LISTED else "")


def _ts(value: object) -> str:
    return pd.Timestamp(value).isoformat(sep=" ")


def check_schema(frame: pd.DataFrame, schema: type[pa.DataFrameModel]) -> CheckOutcome:
    """Columns, order, dtypes and value constraints of the table's pandera model."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = [
            f"{r.column or r.schema_context}: {r.check} failed for {r.failure_case!r}"
            + ("" if pd.isna(r.index) else f" at row {int(r.index)}")
            for r in cases.head(MAX_LISTED).itertuples()
        ]
        return CheckOutcome("schema", False, "ERROR",
                            f"{len(cases)} schema violation(s) of {schema.__name__}: "
                            + _listing(lines, len(cases)), {"violations": len(cases)})
    return CheckOutcome("schema", True, "ERROR", f"matches {schema.__name__}",
                        {"columns": len(frame.columns)})


def check_unique_keys(frame: pd.DataFrame, keys: Sequence[str]) -> CheckOutcome:
    """No two rows share the table's key columns."""
    duplicated = frame.duplicated(list(keys), keep=False)
    if duplicated.any():
        groups = frame[duplicated].groupby(list(keys), sort=True).size()
        labels = [
            "(" + ", ".join(_ts(v) if k == "ts" else f"{k}={v}"
                            for k, v in zip(keys, key if isinstance(key, tuple) else (key,),
                                            strict=True)) + f") ×{n}"
            for key, n in groups.items()
        ]
        return CheckOutcome("unique_keys", False, "ERROR",
                            f"{int(duplicated.sum())} rows share a key on ({', '.join(keys)}): "
                            + _listing(labels), {"duplicate_rows": int(duplicated.sum())})
    return CheckOutcome("unique_keys", True, "ERROR", f"keys ({', '.join(keys)}) are unique")


def check_time_grid(frame: pd.DataFrame, expected: Mapping[tuple, pd.DatetimeIndex],
                    group_columns: Sequence[str], bucket: pd.Timedelta | None,
                    severity: Severity = "ERROR") -> CheckOutcome:
    """Every expected timestamp of every group is present (exactly, or within its bucket).

    ``expected`` maps a group (values of ``group_columns``: the symbol, and the ratio type
    or on-chain metric where a table holds several series) to its time grid.
    ``bucket=None`` demands rows at exactly the grid times (klines, funding, ratios); a
    bucket accepts any row in ``[t, t + bucket)`` (polled snapshots, recorded streams).
    """
    present = {
        group if isinstance(group, tuple) else (group,): pd.DatetimeIndex(times)
        for group, times in (frame.groupby(list(group_columns))["ts"] if len(frame) else [])
    }
    missing: list[str] = []
    for group, grid in expected.items():
        times = present.get(group, pd.DatetimeIndex([]))
        seen = times if bucket is None or not len(times) else times.floor(bucket)
        label = "/".join(map(str, group))
        missing.extend(f"{label} {_ts(t)}" for t in grid.difference(seen))
    if missing:
        return CheckOutcome("no_gaps", False, severity,
                            f"{len(missing)} expected timestamp(s) missing: " + _listing(missing),
                            {"missing": len(missing)})
    total = sum(len(g) for g in expected.values())
    return CheckOutcome("no_gaps", True, severity, f"all {total} expected timestamps present")


def check_in_window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> CheckOutcome:
    """Every row lies in the partitions' time window, so a re-run replaces it exactly."""
    outside = (frame["ts"] < start) | (frame["ts"] >= end)
    if outside.any():
        labels = [_ts(t) for t in frame.loc[outside, "ts"]]
        return CheckOutcome("in_partition_window", False, "ERROR",
                            f"{int(outside.sum())} row(s) outside [{_ts(start)}, {_ts(end)}): "
                            + _listing(labels), {"outside": int(outside.sum())})
    return CheckOutcome("in_partition_window", True, "ERROR",
                        f"all rows in [{_ts(start)}, {_ts(end)})")


def check_monotonic_time(frame: pd.DataFrame, group_columns: Sequence[str] = ()) -> CheckOutcome:
    """Time never runs backwards in the order rows were served (within each group)."""
    if group_columns:
        previous = frame.groupby(list(group_columns), sort=False)["ts"].shift()
    else:
        previous = frame["ts"].shift()
    backwards = frame["ts"] < previous
    if backwards.any():
        labels = [f"row {i} at {_ts(frame.at[i, 'ts'])} after {_ts(previous.at[i])}"
                  for i in frame.index[backwards]]
        return CheckOutcome("monotonic_time", False, "ERROR",
                            f"{int(backwards.sum())} row(s) go back in time: " + _listing(labels),
                            {"backwards_rows": int(backwards.sum())})
    return CheckOutcome("monotonic_time", True, "ERROR", "timestamps never decrease")


def check_ohlc(frame: pd.DataFrame) -> CheckOutcome:
    """low ≤ open, close ≤ high, low ≤ high and volume ≥ 0 on every candle."""
    low_bad = frame["low"] > frame[["open", "close"]].min(axis=1)
    high_bad = frame["high"] < frame[["open", "close"]].max(axis=1)
    volume_bad = frame["volume"] < 0 if "volume" in frame else pd.Series(False, index=frame.index)
    bad = low_bad | high_bad | (frame["low"] > frame["high"]) | volume_bad
    if bad.any():
        labels = []
        for i in frame.index[bad]:
            r = frame.loc[i]
            reason = ("low above open/close" if low_bad[i] else "high below open/close"
                      if high_bad[i] else "negative volume" if volume_bad[i] else "low above high")
            labels.append(f"{_ts(r['ts'])} {r['symbol']}: {reason} (o={r['open']}, h={r['high']}, "
                          f"l={r['low']}, c={r['close']})")
        return CheckOutcome("ohlc_consistent", False, "ERROR",
                            f"{int(bad.sum())} inconsistent candle(s): " + _listing(labels),
                            {"bad_rows": int(bad.sum())})
    return CheckOutcome("ohlc_consistent", True, "ERROR", f"{len(frame)} candles consistent")


def check_price_jumps(frame: pd.DataFrame, max_abs_log_return: float,
                      price_column: str = "close") -> CheckOutcome:
    """WARN when a bar-to-bar log return of a symbol exceeds ``max_abs_log_return``."""
    ordered = frame.sort_values(["symbol", "ts"])
    log_return = np.log(ordered[price_column]).groupby(ordered["symbol"]).diff()
    jumps = log_return.abs() > max_abs_log_return
    if jumps.any():
        labels = [f"{ordered.at[i, 'symbol']} {_ts(ordered.at[i, 'ts'])}: {log_return[i]:+.4f}"
                  for i in ordered.index[jumps]]
        return CheckOutcome("price_jumps", False, "WARN",
                            f"{int(jumps.sum())} log return(s) beyond ±{max_abs_log_return}: "
                            + _listing(labels), {"jumps": int(jumps.sum())})
    largest = float(log_return.abs().max()) if log_return.notna().any() else 0.0
    return CheckOutcome("price_jumps", True, "WARN",
                        f"largest |log return| {largest:.4f} ≤ {max_abs_log_return}",
                        {"largest_abs_log_return": largest})


def check_funding_bounds(frame: pd.DataFrame, max_abs_rate: float,
                         column: str = "funding_rate") -> CheckOutcome:
    """Funding rates within the exchange's cap (|rate| ≤ ``max_abs_rate``)."""
    bad = frame[column].abs() > max_abs_rate
    if bad.any():
        labels = [f"{_ts(frame.at[i, 'ts'])}: {frame.at[i, column]}" for i in frame.index[bad]]
        return CheckOutcome("funding_bounds", False, "ERROR",
                            f"{int(bad.sum())} funding rate(s) beyond ±{max_abs_rate}: "
                            + _listing(labels), {"out_of_bounds": int(bad.sum())})
    return CheckOutcome("funding_bounds", True, "ERROR", f"all within ±{max_abs_rate}")


def check_uncrossed_book(frame: pd.DataFrame) -> CheckOutcome:
    """Best bid below best ask; for depth ladders, bids fall and asks rise with the level."""
    if "side" not in frame:  # book ticker
        crossed = frame["bid_price"] >= frame["ask_price"]
        labels = [f"{_ts(frame.at[i, 'ts'])}: bid {frame.at[i, 'bid_price']} ≥ ask "
                  f"{frame.at[i, 'ask_price']}" for i in frame.index[crossed]]
        count = int(crossed.sum())
    else:
        # One book per symbol, time and update id: a range run over several symbols holds
        # books of each, and update ids are per symbol.
        frame = frame.assign(symbol=frame.get("symbol", ""))
        keys = ["symbol", "ts", "last_update_id"]
        best = frame[frame["level"] == 1].pivot_table(index=keys, columns="side", values="price")
        crossed_best = best[best.get("bid", np.nan) >= best.get("ask", np.nan)]
        labels = [f"{symbol} {_ts(ts)} (update {uid}): bid {row['bid']} ≥ ask {row['ask']}".lstrip()
                  for (symbol, ts, uid), row in crossed_best.iterrows()]
        ordered = frame.sort_values([*keys, "side", "level"])
        step = ordered.groupby([*keys, "side"])["price"].diff()
        wrong = ((ordered["side"] == "bid") & (step >= 0)) | ((ordered["side"] == "ask") & (step <= 0))
        for i in ordered.index[wrong]:
            r = ordered.loc[i]
            labels.append(f"{r['symbol']} {_ts(r['ts'])} (update {r['last_update_id']}): {r['side']} level "
                          f"{r['level']} at {r['price']} out of order".lstrip())
        count = len(labels)
    if count:
        return CheckOutcome("uncrossed_book", False, "ERROR",
                            f"{count} crossed or disordered book(s): " + _listing(labels),
                            {"crossed": count})
    return CheckOutcome("uncrossed_book", True, "ERROR", "every book is uncrossed and ordered")


def check_id_sequence(frame: pd.DataFrame, column: str, group_column: str = "symbol") -> CheckOutcome:
    """Consecutive ids have no holes (a hole in aggregated-trade ids is a lost trade)."""
    labels: list[str] = []
    lost = 0
    for group, ids in frame.groupby(group_column)[column]:
        values = np.sort(ids.to_numpy())
        steps = np.diff(values)
        holes = np.flatnonzero(steps > 1)
        lost += int((steps[holes] - 1).sum())
        labels.extend(f"{group} {values[i] + 1}…{values[i + 1] - 1}" if steps[i] > 2
                      else f"{group} {values[i] + 1}" for i in holes)
    if labels:
        return CheckOutcome("id_sequence", False, "ERROR",
                            f"{lost} {column}(s) missing in {len(labels)} hole(s): " + _listing(labels),
                            {"missing_ids": lost})
    return CheckOutcome("id_sequence", True, "ERROR", f"{len(frame)} {column}s contiguous")
