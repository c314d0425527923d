"""A new simulated day's raw partitions lead to fresh scores with no manual step: Dagster's
own automation evaluation (``evaluate_automation_conditions``) over the real definitions
requests the module partitions of that day, once; the cross-symbol modules wait for every
symbol."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from quant_assets.automation.jobs import (
    MODULES_BARS_JOB,
    MODULES_DAILY_JOB,
    MODULES_TICKS_JOB,
    RAW_BARS_JOB,
    RAW_ETF_JOB,
    RAW_ONCHAIN_JOB,
    RAW_TICKS_JOB,
)
from quant_assets.modules import load_modules
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS
from quant_assets_tests.modules.materialized import DAYS, SYMBOLS, run_modules

pytestmark = pytest.mark.xdist_group("materialized")
NEW_DAY = DAYS[-1] + timedelta(days=1)


def _at(day, hours: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def _score_keys(partitioning: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(["scores", m.declaration.score_table]) for m in load_modules().values()
            if m.declaration.partitioning == partitioning]


def _land(run, symbols) -> None:
    for symbol in symbols:
        run(RAW_BARS_JOB, f"{NEW_DAY}|{symbol}", f"{NEW_DAY}|{symbol}")
        run(RAW_TICKS_JOB, f"{NEW_DAY}|{symbol}", f"{NEW_DAY}|{symbol}")


def test_a_new_days_raw_partitions_lead_to_its_scores_once(materialized):
    defs, instance, run = materialized.defs, materialized.instance, materialized.run
    run_modules(run, DAYS[-1], DAYS[-1])  # the scores are up to date before the new day

    def evaluate(cursor, day=NEW_DAY):
        return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor,
                                                 evaluation_time=_at(day + timedelta(days=1), 2))

    first = evaluate(None, DAYS[-1])
    assert first.total_requested == 0, "the first evaluation only starts tracking"

    for asset in ONCHAIN_ASSETS:
        run(RAW_ONCHAIN_JOB, f"{asset}|{NEW_DAY}", f"{asset}|{NEW_DAY}")
    run(RAW_ETF_JOB, NEW_DAY.isoformat(), NEW_DAY.isoformat())
    _land(run, SYMBOLS[:1])  # one symbol so far
    one = evaluate(first.cursor)
    for key in _score_keys("symbol"):
        assert set(one.get_requested_partitions(key)) == {f"{NEW_DAY}|{SYMBOLS[0]}"}, key
    lead_lag, allocation = dg.AssetKey(["scores", "lead_lag"]), dg.AssetKey(["scores", "allocation_weights"])
    assert not one.get_requested_partitions(lead_lag) and not one.get_requested_partitions(allocation), \
        "cross-symbol modules wait for every symbol of the date"
    assert set(one.get_requested_partitions(dg.AssetKey(["scores", "macro_score"]))) == {str(NEW_DAY)}

    # The daemon runs what was requested; here, the same jobs for the same partitions (macro,
    # requested too, runs below with the cross-symbol modules: a request is handled once).
    for job in (MODULES_BARS_JOB, MODULES_TICKS_JOB):
        run(job, f"{NEW_DAY}|{SYMBOLS[0]}", f"{NEW_DAY}|{SYMBOLS[0]}")
    again = evaluate(one.cursor)
    for key in _score_keys("symbol"):
        assert not again.get_requested_partitions(key), f"{key}: nothing runs twice for the same inputs"

    _land(run, SYMBOLS[1:])  # the last symbol lands
    both = evaluate(again.cursor)
    for key in _score_keys("symbol"):
        assert set(both.get_requested_partitions(key)) == {f"{NEW_DAY}|{SYMBOLS[1]}"}, key
    for key in (lead_lag, allocation):
        assert set(both.get_requested_partitions(key)) == {str(NEW_DAY)}, key

    for job in (MODULES_BARS_JOB, MODULES_TICKS_JOB):
        run(job, f"{NEW_DAY}|{SYMBOLS[1]}", f"{NEW_DAY}|{SYMBOLS[1]}")
    run(MODULES_DAILY_JOB, str(NEW_DAY), str(NEW_DAY))
    with duckdb.connect(str(materialized.settings.duckdb_path), read_only=True) as connection:
        newest = dict(connection.execute(
            "select symbol, max(ts) from scores.trend_score where score is not null group by 1").fetchall())
    assert newest == {symbol: datetime(NEW_DAY.year, NEW_DAY.month, NEW_DAY.day, 23) for symbol in SYMBOLS}
