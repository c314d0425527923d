"""The ten real modules through Dagster and DuckDB, on one shared instance (the ``materialized``
fixture): partition invariance, the command line over the scores they wrote, and the
automation of a new day. One file, run in this order, so that ``--dist loadfile`` keeps it on
one worker and the raw data is materialized once.

Partition invariance: raw data is materialized by the raw jobs over more than every module's
history before the first scored day (on-chain, whose yearly z-score reaches back two years,
is the exception: its history is clipped where the partitions start, the same way in both
runs). Then the three days are materialized one run per day, every score and feature table
is read back, the stored tables are dropped, and the same three days are materialized in one
range run per job. Every value must agree within 1e-9: each run loads its own history, so a
value that depended on where a run starts, or on data after its bar, would differ.

``quant-assets <module>`` prints the newest explained scores from the DuckDB file, for people
and machines. A new simulated day's raw partitions lead to fresh scores with no manual step:
Dagster's own automation evaluation (``evaluate_automation_conditions``) over the real
definitions requests the module partitions of that day, once; the cross-symbol modules wait
for every symbol.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
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
from quant_assets.cli import main
from quant_assets.modules import load_modules
from quant_assets.modules.engine import HOUR, frame_history
from quant_assets.modules.report import TABLES
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS
from quant_assets_tests.modules.materialized import DAYS, FIRST, SYMBOLS, TICKS_FIRST, run_modules

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


# ---------------------------------------------------------------------- the command line over the scores
COMMANDS = [(*m.declaration.command, m.declaration.score_table) for m in load_modules().values()]
CONTRIBUTION = re.compile(r"[a-z0-9_]+ [+-]\d\.\d{3}")


@pytest.fixture(scope="module")
def scored(materialized):
    settings, run = materialized.settings, materialized.run
    run_modules(run, DAYS[-2], DAYS[-1])  # --at below looks at the day before the last
    return settings


@pytest.fixture
def cli(scored, monkeypatch, capsys):
    monkeypatch.setenv("QUANT_DATA_DIR", str(scored.data_dir))
    monkeypatch.setenv("QUANT_SYMBOLS", ",".join(SYMBOLS))

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def newest(settings, table: str) -> dict[str, float]:
    view = TABLES[table]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return dict(connection.execute(f"""
            select {view.subject}, {view.value} from scores.{table} where {view.value} is not null
            qualify row_number() over (partition by {view.subject} order by ts desc) = 1""").fetchall())


@pytest.mark.parametrize(("name", "alias", "table"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_module_command_prints_the_newest_explained_scores(cli, scored, name, alias, table):
    code, out, err = cli(name)
    assert code == 0, err
    assert cli(alias)[1] == out, "the alias prints the same"
    lines = out.splitlines()
    assert lines[0].startswith(f"scores.{table}: ")
    rows = {line.split()[0]: line for line in lines[2:]}
    expected = newest(scored, table)
    assert set(rows) == set(expected) and expected
    for subject, value in expected.items():
        assert f"  {value:.3f}  " in rows[subject] + "  ", (subject, rows[subject])
        view = TABLES[table]
        if view.label is not None and not view.extra:
            assert CONTRIBUTION.search(rows[subject]), f"{table} {subject}: no contributions shown"


def test_json_carries_every_component_and_they_add_up_to_the_score(cli):
    code, out, _err = cli("trend", "BTCUSDT", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["subject"] == "BTCUSDT" and row["table"] == "trend_score"
    trend = load_modules()["trend_moment"].declaration
    assert {c["name"] for c in row["components"]} == {c.name for c in trend.components}
    assert sum(c["contribution"] for c in row["components"]) == pytest.approx(row["value"], abs=1e-9) \
        or row["clipped"]


def test_at_gives_the_values_known_then_without_look_ahead(cli):
    noon = datetime.combine(DAYS[-1], datetime.min.time()) + timedelta(hours=12)
    _code, out, _err = cli("t", "ETHUSDT", "--at", noon.isoformat(), "--json")
    assert json.loads(out)[0]["ts"] == (noon - timedelta(hours=1)).isoformat(), "the 11:00 bar closed at noon"
    _code, out, _err = cli("al", "--at", noon.isoformat(), "--json")
    days = {row["ts"] for row in json.loads(out)}
    assert days == {datetime.combine(DAYS[-2], datetime.min.time()).isoformat()}, "today's row closes tonight"


def test_an_unknown_symbol_or_a_time_before_the_data_is_a_clear_error(cli):
    code, out, err = cli("regime", "DOGEUSDT")
    assert code == 1 and out == ""
    assert "'DOGEUSDT' has no rows in scores.regime; it has: BTCUSDT, ETHUSDT" in err
    code, _out, err = cli("rg", "--at", "2020-01-01")
    assert code == 1 and "no value known at 2020-01-01 00:00" in err


def test_an_empty_data_folder_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    assert main(["risk"]) == 1
    err = capsys.readouterr().err
    assert "no DuckDB file at" in err and "run `make demo`" in err
    duckdb.connect(str(tmp_path / "quant.duckdb")).close()
    assert main(["r"]) == 1
    assert "scores.risk_score has not been materialized yet" in capsys.readouterr().err


def test_a_malformed_at_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["trend", "--at", "yesterday"])
    assert stopped.value.code == 2
    assert "'yesterday' is not an ISO date or time" in capsys.readouterr().err


# ---------------------------------------------------------------------- automation of a new day
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
