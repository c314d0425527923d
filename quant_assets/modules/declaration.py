"""Typed declarations of the analysis modules, validated on load.

A module declares *metric nodes* (a catalog metric with parameters, computed on one
input frame and brought to the bar grid), *components* (one output of a node,
oriented, normalized and weighted), thresholds that turn the score into a signal,
an optional affine composite formula, its version and its docstring. Assets, score
tables and checks are generated from the declaration (:mod:`quant_assets.modules.assets`).

Overrides come from a YAML file (``QUANT_MODULES_CONFIG``) or a run's config, both
parsed as data (``yaml.safe_load``) and re-validated here: nothing is executed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quant_assets.metrics import MODULE_IDS, MetricInputError, get
from quant_assets.scoring import NORMALIZATIONS, WEIGHTED, FormulaError, parse_affine

Frame = Literal["bar", "book", "depth", "daily", "log_returns", "simple_returns"]
Aggregate = Literal["last", "mean", "sum"]
Normalization = Literal["logistic_z", "percentile", "minmax"]
Partitioning = Literal["symbol", "day"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
WEIGHT_TOLERANCE = 1e-9
ParamValue = int | float | str | bool | tuple[float, ...]


class DeclarationError(ValueError):
    """A module declaration or an override of it is invalid; the message names the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricNode(_Frozen):
    """A catalog metric with its parameters: one asset node of the module's graph.

    ``frame`` is the input it is computed on (``bar``: the symbol's bars and bar-level
    derivatives data; ``book``: every book-ticker quote with the trades between quotes;
    ``depth``: every top-20 depth snapshot; ``daily``: one asset's on-chain days;
    ``log_returns``/``simple_returns``: a wide frame of all symbols' returns). Values on
    ``book`` and ``depth``
    are brought to the bar grid by ``aggregate`` over the quotes inside each bar.
    ``columns`` renames frame columns to the metric's input names where they differ.
    """

    metric: str
    params: dict[str, ParamValue] = Field(default_factory=dict)
    frame: Frame = "bar"
    aggregate: Aggregate = "last"
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        try:
            get(value)
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        return value

    @model_validator(mode="after")
    def _valid_params(self) -> MetricNode:
        metric = get(self.metric)
        try:
            metric.resolve_params(self.params)
        except MetricInputError as exc:
            raise ValueError(str(exc)) from None
        unknown = set(self.columns) - set(metric.inputs)
        if unknown:
            raise ValueError(f"columns renames {sorted(unknown)}, which {self.metric} does not read")
        return self

    def resolved_params(self) -> dict[str, Any]:
        return get(self.metric).resolve_params(self.params)


class Component(_Frozen):
    """One scored input: an output of a node, oriented, normalized and weighted.

    ``orientation`` is +1 when a higher value means a higher score, −1 otherwise.
    ``transform: abs`` scores the magnitude (e.g. |momentum| for trendiness).
    ``normalization`` is stated per component with ``why``; ``window`` is the trailing
    number of bars the normalizer looks at; ``bounds`` fixes a min-max range for
    naturally bounded inputs (RSI/100, book imbalance).
    """

    name: str
    node: str
    output: str
    normalization: Normalization
    window: int = 336
    bounds: tuple[float, float] | None = None
    orientation: Literal[1, -1] = 1
    transform: Literal["identity", "abs"] = "identity"
    weight: float = Field(ge=0.0, le=1.0)
    why: str

    @field_validator("name")
    @classmethod
    def _snake(cls, value: str) -> str:
        if not _NAME.match(value) or value == WEIGHTED:
            raise ValueError(f"{value!r} must be snake_case and not {WEIGHTED!r}")
        return value

    @model_validator(mode="after")
    def _normalizer(self) -> Component:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization {self.normalization!r} unknown")
        if self.bounds is not None and self.normalization != "minmax":
            raise ValueError("bounds apply to minmax normalization only")
        if self.bounds is None and self.window < 2:
            raise ValueError(f"window must be >= 2 (got {self.window})")
        return self


class Thresholds(_Frozen):
    """Signal labels: ``labels[0]`` at score >= upper, ``labels[2]`` at <= lower."""

    upper: float
    lower: float
    labels: tuple[str, str, str] = ("bullish", "neutral", "bearish")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.lower < self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self


