"""Dagster assets generated from the module declarations: the metric DAG as the asset graph.

Each module becomes one ``multi_asset`` (one step, ``can_subset=True``) whose specs are
its metric nodes (``<module>/<node>``, values in DuckDB ``features.<module>``) and its
score table (``scores/<table>``). Node dependencies come from the metric catalog, raw
dependencies from the frame columns each metric reads, with a time-window partition
mapping as long as the history the module loads, so the UI shows which raw partitions
and metrics feed each score. Checks on the score table run in the same step; a failed
blocking check stops the step before anything is written.
"""

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from quant_assets.days import closed_until, moment_or_now
from quant_assets.metrics import MetricInputError, get
from quant_assets.modules import Module
from quant_assets.modules import checks as score_checks
from quant_assets.modules.declaration import ModuleDeclaration, apply_overrides, parse_overrides
from quant_assets.modules.engine import (
    ModuleComputeError,
    ModuleOutput,
    compute_subject,
    feature_columns,
    frame_history,
    history,
    warmup_bars,
)
from quant_assets.modules.frames import PANEL_FRAMES, TICK_FRAMES, FrameError, returns_panel
from quant_assets.modules.inputs import (
    StoredRaw,
    asset_frames,
    bar_grid,
    module_sources,
    node_sources,
    raw_key_dimension,
    symbols_output,
)
from quant_assets.modules.parallel import map_tasks
from quant_assets.modules.report import TABLES
from quant_assets.modules.tables import PANEL
from quant_assets.resources.score_store import ScoreStoreResource, Slice, frame_columns, model_columns
from quant_assets.settings import Settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS
from quant_assets.ui_metadata import markdown_preview, table_schema

OWNERS = ["team:quant-research"]
DAY = pd.Timedelta(days=1)
#: Column of each table that checks and previews look at.
VALUE_COLUMN = {table: view.value for table, view in TABLES.items()}
SCORED_ASSETS = ("BTC", "ETH")
DRIFT_TRAILING = pd.Timedelta(days=30)
DRIFT_RECENT = pd.Timedelta(days=7)


class ModuleRunConfig(dg.Config):
    """Per-run overrides of the module declaration, as YAML text with the declaration's shape
    (``weights: {rsi: 0.2, ...}``, ``thresholds: {upper: 0.7}``, ``components: {rsi: {window: 500}}``).
    Parsed as data and validated; never executed."""

    overrides_yaml: str = ""
    as_of: str = Field(default="", description="UTC time (ISO) today's open partition is computed as of: "
                       "the bars closed by then. Empty: now. Closed days ignore it.")

    def moment(self) -> datetime:
        try:
            return moment_or_now(self.as_of, "run config as_of")
        except ValueError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc


def _bar(settings: Settings, module: Module) -> pd.Timedelta:
    frames = {node.frame for node in module.declaration.nodes.values()}
    return DAY if frames == {"daily"} else pd.Timedelta(minutes=settings.kline_minutes)


def _history_days(module: Module, bar: pd.Timedelta, frame: str, settings: Settings) -> int:
    """Days of raw partitions before a day that ``frame``'s values depend on."""
    span = frame_history(module.declaration, bar)[frame]
    if span is None:
        return (date.today() - settings.start_date).days + 1
    return math.ceil(span / DAY)


def _raw_dep(module: Module, family: str, frame: str, settings: Settings, bar: pd.Timedelta) -> dg.AssetDep:
    days = _history_days(module, bar, frame, settings)
    window = dg.TimeWindowPartitionMapping(start_offset=-days)
    raw_key = dg.AssetKey(["raw", family])
    dimension = raw_key_dimension(family)
    if module.declaration.partitioning == "symbol":
        mapping = dg.MultiPartitionMapping({
            "date": dg.DimensionPartitionMapping("date", window),
            "symbol": dg.DimensionPartitionMapping("symbol", dg.IdentityPartitionMapping()),
        })
        return dg.AssetDep(raw_key, partition_mapping=mapping)
    if dimension is None:
        return dg.AssetDep(raw_key, partition_mapping=window)
    return dg.AssetDep(raw_key, partition_mapping=dg.MultiToSingleDimensionPartitionMapping("date"))


