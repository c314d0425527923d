"""Metric registry: declaration, input validation and the dependency graph.

A metric is a pure function ``f(data, *, param=default, ...)`` of a DataFrame.
The :func:`metric` decorator records its declaration (module, input columns,
outputs, parameters, dependencies, value range, warm-up, reference) and wraps
the function so that every call validates its input first:

- ``data`` is a DataFrame with a naive (UTC) ``DatetimeIndex`` that is strictly
  increasing (monotonic, no duplicates);
- the required columns are present, numeric and finite;
- there are more rows than the warm-up, so at least one value can be produced;
- parameters are known, of the type of their default, and pass the declared
  constraints.

Every violation raises :class:`MetricInputError`, whose message names the
metric, the argument or column, and the reason.

Two kinds of metric exist (``kind``):

``per_symbol``
    ``data`` holds the bars of one symbol; the metric declares the columns it
    reads (``inputs``). The result is a Series named after the single output,
    or a DataFrame with one column per declared output, indexed like ``data``.

``cross_asset``
    ``data`` is a wide frame of returns, one column per symbol, labelled by
    the symbol (a non-empty string); at least two columns, every column
    numeric and finite, the index under the same rules as above. The metric
    declares no ``inputs`` (it reads every column) and a ``layout``, which
    fixes the shape of the result. The result is always indexed like
    ``data``: the value at bar ``t`` uses rows up to ``t`` only, and a value
    refit on a schedule (correlation tests, model fits, allocations) is held
    from its refit bar until the next one, NaN before the first. Layouts:

    - ``"pairwise"``: one value per pair of symbols. Columns are a
      three-level MultiIndex ``(output, x, y)``; ``result[output]`` is a frame
      with ``(x, y)`` columns. For a directional metric ``x`` is the driver
      and ``y`` the response (``x`` leads ``y``, ``x`` Granger-causes ``y``,
      the beta of ``y`` on ``x``); for a symmetric one ``x`` comes before
      ``y`` in the column order of ``data``. Each metric documents its pair
      set (unordered pairs, ordered pairs, or all pairs with ``x == y``).
    - ``"per_asset"``: one value per symbol, e.g. allocation weights. Columns
      are a two-level MultiIndex ``(output, symbol)``; ``result[output]`` is a
      frame with one column per symbol. Weights are held between rebalances,
      so the rebalance times are the bars where a row changes.
    - ``"aggregate"``: one value for the whole cross-section per bar; shaped
      like a per-symbol result (a Series, or a frame of output columns).

Dependencies between metrics (``depends_on``) form a graph that
:meth:`Registry.resolve` checks for missing names and cycles; the package
``__init__`` calls it once every family module is imported, so a broken graph
fails at import time. Nothing here imports Dagster, DuckDB or HTTP clients.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "KINDS",
    "LAYOUTS",
    "MODULE_IDS",
    "REGISTRY",
    "Constraint",
    "Metric",
    "MetricDefinitionError",
    "MetricInputError",
    "Registry",
    "at_least",
    "between",
    "greater_than",
    "greater_than_param",
    "metric",
    "one_of",
]

#: Analysis-module ids (the module file names of the product, A–J).
MODULE_IDS: tuple[str, ...] = (
    "trend_moment",
    "volat_regime",
    "deriv_sentim",
    "order_micros",
    "corr_lead",
    "onchain",
    "risk_expos",
    "microalpha",
    "port_alloc",
    "regime_anomal",
)

Kind = Literal["per_symbol", "cross_asset"]
KINDS: tuple[str, ...] = ("per_symbol", "cross_asset")

#: Result shapes of cross-asset metrics (see the module docstring).
Layout = Literal["pairwise", "per_asset", "aggregate"]
LAYOUTS: tuple[str, ...] = ("pairwise", "per_asset", "aggregate")
#: Column level names of the result, by layout (``aggregate`` has plain columns).
_LAYOUT_LEVELS: dict[str, tuple[str, ...]] = {
    "pairwise": ("output", "x", "y"),
    "per_asset": ("output", "symbol"),
}

#: A constraint receives the value and all resolved parameters and returns the
#: reason the value is invalid, or ``None`` when it is valid.
Constraint = Callable[[Any, Mapping[str, Any]], "str | None"]
Warmup = int | Callable[[Mapping[str, Any]], int]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED_DOC_SECTIONS = ("Parameters", "Returns", "References")


class MetricInputError(ValueError):
    """The data or parameters passed to a metric cannot be used.

    The message always starts with the metric name, then names the argument or
    column and the reason, e.g. ``rsi: column 'close' is missing from data
    (have: open, high)``.
    """

    def __init__(self, metric: str, subject: str, reason: str) -> None:
        super().__init__(f"{metric}: {subject} {reason}")
        self.metric = metric
        self.subject = subject
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # Rebuilt from its three parts when it crosses a process boundary (module worker pools).
        return type(self), (self.metric, self.subject, self.reason)


class MetricDefinitionError(ValueError):
    """A metric declaration or the metric dependency graph is invalid."""


# --------------------------------------------------------------------------- constraints


def at_least(minimum: float) -> Constraint:
    """Constraint: the parameter is ``>= minimum``."""

    def check(value: Any, _params: Mapping[str, Any]) -> str | None:
        return None if value >= minimum else f"must be >= {minimum} (got {value!r})"

    return check


def greater_than(bound: float) -> Constraint:
    """Constraint: the parameter is strictly ``> bound``."""

    def check(value: Any, _params: Mapping[str, Any]) -> str | None:
        return None if value > bound else f"must be > {bound} (got {value!r})"

    return check


def between(low: float, high: float, *, inclusive: bool = True) -> Constraint:
    """Constraint: ``low <= value <= high`` (strict bounds when ``inclusive=False``)."""

    def check(value: Any, _params: Mapping[str, Any]) -> str | None:
        ok = low <= value <= high if inclusive else low < value < high
        if ok:
            return None
        bounds = f"[{low}, {high}]" if inclusive else f"({low}, {high})"
        return f"must lie in {bounds} (got {value!r})"

    return check


def one_of(*allowed: Any) -> Constraint:
    """Constraint: the parameter is one of ``allowed``."""

    def check(value: Any, _params: Mapping[str, Any]) -> str | None:
        if value in allowed:
            return None
        return f"must be one of {', '.join(map(repr, allowed))} (got {value!r})"

    return check


def greater_than_param(other: str) -> Constraint:
    """Constraint: the parameter is strictly greater than parameter ``other``."""

    def check(value: Any, params: Mapping[str, Any]) -> str | None:
        if value > params[other]:
            return None
        return f"must be greater than {other}={params[other]!r} (got {value!r})"

    return check


# --------------------------------------------------------------------------- metric


def _summary(doc: str) -> str:
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _type_error(default: Any, value: Any) -> str | None:
    """Reason why ``value`` does not have the type of ``default``, or ``None``."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool | np.bool_) else "must be a bool"
    if isinstance(default, int):
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            return f"must be an integer (got {type(value).__name__} {value!r})"
        return None
    if isinstance(default, float):
        if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            return f"must be a number (got {type(value).__name__} {value!r})"
        if not math.isfinite(float(value)):
            return f"must be finite (got {value!r})"
        return None
    if isinstance(default, str):
        return None if isinstance(value, str) else f"must be a string (got {value!r})"
    return None


