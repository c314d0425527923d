"""Computing a declared module on its input frames (pure: no Dagster, no DuckDB).

For one symbol (or one on-chain asset) the engine computes every metric node on its
frame, brings tick-level values to the bar grid, orients and normalizes each
component on trailing data, and combines them into the score with an explanation.

Warm-up and partition invariance: :func:`history` says how much data before a range
must be loaded so that every value in the range equals the value computed on the
continuous series. Per node it is twice the metric's memory (recursive filters then
carry a start-up transient below 1e-16 of its size) or, for a model refit on a schedule,
one fit window plus one refit period; plus the longest normalizer window over the node.
A module loads the longest of these, but each node is computed only on its own span
before the range (a scheduled refit outside it would be wasted work). A metric with less
data than its warm-up yields NaN (TA-Lib's convention), and a score exists only where
every component does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quant_assets.metrics import get
from quant_assets.metrics._numeric import UNBOUNDED_MEMORY
from quant_assets.modules.declaration import Component, MetricNode, ModuleDeclaration
from quant_assets.modules.frames import TICK_FRAMES, to_bars
from quant_assets.scoring import ComponentSpec, Composite, combine, explain_records, label, normalize
from quant_assets.scoring.composite import WEIGHTED
from quant_assets.scoring.formula import parse_affine

#: History loaded before a range for tick-frame nodes (their memory is counted in quotes).
TICK_HISTORY = pd.Timedelta("1D")
HOUR = pd.Timedelta(hours=1)


class ModuleComputeError(ValueError):
    """A module cannot be computed from its inputs; names module, node, column and reason."""


def _refit_period(node: MetricNode) -> pd.Timedelta:
    every = node.resolved_params().get("refit_every")
    return pd.Timedelta(every) if isinstance(every, str) and every else pd.Timedelta(0)


def node_history(node: MetricNode, bar: pd.Timedelta) -> pd.Timedelta | None:
    """Data needed before a value for it to equal the continuous-series value
    (``None``: all history, for expanding statistics).

    A metric refit on a schedule holds, at ``t``, the fit made at the last refit bar
    ``b <= t`` on the ``memory`` bars before ``b``: one memory, one refit period and a bar
    (``b`` itself) are enough. Any other metric needs twice its memory (a recursive
    filter's start-up transient has then decayed below 1e-16 of its size)."""
    if node.frame in TICK_FRAMES:
        return TICK_HISTORY
    metric = get(node.metric)
    memory = metric.memory_bars(**node.params)
    if memory >= UNBOUNDED_MEMORY:
        return None
    refit = _refit_period(node)
    if refit > pd.Timedelta(0):
        return memory * bar + refit + 2 * bar
    return 2 * memory * bar + bar


def node_span(declaration: ModuleDeclaration, name: str, bar: pd.Timedelta) -> pd.Timedelta | None:
    """Data needed before a bar for node ``name``'s value and every normalized component
    read from it to be exact there: the node's history plus the longest normalizer
    window over it (``None``: all history)."""
    span = node_history(declaration.nodes[name], bar)
    if span is None:
        return None
    windows = [c.window for c in declaration.components if c.node == name and c.bounds is None]
    return span + max(windows, default=0) * bar


def frame_history(declaration: ModuleDeclaration, bar: pd.Timedelta) -> dict[str, pd.Timedelta | None]:
    """Data to load before a range, per input frame (``None``: from the first partition):
    the longest :func:`node_span` of the nodes reading it."""
    spans: dict[str, pd.Timedelta | None] = {}
    for name, node in declaration.nodes.items():
        span = node_span(declaration, name, bar)
        previous = spans.get(node.frame, pd.Timedelta(0))
        spans[node.frame] = None if span is None or previous is None else max(previous, span)
    return spans


def history(declaration: ModuleDeclaration, bar: pd.Timedelta) -> pd.Timedelta | None:
    """Data to load before a range of ``declaration`` (``None``: from the first partition)."""
    spans = list(frame_history(declaration, bar).values())
    return None if None in spans else max(spans, default=pd.Timedelta(0))


def warmup_bars(declaration: ModuleDeclaration, bar: pd.Timedelta = HOUR) -> int:
    """Bars from the first data until the first score can exist (an upper bound: a tick
    node's warm-up, counted in quotes, is taken as its whole loaded history)."""
    worst = 0
    for component in declaration.components:
        node = declaration.nodes[component.node]
        if node.frame in TICK_FRAMES:
            metric_warmup = math.ceil(TICK_HISTORY / bar)
        else:
            metric_warmup = get(node.metric).warmup_bars(**node.params) + math.ceil(_refit_period(node) / bar)
        window = 0 if component.bounds is not None else component.window - 1
        worst = max(worst, metric_warmup + window)
    if not declaration.components:  # tables of node values (lead-lag, allocation): the slowest node
        for node in declaration.nodes.values():
            refit = math.ceil(_refit_period(node) / bar)
            worst = max(worst, get(node.metric).warmup_bars(**node.params) + refit)
    return worst


def _output_columns(metric, frame: pd.DataFrame) -> pd.Index:
    """Columns of a metric's result on ``frame``: outputs, or the cross-asset layout's levels
    (every ordered pair of distinct symbols, for pairwise layouts)."""
    if metric.kind != "cross_asset" or metric.layout == "aggregate":
        return pd.Index(list(metric.outputs))
    symbols = [str(c) for c in frame.columns]
    if metric.layout == "per_asset":
        return pd.MultiIndex.from_product([list(metric.outputs), symbols], names=["output", "symbol"])
    return pd.MultiIndex.from_tuples([(o, x, y) for o in metric.outputs for x in symbols for y in symbols
                                      if x != y],
                                     names=["output", "x", "y"])


def compute_node(declaration: ModuleDeclaration, name: str, frame: pd.DataFrame,
                 subject: str) -> pd.DataFrame:
    """Outputs of node ``name`` on ``frame`` (indexed like ``frame``).

    Leading rows where an input is missing are the series' warm-up; a missing value
    after the first complete row is a gap in the raw data and raises. Too little data
    for the metric's warm-up gives NaN outputs."""
    node = declaration.nodes[name]
    metric = get(node.metric)
    renames = {source: target for target, source in node.columns.items()} if node.columns else {}
    wanted = [node.columns.get(column, column) for column in metric.inputs] if metric.inputs else None
    empty = pd.DataFrame(np.nan, index=frame.index, columns=_output_columns(metric, frame))
    if wanted is None:
        data = frame
    else:
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise ModuleComputeError(f"{declaration.id}/{name} for {subject}: input column {absent[0]!r} "
                                     f"is not in the {node.frame} frame")
        data = frame[wanted].rename(columns=renames)
    if not metric.allow_nan and len(data):
        complete = data.notna().all(axis=1).to_numpy()
        if not complete.any():
            return empty
        first = int(np.argmax(complete))
        data = data.iloc[first:]
        if not complete[first:].all():
            row = first + int(np.argmin(complete[first:]))
            gap = [c for c in data.columns if pd.isna(frame[node.columns.get(c, c)].iloc[row])]
            raise ModuleComputeError(
                f"{declaration.id}/{name} for {subject}: column {gap[0]!r} is missing at "
                f"{frame.index[row]} after data began at {frame.index[first]}; the raw input has a "
                "gap (re-materialize that raw partition)")
    if len(data) <= metric.warmup_bars(**node.params):
        return empty
    result = metric(data, **node.params)
    result = result.to_frame() if isinstance(result, pd.Series) else result
    return result.reindex(frame.index)


@dataclass(frozen=True)
class ModuleOutput:
    """A module computed for one subject (symbol or asset) on the bar grid."""

    nodes: dict[str, pd.DataFrame]
    raw: pd.DataFrame
    normalized: pd.DataFrame
    composite: Composite | None
    explain: list[str | None]
    signal: pd.Series | None


def component_specs(declaration: ModuleDeclaration) -> list[ComponentSpec]:
    return [ComponentSpec(c.name, declaration.nodes[c.node].metric, c.output, c.weight)
            for c in declaration.components]


def _component_raw(component: Component, values: pd.Series) -> pd.Series:
    raw = values.abs() if component.transform == "abs" else values
    return raw.astype(float)


def compute_subject(declaration: ModuleDeclaration, frames: Mapping[str, pd.DataFrame],
                    grid: pd.DatetimeIndex, bar: pd.Timedelta, subject: str,
                    start: pd.Timestamp | None = None) -> ModuleOutput:
    """Every node and the score of ``declaration`` for one subject, on ``grid``.

    With ``start``, values are wanted from ``start`` on only: each node is computed on its
    frame from ``start`` minus its own :func:`node_span`, not on all the loaded history
    (a module loads as much as its longest node needs; a scheduled refit outside a node's
    span would be wasted). Values from ``start`` on are the same either way; earlier
    bars may be NaN or not yet exact."""
    nodes: dict[str, pd.DataFrame] = {}
    for name, node in declaration.nodes.items():
        frame = frames.get(node.frame)
        if frame is None:
            raise ModuleComputeError(f"{declaration.id}/{name} for {subject}: no {node.frame} frame given")
        span = None if start is None else node_span(declaration, name, bar)
        if span is not None:
            frame = frame[frame.index >= start - span]
        values = compute_node(declaration, name, frame, subject)
        if node.frame in TICK_FRAMES:
            values = to_bars(values, grid, bar, node.aggregate)
        else:
            values = values.reindex(grid)
        nodes[name] = values
    if not declaration.components:
        return ModuleOutput(nodes, pd.DataFrame(index=grid), pd.DataFrame(index=grid), None, [], None)
    raw = pd.DataFrame({c.name: _component_raw(c, nodes[c.node][c.output]) for c in declaration.components},
                       index=grid)
    normalized = pd.DataFrame({
        c.name: normalize(c.orientation * raw[c.name], c.normalization, c.window, bounds=c.bounds)
        if c.orientation == 1 or c.bounds is None
        else 1.0 - normalize(raw[c.name], c.normalization, c.window, bounds=c.bounds)
        for c in declaration.components}, index=grid)
    specs = component_specs(declaration)
    form = (parse_affine(declaration.formula, [c.name for c in declaration.components] + [WEIGHTED])
            if declaration.formula else None)
    composite = combine(raw, normalized, specs, form=form, score_range=declaration.score_range)
    explain = explain_records(raw, normalized, composite, specs)
    signal = None
    if declaration.thresholds is not None:
        t = declaration.thresholds
        signal = label(composite.score, upper=t.upper, lower=t.lower, labels=t.labels)
    return ModuleOutput(nodes, raw, normalized, composite, explain, signal)


def feature_columns(declaration: ModuleDeclaration) -> dict[str, list[str]]:
    """Feature-table column of each node output: ``<node>__<output>``."""
    return {name: [f"{name}__{output}" for output in get(node.metric).outputs]
            for name, node in declaration.nodes.items() if get(node.metric).kind == "per_symbol"}


def features_frame(declaration: ModuleDeclaration, output: ModuleOutput) -> pd.DataFrame:
    """All per-subject node outputs side by side, named by :func:`feature_columns`."""
    parts = {}
    for name, columns in feature_columns(declaration).items():
        values = output.nodes[name]
        for column, out in zip(columns, get(declaration.nodes[name].metric).outputs, strict=True):
            parts[column] = values[out].to_numpy(dtype=float)
    index = next(iter(output.nodes.values())).index if output.nodes else pd.DatetimeIndex([])
    return pd.DataFrame(parts, index=index)