def _node_description(module: Module, name: str) -> str:
    node = module.declaration.nodes[name]
    metric = get(node.metric)
    params = ", ".join(f"{k}={v!r}" for k, v in node.resolved_params().items()) or "defaults"
    where = (f"`features.{module.id}` columns `{name}__<output>`" if metric.kind == "per_symbol"
             else f"computed within the step that builds `scores.{module.declaration.score_table}`")
    return (f"{metric.summary}\n\nMetric `{node.metric}` ({params}) on the {node.frame} frame"
            + (f", {node.aggregate} per bar" if node.frame in TICK_FRAMES else "")
            + f". Outputs: {', '.join(metric.outputs)}. Stored in {where}.\n\nReference: {metric.reference}")


def _score_key(module: Module) -> dg.AssetKey:
    return dg.AssetKey(["scores", module.declaration.score_table])


def _specs(module: Module, settings: Settings, bar: pd.Timedelta,
           automation_condition: dg.AutomationCondition | None) -> list[dg.AssetSpec]:
    declaration = module.declaration
    common = {"group_name": declaration.id, "owners": OWNERS, "code_version": declaration.version,
              "skippable": True, "automation_condition": automation_condition}
    specs = []
    for name, node in declaration.nodes.items():
        deps: list[dg.AssetDep | dg.AssetKey] = [
            _raw_dep(module, family, node.frame, settings, bar) for family in node_sources(declaration, name)]
        deps += [dg.AssetKey([declaration.id, dep]) for dep in declaration.dependencies(name)]
        metric = get(node.metric)
        metadata: dict[str, object] = {"metric": node.metric, "frame": node.frame}
        if metric.kind == "per_symbol":
            metadata["dagster/table_name"] = f"features.{declaration.id}"
            metadata["dagster/column_schema"] = dg.TableSchema(columns=[
                dg.TableColumn(column, "DOUBLE", description=f"{node.metric} output {output}")
                for column, output in zip(feature_columns(declaration)[name], metric.outputs, strict=True)])
        specs.append(dg.AssetSpec(
            dg.AssetKey([declaration.id, name]), deps=deps, description=_node_description(module, name),
            kinds={"python", "pandas"}, metadata=metadata, **common))
    score_deps = [dg.AssetKey([declaration.id, name]) for name in declaration.nodes]
    specs.append(dg.AssetSpec(
        _score_key(module), deps=score_deps, description=module.doc, kinds={"python", "duckdb"},
        metadata={"dagster/table_name": f"scores.{declaration.score_table}",
                  "dagster/column_schema": table_schema(module.schema),
                  "module_version": declaration.version,
                  "command": " / ".join(declaration.command)},
        **common))
    return specs


def _check_specs(module: Module) -> list[dg.AssetCheckSpec]:
    key = _score_key(module)
    return [dg.AssetCheckSpec(name, asset=key, description=text, blocking=blocking)
            for name, text, blocking in score_checks.CHECKS]


# --------------------------------------------------------------------------- run


def _partition_scope(context: dg.AssetExecutionContext, module: Module) -> tuple[list[str], date, date]:
    """Subjects (symbols; empty for day modules) and the first and last day of the run."""
    keys = list(context.partition_keys)
    if module.declaration.partitioning == "symbol":
        parts = [dg.MultiPartitionKey.from_str(key) if not isinstance(key, dg.MultiPartitionKey) else key
                 for key in keys]
        days = sorted({date.fromisoformat(k.keys_by_dimension["date"]) for k in parts})
        subjects = sorted({k.keys_by_dimension["symbol"] for k in parts})
    else:
        days = sorted(date.fromisoformat(str(k)) for k in keys)
        subjects = []
    return subjects, days[0], days[-1]


def _load_start(span: pd.Timedelta | None, start: pd.Timestamp, settings: Settings) -> pd.Timestamp:
    first = pd.Timestamp(settings.start_date)
    return first if span is None else max(start - span, first)


