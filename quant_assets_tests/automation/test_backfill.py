"""``quant-assets backfill``: a date range as a few single-run backfills, with progress."""

import re
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from quant_assets.automation import backfill
from quant_assets.automation.jobs import MODULES_BARS_JOB, MODULES_DAILY_JOB, MODULES_TICKS_JOB, RAW_BARS_JOB
from quant_assets.cli import main
from quant_assets.modules import load_modules

MODULES = load_modules()
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 31)


def test_a_quarter_of_every_module_is_a_few_runs_not_one_per_partition():
    runs = backfill.plan(FIRST, LAST, SYMBOLS, SYMBOLS, list(MODULES.values()), all_modules=len(MODULES))
    jobs = [run.job for run in runs]
    # per symbol: raw bars, raw ticks, bar modules, tick modules; per on-chain asset; ETF; daily modules
    assert len(runs) == 4 * len(SYMBOLS) + 3 + 1 + 1
    assert jobs.count(RAW_BARS_JOB) == jobs.count(MODULES_BARS_JOB) == len(SYMBOLS)
    bars = next(run for run in runs if run.job == MODULES_BARS_JOB)
    assert (bars.first, bars.last, bars.assets) == ("2026-01-01|BTCUSDT", "2026-03-31|BTCUSDT", None)
    assert jobs.index(MODULES_DAILY_JOB) == len(runs) - 1, "cross-symbol modules after every symbol"


def test_chosen_modules_run_only_their_assets_and_by_date_spans_every_symbol():
    trend = MODULES["trend_moment"]
    runs = backfill.plan(FIRST, FIRST + timedelta(days=1), SYMBOLS, SYMBOLS, [trend], raw=False, by="date",
                         all_modules=len(MODULES))
    assert [(r.job, r.first, r.last) for r in runs] == [
        (MODULES_BARS_JOB, "2026-01-01|BTCUSDT", "2026-01-01|SOLUSDT"),
        (MODULES_BARS_JOB, "2026-01-02|BTCUSDT", "2026-01-02|SOLUSDT")]
    assert set(runs[0].assets) == set(backfill.module_asset_keys(trend))
    no_ticks = backfill.plan(FIRST, LAST, SYMBOLS[:1], SYMBOLS, list(MODULES.values()), ticks=False,
                             all_modules=len(MODULES))
    assert MODULES_TICKS_JOB not in {r.job for r in no_ticks}


@pytest.mark.parametrize(("arguments", "message"), [
    ({"symbols": ("DOGEUSDT",)}, "unknown symbol(s) DOGEUSDT"),
    ({"by": "date", "symbols": SYMBOLS[:1]}, "a backfill by date runs every configured symbol"),
    ({"first": LAST, "last": FIRST}, "before --start"),
])
def test_impossible_plans_are_refused_with_the_reason(arguments, message):
    values = {"first": FIRST, "last": LAST, "symbols": SYMBOLS, "by": "symbol", **arguments}
    with pytest.raises(ValueError, match=re.escape(message)):
        backfill.plan(values["first"], values["last"], values["symbols"], SYMBOLS, [], by=values["by"])


def test_the_command_backfills_raw_data_and_a_module_with_progress_and_a_summary(tmp_path, monkeypatch,
                                                                                 capsys):
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=5)
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUANT_SYMBOLS", "BTCUSDT")
    monkeypatch.setenv("QUANT_START_DATE", first.isoformat())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    code = main(["backfill", "--start", first.isoformat(), "--end", last.isoformat(), "--modules", "mi"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert lines[0].startswith("[") and " 1/7  raw bars BTCUSDT" in lines[0]
    assert lines[-1].startswith("[" + "#" * 20 + "] 7/7  tick modules BTCUSDT") and " ok in " in lines[-1]
    assert "runs: 7 succeeded, 0 failed" in out and ", 0 failed;" in out
    with duckdb.connect(str(tmp_path / "quant.duckdb"), read_only=True) as connection:
        days = connection.execute(
            "select count(distinct ts::date) from scores.micro_alpha_score").fetchone()[0]
        other = connection.execute(
            "select count(*) from information_schema.tables where table_schema = 'scores' "
            "and table_name <> 'micro_alpha_score'").fetchone()[0]
    assert days == 6 and other == 0, "only the module asked for"


def test_an_unknown_module_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["backfill", "--start", "2026-01-01", "--end", "2026-01-02", "--modules", "astrology"]) == 2
    assert "unknown module 'astrology'" in capsys.readouterr().err
