"""Raw ingestion assets, generated from the family declarations in :mod:`.families`.

Each asset, for every partition (day × symbol, day × asset, or day) in its run:

1. fetches the raw payloads from the configured source (or, with
   ``reparse_from_landing``, reads the ones already landed);
2. writes them to the landing zone before anything else;
3. parses them with the family's parser;
4. evaluates the data-quality checks on the parsed frame.

The pandera schema is validated once, as the ``schema`` check (the UI's Columns tab
comes from ``dagster/column_schema``). If a blocking (ERROR) check fails, the check
results are reported and the step fails *before* the IO manager runs, so what DuckDB
held before stays untouched.
Otherwise the frame is written to ``raw.<family>`` (delete-then-insert of the
partitions' slice in one transaction) and the check results are reported.

Today's partition is *open*: it holds what had happened by the run (``as_of``, the
source's clock), its checks expect only the periods closed by then, and its
materialization says ``complete: false`` until a run after midnight replaces it.
"""


from collections import Counter
from datetime import date, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from quant_assets.days import day_end
from quant_assets.raw import checks
from quant_assets.raw.families import FAMILIES, RawFamily
from quant_assets.raw.parsers import parse_payload
from quant_assets.resources.market import LandingZoneResource, MarketSourceResource
from quant_assets.settings import Settings
from quant_assets.sources.base import Payload, SourceError
from quant_assets.ui_metadata import empty_table, markdown_preview, table_schema

RAW_GROUP = "raw"
#: Materialization metadata: False while a partition holds an open day (refreshed until it closes).
COMPLETE = "complete"
CODE_VERSION = "1"
ETF_KEY = "ALL"

_EXTRA_CHECK_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "ohlc": ("ohlc_consistent", "low ≤ open, close ≤ high and volume ≥ 0 on every candle"),
    "price_jumps": ("price_jumps", "WARN on a bar-to-bar |log return| above the configured threshold"),
    "funding_bounds": ("funding_bounds", "funding rates within ±max_abs_funding_rate"),
    "uncrossed_book": ("uncrossed_book", "best bid below best ask; ladders ordered by level"),
    "id_sequence": ("id_sequence", "aggregated-trade ids contiguous (no lost trades)"),
}


class RawIngestConfig(dg.Config):
    """Run configuration of a raw asset."""

    reparse_from_landing: bool = Field(
        default=False,
        description="Parse the payloads already in the landing zone instead of calling the source.",
    )
    max_abs_log_return: float = Field(
        default=0.15, gt=0, description="WARN when a bar-to-bar |log return| exceeds this."
    )
    max_abs_funding_rate: float = Field(
        default=0.03, gt=0, description="ERROR when |funding rate| exceeds this (per interval)."
    )


def check_names(family: RawFamily) -> list[tuple[str, str, bool]]:
    """(name, description, blocking) of every check the family's asset reports."""
    specs = [
        ("schema", f"columns, types and value constraints of {family.schema.__name__}", True),
        ("unique_keys", f"no duplicate ({', '.join(family.keys)})", True),
        ("monotonic_time", "timestamps never go backwards in the order served", True),
        ("in_partition_window", "every row lies in its partition's day", True),
    ]
    if family.grid is not None:
        specs.append(("no_gaps", "every expected timestamp is present; the failure names the missing ones",
                      family.grid.severity == "ERROR"))
    for extra in family.extra_checks:
        name, description = _EXTRA_CHECK_DESCRIPTIONS[extra]
        specs.append((name, description, name != "price_jumps"))
    return specs