def _subjects_of(module: Module, settings: Settings, subjects: list[str]) -> list[str]:
    if module.declaration.partitioning == "symbol":
        return subjects
    frames = {node.frame for node in module.declaration.nodes.values()}
    return list(SCORED_ASSETS) if frames == {"daily"} else list(settings.symbols)


class _Inputs:
    """Raw inputs of one run: the rows (or where to read them), with the first and newest
    timestamp of each family and key (for the warm-up mask and the staleness check)."""

    def __init__(self) -> None:
        self.tables: dict[str, pd.DataFrame] | StoredRaw = {}
        self.latest: dict[tuple[str, str], pd.Timestamp | None] = {}
        self.required: dict[str, pd.Timestamp] = {}
        self.firsts: list[pd.Timestamp] = []

    def data_start(self, load_start: pd.Timestamp) -> pd.Timestamp:
        """Where the loaded data actually begins (history is clipped where raw data starts)."""
        return max([load_start, *self.firsts])


def _load_inputs(store: ScoreStoreResource, module: Module, settings: Settings, subjects: Sequence[str],
                 start: pd.Timestamp, end: pd.Timestamp, bar: pd.Timedelta) -> _Inputs:
    """The run's raw inputs. Per-symbol modules leave the rows to their workers
    (:class:`StoredRaw`) and read only each family's extent here."""
    inputs = _Inputs()
    load_from: dict[str, pd.Timestamp] = {}
    spans = frame_history(module.declaration, bar)
    for frame, families in module_sources(module.declaration).items():
        frame_start = _load_start(spans[frame], start, settings)
        for family in families:
            load_from[family] = min(load_from.get(family, frame_start), frame_start)
    per_symbol = module.declaration.partitioning == "symbol"
    tables: dict[str, pd.DataFrame] = {}
    for family, family_start in sorted(load_from.items()):
        dimension = raw_key_dimension(family)
        keys = (list(ONCHAIN_ASSETS) if dimension == "asset" else list(subjects)) if dimension else None
        if per_symbol:
            extent = store.raw_extent(family, dimension, keys, family_start, end).set_index("key")
        else:
            table = tables[family] = store.read_raw(family, dimension, keys, family_start, end)
            keyed = table.assign(key=table[dimension] if dimension else "")  # as raw_extent's key column
            extent = keyed.groupby("key")["ts"].agg(first="min", last="max")
        inputs.required[family] = _newest_required(family, end)
        inputs.firsts += [pd.Timestamp(extent["first"].min())] if len(extent) else []
        for key in keys or [""]:
            found = extent.at[key, "last"] if key in extent.index else None
            inputs.latest[(family, key)] = None if found is None else pd.Timestamp(found)
    inputs.tables = StoredRaw(store.database, load_from, end) if per_symbol else tables
    return inputs


def _newest_required(family: str, end: pd.Timestamp) -> pd.Timestamp:
    """Newest timestamp a complete range must contain (sparse families need only the last day)."""
    if family in ("funding_rate", "liquidations", "onchain_metrics"):
        return end - DAY
    if family == "etf_flows":
        return end - pd.Timedelta(days=4)  # weekends and holidays publish nothing
    return end - pd.Timedelta(hours=1)


def _is_panel(declaration: ModuleDeclaration) -> bool:
    return {node.frame for node in declaration.nodes.values()} <= set(PANEL_FRAMES)


