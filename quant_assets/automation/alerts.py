"""Failed asset checks reach a person: a row in DuckDB ``alerts``, a log line, a webhook POST.

``run_failure_sensor`` does not see non-blocking check failures, so a cursor sensor reads
every new ``ASSET_CHECK_EVALUATION`` event. Each failed one (ERROR or WARN) becomes a row of
the ``alerts`` table, keyed by the event's storage id so a re-read never duplicates it,
and an ERROR log line on the sensor tick. When ``QUANT_ALERT_WEBHOOK`` is set, every alert
not yet delivered is POSTed as Slack/Telegram-style JSON (``{"text": ...}``), retried with
backoff; the table is the outbox, so an alert whose POST failed is sent again on the next
tick, and the tick itself fails so that the UI shows it. The webhook URL (a secret: it
carries the token) comes only from the environment and is never logged or stored.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import duckdb

from quant_assets.days import utc_now

WEBHOOK_VARIABLE = "QUANT_ALERT_WEBHOOK"
SENSOR_NAME = "check_failure_alerts"
#: Events read per tick; the rest are read on the next ones.
BATCH = 500
ALERTS_TABLE = """
create table if not exists alerts (
    event_id BIGINT PRIMARY KEY,   -- storage id of the check evaluation event
    checked_at TIMESTAMP,          -- naive UTC
    alerted_at TIMESTAMP,
    asset VARCHAR, check_name VARCHAR, partition VARCHAR, severity VARCHAR,
    description VARCHAR, run_id VARCHAR,
    delivered_at TIMESTAMP         -- webhook POST accepted; NULL: not sent (or no webhook)
)"""


class AlertDeliveryError(RuntimeError):
    """The webhook refused or did not answer after every attempt (the URL is never named)."""


@dataclass(frozen=True)
class Alert:
    event_id: int
    checked_at: datetime
    asset: str
    check_name: str
    partition: str | None
    severity: str
    description: str
    run_id: str

    @property
    def text(self) -> str:
        """The short human message: no URLs, keys or payloads, only what failed and why."""
        where = f" [{self.partition}]" if self.partition else ""
        return (f"quant_assets {self.severity}: check {self.asset}:{self.check_name}{where} failed at "
                f"{self.checked_at:%Y-%m-%d %H:%M} UTC: {self.description[:300]}")


def failed_checks(instance: dg.DagsterInstance, after: int | None) -> tuple[list[Alert], int | None]:
    """Failed check evaluations stored after event id ``after``, and the newest id read."""
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        limit=BATCH, ascending=True)
    alerts = []
    partitions: dict[str, str | None] = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        if record.run_id not in partitions:
            partitions[record.run_id] = _run_partitions(instance, record.run_id)
        alerts.append(Alert(
            event_id=record.storage_id,
            checked_at=datetime.fromtimestamp(record.event_log_entry.timestamp, UTC).replace(tzinfo=None),
            asset=evaluation.asset_key.to_user_string(), check_name=evaluation.check_name,
            partition=evaluation.partition or partitions[record.run_id], severity=evaluation.severity.value,
            description=evaluation.description or "", run_id=record.run_id))
    return alerts, (records[-1].storage_id if records else after)


def _run_partitions(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The partition (or ``first..last`` range) a run materialized, from its tags; a check in
    the asset's own step is not partitioned itself, its run is."""
    run = instance.get_run_by_id(run_id) if run_id else None
    if run is None:
        return None
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    first = tags.get("dagster/asset_partition_range_start")
    last = tags.get("dagster/asset_partition_range_end")
    return (first if first == last else f"{first}..{last}") if first else None


