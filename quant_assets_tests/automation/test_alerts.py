"""A failed check reaches a person: an ``alerts`` row in DuckDB, a log line, a webhook POST
to a real HTTP server on 127.0.0.1, retried, never carrying the webhook's secret."""

import http.server
import threading

import dagster as dg
import duckdb
import pytest

from quant_assets.automation.alerts import (
    WEBHOOK_VARIABLE,
    AlertDeliveryError,
    build_alert_sensor,
    deliver,
    post_webhook,
    undelivered,
)
from quant_assets_tests.automation.conftest import SECRET_PATH
from quant_assets_tests.test_pipeline import DAY1, SYMBOL, DefectiveSourceResource, materialize_one


@pytest.fixture
def settings(tmp_path):
    from quant_assets.settings import load_settings

    return load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT"})


def alerts(settings) -> list[dict]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        frame = connection.execute("select * from alerts order by event_id").df()
    return frame.to_dict("records")


def test_a_planted_bad_partition_becomes_an_alert_row_a_log_line_and_one_webhook_post(
        settings, webhook, monkeypatch, capsys):
    monkeypatch.setenv(WEBHOOK_VARIABLE, webhook.url)
    sensor = build_alert_sensor(str(settings.duckdb_path))
    with dg.DagsterInstance.ephemeral() as instance:
        assert materialize_one(settings, instance, "spot_klines", DAY1).success  # a good partition first
        broken = DefectiveSourceResource(family="spot_klines", defect="gap")
        assert not materialize_one(settings, instance, "spot_klines", DAY1,
                                   resources={"market_source": broken}).success

        capsys.readouterr()
        context = dg.build_sensor_context(instance=instance)
        outcome = sensor(context)
        logged = capsys.readouterr().err
        assert "1 new failed check(s) recorded, 1 delivered" in outcome.skip_message

        [row] = alerts(settings)
        assert (row["asset"], row["check_name"], row["partition"], row["severity"]) == (
            "raw/spot_klines", "no_gaps", f"{DAY1}|{SYMBOL}", "ERROR")
        assert "ETHUSDT 2026-10-05 05:00:00" in row["description"] and row["delivered_at"] is not None
        assert "ERROR - ALERT quant_assets ERROR: check raw/spot_klines:no_gaps" in logged, logged

        [post] = webhook.received
        assert post["path"] == SECRET_PATH and post["type"] == "application/json"
        text = post["json"]["text"]
        assert text.startswith(f"quant_assets ERROR: check raw/spot_klines:no_gaps [{DAY1}|{SYMBOL}] failed")
        assert "secret" not in text and "127.0.0.1" not in text

        again = sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert "0 new failed check(s) recorded, 0 delivered" in again.skip_message
        assert len(webhook.received) == 1 and len(alerts(settings)) == 1, "nothing is sent or stored twice"


def test_a_webhook_that_fails_twice_is_retried():
    hook_statuses = [500, 503]
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(hook_statuses.pop(0) if hook_statuses else 204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        post_webhook(f"http://127.0.0.1:{server.server_port}/hook", "hello", attempts=3, backoff=0.01)
    finally:
        server.shutdown()
    assert len(received) == 3


def test_an_alert_the_webhook_refused_is_kept_and_sent_on_a_later_tick(settings, webhook, monkeypatch):
    database = str(settings.duckdb_path)
    with dg.DagsterInstance.ephemeral() as instance:
        broken = DefectiveSourceResource(family="spot_klines", defect="ohlc")
        assert not materialize_one(settings, instance, "spot_klines", DAY1,
                                   resources={"market_source": broken}).success
        build_alert_sensor(database)(dg.build_sensor_context(instance=instance))  # no webhook set yet
    assert len(undelivered(database)) == 1

    webhook.statuses = [500, 500, 500]
    with pytest.raises(AlertDeliveryError) as refused:
        deliver(database, webhook.url, backoff=0.01)
    assert "status 500" in str(refused.value) and "very-secret-token" not in str(refused.value)
    assert "127.0.0.1" not in str(refused.value)
    assert len(undelivered(database)) == 1, "kept for the next tick"

    assert deliver(database, webhook.url, backoff=0.01) == 1
    assert undelivered(database) == [] and len(webhook.received) == 4
    assert "raw/spot_klines:ohlc_consistent" in webhook.received[-1]["json"]["text"]