def compute_module(module: Module, inputs: Mapping[str, pd.DataFrame] | StoredRaw, settings: Settings,
                   subjects: Sequence[str], load_start: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp,
                   bar: pd.Timedelta) -> dict[str, ModuleOutput]:
    """Engine outputs per subject on the bars ``[load_start, end)``, exact from ``start`` on
    (each node computed only over the history its values from ``start`` need). Per-symbol
    modules take the raw tables in memory or a :class:`StoredRaw` their workers read from."""
    declaration = module.declaration
    grid = bar_grid(load_start, end, bar)
    frames_used = {node.frame for node in declaration.nodes.values()}
    if isinstance(inputs, StoredRaw) or (frames_used.isdisjoint(PANEL_FRAMES) and "daily" not in frames_used):
        return _symbols_in_workers(declaration, inputs, subjects, grid, bar, start, settings.workers)
    if _is_panel(declaration):
        panel_grid = bar_grid(load_start - bar, end, bar) if load_start > pd.Timestamp(settings.start_date) \
            else grid
        frames = {kind: returns_panel(inputs["spot_klines"], subjects, panel_grid, kind)
                  for kind in frames_used}
        panel_index = next(iter(frames.values())).index
        return {PANEL: compute_subject(declaration, frames, panel_index, bar, PANEL, start)}
    if frames_used == {"daily"}:
        return {asset: compute_subject(declaration, asset_frames(declaration, inputs, asset, grid), grid, bar,
                                       asset, start) for asset in subjects}
    raise ModuleComputeError(f"{declaration.id}: frames {sorted(frames_used)} mix per-symbol, panel and "
                             "daily frames")


def _symbols_in_workers(declaration: ModuleDeclaration, inputs: Mapping[str, pd.DataFrame] | StoredRaw,
                        subjects: Sequence[str], grid: pd.DatetimeIndex, bar: pd.Timedelta,
                        start: pd.Timestamp, workers: int) -> dict[str, ModuleOutput]:
    """Per-symbol outputs, the symbols dealt round-robin to ``workers`` groups when there are
    more symbols than workers (each group reads its rows in one DuckDB connection)."""
    count = workers if len(subjects) > workers > 1 else 1
    groups = [list(subjects[i::count]) for i in range(count)]
    tasks: dict[str, tuple[object, ...]] = {}
    for number, group in enumerate(groups):
        raw = inputs if isinstance(inputs, StoredRaw) or count == 1 else {
            family: table[table["symbol"].isin(group)] if "symbol" in table.columns else table
            for family, table in inputs.items()}
        tasks[str(number)] = (declaration, raw, group, grid, bar, start)
    outputs = {symbol: output for done in map_tasks(symbols_output, tasks, workers).values()
               for symbol, output in done.items()}
    return {symbol: outputs[symbol] for symbol in subjects}


def _features(module: Module, outputs: Mapping[str, ModuleOutput], start: pd.Timestamp,
              end: pd.Timestamp) -> pd.DataFrame | None:
    columns = feature_columns(module.declaration)
    if not columns or PANEL in outputs:
        return None
    key = "asset" if module.declaration.partitioning == "day" else "symbol"
    parts = []
    for subject, output in sorted(outputs.items()):
        index = next(iter(output.nodes.values())).index
        keep = (index >= start) & (index < end)
        values: dict[str, object] = {"ts": index[keep].astype("datetime64[us]"), key: subject}
        for name, names in columns.items():
            for column, out in zip(names, get(module.declaration.nodes[name].metric).outputs, strict=True):
                values[column] = output.nodes[name][out].to_numpy(dtype=float)[keep]
        parts.append(pd.DataFrame(values))
    return pd.concat(parts, ignore_index=True)


def _top_contributions(explain: str | None, count: int = 3) -> str:
    if explain is None:
        return "warming up"
    record = json.loads(explain)
    return ", ".join(f"{c['name']} {c['contribution']:+.3f}" for c in record["components"][:count])


def _score_preview(module: Module, rows: pd.DataFrame) -> dg.MetadataValue:
    value = VALUE_COLUMN[module.declaration.score_table]
    subject = next((c for c in ("symbol", "asset") if c in rows.columns), None)
    if subject is None or "explain" not in rows.columns:
        return markdown_preview(rows.drop(columns=["module_version"]), rows=10)
    latest = rows.dropna(subset=[value]).sort_values("ts").groupby(subject).tail(1)
    lines = [f"| {subject} | ts | {value} | signal | top contributions |", "|---|---|---|---|---|"]
    for row in latest.itertuples(index=False):
        signal = getattr(row, "signal", None) or getattr(row, "label", "")
        lines.append(f"| {getattr(row, subject)} | {row.ts:%Y-%m-%d %H:%M} | {getattr(row, value):.3f} | "
                     f"{signal} | {_top_contributions(row.explain)} |")
    return dg.MetadataValue.md("\n".join(lines) if len(latest) else "_no scores yet (warm-up)_")


