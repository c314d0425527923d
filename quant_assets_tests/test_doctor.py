"""``quant-assets doctor`` on a real on-disk Dagster instance and DuckDB file: healthy after
yesterday's raw partitions landed, failing when a raw asset is stale, a check failed, the
file is missing or the webserver does not answer."""

import http.server
import socket
import threading
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from quant_assets.automation.backfill import QUIET_LOGS, range_tags
from quant_assets.automation.jobs import RAW_ETF_JOB, RAW_MARKET_JOB, RAW_ONCHAIN_JOB
from quant_assets.cli import main
from quant_assets.definitions import build_definitions
from quant_assets.doctor import check_webserver, run_doctor
from quant_assets.settings import load_settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """Yesterday's partitions of every raw asset for one symbol, in an on-disk instance."""
    folder = tmp_path_factory.mktemp("doctor")
    env = {"QUANT_DATA_DIR": str(folder), "QUANT_SYMBOLS": "BTCUSDT",
           "QUANT_START_DATE": (YESTERDAY - timedelta(days=3)).isoformat()}
    settings = load_settings(env)
    defs = build_definitions(settings)
    settings.dagster_home.mkdir(parents=True)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        day = YESTERDAY.isoformat()
        onchain = [(RAW_ONCHAIN_JOB, f"{asset}|{day}", f"{asset}|{day}") for asset in ONCHAIN_ASSETS]
        runs = [(RAW_MARKET_JOB, f"{YESTERDAY}|BTCUSDT", f"{YESTERDAY}|BTCUSDT"), *onchain,
                (RAW_ETF_JOB, day, day)]
        for job, first, last in runs:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, tags=range_tags(first, last), run_config=QUIET_LOGS, raise_on_error=False)
            assert result.success, job
    return settings, defs, env


def _doctor(landed, monkeypatch, capsys, *extra: str) -> tuple[int, str]:
    settings, _defs, env = landed
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    code = main(["doctor", *extra])
    return code, capsys.readouterr().out


def test_healthy_after_yesterdays_partitions_landed(landed, monkeypatch, capsys):
    code, out = _doctor(landed, monkeypatch, capsys, "--no-webserver")
    assert code == 0, out
    assert "ok    freshness  raw/spot_klines" in out and f"every partition of {YESTERDAY} materialized" in out
    assert "0 failed" in out


def test_a_stale_raw_asset_fails_and_is_named(landed):
    settings, defs, _env = landed
    tomorrow = YESTERDAY + timedelta(days=2)
    tomorrow_morning = datetime.combine(tomorrow, datetime.min.time()) + timedelta(hours=3)
    findings = run_doctor(settings, lambda: defs, None, now=tomorrow_morning)
    stale = {f.subject: f.detail for f in findings if f.area == "freshness" and f.status == "fail"}
    assert "raw/spot_klines" in stale and "raw/onchain_metrics" in stale
    today = YESTERDAY + timedelta(days=1)
    assert stale["raw/spot_klines"] == f"1 partition(s) of {today} missing: {today}|BTCUSDT"


def test_a_failed_check_fails_the_doctor_and_a_warn_check_only_warns(landed, monkeypatch, capsys):
    settings, defs, _env = landed
    raw_checks = sorted((k for k in defs.resolve_asset_graph().asset_check_keys
                         if k.asset_key == dg.AssetKey(["raw", "spot_klines"])), key=str)
    error_check, warn_check = raw_checks[0], raw_checks[1]

    def report(key: dg.AssetCheckKey, passed: bool, severity: dg.AssetCheckSeverity) -> None:
        with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=key.asset_key, check_name=key.name, passed=passed, severity=severity,
                description="planted by the test" if not passed else "restored by the test"))

    try:
        report(warn_check, False, dg.AssetCheckSeverity.WARN)
        code, out = _doctor(landed, monkeypatch, capsys, "--no-webserver")
        assert code == 0 and f"WARN  checks     {warn_check.to_user_string()}" in out
        report(error_check, False, dg.AssetCheckSeverity.ERROR)
        code, out = _doctor(landed, monkeypatch, capsys, "--no-webserver")
        assert code == 1
        assert f"FAIL  checks     {error_check.to_user_string()}" in out and "planted by the test" in out
    finally:  # the instance is shared by this module's tests
        report(error_check, True, dg.AssetCheckSeverity.ERROR)
        report(warn_check, True, dg.AssetCheckSeverity.WARN)


def test_a_missing_duckdb_file_and_instance_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "nowhere"))
    assert main(["doctor", "--no-webserver"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  duckdb" in out and "the file does not exist" in out
    assert "FAIL  instance" in out and "no Dagster instance here" in out


class _ServerInfo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"dagster_webserver_version": "test"}' if self.path == "/server_info" else b""
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_webserver_must_answer_server_info():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ServerInfo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [finding] = check_webserver(f"http://127.0.0.1:{server.server_port}")
        assert finding.status == "ok" and "dagster_webserver_version" in finding.detail
    finally:
        server.shutdown()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [finding] = check_webserver(f"http://127.0.0.1:{port}", timeout=1.0)
    assert finding.status == "fail" and "start it with `make ui`" in finding.detail