class ModuleDeclaration(_Frozen):
    """Everything that defines an analysis module; see the module docstring."""

    id: str
    title: str
    version: str
    description: str
    command: tuple[str, str]
    score_table: str
    partitioning: Partitioning = "symbol"
    nodes: dict[str, MetricNode]
    components: tuple[Component, ...] = ()
    score_range: tuple[float, float] = (0.0, 1.0)
    thresholds: Thresholds | None = None
    formula: str | None = None

    @field_validator("id")
    @classmethod
    def _module_id(cls, value: str) -> str:
        if value not in MODULE_IDS:
            raise ValueError(f"{value!r} is not one of {', '.join(MODULE_IDS)}")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"{value!r} must be x.y.z")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModuleDeclaration:
        for name in self.nodes:
            if not _NAME.match(name):
                raise ValueError(f"node name {name!r} must be snake_case")
        by_metric = {node.metric for node in self.nodes.values()}
        for name, node in self.nodes.items():
            missing = [dep for dep in get(node.metric).depends_on if dep not in by_metric]
            if missing:
                raise ValueError(
                    f"node {name!r}: {node.metric} depends on {', '.join(missing)}; declare "
                    "a node for each so the asset graph is the metric graph")
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError("component names must be distinct")
        for component in self.components:
            if component.node not in self.nodes:
                raise ValueError(f"component {component.name!r}: unknown node {component.node!r}")
            outputs = get(self.nodes[component.node].metric).outputs
            if component.output not in outputs:
                raise ValueError(f"component {component.name!r}: output {component.output!r} is not "
                                 f"one of {', '.join(outputs)}")
        if self.components:
            total = sum(c.weight for c in self.components)
            if abs(total - 1.0) > WEIGHT_TOLERANCE:
                raise ValueError(f"component weights sum to {total!r}, they must sum to 1")
            if self.formula is not None:
                try:
                    parse_affine(self.formula, [*names, WEIGHTED])
                except FormulaError as exc:
                    raise ValueError(f"formula: {exc}") from None
        lo, hi = self.score_range
        if not lo < hi:
            raise ValueError(f"score_range {self.score_range} must have low < high")
        return self

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"{self.id}: no component {name!r}")

    def dependencies(self, node: str) -> list[str]:
        """Nodes of this module that ``node``'s metric is computed from (catalog edges)."""
        deps = set(get(self.nodes[node].metric).depends_on)
        return [name for name, other in self.nodes.items() if other.metric in deps and name != node]


# --------------------------------------------------------------------------- overrides


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def apply_overrides(declaration: ModuleDeclaration, overrides: Mapping[str, Any] | None,
                    *, origin: str) -> ModuleDeclaration:
    """``declaration`` with ``overrides`` merged in and validated again.

    Overrides have the declaration's shape, except that ``components`` and ``nodes``
    are mappings by name (``{"components": {"rsi": {"weight": 0.2}}}``) and
    ``weights`` is a shortcut for every component's weight. ``origin`` names where
    the overrides came from in error messages.
    """
    if not overrides:
        return declaration
    if not isinstance(overrides, Mapping):
        raise DeclarationError(f"{origin}: overrides of {declaration.id} must be a mapping")
    data = declaration.model_dump()
    changes = dict(overrides)
    weights = changes.pop("weights", None) or {}
    components = changes.pop("components", None) or {}
    nodes = changes.pop("nodes", None) or {}
    known = {c["name"] for c in data["components"]}
    for name in [*weights, *components]:
        if name not in known:
            raise DeclarationError(f"{origin}: {declaration.id} has no component {name!r} "
                                   f"(known: {', '.join(sorted(known))})")
    for name in nodes:
        if name not in data["nodes"]:
            raise DeclarationError(f"{origin}: {declaration.id} has no node {name!r}")
    for item in data["components"]:
        item.update(_merge(item, components.get(item["name"], {})))
        if item["name"] in weights:
            item["weight"] = weights[item["name"]]
    data["nodes"] = {name: _merge(node, nodes.get(name, {})) for name, node in data["nodes"].items()}
    for key in changes:
        if key not in ModuleDeclaration.model_fields or key in ("id",):
            raise DeclarationError(f"{origin}: {key!r} cannot be overridden in {declaration.id}")
    data = _merge(data, changes)
    try:
        return ModuleDeclaration.model_validate(data)
    except ValidationError as exc:
        reason = _first_error(exc)
        raise DeclarationError(f"{origin}: invalid override of {declaration.id}: {reason}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "declaration"
    return f"{where}: {error['msg']}"


def parse_overrides(text: str, *, origin: str) -> dict[str, Any]:
    """Overrides per module id from YAML text (safe loader: data only, never code)."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise DeclarationError(f"{origin}: not valid YAML: {exc}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise DeclarationError(f"{origin}: must be a mapping of module id to overrides")
    unknown = sorted(set(data) - set(MODULE_IDS))
    if unknown:
        raise DeclarationError(f"{origin}: unknown module {unknown[0]!r} (known: {', '.join(MODULE_IDS)})")
    return data


def validated(data: Mapping[str, Any], *, origin: str) -> ModuleDeclaration:
    """Build a declaration from plain data, with an error that names the field."""
    try:
        return ModuleDeclaration.model_validate(data)
    except ValidationError as exc:
        raise DeclarationError(f"{origin}: {_first_error(exc)}") from None