def _check_result(outcome: score_checks.ScoreCheck, key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name, asset_key=key, passed=outcome.passed, description=outcome.description,
        severity=dg.AssetCheckSeverity.WARN if outcome.severity == "WARN" else dg.AssetCheckSeverity.ERROR,
        metadata=dict(outcome.metadata or {}))


def _drift_samples(store: ScoreStoreResource, module: Module, rows: pd.DataFrame, subjects: Sequence[str],
                   start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """The last week of scores up to the run's end and the month before it, each subject's
    values in time order: scores stored before the run's range, then the run's own."""
    value = VALUE_COLUMN[module.declaration.score_table]
    recent_from = end - DRIFT_RECENT
    trailing_from = recent_from - DRIFT_TRAILING
    key_column = "symbol" if module.declaration.partitioning == "symbol" else None
    subject = [c for c in ("symbol", "asset", "x", "y") if c in rows.columns]
    stored = store.read_stored("scores", module.declaration.score_table, [*subject, value], key_column,
                               subjects if key_column else None, trailing_from, start)
    own = rows.loc[rows["ts"] >= trailing_from, ["ts", *subject, value]]
    parts = [part for part in (stored, own) if len(part)]  # nothing stored yet on a first run
    both = pd.concat(parts, ignore_index=True) if parts else own
    both = both.sort_values([*subject, "ts"], kind="stable")
    recent = both["ts"] >= recent_from
    return both.loc[recent, value], both.loc[~recent, value]


def _warm_mask(module: Module, rows: pd.DataFrame, load_start: pd.Timestamp, bar: pd.Timedelta) -> pd.Series:
    warm_from = load_start + warmup_bars(module.declaration, bar) * bar
    return rows["ts"] >= warm_from


def build_module_asset(module: Module, settings: Settings, partitions: Mapping[str, dg.PartitionsDefinition],
                       automation_condition: dg.AutomationCondition | None = None) -> dg.AssetsDefinition:
    """The multi-asset of one module (see the module docstring); ``automation_condition``
    goes on every node and the score."""
    declaration = module.declaration
    bar = _bar(settings, module)
    partitions_def = partitions["symbol" if declaration.partitioning == "symbol" else "day"]
    specs = _specs(module, settings, bar, automation_condition)
    score_key = _score_key(module)
    key_column = "symbol" if declaration.partitioning == "symbol" else None

    @dg.multi_asset(
        name=f"{declaration.id}_module",
        specs=specs,
        check_specs=_check_specs(module),
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="duckdb",
        retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
        description=f"{declaration.title} ({declaration.id} {declaration.version}): every metric node and "
                    f"scores.{declaration.score_table}, computed in one step.",
    )
    def _module_step(context: dg.AssetExecutionContext, config: ModuleRunConfig,
                     score_store: ScoreStoreResource) -> Iterable[dg.MaterializeResult | dg.AssetCheckResult]:
        active = module
        if config.overrides_yaml.strip():
            overrides = parse_overrides(f"{declaration.id}:\n" + "\n".join(
                "  " + line for line in config.overrides_yaml.splitlines()), origin="run config")
            active = Module(apply_overrides(declaration, overrides[declaration.id], origin="run config"),
                            module.schema, module.rows, module.doc)
        started = time.perf_counter()
        partition_subjects, first, last = _partition_scope(context, active)
        subjects = _subjects_of(active, settings, partition_subjects)
        # Today's open partition is computed on the bars closed so far and replaced whole later.
        start, day_close = pd.Timestamp(first), pd.Timestamp(last) + DAY
        as_of = config.moment()
        end = closed_until(last, as_of, bar)
        if end <= start:
            raise dg.Failure(description=f"scores.{declaration.score_table}: no {bar} bar of {last} has "
                             f"closed by {as_of:%Y-%m-%d %H:%M} UTC; nothing to compute yet",
                             allow_retries=False)
        span = history(active.declaration, bar)
        load_start = _load_start(span, start, settings)
        inputs = _load_inputs(score_store, active, settings, subjects, start, end, bar)
        fresh = score_checks.inputs_fresh_check(inputs.latest, inputs.required)
        if not fresh.passed:
            yield _check_result(fresh, score_key)
            raise dg.Failure(description=f"scores.{declaration.score_table}: {fresh.description}; nothing "
                             "was computed or written", allow_retries=False)
        try:
            outputs = compute_module(active, inputs.tables, settings, subjects, load_start, start, end, bar)
        except (ModuleComputeError, FrameError, MetricInputError) as exc:
            raise dg.Failure(description=f"{declaration.id}: {exc}", allow_retries=False) from exc
        rows = active.rows(active.declaration, outputs, start, end).reset_index(drop=True)
        value = VALUE_COLUMN[declaration.score_table]
        recent, trailing = _drift_samples(score_store, active, rows, subjects, start, end)
        outcomes = [
            score_checks.schema_check(rows, active.schema, declaration.score_table),
            fresh,
            score_checks.nan_share_check(rows[value], _warm_mask(active, rows, inputs.data_start(load_start),
                                                                 bar)),
            score_checks.drift_check(recent, trailing),
        ]
        results = [_check_result(outcome, score_key) for outcome in outcomes]
        blocking = {name for name, _text, is_blocking in score_checks.CHECKS if is_blocking}
        failed = [o for o in outcomes if not o.passed and o.name in blocking]
        if failed:
            yield from results
            reasons = " | ".join(f"{o.name}: {o.description}" for o in failed)
            raise dg.Failure(description=f"scores.{declaration.score_table}: blocking check(s) failed, "
                             f"nothing was written: {reasons}", allow_retries=False)
        features = _features(active, outputs, start, end)
        slices = [Slice("scores", declaration.score_table, key_column, subjects, start, day_close, rows,
                        model_columns(active.schema))]
        if features is not None:
            feature_key = "symbol" if key_column else "asset"
            slices.append(Slice("features", declaration.id, feature_key, subjects, start, day_close, features,
                                frame_columns(features)))
        score_store.replace(slices)
        seconds = time.perf_counter() - started
        selected = context.selected_asset_keys
        for name in active.declaration.nodes:
            key = dg.AssetKey([declaration.id, name])
            if key not in selected:
                continue
            metadata: dict[str, object] = {"subjects": len(subjects)}
            columns = feature_columns(active.declaration).get(name)
            if columns and features is not None:
                metadata["dagster/row_count"] = len(features)
                metadata["preview"] = markdown_preview(features[["ts", features.columns[1], *columns]])
                metadata["non_null_share"] = float(np.mean(features[columns].notna().to_numpy()))
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        if score_key in selected:
            lineage = dg.TableColumnLineage(deps_by_column={
                value: [dg.TableColumnDep(asset_key=dg.AssetKey([declaration.id, c.node]),
                                          column_name=f"{c.node}__{c.output}")
                        for c in active.declaration.components]})
            yield dg.MaterializeResult(asset_key=score_key, metadata={
                "dagster/row_count": len(rows),
                "dagster/column_lineage": lineage,
                "latest": _score_preview(active, rows),
                "module_version": declaration.version,
                "seconds": round(seconds, 3),
                "history_loaded_from": str(load_start),
                "computed_until": str(end),
                "complete": bool(end == day_close),
            })
        yield from results

    return _module_step


def build_module_assets(modules: Mapping[str, Module], settings: Settings,
                        partitions: Mapping[str, dg.PartitionsDefinition],
                        automation_condition: dg.AutomationCondition | None = None
                        ) -> list[dg.AssetsDefinition]:
    return [build_module_asset(module, settings, partitions, automation_condition)
            for module in modules.values()]