def _normalize_param(default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


@dataclass(frozen=True, eq=False)
class Metric:
    """A registered metric: the declaration plus the validating call.

    Calling the object validates ``data`` and the parameters, runs the pure
    function and returns a Series named after the single output, or a DataFrame
    with the declared output columns, indexed like ``data`` (for cross-asset
    metrics, shaped by their ``layout``; see the module docstring).
    """

    name: str
    module: str
    func: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: Mapping[str, Any]
    depends_on: tuple[str, ...]
    value_range: tuple[float, float] | None
    warmup: Warmup
    memory: Warmup | None
    reference: str
    kind: Kind
    allow_nan: bool
    constraints: Mapping[str, Constraint] = field(default_factory=dict)
    layout: Layout | None = None

    @property
    def doc(self) -> str:
        """The metric's full docstring."""
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return _summary(self.func.__doc__ or "")

    # -- parameters -------------------------------------------------------------------

    def resolve_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``params``, type-checked and constraint-checked."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise MetricInputError(
                self.name,
                f"parameter {unknown[0]!r}",
                f"is not a parameter of this metric (known: {known})",
            )
        resolved = dict(self.params)
        for key, value in params.items():
            reason = _type_error(self.params[key], value)
            if reason:
                raise MetricInputError(self.name, f"parameter {key!r}", reason)
            resolved[key] = _normalize_param(self.params[key], value)
        for key, check in self.constraints.items():
            reason = check(resolved[key], resolved)
            if reason:
                raise MetricInputError(self.name, f"parameter {key!r}", reason)
        return resolved

    def warmup_bars(self, **params: Any) -> int:
        """Leading bars without a value (TA-Lib's lookback) for these parameters."""
        resolved = self.resolve_params(params)
        return int(self.warmup(resolved) if callable(self.warmup) else self.warmup)

    def memory_bars(self, **params: Any) -> int:
        """Bars of history after which a value no longer depends on the series start.

        Equal to the warm-up for finite-window metrics; longer for recursive
        filters (EMA, Wilder smoothing, Kalman), where it is the number of bars
        after which the start-up transient has decayed below 1e-8 of its size.
        For metrics refit on a schedule (a ``refit_every`` parameter) it is the
        fit window; add one refit period to be sure a full window precedes the
        first refit. Use it to size the history loaded before a partition.
        """
        resolved = self.resolve_params(params)
        if self.memory is None:
            return self.warmup_bars(**params)
        return int(self.memory(resolved) if callable(self.memory) else self.memory)

    # -- validation -------------------------------------------------------------------

    def _fail(self, subject: str, reason: str) -> MetricInputError:
        return MetricInputError(self.name, subject, reason)

    def validate(self, data: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``data`` and ``params``; return the resolved parameters."""
        if not isinstance(data, pd.DataFrame):
            hint = ""
            if isinstance(data, pd.Series) and len(self.inputs) == 1:
                hint = f"; use series.to_frame({self.inputs[0]!r})"
            raise self._fail(
                "argument 'data'", f"must be a pandas DataFrame (got {type(data).__name__}){hint}"
            )
        resolved = self.resolve_params(params)
        self._validate_index(data.index)
        if self.kind == "per_symbol":
            columns = self.inputs
            missing = [c for c in columns if c not in data.columns]
            if missing:
                have = ", ".join(map(str, data.columns)) or "no columns"
                raise self._fail(f"column {missing[0]!r}", f"is missing from data (have: {have})")
        else:
            columns = tuple(data.columns)
            if len(columns) < 2:
                raise self._fail(
                    "argument 'data'",
                    f"needs at least 2 columns (one per symbol) for a cross-asset metric "
                    f"(got {len(columns)})",
                )
            for label in columns:
                if not isinstance(label, str) or not label:
                    raise self._fail(
                        f"column {label!r}",
                        f"must be labelled by its symbol, a non-empty string (got {type(label).__name__})",
                    )
        for column in columns:
            self._validate_column(column, data[column])
        warmup = self.warmup_bars(**resolved)
        if len(data) <= warmup:
            shown = ", ".join(f"{k}={v!r}" for k, v in resolved.items())
            raise self._fail(
                "argument 'data'",
                f"has {len(data)} rows, needs at least {warmup + 1} "
                f"(warm-up of {warmup} bars for {shown or 'these parameters'})",
            )
        return resolved

    def _validate_index(self, index: pd.Index) -> None:
        if not isinstance(index, pd.DatetimeIndex):
            raise self._fail("index of 'data'", f"must be a DatetimeIndex (got {type(index).__name__})")
        if index.tz is not None:
            raise self._fail(
                "index of 'data'",
                f"must be naive UTC (got tz={index.tz}); convert with .tz_convert('UTC').tz_localize(None)",
            )
        # pandas caches both flags on the index, so checking many metrics against
        # one frame costs one pass; the numpy diagnosis only runs on failure.
        if len(index) < 2 or (index.is_monotonic_increasing and index.is_unique):
            return
        steps = np.diff(index.asi8)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            if steps[bad[0]] == 0:
                raise self._fail(
                    "index of 'data'", f"has duplicate timestamps (first: {index[i]} at row {i})"
                )
            raise self._fail(
                "index of 'data'",
                f"is not monotonic increasing ({index[i]} at row {i} follows {index[i - 1]})",
            )

    def _validate_column(self, column: Any, values: pd.Series | pd.DataFrame) -> None:
        if isinstance(values, pd.DataFrame):
            raise self._fail(f"column {column!r}", "appears more than once in data")
        dtype = values.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise self._fail(f"column {column!r}", f"must be numeric (got dtype {dtype})")
        if self.allow_nan:
            return
        array = values.to_numpy(dtype=float)
        finite = np.isfinite(array)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise self._fail(
                f"column {column!r}",
                f"has {bad.size} missing or infinite values "
                f"(first at {values.index[bad[0]]}); fill or drop them before computing",
            )

    # -- call -------------------------------------------------------------------------

    def __call__(self, data: pd.DataFrame, **params: Any) -> pd.Series | pd.DataFrame:
        resolved = self.validate(data, params)
        result = self.func(data, **resolved)
        return self._shape_output(data, result)

    def _shape_output(self, data: pd.DataFrame, result: Any) -> pd.Series | pd.DataFrame:
        if self.kind == "cross_asset" and self.layout != "aggregate":
            return self._shape_cross_asset(data, result)
        if isinstance(result, pd.Series | np.ndarray):
            if len(self.outputs) != 1:
                raise TypeError(f"{self.name}: returned one array but declares outputs {self.outputs}")
            result = {self.outputs[0]: result}
        if not isinstance(result, Mapping | pd.DataFrame):
            raise TypeError(f"{self.name}: unexpected return type {type(result).__name__}")
        keys = tuple(result.keys())
        if set(keys) != set(self.outputs):
            raise TypeError(f"{self.name}: returned columns {keys}, declares {self.outputs}")
        columns: dict[str, np.ndarray] = {}
        sources = [data[c].to_numpy() for c in self.inputs]
        for key in self.outputs:
            array = np.asarray(result[key], dtype=float)
            if array.shape != (len(data),):
                raise TypeError(
                    f"{self.name}: output {key!r} has shape {array.shape}, expected ({len(data)},)"
                )
            if any(np.may_share_memory(array, source) for source in sources):
                array = array.copy()  # never hand out a view of the caller's data
            columns[key] = array
        if len(self.outputs) == 1:
            return pd.Series(columns[self.outputs[0]], index=data.index, name=self.outputs[0])
        # copy=False keeps one block per column instead of copying into a 2-D block.
        return pd.DataFrame(columns, index=data.index, copy=False)

    def _shape_cross_asset(self, data: pd.DataFrame, result: Any) -> pd.DataFrame:
        """Assemble a pairwise or per-asset result: ``result`` maps each output to a
        frame indexed like ``data`` whose columns are symbols (per asset) or
        ``(x, y)`` pairs of symbols (pairwise)."""
        if not isinstance(result, Mapping):
            raise TypeError(
                f"{self.name}: a {self.layout} metric returns a mapping of output -> DataFrame "
                f"(got {type(result).__name__})"
            )
        keys = tuple(result.keys())
        if set(keys) != set(self.outputs):
            raise TypeError(f"{self.name}: returned outputs {keys}, declares {self.outputs}")
        symbols = set(data.columns)
        pair = self.layout == "pairwise"
        expected = "an (x, y) pair of symbols" if pair else "a symbol"
        frames = []
        for key in self.outputs:
            frame = result[key]
            if not isinstance(frame, pd.DataFrame) or not frame.index.equals(data.index):
                raise TypeError(f"{self.name}: output {key!r} must be a DataFrame indexed like data")
            for label in frame.columns:
                parts = label if pair and isinstance(label, tuple) and len(label) == 2 else (label,)
                if (pair and len(parts) != 2) or not set(parts) <= symbols:
                    raise TypeError(
                        f"{self.name}: output {key!r} has column {label!r}, expected {expected} of data"
                    )
            frames.append(frame.astype(np.float64))
        levels = _LAYOUT_LEVELS[str(self.layout)]
        return pd.concat(frames, axis=1, keys=list(self.outputs), names=list(levels))

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, module={self.module!r}, outputs={self.outputs})"


# --------------------------------------------------------------------------- registry


class Registry:
    """A set of metrics and their dependency graph.

    The package keeps one default instance; tests build private ones to check
    the graph rules without touching the real catalog.
    """

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __len__(self) -> int:
        return len(self._metrics)

    def names(self) -> list[str]:
        """Metric names in registration order."""
        return list(self._metrics)

    def get(self, name: str) -> Metric:
        """The registered metric called ``name``."""
        try:
            return self._metrics[name]
        except KeyError:
            close = [n for n in self._metrics if n.startswith(name[:3])] if name else []
            hint = f" (did you mean: {', '.join(close)}?)" if close else ""
            raise KeyError(f"unknown metric {name!r}{hint}") from None

    def metric(
        self,
        *,
        name: str,
        module: str,
        inputs: Iterable[str],
        outputs: Iterable[str],
        params: Mapping[str, Any] | None = None,
        depends_on: Iterable[str] = (),
        value_range: tuple[float, float] | None = None,
        warmup: Warmup = 0,
        memory: Warmup | None = None,
        reference: str,
        kind: Kind = "per_symbol",
        constraints: Mapping[str, Constraint] | None = None,
        allow_nan: bool = False,
        layout: Layout | None = None,
    ) -> Callable[[Callable[..., Any]], Metric]:
        """Register a pure metric function; see the module docstring for the contract.

        Parameters
        ----------
        name : str
            Stable snake_case metric name (the key of :func:`compute`).
        module : str
            Analysis-module id, one of :data:`MODULE_IDS`.
        inputs : iterable of str
            Columns the metric reads (per-symbol metrics); empty for cross-asset
            metrics, which read every column of a wide frame of returns.
        outputs : iterable of str
            Output column names; one name gives a Series result.
        params : mapping, optional
            Parameter defaults; must equal the function's keyword-only defaults.
        depends_on : iterable of str
            Names of metrics this metric is computed from.
        value_range : (float, float) or None
            Closed range every finite output lies in, if bounded.
        warmup : int or callable(params) -> int
            Leading bars without a value.
        memory : int or callable(params) -> int, optional
            Bars after which the value no longer depends on the series start
            (defaults to ``warmup``).
        reference : str
            Paper, book or reference implementation.
        kind : {"per_symbol", "cross_asset"}
            Shape of the input.
        constraints : mapping, optional
            Per-parameter :data:`Constraint` callables.
        allow_nan : bool
            Accept missing values in the input columns.
        layout : {"pairwise", "per_asset", "aggregate"}, optional
            Shape of a cross-asset result (required for, and only for,
            cross-asset metrics; see the module docstring).
        """

        def decorate(func: Callable[..., Any]) -> Metric:
            spec = Metric(
                name=name,
                module=module,
                func=func,
                inputs=tuple(inputs),
                outputs=tuple(outputs),
                params=MappingProxyType(dict(params or {})),
                depends_on=tuple(depends_on),
                value_range=None if value_range is None else tuple(value_range),  # type: ignore[arg-type]
                warmup=warmup,
                memory=memory,
                reference=reference,
                kind=kind,
                allow_nan=allow_nan,
                constraints=MappingProxyType(dict(constraints or {})),
                layout=layout,
            )
            self._check_declaration(spec)
            self._metrics[name] = spec
            # The spec is frozen; copy the wrapped function's identity onto it so
            # help(), pydoc and IDEs show the metric's own docstring and name.
            for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
                object.__setattr__(spec, attr, getattr(func, attr))
            object.__setattr__(spec, "__wrapped__", func)
            return spec

        return decorate

    def _check_declaration(self, spec: Metric) -> None:
        def fail(reason: str) -> MetricDefinitionError:
            return MetricDefinitionError(f"metric {spec.name!r}: {reason}")

        if not _NAME.match(spec.name):
            raise fail("name must be snake_case")
        if spec.name in self._metrics:
            raise fail("is registered twice")
        if spec.module not in MODULE_IDS:
            raise fail(f"module {spec.module!r} is not one of {', '.join(MODULE_IDS)}")
        if spec.kind not in KINDS:
            raise fail(f"kind {spec.kind!r} is not one of {', '.join(KINDS)}")
        if spec.kind == "per_symbol" and not spec.inputs:
            raise fail("a per-symbol metric must declare its input columns")
        if spec.kind == "per_symbol" and spec.layout is not None:
            raise fail("layout applies to cross-asset metrics only")
        if spec.kind == "cross_asset":
            if spec.inputs:
                raise fail("a cross-asset metric reads every column of its frame; declare no inputs")
            if spec.layout not in LAYOUTS:
                raise fail(f"a cross-asset metric must declare layout as one of {', '.join(LAYOUTS)}")
        if not spec.outputs or len(set(spec.outputs)) != len(spec.outputs):
            raise fail("outputs must be a non-empty list of distinct names")
        for out in spec.outputs:
            if not _NAME.match(out):
                raise fail(f"output {out!r} must be snake_case")
        if spec.name in spec.depends_on:
            raise fail("depends on itself")
        if spec.value_range is not None:
            low, high = spec.value_range
            if not low < high:
                raise fail(f"value_range {spec.value_range} must have low < high")
        if not spec.reference.strip():
            raise fail("reference must name a paper, book or implementation")
        doc = spec.func.__doc__ or ""
        for section in _REQUIRED_DOC_SECTIONS:
            if not re.search(rf"^\s*{section}\s*\n\s*-{{3,}}", doc, re.MULTILINE):
                raise fail(f"docstring lacks a numpy-style {section!r} section")
        unknown = set(spec.constraints) - set(spec.params)
        if unknown:
            raise fail(f"constraints for unknown parameters {sorted(unknown)}")
        self._check_signature(spec, fail)
        if not callable(spec.warmup) and (not isinstance(spec.warmup, int) or spec.warmup < 0):
            raise fail("warmup must be a non-negative int or a callable")
        try:
            default_warmup = spec.warmup_bars()
            spec.memory_bars()
        except MetricInputError as error:
            raise fail(f"default parameters are invalid: {error}") from error
        if default_warmup < 0:
            raise fail("warmup for the default parameters is negative")

    @staticmethod
    def _check_signature(spec: Metric, fail: Callable[[str], MetricDefinitionError]) -> None:
        signature = inspect.signature(spec.func)
        parameters = list(signature.parameters.values())
        if not parameters or parameters[0].name != "data":
            raise fail("the function's first parameter must be 'data'")
        keyword = {p.name: p for p in parameters[1:]}
        for p in parameters[1:]:
            if p.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise fail(f"parameter {p.name!r} must be keyword-only")
        if set(keyword) != set(spec.params):
            raise fail(
                f"params {sorted(spec.params)} differ from the function's keyword "
                f"parameters {sorted(keyword)}"
            )
        for key, default in spec.params.items():
            if keyword[key].default != default:
                raise fail(
                    f"default of {key!r} is {default!r} in the declaration but "
                    f"{keyword[key].default!r} in the function"
                )

    # -- graph ------------------------------------------------------------------------

    def resolve(self) -> list[str]:
        """Check the dependency graph and return the names in topological order.

        Raises
        ------
        MetricDefinitionError
            When a metric depends on an unregistered name, or the graph has a cycle
            (the message lists the cycle).
        """
        for spec in self._metrics.values():
            for dep in spec.depends_on:
                if dep not in self._metrics:
                    raise MetricDefinitionError(
                        f"metric {spec.name!r} depends on {dep!r}, which is not registered"
                    )
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        for root in self._metrics:
            if state.get(root) == 2:
                continue
            # Iterative depth-first search so deep graphs cannot hit the recursion limit.
            stack: list[tuple[str, int]] = [(root, 0)]
            path: list[str] = []
            while stack:
                node, i = stack.pop()
                if i == 0:
                    state[node] = 1
                    path.append(node)
                deps = self._metrics[node].depends_on
                if i < len(deps):
                    stack.append((node, i + 1))
                    dep = deps[i]
                    if state.get(dep) == 1:
                        cycle = [*path[path.index(dep) :], dep]
                        raise MetricDefinitionError(f"metric dependency cycle: {' -> '.join(cycle)}")
                    if state.get(dep) != 2:
                        stack.append((dep, 0))
                else:
                    state[node] = 2
                    path.pop()
                    order.append(node)
        return order

    def topological_order(self) -> list[str]:
        """Metric names with every dependency before its dependents."""
        return self.resolve()

    def compute(self, name: str, data: pd.DataFrame, **params: Any) -> pd.Series | pd.DataFrame:
        """Validate ``data`` and compute metric ``name`` with ``params``."""
        return self.get(name)(data, **params)

    def catalog(self) -> pd.DataFrame:
        """One row per metric, in topological order, indexed by name."""
        rows = []
        for name in self.topological_order():
            spec = self._metrics[name]
            rows.append(
                {
                    "name": name,
                    "module": spec.module,
                    "kind": spec.kind,
                    "inputs": spec.inputs,
                    "params": dict(spec.params),
                    "depends_on": spec.depends_on,
                    "outputs": spec.outputs,
                    "value_range": spec.value_range,
                    "warmup_bars": spec.warmup_bars(),
                    "memory_bars": spec.memory_bars(),
                    "reference": spec.reference,
                    "summary": spec.summary,
                }
            )
        columns = [
            "name", "module", "kind", "inputs", "params", "depends_on", "outputs",
            "value_range", "warmup_bars", "memory_bars", "reference", "summary",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns).set_index("name", drop=False)


#: The package registry: behind :func:`metric`, ``compute`` and ``catalog``.
REGISTRY = Registry()

#: Decorator registering a metric in the package registry (see :meth:`Registry.metric`).
metric = REGISTRY.metric