def evaluate_checks(family: RawFamily, frame: pd.DataFrame, requests: list[tuple[str, date]],
                    settings: Settings, config: RawIngestConfig,
                    as_of: datetime | None = None) -> list[checks.CheckOutcome]:
    """Run every check of ``family`` on the parsed ``frame`` of the given partitions; of
    today's open day, the time grid expects what had closed by ``as_of`` (the run's start)."""
    outcomes = [checks.check_schema(frame, family.schema)]
    if not outcomes[0].passed:
        return outcomes  # the other checks assume the schema's columns and types
    days = sorted({day for _, day in requests})
    start, end = pd.Timestamp(days[0]), pd.Timestamp(days[-1]) + pd.Timedelta(days=1)
    outcomes += [
        checks.check_unique_keys(frame, family.keys),
        checks.check_monotonic_time(frame, [*family.group_columns, *family.order_columns]),
        checks.check_in_window(frame, start, end),
    ]
    if family.grid is not None:
        expected: dict[tuple, pd.DatetimeIndex] = {}
        for key, day in requests:
            for group, times in family.expected_grid(key, day, settings, as_of).items():
                expected[group] = expected[group].union(times) if group in expected else times
        bucket = None if family.grid.exact else family.grid.step(settings)
        outcomes.append(checks.check_time_grid(frame, expected, family.group_columns, bucket,
                                               family.grid.severity))
    for extra in family.extra_checks:
        if extra == "ohlc":
            outcomes.append(checks.check_ohlc(frame))
        elif extra == "price_jumps":
            outcomes.append(checks.check_price_jumps(frame, config.max_abs_log_return))
        elif extra == "funding_bounds":
            column = "funding_rate" if "funding_rate" in frame else "last_funding_rate"
            outcomes.append(checks.check_funding_bounds(frame, config.max_abs_funding_rate, column))
        elif extra == "uncrossed_book":
            outcomes.append(checks.check_uncrossed_book(frame))
        elif extra == "id_sequence":
            outcomes.append(checks.check_id_sequence(frame, "agg_trade_id"))
    return outcomes


def partition_requests(context: dg.AssetExecutionContext, family: RawFamily) -> list[tuple[str, date]]:
    """(key, day) of every partition in this run (one, or a range in a single-run backfill)."""
    requests = []
    for partition_key in context.partition_keys:
        if family.partitioning == "day":
            requests.append((ETF_KEY, date.fromisoformat(partition_key)))
        else:
            dims = (partition_key.keys_by_dimension if isinstance(partition_key, dg.MultiPartitionKey)
                    else _split_multi_key(partition_key, family))
            requests.append((dims[family.partitioning], date.fromisoformat(dims["date"])))
    return requests


def _split_multi_key(partition_key: str, family: RawFamily) -> dict[str, str]:
    # Multi-partition keys join dimension values in alphabetical order of dimension name.
    names = sorted(["date", family.partitioning])
    return dict(zip(names, partition_key.split("|"), strict=True))


def _source_failure(exc: SourceError) -> Exception:
    """Retry what may succeed later (server errors, rate limits); fail at once otherwise, so
    the run shows the source's own message instead of "exceeded max retries"."""
    if exc.retryable:
        return exc
    return dg.Failure(description=str(exc), allow_retries=False)


def _landing_source_name(source: object, family: str) -> str:
    """The source whose name a family's payloads landed under (a composite routes families)."""
    route = getattr(source, "source_for", None)
    return route(family).name if route is not None else source.name  # type: ignore[attr-defined]


def final_rows(family: RawFamily, frame: pd.DataFrame, payload: Payload, day: date,
               settings: Settings) -> pd.DataFrame:
    """Rows of ``frame`` (parsed from ``payload``) that were final when it was received.

    A payload received before its day closed may end with a period still running (the
    exchange serves the open candle); such a row would change later, so it is left for
    the next refresh of the open partition.
    """
    grid = family.grid
    received = pd.Timestamp(payload.received_at_ms, unit="ms")
    if grid is None or not grid.periods or received >= pd.Timestamp(day_end(day)) or not len(frame):
        return frame
    return frame[frame["ts"] + grid.step(settings) <= received]


def _land(context: dg.AssetExecutionContext, zone, family: str, key: str, day: date,
          payloads: list, landed: Counter) -> None:
    """Write payloads to the landing zone before they are parsed; report changed answers."""
    for payload in payloads:
        stored = zone.write(family, key, day, payload)
        landed[stored.status] += 1
        if stored.status == "new_version":
            context.log.warning(f"{stored.path.name}: the source answered differently than the landed "
                                "copy; both versions are kept")


