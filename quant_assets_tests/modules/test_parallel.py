"""Module steps spread their symbols over worker processes: same results, loud errors."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError
from quant_assets.modules import load_modules
from quant_assets.modules.assets import compute_module
from quant_assets.modules.engine import HOUR, history
from quant_assets.modules.inputs import StoredRaw, module_sources
from quant_assets.modules.parallel import map_tasks
from quant_assets.raw.offline import raw_table
from quant_assets.settings import load_settings
from quant_assets.sources.simulated.source import SimulatedMarket

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def _square_after_check(subject: str, value: float) -> float:
    if value < 0:
        raise MetricInputError("square", f"value for {subject}", f"must be non-negative, got {value}")
    return value * value


def test_map_tasks_returns_every_task_in_order_from_the_workers():
    tasks = {f"S{i}": (f"S{i}", float(i)) for i in range(6)}
    assert map_tasks(_square_after_check, tasks, workers=2) == {f"S{i}": float(i * i) for i in range(6)}


def test_an_error_in_a_worker_arrives_with_its_type_and_message():
    tasks = {"A": ("A", 1.0), "B": ("B", -2.0), "C": ("C", 3.0)}
    message = r"square: value for B must be non-negative, got -2.0"
    with pytest.raises(MetricInputError, match=message) as caught:
        map_tasks(_square_after_check, tasks, workers=2)
    assert (caught.value.metric, caught.value.subject) == ("square", "value for B")


def test_one_worker_or_one_task_stays_in_process():
    def local(subject: str, value: float) -> float:  # not picklable: only works in process
        return value + 1

    assert map_tasks(local, {"A": ("A", 1.0)}, workers=2) == {"A": 2.0}
    assert map_tasks(local, {s: (s, 0.0) for s in "ABCD"}, workers=1) == dict.fromkeys("ABCD", 1.0)


@pytest.mark.parametrize("module_id", ["trend_moment", "order_micros"])
def test_a_module_computed_in_two_workers_equals_the_sequential_computation(module_id, tmp_path):
    """In process from tables in memory, and in two workers that each read their symbols'
    rows from the DuckDB file (as the asset step does): the same numbers."""
    module = load_modules()[module_id]
    start, end = pd.Timestamp("2025-03-10"), pd.Timestamp("2025-03-11")
    load_start = start - history(module.declaration, HOUR)
    market = SimulatedMarket(seed=11)
    raw = {family: raw_table(market, family, SYMBOLS, load_start.date(), (end - pd.Timedelta(days=1)).date())
           for families in module_sources(module.declaration).values() for family in families}
    database = str(tmp_path / "quant.duckdb")
    with duckdb.connect(database) as connection:
        connection.execute("create schema raw")
        for family, table in raw.items():
            connection.register("rows", table)
            connection.execute(f"create table raw.{family} as select * from rows")
    stored = StoredRaw(database, dict.fromkeys(raw, load_start), end)
    settings = load_settings({"QUANT_START_DATE": "2024-01-01"})
    runs = {"in process": (raw, 1), "two workers, tables": (raw, 2), "two workers, DuckDB": (stored, 2)}
    outputs = {name: compute_module(module, inputs, replace(settings, workers=workers), list(SYMBOLS),
                                    load_start, start, end, HOUR) for name, (inputs, workers) in runs.items()}
    reference = outputs.pop("in process")
    for name, output in outputs.items():
        assert list(output) == list(SYMBOLS), name
        for symbol in SYMBOLS:
            one, two = reference[symbol], output[symbol]
            for node, values in one.nodes.items():
                pd.testing.assert_frame_equal(values, two.nodes[node], check_exact=True, obj=f"{name} {node}")
            np.testing.assert_array_equal(one.composite.score.to_numpy(), two.composite.score.to_numpy())
            assert one.explain == two.explain
    assert reference["BTCUSDT"].composite.score.loc[start:].notna().all(), "the compared scores are warm"


def test_a_step_in_its_own_process_with_a_worker_pool_finishes(tmp_path):
    """Under Dagster's multiprocess executor (``dagster job execute``, as the daemon runs jobs)
    each step is a multiprocessing child that joins its children when it exits: the worker
    pool must be gone by then, or the run never ends."""
    last = date.today() - timedelta(days=1)
    env = {**os.environ, "QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": ",".join(SYMBOLS),
           "QUANT_START_DATE": (last - timedelta(days=4)).isoformat(), "QUANT_WORKERS": "2",
           "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    dagster = str(Path(sys.executable).parent / "dagster")
    first = last - timedelta(days=4)
    runs = [("raw_ticks_job", f"{first}|{symbol}", f"{last}|{symbol}") for symbol in SYMBOLS]
    runs.append(("modules_ticks_job", f"{last}|{SYMBOLS[0]}", f"{last}|{SYMBOLS[-1]}"))  # a day, every symbol
    for job, start, end in runs:
        tags = json.dumps({"dagster/asset_partition_range_start": start,
                           "dagster/asset_partition_range_end": end})
        done = subprocess.run([dagster, "job", "execute", "-m", "quant_assets.definitions", "-j", job,
                               "--tags", tags], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "RUN_SUCCESS" in done.stderr + done.stdout, (done.stderr + done.stdout)[-3000:]
    with duckdb.connect(str(tmp_path / "quant.duckdb"), read_only=True) as connection:
        symbols = {s for (s,) in connection.execute(
            "select distinct symbol from scores.micro_alpha_score").fetchall()}
    assert symbols == set(SYMBOLS)
