"""``quant-assets <module>``: the newest explained scores from the DuckDB file, for people and
machines, on tables the ten real modules wrote through Dagster."""

import json
import re
from datetime import datetime, timedelta

import duckdb
import pytest

from quant_assets.cli import main
from quant_assets.modules import load_modules
from quant_assets.modules.report import TABLES
from quant_assets_tests.modules.materialized import DAYS, SYMBOLS, run_modules

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


@pytest.mark.xdist_group("materialized")
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


@pytest.mark.xdist_group("materialized")
def test_json_carries_every_component_and_they_add_up_to_the_score(cli):
    code, out, _err = cli("trend", "BTCUSDT", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["subject"] == "BTCUSDT" and row["table"] == "trend_score"
    trend = load_modules()["trend_moment"].declaration
    assert {c["name"] for c in row["components"]} == {c.name for c in trend.components}
    assert sum(c["contribution"] for c in row["components"]) == pytest.approx(row["value"], abs=1e-9) \
        or row["clipped"]


@pytest.mark.xdist_group("materialized")
def test_at_gives_the_values_known_then_without_look_ahead(cli):
    noon = datetime.combine(DAYS[-1], datetime.min.time()) + timedelta(hours=12)
    _code, out, _err = cli("t", "ETHUSDT", "--at", noon.isoformat(), "--json")
    assert json.loads(out)[0]["ts"] == (noon - timedelta(hours=1)).isoformat(), "the 11:00 bar closed at noon"
    _code, out, _err = cli("al", "--at", noon.isoformat(), "--json")
    days = {row["ts"] for row in json.loads(out)}
    assert days == {datetime.combine(DAYS[-2], datetime.min.time()).isoformat()}, "today's row closes tonight"


@pytest.mark.xdist_group("materialized")
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
