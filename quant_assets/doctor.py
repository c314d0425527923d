"""``quant-assets doctor``: is the platform healthy right now?

Looks at the DuckDB file (it opens, and holds the raw schema), the freshness of every raw
asset in the Dagster instance (every partition of the newest closed day, as the
``newest_partition_fresh`` check asks), the latest result of every asset check, and the
webserver's ``/server_info`` endpoint. Each finding is ok, a warning (a WARN check failed)
or a failure; any failure makes the command exit non-zero, so it can gate a cron job or a
deployment.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
import duckdb

from quant_assets.days import utc_now
from quant_assets.raw.freshness import expected_day, missing_partitions
from quant_assets.settings import Settings

Status = Literal["ok", "warn", "fail"]
GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class Finding:
    area: str
    subject: str
    status: Status
    detail: str


def check_duckdb(settings: Settings) -> list[Finding]:
    path = settings.duckdb_path
    if not path.exists():
        return [Finding("duckdb", str(path), "fail",
                        "the file does not exist: run `make demo` or a backfill")]
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            schemas = {name for (name,) in connection.execute(
                "select schema_name from information_schema.schemata").fetchall()}
            tables = connection.execute(
                "select table_schema, count(*) from information_schema.tables group by 1").fetchall()
    except duckdb.Error as exc:  # locked by a writer, corrupt, not a DuckDB file
        return [Finding("duckdb", str(path), "fail", f"cannot be opened read-only: {exc}")]
    counts = dict(tables)
    findings = [Finding("duckdb", str(path), "ok", f"opens; tables per schema: {counts}")]
    if "raw" not in schemas:
        findings.append(Finding("duckdb", "raw", "fail", "no raw schema: no raw asset was ever materialized"))
    if "scores" not in schemas:
        findings.append(Finding("duckdb", "scores", "warn",
                                "no scores schema yet: no module was materialized"))
    return findings


def check_raw_freshness(defs: dg.Definitions, instance: dg.DagsterInstance, now: datetime) -> list[Finding]:
    """Every raw asset: are all partitions of the newest closed day materialized?"""
    day = expected_day(now, GRACE)
    graph = defs.resolve_asset_graph()
    findings = []
    for key in sorted(k for k in graph.get_all_asset_keys() if k.path[0] == "raw"):
        partitions_def = graph.get(key).partitions_def
        if partitions_def is None:
            continue
        missing = missing_partitions(instance, key, partitions_def, day)
        name = key.to_user_string()
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            findings.append(Finding("freshness", name, "fail", f"{len(missing)} partition(s) of {day} "
                                                                f"missing: {shown}"))
        else:
            findings.append(Finding("freshness", name, "ok", f"every partition of {day} materialized"))
    return findings


def check_asset_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[Finding]:
    """The latest execution of every asset check: failed ERROR checks fail, failed WARN checks warn."""
    keys = sorted(defs.resolve_asset_graph().asset_check_keys, key=lambda k: k.to_user_string())
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    findings = []
    never = [key for key in keys if key not in latest]
    for key, record in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        evaluation = record.event.dagster_event.event_specific_data if record.event else None
        if evaluation is None or not hasattr(evaluation, "passed"):
            continue  # planned, still running
        if evaluation.passed:
            continue
        status: Status = "warn" if evaluation.severity == dg.AssetCheckSeverity.WARN else "fail"
        when = datetime.fromtimestamp(record.create_timestamp, UTC).strftime("%Y-%m-%d %H:%M")
        partition = f" [{record.partition}]" if record.partition else ""
        findings.append(Finding("checks", key.to_user_string() + partition, status,
                                f"failed at {when} UTC: {evaluation.description}"))
    passed = len(latest) - len(findings)
    findings.insert(0, Finding("checks", f"{len(keys)} asset checks", "ok",
                               f"{passed} passed on their latest run, {len(never)} never ran"))
    return findings


def check_webserver(url: str, timeout: float = 3.0) -> list[Finding]:
    endpoint = url.rstrip("/") + "/server_info"
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout) as response:
            body = response.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return [Finding("webserver", endpoint, "fail", f"not reachable ({exc}): start it with `make ui`")]
    return [Finding("webserver", endpoint, "ok", f"answers: {body.strip()[:120]}")]


def run_doctor(settings: Settings, defs_factory: Callable[[], dg.Definitions], webserver: str | None,
               now: datetime | None = None) -> list[Finding]:
    """Every finding, in the order DuckDB, freshness, checks, webserver (skipped when None)."""
    findings = check_duckdb(settings)
    home = settings.dagster_home
    if not home.is_dir():
        findings.append(Finding("instance", str(home), "fail", "no Dagster instance here: run `make demo` or "
                                                               "`make ui` (or set DAGSTER_HOME)"))
    else:
        defs = defs_factory()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            findings += check_raw_freshness(defs, instance, now or utc_now())
            findings += check_asset_checks(defs, instance)
    if webserver is not None:
        findings += check_webserver(webserver)
    return findings


def render(findings: Iterable[Finding]) -> str:
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    return "\n".join(f"  {marks[f.status]}  {f.area:<10} {f.subject:<40} {f.detail}" for f in findings)
