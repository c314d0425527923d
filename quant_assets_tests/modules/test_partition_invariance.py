"""Partition invariance of the ten real modules through Dagster and DuckDB.

Raw data is materialized by the raw jobs over more than every module's history before the
first scored day (on-chain, whose yearly z-score reaches back two years, is the exception:
its history is clipped where the partitions start, the same way in both runs). Then the
three days are materialized one run per day, every score and feature table is read back,
the stored tables are dropped, and the same three days are materialized in one range run
per job. Every value must agree within 1e-9: each run loads its own history, so a value
that depended on where a run starts, or on data after its bar, would differ.
"""

import json
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from quant_assets.modules import load_modules
from quant_assets.modules.engine import HOUR, frame_history
from quant_assets_tests.modules.materialized import DAYS, FIRST, TICKS_FIRST, run_modules

#: Columns that identify a row of each score table, besides ``ts``.
KEYS = {"lead_lag": ["x", "y"], "allocation_weights": ["symbol"], "macro_score": ["asset"]}


def _tables(settings) -> dict[str, pd.DataFrame]:
    """Every score and feature table over the three days, in a fixed row order."""
    out = {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        names = connection.execute("select table_schema, table_name from information_schema.tables "
                                   "where table_schema in ('scores', 'features') order by 1, 2").fetchall()
        for schema, table in names:
            frame = connection.execute(f"select * from {schema}.{table} where ts >= ? and ts < ?",
                                       [DAYS[0], DAYS[-1] + timedelta(days=1)]).df()
            keys = ["ts", *KEYS.get(table, ["asset"] if "asset" in frame else ["symbol"])]
            out[f"{schema}.{table}"] = frame.sort_values(keys).reset_index(drop=True)
    return out


def _drop_stored(settings) -> None:
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.execute("drop schema scores cascade")
        connection.execute("drop schema features cascade")


def _assert_same(name: str, day_by_day: pd.DataFrame, ranged: pd.DataFrame) -> None:
    assert list(day_by_day.columns) == list(ranged.columns), name
    assert len(day_by_day) == len(ranged) > 0, name
    for column in ranged.columns:
        a, b = day_by_day[column], ranged[column]
        if column == "explain":
            for x, y in zip(a, b, strict=True):
                assert (x is None) == (y is None), name
                if x is not None:
                    # Components are listed by |contribution|: near-ties may swap places.
                    parts_x = {c["name"]: c["contribution"] for c in json.loads(x)["components"]}
                    parts_y = {c["name"]: c["contribution"] for c in json.loads(y)["components"]}
                    assert parts_x.keys() == parts_y.keys(), name
                    for part, value in parts_y.items():
                        assert parts_x[part] == pytest.approx(value, abs=1e-9), (name, part)
        elif pd.api.types.is_float_dtype(b):
            # Features in USD reach 1e10, where summation order alone moves the last digit.
            rtol = 1e-12 if name.startswith("features.") else 0.0
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=rtol, atol=1e-9,
                                       equal_nan=True, err_msg=f"{name}.{column}")
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{name}.{column}"


def test_the_raw_range_covers_every_bar_history():
    for module in load_modules().values():
        frames = {node.frame for node in module.declaration.nodes.values()}
        if frames == {"daily"}:
            continue
        for frame, span in frame_history(module.declaration, HOUR).items():
            first = TICKS_FIRST if frame in ("book", "depth") else FIRST
            assert span is not None, (module.id, frame)
            assert pd.Timestamp(DAYS[0]) - span >= pd.Timestamp(first), (module.id, frame)


@pytest.mark.xdist_group("materialized")
def test_three_days_one_by_one_equal_one_range_run(materialized):
    settings, run = materialized.settings, materialized.run
    for day in DAYS:
        run_modules(run, day, day)
    day_by_day = _tables(settings)
    _drop_stored(settings)
    run_modules(run, DAYS[0], DAYS[-1])
    ranged = _tables(settings)
    tables = {name.split(".")[1] for name in ranged if name.startswith("scores.")}
    assert tables == {m.declaration.score_table for m in load_modules().values()}
    assert set(day_by_day) == set(ranged)
    for name in sorted(ranged):
        _assert_same(name, day_by_day[name], ranged[name])
    for table, column in {"trend_score": "score", "regime": "prob_trend", "sentiment_score": "score",
                          "liquidity_pressure_score": "score", "lead_lag": "correlation",
                          "macro_score": "score", "risk_score": "score", "micro_alpha_score": "score",
                          "allocation_weights": "weight", "anomaly_score": "score"}.items():
        values = ranged[f"scores.{table}"][column]
        assert values.notna().mean() > 0.5, f"{table}: the comparison would be vacuous"