def _result(outcome: checks.CheckOutcome, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata=outcome.metadata,
    )


def build_raw_asset(family: RawFamily, partitions_def: dg.PartitionsDefinition,
                    settings: Settings) -> dg.AssetsDefinition:
    """The partitioned asset ``raw/<family>`` with its checks."""
    asset_key = dg.AssetKey([RAW_GROUP, family.name])
    partition_expr: str | dict[str, str] = (
        "ts" if family.partitioning == "day" else {"date": "ts", family.partitioning: family.partitioning}
    )
    description = (
        f"{family.description}\n\nEndpoints: {', '.join(family.endpoints)}. Stored in DuckDB table "
        f"`raw.{family.name}`; raw responses kept in the landing zone under `{family.name}/`."
    )

    @dg.asset(
        key=asset_key,
        partitions_def=partitions_def,
        group_name=RAW_GROUP,
        description=description,
        io_manager_key="duckdb_io_manager",
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[
            dg.AssetCheckSpec(name, asset=asset_key, description=text, blocking=blocking)
            for name, text, blocking in check_names(family)
        ],
        metadata={
            "partition_expr": partition_expr,
            "dagster/column_schema": table_schema(family.schema),
            "dagster/table_name": f"raw.{family.name}",
        },
        kinds={"python", "duckdb"},
        owners=["team:data-platform"],
        code_version=CODE_VERSION,
        pool="duckdb",
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    )
    def _raw_asset(context: dg.AssetExecutionContext, config: RawIngestConfig,
                   market_source: MarketSourceResource, landing_zone: LandingZoneResource):
        try:
            source = market_source.get_source()
        except SourceError as exc:
            raise _source_failure(exc) from exc
        zone = landing_zone.zone()
        as_of = market_source.now()  # before fetching: every period closed by now must be served
        requests = partition_requests(context, family)
        frames: list[pd.DataFrame] = []
        landed: Counter[str] = Counter()
        if config.reparse_from_landing:
            landed_under = _landing_source_name(source, family.name)
            batches = ((key, day, zone.read(landed_under, family.name, key, day)) for key, day in requests)
        else:
            batches = source.fetch_all(family.name, requests)
        try:
            for key, day, payloads in batches:
                if not config.reparse_from_landing:
                    _land(context, zone, family.name, key, day, payloads, landed)
                for payload in payloads:
                    parsed = final_rows(family, parse_payload(family.name, family.parser, payload, key),
                                        payload, day, settings)
                    if len(parsed):
                        frames.append(parsed)
        except SourceError as exc:
            raise _source_failure(exc) from exc
        frame = pd.concat(frames, ignore_index=True) if frames else empty_table(family.schema)

        outcomes = evaluate_checks(family, frame, requests, settings, config, as_of)
        results = [_result(outcome, asset_key) for outcome in outcomes]
        failed = [o for o in outcomes if not o.passed and o.severity == "ERROR"]
        if failed:
            yield from results
            raise dg.Failure(
                description=f"raw.{family.name}: {len(failed)} blocking check(s) failed, nothing was "
                "written: " + " | ".join(f"{o.name}: {o.description}" for o in failed),
                allow_retries=False,
            )
        open_days = sorted({day for _key, day in requests if day_end(day) > as_of})
        yield dg.Output(frame, metadata={
            "dagster/row_count": len(frame),
            "partitions": len(requests),
            COMPLETE: not open_days,
            "as_of": as_of.isoformat(sep=" ", timespec="seconds"),
            "landing_files_new": landed["new"],
            "landing_files_unchanged": landed["unchanged"],
            "landing_files_refreshed": landed["refreshed"],
            "landing_files_new_version": landed["new_version"],
            "preview": markdown_preview(frame),
        })
        yield from results

    return _raw_asset


def build_raw_assets(settings: Settings, partitions: dict[str, dg.PartitionsDefinition]) -> list[
        dg.AssetsDefinition]:
    """One asset per family; ``partitions`` maps a partitioning kind to its definition."""
    return [build_raw_asset(family, partitions[family.partitioning], settings) for family in FAMILIES]