def record_alerts(database: str, alerts: Sequence[Alert]) -> list[Alert]:
    """Add the alerts to the ``alerts`` table; returns those that were not there yet (a tick
    that failed after recording them reads the same events again)."""
    now = utc_now()
    with duckdb.connect(database) as connection:
        connection.execute(ALERTS_TABLE)
        ids = [a.event_id for a in alerts]
        known = {row[0] for row in connection.execute(
            f"select event_id from alerts where event_id in ({', '.join('?' for _ in ids)})", ids).fetchall()
                 } if ids else set()
        new = [a for a in alerts if a.event_id not in known]
        if new:
            connection.executemany("insert into alerts values (?, ?, ?, ?, ?, ?, ?, ?, ?, null)", [
                [a.event_id, a.checked_at, now, a.asset, a.check_name, a.partition, a.severity, a.description,
                 a.run_id] for a in new])
    return new


def undelivered(database: str) -> list[tuple[int, str]]:
    """(event id, message) of every alert the webhook has not accepted yet, oldest first."""
    with duckdb.connect(database) as connection:
        connection.execute(ALERTS_TABLE)
        rows = connection.execute(
            "select event_id, checked_at, asset, check_name, partition, severity, description, run_id "
            "from alerts where delivered_at is null order by event_id").fetchall()
    return [(row[0], Alert(*row).text) for row in rows]


def mark_delivered(database: str, event_ids: Sequence[int]) -> None:
    if not event_ids:
        return
    with duckdb.connect(database) as connection:
        connection.execute(
            f"update alerts set delivered_at = ? where event_id in ({', '.join('?' for _ in event_ids)})",
            [utc_now(), *event_ids])


def post_webhook(url: str, text: str, attempts: int = 3, backoff: float = 1.0, timeout: float = 10.0) -> None:
    """POST ``{"text": text}``; retried on connection errors, 429 and 5xx, with doubling waits."""
    body = json.dumps({"text": text}).encode()
    problem = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return
                problem = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"status {exc.code}"
            if exc.code != 429 and exc.code < 500:
                break  # the request itself is wrong: retrying will not help
        except (urllib.error.URLError, OSError) as exc:
            problem = type(exc).__name__ if not isinstance(exc, urllib.error.URLError) else str(exc.reason)
        if attempt + 1 < attempts:
            time.sleep(backoff * 2**attempt)
    raise AlertDeliveryError(f"the alert webhook ({WEBHOOK_VARIABLE}) refused or did not answer after "
                             f"{attempts} attempt(s): {problem}")


def deliver(database: str, url: str, log: dg.DagsterLogManager | None = None, backoff: float = 1.0) -> int:
    """POST every undelivered alert; returns how many were delivered, raises if any was not."""
    sent, errors = [], []
    for event_id, text in undelivered(database):
        try:
            post_webhook(url, text, backoff=backoff)
        except AlertDeliveryError as exc:
            errors.append(str(exc))
            break  # keep the order: later alerts wait for the webhook to come back
        sent.append(event_id)
    mark_delivered(database, sent)
    if errors:
        raise AlertDeliveryError(f"{len(sent)} alert(s) delivered, the rest kept for the next tick: "
                                 f"{errors[0]}")
    if log is not None and sent:
        log.info(f"{len(sent)} alert(s) delivered to the webhook")
    return len(sent)


def build_alert_sensor(database: str, minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every failed asset check (ERROR or WARN) becomes a row of the DuckDB `alerts` "
                           f"table and an error log line, and a POST to ${WEBHOOK_VARIABLE} when it is set.")
    def check_failure_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        after = int(context.cursor) if context.cursor else None
        alerts, newest = failed_checks(context.instance, after)
        new = record_alerts(database, alerts) if alerts else []
        for alert in new:
            context.log.error(f"ALERT {alert.text}")
        context.update_cursor(None if newest is None else str(newest))
        url = os.environ.get(WEBHOOK_VARIABLE, "").strip()
        delivered = deliver(database, url, context.log) if url else 0
        return dg.SkipReason(f"{len(new)} new failed check(s) recorded, {delivered} delivered")

    return check_failure_alerts
